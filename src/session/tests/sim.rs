//! `Sim`: a Session, a scripted fake ZooKeeper server and a virtual clock.
//!
//! The fake server is sans-IO too: it takes the client's bytes and answers
//! the handshake, pings, auth, SetWatches and a small in-memory tree of
//! nodes, sending notifications before the reply that caused them, as the
//! real server does. Knobs make it split frames, stall, drop connections,
//! expire sessions, refuse auth, or run read-only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::proto::jute::{Reader, Record};
use crate::proto::*;
use crate::session::{Command, Config, Event, RequestId, Session};
use crate::Error;

/// How the fake server answers the next handshakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// Accept: resume a known session or create one.
    Accept,
    /// A read-only server that refuses new sessions (16-byte reply).
    RefuseReadOnly,
    /// A read-only server that accepts (localSessionsEnabled).
    AcceptReadOnly,
    /// Never answer.
    Silent,
    /// Accept, then send a frame that is not a reply (a broken server).
    AcceptThenGarbage,
    /// Hold the ConnectRequest unanswered until `release_handshake`.
    Hold,
    /// Accept, send one sane frame (a notification), then close.
    AcceptOneFrameThenClose,
    /// Answer a resume of a live session with a fresh session id, and no
    /// "expired" (ClickHouse Keeper's behaviour).
    AcceptReplacing,
}

/// How the fake server answers SASL tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FakeSasl {
    /// Not configured, as a real server without a JAAS `Server` section:
    /// err 0 and an empty token, connection left open.
    Off,
    /// Take tokens, never answer.
    Silent,
    /// DIGEST-MD5 for any user with this password.
    Password(&'static str),
    /// Send the challenge, then close the connection (once; then `Password`).
    CloseAfterChallenge(&'static str),
    /// A challenge without the `algorithm` DIGEST-MD5 requires.
    BadChallenge,
}

#[derive(Debug, Clone)]
struct Node {
    data: Option<Bytes>,
    stat: Stat,
}

#[derive(Debug, Default)]
struct Conn {
    frames: FrameDecoder,
    session: Option<i64>,
    /// (path, kind) with kind 0 data, 1 exist, 2 child, 3 persistent, 4 recursive.
    watches: BTreeSet<(String, u8)>,
    /// SASL tokens received on this connection.
    sasl_rounds: u8,
}

/// A tiny ZooKeeper: enough of the protocol to exercise the session.
#[derive(Debug)]
pub(crate) struct FakeServer {
    pub(crate) handshake: Handshake,
    /// Take bytes, answer nothing (a stalled connection).
    pub(crate) stalled: bool,
    /// Answer auth with -115.
    pub(crate) reject_auth: bool,
    /// Answer SASL (102) as a DIGEST-MD5 server would.
    pub(crate) sasl: FakeSasl,
    /// A server before 3.6: SetWatches2 (105) gets -6, then the socket closes.
    pub(crate) no_set_watches2: bool,
    /// Answer the next addWatch with err 0 and a body too short to decode.
    pub(crate) bad_add_watch_reply: bool,
    /// Negotiated timeout in ms.
    pub(crate) timeout_ms: i32,
    /// Every request received: (xid, request).
    pub(crate) received: Vec<(i32, Request)>,
    tree: BTreeMap<String, Node>,
    zxid: i64,
    sessions: BTreeMap<i64, Bytes>,
    next_session: i64,
    conn: Option<Conn>,
    /// A ConnectRequest held by `Handshake::Hold`.
    held: Option<Bytes>,
    out: BytesMut,
}

impl Default for FakeServer {
    fn default() -> Self {
        let mut tree = BTreeMap::new();
        tree.insert(
            "/".to_string(),
            Node {
                data: None,
                stat: Stat::default(),
            },
        );
        FakeServer {
            handshake: Handshake::Accept,
            stalled: false,
            reject_auth: false,
            sasl: FakeSasl::Off,
            no_set_watches2: false,
            bad_add_watch_reply: false,
            timeout_ms: 3000,
            received: Vec::new(),
            tree,
            zxid: 0,
            sessions: BTreeMap::new(),
            next_session: 0x100,
            conn: None,
            held: None,
            out: BytesMut::new(),
        }
    }
}

impl FakeServer {
    pub(crate) fn accept(&mut self) {
        self.conn = Some(Conn::default());
    }

    pub(crate) fn disconnect(&mut self) {
        self.conn = None;
        self.held = None;
    }

    /// Answers a held ConnectRequest as `Accept` would, if its connection
    /// is still open.
    pub(crate) fn release_handshake(&mut self) {
        self.handshake = Handshake::Accept;
        if let Some(frame) = self.held.take() {
            self.handshake(frame);
        }
    }

    /// A live session the server knows, as if another client had opened it.
    pub(crate) fn add_session(&mut self, id: i64, passwd: Bytes) {
        self.sessions.insert(id, passwd);
    }

    /// Every session the server keeps alive.
    pub(crate) fn live_sessions(&self) -> Vec<i64> {
        self.sessions.keys().copied().collect()
    }

    /// Expires a session as the real server would after its timeout.
    pub(crate) fn expire(&mut self, session: i64) {
        self.sessions.remove(&session);
        let owned: Vec<String> = self
            .tree
            .iter()
            .filter(|(_, n)| n.stat.ephemeral_owner == session)
            .map(|(p, _)| p.clone())
            .collect();
        for p in owned {
            self.tree.remove(&p);
        }
        if self
            .conn
            .as_ref()
            .is_some_and(|c| c.session == Some(session))
        {
            self.conn = None;
        }
    }

    /// Changes a node's data behind the client's back (another client).
    pub(crate) fn set_behind(&mut self, path: &str, data: &'static [u8]) {
        self.zxid += 1;
        if let Some(n) = self.tree.get_mut(path) {
            n.data = Some(Bytes::from_static(data));
            n.stat.version += 1;
            n.stat.mzxid = self.zxid;
            n.stat.data_length = data.len() as i32;
        }
    }

    /// Bytes the server has written since the last call.
    pub(crate) fn take_output(&mut self) -> Bytes {
        self.out.split().freeze()
    }

    pub(crate) fn exists(&self, path: &str) -> bool {
        self.tree.contains_key(path)
    }

    pub(crate) fn receive(&mut self, bytes: &[u8]) {
        if self.stalled {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        conn.frames.push(bytes);
        while let Some(frame) = self
            .conn
            .as_mut()
            .and_then(|c| c.frames.next_frame().ok().flatten())
        {
            let handshaken = self.conn.as_ref().is_some_and(|c| c.session.is_some());
            if handshaken {
                self.request(frame);
            } else {
                self.handshake(frame);
            }
        }
    }

    fn send_frame(&mut self, body: impl FnOnce(&mut BytesMut)) {
        encode_frame(&mut self.out, body);
    }

    fn handshake(&mut self, frame: Bytes) {
        let Ok(req) = ConnectRequest::decode_from(frame.clone()) else {
            return self.disconnect();
        };
        match self.handshake {
            Handshake::Silent => return,
            Handshake::Hold => {
                self.held = Some(frame);
                return;
            }
            Handshake::RefuseReadOnly => {
                let zxid = self.zxid;
                self.send_frame(|o| {
                    ReplyHeader {
                        xid: 0,
                        zxid,
                        err: -119,
                    }
                    .encode(o)
                });
                return self.disconnect();
            }
            _ => {}
        }
        let read_only = self.handshake == Handshake::AcceptReadOnly;
        let replace = self.handshake == Handshake::AcceptReplacing;
        let (session_id, passwd) = if req.session_id == 0 || replace {
            self.next_session += 1;
            let passwd = Bytes::from(vec![self.next_session as u8; 16]);
            self.sessions.insert(self.next_session, passwd.clone());
            (self.next_session, passwd)
        } else if self.sessions.get(&req.session_id) == Some(req.passwd.expose()) {
            (req.session_id, req.passwd.expose().clone())
        } else {
            let resp = ConnectResponse {
                passwd: Bytes::from(vec![0; 16]).into(),
                read_only: Some(false),
                ..Default::default()
            };
            self.send_frame(|o| resp.encode(o));
            return self.disconnect();
        };
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout: self.timeout_ms,
            session_id,
            passwd: passwd.into(),
            read_only: req.read_only.map(|_| read_only),
        };
        self.send_frame(|o| resp.encode(o));
        if let Some(c) = self.conn.as_mut() {
            c.session = Some(session_id);
        }
        if self.handshake == Handshake::AcceptThenGarbage {
            self.send_frame(|o| o.extend_from_slice(&[0xff; 3]));
        }
        if self.handshake == Handshake::AcceptOneFrameThenClose {
            self.send_notification(EventType::NodeDataChanged, "/nobody-watches");
            self.conn = None;
        }
    }

    fn sasl(&mut self, xid: i32, token: &[u8]) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        conn.sasl_rounds += 1;
        let round = conn.sasl_rounds;
        let password = match self.sasl {
            FakeSasl::Silent => return,
            FakeSasl::Off => {
                let packet = SaslPacket {
                    token: Bytes::new(),
                };
                return self.reply(xid, 0, Some(Response::Sasl(packet)));
            }
            FakeSasl::BadChallenge => {
                let packet = SaslPacket {
                    token: Bytes::from_static(b"nonce=n"),
                };
                return self.reply(xid, 0, Some(Response::Sasl(packet)));
            }
            FakeSasl::Password(p) | FakeSasl::CloseAfterChallenge(p) => Some(p),
        };
        let answer = match (password, round) {
            (Some(_), 1) => Some(
                br#"realm="zk-sasl-md5",nonce="fakenonce",charset=utf-8,algorithm=md5-sess"#
                    .to_vec(),
            ),
            (Some(p), 2) => crate::sasl::digest_md5::server_proof(token, p.as_bytes())
                .map(|proof| format!("rspauth={proof}").into_bytes()),
            _ => None,
        };
        match answer {
            Some(token) => {
                let packet = SaslPacket {
                    token: Bytes::from(token),
                };
                self.reply(xid, 0, Some(Response::Sasl(packet)));
                if let FakeSasl::CloseAfterChallenge(p) = self.sasl {
                    self.sasl = FakeSasl::Password(p);
                    self.conn = None;
                }
            }
            None => {
                self.reply(xid, -115, None);
                self.conn = None;
            }
        }
    }

    fn reply(&mut self, xid: i32, err: i32, body: Option<Response>) {
        let zxid = self.zxid;
        self.send_frame(|o| {
            ReplyHeader { xid, zxid, err }.encode(o);
            if let Some(b) = body {
                b.encode(o);
            }
        });
    }

    fn notify(&mut self, event_type: EventType, path: &str) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let (one_shot, child): (&[u8], bool) = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => (&[0, 1], false),
            EventType::NodeDeleted => (&[0, 1, 2], false),
            _ => (&[2], true),
        };
        let mut hit = false;
        for &k in one_shot {
            hit |= conn.watches.remove(&(path.to_string(), k));
        }
        hit |= conn.watches.contains(&(path.to_string(), 3));
        if !child {
            let mut at = path.to_string();
            loop {
                hit |= conn.watches.contains(&(at.clone(), 4));
                if at == "/" {
                    break;
                }
                at = crate::path::parent(&at).to_string();
            }
        }
        if hit {
            self.send_notification(event_type, path);
        }
    }

    /// A watch notification frame (xid -1).
    fn send_notification(&mut self, event_type: EventType, path: &str) {
        let event = WatcherEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: path.into(),
        };
        self.send_frame(|o| {
            ReplyHeader {
                xid: -1,
                zxid: -1,
                err: 0,
            }
            .encode(o);
            event.encode(o);
        });
    }

    fn watch(&mut self, path: &str, kind: u8) {
        if let Some(c) = self.conn.as_mut() {
            c.watches.insert((path.to_string(), kind));
        }
    }

    fn request(&mut self, frame: Bytes) {
        let mut r = Reader::new(frame);
        let Ok(header) = RequestHeader::decode(&mut r) else {
            return self.disconnect();
        };
        let Ok(op) = OpCode::from_i32(header.op) else {
            self.reply(header.xid, -6, None);
            return self.disconnect();
        };
        let Ok(req) = Request::decode_body(op, &mut r) else {
            return self.disconnect();
        };
        self.received.push((header.xid, req.clone()));
        let xid = header.xid;
        match req {
            Request::Ping => self.reply(-2, 0, None),
            Request::Sasl(packet) => self.sasl(xid, &packet.token),
            Request::Auth(_) if self.reject_auth => {
                self.send_frame(|o| {
                    ReplyHeader {
                        xid: -4,
                        zxid: 0,
                        err: -115,
                    }
                    .encode(o)
                });
                self.disconnect();
            }
            Request::Auth(_) => self.send_frame(|o| {
                ReplyHeader {
                    xid: -4,
                    zxid: 0,
                    err: 0,
                }
                .encode(o)
            }),
            Request::SetWatches(sw) => {
                self.rearm(
                    sw.relative_zxid,
                    [
                        sw.data_watches,
                        sw.exist_watches,
                        sw.child_watches,
                        vec![],
                        vec![],
                    ],
                );
                self.reply(xid, 0, None);
            }
            Request::AddWatch(_) if self.bad_add_watch_reply => {
                self.bad_add_watch_reply = false;
                let zxid = self.zxid;
                self.send_frame(|o| {
                    ReplyHeader { xid, zxid, err: 0 }.encode(o);
                    o.extend_from_slice(&[0, 0]);
                });
            }
            Request::SetWatches2(_) if self.no_set_watches2 => {
                self.reply(xid, -6, None);
                self.disconnect();
            }
            Request::SetWatches2(sw) => {
                self.rearm(
                    sw.relative_zxid,
                    [
                        sw.data_watches,
                        sw.exist_watches,
                        sw.child_watches,
                        sw.persistent_watches,
                        sw.persistent_recursive_watches,
                    ],
                );
                self.reply(xid, 0, None);
            }
            Request::CloseSession => {
                if let Some(s) = self.conn.as_ref().and_then(|c| c.session) {
                    self.expire(s);
                }
                self.reply(xid, 0, None);
                self.conn = None;
            }
            other => {
                let (err, body) = match self.apply(other) {
                    Ok(body) => (0, Some(body)),
                    Err(e) => (e.code().unwrap_or(-1), None),
                };
                self.reply(xid, err, body);
            }
        }
    }

    fn rearm(&mut self, since: i64, lists: [Vec<String>; 5]) {
        for (kind, list) in lists.into_iter().enumerate() {
            for path in list {
                let node = self.tree.get(&path).map(|n| n.stat);
                match (kind, node) {
                    (0, None) | (2, None) => self.send_notification(EventType::NodeDeleted, &path),
                    (0, Some(s)) if s.mzxid > since => {
                        self.send_notification(EventType::NodeDataChanged, &path)
                    }
                    (1, Some(_)) => self.send_notification(EventType::NodeCreated, &path),
                    (2, Some(s)) if s.pzxid > since => {
                        self.send_notification(EventType::NodeChildrenChanged, &path)
                    }
                    _ => self.watch(&path, kind as u8),
                }
            }
        }
    }

    fn apply(&mut self, req: Request) -> Result<Response, Error> {
        let op = req.op_code();
        let session = self.conn.as_ref().and_then(|c| c.session).unwrap_or(0);
        match req {
            Request::Create(r) | Request::Create2(r) => {
                let with_stat = op == OpCode::Create2;
                let parent = crate::path::parent(&r.path).to_string();
                let Some(p) = self.tree.get_mut(&parent) else {
                    return Err(Error::NoNode);
                };
                let path = if r.mode.is_sequential() {
                    format!(
                        "{}{}",
                        r.path,
                        crate::path::format_sequence(p.stat.cversion)
                    )
                } else {
                    r.path.clone()
                };
                if self.tree.contains_key(&path) {
                    return Err(Error::NodeExists);
                }
                self.zxid += 1;
                let zxid = self.zxid;
                if let Some(p) = self.tree.get_mut(&parent) {
                    p.stat.cversion += 1;
                    p.stat.num_children += 1;
                    p.stat.pzxid = zxid;
                }
                let stat = Stat {
                    czxid: zxid,
                    mzxid: zxid,
                    pzxid: zxid,
                    ephemeral_owner: if r.mode.is_ephemeral() { session } else { 0 },
                    data_length: r.data.as_ref().map_or(0, |d| d.len() as i32),
                    ..Stat::default()
                };
                self.tree.insert(path.clone(), Node { data: r.data, stat });
                self.notify(EventType::NodeCreated, &path);
                self.notify(EventType::NodeChildrenChanged, &parent);
                if with_stat {
                    return Ok(Response::Create2(Create2Response { path, stat }));
                }
                Ok(Response::Create(CreateResponse { path }))
            }
            Request::Delete(r) => {
                if !self.tree.contains_key(&r.path) {
                    return Err(Error::NoNode);
                }
                self.zxid += 1;
                self.tree.remove(&r.path);
                let parent = crate::path::parent(&r.path).to_string();
                if let Some(p) = self.tree.get_mut(&parent) {
                    p.stat.cversion += 1;
                    p.stat.num_children -= 1;
                    p.stat.pzxid = self.zxid;
                }
                self.notify(EventType::NodeDeleted, &r.path);
                self.notify(EventType::NodeChildrenChanged, &parent);
                Ok(Response::Empty)
            }
            Request::Exists(r) => {
                let found = self.tree.get(&r.path).map(|n| n.stat);
                if r.watch {
                    self.watch(&r.path, if found.is_some() { 0 } else { 1 });
                }
                found.map(Response::Stat).ok_or(Error::NoNode)
            }
            Request::GetData(r) => {
                let n = self.tree.get(&r.path).cloned().ok_or(Error::NoNode)?;
                if r.watch {
                    self.watch(&r.path, 0);
                }
                Ok(Response::GetData(GetDataResponse {
                    data: n.data,
                    stat: n.stat,
                }))
            }
            Request::SetData(r) => {
                self.zxid += 1;
                let zxid = self.zxid;
                let n = self.tree.get_mut(&r.path).ok_or(Error::NoNode)?;
                if r.version != -1 && r.version != n.stat.version {
                    return Err(Error::BadVersion);
                }
                n.stat.version += 1;
                n.stat.mzxid = zxid;
                n.stat.data_length = r.data.as_ref().map_or(0, |d| d.len() as i32);
                n.data = r.data;
                let stat = n.stat;
                self.notify(EventType::NodeDataChanged, &r.path);
                Ok(Response::Stat(stat))
            }
            Request::GetChildren(r) | Request::GetChildren2(r) => {
                let stat = self.tree.get(&r.path).ok_or(Error::NoNode)?.stat;
                let prefix = if r.path == "/" {
                    "/".to_string()
                } else {
                    format!("{}/", r.path)
                };
                let children = self
                    .tree
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix))
                    .filter(|rest| !rest.is_empty() && !rest.contains('/'))
                    .map(str::to_string)
                    .collect();
                if r.watch {
                    self.watch(&r.path, 2);
                }
                Ok(Response::GetChildren2(GetChildren2Response {
                    children,
                    stat,
                }))
            }
            Request::Sync(r) => Ok(Response::Sync(r)),
            Request::AddWatch(r) => {
                let kind = if r.mode == AddWatchMode::Persistent {
                    3
                } else {
                    4
                };
                self.watch(&r.path, kind);
                Ok(Response::AddWatch(ErrorResponse { err: 0 }))
            }
            Request::RemoveWatches(r) => {
                let Some(c) = self.conn.as_mut() else {
                    return Err(Error::ConnectionLoss);
                };
                let before = c.watches.len();
                c.watches.retain(|(p, _)| p != &r.path);
                if c.watches.len() == before {
                    return Err(Error::NoWatcher);
                }
                Ok(Response::Empty)
            }
            Request::GetEphemerals(r) => Ok(Response::GetEphemerals(ChildrenResponse {
                children: self
                    .tree
                    .iter()
                    .filter(|(p, n)| n.stat.ephemeral_owner == session && p.starts_with(&r.path))
                    .map(|(p, _)| p.clone())
                    .collect(),
            })),
            _ => Err(Error::Unimplemented),
        }
    }
}

/// The session, the fake server, the driver's view of the socket, and a clock.
pub(crate) struct Sim {
    pub(crate) session: Session,
    pub(crate) server: FakeServer,
    pub(crate) now: Instant,
    start: Instant,
    /// Deliver server bytes to the session in pieces of this size.
    pub(crate) split: usize,
    /// Refuse TCP connections (host down).
    pub(crate) refuse: bool,
    connected: bool,
    /// Everything the session emitted, in order.
    pub(crate) events: Vec<Event>,
    /// Hosts the session asked to probe (`isro`), in order.
    pub(crate) probes: Vec<crate::session::HostPort>,
    /// Commands, opcodes sent and events, one line each (golden transcripts).
    pub(crate) transcript: String,
}

impl Sim {
    pub(crate) fn new(config: Config) -> Sim {
        Sim::new_with(config, |_| {})
    }

    /// A Sim whose server is set up by `server` before the first connect.
    pub(crate) fn new_with(config: Config, server: impl FnOnce(&mut FakeServer)) -> Sim {
        let start = Instant::now_for_tests();
        let mut sim = Sim {
            session: Session::new(config, start),
            server: FakeServer::default(),
            now: start,
            start,
            split: usize::MAX,
            refuse: false,
            connected: false,
            events: Vec::new(),
            probes: Vec::new(),
            transcript: String::new(),
        };
        server(&mut sim.server);
        sim.step();
        sim
    }

    pub(crate) fn config() -> Config {
        let mut c = Config::new("zk1:2181").unwrap();
        c.session_timeout = Duration::from_millis(3000);
        // Reconnect at once after a drop; `reconnect_pause_*` tests the pause.
        c.reconnect_delay = Duration::ZERO;
        c.rng_seed = 1;
        c
    }

    fn log(&mut self, line: impl std::fmt::Display) {
        let ms = self.now.duration_since(self.start).as_millis();
        let _ = writeln!(self.transcript, "{ms:>6} {line}");
    }

    /// Runs the session and the server until neither has anything to say.
    pub(crate) fn step(&mut self) {
        let mut rounds = 0u32;
        loop {
            rounds += 1;
            assert!(
                rounds < 100_000,
                "busy loop: the session keeps working without time passing"
            );
            let mut progressed = false;
            let mut out = BytesMut::new();
            if self.session.poll_transmit(self.now, &mut out) {
                progressed = true;
                self.log_frames(&out);
                if self.connected {
                    self.server.receive(&out);
                }
            }
            while let Some(cmd) = self.session.poll_command() {
                progressed = true;
                match &cmd {
                    Command::Connect(h) => self.log(format_args!("connect {h}")),
                    Command::Disconnect => self.log("disconnect"),
                    Command::Probe(h) => self.log(format_args!("probe {h}")),
                }
                match cmd {
                    Command::Connect(_) if self.refuse => {
                        self.session.handle_disconnected(self.now);
                    }
                    Command::Connect(_) => {
                        self.server.accept();
                        self.connected = true;
                        self.session.handle_connected(self.now);
                    }
                    Command::Disconnect => {
                        self.server.disconnect();
                        self.connected = false;
                    }
                    Command::Probe(h) => self.probes.push(h),
                }
            }
            while let Some(e) = self.session.poll_event() {
                progressed = true;
                self.log(format_args!("event {}", describe(&e)));
                self.events.push(e);
            }
            if !self.server.out.is_empty() {
                progressed = true;
                let bytes = self.server.out.split().freeze();
                if self.connected {
                    for chunk in bytes.chunks(self.split.max(1)) {
                        self.session.handle_input(chunk, self.now);
                    }
                }
            }
            if !progressed && self.connected && self.server.conn.is_none() {
                // The server closed the socket (after its last bytes were read).
                self.connected = false;
                self.log("server closed");
                self.session.handle_disconnected(self.now);
                progressed = true;
            }
            if !progressed {
                // The liveness invariant: a session that is not closed
                // always has something that will move it (a command was
                // just drained, or a timer), never an idle forever.
                assert!(
                    self.session.is_closed() || self.session.poll_timeout().is_some(),
                    "an open session with no command, no connection event and no timer"
                );
                return;
            }
        }
    }

    fn log_frames(&mut self, bytes: &[u8]) {
        let mut d = FrameDecoder::new(usize::MAX);
        d.push(bytes);
        while let Ok(Some(frame)) = d.next_frame() {
            let mut r = Reader::new(frame.clone());
            let line = match (
                self.server.conn.as_ref().map(|c| c.session.is_some()),
                RequestHeader::decode(&mut r),
            ) {
                (Some(false), _) => "send connect".to_string(),
                (_, Ok(h)) => match OpCode::from_i32(h.op) {
                    Ok(op) => format!("send {op:?} xid={}", h.xid),
                    Err(_) => format!("send op={} xid={}", h.op, h.xid),
                },
                _ => "send ?".to_string(),
            };
            self.log(line);
        }
    }

    /// Advances the clock by `d`, firing every timer on the way.
    pub(crate) fn advance(&mut self, d: Duration) {
        let until = crate::session::deadline_after(self.now, d);
        while let Some(at) = self.session.poll_timeout() {
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            self.session.handle_timeout(self.now);
            self.step();
            let next = self.session.poll_timeout();
            assert!(
                next.is_none_or(|n| n > self.now),
                "a deadline at or before now survived handle_timeout"
            );
        }
        self.now = until;
        self.session.handle_timeout(self.now);
        self.step();
    }

    /// Lets the connection prove itself (a ping interval with a ping
    /// answered), so that dropping it is not counted as a failed attempt.
    pub(crate) fn prove_connection(&mut self) {
        self.advance(self.session.timeout() / 3 + Duration::from_millis(1));
    }

    /// Jumps the clock by `d` at once (a machine waking from sleep): the
    /// session sees one `handle_timeout` at the far instant, however many
    /// deadlines passed.
    pub(crate) fn jump(&mut self, d: Duration) {
        self.now = crate::session::deadline_after(self.now, d);
        self.session.handle_timeout(self.now);
        self.step();
        assert!(
            self.session.poll_timeout().is_none_or(|n| n > self.now),
            "a deadline at or before now survived handle_timeout"
        );
    }

    /// Hands bytes the test took from `poll_transmit` itself to the server.
    pub(crate) fn server_receive(&mut self, bytes: &[u8]) {
        self.log_frames(bytes);
        self.server.receive(bytes);
    }

    pub(crate) fn submit(&mut self, request: Request) -> RequestId {
        let id = self.session.submit(request, self.now);
        self.step();
        id
    }

    /// The network drops the connection (no FIN the server sees as close).
    pub(crate) fn drop_connection(&mut self) {
        if self.connected {
            self.connected = false;
            self.server.disconnect();
            self.log("network dropped the connection");
            self.session.handle_disconnected(self.now);
            self.step();
        }
    }

    pub(crate) fn close(&mut self) {
        self.session.close(self.now);
        self.step();
    }

    /// The result of a request, if it completed.
    pub(crate) fn result(&self, id: RequestId) -> Option<&Result<Response, Error>> {
        self.events.iter().find_map(|e| match e {
            Event::Response { id: i, result } if *i == id => Some(result),
            _ => None,
        })
    }

    pub(crate) fn completions(&self, id: RequestId) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Response { id: i, .. } if *i == id))
            .count()
    }

    pub(crate) fn states(&self) -> Vec<crate::session::SessionState> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::State { state, .. } => Some(*state),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn watch_events(&self) -> Vec<(u64, EventType, KeeperState, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Watch { watcher, event } => {
                    Some((watcher.0, event.event_type, event.state, event.path.clone()))
                }
                _ => None,
            })
            .collect()
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected
    }

    /// The opcodes the server received, in order.
    pub(crate) fn received_ops(&self) -> Vec<OpCode> {
        self.server
            .received
            .iter()
            .map(|(_, r)| r.op_code())
            .collect()
    }
}

/// One line per event, stable across runs (for transcripts).
pub(crate) fn describe(e: &Event) -> String {
    match e {
        Event::Response { id, result } => match result {
            Ok(r) => format!("response #{} ok {}", id.0, response_kind(r)),
            Err(e) => format!("response #{} err {e:?}", id.0),
        },
        Event::Watch { watcher, event } => format!(
            "watch #{} {:?} {:?} {}",
            watcher.0, event.event_type, event.state, event.path
        ),
        Event::State { state, keeper } => format!("state {state:?} {keeper:?}"),
        Event::Disconnected { host, reason } => format!("disconnected {host} {reason:?}"),
    }
}

fn response_kind(r: &Response) -> String {
    match r {
        Response::Create(c) => format!("create {}", c.path),
        Response::Create2(c) => format!("create2 {}", c.path),
        Response::Sync(c) => format!("sync {}", c.path),
        Response::GetData(_) => "getData".into(),
        Response::Stat(_) => "stat".into(),
        Response::GetChildren2(c) => format!("children {:?}", c.children),
        Response::Empty => "empty".into(),
        other => format!("{other:?}").chars().take(40).collect(),
    }
}

/// Helpers to build requests tersely in tests.
pub(crate) mod req {
    use super::*;
    use crate::acl::OPEN_ACL_UNSAFE;

    pub(crate) fn create(path: &str, mode: CreateMode) -> Request {
        Request::Create(CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"d")),
            acl: OPEN_ACL_UNSAFE.to_vec(),
            mode,
        })
    }
    pub(crate) fn get(path: &str, watch: bool) -> Request {
        Request::GetData(PathWatch {
            path: path.into(),
            watch,
        })
    }
    pub(crate) fn exists(path: &str, watch: bool) -> Request {
        Request::Exists(PathWatch {
            path: path.into(),
            watch,
        })
    }
    pub(crate) fn children(path: &str, watch: bool) -> Request {
        Request::GetChildren2(PathWatch {
            path: path.into(),
            watch,
        })
    }
    pub(crate) fn set(path: &str) -> Request {
        Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"x")),
            version: -1,
        })
    }
    pub(crate) fn add_watch(path: &str, mode: AddWatchMode) -> Request {
        Request::AddWatch(AddWatchRequest {
            path: path.into(),
            mode,
        })
    }
    pub(crate) fn auth(cred: &'static [u8]) -> Request {
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: cred.into(),
        })
    }
}

/// Tests need a starting instant; the core itself never reads the clock.
pub(crate) trait NowForTests {
    fn now_for_tests() -> Instant;
}

impl NowForTests for Instant {
    #[allow(clippy::disallowed_methods)]
    fn now_for_tests() -> Instant {
        Instant::now()
    }
}
