//! kazoo's Party and ShallowParty: a group whose members are ephemeral
//! nodes, listed by anyone; a member can ask to re-join by itself after
//! its session is lost (kazoo leaves that to the application).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::error::check_identifier;
use super::node::{child, delete_in_background, retrying, Protected};
use super::wait::{Cancel, Waiter, Woken};
use super::RecipeError;
use crate::client::{Client, Task};
use crate::session::SessionState;
use crate::{path, Error};

/// kazoo's Party member marker.
const PARTY: &str = "__party__";

/// Which of kazoo's two classes: how members are named and listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `<uuid>__party__` holding the identifier; listing reads each.
    Full,
    /// `<uuid>-<identifier>`; listing needs only the names.
    Shallow,
}

/// kazoo's `Party(path, identifier)` or `ShallowParty`: join, leave, and
/// list who is in.
///
/// Members are ephemeral nodes, so a member whose session is lost drops
/// out; with [`auto_rejoin`](Party::auto_rejoin) it joins again (a new
/// node) as soon as a new session is up.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// # client.wait_connected().wait().unwrap();
/// let workers = client.party("/app/workers").id("worker-1");
/// workers.join().wait()?;
/// assert_eq!(workers.members().wait()?, ["worker-1"]);
/// assert!(workers.leave().wait()?);
/// assert_eq!(workers.len().wait()?, 0);
/// # Ok::<(), kazoo::Error>(())
/// ```
#[derive(Clone)]
pub struct Party {
    client: Client,
    path: String,
    id: String,
    kind: Kind,
    auto_rejoin: bool,
    membership: Arc<Membership>,
}

/// The own member node, shared by clones and the re-join loop.
#[derive(Default)]
struct Membership {
    node: Mutex<Option<String>>,
    /// Set by `leave`: stops the re-join loop.
    stop: Arc<Cancel>,
}

impl Membership {
    fn node(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.node.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Party")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// kazoo's `Party(path)`: members `<uuid>__party__` holding their
    /// identifiers (see [`Party`]).
    pub fn party(&self, path: impl Into<String>) -> Party {
        self.new_party(path.into(), Kind::Full)
    }

    /// kazoo's `ShallowParty(path)`: members `<uuid>-<identifier>`,
    /// listed from the names alone (see [`Party`]).
    pub fn shallow_party(&self, path: impl Into<String>) -> Party {
        self.new_party(path.into(), Kind::Shallow)
    }

    fn new_party(&self, path: String, kind: Kind) -> Party {
        Party {
            client: self.clone(),
            path,
            id: String::new(),
            kind,
            auto_rejoin: false,
            membership: Arc::default(),
        }
    }
}

impl Party {
    /// This member's identifier (kazoo's `identifier`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Join again, with a new node, whenever a new session replaces the
    /// one the membership was made in (until [`leave`](Party::leave)).
    pub fn auto_rejoin(mut self) -> Self {
        self.auto_rejoin = true;
        self
    }

    /// Whether this member has joined and not left (kazoo's
    /// `participating`). With a lost session and no `auto_rejoin` the
    /// node is gone while this still says `true`, as in kazoo.
    pub fn participating(&self) -> bool {
        self.membership.node().is_some()
    }

    /// Joins (a second call while joined does nothing).
    pub fn join(&self) -> Task<()> {
        let p = self.clone();
        Task::new(async move {
            p.check()?;
            if p.participating() {
                return Ok(());
            }
            p.membership.stop.reset();
            let mut waiter = Waiter::new(&p.client, None, Some(p.membership.stop.clone()));
            let node = p.create(&mut waiter).await?;
            *p.membership.node() = Some(node);
            if p.auto_rejoin {
                let p = p.on_background();
                p.client.clone().spawn(async move { p.rejoin_loop().await });
            }
            Ok(())
        })
    }

    /// Leaves: `true` if this call removed the member node, `false` if it
    /// was not there (never joined, or gone with a lost session).
    pub fn leave(&self) -> Task<bool> {
        let p = self.clone();
        Task::new(async move {
            p.membership.stop.cancel();
            let Some(node) = p.membership.node().take() else {
                return Ok(false);
            };
            let mut waiter = Waiter::new(&p.client, None, None);
            retrying(&mut waiter, || async {
                match p.client.delete(&node).send().await {
                    Ok(()) => Ok(true),
                    Err(Error::NoNode) => Ok(false),
                    Err(e) => Err(e),
                }
            })
            .await
        })
    }

    /// The members' identifiers (kazoo iterates the party): for a Party
    /// each member node's data, for a ShallowParty the part of each name
    /// after the first `-`. Empty if the party does not exist.
    pub fn members(&self) -> Task<Vec<String>> {
        let p = self.clone();
        Task::new(async move {
            let mut waiter = Waiter::new(&p.client, None, None);
            retrying(&mut waiter, || p.list()).await
        })
    }

    /// How many members there are (kazoo's `len(party)`).
    pub fn len(&self) -> Task<usize> {
        let p = self.clone();
        Task::new(async move {
            let mut waiter = Waiter::new(&p.client, None, None);
            retrying(&mut waiter, || async { Ok(p.member_names().await?.len()) }).await
        })
    }

    fn check(&self) -> Result<(), Error> {
        path::validate(&self.path)?;
        check_identifier(&self.id)?;
        if self.kind == Kind::Shallow && self.id.is_empty() {
            return Err(RecipeError::InvalidIdentifier(self.id.clone()).into());
        }
        Ok(())
    }

    fn on_background(&self) -> Party {
        Party {
            client: self.client.background(),
            ..self.clone()
        }
    }

    async fn create(&self, waiter: &mut Waiter) -> Result<String, Error> {
        let suffix = match self.kind {
            Kind::Full => PARTY.to_owned(),
            Kind::Shallow => format!("-{}", self.id),
        };
        let protected = Protected::named(
            &self.client,
            &self.path,
            &suffix,
            Bytes::from(self.id.clone()),
        );
        Ok(protected.create(&self.client, waiter).await?.path)
    }

    /// Re-creates the member node after each new session until `leave`.
    async fn rejoin_loop(self) {
        let mut waiter = Waiter::new(&self.client, None, Some(self.membership.stop.clone()));
        loop {
            if waiter.wait(None).await == Woken::Cancelled || self.client.is_closed() {
                return;
            }
            let Some(SessionState::Connected { session_id, .. }) = self.client.state() else {
                continue;
            };
            let Some(node) = self.membership.node().clone() else {
                return;
            };
            let owner = match self.client.exists(&node).send().await {
                Ok(stat) => stat.map(|s| s.ephemeral_owner),
                Err(_) => continue, // the next state change tries again
            };
            match owner {
                Some(owner) if owner == session_id => continue,
                // Still there from the replaced session: not ours now.
                Some(_) => delete_in_background(&self.client, node),
                None => {}
            }
            let Ok(new) = self.create(&mut waiter).await else {
                continue;
            };
            let mut current = self.membership.node();
            if current.is_some() && !self.membership.stop.is_set() {
                *current = Some(new);
            } else {
                // Left while re-joining.
                drop(current);
                delete_in_background(&self.client, new);
                return;
            }
        }
    }

    async fn member_names(&self) -> Result<Vec<String>, Error> {
        path::validate(&self.path)?;
        let children = match self.client.get_children(&self.path).send().await {
            Err(Error::NoNode) => return Ok(Vec::new()),
            other => other?,
        };
        Ok(children
            .into_iter()
            .filter(|c| match self.kind {
                Kind::Full => c.contains(PARTY),
                Kind::Shallow => c.contains('-'),
            })
            .collect())
    }

    async fn list(&self) -> Result<Vec<String>, Error> {
        let names = self.member_names().await?;
        match self.kind {
            Kind::Shallow => Ok(names
                .iter()
                .filter_map(|n| n.split_once('-').map(|(_, id)| id.to_owned()))
                .collect()),
            Kind::Full => {
                let reads: Vec<_> = names
                    .iter()
                    .map(|n| self.client.get(child(&self.path, n)).send())
                    .collect();
                let mut ids = Vec::with_capacity(reads.len());
                for read in reads {
                    match read.await {
                        Ok((data, _)) => ids.push(super::node::lossy(data)),
                        Err(Error::NoNode) => {} // left meanwhile
                        Err(e) => return Err(e),
                    }
                }
                Ok(ids)
            }
        }
    }
}
