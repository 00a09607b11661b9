//! Differential conformance: the same scripted scenarios against the real
//! ZooKeeper (test kit) and the embedded server (kazoo-server), each under
//! a fresh chroot; the traces of what each server answered must be equal.
//!
//! A trace holds error codes, returned paths, data, the deterministic parts
//! of every Stat (versions, counts, whether zxids coincide; never absolute
//! zxids or times) and the watch events a second client saw, in order.

#![allow(clippy::disallowed_methods)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kazoo::acl::{Acl, Id, Perms, CREATOR_ALL_ACL, READ_ACL_UNSAFE};
use kazoo::proto::{AddWatchMode, MultiResult, Stat};
use kazoo::session::{Config, WatchedEvent};
use kazoo::Client;
use kazoo_server::EmbeddedServer;
use kazoo_testing::{fresh_chroot, ZkServer};

const WAIT: Duration = Duration::from_secs(15);

/// What a scenario observed, one line per observation.
#[derive(Default)]
struct Trace(Vec<String>);

impl Trace {
    fn note(&mut self, what: &str, value: impl std::fmt::Debug) {
        self.0.push(format!("{what}: {value:?}"));
    }
}

/// The parts of a Stat that do not depend on the server's history.
fn stat(s: &Stat) -> String {
    format!(
        "v{} cv{} av{} len{} kids{} eph:{} c=m:{} c=p:{}",
        s.version,
        s.cversion,
        s.aversion,
        s.data_length,
        s.num_children,
        s.ephemeral_owner != 0,
        s.czxid == s.mzxid,
        s.czxid == s.pzxid
    )
}

fn result<T>(r: Result<T, kazoo::Error>, show: impl Fn(T) -> String) -> String {
    match r {
        Ok(v) => show(v),
        Err(e) => format!("error {:?}", e.code()),
    }
}

fn multi(results: &[MultiResult]) -> String {
    results
        .iter()
        .map(|r| match r {
            MultiResult::Create(c) => format!("create {}", c.path),
            MultiResult::Create2(c) => format!("create2 {} {}", c.path, stat(&c.stat)),
            MultiResult::SetData(s) => format!("set {}", stat(s)),
            MultiResult::Delete => "delete".into(),
            MultiResult::Check => "check".into(),
            MultiResult::Error(e) => format!("error {}", e.err),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

type Scenario = fn(&Client, &Client, &Events, &mut Trace);

/// Watch events a client saw, in order.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

impl Events {
    fn callback(&self) -> impl Fn(WatchedEvent) + Send + Sync + 'static {
        let seen = self.0.clone();
        move |e| {
            seen.lock()
                .unwrap()
                .push(format!("{:?} {:?} {}", e.event_type, e.state, e.path))
        }
    }

    /// Waits until `n` events are in (or a while passed), then takes them.
    fn take(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.0.lock().unwrap().len() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100)); // and nothing more
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn run(addr: std::net::SocketAddr, hosts: &str, name: &str, scenario: Scenario) -> Vec<String> {
    let connect = fresh_chroot(addr, hosts, &format!("diff-{name}")).unwrap();
    let start = |s: &str| {
        let c = kazoo_std::start(Config::new(s).unwrap());
        c.wait_connected().wait_timeout(WAIT).unwrap();
        c
    };
    let (a, b) = (start(&connect), start(&connect));
    let events = Events::default();
    let mut trace = Trace::default();
    scenario(&a, &b, &events, &mut trace);
    drop(a.close().wait_timeout(WAIT));
    drop(b.close().wait_timeout(WAIT));
    trace.0
}

fn compare(name: &str, scenario: Scenario) {
    let java = ZkServer::shared().expect("a ZooKeeper server");
    let embedded = EmbeddedServer::start(Default::default()).unwrap();
    let real = run(java.addr(), &java.connect_string(), name, scenario);
    let ours = run(embedded.addr(), &embedded.connect_string(), name, scenario);
    for (i, (r, o)) in real.iter().zip(&ours).enumerate() {
        assert_eq!(
            o,
            r,
            "{name}, observation {i}: embedded vs real\nreal trace:\n{}",
            real.join("\n")
        );
    }
    assert_eq!(ours.len(), real.len(), "{name}: trace lengths");
}

#[test]
fn creates_of_every_kind() {
    compare("creates", |c, _, _, t| {
        t.note(
            "persistent",
            result(
                c.create("/p").data("abc").send_with_stat().wait(),
                |(p, s)| format!("{p} {}", stat(&s)),
            ),
        );
        t.note(
            "ephemeral",
            result(
                c.create("/e").ephemeral().send_with_stat().wait(),
                |(p, s)| format!("{p} {}", stat(&s)),
            ),
        );
        for _ in 0..3 {
            t.note(
                "sequential",
                result(c.create("/s-").sequential().send().wait(), |p| p),
            );
        }
        t.note(
            "ephemeral seq",
            result(
                c.create("/es-").ephemeral().sequential().send().wait(),
                |p| p,
            ),
        );
        t.note(
            "container",
            result(
                c.create("/c").container().send_with_stat().wait(),
                |(p, s)| format!("{p} {}", stat(&s)),
            ),
        );
        t.note(
            "ttl",
            result(
                c.create("/t")
                    .ttl(Duration::from_secs(60))
                    .send_with_stat()
                    .wait(),
                |(p, s)| format!("{p} {}", stat(&s)),
            ),
        );
        t.note(
            "ttl seq",
            result(
                c.create("/ts-")
                    .ttl(Duration::from_secs(60))
                    .sequential()
                    .send()
                    .wait(),
                |p| p,
            ),
        );
        t.note(
            "nested",
            result(
                c.create("/p/q/r").make_parents().data("x").send().wait(),
                |p| p,
            ),
        );
        let mut kids = c.get_children("/").send().wait().unwrap();
        kids.sort();
        t.note("children", kids);
        t.note(
            "root",
            c.exists("/").send().wait().map(|s| s.map(|s| stat(&s))),
        );
        t.note(
            "p",
            result(c.get("/p").send().wait(), |(d, s)| {
                format!("{d:?} {}", stat(&s))
            }),
        );
        t.note("count", c.get_all_children_number("/").wait());
    });
}

#[test]
fn errors_in_zookeeper_order() {
    compare("errors", |c, _, _, t| {
        c.create("/a").data("1").send().wait().unwrap();
        c.create("/a/kid").send().wait().unwrap();
        c.create("/eph").ephemeral().send().wait().unwrap();
        t.note("exists", c.create("/a").send().wait().map_err(|e| e.code()));
        t.note(
            "no parent",
            c.create("/none/x").send().wait().map_err(|e| e.code()),
        );
        t.note(
            "ephemeral parent",
            c.create("/eph/x").send().wait().map_err(|e| e.code()),
        );
        t.note(
            "bogus acl",
            c.create("/b")
                .acl(vec![Acl::new(Perms::ALL, Id::new("bogus", "x"))])
                .send()
                .wait()
                .map_err(|e| e.code()),
        );
        t.note(
            "auth acl, no auth",
            c.create("/b")
                .acl(CREATOR_ALL_ACL)
                .send()
                .wait()
                .map_err(|e| e.code()),
        );
        t.note(
            "not empty",
            c.delete("/a").send().wait().map_err(|e| e.code()),
        );
        t.note(
            "bad version set",
            c.set("/a", "2")
                .version(7)
                .send()
                .wait()
                .map(|s| stat(&s))
                .map_err(|e| e.code()),
        );
        t.note(
            "bad version delete",
            c.delete("/a/kid")
                .version(3)
                .send()
                .wait()
                .map_err(|e| e.code()),
        );
        t.note(
            "bad aversion",
            c.set_acls("/a", READ_ACL_UNSAFE)
                .version(2)
                .send()
                .wait()
                .map(|s| stat(&s))
                .map_err(|e| e.code()),
        );
        for (what, r) in [
            ("get", c.get("/none").send().wait().map(drop)),
            ("set", c.set("/none", "x").send().wait().map(drop)),
            ("getACL", c.get_acls("/none").wait().map(drop)),
            ("children", c.get_children("/none").send().wait().map(drop)),
            ("count", c.get_all_children_number("/none").wait().map(drop)),
            ("delete", c.delete("/none").send().wait()),
        ] {
            t.note(what, r.map_err(|e| e.code()));
        }
        t.note(
            "exists none",
            c.exists("/none").send().wait().map(|s| s.is_some()),
        );
        t.note(
            "remove no watch",
            c.remove_watches("/a", kazoo::proto::WatcherType::Any)
                .wait()
                .map_err(|e| e.code()),
        );
        t.note(
            "reconfig",
            c.reconfig()
                .leaving("3")
                .send()
                .wait()
                .map(drop)
                .map_err(|e| e.code()),
        );
    });
}

#[test]
fn multi_and_multi_read() {
    compare("multi", |c, _, _, t| {
        c.create("/cfg").data("v1").send().wait().unwrap();
        c.create("/old").send().wait().unwrap();
        let tx = c
            .transaction()
            .check("/cfg")
            .version(0)
            .set("/cfg", "v2")
            .version(0)
            .create("/cfg/new")
            .data("n")
            .delete("/old")
            .create("/seq-")
            .sequential();
        t.note("ok", result(tx.commit().wait(), |r| multi(&r)));
        let tx = c
            .transaction()
            .create("/x")
            .check("/cfg")
            .version(0)
            .delete("/cfg/new");
        t.note(
            "failed",
            match tx.commit().wait() {
                Err(kazoo::Error::MultiFailed { index, results, .. }) => {
                    format!("at {index}: {}", multi(&results))
                }
                other => format!("{other:?}"),
            },
        );
        t.note(
            "nothing applied",
            c.exists("/x").send().wait().map(|s| s.is_some()),
        );
        t.note(
            "cfg",
            result(c.get("/cfg").send().wait(), |(d, s)| {
                format!("{d:?} {}", stat(&s))
            }),
        );
        let reads = c
            .multi_read()
            .get("/cfg")
            .get_children("/cfg")
            .get("/none")
            .get_children("/none")
            .send()
            .wait()
            .unwrap();
        let reads: Vec<String> = reads
            .into_iter()
            .map(|r| {
                result(r, |v| match v {
                    kazoo::client::ReadResult::Data(d, s) => format!("data {d:?} {}", stat(&s)),
                    other => format!("{other:?}"),
                })
            })
            .collect();
        t.note("multiRead", reads);
    });
}

#[test]
fn acls_and_identities() {
    compare("acls", |c, other, _, t| {
        c.add_auth("digest", "alice:pw").wait().unwrap();
        let alice = vec![Acl::new(
            Perms::READ | Perms::WRITE | Perms::ADMIN,
            Id::digest("alice", "pw"),
        )];
        c.create("/secret")
            .data("s")
            .acl(alice)
            .send()
            .wait()
            .unwrap();
        c.create("/mine")
            .acl(CREATOR_ALL_ACL)
            .send()
            .wait()
            .unwrap();
        t.note(
            "acl",
            c.get_acls("/mine").wait().map(|(a, s)| (a, stat(&s))),
        );
        t.note(
            "other get",
            other
                .get("/secret")
                .send()
                .wait()
                .map(drop)
                .map_err(|e| e.code()),
        );
        t.note(
            "other exists",
            other.exists("/secret").send().wait().map(|s| s.is_some()),
        );
        t.note(
            "create under no CREATE",
            c.create("/secret/kid").send().wait().map_err(|e| e.code()),
        );
        other.add_auth("digest", "alice:pw").wait().unwrap();
        t.note(
            "other get after auth",
            other.get("/secret").send().wait().map(|(d, _)| d),
        );
        c.create("/open").send().wait().unwrap();
        t.note(
            "set acl",
            c.set_acls("/open", READ_ACL_UNSAFE)
                .version(0)
                .send()
                .wait()
                .map(|s| stat(&s)),
        );
        t.note(
            "write read-only",
            c.set("/open", "x")
                .send()
                .wait()
                .map(drop)
                .map_err(|e| e.code()),
        );
        t.note(
            "admin read-only",
            c.set_acls("/open", READ_ACL_UNSAFE)
                .send()
                .wait()
                .map(drop)
                .map_err(|e| e.code()),
        );
        t.note(
            "delete child of read-only",
            c.delete("/open").send().wait().map_err(|e| e.code()),
        );
        let mut who: Vec<_> = c
            .whoami()
            .wait()
            .unwrap()
            .into_iter()
            .map(|i| (i.auth_scheme, i.user))
            .collect();
        who.sort();
        t.note("whoami", who);
    });
}

#[test]
fn watch_events_in_order() {
    compare("watches", |c, watcher, events, t| {
        c.create("/n").data("0").send().wait().unwrap();
        c.create("/dir").send().wait().unwrap();
        watcher
            .get("/n")
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        watcher
            .exists("/later")
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        watcher
            .get_children("/dir")
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        watcher
            .add_watch("/tree", AddWatchMode::PersistentRecursive)
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        watcher
            .add_watch("/dir", AddWatchMode::Persistent)
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        c.set("/n", "1").send().wait().unwrap();
        c.set("/n", "2").send().wait().unwrap();
        c.create("/later").send().wait().unwrap();
        c.create("/dir/a").send().wait().unwrap();
        c.create("/dir/b").send().wait().unwrap();
        c.create("/tree/x/y").make_parents().send().wait().unwrap();
        c.set("/tree/x", "z").send().wait().unwrap();
        c.delete("/tree").recursive().send().wait().unwrap();
        c.set("/dir", "d").send().wait().unwrap();
        t.note("events", events.take(13));
    });
}

#[test]
fn ephemerals_go_with_their_session() {
    compare("ephemerals", |c, watcher, events, t| {
        c.create("/e1").ephemeral().send().wait().unwrap();
        c.create("/d/e2")
            .make_parents()
            .ephemeral()
            .send()
            .wait()
            .unwrap();
        // Unordered on the wire: compared sorted.
        let sorted = |r: Result<Vec<String>, kazoo::Error>| {
            r.map(|mut v| {
                v.sort();
                v
            })
        };
        t.note("listed", sorted(c.get_ephemerals("/").wait()));
        t.note("prefix", sorted(c.get_ephemerals("/d").wait()));
        t.note("other's list", sorted(watcher.get_ephemerals("/").wait()));
        watcher
            .exists("/e1")
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        watcher
            .get_children("/d")
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        c.close().wait().unwrap();
        // A closing session's ephemerals go in hash order on the real
        // server: compare the set.
        let mut gone = events.take(2);
        gone.sort();
        t.note("events", gone);
        t.note(
            "gone",
            watcher.exists("/e1").send().wait().map(|s| s.is_some()),
        );
        t.note(
            "d",
            watcher
                .exists("/d")
                .send()
                .wait()
                .map(|s| s.map(|s| stat(&s))),
        );
    });
}

/// Runs a scenario that needs the server's address (a proxy in front of
/// it, a second connection to expire a session) on both servers.
fn compare_with_addr(name: &str, scenario: fn(std::net::SocketAddr, String, &mut Trace)) {
    let java = ZkServer::shared().expect("a ZooKeeper server");
    let embedded = EmbeddedServer::start(Default::default()).unwrap();
    let trace = |addr: std::net::SocketAddr, hosts: &str| {
        let connect = fresh_chroot(addr, hosts, &format!("diff-{name}")).unwrap();
        let chroot = connect[hosts.len()..].to_string();
        let mut t = Trace::default();
        scenario(addr, chroot, &mut t);
        t.0
    };
    let real = trace(java.addr(), &java.connect_string());
    let ours = trace(embedded.addr(), &embedded.connect_string());
    assert_eq!(ours, real, "{name}: embedded vs real");
}

fn wait_state(c: &Client, want: impl Fn(Option<kazoo::session::SessionState>) -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !want(c.state()) {
        assert!(
            std::time::Instant::now() < deadline,
            "state {:?}",
            c.state()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn reconnect_catches_up_one_shot_watches() {
    use kazoo::session::SessionState;
    compare_with_addr("catch-up", |addr, chroot, t| {
        let proxy = kazoo_testing::Proxy::start(addr).unwrap();
        let c = kazoo_std::start(Config::new(&format!("{}{chroot}", proxy.addr())).unwrap());
        let other = kazoo_std::start(Config::new(&format!("{addr}{chroot}")).unwrap());
        c.wait_connected().wait_timeout(WAIT).unwrap();
        for p in ["/d", "/k", "/p", "/r", "/gone"] {
            c.create(p).send().wait().unwrap();
        }
        let events = Events::default();
        c.get("/d").watch(events.callback()).send().wait().unwrap();
        c.exists("/x")
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        c.get_children("/k")
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        c.get("/gone")
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        c.get("/p").watch(events.callback()).send().wait().unwrap(); // unchanged: re-armed quietly
        c.add_watch("/r", AddWatchMode::PersistentRecursive)
            .watch(events.callback())
            .send()
            .wait()
            .unwrap();
        proxy.refuse(true);
        proxy.sever();
        wait_state(&c, |s| matches!(s, Some(SessionState::Suspended { .. })));
        other.set("/d", "1").send().wait().unwrap();
        other.create("/x").send().wait().unwrap();
        other.create("/k/kid").send().wait().unwrap();
        other.delete("/gone").send().wait().unwrap();
        other.create("/r/new").send().wait().unwrap();
        proxy.refuse(false);
        wait_state(&c, |s| {
            matches!(
                s,
                Some(SessionState::Connected {
                    new_session: false,
                    ..
                })
            )
        });
        let mut caught = events.take(5);
        caught.sort(); // catch-up order is the server's; compare the set
        t.note("after reconnect", caught);
        other.set("/p", "changed").send().wait().unwrap();
        other.set("/r/new", "x").send().wait().unwrap();
        t.note("later", events.take(2));
        drop(c.close().wait_timeout(WAIT));
        drop(other.close().wait_timeout(WAIT));
    });
}

#[test]
fn real_expiry() {
    use kazoo::session::SessionState;
    compare_with_addr("expiry", |addr, chroot, t| {
        let c = kazoo_std::start(Config::new(&format!("{addr}{chroot}")).unwrap());
        c.wait_connected().wait_timeout(WAIT).unwrap();
        let first = c.session_id();
        c.create("/eph").ephemeral().send().wait().unwrap();
        let (read, watch) = c.get("/eph").send_watched();
        read.wait().unwrap(); // the watch is set before the session goes
        kazoo_testing::expire_session(addr, &c).unwrap();
        wait_state(&c, |s| {
            matches!(
                s,
                Some(SessionState::Connected {
                    new_session: true,
                    ..
                })
            ) && c.session_id() != first
        });
        t.note(
            "watch",
            watch
                .wait_timeout(WAIT)
                .map(|e| e.map(|e| (e.event_type, e.state))),
        );
        t.note(
            "ephemeral",
            c.exists("/eph").send().wait().map(|s| s.is_some()),
        );
        // How often the connection was cut on the way is timing; how it ended is not.
        let last = c.recent_disconnects().last().map(|(_, r)| format!("{r:?}"));
        t.note("last disconnect", last);
        drop(c.close().wait_timeout(WAIT));
    });
}

/// Scenarios on raw connections: requests the client never sends (a bad
/// create flag, checkWatches), answers it hides (null data, masked ACLs).
fn compare_raw(name: &str, scenario: fn(std::net::SocketAddr, &str, &mut Trace)) {
    let java = ZkServer::shared().expect("a ZooKeeper server");
    let embedded = EmbeddedServer::start(Default::default()).unwrap();
    let trace = |addr: std::net::SocketAddr, hosts: &str| {
        let connect = fresh_chroot(addr, hosts, &format!("diff-{name}")).unwrap();
        let root = connect[hosts.len()..].to_string();
        let mut t = Trace::default();
        scenario(addr, &root, &mut t);
        t.0.into_iter()
            .map(|l| l.replace(&root, "<root>"))
            .collect::<Vec<_>>()
    };
    let real = trace(java.addr(), &java.connect_string());
    let ours = trace(embedded.addr(), &embedded.connect_string());
    if std::env::var_os("DIFF_SHOW").is_some() {
        eprintln!("{name}:\n{}", real.join("\n"));
    }
    for (i, (r, o)) in real.iter().zip(&ours).enumerate() {
        assert_eq!(
            o,
            r,
            "{name}, observation {i}: embedded vs real\nreal trace:\n{}",
            real.join("\n")
        );
    }
    assert_eq!(ours.len(), real.len());
}

mod raw {
    use bytes::{BufMut, Bytes, BytesMut};
    use kazoo::acl::{Acl, Id, Perms, OPEN_ACL_UNSAFE};
    use kazoo::proto::*;
    use kazoo_testing::{RawConnection, TestingError};

    pub fn code(r: Result<Response, TestingError>) -> String {
        match r {
            Ok(Response::GetData(d)) => format!("data {:?} len {}", d.data, d.stat.data_length),
            Ok(Response::GetAcl(a)) => format!(
                "acl {:?}",
                a.acl
                    .iter()
                    .map(|e| format!("{}:{}", e.id.scheme, e.id.id))
                    .collect::<Vec<_>>()
            ),
            Ok(Response::Create(c)) => format!("created {}", c.path),
            Ok(Response::GetChildren(c)) => {
                let mut names = c.children;
                names.sort();
                format!("children {names:?}")
            }
            Ok(Response::GetAllChildrenNumber(n)) => format!("count {}", n.total_number),
            Ok(other) => format!(
                "ok {}",
                format!("{other:?}").split('(').next().unwrap_or("")
            ),
            Err(TestingError::Protocol(e)) => format!("error {:?}", e.code()),
            Err(e) => format!("failed {e}"),
        }
    }

    pub fn create(path: &str, data: Option<&'static [u8]>, acl: Vec<Acl>) -> Request {
        Request::Create(CreateRequest {
            path: path.into(),
            data: data.map(Bytes::from_static),
            acl,
            mode: CreateMode::Persistent,
        })
    }

    pub fn open() -> Vec<Acl> {
        OPEN_ACL_UNSAFE.to_vec()
    }

    pub fn only(user: &str, perms: Perms) -> Vec<Acl> {
        vec![Acl::new(perms, Id::digest(user, "pw"))]
    }

    pub fn auth(c: &mut RawConnection, credential: &'static [u8]) -> String {
        code(c.call(Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: credential.into(),
        })))
    }

    /// A create with flags 7, which no CreateMode spells.
    pub fn create_flags_7(c: &mut RawConnection, path: &str) -> String {
        let mut out = BytesMut::new();
        encode_frame(&mut out, |o| {
            o.put_i32(77);
            o.put_i32(1);
            o.put_i32(path.len() as i32);
            o.put_slice(path.as_bytes());
            o.put_i32(-1);
            o.put_i32(1);
            o.put_i32(31);
            for s in ["world", "anyone"] {
                o.put_i32(s.len() as i32);
                o.put_slice(s.as_bytes());
            }
            o.put_i32(7);
        });
        if c.write_raw(&out).is_err() {
            return "write failed".into();
        }
        match c.recv() {
            Ok((h, _)) => format!("xid {} err {}", h.xid, h.err),
            Err(e) => format!("failed {e}"),
        }
    }
}

#[test]
fn raw_requests_and_answers() {
    use kazoo::acl::Perms;
    use kazoo::proto::{PathRecord, PathVersion, PathWatch, Request, WatcherType, WatchesRequest};
    use kazoo_testing::RawConnection;
    compare_raw("raw", |addr, root, t| {
        let p = |s: &str| format!("{root}{s}");
        let mut admin = RawConnection::open(addr).unwrap();
        let mut other = RawConnection::open(addr).unwrap();
        t.note(
            "null data",
            raw::code(admin.call(raw::create(&p("/null"), None, raw::open()))),
        );
        t.note(
            "get null",
            raw::code(admin.call(Request::GetData(PathWatch {
                path: p("/null"),
                watch: false,
            }))),
        );
        t.note(
            "empty data",
            raw::code(admin.call(raw::create(&p("/empty"), Some(b""), raw::open()))),
        );
        t.note(
            "get empty",
            raw::code(admin.call(Request::GetData(PathWatch {
                path: p("/empty"),
                watch: false,
            }))),
        );
        t.note("auth without colon", raw::auth(&mut admin, b"bob"));
        t.note("auth alice", raw::auth(&mut admin, b"alice:pw"));
        t.note(
            "secret",
            raw::code(admin.call(raw::create(
                &p("/secret"),
                Some(b"s"),
                raw::only("alice", Perms::ALL),
            ))),
        );
        t.note(
            "getACL unauthenticated",
            raw::code(other.call(Request::GetAcl(PathRecord { path: p("/secret") }))),
        );
        t.note(
            "count unauthenticated",
            raw::code(other.call(Request::GetAllChildrenNumber(PathRecord {
                path: p("/secret"),
            }))),
        );
        t.note(
            "read-only for carol",
            raw::code(admin.call(raw::create(&p("/ro"), None, {
                let mut acl = raw::only("carol", Perms::READ);
                acl.extend(raw::only("alice", Perms::ALL));
                acl
            }))),
        );
        t.note("carol", raw::auth(&mut other, b"carol:pw"));
        t.note(
            "getACL with READ only",
            raw::code(other.call(Request::GetAcl(PathRecord { path: p("/ro") }))),
        );
        t.note(
            "getACL as admin",
            raw::code(admin.call(Request::GetAcl(PathRecord { path: p("/ro") }))),
        );
        t.note(
            "no delete",
            raw::code(admin.call(raw::create(
                &p("/nodel"),
                None,
                raw::only("alice", Perms::READ | Perms::CREATE),
            ))),
        );
        t.note(
            "delete missing under no-DELETE",
            raw::code(admin.call(Request::Delete(PathVersion {
                path: p("/nodel/missing"),
                version: -1,
            }))),
        );
        t.note("flags 7", raw::create_flags_7(&mut admin, &p("/seven")));
        t.note(
            "still connected",
            raw::code(admin.call(Request::Exists(PathWatch {
                path: p("/null"),
                watch: false,
            })))
            .starts_with("ok"),
        );
        // checkWatches only checks.
        t.note(
            "watch",
            raw::code(admin.call(Request::GetData(PathWatch {
                path: p("/null"),
                watch: true,
            })))
            .starts_with("data"),
        );
        t.note(
            "check",
            raw::code(admin.call(Request::CheckWatches(WatchesRequest {
                path: p("/null"),
                watcher_type: WatcherType::Data,
            }))),
        );
        t.note(
            "set",
            raw::code(other.call(Request::SetData(kazoo::proto::SetDataRequest {
                path: p("/null"),
                data: None,
                version: -1,
            }))),
        );
        t.note(
            "ping",
            raw::code(admin.call(Request::Exists(PathWatch {
                path: p("/null"),
                watch: false,
            })))
            .starts_with("ok"),
        );
        t.note(
            "event after check",
            admin
                .events
                .iter()
                .map(|e| format!("{:?}", e.event_type))
                .collect::<Vec<_>>(),
        );
        // A watcher without READ on the node hears nothing of it.
        let mut outsider = RawConnection::open(addr).unwrap();
        t.note(
            "exists watch",
            raw::code(outsider.call(Request::Exists(PathWatch {
                path: p("/secret"),
                watch: true,
            })))
            .starts_with("ok"),
        );
        t.note(
            "change secret",
            raw::code(admin.call(Request::SetData(kazoo::proto::SetDataRequest {
                path: p("/secret"),
                data: None,
                version: -1,
            })))
            .starts_with("ok"),
        );
        t.note(
            "outsider sync",
            raw::code(outsider.call(Request::Sync(PathRecord { path: p("/null") })))
                .starts_with("ok"),
        );
        t.note("outsider events", outsider.events.len());
        t.note(
            "sequential at the root of the chroot",
            raw::code(admin.call(Request::Create(kazoo::proto::CreateRequest {
                path: p("/"),
                data: None,
                acl: raw::open(),
                mode: kazoo::proto::CreateMode::PersistentSequential,
            })))
            .contains(root),
        );
        t.note(
            "zookeeper children",
            raw::code(admin.call(Request::GetChildren(PathWatch {
                path: "/zookeeper".into(),
                watch: false,
            }))),
        );
        t.note(
            "delete /zookeeper/quota",
            raw::code(admin.call(Request::Delete(PathVersion {
                path: "/zookeeper/quota".into(),
                version: -1,
            }))),
        );
    });
}

/// Sequential suffixes move with creations only; cversion counts
/// deletions too (3.8.0 keeps a creation counter and reports
/// `2 × creations − children`). Each case on a fresh parent: the suffixes
/// handed out, then the parent's cversion, pzxid order and child count.
#[test]
fn sequence_numbers_after_deletions() {
    compare("sequence", |c, _, _, t| {
        let suffix = |r: Result<String, kazoo::Error>| {
            result(r, |p| p.rsplit('-').next().unwrap_or_default().to_string())
        };
        let parent = |c: &Client, t: &mut Trace, name: &str, p: &str| {
            let s = c.exists(p).send().wait().unwrap().unwrap();
            t.note(name, (s.cversion, s.num_children));
        };
        // c a, d a, s
        c.create("/p1").send().wait().unwrap();
        c.create("/p1/a").send().wait().unwrap();
        c.delete("/p1/a").send().wait().unwrap();
        t.note(
            "p1 s",
            suffix(c.create("/p1/s-").sequential().send().wait()),
        );
        parent(c, t, "p1", "/p1");
        // c a, c b, d a, d b, s
        c.create("/p2").send().wait().unwrap();
        for n in ["/p2/a", "/p2/b"] {
            c.create(n).send().wait().unwrap();
        }
        for n in ["/p2/a", "/p2/b"] {
            c.delete(n).send().wait().unwrap();
        }
        t.note(
            "p2 s",
            suffix(c.create("/p2/s-").sequential().send().wait()),
        );
        parent(c, t, "p2", "/p2");
        // s, d that node, s
        c.create("/p3").send().wait().unwrap();
        let first = c.create("/p3/s-").sequential().send().wait().unwrap();
        t.note("p3 s1", suffix(Ok(first.clone())));
        c.delete(&first).send().wait().unwrap();
        t.note(
            "p3 s2",
            suffix(c.create("/p3/s-").sequential().send().wait()),
        );
        parent(c, t, "p3", "/p3");
        // a transaction that creates and deletes one child, then s
        c.create("/p4").send().wait().unwrap();
        let tx = c.transaction().create("/p4/t").delete("/p4/t");
        t.note("p4 tx", result(tx.commit().wait(), |r| multi(&r)));
        t.note(
            "p4 s",
            suffix(c.create("/p4/s-").sequential().send().wait()),
        );
        parent(c, t, "p4", "/p4");
        // sequential creates and deletes inside one transaction
        c.create("/p5").send().wait().unwrap();
        c.create("/p5/x").send().wait().unwrap();
        let tx = c
            .transaction()
            .delete("/p5/x")
            .create("/p5/s-")
            .sequential()
            .create("/p5/s-")
            .sequential();
        t.note("p5 tx", result(tx.commit().wait(), |r| multi(&r)));
        t.note(
            "p5 s",
            suffix(c.create("/p5/s-").sequential().send().wait()),
        );
        parent(c, t, "p5", "/p5");
    });
}

/// Ephemeral children that expire with their session count as deletions
/// in cversion and leave the next suffix alone.
#[test]
fn sequence_numbers_after_ephemerals_expire() {
    compare("sequence-ephemeral", |c, b, _, t| {
        c.create("/p").send().wait().unwrap();
        for _ in 0..3 {
            b.create("/p/e-")
                .ephemeral()
                .sequential()
                .send()
                .wait()
                .unwrap();
        }
        b.close().wait_timeout(WAIT).unwrap();
        let s = c.exists("/p").send().wait().unwrap().unwrap();
        t.note("after close", (s.cversion, s.num_children));
        t.note(
            "next",
            result(c.create("/p/s-").sequential().send().wait(), |p| p),
        );
        let s = c.exists("/p").send().wait().unwrap().unwrap();
        t.note("final", (s.cversion, s.num_children));
    });
}
