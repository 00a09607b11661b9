//! Session identity: the core never reports a session as new, resumed or
//! lost wrongly (docs/session.md, "What new session means").

use std::time::Duration;

use bytes::Bytes;

use super::sim::{req, Handshake, Sim};
use crate::proto::jute::Record;
use crate::proto::*;
use crate::session::{DisconnectReason, Event, LostReason, SessionState};
use crate::Error;

const FIRST: i64 = 0x101;
const SECOND: i64 = 0x102;

fn connected(session_id: i64, new_session: bool) -> SessionState {
    SessionState::Connected {
        session_id,
        new_session,
    }
}

fn lost(session_id: i64, reason: LostReason) -> SessionState {
    SessionState::Lost { session_id, reason }
}

/// The Lost timer fires while a resume handshake is out; the server's late
/// answer ("same session, alive") must not bring the lost session back as a
/// "new" one. The connection is dropped before the loss is reported.
#[test]
fn lost_while_a_resume_handshake_is_in_flight() {
    let mut config = Sim::config(); // timeout 3000 ms, one host
    config.connection_retry = config
        .connection_retry
        .max_delay(Duration::from_millis(200));
    let mut sim = Sim::new(config);
    assert_eq!(sim.session.state(), Some(connected(FIRST, true)));
    sim.refuse = true;
    sim.drop_connection();
    sim.advance(Duration::from_millis(2500));
    // The next attempt reaches the server, which sits on the handshake.
    sim.refuse = false;
    sim.server.handshake = Handshake::Hold;
    sim.advance(Duration::from_millis(499)); // the backoff ends before Lost
    assert!(sim.is_connected(), "a resume attempt is open");
    let before = sim.events.len();
    sim.advance(Duration::from_millis(1)); // Lost is due: 3000 ms without contact
                                           // Only now does the server answer: the session is alive on its side.
    sim.server.release_handshake();
    sim.step();
    let after: Vec<&Event> = sim.events[before..].iter().collect();
    let dropped = after.iter().position(|e| {
        matches!(
            e,
            Event::Disconnected {
                reason: DisconnectReason::SessionTimedOut,
                ..
            }
        )
    });
    let lost_at = after.iter().position(|e| {
        matches!(
            e,
            Event::State {
                state: SessionState::Lost { .. },
                ..
            }
        )
    });
    assert!(
        dropped.is_some() && dropped < lost_at,
        "the resume connection is dropped before Lost: {after:?}"
    );
    let states = sim.states();
    assert_eq!(
        states,
        [
            connected(FIRST, true),
            SessionState::Suspended { session_id: FIRST },
            lost(FIRST, LostReason::TimedOut),
            connected(SECOND, true),
        ]
    );
    // The server kept the old session alive all along: only the client's
    // own clock decided, and it decided once.
    assert!(sim.server.live_sessions().contains(&FIRST));
}

/// A server that answers a resume with another id replaced the session:
/// Lost (replaced) comes first, then the new session; what was queued for
/// the old session fails, and its watchers are told it ended.
#[test]
fn a_different_id_on_resume_means_the_old_session_is_gone() {
    let mut config = Sim::config();
    config.queue_timeout = None;
    let mut sim = Sim::new(config);
    let watch = sim.submit(req::get("/", true));
    assert!(sim.result(watch).is_some_and(Result::is_ok));
    sim.refuse = true;
    sim.drop_connection();
    let queued = sim.submit(req::create("/eph", CreateMode::Ephemeral));
    sim.server.handshake = Handshake::AcceptReplacing;
    sim.refuse = false;
    sim.advance(Duration::from_secs(2));
    assert_eq!(
        sim.states(),
        [
            connected(FIRST, true),
            SessionState::Suspended { session_id: FIRST },
            lost(FIRST, LostReason::Replaced),
            connected(SECOND, true),
        ]
    );
    assert_eq!(sim.result(queued), Some(&Err(Error::SessionExpired)));
    assert!(!sim.server.exists("/eph"), "not created on the new session");
    assert!(sim.watch_events().contains(&(
        watch.0,
        EventType::None,
        KeeperState::Expired,
        "/".into()
    )));
    // No SetWatches for the old session's watches on the new one.
    assert!(!sim
        .server
        .received
        .iter()
        .any(|(_, r)| matches!(r, Request::SetWatches(_) | Request::SetWatches2(_))));
}

/// A read-only session asks for id 0 again once it may meet a read/write
/// server (PROTOCOL.md §2.6): the new id is the legitimate upgrade, not a
/// loss. Queued requests run on the new session and watches carry over.
#[test]
fn a_read_only_session_is_upgraded_without_a_loss() {
    let mut config = Sim::config();
    config.read_only = true;
    config.queue_timeout = None;
    let mut sim = Sim::new_with(config, |s| s.handshake = Handshake::AcceptReadOnly);
    assert_eq!(
        sim.session.state(),
        Some(SessionState::ReadOnly { session_id: FIRST })
    );
    let watch = sim.submit(req::exists("/later", true));
    sim.refuse = true;
    sim.drop_connection();
    let queued = sim.submit(req::create("/rw", CreateMode::Persistent));
    sim.server.handshake = Handshake::Accept;
    sim.refuse = false;
    sim.advance(Duration::from_secs(1));
    assert_eq!(
        sim.states(),
        [
            SessionState::ReadOnly { session_id: FIRST },
            SessionState::Suspended { session_id: FIRST },
            connected(SECOND, true),
        ]
    );
    assert!(sim.result(queued).is_some_and(Result::is_ok));
    assert!(sim
        .server
        .received
        .iter()
        .any(|(_, r)| matches!(r, Request::SetWatches(w) if w.exist_watches == ["/later"])));
    assert!(!sim
        .watch_events()
        .iter()
        .any(|(w, _, state, _)| *w == watch.0 && *state == KeeperState::Expired));
}

/// `Config::resume` picks up a live session: the first state is a resumed
/// session, and requests queued before the handshake run on it.
#[test]
fn resuming_a_session_from_elsewhere_is_not_a_new_session() {
    let passwd = Bytes::from(vec![7; 16]);
    let mut config = Sim::config();
    config.resume = Some((0x77, passwd.clone().into()));
    let mut sim = Sim::new_with(config, |s| s.add_session(0x77, passwd.clone()));
    let q = sim.submit(req::create("/x", CreateMode::Persistent));
    assert_eq!(sim.states(), [connected(0x77, false)]);
    assert!(sim.result(q).is_some_and(Result::is_ok));
}

/// A resume of a session the server no longer knows: Lost (expired), then a
/// new one, and the queued request fails rather than run on the new one.
#[test]
fn resuming_an_unknown_session_reports_it_lost() {
    let mut config = Sim::config();
    config.resume = Some((0x77, vec![7; 16].into()));
    config.queue_timeout = None;
    let sim = Sim::new_with(config, |_| {});
    assert_eq!(
        sim.states(),
        [lost(0x77, LostReason::Expired), connected(FIRST, true)]
    );
}

/// Handshake answers that accept no real session are typed errors that
/// drop the connection, never a panic or a session with id 0.
#[test]
fn handshake_answers_naming_no_session_are_malformed() {
    for (session_id, passwd_len) in [(0, 16), (0x55, 0), (0x55, 15), (0x55, 17)] {
        let mut sim = Sim::new_with(Sim::config(), |s| s.handshake = Handshake::Silent);
        let mut out = bytes::BytesMut::new();
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout: 3000,
            session_id,
            passwd: Bytes::from(vec![1; passwd_len]).into(),
            read_only: Some(false),
        };
        encode_frame(&mut out, |o| resp.encode(o));
        sim.session.handle_input(&out, sim.now);
        sim.step();
        assert_eq!(sim.session.state(), None, "{session_id:#x}/{passwd_len}");
        assert!(sim.events.iter().any(|e| matches!(
            e,
            Event::Disconnected {
                reason: DisconnectReason::Malformed(
                    DecodeError::BadSession { .. } | DecodeError::BadHandshake(_)
                ),
                ..
            }
        )));
    }
}

/// A zero or negative negotiated timeout is the server's "expired"
/// (PROTOCOL.md §2.4): for a new-session request it is a broken server,
/// not the loss of a session that never existed.
#[test]
fn expired_answer_to_a_new_session_request_loses_nothing() {
    for timeout in [0, -1, i32::MIN] {
        let mut sim = Sim::new_with(Sim::config(), |s| s.handshake = Handshake::Silent);
        let mut out = bytes::BytesMut::new();
        let resp = ConnectResponse {
            timeout,
            passwd: Bytes::from(vec![0; 16]).into(),
            ..Default::default()
        };
        encode_frame(&mut out, |o| resp.encode(o));
        sim.session.handle_input(&out, sim.now);
        sim.step();
        assert_eq!(sim.states(), [], "timeout {timeout}");
        assert!(sim.transcript.lines().any(|l| l.ends_with("disconnect")));
    }
}

/// Abandoning the session on the client's side: Suspended, Lost
/// (abandoned), then a new session, while the server still holds the old
/// one and its ephemerals.
#[test]
fn an_abandoned_session_is_lost_here_and_alive_there() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/eph", CreateMode::Ephemeral));
    sim.session.abandon_session(sim.now);
    sim.step();
    sim.advance(Duration::from_secs(2));
    assert_eq!(
        sim.states(),
        [
            connected(FIRST, true),
            SessionState::Suspended { session_id: FIRST },
            lost(FIRST, LostReason::Abandoned),
            connected(SECOND, true),
        ]
    );
    assert!(sim.server.live_sessions().contains(&FIRST));
    assert!(sim.server.exists("/eph"), "the server keeps its ephemeral");
}
