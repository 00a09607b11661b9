//! kazoo's Barrier (callers wait until a node is gone) and DoubleBarrier
//! (a fixed number of members enter together and leave together), with
//! waits that re-check after any wake-up, a watch dropped by a reconnect
//! included.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::error::check_identifier;
use super::lock::check_parent;
use super::node::{child, retrying, transient, wait_retry, Cleanup, OwnNode, Protected};
use super::wait::{deadline_in, Waiter, Woken};
use crate::client::{Client, Task};
use crate::{path, Error};

/// kazoo's `Barrier(path)`: the barrier is up while the node `path`
/// exists; [`wait`](Barrier::wait) returns once it is removed.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// let barrier = client.barrier("/app/gate");
/// barrier.create().wait()?;
/// assert_eq!(
///     barrier.wait_timeout(std::time::Duration::from_millis(50)).wait(),
///     Err(kazoo::Error::Timeout)
/// );
/// assert!(barrier.remove().wait()?);
/// barrier.wait().wait()?; // passes at once
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Client {
    /// kazoo's `Barrier(path)` (see [`Barrier`]).
    pub fn barrier(&self, path: impl Into<String>) -> Barrier {
        Barrier {
            client: self.clone(),
            path: path.into(),
        }
    }

    /// kazoo's `DoubleBarrier(path, num_clients)` (see [`DoubleBarrier`]).
    pub fn double_barrier(&self, path: impl Into<String>, members: usize) -> DoubleBarrier {
        DoubleBarrier {
            client: self.clone(),
            path: path.into(),
            members,
            id: String::new(),
            node: Arc::default(),
        }
    }
}

impl Barrier {
    /// Puts the barrier up (creates the node and its parents; already up
    /// is fine).
    pub fn create(&self) -> Task<()> {
        let b = self.clone();
        Task::new(async move {
            let mut waiter = Waiter::new(&b.client, None, None);
            retrying(&mut waiter, || b.client.ensure_path(&b.path)).await
        })
    }

    /// Takes the barrier down: `true` if this call removed it, `false` if
    /// it was not up.
    pub fn remove(&self) -> Task<bool> {
        let b = self.clone();
        Task::new(async move {
            path::validate(&b.path)?;
            let mut waiter = Waiter::new(&b.client, None, None);
            retrying(&mut waiter, || async {
                match b.client.delete(&b.path).send().await {
                    Ok(()) => Ok(true),
                    Err(Error::NoNode) => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await
        })
    }

    /// Waits until the barrier is down.
    pub fn wait(&self) -> Task<()> {
        let b = self.clone();
        Task::new(async move { b.wait_until(None).await })
    }

    /// [`wait`](Barrier::wait), at most `timeout` ([`Error::Timeout`]
    /// then).
    pub fn wait_timeout(&self, timeout: Duration) -> Task<()> {
        let b = self.clone();
        let at = deadline_in(&b.client, timeout);
        Task::new(async move { b.wait_until(Some(at)).await })
    }

    async fn wait_until(&self, deadline: Option<Instant>) -> Result<(), Error> {
        path::validate(&self.path)?;
        let mut waiter = Waiter::new(&self.client, deadline, None);
        loop {
            let (stat, watch) = self.client.exists(&self.path).send_watched();
            match waiter.bounded(stat).await {
                Ok(None) => return Ok(()),
                Ok(Some(_)) => {}
                Err(e) if transient(&e) => {
                    wait_retry(&mut waiter).await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            // Woken by the delete, a state change (the watch may be gone
            // with the connection) or anything else: look again.
            if waiter.wait(Some(watch)).await == Woken::Deadline {
                return Err(Error::Timeout);
            }
        }
    }
}

/// kazoo's `DoubleBarrier(path, num_clients, identifier)`: `members`
/// processes [`enter`](DoubleBarrier::enter) (each waits until all have
/// arrived), work, then [`leave`](DoubleBarrier::leave) (each waits until
/// all are done).
///
/// kazoo's layout: each member is an ephemeral `path/<uuid-hex>` holding
/// its identifier; the last to arrive creates `path/ready`. Python
/// kazoo processes can be members of the same barrier.
#[derive(Clone)]
pub struct DoubleBarrier {
    client: Client,
    path: String,
    members: usize,
    id: String,
    /// The own member node while entered.
    node: Arc<Mutex<Option<OwnNode>>>,
}

impl std::fmt::Debug for DoubleBarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoubleBarrier")
            .field("path", &self.path)
            .field("members", &self.members)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// kazoo's node that says every member has entered.
const READY: &str = "ready";

impl DoubleBarrier {
    /// The identifier stored in the member node (kazoo's `identifier`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Whether this member has entered and not yet left (kazoo's
    /// `participating`).
    pub fn participating(&self) -> bool {
        self.own().is_some()
    }

    fn own(&self) -> Option<OwnNode> {
        self.node
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_own(&self, node: Option<OwnNode>) {
        *self.node.lock().unwrap_or_else(PoisonError::into_inner) = node;
    }

    /// Joins and waits until all `members` have joined.
    pub fn enter(&self) -> Task<()> {
        let b = self.clone();
        Task::new(async move { b.enter_until(None).await })
    }

    /// [`enter`](DoubleBarrier::enter), at most `timeout`
    /// ([`Error::Timeout`] then, and the member node is removed).
    pub fn enter_timeout(&self, timeout: Duration) -> Task<()> {
        let b = self.clone();
        let at = deadline_in(&b.client, timeout);
        Task::new(async move { b.enter_until(Some(at)).await })
    }

    /// Leaves and waits until every member has left.
    pub fn leave(&self) -> Task<()> {
        let b = self.clone();
        Task::new(async move { b.leave_until(None).await })
    }

    /// [`leave`](DoubleBarrier::leave), at most `timeout`
    /// ([`Error::Timeout`] then; this member has left or will, the
    /// others may still be working).
    pub fn leave_timeout(&self, timeout: Duration) -> Task<()> {
        let b = self.clone();
        let at = deadline_in(&b.client, timeout);
        Task::new(async move { b.leave_until(Some(at)).await })
    }

    fn ready_path(&self) -> String {
        child(&self.path, READY)
    }

    async fn enter_until(&self, deadline: Option<Instant>) -> Result<(), Error> {
        check_identifier(&self.id)?;
        path::validate(&self.path)?;
        if self.members == 0 {
            return Err(super::RecipeError::OutOfRange {
                what: "members",
                reason: "a double barrier needs at least one member",
            }
            .into());
        }
        if self.participating() {
            return Ok(());
        }
        let mut waiter = Waiter::new(&self.client, deadline, None);
        check_parent(&self.client, &self.path, &mut waiter).await?;
        'member: loop {
            let protected =
                Protected::named(&self.client, &self.path, "", Bytes::from(self.id.clone()));
            let cleanup = Cleanup::new(&self.client, &protected);
            let node = protected.create(&self.client, &mut waiter).await?;
            loop {
                match self.all_here(&node, &mut waiter).await {
                    Ok(Some(true)) => {
                        cleanup.disarm();
                        self.set_own(Some(node));
                        return Ok(());
                    }
                    // Our node went with its session: join again.
                    Ok(None) => continue 'member,
                    Ok(Some(false)) => {}
                    Err(e) if transient(&e) => wait_retry(&mut waiter).await?,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// One look: `Some(true)` when everyone is here, `Some(false)` after
    /// a wait (look again), `None` if our own node is gone.
    async fn all_here(&self, node: &OwnNode, waiter: &mut Waiter) -> Result<Option<bool>, Error> {
        let (ready, watch) = self.client.exists(self.ready_path()).send_watched();
        if waiter.bounded(ready).await?.is_some() {
            return Ok(Some(true));
        }
        let children = waiter
            .bounded(self.client.get_children(&self.path).send())
            .await?;
        let members: Vec<&String> = children.iter().filter(|c| *c != READY).collect();
        if !members.iter().any(|c| c.as_str() == node.name()) {
            return Ok(None);
        }
        if members.len() >= self.members {
            let made = self.client.create(self.ready_path()).send();
            match waiter.bounded(made).await {
                Ok(_) | Err(Error::NodeExists) => return Ok(Some(true)),
                Err(e) => return Err(e),
            }
        }
        match waiter.wait(Some(watch)).await {
            Woken::Deadline => Err(Error::Timeout),
            Woken::Cancelled => Err(Error::Cancelled),
            Woken::Watch | Woken::State | Woken::Paused => Ok(Some(false)),
        }
    }

    async fn leave_until(&self, deadline: Option<Instant>) -> Result<(), Error> {
        path::validate(&self.path)?;
        let mut waiter = Waiter::new(&self.client, deadline, None);
        let own = self.own();
        let me = own.as_ref().map(|n| n.name().to_owned());
        retrying(&mut waiter, || async {
            match self.client.delete(self.ready_path()).send().await {
                Ok(()) | Err(Error::NoNode) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await?;
        loop {
            match self.one_leave_step(me.as_deref(), &mut waiter).await {
                Ok(true) => {
                    self.set_own(None);
                    return Ok(());
                }
                Ok(false) => {}
                Err(e) if transient(&e) => wait_retry(&mut waiter).await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// kazoo's leave loop, one round: `true` once everyone has left.
    /// The lowest member leaves last, after the highest; every other
    /// member deletes its node, then waits for the lowest.
    async fn one_leave_step(&self, me: Option<&str>, waiter: &mut Waiter) -> Result<bool, Error> {
        let mut children: Vec<String> = waiter
            .bounded(self.client.get_children(&self.path).send())
            .await?
            .into_iter()
            .filter(|c| c != READY)
            .collect();
        if children.is_empty() {
            return Ok(true);
        }
        children.sort();
        let delete_me = || async {
            if let Some(me) = me {
                match self.client.delete(child(&self.path, me)).send().await {
                    Ok(()) | Err(Error::NoNode) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        };
        if children.len() == 1 && Some(children[0].as_str()) == me {
            waiter.bounded(delete_me()).await?;
            return Ok(true);
        }
        let awaited = if Some(children[0].as_str()) == me {
            children[children.len() - 1].clone()
        } else {
            waiter.bounded(delete_me()).await?;
            children[0].clone()
        };
        let (stat, watch) = self
            .client
            .exists(child(&self.path, &awaited))
            .send_watched();
        if waiter.bounded(stat).await?.is_none() {
            return Ok(false);
        }
        match waiter.wait(Some(watch)).await {
            Woken::Deadline => Err(Error::Timeout),
            Woken::Cancelled => Err(Error::Cancelled),
            Woken::Watch | Woken::State | Woken::Paused => Ok(false),
        }
    }
}
