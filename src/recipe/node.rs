//! Contender nodes, created so that a lost reply can neither leave a
//! stray node behind nor make a recipe adopt a node of an older session,
//! and deleted on every way out (RECIPES.md §3).

use std::time::Duration;

use bytes::Bytes;

use super::wait::{Waiter, Woken};
use crate::client::Client;
use crate::proto::Stat;
use crate::Error;

/// How a contender node's unique prefix is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NodeStyle {
    /// kazoo's `<uuid-hex>` then the marker: `3f2a…9c__lock__0000000004`.
    #[default]
    Kazoo,
    /// Apache Curator's protected mode: `_c_<uuid>-` then the marker.
    Curator,
}

impl NodeStyle {
    fn prefix(self, uid: u128) -> String {
        match self {
            NodeStyle::Kazoo => format!("{uid:032x}"),
            NodeStyle::Curator => {
                let h = format!("{uid:032x}");
                format!(
                    "_c_{}-{}-{}-{}-{}-",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                )
            }
        }
    }
}

/// A node this recipe created and owns: its full path and Stat.
#[derive(Debug, Clone)]
pub(crate) struct OwnNode {
    pub(crate) path: String,
    pub(crate) stat: Stat,
}

impl OwnNode {
    pub(crate) fn name(&self) -> &str {
        crate::path::basename(&self.path)
    }
}

/// What to create: `parent/<unique prefix><marker>[<sequence>]`.
pub(crate) struct Protected {
    pub(crate) parent: String,
    /// `<unique prefix><marker>`: every node this attempt may have made
    /// starts with it.
    pub(crate) stem: String,
    pub(crate) data: Bytes,
    pub(crate) sequential: bool,
}

impl Protected {
    pub(crate) fn new(
        client: &Client,
        parent: &str,
        style: NodeStyle,
        marker: &str,
        data: Bytes,
    ) -> Protected {
        Protected {
            parent: parent.to_owned(),
            stem: format!("{}{marker}", style.prefix(client.inner().unique_id())),
            data,
            sequential: true,
        }
    }

    /// A node named `parent/<uuid-hex><suffix>`, not sequential (a
    /// semaphore lease, a barrier or party member).
    pub(crate) fn named(client: &Client, parent: &str, suffix: &str, data: Bytes) -> Protected {
        let mut p = Protected::new(client, parent, NodeStyle::Kazoo, suffix, data);
        p.sequential = false;
        p
    }

    fn full(&self) -> String {
        child(&self.parent, &self.stem)
    }

    /// Creates the ephemeral node. After a ConnectionLoss (the create may
    /// have been applied) it lists the parent and takes the node with its
    /// stem if the **current** session owns it; a node of an older session
    /// is deleted in the background and a new one made. Retryable errors
    /// wait for the session (or `waiter`'s deadline or cancellation:
    /// then `Err(Timeout | Cancelled)`, and the caller's [`Cleanup`]
    /// removes whatever was made).
    pub(crate) async fn create(
        &self,
        client: &Client,
        waiter: &mut Waiter,
    ) -> Result<OwnNode, Error> {
        let mut made_parent = false;
        loop {
            let mut create = client
                .create(self.full())
                .data(self.data.clone())
                .ephemeral();
            if self.sequential {
                create = create.sequential();
            }
            let error = match waiter.bounded(create.send_with_stat()).await {
                Ok((path, stat)) => return Ok(OwnNode { path, stat }),
                Err(Error::NoNode) if !made_parent => {
                    made_parent = true;
                    waiter.bounded(client.ensure_path(&self.parent)).await?;
                    continue;
                }
                Err(e) => e,
            };
            if !transient(&error) {
                return Err(error);
            }
            loop {
                wait_retry(waiter).await?;
                match waiter.bounded(self.find(client)).await {
                    Ok(Some(node)) => return Ok(node),
                    Ok(None) => break,
                    Err(e) if transient(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// The node this attempt made, if the current session owns it; nodes
    /// of older sessions are deleted in the background.
    async fn find(&self, client: &Client) -> Result<Option<OwnNode>, Error> {
        let children = match client.get_children(&self.parent).send().await {
            Ok(c) => c,
            Err(Error::NoNode) => return Ok(None),
            Err(e) => return Err(e),
        };
        let session = client.session_id();
        let mut mine = None;
        for name in children.into_iter().filter(|c| c.starts_with(&self.stem)) {
            let path = child(&self.parent, &name);
            match client.exists(&path).send().await? {
                Some(stat) if stat.ephemeral_owner == session && mine.is_none() => {
                    mine = Some(OwnNode { path, stat });
                }
                Some(_) => delete_in_background(client, path),
                None => {}
            }
        }
        Ok(mine)
    }
}

/// True for errors a recipe waits out and retries: a lost connection,
/// a busy server, or a session that ended (the client starts a new one;
/// the recipe then starts over with a new node, as kazoo's do).
pub(crate) fn transient(e: &Error) -> bool {
    e.is_retryable() || *e == Error::SessionExpired
}

/// Runs `attempt` again after each transient error (waiting for the
/// connection, or until `waiter`'s deadline or cancellation), as kazoo
/// runs its recipes' steps under `client.retry`.
pub(crate) async fn retrying<T, F, Fut>(waiter: &mut Waiter, mut attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    loop {
        match waiter.bounded(attempt()).await {
            Err(e) if transient(&e) => wait_retry(waiter).await?,
            other => return other,
        }
    }
}

/// Waits after a retryable failure: for a state change (the connection
/// coming back) or a short pause, unless the deadline passes or the call
/// is cancelled first.
pub(crate) async fn wait_retry(waiter: &mut Waiter) -> Result<(), Error> {
    if waiter.cancelled() {
        return Err(Error::Cancelled);
    }
    match waiter.pause(RETRY_PAUSE).await {
        Woken::Cancelled => Err(Error::Cancelled),
        Woken::Deadline => Err(Error::Timeout),
        Woken::State | Woken::Watch | Woken::Paused => Ok(()),
    }
}

/// How long a recipe waits before retrying after a retryable error when
/// no state change comes first.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// A contender's identifier as text, null data reading as empty (kazoo's
/// `Lock.contenders()` leaves such a contender out instead).
pub(crate) fn lossy(data: Option<Bytes>) -> String {
    String::from_utf8_lossy(data.as_deref().unwrap_or_default()).into_owned()
}

/// `parent/name`, also for the root.
pub(crate) fn child(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Deletes whatever an unfinished attempt left under `parent` with
/// `stem` when dropped while armed: a failed, timed-out or cancelled
/// acquire (its future dropped) leaves nothing behind.
pub(crate) struct Cleanup {
    client: Client,
    parent: String,
    stem: String,
    armed: bool,
}

impl Cleanup {
    pub(crate) fn new(client: &Client, protected: &Protected) -> Cleanup {
        Cleanup {
            client: client.background(),
            parent: protected.parent.clone(),
            stem: protected.stem.clone(),
            armed: true,
        }
    }

    /// The attempt succeeded: its node now belongs to a guard.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }

    /// The attempt gave up with its node `path` known: deletes it before
    /// returning, so the caller that sees the failure also sees the node
    /// gone (as kazoo's non-blocking acquire does). If the delete cannot
    /// be done now (the connection is down), it is left to the
    /// background cleanup.
    pub(crate) async fn now(mut self, path: &str) {
        if delete_node(&self.client, path).await.is_ok() {
            self.armed = false;
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let client = self.client.clone();
        let parent = std::mem::take(&mut self.parent);
        let stem = std::mem::take(&mut self.stem);
        self.client.spawn(async move {
            retry_until_done(&client, || async {
                let children = match client.get_children(&parent).send().await {
                    Err(Error::NoNode) => return Ok(()),
                    other => other?,
                };
                for name in children.iter().filter(|c| c.starts_with(&stem)) {
                    delete_node(&client, &child(&parent, name)).await?;
                }
                Ok(())
            })
            .await;
        });
    }
}

/// Deletes `path` (any version; gone already is fine).
async fn delete_node(client: &Client, path: &str) -> Result<(), Error> {
    match client.delete(path).send().await {
        Ok(()) | Err(Error::NoNode) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes `path` in the background, retrying through connection loss
/// until done or the client is closed.
pub(crate) fn delete_in_background(client: &Client, path: String) {
    let client = client.background();
    client.clone().spawn(async move {
        retry_until_done(&client, || delete_node(&client, &path)).await;
    });
}

/// Runs `attempt` until it succeeds or fails for good; a connection loss
/// or session change waits for the next connection (with a growing
/// pause, so a flapping link is not hammered) and tries again.
pub(crate) async fn retry_until_done<F, Fut>(client: &Client, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut pause = Duration::from_millis(50);
    loop {
        match attempt().await {
            Ok(()) => return,
            Err(e) if transient(&e) => {
                if client.wait_connected().await.is_err() {
                    return; // closed: the server removes ephemerals itself
                }
                let _ = client.sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_look_like_kazoo_and_curator() {
        let uid = 0x0123_4567_89ab_cdef_0011_2233_4455_6677u128;
        assert_eq!(
            NodeStyle::Kazoo.prefix(uid),
            "0123456789abcdef0011223344556677"
        );
        assert_eq!(
            NodeStyle::Curator.prefix(uid),
            "_c_01234567-89ab-cdef-0011-223344556677-"
        );
        assert_eq!(child("/", "a"), "/a");
        assert_eq!(child("/x", "a"), "/x/a");
    }
}
