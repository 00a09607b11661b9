//! The server on real loopback TCP: an accept thread, a reader and a writer
//! thread per connection and a timer thread around one [`Server`] behind a
//! mutex. Sockets are written by their writer thread only, never under the
//! server's mutex: a client that stops reading stalls its own connection,
//! not every other one and the timers.

#![allow(clippy::disallowed_methods)] // the I/O shell owns the clock; the core takes `now`

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;

use kazoo::proto::Request;

use crate::{ConnId, FaultError, Server, ServerConfig};

/// A [`Server`] listening on TCP; stopped (every connection closed) on drop.
#[derive(Debug)]
pub struct EmbeddedServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    stop: AtomicBool,
}

#[derive(Debug)]
struct Inner {
    server: Server,
    streams: HashMap<ConnId, Arc<Outgoing>>,
    out: BytesMut,
}

/// One connection's bytes on their way to its writer thread.
#[derive(Debug)]
struct Outgoing {
    state: Mutex<OutState>,
    ready: Condvar,
    /// For [`Outgoing::abort`]: unblocks a writer stuck on a full socket.
    socket: TcpStream,
}

#[derive(Debug, Default)]
struct OutState {
    bytes: Vec<u8>,
    /// Close the socket once `bytes` are written.
    closing: bool,
}

impl Outgoing {
    fn lock(&self) -> MutexGuard<'_, OutState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, bytes: &[u8]) {
        self.lock().bytes.extend_from_slice(bytes);
        self.ready.notify_one();
    }

    /// Closes the socket once what is queued was written.
    fn close(&self) {
        self.lock().closing = true;
        self.ready.notify_one();
    }

    /// Closes the socket now (the peer left, or the server stops).
    fn abort(&self) {
        self.close();
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Sends what the server has for every connection and closes the ones
    /// it is done with.
    fn flush(&mut self) {
        for conn in self.server.connections_with_output() {
            self.out.clear();
            if self.server.poll_transmit(conn, &mut self.out) {
                if let Some(s) = self.streams.get(&conn) {
                    s.push(&self.out);
                }
            }
        }
        while let Some(conn) = self.server.poll_close() {
            if let Some(s) = self.streams.remove(&conn) {
                s.close();
            }
            self.server.connection_closed(conn);
        }
    }
}

impl EmbeddedServer {
    /// Listens on a free port of 127.0.0.1.
    pub fn start(config: ServerConfig) -> io::Result<EmbeddedServer> {
        Self::bind(
            "127.0.0.1:0"
                .parse()
                .map_err(|_| io::ErrorKind::InvalidInput)?,
            config,
        )
    }

    /// Listens on `addr`.
    pub fn bind(addr: SocketAddr, mut config: ServerConfig) -> io::Result<EmbeddedServer> {
        if config.wall_clock_ms == 0 {
            let since = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            config.wall_clock_ms = i64::try_from(since.as_millis()).unwrap_or(0);
        }
        if config.seed == 0 {
            config.seed =
                u64::try_from(config.wall_clock_ms).unwrap_or(1) ^ u64::from(std::process::id());
        }
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                server: Server::new(config, Instant::now()),
                streams: HashMap::new(),
                out: BytesMut::new(),
            }),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        thread::Builder::new()
            .name("zk-accept".into())
            .spawn(move || accept(&listener, &s))?;
        let s = shared.clone();
        thread::Builder::new()
            .name("zk-timer".into())
            .spawn(move || timer(&s))?;
        Ok(EmbeddedServer { addr, shared })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:port`, for a connect string.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// Expires a session at once, as its timeout would (its ephemerals go,
    /// its connection closes).
    pub fn expire_session(&self, session_id: i64) -> Result<(), FaultError> {
        self.with_server(|server, now| server.expire_session(session_id, now))
    }

    /// Commits the next request matching `filter`, then closes its
    /// connection before the reply (see [`Server::lose_next_reply`]).
    pub fn lose_next_reply(&self, filter: impl FnMut(&Request) -> bool + Send + 'static) {
        self.with_server(|server, _| server.lose_next_reply(filter));
    }

    /// Closes the connection of `session` now; the session lives on.
    pub fn close_connection_of(&self, session_id: i64) -> Result<(), FaultError> {
        self.with_server(|server, _| server.close_connection_of(session_id))
    }

    /// Stops (`true`) or resumes reading and writing the connection of
    /// `session` (see [`Server::stall`]).
    pub fn stall(&self, session_id: i64, on: bool) -> Result<(), FaultError> {
        self.with_server(|server, now| server.stall(session_id, on, now))
    }

    /// Sends everything for `session` `delay` late (see [`Server::delay_replies`]).
    pub fn delay_replies(&self, session_id: i64, delay: Duration) -> Result<(), FaultError> {
        self.with_server(|server, _| server.delay_replies(session_id, delay))
    }

    /// Closes every new connection at once for `duration`.
    pub fn refuse_connections_for(&self, duration: Duration) {
        self.with_server(|server, now| {
            server.refuse_connections_until(now.checked_add(duration).unwrap_or(now));
        });
    }

    /// Sets a node's data version (for wrap tests near `i32::MAX`).
    pub fn set_version(&self, path: &str, version: i32) -> Result<(), FaultError> {
        self.with_server(|server, _| server.set_version(path, version))
    }

    /// Sets the next sequential suffix under `path` (for wrap tests).
    pub fn set_child_sequence(&self, path: &str, next: i32) -> Result<(), FaultError> {
        self.with_server(|server, _| server.set_child_sequence(path, next))
    }

    /// Runs `f` on the server, then sends and closes what it asks for.
    fn with_server<R>(&self, f: impl FnOnce(&mut Server, Instant) -> R) -> R {
        let mut inner = self.shared.lock();
        let r = f(&mut inner.server, Instant::now());
        inner.flush();
        r
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.shared.lock().server.session_count()
    }

    /// Fault injection: answer resumes with a new session id (see
    /// [`Server::set_replace_on_resume`](crate::Server::set_replace_on_resume)).
    pub fn set_replace_on_resume(&self, on: bool) {
        self.shared.lock().server.set_replace_on_resume(on);
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut inner = self.shared.lock();
        for (_, s) in inner.streams.drain() {
            s.abort();
        }
        drop(inner);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let (Ok(writer), Ok(socket)) = (stream.try_clone(), stream.try_clone()) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let outgoing = Arc::new(Outgoing {
            state: Mutex::new(OutState::default()),
            ready: Condvar::new(),
            socket,
        });
        let conn = {
            let mut inner = shared.lock();
            let conn = inner.server.connection_opened(peer.ip());
            inner.streams.insert(conn, outgoing.clone());
            conn
        };
        let s = shared.clone();
        let spawned = thread::Builder::new()
            .name("zk-conn".into())
            .spawn(move || read(stream, conn, &s))
            .and_then(|_| {
                thread::Builder::new()
                    .name("zk-conn-write".into())
                    .spawn(move || write(writer, &outgoing))
            });
        if spawned.is_err() {
            let mut inner = shared.lock();
            if let Some(s) = inner.streams.remove(&conn) {
                s.abort();
            }
            inner.server.connection_closed(conn);
        }
    }
}

fn read(mut stream: TcpStream, conn: ConnId, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut inner = shared.lock();
                inner
                    .server
                    .handle_connection_input(conn, &buf[..n], Instant::now());
                inner.flush();
            }
        }
    }
    let mut inner = shared.lock();
    if let Some(s) = inner.streams.remove(&conn) {
        s.abort();
        inner.server.connection_closed(conn);
    }
    inner.flush();
}

/// Writes one connection's bytes, outside the server's mutex, until it is
/// closed (after its last bytes) or its socket fails.
fn write(mut stream: TcpStream, outgoing: &Outgoing) {
    // A peer that never reads cannot keep a closed connection open: its
    // writes fail after this and the socket is shut down.
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    loop {
        let (bytes, closing) = {
            let mut s = outgoing.lock();
            while s.bytes.is_empty() && !s.closing {
                s = outgoing
                    .ready
                    .wait(s)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            (std::mem::take(&mut s.bytes), s.closing)
        };
        if !bytes.is_empty() && stream.write_all(&bytes).is_err() {
            break;
        }
        if closing && outgoing.lock().bytes.is_empty() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn timer(shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        let wait = {
            let mut inner = shared.lock();
            let now = Instant::now();
            inner.server.handle_timeout(now);
            inner.flush();
            inner
                .server
                .poll_timeout()
                .map_or(Duration::from_millis(50), |at| {
                    at.saturating_duration_since(now)
                })
        };
        thread::sleep(wait.clamp(Duration::from_millis(1), Duration::from_millis(50)));
    }
}
