//! Read-only mode: while on a read-only server the session probes the
//! others with `isro` (100 ms, doubling to a minute) and moves to the
//! first read/write one.

use std::time::Duration;

use super::sim::{req, Handshake, Sim};
use crate::proto::*;
use crate::session::{Config, DisconnectReason, Event, HostPort, SessionState};

fn three_hosts() -> Config {
    let mut c = Sim::config();
    c.hosts = crate::session::parse_connect_string("zk1,zk2,zk3")
        .unwrap()
        .0;
    c.read_only = true;
    c
}

#[test]
fn probes_go_to_the_other_hosts_in_turn_with_growing_pauses() {
    let mut sim = Sim::new_with(three_hosts(), |s| s.handshake = Handshake::AcceptReadOnly);
    assert!(matches!(
        sim.session.state(),
        Some(SessionState::ReadOnly { .. })
    ));
    let current = sim.session.current_host().unwrap().clone();
    let start = sim.now;
    let mut at = Vec::new();
    for _ in 0..6 {
        let before = sim.probes.len();
        while sim.probes.len() == before {
            sim.advance(Duration::from_millis(10));
        }
        at.push((sim.now - start).as_millis());
    }
    // Pings keep the read-only connection up meanwhile.
    assert!(matches!(
        sim.session.state(),
        Some(SessionState::ReadOnly { .. })
    ));
    assert_eq!(at, [100, 200, 400, 800, 1600, 3200], "100 ms, doubling");
    assert!(!sim.probes.contains(&current), "never the current server");
    assert_ne!(sim.probes[0], sim.probes[1], "the others in turn");
    assert_eq!(sim.probes[0], sim.probes[2]);
    // A "ro" answer (or a failed probe) changes nothing.
    let other = sim.probes[0].clone();
    sim.session.handle_probe(&other, false, sim.now);
    sim.step();
    assert!(matches!(
        sim.session.state(),
        Some(SessionState::ReadOnly { .. })
    ));
}

#[test]
fn the_pause_stops_growing_at_a_minute() {
    let mut sim = Sim::new_with(three_hosts(), |s| s.handshake = Handshake::AcceptReadOnly);
    sim.advance(Duration::from_secs(300));
    let n = sim.probes.len();
    sim.advance(Duration::from_secs(180));
    assert_eq!(sim.probes.len() - n, 3, "one a minute");
}

#[test]
fn a_read_write_answer_moves_the_session_there() {
    let mut sim = Sim::new_with(three_hosts(), |s| s.handshake = Handshake::AcceptReadOnly);
    let read = sim.submit(req::get("/", false));
    assert!(
        sim.result(read).is_some_and(Result::is_ok),
        "reads work read-only"
    );
    sim.advance(Duration::from_millis(100));
    let rw: HostPort = sim.probes[0].clone();
    sim.server.handshake = Handshake::Accept;
    sim.session.handle_probe(&rw, true, sim.now);
    sim.step();
    sim.advance(Duration::from_millis(10));
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::ReadWriteServerFound,
            ..
        }
    )));
    assert_eq!(sim.session.current_host(), Some(&rw));
    assert!(matches!(
        sim.states()[..],
        [
            SessionState::ReadOnly { .. },
            SessionState::Suspended { .. },
            SessionState::Connected {
                new_session: true,
                ..
            }
        ]
    ));
    assert_eq!(
        sim.session.failed_attempts, 0,
        "moving to a read/write server is no failed attempt"
    );
    let write = sim.submit(req::create("/w", CreateMode::Persistent));
    assert!(sim.result(write).is_some_and(Result::is_ok));
    // No more probes once read/write; a late answer changes nothing.
    let n = sim.probes.len();
    sim.advance(Duration::from_secs(5));
    assert_eq!(sim.probes.len(), n);
    sim.session.handle_probe(&rw, true, sim.now);
    sim.step();
    assert!(matches!(
        sim.session.state(),
        Some(SessionState::Connected { .. })
    ));
}

#[test]
fn one_host_means_no_probes() {
    let mut c = Sim::config();
    c.read_only = true;
    let mut sim = Sim::new_with(c, |s| s.handshake = Handshake::AcceptReadOnly);
    sim.advance(Duration::from_secs(10));
    assert!(sim.probes.is_empty());
}

/// A server that answers "read-only" to a client that did not ask for it
/// is broken or misconfigured: the client does not run read-only
/// unawares. It is a refused attempt, retried with backoff elsewhere.
#[test]
fn a_read_only_answer_nobody_asked_for_is_refused() {
    let mut c = Sim::config();
    c.hosts = crate::session::parse_connect_string("zk1,zk2").unwrap().0;
    assert!(!c.read_only);
    let mut sim = Sim::new_with(c, |s| s.handshake = Handshake::AcceptReadOnly);
    sim.advance(Duration::from_secs(1));
    assert!(!sim
        .states()
        .iter()
        .any(|s| matches!(s, SessionState::ReadOnly { .. })));
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::Refused(crate::Error::NotReadOnly),
            ..
        }
    )));
    let attempts = sim
        .events
        .iter()
        .filter(|e| matches!(e, Event::Disconnected { .. }))
        .count();
    assert!(attempts < 10, "backed off: {attempts} attempts in 1 s");
    sim.server.handshake = Handshake::Accept;
    sim.advance(Duration::from_secs(10));
    assert!(matches!(
        sim.session.state(),
        Some(SessionState::Connected { .. })
    ));
}

/// An answer about the server the session is on now (a late one, from a
/// probe of an earlier connection) is no reason to leave it; nor is any
/// answer once closing.
#[test]
fn answers_about_the_current_server_or_while_closing_are_ignored() {
    let mut sim = Sim::new_with(three_hosts(), |s| s.handshake = Handshake::AcceptReadOnly);
    let current = sim.session.current_host().unwrap().clone();
    sim.session.handle_probe(&current, true, sim.now);
    sim.step();
    assert!(matches!(
        sim.session.state(),
        Some(SessionState::ReadOnly { .. })
    ));
    sim.advance(Duration::from_millis(100));
    let other = sim.probes[0].clone();
    sim.server.stalled = true; // the closeSession reply never comes
    sim.session.close(sim.now);
    sim.session.handle_probe(&other, true, sim.now);
    sim.step();
    assert!(
        !sim.events.iter().any(|e| matches!(
            e,
            Event::Disconnected {
                reason: DisconnectReason::ReadWriteServerFound,
                ..
            }
        )),
        "close goes on: {:?}",
        sim.events
    );
    assert!(
        !sim.session.is_closed(),
        "still waiting for the closeSession reply"
    );
}

#[test]
fn a_host_list_changed_while_read_only_keeps_probing_right() {
    let mut sim = Sim::new_with(three_hosts(), |s| s.handshake = Handshake::AcceptReadOnly);
    let current = sim.session.current_host().unwrap().clone();
    // Down to the current server alone: nobody to probe, and no panic.
    sim.session
        .set_hosts(vec![current.clone()], sim.now)
        .unwrap();
    let before = sim.probes.len();
    sim.advance(Duration::from_secs(5));
    assert_eq!(sim.probes.len(), before, "no other server to ask");
    assert!(matches!(
        sim.session.state(),
        Some(SessionState::ReadOnly { .. })
    ));
    // Others again: probing starts over.
    let other = HostPort {
        host: "zk9".into(),
        port: 2181,
    };
    sim.session
        .set_hosts(vec![current.clone(), other.clone()], sim.now)
        .unwrap();
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.probes.last(), Some(&other));
}

#[test]
fn the_same_host_list_again_changes_nothing() {
    let mut sim = Sim::new_with(three_hosts(), |s| s.handshake = Handshake::AcceptReadOnly);
    sim.advance(Duration::from_secs(2));
    let probes = sim.probes.len();
    let mut same = crate::session::parse_connect_string("zk3,zk1,zk2")
        .unwrap()
        .0;
    same.reverse();
    sim.session.set_hosts(same, sim.now).unwrap();
    sim.advance(Duration::from_millis(1700));
    // The probe pause kept growing (it was not restarted at 100 ms).
    assert!(
        sim.probes.len() <= probes + 1,
        "{} then {}",
        probes,
        sim.probes.len()
    );
}
