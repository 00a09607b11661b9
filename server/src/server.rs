//! The sans-IO server: connections in, bytes out, timers. No sockets,
//! threads or clocks: the caller passes `now` and moves the bytes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kazoo::acl::Id;
use kazoo::proto::jute::{Reader, Record};
use kazoo::proto::{
    encode_frame, xid, ConnectRequest, ConnectResponse, EventType, FrameDecoder, KeeperState,
    OpCode, ReplyHeader, Request, RequestHeader, Response, WatcherEvent,
};
use kazoo::{Error, Secret};

use crate::fault::{FaultError, RequestFilter};
use crate::ops::{Ctx, Outcome};
use crate::tree::Tree;
use crate::watches::{Kind as WatchKind, Watches};
use crate::{fourlw, ConnId, ServerConfig};

/// One client connection.
struct Conn {
    /// Until when the connection may take to complete its handshake.
    handshake_by: Instant,
    frames: FrameDecoder,
    /// The first bytes, until we know whether this is a four-letter word.
    prefix: Vec<u8>,
    session: Option<i64>,
    auth: Vec<Id>,
    out: BytesMut,
    /// Close once `out` is sent.
    closing: bool,
    /// The client's address (for `maxClientCnxns`).
    peer: IpAddr,
    /// Fault: neither reads nor writes; input waits in `held`.
    stalled: bool,
    held: Vec<u8>,
    /// Fault: output is sent this long after it was made, in order.
    delay: Duration,
    delayed: VecDeque<(Instant, BytesMut)>,
}

struct Session {
    passwd: Secret,
    timeout: Duration,
    expires_at: Instant,
    conn: Option<ConnId>,
}

/// A single-node, in-memory ZooKeeper-compatible server.
pub struct Server {
    pub(crate) config: ServerConfig,
    start: Instant,
    pub(crate) zxid: i64,
    pub(crate) tree: Tree,
    pub(crate) watches: Watches,
    conns: BTreeMap<ConnId, Conn>,
    sessions: BTreeMap<i64, Session>,
    next_conn: u64,
    next_session: i64,
    rng: u64,
    to_close: VecDeque<ConnId>,
    next_sweep: Instant,
    pub(crate) received: u64,
    pub(crate) sent: u64,
    /// The latest `now` seen, for calls that take none.
    last_now: Instant,
    /// Fault: answer a resume with a fresh session (see [`Server::set_replace_on_resume`]).
    replace_on_resume: bool,
    /// Fault: the next matching request loses its reply ([`Server::lose_next_reply`]).
    lose_reply: Option<RequestFilter>,
    /// Fault: new connections are closed at once until then.
    refuse_until: Option<Instant>,
}

/// How long a connection may stay without a session (the real server
/// closes such connections after about ten seconds).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("zxid", &self.zxid)
            .field("connections", &self.conns.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A fresh server with an empty tree (plus `/zookeeper`).
    pub fn new(config: ServerConfig, now: Instant) -> Server {
        Server {
            next_sweep: now + config.container_check_interval,
            next_session: config.server_id << 56 | 1,
            rng: config.seed ^ 0x5eed,
            config,
            start: now,
            zxid: 1 << 32,
            tree: Tree::new(),
            watches: Watches::default(),
            conns: BTreeMap::new(),
            sessions: BTreeMap::new(),
            next_conn: 0,
            to_close: VecDeque::new(),
            received: 0,
            sent: 0,
            last_now: now,
            replace_on_resume: false,
            lose_reply: None,
            refuse_until: None,
        }
    }

    /// Fault injection: the next request matching `filter` is applied (a
    /// create creates, a write commits), then its connection closes before
    /// the reply: the client sees `ConnectionLoss` for a change that
    /// happened (Curator's "lost create reply"). Replaces a pending one.
    pub fn lose_next_reply(&mut self, filter: impl FnMut(&Request) -> bool + Send + 'static) {
        self.lose_reply = Some(Box::new(filter));
    }

    /// Fault injection: closes the connection of `session` now, without a
    /// word (the session lives on and may be resumed).
    pub fn close_connection_of(&mut self, session: i64) -> Result<(), FaultError> {
        let conn = self.connection_of(session)?;
        self.close_now(conn);
        Ok(())
    }

    /// Fault injection: the connection of `session` stops reading and
    /// writing (`true`), or resumes (`false`: what it was sent is then
    /// read and answered). A stall longer than the session timeout
    /// expires the session, as on a real server.
    pub fn stall(&mut self, session: i64, on: bool, now: Instant) -> Result<(), FaultError> {
        let conn = self.connection_of(session)?;
        let held = match self.conns.get_mut(&conn) {
            Some(c) => {
                c.stalled = on;
                if on {
                    return Ok(());
                }
                std::mem::take(&mut c.held)
            }
            None => return Err(FaultError::NotConnected(session)),
        };
        self.handle_connection_input(conn, &held, now);
        Ok(())
    }

    /// Fault injection: everything sent to `session`'s connection leaves
    /// `delay` after it was made, in order (a slow link); zero ends it.
    pub fn delay_replies(&mut self, session: i64, delay: Duration) -> Result<(), FaultError> {
        let conn = self.connection_of(session)?;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.delay = delay;
        }
        Ok(())
    }

    /// Fault injection: connections opened before `until` are closed at
    /// once, before any handshake (a server refusing clients for a while).
    pub fn refuse_connections_until(&mut self, until: Instant) {
        self.refuse_until = Some(until);
    }

    /// Fault injection: sets a node's data version, to test what happens
    /// near the wrap (`i32::MAX`, then -1 on the next write).
    pub fn set_version(&mut self, path: &str, version: i32) -> Result<(), FaultError> {
        let node = self
            .tree
            .get_mut(path)
            .ok_or_else(|| FaultError::NoNode(path.to_owned()))?;
        node.stat.version = version;
        Ok(())
    }

    /// Fault injection: sets the suffix the next sequential child of
    /// `path` gets (its creation counter), to test the wrap past
    /// `i32::MAX` into negative suffixes.
    pub fn set_child_sequence(&mut self, path: &str, next: i32) -> Result<(), FaultError> {
        let node = self
            .tree
            .get_mut(path)
            .ok_or_else(|| FaultError::NoNode(path.to_owned()))?;
        node.stat.cversion = next;
        Ok(())
    }

    /// `wchc`: each connected session with watches, then its watched
    /// paths, one per line (a path watched for data and children twice).
    pub(crate) fn watches_by_session(&self) -> String {
        let mut out = String::new();
        for (id, s) in &self.sessions {
            let Some(conn) = s.conn else { continue };
            let paths = self.watches.paths_of(conn);
            if paths.is_empty() {
                continue;
            }
            out.push_str(&format!("0x{id:x}\n"));
            for p in paths {
                out.push_str(&format!("\t{p}\n"));
            }
        }
        out
    }

    /// The open connection of a live session.
    fn connection_of(&self, session: i64) -> Result<ConnId, FaultError> {
        let s = self
            .sessions
            .get(&session)
            .ok_or(FaultError::NoSession(session))?;
        s.conn.ok_or(FaultError::NotConnected(session))
    }

    /// Fault injection: answer every resume of a live session with a new
    /// session id and no "expired", ending the old session (its ephemerals
    /// go), as ClickHouse Keeper was seen to do. A client must report the
    /// old session lost before the new one.
    pub fn set_replace_on_resume(&mut self, on: bool) {
        self.replace_on_resume = on;
    }

    /// A client connected from `peer`.
    pub fn connection_opened(&mut self, peer: IpAddr) -> ConnId {
        self.connection_opened_at(peer, self.last_now)
    }

    /// A client connected from `peer` at `now`; it has [`HANDSHAKE_TIMEOUT`]
    /// to send its handshake.
    pub fn connection_opened_at(&mut self, peer: IpAddr, now: Instant) -> ConnId {
        self.last_now = self.last_now.max(now);
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        self.conns.insert(
            id,
            Conn {
                handshake_by: now + HANDSHAKE_TIMEOUT,
                frames: FrameDecoder::new(self.config.max_frame_len),
                prefix: Vec::new(),
                session: None,
                auth: vec![Id::new("ip", peer.to_string())],
                out: BytesMut::new(),
                closing: false,
                peer,
                stalled: false,
                held: Vec::new(),
                delay: Duration::ZERO,
                delayed: VecDeque::new(),
            },
        );
        let limit = self.config.max_client_cnxns;
        let from_peer = self
            .conns
            .values()
            .filter(|c| c.peer == peer && !c.closing)
            .count();
        let over_limit = limit > 0 && from_peer > limit;
        if over_limit || self.refuse_until.is_some_and(|until| now < until) {
            self.close_after_send(id);
        }
        id
    }

    /// The client closed `conn` (or the network did). Its session lives on
    /// until it expires or another connection resumes it.
    pub fn connection_closed(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(s) = c.session.and_then(|id| self.sessions.get_mut(&id)) {
                if s.conn == Some(conn) {
                    s.conn = None;
                }
            }
        }
        self.watches.drop_connection(conn);
    }

    /// Bytes read from `conn`, split anywhere.
    pub fn handle_connection_input(&mut self, conn: ConnId, mut bytes: &[u8], now: Instant) {
        self.last_now = self.last_now.max(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.closing {
            return;
        }
        if c.stalled {
            return c.held.extend_from_slice(bytes);
        }
        if c.session.is_none() && c.prefix.len() < 4 {
            let take = (4 - c.prefix.len()).min(bytes.len());
            c.prefix.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if c.prefix.len() < 4 {
                return;
            }
            let prefix = std::mem::replace(&mut c.prefix, vec![0; 4]); // marks the check as done
            if let Some(answer) = fourlw::answer(&prefix, self) {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.out.extend_from_slice(answer.as_bytes());
                }
                return self.close_after_send(conn);
            }
            if let Some(c) = self.conns.get_mut(&conn) {
                c.frames.push(&prefix);
            }
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.frames.push(bytes);
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if c.closing || c.stalled {
                return;
            }
            let frame = match c.frames.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(_) => return self.close_now(conn), // oversized or negative length
            };
            self.received += 1;
            match c.session {
                None => self.handshake(conn, frame, now),
                Some(session) => {
                    self.touch(session, now);
                    self.request(conn, session, frame, now);
                }
            }
        }
    }

    /// Appends the bytes `conn` should send; true if there were any.
    pub fn poll_transmit(&mut self, conn: ConnId, out: &mut BytesMut) -> bool {
        let now = self.last_now;
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        if c.stalled {
            return false;
        }
        if !c.delay.is_zero() && !c.out.is_empty() {
            let at = now.checked_add(c.delay).unwrap_or(now);
            c.delayed.push_back((at, c.out.split()));
        }
        let start = out.len();
        while c.delayed.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, bytes)) = c.delayed.pop_front() {
                out.extend_from_slice(&bytes);
            }
        }
        out.extend_from_slice(&c.out);
        c.out.clear();
        out.len() > start
    }

    /// Connections with bytes to send.
    pub fn connections_with_output(&self) -> Vec<ConnId> {
        let now = self.last_now;
        let due = |c: &Conn| c.delayed.front().is_some_and(|(at, _)| *at <= now);
        self.conns
            .iter()
            .filter(|(_, c)| !c.stalled && (!c.out.is_empty() || due(c)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// A connection the server is done with: send what `poll_transmit`
    /// gives for it, then close the socket (and report `connection_closed`).
    pub fn poll_close(&mut self) -> Option<ConnId> {
        self.to_close.pop_front()
    }

    /// Expires sessions and sweeps containers and TTL nodes due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        let silent: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.session.is_none() && !c.closing && c.handshake_by <= now)
            .map(|(id, _)| *id)
            .collect();
        for conn in silent {
            self.close_now(conn);
        }
        let expired: Vec<i64> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.expires_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.end_session(id, now);
        }
        if now >= self.next_sweep {
            self.next_sweep = now + self.config.container_check_interval;
            let time = self.wall_ms(now);
            for path in self.tree.expired_containers(time) {
                self.zxid += 1;
                let mut changes = Vec::new();
                if self.tree.delete(&path, self.zxid, &mut changes).is_ok() {
                    self.notify(changes);
                }
            }
        }
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self.sessions.values().map(|s| s.expires_at);
        let handshakes = self
            .conns
            .values()
            .filter(|c| c.session.is_none() && !c.closing)
            .map(|c| c.handshake_by);
        let delayed = self
            .conns
            .values()
            .filter_map(|c| c.delayed.front().map(|(at, _)| *at));
        Some(
            expiry
                .chain(handshakes)
                .chain(delayed)
                .fold(self.next_sweep, Instant::min),
        )
    }

    /// The last transaction id.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// True while `session` is alive on the server (not expired or closed).
    pub fn has_session(&self, session: i64) -> bool {
        self.sessions.contains_key(&session)
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Number of nodes in the tree.
    pub fn node_count(&self) -> usize {
        self.tree.descendants("/") + 1
    }

    /// A node's data and Stat (for tests and simulation to check the tree).
    pub fn node(&self, path: &str) -> Option<(Bytes, kazoo::proto::Stat)> {
        let node = self.tree.get(path)?;
        Some((node.data.clone().unwrap_or_default(), self.tree.stat(path)?))
    }

    /// A node's children's names, sorted (for tests and simulation).
    pub fn children(&self, path: &str) -> Vec<String> {
        self.tree
            .get(path)
            .map(|n| n.children.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Closes every connection at once, as a restart does; sessions live
    /// on (and expire on their own clock) unless `keep_sessions` is false.
    pub fn restart(&mut self, keep_sessions: bool, now: Instant) {
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.close_now(conn);
        }
        if !keep_sessions {
            let ids: Vec<i64> = self.sessions.keys().copied().collect();
            for id in ids {
                self.end_session(id, now);
            }
        } else {
            // A restarted server gives every session a full timeout again.
            let ids: Vec<i64> = self.sessions.keys().copied().collect();
            for id in ids {
                self.touch(id, now);
            }
        }
    }

    /// Expires a session now, as its timeout would (tests and simulation).
    pub fn expire_session(&mut self, session: i64, now: Instant) -> Result<(), FaultError> {
        if !self.sessions.contains_key(&session) {
            return Err(FaultError::NoSession(session));
        }
        self.end_session(session, now);
        Ok(())
    }

    // ----- internals -------------------------------------------------------

    pub(crate) fn wall_ms(&self, now: Instant) -> i64 {
        let since = now.saturating_duration_since(self.start).as_millis();
        self.config
            .wall_clock_ms
            .saturating_add(i64::try_from(since).unwrap_or(i64::MAX))
    }

    fn close_after_send(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if !c.closing {
                c.closing = true;
                self.to_close.push_back(conn);
            }
        }
    }

    /// Closes without another word: pending output and watches go at once
    /// (nothing more reaches this connection, as on the real server).
    fn close_now(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.out.clear();
        }
        self.watches.drop_connection(conn);
        self.close_after_send(conn);
    }

    /// Expiry is rounded up to the next tick, as ZooKeeper buckets it.
    fn touch(&mut self, session: i64, now: Instant) {
        let tick = self.config.tick_time.max(Duration::from_millis(1));
        if let Some(s) = self.sessions.get_mut(&session) {
            let at = now.saturating_duration_since(self.start) + s.timeout;
            let ticks = at.as_nanos().div_ceil(tick.as_nanos());
            let rounded = tick.saturating_mul(u32::try_from(ticks).unwrap_or(u32::MAX));
            s.expires_at = self.start + rounded;
        }
    }

    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn send(&mut self, conn: ConnId, header: ReplyHeader, body: Option<&Response>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        encode_frame(&mut c.out, |o| {
            header.encode(o);
            if let Some(b) = body {
                b.encode(o);
            }
        });
        self.sent += 1;
    }

    fn handshake(&mut self, conn: ConnId, frame: Bytes, now: Instant) {
        let Ok(req) = ConnectRequest::decode(&mut Reader::new(frame)) else {
            return self.close_now(conn);
        };
        if req.last_zxid_seen > self.zxid {
            // The client has seen a newer state than this server has.
            return self.close_now(conn);
        }
        let min = self.config.tick_time * 2;
        let max = self
            .config
            .max_session_timeout
            .unwrap_or(self.config.tick_time * 20);
        let asked = Duration::from_millis(u64::try_from(req.timeout).unwrap_or(0));
        let timeout = asked.clamp(min, max.max(min));
        let read_only = req.read_only.map(|_| false);
        let (session_id, passwd) = if req.session_id == 0 {
            self.create_session()
        } else {
            match self.sessions.get(&req.session_id) {
                Some(s) if s.passwd == req.passwd && self.replace_on_resume => {
                    self.end_session(req.session_id, now);
                    self.create_session()
                }
                Some(s) if s.passwd == req.passwd => (req.session_id, req.passwd.clone()),
                _ => {
                    let expired = ConnectResponse {
                        protocol_version: 0,
                        timeout: 0,
                        session_id: 0,
                        passwd: Secret::from(&[0; 16]),
                        read_only,
                    };
                    self.send_handshake(conn, &expired);
                    return self.close_after_send(conn);
                }
            }
        };
        if let Some(old) = self.sessions.get(&session_id).and_then(|s| s.conn) {
            if old != conn {
                self.close_now(old);
            }
        }
        self.sessions.insert(
            session_id,
            Session {
                passwd: passwd.clone(),
                timeout,
                expires_at: now,
                conn: Some(conn),
            },
        );
        self.touch(session_id, now);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(session_id);
        }
        let response = ConnectResponse {
            protocol_version: 0,
            timeout: i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX),
            session_id,
            passwd,
            read_only,
        };
        self.send_handshake(conn, &response);
    }

    /// A new session id and password; createSession is a transaction.
    fn create_session(&mut self) -> (i64, Secret) {
        self.zxid += 1;
        let id = self.next_session;
        self.next_session += 1;
        let mut passwd = Vec::with_capacity(16);
        passwd.extend_from_slice(&self.next_random().to_be_bytes());
        passwd.extend_from_slice(&self.next_random().to_be_bytes());
        (id, Secret::from(passwd))
    }

    fn send_handshake(&mut self, conn: ConnId, response: &ConnectResponse) {
        if let Some(c) = self.conns.get_mut(&conn) {
            encode_frame(&mut c.out, |o| response.encode(o));
        }
    }

    fn request(&mut self, conn: ConnId, session: i64, frame: Bytes, now: Instant) {
        let mut r = Reader::new(frame);
        let Ok(header) = RequestHeader::decode(&mut r) else {
            return self.close_now(conn);
        };
        let known = OpCode::from_i32(header.op).ok().filter(|op| {
            // Without create2 the server is a 3.4 one: the 3.5 creates are unknown.
            self.config.create2
                || !matches!(
                    op,
                    OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl
                )
        });
        let Some(op) = known else {
            // Unknown opcode: an answer, then the connection closes (PROTOCOL.md §0.2).
            self.send(
                conn,
                ReplyHeader {
                    xid: header.xid,
                    zxid: self.zxid,
                    err: Error::Unimplemented.code().unwrap_or(-6),
                },
                None,
            );
            return self.close_after_send(conn);
        };
        let request = match Request::decode_body(op, &mut r) {
            Ok(request) => request,
            Err(e) => {
                // An undecodable body is answered and the connection stays:
                // a bad create flag is BadArguments, anything else (a mixed
                // multi, an unknown watch mode) MarshallingError.
                if is_write_op(op) {
                    self.zxid += 1;
                }
                let err = match e {
                    kazoo::proto::DecodeError::UnknownCreateMode(_) => -8,
                    _ => -5,
                };
                let zxid = self.zxid;
                return self.send(
                    conn,
                    ReplyHeader {
                        xid: header.xid,
                        zxid,
                        err,
                    },
                    None,
                );
            }
        };
        let xid = header.xid;
        match request {
            Request::Ping => self.send(
                conn,
                ReplyHeader {
                    xid: xid::PING,
                    zxid: self.zxid,
                    err: 0,
                },
                None,
            ),
            Request::Auth(packet) => {
                let id = match packet.scheme.as_str() {
                    "digest" => Some(Some(crate::acl::digest_credential(packet.auth.expose()))),
                    "ip" => Some(None), // the connection already has its ip id
                    _ => None,
                };
                let err = match id {
                    Some(id) => {
                        if let (Some(c), Some(id)) = (self.conns.get_mut(&conn), id) {
                            if !c.auth.contains(&id) {
                                c.auth.push(id);
                            }
                        }
                        0
                    }
                    None => -115,
                };
                self.send(
                    conn,
                    ReplyHeader {
                        xid: xid::AUTH,
                        zxid: 0,
                        err,
                    },
                    None,
                );
                if err != 0 {
                    self.close_after_send(conn);
                }
            }
            Request::SetWatches(_) | Request::SetWatches2(_) => {
                let (since, lists) = match request {
                    Request::SetWatches(sw) => (
                        sw.relative_zxid,
                        [
                            sw.data_watches,
                            sw.exist_watches,
                            sw.child_watches,
                            Vec::new(),
                            Vec::new(),
                        ],
                    ),
                    Request::SetWatches2(sw) => (
                        sw.relative_zxid,
                        [
                            sw.data_watches,
                            sw.exist_watches,
                            sw.child_watches,
                            sw.persistent_watches,
                            sw.persistent_recursive_watches,
                        ],
                    ),
                    _ => return,
                };
                self.set_watches(conn, since, lists);
                let zxid = self.zxid;
                self.send(conn, ReplyHeader { xid, zxid, err: 0 }, None);
            }
            Request::CloseSession => {
                self.zxid += 1;
                self.remove_session(session);
                self.send(
                    conn,
                    ReplyHeader {
                        xid,
                        zxid: self.zxid,
                        err: 0,
                    },
                    None,
                );
                self.close_after_send(conn);
            }
            Request::Check(_) | Request::Sasl(_) => {
                // Servers since 3.8.5 answer a lone check with Unimplemented, then close.
                self.send(
                    conn,
                    ReplyHeader {
                        xid,
                        zxid: self.zxid,
                        err: -6,
                    },
                    None,
                );
                self.close_after_send(conn);
            }
            request => {
                let auth = self
                    .conns
                    .get(&conn)
                    .map(|c| c.auth.clone())
                    .unwrap_or_default();
                let write = is_write(&request);
                if write {
                    self.zxid += 1;
                }
                let lose = self.lose_reply.as_mut().is_some_and(|f| f(&request));
                let time = self.wall_ms(now);
                let mut ctx = Ctx {
                    server: self,
                    conn,
                    session,
                    auth: &auth,
                    time,
                };
                let Outcome { result, changes } = ctx.apply(request);
                self.notify(changes);
                if lose {
                    self.lose_reply = None;
                    return self.close_now(conn);
                }
                match result {
                    Ok(response) => self.send(
                        conn,
                        ReplyHeader {
                            xid,
                            zxid: self.zxid,
                            err: 0,
                        },
                        Some(&response),
                    ),
                    Err(e) => {
                        let err = e.code().unwrap_or(-1);
                        self.send(
                            conn,
                            ReplyHeader {
                                xid,
                                zxid: self.zxid,
                                err,
                            },
                            None,
                        );
                    }
                }
            }
        }
    }

    /// Sends each change to the connections watching it (before the reply
    /// to the request that made it, as the real server does).
    pub(crate) fn notify(&mut self, changes: Vec<crate::tree::Change>) {
        for change in changes {
            let told: BTreeSet<ConnId> = self.watches.trigger(change.event, &change.path);
            for conn in told {
                let Some(c) = self.conns.get_mut(&conn).filter(|c| !c.closing) else {
                    continue;
                };
                // Only connections that may read the node hear of it
                // (CVE-2024-23944, backported into the Debian 3.8.0 server).
                if !crate::acl::allowed(&change.acl, kazoo::acl::Perms::READ, &c.auth) {
                    continue;
                }
                push_notification(&mut c.out, change.event, change.path.clone());
                self.sent += 1;
            }
        }
    }

    /// Re-arms watches after a reconnect, with catch-up events for what
    /// changed since `since` (PROTOCOL.md §7.6).
    fn set_watches(&mut self, conn: ConnId, since: i64, lists: [Vec<String>; 5]) {
        let [data, exist, child, persistent, recursive] = lists;
        let mut events = Vec::new();
        for path in data {
            match self.tree.stat(&path) {
                None => events.push((EventType::NodeDeleted, path)),
                Some(s) if s.mzxid > since => events.push((EventType::NodeDataChanged, path)),
                Some(_) => self.watches.add(&path, conn, WatchKind::Data),
            }
        }
        for path in exist {
            match self.tree.stat(&path) {
                Some(_) => events.push((EventType::NodeCreated, path)),
                None => self.watches.add(&path, conn, WatchKind::Data),
            }
        }
        for path in child {
            match self.tree.stat(&path) {
                None => events.push((EventType::NodeDeleted, path)),
                Some(s) if s.pzxid > since => events.push((EventType::NodeChildrenChanged, path)),
                Some(_) => self.watches.add(&path, conn, WatchKind::Child),
            }
        }
        for path in persistent {
            self.watches.add(&path, conn, WatchKind::Persistent);
        }
        for path in recursive {
            self.watches.add(&path, conn, WatchKind::Recursive);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            for (event_type, path) in events {
                push_notification(&mut c.out, event_type, path);
            }
        }
    }

    /// Session timeout or closeSession from elsewhere: a closeSession
    /// transaction, then the connection closes.
    fn end_session(&mut self, session: i64, _now: Instant) {
        self.zxid += 1;
        let conn = self.sessions.get(&session).and_then(|s| s.conn);
        self.remove_session(session);
        if let Some(conn) = conn {
            self.close_now(conn);
        }
    }

    fn remove_session(&mut self, session: i64) {
        self.sessions.remove(&session);
        let mut changes = Vec::new();
        for path in self.tree.ephemerals(session) {
            let _ = self.tree.delete(&path, self.zxid, &mut changes);
        }
        self.notify(changes);
    }

    pub(crate) fn session_ephemerals(&self, session: i64) -> Vec<String> {
        self.tree.ephemerals(session)
    }
}

/// Appends a watch notification (xid -1, zxid -1, before any reply that
/// caused it).
fn push_notification(out: &mut BytesMut, event_type: EventType, path: String) {
    let event = WatcherEvent {
        event_type,
        state: KeeperState::SyncConnected,
        path,
    };
    encode_frame(out, |o| {
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid: -1,
            err: 0,
        }
        .encode(o);
        event.encode(o);
    });
}

/// Opcodes of transactions (for requests whose body did not decode).
fn is_write_op(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Create
            | OpCode::Create2
            | OpCode::CreateContainer
            | OpCode::CreateTtl
            | OpCode::Delete
            | OpCode::SetData
            | OpCode::SetAcl
            | OpCode::Multi
    )
}

/// Transactions: they take a zxid even when they fail, as on the real server.
fn is_write(request: &Request) -> bool {
    matches!(
        request,
        Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Multi(_)
    )
}
