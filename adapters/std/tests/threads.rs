//! Threads end with the client: 100 clients waiting out a long backoff are
//! closed and dropped, and every thread they started is gone at once, not
//! when the old backoff deadline passes.

use std::time::Duration;

use kazoo_testing::{thread_count, thread_names, wait_for_threads};

use kazoo_std::session::Config;

/// Both cases count the process's threads, so they run in one test: as
/// two tests, the harness's thread for the second one could start (and
/// wait its turn) after the first had counted, and be counted as left.
#[test]
fn closing_ends_every_thread() {
    closing_from_a_waiting_state_ends_every_thread();
    closing_while_waiting_to_reconnect_ends_the_connection_thread_count();
}

fn closing_from_a_waiting_state_ends_every_thread() {
    let before = thread_count();
    // Port 1 refuses at once; the next attempt waits 15-30 s.
    let config = Config::builder("127.0.0.1:1")
        .connection_retry(
            kazoo::retry::RetryPolicy::default()
                .delay(Duration::from_secs(30))
                .max_delay(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    let clients: Vec<_> = (0..100).map(|_| kazoo_std::start(config.clone())).collect();
    std::thread::sleep(Duration::from_millis(500)); // every first attempt failed
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

/// A client closed while it waits to reconnect after the server dropped
/// its connection leaves no writer thread behind (the writer used to wait
/// for ever on a connection nobody would end).
fn closing_while_waiting_to_reconnect_ends_the_connection_thread_count() {
    let server = kazoo_testing::ZkServer::shared().expect("a ZooKeeper server");
    let proxy = kazoo_testing::Proxy::start(server.addr()).unwrap();
    let before = thread_count();
    let config = Config::builder(&proxy.addr().to_string())
        .reconnect_delay(Duration::from_secs(30))
        .build()
        .unwrap();
    let client = kazoo_std::start(config);
    client
        .wait_connected()
        .wait_timeout(Duration::from_secs(10))
        .unwrap();
    proxy.refuse(true);
    proxy.sever(); // the server side ends the connection
    std::thread::sleep(Duration::from_millis(300));
    client.close().wait_timeout(Duration::from_secs(5)).unwrap();
    drop(client);
    let left = wait_for_threads(before, Duration::from_secs(5));
    assert!(
        left <= before,
        "{left} threads left of {before}: {:?}",
        thread_names()
    );
}
