//! Quickstart: start a real ZooKeeper, then create, read, watch and change a
//! node, speaking the wire protocol through kazoo's codec.
//!
//! Honest status: the session state machine and the `Client` handle are not
//! written yet, so this example drives the codec over a plain blocking socket
//! (`kazoo::testing::RawConnection`). When the client lands, this file becomes
//! `client.create("/hello").data(b"world").send().wait()`.
//!
//! Run: `./scripts/quickstart.sh` (installs ZooKeeper if missing), or
//! `cargo run --example quickstart --features testing`. Set `ZK_ADDR=host:port`
//! to use a server you already run.

use bytes::Bytes;
use kazoo::acl::OPEN_ACL_UNSAFE;
use kazoo::proto::*;
use kazoo::testing::{RawConnection, ZkServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, addr) = match std::env::var("ZK_ADDR") {
        Ok(addr) => (None, addr.parse()?),
        Err(_) => {
            println!("starting a ZooKeeper server on a free loopback port…");
            let server = ZkServer::start()?;
            let addr = server.addr();
            (Some(server), addr)
        }
    };

    let mut zk = RawConnection::open(addr)?;
    println!(
        "connected to {addr}: session {:#x}, negotiated timeout {} ms",
        zk.session().session_id,
        zk.session().timeout
    );

    let path = format!("/hello-{}", std::process::id());
    let created = zk.call(Request::Create(CreateRequest {
        path: path.clone(),
        data: Some(Bytes::from_static(b"world")),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::Ephemeral,
    }))?;
    println!("create   -> {created:?}");

    let read = zk.call(Request::GetData(GetDataRequest {
        path: path.clone(),
        watch: true,
    }))?;
    if let Response::GetData(r) = &read {
        println!(
            "get      -> {:?} (version {}, owner {:#x})",
            String::from_utf8_lossy(r.data.as_deref().unwrap_or_default()),
            r.stat.version,
            r.stat.ephemeral_owner
        );
    }

    let set = zk.call(Request::SetData(SetDataRequest {
        path: path.clone(),
        data: Some(Bytes::from_static(b"again")),
        version: 0,
    }))?;
    if let Response::Stat(stat) = set {
        println!("set      -> version {}", stat.version);
    }
    for event in &zk.events {
        println!("watch    -> {:?} on {}", event.event_type, event.path);
    }

    zk.call(Request::CloseSession)?;
    println!("closed the session; its ephemeral node {path} is gone");
    Ok(())
}
