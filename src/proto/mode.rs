//! Small closed enumerations carried as `int`s: create modes and watch kinds.

use super::jute::int_enum;

int_enum! {
    /// How a node is created: the `flags` of a create request (PROTOCOL.md §5.3).
    #[derive(Default)]
    pub enum CreateMode / UnknownCreateMode {
        /// Stays until deleted.
        #[default]
        Persistent = 0,
        /// Deleted when the creating session ends.
        Ephemeral = 1,
        /// Persistent, with a 10-digit sequence suffix appended by the server.
        PersistentSequential = 2,
        /// Ephemeral, with a sequence suffix.
        EphemeralSequential = 3,
        /// Deleted by the server once its last child is gone (send with opcode 19).
        Container = 4,
        /// Deleted when unmodified and childless for its TTL (opcode 21).
        PersistentWithTtl = 5,
        /// TTL node with a sequence suffix (opcode 21).
        PersistentSequentialWithTtl = 6,
    }
}

impl CreateMode {
    /// True for modes whose name gets a sequence suffix.
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// True for modes tied to the creating session.
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// True for the modes that need a TTL (and opcode 21).
    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

int_enum! {
    /// The mode of an `addWatch` request (PROTOCOL.md §7.4).
    pub enum AddWatchMode / UnknownWatchMode {
        /// Fires for changes of the node itself and its child list; not removed when it fires.
        Persistent = 0,
        /// Fires for the node and all descendants (no child events); not removed when it fires.
        PersistentRecursive = 1,
    }
}

int_enum! {
    /// Which watches `removeWatches` / `checkWatches` address (PROTOCOL.md §7.5).
    pub enum WatcherType / UnknownWatcherType {
        /// Child watches.
        Children = 1,
        /// Data and exist watches.
        Data = 2,
        /// All watches on the path (also persistent ones before 3.9).
        Any = 3,
        /// Persistent watches (3.9+ servers only).
        Persistent = 4,
        /// Persistent recursive watches (3.9+ servers only).
        PersistentRecursive = 5,
    }
}
