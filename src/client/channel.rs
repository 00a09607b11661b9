//! A small multi-producer queue that a thread can block on and a task can
//! await: watch streams, one-shot watch futures, state streams.
//!
//! A bounded one keeps the oldest items: when full it queues one marker
//! (the [`Overflowed`] item its owner chose) and drops everything after
//! it until the reader has drained the queue, marker included. The reader
//! sees every kept item in order, then the marker where the gap is.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

pub(crate) struct Channel<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
    waker: Option<Waker>,
    /// Items held at most (`usize::MAX`: unbounded).
    capacity: usize,
    /// What a bounded channel queues where it starts dropping.
    marker: Option<fn() -> T>,
    /// The marker is the last item queued; nothing is taken until the
    /// reader gets past it.
    dropping: bool,
    /// Threads asleep on `ready`: only they need a notify (a system call
    /// even when nobody waits; most readers await, or find items queued).
    sleepers: usize,
}

/// Events were dropped because the reader fell behind by more than a
/// stream holds ([`STREAM_CAPACITY`]): the events before this marker are
/// all there, some after it are not. Read again what the stream follows
/// (the node, the state), then go on with the events after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stream overflowed and dropped events: read the current state again")]
pub struct Overflowed;

/// How many events a [`WatchStream`](super::WatchStream) or
/// [`StateStream`](super::StateStream) holds for a reader that has not
/// taken them yet; beyond it, [`Overflowed`].
pub const STREAM_CAPACITY: usize = 4096;

impl<T> State<T> {
    fn pop(&mut self) -> Option<T> {
        let item = self.items.pop_front();
        if self.items.is_empty() {
            // The marker, if any, was the last item: the reader is past it.
            self.dropping = false;
        }
        item
    }
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Arc<Channel<T>> {
        Self::with_capacity(usize::MAX, None)
    }

    /// Holds at most `capacity` items, then `marker()` (see the module).
    pub(crate) fn bounded(capacity: usize, marker: fn() -> T) -> Arc<Channel<T>> {
        Self::with_capacity(capacity, Some(marker))
    }

    fn with_capacity(capacity: usize, marker: Option<fn() -> T>) -> Arc<Channel<T>> {
        Arc::new(Channel {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                waker: None,
                capacity,
                marker,
                dropping: false,
                sleepers: 0,
            }),
            ready: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self, mut s: MutexGuard<'_, State<T>>) {
        let waker = s.waker.take();
        let sleepers = s.sleepers;
        drop(s);
        if sleepers > 0 {
            self.ready.notify_all();
        }
        if let Some(w) = waker {
            super::wake::wake(w);
        }
    }

    pub(crate) fn push(&self, item: T) {
        let mut s = self.lock();
        if s.closed || s.dropping {
            return;
        }
        if s.items.len() < s.capacity {
            s.items.push_back(item);
        } else if let Some(marker) = s.marker {
            s.items.push_back(marker());
            s.dropping = true;
        }
        self.notify(s);
    }

    /// Queues `item` even past the capacity or the marker: for the few
    /// events a reader must never miss (a cache's `Initialized`, a state
    /// change), which are rare enough to keep the queue small.
    pub(crate) fn push_always(&self, item: T) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        s.items.push_back(item);
        self.notify(s);
    }

    /// No more items will come; readers drain what is there, then see `None`.
    pub(crate) fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        self.notify(s);
    }

    pub(crate) fn recv(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if let Some(item) = s.pop() {
                return Some(item);
            }
            if s.closed {
                return None;
            }
            s.sleepers += 1;
            s = self.ready.wait(s).unwrap_or_else(PoisonError::into_inner);
            s.sleepers -= 1;
        }
    }

    /// `Err(())` if nothing came in time.
    pub(crate) fn recv_timeout(&self, d: Duration) -> Result<Option<T>, ()> {
        let mut s = self.lock();
        s.sleepers += 1;
        let (mut s, _) = self
            .ready
            .wait_timeout_while(s, d, |s| s.items.is_empty() && !s.closed)
            .unwrap_or_else(PoisonError::into_inner);
        s.sleepers -= 1;
        match s.pop() {
            Some(item) => Ok(Some(item)),
            None if s.closed => Ok(None),
            None => Err(()),
        }
    }

    pub(crate) fn try_recv(&self) -> Option<T> {
        self.lock().pop()
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.lock();
        if let Some(item) = s.pop() {
            return Poll::Ready(Some(item));
        }
        if s.closed {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Awaits the next item of a channel.
pub(crate) struct Recv<'a, T>(pub(crate) &'a Channel<T>);

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker() -> Result<u32, Overflowed> {
        Err(Overflowed)
    }

    #[test]
    fn a_bounded_channel_keeps_the_oldest_then_marks_the_gap() {
        let c = Channel::bounded(3, marker);
        for i in 0..10 {
            c.push(Ok(i));
        }
        assert_eq!(c.try_recv(), Some(Ok(0)));
        c.push(Ok(10)); // dropped: the reader is not past the marker yet
        let rest: Vec<_> = std::iter::from_fn(|| c.try_recv()).collect();
        assert_eq!(rest, [Ok(1), Ok(2), Err(Overflowed)]);
        c.push(Ok(11));
        assert_eq!(
            c.try_recv(),
            Some(Ok(11)),
            "taken again once past the marker"
        );
        c.close();
        assert_eq!(c.recv(), None);
    }

    /// `push` notifies only threads that sleep: one that does must wake.
    #[test]
    fn a_sleeping_reader_is_woken() {
        for timed in [false, true] {
            let c = Channel::new();
            let (tx, rx) = std::sync::mpsc::channel();
            let reader = {
                let c = c.clone();
                std::thread::spawn(move || {
                    let got = if timed {
                        c.recv_timeout(Duration::from_secs(30)).ok().flatten()
                    } else {
                        c.recv()
                    };
                    let _ = tx.send(got);
                })
            };
            let mut spins = 0u32;
            while c.lock().sleepers == 0 {
                spins += 1;
                assert!(spins < 20_000_000, "the reader never slept");
                std::thread::yield_now();
            }
            c.push(5);
            assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(Some(5)));
            reader.join().unwrap();
        }
    }

    #[test]
    fn an_unbounded_channel_never_drops() {
        let c = Channel::new();
        for i in 0..10_000 {
            c.push(i);
        }
        assert_eq!(std::iter::from_fn(|| c.try_recv()).count(), 10_000);
    }
}
