//! The sessions' waker is the loop's one waker (mio allows one per poll):
//! a program wakes its loop with it from another thread, and the event is
//! the sessions' to take.

use std::time::Duration;

use kazoo_mio::Sessions;
use mio::{Events, Poll, Token};

#[test]
fn another_thread_wakes_the_loop_through_the_sessions_waker() {
    let mut poll = Poll::new().unwrap();
    let mut zk = Sessions::new(poll.registry(), Token(0)).unwrap();
    let waker = zk.waker();
    let waking = std::thread::spawn(move || waker.wake().unwrap());
    let mut events = Events::with_capacity(8);
    // No session, so no deadline: only the wake ends this poll.
    assert_eq!(zk.poll_timeout(), None);
    poll.poll(&mut events, Some(Duration::from_secs(30)))
        .unwrap();
    waking.join().unwrap();
    let tokens: Vec<_> = events.iter().map(|e| e.token()).collect();
    assert_eq!(tokens, [Token(0)], "woken, by the waker's token");
    assert!(
        events.iter().all(|e| zk.handle_event(e)),
        "the sessions' event"
    );
}
