//! Threads end with the client: 100 clients waiting out a long backoff are
//! closed and dropped, and every thread they started is gone at once, not
//! when the old backoff deadline passes.

use std::time::{Duration, Instant};

use kazoo_std::session::Config;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn closing_from_a_waiting_state_ends_every_thread() {
    let before = threads();
    // Port 1 refuses at once; the next attempt waits 15-30 s.
    let config = Config::builder("127.0.0.1:1")
        .backoff(Duration::from_secs(30), Duration::from_secs(60))
        .build()
        .unwrap();
    let clients: Vec<_> = (0..100).map(|_| kazoo_std::start(config.clone())).collect();
    std::thread::sleep(Duration::from_millis(500)); // every first attempt failed
    assert!(threads() >= before + 100, "{} threads", threads());
    for c in &clients {
        c.close().wait_timeout(Duration::from_secs(5)).unwrap();
    }
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(5);
    while threads() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        threads() <= before,
        "{} threads left of {before}",
        threads()
    );
}
