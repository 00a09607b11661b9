//! The headers in front of every request, reply and multi entry.

use super::jute::records;

records! {
    /// Precedes every client request after the handshake (8 bytes).
    pub struct RequestHeader {
        /// Request id, echoed in the reply; see [`xid`](super::xid) for reserved values.
        pub xid: i32,
        /// The [`OpCode`](super::OpCode) as a wire value.
        pub op: i32,
    }

    /// Precedes every server frame after the handshake (16 bytes).
    pub struct ReplyHeader {
        /// The request's xid, or a reserved xid (notification, ping, auth).
        pub xid: i32,
        /// The server's last processed zxid (-1 in notifications before 3.9).
        pub zxid: i64,
        /// 0, or a ZooKeeper error code; on error, ignore any body.
        pub err: i32,
    }

    /// Precedes each entry of a multi request or response (9 bytes).
    pub struct MultiHeader {
        /// The entry's opcode; -1 for an error result or the terminator.
        pub op: i32,
        /// True only on the terminator.
        pub done: bool,
        /// -1 in requests; the entry's error code in responses.
        pub err: i32,
    }
}

impl MultiHeader {
    /// The terminator that ends every multi request and response: `ffffffff 01 ffffffff`.
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: -1,
    };
}
