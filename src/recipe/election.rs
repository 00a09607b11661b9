//! kazoo's Election (a lock whose holder is the leader, same node layout)
//! and a leader latch that stays in the election: leadership granted only
//! to the session that owns the winning node, kept through a suspension
//! that ends in time, and re-entered with a new node after a real loss.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use super::held::{LossPolicy, LostFuture, Status};
use super::lock::{Kind, Lock, LockGuard};
use crate::client::{Client, Task};
use crate::Error;

/// kazoo's `Election(path, identifier)`: contenders queue on a [`Lock`]
/// at `path`; the holder is the leader.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// let election = client.election("/app/leader").id("node-1");
/// election.run(|leadership| {
///     // leading, until this returns
///     assert_eq!(leadership.status(), kazoo::recipe::Status::Held);
/// }).wait()?;
///
/// // A latch stays in the election until closed.
/// let latch = client.leader_latch("/app/leader").id("node-1").start();
/// latch.await_leadership().wait()?;
/// assert!(latch.has_leadership());
/// latch.close().wait()?;
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Election {
    lock: Lock,
}

impl Client {
    /// kazoo's `Election(path)` (see [`Election`]).
    pub fn election(&self, path: impl Into<String>) -> Election {
        Election {
            lock: Lock::new(self, path.into(), Kind::Exclusive),
        }
    }

    /// A [`LeaderLatch`] builder for `path` (kazoo's election layout).
    pub fn leader_latch(&self, path: impl Into<String>) -> Election {
        self.election(path)
    }
}

impl Election {
    /// The identifier contenders see (kazoo's `identifier`).
    pub fn id(mut self, id: impl Into<String>) -> Election {
        self.lock = self.lock.id(id);
        self
    }

    /// How a suspended connection affects the leadership's status.
    pub fn policy(mut self, policy: LossPolicy) -> Election {
        self.lock = self.lock.policy(policy);
        self
    }

    /// Waits until elected: the leadership is the lock guard (its
    /// [`lost`](LockGuard::lost) future says when leadership may be over).
    pub fn elect(&self) -> Task<LockGuard> {
        self.lock.acquire()
    }

    /// [`elect`](Election::elect), waiting at most `timeout`
    /// ([`Error::LockTimeout`] then, and no node is left behind).
    pub fn elect_timeout(&self, timeout: Duration) -> Task<LockGuard> {
        self.lock.acquire_timeout(timeout)
    }

    /// Waits until elected, runs `leader` with the leadership, then steps
    /// down (kazoo's `run`). `leader` runs on the thread or task that
    /// waits for this: keep it short in async code, or use
    /// [`elect`](Election::elect).
    pub fn run<T, F>(&self, leader: F) -> Task<T>
    where
        F: FnOnce(&LockGuard) -> T + Send + 'static,
        T: Send + 'static,
    {
        let elected = self.lock.acquire();
        Task::new(async move {
            let guard = elected.await?;
            let out = leader(&guard);
            // Stepping down after a loss is not the caller's failure.
            match guard.release().await {
                Ok(()) | Err(Error::Recipe(super::RecipeError::Lost)) => Ok(out),
                Err(e) => Err(e),
            }
        })
    }

    /// Ends waiting `elect` and `run` calls ([`Error::Cancelled`]); a
    /// running leader is not interrupted.
    pub fn cancel(&self) {
        self.lock.cancel();
    }

    /// The contenders' identifiers, the leader first.
    pub fn contenders(&self) -> Task<Vec<String>> {
        self.lock.contenders()
    }

    /// Joins the election for good: a [`LeaderLatch`] that leads whenever
    /// its node is first, until closed.
    pub fn start(&self) -> LeaderLatch {
        LeaderLatch::start(self.lock.clone())
    }
}

/// What a latch shares with its background task.
#[derive(Default)]
struct Latch {
    /// The current leadership, if this latch's node is first.
    guard: Mutex<Option<LockGuard>>,
    closed: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl Latch {
    fn changed(&self) {
        let wakers =
            std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        for w in wakers {
            w.wake();
        }
    }

    fn status(&self) -> Option<Status> {
        let guard = self.guard.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(LockGuard::status)
    }
}

/// Stays in an election until closed (Curator's LeaderLatch, on kazoo's
/// node layout). Leadership is granted only when the first node belongs
/// to the current session; a suspension makes
/// [`has_leadership`](LeaderLatch::has_leadership) false until the same
/// session is back (the node is kept, so flaps do not reshuffle the
/// queue); after a lost or replaced session the latch joins again with a
/// new node, at the back. Dropping it (or [`close`](LeaderLatch::close))
/// leaves the election.
pub struct LeaderLatch {
    client: Client,
    latch: Arc<Latch>,
    lock: Lock,
}

impl std::fmt::Debug for LeaderLatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderLatch")
            .field("path", &self.lock.path())
            .field("leader", &self.has_leadership())
            .finish_non_exhaustive()
    }
}

impl LeaderLatch {
    fn start(lock: Lock) -> LeaderLatch {
        let client = lock.client().clone();
        let latch = Arc::new(Latch::default());
        // The background task must not keep the session open.
        let background = lock.clone().on(&client.background());
        let (l, c) = (latch.clone(), client.background());
        client.spawn(async move { run_latch(c, background, l).await });
        LeaderLatch {
            client,
            latch,
            lock,
        }
    }

    /// True while this latch leads and its status is
    /// [`Held`](Status::Held).
    pub fn has_leadership(&self) -> bool {
        self.latch.status() == Some(Status::Held)
    }

    /// The leadership's status, `None` while not the leader.
    pub fn status(&self) -> Option<Status> {
        self.latch.status()
    }

    /// The current leader's fencing token, while this latch leads.
    pub fn fencing_token(&self) -> Option<i64> {
        let guard = self
            .latch
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(LockGuard::fencing_token)
    }

    /// Completes once this latch leads (`Err(Closed)` if it was closed or
    /// the client closed first).
    pub fn await_leadership(&self) -> Task<()> {
        let (latch, client) = (self.latch.clone(), self.client.background());
        Task::new(async move {
            let mut states = client.states();
            poll_fn(|cx| {
                while let Poll::Ready(Some(_)) = states.poll_recv(cx) {}
                register(&latch, cx.waker());
                if latch.status() == Some(Status::Held) {
                    Poll::Ready(Ok(()))
                } else if latch.closed.load(Ordering::SeqCst) || client.is_closed() {
                    Poll::Ready(Err(Error::Closed))
                } else {
                    Poll::Pending
                }
            })
            .await
        })
    }

    /// Completes when the leadership held now is (maybe) lost; at once if
    /// this latch does not lead.
    pub fn leadership_lost(&self) -> LostFuture {
        let guard = self
            .latch
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match guard.as_ref() {
            Some(g) => g.lost(),
            None => LostFuture::ready(Status::Lost),
        }
    }

    /// The election's contenders, the leader first.
    pub fn contenders(&self) -> Task<Vec<String>> {
        self.lock.contenders()
    }

    /// Leaves the election: steps down and deletes the node.
    pub fn close(self) -> Task<()> {
        self.stop();
        let guard = self
            .latch
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Task::new(async move {
            match guard {
                Some(g) => match g.release().await {
                    Ok(()) | Err(Error::Recipe(super::RecipeError::Lost)) => Ok(()),
                    Err(e) => Err(e),
                },
                None => Ok(()),
            }
        })
    }

    fn stop(&self) {
        self.latch.closed.store(true, Ordering::SeqCst);
        self.lock.cancel();
        self.latch.changed();
    }
}

impl Drop for LeaderLatch {
    fn drop(&mut self) {
        self.stop();
        // Dropping the guard releases in the background.
        drop(
            self.latch
                .guard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}

fn register(latch: &Latch, waker: &Waker) {
    let mut wakers = latch.wakers.lock().unwrap_or_else(PoisonError::into_inner);
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}

/// The latch's loop: contend, lead until the leadership is lost for good,
/// step down, contend again; until closed.
async fn run_latch(client: Client, lock: Lock, latch: Arc<Latch>) {
    while !latch.closed.load(Ordering::SeqCst) {
        // `run`, not `acquire`: a close that races this start stays set.
        let guard = match lock.run(super::lock::Mode::Blocking).await {
            Ok(Some(g)) => g,
            Ok(None) => continue,
            Err(Error::Cancelled | Error::Closed) => break,
            Err(_) => {
                if client.is_closed() {
                    break;
                }
                let _ = client.sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let lost = guard.lost();
        *latch.guard.lock().unwrap_or_else(PoisonError::into_inner) = Some(guard);
        if latch.closed.load(Ordering::SeqCst) {
            break; // close() ran meanwhile: Drop or close releases
        }
        latch.changed();
        let mut lost = Some(lost);
        // Lead until lost for good; a suspension that ends in time keeps it.
        loop {
            if let Some(l) = lost.take() {
                l.await;
            }
            latch.changed();
            let status = latch.status();
            if status != Some(Status::MaybeLost) || latch.closed.load(Ordering::SeqCst) {
                break;
            }
            let mut states = client.states();
            if latch.status() == Some(Status::MaybeLost) && states.next().await.is_none() {
                break;
            }
            let guard = latch.guard.lock().unwrap_or_else(PoisonError::into_inner);
            lost = guard.as_ref().map(LockGuard::lost);
        }
        let old = latch
            .guard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        latch.changed();
        drop(old);
    }
    latch.changed();
}
