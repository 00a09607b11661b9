//! Watch notifications: event types, keeper states and the WatcherEvent record.

use bytes::{BufMut, BytesMut};

use super::jute::{records, Reader, Record};
use super::DecodeError;

macro_rules! open_int_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vm:meta])* $variant:ident = $value:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vm])* $variant, )*
            /// A value this client does not know (a newer server, or a deprecated value).
            Other(i32),
        }

        impl $name {
            /// Every named value.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// The wire value.
            pub fn as_i32(self) -> i32 {
                match self {
                    $( $name::$variant => $value, )*
                    $name::Other(v) => v,
                }
            }

            /// The variant for a wire value; unknown values are kept as `Other`.
            pub fn from_i32(value: i32) -> Self {
                match value {
                    $( $value => $name::$variant, )*
                    other => $name::Other(other),
                }
            }
        }

        impl Record for $name {
            const MIN_LEN: usize = 4;
            fn encode(&self, out: &mut BytesMut) {
                out.put_i32(self.as_i32());
            }
            fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
                r.read_i32().map(Self::from_i32)
            }
        }

        #[cfg(test)]
        impl crate::proto::tests::gen::Gen for $name {
            fn gen() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::prelude::*;
                prop_oneof![
                    proptest::sample::select($name::KNOWN),
                    any::<i32>().prop_map($name::from_i32),
                ]
                .boxed()
            }
        }
    };
}

open_int_enum! {
    /// What happened to a watched node, or `None` for a session state change (PROTOCOL.md §7.2).
    pub enum EventType {
        /// A session state change (made by the client, path empty).
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// The node's child list changed.
        NodeChildrenChanged = 4,
        /// A data watch was removed (made by the client).
        DataWatchRemoved = 5,
        /// A child watch was removed (made by the client).
        ChildWatchRemoved = 6,
        /// A persistent watch was removed (made by the client).
        PersistentWatchRemoved = 7,
    }
}

open_int_enum! {
    /// The low-level connection state, as ZooKeeper names it (PROTOCOL.md §7.2).
    pub enum KeeperState {
        /// Not connected; the session may still be alive.
        Disconnected = 0,
        /// Connected to a read/write server.
        SyncConnected = 3,
        /// Authentication failed; terminal.
        AuthFailed = 4,
        /// Connected to a read-only server.
        ConnectedReadOnly = 5,
        /// SASL authentication completed.
        SaslAuthenticated = 6,
        /// The session expired; terminal for that session.
        Expired = -112,
        /// The client was closed (3.5.5+, client-only).
        Closed = 7,
    }
}

records! {
    /// A watch notification: the body of a frame with xid -1 (PROTOCOL.md §7.1).
    pub struct WatcherEvent {
        /// What happened.
        pub event_type: EventType,
        /// Always `SyncConnected` for node events from the server.
        pub state: KeeperState,
        /// The server path (chroot included; the session strips it).
        pub path: String,
    }
}
