//! The sans-IO Session against a real ZooKeeper, driven by the blocking
//! test driver: handshake, pipelining, watches, chroot, pings, a dropped
//! connection with replay, and a real session expiry.

#![allow(clippy::disallowed_methods)] // tests time real behaviour

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use kazoo::acl::{Acl, Id, Perms, OPEN_ACL_UNSAFE};
use kazoo::proto::*;
use kazoo::session::{Config, Event, SessionState, WatchedEvent};
use kazoo::Error;
use kazoo_testing::{RawConnection, ZkServer};
use support::Driver;

fn server() -> &'static ZkServer {
    ZkServer::shared().expect("ZooKeeper")
}

fn create(path: &str, mode: CreateMode) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"v")),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode,
    })
}

fn get(path: &str, watch: bool) -> Request {
    Request::GetData(PathWatch {
        path: path.into(),
        watch,
    })
}

fn set(path: &str, data: &'static [u8]) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from_static(data)),
        version: -1,
    })
}

fn watch_event(e: &Event) -> Option<(u64, WatchedEvent)> {
    match e {
        Event::Watch { watcher, event } => Some((watcher.as_u64(), event.clone())),
        _ => None,
    }
}

#[test]
fn connects_pipelines_and_completes_in_order() {
    let mut d = Driver::connect(&server().connect_string());
    assert!(matches!(
        d.states()[..],
        [SessionState::Connected {
            new_session: true,
            ..
        }]
    ));
    assert_eq!(d.session.timeout(), Duration::from_secs(10));
    d.call(create("/pipe", CreateMode::Persistent)).unwrap();
    let ids: Vec<_> = (0..1000).map(|_| d.submit(get("/pipe", false))).collect();
    for id in &ids {
        assert!(matches!(d.result(*id), Ok(Response::GetData(_))));
    }
    let order: Vec<_> = d
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Response {
                id,
                result: Ok(Response::GetData(_)),
            } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(order, ids, "replies matched in FIFO order");
}

#[test]
fn chroot_applies_to_requests_results_and_notifications() {
    let mut root = Driver::connect(&server().connect_string());
    root.call(create("/chroot-app", CreateMode::Persistent))
        .unwrap();
    let mut d = Driver::connect(&format!("{}/chroot-app", server().connect_string()));
    let Ok(Response::Create(c)) = d.call(create("/job-", CreateMode::EphemeralSequential)) else {
        panic!()
    };
    assert_eq!(c.path, "/job-0000000000");
    let Ok(Response::GetEphemerals(e)) =
        d.call(Request::GetEphemerals(PathRecord { path: "/".into() }))
    else {
        panic!()
    };
    assert_eq!(e.children, ["/job-0000000000"]);
    let w = d.submit(Request::GetChildren(PathWatch {
        path: "/".into(),
        watch: true,
    }));
    d.result(w).unwrap();
    root.call(create("/chroot-app/other", CreateMode::Persistent))
        .unwrap();
    let ev = d.wait_for(|e| watch_event(e).is_some(), 10);
    assert_eq!(
        watch_event(&ev).unwrap(),
        (
            w.as_u64(),
            WatchedEvent {
                event_type: EventType::NodeChildrenChanged,
                state: KeeperState::SyncConnected,
                path: "/".into()
            }
        )
    );
    let Ok(Response::Sync(s)) = d.call(Request::Sync(PathRecord {
        path: "/other".into(),
    })) else {
        panic!()
    };
    assert_eq!(s.path, "/other");
    assert!(matches!(
        d.call(get("/x/", false)),
        Err(Error::InvalidPath(_))
    ));
}

#[test]
fn pings_keep_an_idle_session_alive() {
    let config = Config::builder(&server().connect_string())
        .session_timeout(Duration::from_millis(4000))
        .build()
        .unwrap();
    let mut d = Driver::new(config);
    d.wait_for(|e| matches!(e, Event::State { .. }), 10);
    d.run_for(Duration::from_secs(7));
    assert_eq!(d.states().len(), 1, "never disconnected: {:?}", d.states());
    assert!(d.session.stats().pings_sent >= 4, "{:?}", d.session.stats());
    assert!(d.session.stats().last_rtt.is_some());
    assert!(d.call(get("/", false)).is_ok());
}

#[test]
fn dropped_connection_resumes_the_session_and_replays_watches_and_auth() {
    let config = Config::builder(&server().connect_string())
        .auth("digest", Bytes::from_static(b"ann:pw"))
        .build()
        .unwrap();
    let mut d = Driver::new(config);
    d.wait_for(|e| matches!(e, Event::State { .. }), 10);
    let secret = Request::Create(CreateRequest {
        path: "/replay".into(),
        data: Some(Bytes::from_static(b"0")),
        acl: vec![
            Acl::new(Perms::ALL, Id::digest("ann", "pw")),
            Acl::new(Perms::READ, Id::ANYONE),
        ],
        mode: CreateMode::Persistent,
    });
    d.call(secret).unwrap();
    d.call(create("/replay-missing-parent", CreateMode::Persistent))
        .unwrap();
    let data = d.submit(get("/replay", true));
    let exist = d.submit(Request::Exists(PathWatch {
        path: "/replay-new".into(),
        watch: true,
    }));
    let pers = d.submit(Request::AddWatch(AddWatchRequest {
        path: "/replay-missing-parent".into(),
        mode: AddWatchMode::PersistentRecursive,
    }));
    d.result(data).unwrap();
    assert_eq!(d.result(exist), Err(Error::NoNode));
    d.result(pers).unwrap();
    let session_id = d.session.session().0;

    // Cut the connection and keep the client away while another client writes.
    d.refuse = true;
    d.sever();
    d.wait_for(
        |e| {
            matches!(
                e,
                Event::State {
                    state: SessionState::Suspended { .. },
                    ..
                }
            )
        },
        10,
    );
    let mut other = RawConnection::open(server().addr()).unwrap();
    other
        .call(set("/replay", b"changed while away"))
        .unwrap_err(); // read-only for others
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"ann:pw".into(),
    });
    other.send(&auth).unwrap();
    other.recv().unwrap();
    other.call(set("/replay", b"changed while away")).unwrap();
    other
        .call(create("/replay-new", CreateMode::Persistent))
        .unwrap();
    other
        .call(create("/replay-missing-parent/k", CreateMode::Persistent))
        .unwrap();
    let queued = d.submit(get("/replay", false));

    d.refuse = false;
    d.wait_for(
        |e| {
            matches!(
                e,
                Event::State {
                    state: SessionState::Connected { .. },
                    ..
                }
            )
        },
        10,
    );
    assert_eq!(
        d.states(),
        [
            SessionState::Connected {
                session_id,
                new_session: true
            },
            SessionState::Suspended { session_id },
            SessionState::Connected {
                session_id,
                new_session: false
            },
        ]
    );
    // One-shot watches got the server's catch-up; the recursive one the resumed signal.
    d.run_for(Duration::from_millis(300));
    let fired: Vec<_> = d
        .events
        .iter()
        .filter_map(watch_event)
        .map(|(w, e)| (w, e.event_type, e.path))
        .collect();
    assert!(
        fired.contains(&(data.as_u64(), EventType::NodeDataChanged, "/replay".into())),
        "{fired:?}"
    );
    assert!(
        fired.contains(&(exist.as_u64(), EventType::NodeCreated, "/replay-new".into())),
        "{fired:?}"
    );
    assert!(
        fired.contains(&(
            pers.as_u64(),
            EventType::None,
            "/replay-missing-parent".into()
        )),
        "{fired:?}"
    );
    // The request queued while away went out after the handshake.
    let Ok(Response::GetData(r)) = d.result(queued) else {
        panic!()
    };
    assert_eq!(r.data.as_deref(), Some(&b"changed while away"[..]));
    // Auth was replayed: the digest-protected write works on the new connection.
    d.call(set("/replay", b"mine again")).unwrap();
    // The recursive watch is armed again and fires for new changes.
    other
        .call(create("/replay-missing-parent/k2", CreateMode::Persistent))
        .unwrap();
    let ev = d.wait_for(|e| matches!(watch_event(e), Some((w, ref ev)) if w == pers.as_u64() && ev.path.ends_with("k2")), 10);
    assert_eq!(
        watch_event(&ev).unwrap().1.event_type,
        EventType::NodeCreated
    );
}

#[test]
fn real_expiry_is_lost_then_a_new_session() {
    let mut d = Driver::connect(&server().connect_string());
    d.call(create("/expiring", CreateMode::Ephemeral)).unwrap();
    let w = d.submit(Request::Exists(PathWatch {
        path: "/expiring".into(),
        watch: true,
    }));
    d.result(w).unwrap();
    let (session_id, passwd) = {
        let (i, p) = d.session.session();
        (i, p.clone())
    };

    // Expire it for real: attach to the session from a second connection, then close it there.
    let resume = ConnectRequest {
        timeout: 10_000,
        session_id,
        passwd,
        read_only: Some(false),
        ..Default::default()
    };
    let mut thief =
        RawConnection::handshake(server().addr(), &resume, Duration::from_secs(5)).unwrap();
    thief.call(Request::CloseSession).unwrap();

    let started = Instant::now();
    d.wait_for(|e| matches!(e, Event::State { state: SessionState::Connected { new_session: true, session_id: id }, .. } if *id != session_id), 20);
    assert!(started.elapsed() < Duration::from_secs(10));
    let states = d.states();
    assert!(
        states.contains(&SessionState::Lost {
            session_id,
            reason: kazoo::session::LostReason::Expired
        }),
        "{states:?}"
    );
    assert!(
        d.events
            .iter()
            .filter_map(watch_event)
            .any(|(id, e)| id == w.as_u64() && e.state == KeeperState::Expired),
        "the watcher was told"
    );
    assert_eq!(
        d.call(get("/expiring", false)),
        Err(Error::NoNode),
        "ephemeral of the old session gone"
    );
    d.call(create("/expiring", CreateMode::Ephemeral)).unwrap();
}
