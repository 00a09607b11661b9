//! The client layer with a fake adapter: a scripted server, a clock the
//! test moves, and a dispatcher the test controls. No threads, no sockets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::proto::{AddWatchMode, EventType, KeeperState, Stat, WatcherType};
use crate::session::tests::sim::FakeServer;
use crate::ArgumentError;

/// What the fake adapter saw and holds.
struct World {
    now: Instant,
    server: FakeServer,
    /// Connection attempts not yet answered by the test.
    connects: Vec<ConnId>,
    /// The connection the server has accepted.
    open: Option<ConnId>,
    wakes: u32,
    /// Jobs dispatched, not yet run (for the queued dispatcher).
    jobs: Vec<Job>,
    /// Hosts asked `isro`, and what they answer.
    probed: Vec<HostPort>,
    isro: &'static str,
}

#[derive(Clone)]
struct Fake(Arc<Mutex<World>>);

impl Fake {
    fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.0)
    }
}

impl Io for Fake {
    fn now(&self) -> Instant {
        self.world().now
    }
    fn connect(&mut self, _: &HostPort, conn: ConnId, _: Duration) {
        self.world().connects.push(conn);
    }
    fn disconnect(&mut self) {
        let mut w = self.world();
        w.open = None;
        w.server.disconnect();
    }
    fn write(&mut self, bytes: &[u8]) {
        self.world().server.receive(bytes);
    }
    fn wake(&mut self) {
        self.world().wakes += 1;
    }
    fn four_letter_word(&mut self, host: &HostPort, word: &'static str, reply: Reply<String>) {
        if word == "isro" {
            let mut w = self.world();
            w.probed.push(host.clone());
            return reply.send(Ok(w.isro.into()));
        }
        let answer = match word {
            "srvr" => "Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25\nMode: standalone\n",
            "ruok" => "imok",
            "stat" => "This ZooKeeper instance is not currently serving requests",
            other => {
                return reply.send(Ok(format!(
                    "{other} is not executed because it is not in the whitelist.\n"
                )))
            }
        };
        reply.send(Ok(answer.into()));
    }
}

#[allow(clippy::disallowed_methods)]
fn test_start() -> Instant {
    Instant::now()
}

/// Runs dispatched jobs at once, on the dispatching thread: a job that
/// needs the client's lock deadlocks if the client dispatched while holding it.
struct Inline;

impl Dispatch for Inline {
    fn dispatch(&self, job: Job) {
        job();
    }
}

/// Keeps jobs for the test to inspect and run.
struct Queued(Fake);

impl Dispatch for Queued {
    fn dispatch(&self, job: Job) {
        self.0.world().jobs.push(job);
    }
}

fn start(dispatch: impl Fn(Fake) -> Box<dyn Dispatch>) -> (Client, Driver, Fake) {
    start_with(dispatch, |_| {})
}

fn start_with(
    dispatch: impl Fn(Fake) -> Box<dyn Dispatch>,
    configure: impl FnOnce(&mut Config),
) -> (Client, Driver, Fake) {
    let fake = Fake(Arc::new(Mutex::new(World {
        now: test_start(),
        server: FakeServer::default(),
        connects: Vec::new(),
        open: None,
        wakes: 0,
        jobs: Vec::new(),
        probed: Vec::new(),
        isro: "ro",
    })));
    let mut config = Config::new("zk1:2181,zk2:2181").unwrap();
    config.session_timeout = Duration::from_secs(3);
    config.reconnect_delay = Duration::ZERO;
    config.rng_seed = 1;
    configure(&mut config);
    let (client, driver) = Client::new(config, fake.clone(), BoxedDispatch(dispatch(fake.clone())));
    (client, driver, fake)
}

struct BoxedDispatch(Box<dyn Dispatch>);

impl Dispatch for BoxedDispatch {
    fn dispatch(&self, job: Job) {
        self.0.dispatch(job);
    }
}

/// Plays the adapter: accepts pending connections and delivers the
/// server's bytes until nothing moves.
fn settle(driver: &Driver, fake: &Fake) {
    loop {
        let connect = {
            let mut w = fake.world();
            let c = w.connects.pop();
            if let Some(conn) = c {
                w.server.accept();
                w.open = Some(conn);
            }
            c
        };
        if let Some(conn) = connect {
            driver.connected(conn);
            continue;
        }
        let (open, bytes) = {
            let mut w = fake.world();
            (w.open, w.server.take_output())
        };
        match open {
            Some(conn) if !bytes.is_empty() => {
                driver.input(conn, &bytes);
            }
            _ => return,
        }
    }
}

fn connected() -> (Client, Driver, Fake) {
    let (client, driver, fake) = start(|_| Box::new(Inline));
    settle(&driver, &fake);
    assert!(matches!(
        client.state(),
        Some(SessionState::Connected {
            new_session: true,
            ..
        })
    ));
    (client, driver, fake)
}

#[test]
fn a_request_completes_through_the_driver() {
    let (client, driver, fake) = connected();
    let create = client.create("/a").data("x").send();
    settle(&driver, &fake);
    assert_eq!(create.wait(), Ok("/a".into()));
    let get = client.get("/a").send();
    settle(&driver, &fake);
    assert_eq!(
        get.wait().map(|(d, _)| d),
        Ok(Some(Bytes::from_static(b"x")))
    );
}

#[test]
fn connection_checks_follow_the_state() {
    let (client, driver, fake) = start(|_| Box::new(Inline));
    assert!(!client.is_connected());
    assert_eq!(client.client_state(), KeeperState::Disconnected);
    assert_eq!(client.last_zxid(), 0);
    settle(&driver, &fake);
    assert!(client.is_connected());
    assert_eq!(client.client_state(), KeeperState::SyncConnected);
    let create = client.create("/z").send();
    settle(&driver, &fake);
    create.wait().unwrap();
    let (_, stat) = {
        let get = client.get("/z").send();
        settle(&driver, &fake);
        get.wait().unwrap()
    };
    assert_eq!(
        client.last_zxid(),
        stat.mzxid,
        "the create's zxid, seen since"
    );
    let conn = fake.world().open.unwrap();
    fake.world().server.disconnect();
    driver.disconnected(conn);
    assert!(!client.is_connected());
    assert_eq!(client.client_state(), KeeperState::Disconnected);
}

#[test]
fn reports_from_an_old_connection_are_ignored() {
    let (client, driver, fake) = connected();
    let old = fake.world().open.unwrap();
    // The connection drops; the session moves to the next host.
    fake.world().server.disconnect();
    driver.disconnected(old);
    settle(&driver, &fake);
    let new = fake.world().open.unwrap();
    assert_ne!(old, new);
    assert!(matches!(
        client.state(),
        Some(SessionState::Connected {
            new_session: false,
            ..
        })
    ));
    // A late reader of the old socket reports bytes and its end: nothing happens.
    driver.input(old, b"\xff\xff\xff\xff garbage");
    driver.disconnected(old);
    assert_eq!(
        fake.world().connects.len(),
        0,
        "no reconnect for a stale report"
    );
    let get = client.exists("/").send();
    settle(&driver, &fake);
    assert!(get.wait().unwrap().is_some());
    assert_eq!(client.stats().reconnects, 1);
}

#[test]
fn callbacks_and_listeners_run_outside_the_lock() {
    let (client, driver, fake) = connected();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (c, s) = (client.clone(), seen.clone());
    // With the inline dispatcher these callbacks run during the step that
    // produced them; calling the client inside would deadlock under the lock.
    let _exists = client
        .exists("/n")
        .watch(move |event| {
            let _again = c.exists("/n").send();
            lock(&s).push((event.event_type, c.state().is_some()));
        })
        .send();
    let s = seen.clone();
    let c = client.clone();
    client.add_listener(move |_| {
        lock(&s).push((EventType::None, c.state().is_some()));
    });
    settle(&driver, &fake);
    let create = client.create("/n").send();
    settle(&driver, &fake);
    create.wait().unwrap();
    assert_eq!(*lock(&seen), [(EventType::NodeCreated, true)]);
    drop(client.close());
    settle(&driver, &fake);
    assert_eq!(lock(&seen).len(), 2, "the listener heard Closed");
}

#[test]
fn a_listener_that_says_it_is_done_is_not_called_again() {
    let (client, driver, fake) = start(|f| Box::new(Queued(f)));
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    let id = client.add_listener_while(move |state| {
        lock(&h).push(state);
        false
    });
    settle(&driver, &fake);
    // Suspended and Connected again, queued before the first call runs.
    let conn = fake.world().open.unwrap();
    fake.world().server.disconnect();
    driver.disconnected(conn);
    settle(&driver, &fake);
    let jobs = std::mem::take(&mut fake.world().jobs);
    assert!(jobs.len() >= 3, "{} calls queued", jobs.len());
    for job in jobs {
        job();
    }
    assert_eq!(lock(&heard).len(), 1, "{:?}", lock(&heard));
    assert!(!client.remove_listener(id), "it removed itself");
    drop(client.close());
    settle(&driver, &fake);
    assert!(fake.world().jobs.is_empty(), "no call for Closed");
}

#[test]
fn callbacks_are_dispatched_in_order() {
    let (client, driver, fake) = start(|f| Box::new(Queued(f)));
    settle(&driver, &fake);
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    client.add_listener(move |state| lock(&o).push(format!("{state:?}")));
    for name in ["a", "b"] {
        let o = order.clone();
        let _exists = client
            .exists(format!("/{name}"))
            .watch(move |e| lock(&o).push(e.path.clone()))
            .send();
    }
    settle(&driver, &fake);
    let created = [client.create("/b").send(), client.create("/a").send()];
    settle(&driver, &fake);
    for c in created {
        c.wait().unwrap();
    }
    drop(client.close());
    settle(&driver, &fake);
    let jobs = std::mem::take(&mut fake.world().jobs);
    for job in jobs {
        job();
    }
    assert_eq!(*lock(&order), ["/b", "/a", "Closed { session_id: 257 }"]);
}

#[test]
fn sleep_waits_for_the_driver_clock_and_wakes_the_adapter() {
    let (client, driver, fake) = connected();
    let wakes = fake.world().wakes;
    let nap = client.sleep(Duration::from_millis(100));
    assert_eq!(
        fake.world().wakes,
        wakes + 1,
        "an earlier deadline wakes the adapter's timer"
    );
    let at = driver.deadline().unwrap();
    assert_eq!(at, fake.world().now + Duration::from_millis(100));
    let nap = nap.wait_timeout(Duration::from_millis(1));
    assert_eq!(nap, Err(Error::Timeout), "the driver's clock has not moved");
    let again = client.sleep(Duration::from_millis(100));
    fake.world().now += Duration::from_millis(100);
    driver.timeout();
    assert_eq!(again.wait(), Ok(()));
}

#[test]
fn connect_within_hands_back_a_connected_client_or_closes_it() {
    let (client, driver, fake) = start(|_| Box::new(Inline));
    let connecting = client.connect_within(Duration::from_secs(2));
    settle(&driver, &fake);
    let up = connecting.wait().unwrap();
    assert!(up.is_connected());

    // A server that never answers: the clock passes the timeout.
    let (client, driver, fake) = start(|_| Box::new(Inline));
    let watcher = client.clone();
    let connecting = client.connect_within(Duration::from_secs(2));
    fake.world().now += Duration::from_secs(2);
    driver.timeout();
    assert_eq!(connecting.wait().map(drop), Err(Error::Timeout));
    settle(&driver, &fake);
    assert!(
        matches!(watcher.state(), Some(SessionState::Closed { .. })) || watcher.is_closed(),
        "the client given up is closed: {:?}",
        watcher.state()
    );
}

#[test]
fn four_letter_words_are_checked_before_and_after() {
    let (client, _driver, _fake) = connected();
    assert_eq!(client.command("ruok").wait().as_deref(), Ok("imok"));
    let version = client.server_version().wait().unwrap();
    assert_eq!(
        version.to_string(),
        "3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f"
    );
    assert_eq!(
        client.command("mntr").wait(),
        Err(FourLetterWordError::NotAllowed("mntr").into())
    );
    for bad in ["kill", "", "srvr\n", "SRVR"] {
        assert_eq!(
            client.command(bad).wait(),
            Err(FourLetterWordError::Unknown(bad.into()).into())
        );
    }
}

#[test]
fn a_state_stream_nobody_reads_stays_bounded_and_says_so() {
    let (client, driver, fake) = connected();
    let states = client.states();
    // Cut and reconnect until more changes (Suspended, then Connected)
    // happened than the stream holds.
    while client.stats().reconnects as usize * 2 <= STREAM_CAPACITY {
        let conn = fake.world().open.unwrap();
        fake.world().server.disconnect();
        driver.disconnected(conn);
        // Past any pause before reconnecting, well inside the session timeout.
        fake.world().now += Duration::from_secs(2);
        driver.timeout();
        settle(&driver, &fake);
    }
    let seen: Vec<_> = std::iter::from_fn(|| states.try_recv()).collect();
    assert_eq!(
        seen.len(),
        STREAM_CAPACITY + 1,
        "the oldest, then the marker"
    );
    assert!(matches!(seen[0], Ok(SessionState::Suspended { .. })));
    assert_eq!(seen.last(), Some(&Err(Overflowed)));
    assert!(seen[..STREAM_CAPACITY].iter().all(Result::is_ok));
    // Past the marker, changes arrive again.
    drop(client.close());
    settle(&driver, &fake);
    assert!(matches!(
        states.try_recv(),
        Some(Ok(SessionState::Closed { .. }))
    ));
}

#[test]
fn a_task_can_be_polled_from_a_loop_without_blocking() {
    let (client, driver, fake) = connected();
    let mut ensure = client.ensure_path("/l/m");
    let mut polls = 0;
    // A loop that never blocks: settle the I/O, then ask.
    while !ensure.is_ready() {
        settle(&driver, &fake);
        polls += 1;
        assert!(polls < 100, "the task makes progress with each poll");
    }
    assert!(polls > 1, "several round trips");
    assert!(fake.world().server.exists("/l/m"));
    assert!(ensure.is_ready(), "still ready");
    assert_eq!(ensure.wait(), Ok(()), "and the result is kept");
}

#[test]
fn closing_completes_everything_and_refuses_more() {
    let (client, driver, fake) = connected();
    let sleep = client.sleep(Duration::from_secs(60));
    let (_, watch) = client.exists("/w").send_watched();
    settle(&driver, &fake);
    let closing = client.close();
    settle(&driver, &fake);
    assert_eq!(closing.wait(), Ok(()));
    assert_eq!(sleep.wait(), Err(Error::Closed));
    let last = watch.wait();
    assert_eq!(last.map(|e| e.state), Some(KeeperState::Closed));
    assert!(driver.is_closed());
    assert_eq!(client.get("/").send().wait(), Err(Error::Closed));
    assert_eq!(client.close().wait(), Ok(()));
    assert_eq!(client.states().recv(), None);
}

#[test]
fn dropping_the_last_handle_closes_the_session() {
    let (client, driver, fake) = connected();
    let other = client.clone();
    drop(client);
    settle(&driver, &fake);
    assert!(!driver.is_closed(), "a clone is still alive");
    drop(other);
    settle(&driver, &fake);
    assert!(driver.is_closed());
}

#[test]
fn checks_fail_before_anything_is_sent() {
    let (client, driver, fake) = connected();
    let sent = fake.world().server.received.len();
    let err = |e| Err::<Stat, _>(Error::InvalidArgument(e));
    assert_eq!(
        client.set_acls("/a", vec![]).send().wait(),
        err(ArgumentError::EmptyAcl)
    );
    assert!(matches!(
        client.get("a").send().wait(),
        Err(Error::InvalidPath(_))
    ));
    settle(&driver, &fake);
    assert_eq!(fake.world().server.received.len(), sent);
}

#[test]
fn multi_step_operations_start_when_called() {
    let (client, driver, fake) = connected();
    let ensure = client.ensure_path("/a/b");
    let retried = client.retry_with(&crate::retry::RetryPolicy::default(), |c| {
        c.create("/r").send()
    });
    let deleted = client.delete("/missing").recursive().send();
    settle(&driver, &fake);
    {
        let w = fake.world();
        assert!(w.server.exists("/r"), "sent before anyone waited");
        let ops: Vec<_> = w.server.received.iter().map(|(_, r)| r.op_code()).collect();
        // ensure_path reads first; the recursive delete lists first.
        assert!(ops.contains(&crate::proto::OpCode::Exists), "{ops:?}");
        assert!(ops.contains(&crate::proto::OpCode::GetChildren), "{ops:?}");
    }
    // ensure_path's later steps run while it is waited for.
    let ensure = std::thread::spawn(move || ensure.wait());
    while !ensure.is_finished() {
        settle(&driver, &fake);
        std::thread::yield_now();
    }
    assert_eq!(ensure.join().unwrap(), Ok(()));
    assert!(fake.world().server.exists("/a/b"));
    assert_eq!(retried.wait(), Ok("/r".into()));
    assert_eq!(deleted.wait(), Ok(()));
}

/// Moves the fake clock on 1 ms at a time, firing what is due, until the
/// thread `waiting` is done (true) or `limit` has passed (false).
fn tick_until_finished<T>(
    waiting: &std::thread::JoinHandle<T>,
    driver: &Driver,
    fake: &Fake,
    limit: Duration,
) -> bool {
    let mut ticked = Duration::ZERO;
    while !waiting.is_finished() {
        if ticked >= limit {
            return false;
        }
        fake.world().now += Duration::from_millis(1);
        ticked += Duration::from_millis(1);
        driver.timeout();
        settle(driver, fake);
        std::thread::yield_now();
    }
    true
}

/// `Client::retry` runs under the configured `command_retry`, as kazoo's
/// `client.retry` runs under its client's policy.
#[test]
fn retry_runs_under_the_configured_command_policy() {
    let (client, driver, fake) = start_with(
        |_| Box::new(Inline),
        |c| {
            c.command_retry = crate::retry::RetryPolicy::default()
                .max_tries(2)
                .delay(Duration::from_millis(1));
        },
    );
    settle(&driver, &fake);
    let tries = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = tries.clone();
    let retried = client.retry(move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::ready(Err::<(), _>(Error::ConnectionLoss))
    });
    let waited = std::thread::spawn(move || retried.wait());
    // The default policy would retry for ever.
    assert!(
        tick_until_finished(&waited, &driver, &fake, Duration::from_secs(100)),
        "still retrying after 100 s"
    );
    let gave_up = Error::RetryFailed {
        attempts: 2,
        last: Box::new(Error::ConnectionLoss),
    };
    assert_eq!(waited.join().unwrap(), Err(gave_up));
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// A retried closure that panics takes down only the thread waiting for
/// it; the driver and the session carry on.
#[test]
fn a_panicking_retry_closure_stays_with_its_caller() {
    let (client, driver, fake) = connected();
    let mut tries = 0;
    let policy = crate::retry::RetryPolicy::default()
        .delay(Duration::from_millis(1))
        .max_jitter(0.0);
    let retried = client.retry_with(&policy, move |_| {
        tries += 1;
        assert!(tries < 2, "the closure panics on its second try");
        std::future::ready(Err::<(), _>(Error::ConnectionLoss))
    });
    let waited = std::thread::spawn(move || retried.wait());
    // Past its second try; then the panic takes the thread down.
    tick_until_finished(&waited, &driver, &fake, Duration::from_secs(10));
    assert!(
        waited.join().is_err(),
        "the panic reached the waiting thread"
    );
    let alive = client.exists("/").send();
    settle(&driver, &fake);
    assert!(alive.wait().is_ok(), "the session carries on");
    assert!(!driver.is_closed());
}

#[test]
fn auth_failure_ends_everything_waiting() {
    let (client, driver, fake) = connected();
    fake.world().server.reject_auth = true;
    let states = client.states();
    let auth = client.add_auth("digest", "u:bad");
    let closing = client.close();
    settle(&driver, &fake);
    assert_eq!(auth.wait(), Err(Error::AuthFailed));
    assert_eq!(
        closing.wait(),
        Ok(()),
        "close completes even though auth ended the session first"
    );
    assert!(matches!(
        states.recv(),
        Some(Ok(SessionState::Lost {
            reason: crate::session::LostReason::AuthFailed,
            ..
        }))
    ));
    assert_eq!(states.recv(), None, "the stream ends");
    assert_eq!(client.wait_connected().wait(), Err(Error::AuthFailed));
    assert!(driver.is_closed());
}

#[test]
fn a_callback_holding_the_last_client_is_dropped_outside_the_lock() {
    let (client, driver, fake) = connected();
    let held = client.clone();
    // The read fails, so its watcher (and the clone it holds) is let go of.
    let read = client
        .get("/missing")
        .watch(move |_| {
            let _ = held.state();
        })
        .send();
    drop(client);
    settle(&driver, &fake); // would deadlock if the last Client died under the lock
    assert_eq!(read.wait().map(drop), Err(Error::NoNode));
    settle(&driver, &fake);
    assert!(
        driver.is_closed(),
        "the last handle is gone: the session closed"
    );
}

#[test]
fn sleeping_forever_does_not_overflow() {
    let (client, driver, fake) = connected();
    let forever = client.sleep(Duration::MAX);
    drop(client.close());
    settle(&driver, &fake);
    assert_eq!(forever.wait(), Err(Error::Closed));
}

#[test]
fn a_dropped_sleep_cancels_its_alarm() {
    let (client, driver, fake) = connected();
    let long = client.sleep(Duration::from_secs(3600));
    let kept = client.sleep(Duration::from_millis(10));
    assert_eq!(client.stats().alarms, 2);
    drop(long);
    assert_eq!(
        client.stats().alarms,
        1,
        "the dropped sleep left nothing behind"
    );
    fake.world().now += Duration::from_millis(10);
    driver.timeout();
    assert_eq!(kept.wait(), Ok(()));
    assert_eq!(client.stats().alarms, 0);
    settle(&driver, &fake);
}

/// A version below -1 is a real one: ZooKeeper's 32-bit versions wrap
/// from `i32::MAX` to `i32::MIN`, and a node there must still be written
/// conditionally (the counter recipe does).
#[test]
fn wrapped_versions_are_sent_as_they_are() {
    let (client, driver, fake) = connected();
    let set = client.set("/a", "x").version(-3).send();
    let delete = client.delete("/a").version(i32::MIN).send();
    let tx = client.transaction().check("/a").version(-2).commit();
    settle(&driver, &fake);
    drop((set, delete, tx));
    let versions: Vec<i32> = fake
        .world()
        .server
        .received
        .iter()
        .filter_map(|(_, r)| match r {
            Request::SetData(s) => Some(s.version),
            Request::Delete(d) => Some(d.version),
            Request::Multi(m) => m.ops.iter().find_map(|op| match op {
                crate::proto::MultiOp::Check(c) => Some(c.version),
                _ => None,
            }),
            _ => None,
        })
        .collect();
    assert_eq!(versions, [-3, i32::MIN, -2]);
}

#[test]
fn set_hosts_keeps_the_session_and_moves_only_when_it_must() {
    let (client, driver, fake) = connected();
    let id = client.session_id();
    let first = client.current_host().unwrap();
    let reconnects = client.stats().reconnects;
    // The current server stays on the list: nothing moves.
    client
        .set_hosts(&format!("{}:{},zk7:2181", first.host, first.port))
        .unwrap();
    settle(&driver, &fake);
    assert_eq!(client.stats().reconnects, reconnects);
    assert_eq!(client.current_host(), Some(first.clone()));
    // Taken off the list: the session resumes on the new one.
    client.set_hosts("zk9:2181").unwrap();
    settle(&driver, &fake);
    assert_eq!(client.current_host().unwrap().host, "zk9");
    assert_eq!(client.session_id(), id, "the same session");
    assert!(matches!(
        client.state(),
        Some(SessionState::Connected {
            new_session: false,
            ..
        })
    ));
    assert!(client
        .recent_disconnects()
        .iter()
        .any(|(h, r)| *h == first && *r == DisconnectReason::HostsChanged));
    assert_eq!(
        client.set_hosts(""),
        Err(Error::Config(crate::ConfigError::EmptyHostList))
    );
    assert_eq!(
        client.set_hosts("zk9:2181/elsewhere"),
        Err(Error::Config(crate::ConfigError::ChrootChange))
    );
    assert_eq!(client.current_host().unwrap().host, "zk9", "unchanged");
}

#[test]
fn a_request_unanswered_past_its_timeout_fails_and_the_session_lives_on() {
    let (client, driver, fake) = start_with(
        |_| Box::new(Inline),
        |c| c.request_timeout = Some(Duration::from_secs(1)),
    );
    settle(&driver, &fake);
    let create = client.create("/slow").send();
    // The server has the request, but its answer is not delivered yet.
    fake.world().now += Duration::from_secs(1);
    driver.timeout();
    assert_eq!(create.wait(), Err(Error::RequestTimeout));
    // The late answer is dropped; the session and the next request are fine.
    settle(&driver, &fake);
    assert!(client.is_connected());
    let get = client.get("/slow").send();
    settle(&driver, &fake);
    assert!(get.wait().is_ok(), "the create was applied after all");
    // An answered request leaves no alarm behind.
    let quick = client.exists("/").send();
    settle(&driver, &fake);
    assert!(quick.wait().unwrap().is_some());
    let core = lock(&client.inner.core);
    assert!(core.deadlines.is_empty() && core.deadline_of.is_empty());
}

#[test]
fn a_timed_out_request_never_sent_is_taken_back() {
    let (client, driver, fake) = start_with(
        |_| Box::new(Inline),
        |c| c.request_timeout = Some(Duration::from_secs(1)),
    );
    // Not connected yet: the create waits in the session's queue.
    let create = client.create("/never").send();
    fake.world().now += Duration::from_secs(1);
    driver.timeout();
    assert_eq!(create.wait(), Err(Error::RequestTimeout));
    settle(&driver, &fake);
    assert!(client.is_connected());
    assert!(
        !fake.world().server.exists("/never"),
        "a retry after the time-out cannot make it run twice"
    );
}

#[test]
fn a_timed_out_request_lets_go_of_its_watch() {
    let (client, driver, fake) = start_with(
        |_| Box::new(Inline),
        |c| c.request_timeout = Some(Duration::from_secs(1)),
    );
    settle(&driver, &fake);
    let create = client.create("/w").send();
    settle(&driver, &fake);
    create.wait().unwrap();
    let fired = Arc::new(Mutex::new(0));
    let f = fired.clone();
    let get = client.get("/w").watch(move |_| *lock(&f) += 1).send();
    fake.world().now += Duration::from_secs(1);
    driver.timeout();
    assert_eq!(get.wait().map(drop), Err(Error::RequestTimeout));
    settle(&driver, &fake); // the late answer, with the watch set there
    let set = client.set("/w", "changed").send();
    settle(&driver, &fake);
    set.wait().unwrap();
    assert_eq!(*lock(&fired), 0, "the caller was told it failed");
}

#[test]
fn fences_add_up_and_go_first() {
    let (client, driver, fake) = connected();
    let tx = Transaction::from(client.transaction().set("/x", "1"))
        .fenced_by("/lock-a")
        .fenced_by("/lock-b")
        .commit();
    settle(&driver, &fake);
    drop(tx);
    let ops: Vec<String> = fake
        .world()
        .server
        .received
        .iter()
        .find_map(|(_, r)| match r {
            Request::Multi(m) => Some(m.ops.iter().map(|op| format!("{op:?}")).collect()),
            _ => None,
        })
        .unwrap();
    assert_eq!(ops.len(), 3, "{ops:?}");
    assert!(
        ops[0].contains("/lock-a") && ops[0].starts_with("Check"),
        "{ops:?}"
    );
    assert!(
        ops[1].contains("/lock-b") && ops[1].starts_with("Check"),
        "{ops:?}"
    );
    assert!(ops[2].starts_with("SetData"), "{ops:?}");
}

#[test]
fn connect_within_reports_why_the_session_ended_not_a_time_out() {
    let (client, driver, fake) = start(|_| Box::new(Inline));
    let other = client.clone();
    let connecting = client.connect_within(Duration::from_secs(2));
    // Closed by another handle before any server answered.
    drop(other.close());
    settle(&driver, &fake);
    assert_eq!(connecting.wait().map(drop), Err(Error::Closed));
}

fn remove_watches_sent(fake: &Fake) -> Vec<(String, WatcherType)> {
    fake.world()
        .server
        .received
        .iter()
        .filter_map(|(_, r)| match r {
            Request::RemoveWatches(w) => Some((w.path.clone(), w.watcher_type)),
            _ => None,
        })
        .collect()
}

/// A dropped one-shot watch must not take away the server's watch that a
/// read still on its way needs: it was sent (or queued) before the
/// removeWatches, so an `Any` removal, or one of the same kind, would
/// undo its registration (seen as a DataWatch that stopped hearing
/// changes while a ChildrenWatch on the same path re-listed).
#[test]
fn a_dropped_watch_spares_the_watch_of_a_read_in_flight() {
    let (client, driver, fake) = connected();
    let created = client.create("/d").send();
    settle(&driver, &fake);
    created.wait().unwrap();
    let (_, children_watch) = client.get_children("/d").send_watched();
    let (_, data_watch) = client.get("/d").send_watched();
    settle(&driver, &fake);
    // Another kind in flight: only the children watch goes.
    let (_, next_data_watch) = client.get("/d").send_watched();
    drop(children_watch);
    drop(data_watch);
    settle(&driver, &fake);
    assert_eq!(
        remove_watches_sent(&fake),
        [("/d".to_string(), WatcherType::Children)],
        "the data watch is still wanted by the read sent before"
    );
    drop(next_data_watch);
    settle(&driver, &fake);
    assert_eq!(
        remove_watches_sent(&fake)[1..],
        [("/d".to_string(), WatcherType::Any)]
    );
}

/// A persistent watch whose stream is dropped is removed from the session
/// and the server once no other watcher needs it; one whose `add_watch`
/// task is dropped before it resolved too.
#[test]
fn an_abandoned_watch_stream_is_removed_here_and_on_the_server() {
    let (client, driver, fake) = connected();
    let created = client.create("/p").send();
    settle(&driver, &fake);
    created.wait().unwrap();
    let keep = client.add_watch("/p", AddWatchMode::Persistent).stream();
    let other = client.add_watch("/p", AddWatchMode::Persistent).stream();
    settle(&driver, &fake);
    let (keep, other) = (keep.wait().unwrap(), other.wait().unwrap());
    drop(other);
    settle(&driver, &fake);
    assert_eq!(
        remove_watches_sent(&fake),
        [],
        "the other stream still needs it"
    );
    drop(keep);
    settle(&driver, &fake);
    assert_eq!(
        remove_watches_sent(&fake),
        [("/p".to_string(), WatcherType::Any)],
        "nothing else watches /p: Any, which 3.8 servers also accept"
    );
    // Abandoned before the server even answered the addWatch.
    drop(
        client
            .add_watch("/q", AddWatchMode::PersistentRecursive)
            .stream(),
    );
    settle(&driver, &fake);
    assert_eq!(
        remove_watches_sent(&fake)[1..],
        [("/q".to_string(), WatcherType::Any)]
    );
    // Nothing is re-armed on the next connection.
    let open = fake.world().open.unwrap();
    fake.world().server.disconnect();
    fake.world().server.received.clear();
    driver.disconnected(open);
    settle(&driver, &fake);
    let rearmed = fake
        .world()
        .server
        .received
        .iter()
        .any(|(_, r)| matches!(r, Request::SetWatches(_) | Request::SetWatches2(_)));
    assert!(!rearmed);
}

/// Runs `f` on a thread of its own; fails (instead of hanging the suite)
/// if it does not finish in time: a deadlock.
fn finishes_in_time(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "{what}: deadlocked"
    );
}

/// With a dispatcher that runs jobs inline, a callback that makes another
/// callback run (a watch callback whose own write fires a second watch)
/// must not deadlock on the dispatch order lock.
#[test]
fn inline_dispatch_of_a_callback_that_triggers_a_callback() {
    finishes_in_time("nested inline callbacks", || {
        let (client, driver, fake) = connected();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let _b = client
            .exists("/b")
            .watch(move |e| lock(&s).push(e.path))
            .send();
        let (c, d, f, s) = (client.clone(), driver.clone(), fake.clone(), seen.clone());
        let _a = client
            .exists("/a")
            .watch(move |e| {
                lock(&s).push(e.path);
                let created = c.create("/b").send();
                settle(&d, &f);
                created.wait().unwrap();
            })
            .send();
        settle(&driver, &fake);
        let created = client.create("/a").send();
        settle(&driver, &fake);
        created.wait().unwrap();
        settle(&driver, &fake);
        assert_eq!(*lock(&seen), ["/a", "/b"]);
    });
}

/// Wakers run after the client's lock is released: a waker that itself
/// uses the client (as an executor polling on the spot may) must not
/// deadlock.
#[test]
fn wakers_are_woken_outside_the_lock() {
    struct Reentrant(Client, Arc<Mutex<u32>>);
    impl std::task::Wake for Reentrant {
        fn wake(self: Arc<Self>) {
            let _ = self.0.state(); // takes the client's lock
            *lock(&self.1) += 1;
        }
    }
    finishes_in_time("a waker that takes the client's lock", || {
        let (client, driver, fake) = connected();
        let woken = Arc::new(Mutex::new(0));
        let waker = std::task::Waker::from(Arc::new(Reentrant(client.clone(), woken.clone())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut get = std::pin::pin!(client.get("/").send());
        assert!(std::future::Future::poll(get.as_mut(), &mut cx).is_pending());
        settle(&driver, &fake);
        assert_eq!(*lock(&woken), 1);
        assert!(std::future::Future::poll(get.as_mut(), &mut cx).is_ready());
    });
}

/// Waiting "forever" is `Duration::MAX`, not a panic in deadline arithmetic.
#[test]
fn wait_timeout_accepts_duration_max() {
    let (client, driver, fake) = connected();
    let get = client.get("/").send();
    let sleep = client.sleep(Duration::MAX);
    settle(&driver, &fake);
    assert!(get.wait_timeout(Duration::MAX).is_ok());
    drop(client.close());
    settle(&driver, &fake);
    assert_eq!(sleep.wait_timeout(Duration::MAX), Err(Error::Closed));
}

/// A dropped state stream is forgotten without waiting for a state
/// change: a process whose connection never drops, taking a lock (whose
/// waits each open one) every second, must not grow for ever.
#[test]
fn dropped_state_streams_are_forgotten_while_nothing_changes() {
    let (client, driver, fake) = connected();
    let live = client.states();
    for _ in 0..1000 {
        drop(client.states());
    }
    settle(&driver, &fake);
    let kept = lock(&client.inner.core).state_channels.len();
    assert!(kept <= 2, "{kept} state channels kept for one live stream");
    drop(live);
}

/// Read-only: the client layer runs the session's `isro` probes through
/// the adapter's four-letter word and hands the answers back; "rw" moves
/// the session to that host.
#[test]
fn read_only_probes_run_through_the_adapter() {
    let (client, driver, fake) = start_with(|_| Box::new(Inline), |c| c.read_only = true);
    fake.world().server.handshake = crate::session::tests::sim::Handshake::AcceptReadOnly;
    settle(&driver, &fake);
    assert!(matches!(
        client.state(),
        Some(SessionState::ReadOnly { .. })
    ));
    let on = client.current_host().unwrap();
    for _ in 0..15 {
        fake.world().now += Duration::from_millis(100);
        driver.timeout();
        settle(&driver, &fake);
    }
    let probed = fake.world().probed.clone();
    assert!(!probed.is_empty(), "probes went out");
    assert!(probed.iter().all(|h| *h != on), "{probed:?}");
    assert!(
        matches!(client.state(), Some(SessionState::ReadOnly { .. })),
        "\"ro\" keeps it"
    );
    {
        let mut w = fake.world();
        w.isro = "rw";
        w.server.handshake = crate::session::tests::sim::Handshake::Accept;
    }
    let before = fake.world().probed.len();
    while fake.world().probed.len() == before {
        fake.world().now += Duration::from_millis(100);
        driver.timeout();
        settle(&driver, &fake);
    }
    settle(&driver, &fake);
    assert!(
        matches!(client.state(), Some(SessionState::Connected { .. })),
        "{:?}",
        client.state()
    );
    let moved_to = fake.world().probed.last().cloned();
    assert_eq!(client.current_host(), moved_to);
    assert!(client
        .recent_disconnects()
        .iter()
        .any(|(_, r)| *r == DisconnectReason::ReadWriteServerFound));
}

#[cfg(feature = "tracing")]
#[test]
fn states_and_connection_ends_are_traced_without_secrets() {
    thread_local! {
        /// Spans entered on this thread and not yet left.
        static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    /// Every event's fields as text (marked `in-span` when recorded inside
    /// a span), and every span's fields.
    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>, Mutex<Vec<String>>);
    struct Fields(String);
    impl tracing::field::Visit for Fields {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!("{}={value:?} ", field.name()));
        }
    }
    impl tracing::Subscriber for Collect {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            let mut fields = Fields(format!("{} ", span.metadata().name()));
            span.record(&mut fields);
            lock(&self.1).push(fields.0);
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
            let mut fields = Fields(String::new());
            values.record(&mut fields);
            lock(&self.1).push(fields.0);
        }
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = Fields(format!("{} ", event.metadata().target()));
            if DEPTH.with(|d| d.get()) > 0 {
                fields.0.push_str("in-span ");
            }
            event.record(&mut fields);
            lock(&self.0).push(fields.0);
        }
        fn enter(&self, _: &tracing::span::Id) {
            DEPTH.with(|d| d.set(d.get() + 1));
        }
        fn exit(&self, _: &tracing::span::Id) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    // The global default, not a scoped one: callsites first hit by tests
    // running beside this one would otherwise cache "nobody listens".
    // Events from those tests land here too, which the checks allow.
    let collect = Arc::new(Collect::default());
    tracing::subscriber::set_global_default(collect.clone()).expect("the only subscriber");
    {
        let (client, driver, fake) = start_with(
            |_| Box::new(Inline),
            |c| {
                c.auth
                    .push(("digest".into(), crate::Secret::from("bob:hunter2")))
            },
        );
        settle(&driver, &fake);
        let conn = fake.world().open.unwrap();
        fake.world().server.disconnect();
        driver.disconnected(conn);
        settle(&driver, &fake);
        // Answered 1.5 s after it was asked: past a ping interval (1 s).
        let slow = client.exists("/").send();
        fake.world().now += Duration::from_millis(1500);
        settle(&driver, &fake);
        assert!(slow.wait().is_ok());
        drop(client.close());
        settle(&driver, &fake);
    }
    let lines = lock(&collect.0).clone();
    let spans = lock(&collect.1).clone();
    assert!(
        spans.iter().any(|s| s.starts_with("session ")),
        "{spans:#?}"
    );
    assert!(spans.iter().any(|s| s.contains("host=zk")), "{spans:#?}");
    assert!(
        spans.iter().any(|s| s.contains("session_id=0x")),
        "{spans:#?}"
    );
    let has = |words: &[&str]| lines.iter().any(|l| words.iter().all(|w| l.contains(w)));
    assert!(
        has(&["kazoo", "in-span", "connecting", "host=zk"]),
        "{lines:#?}"
    );
    assert!(
        has(&["credentials=1", "watches=0", "session resumed"]),
        "{lines:#?}"
    );
    assert!(
        has(&["op=Exists", "took_ms=15", "slow request"]),
        "{lines:#?}"
    );
    assert!(has(&["session state changed", "Connected"]), "{lines:#?}");
    assert!(has(&["session state changed", "Suspended"]), "{lines:#?}");
    assert!(has(&["connection ended", "Closed"]), "{lines:#?}");
    assert!(
        !lines.iter().any(|l| l.contains("hunter2")),
        "no secret in any event: {lines:#?}"
    );
}
