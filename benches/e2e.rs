//! End-to-end workloads W1–W5 of BASELINES.md on any adapter, with the
//! same output lines as the peer programs in `bench/peers/`, so runs
//! compare side by side (`scripts/bench.sh` runs them all, interleaved).
//!
//! ```sh
//! cargo bench --bench e2e                    # starts a server, runs every workload on kazoo-std
//! cargo bench --bench e2e -- 127.0.0.1:2181 W2 [count] [window] [--adapter=std|tokio|mio]
//! ```
//!
//! W6–W8 are issue 18's new workloads, for kazoo-rs only: W6 open-loop
//! getData latency at 1k, 5k and 10k offered per second, measured from
//! each request's scheduled send time (no coordinated omission); W7
//! `count` sessions on one kazoo-mio thread, resident memory per session
//! and idle CPU per session-second; W8 `count` watches re-armed after a
//! dropped connection, time from the new session's `Connected` to the
//! answer of a request queued behind the replay.
//!
//! Prints `RESULT client=kazoo-rs-<adapter> workload=… ops_per_s=…`, then
//! the client's CPU seconds (user + system, from /proc/self/stat) and,
//! when `ZK_PID` names the server's process, the server's, both over the
//! workload's window only: no warm-up, set-up or clean-up inside it.

#![allow(clippy::disallowed_methods)]

mod common;
#[path = "../tests/support/counting.rs"]
mod counting;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
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
    for w in &workloads {
        let count = args
            .get(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(match w.as_str() {
                "W1" | "W4" | "W5" | "W7" | "W8" => 10_000,
                "W6" => 5,
                "W2" => 200_000,
                _ => 50_000,
            });
        let window = args.get(2).and_then(|c| c.parse().ok()).unwrap_or(1000);
        let line = match w.as_str() {
            "W1" | "W2" | "W3" | "W4" | "W5" => {
                let w = w.clone();
                drive(&adapter, &hosts, move |client| async move {
                    let (root, node) = set_up(&client).await;
                    let line = run_workload(&client, &w, &root, &node, count, window).await;
                    clean_up(client, &root).await;
                    line
                })
            }
            "W6" | "W8" => {
                // Threads wait here: kazoo-tokio's tasks run on a runtime
                // of their own (and kazoo-mio on its thread).
                let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
                let client = connect(&adapter, hosts.as_str(), &runtime).expect("connected");
                let (root, node) = common::block_on(set_up(&client));
                let line = if w == "W6" {
                    run_open_loop(&client, &node, count as u64)
                } else {
                    run_replay(&hosts, &adapter, &runtime, &root, count)
                };
                common::block_on(clean_up(client, &root));
                line
            }
            "W7" => run_many_sessions(&hosts, count, args.get(2).and_then(|s| s.parse().ok())),
            other => panic!("unknown workload {other}"),
        };
        println!("RESULT client=kazoo-rs-{adapter} workload={w} {line}");
    }
}

/// Runs `workload` with a client on `adapter`, driven the way a user of
/// that adapter drives it:
/// - std: the main thread waits (parks) for each answer, the adapter's
///   threads do the I/O;
/// - tokio: the workload is a task on a current-thread runtime, beside
///   the adapter's tasks (as zookeeper-client's program runs);
/// - mio: the workload is polled in the program's own mio loop, on the
///   one thread that also runs the session ([`kazoo_mio::Sessions`]).
fn drive<F>(adapter: &str, hosts: &str, workload: impl FnOnce(Client) -> F) -> String
where
    F: Future<Output = String>,
{
    match adapter {
        "std" => common::block_on(workload(kazoo_std::connect(hosts).expect("connected"))),
        "tokio" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(async {
                let client = kazoo_tokio::connect(hosts).await.expect("connected");
                workload(client).await
            }),
        "mio" => in_mio_loop(hosts, workload),
        other => panic!("unknown adapter {other} (std, tokio, mio)"),
    }
}

/// [`drive`] on kazoo-mio: one thread, one loop, no hand-off.
fn in_mio_loop<F>(hosts: &str, workload: impl FnOnce(Client) -> F) -> String
where
    F: Future<Output = String>,
{
    use kazoo_mio::mio::{Events, Poll as MioPoll, Token, Waker as MioWaker};
    /// Marks the workload for a poll. Answers arrive on the loop's thread,
    /// where a flag is enough; a wake from another thread also wakes the
    /// poll, as a program's own loop would.
    struct Flag {
        set: AtomicBool,
        home: std::thread::ThreadId,
        poll: Arc<MioWaker>,
    }
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.set.store(true, Ordering::Release);
            if std::thread::current().id() != self.home {
                let _ = self.poll.wake();
            }
        }
    }
    let mut poll = MioPoll::new().expect("a poll");
    let mut zk = kazoo_mio::Sessions::new(poll.registry(), Token(0)).expect("sessions");
    let config = kazoo::session::Config::new(hosts).expect("a config");
    let client = zk.add(config, Token(1)).expect("a session");
    let mut future = pin!(async move {
        client.wait_connected().await.expect("connected");
        workload(client).await
    });
    let flag = Arc::new(Flag {
        set: AtomicBool::new(true),
        home: std::thread::current().id(),
        // mio allows one waker per poll: the sessions' own.
        poll: zk.waker(),
    });
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut events = Events::with_capacity(1024);
    let mut done = None;
    // After the workload, the loop runs on until the closed session is
    // gone from `zk`.
    while done.is_none() || !zk.is_empty() {
        // Woken on this thread after the last poll (by the workload itself,
        // or by `handle_timeouts`): look again at once.
        let wait = if flag.set.load(Ordering::Acquire) {
            Some(Duration::ZERO)
        } else {
            zk.poll_timeout()
        };
        poll.poll(&mut events, wait).expect("poll");
        for event in &events {
            zk.handle_event(event);
        }
        // The turn's work, between the events and `handle_timeouts`: its
        // requests go out together.
        if done.is_none() && flag.set.swap(false, Ordering::Acquire) {
            if let Poll::Ready(line) = future.as_mut().poll(&mut cx) {
                done = Some(line);
            }
        }
        zk.handle_timeouts();
    }
    done.unwrap_or_default()
}

/// The run's root node and its 100-byte node.
async fn set_up(client: &Client) -> (String, String) {
    let root = format!("/bench-kazoo-rs-{}", std::process::id());
    client.create(&root).send().await.expect("root");
    let node = format!("{root}/n");
    client
        .create(&node)
        .data(vec![b'x'; 100])
        .send()
        .await
        .expect("node");
    (root, node)
}

async fn clean_up(client: Client, root: &str) {
    client
        .delete(root)
        .recursive()
        .send()
        .await
        .expect("cleanup");
    client.close().await.expect("close");
}

/// W1–W5, measured over the workload's window only.
async fn run_workload(
    client: &Client,
    w: &str,
    root: &str,
    node: &str,
    count: usize,
    window: usize,
) -> String {
    // Heap allocations in the whole process (caller, adapter threads or
    // tasks, core) per request, for W1–W3.
    let allocs = counting::allocations();
    let per_op = || {
        let n = counting::allocations() - allocs;
        format!("allocs_per_op={:.2}", n as f64 / count as f64)
    };
    match w {
        "W1" => format!("{} {}", run_sequential(client, node, count).await, per_op()),
        "W2" | "W3" => {
            let start = common::window_start();
            let line = common::run_pipelined(client, node, w, count, window).await;
            format!("{line} {} {}", common::measured(start), per_op())
        }
        "W4" => run_churn(client, root, count, window).await,
        _ => run_watches(client, root, count).await,
    }
}

async fn run_sequential(client: &Client, node: &str, count: usize) -> String {
    let mut lat = Vec::with_capacity(count);
    let start = common::window_start();
    let t0 = Instant::now();
    for _ in 0..count {
        let t = Instant::now();
        client.get(node).send().await.expect("get");
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
async fn pipelined<T>(count: usize, window: usize, mut send: impl FnMut(usize) -> Task<T>) -> f64 {
    let t = Instant::now();
    let mut inflight = std::collections::VecDeque::with_capacity(window);
    for i in 0..count {
        if inflight.len() == window {
            let oldest: Task<T> = inflight.pop_front().expect("one in flight");
            oldest.await.expect("churn");
        }
        inflight.push_back(send(i));
    }
    for task in inflight {
        task.await.expect("churn");
    }
    count as f64 / t.elapsed().as_secs_f64()
}

/// W4: `count` creates pipelined, then `count` deletes pipelined.
async fn run_churn(client: &Client, root: &str, count: usize, window: usize) -> String {
    let start = common::window_start();
    let t0 = Instant::now();
    let creates = pipelined(count, window, |i| {
        client.create(format!("{root}/c{i}")).send()
    })
    .await;
    let deletes = pipelined(count, window, |i| {
        client.delete(format!("{root}/c{i}")).send()
    })
    .await;
    let el = t0.elapsed().as_secs_f64();
    format!(
        "ops={} secs={el:.3} ops_per_s={:.0} create_ops_per_s={creates:.0} delete_ops_per_s={deletes:.0} {}",
        2 * count,
        2.0 * count as f64 / el,
        common::measured(start)
    )
}

/// `count` nodes under `dir`, each with a data watch; the watches.
async fn watched_nodes(
    client: &Client,
    dir: &str,
    count: usize,
) -> Vec<kazoo::client::WatchFuture> {
    client.create(dir).send().await.expect("dir");
    let creates: Vec<_> = (0..count)
        .map(|i| client.create(format!("{dir}/{i}")).send())
        .collect();
    for c in creates {
        c.await.expect("create");
    }
    let (reads, watches): (Vec<_>, Vec<_>) = (0..count)
        .map(|i| client.get(format!("{dir}/{i}")).send_watched())
        .unzip();
    for r in reads {
        r.await.expect("get");
    }
    watches
}

/// A client on `adapter`, with its own threads (or, for kazoo-tokio, on
/// `runtime`'s): for the workloads that wait from threads.
fn connect(
    adapter: &str,
    config: impl kazoo::session::IntoConfig,
    runtime: &tokio::runtime::Runtime,
) -> Result<Client, kazoo::Error> {
    match adapter {
        "std" => kazoo_std::connect(config),
        "mio" => kazoo_mio::connect(config),
        "tokio" => runtime.block_on(kazoo_tokio::connect(config)),
        other => panic!("unknown adapter {other} (std, tokio, mio)"),
    }
}

async fn run_watches(client: &Client, root: &str, count: usize) -> String {
    let dir = format!("{root}/w");
    let watches = watched_nodes(client, &dir, count).await;
    let start = common::window_start();
    let t = Instant::now();
    let sets: Vec<_> = (0..count)
        .map(|i| client.set(format!("{dir}/{i}"), "z").send())
        .collect();
    for s in sets {
        s.await.expect("set");
    }
    let mut n = 0;
    for w in watches {
        n += usize::from(w.await.is_some());
    }
    let el = t.elapsed().as_secs_f64();
    format!(
        "watches={n} secs_trigger_to_all_events={el:.3} {}",
        common::measured(start)
    )
}

/// W6: getData offered at a fixed rate for `secs` seconds per rate, each
/// latency taken from the request's scheduled send time, so a stall
/// counts against every request it delays (no coordinated omission).
fn run_open_loop(client: &Client, node: &str, secs: u64) -> String {
    let mut fields = Vec::new();
    let start = common::window_start();
    for rate in [1_000u64, 5_000, 10_000] {
        let count = (rate * secs) as usize;
        let (tx, rx) = std::sync::mpsc::channel::<(Instant, kazoo::client::Pending<_>)>();
        // Answers come in order: waiting for each in turn, on a thread of
        // its own, sees each one as soon as it is there.
        let collector = std::thread::spawn(move || {
            let mut lat: Vec<u64> = rx
                .iter()
                .map(|(scheduled, reply): (Instant, kazoo::client::Pending<_>)| {
                    reply.wait().expect("get");
                    scheduled.elapsed().as_nanos() as u64
                })
                .collect();
            lat.sort_unstable();
            lat
        });
        let t0 = Instant::now() + Duration::from_millis(10);
        for i in 0..count {
            let scheduled = t0 + Duration::from_nanos(i as u64 * 1_000_000_000 / rate);
            loop {
                let now = Instant::now();
                if now >= scheduled {
                    break;
                }
                let left = scheduled - now;
                if left > Duration::from_micros(200) {
                    std::thread::sleep(left - Duration::from_micros(100));
                } else {
                    std::hint::spin_loop();
                }
            }
            tx.send((scheduled, client.get(node).send()))
                .expect("collector");
        }
        drop(tx);
        let lat = collector.join().expect("collector");
        assert!(!lat.is_empty(), "W6 needs at least one second per rate");
        let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)] as f64 / 1e3;
        let k = rate / 1000;
        fields.push(format!(
            "rate_{k}k_p50_us={:.1} rate_{k}k_p99_us={:.1} rate_{k}k_p999_us={:.1}",
            at(0.5),
            at(0.99),
            at(0.999)
        ));
    }
    let ops = 16_000 * secs;
    // The sender's pacing loop spins: the client's CPU is not reported.
    format!(
        "ops={ops} {} {}",
        fields.join(" "),
        common::measured_server_only(start)
    )
}

/// W7: `count` sessions on one kazoo-mio thread (session timeout 10 s):
/// resident memory each, and CPU per session-second while idle `idle`
/// seconds (30 by default), then one getData each.
fn run_many_sessions(hosts: &str, count: usize, idle: Option<u64>) -> String {
    use kazoo_mio::mio::{Events, Poll, Token};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc};
    let idle = Duration::from_secs(idle.unwrap_or(30));
    let before = common::rss_kb();
    let heap_before = counting::live_bytes();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let (h, s) = (hosts.to_owned(), stop.clone());
    let looper = std::thread::spawn(move || {
        let mut poll = Poll::new().expect("a poll");
        let mut zk = kazoo_mio::Sessions::new(poll.registry(), Token(0)).expect("sessions");
        let clients: Vec<Client> = (1..=count)
            .map(|i| {
                let config = kazoo::session::Config::builder(&h)
                    .session_timeout(Duration::from_secs(10))
                    .build()
                    .expect("a config");
                zk.add(config, Token(i)).expect("a session")
            })
            .collect();
        tx.send(clients.clone()).expect("main waits");
        let mut events = Events::with_capacity(1024);
        let mut closing = false;
        while !closing || !zk.is_empty() {
            let wait = zk.poll_timeout().unwrap_or(Duration::from_millis(100));
            poll.poll(&mut events, Some(wait.min(Duration::from_millis(100))))
                .expect("poll");
            for event in &events {
                zk.handle_event(event);
            }
            zk.handle_timeouts();
            if !closing && s.load(Ordering::SeqCst) {
                closing = true;
                clients.iter().for_each(|c| drop(c.close()));
            }
        }
    });
    let clients = rx.recv().expect("the sessions");
    let deadline = Instant::now() + Duration::from_secs(120);
    while clients.iter().any(|c| !c.is_connected()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let connected = clients.iter().filter(|c| c.is_connected()).count();
    let after = common::rss_kb();
    let heap = counting::live_bytes() - heap_before;
    let cpu0 = common::cpu_seconds();
    std::thread::sleep(idle);
    let idle_cpu = common::cpu_seconds() - cpu0;
    let reads: Vec<_> = clients.iter().map(|c| c.exists("/").send()).collect();
    let failed = reads
        .into_iter()
        .map(|r| r.wait_timeout(Duration::from_secs(30)))
        .filter(Result::is_err)
        .count();
    stop.store(true, Ordering::SeqCst);
    drop(clients);
    looper.join().expect("the mio thread");
    // A figure over sessions that did not all work is not reported.
    assert_eq!(
        (connected, failed),
        (count, 0),
        "W7: sessions connected, reads failed"
    );
    format!(
        "sessions={count} connected={connected} failed_reads={failed} rss_per_session_kb={:.2} heap_per_session_b={} idle_cpu_us_per_session_s={:.2} idle_secs={} rss_kb={}",
        after.saturating_sub(before) as f64 / count as f64,
        heap / count as i64,
        idle_cpu / (count as f64 * idle.as_secs_f64()) * 1e6,
        idle.as_secs(),
        common::peak_rss_kb()
    )
}

/// W8: `count` data watches on a client behind a proxy; the proxy cuts
/// the connection; time from `Connected` (same session) to the answer of
/// a request queued at that moment, which the server answers after every
/// SetWatches batch of the replay.
fn run_replay(
    hosts: &str,
    adapter: &str,
    runtime: &tokio::runtime::Runtime,
    root: &str,
    count: usize,
) -> String {
    let server: std::net::SocketAddr = hosts
        .split(',')
        .next()
        .and_then(|h| std::net::ToSocketAddrs::to_socket_addrs(h).ok()?.next())
        .expect("a server address");
    let proxy = kazoo_testing::Proxy::start(server).expect("a proxy");
    let config = kazoo::session::Config::builder(&proxy.addr().to_string())
        .session_timeout(Duration::from_secs(10))
        .reconnect_delay(Duration::ZERO)
        .build()
        .expect("a config");
    let client = connect(adapter, config, runtime).expect("connected through the proxy");
    let watches = common::block_on(watched_nodes(&client, &format!("{root}/r"), count));
    // Told by a listener (not by polling the client, which would take the
    // lock the replay needs) when the same session is back.
    let (tx, rx) = std::sync::mpsc::channel();
    let listener = std::sync::Mutex::new(tx);
    client.add_listener(move |state| {
        if let kazoo::session::SessionState::Connected {
            new_session: false, ..
        } = state
        {
            let _ = listener.lock().map(|tx| tx.send(Instant::now()));
        }
    });
    let start = common::window_start();
    proxy.sever();
    let back = rx.recv_timeout(Duration::from_secs(60)).expect("resumed");
    client.exists("/").send().wait().expect("after the replay");
    let el = back.elapsed().as_secs_f64();
    let replay = client.stats().last_replay;
    assert_eq!(replay.watches, count, "every watch replayed");
    let measured = common::measured_server_only(start);
    drop(watches);
    client
        .close()
        .wait_timeout(Duration::from_secs(10))
        .expect("close");
    format!(
        "watches={} batches={} secs_connected_to_replayed={el:.4} {measured}",
        replay.watches, replay.batches
    )
}
