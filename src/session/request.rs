//! Checking and rewriting requests on the way in (paths validated, chroot
//! prepended, watch registration noted) and responses on the way out
//! (chroot stripped).

use crate::path::{self, Chroot};
use crate::proto::{
    AddWatchMode, CreateMode, DecodeError, MultiOp, MultiResult, OpCode, ReadOp, Request, Response,
    WatcherType,
};
use crate::{ArgumentError, Error};

/// What a request does to the watch registry when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Registration {
    /// exists with a watch: a data watch if the node exists, an exist watch if not.
    Exists(String),
    /// getData with a watch.
    Data(String),
    /// getChildren / getChildren2 with a watch.
    Child(String),
    /// addWatch.
    Add(String, AddWatchMode),
    /// removeWatches.
    Remove(String, WatcherType),
}

impl Registration {
    /// The client path, when the wire watch flag may be turned off
    /// (one-shot watches served locally).
    pub(crate) fn one_shot_path(&self) -> Option<&str> {
        match self {
            Registration::Exists(p) | Registration::Data(p) | Registration::Child(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Clone, Copy)]
enum PathKind {
    Node,
    /// A sequential create: the server appends digits.
    Sequential,
    /// getEphemerals: a string prefix, "" or "/" for all.
    Prefix,
}

/// Validates a client request, notes its watch registration, and rewrites
/// its paths to server paths.
pub(crate) fn prepare(
    request: &mut Request,
    chroot: &Chroot,
) -> Result<Option<Registration>, Error> {
    let registration = match &*request {
        Request::Ping
        | Request::SetWatches(_)
        | Request::SetWatches2(_)
        | Request::CloseSession
        | Request::Sasl(_) => {
            return Err(ArgumentError::SessionInternal(request.op_code()).into());
        }
        Request::Check(_) => return Err(ArgumentError::CheckOutsideMulti.into()),
        Request::Exists(r) if r.watch => Some(Registration::Exists(r.path.clone())),
        Request::GetData(r) if r.watch => Some(Registration::Data(r.path.clone())),
        Request::GetChildren(r) | Request::GetChildren2(r) if r.watch => {
            Some(Registration::Child(r.path.clone()))
        }
        Request::AddWatch(r) => Some(Registration::Add(r.path.clone(), r.mode)),
        Request::RemoveWatches(r) => Some(Registration::Remove(r.path.clone(), r.watcher_type)),
        _ => None,
    };
    for_each_path(request, &mut |p, kind| {
        match kind {
            PathKind::Node => path::validate(p)?,
            PathKind::Sequential => path::validate_sequential(p)?,
            PathKind::Prefix => {}
        }
        if let Some(root) = chroot.as_str() {
            *p = match kind {
                PathKind::Prefix if p.is_empty() || p == "/" => format!("{root}/"),
                _ => chroot.prepend(p).into_owned(),
            };
        }
        Ok(())
    })?;
    Ok(registration)
}

fn create_kind(mode: CreateMode) -> PathKind {
    if mode.is_sequential() {
        PathKind::Sequential
    } else {
        PathKind::Node
    }
}

fn for_each_path(
    request: &mut Request,
    f: &mut impl FnMut(&mut String, PathKind) -> Result<(), Error>,
) -> Result<(), Error> {
    match request {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => {
            f(&mut r.path, create_kind(r.mode))
        }
        Request::CreateTtl(r) => f(&mut r.path, create_kind(r.mode)),
        Request::Delete(r) | Request::Check(r) => f(&mut r.path, PathKind::Node),
        Request::Exists(r)
        | Request::GetData(r)
        | Request::GetChildren(r)
        | Request::GetChildren2(r) => f(&mut r.path, PathKind::Node),
        Request::SetData(r) => f(&mut r.path, PathKind::Node),
        Request::SetAcl(r) => f(&mut r.path, PathKind::Node),
        Request::GetAcl(r) | Request::Sync(r) | Request::GetAllChildrenNumber(r) => {
            f(&mut r.path, PathKind::Node)
        }
        Request::GetEphemerals(r) => f(&mut r.path, PathKind::Prefix),
        Request::CheckWatches(r) | Request::RemoveWatches(r) => f(&mut r.path, PathKind::Node),
        Request::AddWatch(r) => f(&mut r.path, PathKind::Node),
        Request::Multi(m) => m.ops.iter_mut().try_for_each(|op| match op {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                f(&mut r.path, create_kind(r.mode))
            }
            MultiOp::CreateTtl(r) => f(&mut r.path, create_kind(r.mode)),
            MultiOp::Delete(r) | MultiOp::Check(r) => f(&mut r.path, PathKind::Node),
            MultiOp::SetData(r) => f(&mut r.path, PathKind::Node),
        }),
        Request::MultiRead(m) => m.ops.iter_mut().try_for_each(|op| match op {
            ReadOp::GetData(r) | ReadOp::GetChildren(r) => f(&mut r.path, PathKind::Node),
        }),
        Request::Reconfig(_)
        | Request::Auth(_)
        | Request::WhoAmI
        | Request::Ping
        | Request::SetWatches(_)
        | Request::SetWatches2(_)
        | Request::Sasl(_)
        | Request::CloseSession => Ok(()),
    }
}

/// A lower bound of the encoded length (paths and data only), to reject an
/// oversized request when it is submitted rather than when it is sent.
pub(crate) fn min_len(request: &Request) -> usize {
    fn data(d: &Option<bytes::Bytes>) -> usize {
        d.as_ref().map_or(0, |d| d.len())
    }
    match request {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => {
            r.path.len() + data(&r.data)
        }
        Request::CreateTtl(r) => r.path.len() + data(&r.data),
        Request::SetData(r) => r.path.len() + data(&r.data),
        Request::Multi(m) => m
            .ops
            .iter()
            .map(|op| match op {
                MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                    r.path.len() + data(&r.data)
                }
                MultiOp::CreateTtl(r) => r.path.len() + data(&r.data),
                MultiOp::SetData(r) => r.path.len() + data(&r.data),
                MultiOp::Delete(r) | MultiOp::Check(r) => r.path.len(),
            })
            .sum(),
        _ => 0,
    }
}

/// Turns the wire watch flag off (a one-shot watch served locally).
pub(crate) fn clear_watch_flag(request: &mut Request) {
    if let Request::Exists(r)
    | Request::GetData(r)
    | Request::GetChildren(r)
    | Request::GetChildren2(r) = request
    {
        r.watch = false;
    }
}

/// Rewrites server paths in a response to client paths.
pub(crate) fn strip_chroot(
    response: &mut Response,
    op: OpCode,
    chroot: &Chroot,
) -> Result<(), DecodeError> {
    if chroot.as_str().is_none() {
        return Ok(());
    }
    let strip = |p: &mut String| -> Result<(), DecodeError> {
        let stripped = chroot.strip(p);
        if stripped.len() == p.len() {
            return Err(DecodeError::PathOutsideChroot(std::mem::take(p)));
        }
        *p = stripped.to_owned();
        Ok(())
    };
    match response {
        Response::Create(r) | Response::Sync(r) => strip(&mut r.path),
        Response::Create2(r) => strip(&mut r.path),
        Response::GetEphemerals(r) => r.children.iter_mut().try_for_each(strip),
        Response::Multi(m) if op == OpCode::Multi => {
            m.results.iter_mut().try_for_each(|r| match r {
                MultiResult::Create(c) => strip(&mut c.path),
                MultiResult::Create2(c) => strip(&mut c.path),
                _ => Ok(()),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{CreateRequest, GetEphemeralsRequest, PathWatch};

    #[test]
    fn chroot_goes_on_every_path() {
        let chroot = Chroot::new("/app").unwrap();
        let mut r = Request::GetData(PathWatch {
            path: "/".into(),
            watch: true,
        });
        assert_eq!(
            prepare(&mut r, &chroot).unwrap(),
            Some(Registration::Data("/".into()))
        );
        assert_eq!(
            r,
            Request::GetData(PathWatch {
                path: "/app".into(),
                watch: true
            })
        );

        let mut e = Request::GetEphemerals(GetEphemeralsRequest { path: "".into() });
        prepare(&mut e, &chroot).unwrap();
        assert_eq!(
            e,
            Request::GetEphemerals(GetEphemeralsRequest {
                path: "/app/".into()
            })
        );
    }

    #[test]
    fn bad_paths_and_internal_ops_are_refused() {
        let chroot = Chroot::default();
        let mut r = Request::Exists(PathWatch {
            path: "/a/".into(),
            watch: false,
        });
        assert!(matches!(
            prepare(&mut r, &chroot),
            Err(Error::InvalidPath(_))
        ));
        let mut seq = Request::Create(CreateRequest {
            path: "/q/".into(),
            data: None,
            acl: vec![],
            mode: CreateMode::PersistentSequential,
        });
        assert_eq!(
            prepare(&mut seq, &chroot),
            Ok(None),
            "sequential prefix may end in /"
        );
        assert_eq!(
            prepare(&mut Request::Ping, &chroot),
            Err(ArgumentError::SessionInternal(OpCode::Ping).into())
        );
    }

    #[test]
    fn paths_outside_the_chroot_are_errors() {
        let chroot = Chroot::new("/app").unwrap();
        let mut ok = Response::Create(crate::proto::CreateResponse {
            path: "/app/x".into(),
        });
        strip_chroot(&mut ok, OpCode::Create, &chroot).unwrap();
        assert_eq!(
            ok,
            Response::Create(crate::proto::CreateResponse { path: "/x".into() })
        );
        let mut bad = Response::Create(crate::proto::CreateResponse {
            path: "/application".into(),
        });
        assert_eq!(
            strip_chroot(&mut bad, OpCode::Create, &chroot),
            Err(DecodeError::PathOutsideChroot("/application".into()))
        );
    }
}
