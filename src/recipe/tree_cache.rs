//! kazoo's TreeCache: a local copy of a subtree kept current by watches,
//! with add / update / remove events in causal order and, after a
//! reconnect, exactly the net changes made while disconnected.
//!
//! On servers with persistent watches (3.6+) one recursive watch on the
//! root tells what changed and each event is checked by a read (an event
//! is a hint, never the truth: it may be older than the tree). On older
//! servers (or when asked) every cached node carries one-shot data and
//! child watches instead. Either way, after every reconnect the whole
//! tree is read again and compared: persistent watches get no catch-up
//! events on 3.8 (RECIPES.md §6).

use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;

use super::node::{child, transient, wait_retry};
use super::wait::{Cancel, Waiter, Woken};
use crate::client::channel::{Channel, Recv};
use crate::client::{Client, Overflowed, Pending, WatchFuture, WatchStream, STREAM_CAPACITY};
use crate::proto::{AddWatchMode, EventType, Stat};
use crate::session::{SessionState, WatchedEvent};
use crate::{path, Error};

/// A cached node (kazoo's `NodeData`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeData {
    /// The node's full path.
    pub path: String,
    /// Its data (`None` for null data).
    pub data: Option<Bytes>,
    /// Its Stat.
    pub stat: Stat,
}

/// What a [`TreeCache`] tells its reader, in causal order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TreeEvent {
    /// A node entered the cache (parents before children).
    Added(NodeData),
    /// A node's data changed (its `mzxid` moved).
    Updated {
        /// What the cache held before.
        old: NodeData,
        /// What it holds now.
        new: NodeData,
    },
    /// A node left the cache (children before parents), with its last data.
    Removed(NodeData),
    /// The first load is complete: the cache equals the tree as read.
    Initialized,
    /// The connection dropped; the cache may fall behind.
    Suspended,
    /// Connected again; the changes made meanwhile follow as events.
    Reconnected,
    /// The session was lost; a new one re-reads the tree.
    Lost,
    /// The reader fell more than
    /// [`STREAM_CAPACITY`](crate::client::STREAM_CAPACITY) events behind:
    /// the events before this are all there, some node events after it
    /// were dropped (never `Initialized`, `Suspended`, `Reconnected` or
    /// `Lost`). The cache itself missed nothing: read what you follow from
    /// it again ([`get_data`](TreeCache::get_data),
    /// [`get_children`](TreeCache::get_children)), then go on.
    Overflowed,
}

/// How the cache learns about changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One persistent recursive watch on the root (3.6+).
    Persistent,
    /// One-shot data and child watches on every node.
    OneShot,
}

type Nodes = BTreeMap<String, NodeData>;

struct Shared {
    root: String,
    nodes: Mutex<Nodes>,
    events: Arc<Channel<TreeEvent>>,
    stop: Arc<Cancel>,
}

impl Shared {
    fn nodes(&self) -> MutexGuard<'_, Nodes> {
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// kazoo's `TreeCache(client, path)`: the subtree under `root`, cached
/// and kept current, with an event for every change.
///
/// Read it with [`get_data`](TreeCache::get_data) and
/// [`get_children`](TreeCache::get_children); take the events with
/// [`recv`](TreeCache::recv) (or `.next().await`). The root may not exist
/// yet: the cache waits for it. [`close`](TreeCache::close) (or dropping
/// the cache) removes its watches from the server.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// use kazoo::recipe::TreeEvent;
/// client.create("/app/a").data("1").make_parents().send().wait()?;
/// let cache = client.tree_cache("/app").start()?;
/// assert!(matches!(cache.recv(), Some(TreeEvent::Added(n)) if n.path == "/app"));
/// assert!(matches!(cache.recv(), Some(TreeEvent::Added(n)) if n.path == "/app/a"));
/// assert_eq!(cache.recv(), Some(TreeEvent::Initialized));
/// assert_eq!(cache.get_data("/app/a").unwrap().data, Some("1".into()));
/// client.delete("/app/a").send().wait()?;
/// assert!(matches!(cache.recv(), Some(TreeEvent::Removed(n)) if n.path == "/app/a"));
/// cache.close();
/// # Ok::<(), kazoo::Error>(())
/// ```
pub struct TreeCache {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TreeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeCache")
            .field("root", &self.shared.root)
            .finish_non_exhaustive()
    }
}

/// Starts a [`TreeCache`] (see [`Client::tree_cache`]).
#[derive(Debug)]
#[must_use = "nothing is cached until start()"]
pub struct TreeCacheBuilder {
    client: Client,
    root: String,
    mode: Mode,
}

impl Client {
    /// kazoo's `TreeCache(client, root)` (see [`TreeCache`]).
    pub fn tree_cache(&self, root: impl Into<String>) -> TreeCacheBuilder {
        TreeCacheBuilder {
            client: self.clone(),
            root: root.into(),
            mode: Mode::Persistent,
        }
    }
}

impl TreeCacheBuilder {
    /// Watch every node with one-shot watches, as for servers before 3.6
    /// (chosen by itself when the server refuses `addWatch`).
    pub fn one_shot_watches(mut self) -> Self {
        self.mode = Mode::OneShot;
        self
    }

    /// Starts loading; events follow.
    pub fn start(self) -> Result<TreeCache, Error> {
        path::validate(&self.root)?;
        let shared = Arc::new(Shared {
            root: self.root,
            nodes: Mutex::default(),
            events: Channel::bounded(STREAM_CAPACITY, || TreeEvent::Overflowed),
            stop: Arc::default(),
        });
        let client = self.client.background();
        let worker = Worker {
            client: client.clone(),
            shared: shared.clone(),
            mode: self.mode,
            hints: hint_channel(),
            epoch: Arc::default(),
        };
        client.spawn(worker.run());
        Ok(TreeCache { shared })
    }
}

impl TreeCache {
    /// The cached node at `path` (`None` if not cached, or outside the
    /// tree).
    pub fn get_data(&self, path: &str) -> Option<NodeData> {
        self.shared.nodes().get(path).cloned()
    }

    /// The cached children's names of `path`, sorted (`None` if `path`
    /// is not cached).
    pub fn get_children(&self, path: &str) -> Option<Vec<String>> {
        let nodes = self.shared.nodes();
        nodes.get(path)?;
        Some(
            children_of(&nodes, path)
                .map(|p| name(p).to_owned())
                .collect(),
        )
    }

    /// How many nodes are cached.
    pub fn len(&self) -> usize {
        self.shared.nodes().len()
    }

    /// Whether nothing is cached (the root does not exist, or not yet
    /// read).
    pub fn is_empty(&self) -> bool {
        self.shared.nodes().is_empty()
    }

    /// The next event, blocking the thread (`None` once closed).
    pub fn recv(&self) -> Option<TreeEvent> {
        self.shared.events.recv()
    }

    /// The next event, waiting at most `timeout` (`Err(Timeout)` if none
    /// came).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<TreeEvent>, Error> {
        self.shared
            .events
            .recv_timeout(timeout)
            .map_err(|()| Error::Timeout)
    }

    /// An event already there, if any.
    pub fn try_recv(&self) -> Option<TreeEvent> {
        self.shared.events.try_recv()
    }

    /// The next event, awaited (`None` once closed).
    pub async fn next(&mut self) -> Option<TreeEvent> {
        Recv(&self.shared.events).await
    }

    /// Stops: no event after this, the cache is emptied, and its watches
    /// are removed from the server.
    pub fn close(&self) {
        self.shared.stop.cancel();
        self.shared.events.close();
        self.shared.nodes().clear();
    }
}

impl Drop for TreeCache {
    fn drop(&mut self) {
        self.close();
    }
}

fn name(path: &str) -> &str {
    crate::path::basename(path)
}

/// The cached paths directly under `path`.
/// Where watch events wait for the cache's worker: bounded, so a worker
/// slower than the changes cannot grow it without limit.
fn hint_channel() -> Arc<Channel<Result<WatchedEvent, Overflowed>>> {
    Channel::bounded(STREAM_CAPACITY, || Err(Overflowed))
}

fn children_of<'a>(nodes: &'a Nodes, path: &str) -> impl Iterator<Item = &'a String> {
    let prefix = if path == "/" {
        "/".to_owned()
    } else {
        format!("{path}/")
    };
    subtree_from(nodes, prefix.clone())
        .filter(move |p| !p[prefix.len()..].contains('/') && p.len() > prefix.len())
}

/// Cached paths starting with `prefix`, in order.
fn subtree_from(nodes: &Nodes, prefix: String) -> impl Iterator<Item = &String> {
    nodes
        .range(prefix.clone()..)
        .map(|(k, _)| k)
        .take_while(move |k| k.starts_with(&prefix))
}

/// `path` and every cached path under it, children before parents.
fn subtree(nodes: &Nodes, path: &str) -> Vec<String> {
    let mut paths: Vec<String> = subtree_from(nodes, format!("{}/", path.trim_end_matches('/')))
        .filter(|p| *p != path)
        .cloned()
        .collect();
    if nodes.contains_key(path) {
        paths.insert(0, path.to_owned());
    }
    paths.reverse();
    paths
}

/// What the cache told its reader about the session, and which session
/// and connection it last read the tree on: enough to say each cut once,
/// also one that came and went while the worker was busy.
#[derive(Default)]
struct Told {
    /// Said Suspended or Lost, and not Reconnected yet.
    down: bool,
    /// Said Lost, and not Reconnected yet.
    lost: bool,
    session: i64,
    /// The client's connection count then.
    synced: u64,
}

/// The background loop that keeps one cache current.
struct Worker {
    client: Client,
    shared: Arc<Shared>,
    mode: Mode,
    /// Watch events, as hints of where to read again; bounded like a
    /// stream, and `Err(Overflowed)` means "read the whole tree again".
    hints: Arc<Channel<Result<WatchedEvent, Overflowed>>>,
    /// Cancelled when the watches of one arming are no longer wanted.
    epoch: Arc<Cancel>,
}

impl Worker {
    fn emit(&self, event: TreeEvent) {
        match event {
            TreeEvent::Added(_) | TreeEvent::Updated { .. } | TreeEvent::Removed(_) => {
                self.shared.events.push(event);
            }
            // Lifecycle events are never dropped, also past `Overflowed`: a
            // reader waiting for `Initialized` must get it.
            _ => self.shared.events.push_always(event),
        }
    }

    async fn run(mut self) {
        let mut waiter = Waiter::new(&self.client, None, Some(self.shared.stop.clone()));
        let mut initialized = false;
        // Kept across armings: a re-arm's read may be what a cut
        // interrupts.
        let mut told = Told::default();
        'arm: loop {
            if self.shared.stop.is_set() {
                break;
            }
            if initialized {
                // Armed only when connected: requests sent now would wait
                // for the connection, and the cut would go unsaid.
                match self.client.state() {
                    Some(
                        SessionState::Connected { session_id, .. }
                        | SessionState::ReadOnly { session_id },
                    ) => {
                        self.say_back(&mut told, session_id);
                    }
                    Some(SessionState::Closed { .. }) => break 'arm,
                    _ if self.client.is_closed() => break 'arm,
                    state => {
                        self.say_down(&mut told, state);
                        if waiter.wait(None).await == Woken::Cancelled {
                            break 'arm;
                        }
                        continue 'arm;
                    }
                }
            }
            self.epoch.cancel();
            self.epoch = Arc::default();
            self.hints = hint_channel();
            // Connections the sync below saw; any later one may have
            // missed changes (a resumed recursive watch does not replay
            // them), whether or not the state in between was noticed.
            told.session = self.client.session_id();
            told.synced = self.client.stats().reconnects;
            match waiter.wait_with(self.arm_and_sync()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if transient(&e) => {
                    if wait_retry(&mut waiter).await.is_err() {
                        break 'arm;
                    }
                    continue 'arm;
                }
                // Stopped, or refused for good.
                Ok(Err(_)) | Err(Woken::Cancelled) => break 'arm,
                // The session changed state: look at it, arm again.
                Err(_) => continue 'arm,
            }
            if !initialized {
                initialized = true;
                self.emit(TreeEvent::Initialized);
            }
            // A follow or re-read was cut short or failed: read the whole
            // tree again (once connected).
            let mut stale = false;
            // The hints ended or overflowed: set the watch again (once
            // connected).
            let mut rearm = false;
            loop {
                let woken = if told.down || rearm {
                    // What hints say meanwhile would only queue reads for
                    // the connection; the reconnect re-reads it all.
                    waiter.wait(None).await
                } else if stale {
                    match wait_retry(&mut waiter).await {
                        Ok(()) => Woken::State,
                        Err(_) => break 'arm,
                    }
                } else {
                    let hints = self.hints.clone();
                    match waiter.wait_with(Recv(&hints)).await {
                        // Hints were dropped, or the watch ended with its
                        // session: set it again.
                        Ok(Some(Err(Overflowed)) | None) => {
                            rearm = true;
                            Woken::State
                        }
                        // Followed under the waiter: a cut while busy is
                        // reported when it happens, not when the queued
                        // reads are answered after the reconnect.
                        Ok(Some(Ok(hint))) => match waiter.wait_with(self.follow(hint)).await {
                            Ok(Ok(())) => continue,
                            Ok(Err(e)) if transient(&e) => {
                                stale = true;
                                continue;
                            }
                            Ok(Err(_)) => break 'arm,
                            Err(woken) => {
                                stale = true;
                                woken
                            }
                        },
                        Err(woken) => woken,
                    }
                };
                if woken == Woken::Cancelled {
                    break 'arm;
                }
                // The state now; again if a re-read is cut short by the
                // next change.
                loop {
                    match self.client.state() {
                        Some(
                            SessionState::Connected { session_id, .. }
                            | SessionState::ReadOnly { session_id },
                        ) => {
                            let session = told.session;
                            let reconnected = self.say_back(&mut told, session_id);
                            if session_id != session || rearm {
                                continue 'arm;
                            }
                            if reconnected || stale {
                                stale = false;
                                match waiter.wait_with(self.sync()).await {
                                    Ok(Ok(())) => {}
                                    Ok(Err(e)) if transient(&e) => stale = true,
                                    Ok(Err(_)) | Err(Woken::Cancelled) => break 'arm,
                                    Err(_) => {
                                        stale = true;
                                        continue;
                                    }
                                }
                            }
                        }
                        Some(SessionState::Closed { .. }) => break 'arm,
                        _ if self.client.is_closed() => break 'arm,
                        state => self.say_down(&mut told, state),
                    }
                    break;
                }
            }
        }
        self.epoch.cancel();
        self.shared.events.close();
        self.shared.nodes().clear();
    }

    /// Says Suspended or Lost for `state`, once each.
    fn say_down(&self, told: &mut Told, state: Option<SessionState>) {
        match state {
            Some(SessionState::Suspended { .. }) if !told.down => {
                told.down = true;
                self.emit(TreeEvent::Suspended);
            }
            Some(SessionState::Lost { .. }) if !told.lost => {
                (told.down, told.lost) = (true, true);
                self.emit(TreeEvent::Lost);
            }
            _ => {}
        }
    }

    /// Connected on `session_id`: says Reconnected if the connection is
    /// not the one the tree was read on, after what happened in between
    /// if that went unsaid (the worker was busy). True if so: the tree
    /// must be read again.
    fn say_back(&self, told: &mut Told, session_id: i64) -> bool {
        let reconnects = self.client.stats().reconnects;
        if !told.down && reconnects == told.synced {
            return false;
        }
        let replaced = session_id != told.session;
        if !told.down || (replaced && !told.lost) {
            self.emit(if replaced {
                TreeEvent::Lost
            } else {
                TreeEvent::Suspended
            });
        }
        self.emit(TreeEvent::Reconnected);
        *told = Told {
            down: false,
            lost: false,
            session: session_id,
            synced: reconnects,
        };
        true
    }

    /// Sets the recursive watch (if that is the mode), then reads the
    /// tree.
    async fn arm_and_sync(&mut self) -> Result<(), Error> {
        if self.mode == Mode::Persistent {
            let set = self
                .client
                .add_watch(&self.shared.root, AddWatchMode::PersistentRecursive)
                .stream();
            match set.await {
                Ok(stream) => self.forward_stream(stream),
                Err(Error::Unimplemented) => self.mode = Mode::OneShot,
                Err(e) => return Err(e),
            }
        }
        self.sync().await
    }

    fn forward_stream(&self, mut stream: WatchStream) {
        let (epoch, hints) = (self.epoch.clone(), self.hints.clone());
        self.client.spawn(async move {
            let epoch = epoch.listen();
            loop {
                let next = poll_fn(|cx| {
                    if epoch.poll(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                    Pin::new(&mut stream).poll_next(cx).map(Some)
                })
                .await;
                match next {
                    Some(Some(Ok(event))) => hints.push(Ok(event)),
                    // The watch ended, or events were dropped: closing the
                    // hints makes the cache set the watch again and re-read
                    // the whole tree.
                    Some(None) | Some(Some(Err(_))) => {
                        hints.close();
                        return;
                    }
                    None => return, // another arming took over
                }
            }
        });
    }

    /// Forwards one one-shot watch's event as a hint.
    fn forward(&self, watch: WatchFuture) {
        let (epoch, hints) = (self.epoch.clone(), self.hints.clone());
        self.client.spawn(async move {
            let epoch = epoch.listen();
            let mut watch = pin!(watch);
            let fired = poll_fn(|cx| {
                if epoch.poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                watch.as_mut().poll(cx)
            })
            .await;
            if let Some(event) = fired {
                hints.push(Ok(event));
            }
        });
    }

    /// Reads `path` (watching it in one-shot mode): `None` if missing.
    fn read(&self, path: &str) -> Pending<(Option<Bytes>, Stat)> {
        match self.mode {
            Mode::Persistent => self.client.get(path).send(),
            Mode::OneShot => {
                let (read, watch) = self.client.get(path).send_watched();
                self.forward(watch);
                read
            }
        }
    }

    fn list(&self, path: &str) -> Pending<Vec<String>> {
        match self.mode {
            Mode::Persistent => self.client.get_children(path).send(),
            Mode::OneShot => {
                let (list, watch) = self.client.get_children(path).send_watched();
                self.forward(watch);
                list
            }
        }
    }

    /// Reads the subtree at `top` (pipelined, level by level).
    async fn load(&self, top: &str) -> Result<Nodes, Error> {
        let mut nodes = Nodes::new();
        let mut level = vec![top.to_owned()];
        while !level.is_empty() {
            let mut next = Vec::new();
            for batch in level.chunks(LOAD_BATCH) {
                let reads: Vec<_> = batch
                    .iter()
                    .map(|p| (p, self.read(p), self.list(p)))
                    .collect();
                for (path, read, list) in reads {
                    let (data, stat) = match read.await {
                        Ok(r) => r,
                        Err(Error::NoNode) => {
                            if path == top && self.mode == Mode::OneShot {
                                // Wait for it to be created.
                                let (_, watch) = self.client.exists(path).send_watched();
                                self.forward(watch);
                            }
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    let children = match list.await {
                        Ok(c) => c,
                        Err(Error::NoNode) => continue,
                        Err(e) => return Err(e),
                    };
                    next.extend(children.iter().map(|c| child(path, c)));
                    nodes.insert(
                        path.clone(),
                        NodeData {
                            path: path.clone(),
                            data,
                            stat,
                        },
                    );
                }
            }
            level = next;
        }
        Ok(nodes)
    }

    /// Reads the whole tree and emits what differs from the cache.
    async fn sync(&self) -> Result<(), Error> {
        let fresh = self.load(&self.shared.root).await?;
        self.replace(&self.shared.root, fresh);
        Ok(())
    }

    /// Makes the cached subtree at `top` equal `fresh`, emitting removals
    /// (children first), then additions and updates (parents first).
    fn replace(&self, top: &str, fresh: Nodes) {
        let mut nodes = self.shared.nodes();
        let mut events = Vec::new();
        // A node is gone if it is missing or was re-created (another
        // czxid); its cached descendants go with it, even those a load
        // found under the new one (they are added back after).
        let cached = subtree(&nodes, top);
        let mut gone = std::collections::HashSet::new();
        for path in cached.iter().rev() {
            let parent_gone = path != top && gone.contains(crate::path::parent(path));
            let replaced = match fresh.get(path) {
                None => true,
                Some(new) => new.stat.czxid != nodes[path].stat.czxid,
            };
            if parent_gone || replaced {
                gone.insert(path.as_str());
            }
        }
        for path in cached.iter().filter(|p| gone.contains(p.as_str())) {
            if let Some(old) = nodes.remove(path) {
                events.push(TreeEvent::Removed(old));
            }
        }
        for (path, new) in fresh {
            match nodes.get(&path) {
                None => {
                    events.push(TreeEvent::Added(new.clone()));
                    nodes.insert(path, new);
                }
                Some(old) if old.stat.mzxid != new.stat.mzxid => {
                    events.push(TreeEvent::Updated {
                        old: old.clone(),
                        new: new.clone(),
                    });
                    nodes.insert(path, new);
                }
                Some(_) => {}
            }
        }
        drop(nodes);
        for e in events {
            self.emit(e);
        }
    }

    /// Follows one watch event: reads where it points and brings the
    /// cache in line.
    async fn follow(&self, hint: WatchedEvent) -> Result<(), Error> {
        let root = &self.shared.root;
        let inside = hint.path == *root
            || hint
                .path
                .starts_with(&format!("{}/", root.trim_end_matches('/')));
        if !inside {
            return Ok(());
        }
        match hint.event_type {
            EventType::None => Ok(()),
            EventType::NodeChildrenChanged => self.follow_children(&hint.path).await,
            EventType::NodeCreated | EventType::NodeDataChanged | EventType::NodeDeleted => {
                self.follow_node(&hint.path).await
            }
            _ => Ok(()),
        }
    }

    /// A node may have appeared, changed or gone: read it.
    async fn follow_node(&self, path: &str) -> Result<(), Error> {
        let cached = self.shared.nodes().get(path).map(|n| n.stat.czxid);
        let known_parent =
            path == self.shared.root || self.shared.nodes().contains_key(crate::path::parent(path));
        match (cached, known_parent) {
            // New, or re-created: load it with whatever is under it.
            (None, true) => {
                let fresh = self.load(path).await?;
                self.replace(path, fresh);
                Ok(())
            }
            // Its parent is not cached yet: that node's own event (or
            // re-sync) brings both.
            (None, false) => {
                let parent = crate::path::parent(path).to_owned();
                Box::pin(self.follow_node(&parent)).await
            }
            (Some(czxid), _) => match self.read(path).await {
                Ok((data, stat)) if stat.czxid == czxid => {
                    let mut nodes = self.shared.nodes();
                    let Some(old) = nodes.get(path).cloned() else {
                        return Ok(()); // removed meanwhile by a re-sync
                    };
                    if old.stat.mzxid != stat.mzxid {
                        let new = NodeData {
                            path: path.to_owned(),
                            data,
                            stat,
                        };
                        nodes.insert(path.to_owned(), new.clone());
                        drop(nodes);
                        self.emit(TreeEvent::Updated { old, new });
                    }
                    Ok(())
                }
                Ok(_) => {
                    let fresh = self.load(path).await?;
                    self.replace(path, fresh);
                    Ok(())
                }
                Err(Error::NoNode) => {
                    self.replace(path, Nodes::new());
                    Ok(())
                }
                Err(e) => Err(e),
            },
        }
    }

    /// One-shot mode: a node's children changed: load the new ones, drop
    /// the gone ones.
    async fn follow_children(&self, path: &str) -> Result<(), Error> {
        if !self.shared.nodes().contains_key(path) {
            // An old watch of a node no longer cached: read it whole.
            return self.follow_node(path).await;
        }
        let listed = match self.list(path).await {
            Ok(c) => c,
            Err(Error::NoNode) => {
                self.replace(path, Nodes::new());
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let cached: Vec<String> = children_of(&self.shared.nodes(), path).cloned().collect();
        for gone in cached
            .iter()
            .filter(|p| !listed.iter().any(|c| c == name(p)))
        {
            self.replace(gone, Nodes::new());
        }
        for new in listed {
            let p = child(path, &new);
            if !self.shared.nodes().contains_key(&p) {
                let fresh = self.load(&p).await?;
                self.replace(&p, fresh);
            }
        }
        Ok(())
    }
}

/// Reads in flight at once while loading.
const LOAD_BATCH: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str) -> (String, NodeData) {
        (
            path.to_owned(),
            NodeData {
                path: path.to_owned(),
                data: Some(Bytes::new()),
                stat: Stat::default(),
            },
        )
    }

    #[test]
    fn subtrees_list_children_before_parents() {
        let nodes: Nodes = ["/a", "/a/b", "/a/b/c", "/a/b-x", "/a/bb", "/ab"]
            .into_iter()
            .map(node)
            .collect();
        assert_eq!(subtree(&nodes, "/a/b"), ["/a/b/c", "/a/b"]);
        assert_eq!(
            subtree(&nodes, "/a"),
            ["/a/bb", "/a/b/c", "/a/b-x", "/a/b", "/a"]
        );
        let kids: Vec<_> = children_of(&nodes, "/a").collect();
        assert_eq!(kids, ["/a/b", "/a/b-x", "/a/bb"]);
        let root: Nodes = ["/", "/x", "/x/y"].into_iter().map(node).collect();
        assert_eq!(children_of(&root, "/").collect::<Vec<_>>(), ["/x"]);
        assert_eq!(subtree(&root, "/"), ["/x/y", "/x", "/"]);
    }
}
