//! Reply bodies, decoded by the opcode of the request they answer.

use bytes::{Bytes, BytesMut};

use super::jute::{Reader, Record};
use super::multi::MultiResponse;
use super::records::*;
use super::{DecodeError, OpCode, Stat};

/// The body of a successful reply (`ReplyHeader.err == 0`).
///
/// Which variant comes back depends only on the request's opcode; see
/// [`Response::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// No body: delete, ping, check, checkWatches, removeWatches, auth,
    /// setWatches, setWatches2, closeSession.
    Empty,
    /// create (1): the created path.
    Create(CreateResponse),
    /// create2, createContainer, createTTL: path and Stat.
    Create2(Create2Response),
    /// exists, setData, setACL: the node's Stat.
    Stat(Stat),
    /// getData, reconfig: data and Stat.
    GetData(GetDataResponse),
    /// getACL.
    GetAcl(GetAclResponse),
    /// getChildren.
    GetChildren(GetChildrenResponse),
    /// getChildren2.
    GetChildren2(GetChildren2Response),
    /// sync: the synced path.
    Sync(SyncResponse),
    /// multi and multiRead: one result per op.
    Multi(MultiResponse),
    /// sasl: the server's token.
    Sasl(SaslPacket),
    /// getEphemerals: full server paths.
    GetEphemerals(GetEphemeralsResponse),
    /// getAllChildrenNumber.
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    /// addWatch: an ErrorResponse holding 0.
    AddWatch(ErrorResponse),
    /// whoAmI.
    WhoAmI(WhoAmIResponse),
}

impl Response {
    /// Decodes the body of a successful reply to a request sent with `op`.
    ///
    /// Call it only when `ReplyHeader.err == 0`: error replies carry no
    /// usable body (PROTOCOL.md §0.3). Trailing bytes are ignored.
    pub fn decode(op: OpCode, body: Bytes) -> Result<Response, DecodeError> {
        let r = &mut Reader::new(body);
        Ok(match op {
            OpCode::Create => Response::Create(Record::decode(r)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Response::Create2(Record::decode(r)?)
            }
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => Response::Stat(Record::decode(r)?),
            OpCode::GetData | OpCode::Reconfig => Response::GetData(Record::decode(r)?),
            OpCode::GetAcl => Response::GetAcl(Record::decode(r)?),
            OpCode::GetChildren => Response::GetChildren(Record::decode(r)?),
            OpCode::GetChildren2 => Response::GetChildren2(Record::decode(r)?),
            OpCode::Sync => Response::Sync(Record::decode(r)?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(Record::decode(r)?),
            OpCode::Sasl => Response::Sasl(Record::decode(r)?),
            OpCode::GetEphemerals => Response::GetEphemerals(Record::decode(r)?),
            OpCode::GetAllChildrenNumber => Response::GetAllChildrenNumber(Record::decode(r)?),
            OpCode::AddWatch => Response::AddWatch(Record::decode(r)?),
            OpCode::WhoAmI => Response::WhoAmI(Record::decode(r)?),
            OpCode::Delete
            | OpCode::Ping
            | OpCode::Check
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CloseSession => Response::Empty,
            OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => return Err(DecodeError::UnexpectedOpCode(op)),
        })
    }

    /// Appends the body to `out` (the embedded server and tests use this).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Response::Empty => {}
            Response::Create(b) => b.encode(out),
            Response::Create2(b) => b.encode(out),
            Response::Stat(b) => b.encode(out),
            Response::GetData(b) => b.encode(out),
            Response::GetAcl(b) => b.encode(out),
            Response::GetChildren(b) => b.encode(out),
            Response::GetChildren2(b) => b.encode(out),
            Response::Sync(b) => b.encode(out),
            Response::Multi(b) => b.encode(out),
            Response::Sasl(b) => b.encode(out),
            Response::GetEphemerals(b) => b.encode(out),
            Response::GetAllChildrenNumber(b) => b.encode(out),
            Response::AddWatch(b) => b.encode(out),
            Response::WhoAmI(b) => b.encode(out),
        }
    }
}
