//! Failure semantics: dropped and stalled connections (through the test
//! kit's proxy), real session expiry, unreachable hosts and bad servers,
//! on the embedded server by default and on a real one with
//! `KAZOO_TEST_BACKEND=real`; a 3-node ensemble losing members or going
//! down whole, on real servers only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use kazoo::acl::{Acl, Id, Perms};
use kazoo::proto::{AddWatchMode, EventType, KeeperState};
use kazoo::session::{Config, SessionState};
use kazoo::{Client, Error};
use kazoo_testing::{expire_session, Proxy, ZkEnsemble};

use super::{Adapter, Backend, WAIT};

/// Tests that measure the process (CPU time) run alone; the rest share.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(PoisonError::into_inner)
}

/// Tests that need a real 3-node ensemble run in the real-backend pass
/// only (`KAZOO_TEST_BACKEND=real`, as scripts/test.sh runs them); the
/// embedded pass says so and skips them.
fn real_ensemble_pass<A: Adapter>(test: &str) -> bool {
    if let Backend::Embedded(_) = A::backend() {
        eprintln!("{test}: needs a real 3-node ensemble; runs with KAZOO_TEST_BACKEND=real");
        return false;
    }
    true
}

/// One ensemble per test binary; tests that stop members take turns.
fn ensemble() -> MutexGuard<'static, Option<ZkEnsemble>> {
    static ENSEMBLE: Mutex<Option<ZkEnsemble>> = Mutex::new(None);
    let mut guard = ENSEMBLE.lock().unwrap_or_else(PoisonError::into_inner);
    match guard.as_mut() {
        // A test that failed half-way may have left members down.
        Some(zk) => zk.start_all().expect("members restarted"),
        None => *guard = Some(ZkEnsemble::start(3).expect("a 3-node ensemble")),
    }
    guard
}

/// Records every state change a listener hears, in order.
#[derive(Clone, Default)]
struct States(Arc<Mutex<Vec<(Instant, SessionState)>>>);

impl States {
    fn listen(client: &Client) -> States {
        let states = States::default();
        let s = states.clone();
        client.add_listener(move |state| s.0.lock().unwrap().push((Instant::now(), state)));
        states
    }

    fn seen(&self) -> Vec<SessionState> {
        self.0.lock().unwrap().iter().map(|(_, s)| *s).collect()
    }

    /// Waits until `want` has been heard `n` times; returns when it was last heard.
    fn wait_for(
        &self,
        want: impl Fn(&SessionState) -> bool,
        n: usize,
        timeout: Duration,
    ) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            let times: Vec<Instant> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, s)| want(s))
                .map(|(t, _)| *t)
                .collect();
            if times.len() >= n {
                return times[n - 1];
            }
            assert!(
                Instant::now() < deadline,
                "waited for a state; heard {:?}",
                self.seen()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn is_suspended(s: &SessionState) -> bool {
    matches!(s, SessionState::Suspended { .. })
}

fn is_lost(s: &SessionState) -> bool {
    matches!(s, SessionState::Lost { .. })
}

fn resumed(s: &SessionState) -> bool {
    matches!(
        s,
        SessionState::Connected {
            new_session: false,
            ..
        }
    )
}

fn fresh(s: &SessionState) -> bool {
    matches!(
        s,
        SessionState::Connected {
            new_session: true,
            ..
        }
    )
}

/// The chroot part of a `hosts/chroot` connect string.
fn chroot_of(connect: &str) -> &str {
    &connect[connect.find('/').expect("a chroot")..]
}

fn config(hosts: &str, session_timeout: Duration) -> Config {
    Config::builder(hosts)
        .session_timeout(session_timeout)
        .build()
        .unwrap()
}

fn connect<A: Adapter>(config: Config) -> (Client, States) {
    let client = A::start(config);
    let states = States::listen(&client);
    client
        .wait_connected()
        .wait_timeout(WAIT)
        .expect("connected");
    states.wait_for(fresh, 1, WAIT);
    (client, states)
}

/// `Config::resume`: a session opened by one client (think: another
/// process) is picked up by a second one, ephemerals included; the second
/// one's requests, queued before its handshake, run on that session.
pub fn a_session_handed_to_another_client_is_resumed_not_new<A: Adapter>() {
    let _g = shared();
    let server = A::backend();
    let direct = server.chroot("fail-resume");
    let proxy = Proxy::start(server.addr()).unwrap();
    let (a, _) = connect::<A>(config(
        &format!("{}{}", proxy.addr(), chroot_of(&direct)),
        Duration::from_secs(10),
    ));
    a.create("/eph").ephemeral().send().wait().unwrap();
    let (id, passwd) = a.client_id();
    // A goes quiet, as a process that handed over and stopped would.
    proxy.refuse(true);
    proxy.sever();

    let resume = config(&direct, Duration::from_secs(10))
        .to_builder()
        .resume(id, passwd)
        .build()
        .unwrap();
    let b = A::start(resume);
    let states = States::listen(&b);
    let queued = b.exists("/eph").send(); // before the handshake
    let created = b.create("/from-b").ephemeral().send();
    let stat = queued
        .wait_timeout(WAIT)
        .unwrap()
        .expect("the ephemeral is still there");
    assert_eq!(stat.ephemeral_owner, id, "owned by the resumed session");
    created.wait_timeout(WAIT).unwrap();
    states.wait_for(|s| matches!(s, SessionState::Connected { .. }), 1, WAIT);
    assert_eq!(
        states.seen(),
        [SessionState::Connected {
            session_id: id,
            new_session: false
        }]
    );
    assert_eq!(b.session_id(), id);
    let observer = A::start(Config::new(&direct).unwrap());
    let owner = |path: &str| {
        observer
            .exists(path)
            .send()
            .wait_timeout(WAIT)
            .unwrap()
            .map(|s| s.ephemeral_owner)
    };
    assert_eq!(owner("/from-b"), Some(id));
    drop(a.close());
    b.close().wait_timeout(WAIT).unwrap();
    assert_eq!(owner("/eph"), None, "closing B ended the one session");
    observer.close().wait_timeout(WAIT).unwrap();
}

pub fn dropped_connection_resumes_the_session_and_catches_up<A: Adapter>() {
    let _g = shared();
    let server = A::backend();
    let direct = server.chroot("fail-drop");
    let proxy = Proxy::start(server.addr()).unwrap();
    let (c, states) = connect::<A>(config(
        &format!("{}{}", proxy.addr(), chroot_of(&direct)),
        Duration::from_secs(10),
    ));
    let other = A::start(Config::new(&direct).unwrap());
    let id = c.session_id();

    c.add_auth("digest", "user:pw").wait().unwrap();
    c.create("/secret")
        .data("s")
        .acl(vec![Acl::new(Perms::ALL, Id::digest("user", "pw"))])
        .send()
        .wait()
        .unwrap();
    for p in ["/data", "/kids", "/pdata", "/tree"] {
        c.create(p).data("0").send().wait().unwrap();
    }
    let (_, data_changed) = c.get("/data").send_watched();
    let (read, created) = c.exists("/later").send_watched();
    assert_eq!(read.wait(), Ok(None));
    let (_, kids_changed) = c.get_children("/kids").send_watched();
    let persistent = c
        .add_watch("/pdata", AddWatchMode::Persistent)
        .stream()
        .wait()
        .unwrap();
    let recursive = c
        .add_watch("/tree", AddWatchMode::PersistentRecursive)
        .stream()
        .wait()
        .unwrap();

    proxy.refuse(true);
    proxy.sever();
    states.wait_for(is_suspended, 1, WAIT);
    let queued = c.get("/data").send(); // issued while disconnected
    other.set("/data", "1").send().wait().unwrap();
    other.create("/later").send().wait().unwrap();
    other.create("/kids/k1").send().wait().unwrap();
    other
        .set("/pdata", "changed while away")
        .send()
        .wait()
        .unwrap();
    other.create("/tree/while-away").send().wait().unwrap();
    proxy.refuse(false);
    states.wait_for(resumed, 1, WAIT);
    assert_eq!(c.session_id(), id, "same session");
    assert_eq!(
        states.seen(),
        [
            SessionState::Connected {
                session_id: id,
                new_session: true
            },
            SessionState::Suspended { session_id: id },
            SessionState::Connected {
                session_id: id,
                new_session: false
            }
        ]
    );

    // One-shot watches: the server's catch-up after SetWatches.
    let event = |w: kazoo::client::WatchFuture| {
        let e = w.wait_timeout(WAIT).unwrap().unwrap();
        (e.event_type, e.path)
    };
    assert_eq!(
        event(data_changed),
        (EventType::NodeDataChanged, "/data".into())
    );
    assert_eq!(event(created), (EventType::NodeCreated, "/later".into()));
    assert_eq!(
        event(kids_changed),
        (EventType::NodeChildrenChanged, "/kids".into())
    );
    // Persistent and recursive watches: no catch-up from the server, so the
    // "resumed, re-read" signal, then later changes as usual.
    for (stream, path) in [(&persistent, "/pdata"), (&recursive, "/tree")] {
        let e = stream.recv_timeout(WAIT).unwrap().unwrap().unwrap();
        assert_eq!(
            (e.event_type, e.state, e.path.as_str()),
            (EventType::None, KeeperState::SyncConnected, path)
        );
    }
    assert_eq!(
        &c.get("/pdata").send().wait().unwrap().0.unwrap()[..],
        b"changed while away",
        "re-read"
    );
    other.set("/pdata", "after").send().wait().unwrap();
    other.create("/tree/after").send().wait().unwrap();
    let e = persistent.recv_timeout(WAIT).unwrap().unwrap().unwrap();
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/pdata")
    );
    let e = recursive.recv_timeout(WAIT).unwrap().unwrap().unwrap();
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, "/tree/after")
    );

    assert_eq!(
        &queued.wait().unwrap().0.unwrap()[..],
        b"1",
        "the request made while away ran after the reconnect"
    );
    assert_eq!(
        &c.get("/secret").send().wait().unwrap().0.unwrap()[..],
        b"s",
        "digest auth replayed"
    );
    c.close().wait().unwrap();
    other.close().wait().unwrap();
}

pub fn stalled_connection_hits_the_read_timeout<A: Adapter>() {
    let _g = shared();
    let server = A::backend();
    let direct = server.chroot("fail-stall");
    let proxies = [
        Proxy::start(server.addr()).unwrap(),
        Proxy::start(server.addr()).unwrap(),
    ];
    let hosts = format!(
        "{},{}{}",
        proxies[0].addr(),
        proxies[1].addr(),
        chroot_of(&direct)
    );
    // The server grants 4 s (2 ticks) at least: read timeout 2/3 of it.
    let (c, states) = connect::<A>(config(&hosts, Duration::from_secs(4)));
    let id = c.session_id();
    let used = proxies
        .iter()
        .position(|p| p.connections() == 1)
        .expect("one proxy carries the session");
    proxies[used].stall();
    let stalled_at = Instant::now();
    let suspended_at = states.wait_for(is_suspended, 1, WAIT);
    let noticed = suspended_at - stalled_at;
    assert!(
        noticed <= Duration::from_millis(2667 + 500),
        "the read timeout took {noticed:?}"
    );
    states.wait_for(resumed, 1, WAIT);
    assert_eq!(c.session_id(), id);
    assert_eq!(
        proxies[1 - used].connections(),
        1,
        "moved to the other host"
    );
    assert!(c.exists("/").send().wait_timeout(WAIT).unwrap().is_some());
    assert!(c
        .recent_disconnects()
        .iter()
        .any(|(_, r)| *r == kazoo::session::DisconnectReason::ReadTimeout));
    proxies[used].resume();
    c.close().wait_timeout(WAIT).unwrap();
}

pub fn real_expiry_is_lost_then_a_new_session<A: Adapter>() {
    let _g = shared();
    let server = A::backend();
    let direct = server.chroot("fail-expire");
    let proxy = Proxy::start(server.addr()).unwrap();
    let (c, states) = connect::<A>(config(
        &format!("{}{}", proxy.addr(), chroot_of(&direct)),
        Duration::from_secs(10),
    ));
    let old = c.session_id();
    c.create("/eph").ephemeral().send().wait().unwrap();
    c.create("/p").send().wait().unwrap();
    let (_, one_shot) = c.get("/p").send_watched();
    let persistent = c
        .add_watch("/p", AddWatchMode::Persistent)
        .stream()
        .wait()
        .unwrap();

    proxy.refuse(true);
    proxy.sever();
    states.wait_for(is_suspended, 1, WAIT);
    expire_session(server.addr(), &c).unwrap();
    let in_flight = c.get("/p").send();
    proxy.refuse(false);
    states.wait_for(fresh, 2, WAIT);
    let new = c.session_id();
    assert_ne!(new, old);
    assert_eq!(
        states.seen(),
        [
            SessionState::Connected {
                session_id: old,
                new_session: true
            },
            SessionState::Suspended { session_id: old },
            SessionState::Lost {
                session_id: old,
                reason: kazoo::session::LostReason::Expired
            },
            SessionState::Connected {
                session_id: new,
                new_session: true
            },
        ]
    );
    assert_eq!(in_flight.wait().map(drop), Err(Error::SessionExpired));
    assert_eq!(
        c.exists("/eph").send().wait(),
        Ok(None),
        "the old session's ephemerals are gone"
    );
    let told = one_shot.wait_timeout(WAIT).unwrap().unwrap();
    assert_eq!(
        (told.event_type, told.state),
        (EventType::None, KeeperState::Expired)
    );
    let told = persistent.recv_timeout(WAIT).unwrap().unwrap().unwrap();
    assert_eq!(
        (told.event_type, told.state),
        (EventType::None, KeeperState::Expired)
    );
    assert_eq!(
        persistent.recv_timeout(WAIT),
        Ok(None),
        "the watch ended with its session"
    );
    c.create("/eph")
        .ephemeral()
        .send()
        .wait()
        .expect("the client carries on");
    assert_eq!(
        c.exists("/eph")
            .send()
            .wait()
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        new
    );
    c.close().wait().unwrap();
}

pub fn failover_keeps_the_session_and_every_acknowledged_write<A: Adapter>() {
    if !real_ensemble_pass::<A>("failover") {
        return;
    }
    let _g = shared();
    let mut guard = ensemble();
    let zk = guard.as_mut().unwrap();
    let hosts = zk.chroot("fail-over").unwrap();
    // Long enough for an election on a loaded 2-core machine (three JVMs,
    // one restarting): a 10 s session once expired in CI while the
    // ensemble had no leader, which is the server's decision, not ours.
    let (c, states) = connect::<A>(config(&hosts, Duration::from_secs(30)));
    let id = c.session_id();
    c.create("/w").send().wait().unwrap();

    let done = Arc::new(AtomicU64::new(0));
    let writer = {
        let (c, done) = (c.clone(), done.clone());
        thread::spawn(move || {
            let mut acked = Vec::new();
            let mut failed = 0;
            for _ in 0..1000 {
                match c.create("/w/n-").sequential().send().wait_timeout(3 * WAIT) {
                    Ok(path) => acked.push(path),
                    Err(Error::ConnectionLoss) => failed += 1,
                    Err(e) => panic!("a create failed with {e:?}"),
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
            (acked, failed)
        })
    };
    let wait_done = |n| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while done.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "the writer is stuck at {}",
                done.load(Ordering::SeqCst)
            );
            thread::sleep(Duration::from_millis(5));
        }
    };
    let member_of = |c: &Client, zk: &ZkEnsemble| zk.member_of(c).expect("connected to a member");

    wait_done(300);
    let connected_to = member_of(&c, zk);
    zk.kill(connected_to).unwrap();
    wait_done(500);
    zk.start_member(connected_to).unwrap();
    wait_done(700);
    let leader = zk.wait_for_leader(WAIT).unwrap();
    zk.kill(leader).unwrap();
    let (acked, failed) = writer.join().unwrap();
    zk.start_member(leader).unwrap();

    let mut present = c.get_children("/w").send().wait().unwrap();
    present.sort();
    for path in &acked {
        let name = kazoo::path::basename(path);
        assert!(
            present.binary_search(&name.to_string()).is_ok(),
            "acknowledged {path} is missing"
        );
    }
    assert!(
        acked.len() + failed == 1000 && acked.len() >= 900,
        "{} acked, {failed} lost",
        acked.len()
    );
    assert_eq!(c.session_id(), id, "the session survived both kills");
    let seen = states.seen();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(!seen.iter().any(is_lost), "{seen:?}");
    for pair in seen[1..].chunks(2) {
        assert!(
            pair[0] == SessionState::Suspended { session_id: id },
            "{seen:?}"
        );
        if let Some(next) = pair.get(1) {
            assert!(resumed(next), "{seen:?}");
        }
    }
    assert!(resumed(seen.last().unwrap()), "{seen:?}");
    c.close().wait().unwrap();
}

pub fn ensemble_down_longer_than_the_timeout_is_lost_on_the_client_clock<A: Adapter>() {
    if !real_ensemble_pass::<A>("ensemble_down") {
        return;
    }
    let _g = shared();
    let mut guard = ensemble();
    let zk = guard.as_mut().unwrap();
    let hosts = zk.chroot("fail-down").unwrap();
    let (c, states) = connect::<A>(config(&hosts, Duration::from_secs(4)));
    let old = c.session_id();
    zk.kill_all().unwrap();
    let down_at = Instant::now();
    let lost_at = states.wait_for(is_lost, 1, Duration::from_secs(20));
    let after = lost_at - down_at;
    // Lost comes 4 s after the last thing heard from a server, which was at
    // most a ping interval (4/3 s) before the kill.
    assert!(
        after >= Duration::from_millis(2500) && after <= Duration::from_millis(5000),
        "Lost after {after:?}"
    );
    zk.start_all().unwrap();
    states.wait_for(fresh, 2, Duration::from_secs(30));
    let new = c.session_id();
    assert_ne!(new, old);
    assert_eq!(
        states.seen(),
        [
            SessionState::Connected {
                session_id: old,
                new_session: true
            },
            SessionState::Suspended { session_id: old },
            SessionState::Lost {
                session_id: old,
                reason: kazoo::session::LostReason::TimedOut
            },
            SessionState::Connected {
                session_id: new,
                new_session: true
            },
        ]
    );
    assert!(c.exists("/").send().wait().unwrap().is_some());
    c.close().wait().unwrap();
}

/// User plus system CPU seconds of this whole process.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

pub fn unreachable_hosts_fail_with_a_clear_error_without_spinning<A: Adapter>() {
    let _alone = EXCLUSIVE.write().unwrap_or_else(PoisonError::into_inner);
    // Two "servers" that close every connection at once, and one port
    // nothing listens on.
    let down = [
        Proxy::start("127.0.0.1:9".parse().unwrap()).unwrap(),
        Proxy::start("127.0.0.1:9".parse().unwrap()).unwrap(),
    ];
    down.iter().for_each(|p| p.refuse(true));
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = config(
        &format!("{},{},{closed}", down[0].addr(), down[1].addr()),
        Duration::from_secs(4),
    )
    .to_builder()
    .queue_timeout(Some(Duration::from_secs(2)))
    .build()
    .unwrap();
    let cpu = process_cpu();
    let started = Instant::now();
    let client = A::start(cfg);
    let get = client.get("/").send();
    assert_eq!(
        client.wait_connected().wait_timeout(Duration::from_secs(3)),
        Err(Error::Timeout)
    );
    let r = get.wait_timeout(WAIT);
    assert_eq!(
        r.map(drop),
        Err(Error::ConnectionLoss),
        "a queued request fails after queue_timeout"
    );
    let waited = started.elapsed();
    let used = process_cpu() - cpu;
    assert!(
        used < 0.3 * waited.as_secs_f64(),
        "{used:.2} s of CPU in {waited:?}: a busy loop?"
    );
    let attempts = down[0].attempts() + down[1].attempts();
    eprintln!("unreachable hosts: {used:.2} s CPU in {waited:?}, {attempts} connection attempts");
    assert!(
        (2..=40).contains(&attempts),
        "{attempts} connection attempts in {waited:?}"
    );
    assert!(
        !client.recent_disconnects().is_empty(),
        "the failures are reported"
    );
    assert_eq!(client.state(), None, "never connected");
    client.close().wait_timeout(WAIT).unwrap();
}

pub fn close_during_a_reconnect_storm_completes_everything<A: Adapter>() {
    let _g = shared();
    let server = A::backend();
    let direct = server.chroot("fail-close");
    let proxy = Proxy::start(server.addr()).unwrap();
    let (c, states) = connect::<A>(config(
        &format!("{}{}", proxy.addr(), chroot_of(&direct)),
        Duration::from_secs(10),
    ));
    let id = c.session_id();
    proxy.refuse(true);
    proxy.sever();
    states.wait_for(is_suspended, 1, WAIT);
    let pending: Vec<_> = (0..50).map(|i| c.create(format!("/n{i}")).send()).collect();
    let sleep = c.sleep(Duration::from_secs(60));
    thread::sleep(Duration::from_millis(300)); // a few refused attempts
    let started = Instant::now();
    c.close().wait_timeout(WAIT).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "close took {:?}",
        started.elapsed()
    );
    for p in pending {
        assert!(matches!(
            p.wait_timeout(WAIT),
            Err(Error::Closed | Error::ConnectionLoss)
        ));
    }
    assert_eq!(sleep.wait_timeout(WAIT), Err(Error::Closed));
    let closed = SessionState::Closed { session_id: id };
    assert_eq!(c.state(), Some(closed));
    states.wait_for(|s| *s == closed, 1, WAIT); // listeners run on their own thread
    assert_eq!(
        states.seen(),
        [
            states.seen()[0],
            SessionState::Suspended { session_id: id },
            closed
        ]
    );
}

/// A scripted bad server: answers every connection with `reply` (after
/// reading the handshake), then closes.
fn bad_server(reply: Vec<u8>) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            s.fetch_add(1, Ordering::SeqCst);
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let mut handshake = [0u8; 49];
            let _ = conn.read_exact(&mut handshake);
            let _ = conn.write_all(&reply);
        }
    });
    (addr, seen)
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// A server that takes the handshake and then stops reading: callers keep
/// submitting large writes, but the adapter holds at most about
/// `write_buffer_limit` bytes; the rest wait in the session's queue as
/// pending requests. Submitting never blocks (kazoo-std used to write under
/// the client's lock).
pub fn a_server_that_stops_reading_meets_backpressure<A: Adapter>() {
    let _g = shared();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut handshake = [0u8; 49];
        socket.read_exact(&mut handshake).unwrap();
        let mut answer = bytes::BytesMut::new();
        let response = kazoo::proto::ConnectResponse {
            protocol_version: 0,
            timeout: 30_000,
            session_id: 0x77,
            passwd: bytes::Bytes::from(vec![1u8; 16]).into(),
            read_only: Some(false),
        };
        kazoo::proto::encode_frame(&mut answer, |o| {
            kazoo::proto::jute::Record::encode(&response, o)
        });
        socket.write_all(&answer).unwrap();
        thread::sleep(Duration::from_secs(5)); // and never read
        socket
    });
    let limit = 256 * 1024;
    let client = A::start(
        Config::builder(&addr.to_string())
            .session_timeout(Duration::from_secs(30))
            .write_buffer_limit(limit)
            .build()
            .unwrap(),
    );
    client.wait_connected().wait_timeout(WAIT).unwrap();
    let data = bytes::Bytes::from(vec![7u8; 512 * 1024]);
    let started = Instant::now();
    let sets: Vec<_> = (0..64)
        .map(|i| client.set(format!("/n{i}"), data.clone()).send())
        .collect();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "submitting 32 MiB took {:?}: it blocked",
        started.elapsed()
    );
    thread::sleep(Duration::from_millis(500));
    let stats = client.stats();
    eprintln!(
        "backpressure: {} bytes buffered in the adapter (limit {limit}), {} requests queued, {} in flight",
        stats.write_buffered, stats.queued, stats.pending
    );
    assert!(
        stats.write_buffered <= limit + data.len() + 1024,
        "{} bytes buffered",
        stats.write_buffered
    );
    assert!(stats.queued > 0, "requests wait in the session's queue");
    client.close().wait_timeout(WAIT).unwrap();
    for set in sets {
        assert!(set.wait_timeout(WAIT).is_err(), "nothing was answered");
    }
    drop(silent.join());
}

pub fn bad_servers_are_skipped<A: Adapter>() {
    let _g = shared();
    let server = A::backend();
    let direct = server.chroot("fail-bad");
    let good = Proxy::start(server.addr()).unwrap();
    good.refuse(true);
    // 36-byte (pre-read-only) ConnectResponse, then garbage as the first reply.
    let mut old_form = vec![
        0, 0, 0, 0, 0, 0, 0x0f, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0x42, 0, 0, 0, 16,
    ];
    old_form.extend([7u8; 16]);
    let mut old_then_garbage = frame(&old_form);
    old_then_garbage.extend(frame(&[0xff; 40]));
    // An "expired" answer: timeout 0.
    let mut expired = vec![0u8; 36];
    expired.push(0);
    let bad = [
        bad_server(Vec::new()),                   // closes during the handshake
        bad_server(old_then_garbage),             // old form, then nonsense
        bad_server(frame(&expired)),              // says the session expired
        bad_server(vec![0x7f, 0xff, 0xff, 0xff]), // a 2 GiB frame length
    ];
    let hosts: Vec<String> = bad
        .iter()
        .map(|(a, _)| a.to_string())
        .chain([good.addr().to_string()])
        .collect();
    let client = A::start(config(
        &format!("{}{}", hosts.join(","), chroot_of(&direct)),
        Duration::from_secs(10),
    ));
    let states = States::listen(&client);
    let queued = client.exists("/").send();
    let deadline = Instant::now() + WAIT;
    while bad.iter().any(|(_, seen)| seen.load(Ordering::SeqCst) == 0) {
        assert!(Instant::now() < deadline, "not every bad server was tried");
        thread::sleep(Duration::from_millis(10));
    }
    good.refuse(false);
    // The server that sent the old-form answer "accepted" a session the real
    // one never heard of: the client finds it expired there and starts anew.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(good.connections() == 1
        && matches!(client.state(), Some(SessionState::Connected { .. })))
    {
        let seen = states.seen();
        assert!(
            Instant::now() < deadline,
            "never settled on the good server: {} states, last {:?}",
            seen.len(),
            seen.last()
        );
        thread::sleep(Duration::from_millis(10));
    }
    // Sent to whichever server took the handshake first: answered, or lost
    // with that connection; either way exactly once.
    assert!(matches!(
        queued.wait(),
        Ok(Some(_)) | Err(Error::ConnectionLoss)
    ));
    client.create("/ok").send().wait().unwrap();
    let tries: u64 = bad
        .iter()
        .map(|(_, seen)| seen.load(Ordering::SeqCst))
        .sum();
    assert!(
        tries < 60,
        "{tries} attempts on broken servers: the backoff must hold"
    );
    let reasons: Vec<_> = client
        .recent_disconnects()
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, kazoo::session::DisconnectReason::Malformed(_))),
        "{reasons:?}"
    );
    assert!(!states.seen().is_empty());
    client.close().wait().unwrap();
}

pub fn tree_cache_stays_consistent_while_members_die<A: Adapter>() {
    if !real_ensemble_pass::<A>("tree cache consistency") {
        return;
    }
    let _g = shared();
    let mut guard = ensemble();
    let zk = guard.as_mut().unwrap();
    let hosts = zk.chroot("cache-churn").unwrap();
    let start = || {
        let c = A::start(config(&hosts, Duration::from_secs(30)));
        c.wait_connected().wait_timeout(WAIT).expect("connected");
        c
    };
    let reader = start();
    let writers = (0..3).map(|_| start()).collect();
    let (mut killed, mut leader) = (None, None);
    // 30 s of random changes (Curator's cache consistency test): the
    // reader's member is killed and restarted, then the leader.
    super::caches::churn_and_check(
        &reader,
        writers,
        "/t",
        false,
        Duration::from_secs(30),
        |round| match round {
            Some(8) => {
                let m = zk.member_of(&reader).expect("connected to a member");
                zk.kill(m).unwrap();
                killed = Some(m);
            }
            Some(25) => zk.start_member(killed.take().unwrap()).unwrap(),
            Some(40) => {
                let l = zk.wait_for_leader(WAIT).unwrap();
                zk.kill(l).unwrap();
                leader = Some(l);
            }
            Some(55) => zk.start_member(leader.take().unwrap()).unwrap(),
            // The churn ended early (a loaded machine): restart whoever
            // is still down.
            None => {
                for m in [killed.take(), leader.take()].into_iter().flatten() {
                    zk.start_member(m).unwrap();
                }
            }
            _ => {}
        },
    );
    reader.close().wait().unwrap();
}
