//! Random schedules: whatever happens, every request completes exactly once,
//! deadlines never stay in the past, nothing panics.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use super::sim::{req, Handshake, Sim};
use crate::proto::{AddWatchMode, CreateMode};
use crate::session::{Config, Event, RequestId};

#[derive(Debug, Clone)]
enum Op {
    Submit(u8),
    Advance(u16),
    DropConnection,
    Refuse(bool),
    Stall(bool),
    ExpireSession,
    Split(u8),
    ReadOnly(bool),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u8>().prop_map(Op::Submit),
        4 => (0u16..4000).prop_map(Op::Advance),
        1 => Just(Op::DropConnection),
        1 => any::<bool>().prop_map(Op::Refuse),
        1 => any::<bool>().prop_map(Op::Stall),
        1 => Just(Op::ExpireSession),
        1 => (1u8..40).prop_map(Op::Split),
        1 => any::<bool>().prop_map(Op::ReadOnly),
        1 => Just(Op::Close),
    ]
}

fn request(n: u8) -> crate::proto::Request {
    let path = ["/a", "/a/b", "/c", "/", "/bad/"][usize::from(n % 5)];
    match n / 5 % 8 {
        0 => req::create(path, CreateMode::Persistent),
        1 => req::create(path, CreateMode::EphemeralSequential),
        2 => req::get(path, n % 2 == 0),
        3 => req::exists(path, true),
        4 => req::children(path, true),
        5 => req::set(path),
        6 => req::add_watch(path, AddWatchMode::PersistentRecursive),
        _ => req::auth(b"u:p"),
    }
}

fn run(ops: Vec<Op>, seed: u64) -> Result<(), TestCaseError> {
    let mut config = Sim::config();
    config.hosts = Config::new("a:1,b:2,c:3").unwrap().hosts;
    config.rng_seed = seed;
    let mut sim = Sim::new(config);
    let mut submitted: Vec<RequestId> = Vec::new();
    for op in ops {
        match op {
            Op::Submit(n) => submitted.push(sim.submit(request(n))),
            Op::Advance(ms) => sim.advance(Duration::from_millis(u64::from(ms))),
            Op::DropConnection => sim.drop_connection(),
            Op::Refuse(r) => sim.refuse = r,
            Op::Stall(s) => sim.server.stalled = s,
            Op::ExpireSession => {
                let id = sim.session.session().0;
                sim.server.expire(id);
                sim.step();
            }
            Op::Split(n) => sim.split = usize::from(n),
            Op::ReadOnly(ro) => {
                sim.server.handshake = if ro {
                    Handshake::RefuseReadOnly
                } else {
                    Handshake::Accept
                }
            }
            Op::Close => sim.close(),
        }
    }
    // Let everything settle, then close: every request must be answered.
    sim.refuse = false;
    sim.server.stalled = false;
    sim.server.handshake = Handshake::Accept;
    sim.advance(Duration::from_secs(30));
    sim.close();
    sim.advance(Duration::from_secs(5));
    prop_assert!(sim.session.is_closed());
    let mut counts: BTreeMap<RequestId, usize> = BTreeMap::new();
    for e in &sim.events {
        if let Event::Response { id, .. } = e {
            *counts.entry(*id).or_default() += 1;
        }
    }
    for id in &submitted {
        prop_assert_eq!(
            counts.get(id).copied(),
            Some(1),
            "request {:?} completed {:?} times",
            id,
            counts.get(id)
        );
    }
    prop_assert_eq!(counts.len(), submitted.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn every_request_completes_exactly_once(ops in proptest::collection::vec(op(), 0..60), seed in any::<u64>()) {
        run(ops, seed)?;
    }
}

/// Durations at the edges: zero, tiny, ordinary, the wire's limit, and
/// `Duration::MAX` (a natural "forever").
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_millis(1)),
        Just(Duration::from_secs(3)),
        Just(Duration::from_millis(i32::MAX as u64)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::MAX),
        any::<u64>().prop_map(Duration::from_nanos),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    /// Any settings the builder accepts, any timeout a server negotiates and
    /// any wait: a typed error or a session that runs, never a panic.
    #[test]
    fn extreme_settings_and_timeouts_never_panic(
        d in proptest::collection::vec(duration(), 7),
        queue_forever in any::<bool>(),
        server_timeout_ms in prop_oneof![Just(0), Just(-1), Just(1), Just(i32::MAX), any::<i32>()],
        waits in proptest::collection::vec(duration(), 1..6),
    ) {
        let built = Config::builder("a:1,b:2")
            .session_timeout(d[0])
            .queue_timeout(if queue_forever { None } else { Some(d[1]) })
            .close_linger(d[2])
            .connection_retry(
                crate::retry::RetryPolicy::default()
                    .delay(d[3])
                    .max_delay(d[4]),
            )
            .reconnect_delay(d[5])
            .rng_seed(7)
            .build();
        let Ok(config) = built else {
            return Ok(()); // a typed ConfigError: fine
        };
        let mut sim = Sim::new_with(config, |s| s.timeout_ms = server_timeout_ms);
        let queued = sim.submit(req::get("/", true));
        let alarm = sim.session.alarm(crate::session::deadline_after(sim.now, d[6]));
        for wait in waits {
            sim.jump(wait);
            sim.advance(Duration::from_millis(50));
            sim.drop_connection();
            sim.submit(req::create("/x", CreateMode::Ephemeral));
        }
        sim.close();
        sim.jump(Duration::MAX);
        prop_assert!(sim.session.is_closed());
        prop_assert_eq!(sim.completions(queued), 1);
        prop_assert_eq!(sim.completions(alarm), 1);
    }
}
