//! Threads end with the client: 100 clients on their own mio threads,
//! waiting out a long backoff, are closed and dropped, and their threads
//! are gone at once.

use std::time::Duration;

use kazoo_testing::{thread_count, thread_names, wait_for_threads};

use kazoo::session::Config;

#[test]
fn closing_from_a_waiting_state_ends_every_thread() {
    let before = thread_count();
    let config = Config::builder("127.0.0.1:1")
        .connection_retry(
            kazoo::retry::RetryPolicy::default()
                .delay(Duration::from_secs(30))
                .max_delay(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    let clients: Vec<_> = (0..100).map(|_| kazoo_mio::start(config.clone())).collect();
    std::thread::sleep(Duration::from_millis(500));
    assert!(thread_count() >= before + 100, "{} threads", thread_count());
    for c in &clients {
        c.close().wait_timeout(Duration::from_secs(5)).unwrap();
    }
    drop(clients);
    let left = wait_for_threads(before, Duration::from_secs(5));
    assert!(
        left <= before,
        "{left} threads left of {before}: {:?}",
        thread_names()
    );
}
