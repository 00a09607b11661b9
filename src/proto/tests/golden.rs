//! Byte-exact frames from PROTOCOL.md, each seen on a real 3.8.0 server.

use bytes::{Bytes, BytesMut};

use crate::acl::OPEN_ACL_UNSAFE;
use crate::proto::jute::{Reader, Record};
use crate::proto::*;
use crate::Error;

/// Hex with spaces allowed, as PROTOCOL.md writes frames.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn one_frame(bytes: &[u8]) -> Bytes {
    let mut d = FrameDecoder::default();
    d.push(bytes);
    let frame = d.next_frame().unwrap().unwrap();
    assert_eq!(d.buffered(), 0, "exactly one frame");
    frame
}

fn request_frame(xid: i32, req: &Request) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_request(&mut out, xid, req, DEFAULT_MAX_REQUEST_LEN).unwrap();
    out.to_vec()
}

#[test]
fn connect_request_45_bytes() {
    // §2.1: new session, timeout 1000 ms, not read-only.
    let expected = hex(&format!(
        "0000002d 00000000 0000000000000000 000003e8 0000000000000000 00000010 {} 00",
        "00".repeat(16)
    ));
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 1000,
        session_id: 0,
        passwd: Bytes::from(vec![0; 16]).into(),
        read_only: Some(false),
    };
    let mut out = BytesMut::new();
    encode_frame(&mut out, |o| req.encode(o));
    assert_eq!(out.to_vec(), expected);
    assert_eq!(
        ConnectRequest::decode_from(one_frame(&expected)).unwrap(),
        req
    );
}

fn connect_response_payload(timeout: u32, session: &str, passwd: &str, ro: &str) -> Vec<u8> {
    hex(&format!(
        "00000000 {timeout:08x} {session} 00000010 {passwd} {ro}"
    ))
}

#[test]
fn connect_response_37_bytes() {
    let pw = "0102030405060708090a0b0c0d0e0f10";
    let payload = connect_response_payload(4000, "0100000a1b2c0000", pw, "00");
    assert_eq!(payload.len(), 37);
    let HandshakeReply::Accepted(r) = HandshakeReply::decode(payload.into()).unwrap() else {
        panic!("not accepted")
    };
    assert_eq!(r.timeout, 4000);
    assert_eq!(r.session_id, 0x0100_000a_1b2c_0000);
    assert_eq!(r.passwd.expose(), &Bytes::from(hex(pw)));
    assert_eq!(r.read_only, Some(false));
}

#[test]
fn connect_response_36_bytes_from_old_server() {
    let payload = connect_response_payload(4000, "0000000000000007", &"aa".repeat(16), "");
    assert_eq!(payload.len(), 36);
    let reply = HandshakeReply::decode(Bytes::from(payload.clone())).unwrap();
    let HandshakeReply::Accepted(r) = reply else {
        panic!("not accepted")
    };
    assert_eq!(r.read_only, None);
    assert_eq!(r.to_bytes().to_vec(), payload, "re-encodes to 36 bytes");
}

#[test]
fn connect_response_read_only_server() {
    let payload = connect_response_payload(4000, "0000000000000007", &"aa".repeat(16), "01");
    let HandshakeReply::Accepted(r) = HandshakeReply::decode(payload.into()).unwrap() else {
        panic!("not accepted")
    };
    assert_eq!(r.read_only, Some(true));
}

#[test]
fn expired_session_response() {
    // §2.4: timeout 0, session 0, sixteen zero bytes (then the server closes).
    let payload = connect_response_payload(0, "0000000000000000", &"00".repeat(16), "00");
    assert_eq!(
        HandshakeReply::decode(payload.into()).unwrap(),
        HandshakeReply::Expired
    );
}

#[test]
fn read_only_refusal_is_a_16_byte_reply_header() {
    // §2.5: ReplyHeader(0, zxid, -119) instead of a ConnectResponse.
    let payload = hex("00000000 0000000100000005 ffffff89");
    assert_eq!(
        HandshakeReply::decode(payload.into()).unwrap(),
        HandshakeReply::Refused {
            zxid: 0x1_0000_0005,
            err: -119
        }
    );
    assert_eq!(Error::from_code(-119), Error::NotReadOnly);
}

#[test]
fn short_handshake_replies_are_errors() {
    for len in [0, 4, 15, 17, 35] {
        assert_eq!(
            HandshakeReply::decode(Bytes::from(vec![0; len])),
            Err(DecodeError::BadHandshake(len))
        );
    }
}

#[test]
fn notification() {
    // §7.1: ReplyHeader(-1, -1, 0) then WatcherEvent(NodeDataChanged, SyncConnected, "/a").
    let frame = hex("0000001e ffffffff ffffffffffffffff 00000000 00000003 00000003 00000002 2f61");
    let mut r = Reader::new(one_frame(&frame));
    let header = ReplyHeader::decode(&mut r).unwrap();
    assert_eq!(
        header,
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid: -1,
            err: 0
        }
    );
    let event = WatcherEvent::decode(&mut r).unwrap();
    assert_eq!(
        event,
        WatcherEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: "/a".into()
        }
    );
}

#[test]
fn multi_with_an_error_result() {
    // §6.3, as seen on 3.8.0: create OK, setData with a bad version, create:
    // header err 0, results [-1/0, -1/-103, -1/-2], then the terminator.
    let body = hex("ffffffff 00 00000000 00000000 \
         ffffffff 00 ffffff99 ffffff99 \
         ffffffff 00 fffffffe fffffffe \
         ffffffff 01 ffffffff");
    let Response::Multi(m) = Response::decode(OpCode::Multi, body.clone().into()).unwrap() else {
        panic!("not a multi")
    };
    let codes: Vec<_> = m.results.iter().map(MultiResult::error_code).collect();
    assert_eq!(codes, [Some(0), Some(-103), Some(-2)]);
    assert_eq!(Response::Multi(m.clone()).to_vec(), body);
    let err = Error::check_multi(m.results).unwrap_err();
    assert_eq!(err.code(), Some(-103));
}

#[test]
fn multi_where_create2_decays_to_create() {
    // §0.9: 3.8.0 answers a create2 sub-op with a type-1 result (path only).
    let body = hex("00000001 00 00000000 00000002 2f61  ffffffff 01 ffffffff");
    let resp = Response::decode(OpCode::Multi, body.into()).unwrap();
    assert_eq!(
        resp,
        Response::Multi(MultiResponse {
            results: vec![MultiResult::Create(CreateResponse { path: "/a".into() })]
        })
    );
}

#[test]
fn multi_request_framing() {
    // §6.1: each op behind MultiHeader(op, false, -1), then ffffffff 01 ffffffff.
    let req = Request::Multi(MultiRequest {
        ops: vec![MultiOp::Check(CheckVersionRequest {
            path: "/a".into(),
            version: 3,
        })],
    });
    let expected = hex("00000024 00000007 0000000e \
         0000000d 00 ffffffff 00000002 2f61 00000003 \
         ffffffff 01 ffffffff");
    assert_eq!(request_frame(7, &req), expected);
}

#[test]
fn request_examples() {
    // §4.1 example frames.
    assert_eq!(
        request_frame(xid::PING, &Request::Ping),
        hex("00000008 fffffffe 0000000b")
    );
    assert_eq!(
        request_frame(
            1,
            &Request::GetData(GetDataRequest {
                path: "/a".into(),
                watch: true
            })
        ),
        hex("0000000f 00000001 00000004 00000002 2f61 01")
    );
    let create = Request::Create(CreateRequest {
        path: "/a".into(),
        data: Some(Bytes::from_static(b"hi")),
        acl: OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::EphemeralSequential,
    });
    assert_eq!(
        request_frame(2, &create),
        hex(
            "00000033 00000002 00000001 00000002 2f61 00000002 6869 00000001 0000001f \
             00000005 776f726c64 00000006 616e796f6e65 00000003"
        )
    );
    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"u:p".into(),
    });
    assert_eq!(
        request_frame(xid::AUTH, &auth),
        hex("0000001d fffffffc 00000064 00000000 00000006 646967657374 00000003 753a70")
    );
}

#[test]
fn add_watch_reply_is_20_bytes() {
    // Appendix A: addWatch reply = ReplyHeader + int 0.
    let frame = hex("00000014 00000005 0000000000000010 00000000 00000000");
    let mut r = Reader::new(one_frame(&frame));
    assert_eq!(ReplyHeader::decode(&mut r).unwrap().xid, 5);
    assert_eq!(
        Response::decode(OpCode::AddWatch, r.into_rest()).unwrap(),
        Response::AddWatch(ErrorResponse { err: 0 })
    );
}

#[test]
fn null_data_reads_as_none() {
    // §1.2: getData of a node created with null data: buffer length -1.
    let mut body = hex("ffffffff");
    body.extend(Stat::default().to_bytes());
    let Response::GetData(r) = Response::decode(OpCode::GetData, body.into()).unwrap() else {
        panic!()
    };
    assert_eq!(r.data, None);
}

#[test]
fn stat_is_68_bytes() {
    assert_eq!(Stat::default().to_bytes().len(), 68);
    assert_eq!(<Stat as Record>::MIN_LEN, 68);
}

impl Response {
    fn to_vec(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.to_vec()
    }
}
