//! SASL on every connection: nothing but its tokens before it completes,
//! "connected" reported after, a refusal terminal, a cut exchange retried.

use std::time::Duration;

use super::sim::{req, FakeSasl, Sim};
use crate::proto::jute::Record;
use crate::proto::*;
use crate::sasl::{SaslCredentials, SaslError};
use crate::session::{DisconnectReason, Event, LostReason, SessionState};
use crate::Error;

fn config(password: &str) -> crate::session::Config {
    let mut c = Sim::config();
    c.sasl = Some(SaslCredentials::digest_md5("bob", password.to_string()));
    c.auth.push(("digest".into(), "bob:x".into()));
    c
}

#[test]
fn the_exchange_comes_first_and_connected_after_it() {
    let mut sim = Sim::new_with(config("pw"), |s| s.sasl = FakeSasl::Password("pw"));
    let get = sim.submit(req::get("/", false));
    assert!(sim.result(get).is_some_and(Result::is_ok));
    assert_eq!(
        sim.received_ops()[..4],
        [OpCode::Sasl, OpCode::Sasl, OpCode::Auth, OpCode::GetData],
        "two SASL rounds, then the replayed credential, then the request"
    );
    assert_eq!(
        sim.states(),
        [SessionState::Connected {
            session_id: 0x101,
            new_session: true
        }]
    );
    // A reconnect runs the exchange again before the replay.
    sim.prove_connection();
    sim.drop_connection();
    sim.advance(Duration::from_millis(10));
    let after: Vec<_> = sim
        .received_ops()
        .into_iter()
        .filter(|op| *op != OpCode::Ping)
        .skip(4)
        .collect();
    assert_eq!(after, [OpCode::Sasl, OpCode::Sasl, OpCode::Auth]);
    assert_eq!(
        sim.states().last(),
        Some(&SessionState::Connected {
            session_id: 0x101,
            new_session: false
        })
    );
}

#[test]
fn a_refused_password_is_terminal() {
    let mut sim = Sim::new_with(config("wrong"), |s| s.sasl = FakeSasl::Password("pw"));
    assert_eq!(
        sim.session.state(),
        Some(SessionState::Lost {
            session_id: 0x101,
            reason: LostReason::AuthFailed
        })
    );
    assert!(sim.session.is_closed());
    assert!(
        !sim.received_ops().contains(&OpCode::Auth),
        "nothing else was sent"
    );
    let later = sim.submit(req::get("/", false));
    assert_eq!(sim.result(later), Some(&Err(Error::AuthFailed)));
    // Terminal: no further attempt however long we wait.
    let attempts = sim.server.received.len();
    sim.advance(Duration::from_secs(60));
    assert_eq!(sim.server.received.len(), attempts);
    assert!(!sim
        .states()
        .iter()
        .any(|s| matches!(s, SessionState::Connected { .. })));
}

#[test]
fn a_server_without_sasl_refuses_and_that_is_terminal_too() {
    let mut sim = Sim::new(config("pw"));
    assert_eq!(sim.session.terminal_error(), Some(&Error::AuthFailed));
    let later = sim.submit(req::get("/", false));
    assert_eq!(sim.result(later), Some(&Err(Error::AuthFailed)));
}

#[test]
fn a_connection_cut_during_the_exchange_is_retried() {
    let mut sim = Sim::new_with(config("pw"), |s| {
        s.sasl = FakeSasl::CloseAfterChallenge("pw")
    });
    let get = sim.submit(req::get("/", false));
    sim.advance(Duration::from_secs(2));
    assert!(
        sim.result(get).is_some_and(Result::is_ok),
        "{:?}",
        sim.result(get)
    );
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::Closed,
            ..
        }
    )));
    // The cut connection never reported "connected", so no Suspended
    // either; the session made on it is resumed on the next, and reported
    // as what it is to the application: new.
    assert_eq!(
        sim.states(),
        [SessionState::Connected {
            session_id: 0x101,
            new_session: true
        }]
    );
}

#[test]
fn a_challenge_the_client_cannot_answer_ends_the_connection_not_the_session() {
    let mut sim = Sim::new_with(config("pw"), |s| s.sasl = FakeSasl::BadChallenge);
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::Sasl(SaslError::MalformedChallenge),
            ..
        }
    )));
    assert!(!sim.session.is_closed(), "another server may be fine");
    sim.server.sasl = FakeSasl::Password("pw");
    sim.advance(Duration::from_secs(2));
    assert!(matches!(
        sim.session.state(),
        Some(SessionState::Connected { .. })
    ));
}

/// A driver may poll for output any number of times while a token is out
/// (the adapters do): the token in flight must stay the one answered.
#[test]
fn polling_while_a_token_is_out_keeps_its_xid() {
    use bytes::BytesMut;
    let mut sim = Sim::new_with(config("pw"), |s| s.sasl = FakeSasl::Password("pw"));
    sim.prove_connection();
    sim.server.stalled = true;
    sim.drop_connection();
    sim.advance(Duration::from_millis(10));
    // The server holds everything: answer the handshake by hand.
    let now = sim.now;
    let reply = |xid: i32, token: &[u8]| {
        let mut out = BytesMut::new();
        encode_frame(&mut out, |o| {
            ReplyHeader {
                xid,
                zxid: 1,
                err: 0,
            }
            .encode(o);
            SaslPacket {
                token: bytes::Bytes::copy_from_slice(token),
            }
            .encode(o);
        });
        out
    };
    let mut hs = BytesMut::new();
    encode_frame(&mut hs, |o| {
        ConnectResponse {
            timeout: 3000,
            session_id: 0x101,
            passwd: vec![1u8; 16].into(),
            read_only: Some(false),
            ..Default::default()
        }
        .encode(o)
    });
    sim.session.handle_input(&hs, now);
    let mut out = BytesMut::new();
    assert!(sim.session.poll_transmit(now, &mut out), "the first token");
    let xid = i32::from_be_bytes([out[4], out[5], out[6], out[7]]);
    for _ in 0..3 {
        out.clear();
        assert!(!sim.session.poll_transmit(now, &mut out), "nothing more");
    }
    sim.session.handle_input(
        &reply(xid, br#"realm="zk-sasl-md5",nonce="n",algorithm=md5-sess"#),
        now,
    );
    out.clear();
    assert!(sim.session.poll_transmit(now, &mut out), "the response");
    assert!(
        !std::iter::from_fn(|| sim.session.poll_event())
            .any(|e| matches!(e, Event::Disconnected { .. })),
        "the answer was taken as the answer"
    );
}

/// A server that never answers the exchange: no ping keeps the connection
/// up meanwhile (a server enforcing SASL would answer it with -124 and
/// close), and the read timeout ends it.
#[test]
fn no_ping_while_authenticating_and_the_read_timeout_bounds_it() {
    let mut sim = Sim::new_with(config("pw"), |s| s.sasl = FakeSasl::Silent);
    sim.advance(Duration::from_millis(2500));
    let ops = sim.received_ops();
    assert!(ops.contains(&OpCode::Sasl));
    assert!(!ops.contains(&OpCode::Ping), "{ops:?}");
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::ReadTimeout,
            ..
        }
    )));
    assert!(sim.states().is_empty(), "never reported connected");
}

/// Watchers carried over hear "resumed" only once the connection is
/// authenticated: not before a refusal.
#[test]
fn carried_watchers_hear_nothing_before_authentication() {
    let mut sim = Sim::new_with(config("pw"), |s| s.sasl = FakeSasl::Password("pw"));
    let w = sim.submit(req::add_watch("/p", AddWatchMode::Persistent));
    assert!(sim.result(w).is_some_and(Result::is_ok));
    sim.prove_connection();
    sim.server.sasl = FakeSasl::Password("changed");
    sim.drop_connection();
    sim.advance(Duration::from_millis(100));
    assert_eq!(sim.session.terminal_error(), Some(&Error::AuthFailed));
    let heard: Vec<_> = sim
        .watch_events()
        .into_iter()
        .filter(|(id, _, state, _)| *id == w.0 && *state == KeeperState::SyncConnected)
        .collect();
    assert!(heard.is_empty(), "{heard:?}");
}
