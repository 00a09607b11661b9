//! Tasks end with the client: 100 clients waiting out a long backoff are
//! closed and dropped, and every task they spawned is gone at once.

use std::time::Duration;

use kazoo::session::Config;

#[test]
fn closing_from_a_waiting_state_ends_every_task() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let metrics = runtime.metrics();
    let config = Config::builder("127.0.0.1:1")
        .connection_retry(
            kazoo::retry::RetryPolicy::default()
                .delay(Duration::from_secs(30))
                .max_delay(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    let clients: Vec<_> = (0..100)
        .map(|_| kazoo_tokio::start(runtime.handle(), config.clone()))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        metrics.num_alive_tasks() >= 200,
        "{}",
        metrics.num_alive_tasks()
    );
    for c in &clients {
        c.close().wait_timeout(Duration::from_secs(5)).unwrap();
    }
    drop(clients);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while metrics.num_alive_tasks() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(metrics.num_alive_tasks(), 0, "tasks left");
}
