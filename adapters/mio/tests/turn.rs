//! Requests the loop's thread makes mid-turn (between `handle_event` and
//! `handle_timeouts`) go out together at `handle_timeouts`, against a real
//! server; requests made outside a turn go out at once.

#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use kazoo::session::Config;
use kazoo_mio::Sessions;
use kazoo_testing::ZkServer;
use mio::{Events, Poll, Token};

const SESSION: Token = Token(1);

/// One turn: poll (at most `wait`), hand every event over; true if one
/// was the session's socket. `handle_timeouts` is left to the caller.
fn events(poll: &mut Poll, zk: &mut Sessions, wait: Duration) -> bool {
    let mut events = Events::with_capacity(64);
    poll.poll(&mut events, Some(wait)).unwrap();
    let mut socket = false;
    for event in &events {
        socket |= event.token() == SESSION;
        zk.handle_event(event);
    }
    socket
}

fn run_until(poll: &mut Poll, zk: &mut Sessions, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        events(poll, zk, Duration::from_millis(50));
        zk.handle_timeouts();
    }
}

#[test]
fn a_turns_requests_go_out_together_at_handle_timeouts() {
    let server = ZkServer::shared().expect("a ZooKeeper server");
    let hosts = server.chroot("mio-turn").unwrap();
    let mut poll = Poll::new().unwrap();
    let mut zk = Sessions::new(poll.registry(), Token(0)).unwrap();
    let config = Config::builder(&hosts)
        .session_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let client = zk.add(config, SESSION).unwrap();
    run_until(&mut poll, &mut zk, || client.is_connected());

    // Outside a turn: written at once, so the answer comes without
    // `handle_timeouts`.
    let mut first = client.create("/burst").send();
    assert_ne!(zk.poll_timeout(), Some(Duration::ZERO), "nothing held");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !events(&mut poll, &mut zk, Duration::from_millis(50)) {
        assert!(Instant::now() < deadline, "the request was not written");
    }

    // Mid-turn (the events were just handled): held for the turn's end.
    let mut creates: Vec<_> = (0..100)
        .map(|i| client.create(format!("/burst/{i}")).send())
        .collect();
    assert_eq!(
        zk.poll_timeout(),
        Some(Duration::ZERO),
        "held: poll at once"
    );
    assert!(
        !events(&mut poll, &mut zk, Duration::from_millis(200)),
        "nothing was written, so nothing is answered"
    );
    zk.handle_timeouts();
    assert_ne!(zk.poll_timeout(), Some(Duration::ZERO), "written");
    run_until(&mut poll, &mut zk, || {
        first.is_ready() && creates.iter_mut().all(|c| c.is_ready())
    });
    assert!(first.wait().is_ok());
    for (i, create) in creates.into_iter().enumerate() {
        assert_eq!(create.wait().as_deref(), Ok(format!("/burst/{i}").as_str()));
    }
    let children = client.get_children("/burst").send();
    run_until(&mut poll, &mut zk, || children.is_ready());
    assert_eq!(children.wait().map(|c| c.len()), Ok(100));
    drop(client.delete("/burst").recursive().send());
    drop(client.close());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !zk.is_empty() {
        assert!(Instant::now() < deadline, "the session did not close");
        events(&mut poll, &mut zk, Duration::from_millis(50));
        zk.handle_timeouts();
    }
}
