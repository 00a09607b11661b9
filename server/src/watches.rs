//! The server's watch table: which connection watches which path, and how.
//! A connection's watches go with the connection (the client re-arms them
//! with SetWatches after reconnecting).

use std::collections::{BTreeMap, BTreeSet};

use kazoo::proto::{EventType, WatcherType};

use crate::ConnId;

/// The kinds a connection can hold on a path. One-shot data and exist
/// watches share the data table, as on the real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Data,
    Child,
    Persistent,
    Recursive,
}

#[derive(Debug, Default)]
pub(crate) struct Watches {
    by_path: BTreeMap<String, BTreeSet<(ConnId, Kind)>>,
}

impl Watches {
    /// Before 3.9 one mode per (connection, path): a standard watch on a
    /// path replaces the connection's persistent one (PROTOCOL.md §0.8).
    pub(crate) fn add(&mut self, path: &str, conn: ConnId, kind: Kind) {
        let set = self.by_path.entry(path.to_string()).or_default();
        if matches!(kind, Kind::Data | Kind::Child) {
            set.remove(&(conn, Kind::Persistent));
            set.remove(&(conn, Kind::Recursive));
        } else {
            set.retain(|(c, _)| *c != conn);
        }
        set.insert((conn, kind));
    }

    /// The connections to notify of `event` on `path`, each once; one-shot
    /// watches that fire are removed.
    pub(crate) fn trigger(&mut self, event: EventType, path: &str) -> BTreeSet<ConnId> {
        let mut told = BTreeSet::new();
        let one_shot = match event {
            EventType::NodeChildrenChanged => Kind::Child,
            _ => Kind::Data,
        };
        if let Some(set) = self.by_path.get_mut(path) {
            let fired: Vec<(ConnId, Kind)> = set
                .iter()
                .filter(|(_, k)| {
                    *k == one_shot
                        || *k == Kind::Persistent
                        || (event == EventType::NodeDeleted && *k == Kind::Child)
                })
                .copied()
                .collect();
            for (conn, kind) in fired {
                told.insert(conn);
                if matches!(kind, Kind::Data | Kind::Child) {
                    set.remove(&(conn, kind));
                }
            }
            if set.is_empty() {
                self.by_path.remove(path);
            }
        }
        if event != EventType::NodeChildrenChanged {
            let mut at = path;
            loop {
                if let Some(set) = self.by_path.get(at) {
                    told.extend(
                        set.iter()
                            .filter(|(_, k)| *k == Kind::Recursive)
                            .map(|(c, _)| *c),
                    );
                }
                if at == "/" {
                    break;
                }
                at = match at.rfind('/') {
                    Some(0) | None => "/",
                    Some(i) => &at[..i],
                };
            }
        }
        told
    }

    /// Removes `conn`'s watches of a type on `path`; false if it had none.
    pub(crate) fn remove(&mut self, path: &str, conn: ConnId, which: WatcherType) -> bool {
        let Some(set) = self.by_path.get_mut(path) else {
            return false;
        };
        let before = set.len();
        set.retain(|(c, k)| {
            *c != conn
                || !match which {
                    WatcherType::Children => *k == Kind::Child,
                    WatcherType::Data => *k == Kind::Data,
                    WatcherType::Any => true,
                    WatcherType::Persistent => *k == Kind::Persistent,
                    WatcherType::PersistentRecursive => *k == Kind::Recursive,
                    _ => false,
                }
        });
        let removed = set.len() != before;
        if set.is_empty() {
            self.by_path.remove(path);
        }
        removed
    }

    /// Forgets every watch of a closed connection.
    pub(crate) fn drop_connection(&mut self, conn: ConnId) {
        self.by_path.retain(|_, set| {
            set.retain(|(c, _)| *c != conn);
            !set.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_fire_once_persistent_stay_recursive_reach_descendants() {
        let (a, b) = (ConnId(1), ConnId(2));
        let mut w = Watches::default();
        w.add("/n", a, Kind::Data);
        w.add("/n", b, Kind::Persistent);
        w.add("/", b, Kind::Recursive);
        assert_eq!(w.trigger(EventType::NodeDataChanged, "/n"), [a, b].into());
        assert_eq!(w.trigger(EventType::NodeDataChanged, "/n"), [b].into());
        assert_eq!(
            w.trigger(EventType::NodeChildrenChanged, "/n"),
            [b].into(),
            "persistent, not recursive"
        );
        w.add("/n", a, Kind::Child);
        assert_eq!(w.trigger(EventType::NodeDeleted, "/n"), [a, b].into());
        assert!(w.remove("/", b, WatcherType::Any));
        assert!(!w.remove("/", b, WatcherType::Any));
    }
}
