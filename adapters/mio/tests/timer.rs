//! On Linux a session's deadlines wake the poll by themselves (a timer
//! file beside the waker): a loop that sleeps for exactly what
//! `poll_timeout` says, which is then "no timeout", still pings, and an
//! idle session outlives its timeout. Against a real server.

#![cfg(any(target_os = "linux", target_os = "android"))]
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use kazoo::session::Config;
use kazoo::session::SessionState;
use kazoo_mio::Sessions;
use kazoo_testing::ZkServer;
use mio::{Events, Poll, Token};

#[test]
fn deadlines_wake_a_poll_that_has_no_timeout() {
    let server = ZkServer::shared().expect("a ZooKeeper server");
    let hosts = server.chroot("mio-timer").unwrap();
    let mut poll = Poll::new().unwrap();
    let mut zk = Sessions::new(poll.registry(), Token(0)).unwrap();
    // The shared server's least (two 2 s ticks): a ping every 1.33 s.
    let timeout = Duration::from_secs(4);
    let config = Config::builder(&hosts)
        .session_timeout(timeout)
        .build()
        .unwrap();
    let client = zk.add(config, Token(1)).unwrap();
    let mut events = Events::with_capacity(64);
    let started = Instant::now();
    let mut connected = None;
    let mut turns = 0;
    // Idle for 1.5 session timeouts once connected.
    while connected.is_none_or(|at: Instant| at.elapsed() < timeout * 3 / 2) {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out");
        let wait = zk.poll_timeout();
        if connected.is_some() {
            assert_eq!(wait, None, "the timer covers every deadline");
            turns += 1;
        }
        // Were the timer never to fire, this would sleep past the
        // session's expiry.
        poll.poll(&mut events, wait.or(Some(timeout * 3))).unwrap();
        for event in &events {
            zk.handle_event(event);
        }
        zk.handle_timeouts();
        if connected.is_none() && client.is_connected() {
            connected = Some(Instant::now());
        }
    }
    let id = client.session_id();
    let pings = client.stats().pings_sent;
    assert!(
        pings >= 3,
        "{pings} pings in 1.5 session timeouts ({turns} turns)"
    );
    assert!(
        matches!(client.state(), Some(SessionState::Connected { .. })),
        "{:?}",
        client.state()
    );

    let exists = client.exists("/").send();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exists.is_ready() {
        assert!(Instant::now() < deadline, "no answer");
        poll.poll(&mut events, zk.poll_timeout()).unwrap();
        for event in &events {
            zk.handle_event(event);
        }
        zk.handle_timeouts();
    }
    assert!(exists.wait().is_ok());
    assert_eq!(client.session_id(), id, "the same session, never expired");
}
