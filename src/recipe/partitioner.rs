//! kazoo's SetPartitioner: the members of a party split a set of items
//! among themselves, each taking a lock per item it owns, and give their
//! items back whenever the party or the connection changes.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use super::error::check_identifier;
use super::lock::LockGuard;
use super::node::child;
use super::party::Party;
use super::wait::{Waiter, Woken};
use super::RecipeError;
use crate::client::channel::{Channel, Recv};
use crate::client::{Client, Task, WatchFuture, STREAM_CAPACITY};
use crate::session::SessionState;
use crate::{path, Error};

/// Where a [`SetPartitioner`] is (kazoo's `PartitionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionState {
    /// Waiting for the party to settle, then taking the locks.
    Allocating,
    /// The own share is locked: work on [`SetPartitioner::items`].
    Acquired,
    /// The party or the connection changed: stop working on the items,
    /// then call [`SetPartitioner::release_set`].
    Release,
    /// The session was lost, or [`finish`](SetPartitioner::finish) was
    /// called: unusable; start a new one.
    Failure,
}

/// How the set is split: `(own id, members, items) -> own items`.
pub type PartitionFn = dyn Fn(&str, &[String], &[String]) -> Vec<String> + Send + Sync;

/// kazoo's default split: members and items sorted, member `i` of `n`
/// takes items `i`, `i + n`, `i + 2n`, …
pub fn round_robin(id: &str, members: &[String], items: &[String]) -> Vec<String> {
    let mut members = members.to_vec();
    members.sort();
    let mut items = items.to_vec();
    items.sort();
    match members.iter().position(|m| m == id) {
        Some(i) => items.into_iter().skip(i).step_by(members.len()).collect(),
        None => Vec::new(),
    }
}

/// Configures a [`SetPartitioner`] (see [`Client::set_partitioner`]).
#[must_use = "nothing happens until start()"]
pub struct SetPartitionerBuilder {
    client: Client,
    path: String,
    items: Vec<String>,
    id: String,
    time_boundary: Duration,
    max_reaction_time: Duration,
    split: Arc<PartitionFn>,
}

impl std::fmt::Debug for SetPartitionerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPartitionerBuilder")
            .field("path", &self.path)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// kazoo's `SetPartitioner(path, set)`: members joined at
    /// `path/party` (a ShallowParty) split `items`, each locking its own
    /// at `path/locks/<item>` (see [`SetPartitioner`]).
    pub fn set_partitioner(
        &self,
        path: impl Into<String>,
        items: impl IntoIterator<Item = impl Into<String>>,
    ) -> SetPartitionerBuilder {
        SetPartitionerBuilder {
            client: self.clone(),
            path: path.into(),
            items: items.into_iter().map(Into::into).collect(),
            id: String::new(),
            time_boundary: Duration::from_secs(30),
            max_reaction_time: Duration::from_secs(1),
            split: Arc::new(round_robin),
        }
    }
}

impl SetPartitionerBuilder {
    /// This member's identifier (unique in the party; kazoo's default is
    /// `<fqdn>-<pid>`, which the caller must supply here).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// How long the party must be unchanged before the set is split
    /// (kazoo's `time_boundary`, 30 s by default).
    pub fn time_boundary(mut self, quiet: Duration) -> Self {
        self.time_boundary = quiet;
        self
    }

    /// How long each lock is tried before the party is looked at again
    /// (kazoo's `max_reaction_time`, 1 s by default).
    pub fn max_reaction_time(mut self, d: Duration) -> Self {
        self.max_reaction_time = d;
        self
    }

    /// The split (kazoo's `partition_func`; [`round_robin`] by default).
    pub fn partition_func(
        mut self,
        split: impl Fn(&str, &[String], &[String]) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        self.split = Arc::new(split);
        self
    }

    /// Joins the party and starts allocating.
    pub fn start(self) -> Result<SetPartitioner, Error> {
        path::validate(&self.path)?;
        if self.id.is_empty() {
            return Err(RecipeError::InvalidIdentifier(self.id).into());
        }
        check_identifier(&self.id)?;
        for item in &self.items {
            if item.is_empty() || item.contains('/') || item.contains('\0') {
                return Err(RecipeError::InvalidIdentifier(item.clone()).into());
            }
        }
        let shared = Shared::new();
        let worker = Worker {
            client: self.client.background(),
            party: self
                .client
                .background()
                .shallow_party(child(&self.path, "party"))
                .id(self.id.clone()),
            locks: child(&self.path, "locks"),
            b: self,
            shared: shared.clone(),
            held: Vec::new(),
            session: 0,
        };
        let client = worker.client.clone();
        client.spawn(worker.run());
        Ok(SetPartitioner { client, shared })
    }
}

/// What the worker is asked to do.
enum Command {
    ReleaseSet,
    Finish,
}

struct Shared {
    /// The state, the owned items, and who waits for a change.
    state: Mutex<(PartitionState, Vec<String>, Vec<Waker>)>,
    /// Every change, for [`SetPartitioner::recv_state`]; `None` where
    /// changes were dropped.
    states: Arc<Channel<Option<PartitionState>>>,
    commands: Arc<Channel<Command>>,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new((PartitionState::Allocating, Vec::new(), Vec::new())),
            // A reader that fell behind gets the state of the moment at the
            // gap (`None` marks it), so memory stays bounded.
            states: Channel::bounded(STREAM_CAPACITY, || None),
            commands: Channel::new(),
        })
    }

    /// The next change for [`SetPartitioner::recv_state`].
    fn next_state(&self, timeout: Duration) -> Result<Option<PartitionState>, Error> {
        match self.states.recv_timeout(timeout) {
            Ok(Some(Some(state))) => Ok(Some(state)),
            Ok(Some(None)) => Ok(Some(self.lock().0)),
            Ok(None) => Ok(None),
            Err(()) => Err(Error::Timeout),
        }
    }

    fn lock(&self) -> MutexGuard<'_, (PartitionState, Vec<String>, Vec<Waker>)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, state: PartitionState, items: Vec<String>) {
        let wakers = {
            let mut s = self.lock();
            if s.0 == state {
                return;
            }
            s.0 = state;
            s.1 = items;
            std::mem::take(&mut s.2)
        };
        self.states.push(Some(state));
        for w in wakers {
            w.wake();
        }
    }
}

/// kazoo's `SetPartitioner`: this process's share of a set, agreed with
/// the other members of the party, each item held under a lock.
///
/// Follow [`state`](SetPartitioner::state) (or the
/// [`states`](SetPartitioner::recv_state) it passes through): work on
/// [`items`](SetPartitioner::items) while `Acquired`; on `Release` stop
/// and call [`release_set`](SetPartitioner::release_set); on `Failure`
/// start a new partitioner.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// use std::time::Duration;
/// use kazoo::recipe::PartitionState;
/// let part = client
///     .set_partitioner("/app/work", ["a", "b", "c"])
///     .id("worker-1")
///     .time_boundary(Duration::from_millis(100))
///     .start()?;
/// assert_eq!(part.wait_for_acquire(Duration::from_secs(10)).wait()?, PartitionState::Acquired);
/// assert_eq!(part.items(), ["a", "b", "c"]); // alone: all of them
/// part.finish().wait()?;
/// # Ok::<(), kazoo::Error>(())
/// ```
pub struct SetPartitioner {
    client: Client,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SetPartitioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetPartitioner")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl SetPartitioner {
    /// The state now.
    pub fn state(&self) -> PartitionState {
        self.shared.lock().0
    }

    /// The own items while `Acquired` (empty otherwise).
    pub fn items(&self) -> Vec<String> {
        let s = self.shared.lock();
        if s.0 == PartitionState::Acquired {
            s.1.clone()
        } else {
            Vec::new()
        }
    }

    /// The next state it moves to, waiting at most `timeout`
    /// (`Err(Timeout)` if none). A reader more than
    /// [`STREAM_CAPACITY`] changes behind skips the ones it missed: it gets
    /// the state of the moment instead, then the changes after it.
    pub fn recv_state(&self, timeout: Duration) -> Result<Option<PartitionState>, Error> {
        self.shared.next_state(timeout)
    }

    /// Waits until it is no longer `Allocating` (kazoo's
    /// `wait_for_acquire`); yields the state then.
    pub fn wait_for_acquire(&self, timeout: Duration) -> Task<PartitionState> {
        let shared = self.shared.clone();
        let nap = self.client.sleep(timeout);
        Task::new(async move {
            let mut nap = std::pin::pin!(nap);
            poll_fn(|cx| {
                {
                    let mut s = shared.lock();
                    if s.0 != PartitionState::Allocating {
                        return Poll::Ready(Ok(s.0));
                    }
                    s.2.push(cx.waker().clone());
                }
                if nap.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(Error::Timeout));
                }
                Poll::Pending
            })
            .await
        })
    }

    /// After `Release`: gives the locks back and allocates again.
    pub fn release_set(&self) {
        // Allocating from now on (as in kazoo), so a wait_for_acquire
        // that follows waits for the new split.
        if self.state() == PartitionState::Release {
            self.shared.set(PartitionState::Allocating, Vec::new());
        }
        self.shared.commands.push(Command::ReleaseSet);
    }

    /// Gives everything back and leaves the party: `Failure` after this.
    pub fn finish(&self) -> Task<()> {
        self.shared.commands.push(Command::Finish);
        let shared = self.shared.clone();
        Task::new(poll_fn(move |cx| {
            let mut s = shared.lock();
            if s.0 == PartitionState::Failure {
                return Poll::Ready(Ok(()));
            }
            s.2.push(cx.waker().clone());
            Poll::Pending
        }))
    }
}

impl Drop for SetPartitioner {
    fn drop(&mut self) {
        self.shared.commands.push(Command::Finish);
    }
}

/// The background loop of one partitioner.
struct Worker {
    client: Client,
    party: Party,
    locks: String,
    b: SetPartitionerBuilder,
    shared: Arc<Shared>,
    held: Vec<LockGuard>,
    /// The session the party membership was made in.
    session: i64,
}

/// What ended a phase.
enum Next {
    Allocate,
    Release,
    Fail,
}

impl Worker {
    async fn run(mut self) {
        let joined = self.party.join().await;
        self.session = self.client.session_id();
        let mut next = if joined.is_ok() {
            Next::Allocate
        } else {
            Next::Fail
        };
        loop {
            next = match next {
                Next::Allocate => self.allocate().await,
                Next::Release => self.release().await,
                Next::Fail => break,
            };
        }
        self.give_back().await;
        let _ = self.party.leave().await;
        self.shared.set(PartitionState::Failure, Vec::new());
        self.shared.states.close();
    }

    async fn give_back(&mut self) {
        for guard in self.held.drain(..) {
            let _ = guard.release().await;
        }
    }

    /// Waits for the party to settle, splits, locks the own share.
    async fn allocate(&mut self) -> Next {
        self.shared.set(PartitionState::Allocating, Vec::new());
        let mut waiter = Waiter::new(&self.client, None, None);
        let party = child(&self.b.path, "party");
        loop {
            let settled = self
                .client
                .patient_children_watch(&party, self.b.time_boundary);
            let (children, mut changed) = match self.race(&mut waiter, settled, None).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) if super::node::transient(&e) => continue,
                Ok(Err(_)) => return Next::Fail,
                Err(next) => return next,
            };
            let members: Vec<String> = children
                .iter()
                .filter_map(|c| c.split_once('-').map(|(_, id)| id.to_owned()))
                .collect();
            let mine = (self.b.split)(&self.b.id, &members, &self.b.items);
            let mut complete = true;
            for item in &mine {
                let lock = self.client.lock(child(&self.locks, item));
                loop {
                    let attempt = lock.acquire_timeout(self.b.max_reaction_time);
                    match self.race(&mut waiter, attempt, Some(&mut changed)).await {
                        Ok(Ok(guard)) => {
                            self.held.push(guard);
                            break;
                        }
                        Ok(Err(Error::LockTimeout)) => continue,
                        Ok(Err(e)) if super::node::transient(&e) => continue,
                        Ok(Err(_)) => return Next::Fail,
                        Err(Next::Allocate) => {
                            complete = false;
                            break;
                        }
                        Err(next) => return next,
                    }
                }
                if !complete {
                    break;
                }
            }
            if !complete {
                // The party changed while locking: give back, split again.
                self.give_back().await;
                continue;
            }
            self.shared.set(PartitionState::Acquired, mine);
            // Hold until the party or the connection changes.
            let held = poll_fn(|cx| Pin::new(&mut changed).poll(cx).map(|_| ()));
            return match self.race(&mut waiter, held, None).await {
                Ok(()) | Err(Next::Allocate) => Next::Release,
                Err(next) => next,
            };
        }
    }

    /// Waits for the user's `release_set` (or `finish`).
    async fn release(&mut self) -> Next {
        self.shared.set(PartitionState::Release, Vec::new());
        let mut waiter = Waiter::new(&self.client, None, None);
        loop {
            if self.lost() {
                return Next::Fail;
            }
            match waiter.wait_with(Recv(&self.shared.commands)).await {
                Ok(Some(Command::ReleaseSet)) => {
                    self.give_back().await;
                    return Next::Allocate;
                }
                Ok(Some(Command::Finish) | None) => return Next::Fail,
                Err(_) => {}
            }
        }
    }

    /// The membership's session is over: lost or closed now, or already
    /// replaced by a new one (a Lost state can pass unseen).
    fn lost(&self) -> bool {
        self.client.is_closed()
            || self.client.session_id() != self.session
            || matches!(
                self.client.state(),
                Some(SessionState::Lost { .. } | SessionState::Closed { .. })
            )
    }

    /// Runs `work` unless the connection changes (Lost: `Fail`; any other
    /// change: `Release`), `finish` is called (`Fail`), or `changed`
    /// fires (`Allocate`).
    async fn race<T>(
        &self,
        waiter: &mut Waiter,
        work: impl Future<Output = T>,
        mut changed: Option<&mut WatchFuture>,
    ) -> Result<T, Next> {
        let commands = self.shared.commands.clone();
        let mut work = std::pin::pin!(work);
        let raced = waiter
            .wait_with(poll_fn(|cx| {
                if let Poll::Ready(cmd) = Pin::new(&mut Recv(&commands)).poll(cx) {
                    return Poll::Ready(Err(match cmd {
                        Some(Command::ReleaseSet) => Next::Allocate,
                        Some(Command::Finish) | None => Next::Fail,
                    }));
                }
                if let Some(w) = changed.as_deref_mut() {
                    if Pin::new(w).poll(cx).is_ready() {
                        return Poll::Ready(Err(Next::Allocate));
                    }
                }
                work.as_mut().poll(cx).map(Ok)
            }))
            .await;
        match raced {
            Ok(r) => r,
            Err(Woken::Cancelled) => Err(Next::Fail),
            Err(_) if self.lost() => Err(Next::Fail),
            // Suspended or reconnected: kazoo gives the set back.
            Err(_) => Err(Next::Release),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_splits_like_kazoo() {
        let members = ["b".to_string(), "a".to_string()];
        let items: Vec<String> = ["3", "1", "2", "5", "4"].map(String::from).to_vec();
        assert_eq!(round_robin("a", &members, &items), ["1", "3", "5"]);
        assert_eq!(round_robin("b", &members, &items), ["2", "4"]);
        assert!(round_robin("z", &members, &items).is_empty());
    }

    /// A reader that never reads holds at most `STREAM_CAPACITY` changes;
    /// past the gap it is told the state of the moment, then the rest.
    #[test]
    fn unread_states_are_bounded() {
        use PartitionState::{Acquired, Allocating, Release};
        let shared = Shared::new();
        let cycle = [Acquired, Release, Allocating];
        for i in 0..STREAM_CAPACITY * 2 {
            shared.set(cycle[i % 3], Vec::new());
        }
        let now = shared.lock().0;
        let next = || shared.next_state(Duration::ZERO).unwrap();
        for i in 0..STREAM_CAPACITY {
            assert_eq!(next(), Some(cycle[i % 3]), "the oldest are kept in order");
        }
        assert_eq!(next(), Some(now), "then the state of the moment");
        assert_eq!(shared.next_state(Duration::ZERO), Err(Error::Timeout));
        shared.set(if now == Acquired { Release } else { Acquired }, Vec::new());
        assert!(next().is_some(), "changes flow again");
    }
}
