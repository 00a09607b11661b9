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
/// ```no_run
/// # fn demo(client: kazoo::client::Client) -> Result<(), kazoo::Error> {
/// let mut t = client.transaction();
/// t.check("/config", 3).set("/config", "v4", 3).create("/config/v4", "");
/// let results = t.commit().wait()?; // one result per operation
/// # Ok(()) }
/// ```
///
/// A failed transaction changes nothing and fails with
/// [`Error::MultiFailed`], which names the failing operation and carries
/// every operation's result.
#[must_use = "nothing is sent until commit()"]
#[derive(Debug)]
pub struct Transaction<'a> {
    client: &'a Client,
    ops: Vec<MultiOp>,
    /// The first invalid argument; reported by `commit`.
    invalid: Option<Error>,
}

impl Transaction<'_> {
    /// Creates a persistent node with `data` and the default ACL.
    pub fn create(&mut self, path: impl Into<String>, data: impl Into<Bytes>) -> &mut Self {
        let mut node = NewNode::new(path.into(), self.client.inner().default_acl.clone());
        node.data = data.into();
        self.push_create(node)
    }

    /// Creates an ephemeral node (also `sequential` if asked).
    pub fn create_ephemeral(
        &mut self,
        path: impl Into<String>,
        data: impl Into<Bytes>,
        sequential: bool,
    ) -> &mut Self {
        let mut node = NewNode::new(path.into(), self.client.inner().default_acl.clone());
        node.data = data.into();
        node.ephemeral = true;
        node.sequential = sequential;
        self.push_create(node)
    }

    /// Creates a persistent sequential node.
    pub fn create_sequential(
        &mut self,
        path: impl Into<String>,
        data: impl Into<Bytes>,
    ) -> &mut Self {
        let mut node = NewNode::new(path.into(), self.client.inner().default_acl.clone());
        node.data = data.into();
        node.sequential = true;
        self.push_create(node)
    }

    fn push_create(&mut self, node: NewNode) -> &mut Self {
        match node.build() {
            Ok(CreateOp::Plain(r)) => self.ops.push(MultiOp::Create(r)),
            Ok(CreateOp::Container(r)) => self.ops.push(MultiOp::CreateContainer(r)),
            Ok(CreateOp::Ttl(r)) => self.ops.push(MultiOp::CreateTtl(r)),
            Err(e) => self.invalid = self.invalid.take().or(Some(e)),
        }
        self
    }

    /// Deletes a node if its version is `version` (-1: any).
    pub fn delete(&mut self, path: impl Into<String>, version: i32) -> &mut Self {
        let path = path.into();
        self.ops
            .push(MultiOp::Delete(PathVersion { path, version }));
        self
    }

    /// Sets a node's data if its version is `version` (-1: any).
    pub fn set(
        &mut self,
        path: impl Into<String>,
        data: impl Into<Bytes>,
        version: i32,
    ) -> &mut Self {
        let (path, data) = (path.into(), Some(data.into()));
        self.ops.push(MultiOp::SetData(SetDataRequest {
            path,
            data,
            version,
        }));
        self
    }

    /// Fails the transaction unless the node's version is `version`.
    pub fn check(&mut self, path: impl Into<String>, version: i32) -> &mut Self {
        let path = path.into();
        self.ops.push(MultiOp::Check(PathVersion { path, version }));
        self
    }

    /// Puts a `check` of `path` (any version) before every operation so
    /// far: the transaction fails unless the node exists (a lock fence).
    pub(crate) fn check_first(&mut self, path: &str) {
        self.ops.insert(
            0,
            MultiOp::Check(PathVersion {
                path: path.to_owned(),
                version: -1,
            }),
        );
    }

    /// Sends the transaction; yields one result per operation, in order.
    pub fn commit(self) -> Pending<Vec<MultiResult>> {
        let request = match self.invalid {
            Some(e) => Err(e),
            None => Ok(Request::Multi(MultiRequest { ops: self.ops })),
        };
        Pending::new(self.client.submit_checked(request), committed)
    }
}

fn committed(outcome: Outcome) -> Result<Vec<MultiResult>, Error> {
    match outcome? {
        Response::Multi(m) => Error::check_multi(m.results),
        _ => Err(unexpected("multi")),
    }
}

/// Several reads in one round trip (multiRead, 3.6+): each succeeds or
/// fails on its own.
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
    /// A node's data and Stat.
    Data(Bytes, Stat),
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
                MultiResult::GetData(d) => Ok(ReadResult::Data(d.data.unwrap_or_default(), d.stat)),
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
