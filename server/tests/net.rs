//! The TCP shell around the server core: one client that stops reading
//! stalls only its own connection, never the others or the timers.

#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use bytes::BytesMut;
use kazoo::proto::jute::Record;
use kazoo::proto::{encode_frame, encode_request, ConnectRequest, GetDataRequest, Request};
use kazoo_server::{EmbeddedServer, ServerConfig};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_client_that_stops_reading_does_not_freeze_the_others() {
    let server = EmbeddedServer::start(ServerConfig::default()).unwrap();
    let writer = kazoo_std::connect(server.connect_string()).unwrap();
    writer.wait_connected().wait_timeout(WAIT).unwrap();
    writer
        .create("/big")
        .data(vec![7u8; 512 * 1024])
        .send()
        .wait_timeout(WAIT)
        .unwrap();

    // A raw client: handshake, then 200 reads of 512 KiB (100 MiB of
    // replies) that it never reads back.
    let mut greedy = TcpStream::connect(server.addr()).unwrap();
    let mut out = BytesMut::new();
    let handshake = ConnectRequest {
        timeout: 30_000,
        passwd: bytes::Bytes::from(vec![0u8; 16]).into(),
        read_only: Some(false),
        ..Default::default()
    };
    encode_frame(&mut out, |o| handshake.encode(o));
    for xid in 1..=200 {
        let get = Request::GetData(GetDataRequest {
            path: "/big".into(),
            watch: false,
        });
        encode_request(&mut out, xid, &get, usize::MAX).unwrap();
    }
    greedy.write_all(&out).unwrap();
    std::thread::sleep(Duration::from_millis(500)); // its socket buffers fill up

    // Everyone else is served as usual.
    let other = kazoo_std::connect(server.connect_string()).unwrap();
    other
        .wait_connected()
        .wait_timeout(WAIT)
        .expect("a new client connects");
    for i in 0..20 {
        other
            .create(format!("/n{i}"))
            .send()
            .wait_timeout(WAIT)
            .expect("answered while another client does not read");
    }
    writer.exists("/n0").send().wait_timeout(WAIT).unwrap();
    drop(greedy);
}

/// `maxClientCnxns`: one connection more than allowed from an address is
/// closed at once, before its handshake; the others work.
#[test]
fn connections_per_address_are_limited() {
    use std::io::Read;
    let mut config = ServerConfig::default();
    config.max_client_cnxns = 2;
    let server = EmbeddedServer::start(config).unwrap();
    let a = kazoo_std::connect(server.connect_string()).unwrap();
    let b = kazoo_std::connect(server.connect_string()).unwrap();
    a.wait_connected().wait_timeout(WAIT).unwrap();
    b.wait_connected().wait_timeout(WAIT).unwrap();
    let mut third = TcpStream::connect(server.addr()).unwrap();
    third.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        third.read(&mut buf).unwrap(),
        0,
        "closed before any handshake"
    );
    drop(b.close().wait_timeout(WAIT));
    drop(b);
    std::thread::sleep(Duration::from_millis(200));
    let c = kazoo_std::connect(server.connect_string()).unwrap();
    c.wait_connected()
        .wait_timeout(WAIT)
        .expect("room again once one left");
    a.exists("/").send().wait_timeout(WAIT).unwrap();
}
