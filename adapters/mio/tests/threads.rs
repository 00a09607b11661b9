//! Threads end with the client: 100 clients on their own mio threads,
//! waiting out a long backoff, are closed and dropped, and their threads
//! are gone at once.

use std::time::{Duration, Instant};

use kazoo::session::Config;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn closing_from_a_waiting_state_ends_every_thread() {
    let before = threads();
    let config = Config::builder("127.0.0.1:1")
        .backoff(Duration::from_secs(30), Duration::from_secs(60))
        .build()
        .unwrap();
    let clients: Vec<_> = (0..100).map(|_| kazoo_mio::start(config.clone())).collect();
    std::thread::sleep(Duration::from_millis(500));
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
