//! Work repeated on a steady connection leaves no memory behind: each
//! kind of operation runs in batches, and the bytes still allocated after
//! the last batches must not grow with the number of operations. The
//! soak found the first of these (every lock acquisition kept its
//! waker: 40 bytes each, for ever).

#![allow(clippy::disallowed_methods)] // a test owns its clock

use std::time::Duration;

#[path = "support/counting.rs"]
mod counting;

/// Live bytes once background work (callbacks, cleanups) has settled.
fn live() -> i64 {
    std::thread::sleep(Duration::from_millis(200));
    counting::live_bytes()
}

/// Runs `op` in four batches of `n`; fails if the last two batches each
/// left more than a few bytes per operation behind.
fn flat(name: &str, n: i64, op: &dyn Fn()) {
    for _ in 0..n * 2 {
        op(); // tables grow to their working size
    }
    let mut grew = Vec::new();
    let mut before = live();
    for _ in 0..2 {
        for _ in 0..n {
            op();
        }
        let after = live();
        grew.push((after - before) / n);
        before = after;
    }
    println!("{name}: {grew:?} bytes per operation left behind");
    assert!(
        grew.iter().all(|g| *g < 4),
        "{name} leaves memory behind: {grew:?} bytes per operation"
    );
}

#[test]
fn repeated_work_leaves_no_memory_behind() {
    let server = kazoo_testing::ZkServer::shared().expect("a ZooKeeper server");
    let root = server.chroot("leaks").unwrap();
    let client = kazoo_std::connect(&root).unwrap();
    client.wait_connected().wait().unwrap();
    client.create("/s").send().wait().unwrap();
    client.create("/w").send().wait().unwrap();
    let n = 200;

    let lock = client.lock("/lock");
    flat("a lock acquired and released", n, &|| {
        let guard = lock.acquire().wait().unwrap();
        guard.release().wait().unwrap();
    });
    let guard = lock.acquire().wait().unwrap();
    flat("a holder asking whether its lock is lost", n, &|| {
        assert!(guard.lost().wait_timeout(Duration::ZERO).is_none());
    });
    guard.release().wait().unwrap();
    let semaphore = client.semaphore("/sem", 2);
    flat("a semaphore lease taken and given back", n, &|| {
        let lease = semaphore.acquire().wait().unwrap();
        lease.release().wait().unwrap();
    });
    flat("an ephemeral sequential node made and deleted", n, &|| {
        let path = client
            .create("/s/x-")
            .ephemeral()
            .sequential()
            .send()
            .wait()
            .unwrap();
        client.delete(path).send().wait().unwrap();
    });
    flat("a watched read, then the write that fires it", n, &|| {
        let _ = client.get("/w").watch(|_| {}).send().wait().unwrap();
        client.set("/w", "x").send().wait().unwrap();
    });
    let watch = client.data_watch("/w", |_| true).wait().unwrap();
    flat("a write a DataWatch follows", n, &|| {
        client.set("/w", "y").send().wait().unwrap();
    });
    watch.stop();
    client.close().wait().unwrap();
}
