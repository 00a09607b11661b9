//! Reconnect behaviour: no stampede, no busy retry against a server that
//! answers one frame and closes, watches re-armed or their watchers told,
//! credentials replayed once and only when the server took them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::sim::{req, Handshake, NowForTests, Sim};
use crate::proto::*;
use crate::session::{Command, Config, DisconnectReason, Event, Session};
use crate::Error;

fn connects(sim: &Sim) -> usize {
    sim.transcript
        .lines()
        .filter(|l| l.contains(" connect "))
        .count()
}

/// `rng_seed` 0 (the default, on every adapter) picks a seed per session:
/// clients do not all try the hosts in the same order.
#[test]
fn the_default_seed_spreads_sessions_over_the_hosts() {
    let now = Instant::now_for_tests();
    let mut first_hosts = BTreeSet::new();
    let mut seeds = BTreeSet::new();
    for _ in 0..32 {
        let mut s = Session::new(Config::new("a,b,c,d,e,f").unwrap(), now);
        assert_ne!(s.rng_seed(), 0);
        seeds.insert(s.rng_seed());
        if let Some(Command::Connect(h)) = s.poll_command() {
            first_hosts.insert(h.host);
        }
    }
    assert_eq!(seeds.len(), 32, "a seed per session");
    assert!(
        first_hosts.len() > 1,
        "every session started on {first_hosts:?}"
    );
}

/// After a connection that worked, the next attempt waits a random
/// 0–`reconnect_delay` (Java: 0–1 s); the first connect does not.
#[test]
fn reconnect_pauses_randomly_after_a_working_connection() {
    let mut pauses = BTreeSet::new();
    for seed in 1..=10 {
        let mut config = Sim::config();
        config.reconnect_delay = Duration::from_secs(1);
        config.rng_seed = seed;
        let mut sim = Sim::new(config);
        assert!(sim.is_connected(), "the first connect is immediate");
        let before = connects(&sim);
        let dropped_at = sim.now;
        sim.drop_connection();
        assert_eq!(connects(&sim), before, "no attempt in the same instant");
        let mut waited = Duration::ZERO;
        while connects(&sim) == before {
            sim.advance(Duration::from_millis(1));
            waited = sim.now - dropped_at;
            assert!(waited <= Duration::from_millis(1001), "paused {waited:?}");
        }
        pauses.insert(waited.as_millis());
    }
    assert!(pauses.len() > 3, "pauses {pauses:?}");
}

/// A server that accepts, sends one sane frame and closes is backed off
/// like one that refuses, not retried at round-trip speed.
#[test]
fn a_server_that_answers_one_frame_and_closes_is_backed_off() {
    let mut config = Sim::config();
    config.connection_retry = config.connection_retry.max_delay(Duration::from_secs(2));
    let mut sim = Sim::new(config);
    sim.server.handshake = Handshake::AcceptOneFrameThenClose;
    sim.drop_connection();
    sim.advance(Duration::from_secs(60));
    let attempts = connects(&sim);
    assert!(attempts < 80, "{attempts} attempts in 60 s");
}

/// A connection that lasts a ping interval and delivers frames resets the
/// backoff: the next drop reconnects at once.
#[test]
fn a_connection_that_proved_itself_resets_the_backoff() {
    let mut config = Sim::config();
    config.connection_retry = config.connection_retry.max_delay(Duration::from_secs(2));
    let mut sim = Sim::new(config);
    sim.refuse = true;
    sim.drop_connection();
    sim.advance(Duration::from_millis(2000)); // rounds fail, the pause grows
    sim.refuse = false;
    sim.advance(Duration::from_millis(2000)); // connected again
    sim.advance(Duration::from_millis(1100)); // a ping interval, a ping reply
    let before = connects(&sim);
    sim.drop_connection();
    assert_eq!(connects(&sim), before + 1, "reconnected at once");
}

/// A server without SetWatches2 answers -6 and closes: the persistent
/// watchers hear `PersistentWatchRemoved`, the attempt counts as failed,
/// and the next connection re-arms the one-shot watches with opcode 101.
#[test]
fn set_watches2_refused_falls_back_and_tells_the_persistent_watchers() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/p", CreateMode::Persistent));
    let persistent = sim.submit(req::add_watch("/p", AddWatchMode::Persistent));
    let data = sim.submit(req::get("/d", true)); // NoNode: no watch
    let exists = sim.submit(req::exists("/later", true));
    assert!(sim.result(data).is_some());
    sim.prove_connection();
    sim.server.no_set_watches2 = true;
    sim.drop_connection();
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::ReplayRefused(Error::Unimplemented),
            ..
        }
    )));
    assert!(sim.watch_events().contains(&(
        persistent.0,
        EventType::PersistentWatchRemoved,
        KeeperState::SyncConnected,
        "/p".into()
    )));
    assert!(!sim.is_connected(), "a failed attempt: the next one waits");
    sim.advance(Duration::from_secs(1));
    assert!(sim.is_connected());
    let last_replay = sim.server.received.iter().rev().find_map(|(_, r)| match r {
        Request::SetWatches(w) => Some(w.exist_watches.clone()),
        Request::SetWatches2(_) => Some(vec!["SetWatches2 again".into()]),
        _ => None,
    });
    assert_eq!(last_replay, Some(vec!["/later".to_string()]));
    let _ = exists;
}

/// A credential is kept for replay only once the server accepted it; a
/// duplicate is kept once.
#[test]
fn auth_is_replayed_only_if_accepted_and_only_once() {
    let mut sim = Sim::new(Sim::config());
    let a = sim.submit(req::auth(b"u:p"));
    let b = sim.submit(req::auth(b"u:p"));
    assert!(sim.result(a).is_some_and(Result::is_ok));
    assert!(sim.result(b).is_some_and(Result::is_ok));
    // This one is lost with the connection before the server answers.
    sim.prove_connection();
    sim.server.stalled = true;
    let lost = sim.submit(req::auth(b"v:q"));
    sim.server.stalled = false;
    let mark = sim.server.received.len();
    sim.drop_connection();
    assert!(sim.is_connected());
    assert_eq!(sim.result(lost), Some(&Err(Error::ConnectionLoss)));
    let auths_after_reconnect: Vec<Bytes> = sim.server.received[mark..]
        .iter()
        .filter_map(|(_, r)| match r {
            Request::Auth(p) => Some(p.auth.expose().clone()),
            _ => None,
        })
        .collect();
    assert_eq!(auths_after_reconnect, [Bytes::from_static(b"u:p")]);
}

/// A credential too large to replay fails the connection with a typed
/// reason instead of being skipped (which would put the auth replies out
/// of step and leave the session without it).
#[test]
fn a_replay_frame_too_large_is_a_typed_disconnect() {
    let mut config = Sim::config();
    config.max_request_len = 1024;
    config.auth = vec![("digest".into(), vec![b'x'; 2000].into())];
    let sim = Sim::new(config);
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::ReplayTooLarge(RequestTooLarge { .. }),
            ..
        }
    )));
    assert!(!sim
        .server
        .received
        .iter()
        .any(|(_, r)| matches!(r, Request::Auth(_))));
}

/// A `connection_retry` with `max_tries` (kazoo's parameter): after that
/// many failed rounds the session gives up, closes, and fails what waits
/// with `RetryFailed`; until then it keeps trying.
#[test]
fn a_connection_policy_that_runs_out_closes_the_session() {
    let mut config = Sim::config();
    config.connection_retry = config.connection_retry.max_tries(3);
    let mut sim = Sim::new(config);
    // A connection that never proved itself would count as a failed round.
    sim.prove_connection();
    let before = connects(&sim);
    sim.refuse = true;
    sim.drop_connection();
    let queued = sim.submit(req::get("/a", false));
    sim.advance(Duration::from_secs(60));
    assert_eq!(
        connects(&sim) - before,
        3,
        "one attempt per round, three rounds:\n{}",
        sim.transcript
    );
    let gave_up = Error::RetryFailed {
        attempts: 3,
        last: Box::new(Error::ConnectionLoss),
    };
    assert_eq!(sim.result(queued), Some(&Err(gave_up)));
    let closed = crate::session::SessionState::Closed {
        session_id: sim.states()[0].session_id(),
    };
    assert_eq!(sim.states().last(), Some(&closed));
    assert!(sim.session.is_closed());
}

/// The stats say what the last resume replayed, for logs and tracing.
#[test]
fn stats_count_what_a_resume_replayed() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::get("/", true));
    sim.submit(req::children("/", true));
    sim.prove_connection();
    sim.drop_connection();
    sim.advance(Duration::from_secs(2));
    let replay = sim.session.stats().last_replay;
    assert_eq!(
        (replay.credentials, replay.watches, replay.batches),
        (0, 2, 1)
    );
}
