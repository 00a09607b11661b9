//! The node operations, one builder each where there are options.
//!
//! Every builder ends in `send()` (or `send_watched()`), which submits the
//! request at once and returns a [`Pending`] or [`Task`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::channel::Channel;
use super::pending::Slot;
use super::watch::Abandon;
use super::watch::{Target, Watcher};
use super::{no_body, unexpected, Client, Outcome, Pending, Task, WatchFuture, WatchStream};
use crate::acl::Acl;
use crate::proto::{
    AddWatchMode, AddWatchRequest, ClientInfo, CreateMode, CreateRequest, CreateTtlRequest,
    PathRecord, PathVersion, PathWatch, ReconfigRequest, Request, Response, SetAclRequest,
    SetDataRequest, Stat, WatcherType, WatchesRequest,
};
use crate::session::WatchedEvent;
use crate::{path, ArgumentError, Error};

/// Largest TTL ZooKeeper accepts (PROTOCOL.md §5.5).
const MAX_TTL_MS: i64 = (1 << 40) - 1;

pub(crate) fn check_acl(acl: &[Acl]) -> Result<(), Error> {
    if acl.is_empty() {
        return Err(ArgumentError::EmptyAcl.into());
    }
    Ok(())
}

/// What a new node is: shared by [`CreateBuilder`] and
/// [`Transaction::create`](super::Transaction).
#[derive(Debug, Clone)]
pub(crate) struct NewNode {
    pub(crate) path: String,
    /// `None` stores null data (kazoo's `value=None`).
    pub(crate) data: Option<Bytes>,
    pub(crate) acl: Vec<Acl>,
    pub(crate) ephemeral: bool,
    pub(crate) sequential: bool,
    pub(crate) container: bool,
    pub(crate) ttl: Option<Duration>,
}

/// The opcode a create goes under, with its body.
pub(crate) enum CreateOp {
    Plain(CreateRequest),
    Container(CreateRequest),
    Ttl(CreateTtlRequest),
}

impl NewNode {
    pub(crate) fn new(path: String, acl: Vec<Acl>) -> NewNode {
        NewNode {
            path,
            data: Some(Bytes::new()),
            acl,
            ephemeral: false,
            sequential: false,
            container: false,
            ttl: None,
        }
    }

    pub(crate) fn build(self) -> Result<CreateOp, Error> {
        check_acl(&self.acl)?;
        if self.container && (self.ephemeral || self.sequential || self.ttl.is_some()) {
            return Err(ArgumentError::ModeConflict(
                "a container is never ephemeral, sequential or TTL",
            )
            .into());
        }
        if self.ephemeral && self.ttl.is_some() {
            return Err(ArgumentError::ModeConflict("a TTL node is never ephemeral").into());
        }
        let mode = match (self.ephemeral, self.sequential, self.ttl.is_some()) {
            (true, false, _) => CreateMode::Ephemeral,
            (true, true, _) => CreateMode::EphemeralSequential,
            (false, false, false) => CreateMode::Persistent,
            (false, true, false) => CreateMode::PersistentSequential,
            (false, false, true) => CreateMode::PersistentWithTtl,
            (false, true, true) => CreateMode::PersistentSequentialWithTtl,
        };
        let data = self.data;
        if let Some(ttl) = self.ttl {
            let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
            if !(1..=MAX_TTL_MS).contains(&ms) {
                return Err(ArgumentError::TtlOutOfRange(ms).into());
            }
            return Ok(CreateOp::Ttl(CreateTtlRequest {
                path: self.path,
                data,
                acl: self.acl,
                mode,
                ttl: ms,
            }));
        }
        let request = CreateRequest {
            path: self.path,
            data,
            acl: self.acl,
            mode: if self.container {
                CreateMode::Container
            } else {
                mode
            },
        };
        Ok(if self.container {
            CreateOp::Container(request)
        } else {
            CreateOp::Plain(request)
        })
    }
}

/// The options of a new node, for every builder that holds a `node:
/// NewNode` ([`CreateBuilder`], [`TxCreate`](super::TxCreate)): one set of
/// methods, so a create in a transaction takes exactly what a single one
/// does.
macro_rules! node_options {
    () => {
        /// The node's data (empty by default).
        pub fn data(mut self, data: impl Into<bytes::Bytes>) -> Self {
            self.node.data = Some(data.into());
            self
        }

        /// Null data instead: the node reads back as `None`, not as empty
        /// bytes (kazoo's `value=None`).
        pub fn null_data(mut self) -> Self {
            self.node.data = None;
            self
        }

        /// The node's ACL (by default the client's
        /// [`default_acl`](crate::session::ConfigBuilder::default_acl), open to
        /// anyone unless configured).
        pub fn acl(mut self, acl: impl Into<Vec<crate::acl::Acl>>) -> Self {
            self.node.acl = acl.into();
            self
        }

        /// Deleted when this session ends.
        pub fn ephemeral(mut self) -> Self {
            self.node.ephemeral = true;
            self
        }

        /// The server appends a 10-digit sequence number to the name.
        pub fn sequential(mut self) -> Self {
            self.node.sequential = true;
            self
        }

        /// Deleted by the server once its last child is gone.
        pub fn container(mut self) -> Self {
            self.node.container = true;
            self
        }

        /// Deleted once unmodified and childless for `ttl` (servers need
        /// `extendedTypesEnabled`; 1 ms to 2^40-1 ms).
        pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
            self.node.ttl = Some(ttl);
            self
        }
    };
}

pub(crate) use node_options;

/// Options of [`Client::create`].
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// let path = client
///     .create("/jobs/job-")
///     .data("payload")
///     .acl(kazoo::acl::OPEN_ACL_UNSAFE.to_vec())
///     .sequential()
///     .make_parents()
///     .send()
///     .wait()?;
/// assert!(path.starts_with("/jobs/job-"));
/// let (path, stat) = client.create("/jobs/marker").null_data().send_with_stat().wait()?;
/// assert_eq!((path.as_str(), stat.data_length), ("/jobs/marker", 0));
/// # Ok::<(), kazoo::Error>(())
/// ```
#[must_use = "nothing is sent until send()"]
#[derive(Debug)]
pub struct CreateBuilder<'a> {
    client: &'a Client,
    node: NewNode,
    make_parents: bool,
}

impl<'a> CreateBuilder<'a> {
    node_options!();

    /// Create missing ancestors first (as persistent nodes with the same ACL).
    pub fn make_parents(mut self) -> Self {
        self.make_parents = true;
        self
    }

    /// Creates the node; yields its path (with the sequence suffix, if any).
    ///
    /// A plain create goes under the opcode every server knows (`create`,
    /// as kazoo's does), so it works on ZooKeeper 3.4 too;
    /// [`send_with_stat`](CreateBuilder::send_with_stat) needs `create2`
    /// (3.5+). Containers and TTL nodes have opcodes of their own (3.5.3+).
    pub fn send(self) -> Task<String> {
        let client = self.client.clone();
        let (node, make_parents) = (self.node, self.make_parents);
        let first = client.submit_old_create(node.clone());
        Task::new(async move { client.create_without_stat(first, node, make_parents).await })
    }

    /// Creates the node; yields its path and Stat.
    pub fn send_with_stat(self) -> Task<(String, Stat)> {
        let client = self.client.clone();
        let acl = self.node.acl.clone();
        let parent = path::parent(&self.node.path).to_owned();
        let node = self.node;
        let make_parents = self.make_parents;
        let first = client.submit_create(node.clone());
        Task::new(async move {
            match first.await {
                Err(Error::NoNode) if make_parents && parent != "/" => {
                    client.ensure_path_with(&parent, acl).await?;
                    client.submit_create(node).await
                }
                other => other,
            }
        })
    }
}

fn created_path(outcome: Outcome) -> Result<String, Error> {
    match outcome? {
        Response::Create(r) => Ok(r.path),
        Response::Create2(r) => Ok(r.path),
        _ => Err(unexpected("create")),
    }
}

fn created(outcome: Outcome) -> Result<(String, Stat), Error> {
    match outcome? {
        Response::Create2(r) => Ok((r.path, r.stat)),
        _ => Err(unexpected("create2")),
    }
}

fn stat(outcome: Outcome) -> Result<Stat, Error> {
    match outcome? {
        Response::Stat(s) => Ok(s),
        _ => Err(unexpected("stat")),
    }
}

fn maybe_stat(outcome: Outcome) -> Result<Option<Stat>, Error> {
    match outcome {
        Err(Error::NoNode) => Ok(None),
        other => stat(other).map(Some),
    }
}

fn data(outcome: Outcome) -> Result<(Option<Bytes>, Stat), Error> {
    match outcome? {
        Response::GetData(r) => Ok((r.data, r.stat)),
        _ => Err(unexpected("getData")),
    }
}

fn children(outcome: Outcome) -> Result<Vec<String>, Error> {
    match outcome? {
        Response::GetChildren(r) => Ok(r.children),
        _ => Err(unexpected("getChildren")),
    }
}

fn children_stat(outcome: Outcome) -> Result<(Vec<String>, Stat), Error> {
    match outcome? {
        Response::GetChildren2(r) => Ok((r.children, r.stat)),
        _ => Err(unexpected("getChildren2")),
    }
}

fn acls(outcome: Outcome) -> Result<(Vec<Acl>, Stat), Error> {
    match outcome? {
        Response::GetAcl(r) => Ok((r.acl, r.stat)),
        _ => Err(unexpected("getACL")),
    }
}

fn synced(outcome: Outcome) -> Result<String, Error> {
    match outcome? {
        Response::Sync(r) => Ok(r.path),
        _ => Err(unexpected("sync")),
    }
}

fn ephemerals(outcome: Outcome) -> Result<Vec<String>, Error> {
    match outcome? {
        Response::GetEphemerals(r) => Ok(r.children),
        _ => Err(unexpected("getEphemerals")),
    }
}

fn count(outcome: Outcome) -> Result<i32, Error> {
    match outcome? {
        Response::GetAllChildrenNumber(r) => Ok(r.total_number),
        _ => Err(unexpected("getAllChildrenNumber")),
    }
}

fn who(outcome: Outcome) -> Result<Vec<ClientInfo>, Error> {
    match outcome? {
        Response::WhoAmI(r) => Ok(r.client_info),
        _ => Err(unexpected("whoAmI")),
    }
}

/// A one-shot watch to leave with a read: a callback or a future.
enum WatchWith {
    None,
    Callback(super::WatchCallback),
}

impl WatchWith {
    fn watcher(&self, survives_no_node: bool) -> Option<Watcher> {
        match self {
            WatchWith::None => None,
            WatchWith::Callback(cb) => Some(Watcher {
                target: Target::Callback(cb.clone()),
                one_shot: true,
                survives_no_node,
            }),
        }
    }
}

/// Submits `request` with a one-shot watch delivered to a future.
fn submit_watched(
    client: &Client,
    request: Request,
    survives_no_node: bool,
) -> (Arc<Slot<Outcome>>, WatchFuture) {
    let channel = Channel::new();
    let watcher = Watcher {
        target: Target::Channel(channel.clone()),
        one_shot: true,
        survives_no_node,
    };
    let (slot, id) = client.inner().submit_with_id(request, Some(watcher));
    let abandon = Abandon::new(client.inner_arc(), id);
    (slot, WatchFuture::new(channel, abandon))
}

macro_rules! read_builder {
    ($(#[$m:meta])* $name:ident, $op:ident, $output:ty, $map:ident, $survives:literal) => {
        $(#[$m])*
        #[must_use = "nothing is sent until send()"]
        pub struct $name<'a> {
            client: &'a Client,
            path: String,
            watch: WatchWith,
        }

        impl std::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("path", &self.path).finish_non_exhaustive()
            }
        }

        impl<'a> $name<'a> {
            /// Leave a one-shot watch; `callback` runs once, on the adapter's
            /// callback thread, when it fires (kazoo's `watch=`).
            pub fn watch(mut self, callback: impl Fn(WatchedEvent) + Send + Sync + 'static) -> Self {
                self.watch = WatchWith::Callback(Arc::new(callback));
                self
            }

            /// Reads.
            pub fn send(self) -> Pending<$output> {
                let watcher = self.watch.watcher($survives);
                let watch = watcher.is_some();
                let slot = self.client.inner().submit(Request::$op(PathWatch { path: self.path, watch }), watcher);
                Pending::new(slot, $map)
            }

            /// Reads and leaves a one-shot watch, returned as a future that
            /// yields its event (or `None` if the read failed and left none).
            pub fn send_watched(self) -> (Pending<$output>, WatchFuture) {
                let request = Request::$op(PathWatch { path: self.path, watch: true });
                let (slot, future) = submit_watched(self.client, request, $survives);
                (Pending::new(slot, $map), future)
            }
        }
    };
}

read_builder!(
    /// Options of [`Client::exists`]: yields the Stat, or `None` when the
    /// node is missing (a watch is left either way).
    ///
    /// ```
    /// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
    /// # let client = kazoo_std::connect(server.connect_string()).unwrap();
    /// use kazoo::proto::EventType;
    /// let (stat, created) = client.exists("/flag").send_watched();
    /// assert_eq!(stat.wait()?, None);
    /// client.create("/flag").send().wait()?;
    /// assert_eq!(created.wait().map(|e| e.event_type), Some(EventType::NodeCreated));
    /// # Ok::<(), kazoo::Error>(())
    /// ```
    ExistsBuilder, Exists, Option<Stat>, maybe_stat, true
);
read_builder!(
    /// Options of [`Client::get`]: yields the data (`None` when the node
    /// holds null data, as kazoo's `get` does) and Stat.
    ///
    /// ```
    /// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
    /// # let client = kazoo_std::connect(server.connect_string()).unwrap();
    /// client.create("/cfg").data("v1").send().wait()?;
    /// let (data, stat) = client
    ///     .get("/cfg")
    ///     .watch(|event| println!("{event:?}"))
    ///     .send()
    ///     .wait()?;
    /// assert_eq!((data.as_deref(), stat.version), (Some(&b"v1"[..]), 0));
    /// # Ok::<(), kazoo::Error>(())
    /// ```
    GetBuilder, GetData, (Option<Bytes>, Stat), data, false
);

/// Options of [`Client::get_children`]: yields the names (not paths) of
/// the children, unordered.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// client.create("/app/a").make_parents().send().wait()?;
/// let (names, fired) = client.get_children("/app").send_watched();
/// assert_eq!(names.wait()?, ["a"]);
/// client.create("/app/b").send().wait()?;
/// assert!(fired.wait().is_some());
/// # Ok::<(), kazoo::Error>(())
/// ```
#[must_use = "nothing is sent until send()"]
pub struct GetChildrenBuilder<'a> {
    client: &'a Client,
    path: String,
    watch: WatchWith,
}

impl std::fmt::Debug for GetChildrenBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetChildrenBuilder")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl GetChildrenBuilder<'_> {
    /// Leave a one-shot child watch; `callback` runs once when it fires.
    pub fn watch(mut self, callback: impl Fn(WatchedEvent) + Send + Sync + 'static) -> Self {
        self.watch = WatchWith::Callback(Arc::new(callback));
        self
    }

    /// Lists the children.
    pub fn send(self) -> Pending<Vec<String>> {
        let watcher = self.watch.watcher(false);
        let watch = watcher.is_some();
        let slot = self.client.inner().submit(
            Request::GetChildren(PathWatch {
                path: self.path,
                watch,
            }),
            watcher,
        );
        Pending::new(slot, children)
    }

    /// Lists the children, with the parent's Stat.
    pub fn send_with_stat(self) -> Pending<(Vec<String>, Stat)> {
        let watcher = self.watch.watcher(false);
        let watch = watcher.is_some();
        let slot = self.client.inner().submit(
            Request::GetChildren2(PathWatch {
                path: self.path,
                watch,
            }),
            watcher,
        );
        Pending::new(slot, children_stat)
    }

    /// Lists the children and leaves a one-shot child watch, as a future.
    pub fn send_watched(self) -> (Pending<Vec<String>>, WatchFuture) {
        let request = Request::GetChildren(PathWatch {
            path: self.path,
            watch: true,
        });
        let (slot, future) = submit_watched(self.client, request, false);
        (Pending::new(slot, children), future)
    }
}

/// Options of [`Client::set`].
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// use kazoo::Error;
/// client.create("/n").data("v1").send().wait()?;
/// assert_eq!(client.set("/n", "v2").version(0).send().wait()?.version, 1);
/// assert_eq!(client.set("/n", "v3").version(0).send().wait(), Err(Error::BadVersion));
/// client.set("/n", "").null_data().send().wait()?;
/// assert_eq!(client.get("/n").send().wait()?.0, None);
/// # Ok::<(), kazoo::Error>(())
/// ```
#[must_use = "nothing is sent until send()"]
#[derive(Debug)]
pub struct SetBuilder<'a> {
    client: &'a Client,
    path: String,
    data: Option<Bytes>,
    version: i32,
}

impl SetBuilder<'_> {
    /// Store null data instead of the bytes given: the node reads back as
    /// `None` (kazoo's `set(path, None)`).
    pub fn null_data(mut self) -> Self {
        self.data = None;
        self
    }

    /// Only if the node's data version is `version` (else `BadVersion`).
    pub fn version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    /// Writes; yields the node's new Stat.
    pub fn send(self) -> Pending<Stat> {
        let request = Ok(Request::SetData(SetDataRequest {
            path: self.path,
            data: self.data,
            version: self.version,
        }));
        Pending::new(self.client.submit_checked(request), stat)
    }
}

/// Options of [`Client::delete`].
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// use kazoo::Error;
/// client.create("/tree/a/b").make_parents().send().wait()?;
/// assert_eq!(client.delete("/tree").send().wait(), Err(Error::NotEmpty));
/// client.delete("/tree").recursive().send().wait()?;
/// assert_eq!(client.exists("/tree").send().wait()?, None);
/// # Ok::<(), kazoo::Error>(())
/// ```
#[must_use = "nothing is sent until send()"]
#[derive(Debug)]
pub struct DeleteBuilder<'a> {
    client: &'a Client,
    path: String,
    version: i32,
    recursive: bool,
}

impl DeleteBuilder<'_> {
    /// Only if the node's data version is `version` (else `BadVersion`).
    pub fn version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    /// Delete the children first, depth first (kazoo's `recursive=True`).
    /// A missing node is not an error then.
    pub fn recursive(mut self) -> Self {
        self.recursive = true;
        self
    }

    /// Deletes.
    pub fn send(self) -> Task<()> {
        if !self.recursive {
            let pending = self.client.submit_delete(self.path, self.version);
            return Task::new(pending);
        }
        let tree = self.client.delete_tree(self.path, self.version);
        Task::new(async move {
            match tree.await {
                Err(Error::NoNode) => Ok(()),
                other => other,
            }
        })
    }
}

/// Options of [`Client::set_acls`].
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// use kazoo::acl::READ_ACL_UNSAFE;
/// client.create("/ro").send().wait()?;
/// client.set_acls("/ro", READ_ACL_UNSAFE.to_vec()).version(0).send().wait()?;
/// assert_eq!(client.set("/ro", "x").send().wait(), Err(kazoo::Error::NoAuth));
/// # Ok::<(), kazoo::Error>(())
/// ```
#[must_use = "nothing is sent until send()"]
#[derive(Debug)]
pub struct SetAclsBuilder<'a> {
    client: &'a Client,
    path: String,
    acl: Vec<Acl>,
    version: i32,
}

impl SetAclsBuilder<'_> {
    /// Only if the node's ACL version (`aversion`) is `version`.
    pub fn version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    /// Replaces the ACL; yields the node's new Stat.
    pub fn send(self) -> Pending<Stat> {
        let version = self.version;
        let request = check_acl(&self.acl).map(|()| {
            Request::SetAcl(SetAclRequest {
                path: self.path,
                acl: self.acl,
                version,
            })
        });
        Pending::new(self.client.submit_checked(request), stat)
    }
}

/// Options of [`Client::add_watch`]: where its events go.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// use kazoo::proto::{AddWatchMode, EventType};
/// client.create("/app").send().wait()?;
/// let events = client.add_watch("/app", AddWatchMode::PersistentRecursive).stream().wait()?;
/// client.create("/app/a").send().wait()?;
/// let first = events.recv().expect("a watch event").expect("not overflowed");
/// assert_eq!((first.event_type, first.path.as_str()), (EventType::NodeCreated, "/app/a"));
/// // Or a callback for every event:
/// client
///     .add_watch("/app", AddWatchMode::Persistent)
///     .watch(|event| println!("{event:?}"))
///     .send()
///     .wait()?;
/// # Ok::<(), kazoo::Error>(())
/// ```
#[must_use = "nothing is sent until a send method"]
#[derive(Debug)]
pub struct AddWatchBuilder<'a> {
    client: &'a Client,
    path: String,
    mode: AddWatchMode,
}

impl<'a> AddWatchBuilder<'a> {
    /// Events go to `callback`, on the adapter's callback thread, until
    /// the watch is removed or the session ends; then `.send()`.
    pub fn watch(
        self,
        callback: impl Fn(WatchedEvent) + Send + Sync + 'static,
    ) -> AddWatchCallback<'a> {
        AddWatchCallback {
            builder: self,
            callback: Arc::new(callback),
        }
    }
}

/// [`Client::add_watch`] with a callback: `.send()` sets the watch.
#[must_use = "nothing is sent until send()"]
pub struct AddWatchCallback<'a> {
    builder: AddWatchBuilder<'a>,
    callback: super::WatchCallback,
}

impl std::fmt::Debug for AddWatchCallback<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddWatchCallback")
            .field("builder", &self.builder)
            .finish_non_exhaustive()
    }
}

impl AddWatchCallback<'_> {
    /// Sets the watch; completes once the server has it.
    pub fn send(self) -> Pending<()> {
        let AddWatchCallback {
            builder: this,
            callback,
        } = self;
        let watcher = Watcher {
            target: Target::Callback(callback),
            one_shot: false,
            survives_no_node: false,
        };
        let slot = this.client.inner().submit(
            Request::AddWatch(AddWatchRequest {
                path: this.path,
                mode: this.mode,
            }),
            Some(watcher),
        );
        Pending::new(slot, no_body)
    }
}

impl AddWatchBuilder<'_> {
    /// Yields the events as a stream once the watch is set.
    pub fn stream(self) -> Task<WatchStream> {
        let channel = Channel::bounded(super::STREAM_CAPACITY, || Err(super::Overflowed));
        let watcher = Watcher {
            target: Target::Channel(channel.clone()),
            one_shot: false,
            survives_no_node: false,
        };
        let (slot, id) = self.client.inner().submit_with_id(
            Request::AddWatch(AddWatchRequest {
                path: self.path,
                mode: self.mode,
            }),
            Some(watcher),
        );
        // Dropped with the task if it never resolves, else with the stream.
        let abandon = Abandon::new(self.client.inner_arc(), id);
        let set = Pending::new(slot, no_body);
        Task::new(async move {
            set.await?;
            Ok(WatchStream::new(channel, abandon))
        })
    }
}

/// Options of [`Client::reconfig`] (dynamic reconfiguration, 3.5+; the
/// server must allow it and the caller needs admin rights).
///
/// ```no_run
/// # fn f(client: &kazoo::Client) -> Result<(), kazoo::Error> {
/// let (config, stat) = client
///     .reconfig()
///     .joining("server.4=10.0.0.4:2888:3888;2181")
///     .leaving("1")
///     .send()
///     .wait()?;
/// println!("{} (zxid {:#x})", String::from_utf8_lossy(&config), stat.mzxid);
/// # Ok(()) }
/// ```
#[must_use = "nothing is sent until send()"]
#[derive(Debug)]
pub struct ReconfigBuilder<'a> {
    client: &'a Client,
    request: ReconfigRequest,
}

impl ReconfigBuilder<'_> {
    /// Servers to add, `server.N=host:port:port[:role];clientport` comma-separated.
    pub fn joining(mut self, servers: impl Into<String>) -> Self {
        self.request.joining_servers = servers.into();
        self
    }

    /// Server ids to remove, comma-separated.
    pub fn leaving(mut self, ids: impl Into<String>) -> Self {
        self.request.leaving_servers = ids.into();
        self
    }

    /// A whole new membership (non-incremental reconfig).
    pub fn new_members(mut self, servers: impl Into<String>) -> Self {
        self.request.new_members = servers.into();
        self
    }

    /// Only if the current config version is `version` (-1: any).
    pub fn from_config(mut self, version: i64) -> Self {
        self.request.cur_config_id = version;
        self
    }

    /// Reconfigures; yields the new configuration and its Stat.
    pub fn send(self) -> Pending<(Bytes, Stat)> {
        let slot = self
            .client
            .inner()
            .submit(Request::Reconfig(self.request), None);
        Pending::new(slot, |outcome| {
            data(outcome).map(|(config, stat)| (config.unwrap_or_default(), stat))
        })
    }
}

impl Client {
    /// Creates a node: `client.create("/a").data("x").ephemeral().send()`.
    pub fn create(&self, path: impl Into<String>) -> CreateBuilder<'_> {
        CreateBuilder {
            client: self,
            node: NewNode::new(path.into(), self.inner().default_acl.clone()),
            make_parents: false,
        }
    }

    /// Makes sure `path` exists, as kazoo's `ensure_path`: an existing
    /// path costs one read and no write (so an ancestor that denies CREATE
    /// does not matter); otherwise the client reads upwards to the deepest
    /// node that exists and creates the missing ones below it
    /// (persistent, with the default ACL). Under a chroot whose node is
    /// missing, `ensure_path("/")` or any path creates the chroot node too
    /// (its own parent must exist: nothing above the chroot is reachable).
    pub fn ensure_path(&self, path: impl Into<String>) -> Task<()> {
        self.ensure_path_with(&path.into(), self.inner().default_acl.clone())
    }

    /// Whether a node exists: its Stat, or `None`.
    pub fn exists(&self, path: impl Into<String>) -> ExistsBuilder<'_> {
        ExistsBuilder {
            client: self,
            path: path.into(),
            watch: WatchWith::None,
        }
    }

    /// A node's data and Stat.
    pub fn get(&self, path: impl Into<String>) -> GetBuilder<'_> {
        GetBuilder {
            client: self,
            path: path.into(),
            watch: WatchWith::None,
        }
    }

    /// A node's children (names, not paths).
    pub fn get_children(&self, path: impl Into<String>) -> GetChildrenBuilder<'_> {
        GetChildrenBuilder {
            client: self,
            path: path.into(),
            watch: WatchWith::None,
        }
    }

    /// Replaces a node's data.
    pub fn set(&self, path: impl Into<String>, data: impl Into<Bytes>) -> SetBuilder<'_> {
        SetBuilder {
            client: self,
            path: path.into(),
            data: Some(data.into()),
            version: -1,
        }
    }

    /// Deletes a node (optionally with its subtree).
    pub fn delete(&self, path: impl Into<String>) -> DeleteBuilder<'_> {
        DeleteBuilder {
            client: self,
            path: path.into(),
            version: -1,
            recursive: false,
        }
    }

    /// A node's ACL and Stat.
    pub fn get_acls(&self, path: impl Into<String>) -> Pending<(Vec<Acl>, Stat)> {
        let slot = self
            .inner()
            .submit(Request::GetAcl(PathRecord { path: path.into() }), None);
        Pending::new(slot, acls)
    }

    /// Replaces a node's ACL.
    pub fn set_acls(
        &self,
        path: impl Into<String>,
        acl: impl Into<Vec<Acl>>,
    ) -> SetAclsBuilder<'_> {
        SetAclsBuilder {
            client: self,
            path: path.into(),
            acl: acl.into(),
            version: -1,
        }
    }

    /// Adds credentials to the session (`"digest"`, `"user:password"`);
    /// they are sent again after every reconnect. Fails with `AuthFailed`
    /// (and ends the session) if the server rejects them.
    pub fn add_auth(
        &self,
        scheme: impl Into<String>,
        credential: impl Into<crate::Secret>,
    ) -> Pending<()> {
        let packet = crate::proto::AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: credential.into(),
        };
        let slot = self.inner().submit(Request::Auth(packet), None);
        Pending::new(slot, no_body)
    }

    /// Waits until the server this session uses has caught up with the
    /// leader on `path`; yields the path.
    pub fn sync(&self, path: impl Into<String>) -> Pending<String> {
        let slot = self
            .inner()
            .submit(Request::Sync(PathRecord { path: path.into() }), None);
        Pending::new(slot, synced)
    }

    /// Watches `path` until removed: with `Persistent`, changes to the node
    /// and its child list; with `PersistentRecursive`, changes to the node
    /// and every descendant (3.6+).
    pub fn add_watch(&self, path: impl Into<String>, mode: AddWatchMode) -> AddWatchBuilder<'_> {
        AddWatchBuilder {
            client: self,
            path: path.into(),
            mode,
        }
    }

    /// Removes this session's watches of kind `which` on `path`; their
    /// watchers get a *WatchRemoved event. `NoWatcher` if there were none.
    pub fn remove_watches(&self, path: impl Into<String>, which: WatcherType) -> Pending<()> {
        let slot = self.inner().submit(
            Request::RemoveWatches(WatchesRequest {
                path: path.into(),
                watcher_type: which,
            }),
            None,
        );
        Pending::new(slot, no_body)
    }

    /// The paths of this session's ephemeral nodes that start with
    /// `prefix` (`"/"` for all).
    pub fn get_ephemerals(&self, prefix: impl Into<String>) -> Pending<Vec<String>> {
        let slot = self.inner().submit(
            Request::GetEphemerals(PathRecord {
                path: prefix.into(),
            }),
            None,
        );
        Pending::new(slot, ephemerals)
    }

    /// The number of descendants of `path` (not counting itself).
    pub fn get_all_children_number(&self, path: impl Into<String>) -> Pending<i32> {
        let slot = self.inner().submit(
            Request::GetAllChildrenNumber(PathRecord { path: path.into() }),
            None,
        );
        Pending::new(slot, count)
    }

    /// Who the server thinks this session is (3.7+).
    pub fn whoami(&self) -> Pending<Vec<ClientInfo>> {
        let slot = self.inner().submit(Request::WhoAmI, None);
        Pending::new(slot, who)
    }

    /// Changes the ensemble's membership.
    pub fn reconfig(&self) -> ReconfigBuilder<'_> {
        ReconfigBuilder {
            client: self,
            request: ReconfigRequest {
                joining_servers: String::new(),
                leaving_servers: String::new(),
                new_members: String::new(),
                cur_config_id: -1,
            },
        }
    }

    // ----- helpers shared by the builders ---------------------------------

    /// Submits a request that passed the builder's checks, or completes at
    /// once with the check's error (nothing sent).
    pub(crate) fn submit_checked(&self, request: Result<Request, Error>) -> Arc<Slot<Outcome>> {
        match request {
            Ok(r) => self.inner().submit(r, None),
            Err(e) => {
                let slot = Slot::new();
                slot.fill(Err(e));
                slot
            }
        }
    }

    fn submit_create(&self, node: NewNode) -> Pending<(String, Stat)> {
        let request = node.build().map(|op| match op {
            super::ops::CreateOp::Plain(r) => Request::Create2(r),
            super::ops::CreateOp::Container(r) => Request::CreateContainer(r),
            super::ops::CreateOp::Ttl(r) => Request::CreateTtl(r),
        });
        Pending::new(self.submit_checked(request), created)
    }

    /// A create whose answer has no Stat: `first` (already sent), then,
    /// with `make_parents`, the parent and a second try after `NoNode`.
    async fn create_without_stat(
        &self,
        first: Pending<String>,
        node: NewNode,
        make_parents: bool,
    ) -> Result<String, Error> {
        let parent = path::parent(&node.path).to_owned();
        let acl = node.acl.clone();
        match first.await {
            Err(Error::NoNode) if make_parents && parent != "/" => {
                self.ensure_path_with(&parent, acl).await?;
                self.submit_old_create(node).await
            }
            other => other,
        }
    }

    fn submit_old_create(&self, node: NewNode) -> Pending<String> {
        let request = node.build().map(|op| match op {
            super::ops::CreateOp::Plain(r) => Request::Create(r),
            super::ops::CreateOp::Container(r) => Request::CreateContainer(r),
            super::ops::CreateOp::Ttl(r) => Request::CreateTtl(r),
        });
        Pending::new(self.submit_checked(request), created_path)
    }

    fn submit_delete(&self, path: String, version: i32) -> Pending<()> {
        let request = Ok(Request::Delete(PathVersion { path, version }));
        Pending::new(self.submit_checked(request), no_body)
    }

    /// [`ensure_path`](Client::ensure_path) with the ACL for what it creates.
    fn ensure_path_with(&self, path: &str, acl: Vec<Acl>) -> Task<()> {
        if let Err(e) = path::validate(path)
            .map_err(Error::from)
            .and_then(|()| check_acl(&acl))
        {
            return Task::new(async move { Err(e) });
        }
        let client = self.clone();
        let path = path.to_owned();
        // The first read goes out now, as every Task's first request does.
        let mut exists = client.exists(path.as_str()).send();
        Task::new(async move {
            // Upwards to the deepest node that exists ("/" is the chroot's
            // node, which may be missing)...
            let mut missing = Vec::new();
            let mut at = path.as_str();
            while exists.await?.is_none() {
                missing.push(at.to_owned());
                if at == "/" {
                    break;
                }
                at = path::parent(at);
                exists = client.exists(at).send();
            }
            // ...then down, creating what is missing. Someone else may
            // create a node meanwhile: that is fine.
            for node in missing.iter().rev() {
                match client.create_existing_ok(node, &acl).await {
                    Ok(()) | Err(Error::NodeExists) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
    }

    fn create_existing_ok(&self, path: &str, acl: &[Acl]) -> Pending<()> {
        let request = Request::Create(CreateRequest {
            path: path.to_owned(),
            data: Some(Bytes::new()),
            acl: acl.to_vec(),
            mode: CreateMode::Persistent,
        });
        Pending::new(self.inner().submit(request, None), no_body)
    }

    /// Deletes a subtree, depth first.
    fn delete_tree(&self, path: String, version: i32) -> Task<()> {
        let client = self.clone();
        let listing = client.get_children(path.as_str()).send();
        Task::new(async move {
            let children = listing.await?;
            let base = if path == "/" {
                String::new()
            } else {
                path.clone()
            };
            let subtrees: Vec<_> = children
                .into_iter()
                .map(|name| client.delete_tree(format!("{base}/{name}"), -1))
                .collect();
            for subtree in subtrees {
                match subtree.await {
                    Ok(()) | Err(Error::NoNode) => {}
                    Err(e) => return Err(e),
                }
            }
            if path == "/" {
                return Ok(());
            }
            client.submit_delete(path, version).await
        })
    }
}
