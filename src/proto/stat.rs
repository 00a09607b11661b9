//! The Stat record: a znode's metadata.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// kazoo's `ZnodeStat` conveniences: the raw fields say it in the wire's
/// units, these in Rust's.
impl Stat {
    /// When the node was created (`ctime`), by the server's clock.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// let stat = kazoo::proto::Stat { ctime: 1_500, ..Default::default() };
    /// assert_eq!(stat.created(), UNIX_EPOCH + Duration::from_millis(1_500));
    /// ```
    pub fn created(&self) -> SystemTime {
        from_millis(self.ctime)
    }

    /// When the node's data last changed (`mtime`), by the server's clock.
    pub fn last_modified(&self) -> SystemTime {
        from_millis(self.mtime)
    }

    /// True for an ephemeral node: one that lives as long as its owner's
    /// session ([`owner_session_id`](Stat::owner_session_id)).
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral_owner != 0
    }

    /// The session that owns this ephemeral node; `None` for any other
    /// kind (kazoo's `owner_session_id`).
    pub fn owner_session_id(&self) -> Option<i64> {
        self.is_ephemeral().then_some(self.ephemeral_owner)
    }

    /// The data's length in bytes (0 for a node with no data).
    pub fn data_len(&self) -> usize {
        usize::try_from(self.data_length).unwrap_or(0)
    }

    /// How many children the node has.
    pub fn children_count(&self) -> usize {
        usize::try_from(self.num_children).unwrap_or(0)
    }
}

/// Milliseconds since the epoch as a time; any i64 converts (before 1970
/// included), none panics.
fn from_millis(ms: i64) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    let time = if ms >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    time.unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conveniences_read_the_raw_fields() {
        let stat = Stat {
            ctime: 1_700_000_000_123,
            mtime: -1_000,
            ephemeral_owner: 0x1234,
            data_length: 5,
            num_children: 3,
            ..Stat::default()
        };
        assert_eq!(
            stat.created().duration_since(UNIX_EPOCH).unwrap(),
            Duration::from_millis(1_700_000_000_123)
        );
        assert_eq!(
            UNIX_EPOCH.duration_since(stat.last_modified()).unwrap(),
            Duration::from_secs(1)
        );
        assert!(stat.is_ephemeral());
        assert_eq!(stat.owner_session_id(), Some(0x1234));
        assert_eq!((stat.data_len(), stat.children_count()), (5, 3));
        let plain = Stat::default();
        assert!(!plain.is_ephemeral());
        assert_eq!(plain.owner_session_id(), None);
    }

    #[test]
    fn any_raw_value_converts_without_panicking() {
        for ms in [i64::MIN, i64::MAX, 0, -1] {
            let stat = Stat {
                ctime: ms,
                mtime: ms,
                data_length: -1,
                num_children: i32::MIN,
                ..Stat::default()
            };
            let _ = (stat.created(), stat.last_modified());
            assert_eq!((stat.data_len(), stat.children_count()), (0, 0));
        }
    }
}
