//! What comes out of a session: commands for the driver, events for the client.

use super::HostPort;
use crate::proto::{DecodeError, EventType, KeeperState, RequestTooLarge, Response};
use crate::Error;

/// Identifies a submitted request, and the watch that request leaves, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The raw number (unique within one session, increasing).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// An instruction for the driver (the adapter), from [`poll_command`](super::Session::poll_command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Open a TCP connection to this server (resolve its name now), then call
    /// `handle_connected`, or `handle_disconnected` if it fails.
    Connect(HostPort),
    /// Close the current connection. Do not report it with `handle_disconnected`.
    Disconnect,
    /// While connected to a read-only server: on a connection of its own,
    /// send this server the four-letter word `isro` and report whether it
    /// answered `rw` with `handle_probe`. Leave the current connection alone.
    Probe(HostPort),
}

/// What the session tells the client layer, from [`poll_event`](super::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A request completed; each submitted request gets exactly one.
    /// Paths in the response are client paths (chroot stripped).
    Response {
        /// The request.
        id: RequestId,
        /// Its outcome.
        result: Result<Response, Error>,
    },
    /// A watch fired. `watcher` is the request that left it (a getData,
    /// exists or getChildren with `watch`, or an addWatch).
    Watch {
        /// The request that left the watch.
        watcher: RequestId,
        /// What happened.
        event: WatchedEvent,
    },
    /// The session changed state. Emitted in order; none is dropped.
    State {
        /// The high-level state, as kazoo and Curator users know it.
        state: SessionState,
        /// The low-level state, as ZooKeeper names it.
        keeper: KeeperState,
    },
    /// A connection or connection attempt ended (diagnostics; the session
    /// already decided what to do next).
    Disconnected {
        /// The server.
        host: HostPort,
        /// Why.
        reason: DisconnectReason,
    },
}

/// A watch notification, with the path relative to the chroot.
///
/// Besides ZooKeeper's node events, two session signals reach watchers with
/// `event_type: EventType::None`:
/// - `state: SyncConnected` ("resumed, re-read"): the connection came back
///   to the same session. Persistent and recursive watches were re-armed, but
///   the server sends them no catch-up for what changed meanwhile, so re-read.
///   One-shot watches served locally on such paths fire and end with it too.
/// - `state: Expired` or `Closed`: the session ended and the watch with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    /// What happened.
    pub event_type: EventType,
    /// The session state when it happened.
    pub state: KeeperState,
    /// The node (for recursive watches, the descendant that changed).
    pub path: String,
}

/// The high-level session state. Every variant names the session it is
/// about, so a lock or lease can tell "my session" from a later one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionState {
    /// Connected to a read/write server.
    Connected {
        /// The session id.
        session_id: i64,
        /// True for a new session: ephemerals and watches of an earlier one
        /// are gone. Decided by comparing the server's answer with the id the
        /// handshake sent (docs/session.md).
        new_session: bool,
    },
    /// Connected to a read-only server: reads work, writes fail with `NotReadOnly`.
    ReadOnly {
        /// The session id (one only this read-only server knows).
        session_id: i64,
    },
    /// The connection dropped; the session may still be alive. Requests in
    /// flight failed with `ConnectionLoss`; new ones wait for a connection.
    Suspended {
        /// The session that may still be alive.
        session_id: i64,
    },
    /// The session is gone: its ephemerals, watches and queued requests with
    /// it. Unless auth failed, the next connection starts a new session.
    Lost {
        /// The session that is gone.
        session_id: i64,
        /// How the client knows.
        reason: LostReason,
    },
    /// `close` finished; the session will not reconnect.
    Closed {
        /// The session that was closed (0 if none was ever established).
        session_id: i64,
    },
}

impl SessionState {
    /// The session this state is about (0 before any was established).
    pub fn session_id(&self) -> i64 {
        match *self {
            SessionState::Connected { session_id, .. }
            | SessionState::ReadOnly { session_id }
            | SessionState::Suspended { session_id }
            | SessionState::Lost { session_id, .. }
            | SessionState::Closed { session_id } => session_id,
        }
    }

    /// The state in ZooKeeper's low-level terms (the `state` of a watch
    /// event; kazoo's `client_state`): a session being replaced after
    /// `Lost` is `Expired`, or `AuthFailed` if that was why.
    pub fn keeper_state(&self) -> KeeperState {
        match self {
            SessionState::Connected { .. } => KeeperState::SyncConnected,
            SessionState::ReadOnly { .. } => KeeperState::ConnectedReadOnly,
            SessionState::Suspended { .. } => KeeperState::Disconnected,
            SessionState::Lost {
                reason: LostReason::AuthFailed,
                ..
            } => KeeperState::AuthFailed,
            SessionState::Lost { .. } => KeeperState::Expired,
            SessionState::Closed { .. } => KeeperState::Closed,
        }
    }
}

/// Why a session was declared [`Lost`](SessionState::Lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LostReason {
    /// The server said so (a ConnectResponse with timeout 0).
    Expired,
    /// No server contact for the whole session timeout: the server has
    /// expired it, or is about to. Decided on the client's own clock.
    TimedOut,
    /// The server answered a resume with a different session id (some
    /// ZooKeeper-compatible servers do this instead of saying "expired").
    Replaced,
    /// Authentication failed; the session ends for good.
    AuthFailed,
    /// The application gave it up ([`Session::abandon_session`](super::Session::abandon_session));
    /// the server may keep it until it expires.
    Abandoned,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server or the network closed it (the driver called `handle_disconnected`).
    Closed,
    /// TCP connect plus handshake took longer than session timeout / hosts.
    ConnectTimeout,
    /// Nothing received for 2/3 of the session timeout.
    ReadTimeout,
    /// The server sent bytes that make no sense here.
    Malformed(DecodeError),
    /// The server refused the handshake (for example a read-only server, -119).
    Refused(Error),
    /// The server said the session expired.
    Expired,
    /// The client closed the session.
    ClientClosed,
    /// Authentication failed (-115).
    AuthFailed,
    /// The server refused the SetWatches re-arming its watches (for example
    /// -6 from a server without SetWatches2): they are not armed there.
    ReplayRefused(Error),
    /// A credential or SetWatches batch to replay exceeds
    /// `max_request_len`; the connection cannot be restored without it.
    ReplayTooLarge(RequestTooLarge),
    /// The application abandoned the session on this connection.
    Abandoned,
    /// TLS failed: an untrusted certificate, a refused handshake, a server
    /// that does not speak TLS. The session tries again with backoff.
    Tls(crate::tls::TlsError),
    /// The SASL exchange failed on this client's side (a challenge it
    /// cannot answer, a server that cannot prove it knows the password).
    /// A refusal by the server is [`AuthFailed`](Self::AuthFailed) instead.
    Sasl(crate::sasl::SaslError),
    /// A read-only connection was given up for a read/write server that a
    /// probe found; the session connects there next.
    ReadWriteServerFound,
    /// The host list changed ([`Session::set_hosts`](super::Session::set_hosts))
    /// and this server is no longer on it; the session resumes on the new list.
    HostsChanged,
    /// The session timed out on the client's clock while this resume
    /// handshake was in flight: the connection is dropped before `Lost`, so
    /// a late answer can never revive the session the client gave up.
    SessionTimedOut,
}
