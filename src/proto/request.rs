//! Every request a client sends after the handshake, keyed by opcode.

use super::multi::{MultiReadRequest, MultiRequest};
use super::opcode::op_union;
use super::records::*;

op_union! {
    /// A request body and the opcode it goes under. The header (xid, opcode)
    /// is written by [`encode_request`](super::encode_request).
    ///
    /// Paths here are **server** paths: the session prepends the chroot.
    pub enum Request {
        /// create (1): reply with the path.
        Create(CreateRequest) = Create,
        /// delete (2).
        Delete(DeleteRequest) = Delete,
        /// exists (3): a watch is left even if the node is missing.
        Exists(ExistsRequest) = Exists,
        /// getData (4).
        GetData(GetDataRequest) = GetData,
        /// setData (5).
        SetData(SetDataRequest) = SetData,
        /// getACL (6).
        GetAcl(GetAclRequest) = GetAcl,
        /// setACL (7).
        SetAcl(SetAclRequest) = SetAcl,
        /// getChildren (8).
        GetChildren(GetChildrenRequest) = GetChildren,
        /// sync (9).
        Sync(SyncRequest) = Sync,
        /// getChildren2 (12): children and the parent's Stat.
        GetChildren2(GetChildren2Request) = GetChildren2,
        /// check (13). Never send it alone: only inside a multi (PROTOCOL.md §0.1).
        Check(CheckVersionRequest) = Check,
        /// multi (14): an atomic transaction.
        Multi(MultiRequest) = Multi,
        /// create2 (15): reply with path and Stat.
        Create2(CreateRequest) = Create2,
        /// reconfig (16).
        Reconfig(ReconfigRequest) = Reconfig,
        /// checkWatches (17).
        CheckWatches(WatchesRequest) = CheckWatches,
        /// removeWatches (18).
        RemoveWatches(WatchesRequest) = RemoveWatches,
        /// createContainer (19).
        CreateContainer(CreateRequest) = CreateContainer,
        /// createTTL (21).
        CreateTtl(CreateTtlRequest) = CreateTtl,
        /// multiRead (22).
        MultiRead(MultiReadRequest) = MultiRead,
        /// auth (100), xid -4.
        Auth(AuthPacket) = Auth,
        /// setWatches (101).
        SetWatches(SetWatches) = SetWatches,
        /// sasl (102).
        Sasl(SaslPacket) = Sasl,
        /// getEphemerals (103).
        GetEphemerals(GetEphemeralsRequest) = GetEphemerals,
        /// getAllChildrenNumber (104).
        GetAllChildrenNumber(GetAllChildrenNumberRequest) = GetAllChildrenNumber,
        /// setWatches2 (105).
        SetWatches2(SetWatches2) = SetWatches2,
        /// addWatch (106).
        AddWatch(AddWatchRequest) = AddWatch,
    }
    bodiless {
        /// ping (11), xid -2.
        Ping = Ping,
        /// whoAmI (107).
        WhoAmI = WhoAmI,
        /// closeSession (-11).
        CloseSession = CloseSession,
    }
}
