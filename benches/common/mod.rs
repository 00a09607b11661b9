//! What the end-to-end benchmarks share: the server, the arguments, the
//! process's CPU time.

#![allow(dead_code)] // each benchmark uses its part

use kazoo_testing::ZkServer;

/// The benchmark's arguments after the server's `host:port` (the first
/// argument), and that server: a real one started here when none is
/// given, kept running while the returned handle lives.
pub fn server_and_args() -> (Option<ZkServer>, String, Vec<String>) {
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.is_empty() {
        let s = ZkServer::start().expect("a ZooKeeper server");
        let h = s.connect_string();
        return (Some(s), h, args);
    }
    let hosts = args.remove(0);
    (None, hosts, args)
}

/// This process's CPU time (user + system), in seconds.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th overall.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
