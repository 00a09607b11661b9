//! DataWatch, ChildrenWatch and PatientChildrenWatch on every adapter:
//! kazoo's calls, and no change missed across a cut connection or an
//! expired session.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use kazoo::proto::EventType;
use kazoo::recipe::{ChildrenChange, DataChange, NodeData, TreeCache, TreeEvent};
use kazoo::session::SessionState;
use kazoo::{Client, Error};
use kazoo_testing::Proxy;

use super::groups::expire;
use super::recipes::{eventually, no_watches_left, through};
use super::{Adapter, Ctx, WAIT};

/// `(kind, data)` of each DataWatch call, sent to a channel.
fn data_calls(
    client: &Client,
    path: &str,
) -> (kazoo::recipe::DataWatch, mpsc::Receiver<DataChange>) {
    let (tx, rx) = mpsc::channel();
    let watch = client
        .data_watch(path, move |c| tx.send(c.clone()).is_ok())
        .wait_timeout(WAIT)
        .unwrap();
    (watch, rx)
}

fn next(rx: &mpsc::Receiver<DataChange>) -> (EventType, Option<String>) {
    let c = rx.recv_timeout(WAIT).expect("a call");
    let data = c.data.map(|d| String::from_utf8(d.to_vec()).unwrap());
    (c.kind, data)
}

fn quiet<T: std::fmt::Debug>(rx: &mpsc::Receiver<T>) {
    if let Ok(extra) = rx.recv_timeout(Duration::from_millis(200)) {
        panic!("an extra call: {extra:?}");
    }
}

pub fn data_watch_reports_every_change<A: Adapter>() {
    let ctx = Ctx::new::<A>("data-watch");
    let c = &ctx.client;
    let (watch, rx) = data_calls(c, "/d");
    assert_eq!(next(&rx), (EventType::None, None), "missing at first");
    c.create("/d").data("v1").send().wait().unwrap();
    assert_eq!(next(&rx), (EventType::NodeCreated, Some("v1".into())));
    c.set("/d", "v2").send().wait().unwrap();
    let change = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(change.kind, EventType::NodeDataChanged);
    assert_eq!(change.stat.unwrap().version, 1);
    assert_eq!(change.event.unwrap().event_type, EventType::NodeDataChanged);
    c.delete("/d").send().wait().unwrap();
    assert_eq!(next(&rx), (EventType::NodeDeleted, None));
    c.create("/d").data("v3").send().wait().unwrap();
    assert_eq!(next(&rx), (EventType::NodeCreated, Some("v3".into())));
    // Children do not concern it.
    c.create("/d/child").send().wait().unwrap();
    quiet(&rx);
    assert!(watch.is_running());
    watch.stop();
    assert!(!watch.is_running());
    c.set("/d", "v4").send().wait().unwrap();
    quiet(&rx);
    no_watches_left(&ctx, c);

    // Returning false stops it, after that call.
    let (tx, rx) = mpsc::channel();
    let once = c
        .data_watch("/d", move |ch| {
            tx.send(ch.kind).unwrap();
            false
        })
        .wait()
        .unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), EventType::None);
    c.set("/d", "v5").send().wait().unwrap();
    quiet(&rx);
    eventually("stopped", || !once.is_running());
    no_watches_left(&ctx, c);
    assert!(matches!(
        c.data_watch("bad", |_| true).wait(),
        Err(Error::InvalidPath(_))
    ));
}

pub fn watches_deliver_what_changed_while_cut_off<A: Adapter>() {
    let ctx = Ctx::new::<A>("watch-cut");
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let cut = through::<A>(&proxy, &ctx, Duration::from_secs(8));
    ctx.client
        .create("/d")
        .data("before")
        .send()
        .wait()
        .unwrap();
    ctx.client.create("/gone").send().wait().unwrap();
    let (_w1, data) = data_calls(&cut, "/d");
    let (_w2, gone) = data_calls(&cut, "/gone");
    let (tx, kids) = mpsc::channel();
    let _w3 = cut
        .children_watch("/d", move |c: &ChildrenChange| {
            tx.send(c.children.clone()).is_ok()
        })
        .wait_timeout(WAIT)
        .unwrap();
    assert_eq!(next(&data), (EventType::None, Some("before".into())));
    assert_eq!(next(&gone).0, EventType::None);
    assert_eq!(kids.recv_timeout(WAIT).unwrap(), Vec::<String>::new());

    proxy.refuse(true);
    proxy.sever();
    eventually("cut off", || {
        matches!(cut.state(), Some(SessionState::Suspended { .. }))
    });
    ctx.client.set("/d", "during").send().wait().unwrap();
    ctx.client.delete("/gone").send().wait().unwrap();
    ctx.client.create("/d/new").send().wait().unwrap();
    thread::sleep(Duration::from_millis(200));
    proxy.refuse(false);
    assert_eq!(
        next(&data),
        (EventType::NodeDataChanged, Some("during".into()))
    );
    assert_eq!(next(&gone), (EventType::NodeDeleted, None));
    assert_eq!(kids.recv_timeout(WAIT).unwrap(), ["new"]);
    quiet(&data);
    quiet(&kids);

    // A session expired meanwhile: the DataWatch carries on in the new one.
    expire(&ctx, &cut);
    eventually("a new session", || {
        matches!(
            cut.state(),
            Some(SessionState::Connected {
                new_session: true,
                ..
            })
        )
    });
    thread::sleep(Duration::from_millis(500));
    assert!(_w1.is_running(), "still running");
    ctx.client.set("/d", "after").send().wait().unwrap();
    assert_eq!(
        next(&data),
        (EventType::NodeDataChanged, Some("after".into()))
    );
}

pub fn children_watch_lists_until_the_node_goes<A: Adapter>() {
    let ctx = Ctx::new::<A>("children-watch");
    let c = &ctx.client;
    assert_eq!(
        c.children_watch("/p", |_| true).wait().unwrap_err(),
        Error::NoNode,
        "kazoo needs the node"
    );
    c.create("/p").send().wait().unwrap();
    c.create("/p/a").send().wait().unwrap();
    let (tx, rx) = mpsc::channel();
    let watch = c
        .children_watch("/p", move |ch| {
            let mut names = ch.children.clone();
            names.sort();
            tx.send((names, ch.event.as_ref().map(|e| e.event_type)))
                .is_ok()
        })
        .wait()
        .unwrap();
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        (vec!["a".to_string()], None)
    );
    c.create("/p/b").send().wait().unwrap();
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        (
            vec!["a".to_string(), "b".to_string()],
            Some(EventType::NodeChildrenChanged)
        )
    );
    c.set("/p", "data is not children").send().wait().unwrap();
    quiet(&rx);
    c.delete("/p/a").send().wait().unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap().0, ["b"]);
    c.delete("/p/b").send().wait().unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap().0, Vec::<String>::new());
    c.delete("/p").send().wait().unwrap();
    eventually("stopped with the node", || !watch.is_running());
    quiet(&rx);
    no_watches_left(&ctx, c);
}

pub fn patient_children_watch_waits_for_quiet<A: Adapter>() {
    let ctx = Ctx::new::<A>("patient");
    let c = ctx.client.clone();
    c.create("/p").send().wait().unwrap();
    let writer = {
        let c = c.clone();
        thread::spawn(move || {
            for i in 0..5 {
                c.create(format!("/p/{i}")).send().wait().unwrap();
                thread::sleep(Duration::from_millis(60));
            }
        })
    };
    thread::sleep(Duration::from_millis(30));
    let (mut children, later) = c
        .patient_children_watch("/p", Duration::from_millis(300))
        .wait_timeout(WAIT)
        .unwrap();
    writer.join().unwrap();
    children.sort();
    assert_eq!(children, ["0", "1", "2", "3", "4"], "only once quiet");
    c.create("/p/5").send().wait().unwrap();
    let event = later.wait_timeout(WAIT).unwrap().unwrap();
    assert_eq!(event.event_type, EventType::NodeChildrenChanged);
}

/// The path and data of an event, for comparing.
fn ev(e: &TreeEvent) -> String {
    let text = |n: &NodeData| {
        format!(
            "{} {}",
            n.path,
            String::from_utf8_lossy(n.data.as_deref().unwrap_or_default())
        )
    };
    match e {
        TreeEvent::Added(n) => format!("added {}", text(n)),
        TreeEvent::Updated { old, new } => format!("updated {} -> {}", text(old), text(new)),
        TreeEvent::Removed(n) => format!("removed {}", text(n)),
        other => format!("{other:?}"),
    }
}

fn events(cache: &TreeCache, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| ev(&cache.recv_timeout(WAIT).expect("an event").expect("open")))
        .collect()
}

fn no_more(cache: &TreeCache) {
    if let Ok(Some(e)) = cache.recv_timeout(Duration::from_millis(200)) {
        panic!("an extra event: {e:?}");
    }
}

pub fn tree_cache_loads_follows_and_closes<A: Adapter>() {
    let ctx = Ctx::new::<A>("tree-cache");
    let c = &ctx.client;
    for (i, one_shot) in [false, true].into_iter().enumerate() {
        let root = format!("/t{i}");
        c.create(format!("{root}/a/b"))
            .data("b")
            .make_parents()
            .send()
            .wait()
            .unwrap();
        c.set(format!("{root}/a"), "1").send().wait().unwrap();
        let watcher = ctx.another::<A>();
        let mut builder = watcher.tree_cache(root.clone());
        if one_shot {
            builder = builder.one_shot_watches();
        }
        let cache = builder.start().unwrap();
        assert_eq!(
            events(&cache, 4),
            [
                format!("added {root} "),
                format!("added {root}/a 1"),
                format!("added {root}/a/b b"),
                "Initialized".to_string()
            ]
        );
        c.create(format!("{root}/c")).send().wait().unwrap();
        assert_eq!(events(&cache, 1), [format!("added {root}/c ")]);
        c.set(format!("{root}/a"), "2").send().wait().unwrap();
        assert_eq!(
            events(&cache, 1),
            [format!("updated {root}/a 1 -> {root}/a 2")]
        );
        c.delete(format!("{root}/a"))
            .recursive()
            .send()
            .wait()
            .unwrap();
        let removed = events(&cache, 2);
        assert_eq!(
            removed,
            [
                format!("removed {root}/a/b b"),
                format!("removed {root}/a 2")
            ]
        );
        no_more(&cache);
        assert_eq!(cache.get_children(&root).unwrap(), ["c"]);
        assert_eq!(
            cache.get_data(&format!("{root}/c")).unwrap().stat.version,
            0
        );
        assert_eq!(cache.get_data("/elsewhere"), None);
        assert_eq!(cache.len(), 2);
        cache.close();
        assert_eq!(cache.recv_timeout(WAIT), Ok(None), "closed: no events");
        assert!(cache.is_empty());
        no_watches_left(&ctx, &watcher);
    }
    assert!(matches!(
        c.tree_cache("bad").start(),
        Err(Error::InvalidPath(_))
    ));
}

/// A reader that does not keep up gets the oldest events, then one
/// `Overflowed`, and memory stays bounded; the cache itself is complete.
pub fn tree_cache_events_are_bounded_for_a_slow_reader<A: Adapter>() {
    let ctx = Ctx::new::<A>("tree_overflow");
    let c = &ctx.client;
    c.create("/t").send().wait().unwrap();
    let cache = c.tree_cache("/t").start().unwrap();
    assert_eq!(
        cache.recv_timeout(WAIT).unwrap(),
        Some(TreeEvent::Added(cache.get_data("/t").unwrap()))
    );
    assert_eq!(
        cache.recv_timeout(WAIT).unwrap(),
        Some(TreeEvent::Initialized)
    );
    let n = kazoo::client::STREAM_CAPACITY + 100;
    let creates: Vec<_> = (0..n)
        .map(|i| c.create(format!("/t/n{i}")).send())
        .collect();
    for create in creates {
        create.wait().unwrap();
    }
    eventually("every child cached", || {
        cache.get_children("/t").map(|k| k.len()) == Some(n)
    });
    let mut added = 0;
    loop {
        match cache.recv_timeout(WAIT).unwrap() {
            Some(TreeEvent::Added(_)) => added += 1,
            Some(TreeEvent::Overflowed) => break,
            other => panic!("after {added} events: {other:?}"),
        }
    }
    assert_eq!(added, kazoo::client::STREAM_CAPACITY, "the oldest are kept");
    // After the marker, events flow again (the cache may still have been
    // emitting the last of the burst when the reader got past it).
    c.create("/t/after").send().wait().unwrap();
    loop {
        match cache.recv_timeout(WAIT).unwrap() {
            Some(TreeEvent::Added(n)) if n.path == "/t/after" => break,
            Some(TreeEvent::Added(n)) if n.path.starts_with("/t/n") => {}
            other => panic!("{other:?}"),
        }
    }
    cache.close();
    // A first load larger than a stream holds, read only once it is over:
    // node events are dropped past the marker, `Initialized` never is.
    let cache = c.tree_cache("/t").start().unwrap();
    eventually("the whole tree loaded", || cache.len() == n + 2);
    // The cache handles changes in order: once it holds a node made now,
    // every event of the first load has been queued.
    c.create("/t/sentinel").send().wait().unwrap();
    eventually("the sentinel cached", || {
        cache.get_data("/t/sentinel").is_some()
    });
    let mut seen = Vec::new();
    loop {
        match cache.recv_timeout(WAIT).unwrap() {
            Some(TreeEvent::Added(_)) => {}
            Some(TreeEvent::Overflowed) => seen.push("Overflowed"),
            Some(TreeEvent::Initialized) => break seen.push("Initialized"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, ["Overflowed", "Initialized"]);
    cache.close();
}

pub fn tree_cache_waits_for_its_root<A: Adapter>() {
    let ctx = Ctx::new::<A>("tree-cache-root");
    let c = &ctx.client;
    let cache = c.tree_cache("/later").start().unwrap();
    assert_eq!(events(&cache, 1), ["Initialized"]);
    assert!(cache.get_children("/later").is_none());
    c.create("/later/x")
        .data("x")
        .make_parents()
        .send()
        .wait()
        .unwrap();
    let got = events(&cache, 2);
    assert_eq!(got, ["added /later ", "added /later/x x"]);
    c.delete("/later").recursive().send().wait().unwrap();
    assert_eq!(events(&cache, 2), ["removed /later/x x", "removed /later "]);
    c.create("/later").send().wait().unwrap();
    assert_eq!(events(&cache, 1), ["added /later "]);
}

pub fn tree_cache_resyncs_after_a_cut<A: Adapter>() {
    let ctx = Ctx::new::<A>("tree-cache-cut");
    let c = &ctx.client;
    for (i, one_shot) in [false, true].into_iter().enumerate() {
        let root = format!("/t{i}");
        for (p, d) in [("a", "1"), ("gone", ""), ("gone/deep", "")] {
            c.create(format!("{root}/{p}"))
                .data(d)
                .make_parents()
                .send()
                .wait()
                .unwrap();
        }
        let proxy = Proxy::start(ctx.server.addr()).unwrap();
        let cut = through::<A>(&proxy, &ctx, Duration::from_secs(8));
        let mut builder = cut.tree_cache(root.clone());
        if one_shot {
            builder = builder.one_shot_watches();
        }
        let cache = builder.start().unwrap();
        assert_eq!(events(&cache, 5).last().unwrap(), "Initialized");
        proxy.refuse(true);
        proxy.sever();
        assert_eq!(events(&cache, 1), ["Suspended"]);
        c.create(format!("{root}/new"))
            .data("n")
            .send()
            .wait()
            .unwrap();
        c.set(format!("{root}/a"), "2").send().wait().unwrap();
        c.delete(format!("{root}/gone"))
            .recursive()
            .send()
            .wait()
            .unwrap();
        proxy.refuse(false);
        let got = events(&cache, 5);
        assert_eq!(got[0], "Reconnected");
        assert_eq!(
            got[1..],
            [
                format!("removed {root}/gone/deep "),
                format!("removed {root}/gone "),
                format!("updated {root}/a 1 -> {root}/a 2"),
                format!("added {root}/new n"),
            ]
        );
        no_more(&cache);
        cache.close();
        no_watches_left(&ctx, &cut);
    }
}

/// A cut while the cache is busy following changes is reported as it
/// happens: the worker must not sit on reads queued for a connection that
/// is not there (it said nothing until the reconnect, seconds later).
pub fn tree_cache_reports_a_cut_while_following<A: Adapter>() {
    let ctx = Ctx::new::<A>("tree-cache-busy-cut");
    let c = &ctx.client;
    c.create("/busy").send().wait().unwrap();
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let cut = through::<A>(&proxy, &ctx, Duration::from_secs(8));
    let cache = cut.tree_cache("/busy").start().unwrap();
    assert_eq!(events(&cache, 2), ["added /busy ", "Initialized"]);
    // Hints enough that some are still waiting when the cut comes.
    let creates: Vec<_> = (0..500)
        .map(|i| c.create(format!("/busy/n{i}")).send())
        .collect();
    for create in creates {
        create.wait().unwrap();
    }
    assert!(events(&cache, 1)[0].starts_with("added /busy/n"));
    proxy.refuse(true);
    proxy.sever();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match cache.recv_timeout(left) {
            Ok(Some(TreeEvent::Suspended)) => break,
            Ok(Some(TreeEvent::Added(_))) => {}
            other => panic!("no Suspended within 3 s of the cut: {other:?}"),
        }
    }
    proxy.refuse(false);
    // Then it is back once, and catches up.
    let mut said = Vec::new();
    let back_by = std::time::Instant::now() + WAIT;
    loop {
        // Until it is back, then until a second passes without news.
        let quiet = if said.is_empty() {
            back_by.saturating_duration_since(std::time::Instant::now())
        } else {
            Duration::from_secs(1)
        };
        let Ok(Some(e)) = cache.recv_timeout(quiet) else {
            break;
        };
        if !matches!(e, TreeEvent::Added(_)) {
            said.push(ev(&e));
        }
    }
    assert_eq!(said, ["Reconnected"]);
    assert_eq!(cache.len(), real_tree(c, "/busy").len());
    cache.close();
    no_watches_left(&ctx, &cut);
}

/// A cut while the cache reads the whole tree again (its session was
/// replaced) is reported as it happens too, and the read completes after.
pub fn tree_cache_reports_a_cut_while_reloading<A: Adapter>() {
    let ctx = Ctx::new::<A>("tree-cache-reload-cut");
    let c = &ctx.client;
    c.create("/big").send().wait().unwrap();
    let creates: Vec<_> = (0..3000)
        .map(|i| c.create(format!("/big/n{i}")).send())
        .collect();
    for create in creates {
        create.wait().unwrap();
    }
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let cut = through::<A>(&proxy, &ctx, Duration::from_secs(8));
    let cache = cut.tree_cache("/big").start().unwrap();
    assert_eq!(events(&cache, 3002).last().unwrap(), "Initialized");
    expire(&ctx, &cut);
    let mut said = events(&cache, 2);
    if said[0] == "Suspended" {
        // The server dropped the connection first (a real server does).
        said.remove(0);
        said.extend(events(&cache, 1));
    }
    assert_eq!(said, ["Lost", "Reconnected"]);
    // The new session's watch and read of 3,001 nodes are under way.
    proxy.refuse(true);
    proxy.sever();
    assert_eq!(
        cache
            .recv_timeout(Duration::from_secs(3))
            .map(|e| e.map(|e| ev(&e))),
        Ok(Some("Suspended".to_string())),
        "the cut, within 3 s"
    );
    proxy.refuse(false);
    assert_eq!(events(&cache, 1), ["Reconnected"]);
    no_more(&cache);
    assert_eq!(cache.len(), 3001);
    cache.close();
    no_watches_left(&ctx, &cut);
}

/// `(data, mzxid)` of every node under a root.
pub(super) type Tree = BTreeMap<String, (Vec<u8>, i64)>;

/// What a cache's events said so far, each event checked against it
/// (Curator's cache consistency test): no add of a node present, an
/// update carries the previous data, no remove of a missing node.
#[derive(Default)]
pub(super) struct Shadow {
    pub(super) nodes: Tree,
    pub(super) events: usize,
    recent: std::collections::VecDeque<String>,
}

impl Shadow {
    pub(super) fn apply(&mut self, e: &TreeEvent) {
        self.events += 1;
        self.recent.push_back(ev(e));
        if self.recent.len() > 40 {
            self.recent.pop_front();
        }
        let recent = format!("{:#?}", self.recent);
        let entry = |n: &NodeData| (n.data.clone().unwrap_or_default().to_vec(), n.stat.mzxid);
        match e {
            TreeEvent::Added(n) => {
                let was = self.nodes.insert(n.path.clone(), entry(n));
                assert!(was.is_none(), "added {} twice", n.path);
                let parent = kazoo::path::parent(&n.path);
                assert!(
                    self.nodes.len() == 1 || self.nodes.contains_key(parent),
                    "added {} before its parent",
                    n.path
                );
            }
            TreeEvent::Updated { old, new } => {
                let was = self.nodes.insert(new.path.clone(), entry(new));
                assert_eq!(
                    was,
                    Some(entry(old)),
                    "update of {} from what it was",
                    new.path
                );
                assert!(new.stat.mzxid > old.stat.mzxid, "update goes forward");
            }
            TreeEvent::Removed(n) => {
                let prefix = format!("{}/", n.path);
                assert!(
                    !self.nodes.keys().any(|k| k.starts_with(&prefix)),
                    "removed {} before its children; last events: {recent}",
                    n.path
                );
                assert_eq!(
                    self.nodes.remove(&n.path),
                    Some(entry(n)),
                    "removed {}",
                    n.path
                );
            }
            _ => {}
        }
    }
}

/// The tree under `root` as the server has it now.
pub(super) fn real_tree(client: &Client, root: &str) -> Tree {
    let mut tree = Tree::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        let Ok((data, stat)) = client.get(&p).send().wait() else {
            continue;
        };
        tree.insert(p.clone(), (data.unwrap_or_default().to_vec(), stat.mzxid));
        if let Ok(children) = client.get_children(&p).send().wait() {
            todo.extend(children.iter().map(|c| format!("{p}/{c}")));
        }
    }
    tree
}

/// Random creates, sets and deletes under `root` by `writers` for
/// `duration` while `fault(Some(round))` runs every 400 ms; then
/// `fault(None)` undoes whatever the rounds left broken, and the check:
/// every event of a cache on `reader` was consistent and the cache ends
/// equal to the tree. (How many rounds fit in `duration` depends on the
/// machine's load: a fault must not outlive the churn because the last
/// round happened to be one that breaks.)
pub(super) fn churn_and_check(
    reader: &Client,
    writers: Vec<Client>,
    root: &str,
    one_shot: bool,
    duration: Duration,
    mut fault: impl FnMut(Option<usize>),
) {
    let mut builder = reader.tree_cache(root);
    if one_shot {
        builder = builder.one_shot_watches();
    }
    let cache = std::sync::Arc::new(builder.start().unwrap());
    assert_eq!(cache.recv_timeout(WAIT), Ok(Some(TreeEvent::Initialized)));
    let shadow = std::sync::Arc::new(std::sync::Mutex::new(Shadow::default()));
    let reading = {
        let (cache, shadow) = (cache.clone(), shadow.clone());
        thread::spawn(move || {
            while let Some(e) = cache.recv() {
                shadow.lock().unwrap().apply(&e);
            }
        })
    };
    let deadline = std::time::Instant::now() + duration;
    let root_owned = root.to_string();
    let churning: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let root = root_owned.clone();
            thread::spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
                let mut rand = move |n: u64| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % n
                };
                let mut ops = 0;
                while std::time::Instant::now() < deadline {
                    let depth = 1 + rand(3);
                    let path: String = (0..depth).fold(root.clone(), |p, _| {
                        format!("{p}/{}", ["a", "b", "c"][rand(3) as usize])
                    });
                    let data = format!("{i}-{ops}");
                    let _ = match rand(4) {
                        0 | 1 => c
                            .create(&path)
                            .data(data)
                            .make_parents()
                            .send()
                            .wait()
                            .map(drop),
                        2 => c.set(&path, data).send().wait().map(drop),
                        _ => c.delete(&path).recursive().send().wait(),
                    };
                    ops += 1;
                }
                c.close().wait().unwrap();
                ops
            })
        })
        .collect();
    let mut round = 0;
    while std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(400));
        fault(Some(round));
        round += 1;
    }
    let ops: usize = churning.into_iter().map(|t| t.join().unwrap()).sum();
    fault(None);
    assert!(ops > 100, "only {ops} changes made");
    // Once quiet, the cache and its events equal the tree.
    let want = real_tree(reader, root);
    eventually("the cache caught up", || {
        shadow.lock().unwrap().nodes == want
    });
    for (path, (data, mzxid)) in &want {
        let node = cache.get_data(path).expect("cached");
        let cached = node.data.clone().unwrap_or_default().to_vec();
        assert_eq!((&cached, node.stat.mzxid), (data, *mzxid));
    }
    assert_eq!(cache.len(), want.len());
    let shadow = shadow.lock().unwrap();
    assert!(
        shadow.events > 10,
        "{} events for {ops} changes in {round} fault rounds; the tree has {} nodes; last events: {:#?}",
        shadow.events,
        want.len(),
        shadow.recent
    );
    drop(shadow);
    cache.close();
    reading.join().unwrap();
}

pub fn tree_cache_follows_random_churn_through_cuts<A: Adapter>() {
    let ctx = Ctx::new::<A>("tree-cache-churn");
    for (i, one_shot) in [false, true].into_iter().enumerate() {
        let proxy = Proxy::start(ctx.server.addr()).unwrap();
        // Quick to reconnect, so it is back in every 400 ms window the
        // proxy lets it (at the default pacing a loaded machine could keep
        // it out for the whole churn, and the cache would see little).
        let config = kazoo::session::Config::builder(&format!("{}{}", proxy.addr(), ctx.chroot))
            .session_timeout(Duration::from_secs(8))
            .reconnect_delay(Duration::from_millis(20))
            .connection_retry(
                kazoo::retry::RetryPolicy::connection_default()
                    .max_delay(Duration::from_millis(100)),
            )
            .build()
            .unwrap();
        let reader = A::start(config);
        reader
            .wait_connected()
            .wait_timeout(WAIT)
            .expect("connected");
        let writers = (0..3).map(|_| ctx.another::<A>()).collect();
        churn_and_check(
            &reader,
            writers,
            &format!("/r{i}"),
            one_shot,
            Duration::from_secs(3),
            |round| {
                // Every other round the reader is cut off for a while.
                if round.is_some_and(|r| r % 2 == 0) {
                    proxy.refuse(true);
                    proxy.sever();
                } else {
                    proxy.refuse(false);
                }
            },
        );
        proxy.refuse(false);
        reader.close().wait().unwrap();
    }
}
