//! Baseline: the `zookeeper-client` crate (tokio) on workloads W1, W2, W3, W5 of BASELINES.md.
//! Usage: zkc-bench HOST:PORT W1|W2|W3|W4|W5 [count] [window]
//! Each RESULT line ends with the client's and (given ZK_PID) the server's CPU seconds over the
//! workload's window only.
use futures::stream::{FuturesUnordered, StreamExt};
use std::time::Instant;
use zookeeper_client as zk;

/// User + system CPU seconds of process `pid` ("self" for this one). For this process, to
/// the nanosecond: its threads' run time summed from /proc/self/task/*/schedstat (as kazoo-rs's
/// e2e measures); for the server, /proc/PID/stat's 10 ms ticks.
fn cpu_s(pid: &str) -> f64 {
    if pid == "self" {
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            let ns: Vec<u64> = tasks
                .flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .collect();
            if !ns.is_empty() {
                return ns.iter().sum::<u64>() as f64 / 1e9;
            }
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}
/// Peak resident memory of this process, in KiB (VmHWM).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}
fn window_start() -> (f64, f64) {
    (cpu_s("self"), std::env::var("ZK_PID").map(|p| cpu_s(&p)).unwrap_or(0.0))
}
/// The CPU of this process and of the server (ZK_PID) since `start`.
fn measured(start: (f64, f64)) -> String {
    let server = std::env::var("ZK_PID").map(|p| cpu_s(&p)).unwrap_or(0.0);
    format!("client_cpu_s={:.3} server_cpu_s={:.3} rss_kb={}", cpu_s("self") - start.0, server - start.1, peak_rss_kb())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (hosts, w) = (&args[1], args[2].as_str());
    let count: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(match w { "W1" => 10_000, "W2" => 200_000, "W3" => 50_000, _ => 10_000 });
    let window: usize = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(1000);
    let client = zk::Client::connect(hosts).await.expect("connect");
    let root = format!("/bench-zkc-{}", std::process::id());
    let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.create(&root, b"", &opts).await.expect("create root");
    let node = format!("{root}/n");
    client.create(&node, &[b'x'; 100], &opts).await.expect("create node");
    let mut start = window_start();
    let t0 = Instant::now();
    match w {
        "W4" => {
            let mut rates = Vec::new();
            for create in [true, false] {
                let t = Instant::now();
                let mut fs = FuturesUnordered::new();
                let mut sent = 0;
                let mut done = 0;
                while done < count {
                    while sent < count && fs.len() < window {
                        let p = format!("{root}/c{sent}");
                        let (c, o) = (&client, &opts);
                        fs.push(async move {
                            if create { c.create(&p, b"", o).await.map(|_| ()) } else { c.delete(&p, None).await }
                        });
                        sent += 1;
                    }
                    fs.next().await.unwrap().expect("op");
                    done += 1;
                }
                rates.push(count as f64 / t.elapsed().as_secs_f64());
            }
            let el = t0.elapsed().as_secs_f64();
            println!("RESULT client=zookeeper-client workload=W4 ops={} secs={el:.3} ops_per_s={:.0} create_ops_per_s={:.0} delete_ops_per_s={:.0} {}",
                2 * count, 2.0 * count as f64 / el, rates[0], rates[1], measured(start));
        }
        "W1" => {
            let mut lat = Vec::with_capacity(count);
            for _ in 0..count {
                let t = Instant::now();
                client.get_data(&node).await.expect("get");
                lat.push(t.elapsed().as_nanos() as u64);
            }
            let el = t0.elapsed().as_secs_f64();
            lat.sort_unstable();
            println!("RESULT client=zookeeper-client workload=W1 ops={count} secs={el:.3} ops_per_s={:.0} p50_us={:.1} p99_us={:.1} {}",
                count as f64 / el, lat[count / 2] as f64 / 1e3, lat[count * 99 / 100] as f64 / 1e3, measured(start));
        }
        "W2" | "W3" => {
            let data = [b'y'; 100];
            let mut inflight = FuturesUnordered::new();
            let mut sent = 0;
            let mut done = 0;
            while done < count {
                while sent < count && inflight.len() < window {
                    if w == "W2" {
                        inflight.push(futures::future::Either::Left(async { client.get_data(&node).await.map(|_| ()) }));
                    } else {
                        inflight.push(futures::future::Either::Right(async { client.set_data(&node, &data, None).await.map(|_| ()) }));
                    }
                    sent += 1;
                }
                inflight.next().await.unwrap().expect("op");
                done += 1;
            }
            let el = t0.elapsed().as_secs_f64();
            println!("RESULT client=zookeeper-client workload={w} ops={count} secs={el:.3} ops_per_s={:.0} {}", count as f64 / el, measured(start));
        }
        "W5" => {
            let dir = format!("{root}/w");
            client.create(&dir, b"", &opts).await.expect("create dir");
            let mut fs = FuturesUnordered::new();
            for i in 0..count { let p = format!("{dir}/{i}"); let c = &client; let o = &opts; fs.push(async move { c.create(&p, b"", o).await.map(|_| ()) }); }
            while let Some(r) = fs.next().await { r.expect("create"); }
            let mut watchers = Vec::with_capacity(count);
            let mut fs = FuturesUnordered::new();
            for i in 0..count { let p = format!("{dir}/{i}"); let c = &client; fs.push(async move { c.get_and_watch_data(&p).await }); }
            while let Some(r) = fs.next().await { watchers.push(r.expect("watch").2); }
            start = window_start();
            let t = Instant::now();
            let mut fs = FuturesUnordered::new();
            for i in 0..count { let p = format!("{dir}/{i}"); let c = &client; fs.push(async move { c.set_data(&p, b"z", None).await.map(|_| ()) }); }
            while let Some(r) = fs.next().await { r.expect("set"); }
            let mut ws = FuturesUnordered::new();
            for w in watchers { ws.push(w.changed()); }
            let mut n = 0; while ws.next().await.is_some() { n += 1; }
            let el = t.elapsed().as_secs_f64();
            println!("RESULT client=zookeeper-client workload=W5 watches={n} secs_trigger_to_all_events={el:.3} {}", measured(start));
        }
        _ => panic!("unknown workload"),
    }
}
