//! The tokio adapter for the kazoo ZooKeeper client: a driver task and one
//! task per connection on the runtime you already have.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kazoo::Error> {
//! let client = kazoo_tokio::connect("127.0.0.1:2181/app").await?;
//! client.ensure_path("/jobs").await?;
//! let path = client.create("/jobs/job-").data("payload").sequential().send().await?;
//! let (data, _stat) = client.get(&path).send().await?;
//! assert_eq!(data.as_deref(), Some(&b"payload"[..]));
//! let changed = client.get_children("/jobs").send_watched().1;
//! client.delete(&path).send().await?;
//! println!("{:?}", changed.await);
//! client.close().await
//! # }
//! ```
//!
//! Works on the multi-thread and the current-thread runtime. In async code,
//! `.await` the client's futures: a blocking `.wait()` inside a task can
//! stall a current-thread runtime. Watch callbacks and listeners run on
//! tokio's blocking pool, in order, so they may `.wait()`. The runtime
//! drives the session: once it is shut down, nothing completes any more.
//! On Linux each session holds a timer file besides its socket (the
//! session's deadlines, without a tokio timer: see
//! [`kazoo_std::DeadlineTimer`]).
//!
//! On a current-thread runtime, run a busy request loop as a task of its
//! own (`tokio::spawn`) rather than as the future given to `block_on`:
//! tokio polls a woken `block_on` future only after one more poll of its
//! driver, a system call per wake-up (docs/performance.md measures it).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub use kazoo::*;

use std::io::ErrorKind;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kazoo::client::{ConnId, Dispatch, Driver, Io, Job, OutBuf, Reply};
use kazoo::session::{Config, HostPort, IntoConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

/// Connects on the current runtime and waits for the session, at most
/// the config's `connect_timeout` (15 s by default, as kazoo's `start`);
/// `config` is a connect string, a [`Config`] or its builder. On time-out
/// the client is closed and this fails with [`Error::Timeout`].
pub async fn connect(config: impl IntoConfig) -> Result<Client, Error> {
    let runtime = Handle::try_current().map_err(|_| Misuse::NoRuntime)?;
    let config = config.into_config()?;
    let timeout = config.connect_timeout();
    start(&runtime, config).connect_within(timeout).await
}

/// Starts a client on `runtime` and returns at once; requests made before
/// the session is up wait for it.
pub fn start(runtime: &Handle, config: Config) -> Client {
    let shared = Arc::new(Shared::new(config.write_buffer_limit()));
    let (jobs, queue) = mpsc::unbounded_channel();
    let io = TokioIo {
        shared: shared.clone(),
        runtime: runtime.clone(),
    };
    let (client, driver) = Client::new(config, io, Callbacks(jobs));
    runtime.spawn(run_callbacks(queue));
    runtime.spawn(drive(driver, shared, runtime.clone()));
    client
}

struct Shared {
    state: Mutex<State>,
    /// The deadline moved, a connection is wanted, or the session closed.
    wake: Notify,
    /// Bytes are waiting for the socket to take them.
    flush: Notify,
}

struct State {
    /// The connection the session wants now.
    wanted: Option<ConnId>,
    /// Its socket once open.
    stream: Option<Arc<TcpStream>>,
    /// A connection attempt for the driver task to start.
    connect: Option<(HostPort, ConnId, Duration)>,
    /// The task of the current connection.
    task: Option<JoinHandle<()>>,
    /// Bytes the socket would not take yet (bounded: backpressure).
    out: OutBuf,
}

impl Shared {
    fn new(write_limit: usize) -> Shared {
        Shared {
            state: Mutex::new(State {
                wanted: None,
                stream: None,
                connect: None,
                task: None,
                out: OutBuf::new(write_limit),
            }),
            wake: Notify::new(),
            flush: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct TokioIo {
    shared: Arc<Shared>,
    runtime: Handle,
}

impl Io for TokioIo {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn connect(&mut self, host: &HostPort, conn: ConnId, timeout: Duration) {
        let mut s = self.shared.lock();
        end_connection(&mut s);
        s.wanted = Some(conn);
        s.connect = Some((host.clone(), conn, timeout));
        self.shared.wake.notify_one();
    }

    fn disconnect(&mut self) {
        let mut s = self.shared.lock();
        end_connection(&mut s);
        s.wanted = None;
        s.connect = None;
        self.shared.wake.notify_one();
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut s = self.shared.lock();
        let State {
            stream: Some(stream),
            out,
            ..
        } = &mut *s
        else {
            return;
        };
        if Handle::try_current().is_ok() {
            // On the runtime: the connection task writes, once the task
            // that made this request yields, everything requested until
            // then in one system call (a pipelined burst is one write).
            let first = out.is_empty();
            out.push(bytes);
            if first {
                self.shared.flush.notify_one();
            }
            return;
        }
        // From a thread of its own: straight to the socket (waking the
        // connection task would cost a thread hop per request). What the
        // socket did not take, or a failure, goes to the connection task:
        // its flush meets the failure and reports the disconnect.
        if !matches!(out.send_or_push(bytes, |b| stream.try_write(b)), Ok(false)) {
            self.shared.flush.notify_one();
        }
    }

    fn room(&self) -> usize {
        self.shared.lock().out.room()
    }

    fn buffered(&self) -> usize {
        self.shared.lock().out.held()
    }

    fn wake(&mut self) {
        self.shared.wake.notify_one();
    }

    fn four_letter_word(&mut self, host: &HostPort, word: &'static str, reply: Reply<String>) {
        let host = host.clone();
        self.runtime.spawn(async move {
            let ask = async {
                let mut stream = TcpStream::connect((host.host.as_str(), host.port)).await?;
                stream.write_all(word.as_bytes()).await?;
                let mut answer = String::new();
                stream.read_to_string(&mut answer).await?;
                Ok::<_, std::io::Error>(answer)
            };
            let answer = tokio::time::timeout(Duration::from_secs(5), ask).await;
            reply.send(
                answer
                    .ok()
                    .and_then(Result::ok)
                    .ok_or(Error::ConnectionLoss),
            );
        });
    }
}

fn end_connection(s: &mut State) {
    if let Some(task) = s.task.take() {
        task.abort();
    }
    s.stream = None;
    s.out.clear();
}

/// The driver task: fires the session's timers and starts connection
/// attempts, until the session is closed.
async fn drive(driver: Driver, shared: Arc<Shared>, runtime: Handle) {
    let mut timer = Timer::new();
    loop {
        let deadline = driver.timeout();
        if driver.is_closed() {
            end_connection(&mut shared.lock());
            return;
        }
        let attempt = shared.lock().connect.take();
        if let Some((host, conn, timeout)) = attempt {
            let task = runtime.spawn(run_connection(
                host,
                conn,
                timeout,
                driver.clone(),
                shared.clone(),
            ));
            let mut s = shared.lock();
            if s.wanted == Some(conn) {
                s.task = Some(task);
            } else {
                task.abort();
            }
            continue;
        }
        tokio::select! {
            _ = timer.sleep_until(deadline) => {}
            _ = shared.wake.notified() => {}
        }
    }
}

/// The session's next deadline. On Linux a [`DeadlineTimer`] in the
/// runtime's poll, set again only when the deadline comes earlier: a tokio
/// timer would give every sleep of the runtime a timeout, which costs a
/// kernel timer per sleep (see [`DeadlineTimer`]).
///
/// [`DeadlineTimer`]: kazoo_std::DeadlineTimer
struct Timer {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    file: Option<tokio::io::unix::AsyncFd<TimerFile>>,
}

/// A timer with a file, and that file's number (for `AsyncFd`).
#[cfg(any(target_os = "linux", target_os = "android"))]
struct TimerFile {
    fd: std::os::fd::RawFd,
    timer: kazoo_std::DeadlineTimer,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl std::os::fd::AsRawFd for TimerFile {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd
    }
}

impl Timer {
    fn new() -> Timer {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::fd::AsRawFd;
            let timer = kazoo_std::DeadlineTimer::new();
            let file = timer.fd().map(|fd| fd.as_raw_fd()).and_then(|fd| {
                // `AsyncFd::register` is the unsafe spelling of this; it is
                // sound here as the `AsyncFd` owns the timer, which owns
                // the file and never changes it.
                #[allow(deprecated)]
                tokio::io::unix::AsyncFd::with_interest(
                    TimerFile { fd, timer },
                    tokio::io::Interest::READABLE,
                )
                .ok()
            });
            Timer { file }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        Timer {}
    }

    /// Returns at `deadline` (or early); never without one.
    async fn sleep_until(&mut self, deadline: Option<Instant>) {
        let Some(at) = deadline else {
            return std::future::pending().await;
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(file) = &mut self.file {
            let now = Instant::now();
            file.get_mut().timer.cover(at, now);
            // Not set (the call failed, or the deadline is due already):
            // tokio's timer below.
            while file.get_ref().timer.covers(at, now) {
                let Ok(mut ready) = file.readable_mut().await else {
                    break; // the runtime is going away
                };
                if ready.get_inner_mut().timer.fired() {
                    return;
                }
                // A report from before the timer was set again.
                ready.clear_ready();
            }
        }
        tokio::time::sleep_until(at.into()).await
    }
}

/// One connection: resolve the host now, connect, then read (and flush
/// what `write` could not hand over) until it ends.
async fn run_connection(
    host: HostPort,
    conn: ConnId,
    timeout: Duration,
    driver: Driver,
    shared: Arc<Shared>,
) {
    let open = async {
        let mut last = std::io::Error::from(ErrorKind::NotFound);
        for addr in tokio::net::lookup_host((host.host.as_str(), host.port)).await? {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    };
    let stream = match tokio::time::timeout(timeout, open).await {
        Ok(Ok(stream)) => Arc::new(stream),
        _ => {
            driver.disconnected(conn);
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    {
        let mut s = shared.lock();
        if s.wanted != Some(conn) {
            return; // the session moved on while we connected
        }
        s.stream = Some(stream.clone());
    }
    driver.connected(conn);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let pending = !shared.lock().out.is_empty();
        tokio::select! {
            ready = stream.readable() => {
                if ready.is_err() {
                    break;
                }
                match read_some(&stream, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        driver.input(conn, &buf[..n]);
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                    Err(_) => break,
                }
            }
            ready = stream.writable(), if pending => {
                match (ready, flush(&stream, &shared)) {
                    (Ok(()), Some(true)) => {
                        driver.writable(conn);
                    }
                    (Ok(()), Some(false)) => {}
                    _ => break,
                }
            }
            // Bytes were queued: write them now (what the socket will not
            // take waits for it to be writable, on the next turn).
            _ = shared.flush.notified(), if !pending => {
                match flush(&stream, &shared) {
                    Some(true) => {
                        driver.writable(conn);
                    }
                    Some(false) => {}
                    None => break,
                }
            }
        }
    }
    driver.disconnected(conn);
}

/// Reads what the socket holds. A read that fills less than `buf` has
/// drained it ([`SHORT_READ_DRAINS`]): tokio is told so, and waits for the
/// next event instead of letting the loop read again only to find nothing.
///
/// [`SHORT_READ_DRAINS`]: kazoo_std::SHORT_READ_DRAINS
fn read_some(stream: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    let read = stream.try_io(tokio::io::Interest::READABLE, || {
        got = stream.try_read(buf)?;
        if kazoo_std::SHORT_READ_DRAINS && 0 < got && got < buf.len() {
            // Clears the readiness (tokio keeps a reported close).
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(got)
    });
    match read {
        Err(e) if e.kind() == ErrorKind::WouldBlock && got > 0 => Ok(got),
        read => read,
    }
}

/// Writes what is buffered; `None` if the socket failed, else whether the
/// session held frames back and should be resumed (`Driver::writable`).
fn flush(stream: &Arc<TcpStream>, shared: &Shared) -> Option<bool> {
    let mut s = shared.lock();
    if !s
        .stream
        .as_ref()
        .is_some_and(|now| Arc::ptr_eq(now, stream))
    {
        // An old connection's task (aborted, not yet gone): the buffer is
        // the new connection's.
        return Some(false);
    }
    while !s.out.is_empty() {
        match stream.try_write(s.out.chunk()) {
            Ok(n) => s.out.consume(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(s.out.take_blocked())
}

/// Runs callbacks in order, each on the blocking pool (they may block).
struct Callbacks(mpsc::UnboundedSender<Job>);

impl Dispatch for Callbacks {
    fn dispatch(&self, job: Job) {
        let _ = self.0.send(job);
    }
}

async fn run_callbacks(mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = queue.recv().await {
        // A panicking callback only ends its own blocking task.
        let _ = tokio::task::spawn_blocking(job).await;
    }
}
