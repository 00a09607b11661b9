//! Baseline: a minimal hand-written client on one blocking std socket; marks what the server and loopback
//! can do when the client costs almost nothing. Usage: raw-bench HOST:PORT W1|W2|W3|W4 [count] [window]
//! Each RESULT line ends with the client's and (given ZK_PID) the server's CPU seconds over the
//! workload's window only.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

fn frame(buf: &mut Vec<u8>, body: &[u8]) {
    buf.extend_from_slice(&(body.len() as i32).to_be_bytes());
    buf.extend_from_slice(body);
}
fn string(b: &mut Vec<u8>, s: &[u8]) {
    b.extend_from_slice(&(s.len() as i32).to_be_bytes());
    b.extend_from_slice(s);
}
fn request(buf: &mut Vec<u8>, xid: i32, op: i32, path: &str, data: Option<&[u8]>) {
    let mut b = Vec::with_capacity(64 + data.map_or(0, |d| d.len()));
    b.extend_from_slice(&xid.to_be_bytes());
    b.extend_from_slice(&op.to_be_bytes());
    string(&mut b, path.as_bytes());
    match data {
        Some(d) => { string(&mut b, d); b.extend_from_slice(&(-1i32).to_be_bytes()); } // setData: data, version
        None => b.push(0), // getData/create: watch=false
    }
    frame(buf, &b);
}
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
/// The CPU of this process and of the server (ZK_PID) since `start`.
fn measured(start: (f64, f64)) -> String {
    let server = std::env::var("ZK_PID").map(|p| cpu_s(&p)).unwrap_or(0.0);
    format!("client_cpu_s={:.3} server_cpu_s={:.3} rss_kb={}", cpu_s("self") - start.0, server - start.1, peak_rss_kb())
}
/// Peak resident memory of this process, in KiB (VmHWM).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}
fn window_start() -> (f64, f64) {
    (cpu_s("self"), std::env::var("ZK_PID").map(|p| cpu_s(&p)).unwrap_or(0.0))
}
/// create (op 1) of an empty persistent node open to anyone, or delete (op 2) at any version.
fn create_or_delete(buf: &mut Vec<u8>, xid: i32, create: bool, path: &str) {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&xid.to_be_bytes());
    b.extend_from_slice(&(if create { 1i32 } else { 2 }).to_be_bytes());
    string(&mut b, path.as_bytes());
    if create {
        string(&mut b, b"");
        b.extend_from_slice(&1i32.to_be_bytes()); b.extend_from_slice(&31i32.to_be_bytes());
        string(&mut b, b"world"); string(&mut b, b"anyone"); b.extend_from_slice(&0i32.to_be_bytes());
    } else {
        b.extend_from_slice(&(-1i32).to_be_bytes());
    }
    frame(buf, &b);
}
struct Conn { s: TcpStream, rbuf: Vec<u8>, start: usize, end: usize }
impl Conn {
    /// Reads until at least one whole frame is buffered; returns the (xid, err) of every whole frame.
    fn replies(&mut self, out: &mut Vec<(i32, i32)>) {
        loop {
            while self.end - self.start >= 4 {
                let n = i32::from_be_bytes(self.rbuf[self.start..self.start + 4].try_into().unwrap()) as usize;
                if self.end - self.start < 4 + n { break; }
                let f = &self.rbuf[self.start + 4..self.start + 4 + n];
                let xid = i32::from_be_bytes(f[0..4].try_into().unwrap());
                let err = if n >= 16 { i32::from_be_bytes(f[12..16].try_into().unwrap()) } else { 0 };
                out.push((xid, err));
                self.start += 4 + n;
            }
            if !out.is_empty() { return; }
            if self.start > 0 { self.rbuf.copy_within(self.start..self.end, 0); self.end -= self.start; self.start = 0; }
            if self.end == self.rbuf.len() { self.rbuf.resize(self.rbuf.len() * 2, 0); }
            let r = self.s.read(&mut self.rbuf[self.end..]).expect("read");
            assert!(r > 0, "server closed");
            self.end += r;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (hosts, w) = (&args[1], args[2].as_str());
    let count: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(match w { "W1" | "W4" => 10_000, "W2" => 200_000, _ => 50_000 });
    let window: usize = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(1000);
    let s = TcpStream::connect(hosts.as_str()).expect("connect");
    s.set_nodelay(true).unwrap();
    let mut c = Conn { s, rbuf: vec![0; 1 << 20], start: 0, end: 0 };
    // ConnectRequest: protocolVersion, lastZxid, timeout, sessionId, passwd(16), readOnly
    let mut b = Vec::new();
    b.extend_from_slice(&0i32.to_be_bytes()); b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&10000i32.to_be_bytes()); b.extend_from_slice(&0i64.to_be_bytes());
    string(&mut b, &[0u8; 16]); b.push(0);
    let mut out = Vec::new(); frame(&mut out, &b); c.s.write_all(&out).unwrap();
    // the ConnectResponse has no reply header; read its frame raw
    let mut len = [0u8; 4]; c.s.read_exact(&mut len).unwrap();
    let mut resp = vec![0u8; i32::from_be_bytes(len) as usize]; c.s.read_exact(&mut resp).unwrap();
    let root = format!("/bench-raw-{}", std::process::id());
    let node = format!("{root}/n");
    let mut xid: i32 = 1;
    let mut got = Vec::new();
    for p in [&root, &node] {
        // create: path, data, acl vector (world:anyone ALL), flags
        let mut b = Vec::new();
        b.extend_from_slice(&xid.to_be_bytes()); b.extend_from_slice(&1i32.to_be_bytes());
        string(&mut b, p.as_bytes()); string(&mut b, &[b'x'; 100]);
        b.extend_from_slice(&1i32.to_be_bytes()); b.extend_from_slice(&31i32.to_be_bytes());
        string(&mut b, b"world"); string(&mut b, b"anyone"); b.extend_from_slice(&0i32.to_be_bytes());
        out.clear(); frame(&mut out, &b); c.s.write_all(&out).unwrap();
        got.clear(); c.replies(&mut got); assert_eq!(got[0].1, 0, "create failed"); xid += 1;
    }
    let data = [b'y'; 100];
    let start = window_start();
    let t0 = Instant::now();
    if w == "W4" {
        // churn: `count` creates pipelined, then `count` deletes pipelined
        let mut phase = |create: bool, xid: &mut i32| {
            let t = Instant::now();
            let (mut sent, mut done) = (0usize, 0usize);
            while done < count {
                out.clear();
                while sent < count && sent - done < window {
                    create_or_delete(&mut out, *xid, create, &format!("{root}/c{sent}"));
                    *xid += 1; sent += 1;
                }
                if !out.is_empty() { c.s.write_all(&out).unwrap(); }
                got.clear(); c.replies(&mut got);
                for &(_, e) in &got { assert_eq!(e, 0); }
                done += got.len();
            }
            count as f64 / t.elapsed().as_secs_f64()
        };
        let creates = phase(true, &mut xid);
        let deletes = phase(false, &mut xid);
        let el = t0.elapsed().as_secs_f64();
        println!("RESULT client=raw-socket workload=W4 ops={} secs={el:.3} ops_per_s={:.0} create_ops_per_s={creates:.0} delete_ops_per_s={deletes:.0} {}",
            2 * count, 2.0 * count as f64 / el, measured(start));
    } else if w == "W1" {
        let mut lat = Vec::with_capacity(count);
        for _ in 0..count {
            let t = Instant::now();
            out.clear(); request(&mut out, xid, 4, &node, None); xid += 1; c.s.write_all(&out).unwrap();
            got.clear(); c.replies(&mut got); assert_eq!(got.len(), 1); assert_eq!(got[0].1, 0);
            lat.push(t.elapsed().as_nanos() as u64);
        }
        let el = t0.elapsed().as_secs_f64(); lat.sort_unstable();
        println!("RESULT client=raw-socket workload=W1 ops={count} secs={el:.3} ops_per_s={:.0} p50_us={:.1} p99_us={:.1} {}",
            count as f64 / el, lat[count / 2] as f64 / 1e3, lat[count * 99 / 100] as f64 / 1e3, measured(start));
    } else {
        let (mut sent, mut done) = (0usize, 0usize);
        while done < count {
            out.clear();
            while sent < count && sent - done < window {
                if w == "W2" { request(&mut out, xid, 4, &node, None) } else { request(&mut out, xid, 5, &node, Some(&data)) }
                xid += 1; sent += 1;
            }
            if !out.is_empty() { c.s.write_all(&out).unwrap(); }
            got.clear(); c.replies(&mut got);
            for &(_, e) in &got { assert_eq!(e, 0); }
            done += got.len();
        }
        let el = t0.elapsed().as_secs_f64();
        println!("RESULT client=raw-socket workload={w} ops={count} secs={el:.3} ops_per_s={:.0} {}", count as f64 / el, measured(start));
    }
}
