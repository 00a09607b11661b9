//! kazoo's Semaphore: at most `max_leases` holders at once, on kazoo's
//! layout (the lease pool `path` holding `str(max_leases)`, one ephemeral
//! `path/<uuid>` per lease, and a helper lock at the sibling
//! `path-__lock__` that queues the waiters fairly).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::error::check_identifier;
use super::held::{Holding, LossPolicy, LostFuture, Status};
use super::lock::{Kind, Lock, Mode};
use super::node::{child, transient, wait_retry, Protected};
use super::wait::{Cancel, Waiter, Woken};
use super::RecipeError;
use crate::client::{Client, Task, Transaction};
use crate::{path, Error};

/// A counting semaphore on `path` (kazoo's `Semaphore`): up to
/// `max_leases` holders at once, waiters served in arrival order.
///
/// Every participant must agree on `max_leases`: the first one stores it
/// in the pool node and a different value is refused with
/// [`RecipeError::MaxLeasesMismatch`].
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// let sem = client.semaphore("/app/slots", 3).id("worker-1");
/// let lease = sem.acquire().wait()?;
/// // at most 3 processes are here at once
/// assert_eq!(sem.lease_holders().wait()?, ["worker-1"]);
/// lease.release().wait()?;
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Clone)]
pub struct Semaphore {
    client: Client,
    path: String,
    max_leases: u32,
    id: String,
    policy: LossPolicy,
    cancel: Arc<Cancel>,
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("path", &self.path)
            .field("max_leases", &self.max_leases)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// kazoo's `Semaphore(path, max_leases=…)` (see [`Semaphore`]).
    pub fn semaphore(&self, path: impl Into<String>, max_leases: u32) -> Semaphore {
        Semaphore {
            client: self.clone(),
            path: path.into(),
            max_leases,
            id: String::new(),
            policy: LossPolicy::default(),
            cancel: Arc::default(),
        }
    }
}

impl Semaphore {
    /// The identifier stored in the lease node (listed by
    /// [`lease_holders`](Semaphore::lease_holders)). No `/` or NUL.
    pub fn id(mut self, id: impl Into<String>) -> Semaphore {
        self.id = id.into();
        self
    }

    /// How a suspended connection affects [`Lease::status`].
    pub fn policy(mut self, policy: LossPolicy) -> Semaphore {
        self.policy = policy;
        self
    }

    /// Waits for a lease.
    pub fn acquire(&self) -> Task<Lease> {
        self.cancel.reset();
        let s = self.clone();
        Task::new(async move { s.run(Mode::Blocking).await?.ok_or(Error::LockTimeout) })
    }

    /// Takes a lease only if one is free now (`None` otherwise).
    pub fn try_acquire(&self) -> Task<Option<Lease>> {
        self.cancel.reset();
        let s = self.clone();
        Task::new(async move { s.run(Mode::Try).await })
    }

    /// Waits at most `timeout`; [`Error::LockTimeout`] then, and nothing
    /// is left behind.
    pub fn acquire_timeout(&self, timeout: Duration) -> Task<Lease> {
        self.cancel.reset();
        let s = self.clone();
        Task::new(async move {
            let at = crate::session::deadline_after(s.client.inner().now(), timeout);
            s.run(Mode::Until(at)).await?.ok_or(Error::LockTimeout)
        })
    }

    /// Makes waiting acquires fail with [`Error::Cancelled`] (a later
    /// acquire clears it).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The identifiers of the current lease holders, unordered (empty if
    /// the semaphore does not exist).
    pub fn lease_holders(&self) -> Task<Vec<String>> {
        let s = self.clone();
        Task::new(async move {
            path::validate(&s.path)?;
            let children = match s.client.get_children(&s.path).send().await {
                Err(Error::NoNode) => return Ok(Vec::new()),
                other => other?,
            };
            let mut ids = Vec::new();
            for name in children {
                match s.client.get(child(&s.path, &name)).send().await {
                    Ok((data, _)) => ids.push(super::node::lossy(data)),
                    Err(Error::NoNode) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(ids)
        })
    }

    fn check(&self) -> Result<(), Error> {
        path::validate(&self.path)?;
        if self.path == "/" {
            return Err(RecipeError::OutOfRange {
                what: "path",
                reason: "a semaphore needs a path below the root",
            }
            .into());
        }
        check_identifier(&self.id)?;
        if self.max_leases == 0 {
            return Err(RecipeError::OutOfRange {
                what: "max_leases",
                reason: "must be at least 1",
            }
            .into());
        }
        Ok(())
    }

    /// Creates the pool node with `max_leases`, or checks the stored one.
    async fn ensure_pool(&self, waiter: &mut Waiter) -> Result<(), Error> {
        loop {
            let created = self
                .client
                .create(&self.path)
                .data(self.max_leases.to_string())
                .make_parents()
                .send();
            let existing = match waiter.bounded(created).await {
                Ok(_) => return Ok(()),
                Err(Error::NodeExists) => waiter.bounded(self.client.get(&self.path).send()).await,
                Err(e) => Err(e),
            };
            match existing {
                Ok((data, stat)) => {
                    if stat.ephemeral_owner != 0 {
                        return Err(RecipeError::EphemeralParent(self.path.clone()).into());
                    }
                    // kazoo ignores data that is not a number.
                    let stored = std::str::from_utf8(data.as_deref().unwrap_or_default())
                        .ok()
                        .and_then(|s| s.trim().parse::<i64>().ok());
                    return match stored {
                        Some(n) if n != i64::from(self.max_leases) => {
                            Err(RecipeError::MaxLeasesMismatch {
                                stored: n,
                                asked: self.max_leases,
                            }
                            .into())
                        }
                        _ => Ok(()),
                    };
                }
                Err(Error::NoNode) => continue, // deleted in between
                Err(e) if transient(&e) => wait_retry(waiter).await?,
                Err(e) => return Err(e),
            }
        }
    }

    async fn run(&self, mode: Mode) -> Result<Option<Lease>, Error> {
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
        self.ensure_pool(&mut waiter).await.map_err(timed_out)?;
        // Waiters queue on the helper lock; its holder takes the next lease.
        let helper = Lock::with_cancel(
            &self.client,
            format!("{}-__lock__", self.path),
            Kind::Exclusive,
            self.cancel.clone(),
        )
        .id(self.id.clone());
        let Some(turn) = helper.run(mode).await? else {
            return Ok(None);
        };
        let lease = self.take_lease(mode, &mut waiter).await.map_err(timed_out);
        // The helper lock is only a queue: its release result is not ours.
        let _ = turn.release().await;
        lease
    }

    /// With the helper lock held: waits until fewer than `max_leases`
    /// leases exist, then creates ours.
    async fn take_lease(&self, mode: Mode, waiter: &mut Waiter) -> Result<Option<Lease>, Error> {
        let protected =
            Protected::named(&self.client, &self.path, "", Bytes::from(self.id.clone()));
        let cleanup = super::node::Cleanup::new(&self.client, &protected);
        loop {
            if waiter.cancelled() {
                return Err(Error::Cancelled);
            }
            let (children, watch) = self.client.get_children(&self.path).send_watched();
            let children = match waiter.bounded(children).await {
                Ok(c) => c,
                Err(e) if transient(&e) => {
                    wait_retry(waiter).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if children.len() < self.max_leases as usize {
                drop(watch);
                let node = protected.create(&self.client, waiter).await?;
                cleanup.disarm();
                return Ok(Some(Lease {
                    holding: Holding::new(&self.client, node, self.policy),
                }));
            }
            if let Mode::Try = mode {
                return Ok(None);
            }
            match waiter.wait(Some(watch)).await {
                Woken::Cancelled => return Err(Error::Cancelled),
                Woken::Deadline => return Err(Error::Timeout),
                Woken::Watch | Woken::State | Woken::Paused => {}
            }
        }
    }
}

/// A held semaphore lease. Dropping it releases the lease in the
/// background (while its session is still the current one).
#[must_use = "dropping the lease releases it"]
pub struct Lease {
    holding: Holding,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("path", &self.path())
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// The lease node's creation zxid: a fencing token (see
    /// [`LockGuard::fencing_token`](super::LockGuard::fencing_token)).
    pub fn fencing_token(&self) -> i64 {
        self.holding.node().stat.czxid
    }

    /// The lease node's full path.
    pub fn path(&self) -> &str {
        &self.holding.node().path
    }

    /// What the holder may conclude now (see [`Status`]).
    pub fn status(&self) -> Status {
        self.holding.status()
    }

    /// Completes when the lease is (maybe) lost.
    pub fn lost(&self) -> LostFuture {
        self.holding.lost()
    }

    /// `tx` with a check of the lease node first (see
    /// [`LockGuard::fence`](super::LockGuard::fence)).
    pub fn fence<'a>(&self, tx: impl Into<Transaction<'a>>) -> Transaction<'a> {
        tx.into().fenced_by(self.path())
    }

    /// Gives the lease back; [`RecipeError::Lost`] if it had been lost.
    pub fn release(self) -> Task<()> {
        Task::new(self.holding.release())
    }
}
