//! The data tree: nodes, their Stat kept as ZooKeeper keeps it, and the
//! changes a write makes (for watches).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use kazoo::acl::Acl;
use kazoo::proto::{EventType, Stat};
use kazoo::Error;

/// What kind of node, for the sweeper and for ephemerals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Persistent,
    Ephemeral(i64),
    Container,
    /// Time to live in ms.
    Ttl(i64),
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `None` for null data (getData answers length -1).
    pub(crate) data: Option<Bytes>,
    pub(crate) acl: Vec<Acl>,
    /// As ZooKeeper persists it: `cversion` counts the children ever
    /// **created** (the next sequence suffix); clients see
    /// `2 × creations − children` ([`Tree::stat`]), which also counts the
    /// deletions. That is how 3.8.0 does it (`DataNode.copyStat`).
    pub(crate) stat: Stat,
    pub(crate) kind: Kind,
    pub(crate) children: BTreeSet<String>,
}

/// A change a write made: watchers of `path` are told, if they may READ
/// under `acl` (the node's; the parent's for a child change).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) event: EventType,
    pub(crate) path: String,
    pub(crate) acl: Vec<Acl>,
}

/// The tree, rooted at `/` (with `/zookeeper` as the real server has it).
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    nodes: BTreeMap<String, Node>,
}

/// The server's own nodes, which clients may not delete.
pub(crate) fn is_special(path: &str) -> bool {
    matches!(
        path,
        "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

pub(crate) fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

impl Tree {
    pub(crate) fn new() -> Tree {
        let mut tree = Tree {
            nodes: BTreeMap::new(),
        };
        let node = |acl: &[Acl]| Node {
            data: None,
            acl: acl.to_vec(),
            stat: Stat::default(),
            kind: Kind::Persistent,
            children: BTreeSet::new(),
        };
        tree.nodes
            .insert("/".into(), node(kazoo::acl::OPEN_ACL_UNSAFE));
        // The real server always has /zookeeper, /zookeeper/quota and
        // (3.5+) /zookeeper/config, readable by all.
        for (p, acl) in [
            ("/zookeeper", kazoo::acl::OPEN_ACL_UNSAFE),
            ("/zookeeper/quota", kazoo::acl::OPEN_ACL_UNSAFE),
            ("/zookeeper/config", kazoo::acl::READ_ACL_UNSAFE),
        ] {
            tree.nodes.insert(p.into(), node(acl));
            if let Some(parent) = tree.nodes.get_mut(parent_of(p)) {
                parent.children.insert(name_of(p).into());
                parent.stat.num_children += 1;
            }
        }
        tree
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    pub(crate) fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes.get_mut(path)
    }

    /// The parent of `path` (which must not be `/`).
    pub(crate) fn parent(&self, path: &str) -> Option<&Node> {
        self.nodes.get(parent_of(path))
    }

    /// Creates a node; `path` is final (sequence suffix already added).
    /// The parent's creation counter goes up by one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        kind: Kind,
        zxid: i64,
        time: i64,
        changes: &mut Vec<Change>,
    ) -> Result<Stat, Error> {
        if self.nodes.contains_key(path) {
            return Err(Error::NodeExists);
        }
        let parent_path = parent_of(path).to_string();
        let parent = self.nodes.get_mut(&parent_path).ok_or(Error::NoNode)?;
        if matches!(parent.kind, Kind::Ephemeral(_)) {
            return Err(Error::NoChildrenForEphemerals);
        }
        parent.children.insert(name_of(path).to_string());
        parent.stat.cversion = parent.stat.cversion.wrapping_add(1);
        parent.stat.num_children += 1;
        parent.stat.pzxid = zxid;
        let stat = Stat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            data_length: data.as_ref().map_or(0, |d| d.len() as i32),
            ..Stat::default()
        };
        let parent_acl = parent.acl.clone();
        changes.push(Change {
            event: EventType::NodeCreated,
            path: path.to_string(),
            acl: acl.clone(),
        });
        changes.push(Change {
            event: EventType::NodeChildrenChanged,
            path: parent_path,
            acl: parent_acl,
        });
        let node = Node {
            data,
            acl,
            stat,
            kind,
            children: BTreeSet::new(),
        };
        self.nodes.insert(path.to_string(), node);
        Ok(self.stat(path).unwrap_or_default())
    }

    /// Deletes a childless node.
    pub(crate) fn delete(
        &mut self,
        path: &str,
        zxid: i64,
        changes: &mut Vec<Change>,
    ) -> Result<(), Error> {
        let node = self.nodes.get(path).ok_or(Error::NoNode)?;
        if !node.children.is_empty() {
            return Err(Error::NotEmpty);
        }
        let acl = node.acl.clone();
        self.nodes.remove(path);
        let parent_path = parent_of(path).to_string();
        let mut parent_acl = Vec::new();
        if let Some(parent) = self.nodes.get_mut(&parent_path) {
            // A deletion leaves the creation counter alone: sequence
            // suffixes move with creations only.
            parent.children.remove(name_of(path));
            parent.stat.num_children -= 1;
            parent.stat.pzxid = zxid;
            parent_acl = parent.acl.clone();
        }
        changes.push(Change {
            event: EventType::NodeDeleted,
            path: path.to_string(),
            acl,
        });
        changes.push(Change {
            event: EventType::NodeChildrenChanged,
            path: parent_path,
            acl: parent_acl,
        });
        Ok(())
    }

    pub(crate) fn set_data(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        zxid: i64,
        time: i64,
        changes: &mut Vec<Change>,
    ) -> Result<Stat, Error> {
        let node = self.nodes.get_mut(path).ok_or(Error::NoNode)?;
        node.stat.data_length = data.as_ref().map_or(0, |d| d.len() as i32);
        node.data = data;
        node.stat.version = node.stat.version.wrapping_add(1);
        node.stat.mzxid = zxid;
        node.stat.mtime = time;
        let acl = node.acl.clone();
        changes.push(Change {
            event: EventType::NodeDataChanged,
            path: path.to_string(),
            acl,
        });
        Ok(self.stat(path).unwrap_or_default())
    }

    /// The Stat as clients see it: cversion as creations and deletions
    /// together (`2 × creations − children`), container and TTL owners
    /// masked to 0.
    pub(crate) fn stat(&self, path: &str) -> Option<Stat> {
        let node = self.nodes.get(path)?;
        let mut stat = node.stat;
        stat.cversion = stat
            .cversion
            .wrapping_mul(2)
            .wrapping_sub(stat.num_children);
        stat.ephemeral_owner = match node.kind {
            Kind::Ephemeral(session) => session,
            _ => 0,
        };
        Some(stat)
    }

    /// Every ephemeral node of `session`, deepest first.
    pub(crate) fn ephemerals(&self, session: i64) -> Vec<String> {
        let mut paths: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.kind == Kind::Ephemeral(session))
            .map(|(p, _)| p.clone())
            .collect();
        paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
        paths
    }

    /// Descendants of `path` (not counting itself).
    pub(crate) fn descendants(&self, path: &str) -> usize {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, _)| p.as_str() != path)
            .count()
    }

    /// Containers that have had children and have none now, and TTL nodes
    /// childless and unchanged for their TTL.
    pub(crate) fn expired_containers(&self, time: i64) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.children.is_empty())
            .filter(|(_, n)| match n.kind {
                Kind::Container => n.stat.cversion > 0,
                Kind::Ttl(ttl) => time.saturating_sub(n.stat.mtime) > ttl,
                _ => false,
            })
            .map(|(p, _)| p.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_move_as_zookeeper_moves_them() {
        let mut t = Tree::new();
        let mut changes = Vec::new();
        let s = t
            .create(
                "/a",
                Some(Bytes::from_static(b"x")),
                vec![],
                Kind::Persistent,
                5,
                100,
                &mut changes,
            )
            .unwrap();
        assert_eq!(
            (s.czxid, s.mzxid, s.pzxid, s.data_length, s.version),
            (5, 5, 5, 1, 0)
        );
        t.create("/a/b", None, vec![], Kind::Persistent, 6, 101, &mut changes)
            .unwrap();
        let a = t.stat("/a").unwrap();
        assert_eq!((a.cversion, a.num_children, a.pzxid, a.mzxid), (1, 1, 6, 5));
        assert_eq!(t.delete("/a", 7, &mut changes), Err(Error::NotEmpty));
        t.delete("/a/b", 8, &mut changes).unwrap();
        let a = t.stat("/a").unwrap();
        assert_eq!((a.cversion, a.num_children, a.pzxid), (2, 0, 8));
        let s = t
            .set_data("/a", Some(Bytes::from_static(b"yz")), 9, 102, &mut changes)
            .unwrap();
        assert_eq!((s.version, s.mzxid, s.mtime, s.data_length), (1, 9, 102, 2));
        assert_eq!(t.descendants("/"), 4, "/a and the three /zookeeper nodes");
    }
}
