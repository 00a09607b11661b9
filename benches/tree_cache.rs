//! TreeCache: how long the first load of 10,000 nodes takes, and how much
//! memory the cache holds per node once loaded (bytes still allocated,
//! counted by a wrapping global allocator, after the load's events are
//! drained; the server runs in another process, so only the client's
//! memory counts). Each node has 16 bytes of data, 100 parents of 100
//! children.
//!
//! ```sh
//! cargo bench --bench tree_cache                    # starts a real server
//! cargo bench --bench tree_cache -- 127.0.0.1:2181  # or uses this one
//! ```

#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use kazoo::recipe::TreeEvent;
use kazoo::session::Config;

#[path = "../tests/support/counting.rs"]
mod counting;

const PARENTS: usize = 100;
const CHILDREN: usize = 100;

fn main() {
    let (_server, hosts, _) = common::server_and_args();
    let client = kazoo_std::start(Config::new(&hosts).unwrap());
    client
        .wait_connected()
        .wait_timeout(Duration::from_secs(30))
        .expect("connected");
    let root = format!("/bench-cache-{}", std::process::id());
    client.create(&root).send().wait().unwrap();
    // Pipelined creates, one level at a time.
    for p in 0..PARENTS {
        let parent = format!("{root}/p{p:03}");
        let mut pending = vec![client.create(&parent).data("parent data 0123").send()];
        pending.extend((0..CHILDREN).map(|c| {
            client
                .create(format!("{parent}/c{c:03}"))
                .data("child data 01234")
                .send()
        }));
        for created in pending {
            created.wait().unwrap();
        }
    }
    let nodes = 1 + PARENTS * (CHILDREN + 1);
    for round in 0..3 {
        let before = counting::live_bytes();
        let t0 = Instant::now();
        let cache = client.tree_cache(&root).start().unwrap();
        let (mut added, mut overflowed) = (0, false);
        loop {
            match cache.recv_timeout(Duration::from_secs(60)).unwrap() {
                Some(TreeEvent::Added(_)) => added += 1,
                // This reader fell behind: some Added events were dropped.
                Some(TreeEvent::Overflowed) => overflowed = true,
                Some(TreeEvent::Initialized) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let load = t0.elapsed();
        let held = counting::live_bytes() - before;
        assert!(added == nodes || overflowed, "{added} of {nodes} added");
        assert_eq!(cache.len(), nodes);
        println!(
            "round {round}: {nodes} nodes loaded in {:.0} ms ({:.1} µs/node); {:.0} bytes held per cached node ({:.2} MB)",
            load.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e6 / nodes as f64,
            held as f64 / nodes as f64,
            held as f64 / 1e6
        );
        cache.close();
    }
    client.delete(&root).recursive().send().wait().unwrap();
    client.close().wait().unwrap();
}
