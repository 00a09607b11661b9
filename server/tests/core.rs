//! The sans-IO server core on its own: bytes in, bytes out, no sockets.

#![allow(clippy::disallowed_methods)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kazoo::acl::OPEN_ACL_UNSAFE;
use kazoo::proto::jute::{Reader, Record};
use kazoo::proto::{
    encode_frame, encode_request, ConnectRequest, ConnectResponse, CreateMode, CreateRequest,
    FrameDecoder, ReplyHeader, Request,
};
use kazoo_server::{ConnId, Server, ServerConfig};

const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn output(server: &mut Server, conn: ConnId) -> Vec<Bytes> {
    let mut out = BytesMut::new();
    server.poll_transmit(conn, &mut out);
    let mut frames = FrameDecoder::default();
    frames.push(&out);
    let mut all = Vec::new();
    while let Ok(Some(f)) = frames.next_frame() {
        all.push(f);
    }
    all
}

fn handshake(
    server: &mut Server,
    now: Instant,
    session_id: i64,
    passwd: kazoo::Secret,
) -> (ConnId, ConnectResponse) {
    let conn = server.connection_opened(IP);
    let mut bytes = BytesMut::new();
    let request = ConnectRequest {
        timeout: 4000,
        session_id,
        passwd,
        read_only: Some(false),
        ..Default::default()
    };
    encode_frame(&mut bytes, |o| request.encode(o));
    server.handle_connection_input(conn, &bytes, now);
    let frame = output(server, conn).remove(0);
    (
        conn,
        ConnectResponse::decode(&mut Reader::new(frame)).unwrap(),
    )
}

fn call(
    server: &mut Server,
    conn: ConnId,
    xid: i32,
    request: &Request,
    now: Instant,
) -> ReplyHeader {
    let mut bytes = BytesMut::new();
    encode_request(&mut bytes, xid, request, usize::MAX).unwrap();
    server.handle_connection_input(conn, &bytes, now);
    let frames = output(server, conn);
    let last = frames.last().expect("a reply").clone();
    ReplyHeader::decode(&mut Reader::new(last)).unwrap()
}

fn create(path: &str) -> Request {
    Request::Create(CreateRequest {
        path: path.into(),
        data: None,
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::Persistent,
    })
}

#[test]
fn a_misbehaving_connection_is_closed_alone() {
    let now = Instant::now();
    let mut server = Server::new(ServerConfig::default(), now);
    let (good, _) = handshake(&mut server, now, 0, kazoo::Secret::from(&[0; 16]));
    let (bad, _) = handshake(&mut server, now, 0, kazoo::Secret::from(&[0; 16]));
    // A frame longer than jute.maxbuffer: the connection goes, nothing else.
    server.handle_connection_input(bad, &[0x7f, 0xff, 0xff, 0xff, 1, 2, 3], now);
    assert_eq!(server.poll_close(), Some(bad));
    server.connection_closed(bad);
    assert_eq!(
        call(&mut server, good, 1, &create("/still-fine"), now).err,
        0
    );
    assert!(server.node("/still-fine").is_some());
    // A bad path on create is BadArguments, not a closed connection.
    assert_eq!(call(&mut server, good, 2, &create("/a//b"), now).err, -8);
    assert_eq!(server.poll_close(), None);
}

#[test]
fn four_letter_words_answer_and_close() {
    let now = Instant::now();
    let mut server = Server::new(ServerConfig::default(), now);
    for (word, expect) in [
        ("ruok", "imok"),
        ("srvr", "Mode: standalone"),
        ("isro", "rw"),
        ("dump", "not in the whitelist"),
    ] {
        let conn = server.connection_opened(IP);
        server.handle_connection_input(conn, &word.as_bytes()[..2], now);
        server.handle_connection_input(conn, &word.as_bytes()[2..], now);
        let mut out = BytesMut::new();
        server.poll_transmit(conn, &mut out);
        assert!(
            String::from_utf8_lossy(&out).contains(expect),
            "{word}: {out:?}"
        );
        assert_eq!(server.poll_close(), Some(conn));
        server.connection_closed(conn);
    }
}

#[test]
fn sessions_resume_elsewhere_and_expire_on_the_server_clock() {
    let now = Instant::now();
    let mut server = Server::new(ServerConfig::default(), now);
    let (first, session) = handshake(&mut server, now, 0, kazoo::Secret::from(&[0; 16]));
    assert_eq!(session.timeout, 4000, "2 ticks at least");
    let (second, resumed) = handshake(&mut server, now, session.session_id, session.passwd.clone());
    assert_eq!(resumed.session_id, session.session_id);
    assert_eq!(server.poll_close(), Some(first), "the old connection goes");
    server.connection_closed(first);
    let (_, wrong) = handshake(
        &mut server,
        now,
        session.session_id,
        kazoo::Secret::from(&[9; 16]),
    );
    assert_eq!(
        (wrong.timeout, wrong.session_id),
        (0, 0),
        "wrong password: the expired form"
    );
    while server.poll_close().is_some() {}
    // Quiet for the timeout (rounded up to a tick): expired, connection closed.
    server.handle_timeout(now + Duration::from_millis(3999));
    assert_eq!(server.session_count(), 1);
    server.handle_timeout(now + Duration::from_millis(6000));
    assert_eq!(server.session_count(), 0);
    assert_eq!(server.poll_close(), Some(second));
}
