//! The chaos run: a real 3-node ensemble, 8 clients over the three
//! adapters taking one Lock and writing a register through fenced
//! transactions, plain sequential creates beside them, and a nemesis that
//! kills the leader, kills a client's member, freezes a member past the
//! session timeout, cuts clients off through the test kit's proxies and
//! expires sessions for real. A checker then reads every client's history
//! and the final tree (docs/testing.md, "Chaos run").
//!
//! ```sh
//! scripts/chaos.sh 30          # 30 minutes (CHAOS_SECS=1800)
//! cargo test --test chaos      # the 60-second smoke run CI does
//! ```

#![allow(clippy::disallowed_methods)] // a test owns its clock

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kazoo::proto::MultiResult;
use kazoo::recipe::Status;
use kazoo::session::{Config, SessionState};
use kazoo::{Client, Error};
use kazoo_testing::{expire_session, Proxy, ZkEnsemble};

/// The session timeout every client asks for.
const SESSION: Duration = Duration::from_secs(6);
/// Every request and acquire must end (Ok or a typed error) within this.
const BOUND: Duration = Duration::from_secs(60);
const CLIENTS: usize = 8;
const LOCK: &str = "/lock";
const REGISTER: &str = "/register";

/// A tiny deterministic generator (xorshift), seeded from the clock and
/// printed, so a run's nemesis schedule can be read back.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

/// One lock cycle as its client saw it (times since the run began).
#[derive(Debug, Clone)]
struct Hold {
    client: usize,
    /// When `acquire` returned the guard.
    acquired: Duration,
    token: i64,
    /// When the holder stopped believing it held the lock: its release,
    /// or the first Suspended/Lost after `acquired`, whichever came first.
    believed_until: Duration,
    /// The fenced write: the register's version it produced, if accepted.
    write: Result<i32, String>,
}

#[derive(Default)]
struct History {
    holds: Vec<Hold>,
    /// Every state change, with its time.
    states: Vec<(Duration, SessionState)>,
    acked_creates: Vec<String>,
    unacked_creates: u64,
    /// Requests that did not end within BOUND.
    hung: Vec<String>,
    lock_lost_signals: u64,
}

struct Run {
    start: Instant,
    stop: AtomicBool,
    acquisitions: AtomicU64,
    target: u64,
}

impl Run {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
    fn done(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A client behind its own proxies, one per member.
struct Member {
    client: Client,
    proxies: Vec<Proxy>,
    history: Arc<Mutex<History>>,
}

fn start_client(i: usize, proxies: &[Proxy], runtime: &tokio::runtime::Handle) -> Client {
    let hosts: Vec<String> = proxies.iter().map(|p| p.addr().to_string()).collect();
    let config = Config::builder(&format!("{}/chaos", hosts.join(",")))
        .session_timeout(SESSION)
        .build()
        .unwrap();
    match i % 3 {
        0 => kazoo_std::start(config),
        1 => kazoo_mio::start(config),
        _ => kazoo_tokio::start(runtime, config),
    }
}

/// The time the holder was first told (Suspended or Lost) after `from`.
fn told_after(states: &[(Duration, SessionState)], from: Duration) -> Option<Duration> {
    states
        .iter()
        .find(|(t, s)| {
            *t >= from
                && matches!(
                    s,
                    SessionState::Suspended { .. } | SessionState::Lost { .. }
                )
        })
        .map(|(t, _)| *t)
}

fn lock_loop(i: usize, client: Client, history: Arc<Mutex<History>>, run: Arc<Run>) {
    let lock = client.lock(LOCK).id(format!("c{i}"));
    let mut op = 0u64;
    while !run.done() {
        op += 1;
        match lock
            .acquire_timeout(Duration::from_secs(10))
            .wait_timeout(BOUND)
        {
            Ok(guard) => {
                let acquired = run.now();
                run.acquisitions.fetch_add(1, Ordering::SeqCst);
                let token = guard.fencing_token();
                let mut tx = guard.fence(client.transaction());
                tx.set(REGISTER, format!("{token} c{i} op{op}"), -1);
                let write = match tx.commit().wait_timeout(BOUND) {
                    Ok(results) => match results.last() {
                        Some(MultiResult::SetData(stat)) => Ok(stat.version),
                        other => Err(format!("unexpected result {other:?}")),
                    },
                    Err(Error::Timeout) => {
                        history
                            .lock()
                            .unwrap()
                            .hung
                            .push(format!("c{i} fenced write"));
                        Err("hung".into())
                    }
                    Err(e) => Err(e.to_string()),
                };
                let status = guard.status();
                let released_at = run.now();
                match guard.release().wait_timeout(BOUND) {
                    Err(Error::Timeout) => {
                        history.lock().unwrap().hung.push(format!("c{i} release"))
                    }
                    Err(Error::Recipe(_)) => history.lock().unwrap().lock_lost_signals += 1,
                    _ => {}
                }
                if status != Status::Held {
                    history.lock().unwrap().lock_lost_signals += 1;
                }
                let mut h = history.lock().unwrap();
                let believed_until =
                    told_after(&h.states, acquired).map_or(released_at, |t| t.min(released_at));
                h.holds.push(Hold {
                    client: i,
                    acquired,
                    token,
                    believed_until,
                    write,
                });
            }
            Err(Error::Timeout) => history.lock().unwrap().hung.push(format!("c{i} acquire")),
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn create_loop(i: usize, client: Client, history: Arc<Mutex<History>>, run: Arc<Run>) {
    while !run.done() {
        let batch: Vec<_> = (0..5)
            .map(|_| client.create(format!("/seq/c{i}-")).sequential().send())
            .collect();
        for created in batch {
            match created.wait_timeout(BOUND) {
                Ok(path) => history.lock().unwrap().acked_creates.push(path),
                Err(Error::Timeout) => history.lock().unwrap().hung.push(format!("c{i} create")),
                Err(_) => history.lock().unwrap().unacked_creates += 1,
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[derive(Default, Debug)]
struct Faults {
    by_kind: BTreeMap<&'static str, u64>,
    leader_kills: Vec<Duration>,
}

fn nemesis(zk: &mut ZkEnsemble, members: &[Member], run: &Run, rng: &mut Rng, faults: &mut Faults) {
    let proxy_member = |c: &Member| -> Option<usize> {
        let host = c.client.current_host()?;
        c.proxies
            .iter()
            .position(|p| p.addr().to_string() == host.to_string())
    };
    while !run.done() {
        thread::sleep(rng.millis(2000, 8000));
        if run.done() {
            break;
        }
        let kind = match rng.below(100) {
            0..=24 => "kill leader",
            25..=44 => "kill a client's member",
            45..=59 => "freeze a member",
            60..=94 => "cut a client off",
            _ => "expire a session",
        };
        let ok = match kind {
            "kill leader" => zk.wait_for_leader(Duration::from_secs(30)).ok().map(|l| {
                faults.leader_kills.push(run.now());
                let _ = zk.kill(l);
                thread::sleep(rng.millis(500, 3000));
                let _ = zk.start_member(l);
            }),
            "kill a client's member" => {
                let c = &members[rng.below(members.len() as u64) as usize];
                proxy_member(c).map(|m| {
                    let _ = zk.kill(m);
                    thread::sleep(rng.millis(500, 3000));
                    let _ = zk.start_member(m);
                })
            }
            "freeze a member" => {
                let m = rng.below(zk.len() as u64) as usize;
                let _ = zk.pause(m);
                thread::sleep(SESSION + rng.millis(1000, 3000));
                let _ = zk.resume(m);
                Some(())
            }
            "cut a client off" => {
                let c = &members[rng.below(members.len() as u64) as usize];
                let span = SESSION.mul_f64(0.5 + rng.below(250) as f64 / 100.0);
                for p in &c.proxies {
                    p.refuse(true);
                    p.sever();
                }
                thread::sleep(span);
                for p in &c.proxies {
                    p.refuse(false);
                }
                Some(())
            }
            _ => {
                let c = &members[rng.below(members.len() as u64) as usize];
                let m = (0..zk.len()).find(|&m| zk.is_running(m)).unwrap_or(0);
                expire_session(zk.addr(m), &c.client).ok()
            }
        };
        if ok.is_some() {
            *faults.by_kind.entry(kind).or_default() += 1;
        }
    }
}

/// Every check over the histories and the final tree (`present`: the
/// names under `/seq`); the failures, and a summary.
fn check(
    histories: &[History],
    present: &std::collections::BTreeSet<String>,
    faults: &Faults,
) -> (Vec<String>, String) {
    let mut failures = Vec::new();
    let mut holds: Vec<&Hold> = histories.iter().flat_map(|h| &h.holds).collect();
    holds.sort_by_key(|h| h.acquired);
    // 1. No two clients believing they held the lock at once.
    for (k, b) in holds.iter().enumerate() {
        // A belief lasts at most a write and a release: look back that far.
        let horizon = b.acquired.saturating_sub(BOUND * 3);
        let earlier = holds[..k]
            .iter()
            .rev()
            .take_while(|a| a.acquired >= horizon);
        for a in earlier.filter(|a| a.client != b.client && b.acquired < a.believed_until) {
            failures.push(format!(
                "c{} (token {:#x}) still believed it held the lock at {:?} when c{} (token {:#x}) acquired it at {:?}",
                a.client, a.token, a.believed_until, b.client, b.token, b.acquired
            ));
        }
    }
    // 2. Accepted fenced writes, in the register's order, carry strictly
    //    increasing tokens.
    let mut writes: Vec<(i32, i64)> = holds
        .iter()
        .filter_map(|h| h.write.as_ref().ok().map(|v| (*v, h.token)))
        .collect();
    writes.sort();
    for w in writes.windows(2) {
        if w[1].1 <= w[0].1 {
            failures.push(format!(
                "register version {} holds token {:#x} after version {} with {:#x}",
                w[1].0, w[1].1, w[0].0, w[0].1
            ));
        }
    }
    // 3. Every acknowledged create exists.
    let mut acked = 0;
    for h in histories {
        for path in &h.acked_creates {
            acked += 1;
            if !present.contains(kazoo::path::basename(path)) {
                failures.push(format!("acknowledged {path} is missing"));
            }
        }
    }
    // 4. Every request ended within the bound.
    for h in histories {
        failures.extend(
            h.hung
                .iter()
                .map(|w| format!("{w} did not end within {BOUND:?}")),
        );
    }
    // 5. No resume of a session after it was reported lost.
    for (i, h) in histories.iter().enumerate() {
        let mut lost = std::collections::BTreeSet::new();
        for (_, s) in &h.states {
            match s {
                SessionState::Lost { session_id, .. } => {
                    lost.insert(*session_id);
                }
                SessionState::Connected {
                    session_id,
                    new_session: false,
                } if lost.contains(session_id) => {
                    failures.push(format!("c{i}: session {session_id:#x} resumed after Lost"))
                }
                _ => {}
            }
        }
    }
    // The longest time from a leader kill to the next acquisition.
    let longest = faults
        .leader_kills
        .iter()
        .filter_map(|k| {
            holds
                .iter()
                .find(|h| h.acquired > *k)
                .map(|h| h.acquired - *k)
        })
        .max()
        .unwrap_or_default();
    let summary = format!(
        "{} acquisitions, {} fenced writes accepted, {} lock-lost signals, {} creates acknowledged ({} not), faults {:?}, longest leader kill to next acquisition {:.1} s",
        holds.len(),
        writes.len(),
        histories.iter().map(|h| h.lock_lost_signals).sum::<u64>(),
        acked,
        histories.iter().map(|h| h.unacked_creates).sum::<u64>(),
        faults.by_kind,
        longest.as_secs_f64()
    );
    (failures, summary)
}

/// The checker fails on each kind of violation it looks for (so a green
/// run means something): checked before every run.
fn checker_rejects_what_it_should() {
    let s = Duration::from_secs;
    let hold = |client, acquired, token, until, version| Hold {
        client,
        acquired: s(acquired),
        token,
        believed_until: s(until),
        write: Ok(version),
    };
    let run = |holds: Vec<Hold>, states, acked: &[&str], hung: &[&str]| {
        let history = History {
            holds,
            states,
            acked_creates: acked.iter().map(|p| format!("/seq/{p}")).collect(),
            hung: hung.iter().map(|h| h.to_string()).collect(),
            ..History::default()
        };
        let present = ["a".to_string()].into_iter().collect();
        check(&[history], &present, &Faults::default()).0.len()
    };
    let good = vec![hold(0, 1, 10, 2, 1), hold(1, 3, 11, 4, 2)];
    assert_eq!(run(good, vec![], &["a"], &[]), 0);
    let overlap = vec![hold(0, 1, 10, 5, 1), hold(1, 3, 11, 6, 2)];
    assert_eq!(run(overlap, vec![], &[], &[]), 1, "two believed holders");
    let backwards = vec![hold(0, 1, 11, 2, 1), hold(1, 3, 10, 4, 2)];
    assert_eq!(run(backwards, vec![], &[], &[]), 1, "register went back");
    assert_eq!(run(vec![], vec![], &["a", "b"], &[]), 1, "a create missing");
    assert_eq!(
        run(vec![], vec![], &[], &["c0 acquire"]),
        1,
        "a hung request"
    );
    let lost = SessionState::Lost {
        session_id: 7,
        reason: kazoo::session::LostReason::Expired,
    };
    let resumed = SessionState::Connected {
        session_id: 7,
        new_session: false,
    };
    let states = vec![(s(1), lost), (s(2), resumed)];
    assert_eq!(run(vec![], states, &[], &[]), 1, "resumed after Lost");
}

fn main() {
    checker_rejects_what_it_should();
    let secs: u64 = std::env::var("CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // At least this many acquisitions (the lock must stay live).
    let target: u64 = std::env::var("CHAOS_ACQUISITIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if secs >= 1800 { 10_000 } else { secs * 3 });
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    println!("chaos: {secs} s, at least {target} acquisitions, CHAOS_SEED={seed}");
    let mut zk = ZkEnsemble::start(3).expect("a 3-node ensemble");
    let setup = kazoo_std::start(Config::new(&zk.connect_string()).unwrap());
    setup.connected().wait_timeout(BOUND).expect("connected");
    for p in ["/chaos/lock", "/chaos/register", "/chaos/seq"] {
        setup.create(p).make_parents().send().wait().unwrap();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let run = Arc::new(Run {
        start: Instant::now(),
        stop: AtomicBool::new(false),
        acquisitions: AtomicU64::new(0),
        target,
    });
    {
        let run = run.clone();
        let _ = ctrlc::set_handler(move || run.stop.store(true, Ordering::SeqCst));
    }
    let members: Vec<Member> = (0..CLIENTS)
        .map(|i| {
            let proxies: Vec<Proxy> = (0..zk.len())
                .map(|m| Proxy::start(zk.addr(m)).unwrap())
                .collect();
            let client = start_client(i, &proxies, runtime.handle());
            client.connected().wait_timeout(BOUND).expect("connected");
            let history = Arc::new(Mutex::new(History::default()));
            {
                let (history, run) = (history.clone(), run.clone());
                client.add_listener(move |s| history.lock().unwrap().states.push((run.now(), s)));
            }
            Member {
                client,
                proxies,
                history,
            }
        })
        .collect();
    let workers: Vec<_> = members
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            let (c1, h1, r1) = (m.client.clone(), m.history.clone(), run.clone());
            let (c2, h2, r2) = (m.client.clone(), m.history.clone(), run.clone());
            [
                thread::spawn(move || lock_loop(i, c1, h1, r1)),
                thread::spawn(move || create_loop(i, c2, h2, r2)),
            ]
        })
        .collect();
    let deadline = {
        let run = run.clone();
        thread::spawn(move || {
            while run.now() < Duration::from_secs(secs) && !run.done() {
                thread::sleep(Duration::from_millis(100));
            }
            run.stop.store(true, Ordering::SeqCst);
        })
    };
    let mut faults = Faults::default();
    let mut rng = Rng(seed);
    nemesis(&mut zk, &members, &run, &mut rng, &mut faults);
    deadline.join().unwrap();
    // Heal: every member up, every client reachable, then let work end.
    zk.start_all().expect("members back");
    for m in &members {
        for p in &m.proxies {
            p.refuse(false);
        }
    }
    for w in workers {
        w.join().expect("a worker");
    }
    let checker = kazoo_std::start(Config::new(&format!("{}/chaos", zk.connect_string())).unwrap());
    checker.connected().wait_timeout(BOUND).expect("connected");
    let histories: Vec<History> = members
        .iter()
        .map(|m| std::mem::take(&mut *m.history.lock().unwrap()))
        .collect();
    let present = checker
        .get_children("/seq")
        .send()
        .wait_timeout(BOUND)
        .expect("the created nodes listed")
        .into_iter()
        .collect();
    let (mut failures, summary) = check(&histories, &present, &faults);
    let acquired = run.acquisitions.load(Ordering::SeqCst);
    if acquired < run.target {
        failures.push(format!(
            "only {acquired} acquisitions, fewer than {}",
            run.target
        ));
    }
    println!("chaos summary: {summary}");
    for m in &members {
        let _ = m.client.close().wait_timeout(BOUND);
    }
    if failures.is_empty() {
        println!("chaos: every check held");
    } else {
        for f in &failures {
            eprintln!("chaos: FAILED: {f}");
        }
        eprintln!("replay the nemesis schedule with CHAOS_SEED={seed}");
        std::process::exit(1);
    }
}
