//! The recipes (locks, semaphores, elections, leases) on every adapter:
//! kazoo's behaviours, contention, loss, cleanup, and the faults they
//! must survive. Faults that only the embedded server can make (a lost
//! create reply, a replaced session, a counter near the wrap) run there
//! whatever the backend.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use kazoo::recipe::{LossPolicy, RecipeError, Status};
use kazoo::session::{Config, SessionState};
use kazoo::{Client, Error};
use kazoo_testing::{expire_session, Proxy};

use super::{Adapter, Backend, Ctx, WAIT};

/// Children of `path` (empty if it does not exist).
pub(super) fn children(client: &Client, path: &str) -> Vec<String> {
    match client.get_children(path).send().wait() {
        Ok(mut c) => {
            c.sort();
            c
        }
        Err(Error::NoNode) => Vec::new(),
        Err(e) => panic!("listing {path}: {e}"),
    }
}

/// Waits until `path` has `n` children (cleanup runs in the background).
pub(super) fn wait_children(client: &Client, path: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let c = children(client, path);
        if c.len() == n {
            return;
        }
        assert!(Instant::now() < deadline, "{path} still has {c:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A client through `proxy` on `ctx`'s chroot, with a short session timeout.
pub(super) fn through<A: Adapter>(proxy: &Proxy, ctx: &Ctx, timeout: Duration) -> Client {
    let config = Config::builder(&format!("{}{}", proxy.addr(), ctx.chroot))
        .session_timeout(timeout)
        .build()
        .unwrap();
    let client = A::start(config);
    client
        .wait_connected()
        .wait_timeout(WAIT)
        .expect("connected");
    client
}

/// Waits until `client`'s session has no watch left on the server
/// (Curator's test base checks the same: a recipe that timed out, was
/// cancelled or released must not leave one to be replayed forever).
pub(super) fn no_watches_left(ctx: &Ctx, client: &Client) {
    let session = client.session_id();
    let deadline = Instant::now() + WAIT;
    while kazoo_testing::watch_count(ctx.server.addr(), session).unwrap() != 0 {
        assert!(
            Instant::now() < deadline,
            "session {session:#x} left watches:\n{}",
            kazoo_testing::four_letter_word(ctx.server.addr(), "wchc").unwrap()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `future` for `d`, then drops it if it has not finished.
pub(super) fn poll_for<F: std::future::Future>(future: F, d: Duration) -> Option<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime
        .block_on(async { tokio::time::timeout(d, future).await })
        .ok()
}

/// Polls until `f` is true.
pub(super) fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

pub fn lock_excludes_times_out_and_hands_over<A: Adapter>() {
    let ctx = Ctx::new::<A>("lock-basic");
    let other = ctx.another::<A>();
    let a = ctx.client.lock("/app/lock").id("alpha");
    let b = other.lock("/app/lock").id("beta");
    let guard = a.acquire().wait_timeout(WAIT).unwrap();
    assert_eq!(guard.status(), Status::Held);
    assert!(guard.path().starts_with("/app/lock/"));
    assert!(guard.path().contains("__lock__"), "{}", guard.path());
    let (_, stat) = ctx.client.get(guard.path()).send().wait().unwrap();
    assert_eq!(guard.fencing_token(), stat.czxid);
    assert_eq!(stat.ephemeral_owner, ctx.client.session_id());

    // Non-blocking and timed attempts fail and leave nothing behind.
    assert!(b.try_acquire().wait_timeout(WAIT).unwrap().is_none());
    assert_eq!(
        b.acquire_timeout(Duration::from_millis(300))
            .wait_timeout(WAIT)
            .unwrap_err(),
        Error::LockTimeout
    );
    wait_children(&ctx.client, "/app/lock", 1);
    assert_eq!(a.contenders().wait().unwrap(), ["alpha"]);
    no_watches_left(&ctx, &other);

    // A waiter is queued behind the holder, then granted on release.
    let waiting = {
        let b = b.clone();
        thread::spawn(move || b.acquire().wait_timeout(WAIT))
    };
    eventually("beta queued", || {
        a.contenders().wait().unwrap() == ["alpha", "beta"]
    });
    let token = guard.fencing_token();
    guard.release().wait_timeout(WAIT).unwrap();
    let second = waiting.join().unwrap().unwrap();
    assert!(second.fencing_token() > token, "tokens grow");
    assert!(second.sequence() > 0);
    assert_eq!(b.contenders().wait().unwrap(), ["beta"]);
    // Dropping the guard releases in the background.
    drop(second);
    wait_children(&ctx.client, "/app/lock", 0);
    // Closing the client releases too, and the guard says so.
    let closing = ctx.another::<A>();
    let held = closing
        .lock("/app/lock")
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    closing.close().wait_timeout(WAIT).unwrap();
    assert_eq!(held.status(), Status::Lost);
    wait_children(&ctx.client, "/app/lock", 0);
}

pub fn cancelled_and_dropped_acquires_leave_nothing<A: Adapter>() {
    let ctx = Ctx::new::<A>("lock-cancel");
    let other = ctx.another::<A>();
    let guard = ctx.client.lock("/l").acquire().wait_timeout(WAIT).unwrap();
    let lock = other.lock("/l").id("waiter");
    // cancel() from another thread ends a blocking acquire.
    let waiting = {
        let lock = lock.clone();
        thread::spawn(move || lock.acquire().wait())
    };
    wait_children(&ctx.client, "/l", 2);
    lock.cancel();
    assert_eq!(waiting.join().unwrap().unwrap_err(), Error::Cancelled);
    wait_children(&ctx.client, "/l", 1);
    // Dropping an acquire future half-way (async cancellation).
    let task = lock.acquire();
    let polled = poll_for(task, Duration::from_millis(300));
    assert!(polled.is_none(), "acquired while held");
    wait_children(&ctx.client, "/l", 1);
    no_watches_left(&ctx, &other);
    // A later acquire clears the cancel.
    drop(guard);
    let g = lock.acquire_timeout(WAIT).wait_timeout(WAIT).unwrap();
    g.release().wait().unwrap();
    wait_children(&ctx.client, "/l", 0);
    no_watches_left(&ctx, &other);
    no_watches_left(&ctx, &ctx.client);
}

/// 8 clients × `rounds` acquisitions; each holder increments a counter
/// through a fenced transaction and checks no one else is inside.
pub fn mutual_exclusion_under_contention<A: Adapter>() {
    let ctx = Ctx::new::<A>("lock-contention");
    const CLIENTS: u32 = 8;
    let rounds: u32 = std::env::var("KAZOO_LOCK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    ctx.client
        .create("/counter")
        .data("0")
        .send()
        .wait()
        .unwrap();
    let inside = Arc::new(AtomicU32::new(0));
    let last_token = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let client = ctx.another::<A>();
            let (inside, last_token) = (inside.clone(), last_token.clone());
            thread::spawn(move || {
                let lock = client.lock("/mutex").id(format!("worker-{i}"));
                for _ in 0..rounds {
                    let guard = lock.acquire().wait_timeout(WAIT).unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                    let token = guard.fencing_token();
                    assert!(
                        last_token.swap(token, Ordering::SeqCst) < token,
                        "token went back"
                    );
                    let (data, stat) = client.get("/counter").send().wait().unwrap();
                    let data = data.unwrap_or_default();
                    let n: u64 = std::str::from_utf8(&data).unwrap().parse().unwrap();
                    guard
                        .fence(client.transaction())
                        .set("/counter", (n + 1).to_string())
                        .version(stat.version)
                        .commit()
                        .wait()
                        .unwrap();
                    inside.fetch_sub(1, Ordering::SeqCst);
                    guard.release().wait().unwrap();
                }
                client.close().wait().unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = started.elapsed();
    let total = CLIENTS * rounds;
    let (data, _) = ctx.client.get("/counter").send().wait().unwrap();
    assert_eq!(data.as_deref(), Some(total.to_string().as_bytes()));
    eprintln!(
        "lock contention: {total} acquisitions by {CLIENTS} clients in {elapsed:?} ({:.0}/s)",
        f64::from(total) / elapsed.as_secs_f64()
    );
    wait_children(&ctx.client, "/mutex", 0);
}

pub fn a_fenced_write_fails_once_the_lock_node_is_gone<A: Adapter>() {
    let ctx = Ctx::new::<A>("lock-fence");
    let guard = ctx.client.lock("/f").acquire().wait_timeout(WAIT).unwrap();
    let lost = guard.lost();
    // Someone (an operator) deletes the lock node.
    ctx.another::<A>()
        .delete(guard.path())
        .send()
        .wait()
        .unwrap();
    assert_eq!(lost.wait_timeout(WAIT), Some(Status::Lost));
    assert_eq!(guard.status(), Status::Lost);
    let tx = guard.fence(ctx.client.transaction()).create("/written");
    assert!(matches!(
        tx.commit().wait(),
        Err(Error::MultiFailed { index: 0, .. })
    ));
    assert_eq!(
        guard.release().wait().unwrap_err(),
        Error::Recipe(RecipeError::Lost)
    );
}

pub fn an_expired_holder_is_told_and_the_next_gets_the_lock<A: Adapter>() {
    let ctx = Ctx::new::<A>("lock-expiry");
    let holder = ctx.another::<A>();
    // SessionOnly: the suspension the expiry causes first is not reported.
    let guard = holder
        .lock("/e")
        .policy(LossPolicy::SessionOnly)
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    let lost = guard.lost();
    let next = ctx.client.lock("/e").acquire();
    match ctx.server {
        Backend::Java(s) => expire_session(s.addr(), &holder).unwrap(),
        Backend::Embedded(s) => s.expire_session(holder.session_id()).unwrap(),
    }
    assert_eq!(lost.wait_timeout(WAIT), Some(Status::Lost));
    assert_eq!(guard.status(), Status::Lost);
    let second = next.wait_timeout(WAIT).unwrap();
    assert_eq!(second.status(), Status::Held);
    assert!(second.fencing_token() > guard.fencing_token());
}

pub fn a_flap_inside_the_timeout_keeps_the_lock<A: Adapter>() {
    let ctx = Ctx::new::<A>("lock-flap");
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let holder = through::<A>(&proxy, &ctx, Duration::from_secs(6));
    let guard = holder.lock("/flap").acquire().wait_timeout(WAIT).unwrap();
    let node = guard.path().to_owned();
    let maybe = guard.lost();
    proxy.sever();
    assert_eq!(maybe.wait_timeout(WAIT), Some(Status::MaybeLost));
    eventually("reconnected", || guard.status() == Status::Held);
    assert_eq!(guard.path(), node);
    // Same node, never released and re-acquired.
    assert_eq!(children(&ctx.client, "/flap"), [&node["/flap/".len()..]]);
    // SessionOnly ignores the suspension.
    let lax = holder
        .lock("/flap2")
        .policy(LossPolicy::SessionOnly)
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    proxy.sever();
    eventually("suspended", || {
        matches!(holder.state(), Some(SessionState::Suspended { .. }))
            || guard.status() == Status::MaybeLost
    });
    assert_eq!(lax.status(), Status::Held);
    eventually("reconnected", || guard.status() == Status::Held);
}

/// An embedded server of the test's own: its faults are global switches.
pub(super) fn private_server() -> (Backend, &'static kazoo_server::EmbeddedServer) {
    let server: &'static kazoo_server::EmbeddedServer = Box::leak(Box::new(
        kazoo_server::EmbeddedServer::start(Default::default()).expect("an embedded server"),
    ));
    (Backend::Embedded(server), server)
}

pub fn a_lost_create_reply_is_found_by_prefix_or_cleaned_up<A: Adapter>() {
    let (backend, server) = private_server();
    let ctx = Ctx::with(backend, "lost-reply", |_| {}, A::start);
    // The create commits, its reply is lost: the node is found and taken.
    server.lose_next_reply(
        |r| matches!(r, kazoo::proto::Request::Create2(c) if c.path.contains("__lock__")),
    );
    let guard = ctx
        .client
        .lock("/lr")
        .id("me")
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    assert_eq!(children(&ctx.client, "/lr").len(), 1, "one node, adopted");
    assert_eq!(guard.status(), Status::Held);
    let (_, stat) = ctx.client.get(guard.path()).send().wait().unwrap();
    assert_eq!(guard.fencing_token(), stat.czxid);
    guard.release().wait().unwrap();
    // Lost reply, and the resume answered with a new session: the old
    // session's node is never adopted; the lock is taken with a new one.
    server.set_replace_on_resume(true);
    let old = ctx.client.session_id();
    server.lose_next_reply(
        |r| matches!(r, kazoo::proto::Request::Create2(c) if c.path.contains("__lock__")),
    );
    let guard = ctx.client.lock("/lr").acquire().wait_timeout(WAIT).unwrap();
    server.set_replace_on_resume(false);
    assert_ne!(ctx.client.session_id(), old);
    let (_, stat) = ctx.client.get(guard.path()).send().wait().unwrap();
    assert_eq!(stat.ephemeral_owner, ctx.client.session_id());
    assert_eq!(children(&ctx.client, "/lr").len(), 1);
    guard.release().wait().unwrap();
    wait_children(&ctx.client, "/lr", 0);
}

pub fn a_holder_whose_session_is_replaced_is_told<A: Adapter>() {
    let (backend, server) = private_server();
    let ctx = Ctx::with(backend, "replaced", |_| {}, A::start);
    let guard = ctx
        .client
        .lock("/r")
        .policy(LossPolicy::SessionOnly)
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    let lost = guard.lost();
    server.set_replace_on_resume(true);
    server.close_connection_of(ctx.client.session_id()).unwrap();
    assert_eq!(lost.wait_timeout(WAIT), Some(Status::Lost));
    server.set_replace_on_resume(false);
    assert_eq!(
        guard.release().wait_timeout(WAIT).unwrap_err(),
        Error::Recipe(RecipeError::Lost)
    );
    // The lock is free for the new session.
    let again = ctx
        .client
        .lock("/r")
        .try_acquire()
        .wait_timeout(WAIT)
        .unwrap();
    assert!(again.is_some());
}

pub fn contenders_are_ordered_across_the_sequence_wrap<A: Adapter>() {
    let (backend, server) = private_server();
    let ctx = Ctx::with(backend, "wrap", |_| {}, A::start);
    ctx.client.create("/w").send().wait().unwrap();
    server
        .set_child_sequence(&format!("{}/w", ctx.chroot), i32::MAX - 1)
        .unwrap();
    let holder = ctx
        .client
        .lock("/w")
        .id("c0")
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    assert_eq!(holder.sequence(), i32::MAX - 1);
    let granted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 1..4 {
        let client = ctx.another::<A>();
        let granted = granted.clone();
        let lock = client.lock("/w").id(format!("c{i}"));
        waiters.push(thread::spawn(move || {
            let g = lock.acquire().wait_timeout(WAIT).unwrap();
            granted.lock().unwrap().push((i, g.sequence()));
            thread::sleep(Duration::from_millis(50));
            g.release().wait().unwrap();
            client.close().wait().unwrap();
        }));
        wait_children(&ctx.client, "/w", i + 1);
    }
    // Suffixes 2147483646, 2147483647, -2147483648, -2147483647.
    assert_eq!(
        ctx.client.lock("/w").contenders().wait().unwrap(),
        ["c0", "c1", "c2", "c3"]
    );
    holder.release().wait().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(
        *granted.lock().unwrap(),
        [(1, i32::MAX), (2, i32::MIN), (3, i32::MIN + 1)]
    );
}

pub fn a_waiter_rechecks_after_a_flap_that_hid_the_release<A: Adapter>() {
    let ctx = Ctx::new::<A>("recheck");
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let waiter = through::<A>(&proxy, &ctx, Duration::from_secs(8));
    let holder = ctx.client.lock("/rc").acquire().wait_timeout(WAIT).unwrap();
    let lock = waiter.lock("/rc");
    let waiting = {
        let lock = lock.clone();
        thread::spawn(move || lock.acquire().wait_timeout(WAIT))
    };
    wait_children(&ctx.client, "/rc", 2);
    // The waiter is cut off; the holder releases meanwhile.
    proxy.refuse(true);
    proxy.sever();
    eventually("waiter suspended", || {
        matches!(waiter.state(), Some(SessionState::Suspended { .. }))
    });
    holder.release().wait().unwrap();
    thread::sleep(Duration::from_millis(300));
    proxy.refuse(false);
    let guard = waiting.join().unwrap().unwrap();
    assert_eq!(guard.status(), Status::Held);
}

pub fn cleanup_gets_through_connection_loss<A: Adapter>() {
    let ctx = Ctx::new::<A>("cleanup-loss");
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let waiter = through::<A>(&proxy, &ctx, Duration::from_secs(8));
    let _holder = ctx.client.lock("/cl").acquire().wait_timeout(WAIT).unwrap();
    let lock = waiter.lock("/cl");
    let attempt = thread::spawn(move || lock.acquire_timeout(Duration::from_millis(800)).wait());
    wait_children(&ctx.client, "/cl", 2);
    // The timeout passes while the connection is down: the delete meets
    // ConnectionLoss and is retried once the session is back.
    proxy.refuse(true);
    proxy.sever();
    assert_eq!(attempt.join().unwrap().unwrap_err(), Error::LockTimeout);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(children(&ctx.client, "/cl").len(), 2, "still cut off");
    proxy.refuse(false);
    wait_children(&ctx.client, "/cl", 1);
}

pub fn readers_share_and_writers_exclude<A: Adapter>() {
    let ctx = Ctx::new::<A>("rwlock");
    let other = ctx.another::<A>();
    let r1 = ctx
        .client
        .read_lock("/rw")
        .id("r1")
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    let r2 = other
        .read_lock("/rw")
        .id("r2")
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    assert!(r1.path().contains("__rlock__"));
    // A writer waits for both readers; a reader behind a waiting writer
    // waits too (writer preference by arrival).
    let writer = other.write_lock("/rw").id("w");
    assert!(writer.try_acquire().wait().unwrap().is_none());
    let w = {
        let writer = writer.clone();
        thread::spawn(move || writer.acquire().wait_timeout(WAIT))
    };
    // (The failed try's node is deleted in the background: wait for the
    // waiting writer's own node, not for a count.)
    eventually("the writer queued", || {
        ctx.client.write_lock("/rw").contenders().wait().unwrap() == ["r1", "r2", "w"]
    });
    let late_reader = ctx.client.read_lock("/rw").id("r3");
    assert!(late_reader.try_acquire().wait().unwrap().is_none());
    // A plain Lock ignores readers but queues behind the writer.
    assert_eq!(
        ctx.client.write_lock("/rw").contenders().wait().unwrap(),
        ["r1", "r2", "w"]
    );
    assert_eq!(ctx.client.lock("/rw").contenders().wait().unwrap(), ["w"]);
    r1.release().wait().unwrap();
    r2.release().wait().unwrap();
    let w = w.join().unwrap().unwrap();
    assert!(w.path().contains("__lock__"));
    w.release().wait().unwrap();
    let r3 = late_reader.try_acquire().wait().unwrap();
    assert!(r3.is_some());
}

/// Readers and writers of one path under contention: never a writer with
/// anyone else inside.
pub fn rwlock_exclusion_under_contention<A: Adapter>() {
    let ctx = Ctx::new::<A>("rw-contention");
    let readers = Arc::new(AtomicU32::new(0));
    let writers = Arc::new(AtomicU32::new(0));
    let max_readers = Arc::new(AtomicU32::new(0));
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let client = ctx.another::<A>();
            let (readers, writers, max_readers) =
                (readers.clone(), writers.clone(), max_readers.clone());
            thread::spawn(move || {
                for round in 0..30 {
                    if (i + round) % 3 == 0 {
                        let g = client
                            .write_lock("/rwc")
                            .acquire()
                            .wait_timeout(WAIT)
                            .unwrap();
                        assert_eq!(writers.fetch_add(1, Ordering::SeqCst), 0, "two writers");
                        assert_eq!(readers.load(Ordering::SeqCst), 0, "a writer with readers");
                        thread::sleep(Duration::from_millis(2));
                        writers.fetch_sub(1, Ordering::SeqCst);
                        g.release().wait().unwrap();
                    } else {
                        let g = client
                            .read_lock("/rwc")
                            .acquire()
                            .wait_timeout(WAIT)
                            .unwrap();
                        let n = readers.fetch_add(1, Ordering::SeqCst) + 1;
                        max_readers.fetch_max(n, Ordering::SeqCst);
                        assert_eq!(writers.load(Ordering::SeqCst), 0, "a reader with a writer");
                        thread::sleep(Duration::from_millis(2));
                        readers.fetch_sub(1, Ordering::SeqCst);
                        g.release().wait().unwrap();
                    }
                }
                client.close().wait().unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    wait_children(&ctx.client, "/rwc", 0);
}

pub fn semaphore_bounds_holders_and_checks_max_leases<A: Adapter>() {
    let ctx = Ctx::new::<A>("semaphore");
    let sem = ctx.client.semaphore("/sem", 2).id("a");
    let a = sem.acquire().wait_timeout(WAIT).unwrap();
    let other = ctx.another::<A>();
    let b = other
        .semaphore("/sem", 2)
        .id("b")
        .acquire()
        .wait_timeout(WAIT)
        .unwrap();
    let mut holders = sem.lease_holders().wait().unwrap();
    holders.sort();
    assert_eq!(holders, ["a", "b"]);
    let (data, _) = ctx.client.get("/sem").send().wait().unwrap();
    assert_eq!(
        data.as_deref(),
        Some(&b"2"[..]),
        "kazoo's pool node holds str(max_leases)"
    );
    let c = other.semaphore("/sem", 2).id("c");
    assert!(c.try_acquire().wait().unwrap().is_none());
    assert_eq!(
        c.acquire_timeout(Duration::from_millis(300))
            .wait_timeout(WAIT)
            .unwrap_err(),
        Error::LockTimeout
    );
    // Nothing left: two leases, and no helper-lock node.
    wait_children(&ctx.client, "/sem", 2);
    wait_children(&ctx.client, "/sem-__lock__", 0);
    assert_eq!(
        other.semaphore("/sem", 3).try_acquire().wait().unwrap_err(),
        Error::Recipe(RecipeError::MaxLeasesMismatch {
            stored: 2,
            asked: 3
        })
    );
    let waiting = {
        let c = c.clone();
        thread::spawn(move || c.acquire().wait_timeout(WAIT))
    };
    thread::sleep(Duration::from_millis(100));
    a.release().wait().unwrap();
    let c = waiting.join().unwrap().unwrap();
    assert_eq!(c.status(), Status::Held);
    // A waiting acquire cancelled from another thread leaves nothing.
    let d = ctx.client.semaphore("/sem", 2).id("d");
    let waiting = {
        let d = d.clone();
        thread::spawn(move || d.acquire().wait())
    };
    wait_children(&ctx.client, "/sem-__lock__", 1);
    d.cancel();
    assert_eq!(waiting.join().unwrap().unwrap_err(), Error::Cancelled);
    wait_children(&ctx.client, "/sem-__lock__", 0);
    wait_children(&ctx.client, "/sem", 2);
    b.release().wait().unwrap();
    c.release().wait().unwrap();
    wait_children(&ctx.client, "/sem", 0);
}

pub fn semaphore_never_exceeds_its_leases<A: Adapter>() {
    let ctx = Ctx::new::<A>("sem-contention");
    let inside = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let client = ctx.another::<A>();
            let (inside, peak) = (inside.clone(), peak.clone());
            thread::spawn(move || {
                let sem = client.semaphore("/sem3", 3).id(format!("w{i}"));
                for _ in 0..25 {
                    let lease = sem.acquire().wait_timeout(WAIT).unwrap();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    assert!(n <= 3, "{n} holders of a 3-lease semaphore");
                    peak.fetch_max(n, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(2));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    lease.release().wait().unwrap();
                }
                client.close().wait().unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // Sharing itself is checked deterministically above; here only the bound.
    eprintln!(
        "semaphore(3): at most {} holders at once",
        peak.load(Ordering::SeqCst)
    );
    wait_children(&ctx.client, "/sem3", 0);
}

pub fn bad_recipe_arguments_fail_before_sending<A: Adapter>() {
    let ctx = Ctx::new::<A>("recipe-args");
    let c = &ctx.client;
    let invalid = |e: Error| matches!(e, Error::InvalidPath(_));
    assert!(invalid(c.lock("no-slash").acquire().wait().unwrap_err()));
    assert!(invalid(c.lock("/a/").try_acquire().wait().unwrap_err()));
    assert!(matches!(
        c.lock("/l").id("a/b").acquire().wait().unwrap_err(),
        Error::Recipe(RecipeError::InvalidIdentifier(_))
    ));
    assert!(matches!(
        c.lock("/l").id("a\0b").acquire().wait().unwrap_err(),
        Error::Recipe(RecipeError::InvalidIdentifier(_))
    ));
    assert!(matches!(
        c.semaphore("/s", 0).acquire().wait().unwrap_err(),
        Error::Recipe(RecipeError::OutOfRange {
            what: "max_leases",
            ..
        })
    ));
    assert_eq!(
        children(c, "/"),
        Vec::<String>::new(),
        "nothing was created"
    );
    // A recipe path that is an ephemeral node.
    c.create("/eph").ephemeral().send().wait().unwrap();
    assert_eq!(
        c.lock("/eph").acquire().wait().unwrap_err(),
        Error::Recipe(RecipeError::EphemeralParent("/eph".into()))
    );
    assert_eq!(
        c.semaphore("/eph", 1).acquire().wait().unwrap_err(),
        Error::Recipe(RecipeError::EphemeralParent("/eph".into()))
    );
}

pub fn election_runs_the_leader_and_lists_contenders<A: Adapter>() {
    let ctx = Ctx::new::<A>("election");
    let other = ctx.another::<A>();
    let first = ctx.client.election("/el").id("one");
    let second = other.election("/el").id("two");
    let leading = first.elect().wait_timeout(WAIT).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let runner = {
        let second = second.clone();
        thread::spawn(move || {
            second
                .run(move |leadership| {
                    tx.send(leadership.status()).unwrap();
                    "done"
                })
                .wait_timeout(WAIT)
        })
    };
    eventually("two queued", || {
        first.contenders().wait().unwrap() == ["one", "two"]
    });
    assert!(rx.try_recv().is_err(), "two ran while one leads");
    leading.release().wait().unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Status::Held);
    assert_eq!(runner.join().unwrap(), Ok("done"));
    wait_children(&ctx.client, "/el", 0);
    // cancel() ends a waiting run without running it.
    let leading = first.elect().wait_timeout(WAIT).unwrap();
    let waiting = {
        let second = second.clone();
        thread::spawn(move || second.run(|_| unreachable!("ran after cancel")).wait())
    };
    wait_children(&ctx.client, "/el", 2);
    second.cancel();
    assert_eq!(waiting.join().unwrap().unwrap_err(), Error::Cancelled);
    wait_children(&ctx.client, "/el", 1);
    drop(leading);
}

pub fn a_leader_latch_leads_steps_down_and_rejoins<A: Adapter>() {
    let ctx = Ctx::new::<A>("latch");
    let a_client = ctx.another::<A>();
    let a = a_client.leader_latch("/lat").id("a").start();
    a.await_leadership().wait_timeout(WAIT).unwrap();
    assert!(a.has_leadership());
    let token = a.fencing_token().unwrap();
    let b = ctx.client.leader_latch("/lat").id("b").start();
    eventually("b joined", || a.contenders().wait().unwrap() == ["a", "b"]);
    assert!(!b.has_leadership());
    // The leader's session expires: b leads, a rejoins at the back with
    // a new node and never leads on its old one.
    let lost = a.leadership_lost();
    match ctx.server {
        Backend::Java(s) => expire_session(s.addr(), &a_client).unwrap(),
        Backend::Embedded(s) => s.expire_session(a_client.session_id()).unwrap(),
    }
    assert!(lost.wait_timeout(WAIT).is_some());
    b.await_leadership().wait_timeout(WAIT).unwrap();
    assert!(b.fencing_token().unwrap() > token);
    eventually("a rejoined", || {
        b.contenders().wait().unwrap() == ["b", "a"]
    });
    assert!(!a.has_leadership());
    // Closing the leader hands over.
    b.close().wait_timeout(WAIT).unwrap();
    a.await_leadership().wait_timeout(WAIT).unwrap();
    assert_eq!(a.contenders().wait().unwrap(), ["a"]);
    drop(a);
    wait_children(&ctx.client, "/lat", 0);
}

pub fn a_leader_latch_keeps_leading_through_a_flap<A: Adapter>() {
    let ctx = Ctx::new::<A>("latch-flap");
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let client = through::<A>(&proxy, &ctx, Duration::from_secs(6));
    let latch = client.leader_latch("/lf").start();
    latch.await_leadership().wait_timeout(WAIT).unwrap();
    let node = children(&ctx.client, "/lf");
    let lost = latch.leadership_lost();
    proxy.sever();
    assert_eq!(lost.wait_timeout(WAIT), Some(Status::MaybeLost));
    latch.await_leadership().wait_timeout(WAIT).unwrap();
    assert_eq!(children(&ctx.client, "/lf"), node, "same node kept");
}

pub fn leases_are_taken_renewed_and_refused<A: Adapter>() {
    let ctx = Ctx::new::<A>("lease");
    let t0 = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let now = Arc::new(std::sync::Mutex::new(t0));
    let clock = {
        let now = now.clone();
        move || *now.lock().unwrap()
    };
    let a = ctx
        .client
        .lease("/ls", Duration::from_secs(60), "a")
        .clock(clock.clone());
    let b = ctx
        .client
        .lease("/ls", Duration::from_secs(60), "b")
        .clock(clock.clone());
    assert!(a.try_acquire().wait().unwrap());
    let (data, stat) = ctx.client.get("/ls/lease_holder").send().wait().unwrap();
    let data = data.unwrap_or_default();
    assert_eq!(
        std::str::from_utf8(&data).unwrap(),
        r#"{"version": 1, "holder": "a", "end": "2027-01-15T08:01:00"}"#
    );
    assert_eq!(stat.ephemeral_owner, 0, "the lease outlives the session");
    assert!(!b.try_acquire().wait().unwrap(), "a's lease runs");
    assert!(a.try_acquire().wait().unwrap(), "a renews");
    *now.lock().unwrap() = t0 + Duration::from_secs(61);
    assert!(b.try_acquire().wait().unwrap(), "a's lease ran out");
    // Only lease_holder is left (the lock nodes are gone).
    wait_children(&ctx.client, "/ls", 1);
    // Multi: two slots.
    let m = |id: &str| {
        ctx.client
            .multi_lease(2, "/ml", Duration::from_secs(60), id)
            .clock(clock.clone())
    };
    assert_eq!(m("x").try_acquire().wait().unwrap(), Some(0));
    assert_eq!(m("y").try_acquire().wait().unwrap(), Some(1));
    assert_eq!(m("z").try_acquire().wait().unwrap(), None);
    assert_eq!(
        m("y").try_acquire().wait().unwrap(),
        Some(1),
        "renewal keeps the slot"
    );
    // Garbage in the record is a typed error, never a panic.
    ctx.client
        .set("/ls/lease_holder", "not json")
        .send()
        .wait()
        .unwrap();
    assert!(matches!(
        a.try_acquire().wait().unwrap_err(),
        Error::Recipe(RecipeError::BadLeaseData(_))
    ));
    wait_children(&ctx.client, "/ls", 1);
    assert!(matches!(
        ctx.client
            .lease("/ls", Duration::ZERO, "a")
            .try_acquire()
            .wait()
            .unwrap_err(),
        Error::Recipe(RecipeError::OutOfRange {
            what: "duration",
            ..
        })
    ));
}
