//! How watch events reach the application: callbacks (kazoo style), one-shot
//! futures, and streams for persistent watches.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use super::channel::{Channel, Overflowed, Recv};
use super::Inner;
use crate::proto::{EventType, KeeperState};
use crate::session::RequestId;
use crate::session::WatchedEvent;

/// A watch callback. It runs on the adapter's callback thread (or task),
/// never on the thread that drives the session, so it may itself wait on
/// other requests.
pub type WatchCallback = Arc<dyn Fn(WatchedEvent) + Send + Sync>;

/// What a watch stream or future holds: events, or where a bounded
/// stream dropped some.
pub(crate) type EventChannel = Channel<Result<WatchedEvent, Overflowed>>;

pub(crate) enum Target {
    Callback(WatchCallback),
    Channel(Arc<EventChannel>),
}

/// A registered watcher and what ends it.
pub(crate) struct Watcher {
    pub(crate) target: Target,
    /// One-shot watches end with their first event.
    pub(crate) one_shot: bool,
    /// exists leaves a watch even when the reply is NoNode.
    pub(crate) survives_no_node: bool,
}

impl Watcher {
    /// True if no event can follow `event` for this watcher.
    pub(crate) fn ends_with(&self, event: &WatchedEvent) -> bool {
        self.one_shot
            || matches!(event.event_type, EventType::PersistentWatchRemoved)
            || (event.event_type == EventType::None
                && matches!(
                    event.state,
                    KeeperState::Expired | KeeperState::Closed | KeeperState::AuthFailed
                ))
    }

    pub(crate) fn end(&self) {
        if let Target::Channel(c) = &self.target {
            c.close();
        }
    }
}

/// The one event of a one-shot watch, as a future; `None` if the watch was
/// never set (its request failed).
///
/// Dropping it before it fires removes the watch, here and on the server.
pub struct WatchFuture {
    channel: Arc<EventChannel>,
    _abandon: Abandon,
}

impl fmt::Debug for WatchFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchFuture").finish_non_exhaustive()
    }
}

impl WatchFuture {
    pub(crate) fn new(channel: Arc<EventChannel>, abandon: Abandon) -> WatchFuture {
        WatchFuture {
            channel,
            _abandon: abandon,
        }
    }

    /// Blocks until the watch fires.
    pub fn wait(self) -> Option<WatchedEvent> {
        // A one-shot watch's channel is unbounded: never `Overflowed`.
        self.channel.recv().and_then(Result::ok)
    }

    /// Blocks at most `timeout`; `Err` if nothing happened by then.
    pub fn wait_timeout(self, timeout: Duration) -> Result<Option<WatchedEvent>, crate::Error> {
        self.channel
            .recv_timeout(timeout)
            .map(|event| event.and_then(Result::ok))
            .map_err(|()| crate::Error::Timeout)
    }
}

impl Future for WatchFuture {
    type Output = Option<WatchedEvent>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut Recv(&self.channel))
            .poll(cx)
            .map(|event| event.and_then(Result::ok))
    }
}

/// Held by whatever receives a persistent watch's events (the `add_watch`
/// task, then its stream): when it drops, nobody listens any more and the
/// watch is removed, here and on the server (a watch nobody reads must not
/// be replayed on every reconnect for the life of the session).
pub(crate) struct Abandon {
    inner: Weak<Inner>,
    watcher: RequestId,
}

impl Abandon {
    pub(crate) fn new(inner: &Arc<Inner>, watcher: RequestId) -> Abandon {
        Abandon {
            inner: Arc::downgrade(inner),
            watcher,
        }
    }
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.abandon_watcher(self.watcher);
        }
    }
}

/// The events of a persistent watch, in order. Ends (`None`) after the watch
/// is removed or the session ends. Dropping it removes the watch.
///
/// A [`futures_core::Stream`] for async code (`.next().await` here, or any
/// stream combinator); from a thread, [`recv`](WatchStream::recv) or
/// [`blocking_iter`](WatchStream::blocking_iter). It holds at most
/// [`STREAM_CAPACITY`](super::STREAM_CAPACITY) events a reader has not
/// taken; past that it keeps the oldest and yields `Err(Overflowed)` where
/// it dropped some: read the node again, then go on.
pub struct WatchStream {
    channel: Arc<EventChannel>,
    _abandon: Abandon,
}

impl fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream").finish_non_exhaustive()
    }
}

impl WatchStream {
    pub(crate) fn new(channel: Arc<EventChannel>, abandon: Abandon) -> WatchStream {
        WatchStream {
            channel,
            _abandon: abandon,
        }
    }

    /// The next event, awaited.
    pub async fn next(&mut self) -> Option<Result<WatchedEvent, Overflowed>> {
        Recv(&self.channel).await
    }

    /// The next event, blocking the thread.
    pub fn recv(&self) -> Option<Result<WatchedEvent, Overflowed>> {
        self.channel.recv()
    }

    /// The next event, waiting at most `timeout` (`Err(Timeout)` if none came).
    pub fn recv_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<Result<WatchedEvent, Overflowed>>, crate::Error> {
        self.channel
            .recv_timeout(timeout)
            .map_err(|()| crate::Error::Timeout)
    }

    /// An event already received, if any.
    pub fn try_recv(&self) -> Option<Result<WatchedEvent, Overflowed>> {
        self.channel.try_recv()
    }

    /// The events as an iterator that blocks the thread for each one: for
    /// threads only (in async code it would stall the executor; use the
    /// `Stream`).
    pub fn blocking_iter(&self) -> impl Iterator<Item = Result<WatchedEvent, Overflowed>> + '_ {
        std::iter::from_fn(|| self.channel.recv())
    }
}

impl futures_core::Stream for WatchStream {
    type Item = Result<WatchedEvent, Overflowed>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut Recv(&self.channel)).poll(cx)
    }
}
