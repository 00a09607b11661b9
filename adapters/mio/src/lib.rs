//! The mio adapter for the kazoo ZooKeeper client: a ready driver thread,
//! or ZooKeeper sessions inside **your own** mio event loop.
//!
//! ```no_run
//! use mio::{Events, Poll, Token};
//! let mut poll = Poll::new()?;
//! let mut zk = kazoo_mio::Sessions::new(poll.registry(), Token(0))?;
//! let client = zk.add(kazoo::session::Config::new("127.0.0.1:2181")?, Token(1))?;
//! let created = client.create("/hello").data("world").send();
//! let mut events = Events::with_capacity(64);
//! loop {
//!     poll.poll(&mut events, zk.poll_timeout())?;
//!     for event in &events { zk.handle_event(event); } // your own tokens go elsewhere
//!     zk.handle_timeouts();
//!     # break;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Sessions`] holds any number of sessions on one thread (one socket and
//! one token each, plus one [`Waker`] token for them all); [`start`] runs one
//! on a thread of its own. Watch callbacks and listeners run on a callback
//! thread, never on the loop. Host names are resolved on every attempt by a
//! resolver thread the sessions share (a hanging resolver never stalls the
//! loop), and every address a name resolves to is tried in order.
//!
//! Never `.wait()` for a request on the loop's own thread: the loop is what
//! completes it. Check [`Pending::is_ready`](kazoo::client::Pending::is_ready)
//! each turn instead, or wait from another thread.
//!
//! Requests the loop's thread makes during a turn, between
//! [`Sessions::handle_event`] and [`Sessions::handle_timeouts`] (where the
//! example says "your own tokens go elsewhere"), are written together when
//! `handle_timeouts` runs: a burst of requests is one system call per
//! socket, not one each. Requests made at any other time, or from other
//! threads, are written at once.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub use kazoo::*;
/// The mio this crate is built with, for your own loop.
pub use mio;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;
use std::time::{Duration, Instant};

use kazoo::client::{ConnId, Driver, Io, OutBuf, Reply};
use kazoo::session::{Config, HostPort, IntoConfig};
use kazoo_std::{CallbackThread, DeadlineTimer, SHORT_READ_DRAINS};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

/// Sessions driven by a mio loop.
pub struct Sessions {
    /// One registry for every socket: a clone per session would cost a
    /// file descriptor each (10,000 sessions ran out of them).
    registry: Arc<Registry>,
    resolver: Sender<Resolve>,
    waker: Arc<Waker>,
    waker_token: Token,
    callbacks: CallbackThread,
    entries: HashMap<Token, Entry>,
    /// Sessions that asked the loop to look at them, from any thread
    /// (with the waker): only these are settled on a wake, not all.
    woken: Arc<Mutex<Vec<Token>>>,
    /// Sockets the loop's thread wrote to during this turn (see the
    /// module docs), flushed by `handle_timeouts`.
    turn: Arc<Turn>,
    /// The turn's sockets while `handle_timeouts` writes them (kept: no
    /// allocation per turn).
    flushing: Vec<Token>,
    /// Each session's next deadline, earliest first. An entry whose
    /// deadline is no longer the session's `scheduled` is stale and
    /// skipped: a turn costs O(log n) per due session, not O(n).
    timers: BinaryHeap<Reverse<(Instant, Token)>>,
    /// Wakes the poll at the earliest deadline in `timers`, with the
    /// waker's token (on Linux: see [`DeadlineTimer`]).
    timer: Option<DeadlineTimer>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("sessions", &self.entries.len())
            .finish_non_exhaustive()
    }
}

struct Entry {
    driver: Driver,
    socket: Arc<Mutex<Socket>>,
    /// The deadline this session has in `timers`: its own, or an earlier
    /// one it has moved on from (see `settle`).
    scheduled: Option<Instant>,
}

/// One session's socket, shared by its [`Io`] (called under the client's
/// lock) and the loop. Never held while calling the [`Driver`].
struct Socket {
    token: Token,
    registry: Arc<Registry>,
    waker: Arc<Waker>,
    woken: Arc<Mutex<Vec<Token>>>,
    resolver: Sender<Resolve>,
    /// The attempt under way (resolving, connecting or open).
    attempt: Option<ConnId>,
    /// Resolved addresses of the attempt not tried yet.
    addrs: VecDeque<SocketAddr>,
    stream: Option<(ConnId, TcpStream)>,
    /// Connect in progress: the first writable event settles it.
    connecting: bool,
    /// Bytes the socket would not take yet (bounded: backpressure).
    out: OutBuf,
    /// Outcomes to report to the driver from the loop: (conn, up).
    reports: Vec<(ConnId, bool)>,
    /// The turn of the `Sessions` this socket belongs to.
    turn: Arc<Turn>,
    /// Bytes wait for the end of the turn (this socket is in `turn`).
    deferred: bool,
}

/// The loop's turn: from `handle_event` to `handle_timeouts`, on the
/// thread that runs them; the sockets with requests held for its end.
#[derive(Default)]
struct Turn {
    /// [`thread_no`] of the thread in the turn; 0 between turns.
    owner: AtomicU64,
    deferred: Mutex<Vec<Token>>,
}

/// A deadline timer in the poll under `token`; none where there is no
/// timer file or it could not be registered (deadlines are then poll
/// timeouts). Its expiry is never read: re-setting it clears it.
fn deadline_timer(registry: &Registry, token: Token) -> Option<DeadlineTimer> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::fd::AsRawFd;
        let timer = DeadlineTimer::new();
        let fd = timer.fd()?.as_raw_fd();
        let mut source = mio::unix::SourceFd(&fd);
        registry
            .register(&mut source, token, mio::Interest::READABLE)
            .ok()?;
        Some(timer)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (registry, token);
        None
    }
}

/// A number for the calling thread (never 0), to tell whose turn it is.
fn thread_no() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static NO: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NO.with(|n| *n)
}

impl Turn {
    /// True on the thread in the turn, mid-turn.
    fn is_current(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == thread_no()
    }

    fn deferred(&self) -> MutexGuard<'_, Vec<Token>> {
        self.deferred.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn lock(socket: &Mutex<Socket>) -> MutexGuard<'_, Socket> {
    socket.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Socket {
    /// Asks the loop to look at this session (from any thread).
    fn wake_loop(&self) {
        self.woken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(self.token);
        let _ = self.waker.wake();
    }

    fn close(&mut self) {
        if let Some((_, mut s)) = self.stream.take() {
            let _ = self.registry.deregister(&mut s);
        }
        self.out.clear();
        self.connecting = false;
        self.attempt = None;
        self.addrs.clear();
    }

    /// Gives up the connection and has the loop tell the driver.
    fn fail(&mut self) {
        if let Some(conn) = self.attempt {
            self.reports.push((conn, false));
        }
        self.close();
        self.wake_loop();
    }

    /// Starts a non-blocking connect to the next address of the attempt;
    /// when none is left, the attempt failed.
    fn connect_next(&mut self) {
        let Some(conn) = self.attempt else {
            return;
        };
        if let Some((_, mut old)) = self.stream.take() {
            let _ = self.registry.deregister(&mut old);
        }
        while let Some(addr) = self.addrs.pop_front() {
            let Ok(mut stream) = TcpStream::connect(addr) else {
                continue;
            };
            let token = self.token;
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self.registry.register(&mut stream, token, interest).is_ok() {
                let _ = stream.set_nodelay(true);
                self.stream = Some((conn, stream));
                self.connecting = true;
                return;
            }
        }
        self.fail();
    }

    /// Writes what the socket takes; returns the connection to resume
    /// (`Driver::writable`, outside this lock) if the buffer had been full.
    fn flush(&mut self) -> Option<ConnId> {
        let (conn, s) = self.stream.as_mut()?;
        let conn = *conn;
        while !self.out.is_empty() {
            match s.write(self.out.chunk()) {
                Ok(n) => self.out.consume(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.fail();
                    return None;
                }
            }
        }
        self.out.take_blocked().then_some(conn)
    }
}

struct MioIo(Arc<Mutex<Socket>>);

impl Io for MioIo {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn connect(&mut self, host: &HostPort, conn: ConnId, _timeout: Duration) {
        let mut s = lock(&self.0);
        s.close();
        s.attempt = Some(conn);
        // Resolved off the loop; the session's connect timer bounds it.
        let ask = Resolve {
            socket: Arc::downgrade(&self.0),
            conn,
            host: host.clone(),
        };
        if s.resolver.send(ask).is_err() {
            s.fail();
        }
    }

    fn disconnect(&mut self) {
        let mut s = lock(&self.0);
        s.close();
        // The loop may be waiting for nothing else: let it notice a close.
        s.wake_loop();
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut s = lock(&self.0);
        s.out.push(bytes);
        if s.connecting {
            return; // written once the connect completes
        }
        if s.turn.is_current() {
            // The loop's own thread, mid-turn: written with the turn's
            // other requests by `handle_timeouts`.
            if !s.deferred {
                s.deferred = true;
                let token = s.token;
                s.turn.deferred().push(token);
            }
            return;
        }
        // Under the client's lock: nothing to resume, the session is
        // producing right now and sees the room it has.
        let _ = s.flush();
    }

    fn room(&self) -> usize {
        lock(&self.0).out.room()
    }

    fn buffered(&self) -> usize {
        lock(&self.0).out.held()
    }

    fn wake(&mut self) {
        lock(&self.0).wake_loop();
    }

    fn four_letter_word(&mut self, host: &HostPort, word: &'static str, reply: Reply<String>) {
        let host = host.clone();
        let spawned = thread::Builder::new()
            .name("kazoo-4lw".into())
            .spawn(move || {
                reply.send(
                    kazoo_std::four_letter_word(&host, word).map_err(|_| Error::ConnectionLoss),
                );
            });
        drop(spawned); // without a thread, the dropped reply answers Cancelled
    }
}

impl Sessions {
    /// Sessions on `registry`'s poll; `waker_token` is reserved for waking
    /// the loop when another thread moves a session's deadline, and (on
    /// Linux) when the earliest deadline is due.
    pub fn new(registry: &Registry, waker_token: Token) -> io::Result<Sessions> {
        Ok(Sessions {
            timer: deadline_timer(registry, waker_token),
            registry: Arc::new(registry.try_clone()?),
            resolver: spawn_resolver()?,
            waker: Arc::new(Waker::new(registry, waker_token)?),
            waker_token,
            callbacks: CallbackThread::spawn(),
            entries: HashMap::new(),
            woken: Arc::default(),
            turn: Arc::default(),
            flushing: Vec::new(),
            timers: BinaryHeap::new(),
            buf: vec![0; 64 * 1024],
        })
    }

    /// Starts a session whose socket uses `token` (unique in your poll);
    /// the client may be used from any thread. A token already used by a
    /// session here, or the waker's, is an `InvalidInput` error: two
    /// sessions on one token would leave one of them never driven.
    pub fn add(&mut self, config: Config, token: Token) -> io::Result<Client> {
        if token == self.waker_token || self.entries.contains_key(&token) {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("token {} is already in use", token.0),
            ));
        }
        let socket = Arc::new(Mutex::new(Socket {
            token,
            registry: self.registry.clone(),
            waker: self.waker.clone(),
            woken: self.woken.clone(),
            resolver: self.resolver.clone(),
            attempt: None,
            addrs: VecDeque::new(),
            stream: None,
            connecting: false,
            out: OutBuf::new(config.write_buffer_limit()),
            reports: Vec::new(),
            turn: self.turn.clone(),
            deferred: false,
        }));
        let (client, driver) = Client::new(config, MioIo(socket.clone()), self.callbacks.clone());
        let entry = Entry {
            driver,
            socket,
            scheduled: None,
        };
        self.entries.insert(token, entry);
        self.settle(token);
        self.arm_timer(Instant::now());
        Ok(client)
    }

    /// Handles one event from your poll; false if it was not for these
    /// sessions. Opens the loop's turn: requests this thread makes from
    /// now until [`handle_timeouts`](Self::handle_timeouts) go out
    /// together.
    pub fn handle_event(&mut self, event: &mio::event::Event) -> bool {
        self.turn.owner.store(thread_no(), Ordering::Relaxed);
        let token = event.token();
        if token == self.waker_token {
            let mut tokens =
                std::mem::take(&mut *self.woken.lock().unwrap_or_else(PoisonError::into_inner));
            tokens.sort_unstable();
            tokens.dedup();
            tokens.into_iter().for_each(|t| self.settle(t));
            return true;
        }
        let Some(entry) = self.entries.get(&token) else {
            return false;
        };
        let (driver, socket) = (entry.driver.clone(), entry.socket.clone());
        if event.is_writable() || event.is_error() {
            let mut resume = None;
            let up = {
                let mut s = lock(&socket);
                match (s.connecting, s.stream.as_ref()) {
                    (true, Some((conn, stream))) => {
                        let conn = *conn;
                        match (stream.take_error(), stream.peer_addr()) {
                            (Ok(None), Ok(_)) => {
                                s.connecting = false;
                                Some(conn)
                            }
                            // A spurious event: the connect is still going on.
                            (Ok(None), Err(e)) if e.kind() == ErrorKind::NotConnected => None,
                            // This address refused: try the next one.
                            _ => {
                                s.connect_next();
                                None
                            }
                        }
                    }
                    _ => {
                        resume = s.flush();
                        None
                    }
                }
            };
            if let Some(conn) = up {
                driver.connected(conn);
                resume = lock(&socket).flush();
            }
            if let Some(conn) = resume {
                driver.writable(conn);
            }
        }
        if event.is_readable() || event.is_read_closed() {
            self.read(&driver, &socket, event.is_read_closed() || event.is_error());
        }
        self.settle(token);
        true
    }

    /// Reads until the socket is drained, handing each chunk to the driver
    /// outside the socket's lock.
    ///
    /// Where the selector is edge-triggered (epoll, kqueue), a read that
    /// fills less than the buffer has drained the socket: data arriving
    /// later raises a new event, so the read that would only find
    /// `WouldBlock` is skipped. A close reported with the event is read
    /// to its end, as no later event would announce it.
    fn read(&mut self, driver: &Driver, socket: &Mutex<Socket>, closing: bool) {
        loop {
            let (conn, result) = {
                let mut s = lock(socket);
                if s.connecting {
                    return;
                }
                let Some((conn, stream)) = s.stream.as_mut() else {
                    return;
                };
                (*conn, stream.read(&mut self.buf))
            };
            match result {
                Ok(n) if n > 0 => {
                    driver.input(conn, &self.buf[..n]);
                    if SHORT_READ_DRAINS && n < self.buf.len() && !closing {
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                _ => {
                    // End of stream or an error: this connection is over
                    // (unless the session already moved to another one).
                    let mut s = lock(socket);
                    if s.stream.as_ref().is_some_and(|(c, _)| *c == conn) {
                        s.close();
                    }
                    drop(s);
                    driver.disconnected(conn);
                    return;
                }
            }
        }
    }

    /// Passes queued connect outcomes of one session to its driver, then
    /// forgets the session if it is closed, or files its next deadline.
    fn settle(&mut self, token: Token) {
        let Some(entry) = self.entries.get_mut(&token) else {
            return;
        };
        loop {
            let reports = std::mem::take(&mut lock(&entry.socket).reports);
            if reports.is_empty() {
                break;
            }
            for (conn, up) in reports {
                if up {
                    entry.driver.connected(conn);
                } else {
                    entry.driver.disconnected(conn);
                }
            }
        }
        if entry.driver.is_closed() {
            self.entries.remove(&token);
            return;
        }
        // A deadline that moved later keeps its earlier entry: the loop
        // wakes then, finds nothing due and files the new one. A busy
        // session's ping deadline moves with every write; pushing each
        // move would grow the heap by one entry per turn.
        match (entry.driver.deadline(), entry.scheduled) {
            (Some(at), Some(filed)) if filed <= at => {}
            (Some(at), _) => {
                entry.scheduled = Some(at);
                self.timers.push(Reverse((at, token)));
            }
            (None, _) => entry.scheduled = None,
        }
    }

    /// Writes the requests of the turn, fires the timers that are due and
    /// forgets closed sessions; call it after each poll (and after the
    /// turn's own work).
    pub fn handle_timeouts(&mut self) {
        self.end_turn();
        let now = Instant::now();
        while let Some(&Reverse((at, token))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.entries.get_mut(&token) else {
                continue; // closed and forgotten
            };
            if entry.scheduled != Some(at) {
                continue; // stale: the session's deadline moved
            }
            entry.scheduled = None;
            entry.driver.timeout();
            self.settle(token);
        }
        // Not `now`: firing many sessions may take a while, and the timer
        // is set relative to the instant given.
        self.arm_timer(Instant::now());
    }

    /// Sets the timer for the earliest live deadline, first dropping the
    /// stale entries before it (a deadline that moves later would
    /// otherwise wake the loop at each of its old values).
    fn arm_timer(&mut self, now: Instant) {
        while let Some(&Reverse((at, token))) = self.timers.peek() {
            if self
                .entries
                .get(&token)
                .is_some_and(|entry| entry.scheduled == Some(at))
            {
                if let Some(timer) = &mut self.timer {
                    timer.cover(at, now);
                }
                return;
            }
            self.timers.pop();
        }
    }

    /// Ends this thread's turn and writes what it held back.
    fn end_turn(&mut self) {
        self.turn.owner.store(0, Ordering::Relaxed);
        // Moved out (the list keeps its room), then walked outside its lock.
        let mut tokens = std::mem::take(&mut self.flushing);
        tokens.append(&mut self.turn.deferred());
        for token in tokens.drain(..) {
            let Some(entry) = self.entries.get(&token) else {
                continue; // closed and forgotten
            };
            let resume = {
                let mut s = lock(&entry.socket);
                s.deferred = false;
                s.flush()
            };
            if let Some(conn) = resume {
                entry.driver.writable(conn);
            }
            // A failed write queued a report for the driver.
            self.settle(token);
        }
        self.flushing = tokens;
    }

    /// When to poll again at the latest: at once while requests of the
    /// turn wait to be written, else by the nearest session deadline.
    /// `None` (no timeout) when nothing is due, or when the deadline will
    /// wake the poll by itself, as it does on Linux once
    /// [`handle_timeouts`](Self::handle_timeouts) has run. A loop with
    /// timeouts of its own takes the earlier of the two, reading `None`
    /// as "never" (not as "use mine as is" either way).
    ///
    /// ```
    /// # use std::time::Duration;
    /// fn earlier(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    ///     match (a, b) {
    ///         (Some(a), Some(b)) => Some(a.min(b)),
    ///         (a, b) => a.or(b),
    ///     }
    /// }
    /// assert_eq!(earlier(None, Some(Duration::from_secs(1))), Some(Duration::from_secs(1)));
    /// ```
    pub fn poll_timeout(&self) -> Option<Duration> {
        if !self.turn.deferred().is_empty() {
            return Some(Duration::ZERO);
        }
        let Reverse((next, _)) = self.timers.peek()?;
        let now = Instant::now();
        if self.timer.as_ref().is_some_and(|t| t.covers(*next, now)) {
            return None;
        }
        Some(next.saturating_duration_since(now))
    }

    /// The loop's waker, for wakes of your own from other threads: mio
    /// allows one waker per poll, and these sessions hold it. A wake shows
    /// up as an event with the waker's token, which
    /// [`handle_event`](Self::handle_event) takes (and returns true for).
    pub fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// Sessions not yet closed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when every session is closed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A name to resolve for a session's connection attempt.
struct Resolve {
    socket: Weak<Mutex<Socket>>,
    conn: ConnId,
    host: HostPort,
}

/// The resolver thread the sessions of one [`Sessions`] share: it ends when
/// they are dropped.
fn spawn_resolver() -> io::Result<Sender<Resolve>> {
    let (tx, rx) = mpsc::channel::<Resolve>();
    thread::Builder::new()
        .name("kazoo-mio-dns".into())
        .spawn(move || {
            for ask in rx {
                // An attempt given up while it waited here costs no lookup.
                let wanted = ask
                    .socket
                    .upgrade()
                    .is_some_and(|s| lock(&s).attempt == Some(ask.conn));
                if !wanted {
                    continue;
                }
                let addrs: VecDeque<SocketAddr> = (ask.host.host.as_str(), ask.host.port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .unwrap_or_default();
                let Some(socket) = ask.socket.upgrade() else {
                    continue;
                };
                let mut s = lock(&socket);
                if s.attempt == Some(ask.conn) && s.stream.is_none() {
                    s.addrs = addrs;
                    s.connect_next();
                    s.wake_loop();
                }
            }
        })?;
    Ok(tx)
}

/// A client that fails everything with `Closed`: what [`start`] returns if
/// no poll or thread could be made for it.
fn failed_client(config: Config) -> Client {
    let client = kazoo_std::start(config);
    drop(client.close());
    client
}

/// Runs one session on a thread of its own with a mio poll.
pub fn start(config: Config) -> Client {
    match spawn(config.clone()) {
        Ok(client) => client,
        Err(_) => failed_client(config),
    }
}

/// Connects on a thread of its own (see [`start`]) and waits for the
/// session, at most the config's `connect_timeout` (15 s by default, as
/// kazoo's `start`); `config` is a connect string, a [`Config`] or its
/// builder. On time-out the client is closed and this fails with
/// [`Error::Timeout`].
pub fn connect(config: impl IntoConfig) -> Result<Client, Error> {
    let config = config.into_config()?;
    let timeout = config.connect_timeout();
    start(config).connect_within(timeout).wait()
}

fn spawn(config: Config) -> io::Result<Client> {
    let mut poll = Poll::new()?;
    let mut sessions = Sessions::new(poll.registry(), Token(0))?;
    let client = sessions.add(config, Token(1))?;
    thread::Builder::new()
        .name("kazoo-mio".into())
        .spawn(move || {
            let mut events = Events::with_capacity(64);
            while !sessions.is_empty() {
                if poll.poll(&mut events, sessions.poll_timeout()).is_err() {
                    thread::sleep(Duration::from_millis(10));
                }
                for event in &events {
                    sessions.handle_event(event);
                }
                sessions.handle_timeouts();
            }
        })?;
    Ok(client)
}
