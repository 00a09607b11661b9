//! Each fault of the embedded server does what it says, seen from a real
//! client (kazoo-std) over TCP; faults aimed at nothing are typed errors.

#![allow(clippy::disallowed_methods)]

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kazoo::proto::Request;
use kazoo::session::{Config, LostReason, SessionState};
use kazoo::{Client, Error};
use kazoo_server::{EmbeddedServer, FaultError, ServerConfig};

const WAIT: Duration = Duration::from_secs(10);

fn server() -> EmbeddedServer {
    let mut config = ServerConfig::default();
    config.tick_time = Duration::from_millis(500);
    EmbeddedServer::start(config).unwrap()
}

fn client(server: &EmbeddedServer) -> (Client, Arc<Mutex<Vec<SessionState>>>) {
    let config = Config::builder(&server.connect_string())
        .session_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let client = kazoo_std::start(config);
    let states = Arc::new(Mutex::new(Vec::new()));
    let s = states.clone();
    client.add_listener(move |state| s.lock().unwrap().push(state));
    client.wait_connected().wait_timeout(WAIT).unwrap();
    (client, states)
}

fn wait_for(states: &Mutex<Vec<SessionState>>, want: impl Fn(&SessionState) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !states.lock().unwrap().iter().any(&want) {
        assert!(
            Instant::now() < deadline,
            "heard {:?}",
            states.lock().unwrap()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_lost_reply_hides_a_committed_create() {
    let server = server();
    let (c, _) = client(&server);
    server.lose_next_reply(|r| matches!(r, Request::Create(_) | Request::Create2(_)));
    let created = c.create("/lost").ephemeral().send().wait_timeout(WAIT);
    assert_eq!(created, Err(Error::ConnectionLoss));
    c.wait_connected().wait_timeout(WAIT).unwrap();
    let stat = c.exists("/lost").send().wait_timeout(WAIT).unwrap();
    assert_eq!(
        stat.map(|s| s.ephemeral_owner),
        Some(c.session_id()),
        "the create happened, for this session"
    );
    // One request only: the next create is answered.
    c.create("/answered").send().wait_timeout(WAIT).unwrap();
}

#[test]
fn closing_a_connection_keeps_the_session() {
    let server = server();
    let (c, states) = client(&server);
    let id = c.session_id();
    server.close_connection_of(id).unwrap();
    wait_for(
        &states,
        |s| matches!(s, SessionState::Connected { new_session: false, session_id } if *session_id == id),
    );
    assert!(states
        .lock()
        .unwrap()
        .contains(&SessionState::Suspended { session_id: id }));
}

#[test]
fn expiring_a_session_is_lost_then_new() {
    let server = server();
    let (c, states) = client(&server);
    let id = c.session_id();
    c.create("/e")
        .ephemeral()
        .send()
        .wait_timeout(WAIT)
        .unwrap();
    server.expire_session(id).unwrap();
    wait_for(
        &states,
        |s| matches!(s, SessionState::Connected { new_session: true, session_id } if *session_id != id),
    );
    assert!(states.lock().unwrap().contains(&SessionState::Lost {
        session_id: id,
        reason: LostReason::Expired
    }));
    assert_eq!(c.exists("/e").send().wait_timeout(WAIT).unwrap(), None);
    assert_eq!(server.expire_session(id), Err(FaultError::NoSession(id)));
}

#[test]
fn a_replaced_session_is_reported_lost() {
    let server = server();
    let (c, states) = client(&server);
    let id = c.session_id();
    server.set_replace_on_resume(true);
    server.close_connection_of(id).unwrap();
    wait_for(
        &states,
        |s| matches!(s, SessionState::Connected { new_session: true, session_id } if *session_id != id),
    );
    assert!(states.lock().unwrap().contains(&SessionState::Lost {
        session_id: id,
        reason: LostReason::Replaced
    }));
}

#[test]
fn a_stalled_connection_trips_the_read_timeout_and_resumes_elsewhere() {
    let server = server();
    let (c, states) = client(&server);
    let id = c.session_id();
    server.stall(id, true).unwrap();
    let get = c.get("/").send();
    assert_eq!(get.wait_timeout(WAIT).map(drop), Err(Error::ConnectionLoss));
    wait_for(
        &states,
        |s| matches!(s, SessionState::Connected { new_session: false, session_id } if *session_id == id),
    );
    assert!(c.get("/").send().wait_timeout(WAIT).is_ok());
}

#[test]
fn refused_connections_for_a_while() {
    let server = server();
    server.refuse_connections_for(Duration::from_millis(800));
    let started = Instant::now();
    let (c, _) = client(&server);
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert!(
        !c.recent_disconnects().is_empty(),
        "refused attempts are seen"
    );
}

#[test]
fn versions_and_sequences_near_the_wrap() {
    let server = server();
    let (c, _) = client(&server);
    c.create("/v").send().wait_timeout(WAIT).unwrap();
    server.set_version("/v", i32::MAX).unwrap();
    let stat = c.set("/v", "x").send().wait_timeout(WAIT).unwrap();
    assert_eq!(stat.version, i32::MIN, "the version wraps");
    server.set_child_sequence("/v", i32::MAX).unwrap();
    let last = c
        .create("/v/s-")
        .sequential()
        .send()
        .wait_timeout(WAIT)
        .unwrap();
    let wrapped = c
        .create("/v/s-")
        .sequential()
        .send()
        .wait_timeout(WAIT)
        .unwrap();
    assert_eq!(last, "/v/s-2147483647");
    assert_eq!(wrapped, "/v/s--2147483648");
    assert_eq!(
        server.set_version("/none", 1),
        Err(FaultError::NoNode("/none".into()))
    );
    assert_eq!(
        server.stall(0x1234, true),
        Err(FaultError::NoSession(0x1234))
    );
}

#[test]
fn delayed_replies_arrive_late_and_in_order() {
    let server = server();
    let (c, _) = client(&server);
    server
        .delay_replies(c.session_id(), Duration::from_millis(400))
        .unwrap();
    let started = Instant::now();
    let first = c.create("/d1").send();
    let second = c.create("/d2").send();
    assert_eq!(first.wait_timeout(WAIT).unwrap(), "/d1");
    assert_eq!(second.wait_timeout(WAIT).unwrap(), "/d2");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "not delayed"
    );
    server
        .delay_replies(c.session_id(), Duration::ZERO)
        .unwrap();
    c.exists("/d1").send().wait_timeout(WAIT).unwrap();
    assert_eq!(
        server.delay_replies(0x99, Duration::ZERO),
        Err(FaultError::NoSession(0x99))
    );
}
