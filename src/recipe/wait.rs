//! Waiting inside a recipe: for a watch, a session state change, a
//! deadline or a cancellation, whichever comes first. The caller then
//! re-checks its condition from scratch (RECIPES.md §5): a wake-up is
//! only a hint that something may have changed.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::client::{Client, Pending, StateStream, WatchFuture};
use crate::session::WatchedEvent;

/// The instant `timeout` from now on the session's clock.
pub(crate) fn deadline_in(client: &Client, timeout: Duration) -> Instant {
    crate::session::deadline_after(client.inner().now(), timeout)
}

/// What ended a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The watch fired (or was dropped: its channel ended).
    Watch,
    /// The session changed state (or the state stream ended).
    State,
    /// The deadline passed.
    Deadline,
    /// The pause given to [`Waiter::pause`] ran out.
    Paused,
    /// Someone called `cancel`.
    Cancelled,
}

/// A flag that a waiting recipe call checks, and that wakes it when set.
#[derive(Default)]
pub(crate) struct Cancel {
    set: AtomicBool,
    /// The wakers of the waits listening now, by listener: a wait that
    /// ends takes its own out (a lock taken every second for a year must
    /// not keep a year of wakers).
    wakers: Mutex<Vec<(u64, Waker)>>,
    next_listener: AtomicU64,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("set", &self.is_set())
            .finish()
    }
}

impl Cancel {
    fn wakers(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Waker)>> {
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn cancel(&self) {
        self.set.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers());
        for (_, w) in wakers {
            w.wake();
        }
    }

    /// Clears the flag: a new acquire clears an earlier cancel, as kazoo's
    /// `Semaphore.acquire` does (kazoo's `Lock` fails the next acquire once
    /// instead).
    pub(crate) fn reset(&self) {
        self.set.store(false, Ordering::SeqCst);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// A listener for one wait; it stops listening when dropped.
    pub(crate) fn listen(self: &Arc<Self>) -> CancelListener {
        CancelListener {
            id: self.next_listener.fetch_add(1, Ordering::Relaxed),
            cancel: self.clone(),
        }
    }

    #[cfg(test)]
    fn listening(&self) -> usize {
        self.wakers().len()
    }
}

/// One wait's registration with a [`Cancel`].
pub(crate) struct CancelListener {
    id: u64,
    cancel: Arc<Cancel>,
}

impl CancelListener {
    fn is_set(&self) -> bool {
        self.cancel.is_set()
    }

    /// Ready once cancelled; else registers the waker (replacing this
    /// listener's earlier one).
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_set() {
            return Poll::Ready(());
        }
        let mut wakers = self.cancel.wakers();
        match wakers.iter_mut().find(|(id, _)| *id == self.id) {
            Some((_, w)) if w.will_wake(cx.waker()) => {}
            Some((_, w)) => *w = cx.waker().clone(),
            None => wakers.push((self.id, cx.waker().clone())),
        }
        drop(wakers);
        // Set between the check and the registration.
        if self.is_set() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for CancelListener {
    fn drop(&mut self) {
        self.cancel.wakers().retain(|(id, _)| *id != self.id);
    }
}

/// Everything a recipe's wait listens to besides its own watch.
pub(crate) struct Waiter {
    client: Client,
    states: StateStream,
    deadline: Option<Instant>,
    alarm: Option<Pending<()>>,
    cancel: Option<CancelListener>,
    fired: Option<WatchedEvent>,
}

impl Waiter {
    /// Subscribes to state changes now, so none is missed between a
    /// check and the wait that follows it.
    pub(crate) fn new(
        client: &Client,
        deadline: Option<Instant>,
        cancel: Option<Arc<Cancel>>,
    ) -> Waiter {
        Waiter {
            client: client.background(),
            states: client.states(),
            alarm: deadline.map(|at| client.sleep_until(at)),
            deadline,
            cancel: cancel.as_ref().map(Cancel::listen),
            fired: None,
        }
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.is_set())
    }

    /// Waits for `watch` (if any), a state change, the deadline or a
    /// cancellation. State changes queued since the last wait count.
    pub(crate) async fn wait(&mut self, watch: Option<WatchFuture>) -> Woken {
        let mut watches: Vec<WatchFuture> = watch.into_iter().collect();
        self.wait_or(&mut watches, None).await
    }

    /// [`wait`](Waiter::wait) for whichever of `watches` fires first.
    pub(crate) async fn wait_any(&mut self, mut watches: Vec<WatchFuture>) -> Woken {
        self.wait_or(&mut watches, None).await
    }

    /// [`wait`](Waiter::wait) for `watch`, keeping it armed if something
    /// else ends the wait. When it fires, its event is in
    /// [`fired`](Waiter::fired) (`None` if it was dropped unfired).
    pub(crate) async fn wait_on(&mut self, watch: &mut WatchFuture) -> Woken {
        self.wait_or(std::slice::from_mut(watch), None).await
    }

    /// Waits for `other`, a state change, the deadline or a cancellation:
    /// `Ok` with `other`'s output, or `Err` with what came first.
    pub(crate) async fn wait_with<T>(
        &mut self,
        other: impl Future<Output = T>,
    ) -> Result<T, Woken> {
        let mut other = std::pin::pin!(other);
        poll_fn(|cx| {
            if let Some(c) = &self.cancel {
                if c.poll(cx).is_ready() {
                    return Poll::Ready(Err(Woken::Cancelled));
                }
            }
            if let Poll::Ready(v) = other.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            if self.states.poll_recv(cx).is_ready() {
                return Poll::Ready(Err(Woken::State));
            }
            Poll::Pending
        })
        .await
    }

    /// The event of the watch that ended the last wait.
    pub(crate) fn fired(&mut self) -> Option<WatchedEvent> {
        self.fired.take()
    }

    /// Waits for a state change, the deadline or a cancellation, at most
    /// `pause` (a retry after an error that no state change may follow).
    pub(crate) async fn pause(&mut self, pause: Duration) -> Woken {
        let nap = self.client.sleep(pause);
        self.wait_or(&mut [], Some(nap)).await
    }

    /// Runs `request` unless the deadline passes or the call is cancelled
    /// first (`Err(Timeout)` / `Err(Cancelled)`): a request queued while
    /// the connection is down must not hold a timed wait past its end.
    pub(crate) async fn bounded<T>(
        &mut self,
        request: impl Future<Output = Result<T, crate::Error>>,
    ) -> Result<T, crate::Error> {
        let mut request = std::pin::pin!(request);
        poll_fn(|cx| {
            if let Poll::Ready(r) = request.as_mut().poll(cx) {
                return Poll::Ready(r);
            }
            if let Some(c) = &self.cancel {
                if c.poll(cx).is_ready() {
                    return Poll::Ready(Err(crate::Error::Cancelled));
                }
            }
            if let Some(a) = self.alarm.as_mut() {
                if Pin::new(a).poll(cx).is_ready() {
                    self.alarm = None;
                    return Poll::Ready(Err(crate::Error::Timeout));
                }
            }
            if self.alarm.is_none() && self.deadline.is_some() {
                return Poll::Ready(Err(crate::Error::Timeout));
            }
            Poll::Pending
        })
        .await
    }

    async fn wait_or(&mut self, watches: &mut [WatchFuture], nap: Option<Pending<()>>) -> Woken {
        let mut nap = nap;
        poll_fn(|cx| {
            if let Some(c) = &self.cancel {
                if c.poll(cx).is_ready() {
                    return Poll::Ready(Woken::Cancelled);
                }
            }
            if self.states.poll_recv(cx).is_ready() {
                return Poll::Ready(Woken::State);
            }
            for w in watches.iter_mut() {
                if let Poll::Ready(event) = Pin::new(w).poll(cx) {
                    self.fired = event;
                    return Poll::Ready(Woken::Watch);
                }
            }
            if let Some(n) = nap.as_mut() {
                if Pin::new(n).poll(cx).is_ready() {
                    return Poll::Ready(Woken::Paused);
                }
            }
            if let Some(a) = self.alarm.as_mut() {
                if Pin::new(a).poll(cx).is_ready() {
                    self.alarm = None;
                    return Poll::Ready(Woken::Deadline);
                }
            }
            if self.alarm.is_none() && self.deadline.is_some() {
                return Poll::Ready(Woken::Deadline);
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waker() -> Waker {
        struct Nothing;
        impl std::task::Wake for Nothing {
            fn wake(self: Arc<Self>) {}
        }
        Waker::from(Arc::new(Nothing))
    }

    /// Each wait of a recipe (every acquire of a lock) listens with a new
    /// waker; one that ended must not stay registered (found by the soak:
    /// a lock taken in a loop grew by 40 bytes per acquisition).
    #[test]
    fn a_wait_that_ended_leaves_no_waker_behind() {
        let cancel = Arc::new(Cancel::default());
        for _ in 0..100 {
            let listener = cancel.listen();
            let waker = waker();
            let mut cx = Context::from_waker(&waker);
            assert!(listener.poll(&mut cx).is_pending());
            assert!(listener.poll(&mut cx).is_pending(), "polled again");
            assert_eq!(cancel.listening(), 1);
        }
        assert_eq!(cancel.listening(), 0);
        // A cancel still reaches a wait in progress.
        let listener = cancel.listen();
        let waker = waker();
        assert!(listener.poll(&mut Context::from_waker(&waker)).is_pending());
        cancel.cancel();
        assert!(listener.poll(&mut Context::from_waker(&waker)).is_ready());
    }
}
