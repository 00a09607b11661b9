//! What a holder of a lock, lease or leadership can know about it: the
//! session guard (RECIPES.md §1). The session's state and identity and a
//! watch on the own node decide [`Status`]; a loss is final.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::node::{delete_in_background, OwnNode};
use super::wait::Cancel;
use crate::client::Client;
use crate::proto::EventType;
use crate::session::SessionState;
use crate::Error;

/// How a recipe reads a suspended connection (Curator's
/// `ConnectionStateErrorPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LossPolicy {
    /// A suspended connection means the lock **may** be lost until the
    /// same session reconnects (the safe default: CURATOR-206).
    #[default]
    Standard,
    /// Only a lost session (or a deleted own node) counts; a suspension is
    /// ignored. For holders that fence every action anyway.
    SessionOnly,
}

/// What a holder may conclude about its lock, lease or leadership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Held: the session is connected and the own node is there.
    Held,
    /// The connection is suspended (under [`LossPolicy::Standard`]) or
    /// read-only: the session may have expired on the server. Act as if
    /// the lock were gone until it is `Held` again.
    MaybeLost,
    /// Lost for good: the session ended or was replaced, or the own node
    /// was deleted. It will not come back.
    Lost,
}

/// Shared between a holding and the watch on its node.
#[derive(Default)]
pub(crate) struct Signal {
    /// Raised when the own node was deleted, or the loss was otherwise
    /// observed; wakes every `lost()` waiting.
    lost: Arc<Cancel>,
    /// Released on purpose: a later deletion is ours.
    released: AtomicBool,
}

impl Signal {
    fn mark_lost(&self) {
        if !self.released.load(Ordering::SeqCst) {
            self.lost.cancel();
        }
    }
}

/// The session guard of one holding: the session that made the node, the
/// policy, and the signal its node watch raises.
struct Guard {
    /// Background handle: a guard must not keep the session open.
    client: Client,
    session_id: i64,
    policy: LossPolicy,
    signal: Arc<Signal>,
}

impl Guard {
    fn status(&self) -> Status {
        if self.signal.lost.is_set() {
            return Status::Lost;
        }
        let status = status_of(self.client.state(), self.session_id, self.policy);
        if status == Status::Lost {
            self.signal.mark_lost();
        }
        status
    }

    async fn lost(&self) -> Status {
        let mut states = self.client.states();
        let lost = self.signal.lost.listen();
        poll_fn(|cx| {
            // Drain the state changes: each wakes this poll to look again.
            while let Poll::Ready(Some(_)) = states.poll_recv(cx) {}
            let _ = lost.poll(cx);
            match self.status() {
                Status::Held => Poll::Pending,
                other => Poll::Ready(other),
            }
        })
        .await
    }
}

/// Completes when a lock, lease or leadership is no longer
/// [`Held`](Status::Held), with its status then: `.await` it, or
/// `.wait()` for it from a thread.
#[must_use = "a future does nothing unless awaited or waited for"]
pub struct LostFuture {
    future: Pin<Box<dyn Future<Output = Status> + Send>>,
}

impl std::fmt::Debug for LostFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LostFuture").finish_non_exhaustive()
    }
}

impl LostFuture {
    pub(crate) fn ready(status: Status) -> LostFuture {
        LostFuture {
            future: Box::pin(std::future::ready(status)),
        }
    }

    /// Blocks the thread until the status is no longer `Held`.
    pub fn wait(self) -> Status {
        crate::client::block_on(self.future)
    }

    /// Blocks at most `timeout`; `None` if still held then.
    pub fn wait_timeout(self, timeout: Duration) -> Option<Status> {
        crate::client::Task::new(async move { Ok(self.future.await) })
            .wait_timeout(timeout)
            .ok()
    }
}

impl Future for LostFuture {
    type Output = Status;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Status> {
        self.future.as_mut().poll(cx)
    }
}

/// An own node that stands for something held, and the session that
/// made it.
pub(crate) struct Holding {
    client: Client,
    node: OwnNode,
    guard: Arc<Guard>,
    /// Released (or handed over): nothing to do on drop.
    done: bool,
}

impl Holding {
    /// Starts watching `node` (created by the session that owns it) for
    /// deletion.
    pub(crate) fn new(client: &Client, node: OwnNode, policy: LossPolicy) -> Holding {
        let signal = Arc::new(Signal::default());
        watch_node(client.background(), node.path.clone(), signal.clone());
        let guard = Arc::new(Guard {
            client: client.background(),
            session_id: node.stat.ephemeral_owner,
            policy,
            signal,
        });
        Holding {
            client: client.clone(),
            node,
            guard,
            done: false,
        }
    }

    pub(crate) fn node(&self) -> &OwnNode {
        &self.node
    }

    pub(crate) fn status(&self) -> Status {
        self.guard.status()
    }

    pub(crate) fn lost(&self) -> LostFuture {
        let guard = self.guard.clone();
        LostFuture {
            future: Box::pin(async move { guard.lost().await }),
        }
    }

    /// Deletes the node. `Err(Recipe(Lost))` if it had been lost (it is
    /// still cleaned up); other errors if the delete failed for good.
    pub(crate) async fn release(mut self) -> Result<(), Error> {
        self.done = true;
        let lost = self.status() == Status::Lost;
        self.guard.signal.released.store(true, Ordering::SeqCst);
        let path = self.node.path.clone();
        let mut result = Ok(());
        if self.client.session_id() == self.guard.session_id {
            result = delete_own(&self.client, &path).await;
        } else {
            // A node of an ended session: the server removes it; delete it
            // anyway in case the server still keeps that session.
            delete_in_background(&self.client, path);
        }
        if lost {
            return Err(crate::recipe::RecipeError::Lost.into());
        }
        result
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.guard.signal.released.store(true, Ordering::SeqCst);
        // Only while the session that made the node is the current one:
        // after a session change the server removes it with its session.
        if self.client.session_id() == self.guard.session_id {
            delete_in_background(&self.client, self.node.path.clone());
        }
    }
}

/// Deletes an own node, retrying through connection loss; a session that
/// ends meanwhile takes the node with it.
async fn delete_own(client: &Client, path: &str) -> Result<(), Error> {
    loop {
        match client.delete(path).send().await {
            Ok(()) | Err(Error::NoNode) | Err(Error::SessionExpired) => return Ok(()),
            Err(e) if e.is_retryable() => {
                if client.wait_connected().await.is_err() {
                    return Ok(()); // closed: the server deletes ephemerals
                }
                let _ = client.sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The status a session state implies for something `session_id` holds.
fn status_of(state: Option<SessionState>, session_id: i64, policy: LossPolicy) -> Status {
    let Some(state) = state else {
        return Status::MaybeLost;
    };
    if state.session_id() != session_id {
        return Status::Lost;
    }
    match state {
        SessionState::Connected { .. } => Status::Held,
        SessionState::Suspended { .. } | SessionState::ReadOnly { .. } => match policy {
            LossPolicy::Standard => Status::MaybeLost,
            LossPolicy::SessionOnly => Status::Held,
        },
        _ => Status::Lost,
    }
}

/// Watches `path` until it is deleted (then `signal` says lost), re-arming
/// after data changes and retrying the read through connection loss.
fn watch_node(client: Client, path: String, signal: Arc<Signal>) {
    let (c, p, s) = (client.clone(), path.clone(), signal.clone());
    let read = client
        .exists(&path)
        .watch(move |event| match event.event_type {
            EventType::NodeDeleted => s.mark_lost(),
            // A session event: the state decides.
            EventType::None => {}
            _ => {
                if !s.released.load(Ordering::SeqCst) {
                    watch_node(c.clone(), p.clone(), s.clone());
                }
            }
        })
        .send();
    let c = client.clone();
    client.spawn(async move {
        match read.await {
            Ok(Some(_)) => {}
            Ok(None) => signal.mark_lost(),
            Err(e) if e.is_retryable() && !signal.released.load(Ordering::SeqCst) => {
                if c.wait_connected().await.is_ok() {
                    watch_node(c, path, signal);
                }
            }
            Err(_) => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::LostReason;

    #[test]
    fn status_follows_the_session_and_its_identity() {
        let id = 7;
        let s = |state| status_of(Some(state), id, LossPolicy::Standard);
        let only = |state| status_of(Some(state), id, LossPolicy::SessionOnly);
        let connected = SessionState::Connected {
            session_id: id,
            new_session: false,
        };
        let suspended = SessionState::Suspended { session_id: id };
        assert_eq!(s(connected), Status::Held);
        assert_eq!(s(suspended), Status::MaybeLost);
        assert_eq!(only(suspended), Status::Held);
        let lost = SessionState::Lost {
            session_id: id,
            reason: LostReason::TimedOut,
        };
        assert_eq!(only(lost), Status::Lost);
        // A replacement session, even one that says it is not new.
        let other = SessionState::Connected {
            session_id: 8,
            new_session: false,
        };
        assert_eq!(only(other), Status::Lost);
        assert_eq!(s(SessionState::Closed { session_id: id }), Status::Lost);
        assert_eq!(status_of(None, id, LossPolicy::Standard), Status::MaybeLost);
    }
}
