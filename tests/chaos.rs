//! The chaos run: a real 3-node ensemble, 8 clients over the three
//! adapters taking one Lock and writing a register through fenced
//! transactions, plain sequential creates beside them, and a nemesis that
//! kills the leader, kills a client's member, freezes a member past the
//! session timeout, cuts clients off through the test kit's proxies and
//! expires sessions for real. A checker then reads every client's history
//! and the final tree (docs/testing.md, "Chaos run").
//!
//! Each client appends every operation it attempted (kind, start and end
//! times, outcome) and every session state it was told to its own history
//! file as it goes, under `target/chaos/<seed>/`; the checker reads those
//! files back, and a line it cannot parse fails the run.
//!
//! ```sh
//! scripts/chaos.sh 30          # 30 minutes (CHAOS_SECS=1800)
//! cargo test --test chaos      # the 60-second smoke run CI does
//! ```

#![allow(clippy::disallowed_methods)] // a test owns its clock

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kazoo::proto::MultiResult;
use kazoo::session::{Config, SessionState};
use kazoo::{Client, Error};
use kazoo_testing::{expire_session, Proxy, ServerOptions, ZkEnsemble};

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

/// One lock cycle as its client's history shows it (times since the run
/// began).
#[derive(Debug, Clone)]
struct Hold {
    client: usize,
    /// When `acquire` returned the guard.
    acquired: Duration,
    token: i64,
    /// When the holder stopped believing it held the lock: the start of
    /// its release, or the first Suspended/Lost it was told after
    /// `acquired`, whichever came first.
    believed_until: Duration,
    /// The fenced write: the register's version it produced, if accepted.
    write: Result<i32, String>,
}

/// A session state, as far as the checker cares.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Seen {
    Connected {
        id: i64,
        new: bool,
    },
    /// Suspended, read-only or lost: a holder must stop believing.
    Told,
    Lost {
        id: i64,
    },
    Other,
}

impl Seen {
    fn of(state: &SessionState) -> Seen {
        match *state {
            SessionState::Connected {
                session_id,
                new_session,
            } => Seen::Connected {
                id: session_id,
                new: new_session,
            },
            SessionState::Lost { session_id, .. } => Seen::Lost { id: session_id },
            SessionState::Suspended { .. } | SessionState::ReadOnly { .. } => Seen::Told,
            _ => Seen::Other,
        }
    }
    fn tells_holder(self) -> bool {
        matches!(self, Seen::Told | Seen::Lost { .. })
    }
}

/// A client's history as the checker reads it back from its file.
#[derive(Default, Debug)]
struct History {
    holds: Vec<Hold>,
    /// Every state change, with its time.
    states: Vec<(Duration, Seen)>,
    acked_creates: Vec<String>,
    unacked_creates: u64,
    failed_acquires: u64,
    /// Requests that did not end within BOUND.
    hung: Vec<String>,
    lock_lost_signals: u64,
}

/// A client's history file, appended to as operations end. Lines:
///
/// ```text
/// acquire START END ok TOKEN | acquire START END err ERROR | acquire START - hung
/// write START END ok VERSION OPID | write START END err ERROR | write START - hung
/// release START END ok|err|hung STATUS      (STATUS: the guard's status before release)
/// create START END ok PATH | create START END err ERROR | create START - hung
/// state AT connected ID new|resumed | state AT told | state AT lost ID | state AT other
/// ```
///
/// Times are microseconds since the run began; ids and tokens are decimal.
struct Recorder {
    start: Instant,
    out: Mutex<BufWriter<File>>,
}

impl Recorder {
    fn create(path: &Path, start: Instant) -> std::io::Result<Recorder> {
        Ok(Recorder {
            start,
            out: Mutex::new(BufWriter::new(File::create(path)?)),
        })
    }
    fn micros(&self, t: Instant) -> u128 {
        t.saturating_duration_since(self.start).as_micros()
    }
    fn line(&self, line: std::fmt::Arguments) {
        let mut out = self.out.lock().unwrap();
        writeln!(out, "{line}").expect("a history line written");
    }
    /// One operation that ended: `Some(outcome)`, or `None` when it hung.
    fn op(&self, kind: &str, started: Instant, outcome: Option<String>) {
        let start = self.micros(started);
        match outcome {
            Some(o) => self.line(format_args!(
                "{kind} {start} {} {o}",
                self.micros(Instant::now())
            )),
            None => self.line(format_args!("{kind} {start} - hung")),
        }
    }
    fn state(&self, state: &SessionState) {
        let at = self.micros(Instant::now());
        match Seen::of(state) {
            Seen::Connected { id, new } => self.line(format_args!(
                "state {at} connected {id} {}",
                if new { "new" } else { "resumed" }
            )),
            Seen::Told => self.line(format_args!("state {at} told")),
            Seen::Lost { id } => self.line(format_args!("state {at} lost {id}")),
            Seen::Other => self.line(format_args!("state {at} other")),
        }
    }
    fn flush(&self) {
        self.out.lock().unwrap().flush().expect("a history flushed");
    }
}

/// An error's one-line text for a history.
fn err(e: &Error) -> String {
    format!("err {}", e.to_string().replace('\n', " "))
}

/// Reads a client's history back; any line it cannot parse is an error.
fn parse_history(client: usize, text: &str) -> Result<History, String> {
    fn time(field: Option<&str>) -> Result<Duration, String> {
        let f = field.ok_or("a time is missing")?;
        f.parse::<u64>()
            .map(Duration::from_micros)
            .map_err(|_| format!("{f:?} is not a time"))
    }
    fn num<T: std::str::FromStr>(field: Option<&str>) -> Result<T, String> {
        let f = field.ok_or("a number is missing")?;
        f.parse().map_err(|_| format!("{f:?} is not a number"))
    }
    let mut h = History::default();
    // The hold in progress: acquired at, token, its write.
    let mut open: Option<(Duration, i64, Result<i32, String>)> = None;
    let mut releases = Vec::new(); // (hold index, release start)
    for (n, line) in text.lines().enumerate() {
        let bad = |why: String| format!("c{client} line {}: {why}: {line:?}", n + 1);
        let mut f = line.split(' ');
        let kind = f.next().unwrap_or_default();
        let start = time(f.next()).map_err(bad)?;
        if kind == "state" {
            let seen = match f.next() {
                Some("connected") => Seen::Connected {
                    id: num(f.next()).map_err(bad)?,
                    new: match f.next() {
                        Some("new") => true,
                        Some("resumed") => false,
                        other => return Err(bad(format!("{other:?} is not new|resumed"))),
                    },
                },
                Some("told") => Seen::Told,
                Some("lost") => Seen::Lost {
                    id: num(f.next()).map_err(bad)?,
                },
                Some("other") => Seen::Other,
                other => return Err(bad(format!("unknown state {other:?}"))),
            };
            h.states.push((start, seen));
            continue;
        }
        let end = f.next().ok_or_else(|| bad("no end time".into()))?;
        let outcome = f.next().ok_or_else(|| bad("no outcome".into()))?;
        if outcome == "hung" {
            h.hung
                .push(format!("c{client} {kind} started at {start:?}"));
        }
        let end = match end {
            "-" => None,
            e => Some(time(Some(e)).map_err(bad)?),
        };
        match (kind, outcome) {
            (_, "hung") if kind != "release" => {}
            ("acquire", "ok") => {
                if open.is_some() {
                    return Err(bad("acquired again before releasing".into()));
                }
                let token = num(f.next()).map_err(bad)?;
                let acquired = end.ok_or_else(|| bad("no end time".into()))?;
                open = Some((acquired, token, Err("no write".into())));
            }
            ("acquire", "err") => h.failed_acquires += 1,
            ("write", "ok") => {
                let hold = open
                    .as_mut()
                    .ok_or_else(|| bad("a write while not holding".into()))?;
                hold.2 = Ok(num(f.next()).map_err(bad)?);
            }
            ("write", "err") => {
                let hold = open
                    .as_mut()
                    .ok_or_else(|| bad("a write while not holding".into()))?;
                hold.2 = Err(f.collect::<Vec<_>>().join(" "));
            }
            ("release", "ok" | "err" | "hung") => {
                let (acquired, token, write) = open
                    .take()
                    .ok_or_else(|| bad("a release while not holding".into()))?;
                match f.next() {
                    Some("Held") => {}
                    Some("MaybeLost" | "Lost") => h.lock_lost_signals += 1,
                    other => return Err(bad(format!("{other:?} is not a status"))),
                }
                if outcome == "err" {
                    h.lock_lost_signals += 1;
                }
                releases.push((h.holds.len(), start));
                h.holds.push(Hold {
                    client,
                    acquired,
                    token,
                    believed_until: start,
                    write,
                });
            }
            ("create", "ok") => h
                .acked_creates
                .push(f.next().ok_or_else(|| bad("no path".into()))?.to_string()),
            ("create", "err") => h.unacked_creates += 1,
            _ => return Err(bad("unknown operation".into())),
        }
    }
    if open.is_some() {
        return Err(format!("c{client}: a hold that never ended"));
    }
    for (i, released) in releases {
        let acquired = h.holds[i].acquired;
        if let Some((told, _)) = h
            .states
            .iter()
            .find(|(t, s)| *t >= acquired && s.tells_holder())
        {
            h.holds[i].believed_until = released.min(*told);
        }
    }
    Ok(h)
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
    history: Arc<Recorder>,
    file: PathBuf,
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

/// An outcome for the history: `None` when the call did not end in time.
fn outcome<T>(result: &Result<T, Error>, ok: impl FnOnce(&T) -> String) -> Option<String> {
    match result {
        Ok(v) => Some(format!("ok {}", ok(v))),
        Err(Error::Timeout) => None,
        Err(e) => Some(err(e)),
    }
}

fn lock_loop(i: usize, client: Client, history: Arc<Recorder>, run: Arc<Run>) {
    let lock = client.lock(LOCK).id(format!("c{i}"));
    let mut op = 0u64;
    while !run.done() {
        op += 1;
        let started = Instant::now();
        let acquired = lock
            .acquire_timeout(Duration::from_secs(10))
            .wait_timeout(BOUND);
        history.op(
            "acquire",
            started,
            outcome(&acquired, |g| g.fencing_token().to_string()),
        );
        let Ok(guard) = acquired else {
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        run.acquisitions.fetch_add(1, Ordering::SeqCst);
        let token = guard.fencing_token();
        let started = Instant::now();
        let tx = guard
            .fence(client.transaction())
            .set(REGISTER, format!("{token} c{i} op{op}"));
        let written = tx.commit().wait_timeout(BOUND);
        let line = match &written {
            Ok(results) => match results.last() {
                Some(MultiResult::SetData(stat)) => Some(format!("ok {} op{op}", stat.version)),
                other => Some(format!("err unexpected result {other:?}")),
            },
            Err(Error::Timeout) => None,
            Err(e) => Some(err(e)),
        };
        history.op("write", started, line);
        let status = guard.status();
        let started = Instant::now();
        let released = guard.release().wait_timeout(BOUND);
        let line = match released {
            Ok(()) => format!("ok {status:?}"),
            Err(Error::Timeout) => format!("hung {status:?}"),
            Err(_) => format!("err {status:?}"),
        };
        history.op("release", started, Some(line));
    }
}

fn create_loop(i: usize, client: Client, history: Arc<Recorder>, run: Arc<Run>) {
    while !run.done() {
        let started = Instant::now();
        let batch: Vec<_> = (0..5)
            .map(|_| client.create(format!("/seq/c{i}/n-")).sequential().send())
            .collect();
        for created in batch {
            let created = created.wait_timeout(BOUND);
            history.op("create", started, outcome(&created, |path| path.clone()));
        }
        // 20 creates a second per client: a 30-minute run leaves about
        // 36,000 nodes under each client's parent (a listing well inside
        // the 1 MB packet limit) and a tree the members reload quickly.
        thread::sleep(Duration::from_millis(250));
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

/// Every member serving again. After many kills a member can sit outside
/// the quorum for longer than its start timeout (seen once in a 30-minute
/// run, after which the checker never ran): such a member is killed and
/// started afresh, up to three times.
fn heal(zk: &mut ZkEnsemble) -> Result<(), String> {
    // Every member down starts at once: one alone cannot serve.
    for i in 0..zk.len() {
        let _ = zk.resume(i); // never left frozen
    }
    zk.spawn_stopped().map_err(|e| e.to_string())?;
    for i in 0..zk.len() {
        let mut tries = 0;
        loop {
            match zk.start_member(i) {
                Ok(()) => break,
                Err(e) if tries == 3 => return Err(format!("member {i}: {e}")),
                Err(e) => {
                    tries += 1;
                    eprintln!("chaos: member {i} not serving ({e}); restarting it");
                    let _ = zk.kill(i);
                }
            }
        }
    }
    Ok(())
}

/// Every check over the histories and the final tree (`present`: the
/// nodes under `/seq`, as `c<i>/n-…`); the failures, and a summary.
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
            if !present.contains(path.strip_prefix("/seq/").unwrap_or(path)) {
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
            match *s {
                Seen::Lost { id } => {
                    lost.insert(id);
                }
                Seen::Connected { id, new: false } if lost.contains(&id) => {
                    failures.push(format!("c{i}: session {id:#x} resumed after Lost"))
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
        "{} acquisitions ({} attempts failed), {} fenced writes accepted, {} lock-lost signals, {} creates acknowledged ({} not), faults {:?}, longest leader kill to next acquisition {:.1} s",
        holds.len(),
        histories.iter().map(|h| h.failed_acquires).sum::<u64>(),
        writes.len(),
        histories.iter().map(|h| h.lock_lost_signals).sum::<u64>(),
        acked,
        histories.iter().map(|h| h.unacked_creates).sum::<u64>(),
        faults.by_kind,
        longest.as_secs_f64()
    );
    (failures, summary)
}

/// Parses history texts as the run writes them and checks them against
/// a tree holding `/seq/a`: the number of failures (a text that does not
/// parse is one).
fn judge(texts: &[&str]) -> usize {
    let mut failures = 0;
    let mut histories = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        match parse_history(i, text) {
            Ok(h) => histories.push(h),
            Err(_) => failures += 1,
        }
    }
    let present = ["a".to_string()].into_iter().collect();
    failures + check(&histories, &present, &Faults::default()).0.len()
}

/// The checker fails on each kind of violation it looks for (so a green
/// run means something): checked before every run.
fn checker_rejects_what_it_should() {
    // Client 0 holds from 1 s to 2 s (token 10), client 1 from 3 s (token 11).
    let c0 =
        "acquire 0 1000000 ok 10\nwrite 1000000 1500000 ok 1 op1\nrelease 2000000 2100000 ok Held";
    let c1 = "acquire 0 3000000 ok 11\nstate 3200000 connected 5 new\nwrite 3000000 3500000 ok 2 op1\nrelease 4000000 4100000 ok Held";
    let created = "create 0 1000 ok /seq/a";
    assert_eq!(judge(&[c0, c1, created]), 0, "a good history");
    // Client 0 releases only at 5 s: two believed holders...
    let late =
        "acquire 0 1000000 ok 10\nwrite 1000000 1500000 ok 1 op1\nrelease 5000000 5100000 ok Held";
    assert_eq!(judge(&[late, c1]), 1, "two believed holders");
    // ...unless it was told (suspended) before client 1 acquired.
    let told = format!("{late}\nstate 2500000 told");
    assert_eq!(judge(&[&told, c1]), 0, "told in time");
    let backwards =
        "acquire 0 3000000 ok 9\nwrite 3000000 3500000 ok 2 op1\nrelease 4000000 4100000 ok Held";
    assert_eq!(judge(&[c0, backwards]), 1, "register went back");
    assert_eq!(judge(&["create 0 1000 ok /seq/b"]), 1, "a create missing");
    assert_eq!(judge(&["acquire 0 - hung"]), 1, "a hung request");
    let resumed = "state 1000 lost 7\nstate 2000 connected 7 resumed";
    assert_eq!(judge(&[resumed]), 1, "resumed after Lost");
    for garbage in [
        "acquire 0",
        "acquire zero 1 ok 1",
        "write 0 1 ok 1 op1",
        "release 0 1 ok Held",
        "acquire 0 1 ok 10",
        "state 1 connected 7 maybe",
        "frobnicate 0 1 ok",
    ] {
        assert_eq!(judge(&[garbage]), 1, "{garbage:?} is not a history");
    }
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
    let options = ServerOptions {
        // A member restarted late in a long run reloads its whole history.
        start_timeout: Duration::from_secs(180),
        ..ServerOptions::default()
    };
    let mut zk = ZkEnsemble::start_with(3, &options).expect("a 3-node ensemble");
    let setup = kazoo_std::start(Config::new(&zk.connect_string()).unwrap());
    setup
        .wait_connected()
        .wait_timeout(BOUND)
        .expect("connected");
    let parents = (0..CLIENTS).map(|i| format!("/chaos/seq/c{i}"));
    for p in ["/chaos/lock", "/chaos/register"]
        .map(String::from)
        .into_iter()
        .chain(parents)
    {
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
    let dir = PathBuf::from(format!("target/chaos/{seed}"));
    std::fs::create_dir_all(&dir).expect("a directory for the histories");
    println!("chaos: histories in {}", dir.display());
    let members: Vec<Member> = (0..CLIENTS)
        .map(|i| {
            let proxies: Vec<Proxy> = (0..zk.len())
                .map(|m| Proxy::start(zk.addr(m)).unwrap())
                .collect();
            let file = dir.join(format!("c{i}.history"));
            let history = Arc::new(Recorder::create(&file, run.start).expect("a history file"));
            let client = start_client(i, &proxies, runtime.handle());
            {
                let history = history.clone();
                client.add_listener(move |s| history.state(&s));
            }
            client
                .wait_connected()
                .wait_timeout(BOUND)
                .expect("connected");
            Member {
                client,
                proxies,
                history,
                file,
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
    heal(&mut zk).expect("members back");
    for m in &members {
        for p in &m.proxies {
            p.refuse(false);
        }
    }
    for w in workers {
        w.join().expect("a worker");
    }
    let checker = kazoo_std::start(Config::new(&format!("{}/chaos", zk.connect_string())).unwrap());
    checker
        .wait_connected()
        .wait_timeout(BOUND)
        .expect("connected");
    let mut failures = Vec::new();
    let mut histories = Vec::new();
    for (i, m) in members.iter().enumerate() {
        m.history.flush();
        let read =
            std::fs::read_to_string(&m.file).map_err(|e| format!("{}: {e}", m.file.display()));
        match read.and_then(|text| parse_history(i, &text)) {
            Ok(h) => histories.push(h),
            Err(e) => failures.push(format!("a history that does not parse: {e}")),
        }
    }
    let mut present = std::collections::BTreeSet::new();
    for i in 0..CLIENTS {
        let names = checker
            .get_children(format!("/seq/c{i}"))
            .send()
            .wait_timeout(BOUND)
            .expect("the created nodes listed");
        present.extend(names.into_iter().map(|n| format!("c{i}/{n}")));
    }
    let (found, summary) = check(&histories, &present, &faults);
    failures.extend(found);
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
