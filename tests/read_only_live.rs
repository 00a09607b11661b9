//! Read-only mode against real servers: a 3-node ensemble started with
//! `readonlymode.enabled=true` loses two members; a client that accepts
//! read-only servers reads there and gets `NotReadOnly` for writes, probes
//! the other hosts with `isro`, and moves to a read/write server as soon as
//! one answers; when quorum returns, clients come back read/write by
//! themselves. Every adapter.

#![allow(clippy::disallowed_methods)] // a test owns its clock

#[path = "support/adapters.rs"]
mod adapters;

use std::thread;
use std::time::{Duration, Instant};

use adapters::start;
use kazoo::session::{Config, DisconnectReason, SessionState};
use kazoo::{Client, Error};
use kazoo_testing::{Proxy, ServerOptions, ZkEnsemble, ZkServer};

const WAIT: Duration = Duration::from_secs(30);

fn read_only_config(hosts: &str) -> Config {
    Config::builder(hosts)
        .session_timeout(Duration::from_secs(6))
        .read_only(true)
        .build()
        .unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn is_read_only(c: &Client) -> bool {
    matches!(c.state(), Some(SessionState::ReadOnly { .. }))
}

fn is_read_write(c: &Client) -> bool {
    matches!(c.state(), Some(SessionState::Connected { .. }))
}

#[test]
fn read_only_reads_probing_and_the_way_back() {
    let options = ServerOptions {
        jvm_args: vec!["-Dreadonlymode.enabled=true".into()],
        // New sessions on a read-only server are local ones (PROTOCOL.md §14.4).
        extra_config: vec!["localSessionsEnabled=true".into()],
        ..ServerOptions::default()
    };
    let mut zk = ZkEnsemble::start_with(3, &options).expect("an ensemble");
    let writer = kazoo_std::start(Config::new(&zk.connect_string()).unwrap());
    writer.wait_connected().wait_timeout(WAIT).unwrap();
    writer.create("/ro").data("before").send().wait().unwrap();
    writer.sync("/ro").wait().unwrap();
    drop(writer.close());

    // Two of three gone: the survivor serves read-only.
    zk.kill(1).unwrap();
    zk.kill(2).unwrap();
    wait_for("member 0 read-only", || {
        zk.mode(0).as_deref() == Some("read-only")
    });
    let survivor = zk.addr(0).to_string();

    // Reads work read-only; writes get NotReadOnly.
    for adapter in 0..3 {
        let c = start(adapter, read_only_config(&survivor));
        c.wait_connected()
            .wait_timeout(WAIT)
            .expect("connected read-only");
        assert!(is_read_only(&c), "{:?}", c.state());
        assert_eq!(
            &c.get("/ro").send().wait().unwrap().0.unwrap()[..],
            b"before"
        );
        assert_eq!(
            c.set("/ro", "during").send().wait().map(|_| ()),
            Err(Error::NotReadOnly)
        );
        assert_eq!(
            c.create("/new").send().wait().map(|_| ()),
            Err(Error::NotReadOnly)
        );
        c.close().wait().unwrap();
    }

    // Probing: a read/write server elsewhere, behind a proxy that refuses
    // at first so that each client starts on the read-only survivor. (A
    // client that read from the ensemble has seen zxids this other server
    // never had, and the server would refuse it: these clients only wait.)
    let elsewhere = ZkServer::start().unwrap();
    let proxy = Proxy::start(elsewhere.addr()).unwrap();
    for adapter in 0..3 {
        proxy.refuse(true);
        let hosts = format!("{survivor},{}", proxy.addr());
        let c = start(adapter, read_only_config(&hosts));
        c.wait_connected()
            .wait_timeout(WAIT)
            .expect("connected read-only");
        assert!(is_read_only(&c), "{:?}", c.state());
        // The read/write server appears: a probe finds it.
        proxy.refuse(false);
        wait_for("the move to the read/write server", || is_read_write(&c));
        assert!(
            c.recent_disconnects()
                .iter()
                .any(|(_, r)| *r == DisconnectReason::ReadWriteServerFound),
            "{:?}",
            c.recent_disconnects()
        );
        assert!(matches!(
            c.state(),
            Some(SessionState::Connected {
                new_session: true,
                ..
            })
        ));
        let path = format!("/moved-{adapter}");
        c.create(&path).send().wait().expect("writes work there");
        c.close().wait().unwrap();
    }

    // Quorum returns: clients on the survivor come back read/write.
    let clients: Vec<Client> = (0..3)
        .map(|adapter| {
            let c = start(adapter, read_only_config(&zk.connect_string()));
            c.wait_connected().wait_timeout(WAIT).unwrap();
            c
        })
        .collect();
    assert!(clients.iter().all(is_read_only));
    zk.start_member(1).unwrap();
    zk.start_member(2).unwrap();
    for c in &clients {
        wait_for("read/write again", || is_read_write(c));
        c.set("/ro", "after")
            .send()
            .wait()
            .expect("writes work again");
    }
    for c in clients {
        c.close().wait().unwrap();
    }
}
