//! The sans-IO session: a deterministic state machine that turns submitted
//! requests, received bytes and the passing of time into frames to send,
//! commands for the driver and events for the client.
//!
//! It follows quinn-proto's `Connection`: every input takes `now`, every
//! output comes from a `poll_*` call. After any `handle_*`, `submit` or
//! `close`, drain [`poll_transmit`](Session::poll_transmit), then
//! [`poll_command`](Session::poll_command), then
//! [`poll_event`](Session::poll_event), then read
//! [`poll_timeout`](Session::poll_timeout) and call
//! [`handle_timeout`](Session::handle_timeout) when it passes. The crate docs
//! show the whole loop over a `std::net::TcpStream`; [`crate::drive::pump`]
//! does the first half for adapters.
//!
//! What it decides, following the Java client (PROTOCOL.md §9): host order
//! and rotation, connect timeout (session timeout / hosts), read timeout
//! (2/3), pings (after 1/3 idle), backoff between rounds, when the session
//! is lost (the whole timeout without server contact), what to replay after
//! a reconnect (auth, then SetWatches batches), and the chroot.

mod config;
mod event;
mod hosts;
pub(crate) mod id_map;
pub(crate) mod request;
pub(crate) mod rng;
pub(crate) use rng::mix;
mod read_only;
mod sasl;
mod stats;
mod timer;
mod watches;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

pub use config::{parse_connect_string, Config, ConfigBuilder, HostPort, IntoConfig};
pub use event::{
    Command, DisconnectReason, Event, LostReason, RequestId, SessionState, WatchedEvent,
};
pub use stats::{Replay, SessionStats};
pub(crate) use timer::after as deadline_after;

use crate::proto::jute::{Reader, Record};
use crate::proto::{
    encode_frame, encode_request, xid, AuthPacket, ConnectRequest, DecodeError, EventType,
    FrameDecoder, HandshakeReply, KeeperState, OpCode, ReplyHeader, Request, RequestTooLarge,
    Response, SetWatches, SetWatches2, WatcherEvent, WatcherType, WatchesRequest, PASSWD_LEN,
};
use crate::{ConfigError, Error, Secret};
use request::Registration;
use rng::Rng;
use timer::{after, Timer, TimerTable};
use watches::{Kind, WatchRegistry};

/// SetWatches batches close once their path lengths reach this (ZOOKEEPER-706).
const SET_WATCHES_BATCH: usize = 128 * 1024;

#[derive(Debug)]
enum Phase {
    /// Waiting for the backoff timer before the next attempt.
    Waiting,
    /// `Command::Connect` issued; waiting for `handle_connected`.
    Connecting,
    /// Connected; the ConnectRequest is about to go out (`asked: None`) or
    /// went out asking for this session id (0: a new session). The answer
    /// is compared with `asked`, never with other state, to decide whether
    /// the session is new, resumed or replaced.
    Handshaking { asked: Option<i64> },
    /// The session is established on this connection, since `since`.
    /// While `sasl` holds an exchange, nothing else is sent but its tokens
    /// (and pings): no replay, no queued request.
    Connected {
        read_only: bool,
        since: Instant,
        sasl: Option<Box<sasl::Authenticating>>,
    },
    /// Terminal: closed, or authentication failed.
    Closed,
}

/// What a handshake has to report once the connection is ready.
#[derive(Debug, Clone, Copy)]
struct Report {
    state: (SessionState, KeeperState),
    /// Watches carried over: their watchers hear "resumed, re-read".
    carried: bool,
}

#[derive(Debug)]
struct Queued {
    /// `None` for the session's own requests (closeSession, removeWatches
    /// of an abandoned watch): nobody waits for their answer.
    id: Option<RequestId>,
    request: Request,
    registration: Option<Registration>,
    at: Instant,
}

#[derive(Debug)]
struct Pending {
    xid: i32,
    id: Option<RequestId>,
    op: OpCode,
    registration: Option<Registration>,
}

/// One ZooKeeper session, across any number of connections. See the module docs.
#[derive(Debug)]
pub struct Session {
    config: Config,
    /// `config.hosts`, shuffled once.
    hosts: Vec<HostPort>,
    next_host: usize,
    current_host: usize,
    /// A host list given while connected to a server not on it; it takes
    /// over at the next attempt ([`Session::set_hosts`]).
    new_hosts: Option<Vec<HostPort>>,
    failed_attempts: usize,
    failed_rounds: u32,
    /// The current connection has proved itself: a sane frame after its
    /// handshake, a ping interval or more after it. Only then do the
    /// backoff counters reset, so a server that accepts, answers one frame
    /// and closes is backed off like one that refuses.
    healthy: bool,
    rng: Rng,
    phase: Phase,
    closing: bool,
    /// Why new requests fail at once, after the session became terminal.
    terminal: Option<Error>,
    timers: TimerTable,
    frames: FrameDecoder,

    session_id: i64,
    passwd: Secret,
    /// Negotiated session timeout (the requested one until the first handshake).
    timeout: Duration,
    last_zxid: i64,
    seen_rw: bool,
    /// A handshake made a new session whose SASL exchange has not
    /// completed yet: the next `Connected` must still say "new".
    unreported_new_session: bool,
    /// The config gave a seed: randomness comes from it alone (a
    /// simulation replays), SASL nonces included.
    seeded: bool,
    /// While read-only: the pause before the next `isro` probe, and how
    /// many probes this connection sent (which host is next).
    probe_every: Duration,
    probes: usize,
    state: Option<SessionState>,
    handshakes: u64,

    next_id: u64,
    next_xid: i32,
    queue: VecDeque<Queued>,
    pending: VecDeque<Pending>,
    /// Auth replies (xid -4) come out of band, in order among themselves:
    /// the caller's request, and the credential to keep for replay once the
    /// server accepts it (`None` for replays, already kept).
    auth_pending: VecDeque<(Option<RequestId>, Option<AuthPacket>)>,
    /// SetWatches batches in flight; true for SetWatches2 (opcode 105).
    set_watches_pending: VecDeque<bool>,
    replay_due: bool,
    ping_due: bool,
    ping_sent_at: Option<Instant>,
    auth: Vec<AuthPacket>,
    watches: WatchRegistry,
    /// addWatch requests whose watcher was abandoned before the reply:
    /// removed again as soon as the server confirms them.
    abandoned: BTreeSet<RequestId>,
    /// Caller alarms (retry backoff, wait timeouts), completed when due.
    alarms: BTreeSet<(Instant, RequestId)>,
    /// When each alarm is due, so that cancelling one is no scan.
    alarm_at: id_map::IdMap<Instant>,

    commands: VecDeque<Command>,
    events: VecDeque<Event>,
    last_send: Instant,
    last_recv: Instant,
    stats: SessionStats,
    /// Reused by [`crate::drive::pump`].
    pub(crate) scratch: BytesMut,
    /// The TLS state of the open connection (from `handle_connected` to
    /// its end), when the config asks for TLS.
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsLayer>,
    /// Plaintext on its way through `tls`, reused.
    #[cfg(feature = "tls")]
    tls_plain: BytesMut,
}

impl Session {
    /// A session that starts connecting at once (the first command is a `Connect`).
    pub fn new(mut config: Config, now: Instant) -> Session {
        let seeded = config.rng_seed != 0;
        if !seeded {
            config.rng_seed = rng::random_seed();
        }
        let mut rng = Rng::new(config.rng_seed);
        let mut hosts = config.hosts.clone();
        rng.shuffle(&mut hosts);
        let (session_id, passwd) = config
            .resume
            .clone()
            .unwrap_or((0, Secret::from(&[0; PASSWD_LEN])));
        let auth = config
            .auth
            .iter()
            .map(|(scheme, auth)| AuthPacket {
                auth_type: 0,
                scheme: scheme.clone(),
                auth: auth.clone(),
            })
            .collect();
        let mut s = Session {
            hosts,
            next_host: 0,
            current_host: 0,
            new_hosts: None,
            failed_attempts: 0,
            failed_rounds: 0,
            healthy: false,
            rng,
            phase: Phase::Waiting,
            closing: false,
            terminal: None,
            timers: TimerTable::default(),
            frames: FrameDecoder::new(config.max_frame_len),
            session_id,
            passwd,
            timeout: config.session_timeout,
            last_zxid: 0,
            seen_rw: session_id != 0,
            unreported_new_session: false,
            seeded,
            probe_every: Duration::ZERO,
            probes: 0,
            state: None,
            handshakes: 0,
            next_id: 0,
            next_xid: 0,
            queue: VecDeque::new(),
            pending: VecDeque::new(),
            auth_pending: VecDeque::new(),
            set_watches_pending: VecDeque::new(),
            replay_due: false,
            ping_due: false,
            ping_sent_at: None,
            auth,
            watches: WatchRegistry::default(),
            abandoned: BTreeSet::new(),
            alarms: BTreeSet::new(),
            alarm_at: id_map::IdMap::default(),
            // Room for one: a queue's first growth makes room for four,
            // and an idle session (most of 10,000 on one loop) never has
            // more than one command or event waiting at a time.
            commands: VecDeque::with_capacity(1),
            events: VecDeque::with_capacity(1),
            last_send: now,
            last_recv: now,
            stats: SessionStats::default(),
            scratch: BytesMut::new(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_plain: BytesMut::new(),
            config,
        };
        if s.hosts.is_empty() {
            s.phase = Phase::Closed;
            s.terminal = Some(ConfigError::EmptyHostList.into());
        } else {
            s.start_attempt(now);
        }
        s
    }

    // ----- inputs ---------------------------------------------------------

    /// Queues a request; its [`Event::Response`] comes exactly once. Paths
    /// are client paths (the chroot is prepended here). Requests wait while
    /// disconnected, up to [`Config::queue_timeout`].
    pub fn submit(&mut self, mut request: Request, now: Instant) -> RequestId {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        if let Some(err) = &self.terminal {
            let err = err.clone();
            self.complete(Some(id), Err(err));
            return id;
        }
        if self.closing {
            self.complete(Some(id), Err(Error::Closed));
            return id;
        }
        let max = self.config.max_request_len;
        match request::prepare(&mut request, &self.config.chroot) {
            Err(e) => self.complete(Some(id), Err(e)),
            Ok(_) if request::min_len(&request) > max => {
                let len = request::min_len(&request);
                self.complete(Some(id), Err(RequestTooLarge { len, max }.into()));
            }
            Ok(registration) => {
                self.queue.push_back(Queued {
                    id: Some(id),
                    request,
                    registration,
                    at: now,
                });
                self.arm_queue_deadline();
            }
        }
        id
    }

    /// An alarm: an [`Event::Response`] with `Ok(Response::Empty)` once `now`
    /// passes `at` (or the session's terminal error if it ends first). Retry
    /// backoff and timeouts above the session wait on these, so nothing
    /// above it needs a clock or a sleeping thread.
    pub fn alarm(&mut self, at: Instant) -> RequestId {
        self.next_id += 1;
        let id = RequestId(self.next_id);
        match &self.terminal {
            Some(err) => {
                let err = err.clone();
                self.complete(Some(id), Err(err));
            }
            None => {
                self.alarms.insert((at, id));
                self.alarm_at.insert(id, at);
            }
        }
        id
    }

    /// Forgets the watch left by request `watcher` (nobody listens to it
    /// any more: a dropped stream or watch future). When no other watcher
    /// of this session needs that kind of watch on its path, the server's
    /// watch is removed too (removeWatches, if connected; a later
    /// connection simply does not re-arm it). Unknown ids (a one-shot
    /// that already fired) are ignored.
    pub fn remove_watcher(&mut self, watcher: RequestId, now: Instant) {
        let Some((path, kind, last)) = self.watches.remove_watcher(watcher) else {
            let in_flight = self.pending.iter().any(|p| p.id == Some(watcher))
                || self.queue.iter().any(|q| q.id == Some(watcher));
            if in_flight {
                self.abandoned.insert(watcher);
            }
            return;
        };
        let persistent = matches!(kind, Kind::Persistent | Kind::Recursive);
        if persistent {
            for orphan in self.watches.orphans(&path) {
                self.push_watch(
                    orphan,
                    EventType::None,
                    KeeperState::SyncConnected,
                    path.clone(),
                );
            }
        }
        let connected = matches!(self.phase, Phase::Connected { .. });
        // An addWatch on the path still on its way will need the server's
        // watch: it counts as a watcher already.
        let coming = self.watches.add_pending(&path)
            || self
                .queue
                .iter()
                .any(|q| matches!(&q.registration, Some(Registration::Add(p, _)) if *p == path));
        if !last || coming || !connected || self.closing {
            return;
        }
        // A read with a watch on the path, sent or queued before this
        // removal, registers on the server first: removing its kind (or
        // `Any`) would undo that registration.
        let (data_coming, child_coming) = self.one_shots_in_flight(&path);
        let same_kind_coming = match kind {
            Kind::Data | Kind::Exist => data_coming,
            Kind::Child => child_coming,
            Kind::Persistent | Kind::Recursive => false,
        };
        if same_kind_coming {
            return;
        }
        // Servers before 3.9 cannot remove one persistent kind alone
        // (ZOOKEEPER-4472): when nothing else of this session watches the
        // path, `Any` removes it on every version; otherwise only this kind
        // (on 3.8 that fails, and the next connection does not re-arm it).
        let others = self.watches.watches_path(&path) || data_coming || child_coming;
        let watcher_type = match kind {
            _ if !others => WatcherType::Any,
            Kind::Data | Kind::Exist => WatcherType::Data,
            Kind::Child => WatcherType::Children,
            Kind::Recursive => WatcherType::PersistentRecursive,
            Kind::Persistent => WatcherType::Persistent,
        };
        let mut request = Request::RemoveWatches(WatchesRequest { path, watcher_type });
        if request::prepare(&mut request, &self.config.chroot).is_ok() {
            self.queue.push_back(Queued {
                id: None,
                request,
                registration: None,
                at: now,
            });
        }
    }

    /// Whether a read that sets a one-shot watch on `path` is queued or
    /// awaiting its reply: (a data or exist watch, a child watch).
    fn one_shots_in_flight(&self, path: &str) -> (bool, bool) {
        let registrations = self
            .pending
            .iter()
            .filter_map(|p| p.registration.as_ref())
            .chain(self.queue.iter().filter_map(|q| q.registration.as_ref()));
        let (mut data, mut child) = (false, false);
        for r in registrations {
            match r {
                Registration::Data(p) | Registration::Exists(p) if p == path => data = true,
                Registration::Child(p) if p == path => child = true,
                _ => {}
            }
        }
        (data, child)
    }

    /// Gives the session up on the client's side, as if its timeout had
    /// passed: the connection (if any) is dropped, `Lost { reason:
    /// Abandoned }` is emitted, queued requests fail with `SessionExpired`,
    /// and the next handshake starts a new session. The server keeps the
    /// old session (and its ephemerals) until it expires there: exactly
    /// the situation a partitioned client is in, which recipes must
    /// survive, so tests can create it on demand.
    pub fn abandon_session(&mut self, now: Instant) {
        if self.closing || matches!(self.phase, Phase::Closed) || self.session_id == 0 {
            return;
        }
        if matches!(
            self.phase,
            Phase::Connecting | Phase::Handshaking { .. } | Phase::Connected { .. }
        ) {
            self.next_host = self.current_host;
            self.drop_connection(now, DisconnectReason::Abandoned);
        }
        self.end_session(LostReason::Abandoned, KeeperState::Expired);
    }

    /// Takes back a request that has not been sent yet (still queued for a
    /// connection); true if it was, and then nothing more is heard of it.
    /// A request already sent cannot be taken back: its answer will come.
    pub fn cancel_queued(&mut self, id: RequestId) -> bool {
        let before = self.queue.len();
        self.queue.retain(|q| q.id != Some(id));
        self.queue.len() != before
    }

    /// Drops an alarm that is no longer needed; it will not complete.
    pub fn cancel_alarm(&mut self, id: RequestId) {
        if let Some(at) = self.alarm_at.remove(&id) {
            self.alarms.remove(&(at, id));
        }
    }

    /// The driver's connection (from the last `Command::Connect`) is open.
    pub fn handle_connected(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Connecting) {
            #[cfg(feature = "tls")]
            if let Some(config) = &self.config.tls {
                match crate::tls::TlsLayer::new(config, &self.hosts[self.current_host]) {
                    Ok(layer) => self.tls = Some(layer),
                    Err(e) => return self.drop_connection(now, DisconnectReason::Tls(e)),
                }
            }
            self.phase = Phase::Handshaking { asked: None };
            self.frames.reset();
            let _ = now; // the Connect timer, armed with the command, covers the handshake too
        }
    }

    /// The driver's connection failed or was closed by the peer.
    pub fn handle_disconnected(&mut self, now: Instant) {
        if matches!(
            self.phase,
            Phase::Connecting | Phase::Handshaking { .. } | Phase::Connected { .. }
        ) {
            #[cfg(feature = "tls")]
            if self.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
                let reason = DisconnectReason::Tls(crate::tls::TlsError::ClosedDuringHandshake);
                return self.connection_ended(now, reason);
            }
            self.connection_ended(now, DisconnectReason::Closed);
        }
    }

    /// Bytes read from the connection, split anywhere.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        if !matches!(
            self.phase,
            Phase::Handshaking { asked: Some(_) } | Phase::Connected { .. }
        ) {
            return; // stale bytes of a connection already given up
        }
        self.stats.bytes_received += bytes.len() as u64;
        if let Err(reason) = self.take_input(bytes) {
            return self.drop_connection(now, reason);
        }
        loop {
            let frame = match self.frames.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => return self.drop_connection(now, DisconnectReason::Malformed(e)),
            };
            self.stats.frames_received += 1;
            self.last_recv = now;
            match self.phase {
                Phase::Handshaking { asked: Some(asked) } => {
                    self.handle_handshake(asked, frame, now)
                }
                Phase::Connected { .. } => self.handle_frame(frame, now),
                _ => return,
            }
        }
    }

    /// Hands the connection's bytes to the frame decoder, through TLS
    /// when the connection has it.
    #[cfg(feature = "tls")]
    fn take_input(&mut self, bytes: &[u8]) -> Result<(), DisconnectReason> {
        let Some(tls) = self.tls.as_mut() else {
            self.frames.push(bytes);
            return Ok(());
        };
        let mut plain = std::mem::take(&mut self.tls_plain);
        plain.clear();
        let read = tls.read(bytes, &mut plain);
        self.frames.push(&plain);
        self.tls_plain = plain;
        read.map_err(DisconnectReason::Tls)
    }

    /// Hands the connection's bytes to the frame decoder.
    #[cfg(not(feature = "tls"))]
    fn take_input(&mut self, bytes: &[u8]) -> Result<(), DisconnectReason> {
        self.frames.push(bytes);
        Ok(())
    }

    /// Fires every timer and alarm due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.alarms.first() {
            if at > now {
                break;
            }
            self.alarms.remove(&(at, id));
            self.alarm_at.remove(&id);
            self.complete(Some(id), Ok(Response::Empty));
        }
        while let Some(timer) = self.timers.take_expired(now) {
            match timer {
                Timer::Connect => self.drop_connection(now, DisconnectReason::ConnectTimeout),
                Timer::Read => self.drop_connection(now, DisconnectReason::ReadTimeout),
                Timer::Ping => self.ping_due = true,
                Timer::Lost => self.session_timed_out(now),
                Timer::Backoff => self.start_attempt(now),
                Timer::CloseLinger => {
                    if matches!(
                        self.phase,
                        Phase::Handshaking { .. } | Phase::Connected { .. }
                    ) {
                        self.commands.push_back(Command::Disconnect);
                    }
                    self.finish_close();
                }
                Timer::QueueDeadline => self.expire_queue(now),
                Timer::Probe => self.probe(now),
            }
        }
    }

    /// Ends the session: closeSession is sent after what is already queued,
    /// then the connection closes (after the reply or [`ConfigBuilder::close_linger`]).
    /// Requests still open then complete with [`Error::Closed`].
    pub fn close(&mut self, now: Instant) {
        if self.closing || matches!(self.phase, Phase::Closed) {
            return;
        }
        self.closing = true;
        match self.phase {
            Phase::Connected { .. } => {
                self.queue.push_back(Queued {
                    id: None,
                    request: Request::CloseSession,
                    registration: None,
                    at: now,
                });
                self.timers
                    .set(Timer::CloseLinger, after(now, self.config.close_linger));
            }
            Phase::Connecting | Phase::Handshaking { .. } => {
                self.commands.push_back(Command::Disconnect);
                self.finish_close();
            }
            Phase::Waiting | Phase::Closed => self.finish_close(),
        }
    }

    // ----- outputs --------------------------------------------------------

    /// Appends every frame ready to send to `out` (coalesced); true if any.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, out: &mut BytesMut) -> bool {
        self.poll_transmit_within(now, out, usize::MAX)
    }

    /// [`poll_transmit`](Session::poll_transmit) that stops adding requests
    /// once `budget` bytes were appended (at least one frame goes, so there
    /// is always progress): the transport's room, for write backpressure.
    /// Requests left over wait in the queue for the next call.
    #[must_use]
    pub fn poll_transmit_within(
        &mut self,
        now: Instant,
        out: &mut BytesMut,
        budget: usize,
    ) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            let mut plain = std::mem::take(&mut self.tls_plain);
            plain.clear();
            let wrote = self.transmit_plain(now, &mut plain, budget);
            let start = out.len();
            // The plaintext step may have dropped the connection.
            if let Some(tls) = self.tls.as_mut() {
                if wrote {
                    tls.write(&plain);
                }
                tls.transmit(out);
            }
            self.tls_plain = plain;
            return out.len() > start;
        }
        self.transmit_plain(now, out, budget)
    }

    /// The session's frames, before any TLS.
    fn transmit_plain(&mut self, now: Instant, out: &mut BytesMut, budget: usize) -> bool {
        let start = out.len();
        match self.phase {
            Phase::Handshaking { asked: None } => {
                let asked = self.write_handshake(out);
                self.phase = Phase::Handshaking { asked: Some(asked) };
            }
            Phase::Connected { sasl: Some(_), .. } => self.write_sasl(out),
            Phase::Connected { sasl: None, .. } => {
                if self.replay_due {
                    self.replay_due = false;
                    if let Err(e) = self.write_replay(out) {
                        out.truncate(start);
                        self.drop_connection(now, DisconnectReason::ReplayTooLarge(e));
                        return false;
                    }
                }
                while self.pending.len() < self.config.max_pending.max(1)
                    && out.len() - start < budget
                {
                    let Some(queued) = self.queue.pop_front() else {
                        break;
                    };
                    self.write_request(queued, out);
                }
            }
            _ => {}
        }
        // No ping while SASL runs: a server enforcing SASL answers any
        // other request on an unauthenticated connection with -124 and a
        // close; the read timeout bounds the exchange instead.
        if let Phase::Connected { sasl: None, .. } = self.phase {
            if self.ping_due && out.len() == start {
                self.write_frame(out, xid::PING, &Request::Ping);
                self.stats.pings_sent += 1;
                self.ping_sent_at = Some(now);
            }
            self.ping_due = false;
        }
        if out.len() == start {
            return false;
        }
        self.stats.bytes_sent += (out.len() - start) as u64;
        self.last_send = now;
        if let Phase::Connected { .. } = self.phase {
            self.timers
                .set(Timer::Ping, after(now, self.ping_interval()));
        }
        true
    }

    /// The next instruction for the driver.
    #[must_use]
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next event for the client layer.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called;
    /// valid after draining the other `poll_*` calls.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let alarm = self.alarms.first().map(|&(at, _)| at);
        match (self.timers.next(), alarm) {
            (Some(t), Some(a)) => Some(t.min(a)),
            (t, a) => t.or(a),
        }
    }

    // ----- getters --------------------------------------------------------

    /// Counters since creation.
    pub fn stats(&self) -> SessionStats {
        SessionStats {
            pending: self.pending.len() + self.auth_pending.len(),
            queued: self.queue.len(),
            alarms: self.alarms.len(),
            ..self.stats
        }
    }

    /// The last state emitted, if any.
    pub fn state(&self) -> Option<SessionState> {
        self.state
    }

    /// How long one connection attempt (TCP connect plus handshake) may
    /// take: the session timeout divided by the number of hosts.
    pub fn connect_timeout(&self) -> Duration {
        let per_host = self.timeout / self.hosts.len().max(1) as u32;
        per_host.max(Duration::from_millis(1))
    }

    /// Why the session ended for good (closed, authentication failed), if
    /// it did: what every new request fails with.
    pub fn terminal_error(&self) -> Option<&Error> {
        self.terminal.as_ref()
    }

    /// The configuration the session was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The server the session uses (or last used).
    pub fn current_host(&self) -> Option<&HostPort> {
        self.hosts.get(self.current_host)
    }

    /// The session id and password (for resuming elsewhere); id 0 if none.
    pub fn session(&self) -> (i64, &Secret) {
        (self.session_id, &self.passwd)
    }

    /// The negotiated session timeout (the requested one before the first handshake).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The zxid of the last normal reply.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// True once closed or failed for good: no more events will come.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    // ----- connection lifecycle -------------------------------------------

    fn start_attempt(&mut self, now: Instant) {
        self.take_new_hosts();
        self.current_host = self.next_host;
        self.next_host = (self.next_host + 1) % self.hosts.len();
        self.commands
            .push_back(Command::Connect(self.hosts[self.current_host].clone()));
        self.phase = Phase::Connecting;
        self.timers
            .set(Timer::Connect, after(now, self.connect_timeout()));
    }

    /// Next host, or a pause once a whole round has failed. After a
    /// connection that worked, a random pause of up to
    /// [`ConfigBuilder::reconnect_delay`] comes first (the Java client's
    /// 0–1 s), so the clients of a restarted server do not all come back in
    /// the same millisecond.
    fn next_attempt(&mut self, now: Instant, was_connected: bool) {
        if self.failed_attempts < self.hosts.len() {
            let max = self.config.reconnect_delay;
            if was_connected && !max.is_zero() {
                let pause = self.random_below(max);
                self.phase = Phase::Waiting;
                return self.timers.set(Timer::Backoff, after(now, pause));
            }
            return self.start_attempt(now);
        }
        self.failed_attempts = 0;
        self.failed_rounds = self.failed_rounds.saturating_add(1);
        let random = self.rng.next_u64();
        let Some(pause) = self
            .config
            .connection_retry
            .delay_after(self.failed_rounds, random)
        else {
            // kazoo's connection_retry ran out: the client stops.
            let session_id = self.session_id;
            let gave_up = Error::RetryFailed {
                attempts: self.failed_rounds,
                last: Box::new(Error::ConnectionLoss),
            };
            let state = SessionState::Closed { session_id };
            return self.terminate(gave_up, state, KeeperState::Closed);
        };
        self.phase = Phase::Waiting;
        self.timers.set(Timer::Backoff, after(now, pause));
    }

    /// Uniform in `[0, max]`, to the nanosecond (saturating for huge `max`).
    fn random_below(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng.below(nanos.saturating_add(1)))
    }

    /// The seed the session runs with (random if the config said 0).
    pub(crate) fn rng_seed(&self) -> u64 {
        self.config.rng_seed
    }

    /// The session gives up the connection itself.
    fn drop_connection(&mut self, now: Instant, reason: DisconnectReason) {
        self.commands.push_back(Command::Disconnect);
        self.connection_ended(now, reason);
    }

    fn connection_ended(&mut self, now: Instant, reason: DisconnectReason) {
        let was_connected = matches!(self.phase, Phase::Connected { .. });
        let malformed = matches!(
            reason,
            DisconnectReason::Malformed(_)
                | DisconnectReason::ReplayRefused(_)
                | DisconnectReason::ReplayTooLarge(_)
        );
        // The server answered: not a reason to try another one.
        let reachable = matches!(
            reason,
            DisconnectReason::Expired
                | DisconnectReason::SessionTimedOut
                | DisconnectReason::Abandoned
                | DisconnectReason::ReadWriteServerFound
                | DisconnectReason::HostsChanged
        );
        // Leaving a read-only server for a read/write one, or a server
        // taken off the list, is no failure, however young the connection.
        let moved_on = matches!(
            reason,
            DisconnectReason::ReadWriteServerFound | DisconnectReason::HostsChanged
        );
        self.events.push_back(Event::Disconnected {
            host: self.hosts[self.current_host].clone(),
            reason,
        });
        self.frames.reset();
        #[cfg(feature = "tls")]
        {
            self.tls = None;
        }
        self.replay_due = false;
        self.ping_due = false;
        self.ping_sent_at = None;
        self.set_watches_pending.clear();
        for t in [Timer::Connect, Timer::Read, Timer::Ping, Timer::Probe] {
            self.timers.stop(t);
        }
        let lost = if self.closing {
            Error::Closed
        } else {
            Error::ConnectionLoss
        };
        self.fail_in_flight(&lost);
        if self.closing {
            return self.finish_close();
        }
        if was_connected {
            let session_id = self.session_id;
            // Not when a SASL exchange was cut short: this connection
            // never reported "connected".
            if matches!(
                self.state,
                Some(SessionState::Connected { .. } | SessionState::ReadOnly { .. })
            ) {
                self.set_state(
                    SessionState::Suspended { session_id },
                    KeeperState::Disconnected,
                );
            }
            if self.session_id != 0 {
                self.timers
                    .set(Timer::Lost, after(self.last_recv, self.timeout));
            }
        }
        if (!was_connected && !reachable)
            || malformed
            || (was_connected && !self.healthy && !moved_on)
        {
            self.failed_attempts += 1;
        }
        self.phase = Phase::Waiting;
        self.arm_queue_deadline();
        self.next_attempt(now, was_connected);
    }

    /// Writes the ConnectRequest; returns the session id it asks for (0: new).
    fn write_handshake(&mut self, out: &mut BytesMut) -> i64 {
        // Until a read/write server was seen, a session id is only valid on
        // the read-only server that issued it (PROTOCOL.md §2.6).
        let resume = self.session_id != 0 && self.seen_rw;
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            timeout: i32::try_from(self.config.session_timeout.as_millis()).unwrap_or(i32::MAX),
            session_id: if resume { self.session_id } else { 0 },
            passwd: if resume {
                self.passwd.clone()
            } else {
                Secret::from(&[0; PASSWD_LEN])
            },
            read_only: Some(self.config.read_only),
        };
        encode_frame(out, |o| request.encode(o));
        self.stats.frames_sent += 1;
        request.session_id
    }

    /// The first frame on a connection whose ConnectRequest asked for
    /// session `asked` (0: a new one). Whether the session is new, resumed
    /// or replaced is decided here, from `asked` and the answer alone.
    fn handle_handshake(&mut self, asked: i64, frame: Bytes, now: Instant) {
        let response = match HandshakeReply::decode(frame) {
            Err(e) => return self.drop_connection(now, DisconnectReason::Malformed(e)),
            Ok(HandshakeReply::Refused { err, .. }) => {
                return self.drop_connection(now, DisconnectReason::Refused(Error::from_code(err)))
            }
            Ok(HandshakeReply::Expired) => {
                if asked != 0 {
                    self.end_session(LostReason::Expired, KeeperState::Expired);
                    // The server is fine, only our session is gone: start a
                    // new one there.
                    self.next_host = self.current_host;
                } else {
                    // "Expired" for a session never asked for: a broken server.
                    self.failed_attempts += 1;
                }
                return self.drop_connection(now, DisconnectReason::Expired);
            }
            Ok(HandshakeReply::Accepted(r)) => r,
        };
        if response.read_only == Some(true) && !self.config.read_only {
            // Read-only service nobody asked for: the server should have
            // refused (NotReadOnly). Do not run read-only unawares.
            return self.drop_connection(now, DisconnectReason::Refused(Error::NotReadOnly));
        }
        let new_session = response.session_id != asked;
        // Watches carried over to this connection: a resumed session's, or a
        // read-only session's that a new session takes over (the only
        // legitimate change of id, PROTOCOL.md §2.6: its ConnectRequest asked
        // for 0 on purpose, and a read-only session holds no ephemerals).
        let carried = !new_session || self.session_id != 0;
        if asked != 0 && new_session {
            // A resume answered with another id: the old session is gone,
            // whatever the server did not say.
            self.end_session(LostReason::Replaced, KeeperState::Expired);
        }
        let read_only = response.read_only == Some(true);
        self.session_id = response.session_id;
        self.passwd = response.passwd;
        self.timeout = Duration::from_millis(u64::try_from(response.timeout).unwrap_or(1));
        self.seen_rw |= !read_only;
        // The attempt counts as a success once a frame after the handshake
        // proves the server sane (see `handle_frame`), not before: a server
        // that accepts and then sends garbage must not defeat the backoff.
        self.healthy = false;
        self.handshakes += 1;
        if self.handshakes > 1 {
            self.stats.reconnects += 1;
        }
        let session_id = self.session_id;
        // A new session made on a connection whose SASL exchange was cut
        // was never reported: the next report still says "new".
        let new_session = new_session || self.unreported_new_session;
        let state = if read_only {
            (
                SessionState::ReadOnly { session_id },
                KeeperState::ConnectedReadOnly,
            )
        } else {
            (
                SessionState::Connected {
                    session_id,
                    new_session,
                },
                KeeperState::SyncConnected,
            )
        };
        let report = Report { state, carried };
        // With SASL, "connected" is reported once the exchange completed:
        // until then the connection carries nothing else.
        let sasl = self.start_sasl(report);
        let authenticating = sasl.is_some();
        self.unreported_new_session = authenticating && new_session;
        self.phase = Phase::Connected {
            read_only,
            since: now,
            sasl,
        };
        for t in [
            Timer::Connect,
            Timer::Lost,
            Timer::Backoff,
            Timer::QueueDeadline,
        ] {
            self.timers.stop(t);
        }
        self.timers
            .set(Timer::Read, after(now, self.read_timeout()));
        self.timers
            .set(Timer::Ping, after(self.last_send, self.ping_interval()));
        if read_only {
            self.start_probing(now);
        }
        if !authenticating {
            self.report_connected(report);
        }
    }

    /// The connection is ready for the session's traffic (after the
    /// handshake, or after SASL): replay, report the state, and tell the
    /// watchers carried over to re-read.
    fn report_connected(&mut self, report: Report) {
        self.replay_due = true;
        self.unreported_new_session = false;
        if !self.closing {
            self.set_state(report.state.0, report.state.1);
        }
        if report.carried {
            for (watcher, path) in self.watches.resumed() {
                self.push_watch(watcher, EventType::None, KeeperState::SyncConnected, path);
            }
        }
    }

    // ----- requests and replies -------------------------------------------

    fn write_frame(&mut self, out: &mut BytesMut, xid: i32, request: &Request) -> bool {
        match encode_request(out, xid, request, self.config.max_request_len) {
            Ok(_) => {
                self.stats.frames_sent += 1;
                true
            }
            Err(_) => false,
        }
    }

    fn write_request(&mut self, mut queued: Queued, out: &mut BytesMut) {
        let op = queued.request.op_code();
        let xid = if op == OpCode::Auth {
            xid::AUTH
        } else {
            self.next_xid = xid::next(self.next_xid);
            self.next_xid
        };
        if let Some(path) = queued
            .registration
            .as_ref()
            .and_then(Registration::one_shot_path)
        {
            if self.watches.serves_locally(path) {
                request::clear_watch_flag(&mut queued.request);
            }
        }
        if let Err(e) = encode_request(out, xid, &queued.request, self.config.max_request_len) {
            return self.complete(queued.id, Err(e.into()));
        }
        self.stats.frames_sent += 1;
        if let Some(Registration::Add(path, _)) = &queued.registration {
            self.watches.persistent_sent(path);
        }
        if let Request::Auth(packet) = queued.request {
            // Kept for replay once the server accepts it, not before: a
            // refused or lost credential must not be replayed for ever.
            self.auth_pending.push_back((queued.id, Some(packet)));
        } else {
            self.pending.push_back(Pending {
                xid,
                id: queued.id,
                op,
                registration: queued.registration,
            });
        }
    }

    /// Auth first, then the watches, as SetWatches / SetWatches2 batches.
    /// A frame that cannot be sent fails the connection with a typed
    /// reason: skipping it would leave credentials or watches silently
    /// missing on the server, and the auth replies out of step.
    fn write_replay(&mut self, out: &mut BytesMut) -> Result<(), RequestTooLarge> {
        let max = self.config.max_request_len;
        for packet in &self.auth {
            encode_request(out, xid::AUTH, &Request::Auth(packet.clone()), max)?;
            self.auth_pending.push_back((None, None));
            self.stats.frames_sent += 1;
        }
        let (batches, watches) = self.set_watches_batches();
        self.stats.last_replay = Replay {
            credentials: self.auth.len(),
            watches,
            batches: batches.len(),
        };
        for batch in batches {
            encode_request(out, xid::SET_WATCHES, &batch, max)?;
            self.stats.frames_sent += 1;
            self.set_watches_pending
                .push_back(matches!(batch, Request::SetWatches2(_)));
        }
        Ok(())
    }

    /// Batches close at 128 KiB of paths (ZOOKEEPER-706), or at half the
    /// request limit when that is smaller, so each batch can be sent.
    /// Also returns how many paths they hold.
    fn set_watches_batches(&self) -> (Vec<Request>, usize) {
        let limit = SET_WATCHES_BATCH.min(self.config.max_request_len / 2);
        let lists = self.watches.armed();
        let mut batches = Vec::new();
        let mut batch: [Vec<String>; 5] = Default::default();
        let mut size = 0;
        let mut paths = 0;
        for (kind, list) in lists.iter().enumerate() {
            paths += list.len();
            for path in list {
                let server_path = self.config.chroot.prepend(path).into_owned();
                size += server_path.len();
                batch[kind].push(server_path);
                if size >= limit {
                    batches.push(set_watches(self.last_zxid, std::mem::take(&mut batch)));
                    size = 0;
                }
            }
        }
        if batch.iter().any(|l| !l.is_empty()) {
            batches.push(set_watches(self.last_zxid, batch));
        }
        (batches, paths)
    }

    fn handle_frame(&mut self, frame: Bytes, now: Instant) {
        self.handle_frame_inner(frame, now);
        let proven = match self.phase {
            Phase::Connected { since, .. } => now >= after(since, self.ping_interval()),
            _ => false,
        };
        if !self.healthy && proven {
            self.healthy = true;
            self.failed_attempts = 0;
            self.failed_rounds = 0;
        }
    }

    fn handle_frame_inner(&mut self, frame: Bytes, now: Instant) {
        self.timers
            .set(Timer::Read, after(now, self.read_timeout()));
        let mut r = Reader::new(frame);
        let header = match ReplyHeader::decode(&mut r) {
            Ok(h) => h,
            Err(e) => return self.drop_connection(now, DisconnectReason::Malformed(e)),
        };
        match header.xid {
            xid::NOTIFICATION => match WatcherEvent::decode(&mut r) {
                Ok(event) => self.handle_notification(event),
                Err(e) => self.drop_connection(now, DisconnectReason::Malformed(e)),
            },
            xid::PING => {
                if let Some(sent) = self.ping_sent_at.take() {
                    self.stats.last_rtt = Some(now.saturating_duration_since(sent));
                }
            }
            xid::AUTH => match self.auth_pending.pop_front() {
                None => self.unexpected_xid(now, header.xid),
                Some((id, packet)) => match Error::from_code(header.err) {
                    Error::RolledBack => {
                        if let Some(packet) = packet {
                            if !self.auth.contains(&packet) {
                                self.auth.push(packet);
                            }
                        }
                        self.complete(id, Ok(Response::Empty))
                    }
                    Error::AuthFailed => {
                        self.complete(id, Err(Error::AuthFailed));
                        self.auth_failed();
                    }
                    err => self.complete(id, Err(err)),
                },
            },
            xid::SET_WATCHES => {
                let Some(v2) = self.set_watches_pending.pop_front() else {
                    return self.unexpected_xid(now, header.xid);
                };
                self.note_zxid(header.zxid);
                if header.err != 0 {
                    self.set_watches_refused(v2, Error::from_code(header.err), now);
                }
            }
            got if self.sasl_awaits(got) => {
                self.note_zxid(header.zxid);
                self.handle_sasl_reply(header.err, r.into_rest(), now);
            }
            got => match self.pending.front() {
                Some(p) if p.xid == got => {
                    let Some(p) = self.pending.pop_front() else {
                        return;
                    };
                    self.note_zxid(header.zxid);
                    self.handle_reply(p, header.err, r.into_rest(), now);
                }
                _ => self.unexpected_xid(now, got),
            },
        }
    }

    /// The server refused to re-arm watches: they are not armed, whatever
    /// the session believed. A server that lacks SetWatches2 (before 3.6:
    /// -6, then it closes) cannot hold persistent watches at all; their
    /// watchers hear `PersistentWatchRemoved` and the next connection
    /// re-arms the rest with SetWatches (101). Either way this connection
    /// failed: it is dropped and counted as a failed attempt.
    fn set_watches_refused(&mut self, v2: bool, err: Error, now: Instant) {
        if v2 && err == Error::Unimplemented {
            for (watcher, path) in self.watches.drain_persistent() {
                self.push_watch(
                    watcher,
                    EventType::PersistentWatchRemoved,
                    KeeperState::SyncConnected,
                    path,
                );
            }
        }
        self.healthy = false;
        self.drop_connection(now, DisconnectReason::ReplayRefused(err));
    }

    fn unexpected_xid(&mut self, now: Instant, got: i32) {
        let expected = self.pending.front().map(|p| p.xid);
        self.drop_connection(
            now,
            DisconnectReason::Malformed(DecodeError::UnexpectedXid { got, expected }),
        );
    }

    /// lastZxid comes from replies only, never from notifications (PROTOCOL.md §3.4).
    fn note_zxid(&mut self, zxid: i64) {
        if zxid > 0 {
            self.last_zxid = zxid;
        }
    }

    fn handle_reply(&mut self, p: Pending, err: i32, body: Bytes, now: Instant) {
        if p.op == OpCode::CloseSession {
            self.commands.push_back(Command::Disconnect);
            return self.finish_close();
        }
        let mut result = if err == 0 {
            match Response::decode(p.op, body) {
                Ok(r) => Ok(r),
                Err(e) => {
                    // It may have been applied: the caller sees ConnectionLoss.
                    if let Some(Registration::Add(path, _)) = &p.registration {
                        self.addwatch_answered(path);
                    }
                    self.complete(p.id, Err(Error::ConnectionLoss));
                    return self.drop_connection(now, DisconnectReason::Malformed(e));
                }
            }
        } else {
            Err(Error::from_code(err))
        };
        if let Ok(response) = &mut result {
            if let Err(e) = request::strip_chroot(response, p.op, &self.config.chroot) {
                result = Err(Error::Malformed(e));
            }
        }
        if let (Some(id), Some(registration)) = (p.id, p.registration) {
            self.register(id, registration, &result);
            if self.abandoned.remove(&id) {
                self.remove_watcher(id, now);
            }
        }
        self.complete(p.id, result);
    }

    /// See [`WatchRegistry::persistent_answered`].
    fn addwatch_answered(&mut self, path: &str) {
        for watcher in self.watches.persistent_answered(path) {
            self.push_watch(
                watcher,
                EventType::None,
                KeeperState::SyncConnected,
                path.to_owned(),
            );
        }
    }

    fn register(
        &mut self,
        id: RequestId,
        registration: Registration,
        result: &Result<Response, Error>,
    ) {
        let ok = result.is_ok();
        match registration {
            Registration::Exists(path) if ok => self.watches.add(path, Kind::Data, id),
            Registration::Exists(path) if result == &Err(Error::NoNode) => {
                self.watches.add(path, Kind::Exist, id)
            }
            Registration::Data(path) if ok => self.watches.add(path, Kind::Data, id),
            Registration::Child(path) if ok => self.watches.add(path, Kind::Child, id),
            Registration::Add(path, mode) => {
                if ok {
                    self.watches.add(path.clone(), mode.into(), id);
                }
                self.addwatch_answered(&path);
            }
            Registration::Remove(path, which) if ok => {
                for (watcher, event) in self.watches.remove(&path, which) {
                    self.push_watch(watcher, event, KeeperState::SyncConnected, path.clone());
                }
            }
            _ => {}
        }
    }

    fn handle_notification(&mut self, event: WatcherEvent) {
        let path = self.config.chroot.strip(&event.path);
        if self.config.chroot.as_str().is_some() && path.len() == event.path.len() {
            return; // not under the chroot: no watch of ours can be on it
        }
        let mut fired = Vec::new();
        self.watches.dispatch(event.event_type, path, &mut fired);
        for (watcher, event_type, path) in fired {
            self.events.push_back(Event::Watch {
                watcher,
                event: WatchedEvent {
                    event_type,
                    state: event.state,
                    path: path.to_owned(),
                },
            });
        }
    }

    fn push_watch(
        &mut self,
        watcher: RequestId,
        event_type: EventType,
        state: KeeperState,
        path: String,
    ) {
        self.events.push_back(Event::Watch {
            watcher,
            event: WatchedEvent {
                event_type,
                state,
                path,
            },
        });
    }

    fn complete(&mut self, id: Option<RequestId>, result: Result<Response, Error>) {
        if let Some(id) = id {
            if result.is_err() && !self.abandoned.is_empty() {
                self.abandoned.remove(&id);
            }
            self.events.push_back(Event::Response { id, result });
        }
    }

    fn fail_in_flight(&mut self, err: &Error) {
        while let Some(p) = self.pending.pop_front() {
            if let Some(Registration::Add(path, _)) = &p.registration {
                self.addwatch_answered(path);
            }
            self.complete(p.id, Err(err.clone()));
        }
        while let Some((id, _)) = self.auth_pending.pop_front() {
            self.complete(id, Err(err.clone()));
        }
    }

    fn fail_queued(&mut self, err: &Error) {
        while let Some(q) = self.queue.pop_front() {
            self.complete(q.id, Err(err.clone()));
        }
    }

    fn arm_queue_deadline(&mut self) {
        if matches!(self.phase, Phase::Connected { .. }) {
            return;
        }
        match (self.queue.front(), self.config.queue_timeout) {
            (Some(q), Some(limit)) => self.timers.set(Timer::QueueDeadline, after(q.at, limit)),
            _ => self.timers.stop(Timer::QueueDeadline),
        }
    }

    fn expire_queue(&mut self, now: Instant) {
        let Some(limit) = self.config.queue_timeout else {
            return;
        };
        while self
            .queue
            .front()
            .is_some_and(|q| after(q.at, limit) <= now)
        {
            if let Some(q) = self.queue.pop_front() {
                self.complete(q.id, Err(Error::ConnectionLoss));
            }
        }
        self.arm_queue_deadline();
    }

    // ----- states ---------------------------------------------------------

    fn set_state(&mut self, state: SessionState, keeper: KeeperState) {
        self.state = Some(state);
        self.events.push_back(Event::State { state, keeper });
    }

    /// The client's own clock says the session is gone (no server contact
    /// for the whole timeout). A resume handshake still in flight is
    /// dropped first: its answer could say "alive" after the loss was
    /// reported, and a session, once reported lost, never comes back.
    fn session_timed_out(&mut self, now: Instant) {
        let resuming = matches!(self.phase, Phase::Handshaking { asked: Some(id) } if id != 0);
        if resuming {
            self.next_host = self.current_host;
            self.drop_connection(now, DisconnectReason::SessionTimedOut);
        }
        self.end_session(LostReason::TimedOut, KeeperState::Expired);
    }

    /// The session is over: fail what was queued for it, tell its
    /// watchers, forget its id. The next handshake creates a new one.
    fn end_session(&mut self, reason: LostReason, keeper: KeeperState) {
        self.timers.stop(Timer::Lost);
        let session_id = self.session_id;
        if session_id == 0 {
            return;
        }
        // Requests made for the old session must not run on a new one (an
        // ephemeral create, a lock's check): they fail, as the Java client
        // fails them. Later requests go to the new session.
        self.fail_queued(&Error::SessionExpired);
        self.arm_queue_deadline();
        self.set_state(SessionState::Lost { session_id, reason }, keeper);
        self.tell_watchers_and_forget(keeper);
        self.session_id = 0;
        self.passwd = Secret::from(&[0; PASSWD_LEN]);
    }

    fn tell_watchers_and_forget(&mut self, keeper: KeeperState) {
        for (watcher, path) in self.watches.drain_all() {
            self.push_watch(watcher, EventType::None, keeper, path);
        }
    }

    fn auth_failed(&mut self) {
        self.commands.push_back(Command::Disconnect);
        self.events.push_back(Event::Disconnected {
            host: self.hosts[self.current_host].clone(),
            reason: DisconnectReason::AuthFailed,
        });
        let session_id = self.session_id;
        self.terminate(
            Error::AuthFailed,
            SessionState::Lost {
                session_id,
                reason: LostReason::AuthFailed,
            },
            KeeperState::AuthFailed,
        );
    }

    fn finish_close(&mut self) {
        let session_id = self.session_id;
        self.terminate(
            Error::Closed,
            SessionState::Closed { session_id },
            KeeperState::Closed,
        );
    }

    fn terminate(&mut self, err: Error, state: SessionState, keeper: KeeperState) {
        self.phase = Phase::Closed;
        self.timers.clear();
        self.fail_in_flight(&err);
        self.fail_queued(&err);
        self.alarm_at.clear();
        for (_, id) in std::mem::take(&mut self.alarms) {
            self.complete(Some(id), Err(err.clone()));
        }
        self.tell_watchers_and_forget(keeper);
        self.set_state(state, keeper);
        self.terminal = Some(err);
    }

    // ----- timing rules (PROTOCOL.md §9) ----------------------------------

    fn read_timeout(&self) -> Duration {
        self.timeout * 2 / 3
    }

    fn ping_interval(&self) -> Duration {
        self.timeout / 3
    }
}

fn set_watches(relative_zxid: i64, lists: [Vec<String>; 5]) -> Request {
    let [data_watches, exist_watches, child_watches, persistent_watches, persistent_recursive_watches] =
        lists;
    // Opcode 101 unless persistent watches are in the batch: 3.4/3.5 servers lack 105.
    if persistent_watches.is_empty() && persistent_recursive_watches.is_empty() {
        Request::SetWatches(SetWatches {
            relative_zxid,
            data_watches,
            exist_watches,
            child_watches,
        })
    } else {
        Request::SetWatches2(SetWatches2 {
            relative_zxid,
            data_watches,
            exist_watches,
            child_watches,
            persistent_watches,
            persistent_recursive_watches,
        })
    }
}
