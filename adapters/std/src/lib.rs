//! The std adapter for the kazoo ZooKeeper client: plain threads and
//! `std::net`, no runtime.
//!
//! ```no_run
//! let client = kazoo_std::connect("127.0.0.1:2181/app")?;
//! client.wait_connected().wait_timeout(std::time::Duration::from_secs(10))?;
//! client.ensure_path("/jobs").wait()?;
//! let path = client.create("/jobs/job-").data("payload").sequential().send().wait()?;
//! let (data, _stat) = client.get(&path).send().wait()?;
//! assert_eq!(data.as_deref(), Some(&b"payload"[..]));
//! client.close().wait()?;
//! # Ok::<(), kazoo::Error>(())
//! ```
//!
//! Each client runs a driver thread (the session's timers and connection
//! attempts), a reader and a writer thread per open connection, and a
//! callback thread where watch callbacks run in order, as in kazoo's
//! threading handler; state listeners run there too (kazoo calls them on
//! its connection thread). The thread that makes a request writes it
//! to the socket itself when the socket takes it without blocking (no
//! hand-off, no wake); what it would not take goes to a bounded buffer
//! that the writer thread writes, never under the client's lock.
//! Everything else (reconnects, timers, watches, replay, backpressure)
//! is the core's.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub use kazoo::*;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use kazoo::client::{ConnId, Dispatch, Driver, Io, Job, OutBuf, Reply};
use kazoo::session::{Config, HostPort, IntoConfig};

mod readiness;
mod timer;
pub use readiness::SHORT_READ_DRAINS;
pub use timer::DeadlineTimer;

/// Connects and waits for the session, at most the config's
/// `connect_timeout` (15 s by default, as kazoo's `start`): `config` is a
/// connect string (`"host:port,host:port/chroot"`), a [`Config`] or its
/// builder. On time-out the client is closed and this fails with
/// [`Error::Timeout`].
pub fn connect(config: impl IntoConfig) -> Result<Client, Error> {
    let config = config.into_config()?;
    let timeout = config.connect_timeout();
    start(config).connect_within(timeout).wait()
}

/// Starts a client and returns at once; requests made before the session
/// is up wait for it.
pub fn start(config: Config) -> Client {
    let wiring = Arc::new(Wiring::new(config.write_buffer_limit()));
    let callbacks = CallbackThread::spawn();
    let (client, driver) = Client::new(
        config,
        StdIo {
            wiring: wiring.clone(),
        },
        callbacks,
    );
    let spawned = thread::Builder::new()
        .name("kazoo-driver".into())
        .spawn(move || drive(driver, wiring));
    if spawned.is_err() {
        // No thread, no session: fail every request rather than hang.
        drop(client.close());
    }
    client
}

/// What the driver thread and the connection threads share with the [`Io`].
struct Wiring {
    state: Mutex<WiringState>,
    /// For the driver thread: a deadline moved, an attempt is wanted, or
    /// the client closed.
    changed: Condvar,
    /// For the writer thread: bytes to write, or its connection is over.
    outgoing: Condvar,
}

struct WiringState {
    /// The connection the session wants now.
    wanted: Option<ConnId>,
    /// Its socket once open (a clone; the reader thread owns the other).
    stream: Option<TcpStream>,
    /// Bytes for the socket, drained by the writer thread.
    out: OutBuf,
    /// A connection attempt for the driver thread to start.
    connect: Option<(HostPort, ConnId, Duration)>,
    /// The deadline moved or the connection closed: look again.
    woken: bool,
    /// Writer threads asleep on `outgoing` (an old connection's may still
    /// be on its way out): only then does a write need to wake one (a wake
    /// is a system call, and most writes find the writer busy).
    writers_waiting: usize,
    /// The reader's buffer, kept between connections: a reconnect does not
    /// allocate (and later free, from another thread) 64 KiB again.
    read_buf: Option<Vec<u8>>,
}

/// How much one read takes from the socket at most.
const READ_BUF: usize = 64 * 1024;

impl Wiring {
    fn new(write_limit: usize) -> Wiring {
        Wiring {
            state: Mutex::new(WiringState {
                wanted: None,
                stream: None,
                out: OutBuf::new(write_limit),
                connect: None,
                woken: false,
                writers_waiting: 0,
                read_buf: None,
            }),
            changed: Condvar::new(),
            outgoing: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, WiringState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the current connection: its threads see it and stop.
    fn end_connection(&self, w: &mut WiringState) {
        if let Some(old) = w.stream.take() {
            let _ = old.shutdown(Shutdown::Both);
        }
        w.out.clear();
        self.outgoing.notify_all();
    }
}

struct StdIo {
    wiring: Arc<Wiring>,
}

impl Io for StdIo {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn connect(&mut self, host: &HostPort, conn: ConnId, timeout: Duration) {
        let mut w = self.wiring.lock();
        self.wiring.end_connection(&mut w);
        w.wanted = Some(conn);
        w.connect = Some((host.clone(), conn, timeout));
        self.wiring.changed.notify_all();
    }

    fn disconnect(&mut self) {
        let mut w = self.wiring.lock();
        w.wanted = None;
        w.connect = None;
        self.wiring.end_connection(&mut w);
        w.woken = true;
        self.wiring.changed.notify_all();
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut w = self.wiring.lock();
        let WiringState {
            stream: Some(stream),
            out,
            writers_waiting,
            ..
        } = &mut *w
        else {
            return;
        };
        // Straight to the socket while it keeps up; the writer thread
        // writes what it would not take without blocking.
        match out.send_or_push(bytes, |b| send_now(stream, b)) {
            Ok(false) => {}
            Ok(true) => {
                if *writers_waiting > 0 {
                    self.wiring.outgoing.notify_all();
                }
            }
            // The reader sees the socket fail and reports it.
            Err(_) => drop(stream.shutdown(Shutdown::Both)),
        }
    }

    fn room(&self) -> usize {
        self.wiring.lock().out.room()
    }

    fn buffered(&self) -> usize {
        self.wiring.lock().out.held()
    }

    fn wake(&mut self) {
        self.wiring.lock().woken = true;
        self.wiring.changed.notify_all();
    }

    fn four_letter_word(&mut self, host: &HostPort, word: &'static str, reply: Reply<String>) {
        let host = host.clone();
        let spawned = thread::Builder::new()
            .name("kazoo-4lw".into())
            .spawn(move || {
                reply.send(four_letter_word(&host, word).map_err(|_| Error::ConnectionLoss));
            });
        // If no thread could start, the dropped reply answers Cancelled.
        drop(spawned);
    }
}

/// The driver thread: fires the session's timers and starts connection
/// attempts, until the session is closed.
fn drive(driver: Driver, wiring: Arc<Wiring>) {
    loop {
        let deadline = driver.timeout();
        if driver.is_closed() {
            break;
        }
        let mut w = wiring.lock();
        while !w.woken && w.connect.is_none() {
            let wait = match deadline {
                Some(at) => at.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(60),
            };
            if wait.is_zero() {
                break;
            }
            w = wiring
                .changed
                .wait_timeout(w, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        w.woken = false;
        let attempt = w.connect.take();
        drop(w);
        if let Some((host, conn, timeout)) = attempt {
            let (d, wg) = (driver.clone(), wiring.clone());
            let spawned = thread::Builder::new()
                .name("kazoo-conn".into())
                .spawn(move || run_connection(&host, conn, timeout, &d, &wg));
            if spawned.is_err() {
                driver.disconnected(conn);
            }
        }
    }
}

/// One connection: resolve, connect, then read until it ends.
fn run_connection(
    host: &HostPort,
    conn: ConnId,
    timeout: Duration,
    driver: &Driver,
    wiring: &Arc<Wiring>,
) {
    let Some(stream) = open(host, timeout) else {
        driver.disconnected(conn);
        return;
    };
    let _ = stream.set_nodelay(true);
    let (Ok(writer), Ok(handle)) = (stream.try_clone(), stream.try_clone()) else {
        driver.disconnected(conn);
        return;
    };
    {
        let mut w = wiring.lock();
        if w.wanted != Some(conn) {
            return; // the session moved on while we connected
        }
        w.stream = Some(handle);
    }
    let (d, wg) = (driver.clone(), wiring.clone());
    let spawned = thread::Builder::new()
        .name("kazoo-writer".into())
        .spawn(move || run_writer(writer, conn, &d, &wg));
    if spawned.is_err() {
        driver.disconnected(conn);
        return;
    }
    driver.connected(conn);
    let mut reader = stream;
    let kept = wiring.lock().read_buf.take();
    let mut buf = kept.unwrap_or_else(|| vec![0u8; READ_BUF]);
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                driver.input(conn, &buf[..n]);
            }
        }
    }
    // The connection is over whoever ended it: its writer must see that
    // (the session reports no Disconnect for a connection the peer closed).
    {
        let mut w = wiring.lock();
        if w.wanted == Some(conn) {
            w.wanted = None;
            wiring.end_connection(&mut w);
        }
        w.read_buf.get_or_insert(buf);
    }
    driver.disconnected(conn);
}

/// Writes what [`Io::write`] buffered, outside every lock, until the
/// connection is over. A failed write shuts the socket down; its reader
/// then reports the disconnect.
fn run_writer(mut stream: TcpStream, conn: ConnId, driver: &Driver, wiring: &Wiring) {
    loop {
        let bytes = {
            let mut w = wiring.lock();
            loop {
                if w.wanted != Some(conn) || w.stream.is_none() {
                    return;
                }
                if !w.out.is_empty() {
                    break w.out.take();
                }
                w.writers_waiting += 1;
                w = wiring
                    .outgoing
                    .wait(w)
                    .unwrap_or_else(PoisonError::into_inner);
                w.writers_waiting -= 1;
            }
        };
        if stream.write_all(&bytes).is_err() {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let resume = {
            let mut w = wiring.lock();
            // A newer connection's buffer is not this writer's to account.
            w.wanted == Some(conn) && {
                w.out.written(bytes);
                w.out.take_blocked()
            }
        };
        if resume {
            driver.writable(conn);
        }
    }
}

/// Writes what the socket takes now, without blocking (the socket itself
/// stays blocking for the reader and writer threads).
#[cfg(unix)]
fn send_now(stream: &TcpStream, bytes: &[u8]) -> std::io::Result<usize> {
    socket2::SockRef::from(stream).send_with_flags(bytes, libc::MSG_DONTWAIT | NO_SIGNAL)
}

/// No SIGPIPE from a reset peer, as std's own writes pass (where `send`
/// has no such flag, std sets `SO_NOSIGPIPE` on the socket instead).
#[rustfmt::skip]
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd", target_os = "netbsd", target_os = "openbsd", target_os = "dragonfly"))]
const NO_SIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
#[rustfmt::skip]
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android", target_os = "freebsd", target_os = "netbsd", target_os = "openbsd", target_os = "dragonfly"))))]
const NO_SIGNAL: libc::c_int = 0;

/// Without a non-blocking send, every write goes to the writer thread.
#[cfg(not(unix))]
fn send_now(_: &TcpStream, _: &[u8]) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::WouldBlock.into())
}

/// Resolves `host` now (DNS may have changed) and tries each address
/// until one answers or `timeout` is used up.
fn open(host: &HostPort, timeout: Duration) -> Option<TcpStream> {
    let now = Instant::now();
    let deadline = now
        .checked_add(timeout)
        .unwrap_or(now + Duration::from_secs(86_400));
    let addrs = (host.host.as_str(), host.port).to_socket_addrs().ok()?;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if let Ok(stream) = TcpStream::connect_timeout(&addr, left) {
            return Some(stream);
        }
    }
    None
}

/// Sends a four-letter word (`srvr`, `ruok`…) on a connection of its own
/// and reads the whole answer (blocking, 5 s at most per step).
pub fn four_letter_word(host: &HostPort, word: &str) -> std::io::Result<String> {
    let mut stream = open(host, Duration::from_secs(5)).ok_or(std::io::ErrorKind::NotConnected)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(word.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Runs watch callbacks and listeners in order on one thread of their own,
/// as kazoo's threading handler runs watch callbacks: a [`Dispatch`] for any adapter whose
/// callbacks must not run on its I/O thread (kazoo-mio uses it too).
/// Clones share the thread.
#[derive(Debug, Clone)]
pub struct CallbackThread(Sender<Job>);

impl Dispatch for CallbackThread {
    fn dispatch(&self, job: Job) {
        // The thread outlives every client clone; if it could not start,
        // callbacks are dropped rather than run on the session's thread.
        let _ = self.0.send(job);
    }
}

impl CallbackThread {
    /// Starts the thread; it ends when the client that owns this is gone.
    pub fn spawn() -> CallbackThread {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = thread::Builder::new()
            .name("kazoo-callbacks".into())
            .spawn(move || {
                for job in rx {
                    // A panicking callback must not stop the ones after it.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            });
        drop(spawned);
        CallbackThread(tx)
    }
}
