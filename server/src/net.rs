//! The server on real loopback TCP: an accept thread, a reader thread per
//! connection and a timer thread around one [`Server`] behind a mutex.

#![allow(clippy::disallowed_methods)] // the I/O shell owns the clock; the core takes `now`

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;

use crate::{ConnId, Server, ServerConfig};

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
    streams: HashMap<ConnId, TcpStream>,
    out: BytesMut,
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
                if let Some(s) = self.streams.get_mut(&conn) {
                    if s.write_all(&self.out).is_err() {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                }
            }
        }
        while let Some(conn) = self.server.poll_close() {
            if let Some(s) = self.streams.remove(&conn) {
                let _ = s.shutdown(Shutdown::Both);
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

    /// Expires a session at once, as its timeout would.
    pub fn expire_session(&self, session_id: i64) {
        let mut inner = self.shared.lock();
        inner.server.expire_session(session_id, Instant::now());
        inner.flush();
    }

    /// Fault injection: answer resumes with a new session id (see
    /// [`Server::set_replace_on_resume`](crate::Server::set_replace_on_resume)).
    pub fn set_replace_on_resume(&self, on: bool) {
        self.shared.lock().server.set_replace_on_resume(on);
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.shared.lock().server.session_count()
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut inner = self.shared.lock();
        for (_, s) in inner.streams.drain() {
            let _ = s.shutdown(Shutdown::Both);
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
        let Ok(writer) = stream.try_clone() else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = {
            let mut inner = shared.lock();
            let conn = inner.server.connection_opened(peer.ip());
            inner.streams.insert(conn, writer);
            conn
        };
        let s = shared.clone();
        let spawned = thread::Builder::new()
            .name("zk-conn".into())
            .spawn(move || read(stream, conn, &s));
        if spawned.is_err() {
            let mut inner = shared.lock();
            inner.streams.remove(&conn);
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
    if inner.streams.remove(&conn).is_some() {
        inner.server.connection_closed(conn);
    }
    inner.flush();
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
