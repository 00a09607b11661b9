//! The soak: 1,000 sessions on one kazoo-mio thread and 10 kazoo-std
//! clients doing watched reads, writes, ephemeral creates and lock cycles
//! against a real server, every connection cut at a fixed interval, while
//! the process's resident memory, threads, file descriptors and pending
//! requests are sampled (docs/testing.md, "Soak").
//!
//! ```sh
//! scripts/soak.sh 30           # 30 minutes, a cut every minute
//! cargo test --test soak       # the 2-minute smoke run CI does
//! ```
//!
//! The cuts go through a test-kit proxy run in a child process (this same
//! binary, `SOAK_PROXY_FOR=<server>`), so its threads and sockets are not
//! counted as the client's. The child exits when its stdin closes, so it
//! never outlives the run.

#![allow(clippy::disallowed_methods)] // a test owns its clock

#[path = "support/counting.rs"]
mod counting;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kazoo::session::{Config, SessionState};
use kazoo::{Client, Error};
use kazoo_mio::mio::{Events, Poll, Token};
use kazoo_mio::Sessions;
use kazoo_testing::{Proxy, ZkServer};

const SESSION: Duration = Duration::from_secs(10);
/// Every request must end (Ok or a typed error) within this.
const BOUND: Duration = Duration::from_secs(60);
/// How long each cut refuses new connections.
const OUTAGE: Duration = Duration::from_secs(2);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the workload did; every counter only grows.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    watch_events: AtomicU64,
    lock_cycles: AtomicU64,
    hung: Mutex<Vec<String>>,
}

impl Tally {
    fn count<T>(&self, what: &str, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(v) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                Some(v)
            }
            Err(Error::Timeout) => {
                self.hung.lock().unwrap().push(what.to_string());
                None
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// One sample of this process, taken just before a cut.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    /// Bytes the program holds on the heap (allocated, not freed), from
    /// the counting allocator: what RSS shows minus what the allocator
    /// keeps cached and the stacks and code it maps.
    heap_kib: i64,
    threads: usize,
    fds: usize,
    pending: usize,
    ok: u64,
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// This process's mappings (`/proc/self/smaps`): start address, the
/// mapping's line (range, permissions, path) and its resident KiB. The
/// run prints the ones that grew most since the baseline, so RSS growth
/// can be told apart: `[heap]` and anonymous read-write regions are the
/// allocator's, 2 MiB anonymous ones thread stacks, named files code.
fn mappings() -> Vec<(u64, String, u64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut out: Vec<(u64, String, u64)> = Vec::new();
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if let Some((start, _)) = first.split_once('-') {
            if let Ok(start) = u64::from_str_radix(start, 16) {
                out.push((start, line.to_string(), 0));
                continue;
            }
        }
        if first == "Rss:" {
            if let (Some(last), Some(kib)) = (out.last_mut(), words.next()) {
                last.2 = kib.parse().unwrap_or(0);
            }
        }
    }
    out
}

/// The mappings whose resident size changed most between two snapshots.
fn grown(before: &[(u64, String, u64)], after: &[(u64, String, u64)]) -> Vec<String> {
    let at_start: std::collections::HashMap<u64, u64> = before
        .iter()
        .map(|(start, _, kib)| (*start, *kib))
        .collect();
    let mut moved: Vec<(i64, String)> = after
        .iter()
        .map(|(start, line, kib)| {
            let was = at_start.get(start).copied().unwrap_or(0);
            (*kib as i64 - was as i64, line.clone())
        })
        .filter(|(delta, _)| *delta != 0)
        .collect();
    moved.sort_by_key(|(delta, _)| -delta.abs());
    moved
        .into_iter()
        .take(8)
        .map(|(delta, line)| format!("{delta:+} KiB  {line}"))
        .collect()
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The proxy, in a child process: commands on its stdin, answers on its stdout.
struct ProxyChild {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    addr: String,
}

impl ProxyChild {
    fn spawn(target: &str) -> ProxyChild {
        let exe = std::env::current_exe().expect("this test's own binary");
        let mut child = Command::new(exe)
            .env("SOAK_PROXY_FOR", target)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the proxy process");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut addr = String::new();
        stdout.read_line(&mut addr).expect("the proxy's address");
        ProxyChild {
            child,
            stdin,
            stdout,
            addr: addr.trim().to_string(),
        }
    }

    /// Closes every connection and refuses new ones for `outage`; returns
    /// how many connections were open.
    fn cut(&mut self, outage: Duration) -> usize {
        writeln!(self.stdin, "cut {}", outage.as_millis()).expect("the proxy is alive");
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .expect("the proxy answers");
        answer.trim().parse().expect("a connection count")
    }
}

impl Drop for ProxyChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child side: forwards to `target` until its stdin closes.
fn proxy_child(target: &str) {
    let proxy = Proxy::start(target.parse().expect("a socket address")).expect("a proxy");
    println!("{}", proxy.addr());
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { break };
        if let Some(ms) = line.strip_prefix("cut ").and_then(|m| m.parse().ok()) {
            let open = proxy.connections();
            proxy.refuse(true);
            proxy.sever();
            thread::sleep(Duration::from_millis(ms));
            proxy.refuse(false);
            println!("{open}");
        }
    }
}

/// The mio thread: adds `n` sessions, hands their clients out, drives them
/// until `stop`, then closes them all and checks that none is left.
fn mio_loop(hosts: String, n: usize, out: mpsc::Sender<Vec<Client>>, stop: Arc<AtomicBool>) {
    let mut poll = Poll::new().expect("a poll");
    let mut zk = Sessions::new(poll.registry(), Token(0)).expect("sessions");
    let clients: Vec<Client> = (1..=n)
        .map(|i| {
            let config = Config::builder(&hosts)
                .session_timeout(SESSION)
                .build()
                .expect("a config");
            zk.add(config, Token(i)).expect("a unique token")
        })
        .collect();
    out.send(clients.clone()).expect("the main thread waits");
    let mut events = Events::with_capacity(1024);
    let mut turn = |zk: &mut Sessions| {
        let wait = zk.poll_timeout().map_or(Duration::from_millis(100), |t| {
            t.min(Duration::from_millis(100))
        });
        poll.poll(&mut events, Some(wait)).expect("poll");
        for event in &events {
            zk.handle_event(event);
        }
        zk.handle_timeouts();
    };
    while !stop.load(Ordering::SeqCst) {
        turn(&mut zk);
    }
    for c in &clients {
        drop(c.close());
    }
    let deadline = Instant::now() + BOUND;
    while !zk.is_empty() && Instant::now() < deadline {
        turn(&mut zk);
    }
    assert!(
        zk.is_empty(),
        "{} sessions still open after close",
        zk.len()
    );
}

/// Rounds over every mio session: a watched read of its own node, then a
/// write that fires that watch; all pipelined, then every answer awaited.
fn mio_work(clients: Vec<Client>, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let mut round = 0u64;
    while !stop.load(Ordering::SeqCst) {
        round += 1;
        let reads: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let tally = tally.clone();
                c.get(format!("/m/{i}"))
                    .watch(move |_| {
                        tally.watch_events.fetch_add(1, Ordering::Relaxed);
                    })
                    .send()
            })
            .collect();
        let writes: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| c.set(format!("/m/{i}"), format!("round {round}")).send())
            .collect();
        for r in reads {
            tally.count("a mio read", r.wait_timeout(BOUND));
        }
        for w in writes {
            tally.count("a mio write", w.wait_timeout(BOUND));
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// One std client: lock cycles with a fenced write, an ephemeral
/// sequential create and delete, a children listing, and a write to the
/// node every client's DataWatch follows.
fn std_work(i: usize, client: Client, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let watch = {
        let tally = tally.clone();
        client
            .data_watch("/watched", move |_| {
                tally.watch_events.fetch_add(1, Ordering::Relaxed);
                true
            })
            .wait_timeout(BOUND)
    };
    let watch = tally.count(&format!("s{i} data watch"), watch);
    let lock = client.lock("/lock").id(format!("s{i}"));
    while !stop.load(Ordering::SeqCst) {
        let acquired = lock
            .acquire_timeout(Duration::from_secs(5))
            .wait_timeout(BOUND);
        if let Some(guard) = tally.count(&format!("s{i} acquire"), acquired) {
            let tx = guard
                .fence(client.transaction())
                .set("/register", format!("s{i} {}", guard.fencing_token()));
            tally.count(
                &format!("s{i} fenced write"),
                tx.commit().wait_timeout(BOUND),
            );
            if tally
                .count(
                    &format!("s{i} release"),
                    guard.release().wait_timeout(BOUND),
                )
                .is_some()
            {
                tally.lock_cycles.fetch_add(1, Ordering::Relaxed);
            }
        }
        let created = client
            .create(format!("/s/s{i}-"))
            .ephemeral()
            .sequential()
            .send()
            .wait_timeout(BOUND);
        if let Some(path) = tally.count(&format!("s{i} create"), created) {
            tally.count(
                &format!("s{i} delete"),
                client.delete(path).send().wait_timeout(BOUND),
            );
        }
        tally.count(
            &format!("s{i} list"),
            client.get_children("/s").send().wait_timeout(BOUND),
        );
        tally.count(
            &format!("s{i} write"),
            client
                .set("/watched", format!("s{i}"))
                .send()
                .wait_timeout(BOUND),
        );
        thread::sleep(Duration::from_millis(100));
    }
    if let Some(w) = watch {
        w.stop();
    }
}

fn main() {
    if let Ok(target) = std::env::var("SOAK_PROXY_FOR") {
        return proxy_child(&target);
    }
    let secs = env_u64("SOAK_SECS", 120);
    let sessions = env_u64("SOAK_SESSIONS", 1000) as usize;
    // A cut every minute in the long run; six cuts in a short one.
    let std_count = env_u64("SOAK_STD_CLIENTS", 10) as usize;
    // SOAK_CUTS=0 samples at the same times without cutting (to tell a
    // cost of reconnecting from a cost of working).
    let cutting = env_u64("SOAK_CUTS", 1) != 0;
    let cut_every = Duration::from_secs(env_u64("SOAK_CUT_SECS", (secs / 6).clamp(10, 60)));
    // The baseline: 5 minutes into 30, the same share of a shorter run.
    let baseline_at = Duration::from_secs(secs / 6);
    println!(
        "soak: {secs} s, {sessions} mio sessions on one thread + {std_count} std clients, a cut every {cut_every:?} (cutting: {cutting})"
    );
    let server = ZkServer::start().expect("a ZooKeeper server");
    let setup = kazoo_std::start(Config::new(&server.connect_string()).expect("a config"));
    setup
        .wait_connected()
        .wait_timeout(BOUND)
        .expect("connected");
    for p in ["/soak/m", "/soak/s", "/soak/lock"] {
        setup
            .create(p)
            .make_parents()
            .send()
            .wait()
            .expect("set-up");
    }
    for p in ["/soak/register", "/soak/watched"] {
        setup.create(p).send().wait().expect("set-up");
    }
    let made: Vec<_> = (0..sessions)
        .map(|i| setup.create(format!("/soak/m/{i}")).send())
        .collect();
    for m in made {
        m.wait().expect("set-up");
    }

    let mut proxy = ProxyChild::spawn(&server.addr().to_string());
    let hosts = format!("{}/soak", proxy.addr);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let start = Instant::now();

    let (tx, rx) = mpsc::channel();
    let mio_stop = Arc::new(AtomicBool::new(false));
    let mio_thread = {
        let (hosts, stop) = (hosts.clone(), mio_stop.clone());
        thread::spawn(move || mio_loop(hosts, sessions, tx, stop))
    };
    let mio_clients = rx.recv().expect("the mio sessions");
    let std_clients: Vec<Client> = (0..std_count)
        .map(|_| {
            kazoo_std::start(
                Config::builder(&hosts)
                    .session_timeout(SESSION)
                    .build()
                    .expect("a config"),
            )
        })
        .collect();
    let everyone: Vec<Client> = mio_clients.iter().chain(&std_clients).cloned().collect();
    for c in &everyone {
        c.wait_connected().wait_timeout(BOUND).expect("connected");
    }
    let ids: Vec<i64> = everyone.iter().map(Client::session_id).collect();
    println!(
        "soak: {} sessions connected in {:.1} s",
        everyone.len(),
        start.elapsed().as_secs_f64()
    );

    let mut workers = vec![{
        let (tally, stop) = (tally.clone(), stop.clone());
        thread::spawn(move || mio_work(mio_clients, tally, stop))
    }];
    for (i, c) in std_clients.iter().enumerate() {
        let (c, tally, stop) = (c.clone(), tally.clone(), stop.clone());
        workers.push(thread::spawn(move || std_work(i, c, tally, stop)));
    }

    let mut samples: Vec<Sample> = Vec::new();
    let mut maps_at_baseline = None;
    let end = Duration::from_secs(secs);
    let mut cuts = 0;
    while cut_every * (cuts + 1) <= end {
        thread::sleep((cut_every * (cuts + 1)).saturating_sub(start.elapsed()));
        let sample = Sample {
            at: start.elapsed(),
            rss_kib: rss_kib(),
            heap_kib: counting::live_bytes() / 1024,
            threads: kazoo_testing::thread_count(),
            fds: fd_count(),
            pending: everyone.iter().map(|c| c.stats().pending).sum(),
            ok: tally.ok.load(Ordering::Relaxed),
        };
        if maps_at_baseline.is_none() && sample.at + Duration::from_secs(1) >= baseline_at {
            maps_at_baseline = Some(mappings());
        }
        let open = if cutting { proxy.cut(OUTAGE) } else { 0 };
        cuts += 1;
        println!(
            "soak: {:>5.0} s  RSS {} KiB  heap {} KiB  threads {}  fds {}  pending {}  ok {}  failed {}  watch events {}  lock cycles {}  (cut {open} connections)",
            sample.at.as_secs_f64(),
            sample.rss_kib,
            sample.heap_kib,
            sample.threads,
            sample.fds,
            sample.pending,
            sample.ok,
            tally.failed.load(Ordering::Relaxed),
            tally.watch_events.load(Ordering::Relaxed),
            tally.lock_cycles.load(Ordering::Relaxed),
        );
        samples.push(sample);
    }
    if let Some(before) = &maps_at_baseline {
        println!("soak: resident memory that moved since the baseline, by mapping:");
        for line in grown(before, &mappings()) {
            println!("soak:   {line}");
        }
    }
    thread::sleep(end.saturating_sub(start.elapsed()));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("a worker");
    }
    // Background work (a watch's re-read, a release) may still be on its
    // way: give it a few seconds to end.
    let pending = || everyone.iter().map(|c| c.stats().pending).sum::<usize>();
    let settle = Instant::now() + Duration::from_secs(10);
    while pending() > 0 && Instant::now() < settle {
        thread::sleep(Duration::from_millis(50));
    }
    let pending_after = pending();
    let replaced = everyone
        .iter()
        .zip(&ids)
        .filter(|(c, id)| c.session_id() != **id)
        .count();
    // Every session comes back after the last cut.
    let live = || {
        everyone
            .iter()
            .filter(|c| matches!(c.state(), Some(SessionState::Connected { .. })))
            .count()
    };
    let settle = Instant::now() + Duration::from_secs(30);
    while live() < everyone.len() && Instant::now() < settle {
        thread::sleep(Duration::from_millis(50));
    }
    let live = live();
    for c in &std_clients {
        let _ = c.close().wait_timeout(BOUND);
    }
    mio_stop.store(true, Ordering::SeqCst);
    mio_thread.join().expect("the mio loop");

    let mut failures = check(&samples, baseline_at, secs >= 600, pending_after, &tally);
    if live < everyone.len() {
        failures.push(format!(
            "{} of {} sessions not connected 30 s after the last cut",
            everyone.len() - live,
            everyone.len()
        ));
    }
    println!(
        "soak summary: {} s, {cuts} cuts, {} requests ok, {} failed (cut off), {} watch events, {} lock cycles, {replaced} of {} sessions replaced, {live} connected at the end",
        start.elapsed().as_secs(),
        tally.ok.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
        tally.watch_events.load(Ordering::Relaxed),
        tally.lock_cycles.load(Ordering::Relaxed),
        everyone.len(),
    );
    if failures.is_empty() {
        println!("soak: every check held");
    } else {
        for f in &failures {
            eprintln!("soak: FAILED: {f}");
        }
        std::process::exit(1);
    }
}

/// The checks over the samples: memory (when `strict_rss`), threads and
/// file descriptors flat after the baseline, work done between every two
/// samples, nothing pending once the work stopped, nothing hung.
fn check(
    samples: &[Sample],
    baseline_at: Duration,
    strict_rss: bool,
    pending_after: usize,
    tally: &Tally,
) -> Vec<String> {
    let mut failures = Vec::new();
    let Some(base) = samples
        .iter()
        .find(|s| s.at + Duration::from_secs(1) >= baseline_at)
    else {
        return vec!["no sample after the baseline time".into()];
    };
    let Some(last) = samples.last() else {
        return vec!["no sample".into()];
    };
    let memory = [
        (
            "RSS",
            "resident memory",
            base.rss_kib as f64,
            last.rss_kib as f64,
        ),
        (
            "heap",
            "the heap",
            base.heap_kib as f64,
            last.heap_kib as f64,
        ),
    ];
    for (short, long, from, to) in memory {
        let growth = to / from.max(1.0) - 1.0;
        println!(
            "soak: {short} {from} KiB at {:.0} s, {to} KiB at {:.0} s ({:+.1} %)",
            base.at.as_secs_f64(),
            last.at.as_secs_f64(),
            growth * 100.0
        );
        if strict_rss && growth.abs() > 0.05 {
            failures.push(format!(
                "{long} moved {:+.1} % after the baseline",
                growth * 100.0
            ));
        }
    }
    for s in samples.iter().filter(|s| s.at > base.at) {
        if s.threads > base.threads + 2 {
            failures.push(format!(
                "{} threads at {:.0} s, {} at the baseline",
                s.threads,
                s.at.as_secs_f64(),
                base.threads
            ));
        }
        if s.fds > base.fds + 4 {
            failures.push(format!(
                "{} file descriptors at {:.0} s, {} at the baseline",
                s.fds,
                s.at.as_secs_f64(),
                base.fds
            ));
        }
    }
    for w in samples.windows(2) {
        if w[1].ok == w[0].ok {
            failures.push(format!(
                "no request succeeded between {:.0} s and {:.0} s",
                w[0].at.as_secs_f64(),
                w[1].at.as_secs_f64()
            ));
        }
    }
    if pending_after != 0 {
        failures.push(format!(
            "{pending_after} requests still pending after the work stopped"
        ));
    }
    failures.extend(
        tally
            .hung
            .lock()
            .unwrap()
            .iter()
            .map(|w| format!("{w} did not end within {BOUND:?}")),
    );
    failures
}
