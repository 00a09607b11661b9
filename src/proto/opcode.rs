//! Operation codes and the special xids of the request/reply headers.

use super::DecodeError;

macro_rules! opcodes {
    ($( $(#[$m:meta])* $name:ident = $value:literal, )*) => {
        /// A ZooKeeper operation code (`ZooDefs.OpCode`), as sent in `RequestHeader.type`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum OpCode {
            $( $(#[$m])* $name = $value, )*
        }

        impl OpCode {
            /// Every opcode, in table order.
            pub const ALL: &'static [OpCode] = &[$(OpCode::$name),*];

            /// The opcode for a wire value.
            pub fn from_i32(value: i32) -> Result<Self, DecodeError> {
                match value {
                    $( $value => Ok(OpCode::$name), )*
                    other => Err(DecodeError::UnknownOpCode(other)),
                }
            }
        }
    };
}

opcodes! {
    /// Server-to-client watch notification (xid -1); never sent by a client.
    Notification = 0,
    /// Create a node, reply with its path.
    Create = 1,
    /// Delete a node.
    Delete = 2,
    /// Stat a node (optionally watching it, even when missing).
    Exists = 3,
    /// Read a node's data and Stat.
    GetData = 4,
    /// Write a node's data.
    SetData = 5,
    /// Read a node's ACL.
    GetAcl = 6,
    /// Replace a node's ACL.
    SetAcl = 7,
    /// List a node's children.
    GetChildren = 8,
    /// Flush the leader channel for a path.
    Sync = 9,
    /// Keep the session alive (xid -2).
    Ping = 11,
    /// List children and the parent's Stat.
    GetChildren2 = 12,
    /// Version check; only inside a multi (see PROTOCOL.md §0.1).
    Check = 13,
    /// Atomic transaction.
    Multi = 14,
    /// Create a node, reply with its path and Stat (3.5).
    Create2 = 15,
    /// Change the ensemble membership (3.5).
    Reconfig = 16,
    /// Ask whether a watch exists (3.5).
    CheckWatches = 17,
    /// Remove watches (3.5).
    RemoveWatches = 18,
    /// Create a container node (3.5.1).
    CreateContainer = 19,
    /// Server-internal container reaping; clients never send it.
    DeleteContainer = 20,
    /// Create a node with a time to live (3.5.3).
    CreateTtl = 21,
    /// Several reads in one request, each succeeding or failing alone (3.6).
    MultiRead = 22,
    /// Add credentials (xid -4).
    Auth = 100,
    /// Re-arm one-shot watches after a reconnect.
    SetWatches = 101,
    /// One SASL round trip.
    Sasl = 102,
    /// List this session's ephemeral nodes (3.6).
    GetEphemerals = 103,
    /// Count all descendants of a node (3.6).
    GetAllChildrenNumber = 104,
    /// Re-arm one-shot, persistent and recursive watches (3.6).
    SetWatches2 = 105,
    /// Add a persistent or persistent-recursive watch (3.6).
    AddWatch = 106,
    /// The identities this connection is authenticated as (3.7).
    WhoAmI = 107,
    /// Server-internal; never sent by clients.
    CreateSession = -10,
    /// End the session.
    CloseSession = -11,
    /// Marks an error result inside a multi response.
    Error = -1,
}

impl OpCode {
    /// The wire value.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// The reserved xids (PROTOCOL.md §3.2). Normal requests use 1..=i32::MAX.
pub mod xid {
    /// Watch notification from the server.
    pub const NOTIFICATION: i32 = -1;
    /// Ping request and reply.
    pub const PING: i32 = -2;
    /// Auth request and reply (answered out of band).
    pub const AUTH: i32 = -4;
    /// SetWatches / SetWatches2 (the server echoes it).
    pub const SET_WATCHES: i32 = -8;

    /// The xid after `xid`: normal xids run 1..=i32::MAX and wrap to 1.
    pub fn next(xid: i32) -> i32 {
        if (1..i32::MAX).contains(&xid) {
            xid + 1
        } else {
            1
        }
    }
}

/// Declares an enum with one variant per opcode (requests, multi sub-ops,
/// multi results): the opcode of each value, its body encoding, and decoding
/// a body given the opcode from a header.
macro_rules! op_union {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vm:meta])* $variant:ident($ty:ty) = $op:ident, )*
        }
        bodiless {
            $( $(#[$em:meta])* $empty:ident = $eop:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vm])* $variant($ty), )*
            $( $(#[$em])* $empty, )*
        }

        impl $name {
            /// The opcode this value is sent under.
            pub fn op_code(&self) -> $crate::proto::OpCode {
                match self {
                    $( $name::$variant(_) => $crate::proto::OpCode::$op, )*
                    $( $name::$empty => $crate::proto::OpCode::$eop, )*
                }
            }

            /// Appends the body (the record after the header) to `out`.
            pub fn encode_body(&self, out: &mut ::bytes::BytesMut) {
                match self {
                    $( $name::$variant(body) => $crate::proto::jute::Record::encode(body, out), )*
                    $( $name::$empty => {} )*
                }
            }

            /// Reads the body that follows a header carrying `op`.
            pub fn decode_body(
                op: $crate::proto::OpCode,
                r: &mut $crate::proto::jute::Reader,
            ) -> Result<Self, $crate::proto::DecodeError> {
                match op {
                    $( $crate::proto::OpCode::$op => Ok($name::$variant($crate::proto::jute::Record::decode(r)?)), )*
                    $( $crate::proto::OpCode::$eop => Ok($name::$empty), )*
                    #[allow(unreachable_patterns)]
                    other => Err($crate::proto::DecodeError::UnexpectedOpCode(other)),
                }
            }
        }

        #[cfg(test)]
        impl $crate::proto::tests::gen::Gen for $name {
            fn gen() -> ::proptest::strategy::BoxedStrategy<Self> {
                use ::proptest::strategy::Strategy;
                ::proptest::strategy::Union::new(vec![
                    $( <$ty as $crate::proto::tests::gen::Gen>::gen().prop_map($name::$variant).boxed(), )*
                    $( ::proptest::strategy::Just($name::$empty).boxed(), )*
                ])
                .boxed()
            }
        }
    };
}
pub(crate) use op_union;
