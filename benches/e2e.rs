//! End-to-end workloads W1–W5 of BASELINES.md on any adapter, with the
//! same output lines as the peer programs in `bench/peers/`, so runs
//! compare side by side (`scripts/bench.sh` runs them all, interleaved).
//!
//! ```sh
//! cargo bench --bench e2e                    # starts a server, runs every workload on kazoo-std
//! cargo bench --bench e2e -- 127.0.0.1:2181 W2 [count] [window] [--adapter=std|tokio|mio]
//! ```
//!
//! Prints `RESULT client=kazoo-rs-<adapter> workload=… ops_per_s=…`, then
//! the client's CPU seconds (user + system, from /proc/self/stat) and,
//! when `ZK_PID` names the server's process, the server's, both over the
//! workload's window only: no warm-up, set-up or clean-up inside it.

#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use kazoo::client::Task;
use kazoo::Client;

fn main() {
    let (_server, hosts, mut args) = common::server_and_args();
    let adapter = common::take_flag(&mut args, "--adapter=").unwrap_or_else(|| "std".into());
    let workloads: Vec<String> = match args.first() {
        Some(w) => vec![w.clone()],
        None => ["W1", "W2", "W3", "W4", "W5"].map(String::from).to_vec(),
    };
    // Kept alive for the whole run: kazoo-tokio's tasks run on it.
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let client = match adapter.as_str() {
        "std" => kazoo_std::connect(hosts.as_str()),
        "mio" => kazoo_mio::connect(hosts.as_str()),
        "tokio" => runtime.block_on(kazoo_tokio::connect(hosts.as_str())),
        other => panic!("unknown adapter {other} (std, tokio, mio)"),
    }
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
    for w in &workloads {
        let count = args
            .get(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(match w.as_str() {
                "W1" | "W4" | "W5" => 10_000,
                "W2" => 200_000,
                _ => 50_000,
            });
        let window = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(1000);
        let line = match w.as_str() {
            "W1" => run_sequential(&client, &node, count),
            "W2" | "W3" => {
                let start = common::window_start();
                let line = common::run_pipelined(&client, &node, w, count, window);
                format!("{line} {}", common::measured(start))
            }
            "W4" => run_churn(&client, &root, count, window),
            "W5" => run_watches(&client, &root, count),
            other => panic!("unknown workload {other}"),
        };
        println!("RESULT client=kazoo-rs-{adapter} workload={w} {line}");
    }
    client
        .delete(&root)
        .recursive()
        .send()
        .wait()
        .expect("cleanup");
    client
        .close()
        .wait_timeout(Duration::from_secs(10))
        .expect("close");
}

fn run_sequential(client: &Client, node: &str, count: usize) -> String {
    let mut lat = Vec::with_capacity(count);
    let start = common::window_start();
    let t0 = Instant::now();
    for _ in 0..count {
        let t = Instant::now();
        client.get(node).send().wait().expect("get");
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let el = t0.elapsed().as_secs_f64();
    lat.sort_unstable();
    format!(
        "ops={count} secs={el:.3} ops_per_s={:.0} p50_us={:.1} p99_us={:.1} {}",
        count as f64 / el,
        lat[count / 2] as f64 / 1e3,
        lat[count * 99 / 100] as f64 / 1e3,
        common::measured(start)
    )
}

/// Runs `count` tasks, at most `window` at once; returns tasks per second.
fn pipelined<T>(count: usize, window: usize, mut send: impl FnMut(usize) -> Task<T>) -> f64 {
    let t = Instant::now();
    let mut inflight = std::collections::VecDeque::with_capacity(window);
    for i in 0..count {
        if inflight.len() == window {
            let oldest: Task<T> = inflight.pop_front().expect("one in flight");
            oldest.wait().expect("churn");
        }
        inflight.push_back(send(i));
    }
    for task in inflight {
        task.wait().expect("churn");
    }
    count as f64 / t.elapsed().as_secs_f64()
}

/// W4: `count` creates pipelined, then `count` deletes pipelined.
fn run_churn(client: &Client, root: &str, count: usize, window: usize) -> String {
    let start = common::window_start();
    let t0 = Instant::now();
    let rates = [
        pipelined(count, window, |i| {
            client.create(format!("{root}/c{i}")).send()
        }),
        pipelined(count, window, |i| {
            client.delete(format!("{root}/c{i}")).send()
        }),
    ];
    let el = t0.elapsed().as_secs_f64();
    format!(
        "ops={} secs={el:.3} ops_per_s={:.0} create_ops_per_s={:.0} delete_ops_per_s={:.0} {}",
        2 * count,
        2.0 * count as f64 / el,
        rates[0],
        rates[1],
        common::measured(start)
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
    let start = common::window_start();
    let t = Instant::now();
    let sets: Vec<_> = (0..count)
        .map(|i| client.set(format!("{dir}/{i}"), "z").send())
        .collect();
    for s in sets {
        s.wait().expect("set");
    }
    let n = watches.into_iter().filter_map(|w| w.wait()).count();
    let el = t.elapsed().as_secs_f64();
    format!(
        "watches={n} secs_trigger_to_all_events={el:.3} {}",
        common::measured(start)
    )
}
