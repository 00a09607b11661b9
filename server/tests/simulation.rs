//! Deterministic simulation: clients on the real `Client` layer against
//! the embedded server core, with a virtual clock and a seeded network
//! (latency, resets, partitions, server restarts, expiries).
//!
//! `cargo test -p kazoo-server --test simulation` runs `SIM_SEEDS` seeds
//! (default 2,000). `SIM_SEEDS=100000 cargo test --release -p kazoo-server
//! --test simulation` is the long run. `SIM_SEED=n` replays one seed and
//! prints its fault log.

mod sim;

use std::time::Duration;

use sim::workload::Workload;
use sim::{Faults, Rng, World};

/// One run: set up, a workload under faults, a quiet period, then checks.
fn run(seed: u64) -> Result<(World, String), Box<(String, World)>> {
    let mut rng = Rng::new(seed);
    let clients = 2 + rng.below(3) as usize;
    let faults = Faults::for_seed(&mut rng);
    let mut world = World::new(seed, clients, Faults::none());
    let mut load = Workload::set_up(&mut world);
    world.faults = faults;
    world.run(Duration::from_secs(6), true, |w| load.step(w, true));
    // Heal, let sessions settle and everything in flight finish.
    world.faults = Faults::none();
    world.run(Duration::from_secs(15), false, |w| load.step(w, false));
    let summary = format!(
        "{clients} clients, {} ops: {} creates acknowledged ({} not), counter +{} ({} ambiguous), {} watches; {} faults",
        load.ops,
        load.acked_creates.len(),
        load.unacked_creates,
        load.cas_acked,
        load.cas_ambiguous,
        load.watches.len(),
        world.log.len()
    );
    match sim::check::all(&world, &load) {
        Ok(()) => Ok((world, summary)),
        Err(e) => Err(Box::new((e, world))),
    }
}

fn seeds() -> Vec<u64> {
    if let Some(seed) = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        return vec![seed];
    }
    let n = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    (1..=n).collect()
}

#[test]
fn invariants_hold_for_every_seed() {
    let mut failures = Vec::new();
    for seed in seeds() {
        match run(seed) {
            Ok((world, summary)) => {
                if std::env::var("SIM_SEED").is_ok() {
                    println!(
                        "seed {seed}: ok; {summary}\nfaults:\n{}",
                        world.log.join("\n")
                    );
                }
            }
            Err(failure) => {
                let (e, world) = *failure;
                eprintln!("simulation seed {seed} failed: {e}\n{}\nreplay: SIM_SEED={seed} cargo test -p kazoo-server --test simulation -- --nocapture\nfaults:\n{}", world.describe(), world.log.join("\n"));
                failures.push(seed);
                if failures.len() >= 5 {
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}

#[test]
fn a_seed_replays_bit_for_bit() {
    let (a, sa) = run(42).map_err(|f| f.0).unwrap();
    let (b, sb) = run(42).map_err(|f| f.0).unwrap();
    assert_eq!(sa, sb);
    assert_eq!(a.log, b.log);
    assert_eq!(a.server.zxid(), b.server.zxid());
    assert_eq!(
        a.server.node("/counter").map(|n| n.0),
        b.server.node("/counter").map(|n| n.0)
    );
    let states = |w: &World| {
        w.clients
            .iter()
            .map(|c| c.states.lock().unwrap().clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(states(&a), states(&b));
}

#[test]
fn the_state_order_check_rejects_what_it_should() {
    use kazoo::session::SessionState::*;
    let c = |new_session| Connected {
        session_id: 1,
        new_session,
    };
    assert!(sim::check::states_in_order(&[
        c(true),
        Suspended,
        c(false),
        Suspended,
        Lost,
        c(true),
        Closed
    ])
    .is_ok());
    assert!(
        sim::check::states_in_order(&[c(true), Suspended, c(true)]).is_err(),
        "a new session needs Lost first"
    );
    assert!(sim::check::states_in_order(&[c(true), Lost, c(false)]).is_err());
    assert!(sim::check::states_in_order(&[Closed, c(true)]).is_err());
}
