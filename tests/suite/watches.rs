//! Watches against the real server: one-shot, persistent, recursive,
//! removal, chroot, and callbacks that wait.

use std::sync::mpsc;
use std::time::Duration;

use kazoo::proto::{AddWatchMode, EventType, WatcherType};
use kazoo::session::WatchedEvent;
use kazoo::Error;

use super::{Adapter, Ctx, WAIT};

/// Nothing more arrives within a short while.
const QUIET: Duration = Duration::from_millis(300);

fn collector() -> (
    impl Fn(WatchedEvent) + Send + Sync + 'static,
    mpsc::Receiver<WatchedEvent>,
) {
    let (tx, rx) = mpsc::channel();
    (move |e| drop(tx.send(e)), rx)
}

fn next(rx: &mpsc::Receiver<WatchedEvent>) -> (EventType, String) {
    let e = rx.recv_timeout(WAIT).expect("a watch event");
    (e.event_type, e.path)
}

fn ev(t: EventType, p: &str) -> (EventType, String) {
    (t, p.to_string())
}

pub fn one_shot_watches_fire_once_with_the_right_type<A: Adapter>() {
    let ctx = Ctx::new::<A>("one_shot");
    let c = &ctx.client;
    c.create("/n").data("0").send().wait().unwrap();

    let (cb, data) = collector();
    c.get("/n").watch(cb).send().wait().unwrap();
    let (cb, exists_missing) = collector();
    assert_eq!(c.exists("/later").watch(cb).send().wait(), Ok(None));
    let (cb, exists_present) = collector();
    assert!(c.exists("/n").watch(cb).send().wait().unwrap().is_some());
    let (cb, children) = collector();
    c.get_children("/").watch(cb).send().wait().unwrap();

    c.set("/n", "1").send().wait().unwrap();
    assert_eq!(next(&data), ev(EventType::NodeDataChanged, "/n"));
    assert_eq!(next(&exists_present), ev(EventType::NodeDataChanged, "/n"));
    c.create("/later").send().wait().unwrap();
    assert_eq!(next(&exists_missing), ev(EventType::NodeCreated, "/later"));
    assert_eq!(next(&children), ev(EventType::NodeChildrenChanged, "/"));

    // Fired once: later changes reach nobody.
    c.set("/n", "2").send().wait().unwrap();
    c.delete("/later").send().wait().unwrap();
    for rx in [&data, &exists_missing, &exists_present, &children] {
        assert!(
            rx.recv_timeout(QUIET).is_err(),
            "a one-shot watch fired twice"
        );
    }

    let (cb, deleted) = collector();
    c.get("/n").watch(cb).send().wait().unwrap();
    let (cb, child_of_deleted) = collector();
    c.get_children("/n").watch(cb).send().wait().unwrap();
    c.delete("/n").send().wait().unwrap();
    assert_eq!(next(&deleted), ev(EventType::NodeDeleted, "/n"));
    assert_eq!(next(&child_of_deleted), ev(EventType::NodeDeleted, "/n"));
}

pub fn watch_futures_and_failed_reads<A: Adapter>() {
    let ctx = Ctx::new::<A>("watch_futures");
    let c = &ctx.client;
    let (read, watch) = c.get("/missing").send_watched();
    assert_eq!(read.wait(), Err(Error::NoNode));
    assert_eq!(
        watch.wait_timeout(WAIT),
        Ok(None),
        "a failed getData leaves no watch"
    );

    let (read, created) = c.exists("/missing").send_watched();
    assert_eq!(read.wait(), Ok(None));
    let (cb, callback) = collector();
    c.get_children("/missing")
        .watch(cb)
        .send()
        .wait()
        .unwrap_err();
    c.create("/missing").send().wait().unwrap();
    let event = created.wait_timeout(WAIT).unwrap().unwrap();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated, "/missing")
    );
    assert!(
        callback.recv_timeout(QUIET).is_err(),
        "the failed read's callback never runs"
    );

    let (read, changed) = c.get_children("/missing").send_watched();
    assert_eq!(read.wait(), Ok(vec![]));
    c.create("/missing/kid").send().wait().unwrap();
    let event = changed.wait_timeout(WAIT).unwrap().unwrap();
    assert_eq!(event.event_type, EventType::NodeChildrenChanged);
}

pub fn persistent_and_recursive_watches<A: Adapter>() {
    let ctx = Ctx::new::<A>("persistent");
    let c = &ctx.client;
    let stream = c
        .add_watch("/p", AddWatchMode::Persistent)
        .stream()
        .wait()
        .unwrap();
    let (cb, recursive) = collector();
    c.add_watch("/r", AddWatchMode::PersistentRecursive)
        .watch(cb)
        .send()
        .wait()
        .unwrap();

    c.create("/p").send().wait().unwrap();
    c.set("/p", "1").send().wait().unwrap();
    c.create("/p/kid").send().wait().unwrap();
    c.set("/p/kid", "not seen by a non-recursive watch")
        .send()
        .wait()
        .unwrap();
    c.set("/p", "2").send().wait().unwrap();
    let seen: Vec<_> = (0..4)
        .map(|_| {
            let e = stream.recv_timeout(WAIT).unwrap().unwrap().unwrap();
            (e.event_type, e.path)
        })
        .collect();
    assert_eq!(
        seen,
        [
            ev(EventType::NodeCreated, "/p"),
            ev(EventType::NodeDataChanged, "/p"),
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeDataChanged, "/p"),
        ]
    );
    assert!(matches!(stream.recv_timeout(QUIET), Err(Error::Timeout)));

    c.create("/r/a/b").make_parents().send().wait().unwrap();
    c.set("/r/a/b", "x").send().wait().unwrap();
    c.delete("/r/a/b").send().wait().unwrap();
    let seen: Vec<_> = (0..4).map(|_| next(&recursive)).collect();
    assert_eq!(
        seen,
        [
            ev(EventType::NodeCreated, "/r"),
            ev(EventType::NodeCreated, "/r/a"),
            ev(EventType::NodeCreated, "/r/a/b"),
            ev(EventType::NodeDataChanged, "/r/a/b"),
        ]
    );
    assert_eq!(next(&recursive), ev(EventType::NodeDeleted, "/r/a/b"));
    assert!(
        recursive.recv_timeout(QUIET).is_err(),
        "recursive watches get no child events"
    );
}

pub fn remove_watches_tells_the_watcher<A: Adapter>() {
    let ctx = Ctx::new::<A>("remove_watches");
    let c = &ctx.client;
    c.create("/n").send().wait().unwrap();
    assert_eq!(
        c.remove_watches("/n", WatcherType::Any).wait(),
        Err(Error::NoWatcher)
    );

    let (cb, data) = collector();
    c.get("/n").watch(cb).send().wait().unwrap();
    let (cb, child) = collector();
    c.get_children("/n").watch(cb).send().wait().unwrap();
    c.remove_watches("/n", WatcherType::Data).wait().unwrap();
    assert_eq!(next(&data), ev(EventType::DataWatchRemoved, "/n"));
    c.set("/n", "x").send().wait().unwrap();
    assert!(data.recv_timeout(QUIET).is_err());
    c.create("/n/kid").send().wait().unwrap();
    assert_eq!(
        next(&child),
        ev(EventType::NodeChildrenChanged, "/n"),
        "the child watch stayed"
    );

    let stream = c
        .add_watch("/n", AddWatchMode::Persistent)
        .stream()
        .wait()
        .unwrap();
    // A 3.8 server removes persistent watches only with `Any` (PROTOCOL.md §0.8).
    c.remove_watches("/n", WatcherType::Any).wait().unwrap();
    let removed = stream.recv_timeout(WAIT).unwrap().unwrap().unwrap();
    assert_eq!(removed.event_type, EventType::PersistentWatchRemoved);
    assert_eq!(
        stream.recv_timeout(WAIT),
        Ok(None),
        "the stream ends with the watch"
    );
    c.set("/n", "y").send().wait().unwrap();
}

pub fn chroot_is_invisible_in_events_and_results<A: Adapter>() {
    let ctx = Ctx::new::<A>("chroot");
    let c = &ctx.client;
    let root = ctx.root::<A>();
    let (cb, recursive) = collector();
    c.add_watch("/", AddWatchMode::PersistentRecursive)
        .watch(cb)
        .send()
        .wait()
        .unwrap();
    let (read, created) = c.exists("/x").send_watched();
    assert_eq!(
        read.wait(),
        Ok(None),
        "the watch is set before the node appears"
    );

    let full = format!("{}/x", ctx.chroot);
    root.create(full.as_str()).send().wait().unwrap();
    assert_eq!(created.wait_timeout(WAIT).unwrap().unwrap().path, "/x");
    assert_eq!(next(&recursive), ev(EventType::NodeCreated, "/x"));

    let seq = c.create("/x/s-").sequential().send().wait().unwrap();
    assert_eq!(seq, "/x/s-0000000000");
    assert_eq!(
        next(&recursive),
        ev(EventType::NodeCreated, "/x/s-0000000000")
    );
    assert!(root
        .exists(format!("{full}/s-0000000000"))
        .send()
        .wait()
        .unwrap()
        .is_some());
    let results = c
        .transaction()
        .create("/x/t-")
        .sequential()
        .commit()
        .wait()
        .unwrap();
    assert!(
        matches!(&results[0], kazoo::proto::MultiResult::Create(r) if r.path == "/x/t-0000000001")
    );
    assert_eq!(c.sync("/x").wait(), Ok("/x".into()));
    root.close().wait().unwrap();
}

pub fn callbacks_may_wait_on_other_requests<A: Adapter>() {
    let ctx = Ctx::new::<A>("callback_wait");
    let c = &ctx.client;
    c.create("/n").data("first").send().wait().unwrap();
    let (tx, rx) = mpsc::channel();
    let inner = c.clone();
    c.get("/n")
        .watch(move |_| {
            // kazoo #426: a callback that blocks on another request.
            let read = inner.get("/n").send().wait_timeout(WAIT);
            let _ = tx.send(read.map(|(d, _)| d));
        })
        .send()
        .wait()
        .unwrap();
    let (ltx, lrx) = mpsc::channel();
    let listening = c.clone();
    c.add_listener(move |state| {
        let read = listening
            .exists("/n")
            .send()
            .wait_timeout(Duration::from_secs(2));
        let _ = ltx.send((state, read.is_ok()));
    });
    c.set("/n", "second").send().wait().unwrap();
    let read = rx.recv_timeout(WAIT).expect("the callback finished");
    assert_eq!(read, Ok(Some(bytes::Bytes::from("second"))));
    drop(c.close());
    let (state, _) = lrx.recv_timeout(WAIT).expect("the listener ran");
    assert!(matches!(state, kazoo::session::SessionState::Closed { .. }));
}

/// Watcher hygiene, checked on the server (`wchc`): fired one-shots leave
/// nothing, and a dropped persistent `WatchStream` is removed there too.
pub fn a_client_leaves_no_watch_behind<A: Adapter>() {
    let ctx = Ctx::new::<A>("hygiene");
    let c = &ctx.client;
    let id = c.session_id();
    let count = || kazoo_testing::watch_count(ctx.server.addr(), id).unwrap();
    let settle_to = |want: usize| {
        let deadline = std::time::Instant::now() + WAIT;
        while count() != want {
            assert!(
                std::time::Instant::now() < deadline,
                "{} watches, want {want}",
                count()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    c.create("/w").send().wait().unwrap();
    let (_, fired) = c.exists("/w").send_watched();
    settle_to(1);
    c.set("/w", "x").send().wait().unwrap();
    fired.wait_timeout(WAIT).unwrap();
    settle_to(0);
    let stream = c
        .add_watch("/w", AddWatchMode::Persistent)
        .stream()
        .wait()
        .unwrap();
    assert!(count() > 0, "the persistent watch is on the server");
    drop(stream);
    settle_to(0);
    c.close().wait_timeout(WAIT).unwrap();
}
