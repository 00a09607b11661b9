//! What the end-to-end benchmarks share: the server, the arguments, the
//! process's CPU time.

#![allow(dead_code)] // each benchmark uses its part

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use kazoo::Client;
use kazoo_testing::ZkServer;

/// The benchmark's arguments after the server's `host:port` (the first
/// argument), and that server: a real one started here when none is
/// given, kept running while the returned handle lives.
pub fn server_and_args() -> (Option<ZkServer>, String, Vec<String>) {
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    // The first argument that is not a `--flag` names the server.
    let Some(first) = args.iter().position(|a| !a.starts_with("--")) else {
        let s = ZkServer::start().expect("a ZooKeeper server");
        let h = s.connect_string();
        return (Some(s), h, args);
    };
    let hosts = args.remove(first);
    (None, hosts, args)
}

/// Removes `--name=value` from `args`, returning the value.
pub fn take_flag(args: &mut Vec<String>, prefix: &str) -> Option<String> {
    let i = args.iter().position(|a| a.starts_with(prefix))?;
    Some(args.remove(i)[prefix.len()..].to_owned())
}

/// This process's CPU time (user + system), in seconds, to the
/// nanosecond: the sum of its threads' run time in
/// `/proc/self/task/*/schedstat` (`/proc/self/stat` counts 10 ms ticks,
/// too coarse for a window of a few tenths of a second). A thread that
/// ends inside a window takes its time with it; the peer programs in
/// `bench/peers/` measure the same way.
pub fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return process_cpu_seconds("self");
    };
    let ns: Vec<u64> = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .collect();
    if ns.is_empty() {
        return process_cpu_seconds("self"); // no schedstat in this kernel
    }
    ns.iter().sum::<u64>() as f64 / 1e9
}

/// CPU time (user + system) of process `pid` ("self" for this one), in
/// seconds; 0 if it cannot be read.
pub fn process_cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th overall.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The CPU counters at the start of a measured window: this process's,
/// and the server's when `ZK_PID` names it.
pub fn window_start() -> (f64, f64) {
    (cpu_seconds(), server_cpu_seconds())
}

fn server_cpu_seconds() -> f64 {
    std::env::var("ZK_PID").map_or(0.0, |p| process_cpu_seconds(&p))
}

/// `client_cpu_s=… server_cpu_s=…` since `start`, as every program of
/// `scripts/bench.sh` prints them.
pub fn measured(start: (f64, f64)) -> String {
    format!(
        "client_cpu_s={:.3} server_cpu_s={:.3} rss_kb={}",
        cpu_seconds() - start.0,
        server_cpu_seconds() - start.1,
        peak_rss_kb()
    )
}

/// [`measured`] without the client's CPU, for a workload whose own
/// pacing or waiting would be counted as the client's cost.
pub fn measured_server_only(start: (f64, f64)) -> String {
    format!(
        "server_cpu_s={:.3} rss_kb={}",
        server_cpu_seconds() - start.1,
        peak_rss_kb()
    )
}

/// Runs `future` on the calling thread, which sleeps (parks) until the
/// client wakes it: what `.wait()` does for a std user.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Resident memory of this process now, in KiB (VmRSS).
pub fn rss_kb() -> u64 {
    status_kb("VmRSS:")
}

/// Peak resident memory of this process so far, in KiB (VmHWM).
pub fn peak_rss_kb() -> u64 {
    status_kb("VmHWM:")
}

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// W2 (`W2`: getData) or W3 (setData) of BASELINES.md: `count` requests on
/// a 100-byte node, at most `window` in flight.
pub async fn run_pipelined(
    client: &Client,
    node: &str,
    w: &str,
    count: usize,
    window: usize,
) -> String {
    let data = bytes::Bytes::from(vec![b'y'; 100]);
    let t0 = Instant::now();
    let mut gets = VecDeque::with_capacity(window);
    let mut sets = VecDeque::with_capacity(window);
    let (mut sent, mut done) = (0, 0);
    while done < count {
        while sent < count && gets.len() + sets.len() < window {
            if w == "W2" {
                gets.push_back(client.get(node).send());
            } else {
                sets.push_back(client.set(node, data.clone()).send());
            }
            sent += 1;
        }
        // Replies come in order: the oldest finishes first.
        if let Some(g) = gets.pop_front() {
            g.await.expect("get");
        } else if let Some(s) = sets.pop_front() {
            s.await.expect("set");
        }
        done += 1;
    }
    let el = t0.elapsed().as_secs_f64();
    format!(
        "ops={count} secs={el:.3} ops_per_s={:.0}",
        count as f64 / el
    )
}
