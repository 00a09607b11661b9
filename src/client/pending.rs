//! Futures that are also waitable from a plain thread.
//!
//! [`Pending`] is one request in flight: the session completes its slot and
//! it maps the raw [`Response`] to what the method promised. [`Task`] is any
//! boxed future (operations of several round trips, retries). Both are
//! `.await`able on any executor and [`Wait`]able from a thread.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use crate::proto::Response;
use crate::Error;

/// What the session answered for one request.
pub(crate) type Outcome = Result<Response, Error>;

/// Where a completion lands: filled once by the client layer, taken once by
/// the waiter.
pub(crate) struct Slot<T> {
    state: Mutex<SlotState<T>>,
    ready: Condvar,
}

struct SlotState<T> {
    outcome: Option<T>,
    /// Filled once, even after the outcome was taken.
    done: bool,
    waker: Option<Waker>,
    /// A thread sleeps on `ready`: only then does `fill` notify it (a
    /// condvar's notify is a system call even when nobody waits, and most
    /// slots are awaited or find their outcome in place).
    sleeping: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Slot<T>> {
        Arc::new(Slot {
            state: Mutex::new(SlotState {
                outcome: None,
                done: false,
                waker: None,
                sleeping: false,
            }),
            ready: Condvar::new(),
        })
    }

    /// Completes the slot (the first completion wins) and wakes the waiter.
    pub(crate) fn fill(&self, outcome: T) {
        let (waker, sleeping) = {
            let mut s = lock(&self.state);
            if s.done {
                return;
            }
            s.done = true;
            s.outcome = Some(outcome);
            (s.waker.take(), s.sleeping)
        };
        if sleeping {
            self.ready.notify_all();
        }
        if let Some(w) = waker {
            super::wake::wake(w);
        }
    }

    /// Clears a slot nobody else holds, for its next request.
    fn reset(&mut self) {
        let s = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        s.outcome = None;
        s.done = false;
        s.waker = None;
        s.sleeping = false;
    }

    #[cfg(test)]
    pub(crate) fn ready(outcome: T) -> Arc<Slot<T>> {
        let slot = Slot::new();
        slot.fill(outcome);
        slot
    }

    fn is_filled(&self) -> bool {
        lock(&self.state).done
    }

    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = lock(&self.state);
        match s.outcome.take() {
            Some(o) => Poll::Ready(o),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn wait_take(&self) -> T {
        let mut s = lock(&self.state);
        loop {
            if let Some(o) = s.outcome.take() {
                return o;
            }
            s.sleeping = true;
            s = self.ready.wait(s).unwrap_or_else(PoisonError::into_inner);
            s.sleeping = false;
        }
    }

    fn wait_take_timeout(&self, d: Duration) -> Option<T> {
        let mut s = lock(&self.state);
        s.sleeping = true;
        let (mut s, _) = self
            .ready
            .wait_timeout_while(s, d, |s| s.outcome.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        s.sleeping = false;
        s.outcome.take()
    }
}

/// How many emptied request slots a thread keeps for its next requests.
const SLOTS_KEPT: usize = 32;

thread_local! {
    /// Request slots let go of on this thread, cleared and ready: a
    /// request reuses one rather than allocating (a pipeline's slots come
    /// back as fast as they go out).
    static SPARE_SLOTS: std::cell::RefCell<Vec<Arc<Slot<Outcome>>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Slot<Outcome> {
    /// An empty slot for a request: one this thread let go of, or a new one.
    pub(crate) fn for_request() -> Arc<Slot<Outcome>> {
        SPARE_SLOTS
            .try_with(|spare| spare.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_else(Slot::new)
    }

    /// Keeps `slot` for a later request if this was its last holder (the
    /// session and every clone are done with it).
    fn recycle(slot: &mut Arc<Slot<Outcome>>) {
        let Some(only) = Arc::get_mut(slot) else {
            return;
        };
        only.reset();
        let kept = slot.clone();
        let _ = SPARE_SLOTS.try_with(|spare| {
            if let Ok(mut spare) = spare.try_borrow_mut() {
                if spare.len() < SLOTS_KEPT {
                    spare.push(kept);
                }
            }
        });
    }
}

/// A request in flight: `.await` it, or `.wait()` for it from a thread.
///
/// The request was submitted when the method returned; dropping this does
/// not cancel it (the reply is simply discarded).
#[must_use = "the request is sent either way; wait for it to see the result"]
pub struct Pending<T> {
    slot: Arc<Slot<Outcome>>,
    map: fn(Outcome) -> Result<T, Error>,
    /// Run when dropped before completing (a sleep cancels its alarm).
    on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

impl<T> Pending<T> {
    pub(crate) fn new(
        slot: Arc<Slot<Outcome>>,
        map: fn(Outcome) -> Result<T, Error>,
    ) -> Pending<T> {
        Pending {
            slot,
            map,
            on_drop: None,
            _t: PhantomData,
        }
    }

    /// Runs `f` if this is dropped before its result is in.
    pub(crate) fn on_drop(mut self, f: impl FnOnce() + Send + Sync + 'static) -> Pending<T> {
        self.on_drop = Some(Box::new(f));
        self
    }

    /// Blocks the calling thread until the result is in.
    pub fn wait(self) -> Result<T, Error> {
        (self.map)(self.slot.wait_take())
    }

    /// True once the result is in (`wait` will not block): for event loops
    /// that poll rather than block.
    pub fn is_ready(&self) -> bool {
        self.slot.is_filled()
    }

    /// Blocks at most `timeout`; [`Error::Timeout`] if the result is not in
    /// by then (the request itself goes on; the client stays usable).
    pub fn wait_timeout(self, timeout: Duration) -> Result<T, Error> {
        match self.slot.wait_take_timeout(timeout) {
            Some(o) => (self.map)(o),
            None => Err(Error::Timeout),
        }
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        if let Some(f) = self.on_drop.take() {
            if !self.slot.is_filled() {
                f();
            }
        }
        Slot::recycle(&mut self.slot);
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll_take(cx).map(self.map)
    }
}

/// The sending half of a one-off answer that an [`Io`](super::Io) gives
/// later (a four-letter word). Dropped unsent, it answers
/// [`Error::Cancelled`].
pub struct Reply<T> {
    slot: Arc<Slot<Result<T, Error>>>,
}

impl<T> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply").finish_non_exhaustive()
    }
}

impl<T> Reply<T> {
    /// A reply and the future that receives it.
    pub(crate) fn pair() -> (Reply<T>, ReplyFuture<T>) {
        let slot = Slot::new();
        (Reply { slot: slot.clone() }, ReplyFuture { slot })
    }

    /// Delivers the answer.
    pub fn send(self, answer: Result<T, Error>) {
        self.slot.fill(answer);
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        self.slot.fill(Err(Error::Cancelled));
    }
}

/// Receives a [`Reply`].
pub(crate) struct ReplyFuture<T> {
    slot: Arc<Slot<Result<T, Error>>>,
}

impl<T> Future for ReplyFuture<T> {
    type Output = Result<T, Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll_take(cx)
    }
}

/// An operation of several steps (a recursive delete, `ensure_path`, a
/// retried call): `.await` it, or `.wait()` for it from a thread.
///
/// Its first requests are sent when the method returns; the steps that
/// depend on their answers run while the task is awaited or waited for.
#[must_use = "later steps run only while the task is awaited or waited for"]
pub struct Task<T> {
    future: Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>,
    /// The result, once [`is_ready`](Task::is_ready) found it.
    output: Option<Result<T, Error>>,
}

// The output is never pinned (only the boxed future is), so a Task can
// move whatever `T` is.
impl<T> Unpin for Task<T> {}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task").finish_non_exhaustive()
    }
}

impl<T> Task<T> {
    pub(crate) fn new(future: impl Future<Output = Result<T, Error>> + Send + 'static) -> Task<T> {
        Task {
            future: Box::pin(future),
            output: None,
        }
    }

    /// Takes the task's next steps without blocking (sends what its
    /// answers so far allow) and says whether it has finished: for event
    /// loops that poll rather than block, as [`Pending::is_ready`]. Once it
    /// says `true`, `wait` and `.await` return at once. (Like any future,
    /// a task that has already yielded its result through `.await` must
    /// not be asked again.)
    pub fn is_ready(&mut self) -> bool {
        if self.output.is_none() {
            let mut cx = Context::from_waker(noop_waker());
            if let Poll::Ready(v) = self.future.as_mut().poll(&mut cx) {
                self.output = Some(v);
            }
        }
        self.output.is_some()
    }

    /// Runs the task on the calling thread until it finishes.
    pub fn wait(self) -> Result<T, Error> {
        match self.output {
            Some(v) => v,
            None => block_on(self.future),
        }
    }

    /// Runs the task on the calling thread for at most `timeout`;
    /// [`Error::Timeout`] if it has not finished (its requests go on).
    pub fn wait_timeout(self, timeout: Duration) -> Result<T, Error> {
        // The calling thread's own wait, like Condvar::wait_timeout: not the
        // session's clock, which stays outside the core.
        #[allow(clippy::disallowed_methods)]
        let deadline = crate::session::deadline_after(std::time::Instant::now(), timeout);
        if let Some(v) = self.output {
            return v;
        }
        let mut future = self.future;
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
            #[allow(clippy::disallowed_methods)]
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            thread::park_timeout(left);
        }
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(v) = self.output.take() {
            return Poll::Ready(v);
        }
        self.future.as_mut().poll(cx)
    }
}

/// A waker that does nothing (`Waker::noop` needs Rust 1.85).
fn noop_waker() -> &'static Waker {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    static NOOP: std::sync::OnceLock<Waker> = std::sync::OnceLock::new();
    NOOP.get_or_init(|| Waker::from(Arc::new(Noop)))
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls a future on the calling thread, parking between wake-ups.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(o: Outcome) -> Result<u8, Error> {
        o.map(|_| 7)
    }

    #[test]
    fn wait_and_await_see_the_same_result() {
        let slot = Slot::new();
        let p = Pending::new(slot.clone(), stat);
        let filler = thread::spawn(move || slot.fill(Ok(Response::Empty)));
        assert_eq!(p.wait(), Ok(7));
        filler.join().unwrap();
        let p = Pending::new(Slot::ready(Err(Error::NoNode)), stat);
        assert_eq!(block_on(p), Err(Error::NoNode));
    }

    /// `fill` notifies only a thread that sleeps: one that does must wake.
    #[test]
    fn a_sleeping_waiter_is_woken() {
        for timed in [false, true] {
            let slot = Slot::new();
            let p = Pending::new(slot.clone(), stat);
            let (tx, rx) = std::sync::mpsc::channel();
            let waiter = thread::spawn(move || {
                let got = if timed {
                    p.wait_timeout(Duration::from_secs(30))
                } else {
                    p.wait()
                };
                let _ = tx.send(got);
            });
            let mut spins = 0u32;
            while !lock(&slot.state).sleeping {
                spins += 1;
                assert!(spins < 20_000_000, "the waiter never slept");
                thread::yield_now();
            }
            slot.fill(Ok(Response::Empty));
            let got = rx.recv_timeout(Duration::from_secs(10));
            assert_eq!(got, Ok(Ok(7)), "woken (timed: {timed})");
            waiter.join().unwrap();
        }
    }

    /// A request's slot, let go of by every holder, serves this thread's
    /// next request, emptied; one the session still holds is never reused.
    #[test]
    fn a_slot_let_go_of_serves_the_next_request_clean() {
        let slot = Slot::for_request();
        let held = slot.clone(); // the session's copy
        let p = Pending::new(slot, stat);
        held.fill(Ok(Response::Empty));
        drop(held);
        let first = Arc::as_ptr(&p.slot);
        assert_eq!(p.wait(), Ok(7));
        let again = Slot::for_request();
        assert_eq!(Arc::as_ptr(&again), first, "reused");
        assert!(!again.is_filled(), "emptied");
        let p = Pending::new(again.clone(), stat);
        again.fill(Err(Error::NoNode));
        assert_eq!(p.wait(), Err(Error::NoNode), "a fresh completion lands");

        // Dropped while the session still holds it: not kept.
        let slot = Slot::for_request();
        let held = slot.clone();
        drop(Pending::new(slot, stat));
        assert_ne!(Arc::as_ptr(&Slot::for_request()), Arc::as_ptr(&held));
    }

    #[test]
    fn wait_timeout_leaves_the_request_alone() {
        let slot = Slot::new();
        let p = Pending::new(slot.clone(), stat);
        assert_eq!(
            p.wait_timeout(Duration::from_millis(10)),
            Err(Error::Timeout)
        );
        slot.fill(Ok(Response::Empty)); // arrives late: discarded, no panic
        slot.fill(Err(Error::Closed)); // a second completion is ignored
    }

    #[test]
    fn tasks_chain_pendings() {
        let slot = Slot::new();
        let p = Pending::new(slot.clone(), stat);
        let t = Task::new(async move { Ok(p.await? + 1) });
        thread::spawn(move || slot.fill(Ok(Response::Empty)));
        assert_eq!(t.wait(), Ok(8));
    }
}
