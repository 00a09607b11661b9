//! The handle users hold: kazoo's API as typed methods over a shared
//! [`Session`], for every adapter.
//!
//! A [`Client`] is an `Arc` of one [`Session`] behind a mutex plus the
//! completion slots, watchers and listeners around it. A method submits its
//! request **when it is called** and returns a future that is also waitable:
//! `.await` it on any executor or `.wait()` for it from a thread.
//!
//! The client does no I/O itself. An adapter (kazoo-std, kazoo-mio,
//! kazoo-tokio) builds it with [`Client::new`] from an [`Io`] (the socket
//! and the clock) and a [`Dispatch`] (where watch callbacks and listeners
//! run), and feeds the returned [`Driver`] with what its sockets and timers
//! report. Callbacks never run on a thread that holds the session, so a
//! callback may itself `.wait()` for another request.
//!
//! ```no_run
//! # fn demo(client: kazoo::client::Client) -> Result<(), kazoo::Error> {
//! let path = client.create("/app/job-").data("payload").sequential().make_parents().send().wait()?;
//! let (data, stat) = client.get(&path).send().wait()?;
//! assert_eq!(data.as_deref(), Some(&b"payload"[..])); // None: null data
//! client.set(&path, "done").version(stat.version).send().wait()?;
//! client.delete("/app").recursive().send().wait()?;
//! # Ok(()) }
//! ```

pub(crate) mod channel;
mod four_letter;
mod multi;
mod ops;
mod outbuf;
mod pending;
mod spawn;
mod trace;
mod wake;
mod watch;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::drive::{self, Transport};
use crate::proto::{DecodeError, KeeperState, OpCode, Request};
use crate::session::id_map::IdMap;
use crate::session::{Config, DisconnectReason, Event, HostPort, RequestId, Session, SessionState};
use crate::Error;

use channel::Channel;
pub use channel::{Overflowed, STREAM_CAPACITY};
pub use four_letter::{FourLetterWordError, ServerVersion, FOUR_LETTER_WORDS};
pub use multi::{MultiRead, ReadResult, Transaction, TxCheck, TxCreate, TxDelete, TxSet};
pub use ops::{
    AddWatchBuilder, AddWatchCallback, CreateBuilder, DeleteBuilder, ExistsBuilder, GetBuilder,
    GetChildrenBuilder, ReconfigBuilder, SetAclsBuilder, SetBuilder,
};
pub use outbuf::OutBuf;
pub(crate) use pending::{block_on, Outcome};
pub use pending::{Pending, Reply, Task};
use pending::{ReplyFuture, Slot};
use watch::{Target, Watcher};
pub use watch::{WatchCallback, WatchFuture, WatchStream};

/// The socket and clock of one client, implemented by an adapter.
///
/// Every method is called with the client's lock held: do not block in
/// them (open connections and read on other threads or tasks) and never
/// call back into the [`Client`] or [`Driver`] from them.
pub trait Io: Send + 'static {
    /// The current time (the session itself never reads a clock).
    fn now(&self) -> Instant;
    /// Open a connection to `host`, resolving its name now; report the
    /// outcome with [`Driver::connected`] or [`Driver::disconnected`] for
    /// `conn`, and the bytes it reads with [`Driver::input`]. Give up after
    /// `timeout` (the session also gives up on its own then).
    fn connect(&mut self, host: &HostPort, conn: ConnId, timeout: Duration);
    /// Close the current connection; do not report it.
    fn disconnect(&mut self);
    /// Write to the current connection, never blocking: hand the bytes to
    /// the socket if it takes them at once and nothing is queued ahead
    /// ([`OutBuf::send_or_push`]), and append the rest to a bounded buffer
    /// ([`OutBuf`]) that another thread, task or poll event drains. On
    /// failure, close the connection so that its reader reports
    /// [`Driver::disconnected`].
    fn write(&mut self, bytes: &[u8]);
    /// How many more bytes [`write`](Io::write) should be given now; the
    /// session holds its frames back at 0 and is resumed by
    /// [`Driver::writable`]. Unbounded by default.
    fn room(&self) -> usize {
        usize::MAX
    }
    /// Bytes written and not yet handed to the socket (diagnostics).
    fn buffered(&self) -> usize {
        0
    }
    /// The next deadline ([`Driver::deadline`]) moved earlier: the adapter's
    /// timer should look again.
    fn wake(&mut self);
    /// Ask `host` a four-letter word (`srvr`, `ruok`…) on a connection of
    /// its own and send the whole answer to `reply`.
    fn four_letter_word(&mut self, host: &HostPort, word: &'static str, reply: Reply<String>);
}

/// Runs watch callbacks and listeners away from the session lock, in the
/// order given (a callback thread, or a task).
pub trait Dispatch: Send + Sync + 'static {
    /// Run `job` soon, after the jobs dispatched before it.
    fn dispatch(&self, job: Job);
}

/// A callback invocation, ready to run.
pub type Job = Box<dyn FnOnce() + Send>;

/// Names one connection attempt, so that a late report from an old socket
/// is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

/// Identifies a listener, to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

/// A connection-state listener (kazoo's `add_listener`).
pub type Listener = Arc<dyn Fn(SessionState) + Send + Sync>;

/// The ZooKeeper client handle: cheap to clone, `Send + Sync`.
///
/// Dropping the last clone closes the session (without waiting); call
/// [`close`](Client::close) to wait for it. Watch callbacks and listeners
/// that hold a clone keep the session open until it is closed.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// `None` for the client's own background work, which must not keep
    /// the session open.
    _owner: Option<Arc<Owner>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// Closes the session when the last [`Client`] clone goes.
struct Owner(Arc<Inner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.step(|core, now| core.session.close(now));
    }
}

/// What an adapter calls: the client's side of the sockets and the timer.
///
/// Every method runs the session forward and returns the next deadline
/// (call [`timeout`](Driver::timeout) then, or earlier after
/// [`Io::wake`]).
#[derive(Clone)]
pub struct Driver {
    inner: Arc<Inner>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    core: Mutex<Core>,
    /// This, for background work the core starts (read-only probes).
    me: Weak<Inner>,
    /// Callbacks waiting to be handed to `dispatch`, in the order they were
    /// made (queued before the core lock is released).
    dispatching: Mutex<Dispatching>,
    dispatch: Box<dyn Dispatch>,
    /// Seed for retry jitter.
    pub(crate) seed: u64,
    /// Counts [`Inner::unique_id`] calls.
    uniques: std::sync::atomic::AtomicU64,
    /// The ACL of creates that name none (`Config::default_acl`).
    pub(crate) default_acl: Vec<crate::acl::Acl>,
    /// What [`Client::retry`] runs under (`Config::command_retry`).
    pub(crate) command_retry: crate::retry::RetryPolicy,
}

/// A request or alarm waiting for its outcome.
struct Waiting {
    slot: Arc<Slot<Outcome>>,
    /// For a request: when it was asked for, and what it is (an alarm is
    /// slow by design).
    request: Option<(Instant, OpCode)>,
}

/// Callbacks on their way to the adapter's [`Dispatch`].
#[derive(Default)]
struct Dispatching {
    queue: VecDeque<Job>,
    /// A thread is handing them over.
    draining: bool,
}

struct Core {
    session: Session,
    io: Box<dyn Io>,
    /// The connection the session is using now (0: none).
    conn: u64,
    last_conn: u64,
    slots: IdMap<Waiting>,
    /// The span every call into the core runs in (a new one per
    /// connection that succeeds).
    span: trace::SessionSpan,
    watchers: IdMap<Watcher>,
    listeners: Vec<(ListenerId, Listener)>,
    next_listener: u64,
    state_channels: Vec<Arc<StateChannel>>,
    closed: Vec<Reply<()>>,
    deadline: Option<Instant>,
    jobs: Vec<Job>,
    /// Watchers and listeners let go of, dropped after the lock is released:
    /// a callback may hold the last `Client`, whose drop takes the lock.
    released: Vec<Box<dyn std::any::Any + Send>>,
    /// The session ended for good: everything waiting has been told.
    finished: bool,
    /// The last few connection ends, for diagnostics.
    disconnects: VecDeque<(HostPort, DisconnectReason)>,
    /// `isro` probes asked for, awaited once the lock is released.
    probes: Vec<(HostPort, ReplyFuture<String>)>,
    /// Per-request timeouts: the alarm for each request, and back.
    deadlines: IdMap<RequestId>,
    deadline_of: IdMap<RequestId>,
    /// Requests that just timed out, let go of after the events are read.
    timed_out: Vec<RequestId>,
}

/// How many connection ends [`Client::recent_disconnects`] remembers.
const DISCONNECTS_KEPT: usize = 16;

/// The session's commands, turned into [`Io`] calls with connection ids.
struct Shim<'a> {
    io: &'a mut dyn Io,
    conn: &'a mut u64,
    last_conn: &'a mut u64,
    connect_timeout: Duration,
    probes: &'a mut Vec<(HostPort, ReplyFuture<String>)>,
}

impl Transport for Shim<'_> {
    fn connect(&mut self, host: &HostPort) {
        *self.last_conn += 1;
        *self.conn = *self.last_conn;
        trace::debug!(host = %host, conn = *self.conn, "connecting");
        self.io
            .connect(host, ConnId(*self.conn), self.connect_timeout);
    }
    fn disconnect(&mut self) {
        *self.conn = 0;
        self.io.disconnect();
    }
    fn write(&mut self, bytes: &[u8]) {
        self.io.write(bytes);
    }
    fn room(&self) -> usize {
        self.io.room()
    }
    fn probe(&mut self, host: &HostPort) {
        let (reply, answer) = Reply::pair();
        self.io.four_letter_word(host, "isro", reply);
        self.probes.push((host.clone(), answer));
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    /// Runs `f` on the core, then the session until it has nothing more to
    /// do, then the callbacks that produced (outside the lock).
    ///
    /// Wakers filled under the lock are woken after it is released, and
    /// callbacks are handed over in order by one thread at a time, never
    /// under a lock: a `Dispatch` that runs them inline may trigger more
    /// callbacks (they queue behind) or block on other requests.
    fn step<R>(&self, f: impl FnOnce(&mut Core, Instant) -> R) -> R {
        let deferred = wake::Deferred::start();
        let mut core = lock(&self.core);
        let span = core.span.clone();
        let _entered = span.enter();
        let now = core.io.now();
        let r = f(&mut core, now);
        core.run(now);
        let released = std::mem::take(&mut core.released);
        let probes = std::mem::take(&mut core.probes);
        let drain = !core.jobs.is_empty() && {
            let mut d = lock(&self.dispatching);
            d.queue.extend(core.jobs.drain(..));
            !std::mem::replace(&mut d.draining, true)
        };
        drop(core);
        drop(deferred);
        if drain {
            self.drain_jobs();
        }
        drop(released);
        for (host, answer) in probes {
            self.await_probe(host, answer);
        }
        r
    }

    /// Hands the answer to a read-only session's `isro` probe back to the
    /// session, in the background.
    fn await_probe(&self, host: HostPort, answer: ReplyFuture<String>) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let weak = self.me.clone();
        spawn::spawn(&me, async move {
            let read_write = answer.await.is_ok_and(|a| a.trim() == "rw");
            if let Some(inner) = weak.upgrade() {
                inner.step(|core, now| core.session.handle_probe(&host, read_write, now));
            }
        });
    }

    /// Hands queued callbacks to `dispatch` until none is left; only the
    /// thread that set `draining` runs this.
    fn drain_jobs(&self) {
        /// Lets another thread drain if a `Dispatch` unwinds mid-way.
        struct Reset<'a>(&'a Mutex<Dispatching>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    lock(self.0).draining = false;
                }
            }
        }
        let _reset = Reset(&self.dispatching);
        loop {
            let job = {
                let mut d = lock(&self.dispatching);
                match d.queue.pop_front() {
                    Some(job) => job,
                    None => {
                        d.draining = false;
                        return;
                    }
                }
            };
            self.dispatch.dispatch(job);
        }
    }

    /// Hands `job` to the dispatcher, after the callbacks already queued.
    pub(crate) fn dispatch_job(&self, job: Job) {
        let drain = {
            let mut d = lock(&self.dispatching);
            d.queue.push_back(job);
            !std::mem::replace(&mut d.draining, true)
        };
        if drain {
            self.drain_jobs();
        }
    }

    /// Submits a request; its completion lands in the returned slot.
    pub(crate) fn submit(&self, request: Request, watcher: Option<Watcher>) -> Arc<Slot<Outcome>> {
        self.submit_with_id(request, watcher).0
    }

    /// [`submit`](Inner::submit), also returning the request's id (which
    /// names the watch it leaves).
    pub(crate) fn submit_with_id(
        &self,
        request: Request,
        watcher: Option<Watcher>,
    ) -> (Arc<Slot<Outcome>>, RequestId) {
        let slot = Slot::for_request();
        let s = slot.clone();
        let id = self.step(move |core, now| {
            let op = request.op_code();
            let id = core.session.submit(request, now);
            if let Some(timeout) = core.session.config().request_timeout() {
                let alarm = core
                    .session
                    .alarm(crate::session::deadline_after(now, timeout));
                core.deadlines.insert(alarm, id);
                core.deadline_of.insert(id, alarm);
            }
            let waiting = Waiting {
                slot: s,
                request: Some((now, op)),
            };
            core.slots.insert(id, waiting);
            if let Some(w) = watcher {
                core.watchers.insert(id, w);
            }
            id
        });
        (slot, id)
    }

    /// Nobody listens to the watch left by `watcher` any more: forget it
    /// here and in the session (which removes it on the server when no
    /// other watcher needs it).
    pub(crate) fn abandon_watcher(&self, watcher: RequestId) {
        self.step(|core, now| {
            core.release_watcher(watcher);
            core.session.remove_watcher(watcher, now);
        });
    }

    pub(crate) fn now(&self) -> Instant {
        lock(&self.core).io.now()
    }

    /// 128 bits unique to this call: the session's random seed, its id
    /// and a counter, mixed. Recipes name their nodes with it (kazoo's
    /// uuid4), so no two attempts of any two clients share a name even
    /// when a test fixes the seed.
    pub(crate) fn unique_id(&self) -> u128 {
        let n = self
            .uniques
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let session = lock(&self.core).session.session().0 as u64;
        let hi = crate::session::mix(self.seed ^ crate::session::mix(session));
        let lo = crate::session::mix(hi ^ crate::session::mix(n.wrapping_add(session)));
        (u128::from(hi) << 64) | u128::from(lo)
    }
}

impl Core {
    fn run(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.session.handle_timeout(now);
        }
        let mut deadline = self.pump(now);
        if !self.timed_out.is_empty() {
            // Letting go of them may queue a removeWatches: pump again.
            self.let_go_of_timed_out(now);
            deadline = self.pump(now);
        }
        if self.session.is_closed() && !self.finished {
            self.finish();
            // The adapter's threads or tasks may sleep until an old
            // deadline: tell them now that there is nothing left to drive.
            self.io.wake();
        }
        let earlier = match (deadline, self.deadline) {
            (Some(new), Some(old)) => new < old,
            (Some(_), None) => true,
            _ => false,
        };
        self.deadline = deadline;
        if earlier {
            self.io.wake();
        }
    }

    /// Runs the session's commands through the adapter and handles the
    /// events they produced; returns the session's next deadline.
    fn pump(&mut self, now: Instant) -> Option<Instant> {
        let mut shim = Shim {
            io: &mut *self.io,
            conn: &mut self.conn,
            last_conn: &mut self.last_conn,
            connect_timeout: self.session.connect_timeout(),
            probes: &mut self.probes,
        };
        let deadline = drive::pump(&mut self.session, now, &mut shim);
        while let Some(event) = self.session.poll_event() {
            self.on_event(event, now);
        }
        deadline
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Response { id, result } => {
                if let Some(request) = self.deadlines.remove(&id) {
                    // A request's own timeout ran out (`Ok`), or the session
                    // ended (`Err`: the request fails with that by itself).
                    self.deadline_of.remove(&request);
                    if result.is_ok() {
                        if let Some(waiting) = self.slots.remove(&request) {
                            waiting.slot.fill(Err(Error::RequestTimeout));
                            self.timed_out.push(request);
                        }
                    }
                    return;
                }
                if let Some(alarm) = self.deadline_of.remove(&id) {
                    self.deadlines.remove(&alarm);
                    self.session.cancel_alarm(alarm);
                }
                if let Some(watcher) = self.watchers.get(&id) {
                    let kept = match &result {
                        Ok(_) => true,
                        Err(Error::NoNode) => watcher.survives_no_node,
                        Err(_) => false,
                    };
                    if !kept {
                        self.release_watcher(id);
                    }
                }
                if let Some(waiting) = self.slots.remove(&id) {
                    if let Some((asked, op)) = waiting.request {
                        self.tell_if_slow(op, now.saturating_duration_since(asked), &result);
                    }
                    waiting.slot.fill(result);
                }
            }
            Event::Watch { watcher, event } => {
                let Some(w) = self.watchers.get(&watcher) else {
                    return;
                };
                let mut ends = w.ends_with(&event);
                match &w.target {
                    Target::Callback(cb) => {
                        let cb = cb.clone();
                        self.jobs.push(Box::new(move || cb(event)));
                    }
                    // Nobody holds the stream or future any more: stop
                    // collecting events for it.
                    Target::Channel(c) if Arc::strong_count(c) == 1 => ends = true,
                    Target::Channel(c) => c.push(Ok(event)),
                }
                if ends {
                    self.release_watcher(watcher);
                }
            }
            Event::State { state, .. } => {
                trace::info!(
                    session_id = format_args!("{:#x}", state.session_id()),
                    state = ?state,
                    "session state changed"
                );
                match state {
                    SessionState::Connected {
                        session_id,
                        new_session,
                    } => {
                        self.span =
                            trace::SessionSpan::connected(session_id, self.session.current_host());
                        if !new_session {
                            self.tell_replayed();
                        }
                    }
                    SessionState::ReadOnly { session_id } => {
                        self.span =
                            trace::SessionSpan::connected(session_id, self.session.current_host());
                    }
                    _ => {}
                }
                for (_, listener) in &self.listeners {
                    let listener = listener.clone();
                    self.jobs.push(Box::new(move || listener(state)));
                }
                self.state_channels.retain(|c| Arc::strong_count(c) > 1);
                for c in &self.state_channels {
                    c.push(Ok(state));
                }
            }
            Event::Disconnected { host, reason } => {
                trace::info!(host = %host, reason = ?reason, "connection ended");
                if self.disconnects.len() == DISCONNECTS_KEPT {
                    self.disconnects.pop_front();
                }
                self.disconnects.push_back((host, reason));
            }
        }
    }
}

impl Core {
    /// What a resumed session sent again before anything else.
    fn tell_replayed(&self) {
        #[cfg(feature = "tracing")]
        {
            let replay = self.session.stats().last_replay;
            trace::info!(
                credentials = replay.credentials,
                watches = replay.watches,
                batches = replay.batches,
                "session resumed, its credentials and watches replayed"
            );
        }
    }

    /// A request the server answered later than a ping interval (a third
    /// of the session timeout) after it was asked for: worth a warning,
    /// since a healthy server answers a ping well within it. Outcomes the
    /// client made itself (a lost connection, an expired session, a
    /// timeout, a closed client) say nothing about the server's speed and
    /// are not reported: an outage would otherwise warn once per request.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    fn tell_if_slow(&self, op: OpCode, took: Duration, result: &Outcome) {
        let answered = match result {
            Ok(_) => true,
            Err(
                Error::ConnectionLoss
                | Error::SessionExpired
                | Error::RequestTimeout
                | Error::OperationTimeout,
            ) => false,
            Err(e) => e.code().is_some(),
        };
        if answered && took >= self.session.config().session_timeout() / 3 {
            trace::warning!(
                op = ?op,
                took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
                "slow request"
            );
        }
    }

    /// Requests whose own timeout ran out: one not sent yet is taken back
    /// (so a retry cannot make it run twice), and the watch one asked for
    /// is let go, here and on the server, as after `ConnectionLoss`.
    fn let_go_of_timed_out(&mut self, now: Instant) {
        for id in std::mem::take(&mut self.timed_out) {
            self.session.cancel_queued(id);
            if self.watchers.contains_key(&id) {
                self.release_watcher(id);
                self.session.remove_watcher(id, now);
            }
        }
    }

    fn remove_listener(&mut self, id: ListenerId) -> bool {
        match self.listeners.iter().position(|(l, _)| *l == id) {
            Some(i) => {
                let (_, listener) = self.listeners.remove(i);
                self.released.push(Box::new(listener));
                true
            }
            None => false,
        }
    }

    fn release_watcher(&mut self, id: RequestId) {
        if let Some(w) = self.watchers.remove(&id) {
            w.end();
            self.released.push(Box::new(w));
        }
    }

    /// The session is over for good (closed, or authentication failed):
    /// tell everyone still waiting, and let go of every callback.
    fn finish(&mut self) {
        self.finished = true;
        for reply in self.closed.drain(..) {
            reply.send(Ok(()));
        }
        for c in self.state_channels.drain(..) {
            c.close();
        }
        let ids: Vec<RequestId> = self.watchers.keys().copied().collect();
        for id in ids {
            self.release_watcher(id);
        }
        for (_, l) in self.listeners.drain(..) {
            self.released.push(Box::new(l));
        }
    }
}

impl Client {
    /// Builds a client and the [`Driver`] its adapter feeds. The session
    /// starts connecting at once (the first [`Io::connect`] call happens
    /// before this returns).
    pub fn new(config: Config, io: impl Io, dispatch: impl Dispatch) -> (Client, Driver) {
        let now = io.now();
        let default_acl = config.default_acl().to_vec();
        let command_retry = config.command_retry().clone();
        let session = Session::new(config, now);
        let seed = session.rng_seed();
        let inner = Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            core: Mutex::new(Core {
                session,
                io: Box::new(io),
                conn: 0,
                last_conn: 0,
                slots: IdMap::default(),
                span: trace::SessionSpan::new(),
                watchers: IdMap::default(),
                listeners: Vec::new(),
                next_listener: 0,
                state_channels: Vec::new(),
                closed: Vec::new(),
                deadline: None,
                jobs: Vec::new(),
                released: Vec::new(),
                finished: false,
                disconnects: VecDeque::new(),
                probes: Vec::new(),
                deadlines: IdMap::default(),
                deadline_of: IdMap::default(),
                timed_out: Vec::new(),
            }),
            dispatching: Mutex::new(Dispatching::default()),
            dispatch: Box::new(dispatch),
            seed,
            uniques: std::sync::atomic::AtomicU64::new(0),
            default_acl,
            command_retry,
        });
        inner.step(|_, _| ());
        let client = Client {
            _owner: Some(Arc::new(Owner(inner.clone()))),
            inner: inner.clone(),
        };
        (client, Driver { inner })
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// A handle for background work and callbacks the client itself
    /// starts: it works like this one but does not keep the session open
    /// (when the user's last handle goes, the session closes and the work
    /// sees `Closed`).
    pub(crate) fn background(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            _owner: None,
        }
    }

    /// Runs `future` in the background, polled on the adapter's callback
    /// thread or task whenever it is woken (no runtime needed).
    pub(crate) fn spawn(&self, future: impl std::future::Future<Output = ()> + Send + 'static) {
        spawn::spawn(&self.inner, future);
    }

    pub(crate) fn inner_arc(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// True once the session is closed for good.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.inner.core).session.is_closed()
    }

    /// The session's current state; `None` before the first connection.
    pub fn state(&self) -> Option<SessionState> {
        lock(&self.inner.core).session.state()
    }

    /// The session id (0 before the first connection), as ZooKeeper shows
    /// it in `ephemeral_owner`.
    pub fn session_id(&self) -> i64 {
        lock(&self.inner.core).session.session().0
    }

    /// The session id and password (kazoo's `client_id`): what another
    /// connection needs to resume this session.
    pub fn client_id(&self) -> (i64, crate::Secret) {
        let core = lock(&self.inner.core);
        let (id, passwd) = core.session.session();
        (id, passwd.clone())
    }

    /// The server the session uses (or last used).
    pub fn current_host(&self) -> Option<HostPort> {
        lock(&self.inner.core).session.current_host().cloned()
    }

    /// The last connection ends (up to 16, oldest first), with the server
    /// and why: a refused handshake, garbage from the server, a timeout…
    pub fn recent_disconnects(&self) -> Vec<(HostPort, DisconnectReason)> {
        lock(&self.inner.core).disconnects.iter().cloned().collect()
    }

    /// Gives the session up on the client's side (see
    /// [`Session::abandon_session`]): `Lost`, then a new session, while the
    /// server keeps the old one until it expires. For tests of what a
    /// partitioned client goes through.
    pub fn abandon_session(&self) {
        self.inner
            .step(|core, now| core.session.abandon_session(now));
    }

    /// The session's counters (frames, bytes, pings, reconnects, pending,
    /// bytes the adapter still holds for the socket).
    pub fn stats(&self) -> crate::session::SessionStats {
        let core = lock(&self.inner.core);
        let mut stats = core.session.stats();
        stats.write_buffered = core.io.buffered();
        stats
    }

    /// Connects to these servers from now on (kazoo's `set_hosts`, with
    /// the Java client's `updateServerList` behaviour):
    /// `"host:port,host:port"`, with the client's own chroot or none. The
    /// session and everything it holds stay; a connection to a server
    /// still on the list is kept, one to a server taken off it moves to
    /// the new list at once (kazoo waits for the next reconnect).
    ///
    /// ```no_run
    /// # fn f(client: &kazoo::Client) -> Result<(), kazoo::Error> {
    /// client.set_hosts("zk4:2181,zk5:2181,zk6:2181")?;
    /// # Ok(()) }
    /// ```
    pub fn set_hosts(&self, hosts: &str) -> Result<(), Error> {
        let (hosts, chroot) = crate::session::parse_connect_string(hosts)?;
        self.inner.step(|core, now| {
            if chroot.as_str().is_some() && &chroot != core.session.config().chroot() {
                return Err(crate::ConfigError::ChrootChange.into());
            }
            core.session.set_hosts(hosts, now).map_err(Error::from)
        })
    }

    /// True while connected, read/write or read-only (kazoo's
    /// `connected`): reads can be answered now. See
    /// [`wait_connected`](Client::wait_connected) to wait for it.
    pub fn is_connected(&self) -> bool {
        is_up(self.state())
    }

    /// The state in ZooKeeper's low-level terms (kazoo's `client_state`,
    /// in ZooKeeper's own names): `Disconnected` before the first
    /// connection and while suspended, where kazoo says `CLOSED` and
    /// `CONNECTING`.
    pub fn client_state(&self) -> KeeperState {
        self.state()
            .map_or(KeeperState::Disconnected, |s| s.keeper_state())
    }

    /// The newest zxid this session has seen (0 before any): what the
    /// session sends on reconnecting so that it never reads older data.
    pub fn last_zxid(&self) -> i64 {
        lock(&self.inner.core).session.last_zxid()
    }

    /// Completes once the session is connected (read/write, or read-only
    /// if the config allows it); fails if the session closed or
    /// authentication failed first. Use `.wait_timeout(d)` to bound it.
    pub fn wait_connected(&self) -> Task<()> {
        let mut states = self.states();
        let inner = self.inner.clone();
        Task::new(async move {
            let current = lock(&inner.core).session.state();
            if is_up(current) {
                return Ok(());
            }
            while let Some(state) = states.next().await {
                // After an overflow, the state now is what counts.
                let state = state.ok().or_else(|| lock(&inner.core).session.state());
                if is_up(state) {
                    return Ok(());
                }
                if matches!(state, Some(SessionState::Closed { .. })) {
                    return Err(Error::Closed);
                }
            }
            // The stream ended: the session is over (closed, or auth failed).
            let why = lock(&inner.core).session.terminal_error().cloned();
            Err(why.unwrap_or(Error::Closed))
        })
    }

    /// Waits at most `timeout` (on the session's clock) for the first
    /// connection, then hands the client back (kazoo's `start(timeout)`):
    /// what every adapter's `connect` does. On time-out the client is
    /// closed and this fails with [`Error::Timeout`]; a session that
    /// cannot go on (authentication refused) fails at once with its error.
    pub fn connect_within(self, timeout: Duration) -> Task<Client> {
        let mut up = self.wait_connected();
        let mut alarm = self.sleep(timeout);
        Task::new(async move {
            let outcome = std::future::poll_fn(|cx| {
                if let Poll::Ready(result) = Pin::new(&mut up).poll(cx) {
                    return Poll::Ready(result);
                }
                // An alarm that fails tells why the session ended
                // (AuthFailed, Closed): report that, not a time-out.
                Pin::new(&mut alarm)
                    .poll(cx)
                    .map(|r| Err(r.err().unwrap_or(Error::Timeout)))
            })
            .await;
            match outcome {
                Ok(()) => Ok(self),
                Err(e) => {
                    drop(self.close());
                    Err(e)
                }
            }
        })
    }

    /// Calls `listener` with every state change, in order, on the
    /// adapter's callback thread (kazoo's `add_listener`).
    pub fn add_listener(
        &self,
        listener: impl Fn(SessionState) + Send + Sync + 'static,
    ) -> ListenerId {
        self.inner.step(|core, _| {
            core.next_listener += 1;
            let id = ListenerId(core.next_listener);
            core.listeners.push((id, Arc::new(listener)));
            id
        })
    }

    /// A listener that says when it is done (kazoo's listener returning
    /// `True`): called with every state change while it returns `true`;
    /// the first `false` removes it and it is not called again, even for
    /// changes already on their way to the callback thread.
    ///
    /// ```no_run
    /// # fn f(client: &kazoo::Client) {
    /// use kazoo::session::SessionState;
    /// // Hears states until the first reconnection, then goes away.
    /// client.add_listener_while(|state| !matches!(state, SessionState::Connected { .. }));
    /// # }
    /// ```
    pub fn add_listener_while(
        &self,
        listener: impl Fn(SessionState) -> bool + Send + Sync + 'static,
    ) -> ListenerId {
        let weak = self.inner.me.clone();
        self.inner.step(move |core, _| {
            core.next_listener += 1;
            let id = ListenerId(core.next_listener);
            let done = AtomicBool::new(false);
            let once_done = move |state| {
                if done.load(Ordering::Acquire) {
                    return;
                }
                if !listener(state) {
                    done.store(true, Ordering::Release);
                    if let Some(inner) = weak.upgrade() {
                        inner.step(|core, _| core.remove_listener(id));
                    }
                }
            };
            core.listeners.push((id, Arc::new(once_done)));
            id
        })
    }

    /// Stops calling a listener; false if it was not registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.inner.step(|core, _| core.remove_listener(id))
    }

    /// Every state change from now on, as a stream (ends after `Closed`).
    pub fn states(&self) -> StateStream {
        let channel = Channel::bounded(STREAM_CAPACITY, || Err(Overflowed));
        let c = channel.clone();
        self.inner.step(move |core, _| {
            if core.session.is_closed() {
                c.close();
            } else {
                // Forget the streams dropped since the last state change,
                // which may never come on a steady connection.
                core.state_channels.retain(|c| Arc::strong_count(c) > 1);
                core.state_channels.push(c);
            }
        });
        StateStream { channel }
    }

    /// Completes after `duration`, on the session's timers: how retry and
    /// recipes wait without a runtime or a sleeping thread.
    pub fn sleep(&self, duration: Duration) -> Pending<()> {
        let now = self.inner.now();
        self.sleep_until(crate::session::deadline_after(now, duration))
    }

    /// Completes once the session's clock passes `at`.
    /// Dropping the returned future before it completes cancels the alarm.
    pub fn sleep_until(&self, at: Instant) -> Pending<()> {
        let slot = Slot::new();
        let s = slot.clone();
        let id = self.inner.step(move |core, _| {
            let id = core.session.alarm(at);
            let waiting = Waiting {
                slot: s,
                request: None,
            };
            core.slots.insert(id, waiting);
            id
        });
        let inner = Arc::downgrade(&self.inner);
        Pending::new(slot, |o| o.map(drop)).on_drop(move || {
            if let Some(inner) = inner.upgrade() {
                inner.step(|core, _| {
                    core.session.cancel_alarm(id);
                    core.slots.remove(&id);
                });
            }
        })
    }

    /// Closes the session: the server deletes its ephemerals at once.
    /// Every request still pending completes (with `Closed` if it got no
    /// answer); the returned future completes when the session is closed.
    pub fn close(&self) -> Task<()> {
        let (reply, pending) = Reply::pair();
        self.inner.step(move |core, now| {
            if core.session.is_closed() {
                reply.send(Ok(()));
            } else {
                core.closed.push(reply);
                core.session.close(now);
            }
        });
        Task::new(pending)
    }
}

fn is_up(state: Option<SessionState>) -> bool {
    matches!(
        state,
        Some(SessionState::Connected { .. } | SessionState::ReadOnly { .. })
    )
}

/// State changes as a stream; see [`Client::states`].
///
/// A [`futures_core::Stream`] for async code; from a thread,
/// [`recv`](StateStream::recv) or [`blocking_iter`](StateStream::blocking_iter).
/// It holds at most [`STREAM_CAPACITY`] changes a reader has not taken;
/// past that it keeps the oldest and yields `Err(Overflowed)` where it
/// dropped some: ask [`Client::state`] for the state now.
pub struct StateStream {
    channel: Arc<StateChannel>,
}

/// What a [`StateStream`] reads from.
type StateChannel = Channel<Result<SessionState, Overflowed>>;

impl fmt::Debug for StateStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStream").finish_non_exhaustive()
    }
}

impl StateStream {
    /// The next state change, awaited (`None` after `Closed`).
    pub async fn next(&mut self) -> Option<Result<SessionState, Overflowed>> {
        channel::Recv(&self.channel).await
    }

    /// Polls for the next state change (`Ready(None)` once ended).
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<SessionState, Overflowed>>> {
        Pin::new(&mut channel::Recv(&self.channel)).poll(cx)
    }

    /// The next state change, blocking the thread.
    pub fn recv(&self) -> Option<Result<SessionState, Overflowed>> {
        self.channel.recv()
    }

    /// A state change already received, if any.
    pub fn try_recv(&self) -> Option<Result<SessionState, Overflowed>> {
        self.channel.try_recv()
    }

    /// The next state change, waiting at most `timeout`.
    pub fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<Result<SessionState, Overflowed>>, Error> {
        self.channel
            .recv_timeout(timeout)
            .map_err(|()| Error::Timeout)
    }

    /// The changes as an iterator that blocks the thread for each one: for
    /// threads only (in async code it would stall the executor; use the
    /// `Stream`).
    pub fn blocking_iter(&self) -> impl Iterator<Item = Result<SessionState, Overflowed>> + '_ {
        std::iter::from_fn(|| self.channel.recv())
    }
}

impl futures_core::Stream for StateStream {
    type Item = Result<SessionState, Overflowed>;
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        self.poll_recv(cx)
    }
}

impl Driver {
    /// The connection `conn` is open.
    pub fn connected(&self, conn: ConnId) -> Option<Instant> {
        self.inner.step(|core, now| {
            if core.conn == conn.0 {
                core.session.handle_connected(now);
            }
        });
        self.deadline()
    }

    /// The connection `conn` failed or was closed by the other side.
    pub fn disconnected(&self, conn: ConnId) -> Option<Instant> {
        self.inner.step(|core, now| {
            if core.conn == conn.0 {
                core.conn = 0;
                core.session.handle_disconnected(now);
            }
        });
        self.deadline()
    }

    /// Connection `conn` has room for more bytes again (its [`OutBuf`]
    /// drained below the limit): the session sends what it held back.
    /// A report from an old connection is harmless: the session only
    /// produces what the current connection has room for.
    pub fn writable(&self, conn: ConnId) -> Option<Instant> {
        let _ = conn;
        self.inner.step(|_, _| ());
        self.deadline()
    }

    /// Bytes read from connection `conn`.
    pub fn input(&self, conn: ConnId, bytes: &[u8]) -> Option<Instant> {
        self.inner.step(|core, now| {
            if core.conn == conn.0 {
                core.session.handle_input(bytes, now);
            }
        });
        self.deadline()
    }

    /// Fires whatever is due; returns the next deadline.
    pub fn timeout(&self) -> Option<Instant> {
        self.inner.step(|_, _| ());
        self.deadline()
    }

    /// When [`timeout`](Driver::timeout) should next be called.
    pub fn deadline(&self) -> Option<Instant> {
        lock(&self.inner.core).deadline
    }

    /// True once the session is closed for good: the adapter may stop.
    pub fn is_closed(&self) -> bool {
        lock(&self.inner.core).session.is_closed()
    }
}

/// Shared by the operation builders.
pub(crate) fn no_body(outcome: Outcome) -> Result<(), Error> {
    outcome.map(drop)
}

/// A reply body of the wrong kind (the codec decodes by opcode, so only a
/// bug could cause it; still an error, not a panic).
pub(crate) fn unexpected(expected: &'static str) -> Error {
    Error::Malformed(DecodeError::UnexpectedResponse(expected))
}

#[cfg(test)]
mod tests;
