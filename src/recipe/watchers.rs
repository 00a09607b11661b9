//! kazoo's DataWatch, ChildrenWatch and PatientChildrenWatch: a callback
//! called with the current value, then on every change, that never
//! misses a change across a disconnect (after every reconnect the value
//! is read again and a change made meanwhile is delivered).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::node::{transient, wait_retry};
use super::wait::{Cancel, Waiter, Woken};
use crate::client::{Client, Reply, Task, WatchFuture};
use crate::proto::{EventType, Stat};
use crate::session::{SessionState, WatchedEvent};
use crate::{path, Error};

/// What a [`DataWatch`] callback is told.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DataChange {
    /// What happened: `EventType::None` for the first call, then
    /// `NodeCreated`, `NodeDataChanged` or `NodeDeleted`, also when the
    /// change was found by a re-read after a reconnect.
    pub kind: EventType,
    /// The node's data (`None` while it does not exist, or when it holds
    /// null data).
    pub data: Option<Bytes>,
    /// The node's Stat (`None` while it does not exist).
    pub stat: Option<Stat>,
    /// The server's event, when a watch told us (kazoo's `event`; `None`
    /// for the first call and for changes found by a re-read).
    pub event: Option<WatchedEvent>,
}

/// What a [`ChildrenWatch`] callback is told.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChildrenChange {
    /// The children's names, as the server lists them.
    pub children: Vec<String>,
    /// The server's event, when a watch told us (`None` for the first
    /// call and for changes found by a re-read after a reconnect).
    pub event: Option<WatchedEvent>,
}

/// A running watch recipe: [`stop`](Running::stop) it, or see whether it
/// still runs. Dropping the handle does not stop it: as in kazoo, it
/// runs until its callback returns `false`, the client closes, or the
/// watched node of a ChildrenWatch is deleted (a closed client here is
/// final; kazoo's resumes if the same client is started again).
#[derive(Debug, Clone)]
pub struct Running {
    stop: Arc<Cancel>,
    running: Arc<AtomicBool>,
}

/// kazoo's `DataWatch`: see [`Client::data_watch`].
pub type DataWatch = Running;
/// kazoo's `ChildrenWatch`: see [`Client::children_watch`].
pub type ChildrenWatch = Running;

impl Running {
    fn new() -> Running {
        Running {
            stop: Arc::default(),
            running: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Stops it: no call after this returns begins, and its watch is
    /// removed from the server.
    pub fn stop(&self) {
        self.stop.cancel();
        self.running.store(false, Ordering::SeqCst);
    }

    /// Whether it still runs.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst) && !self.stop.is_set()
    }
}

impl Client {
    /// kazoo's `DataWatch(path, func)`: calls `func` with the node's data
    /// now, then after each change, until it returns `false`.
    ///
    /// A missing node is reported with `data: None` and watched for its
    /// creation; deletion and re-creation are reported too. After every
    /// reconnect the node is read again and a change made while
    /// disconnected is delivered as an ordinary change. Calls are made
    /// only when the node's `mzxid` (or its existence) changed. The task
    /// resolves once the first call is made.
    ///
    /// ```
    /// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
    /// # let client = kazoo_std::connect(server.connect_string()).unwrap();
    /// # client.wait_connected().wait().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let watch = client
    ///     .data_watch("/app/config", move |change| {
    ///         tx.send(change.data.clone()).is_ok()
    ///     })
    ///     .wait()?;
    /// assert_eq!(rx.recv().unwrap(), None); // not there yet
    /// client.create("/app/config").data("v1").make_parents().send().wait()?;
    /// assert_eq!(rx.recv().unwrap().as_deref(), Some(&b"v1"[..]));
    /// watch.stop();
    /// # Ok::<(), kazoo::Error>(())
    /// ```
    pub fn data_watch<F>(&self, path: impl Into<String>, func: F) -> Task<DataWatch>
    where
        F: FnMut(&DataChange) -> bool + Send + 'static,
    {
        let path = path.into();
        self.start_watch(move |client, running, first| {
            data_loop(client, path, func, running, first)
        })
    }

    /// kazoo's `ChildrenWatch(path, func)`: calls `func` with the node's
    /// children now, then after each change, until it returns `false` or
    /// the node is deleted. The node must exist ([`Error::NoNode`]
    /// otherwise). After a reconnect the children are listed again and
    /// `func` is called if they changed meanwhile.
    pub fn children_watch<F>(&self, path: impl Into<String>, func: F) -> Task<ChildrenWatch>
    where
        F: FnMut(&ChildrenChange) -> bool + Send + 'static,
    {
        let path = path.into();
        self.start_watch(move |client, running, first| {
            children_loop(client, path, func, running, first)
        })
    }

    /// Runs a watch loop in the background; resolves once it made its
    /// first call (or failed before).
    fn start_watch<L, Fut>(&self, watch_loop: L) -> Task<Running>
    where
        L: FnOnce(Client, Running, Reply<()>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = Running::new();
        let (first, started) = Reply::pair();
        self.spawn(watch_loop(self.background(), handle.clone(), first));
        Task::new(async move {
            started.await?;
            Ok(handle)
        })
    }

    /// kazoo's `PatientChildrenWatch(path, time_boundary)`: waits until
    /// the children of `path` have not changed for `quiet`, then yields
    /// them and a future that resolves on the next change.
    pub fn patient_children_watch(
        &self,
        path: impl Into<String>,
        quiet: Duration,
    ) -> Task<(Vec<String>, WatchFuture)> {
        let (client, path) = (self.clone(), path.into());
        Task::new(async move {
            path::validate(&path)?;
            let mut waiter = Waiter::new(&client, None, None);
            loop {
                let (listed, mut watch) = client.get_children(&path).send_watched();
                let children = match listed.await {
                    Ok(c) => c,
                    Err(e) if transient(&e) => {
                        wait_retry(&mut waiter).await?;
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let quiet_enough = {
                    let nap = client.sleep(quiet);
                    let mut nap = std::pin::pin!(nap);
                    std::future::poll_fn(|cx| {
                        if std::pin::Pin::new(&mut watch).poll(cx).is_ready() {
                            return std::task::Poll::Ready(false);
                        }
                        nap.as_mut().poll(cx).map(|_| true)
                    })
                    .await
                };
                if quiet_enough {
                    return Ok((children, watch));
                }
            }
        })
    }
}

/// Tells the task that started a watch loop how its first call went
/// (once: later outcomes are nobody's to hear).
struct Started(Option<Reply<()>>);

impl Started {
    fn tell(&mut self, outcome: Result<(), Error>) {
        if let Some(first) = self.0.take() {
            first.send(outcome);
        }
    }
}

/// Whether the session is connected (a re-read now is answered now).
fn connected(client: &Client) -> bool {
    matches!(
        client.state(),
        Some(SessionState::Connected { .. } | SessionState::ReadOnly { .. })
    )
}

/// Waits for `watch`, a reconnect, or a stop. `Some(event)` when the
/// watch fired; `None` to read again (a reconnect, or the watch ended
/// unfired); `Err(())` to stop.
async fn next_wake(
    client: &Client,
    waiter: &mut Waiter,
    watch: &mut WatchFuture,
) -> Result<Option<WatchedEvent>, ()> {
    loop {
        match waiter.wait_on(watch).await {
            Woken::Cancelled => return Err(()),
            Woken::Watch => return Ok(waiter.fired()),
            Woken::State | Woken::Paused | Woken::Deadline => {
                if client.is_closed() {
                    return Err(());
                }
                // Suspended: the watch is kept by the session and
                // replayed on reconnect; wait on. Connected again (same
                // or new session): read again, in case we missed it.
                if connected(client) {
                    return Ok(None);
                }
            }
        }
    }
}

/// The DataWatch loop: read (watching), deliver if changed, wait.
async fn data_loop<F>(client: Client, path: String, mut func: F, running: Running, first: Reply<()>)
where
    F: FnMut(&DataChange) -> bool + Send + 'static,
{
    let mut first = Started(Some(first));
    if let Err(e) = path::validate(&path) {
        running.stop();
        first.tell(Err(e.into()));
        return;
    }
    let mut waiter = Waiter::new(&client, None, Some(running.stop.clone()));
    // What the callback last saw: None before the first call, then the
    // node's mzxid (or None while missing).
    let mut seen: Option<Option<i64>> = None;
    let mut event = None;
    loop {
        let (read, mut watch) = client.get(&path).send_watched();
        let now = match read.await {
            Ok((data, stat)) => Some((data, stat)),
            Err(Error::NoNode) => {
                let (exists, exists_watch) = client.exists(&path).send_watched();
                watch = exists_watch;
                match exists.await {
                    Ok(None) => None,
                    Ok(Some(_)) => continue, // created meanwhile: read it
                    Err(e) if transient(&e) => {
                        if wait_retry(&mut waiter).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Err(e) => {
                        first.tell(Err(e));
                        break;
                    }
                }
            }
            Err(e) if transient(&e) => {
                if wait_retry(&mut waiter).await.is_err() {
                    break;
                }
                continue;
            }
            Err(e) => {
                first.tell(Err(e));
                break;
            }
        };
        let mzxid = now.as_ref().map(|(_, s)| s.mzxid);
        let kind = match (seen, mzxid) {
            (None, _) => Some(EventType::None),
            (Some(None), Some(_)) => Some(EventType::NodeCreated),
            (Some(Some(_)), None) => Some(EventType::NodeDeleted),
            (Some(Some(was)), Some(is)) if was != is => Some(EventType::NodeDataChanged),
            _ => None,
        };
        if let Some(kind) = kind {
            if running.stop.is_set() {
                break;
            }
            let (data, stat) = match now {
                Some((d, s)) => (d, Some(s)),
                None => (None, None),
            };
            let change = DataChange {
                kind,
                data,
                stat,
                event: event.take(),
            };
            seen = Some(mzxid);
            let go_on = func(&change);
            first.tell(Ok(()));
            if !go_on {
                break;
            }
        }
        match next_wake(&client, &mut waiter, &mut watch).await {
            Ok(fired) => event = fired,
            Err(()) => break,
        }
    }
    running.stop();
}

/// The ChildrenWatch loop: list (watching), deliver if changed, wait.
async fn children_loop<F>(
    client: Client,
    path: String,
    mut func: F,
    running: Running,
    first: Reply<()>,
) where
    F: FnMut(&ChildrenChange) -> bool + Send + 'static,
{
    let mut first = Started(Some(first));
    if let Err(e) = path::validate(&path) {
        running.stop();
        first.tell(Err(e.into()));
        return;
    }
    let mut waiter = Waiter::new(&client, None, Some(running.stop.clone()));
    let mut seen: Option<Vec<String>> = None;
    let mut event: Option<WatchedEvent> = None;
    loop {
        let (listed, mut watch) = client.get_children(&path).send_watched();
        let children = match listed.await {
            Ok(c) => c,
            Err(e) if transient(&e) => {
                if wait_retry(&mut waiter).await.is_err() {
                    break;
                }
                continue;
            }
            // Gone (kazoo stops without a call), or refused.
            Err(e) => {
                first.tell(Err(e));
                break;
            }
        };
        if seen.as_ref() != Some(&children) {
            if running.stop.is_set() {
                break;
            }
            let change = ChildrenChange {
                children: children.clone(),
                event: event.take(),
            };
            seen = Some(children);
            let go_on = func(&change);
            first.tell(Ok(()));
            if !go_on {
                break;
            }
        }
        match next_wake(&client, &mut waiter, &mut watch).await {
            Ok(Some(e)) if e.event_type == EventType::NodeDeleted => break,
            Ok(fired) => event = fired,
            Err(()) => break,
        }
    }
    running.stop();
}
