//! The request and response records of `zookeeper.jute` (PROTOCOL.md §4.1),
//! one struct per distinct field layout. Records that share a layout share a
//! struct under each jute name.

use bytes::Bytes;

use super::jute::records;
use super::{AddWatchMode, CreateMode, Stat, WatcherType};
use crate::acl::Acl;
use crate::Secret;

records! {
    /// create (1), create2 (15) and createContainer (19).
    pub struct CreateRequest {
        /// Where to create the node (for sequential modes, the name prefix).
        pub path: String,
        /// Initial data; `None` stores null data.
        pub data: Option<Bytes>,
        /// The node's ACL; must not be empty.
        pub acl: Vec<Acl>,
        /// Node kind.
        pub mode: CreateMode,
    }

    /// createTTL (21).
    pub struct CreateTtlRequest {
        /// Where to create the node.
        pub path: String,
        /// Initial data.
        pub data: Option<Bytes>,
        /// The node's ACL.
        pub acl: Vec<Acl>,
        /// One of the TTL modes.
        pub mode: CreateMode,
        /// Time to live in milliseconds, 1 to 2^40-1.
        pub ttl: i64,
    }

    /// A record holding one path: getACL, sync (both ways), getEphemerals,
    /// getAllChildrenNumber requests, and the create (1) response.
    pub struct PathRecord {
        /// A server path (a prefix, for getEphemerals).
        pub path: String,
    }

    /// create2, createContainer and createTTL response.
    pub struct Create2Response {
        /// The created path (with sequence suffix, if any).
        pub path: String,
        /// The new node's Stat.
        pub stat: Stat,
    }

    /// A path with an expected version: delete (2) and check (13).
    pub struct PathVersion {
        /// The node.
        pub path: String,
        /// Expected data version; -1 matches any.
        pub version: i32,
    }

    /// A path with a watch flag: exists (3), getData (4), getChildren (8), getChildren2 (12).
    pub struct PathWatch {
        /// The node.
        pub path: String,
        /// Leave a one-shot watch.
        pub watch: bool,
    }

    /// getData and reconfig response.
    pub struct GetDataResponse {
        /// The data; `None` if the node holds null data.
        pub data: Option<Bytes>,
        /// The node's Stat.
        pub stat: Stat,
    }

    /// setData (5).
    pub struct SetDataRequest {
        /// The node.
        pub path: String,
        /// New data; `None` stores null data.
        pub data: Option<Bytes>,
        /// Expected data version; -1 matches any.
        pub version: i32,
    }

    /// getACL response.
    pub struct GetAclResponse {
        /// The ACL.
        pub acl: Vec<Acl>,
        /// The node's Stat.
        pub stat: Stat,
    }

    /// setACL (7).
    pub struct SetAclRequest {
        /// The node.
        pub path: String,
        /// The new ACL; must not be empty.
        pub acl: Vec<Acl>,
        /// Expected ACL version (aversion); -1 matches any.
        pub version: i32,
    }

    /// getChildren response; also getEphemerals response (full paths).
    pub struct ChildrenResponse {
        /// Child names (unordered), or ephemeral paths.
        pub children: Vec<String>,
    }

    /// getChildren2 response.
    pub struct GetChildren2Response {
        /// Child names, unordered.
        pub children: Vec<String>,
        /// The parent's Stat.
        pub stat: Stat,
    }

    /// reconfig (16).
    pub struct ReconfigRequest {
        /// Comma-separated server specs to add.
        pub joining_servers: String,
        /// Comma-separated server ids to remove.
        pub leaving_servers: String,
        /// A whole new membership (non-incremental reconfig).
        pub new_members: String,
        /// Expected config version; -1 for any.
        pub cur_config_id: i64,
    }

    /// checkWatches (17) and removeWatches (18).
    pub struct WatchesRequest {
        /// The watched node.
        pub path: String,
        /// Which watches.
        pub watcher_type: WatcherType,
    }

    /// addWatch (106).
    pub struct AddWatchRequest {
        /// The node (need not exist).
        pub path: String,
        /// Persistent or persistent recursive.
        pub mode: AddWatchMode,
    }

    /// setWatches (101): re-arm one-shot watches after a reconnect.
    pub struct SetWatches {
        /// The client's last zxid; the server sends catch-up events for newer changes.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches (node missing when set).
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
    }

    /// setWatches2 (105): as [`SetWatches`], plus persistent and recursive watches.
    pub struct SetWatches2 {
        /// The client's last zxid.
        pub relative_zxid: i64,
        /// Paths with data watches.
        pub data_watches: Vec<String>,
        /// Paths with exist watches.
        pub exist_watches: Vec<String>,
        /// Paths with child watches.
        pub child_watches: Vec<String>,
        /// Paths with persistent watches.
        pub persistent_watches: Vec<String>,
        /// Paths with persistent recursive watches.
        pub persistent_recursive_watches: Vec<String>,
    }

    /// auth (100), sent with xid -4.
    pub struct AuthPacket {
        /// Always 0.
        pub auth_type: i32,
        /// The scheme, e.g. `digest`.
        pub scheme: String,
        /// The credential, e.g. `user:password` for digest.
        pub auth: Secret,
    }

    /// One SASL token: GetSASLRequest and SetSASLResponse (102).
    pub struct SaslPacket {
        /// The mechanism's token (may be empty).
        pub token: Bytes,
    }

    /// getAllChildrenNumber response.
    pub struct GetAllChildrenNumberResponse {
        /// The number of descendants.
        pub total_number: i32,
    }

    /// An authenticated identity of the connection (whoAmI).
    pub struct ClientInfo {
        /// The scheme (`ip`, `digest`, …).
        pub auth_scheme: String,
        /// The identity (`127.0.0.1`, `bob`, …).
        pub user: String,
    }

    /// whoAmI (107) response.
    pub struct WhoAmIResponse {
        /// Every identity of this connection.
        pub client_info: Vec<ClientInfo>,
    }

    /// A bare error code: the addWatch response body and an error result in a multi.
    pub struct ErrorResponse {
        /// 0 or a ZooKeeper error code.
        pub err: i32,
    }
}

/// getACL request.
pub type GetAclRequest = PathRecord;
/// sync request.
pub type SyncRequest = PathRecord;
/// sync response: the synced path.
pub type SyncResponse = PathRecord;
/// getEphemerals request (a path prefix; "" or "/" lists all).
pub type GetEphemeralsRequest = PathRecord;
/// getAllChildrenNumber request.
pub type GetAllChildrenNumberRequest = PathRecord;
/// create (1) response.
pub type CreateResponse = PathRecord;
/// delete request.
pub type DeleteRequest = PathVersion;
/// check request (inside multi only).
pub type CheckVersionRequest = PathVersion;
/// exists request.
pub type ExistsRequest = PathWatch;
/// getData request.
pub type GetDataRequest = PathWatch;
/// getChildren request.
pub type GetChildrenRequest = PathWatch;
/// getChildren2 request.
pub type GetChildren2Request = PathWatch;
/// getChildren response.
pub type GetChildrenResponse = ChildrenResponse;
/// getEphemerals response.
pub type GetEphemeralsResponse = ChildrenResponse;
