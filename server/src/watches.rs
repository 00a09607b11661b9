//! The server's watch tables: which connection watches which path, and how.
//! As on a 3.8 server there are two tables, data and child, each holding
//! one mode per (connection, path); a persistent watch sits in both, a
//! recursive one in the data table only. A connection's watches go with
//! the connection (the client re-arms them with SetWatches).

use std::collections::{BTreeMap, BTreeSet};

use kazoo::proto::{EventType, WatcherType};

use crate::ConnId;

/// The kinds a connection can ask for. One-shot data and exist watches
/// are both `Data`, as on the real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Data,
    Child,
    Persistent,
    Recursive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Standard,
    Persistent,
    Recursive,
}

type Table = BTreeMap<String, BTreeMap<ConnId, Mode>>;

#[derive(Debug, Default)]
pub(crate) struct Watches {
    data: Table,
    child: Table,
}

fn put(table: &mut Table, path: &str, conn: ConnId, mode: Mode) {
    table
        .entry(path.to_string())
        .or_default()
        .insert(conn, mode);
}

fn take(table: &mut Table, path: &str, conn: ConnId) -> bool {
    let Some(set) = table.get_mut(path) else {
        return false;
    };
    let removed = set.remove(&conn).is_some();
    if set.is_empty() {
        table.remove(path);
    }
    removed
}

/// Fires `path` in `table`: everyone watching is told, standard watches go.
fn fire(table: &mut Table, path: &str, told: &mut BTreeSet<ConnId>) {
    if let Some(set) = table.get_mut(path) {
        told.extend(set.keys().copied());
        set.retain(|_, mode| *mode != Mode::Standard);
        if set.is_empty() {
            table.remove(path);
        }
    }
}

impl Watches {
    pub(crate) fn add(&mut self, path: &str, conn: ConnId, kind: Kind) {
        match kind {
            Kind::Data => put(&mut self.data, path, conn, Mode::Standard),
            Kind::Child => put(&mut self.child, path, conn, Mode::Standard),
            Kind::Persistent => {
                put(&mut self.data, path, conn, Mode::Persistent);
                put(&mut self.child, path, conn, Mode::Persistent);
            }
            Kind::Recursive => put(&mut self.data, path, conn, Mode::Recursive),
        }
    }

    /// The connections to notify of `event` on `path`, each once; one-shot
    /// watches that fire are removed.
    pub(crate) fn trigger(&mut self, event: EventType, path: &str) -> BTreeSet<ConnId> {
        let mut told = BTreeSet::new();
        let (data, child) = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => (true, false),
            EventType::NodeDeleted => (true, true),
            EventType::NodeChildrenChanged => (false, true),
            _ => (false, false),
        };
        if data {
            fire(&mut self.data, path, &mut told);
            // Recursive watches on ancestors (the path itself is done above).
            let mut at = path;
            while at != "/" {
                at = match at.rfind('/') {
                    Some(0) | None => "/",
                    Some(i) => &at[..i],
                };
                if let Some(set) = self.data.get(at) {
                    told.extend(
                        set.iter()
                            .filter(|(_, m)| **m == Mode::Recursive)
                            .map(|(c, _)| *c),
                    );
                }
            }
        }
        if child {
            fire(&mut self.child, path, &mut told);
        }
        told
    }

    /// True if `conn` has a watch of the type on `path` (checkWatches).
    pub(crate) fn contains(&self, path: &str, conn: ConnId, which: WatcherType) -> bool {
        let has = |t: &Table| t.get(path).is_some_and(|s| s.contains_key(&conn));
        match which {
            WatcherType::Children => has(&self.child),
            WatcherType::Data => has(&self.data),
            _ => has(&self.child) || has(&self.data),
        }
    }

    /// Removes `conn`'s watches of a type on `path`; false if it had none.
    pub(crate) fn remove(&mut self, path: &str, conn: ConnId, which: WatcherType) -> bool {
        match which {
            WatcherType::Children => take(&mut self.child, path, conn),
            WatcherType::Data => take(&mut self.data, path, conn),
            _ => {
                let c = take(&mut self.child, path, conn);
                take(&mut self.data, path, conn) | c
            }
        }
    }

    /// The paths `conn` watches: data table first, then child table (a
    /// persistent watch is in both), as `wchc` lists them.
    pub(crate) fn paths_of(&self, conn: ConnId) -> Vec<String> {
        [&self.data, &self.child]
            .into_iter()
            .flat_map(|t| t.iter().filter(|(_, s)| s.contains_key(&conn)))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Forgets every watch of a closed connection.
    pub(crate) fn drop_connection(&mut self, conn: ConnId) {
        for table in [&mut self.data, &mut self.child] {
            table.retain(|_, set| {
                set.remove(&conn);
                !set.is_empty()
            });
        }
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

    #[test]
    fn one_mode_per_table_as_on_a_3_8_server() {
        let a = ConnId(1);
        let mut w = Watches::default();
        w.add("/r", a, Kind::Recursive);
        w.add("/r", a, Kind::Child); // the child table: the recursive watch stays
        assert_eq!(w.trigger(EventType::NodeChildrenChanged, "/r"), [a].into());
        assert_eq!(
            w.trigger(EventType::NodeCreated, "/r/x"),
            [a].into(),
            "still recursive"
        );
        w.add("/p", a, Kind::Persistent);
        w.add("/p", a, Kind::Data); // replaces the persistent mode in the data table only
        assert_eq!(w.trigger(EventType::NodeDataChanged, "/p"), [a].into());
        assert!(
            w.trigger(EventType::NodeDataChanged, "/p").is_empty(),
            "the data side was one-shot now"
        );
        assert_eq!(
            w.trigger(EventType::NodeChildrenChanged, "/p"),
            [a].into(),
            "the child side is still persistent"
        );
        assert!(w.contains("/p", a, WatcherType::Children));
        assert!(
            w.contains("/p", a, WatcherType::Children),
            "checking does not remove"
        );
    }
}
