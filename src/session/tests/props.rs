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
