//! The Session fed an arbitrary schedule of {server bytes (valid replies to
//! what it sent, SASL challenges, or garbage), time, connect, disconnect,
//! submit, close, read-only probe answers}: no panic, deadlines move
//! forward, and every request completes exactly once.
#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kazoo::proto::jute::{Reader, Record};
use kazoo::proto::*;
use kazoo::session::{Command, Config, Event, RequestId, Session};
use libfuzzer_sys::fuzz_target;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
}

fn request(b: u8) -> Request {
    let path = ["/a", "/a/b", "/", "bad", "/c"][usize::from(b % 5)].to_string();
    match b / 5 % 6 {
        0 => Request::GetData(PathWatch {
            path,
            watch: b % 2 == 0,
        }),
        1 => Request::Exists(PathWatch { path, watch: true }),
        2 => Request::GetChildren(PathWatch { path, watch: true }),
        3 => Request::AddWatch(AddWatchRequest {
            path,
            mode: AddWatchMode::PersistentRecursive,
        }),
        4 => Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"u:p").into(),
        }),
        _ => Request::Multi(MultiRequest {
            ops: vec![MultiOp::Check(PathVersion { path, version: 1 })],
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut now = Instant::now();
    let flags = input.byte().unwrap_or(0);
    let mut builder = Config::builder("a:1,b:2")
        .session_timeout(Duration::from_millis(3000))
        .read_only(flags & 2 != 0)
        .rng_seed(1);
    if flags & 1 != 0 {
        builder = builder.sasl(kazoo::sasl::SaslCredentials::digest_md5("u", "p"));
    }
    let config = builder.build().unwrap();
    let mut probed: Vec<kazoo::session::HostPort> = Vec::new();
    let mut session = Session::new(config, now);
    let mut connect_pending = false;
    let mut connected = false;
    let mut handshaken = false;
    let mut sent_xids: VecDeque<(i32, i32)> = VecDeque::new(); // (xid, opcode)
    let mut submitted: Vec<RequestId> = Vec::new();
    let mut completions: BTreeMap<RequestId, usize> = BTreeMap::new();
    let mut out = BytesMut::new();

    let mut drain = |session: &mut Session,
                     now: Instant,
                     connect_pending: &mut bool,
                     connected: &mut bool,
                     handshaken: &mut bool,
                     sent: &mut VecDeque<(i32, i32)>,
                     completions: &mut BTreeMap<RequestId, usize>,
                     probed: &mut Vec<kazoo::session::HostPort>| {
        out.clear();
        if session.poll_transmit(now, &mut out) && *connected {
            let mut frames = FrameDecoder::new(usize::MAX);
            frames.push(&out);
            while let Ok(Some(f)) = frames.next_frame() {
                if !*handshaken {
                    *handshaken = true; // the ConnectRequest
                    continue;
                }
                if let Ok(h) = RequestHeader::decode(&mut Reader::new(f)) {
                    sent.push_back((h.xid, h.op));
                }
            }
        }
        while let Some(c) = session.poll_command() {
            match c {
                Command::Connect(_) => *connect_pending = true,
                Command::Disconnect => {
                    *connected = false;
                    *handshaken = false;
                    sent.clear();
                }
                Command::Probe(host) => probed.push(host),
            }
        }
        while let Some(e) = session.poll_event() {
            if let Event::Response { id, .. } = e {
                *completions.entry(id).or_default() += 1;
            }
        }
        // Liveness: open and drained, the session always has a timer.
        assert!(session.is_closed() || session.poll_timeout().is_some());
    };

    while let Some(op) = input.byte() {
        let mut feed: Option<Vec<u8>> = None;
        match op % 11 {
            0 => submitted.push(session.submit(request(input.byte().unwrap_or(0)), now)),
            1 => {
                now += Duration::from_millis(u64::from(input.byte().unwrap_or(0)) * 20);
                session.handle_timeout(now);
                // No deadline is left at or before `now` once its timers fired.
                assert!(session.poll_timeout().is_none_or(|at| at > now));
            }
            2 if connect_pending => {
                connect_pending = false;
                connected = true;
                handshaken = false;
                sent_xids.clear();
                session.handle_connected(now);
            }
            3 if connected || connect_pending => {
                connect_pending = false;
                connected = false;
                session.handle_disconnected(now);
            }
            4 | 9 if connected => {
                let resp = ConnectResponse {
                    protocol_version: 0,
                    timeout: if op % 11 == 4 { 3000 } else { 0 },
                    session_id: 7,
                    passwd: Bytes::from(vec![7; 16]).into(),
                    read_only: Some(input.byte().unwrap_or(0) == 1),
                };
                let mut b = BytesMut::new();
                encode_frame(&mut b, |o| resp.encode(o));
                feed = Some(b.to_vec());
            }
            5 if connected => {
                if let Some((xid, op)) = sent_xids.pop_front() {
                    let err = match input.byte().unwrap_or(0) % 4 {
                        0 => 0,
                        1 => -101,
                        2 => -115,
                        _ => -4,
                    };
                    let len = usize::from(input.byte().unwrap_or(0) % 96);
                    let mut body = input.bytes(len);
                    if op == 102 && len % 2 == 0 {
                        // A plausible DIGEST-MD5 token, with the random bytes appended.
                        let canned: &[&[u8]] = &[
                            b"realm=\"zk-sasl-md5\",nonce=\"n\",charset=utf-8,algorithm=md5-sess",
                            b"rspauth=0123456789abcdef0123456789abcdef",
                            b"nonce=\"x\\\"y\",qop=\"auth,auth-int\",algorithm=md5-sess,",
                        ];
                        let mut token = canned[len / 2 % canned.len()].to_vec();
                        token.extend_from_slice(&body[..body.len().min(len / 4)]);
                        let mut b = BytesMut::new();
                        SaslPacket {
                            token: Bytes::from(token),
                        }
                        .encode(&mut b);
                        body = b.to_vec();
                    }
                    let mut b = BytesMut::new();
                    encode_frame(&mut b, |o| {
                        ReplyHeader { xid, zxid: 9, err }.encode(o);
                        o.extend_from_slice(&body);
                    });
                    feed = Some(b.to_vec());
                }
            }
            6 if connected => {
                let len = usize::from(input.byte().unwrap_or(0) % 64);
                feed = Some(input.bytes(len));
            }
            7 if connected => {
                let event = WatcherEvent {
                    event_type: EventType::from_i32(i32::from(input.byte().unwrap_or(0) % 6)),
                    state: KeeperState::SyncConnected,
                    path: ["/a", "/a/b", "/", "/c/d"][usize::from(input.byte().unwrap_or(0) % 4)]
                        .into(),
                };
                let mut b = BytesMut::new();
                encode_frame(&mut b, |o| {
                    ReplyHeader {
                        xid: -1,
                        zxid: -1,
                        err: 0,
                    }
                    .encode(o);
                    event.encode(o);
                });
                feed = Some(b.to_vec());
            }
            8 => session.close(now),
            10 => {
                let b = input.byte().unwrap_or(0);
                let host = probed.get(usize::from(b / 2)).cloned().unwrap_or_else(|| {
                    kazoo::session::HostPort {
                        host: "b".into(),
                        port: 2,
                    }
                });
                session.handle_probe(&host, b % 2 == 0, now);
            }
            _ => {}
        }
        if let Some(bytes) = feed {
            let split = usize::from(input.byte().unwrap_or(255)).max(1);
            for chunk in bytes.chunks(split) {
                session.handle_input(chunk, now);
            }
        }
        drain(
            &mut session,
            now,
            &mut connect_pending,
            &mut connected,
            &mut handshaken,
            &mut sent_xids,
            &mut completions,
            &mut probed,
        );
    }

    session.close(now);
    drain(
        &mut session,
        now,
        &mut connect_pending,
        &mut connected,
        &mut handshaken,
        &mut sent_xids,
        &mut completions,
        &mut probed,
    );
    now += Duration::from_secs(10);
    session.handle_timeout(now);
    drain(
        &mut session,
        now,
        &mut connect_pending,
        &mut connected,
        &mut handshaken,
        &mut sent_xids,
        &mut completions,
        &mut probed,
    );
    assert!(session.is_closed());
    for id in &submitted {
        assert_eq!(completions.get(id).copied(), Some(1), "{id:?}");
    }
    assert_eq!(completions.len(), submitted.len());
});
