//! Every operation against the real server: results and documented failures.

use std::time::{Duration, Instant};

use kazoo::acl::{Acl, Id, Perms, CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE};
use kazoo::client::ReadResult;
use kazoo::path::sequence_number;
use kazoo::proto::MultiResult;
use kazoo::{ArgumentError, Bytes, Error};

use kazoo::session::Config;

use super::{Adapter, Ctx, WAIT};

pub fn create_modes_and_results<A: Adapter>() {
    let ctx = Ctx::new::<A>("create");
    let c = &ctx.client;
    assert_eq!(c.create("/p").data("x").send().wait(), Ok("/p".into()));
    let (path, stat) = c.create("/p2").data("xyz").send_with_stat().wait().unwrap();
    assert_eq!(
        (
            path.as_str(),
            stat.data_length,
            stat.version,
            stat.ephemeral_owner
        ),
        ("/p2", 3, 0, 0)
    );

    assert!(!stat.is_ephemeral() && stat.owner_session_id().is_none());
    assert_eq!((stat.data_len(), stat.children_count()), (3, 0));
    // The server's clock stamps ctime; same machine, so near ours.
    let age = std::time::SystemTime::now()
        .duration_since(stat.created())
        .unwrap_or_default();
    assert!(age < Duration::from_secs(60), "created {age:?} ago");
    assert_eq!(stat.created(), stat.last_modified());

    let (_, stat) = c.create("/e").ephemeral().send_with_stat().wait().unwrap();
    assert_eq!(
        stat.ephemeral_owner,
        c.session_id(),
        "ephemeral belongs to this session"
    );
    assert!(stat.is_ephemeral());
    assert_eq!(stat.owner_session_id(), Some(c.session_id()));

    let seq = c.create("/s-").sequential().send().wait().unwrap();
    assert_eq!(
        seq, "/s-0000000003",
        "the parent's cversion counts /p, /p2, /e"
    );
    let eseq = c
        .create("/es-")
        .ephemeral()
        .sequential()
        .send_with_stat()
        .wait()
        .unwrap();
    assert!(
        eseq.0.starts_with("/es-") && eseq.0.len() == 14,
        "{}",
        eseq.0
    );
    assert_eq!(eseq.1.ephemeral_owner, c.session_id());

    assert_eq!(c.create("/c").container().send().wait(), Ok("/c".into()));
    let (ttl, stat) = c
        .create("/t")
        .ttl(Duration::from_secs(3600))
        .send_with_stat()
        .wait()
        .unwrap();
    assert_eq!((ttl.as_str(), stat.ephemeral_owner), ("/t", 0));
    assert!(!stat.is_ephemeral(), "a TTL node is not ephemeral");
    let tseq = c
        .create("/ts-")
        .ttl(Duration::from_secs(3600))
        .sequential()
        .send()
        .wait()
        .unwrap();
    assert!(tseq.starts_with("/ts-00000"), "{tseq}");

    let mut names = c.get_children("/").send().wait().unwrap();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
}

/// A server without `create2` (as 3.4 is; here the embedded server told
/// to act so): plain creates use the old opcode, so they work; a create
/// that asks for the Stat is refused, and the server closes the
/// connection as 3.4 does.
pub fn plain_creates_work_where_create2_is_unknown<A: Adapter>() {
    let mut config = kazoo_server::ServerConfig::default();
    config.create2 = false;
    let server = kazoo_server::EmbeddedServer::start(config).unwrap();
    let c = A::start(Config::new(&server.connect_string()).unwrap());
    c.wait_connected().wait_timeout(WAIT).unwrap();
    assert_eq!(c.create("/a").data("x").send().wait(), Ok("/a".into()));
    assert_eq!(&c.get("/a").send().wait().unwrap().0.unwrap()[..], b"x");
    let sent = |c: &kazoo::Client| {
        let s = c.stats();
        s.frames_sent - s.pings_sent
    };
    let before = sent(&c);
    let seq = c
        .create("/q/job-")
        .sequential()
        .make_parents()
        .send()
        .wait();
    assert_eq!(seq, Ok("/q/job-0000000000".into()));
    // create (NoNode), exists /q (None), exists / (Some), create /q, create.
    assert_eq!(sent(&c) - before, 5);
    let reconnects = c.stats().reconnects;
    assert_eq!(
        c.create("/s").send_with_stat().wait(),
        Err(Error::Unimplemented),
        "a Stat needs create2"
    );
    // The server hung up, as 3.4 does; the session carries on.
    let waited = std::time::Instant::now();
    while !(c.stats().reconnects > reconnects && c.is_connected()) {
        assert!(waited.elapsed() < WAIT, "no reconnect after the hang-up");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.create("/t").send().wait(), Ok("/t".into()));
    assert_eq!(
        c.create("/c").container().send().wait(),
        Err(Error::Unimplemented)
    );
    c.close().wait().unwrap();
}

pub fn create_failures<A: Adapter>() {
    let ctx = Ctx::new::<A>("create_failures");
    let c = &ctx.client;
    c.create("/a").send().wait().unwrap();
    assert_eq!(c.create("/a").send().wait(), Err(Error::NodeExists));
    assert_eq!(c.create("/missing/child").send().wait(), Err(Error::NoNode));
    c.create("/eph").ephemeral().send().wait().unwrap();
    assert_eq!(
        c.create("/eph/child").send().wait(),
        Err(Error::NoChildrenForEphemerals)
    );
    let bogus = vec![Acl::new(Perms::ALL, Id::new("bogus", "x"))];
    assert_eq!(
        c.create("/b").acl(bogus).send().wait(),
        Err(Error::InvalidAcl)
    );
    assert_eq!(
        c.create("/creator").acl(CREATOR_ALL_ACL).send().wait(),
        Err(Error::InvalidAcl),
        "auth: ids need an authenticated session"
    );
    assert_eq!(
        c.exists("/b").send().wait(),
        Ok(None),
        "nothing was created"
    );
}

pub fn sequential_numbers_increase_per_parent<A: Adapter>() {
    let ctx = Ctx::new::<A>("sequential");
    let c = &ctx.client;
    c.ensure_path("/a").wait().unwrap();
    c.ensure_path("/b").wait().unwrap();
    let a: Vec<_> = (0..3)
        .map(|_| c.create("/a/n-").sequential().send())
        .collect();
    let b: Vec<_> = (0..2)
        .map(|_| c.create("/b/n-").sequential().send())
        .collect();
    let a: Vec<_> = a.into_iter().map(|t| t.wait().unwrap()).collect();
    let b: Vec<_> = b.into_iter().map(|t| t.wait().unwrap()).collect();
    let num = |p: &String| sequence_number(kazoo::path::basename(p), "n-");
    assert_eq!(
        a.iter().map(num).collect::<Vec<_>>(),
        [Some(0), Some(1), Some(2)]
    );
    assert_eq!(b.iter().map(num).collect::<Vec<_>>(), [Some(0), Some(1)]);
}

pub fn ensure_path_and_make_parents<A: Adapter>() {
    let ctx = Ctx::new::<A>("ensure");
    let c = &ctx.client;
    c.ensure_path("/x/y/z").wait().unwrap();
    c.ensure_path("/x/y/z")
        .wait()
        .expect("existing paths are fine");
    assert!(c.exists("/x/y/z").send().wait().unwrap().is_some());
    assert_eq!(c.create("/m/n/o").send().wait(), Err(Error::NoNode));
    let path = c
        .create("/m/n/o")
        .data("leaf")
        .make_parents()
        .send()
        .wait()
        .unwrap();
    assert_eq!(path, "/m/n/o");
    assert_eq!(
        c.get("/m/n").send().wait().unwrap().0.map(|d| d.len()),
        Some(0),
        "parents are empty"
    );
    assert_eq!(
        &c.get("/m/n/o").send().wait().unwrap().0.unwrap()[..],
        b"leaf"
    );
    let seq = c
        .create("/q/r/job-")
        .sequential()
        .make_parents()
        .send()
        .wait()
        .unwrap();
    assert_eq!(seq, "/q/r/job-0000000000");

    // An existing path is only read: an ancestor that no longer allows
    // CREATE does not matter (a create would fail with NoAuth).
    c.ensure_path("/locked/inside").wait().unwrap();
    c.set_acls("/locked", READ_ACL_UNSAFE)
        .send()
        .wait()
        .unwrap();
    assert_eq!(c.create("/locked/inside").send().wait(), Err(Error::NoAuth));
    c.ensure_path("/locked/inside")
        .wait()
        .expect("an existing path needs no CREATE");
    assert_eq!(
        c.ensure_path("/locked/beside/deeper").wait(),
        Err(Error::NoAuth),
        "a missing node still needs CREATE on its parent"
    );

    // A missing chroot node is created when asked, and what is under it.
    let chrooted = A::start(Config::new(&format!("{}{}/new-root", ctx.hosts, ctx.chroot)).unwrap());
    chrooted.wait_connected().wait_timeout(super::WAIT).unwrap();
    assert_eq!(chrooted.exists("/").send().wait(), Ok(None));
    chrooted.ensure_path("/a/b").wait().unwrap();
    assert!(c.exists("/new-root/a/b").send().wait().unwrap().is_some());
    chrooted.ensure_path("/").wait().unwrap();
}

pub fn exists_get_set_with_versions<A: Adapter>() {
    let ctx = Ctx::new::<A>("versions");
    let c = &ctx.client;
    assert_eq!(c.exists("/n").send().wait(), Ok(None));
    assert_eq!(c.get("/n").send().wait(), Err(Error::NoNode));
    assert_eq!(c.set("/n", "x").send().wait(), Err(Error::NoNode));
    c.create("/n").data("one").send().wait().unwrap();
    let stat = c.exists("/n").send().wait().unwrap().unwrap();
    assert_eq!((stat.version, stat.data_length), (0, 3));
    let stat = c.set("/n", "two").version(0).send().wait().unwrap();
    assert_eq!(stat.version, 1);
    assert_eq!(
        c.set("/n", "three").version(0).send().wait(),
        Err(Error::BadVersion)
    );
    let (data, stat) = c.get("/n").send().wait().unwrap();
    assert_eq!((data.as_deref(), stat.version), (Some(&b"two"[..]), 1));
    c.set("/n", "").send().wait().unwrap();
    let (data, stat) = c.get("/n").send().wait().unwrap();
    assert_eq!(
        (data.as_deref(), stat.version, stat.data_length),
        (Some(&b""[..]), 2, 0)
    );
}

/// kazoo tells null data (`None`) from empty data (`b""`); so do we, on
/// every path that writes or reads data.
pub fn null_data_is_not_empty_data<A: Adapter>() {
    let ctx = Ctx::new::<A>("null");
    let c = &ctx.client;
    c.create("/null").null_data().send().wait().unwrap();
    c.create("/empty").send().wait().unwrap();
    let (data, stat) = c.get("/null").send().wait().unwrap();
    assert_eq!((data, stat.data_length), (None, 0));
    let (data, _) = c.get("/empty").send().wait().unwrap();
    assert_eq!(data, Some(Bytes::new()));
    // A set can store null and then data again.
    c.set("/empty", "x").null_data().send().wait().unwrap();
    assert_eq!(c.get("/empty").send().wait().unwrap().0, None);
    c.set("/null", "y").send().wait().unwrap();
    assert_eq!(
        c.get("/null").send().wait().unwrap().0,
        Some(Bytes::from("y"))
    );
    // The same in a transaction, and read back in one multiRead.
    c.transaction()
        .create("/tx-null")
        .null_data()
        .set("/null", "")
        .null_data()
        .create("/tx-empty")
        .commit()
        .wait()
        .unwrap();
    let reads = c
        .multi_read()
        .get("/tx-null")
        .get("/null")
        .get("/tx-empty")
        .send()
        .wait()
        .unwrap();
    let data: Vec<_> = reads
        .into_iter()
        .map(|r| match r {
            Ok(ReadResult::Data(d, _)) => d,
            other => panic!("not data: {other:?}"),
        })
        .collect();
    assert_eq!(data, [None, None, Some(Bytes::new())]);
}

pub fn children_with_and_without_stat<A: Adapter>() {
    let ctx = Ctx::new::<A>("children");
    let c = &ctx.client;
    c.ensure_path("/k").wait().unwrap();
    assert_eq!(c.get_children("/k").send().wait(), Ok(vec![]));
    for name in ["b", "a", "c"] {
        c.create(format!("/k/{name}")).send().wait().unwrap();
    }
    let mut names = c.get_children("/k").send().wait().unwrap();
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    let (names, stat) = c.get_children("/k").send_with_stat().wait().unwrap();
    assert_eq!((names.len(), stat.num_children, stat.cversion), (3, 3, 3));
    assert_eq!(c.get_children("/none").send().wait(), Err(Error::NoNode));
}

pub fn delete_with_version_and_recursive<A: Adapter>() {
    let ctx = Ctx::new::<A>("delete");
    let c = &ctx.client;
    assert_eq!(c.delete("/none").send().wait(), Err(Error::NoNode));
    assert_eq!(
        c.delete("/none").recursive().send().wait(),
        Ok(()),
        "kazoo: recursive ignores NoNode"
    );
    c.create("/v").send().wait().unwrap();
    c.set("/v", "x").send().wait().unwrap();
    assert_eq!(
        c.delete("/v").version(0).send().wait(),
        Err(Error::BadVersion)
    );
    c.delete("/v").version(1).send().wait().unwrap();
    for p in ["/t/a/1", "/t/a/2", "/t/b", "/t/a/2/deep"] {
        c.create(p).make_parents().send().wait().unwrap();
    }
    assert_eq!(c.delete("/t").send().wait(), Err(Error::NotEmpty));
    c.delete("/t").recursive().send().wait().unwrap();
    assert_eq!(c.exists("/t").send().wait(), Ok(None));
    assert_eq!(c.get_children("/").send().wait(), Ok(vec![]));
}

pub fn acls_and_digest_auth<A: Adapter>() {
    let ctx = Ctx::new::<A>("acls");
    let alice = &ctx.client;
    alice.add_auth("digest", "alice:secret").wait().unwrap();
    let only_alice = vec![Acl::new(Perms::ALL, Id::digest("alice", "secret"))];
    alice
        .create("/secret")
        .data("s3")
        .acl(only_alice.clone())
        .send()
        .wait()
        .unwrap();
    assert_eq!(alice.get_acls("/secret").wait().unwrap().0, only_alice);
    // The `auth` id becomes the creator's identity.
    alice
        .create("/mine")
        .acl(CREATOR_ALL_ACL)
        .send()
        .wait()
        .unwrap();
    assert_eq!(alice.get_acls("/mine").wait().unwrap().0, only_alice);

    let bob = ctx.another::<A>();
    assert_eq!(bob.get("/secret").send().wait(), Err(Error::NoAuth));
    assert_eq!(bob.set("/secret", "x").send().wait(), Err(Error::NoAuth));
    assert!(
        bob.exists("/secret").send().wait().unwrap().is_some(),
        "exists needs no permission"
    );
    bob.add_auth("digest", "alice:wrong").wait().unwrap();
    assert_eq!(
        bob.get("/secret").send().wait(),
        Err(Error::NoAuth),
        "a wrong password is just another identity"
    );
    bob.add_auth("digest", "alice:secret").wait().unwrap();
    assert_eq!(
        &bob.get("/secret").send().wait().unwrap().0.unwrap()[..],
        b"s3"
    );

    alice.create("/open").send().wait().unwrap();
    assert_eq!(alice.get_acls("/open").wait().unwrap().0, OPEN_ACL_UNSAFE);
    assert_eq!(
        alice
            .set_acls("/open", READ_ACL_UNSAFE)
            .version(3)
            .send()
            .wait(),
        Err(Error::BadVersion)
    );
    let stat = alice
        .set_acls("/open", READ_ACL_UNSAFE)
        .version(0)
        .send()
        .wait()
        .unwrap();
    assert_eq!(stat.aversion, 1);
    assert_eq!(
        alice.set("/open", "x").send().wait(),
        Err(Error::NoAuth),
        "read-only now"
    );
    assert_eq!(
        alice.set_acls("/open", OPEN_ACL_UNSAFE).send().wait(),
        Err(Error::NoAuth),
        "changing an ACL needs ADMIN"
    );
    assert_eq!(alice.get_acls("/none").wait(), Err(Error::NoNode));
    bob.close().wait().unwrap();
}

pub fn transaction_commits_or_changes_nothing<A: Adapter>() {
    let ctx = Ctx::new::<A>("transaction");
    let c = &ctx.client;
    c.create("/cfg").data("v1").send().wait().unwrap();
    c.create("/old").send().wait().unwrap();
    let results = c
        .transaction()
        .check("/cfg")
        .version(0)
        .set("/cfg", "v2")
        .version(0)
        .create("/cfg/v2")
        .delete("/old")
        .create("/seq-")
        .sequential()
        .commit()
        .wait()
        .unwrap();
    assert_eq!(results.len(), 5);
    assert!(matches!(results[0], MultiResult::Check));
    assert!(matches!(&results[1], MultiResult::SetData(s) if s.version == 1));
    assert!(matches!(&results[2], MultiResult::Create(r) if r.path == "/cfg/v2"));
    assert!(matches!(results[3], MultiResult::Delete));
    assert!(
        matches!(&results[4], MultiResult::Create(r) if r.path == "/seq-0000000002"),
        "{:?}",
        results[4]
    );

    let failed = c
        .transaction()
        .create("/new")
        .check("/cfg")
        .version(0)
        .set("/cfg", "v3")
        .commit()
        .wait();
    match &failed {
        Err(Error::MultiFailed {
            index,
            error,
            results,
        }) => {
            assert_eq!((*index, &**error), (1, &Error::BadVersion));
            let codes: Vec<_> = results.iter().map(MultiResult::error_code).collect();
            assert_eq!(codes, [Some(0), Some(-103), Some(-2)]);
        }
        other => panic!("expected MultiFailed, got {other:?}"),
    }
    assert_eq!(
        failed.unwrap_err().transaction_errors(),
        Some(vec![
            Error::RolledBack,
            Error::BadVersion,
            Error::RuntimeInconsistency
        ]),
        "kazoo's per-operation list"
    );
    assert_eq!(c.exists("/new").send().wait(), Ok(None), "nothing applied");
    assert_eq!(&c.get("/cfg").send().wait().unwrap().0.unwrap()[..], b"v2");
    assert_eq!(
        c.transaction().commit().wait(),
        Ok(vec![]),
        "an empty transaction is fine"
    );
}

pub fn multi_read_reports_each_read<A: Adapter>() {
    let ctx = Ctx::new::<A>("multi_read");
    let c = &ctx.client;
    c.create("/a").data("A").send().wait().unwrap();
    c.create("/a/kid").send().wait().unwrap();
    let results = c
        .multi_read()
        .get("/a")
        .get_children("/a")
        .get("/missing")
        .send()
        .wait()
        .unwrap();
    assert!(
        matches!(&results[0], Ok(ReadResult::Data(d, s)) if d.as_deref() == Some(&b"A"[..]) && s.num_children == 1)
    );
    assert_eq!(results[1], Ok(ReadResult::Children(vec!["kid".into()])));
    assert_eq!(results[2], Err(Error::NoNode));
}

/// kazoo's `auth_data` and `default_acl`: credentials given at connect
/// are in place before the first request, every create that names no ACL
/// (plain, `ensure_path`, transactions, recipes) gets the default one,
/// and a reader without ADMIN sees digest hashes masked.
pub fn default_acl_and_auth_at_connect<A: Adapter>() {
    let base = Ctx::new::<A>("default-acl");
    let config = |auth: bool| {
        let b = Config::builder(&format!("{}{}", base.hosts, base.chroot))
            .default_acl([Acl::creator(Perms::ALL), Acl::anyone(Perms::READ)]);
        let b = if auth { b.auth("digest", "dora:pw") } else { b };
        b.build().unwrap()
    };
    assert!(
        Config::builder("127.0.0.1:1")
            .default_acl(vec![])
            .build()
            .is_err(),
        "an empty default ACL is refused when built"
    );
    let dora = A::start(config(true));
    dora.wait_connected().wait_timeout(WAIT).expect("connected");
    let hers = vec![
        Acl::digest("dora", "pw", Perms::ALL),
        Acl::anyone(Perms::READ),
    ];
    dora.create("/plain").data("p").send().wait().unwrap();
    assert_eq!(dora.get_acls("/plain").wait().unwrap().0, hers);
    dora.ensure_path("/made/by/ensure").wait().unwrap();
    assert_eq!(dora.get_acls("/made/by").wait().unwrap().0, hers);
    dora.transaction()
        .create("/in-tx")
        .data("t")
        .commit()
        .wait()
        .unwrap();
    assert_eq!(dora.get_acls("/in-tx").wait().unwrap().0, hers);
    let guard = dora.lock("/lock").acquire().wait().unwrap();
    assert_eq!(dora.get_acls(guard.path()).wait().unwrap().0, hers);
    guard.release().wait().unwrap();
    // An ACL named on the create wins.
    dora.create("/open")
        .acl(OPEN_ACL_UNSAFE)
        .send()
        .wait()
        .unwrap();
    assert_eq!(dora.get_acls("/open").wait().unwrap().0, OPEN_ACL_UNSAFE);

    // Another session: may read, may not write, sees the hash masked.
    let other = base.another::<A>();
    assert_eq!(
        &other.get("/plain").send().wait().unwrap().0.unwrap()[..],
        b"p"
    );
    assert_eq!(other.set("/plain", "x").send().wait(), Err(Error::NoAuth));
    let (seen, _) = other.get_acls("/plain").wait().unwrap();
    assert_eq!(seen[0].id.scheme, "digest");
    assert_eq!(seen[0].id.id, "dora:x", "masked for a reader without ADMIN");
    assert_eq!(seen[1], Acl::anyone(Perms::READ));
    // Without the credential a create with the default ACL fails: `auth`
    // needs an authenticated identity.
    let nobody = A::start(config(false));
    nobody
        .wait_connected()
        .wait_timeout(WAIT)
        .expect("connected");
    assert_eq!(
        nobody.create("/refused").send().wait(),
        Err(Error::InvalidAcl)
    );
    for c in [dora, other, nobody] {
        c.close().wait().unwrap();
    }
}

pub fn sync_whoami_counts_and_ephemerals<A: Adapter>() {
    let ctx = Ctx::new::<A>("misc");
    let c = &ctx.client;
    assert_eq!(c.sync("/").wait(), Ok("/".into()));
    let who = c.whoami().wait().unwrap();
    assert_eq!(who.len(), 1);
    assert_eq!(
        (who[0].auth_scheme.as_str(), who[0].user.as_str()),
        ("ip", "127.0.0.1")
    );
    c.add_auth("digest", "carol:pw").wait().unwrap();
    let mut schemes: Vec<_> = c
        .whoami()
        .wait()
        .unwrap()
        .into_iter()
        .map(|i| i.auth_scheme)
        .collect();
    schemes.sort();
    assert_eq!(schemes, ["digest", "ip"]);

    for p in ["/d/1", "/d/2/x", "/d/2/y"] {
        c.create(p).make_parents().send().wait().unwrap();
    }
    assert_eq!(c.get_all_children_number("/d").wait(), Ok(4));
    assert_eq!(c.get_all_children_number("/d/2/x").wait(), Ok(0));
    c.create("/e1").ephemeral().send().wait().unwrap();
    c.create("/d/e2").ephemeral().send().wait().unwrap();
    let mut all = c.get_ephemerals("/").wait().unwrap();
    all.sort();
    assert_eq!(all, ["/d/e2", "/e1"], "paths relative to the chroot");
    assert_eq!(c.get_ephemerals("/d").wait(), Ok(vec!["/d/e2".to_string()]));
}

pub fn ephemerals_vanish_when_the_session_closes<A: Adapter>() {
    let ctx = Ctx::new::<A>("ephemeral_close");
    let other = ctx.another::<A>();
    other.create("/lease").ephemeral().send().wait().unwrap();
    let (_, gone) = ctx.client.exists("/lease").send_watched();
    assert!(ctx.client.exists("/lease").send().wait().unwrap().is_some());
    other.close().wait().unwrap();
    let event = gone.wait_timeout(WAIT).unwrap().unwrap();
    assert_eq!(event.event_type, kazoo::proto::EventType::NodeDeleted);
    assert_eq!(ctx.client.exists("/lease").send().wait(), Ok(None));
}

pub fn containers_and_ttl_nodes_are_swept<A: Adapter>() {
    let ctx = Ctx::new::<A>("sweep");
    let c = &ctx.client;
    c.create("/box").container().send().wait().unwrap();
    c.create("/box/item").send().wait().unwrap();
    c.create("/short")
        .ttl(Duration::from_millis(200))
        .send()
        .wait()
        .unwrap();
    c.create("/long")
        .ttl(Duration::from_secs(3600))
        .send()
        .wait()
        .unwrap();
    c.delete("/box/item").send().wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let box_gone = c.exists("/box").send().wait().unwrap().is_none();
        let short_gone = c.exists("/short").send().wait().unwrap().is_none();
        if box_gone && short_gone {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "container gone: {box_gone}, TTL node gone: {short_gone}"
        );
        c.sleep(Duration::from_millis(200)).wait().unwrap();
    }
    assert!(
        c.exists("/long").send().wait().unwrap().is_some(),
        "an unexpired TTL node stays"
    );
}

pub fn data_near_the_size_limit<A: Adapter>() {
    let ctx = Ctx::new::<A>("big");
    let c = &ctx.client;
    // jute.maxbuffer is 1 MiB - 1 by default; leave room for the header and path.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    c.create("/big").data(big.clone()).send().wait().unwrap();
    let (data, stat) = c.get("/big").send().wait().unwrap();
    let data = data.expect("not null");
    assert_eq!((data.len(), stat.data_length), (big.len(), 1_000_000));
    assert!(data[..] == big[..]);
    let too_big = vec![0u8; 1 << 20];
    assert!(matches!(
        c.set("/big", too_big).send().wait(),
        Err(Error::RequestTooLarge(_))
    ));
    assert_eq!(
        c.get("/big").send().wait().unwrap().1.version,
        0,
        "nothing was sent"
    );
}

pub fn reconfig_is_refused_by_a_standalone_server<A: Adapter>() {
    let ctx = Ctx::new::<A>("reconfig");
    let result = ctx.client.reconfig().leaving("2").send().wait();
    assert_eq!(result.map(|_| ()), Err(Error::ReconfigDisabled));
    assert!(
        ctx.client.exists("/").send().wait().is_ok(),
        "the session carries on"
    );
}

pub fn server_version_from_srvr<A: Adapter>() {
    let ctx = Ctx::new::<A>("version");
    let version = ctx.client.server_version().wait_timeout(WAIT).unwrap();
    assert!(
        version >= kazoo::client::ServerVersion::new(3, 5, 0),
        "{version}"
    );
    assert_eq!(
        ctx.client.command("ruok").wait_timeout(WAIT).as_deref(),
        Ok("imok")
    );
    assert!(matches!(
        ctx.client.command("rm -rf").wait(),
        Err(Error::FourLetterWord(_))
    ));
}

pub fn bad_arguments_fail_before_sending<A: Adapter>() {
    let ctx = Ctx::new::<A>("bad_args");
    let c = &ctx.client;
    let sent = |c: &kazoo::Client| {
        let s = c.stats();
        s.frames_sent - s.pings_sent
    };
    let before = sent(c);
    for bad in [
        "",
        "relative",
        "/trailing/",
        "/a//b",
        "/a/./b",
        "/a/../b",
        "/nul\0",
    ] {
        assert!(
            matches!(c.create(bad).send().wait(), Err(Error::InvalidPath(_))),
            "{bad:?}"
        );
        assert!(
            matches!(c.get(bad).send().wait(), Err(Error::InvalidPath(_))),
            "{bad:?}"
        );
        assert!(
            matches!(c.delete(bad).send().wait(), Err(Error::InvalidPath(_))),
            "{bad:?}"
        );
        assert!(
            matches!(c.ensure_path(bad).wait(), Err(Error::InvalidPath(_))),
            "{bad:?}"
        );
    }
    let arg = |e: ArgumentError| Err::<kazoo::proto::Stat, _>(Error::InvalidArgument(e));
    assert_eq!(
        c.set_acls("/x", vec![]).send().wait(),
        arg(ArgumentError::EmptyAcl)
    );
    assert_eq!(
        c.create("/x").acl(vec![]).send().wait(),
        Err(Error::InvalidArgument(ArgumentError::EmptyAcl))
    );
    assert_eq!(
        c.create("/x").ttl(Duration::ZERO).send().wait(),
        Err(Error::InvalidArgument(ArgumentError::TtlOutOfRange(0)))
    );
    assert!(matches!(
        c.create("/x")
            .ttl(Duration::from_secs(u64::MAX))
            .send()
            .wait(),
        Err(Error::InvalidArgument(ArgumentError::TtlOutOfRange(_)))
    ));
    for conflicting in [
        c.create("/x").container().ephemeral(),
        c.create("/x").ttl(Duration::from_secs(1)).ephemeral(),
    ] {
        assert!(matches!(
            conflicting.send().wait(),
            Err(Error::InvalidArgument(ArgumentError::ModeConflict(_)))
        ));
    }
    let t = c.transaction().create("/ok").delete("bad");
    assert!(matches!(t.commit().wait(), Err(Error::InvalidPath(_))));
    let t = c.transaction().create("/c").container().ephemeral();
    assert!(matches!(
        t.commit().wait(),
        Err(Error::InvalidArgument(ArgumentError::ModeConflict(_)))
    ));
    assert!(matches!(
        c.create("/x").data(vec![0u8; 2 << 20]).send().wait(),
        Err(Error::RequestTooLarge(_))
    ));
    assert_eq!(sent(c), before, "none of these reached the wire");
    assert_eq!(c.exists("/ok").send().wait(), Ok(None));
}
