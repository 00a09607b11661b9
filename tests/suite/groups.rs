//! Recipes many processes share state through: counters, barriers and
//! parties, on every adapter, with kazoo's layout and the faults they
//! must survive (a flap mid-wait, a version at the wrap, a lost session).

use std::thread;
use std::time::Duration;

use kazoo::recipe::{PartitionState, RecipeError};
use kazoo::session::SessionState;
use kazoo::{Client, Error};
use kazoo_testing::{expire_session, Proxy};

use super::recipes::{
    children, eventually, no_watches_left, private_server, through, wait_children,
};
use super::{Adapter, Backend, Ctx, WAIT};

/// Expires `client`'s session on the server, for real.
pub(super) fn expire(ctx: &Ctx, client: &Client) {
    match ctx.server {
        Backend::Java(s) => expire_session(s.addr(), client).unwrap(),
        Backend::Embedded(s) => s.expire_session(client.session_id()).unwrap(),
    }
}

fn data(client: &Client, path: &str) -> Vec<u8> {
    client
        .get(path)
        .send()
        .wait()
        .unwrap()
        .0
        .unwrap_or_default()
        .to_vec()
}

pub fn counters_add_in_kazoos_encodings<A: Adapter>() {
    let ctx = Ctx::new::<A>("counter");
    let c = ctx.client.counter("/c");
    assert_eq!(c.value().wait().unwrap(), 0, "a missing counter is created");
    assert_eq!(data(&ctx.client, "/c"), b"");
    let change = c.add(5).wait().unwrap();
    assert_eq!((change.pre, change.post), (0, 5));
    assert_eq!(c.add(-7).wait().unwrap().post, -2);
    assert_eq!(data(&ctx.client, "/c"), b"-2");
    assert_eq!(ctx.client.counter("/c").value().wait().unwrap(), -2);

    let f = ctx.client.counter("/f").float();
    assert_eq!(f.add(2.5).wait().unwrap().post, 2.5);
    assert_eq!(f.add(0.1).wait().unwrap().post, 2.6);
    assert_eq!(data(&ctx.client, "/f"), b"2.6");

    let k = ctx.client.counter("/k").curator();
    assert_eq!(k.add(3).wait().unwrap().post, 3);
    assert_eq!(k.add(-4).wait().unwrap().post, -1);
    assert_eq!(data(&ctx.client, "/k"), [0xff, 0xff, 0xff, 0xff]);

    let d = ctx.client.counter("/d").default_value(10);
    assert_eq!(d.value().wait().unwrap(), 10);
    assert_eq!(d.add(1).wait().unwrap().post, 11);

    // Someone else's bytes: a typed error, nothing written.
    ctx.client.set("/c", "abc").send().wait().unwrap();
    assert_eq!(
        c.add(1).wait(),
        Err(Error::Recipe(RecipeError::BadCounterData("/c".into())))
    );
    assert_eq!(data(&ctx.client, "/c"), b"abc");
    ctx.client.set("/c", vec![0xff]).send().wait().unwrap();
    assert!(matches!(
        c.value().wait(),
        Err(Error::Recipe(RecipeError::BadCounterData(_)))
    ));
    ctx.client.set("/k", "12345").send().wait().unwrap();
    assert!(matches!(
        k.add(1).wait(),
        Err(Error::Recipe(RecipeError::BadCounterData(_)))
    ));
    ctx.client
        .set("/c", i64::MAX.to_string())
        .send()
        .wait()
        .unwrap();
    assert!(matches!(
        c.add(1).wait(),
        Err(Error::Recipe(RecipeError::OutOfRange { .. }))
    ));
    assert!(matches!(
        ctx.client.counter("bad").value().wait(),
        Err(Error::InvalidPath(_))
    ));
}

pub fn eight_clients_count_exactly<A: Adapter>() {
    let ctx = Ctx::new::<A>("counter-load");
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let client = ctx.another::<A>();
            thread::spawn(move || {
                let c = client.counter("/hits");
                for _ in 0..500 {
                    c.add(1).wait_timeout(WAIT).unwrap();
                }
                client.close().wait().unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(ctx.client.counter("/hits").value().wait().unwrap(), 4000);
}

pub fn a_counter_at_the_version_wrap_refuses<A: Adapter>() {
    let (backend, server) = private_server();
    let ctx = Ctx::with(backend, "counter-wrap", |_| {}, A::start);
    let c = ctx.client.counter("/v");
    c.add(1).wait().unwrap();
    let real = format!("{}/v", ctx.chroot);
    // i32::MAX to i32::MIN is still a conditional write.
    server.set_version(&real, i32::MAX).unwrap();
    assert_eq!(c.add(1).wait().unwrap().post, 2);
    let (_, stat) = ctx.client.get("/v").send().wait().unwrap();
    assert_eq!(stat.version, i32::MIN);
    // At -2 the write lands the node on -1: after that a "conditional"
    // write would be blind, and the counter refuses.
    server.set_version(&real, -2).unwrap();
    assert_eq!(c.add(1).wait().unwrap().post, 3);
    assert_eq!(
        ctx.client
            .exists("/v")
            .send()
            .wait()
            .unwrap()
            .unwrap()
            .version,
        -1
    );
    assert_eq!(
        c.add(1).wait(),
        Err(Error::Recipe(RecipeError::VersionWrapped("/v".into())))
    );
    assert_eq!(data(&ctx.client, "/v"), b"3", "no update lost or made");
}

pub fn a_barrier_holds_until_removed<A: Adapter>() {
    let ctx = Ctx::new::<A>("barrier");
    let other = ctx.another::<A>();
    let barrier = ctx.client.barrier("/gate/b");
    barrier.create().wait().unwrap();
    barrier.create().wait().unwrap();
    assert_eq!(
        other
            .barrier("/gate/b")
            .wait_timeout(Duration::from_millis(200))
            .wait(),
        Err(Error::Timeout)
    );
    no_watches_left(&ctx, &other);
    let waiting = {
        let b = other.barrier("/gate/b");
        thread::spawn(move || b.wait().wait_timeout(WAIT))
    };
    thread::sleep(Duration::from_millis(100));
    assert!(!waiting.is_finished());
    assert!(barrier.remove().wait().unwrap());
    waiting.join().unwrap().unwrap();
    assert!(!barrier.remove().wait().unwrap());
    other.barrier("/gate/b").wait().wait_timeout(WAIT).unwrap();
    no_watches_left(&ctx, &other);
}

pub fn a_barrier_wait_survives_a_flap_that_hid_the_removal<A: Adapter>() {
    let ctx = Ctx::new::<A>("barrier-flap");
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let waiter = through::<A>(&proxy, &ctx, Duration::from_secs(8));
    ctx.client.barrier("/b").create().wait().unwrap();
    let waiting = {
        let b = waiter.barrier("/b");
        thread::spawn(move || b.wait().wait_timeout(WAIT))
    };
    thread::sleep(Duration::from_millis(100));
    proxy.refuse(true);
    proxy.sever();
    eventually("waiter suspended", || {
        matches!(waiter.state(), Some(SessionState::Suspended { .. }))
    });
    assert!(ctx.client.barrier("/b").remove().wait().unwrap());
    thread::sleep(Duration::from_millis(200));
    assert!(!waiting.is_finished());
    proxy.refuse(false);
    waiting.join().unwrap().unwrap();
}

pub fn double_barrier_enters_and_leaves_together<A: Adapter>() {
    let ctx = Ctx::new::<A>("double-barrier");
    let clients: Vec<Client> = (0..3).map(|_| ctx.another::<A>()).collect();
    let enter = |i: usize| {
        let b = clients[i].double_barrier("/db", 3).id(format!("m{i}"));
        thread::spawn(move || {
            b.enter().wait_timeout(WAIT).unwrap();
            b
        })
    };
    let first = [enter(0), enter(1)];
    wait_children(&ctx.client, "/db", 2);
    thread::sleep(Duration::from_millis(100));
    assert!(first.iter().all(|t| !t.is_finished()), "two of three wait");
    let mut members = Vec::from(first);
    members.push(enter(2));
    let members: Vec<_> = members.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(members.iter().all(|m| m.participating()));
    let names = children(&ctx.client, "/db");
    assert_eq!(names.len(), 4);
    assert!(names.contains(&"ready".to_string()));
    let mut ids: Vec<String> = names
        .iter()
        .filter(|n| *n != "ready")
        .map(|n| {
            assert_eq!(n.len(), 32, "kazoo's uuid-hex member name: {n}");
            String::from_utf8(data(&ctx.client, &format!("/db/{n}"))).unwrap()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["m0", "m1", "m2"]);

    // Two leave and wait for the third.
    let leaving: Vec<_> = members
        .into_iter()
        .map(|m| thread::spawn(move || m.leave().wait_timeout(WAIT).map(|()| m)))
        .collect();
    for l in leaving {
        assert!(!l.join().unwrap().unwrap().participating());
    }
    assert!(children(&ctx.client, "/db").is_empty());
    for c in &clients {
        no_watches_left(&ctx, c);
    }
}

pub fn double_barrier_timeouts_and_bad_parents<A: Adapter>() {
    let ctx = Ctx::new::<A>("double-barrier-timeout");
    let b = ctx.client.double_barrier("/db", 2).id("alone");
    assert_eq!(
        b.enter_timeout(Duration::from_millis(300)).wait(),
        Err(Error::Timeout)
    );
    assert!(!b.participating());
    wait_children(&ctx.client, "/db", 0);
    no_watches_left(&ctx, &ctx.client);

    ctx.client.create("/eph").ephemeral().send().wait().unwrap();
    assert_eq!(
        ctx.client.double_barrier("/eph", 2).enter().wait(),
        Err(Error::Recipe(RecipeError::EphemeralParent("/eph".into())))
    );
    assert!(matches!(
        ctx.client.double_barrier("/db", 0).enter().wait(),
        Err(Error::Recipe(RecipeError::OutOfRange { .. }))
    ));
    assert!(matches!(
        ctx.client.double_barrier("/db", 2).id("a/b").enter().wait(),
        Err(Error::Recipe(RecipeError::InvalidIdentifier(_)))
    ));
}

pub fn double_barrier_enter_survives_a_flap<A: Adapter>() {
    let ctx = Ctx::new::<A>("double-barrier-flap");
    let proxy = Proxy::start(ctx.server.addr()).unwrap();
    let cut_off = through::<A>(&proxy, &ctx, Duration::from_secs(8));
    let waiting = {
        let b = cut_off.double_barrier("/db", 2).id("cut");
        thread::spawn(move || b.enter().wait_timeout(WAIT))
    };
    wait_children(&ctx.client, "/db", 1);
    proxy.refuse(true);
    proxy.sever();
    // The second member arrives while the first is cut off (its session
    // lives on): it makes `ready` and passes.
    ctx.client
        .double_barrier("/db", 2)
        .id("here")
        .enter()
        .wait_timeout(WAIT)
        .unwrap();
    thread::sleep(Duration::from_millis(200));
    assert!(!waiting.is_finished());
    proxy.refuse(false);
    waiting.join().unwrap().unwrap();
}

pub fn parties_list_members_in_kazoos_layout<A: Adapter>() {
    let ctx = Ctx::new::<A>("party");
    let other = ctx.another::<A>();
    let a = ctx.client.party("/p").id("alpha");
    let b = other.party("/p").id("beta");
    assert_eq!(a.len().wait().unwrap(), 0, "a missing party is empty");
    a.join().wait().unwrap();
    a.join().wait().unwrap();
    b.join().wait().unwrap();
    assert!(a.participating());
    let mut m = a.members().wait().unwrap();
    m.sort();
    assert_eq!(m, ["alpha", "beta"]);
    assert_eq!(b.len().wait().unwrap(), 2);
    for name in children(&ctx.client, "/p") {
        assert!(
            name.ends_with("__party__") && name.len() == 32 + 9,
            "{name}"
        );
    }
    // Other children are not members.
    ctx.client.create("/p/other").send().wait().unwrap();
    assert_eq!(a.len().wait().unwrap(), 2);
    assert!(b.leave().wait().unwrap());
    assert!(!b.leave().wait().unwrap());
    assert_eq!(a.members().wait().unwrap(), ["alpha"]);

    let s = ctx.client.shallow_party("/s").id("node-1");
    let t = other.shallow_party("/s").id("node-2");
    s.join().wait().unwrap();
    t.join().wait().unwrap();
    let mut m = t.members().wait().unwrap();
    m.sort();
    assert_eq!(m, ["node-1", "node-2"]);
    for name in children(&ctx.client, "/s") {
        let (uuid, id) = name.split_once('-').unwrap();
        assert_eq!(uuid.len(), 32, "{name}");
        assert!(id.starts_with("node-"), "{name}");
    }
    assert!(matches!(
        ctx.client.shallow_party("/s").join().wait(),
        Err(Error::Recipe(RecipeError::InvalidIdentifier(_)))
    ));
    assert!(matches!(
        ctx.client.party("/p").id("x/y").join().wait(),
        Err(Error::Recipe(RecipeError::InvalidIdentifier(_)))
    ));
}

pub fn a_party_member_rejoins_after_its_session_is_lost<A: Adapter>() {
    let ctx = Ctx::new::<A>("party-rejoin");
    let keen = ctx.another::<A>();
    let plain = ctx.another::<A>();
    let k = keen.party("/p").id("keen").auto_rejoin();
    let p = plain.party("/p").id("plain");
    k.join().wait().unwrap();
    p.join().wait().unwrap();
    let before = children(&ctx.client, "/p");
    expire(&ctx, &keen);
    expire(&ctx, &plain);
    // kazoo's behaviour for the plain member (it drops out); the keen
    // one is back, with a new node of its new session.
    eventually("keen rejoined, plain gone", || {
        let ids = ctx.client.party("/p").members().wait().unwrap();
        ids == ["keen"]
    });
    let after = children(&ctx.client, "/p");
    assert_eq!(after.len(), 1);
    assert!(!before.contains(&after[0]), "a new node");
    let (_, stat) = ctx
        .client
        .get(format!("/p/{}", after[0]))
        .send()
        .wait()
        .unwrap();
    assert_eq!(stat.ephemeral_owner, keen.session_id());
    assert!(k.leave().wait().unwrap());
    assert!(children(&ctx.client, "/p").is_empty());
    // Left: a later session change does not bring it back.
    expire(&ctx, &keen);
    keen.wait_connected().wait_timeout(WAIT).unwrap();
    thread::sleep(Duration::from_millis(300));
    assert!(children(&ctx.client, "/p").is_empty());
}

pub fn set_partitioner_splits_and_reallocates<A: Adapter>() {
    let ctx = Ctx::new::<A>("partitioner");
    let items = ["a", "b", "c", "d", "e", "f"];
    let quick = |c: &Client, id: &str| {
        c.set_partitioner("/sp", items)
            .id(id)
            .time_boundary(Duration::from_millis(200))
            .max_reaction_time(Duration::from_millis(200))
            .start()
            .unwrap()
    };
    let c1 = ctx.another::<A>();
    let c2 = ctx.another::<A>();
    let p1 = quick(&c1, "w1");
    assert_eq!(
        p1.wait_for_acquire(WAIT).wait().unwrap(),
        PartitionState::Acquired
    );
    assert_eq!(p1.items(), items);
    let p2 = quick(&c2, "w2");
    // The party changed: p1 is told to give its set back.
    eventually("p1 asked to release", || {
        p1.state() == PartitionState::Release
    });
    assert!(p1.items().is_empty());
    p1.release_set();
    assert_eq!(
        p1.wait_for_acquire(WAIT).wait().unwrap(),
        PartitionState::Acquired
    );
    assert_eq!(
        p2.wait_for_acquire(WAIT).wait().unwrap(),
        PartitionState::Acquired
    );
    assert_eq!(p1.items(), ["a", "c", "e"]);
    assert_eq!(p2.items(), ["b", "d", "f"]);
    // kazoo's layout: a ShallowParty and a lock per item.
    let mut members: Vec<String> = children(&ctx.client, "/sp/party")
        .iter()
        .map(|n| n.split_once('-').unwrap().1.to_string())
        .collect();
    members.sort();
    assert_eq!(members, ["w1", "w2"]);
    for item in items {
        let locks = children(&ctx.client, &format!("/sp/locks/{item}"));
        assert_eq!(locks.len(), 1, "{item}: {locks:?}");
        assert!(locks[0].contains("__lock__"));
    }
    // p2's session ends: it fails; p1 takes everything again.
    expire(&ctx, &c2);
    eventually("p2 failed", || p2.state() == PartitionState::Failure);
    eventually("p1 asked to release", || {
        p1.state() == PartitionState::Release
    });
    p1.release_set();
    assert_eq!(
        p1.wait_for_acquire(WAIT).wait().unwrap(),
        PartitionState::Acquired
    );
    assert_eq!(p1.items(), items);
    p1.finish().wait_timeout(WAIT).unwrap();
    assert_eq!(p1.state(), PartitionState::Failure);
    assert!(children(&ctx.client, "/sp/party").is_empty());
    for item in items {
        wait_children(&ctx.client, &format!("/sp/locks/{item}"), 0);
    }
    assert!(matches!(
        c1.set_partitioner("/sp", ["x/y"]).id("w").start(),
        Err(Error::Recipe(RecipeError::InvalidIdentifier(_)))
    ));
}
