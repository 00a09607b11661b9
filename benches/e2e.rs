//! End-to-end workloads W1, W2, W3, W5 of BASELINES.md on kazoo-std, with
//! the same output lines as the peer programs, so runs compare side by side.
//!
//! ```sh
//! cargo bench --bench e2e                    # starts a server, runs all four
//! cargo bench --bench e2e -- 127.0.0.1:2181 W2 [count] [window]
//! ```
//!
//! Prints `RESULT client=kazoo-rs workload=… ops_per_s=…` plus the process's
//! CPU time per operation (user + system, from /proc/self/stat).

#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use kazoo::Client;

fn main() {
    let (_server, hosts, args) = common::server_and_args();
    let workloads: Vec<String> = match args.first() {
        Some(w) => vec![w.clone()],
        None => ["W1", "W2", "W3", "W5"].map(String::from).to_vec(),
    };
    let client = kazoo_std::connect(&hosts).expect("hosts");
    client
        .wait_connected()
        .wait_timeout(Duration::from_secs(30))
        .expect("connected");
    let root = format!("/bench-kazoo-rs-{}", std::process::id());
    client.create(&root).send().wait().expect("root");
    let node = format!("{root}/n");
    client
        .create(&node)
        .data(vec![b'x'; 100])
        .send()
        .wait()
        .expect("node");
    // Warm the server's JIT and our code paths.
    common::run_pipelined(&client, &node, "W2", 20_000, 1000);
    for w in &workloads {
        let count = args
            .get(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(match w.as_str() {
                "W1" => 10_000,
                "W2" => 200_000,
                "W3" => 50_000,
                _ => 10_000,
            });
        let window = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(1000);
        let cpu0 = common::cpu_seconds();
        let line = match w.as_str() {
            "W1" => run_sequential(&client, &node, count),
            "W2" | "W3" => common::run_pipelined(&client, &node, w, count, window),
            "W5" => run_watches(&client, &root, count),
            other => panic!("unknown workload {other}"),
        };
        let cpu = common::cpu_seconds() - cpu0;
        println!(
            "RESULT client=kazoo-rs workload={w} {line} client_cpu_us_per_op={:.1}",
            cpu / count as f64 * 1e6
        );
    }
    client
        .delete(&root)
        .recursive()
        .send()
        .wait()
        .expect("cleanup");
    client.close().wait().expect("close");
}

fn run_sequential(client: &Client, node: &str, count: usize) -> String {
    let mut lat = Vec::with_capacity(count);
    let t0 = Instant::now();
    for _ in 0..count {
        let t = Instant::now();
        client.get(node).send().wait().expect("get");
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let el = t0.elapsed().as_secs_f64();
    lat.sort_unstable();
    format!(
        "ops={count} secs={el:.3} ops_per_s={:.0} p50_us={:.1} p99_us={:.1}",
        count as f64 / el,
        lat[count / 2] as f64 / 1e3,
        lat[count * 99 / 100] as f64 / 1e3
    )
}

fn run_watches(client: &Client, root: &str, count: usize) -> String {
    let dir = format!("{root}/w");
    client.create(&dir).send().wait().expect("dir");
    let creates: Vec<_> = (0..count)
        .map(|i| client.create(format!("{dir}/{i}")).send())
        .collect();
    creates
        .into_iter()
        .for_each(|c| drop(c.wait().expect("create")));
    let (reads, watches): (Vec<_>, Vec<_>) = (0..count)
        .map(|i| client.get(format!("{dir}/{i}")).send_watched())
        .unzip();
    reads.into_iter().for_each(|r| drop(r.wait().expect("get")));
    let t = Instant::now();
    let sets: Vec<_> = (0..count)
        .map(|i| client.set(format!("{dir}/{i}"), "z").send())
        .collect();
    for s in sets {
        s.wait().expect("set");
    }
    let n = watches.into_iter().filter_map(|w| w.wait()).count();
    let el = t.elapsed().as_secs_f64();
    format!("watches={n} secs_trigger_to_all_events={el:.3}")
}
