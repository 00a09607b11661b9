//! kazoo's Queue (take = delete; simple, not reliable) and LockingQueue
//! (take = lock, then consume or release; an item whose consumer's
//! session is lost goes to another consumer), on kazoo's entry names so
//! Python producers and consumers share them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::node::{child, retrying, transient, wait_retry};
use super::wait::{deadline_in, Waiter, Woken};
use super::RecipeError;
use crate::client::{Client, Task};
use crate::{path, Error};

/// kazoo's default priority (lower is served first).
const DEFAULT_PRIORITY: u16 = 100;
/// The highest priority kazoo accepts.
const MAX_PRIORITY: u16 = 999;

/// An entry's name parsed: `entry-<PPP>-<sequence>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    priority: u16,
    seq: i64,
    name: String,
}

impl Entry {
    fn parse(name: &str) -> Option<Entry> {
        let rest = name.strip_prefix("entry-")?;
        let (priority, rest) = (rest.get(..3)?, rest.get(3..)?);
        let seq = rest.strip_prefix('-')?;
        if !priority.bytes().all(|b| b.is_ascii_digit()) || seq.len() < 10 {
            return None;
        }
        Some(Entry {
            priority: priority.parse().ok()?,
            seq: seq.parse::<i32>().ok()?.into(),
            name: name.to_owned(),
        })
    }
}

/// The entries among `children` in serving order (priority, then
/// arrival); names that are not kazoo's entries are left alone.
fn in_order(children: Vec<String>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = children.iter().filter_map(|c| Entry::parse(c)).collect();
    entries.sort();
    entries
}

/// Fuzzing: entries parse without panicking and come out in order.
#[cfg(fuzzing)]
pub(crate) fn check_entry_order(names: &[String]) {
    let order = in_order(names.to_vec());
    assert!(order.windows(2).all(|w| w[0] <= w[1]));
    assert!(order.iter().all(|e| e.priority <= 999));
}

fn check_priority(priority: u16) -> Result<(), Error> {
    if priority > MAX_PRIORITY {
        return Err(RecipeError::OutOfRange {
            what: "priority",
            reason: "kazoo's priorities are 0 to 999",
        }
        .into());
    }
    Ok(())
}

fn entry_prefix(parent: &str, priority: u16) -> String {
    child(parent, &format!("entry-{priority:03}-"))
}

/// kazoo's `Queue(path)`: items are sequential nodes
/// `path/entry-<PPP>-<seq>`, served by priority (0 first), then in
/// arrival order.
///
/// Taking an item deletes it, so an item taken by a consumer that then
/// fails is gone; use [`LockingQueue`] when every item must be
/// processed. If the connection drops just as a take deletes its item,
/// the item is returned (the take cannot tell whether its delete or
/// another consumer's removed it): at least once, never lost.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// let queue = client.queue("/app/jobs");
/// queue.put("later").wait()?;
/// queue.put_with_priority("urgent", 1).wait()?;
/// assert_eq!(queue.len().wait()?, 2);
/// assert_eq!(queue.get().wait()?.as_deref(), Some(&b"urgent"[..]));
/// assert_eq!(queue.get().wait()?.as_deref(), Some(&b"later"[..]));
/// assert_eq!(queue.get().wait()?, None);
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    path: String,
}

impl Client {
    /// kazoo's `Queue(path)` (see [`Queue`]).
    pub fn queue(&self, path: impl Into<String>) -> Queue {
        Queue {
            client: self.clone(),
            path: path.into(),
        }
    }

    /// kazoo's `LockingQueue(path)` (see [`LockingQueue`]).
    pub fn locking_queue(&self, path: impl Into<String>) -> LockingQueue {
        let path = path.into();
        LockingQueue {
            client: self.clone(),
            entries: child(&path, "entries"),
            taken: child(&path, "taken"),
            path,
            id: Bytes::from(format!("{:032x}", self.inner().unique_id())),
            held: Arc::default(),
        }
    }
}

/// Creates `prefix<seq>` with `data`, the parent made if missing. Not
/// retried after a lost reply: the item may be in, and a second put
/// would add it twice.
async fn put_entry(client: &Client, prefix: String, data: Bytes) -> Result<String, Error> {
    client
        .create(prefix)
        .data(data)
        .sequential()
        .make_parents()
        .send()
        .await
}

impl Queue {
    /// Adds an item with kazoo's default priority (100).
    pub fn put(&self, data: impl Into<Bytes>) -> Task<String> {
        self.put_with_priority(data, DEFAULT_PRIORITY)
    }

    /// Adds an item served before those of higher `priority` (0–999).
    /// Yields the entry's path. A put that fails with ConnectionLoss may
    /// or may not have added the item (it is not retried, so never twice).
    pub fn put_with_priority(&self, data: impl Into<Bytes>, priority: u16) -> Task<String> {
        let (q, data) = (self.clone(), data.into());
        Task::new(async move {
            path::validate(&q.path)?;
            check_priority(priority)?;
            put_entry(&q.client, entry_prefix(&q.path, priority), data).await
        })
    }

    /// Takes the first item, or `None` if the queue is empty.
    pub fn get(&self) -> Task<Option<Bytes>> {
        let q = self.clone();
        Task::new(async move { q.take(Some(None)).await })
    }

    /// Takes the first item, waiting up to `timeout` for one (`None`
    /// then). kazoo has no waiting `get` on this queue.
    pub fn get_timeout(&self, timeout: Duration) -> Task<Option<Bytes>> {
        let q = self.clone();
        let at = deadline_in(&q.client, timeout);
        Task::new(async move { q.take(Some(Some(at))).await })
    }

    /// Takes the first item, waiting for one as long as it takes.
    pub fn get_wait(&self) -> Task<Bytes> {
        let q = self.clone();
        Task::new(async move { q.take(None).await?.ok_or(Error::Timeout) })
    }

    /// How many items are queued (kazoo: the node's child count).
    pub fn len(&self) -> Task<usize> {
        let q = self.clone();
        Task::new(async move { count(&q.client, &q.path).await })
    }

    /// `wait`: `Some(None)` = do not wait, `Some(Some(at))` = until
    /// `at`, `None` = forever.
    async fn take(&self, wait: Option<Option<Instant>>) -> Result<Option<Bytes>, Error> {
        path::validate(&self.path)?;
        let deadline = wait.flatten();
        let mut waiter = Waiter::new(&self.client, deadline, None);
        loop {
            let (listed, watch) = self.client.get_children(&self.path).send_watched();
            let children = match waiter.bounded(listed).await {
                Ok(c) => c,
                Err(Error::NoNode) => Vec::new(),
                Err(Error::Timeout) => return Ok(None),
                Err(e) if transient(&e) => {
                    match wait_retry(&mut waiter).await {
                        Err(Error::Timeout) => return Ok(None),
                        other => other?,
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            for entry in in_order(children) {
                if let Some(data) = self.take_one(&entry.name, &mut waiter).await? {
                    return Ok(Some(data));
                }
            }
            if wait == Some(None) {
                return Ok(None);
            }
            match waiter.wait(Some(watch)).await {
                Woken::Deadline => return Ok(None),
                Woken::Cancelled => return Err(Error::Cancelled),
                Woken::Watch | Woken::State | Woken::Paused => {}
            }
        }
    }

    /// Reads then deletes one entry; `None` if another consumer got it.
    async fn take_one(&self, name: &str, waiter: &mut Waiter) -> Result<Option<Bytes>, Error> {
        let path = child(&self.path, name);
        let data = match retrying(waiter, || self.client.get(&path).send()).await {
            Ok((data, _)) => data.unwrap_or_default(),
            Err(Error::NoNode) => return Ok(None),
            Err(Error::Timeout) => return Ok(None),
            Err(e) => return Err(e),
        };
        // After a lost reply our delete may land late, and then a retry's
        // NoNode may be our own doing: hand the item out (at least once).
        let mut maybe_ours = false;
        loop {
            match waiter.bounded(self.client.delete(&path).send()).await {
                Ok(()) => return Ok(Some(data)),
                Err(Error::NoNode) if maybe_ours => return Ok(Some(data)),
                Err(Error::NoNode) => return Ok(None),
                Err(e) if transient(&e) => {
                    maybe_ours = true;
                    // Did our delete land? If the entry is gone we cannot
                    // tell: hand the item out rather than lose it.
                    match retrying(waiter, || self.client.exists(&path).send()).await {
                        Ok(None) | Err(Error::Timeout) => return Ok(Some(data)),
                        Ok(Some(_)) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(Error::Timeout) => return Ok(Some(data)),
                Err(e) => return Err(e),
            }
        }
    }
}

/// The child count of `path` (0 if it does not exist).
async fn count(client: &Client, path: &str) -> Result<usize, Error> {
    path::validate(path)?;
    let mut waiter = Waiter::new(client, None, None);
    let stat = retrying(&mut waiter, || client.exists(path).send()).await?;
    Ok(stat.map_or(0, |s| usize::try_from(s.num_children).unwrap_or(0)))
}

/// kazoo's `LockingQueue(path)`: entries at `path/entries/entry-<PPP>-<seq>`;
/// a consumer takes one by creating the ephemeral lock
/// `path/taken/<entry name>` (holding its id), then
/// [`consume`](LockingQueue::consume)s it (entry and lock deleted in one
/// transaction) or [`release`](LockingQueue::release)s it.
///
/// If the consumer's session is lost, its lock goes with it and the item
/// is taken by another consumer; the first one's `consume` then says
/// `false`. Each item is consumed exactly once.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// let jobs = client.locking_queue("/app/work");
/// jobs.put_all(["a", "b"], 100).wait()?;
/// let item = jobs.get().wait()?;
/// assert_eq!(item, "a");
/// assert!(jobs.holds_lock().wait()?);
/// assert!(jobs.consume().wait()?);
/// assert_eq!(jobs.len().wait()?, 1);
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Clone)]
pub struct LockingQueue {
    client: Client,
    path: String,
    entries: String,
    taken: String,
    /// Stored in this consumer's locks (kazoo: a uuid's hex).
    id: Bytes,
    /// The item this consumer holds.
    held: Arc<Mutex<Option<Held>>>,
}

/// An item a [`LockingQueue`] consumer has locked.
#[derive(Clone)]
struct Held {
    name: String,
    data: Bytes,
    /// The session that owns the lock.
    session: i64,
}

impl std::fmt::Debug for LockingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockingQueue")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LockingQueue {
    fn held(&self) -> std::sync::MutexGuard<'_, Option<Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an item with kazoo's default priority (100).
    pub fn put(&self, data: impl Into<Bytes>) -> Task<String> {
        self.put_with_priority(data, DEFAULT_PRIORITY)
    }

    /// Adds an item with `priority` (0–999, lower first).
    pub fn put_with_priority(&self, data: impl Into<Bytes>, priority: u16) -> Task<String> {
        let (q, data) = (self.clone(), data.into());
        Task::new(async move {
            q.check()?;
            check_priority(priority)?;
            q.ensure_paths().await?;
            put_entry(&q.client, entry_prefix(&q.entries, priority), data).await
        })
    }

    /// Adds all `items` with `priority` in one transaction: all or none.
    pub fn put_all<I, D>(&self, items: I, priority: u16) -> Task<()>
    where
        I: IntoIterator<Item = D>,
        D: Into<Bytes>,
    {
        let q = self.clone();
        let items: Vec<Bytes> = items.into_iter().map(Into::into).collect();
        Task::new(async move {
            q.check()?;
            check_priority(priority)?;
            q.ensure_paths().await?;
            let prefix = entry_prefix(&q.entries, priority);
            let mut tx = q.client.transaction();
            for item in items {
                tx = tx.create(prefix.clone()).data(item).sequential().into();
            }
            tx.commit().await.map(drop)
        })
    }

    /// Takes the first free item, waiting as long as it takes. While this
    /// consumer holds an item, returns that item again (kazoo).
    pub fn get(&self) -> Task<Bytes> {
        let q = self.clone();
        Task::new(async move { q.take(None).await?.ok_or(Error::Timeout) })
    }

    /// [`get`](LockingQueue::get), waiting at most `timeout` (`None`
    /// then). Repeated timed gets leave no watch behind (kazoo #175).
    pub fn get_timeout(&self, timeout: Duration) -> Task<Option<Bytes>> {
        let q = self.clone();
        let at = deadline_in(&q.client, timeout);
        Task::new(async move { q.take(Some(at)).await })
    }

    /// Whether this consumer still holds its item's lock: synced with the
    /// leader, the lock holds this consumer's id and belongs to the
    /// current session.
    pub fn holds_lock(&self) -> Task<bool> {
        let q = self.clone();
        Task::new(async move { Ok(q.lock_version().await?.is_some()) })
    }

    /// Marks the held item done (entry and lock deleted together):
    /// `true`, or `false` if nothing is held or the lock was lost (the
    /// item is then another consumer's). If the connection dropped with
    /// the transaction in flight and the session was lost meanwhile, and
    /// the entry is gone, it may have been consumed by this call or by
    /// another consumer since: [`RecipeError::UnknownOutcome`].
    pub fn consume(&self) -> Task<bool> {
        let q = self.clone();
        Task::new(async move { q.finish(true).await })
    }

    /// Gives the held item back to the queue: `true`, or `false` if
    /// nothing was held or the lock was lost.
    pub fn release(&self) -> Task<bool> {
        let q = self.clone();
        Task::new(async move { q.finish(false).await })
    }

    /// How many items are queued, taken ones included.
    pub fn len(&self) -> Task<usize> {
        let q = self.clone();
        Task::new(async move {
            q.check()?;
            count(&q.client, &q.entries).await
        })
    }

    fn check(&self) -> Result<(), Error> {
        Ok(path::validate(&self.path)?)
    }

    async fn ensure_paths(&self) -> Result<(), Error> {
        let mut waiter = Waiter::new(&self.client, None, None);
        retrying(&mut waiter, || async {
            self.client.ensure_path(&self.entries).await?;
            self.client.ensure_path(&self.taken).await
        })
        .await
    }

    async fn take(&self, deadline: Option<Instant>) -> Result<Option<Bytes>, Error> {
        self.check()?;
        if let Some(held) = self.held().clone() {
            return Ok(Some(held.data));
        }
        self.ensure_paths().await?;
        let mut waiter = Waiter::new(&self.client, deadline, None);
        loop {
            let (entries, entries_watch) = self.client.get_children(&self.entries).send_watched();
            let (taken, taken_watch) = self.client.get_children(&self.taken).send_watched();
            let listed = waiter
                .bounded(async { Ok((entries.await?, taken.await?)) })
                .await;
            let (listed, taken) = match listed {
                Ok(both) => both,
                Err(Error::Timeout) => return Ok(None),
                Err(e) if transient(&e) => {
                    match wait_retry(&mut waiter).await {
                        Err(Error::Timeout) => return Ok(None),
                        other => other?,
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            for entry in in_order(listed) {
                if taken.contains(&entry.name) {
                    continue;
                }
                match self.take_one(&entry.name).await {
                    Ok(Some((data, session))) => {
                        *self.held() = Some(Held {
                            name: entry.name,
                            data: data.clone(),
                            session,
                        });
                        return Ok(Some(data));
                    }
                    Ok(None) => {}
                    Err(e) if transient(&e) => break,
                    Err(e) => return Err(e),
                }
            }
            match waiter.wait_any(vec![entries_watch, taken_watch]).await {
                Woken::Deadline => return Ok(None),
                Woken::Cancelled => return Err(Error::Cancelled),
                Woken::Watch | Woken::State | Woken::Paused => {}
            }
        }
    }

    /// Locks entry `name` and reads it: its data and the session owning
    /// the lock, or `None` if another consumer has it or it is gone.
    async fn take_one(&self, name: &str) -> Result<Option<(Bytes, i64)>, Error> {
        let lock = child(&self.taken, name);
        let made = self
            .client
            .create(&lock)
            .data(self.id.clone())
            .ephemeral()
            .send_with_stat()
            .await;
        let session = match made {
            Ok((_, stat)) => stat.ephemeral_owner,
            // Ours after a lost reply (same id, this session), or not.
            Err(Error::NodeExists) if self.owns(&lock).await?.is_some() => self.client.session_id(),
            Err(Error::NodeExists | Error::NoNode) => return Ok(None),
            Err(e) => return Err(e),
        };
        match self.client.get(child(&self.entries, name)).send().await {
            Ok((data, _)) => Ok(Some((data.unwrap_or_default(), session))),
            Err(Error::NoNode) => {
                // Consumed meanwhile by someone who held it before us.
                match self.client.delete(&lock).send().await {
                    Ok(()) | Err(Error::NoNode) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `Some(version)` of `lock` if it holds our id and the current
    /// session owns it.
    async fn owns(&self, lock: &str) -> Result<Option<i32>, Error> {
        match self.client.get(lock).send().await {
            Ok((data, stat))
                if data.as_ref() == Some(&self.id)
                    && stat.ephemeral_owner == self.client.session_id() =>
            {
                Ok(Some(stat.version))
            }
            Ok(_) | Err(Error::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The held item's lock version if we still hold it (after a sync, so
    /// the answer is the leader's).
    async fn lock_version(&self) -> Result<Option<i32>, Error> {
        let Some(held) = self.held().clone() else {
            return Ok(None);
        };
        let lock = child(&self.taken, &held.name);
        let mut waiter = Waiter::new(&self.client, None, None);
        retrying(&mut waiter, || async {
            self.client.sync(&lock).await?;
            self.owns(&lock).await
        })
        .await
    }

    async fn finish(&self, consume: bool) -> Result<bool, Error> {
        let Some(Held { name, session, .. }) = self.held().clone() else {
            return Ok(false);
        };
        let outcome = self.finish_held(&name, session, consume).await;
        *self.held() = None;
        outcome
    }

    async fn finish_held(&self, name: &str, session: i64, consume: bool) -> Result<bool, Error> {
        let Some(mut version) = self.lock_version().await? else {
            return Ok(false);
        };
        let (entry, lock) = (child(&self.entries, name), child(&self.taken, name));
        loop {
            let mut tx = self.client.transaction();
            if consume {
                tx = tx.delete(&entry).into();
            }
            let tx = tx.delete(&lock).version(version);
            match tx.commit().await {
                Ok(_) => return Ok(true),
                Err(Error::MultiFailed { .. }) => return Ok(false),
                // The reply was lost, and the transaction may still reach
                // the server later (its bytes can outlive the connection,
                // and a session the client gave up on may live on there).
                Err(e) if transient(&e) => {
                    self.client.wait_connected().await?;
                    let fenced = self.fence(&lock, version).await?;
                    // Asked after the fence, which may have waited through
                    // a session change.
                    let same_session = self.client.session_id() == session;
                    match fenced {
                        // It cannot land now: again, if the lock is still
                        // ours; else the item goes back to the queue.
                        Fence::Bumped(v) if same_session => version = v,
                        Fence::Bumped(_) => return Ok(false),
                        Fence::Gone => {
                            return self.after_lock_gone(&entry, consume, same_session).await
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// After a transaction on `lock` at `version` lost its reply: bumps
    /// the lock's version (any session may write it), so that the
    /// transaction, if still on its way, can no longer apply; the server
    /// decides which came first.
    async fn fence(&self, lock: &str, version: i32) -> Result<Fence, Error> {
        let mut waiter = Waiter::new(&self.client, None, None);
        loop {
            let read = retrying(&mut waiter, || async {
                match self.client.get(lock).send().await {
                    Ok(r) => Ok(Some(r)),
                    Err(Error::NoNode) => Ok(None),
                    Err(e) => Err(e),
                }
            });
            let stat = match read.await? {
                Some((data, stat)) if data.as_ref() == Some(&self.id) => stat,
                _ => return Ok(Fence::Gone),
            };
            if stat.version != version {
                return Ok(Fence::Bumped(stat.version)); // an earlier fence landed
            }
            let bump = self
                .client
                .set(lock, self.id.clone())
                .version(version)
                .send();
            match waiter.bounded(bump).await {
                Ok(stat) => return Ok(Fence::Bumped(stat.version)),
                Err(Error::NoNode) => return Ok(Fence::Gone),
                Err(Error::BadVersion) => {}
                Err(e) if transient(&e) => wait_retry(&mut waiter).await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// The lock is gone: no transaction of ours can land any more (they
    /// all name it). The entry still there means not consumed. Gone, it
    /// was consumed by our transaction if our session lived throughout
    /// (only it could delete the lock then); under a new session another
    /// consumer may have consumed it since: unknowable. A release is
    /// done either way.
    async fn after_lock_gone(
        &self,
        entry: &str,
        consume: bool,
        same_session: bool,
    ) -> Result<bool, Error> {
        if !consume {
            return Ok(true);
        }
        let mut waiter = Waiter::new(&self.client, None, None);
        match retrying(&mut waiter, || self.client.exists(entry).send()).await? {
            Some(_) => Ok(false),
            None if same_session => Ok(true),
            None => Err(RecipeError::UnknownOutcome(entry.to_owned()).into()),
        }
    }
}

/// What fencing a lost transaction found.
enum Fence {
    /// The lock is still there at this (new) version: the transaction
    /// did not land and never will.
    Bumped(i32),
    /// The lock is gone (or another consumer's now).
    Gone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_kazoos() {
        let e = Entry::parse("entry-100-0000000001").unwrap();
        assert_eq!((e.priority, e.seq), (100, 1));
        let e = Entry::parse("entry-005--2147483648").unwrap();
        assert_eq!((e.priority, e.seq), (5, i64::from(i32::MIN)));
        for bad in [
            "entries",
            "entry-1x0-0000000001",
            "entry-100-12",
            "entry-100-00000000xx",
            "entry-10-0000000001",
            "entry-",
            "entry-é00-0000000001",
        ] {
            assert_eq!(Entry::parse(bad), None, "{bad}");
        }
        let order = in_order(vec![
            "entry-100-0000000002".into(),
            "junk".into(),
            "entry-001-0000000009".into(),
            "entry-100-0000000001".into(),
        ]);
        let names: Vec<_> = order.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "entry-001-0000000009",
                "entry-100-0000000001",
                "entry-100-0000000002"
            ]
        );
        assert!(check_priority(999).is_ok() && check_priority(1000).is_err());
    }
}
