//! The Stat record: a znode's metadata.

use super::jute::records;

records! {
    /// A znode's metadata (68 bytes on the wire, PROTOCOL.md §5.1).
    #[derive(Default)]
    pub struct Stat {
        /// zxid of the create.
        pub czxid: i64,
        /// zxid of the last data change.
        pub mzxid: i64,
        /// Creation time, milliseconds since the epoch.
        pub ctime: i64,
        /// Last modification time, milliseconds since the epoch.
        pub mtime: i64,
        /// Data version (setData increments it).
        pub version: i32,
        /// Child version (child create and delete increment it).
        pub cversion: i32,
        /// ACL version.
        pub aversion: i32,
        /// Owning session of an ephemeral node; 0 otherwise (containers and TTL nodes included).
        pub ephemeral_owner: i64,
        /// Length of the data in bytes.
        pub data_length: i32,
        /// Number of direct children.
        pub num_children: i32,
        /// zxid of the last child change.
        pub pzxid: i64,
    }
}

impl Copy for Stat {}
