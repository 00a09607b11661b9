//! The watch registry: which request left which watch on which path, and
//! which of them a notification triggers (PROTOCOL.md §7.3–§7.5).
//!
//! Keyed by client path in a `BTreeMap` (deterministic order for replay; a
//! notification looks up `&str` slices of its own path, never cloning keys).
//!
//! One-shot watches on a path that also carries this session's persistent
//! or recursive watch are **served locally**: never armed on the server,
//! because servers before 3.9 keep one watch mode per (connection, path)
//! and a standard watch would replace the persistent one (PROTOCOL.md §0.8).
//! The persistent watch delivers the node's events; for a recursive watch,
//! which sends no NodeChildrenChanged, a child watch on the same path fires
//! on the NodeCreated/NodeDeleted of a direct child.

use std::collections::BTreeMap;

use smallvec::SmallVec;

use super::RequestId;
use crate::path::parent;
use crate::proto::{AddWatchMode, EventType, WatcherType};

/// The kinds of watch a session can hold on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// getData, or exists on an existing node.
    Data,
    /// exists on a missing node.
    Exist,
    /// getChildren.
    Child,
    /// addWatch, persistent.
    Persistent,
    /// addWatch, persistent recursive.
    Recursive,
}

impl From<AddWatchMode> for Kind {
    fn from(mode: AddWatchMode) -> Kind {
        match mode {
            AddWatchMode::Persistent => Kind::Persistent,
            AddWatchMode::PersistentRecursive => Kind::Recursive,
        }
    }
}

type Ids = SmallVec<[RequestId; 1]>;

#[derive(Debug, Default, Clone)]
struct PathWatches {
    data: Ids,
    exist: Ids,
    child: Ids,
    persistent: Ids,
    recursive: Ids,
}

impl PathWatches {
    fn ids_mut(&mut self, kind: Kind) -> &mut Ids {
        match kind {
            Kind::Data => &mut self.data,
            Kind::Exist => &mut self.exist,
            Kind::Child => &mut self.child,
            Kind::Persistent => &mut self.persistent,
            Kind::Recursive => &mut self.recursive,
        }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }

    fn has_persistent(&self) -> bool {
        !self.persistent.is_empty() || !self.recursive.is_empty()
    }
}

/// One watcher to tell: the watch's request, what happened, and where.
pub(crate) type Fired<'a> = (RequestId, EventType, &'a str);

#[derive(Debug, Default, Clone)]
pub(crate) struct WatchRegistry {
    paths: BTreeMap<String, PathWatches>,
    /// addWatch requests written and not yet answered, per path. One-shots
    /// pipelined behind them are served locally already: the server
    /// handles the addWatch first, and a 3.8 server would let a one-shot
    /// replace the persistent watch (ZOOKEEPER-4466).
    persistent_pending: BTreeMap<String, u32>,
}

impl WatchRegistry {
    pub(crate) fn add(&mut self, path: String, kind: Kind, id: RequestId) {
        self.paths.entry(path).or_default().ids_mut(kind).push(id);
    }

    /// True if one-shot watches on `path` are served locally (see the module
    /// docs), or will be once an addWatch already written is answered.
    pub(crate) fn serves_locally(&self, path: &str) -> bool {
        self.persistent_pending.contains_key(path)
            || self
                .paths
                .get(path)
                .is_some_and(PathWatches::has_persistent)
    }

    /// True if any watcher of this session is registered on `path`.
    pub(crate) fn watches_path(&self, path: &str) -> bool {
        self.paths.contains_key(path)
    }

    /// True while an addWatch for `path` is written and unanswered.
    pub(crate) fn add_pending(&self, path: &str) -> bool {
        self.persistent_pending.contains_key(path)
    }

    /// An addWatch for `path` was written.
    pub(crate) fn persistent_sent(&mut self, path: &str) {
        *self.persistent_pending.entry(path.to_owned()).or_default() += 1;
    }

    /// An addWatch for `path` was answered (or lost with its connection).
    /// If that leaves no persistent watch on the path, the one-shots that
    /// counted on it are not armed anywhere: they are returned, to be told
    /// "re-read" and end, rather than wait for an event that cannot come.
    pub(crate) fn persistent_answered(&mut self, path: &str) -> Vec<RequestId> {
        if let Some(n) = self.persistent_pending.get_mut(path) {
            *n -= 1;
            if *n == 0 {
                self.persistent_pending.remove(path);
            }
        }
        self.orphans(path)
    }

    /// One-shots on `path` that were served locally by a persistent watch
    /// that is gone: removed and returned (see `persistent_answered`).
    pub(crate) fn orphans(&mut self, path: &str) -> Vec<RequestId> {
        if self.serves_locally(path) {
            return Vec::new();
        }
        let Some(w) = self.paths.get_mut(path) else {
            return Vec::new();
        };
        let orphans = w
            .data
            .drain(..)
            .chain(w.exist.drain(..))
            .chain(w.child.drain(..));
        let orphans = orphans.collect();
        self.prune(path);
        orphans
    }

    /// Forgets the persistent or recursive watcher `id`; returns its path,
    /// its kind, and whether it was the last of that kind on the path (so
    /// the server's watch can go too).
    pub(crate) fn remove_watcher(&mut self, id: RequestId) -> Option<(String, Kind, bool)> {
        const KINDS: [Kind; 5] = [
            Kind::Data,
            Kind::Exist,
            Kind::Child,
            Kind::Persistent,
            Kind::Recursive,
        ];
        let (path, kind, last) = self.paths.iter_mut().find_map(|(path, w)| {
            KINDS.into_iter().find_map(|kind| {
                let ids = w.ids_mut(kind);
                let at = ids.iter().position(|&i| i == id)?;
                ids.remove(at);
                // getData and exists share the server's data watch.
                let last = match kind {
                    Kind::Data | Kind::Exist => w.data.is_empty() && w.exist.is_empty(),
                    other => w.ids_mut(other).is_empty(),
                };
                Some((path.clone(), kind, last))
            })
        })?;
        self.prune(&path);
        Some((path, kind, last))
    }

    /// Every watcher a server notification for `path` triggers, in a fixed
    /// order; one-shot watchers are removed.
    pub(crate) fn dispatch<'p>(
        &mut self,
        event: EventType,
        path: &'p str,
        fired: &mut Vec<Fired<'p>>,
    ) {
        let (one_shot, recursive): (&[Kind], bool) = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                (&[Kind::Data, Kind::Exist], true)
            }
            EventType::NodeDeleted => (&[Kind::Data, Kind::Exist, Kind::Child], true),
            EventType::NodeChildrenChanged => (&[Kind::Child], false),
            _ => return,
        };
        if let Some(w) = self.paths.get_mut(path) {
            for &kind in one_shot {
                fired.extend(w.ids_mut(kind).drain(..).map(|id| (id, event, path)));
            }
            fired.extend(w.persistent.iter().map(|&id| (id, event, path)));
        }
        if recursive {
            let mut at = path;
            loop {
                if let Some(w) = self.paths.get(at) {
                    fired.extend(w.recursive.iter().map(|&id| (id, event, path)));
                }
                if at == "/" {
                    break;
                }
                at = parent(at);
            }
        }
        if matches!(event, EventType::NodeCreated | EventType::NodeDeleted) && path != "/" {
            self.synthesize_child_event(parent(path), fired);
        }
        self.prune(path);
    }

    /// A child watch served locally under a recursive watch learns of child
    /// changes from the recursive watch's NodeCreated/NodeDeleted.
    fn synthesize_child_event<'p>(&mut self, parent: &'p str, fired: &mut Vec<Fired<'p>>) {
        if let Some(w) = self.paths.get_mut(parent) {
            if w.persistent.is_empty() && !w.recursive.is_empty() {
                let event = EventType::NodeChildrenChanged;
                fired.extend(w.child.drain(..).map(|id| (id, event, parent)));
            }
        }
        self.prune(parent);
    }

    fn prune(&mut self, path: &str) {
        if self.paths.get(path).is_some_and(PathWatches::is_empty) {
            self.paths.remove(path);
        }
    }

    /// Removes the watches `removeWatches(path, which)` removed on the
    /// server; returns each watcher with its *Removed event.
    pub(crate) fn remove(&mut self, path: &str, which: WatcherType) -> Vec<(RequestId, EventType)> {
        let Some(w) = self.paths.get_mut(path) else {
            return Vec::new();
        };
        let kinds: &[Kind] = match which {
            WatcherType::Children => &[Kind::Child],
            WatcherType::Data => &[Kind::Data, Kind::Exist],
            WatcherType::Persistent => &[Kind::Persistent],
            WatcherType::PersistentRecursive => &[Kind::Recursive],
            _ => &[
                Kind::Data,
                Kind::Exist,
                Kind::Child,
                Kind::Persistent,
                Kind::Recursive,
            ],
        };
        let mut removed = Vec::new();
        for &kind in kinds {
            let event = match kind {
                Kind::Data | Kind::Exist => EventType::DataWatchRemoved,
                Kind::Child => EventType::ChildWatchRemoved,
                Kind::Persistent | Kind::Recursive => EventType::PersistentWatchRemoved,
            };
            removed.extend(w.ids_mut(kind).drain(..).map(|id| (id, event)));
        }
        self.prune(path);
        removed
    }

    /// Every watcher, for telling them the session ended; empties the registry.
    pub(crate) fn drain_all(&mut self) -> Vec<(RequestId, String)> {
        let mut all = Vec::new();
        for (path, w) in std::mem::take(&mut self.paths) {
            for ids in [w.data, w.exist, w.child, w.persistent, w.recursive] {
                all.extend(ids.into_iter().map(|id| (id, path.clone())));
            }
        }
        all
    }

    /// Removes every persistent and recursive watch (the server cannot hold
    /// them); returns their watchers. One-shots they served locally stay,
    /// and are armed on the server from now on.
    pub(crate) fn drain_persistent(&mut self) -> Vec<(RequestId, String)> {
        let mut out = Vec::new();
        for (path, w) in &mut self.paths {
            for id in w.persistent.drain(..).chain(w.recursive.drain(..)) {
                out.push((id, path.clone()));
            }
        }
        self.paths.retain(|_, w| !w.is_empty());
        out
    }

    /// The watchers to send "resumed, re-read" after reconnecting to the same
    /// session: persistent and recursive ones, plus the one-shots they served
    /// (which end with it).
    pub(crate) fn resumed(&mut self) -> Vec<(RequestId, String)> {
        let mut out = Vec::new();
        for (path, w) in self.paths.iter_mut().filter(|(_, w)| w.has_persistent()) {
            for ids in [&mut w.data, &mut w.exist, &mut w.child] {
                out.extend(ids.drain(..).map(|id| (id, path.clone())));
            }
            for &id in w.persistent.iter().chain(&w.recursive) {
                out.push((id, path.clone()));
            }
        }
        out
    }

    /// Server paths to re-arm, in SetWatches2 order: data, exist, child,
    /// persistent, recursive. One-shots served locally are left out.
    pub(crate) fn armed(&self) -> [Vec<&str>; 5] {
        let mut lists: [Vec<&str>; 5] = Default::default();
        for (path, w) in &self.paths {
            let local = w.has_persistent();
            let kinds = [
                !local && !w.data.is_empty(),
                !local && !w.exist.is_empty(),
                !local && !w.child.is_empty(),
                !w.persistent.is_empty(),
                !w.recursive.is_empty(),
            ];
            for (list, armed) in lists.iter_mut().zip(kinds) {
                if armed {
                    list.push(path);
                }
            }
        }
        lists
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire(
        reg: &mut WatchRegistry,
        event: EventType,
        path: &str,
    ) -> Vec<(u64, EventType, String)> {
        let mut fired = Vec::new();
        reg.dispatch(event, path, &mut fired);
        fired
            .into_iter()
            .map(|(id, e, p)| (id.0, e, p.to_string()))
            .collect()
    }

    #[test]
    fn fan_out_follows_the_java_table() {
        let mut r = WatchRegistry::default();
        r.add("/a".into(), Kind::Data, RequestId(1));
        r.add("/a".into(), Kind::Child, RequestId(2));
        r.add("/a".into(), Kind::Persistent, RequestId(3));
        r.add("/".into(), Kind::Recursive, RequestId(4));
        use EventType::*;
        assert_eq!(
            fire(&mut r, NodeChildrenChanged, "/a"),
            [
                (2, NodeChildrenChanged, "/a".into()),
                (3, NodeChildrenChanged, "/a".into())
            ],
            "recursive watches never get child events"
        );
        assert_eq!(
            fire(&mut r, NodeDataChanged, "/a"),
            [
                (1, NodeDataChanged, "/a".into()),
                (3, NodeDataChanged, "/a".into()),
                (4, NodeDataChanged, "/a".into())
            ]
        );
        assert_eq!(
            fire(&mut r, NodeDataChanged, "/a"),
            [
                (3, NodeDataChanged, "/a".into()),
                (4, NodeDataChanged, "/a".into())
            ],
            "one-shot watches fire once"
        );
    }

    #[test]
    fn child_watch_under_recursive_watch_is_synthesized() {
        let mut r = WatchRegistry::default();
        r.add("/q".into(), Kind::Recursive, RequestId(1));
        assert!(r.serves_locally("/q"));
        r.add("/q".into(), Kind::Child, RequestId(2));
        use EventType::*;
        assert_eq!(
            fire(&mut r, NodeCreated, "/q/x"),
            [
                (1, NodeCreated, "/q/x".into()),
                (2, NodeChildrenChanged, "/q".into())
            ]
        );
        assert_eq!(
            r.armed()[2],
            Vec::<&str>::new(),
            "never armed on the server"
        );
    }

    #[test]
    fn remove_and_drain() {
        let mut r = WatchRegistry::default();
        r.add("/a".into(), Kind::Exist, RequestId(1));
        r.add("/a".into(), Kind::Child, RequestId(2));
        assert_eq!(
            r.remove("/a", WatcherType::Data),
            [(RequestId(1), EventType::DataWatchRemoved)]
        );
        assert_eq!(r.drain_all(), [(RequestId(2), "/a".to_string())]);
        assert_eq!(r.drain_all(), []);
    }
}
