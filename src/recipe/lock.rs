//! kazoo's Lock, ReadLock and WriteLock: fair (first come, first served by
//! sequence number), not re-entrant, on kazoo's node layout
//! (`<uuid>__lock__<seq>`, `<uuid>__rlock__<seq>`), handing out a guard
//! that knows when it is lost and carries a fencing token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::error::check_identifier;
use super::held::{Holding, LossPolicy, LostFuture, Status};
use super::node::{child, lossy, transient, wait_retry, Cleanup, NodeStyle, OwnNode, Protected};
use super::sequence::{self, Contender};
use super::wait::{Cancel, Waiter, Woken};
use super::RecipeError;
use crate::client::{Client, Task, Transaction};
use crate::{path, Error};

/// kazoo's exclusive lock marker.
pub(crate) const LOCK: &str = "__lock__";
/// kazoo's shared (read) lock marker.
pub(crate) const RLOCK: &str = "__rlock__";

/// Which of kazoo's three lock classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Lock`: `__lock__` nodes, blocked by earlier `__lock__` (readers ignored).
    Exclusive,
    /// `ReadLock`: `__rlock__`, blocked by earlier `__lock__` only.
    Read,
    /// `WriteLock`: `__lock__`, blocked by every earlier `__lock__` or `__rlock__`.
    Write,
}

impl Kind {
    fn marker(self) -> &'static str {
        match self {
            Kind::Read => RLOCK,
            Kind::Exclusive | Kind::Write => LOCK,
        }
    }
}

/// A distributed lock on `path` (kazoo's `Lock`, or `ReadLock` /
/// `WriteLock`): exclusive, fair by arrival, not re-entrant.
///
/// Python kazoo processes using `Lock(path)` on the same path exclude and
/// are excluded by this one. Acquiring returns a [`LockGuard`]. A lock is
/// **not safe on its own**: a holder can pause past its session's expiry
/// and act after another holder was granted the lock. Fence every
/// protected action, either with the token checked by the resource
/// ([`LockGuard::fencing_token`]) or, for state kept in ZooKeeper, with a
/// fenced transaction ([`LockGuard::fence`]).
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// # client.create("/app/state").make_parents().send().wait()?;
/// let lock = client.lock("/app/lock").id("worker-1");
/// let guard = lock.acquire().wait()?;
/// assert_eq!(lock.contenders().wait()?, ["worker-1"]);
/// let tx = guard.fence(client.transaction()).set("/app/state", "written under the lock");
/// tx.commit().wait()?; // fails if the lock node is gone
/// guard.release().wait()?;
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Clone)]
pub struct Lock {
    client: Client,
    path: String,
    id: String,
    kind: Kind,
    style: NodeStyle,
    policy: LossPolicy,
    extra_markers: Vec<String>,
    cancel: Arc<Cancel>,
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// kazoo's `Lock(path)`: an exclusive lock (see [`Lock`]).
    pub fn lock(&self, path: impl Into<String>) -> Lock {
        Lock::new(self, path.into(), Kind::Exclusive)
    }

    /// kazoo's `ReadLock(path)`: shared with other readers, excluded by
    /// writers (and by `Lock`s) that came first.
    pub fn read_lock(&self, path: impl Into<String>) -> Lock {
        Lock::new(self, path.into(), Kind::Read)
    }

    /// kazoo's `WriteLock(path)`: excludes readers and writers.
    pub fn write_lock(&self, path: impl Into<String>) -> Lock {
        Lock::new(self, path.into(), Kind::Write)
    }
}

/// How long to wait for a lock.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    Blocking,
    Try,
    Until(Instant),
}

impl Lock {
    pub(crate) fn new(client: &Client, path: String, kind: Kind) -> Lock {
        Lock::with_cancel(client, path, kind, Arc::default())
    }

    /// A lock cancelled with another recipe (a semaphore's helper lock).
    pub(crate) fn with_cancel(
        client: &Client,
        path: String,
        kind: Kind,
        cancel: Arc<Cancel>,
    ) -> Lock {
        Lock {
            client: client.clone(),
            path,
            id: String::new(),
            kind,
            style: NodeStyle::default(),
            policy: LossPolicy::default(),
            extra_markers: Vec::new(),
            cancel,
        }
    }

    /// The identifier stored in the own node (kazoo's `identifier`),
    /// listed by [`contenders`](Lock::contenders). No `/` or NUL.
    pub fn id(mut self, id: impl Into<String>) -> Lock {
        self.id = id.into();
        self
    }

    /// How a suspended connection affects [`LockGuard::status`].
    pub fn policy(mut self, policy: LossPolicy) -> Lock {
        self.policy = policy;
        self
    }

    /// How the own node's unique prefix is spelled (kazoo's by default).
    pub fn style(mut self, style: NodeStyle) -> Lock {
        self.style = style;
        self
    }

    /// Also treat children ending in `<marker><sequence>` as contenders
    /// (kazoo's `extra_lock_patterns`, e.g. `-lock-` for go-zookeeper).
    pub fn extra_marker(mut self, marker: impl Into<String>) -> Lock {
        self.extra_markers.push(marker.into());
        self
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The same lock on another handle of the client.
    pub(crate) fn on(mut self, client: &Client) -> Lock {
        self.client = client.clone();
        self
    }

    /// Waits until the lock is held.
    pub fn acquire(&self) -> Task<LockGuard> {
        self.cancel.reset();
        let lock = self.clone();
        Task::new(async move { lock.run(Mode::Blocking).await?.ok_or(Error::LockTimeout) })
    }

    /// Takes the lock only if no one is ahead: `None` otherwise (and no
    /// node is left behind).
    pub fn try_acquire(&self) -> Task<Option<LockGuard>> {
        self.cancel.reset();
        let lock = self.clone();
        Task::new(async move { lock.run(Mode::Try).await })
    }

    /// Waits at most `timeout` (on the session's clock); fails with
    /// [`Error::LockTimeout`] and leaves no node behind.
    pub fn acquire_timeout(&self, timeout: Duration) -> Task<LockGuard> {
        self.cancel.reset();
        let lock = self.clone();
        Task::new(async move {
            let at = crate::session::deadline_after(lock.client.inner().now(), timeout);
            lock.run(Mode::Until(at)).await?.ok_or(Error::LockTimeout)
        })
    }

    /// Makes every waiting acquire of this lock (and its clones) fail with
    /// [`Error::Cancelled`], leaving no node behind. An acquire called
    /// later clears it. In async code, dropping the acquire future does
    /// the same.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The identifiers of every contender, holder first (kazoo's order:
    /// by sequence number; a `Lock` lists only `__lock__` nodes, a
    /// `ReadLock` or `WriteLock` both kinds).
    pub fn contenders(&self) -> Task<Vec<String>> {
        let lock = self.clone();
        Task::new(async move {
            path::validate(&lock.path)?;
            let children = match lock.client.get_children(&lock.path).send().await {
                Err(Error::NoNode) => return Ok(Vec::new()),
                other => other?,
            };
            let markers = lock.markers();
            let mut ids = Vec::new();
            for c in sequence::contenders(&children, &markers) {
                if lock.kind == Kind::Exclusive && c.marker == 1 {
                    continue; // a plain Lock does not see readers
                }
                match lock.client.get(child(&lock.path, &c.name)).send().await {
                    Ok((data, _)) => ids.push(lossy(data)),
                    Err(Error::NoNode) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(ids)
        })
    }

    /// `[__lock__, __rlock__, extras…]`: the markers children are parsed with.
    fn markers(&self) -> Vec<&str> {
        let mut m = vec![LOCK, RLOCK];
        m.extend(self.extra_markers.iter().map(String::as_str));
        m
    }

    /// True if a contender with `marker` (an index into `markers`) ahead
    /// of us keeps us waiting.
    fn blocked_by(&self, marker: usize) -> bool {
        match self.kind {
            Kind::Write => true,
            Kind::Exclusive | Kind::Read => marker != 1,
        }
    }

    fn check(&self) -> Result<(), Error> {
        path::validate(&self.path)?;
        check_identifier(&self.id)?;
        for m in &self.extra_markers {
            if m.is_empty() {
                return Err(RecipeError::OutOfRange {
                    what: "extra_marker",
                    reason: "must not be empty",
                }
                .into());
            }
            check_identifier(m)?;
        }
        Ok(())
    }

    /// The acquire loop; `None` only for `Mode::Try` when someone is ahead.
    /// The cancel flag is left as it is: the public calls clear it when
    /// called, so a cancel that races a start is never lost.
    pub(crate) async fn run(&self, mode: Mode) -> Result<Option<LockGuard>, Error> {
        self.check()?;
        let deadline = match mode {
            Mode::Until(at) => Some(at),
            Mode::Blocking | Mode::Try => None,
        };
        let mut waiter = Waiter::new(&self.client, deadline, Some(self.cancel.clone()));
        let timed_out = |e: Error| {
            if e == Error::Timeout {
                Error::LockTimeout
            } else {
                e
            }
        };
        check_parent(&self.client, &self.path, &mut waiter)
            .await
            .map_err(timed_out)?;
        loop {
            let protected = Protected::new(
                &self.client,
                &self.path,
                self.style,
                self.kind.marker(),
                Bytes::from(self.id.clone()),
            );
            let cleanup = Cleanup::new(&self.client, &protected);
            let node = protected
                .create(&self.client, &mut waiter)
                .await
                .map_err(timed_out)?;
            match self
                .wait_turn(&node, mode, &mut waiter)
                .await
                .map_err(timed_out)?
            {
                Turn::Ours => {
                    cleanup.disarm();
                    let seq = sequence::parse(node.name(), &[self.kind.marker()])
                        .map(|c| c.seq)
                        .ok_or_else(|| RecipeError::BadNodeName(node.name().to_owned()))?;
                    return Ok(Some(LockGuard {
                        holding: Holding::new(&self.client, node, self.policy),
                        sequence: seq,
                    }));
                }
                Turn::Busy => {
                    cleanup.now(&node.path).await;
                    return Ok(None);
                }
                // The node went with its session: queue again at the back.
                Turn::NodeGone => continue,
            }
        }
    }

    /// Waits until no contender that blocks us is ahead of `node`.
    async fn wait_turn(
        &self,
        node: &OwnNode,
        mode: Mode,
        waiter: &mut Waiter,
    ) -> Result<Turn, Error> {
        let markers = self.markers();
        loop {
            if waiter.cancelled() {
                return Err(Error::Cancelled);
            }
            let children = match waiter
                .bounded(self.client.get_children(&self.path).send())
                .await
            {
                Ok(c) => c,
                Err(e) if transient(&e) => {
                    wait_retry(waiter).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let all = sequence::contenders(&children, &markers);
            let Some(me) = all.iter().position(|c| c.name == node.name()) else {
                return Ok(Turn::NodeGone);
            };
            // Granted only to the session that owns the node
            // (RECIPES.md §3: never a node of an older session).
            if node.stat.ephemeral_owner != self.client.session_id() {
                return Ok(Turn::NodeGone);
            }
            let ahead: Option<&Contender> =
                all[..me].iter().rev().find(|c| self.blocked_by(c.marker));
            let Some(ahead) = ahead else {
                return Ok(Turn::Ours);
            };
            if let Mode::Try = mode {
                return Ok(Turn::Busy);
            }
            // Watch only the one just ahead (no herd).
            let (stat, watch) = self
                .client
                .exists(child(&self.path, &ahead.name))
                .send_watched();
            match waiter.bounded(stat).await {
                Ok(None) => continue,
                Ok(Some(_)) => {}
                Err(e) if transient(&e) => {
                    wait_retry(waiter).await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            match waiter.wait(Some(watch)).await {
                Woken::Cancelled => return Err(Error::Cancelled),
                Woken::Deadline => return Err(Error::Timeout),
                // Whatever woke us, look again from scratch.
                Woken::Watch | Woken::State | Woken::Paused => {}
            }
        }
    }
}

/// How a wait for our turn ended.
enum Turn {
    Ours,
    Busy,
    NodeGone,
}

/// Makes sure `path` exists and is not ephemeral (an ephemeral node
/// cannot have contender children).
pub(crate) async fn check_parent(
    client: &Client,
    path: &str,
    waiter: &mut Waiter,
) -> Result<(), Error> {
    loop {
        let result = waiter
            .bounded(async {
                client.ensure_path(path).await?;
                client.exists(path).send().await
            })
            .await;
        match result {
            Ok(Some(stat)) if stat.ephemeral_owner != 0 => {
                return Err(RecipeError::EphemeralParent(path.to_owned()).into())
            }
            Ok(_) => return Ok(()),
            Err(e) if transient(&e) => wait_retry(waiter).await?,
            Err(e) => return Err(e),
        }
    }
}

/// A held lock. Dropping it releases the lock in the background (only
/// while its session is still the current one; otherwise the server has
/// removed the node with the session).
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    holding: Holding,
    sequence: i32,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("path", &self.path())
            .field("fencing_token", &self.fencing_token())
            .finish_non_exhaustive()
    }
}

impl LockGuard {
    /// The fencing token: the own node's creation zxid. 64-bit, larger for
    /// every later grant of any lock on the ensemble, never reused (the
    /// sequence number wraps and restarts with the parent, so it is not a
    /// token). Give it to the protected resource, which refuses anything
    /// older than the newest token it has seen.
    pub fn fencing_token(&self) -> i64 {
        self.holding.node().stat.czxid
    }

    /// The own node's full path.
    pub fn path(&self) -> &str {
        &self.holding.node().path
    }

    /// The own node's sequence number.
    pub fn sequence(&self) -> i32 {
        self.sequence
    }

    /// What the holder may conclude now (see [`Status`]).
    pub fn status(&self) -> Status {
        self.holding.status()
    }

    /// Completes when the lock is (maybe) lost: the connection suspended
    /// (under [`LossPolicy::Standard`]), the session lost or replaced, or
    /// the own node deleted by someone else.
    pub fn lost(&self) -> LostFuture {
        self.holding.lost()
    }

    /// `tx` with a check of the own node before its operations: it
    /// commits only while the lock node exists, so writes to ZooKeeper
    /// made through it are fenced.
    pub fn fence<'a>(&self, tx: impl Into<Transaction<'a>>) -> Transaction<'a> {
        tx.into().fenced_by(self.path())
    }

    /// Releases the lock (deletes the own node, retrying through
    /// connection loss). Fails with [`RecipeError::Lost`] if the lock had
    /// been lost before (nothing is left behind either way).
    pub fn release(self) -> Task<()> {
        Task::new(self.holding.release())
    }
}
