//! A small multi-producer queue that a thread can block on and a task can
//! await: watch streams, one-shot watch futures, state streams.

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
}

impl<T> Channel<T> {
    pub(crate) fn new() -> Arc<Channel<T>> {
        Arc::new(Channel {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                waker: None,
            }),
            ready: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify(&self, mut s: MutexGuard<'_, State<T>>) {
        let waker = s.waker.take();
        drop(s);
        self.ready.notify_all();
        if let Some(w) = waker {
            super::wake::wake(w);
        }
    }

    pub(crate) fn push(&self, item: T) {
        let mut s = self.lock();
        if !s.closed {
            s.items.push_back(item);
        }
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
            if let Some(item) = s.items.pop_front() {
                return Some(item);
            }
            if s.closed {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// `Err(())` if nothing came in time.
    pub(crate) fn recv_timeout(&self, d: Duration) -> Result<Option<T>, ()> {
        let s = self.lock();
        let (mut s, _) = self
            .ready
            .wait_timeout_while(s, d, |s| s.items.is_empty() && !s.closed)
            .unwrap_or_else(PoisonError::into_inner);
        match s.items.pop_front() {
            Some(item) => Ok(Some(item)),
            None if s.closed => Ok(None),
            None => Err(()),
        }
    }

    pub(crate) fn try_recv(&self) -> Option<T> {
        self.lock().items.pop_front()
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.lock();
        if let Some(item) = s.items.pop_front() {
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
