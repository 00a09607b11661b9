//! The codec against a real ZooKeeper server: every record this crate
//! encodes is accepted, and every reply decodes to what the server meant.
//! No session logic here: a blocking socket and the codec only.

use std::time::Duration;

use bytes::Bytes;
use kazoo::acl::{Acl, Id, Perms, OPEN_ACL_UNSAFE};
use kazoo::proto::*;
use kazoo::Error;
use kazoo_testing::{RawConnection, TestingError, ZkServer};

fn conn() -> RawConnection {
    RawConnection::open(ZkServer::shared().expect("server").addr()).expect("connect")
}

fn server_err(r: Result<Response, TestingError>) -> Error {
    match r {
        Err(TestingError::Protocol(e)) => e,
        other => panic!("expected a server error, got {other:?}"),
    }
}

fn create(path: &str, data: Option<&'static [u8]>, mode: CreateMode) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: data.map(Bytes::from_static),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode,
    })
}

fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch,
    })
}

fn set_data(path: &str, data: &'static [u8], version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(Bytes::from_static(data)),
        version,
    })
}

#[test]
fn handshake_forms_and_timeout_negotiation() {
    let addr = ZkServer::shared().unwrap().addr();
    let mut request = ConnectRequest {
        timeout: 1000,
        passwd: Bytes::from(vec![0; 16]).into(),
        read_only: Some(false),
        ..Default::default()
    };
    let c = RawConnection::handshake(addr, &request, Duration::from_secs(5)).unwrap();
    // Clamped up to 2 × tickTime; the 37-byte form carries the readOnly byte.
    assert_eq!(c.session().timeout, 4000);
    assert_eq!(c.session().read_only, Some(false));
    assert_eq!(c.session().passwd.len(), 16);
    assert_ne!(c.session().session_id, 0);

    // Without the readOnly byte the server answers in the 36-byte form.
    request.read_only = None;
    request.timeout = 10_000_000;
    let c = RawConnection::handshake(addr, &request, Duration::from_secs(5)).unwrap();
    assert_eq!(c.session().read_only, None);
    assert_eq!(c.session().timeout, 40_000, "clamped down to 20 × tickTime");
}

#[test]
fn unknown_session_gets_the_expired_response() {
    let addr = ZkServer::shared().unwrap().addr();
    let request = ConnectRequest {
        timeout: 10_000,
        session_id: 0x1234_5678,
        passwd: Bytes::from(vec![7; 16]).into(),
        read_only: Some(false),
        ..Default::default()
    };
    let err = RawConnection::handshake(addr, &request, Duration::from_secs(5)).unwrap_err();
    assert!(
        matches!(err, TestingError::Protocol(Error::SessionExpired)),
        "{err:?}"
    );
}

#[test]
fn crud_and_stat_fields() {
    let mut c = conn();
    let r = c
        .call(create("/crud", Some(b"hi"), CreateMode::Persistent))
        .unwrap();
    assert_eq!(
        r,
        Response::Create(CreateResponse {
            path: "/crud".into()
        })
    );

    let Response::GetData(got) = c.call(get_data("/crud", false)).unwrap() else {
        panic!()
    };
    assert_eq!(got.data.as_deref(), Some(&b"hi"[..]));
    assert_eq!(got.stat.version, 0);
    assert_eq!(got.stat.data_length, 2);
    assert_eq!(got.stat.ephemeral_owner, 0);
    assert_eq!(got.stat.czxid, got.stat.mzxid);

    let Response::Stat(after) = c.call(set_data("/crud", b"bye", 0)).unwrap() else {
        panic!()
    };
    assert_eq!(after.version, 1);
    assert!(after.mzxid > got.stat.mzxid);
    assert_eq!(
        server_err(c.call(set_data("/crud", b"x", 0))),
        Error::BadVersion
    );
    assert_eq!(
        server_err(c.call(create("/crud", None, CreateMode::Persistent))),
        Error::NodeExists
    );

    c.call(create("/crud/k", None, CreateMode::Persistent))
        .unwrap();
    let Response::GetChildren2(kids) = c
        .call(Request::GetChildren2(GetChildren2Request {
            path: "/crud".into(),
            watch: false,
        }))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(kids.children, ["k"]);
    assert_eq!(kids.stat.num_children, 1);
    assert_eq!(kids.stat.cversion, 1);

    // Null data is stored as null and read back as None.
    let Response::GetData(k) = c.call(get_data("/crud/k", false)).unwrap() else {
        panic!()
    };
    assert_eq!(k.data, None);

    let delete = |path: &str| {
        Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        })
    };
    assert_eq!(server_err(c.call(delete("/crud"))), Error::NotEmpty);
    assert_eq!(c.call(delete("/crud/k")).unwrap(), Response::Empty);
    assert_eq!(server_err(c.call(delete("/crud/k"))), Error::NoNode);
    let exists = Request::Exists(ExistsRequest {
        path: "/crud/k".into(),
        watch: false,
    });
    assert_eq!(server_err(c.call(exists)), Error::NoNode);

    let Response::Sync(s) = c
        .call(Request::Sync(SyncRequest {
            path: "/crud".into(),
        }))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(s.path, "/crud");
}

#[test]
fn sequential_container_and_ttl_creates() {
    let mut c = conn();
    c.call(create("/kinds", None, CreateMode::Persistent))
        .unwrap();
    let Response::Create(a) = c
        .call(create("/kinds/s-", None, CreateMode::PersistentSequential))
        .unwrap()
    else {
        panic!()
    };
    let name = kazoo::path::basename(&a.path);
    assert_eq!(
        kazoo::path::sequence_number(name, "s-"),
        Some(0),
        "{}",
        a.path
    );

    let container = Request::CreateContainer(CreateRequest {
        path: "/kinds/box".into(),
        data: None,
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::Container,
    });
    let Response::Create2(r) = c.call(container).unwrap() else {
        panic!()
    };
    assert_eq!(r.path, "/kinds/box");
    assert_eq!(r.stat.ephemeral_owner, 0, "containers report owner 0");

    let ttl = Request::CreateTtl(CreateTtlRequest {
        path: "/kinds/ttl-".into(),
        data: Some(Bytes::from_static(b"t")),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::PersistentSequentialWithTtl,
        ttl: 60_000,
    });
    let Response::Create2(r) = c.call(ttl).unwrap() else {
        panic!()
    };
    assert!(r.path.starts_with("/kinds/ttl-"));
    assert_eq!(r.stat.data_length, 1);

    let bad_ttl = Request::CreateTtl(CreateTtlRequest {
        path: "/kinds/ttl0".into(),
        data: None,
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::PersistentWithTtl,
        ttl: 0,
    });
    assert_eq!(server_err(c.call(bad_ttl)), Error::BadArguments);

    let Response::Create2(r) = c
        .call(Request::Create2(CreateRequest {
            path: "/kinds/eph".into(),
            data: None,
            acl: OPEN_ACL_UNSAFE.to_vec(),
            mode: CreateMode::Ephemeral,
        }))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(r.stat.ephemeral_owner, c.session().session_id);
    assert_eq!(
        server_err(c.call(create("/kinds/eph/child", None, CreateMode::Persistent))),
        Error::NoChildrenForEphemerals
    );

    let Response::GetEphemerals(e) = c
        .call(Request::GetEphemerals(GetEphemeralsRequest {
            path: "/kinds".into(),
        }))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(e.children, ["/kinds/eph"]);
    let Response::GetAllChildrenNumber(n) = c
        .call(Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
            path: "/kinds".into(),
        }))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(n.total_number, 4);
}

#[test]
fn multi_success_failure_and_multi_read() {
    let mut c = conn();
    let multi = |ops| Request::Multi(MultiRequest { ops });
    let cr = |path: &str| CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"m")),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::Persistent,
    };
    let Response::Multi(ok) = c
        .call(multi(vec![
            MultiOp::Create(cr("/multi")),
            MultiOp::Create2(cr("/multi/a")),
            MultiOp::SetData(SetDataRequest {
                path: "/multi".into(),
                data: None,
                version: 0,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: "/multi".into(),
                version: 1,
            }),
            MultiOp::Delete(DeleteRequest {
                path: "/multi/a".into(),
                version: 0,
            }),
        ]))
        .unwrap()
    else {
        panic!()
    };
    let types: Vec<i32> = ok.results.iter().map(|r| r.op_code().as_i32()).collect();
    // 3.8.0 answers create2 inside multi as a plain create (PROTOCOL.md §0.9).
    assert!(
        types == [1, 1, 5, 13, 2] || types == [1, 15, 5, 13, 2],
        "{types:?}"
    );
    assert_eq!(Error::check_multi(ok.results.clone()), Ok(ok.results));

    let Response::Multi(failed) = c
        .call(multi(vec![
            MultiOp::Create(cr("/multi/b")),
            MultiOp::SetData(SetDataRequest {
                path: "/multi".into(),
                data: None,
                version: 99,
            }),
            MultiOp::Create(cr("/multi/c")),
        ]))
        .unwrap()
    else {
        panic!()
    };
    let codes: Vec<_> = failed.results.iter().map(MultiResult::error_code).collect();
    assert_eq!(codes, [Some(0), Some(-103), Some(-2)]);
    assert_eq!(
        server_err(c.call(get_data("/multi/b", false))),
        Error::NoNode,
        "nothing applied"
    );

    let reads = Request::MultiRead(MultiReadRequest {
        ops: vec![
            ReadOp::GetData(GetDataRequest {
                path: "/multi".into(),
                watch: false,
            }),
            ReadOp::GetChildren(GetChildrenRequest {
                path: "/missing".into(),
                watch: false,
            }),
            ReadOp::GetChildren(GetChildrenRequest {
                path: "/multi".into(),
                watch: false,
            }),
        ],
    });
    let Response::Multi(read) = c.call(reads).unwrap() else {
        panic!()
    };
    assert!(
        matches!(&read.results[0], MultiResult::GetData(d) if d.data.is_none() && d.stat.version == 1)
    );
    assert_eq!(read.results[1].error_code(), Some(-101));
    assert_eq!(
        read.results[2],
        MultiResult::GetChildren(GetChildrenResponse { children: vec![] })
    );

    // An empty multiRead is answered with just the terminator.
    let empty = Request::MultiRead(MultiReadRequest { ops: vec![] });
    assert!(matches!(c.call(empty).unwrap(), Response::Multi(m) if m.results.is_empty()));
}

#[test]
fn notification_arrives_before_the_reply_that_caused_it() {
    let mut c = conn();
    c.call(create("/watched", Some(b"1"), CreateMode::Persistent))
        .unwrap();
    c.call(get_data("/watched", true)).unwrap();
    assert!(c.events.is_empty());
    c.call(set_data("/watched", b"2", -1)).unwrap();
    assert_eq!(
        c.events,
        [WatcherEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: "/watched".into()
        }]
    );

    // An exists watch on a missing node is left even though the reply is NoNode.
    c.events.clear();
    let exists = Request::Exists(ExistsRequest {
        path: "/watched/new".into(),
        watch: true,
    });
    assert_eq!(server_err(c.call(exists)), Error::NoNode);
    c.call(create("/watched/new", None, CreateMode::Persistent))
        .unwrap();
    assert_eq!(c.events[0].event_type, EventType::NodeCreated);
    assert_eq!(c.events[0].path, "/watched/new");
}

#[test]
fn persistent_recursive_watch_and_remove_watches() {
    let mut c = conn();
    c.call(create("/pw", None, CreateMode::Persistent)).unwrap();
    let add = Request::AddWatch(AddWatchRequest {
        path: "/pw".into(),
        mode: AddWatchMode::PersistentRecursive,
    });
    assert_eq!(
        c.call(add).unwrap(),
        Response::AddWatch(ErrorResponse { err: 0 })
    );
    c.call(create("/pw/k", None, CreateMode::Persistent))
        .unwrap();
    c.call(set_data("/pw/k", b"v", -1)).unwrap();
    let seen: Vec<_> = c
        .events
        .iter()
        .map(|e| (e.event_type, e.path.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (EventType::NodeCreated, "/pw/k"),
            (EventType::NodeDataChanged, "/pw/k")
        ]
    );

    let check = |t| {
        Request::CheckWatches(WatchesRequest {
            path: "/pw".into(),
            watcher_type: t,
        })
    };
    assert_eq!(c.call(check(WatcherType::Any)).unwrap(), Response::Empty);
    let remove = Request::RemoveWatches(WatchesRequest {
        path: "/pw".into(),
        watcher_type: WatcherType::Any,
    });
    assert_eq!(c.call(remove).unwrap(), Response::Empty);
    assert_eq!(
        server_err(c.call(check(WatcherType::Any))),
        Error::NoWatcher
    );
}

#[test]
fn digest_auth_acl_and_whoami() {
    let mut c = conn();
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"bob:secret".into(),
    });
    let sent = c.send(&auth).unwrap();
    assert_eq!(sent, xid::AUTH);
    let (header, _) = c.recv().unwrap();
    assert_eq!((header.xid, header.err), (xid::AUTH, 0));

    let Response::WhoAmI(who) = c.call(Request::WhoAmI).unwrap() else {
        panic!()
    };
    let ids: Vec<_> = who
        .client_info
        .iter()
        .map(|i| (i.auth_scheme.as_str(), i.user.as_str()))
        .collect();
    assert!(ids.contains(&("digest", "bob")), "{ids:?}");
    assert!(ids.contains(&("ip", "127.0.0.1")), "{ids:?}");

    let secret = Request::Create(CreateRequest {
        path: "/secret".into(),
        data: Some(Bytes::from_static(b"s")),
        acl: vec![Acl::new(Perms::ALL, Id::digest("bob", "secret"))],
        mode: CreateMode::Persistent,
    });
    c.call(secret).unwrap();
    let Response::GetAcl(acl) = c
        .call(Request::GetAcl(GetAclRequest {
            path: "/secret".into(),
        }))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(acl.acl, [Acl::new(Perms::ALL, Id::digest("bob", "secret"))]);

    let mut stranger = conn();
    assert_eq!(
        server_err(stranger.call(get_data("/secret", false))),
        Error::NoAuth
    );
    let empty_acl = Request::SetAcl(SetAclRequest {
        path: "/secret".into(),
        acl: vec![],
        version: -1,
    });
    assert_eq!(server_err(c.call(empty_acl)), Error::InvalidAcl);
}

#[test]
fn ping_and_unknown_opcode() {
    let mut c = conn();
    assert_eq!(c.send(&Request::Ping).unwrap(), xid::PING);
    let (header, body) = c.recv().unwrap();
    assert_eq!((header.xid, header.err, body.len()), (xid::PING, 0, 0));

    // Opcode 99: the server answers Unimplemented, then closes (PROTOCOL.md §0.2).
    c.write_raw(b"\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00\x63")
        .unwrap();
    let (header, _) = c.recv().unwrap();
    assert_eq!(Error::from_code(header.err), Error::Unimplemented);
    assert!(c.read_frame().is_err(), "connection closed");
}

#[test]
fn set_watches_catch_up_after_reconnect() {
    let addr = ZkServer::shared().unwrap().addr();
    let mut first = conn();
    first
        .call(create("/sw", Some(b"0"), CreateMode::Persistent))
        .unwrap();
    first.call(get_data("/sw", true)).unwrap();
    let (header, _) = {
        first
            .send(&Request::Sync(SyncRequest { path: "/sw".into() }))
            .unwrap();
        first.recv().unwrap()
    };
    let last_zxid = header.zxid;
    let session = first.session().clone();
    drop(first); // socket gone, session alive

    conn().call(set_data("/sw", b"1", -1)).unwrap();

    let resume = ConnectRequest {
        last_zxid_seen: last_zxid,
        timeout: 10_000,
        session_id: session.session_id,
        passwd: session.passwd.clone(),
        read_only: Some(false),
        ..Default::default()
    };
    let mut again = RawConnection::handshake(addr, &resume, Duration::from_secs(5)).unwrap();
    assert_eq!(again.session().session_id, session.session_id);
    let set = Request::SetWatches(SetWatches {
        relative_zxid: last_zxid,
        data_watches: vec!["/sw".into()],
        exist_watches: vec![],
        child_watches: vec![],
    });
    let sent = again.send(&set).unwrap();
    let (reply, _) = again.recv().unwrap();
    assert_eq!((reply.xid, reply.err), (sent, 0));
    assert_eq!(
        again.events.len(),
        1,
        "catch-up event came before the reply"
    );
    assert_eq!(again.events[0].event_type, EventType::NodeDataChanged);
}

#[test]
fn near_one_megabyte_of_data() {
    let mut c = conn();
    static BIG: [u8; 1_048_000] = [b'x'; 1_048_000];
    c.call(Request::Create(CreateRequest {
        path: "/big".into(),
        data: Some(Bytes::from_static(&BIG)),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::Persistent,
    }))
    .unwrap();
    let Response::GetData(got) = c.call(get_data("/big", false)).unwrap() else {
        panic!()
    };
    assert_eq!(got.data.map(|d| d.len()), Some(BIG.len()));

    // A request over jute.maxbuffer fails locally and is never sent.
    static HUGE: [u8; 1_048_576] = [0; 1_048_576];
    let huge = Request::SetData(SetDataRequest {
        path: "/big".into(),
        data: Some(Bytes::from_static(&HUGE)),
        version: -1,
    });
    let err = c.send(&huge).unwrap_err();
    assert!(
        matches!(err, TestingError::Protocol(Error::RequestTooLarge(_))),
        "{err:?}"
    );
    assert!(matches!(
        c.call(get_data("/big", false)).unwrap(),
        Response::GetData(_)
    ));
}
