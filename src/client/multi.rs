//! Transactions (multi) and batched reads (multiRead).

use bytes::Bytes;

use super::ops::{CreateOp, NewNode};
use super::{unexpected, Client, Outcome, Pending};
use crate::proto::{
    MultiOp, MultiReadRequest, MultiRequest, MultiResult, PathVersion, PathWatch, ReadOp, Request,
    Response, SetDataRequest, Stat,
};
use crate::Error;

/// Writes committed atomically: all or none (kazoo's `transaction()`).
///
/// Built by value like every other request: each operation is a builder
/// with the same options as the single call (`create(..).data(..)`,
/// `.ephemeral()`, `.version(v)`…), and any of them goes on with the next
/// operation or `commit()`.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// use kazoo::Error;
/// client.create("/config").data("v3").send().wait()?;
/// let results = client
///     .transaction()
///     .check("/config").version(0)
///     .set("/config", "v4").version(0)
///     .create("/config/v4").data("x").ephemeral()
///     .create("/config/old").null_data()
///     .delete("/config/old")
///     .commit()
///     .wait()?; // one result per operation
/// assert_eq!(results.len(), 5);
///
/// // Nothing of a failed one is applied; each operation says how it went.
/// let failed = client
///     .transaction()
///     .delete("/config/v4")
///     .check("/config").version(0)
///     .commit()
///     .wait()
///     .unwrap_err();
/// assert_eq!(failed.transaction_errors(), Some(vec![Error::RolledBack, Error::BadVersion]));
/// assert!(client.exists("/config/v4").send().wait()?.is_some());
/// # Ok::<(), kazoo::Error>(())
/// ```
///
/// In a loop, take it back after each step:
/// `tx = tx.create(path).sequential().into();`
///
/// A failed transaction changes nothing and fails with
/// [`Error::MultiFailed`], which names the failing operation and carries
/// every operation's result ([`Error::transaction_errors`] lists them as
/// kazoo does).
#[must_use = "nothing is sent until commit()"]
#[derive(Debug)]
pub struct Transaction<'a> {
    client: &'a Client,
    ops: Vec<MultiOp>,
    /// A `check` of each of these paths goes first (locks' fences).
    fences: Vec<String>,
    /// The first invalid argument; reported by `commit`.
    invalid: Option<Error>,
}

impl<'a> Transaction<'a> {
    /// Creates a node (persistent, no data, the default ACL unless the
    /// builder says otherwise).
    pub fn create(self, path: impl Into<String>) -> TxCreate<'a> {
        let node = NewNode::new(path.into(), self.client.inner().default_acl.clone());
        TxCreate { tx: self, node }
    }

    /// Sets a node's data (any version unless `.version(v)`).
    pub fn set(self, path: impl Into<String>, data: impl Into<Bytes>) -> TxSet<'a> {
        TxSet {
            tx: self,
            op: SetDataRequest {
                path: path.into(),
                data: Some(data.into()),
                version: -1,
            },
        }
    }

    /// Deletes a node (any version unless `.version(v)`).
    pub fn delete(self, path: impl Into<String>) -> TxDelete<'a> {
        TxDelete {
            tx: self,
            op: PathVersion {
                path: path.into(),
                version: -1,
            },
        }
    }

    /// Fails the transaction unless the node exists (and, with
    /// `.version(v)`, has that version).
    pub fn check(self, path: impl Into<String>) -> TxCheck<'a> {
        TxCheck {
            tx: self,
            op: PathVersion {
                path: path.into(),
                version: -1,
            },
        }
    }

    /// How many operations it holds so far.
    pub fn len(&self) -> usize {
        self.ops.len() + self.fences.len()
    }

    /// True before the first operation.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Puts a `check` of `path` (any version) before every operation: the
    /// transaction fails unless the node exists (a lock's fence). Fences
    /// add up: each one's check goes first, in the order they were given.
    pub(crate) fn fenced_by(mut self, path: &str) -> Self {
        self.fences.push(path.to_owned());
        self
    }

    /// Sends the transaction; yields one result per operation, in order
    /// (a fence's check first).
    pub fn commit(self) -> Pending<Vec<MultiResult>> {
        let request = match self.invalid {
            Some(e) => Err(e),
            None => {
                let fences = self
                    .fences
                    .into_iter()
                    .map(|path| MultiOp::Check(PathVersion { path, version: -1 }));
                let ops = fences.chain(self.ops).collect();
                Ok(Request::Multi(MultiRequest { ops }))
            }
        };
        Pending::new(self.client.submit_checked(request), committed)
    }

    fn push(mut self, op: Result<MultiOp, Error>) -> Self {
        match op {
            Ok(op) => self.ops.push(op),
            Err(e) => self.invalid = self.invalid.take().or(Some(e)),
        }
        self
    }
}

/// A create in a [`Transaction`], with the options of
/// [`Client::create`].
/// Shown with the others in [`Transaction`]'s example.
#[must_use = "nothing is sent until commit()"]
#[derive(Debug)]
pub struct TxCreate<'a> {
    tx: Transaction<'a>,
    node: NewNode,
}

impl TxCreate<'_> {
    super::ops::node_options!();
}

impl<'a> From<TxCreate<'a>> for Transaction<'a> {
    fn from(b: TxCreate<'a>) -> Transaction<'a> {
        let op = b.node.build().map(|op| match op {
            CreateOp::Plain(r) => MultiOp::Create(r),
            CreateOp::Container(r) => MultiOp::CreateContainer(r),
            CreateOp::Ttl(r) => MultiOp::CreateTtl(r),
        });
        b.tx.push(op)
    }
}

/// A setData in a [`Transaction`].
/// Shown with the others in [`Transaction`]'s example.
#[must_use = "nothing is sent until commit()"]
#[derive(Debug)]
pub struct TxSet<'a> {
    tx: Transaction<'a>,
    op: SetDataRequest,
}

impl TxSet<'_> {
    /// Only if the node's version is `version` (default: any).
    pub fn version(mut self, version: i32) -> Self {
        self.op.version = version;
        self
    }

    /// Store null data instead of the bytes given (see
    /// [`SetBuilder::null_data`](super::SetBuilder::null_data)).
    pub fn null_data(mut self) -> Self {
        self.op.data = None;
        self
    }
}

impl<'a> From<TxSet<'a>> for Transaction<'a> {
    fn from(b: TxSet<'a>) -> Transaction<'a> {
        b.tx.push(Ok(MultiOp::SetData(b.op)))
    }
}

/// A delete in a [`Transaction`].
/// Shown with the others in [`Transaction`]'s example.
#[must_use = "nothing is sent until commit()"]
#[derive(Debug)]
pub struct TxDelete<'a> {
    tx: Transaction<'a>,
    op: PathVersion,
}

impl TxDelete<'_> {
    /// Only if the node's version is `version` (default: any).
    pub fn version(mut self, version: i32) -> Self {
        self.op.version = version;
        self
    }
}

impl<'a> From<TxDelete<'a>> for Transaction<'a> {
    fn from(b: TxDelete<'a>) -> Transaction<'a> {
        b.tx.push(Ok(MultiOp::Delete(b.op)))
    }
}

/// A check in a [`Transaction`].
/// Shown with the others in [`Transaction`]'s example.
#[must_use = "nothing is sent until commit()"]
#[derive(Debug)]
pub struct TxCheck<'a> {
    tx: Transaction<'a>,
    op: PathVersion,
}

impl TxCheck<'_> {
    /// The node must have this version (default: it must exist).
    pub fn version(mut self, version: i32) -> Self {
        self.op.version = version;
        self
    }
}

impl<'a> From<TxCheck<'a>> for Transaction<'a> {
    fn from(b: TxCheck<'a>) -> Transaction<'a> {
        b.tx.push(Ok(MultiOp::Check(b.op)))
    }
}

/// What every operation builder of a transaction also does: go on with
/// the next operation, or commit.
macro_rules! and_then {
    ($($builder:ident),*) => {$(
        impl<'a> $builder<'a> {
            /// Then a create (see [`Transaction::create`]).
            pub fn create(self, path: impl Into<String>) -> TxCreate<'a> {
                Transaction::from(self).create(path)
            }

            /// Then a setData (see [`Transaction::set`]).
            pub fn set(self, path: impl Into<String>, data: impl Into<Bytes>) -> TxSet<'a> {
                Transaction::from(self).set(path, data)
            }

            /// Then a delete (see [`Transaction::delete`]).
            pub fn delete(self, path: impl Into<String>) -> TxDelete<'a> {
                Transaction::from(self).delete(path)
            }

            /// Then a check (see [`Transaction::check`]).
            pub fn check(self, path: impl Into<String>) -> TxCheck<'a> {
                Transaction::from(self).check(path)
            }

            /// Sends the transaction (see [`Transaction::commit`]).
            pub fn commit(self) -> Pending<Vec<MultiResult>> {
                Transaction::from(self).commit()
            }
        }
    )*};
}

and_then!(TxCreate, TxSet, TxDelete, TxCheck);

fn committed(outcome: Outcome) -> Result<Vec<MultiResult>, Error> {
    match outcome? {
        Response::Multi(m) => Error::check_multi(m.results),
        _ => Err(unexpected("multi")),
    }
}

/// Several reads in one round trip (multiRead, 3.6+): each succeeds or
/// fails on its own.
///
/// ```
/// # let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
/// # let client = kazoo_std::connect(server.connect_string()).unwrap();
/// use kazoo::client::ReadResult;
/// use kazoo::Error;
/// client.create("/app/a").data("1").make_parents().send().wait()?;
/// let results = client.multi_read().get("/app/a").get_children("/app").get("/nope").send().wait()?;
/// assert!(matches!(&results[0], Ok(ReadResult::Data(Some(d), _)) if d == "1"));
/// assert_eq!(results[1], Ok(ReadResult::Children(vec!["a".into()])));
/// assert_eq!(results[2], Err(Error::NoNode));
/// # Ok::<(), kazoo::Error>(())
/// ```
#[must_use = "nothing is sent until send()"]
#[derive(Debug)]
pub struct MultiRead<'a> {
    client: &'a Client,
    ops: Vec<ReadOp>,
}

/// One answer of a [`MultiRead`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadResult {
    /// A node's data (`None` for null data) and Stat.
    Data(Option<Bytes>, Stat),
    /// A node's children.
    Children(Vec<String>),
}

impl MultiRead<'_> {
    /// Reads a node's data.
    pub fn get(mut self, path: impl Into<String>) -> Self {
        self.ops.push(ReadOp::GetData(PathWatch {
            path: path.into(),
            watch: false,
        }));
        self
    }

    /// Lists a node's children.
    pub fn get_children(mut self, path: impl Into<String>) -> Self {
        self.ops.push(ReadOp::GetChildren(PathWatch {
            path: path.into(),
            watch: false,
        }));
        self
    }

    /// Sends the reads; yields one result per read, in order.
    pub fn send(self) -> Pending<Vec<Result<ReadResult, Error>>> {
        let slot = self
            .client
            .inner()
            .submit(Request::MultiRead(MultiReadRequest { ops: self.ops }), None);
        Pending::new(slot, read)
    }
}

fn read(outcome: Outcome) -> Result<Vec<Result<ReadResult, Error>>, Error> {
    match outcome? {
        Response::Multi(m) => Ok(m
            .results
            .into_iter()
            .map(|r| match r {
                MultiResult::GetData(d) => Ok(ReadResult::Data(d.data, d.stat)),
                MultiResult::GetChildren(c) => Ok(ReadResult::Children(c.children)),
                MultiResult::Error(e) => Err(Error::from_code(e.err)),
                _ => Err(unexpected("getData or getChildren")),
            })
            .collect()),
        _ => Err(unexpected("multiRead")),
    }
}

impl Client {
    /// Starts a transaction.
    pub fn transaction(&self) -> Transaction<'_> {
        Transaction {
            client: self,
            ops: Vec::new(),
            fences: Vec::new(),
            invalid: None,
        }
    }

    /// Starts a batch of reads.
    pub fn multi_read(&self) -> MultiRead<'_> {
        MultiRead {
            client: self,
            ops: Vec::new(),
        }
    }
}
