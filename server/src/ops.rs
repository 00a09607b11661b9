//! What each request does to the tree, with ZooKeeper's checks in
//! ZooKeeper's order (bad arguments, ACL, missing node, version…).

use bytes::Bytes;
use kazoo::acl::{Acl, Id, Perms};
use kazoo::proto::{
    AddWatchMode, ChildrenResponse, ClientInfo, Create2Response, CreateMode, ErrorResponse,
    GetAclResponse, GetAllChildrenNumberResponse, GetChildren2Response, GetDataResponse, MultiOp,
    MultiResponse, MultiResult, OpCode, PathRecord, ReadOp, Request, Response, WatcherType,
    WhoAmIResponse,
};
use kazoo::{path, Error};

use crate::acl::fix_up;
use crate::server::Server;
use crate::tree::{parent_of, Change, Kind, Tree};
use crate::watches::Kind as WatchKind;
use crate::ConnId;

/// Largest TTL the real server accepts (PROTOCOL.md §5.5).
const MAX_TTL_MS: i64 = (1 << 40) - 1;

/// A request's answer and the changes to announce before it.
pub(crate) struct Outcome {
    pub(crate) result: Result<Response, Error>,
    pub(crate) changes: Vec<Change>,
}

/// One request in flight through the server.
pub(crate) struct Ctx<'a> {
    pub(crate) server: &'a mut Server,
    pub(crate) conn: ConnId,
    pub(crate) session: i64,
    pub(crate) auth: &'a [Id],
    /// Wall-clock ms for ctime and mtime.
    pub(crate) time: i64,
}

/// A create, normalised from its opcode and flags.
struct NewNode {
    path: String,
    data: Option<Bytes>,
    acl: Vec<Acl>,
    kind: Kind,
    sequential: bool,
    /// create2, container and TTL answer with a Stat.
    with_stat: bool,
}

impl Ctx<'_> {
    pub(crate) fn apply(&mut self, request: Request) -> Outcome {
        let mut changes = Vec::new();
        let zxid = self.server.zxid;
        let result = match request {
            Request::Create(_)
            | Request::Create2(_)
            | Request::CreateContainer(_)
            | Request::CreateTtl(_) => self.new_node(request, false).and_then(|node| {
                let tree = &mut self.server.tree;
                create(tree, node, self.auth, zxid, self.time, &mut changes)
            }),
            Request::Delete(r) => delete(
                &mut self.server.tree,
                &r.path,
                r.version,
                self.auth,
                zxid,
                &mut changes,
            )
            .map(|()| Response::Empty),
            Request::SetData(r) => set_data(
                &mut self.server.tree,
                &r.path,
                r.data,
                r.version,
                self.auth,
                zxid,
                self.time,
                &mut changes,
            ),
            Request::SetAcl(r) => self.set_acl(&r.path, &r.acl, r.version, zxid),
            Request::Exists(r) => self.exists(&r.path, r.watch),
            Request::GetData(r) => self.read_data(&r.path, r.watch),
            Request::GetChildren(r) => self
                .children(&r.path, r.watch)
                .map(|(children, _)| Response::GetChildren(ChildrenResponse { children })),
            Request::GetChildren2(r) => self.children(&r.path, r.watch).map(|(children, stat)| {
                Response::GetChildren2(GetChildren2Response { children, stat })
            }),
            Request::GetAcl(r) => match (
                self.server.tree.get(&r.path),
                self.server.tree.stat(&r.path),
            ) {
                (Some(node), Some(stat)) => {
                    if !crate::acl::allowed_any(&node.acl, &[Perms::READ, Perms::ADMIN], self.auth)
                    {
                        Err(Error::NoAuth)
                    } else if crate::acl::allowed(&node.acl, Perms::ADMIN, self.auth) {
                        Ok(Response::GetAcl(GetAclResponse {
                            acl: node.acl.clone(),
                            stat,
                        }))
                    } else {
                        Ok(Response::GetAcl(GetAclResponse {
                            acl: crate::acl::masked(&node.acl),
                            stat,
                        }))
                    }
                }
                _ => Err(Error::NoNode),
            },
            Request::Sync(r) => Ok(Response::Sync(r)),
            Request::Multi(m) => self.multi(m.ops, zxid, &mut changes),
            Request::MultiRead(m) => Ok(Response::Multi(MultiResponse {
                results: m.ops.into_iter().map(|op| self.read_op(op)).collect(),
            })),
            Request::GetEphemerals(r) => {
                let prefix = r.path;
                let mut children: Vec<String> = self
                    .server
                    .session_ephemerals(self.session)
                    .into_iter()
                    .filter(|p| p.starts_with(&prefix))
                    .collect();
                children.sort();
                Ok(Response::GetEphemerals(ChildrenResponse { children }))
            }
            Request::GetAllChildrenNumber(r) => match self.server.tree.get(&r.path) {
                None => Err(Error::NoNode),
                Some(node) if !crate::acl::allowed(&node.acl, Perms::READ, self.auth) => {
                    Err(Error::NoAuth)
                }
                Some(_) => Ok(Response::GetAllChildrenNumber(
                    GetAllChildrenNumberResponse {
                        total_number: i32::try_from(self.server.tree.descendants(&r.path))
                            .unwrap_or(i32::MAX),
                    },
                )),
            },
            Request::WhoAmI => Ok(Response::WhoAmI(WhoAmIResponse {
                client_info: self.who(),
            })),
            Request::AddWatch(r) => {
                let kind = match r.mode {
                    AddWatchMode::Persistent => Some(WatchKind::Persistent),
                    AddWatchMode::PersistentRecursive => Some(WatchKind::Recursive),
                    _ => None,
                };
                match kind {
                    Some(kind) => {
                        self.server.watches.add(&r.path, self.conn, kind);
                        Ok(Response::AddWatch(ErrorResponse { err: 0 }))
                    }
                    None => Err(Error::BadArguments),
                }
            }
            Request::RemoveWatches(r) | Request::CheckWatches(r)
                if !supported_watcher_type(r.watcher_type) =>
            {
                Err(Error::BadArguments) // types 4 and 5 arrive with 3.9
            }
            Request::CheckWatches(r) => {
                match self
                    .server
                    .watches
                    .contains(&r.path, self.conn, r.watcher_type)
                {
                    true => Ok(Response::Empty),
                    false => Err(Error::NoWatcher),
                }
            }
            Request::RemoveWatches(r) => {
                match self
                    .server
                    .watches
                    .remove(&r.path, self.conn, r.watcher_type)
                {
                    true => Ok(Response::Empty),
                    false => Err(Error::NoWatcher),
                }
            }
            Request::Reconfig(_) => Err(Error::ReconfigDisabled),
            _ => Err(Error::Unimplemented),
        };
        Outcome { result, changes }
    }

    /// Normalises a create request, checking flags, TTL and path as the
    /// 3.8 server does (PROTOCOL.md §5.3).
    fn new_node(&self, request: Request, in_multi: bool) -> Result<NewNode, Error> {
        let (op, path, data, acl, mode, ttl) = match request {
            Request::Create(r) => (OpCode::Create, r.path, r.data, r.acl, r.mode, None),
            Request::Create2(r) => (OpCode::Create2, r.path, r.data, r.acl, r.mode, None),
            Request::CreateContainer(r) => {
                (OpCode::CreateContainer, r.path, r.data, r.acl, r.mode, None)
            }
            Request::CreateTtl(r) => (
                OpCode::CreateTtl,
                r.path,
                r.data,
                r.acl,
                r.mode,
                Some(r.ttl),
            ),
            _ => return Err(Error::Unimplemented),
        };
        let kind = match (op, mode, ttl) {
            (OpCode::CreateTtl, _, _) if !self.server.config.extended_types => {
                return Err(Error::Unimplemented)
            }
            (
                OpCode::CreateTtl,
                CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl,
                Some(ttl),
            ) if (1..=MAX_TTL_MS).contains(&ttl) => Kind::Ttl(ttl),
            (OpCode::CreateTtl, _, _) => return Err(Error::BadArguments),
            (OpCode::CreateContainer, CreateMode::Container, _) => Kind::Container,
            (OpCode::CreateContainer, _, _) => return Err(Error::BadArguments),
            (_, CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl, _) => {
                return Err(Error::BadArguments)
            }
            (_, CreateMode::Ephemeral | CreateMode::EphemeralSequential, _) => {
                Kind::Ephemeral(self.session)
            }
            // flags 4 with a plain create: the 3.8 server stores a plain persistent node.
            _ => Kind::Persistent,
        };
        let sequential = mode.is_sequential();
        let checked = if sequential {
            path::validate_sequential(&path)
        } else {
            path::validate(&path)
        };
        if checked.is_err() || (path == "/" && !sequential) {
            return Err(Error::BadArguments);
        }
        // In a multi, a create2 answers as a plain create on 3.8.0 (PROTOCOL.md §0.9).
        let with_stat = match op {
            OpCode::Create2 => !in_multi,
            OpCode::CreateContainer | OpCode::CreateTtl => true,
            _ => false,
        };
        Ok(NewNode {
            path,
            data,
            acl,
            kind,
            sequential,
            with_stat,
        })
    }

    fn set_acl(
        &mut self,
        path: &str,
        acl: &[Acl],
        version: i32,
        zxid: i64,
    ) -> Result<Response, Error> {
        let acl = fix_up(acl, self.auth)?;
        let tree = &mut self.server.tree;
        let node = tree.get_mut(path).ok_or(Error::NoNode)?;
        if !crate::acl::allowed(&node.acl, Perms::ADMIN, self.auth) {
            return Err(Error::NoAuth);
        }
        if version != -1 && version != node.stat.aversion {
            return Err(Error::BadVersion);
        }
        node.acl = acl;
        node.stat.aversion = node.stat.aversion.wrapping_add(1);
        let _ = zxid; // setACL changes no zxid field of the Stat
        tree.stat(path).map(Response::Stat).ok_or(Error::NoNode)
    }

    fn exists(&mut self, path: &str, watch: bool) -> Result<Response, Error> {
        if path.contains('\0') {
            return Err(Error::BadArguments);
        }
        if watch {
            self.server.watches.add(path, self.conn, WatchKind::Data);
        }
        self.server
            .tree
            .stat(path)
            .map(Response::Stat)
            .ok_or(Error::NoNode)
    }

    fn read_data(&mut self, path: &str, watch: bool) -> Result<Response, Error> {
        let node = self.server.tree.get(path).ok_or(Error::NoNode)?;
        if !crate::acl::allowed(&node.acl, Perms::READ, self.auth) {
            return Err(Error::NoAuth);
        }
        let data = node.data.clone();
        if watch {
            self.server.watches.add(path, self.conn, WatchKind::Data);
        }
        let stat = self.server.tree.stat(path).unwrap_or_default();
        Ok(Response::GetData(GetDataResponse { data, stat }))
    }

    fn children(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, kazoo::proto::Stat), Error> {
        let node = self.server.tree.get(path).ok_or(Error::NoNode)?;
        if !crate::acl::allowed(&node.acl, Perms::READ, self.auth) {
            return Err(Error::NoAuth);
        }
        let children: Vec<String> = node.children.iter().cloned().collect();
        if watch {
            self.server.watches.add(path, self.conn, WatchKind::Child);
        }
        Ok((children, self.server.tree.stat(path).unwrap_or_default()))
    }

    fn read_op(&mut self, op: ReadOp) -> MultiResult {
        let result = match op {
            ReadOp::GetData(r) => self.read_data(&r.path, false),
            ReadOp::GetChildren(r) => self
                .children(&r.path, false)
                .map(|(children, _)| Response::GetChildren(ChildrenResponse { children })),
            _ => Err(Error::Unimplemented),
        };
        match result {
            Ok(Response::GetData(d)) => MultiResult::GetData(d),
            Ok(Response::GetChildren(c)) => MultiResult::GetChildren(c),
            Ok(_) => MultiResult::Error(ErrorResponse { err: -2 }),
            Err(e) => MultiResult::Error(ErrorResponse {
                err: e.code().unwrap_or(-1),
            }),
        }
    }

    fn who(&self) -> Vec<ClientInfo> {
        self.auth
            .iter()
            .map(|id| ClientInfo {
                auth_scheme: id.scheme.to_string(),
                user: match id.scheme.as_ref() {
                    "digest" => id.id.split(':').next().unwrap_or("").to_string(),
                    _ => id.id.to_string(),
                },
            })
            .collect()
    }

    /// All or nothing, on a copy of the tree; one zxid for the whole multi.
    fn multi(
        &mut self,
        ops: Vec<MultiOp>,
        zxid: i64,
        changes: &mut Vec<Change>,
    ) -> Result<Response, Error> {
        let mut tree = self.server.tree.clone();
        let mut results = Vec::with_capacity(ops.len());
        let mut staged = Vec::new();
        let count = ops.len();
        for (i, op) in ops.into_iter().enumerate() {
            let result = self.multi_op(&mut tree, op, zxid, &mut staged);
            match result {
                Ok(r) => results.push(r),
                Err(e) => {
                    let results = (0..count)
                        .map(|j| {
                            let err = match j.cmp(&i) {
                                std::cmp::Ordering::Less => 0,
                                std::cmp::Ordering::Equal => e.code().unwrap_or(-1),
                                std::cmp::Ordering::Greater => -2,
                            };
                            MultiResult::Error(ErrorResponse { err })
                        })
                        .collect();
                    return Ok(Response::Multi(MultiResponse { results }));
                }
            }
        }
        self.server.tree = tree;
        changes.extend(staged);
        Ok(Response::Multi(MultiResponse { results }))
    }

    fn multi_op(
        &mut self,
        tree: &mut Tree,
        op: MultiOp,
        zxid: i64,
        changes: &mut Vec<Change>,
    ) -> Result<MultiResult, Error> {
        match op {
            MultiOp::Create(r) => self.multi_create(tree, Request::Create(r), zxid, changes),
            MultiOp::Create2(r) => self.multi_create(tree, Request::Create2(r), zxid, changes),
            MultiOp::CreateContainer(r) => {
                self.multi_create(tree, Request::CreateContainer(r), zxid, changes)
            }
            MultiOp::CreateTtl(r) => self.multi_create(tree, Request::CreateTtl(r), zxid, changes),
            MultiOp::Delete(r) => delete(tree, &r.path, r.version, self.auth, zxid, changes)
                .map(|()| MultiResult::Delete),
            MultiOp::SetData(r) => match set_data(
                tree, &r.path, r.data, r.version, self.auth, zxid, self.time, changes,
            )? {
                Response::Stat(s) => Ok(MultiResult::SetData(s)),
                _ => Err(Error::RuntimeInconsistency),
            },
            MultiOp::Check(r) => {
                let node = tree.get(&r.path).ok_or(Error::NoNode)?;
                if !crate::acl::allowed(&node.acl, Perms::READ, self.auth) {
                    return Err(Error::NoAuth);
                }
                let stat = tree.stat(&r.path).ok_or(Error::NoNode)?;
                if r.version != -1 && r.version != stat.version {
                    return Err(Error::BadVersion);
                }
                Ok(MultiResult::Check)
            }
            _ => Err(Error::Unimplemented),
        }
    }

    fn multi_create(
        &mut self,
        tree: &mut Tree,
        request: Request,
        zxid: i64,
        changes: &mut Vec<Change>,
    ) -> Result<MultiResult, Error> {
        let node = self.new_node(request, true)?;
        let result = create(tree, node, self.auth, zxid, self.time, changes)?;
        match result {
            Response::Create(r) => Ok(MultiResult::Create(r)),
            Response::Create2(r) => Ok(MultiResult::Create2(r)),
            _ => Err(Error::RuntimeInconsistency),
        }
    }
}

fn supported_watcher_type(which: WatcherType) -> bool {
    matches!(
        which,
        WatcherType::Any | WatcherType::Data | WatcherType::Children
    )
}

/// Creates a node (ACL fixed up, parent checked, sequence added).
#[allow(clippy::too_many_arguments)]
fn create(
    tree: &mut Tree,
    node: NewNode,
    auth: &[Id],
    zxid: i64,
    time: i64,
    changes: &mut Vec<Change>,
) -> Result<Response, Error> {
    let acl = fix_up(&node.acl, auth)?;
    let parent_path = parent_of(&node.path).to_string();
    let parent = tree.get(&parent_path).ok_or(Error::NoNode)?;
    if !crate::acl::allowed(&parent.acl, Perms::CREATE, auth) {
        return Err(Error::NoAuth);
    }
    // The suffix is the parent's count of children ever created (deletions
    // do not move it), as 3.8.0 assigns it.
    let path = if node.sequential {
        format!(
            "{}{}",
            node.path,
            path::format_sequence(parent.stat.cversion)
        )
    } else {
        node.path
    };
    if tree.get(&path).is_some() {
        return Err(Error::NodeExists);
    }
    if matches!(parent.kind, Kind::Ephemeral(_)) {
        return Err(Error::NoChildrenForEphemerals);
    }
    let stat = tree.create(&path, node.data, acl, node.kind, zxid, time, changes)?;
    Ok(if node.with_stat {
        Response::Create2(Create2Response { path, stat })
    } else {
        Response::Create(PathRecord { path })
    })
}

fn delete(
    tree: &mut Tree,
    path: &str,
    version: i32,
    auth: &[Id],
    zxid: i64,
    changes: &mut Vec<Change>,
) -> Result<(), Error> {
    if path == "/" || crate::tree::is_special(path) {
        return Err(Error::BadArguments);
    }
    // The real server's order: parent, the parent's ACL, node, version, children.
    let parent = tree.parent(path).ok_or(Error::NoNode)?;
    if !crate::acl::allowed(&parent.acl, Perms::DELETE, auth) {
        return Err(Error::NoAuth);
    }
    let node = tree.get(path).ok_or(Error::NoNode)?;
    if version != -1 && version != node.stat.version {
        return Err(Error::BadVersion);
    }
    tree.delete(path, zxid, changes)
}

#[allow(clippy::too_many_arguments)]
fn set_data(
    tree: &mut Tree,
    path: &str,
    data: Option<Bytes>,
    version: i32,
    auth: &[Id],
    zxid: i64,
    time: i64,
    changes: &mut Vec<Change>,
) -> Result<Response, Error> {
    let node = tree.get(path).ok_or(Error::NoNode)?;
    if !crate::acl::allowed(&node.acl, Perms::WRITE, auth) {
        return Err(Error::NoAuth);
    }
    if version != -1 && version != node.stat.version {
        return Err(Error::BadVersion);
    }
    tree.set_data(path, data, zxid, time, changes)
        .map(Response::Stat)
}
