//! How the client behaves around the operations: states, concurrency,
//! timeouts, closing, waiting and retrying.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use kazoo::retry::RetryPolicy;
use kazoo::session::{Config, SessionState};
use kazoo::Error;

use super::{Adapter, Ctx, WAIT};

pub fn connect_waits_for_the_session_and_gives_up_in_time<A: Adapter>() {
    let ctx = Ctx::new::<A>("connect");
    let up = A::connect(Config::new(&format!("{}{}", ctx.hosts, ctx.chroot)).unwrap()).unwrap();
    assert!(up.is_connected(), "connect returns a connected client");
    assert_eq!(up.client_state(), kazoo::proto::KeeperState::SyncConnected);
    let before = up.last_zxid();
    up.create("/z").send().wait().unwrap();
    assert!(up.last_zxid() > before, "the create's zxid was seen");
    up.close().wait().unwrap();

    // Nothing listens on this port: the connect gives up after its timeout.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = Config::builder(&nowhere.to_string())
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    assert_eq!(A::connect(config).map(drop), Err(Error::Timeout));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < WAIT,
        "gave up after {waited:?}"
    );
}

/// kazoo's `connection_retry` with `max_tries`: a client cut off from
/// every server gives up after that many rounds, closes, and says why.
pub fn a_connection_policy_that_runs_out_closes_the_client<A: Adapter>() {
    let ctx = Ctx::new::<A>("connection_retry");
    let proxy = kazoo_testing::Proxy::start(ctx.server.addr()).unwrap();
    let config = Config::builder(&format!("{}{}", proxy.addr(), ctx.chroot))
        .session_timeout(Duration::from_secs(3))
        .reconnect_delay(Duration::ZERO)
        .connection_retry(
            RetryPolicy::connection_default()
                .max_tries(3)
                .delay(Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    let c = A::connect(config).unwrap();
    c.create("/before").send().wait().unwrap();
    // Past a ping interval (1 s), so this connection counts as a good
    // one: the rounds are counted from its end.
    thread::sleep(Duration::from_millis(1500));
    proxy.refuse(true);
    proxy.sever();
    let started = Instant::now();
    while c.is_connected() && started.elapsed() < WAIT {
        thread::yield_now();
    }
    let gave_up = Error::RetryFailed {
        attempts: 3,
        last: Box::new(Error::ConnectionLoss),
    };
    assert_eq!(
        c.get("/before").send().wait_timeout(WAIT).map(drop),
        Err(gave_up)
    );
    assert!(
        matches!(c.state(), Some(SessionState::Closed { .. })),
        "{:?}",
        c.state()
    );
    assert_eq!(c.client_state(), kazoo::proto::KeeperState::Closed);
    // Later requests are told the same.
    let again = c.get("/before").send().wait().map(drop);
    assert!(matches!(again, Err(Error::RetryFailed { .. })), "{again:?}");
    // One attempt per round (one host), each refused by the proxy.
    assert_eq!(
        proxy.attempts(),
        1 + 3,
        "the first connection, then three rounds"
    );
}

pub fn a_request_past_its_own_timeout_fails_while_the_session_lives<A: Adapter>() {
    let ctx = Ctx::new::<A>("request_timeout");
    let proxy = kazoo_testing::Proxy::start(ctx.server.addr()).unwrap();
    let config = Config::builder(&format!("{}{}", proxy.addr(), ctx.chroot))
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let c = A::start(config);
    c.wait_connected().wait_timeout(WAIT).unwrap();
    let id = c.session_id();
    proxy.stall();
    let started = Instant::now();
    assert_eq!(
        c.get("/").send().wait_timeout(WAIT).map(drop),
        Err(Error::RequestTimeout)
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "failed after {took:?}, long before the 6.7 s read timeout"
    );
    proxy.resume();
    assert!(c.exists("/").send().wait_timeout(WAIT).unwrap().is_some());
    assert_eq!(c.session_id(), id, "the session lived on");
    c.close().wait().unwrap();
}

pub fn set_hosts_moves_a_live_session<A: Adapter>() {
    let ctx = Ctx::new::<A>("set_hosts");
    let proxy = kazoo_testing::Proxy::start(ctx.server.addr()).unwrap();
    let c = A::start(Config::new(&format!("{}{}", proxy.addr(), ctx.chroot)).unwrap());
    c.wait_connected().wait_timeout(WAIT).unwrap();
    c.create("/e").ephemeral().send().wait().unwrap();
    let id = c.session_id();
    assert_eq!(proxy.connections(), 1);
    // The same chroot may be named; the proxy is no longer on the list.
    c.set_hosts(&format!("{}{}", ctx.hosts, ctx.chroot))
        .unwrap();
    let started = Instant::now();
    while !(c.is_connected() && c.current_host().map(|h| h.port) == Some(ctx.server.addr().port()))
    {
        assert!(
            started.elapsed() < WAIT,
            "never moved: {:?}",
            c.current_host()
        );
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.session_id(), id, "the same session");
    assert!(
        c.exists("/e").send().wait().unwrap().is_some(),
        "its ephemeral lived through the move"
    );
    while proxy.connections() > 0 {
        assert!(started.elapsed() < WAIT, "the old connection stayed open");
        thread::sleep(Duration::from_millis(10));
    }
    assert!(matches!(
        c.set_hosts("127.0.0.1:1/another"),
        Err(Error::Config(kazoo::ConfigError::ChrootChange))
    ));
    c.close().wait().unwrap();
}

pub fn listeners_and_state_streams_see_every_state<A: Adapter>() {
    let ctx = Ctx::new::<A>("states");
    let client = A::start(Config::new(&format!("{}{}", ctx.hosts, ctx.chroot)).unwrap());
    let (tx, rx) = mpsc::channel();
    let listener = client.add_listener(move |s| {
        let _ = tx.send(s);
    });
    let (tx2, rx2) = mpsc::channel();
    let removed = client.add_listener(move |s| {
        let _ = tx2.send(s);
    });
    assert!(client.remove_listener(removed));
    assert!(!client.remove_listener(removed));
    let stream = client.states();
    client.wait_connected().wait_timeout(WAIT).unwrap();
    let id = client.session_id();
    assert_ne!(id, 0);
    let connected = SessionState::Connected {
        session_id: id,
        new_session: true,
    };
    assert_eq!(client.state(), Some(connected));
    client.close().wait_timeout(WAIT).unwrap();
    let seen: Vec<_> = rx.iter().take(2).collect();
    let closed = SessionState::Closed { session_id: id };
    assert_eq!(seen, [connected, closed]);
    assert_eq!(
        stream.blocking_iter().collect::<Vec<_>>(),
        [Ok(connected), Ok(closed)],
        "the stream ends after Closed"
    );
    assert!(rx2.try_recv().is_err(), "a removed listener hears nothing");
    assert!(
        !client.remove_listener(listener),
        "a closed client has let go of its listeners"
    );
    assert_eq!(
        client.states().recv(),
        None,
        "a closed client's stream is over"
    );
    assert_eq!(client.wait_connected().wait(), Err(Error::Closed));
}

pub fn ten_thousand_requests_from_eight_threads<A: Adapter>() {
    let ctx = Ctx::new::<A>("many");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = ctx.client.clone();
            thread::spawn(move || {
                c.create(format!("/t{t}")).send().wait().unwrap();
                // Submit everything first (pipelined), then collect.
                let pending: Vec<_> = (0..1250)
                    .map(|i| {
                        if i % 2 == 0 {
                            Ok(c.create(format!("/t{t}/n{i}"))
                                .data(vec![t as u8; 16])
                                .send())
                        } else {
                            Err(c.exists(format!("/t{t}")).send())
                        }
                    })
                    .collect();
                let mut ok = 0;
                for p in pending {
                    match p {
                        Ok(create) => create.wait().map(drop).unwrap(),
                        Err(exists) => assert!(exists.wait().unwrap().is_some()),
                    }
                    ok += 1;
                }
                ok
            })
        })
        .collect();
    let done: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(done, 10_000);
    assert_eq!(
        ctx.client.get_all_children_number("/").wait(),
        Ok(8 + 8 * 625)
    );
    assert_eq!(ctx.client.stats().pending, 0);
}

pub fn wait_timeout_leaves_the_client_usable<A: Adapter>() {
    let ctx = Ctx::new::<A>("wait_timeout");
    let c = &ctx.client;
    let long = c.sleep(Duration::from_secs(30));
    assert_eq!(
        long.wait_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    );
    let (_, watch) = c.exists("/never").send_watched();
    assert_eq!(
        watch.wait_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    );
    let slow = c.retry_with(
        &RetryPolicy::default()
            .forever()
            .delay(Duration::from_secs(10)),
        |c| {
            let get = c.get("/never").send();
            async move {
                match get.await {
                    Err(Error::NoNode) => Err(Error::ForceRetry),
                    other => other,
                }
            }
        },
    );
    assert_eq!(
        slow.wait_timeout(Duration::from_millis(100)),
        Err(Error::Timeout)
    );
    c.create("/after").data("fine").send().wait().unwrap();
    assert_eq!(
        &c.get("/after").send().wait().unwrap().0.unwrap()[..],
        b"fine"
    );
}

pub fn close_completes_everything_pending<A: Adapter>() {
    let ctx = Ctx::new::<A>("close");
    let c = ctx.another::<A>();
    c.create("/n").send().wait().unwrap();
    let reads: Vec<_> = (0..200).map(|_| c.get("/n").send()).collect();
    let sleep = c.sleep(Duration::from_secs(60));
    let (_, watch) = c.get("/n").send_watched();
    let stream = c
        .add_watch("/n", kazoo::proto::AddWatchMode::Persistent)
        .stream();
    let started = Instant::now();
    c.close().wait_timeout(WAIT).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "close took {:?}",
        started.elapsed()
    );
    for r in reads {
        match r.wait_timeout(WAIT) {
            Ok(_) | Err(Error::Closed) => {}
            other => panic!("a read ended with {other:?}"),
        }
    }
    assert_eq!(sleep.wait_timeout(WAIT), Err(Error::Closed));
    let ended = watch.wait_timeout(WAIT).unwrap();
    assert!(closed_or_none(&ended), "{ended:?}");
    if let Ok(stream) = stream.wait_timeout(WAIT) {
        let last = stream.recv_timeout(WAIT).unwrap().transpose().unwrap();
        assert!(closed_or_none(&last), "{last:?}");
        if last.is_some() {
            assert_eq!(stream.recv_timeout(WAIT), Ok(None));
        }
    }
    assert_eq!(c.get("/n").send().wait_timeout(WAIT), Err(Error::Closed));
    assert_eq!(
        c.close().wait_timeout(WAIT),
        Ok(()),
        "closing twice is fine"
    );
    assert!(matches!(c.state(), Some(SessionState::Closed { .. })));
}

pub fn sleep_and_retry_use_the_session_clock<A: Adapter>() {
    let ctx = Ctx::new::<A>("retry");
    let c = &ctx.client;
    let started = Instant::now();
    c.sleep(Duration::from_millis(200)).wait().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200));

    c.create("/x").data("v").send().wait().unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let policy = RetryPolicy::default()
        .delay(Duration::from_millis(20))
        .max_jitter(0.0);
    let n = calls.clone();
    let started = Instant::now();
    let (data, _) = c
        .retry_with(&policy, move |c| {
            let attempt = n.fetch_add(1, Ordering::SeqCst);
            let get = c.get("/x").send();
            async move {
                let r = get.await?;
                if attempt < 2 {
                    return Err(Error::ForceRetry);
                }
                Ok(r)
            }
        })
        .wait()
        .unwrap();
    assert_eq!(
        (data.as_deref(), calls.load(Ordering::SeqCst)),
        (Some(&b"v"[..]), 3)
    );
    assert!(
        started.elapsed() >= Duration::from_millis(60),
        "waited 20 + 40 ms"
    );

    let failing = |c: &kazoo::Client| {
        let get = c.get("/x").send();
        async move {
            get.await?;
            Err::<(), _>(Error::ConnectionLoss)
        }
    };
    let policy3 = policy.clone().max_tries(3);
    assert_eq!(
        c.retry_with(&policy3, failing).wait(),
        Err(Error::RetryFailed {
            attempts: 3,
            last: Box::new(Error::ConnectionLoss)
        })
    );
    let missing = c.retry_with(&policy3, |c| c.get("/missing").send()).wait();
    assert_eq!(missing.map(drop), Err(Error::NoNode), "not retried");
    let stop = policy.clone().interrupt(|| true);
    assert_eq!(c.retry_with(&stop, failing).wait(), Err(Error::Cancelled));
    let short = policy
        .clone()
        .forever()
        .deadline(Duration::from_millis(100));
    assert!(matches!(
        c.retry_with(&short, failing).wait(),
        Err(Error::RetryFailed { .. })
    ));

    // A closure that borrows, async and blocking.
    let path = String::from("/x");
    let tries = AtomicU32::new(0);
    let borrowed = || {
        let n = tries.fetch_add(1, Ordering::SeqCst);
        let get = c.get(&path).send();
        async move {
            let r = get.await?;
            if n == 0 {
                return Err(Error::ConnectionLoss);
            }
            Ok(r)
        }
    };
    let (data, _) = super::block_on(policy.run(c, borrowed)).unwrap();
    assert_eq!(
        (data.as_deref(), tries.load(Ordering::SeqCst)),
        (Some(&b"v"[..]), 2)
    );
    let blocking = policy.run_blocking(c, || c.get(&path).send().wait());
    assert_eq!(blocking.unwrap().0.as_deref(), Some(&b"v"[..]));

    // The interrupt is looked at while waiting, not only between tries.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let patient = RetryPolicy::default()
        .delay(Duration::from_secs(30))
        .interrupt(move || flag.load(Ordering::SeqCst));
    let stopper = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::SeqCst);
    });
    let started = Instant::now();
    assert_eq!(
        c.retry_with(&patient, failing).wait(),
        Err(Error::Cancelled)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "interrupted within 100 ms of the flag, not after the 30 s wait: {:?}",
        started.elapsed()
    );
    stopper.join().unwrap();

    // kazoo retries SessionExpired by default (ignore_expire=True).
    let expired = AtomicU32::new(0);
    let once_expired = || {
        let n = expired.fetch_add(1, Ordering::SeqCst);
        let get = c.get("/x").send();
        async move {
            get.await?;
            if n == 0 {
                return Err(Error::SessionExpired);
            }
            Ok(())
        }
    };
    assert_eq!(super::block_on(policy.run(c, once_expired)), Ok(()));
}

/// A watcher of a closed session hears `Closed`, or (if its request never
/// completed) nothing.
fn closed_or_none(event: &Option<kazoo::session::WatchedEvent>) -> bool {
    match event {
        None => true,
        Some(e) => e.state == kazoo::proto::KeeperState::Closed,
    }
}
