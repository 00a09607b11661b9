//! The wire format: jute primitives, every record and operation of the
//! ZooKeeper client protocol (3.4 to 3.9), and length-prefixed framing.
//!
//! Everything here is a pure function of its input. Encoding appends to a
//! caller's [`BytesMut`](bytes::BytesMut); decoding reads a received
//! [`Bytes`](bytes::Bytes) frame and hands out zero-copy slices of it.
//! Malformed input is a [`DecodeError`], never a panic.
//!
//! ```
//! use bytes::BytesMut;
//! use kazoo::proto::{FrameDecoder, Request, GetDataRequest, encode_request};
//!
//! let mut out = BytesMut::new();
//! let req = Request::GetData(GetDataRequest { path: "/a".into(), watch: true });
//! encode_request(&mut out, 1, &req, kazoo::proto::DEFAULT_MAX_REQUEST_LEN).unwrap();
//! assert_eq!(&out[..], b"\x00\x00\x00\x0f\x00\x00\x00\x01\x00\x00\x00\x04\x00\x00\x00\x02/a\x01");
//!
//! // The same bytes, split anywhere, come back out as one frame.
//! let mut frames = FrameDecoder::default();
//! frames.push(&out[..5]);
//! assert!(frames.next_frame().unwrap().is_none());
//! frames.push(&out[5..]);
//! assert_eq!(frames.next_frame().unwrap().unwrap().len(), 15);
//! ```

pub mod jute;

mod connect;
mod frame;
mod header;
mod mode;
mod multi;
mod opcode;
mod records;
mod request;
mod response;
mod stat;
mod watch;

#[cfg(test)]
pub(crate) mod tests;

pub(crate) use connect::PASSWD_LEN;
pub use connect::{ConnectRequest, ConnectResponse, HandshakeReply};
pub use frame::{
    encode_frame, encode_request, FrameDecoder, RequestTooLarge, DEFAULT_MAX_FRAME_LEN,
    DEFAULT_MAX_REQUEST_LEN,
};
pub use header::{MultiHeader, ReplyHeader, RequestHeader};
pub use mode::{AddWatchMode, CreateMode, WatcherType};
pub use multi::{MultiOp, MultiReadRequest, MultiRequest, MultiResponse, MultiResult, ReadOp};
pub use opcode::{xid, OpCode};
pub use records::*;
pub use request::Request;
pub use response::Response;
pub use stat::Stat;
pub use watch::{EventType, KeeperState, WatcherEvent};

/// Why bytes could not be decoded. Every variant names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A field needed more bytes than were left in the frame.
    #[error("truncated: needed {needed} bytes, {remaining} left")]
    Truncated {
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A buffer, string or vector length below -1 (-1 means null).
    #[error("negative length {0}")]
    NegativeLength(i32),
    /// A vector count that cannot fit in the bytes left.
    #[error("vector of {count} elements cannot fit in {remaining} bytes")]
    CountTooLarge {
        /// The count on the wire.
        count: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A string (path, scheme, id) that is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A frame length prefix above the configured maximum.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The length prefix.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// A negative frame length prefix.
    #[error("negative frame length {0}")]
    NegativeFrameLength(i32),
    /// An opcode this client does not know.
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    /// An opcode that has no request or response record of that direction.
    #[error("opcode {0:?} cannot be decoded here")]
    UnexpectedOpCode(OpCode),
    /// A create `flags` value that is no CreateMode.
    #[error("unknown create mode {0}")]
    UnknownCreateMode(i32),
    /// An addWatch mode other than 0 or 1.
    #[error("unknown watch mode {0}")]
    UnknownWatchMode(i32),
    /// A WatcherType other than 1 to 5.
    #[error("unknown watcher type {0}")]
    UnknownWatcherType(i32),
    /// A multi sub-operation or result of a type that cannot appear there.
    #[error("unexpected multi entry type {0}")]
    UnexpectedMultiType(i32),
    /// A reply whose xid matches no request in flight.
    #[error("reply xid {got} does not match the request in flight ({expected:?})")]
    UnexpectedXid {
        /// The xid received.
        got: i32,
        /// The xid expected, if any request was in flight.
        expected: Option<i32>,
    },
    /// A path returned by the server lies outside the session's chroot.
    #[error("path {0:?} is outside the chroot")]
    PathOutsideChroot(String),
    /// A handshake reply too short to be a ConnectResponse or a ReplyHeader.
    #[error("handshake reply of {0} bytes")]
    BadHandshake(usize),
    /// A ConnectResponse that accepts a session but names none: session id 0,
    /// or a password that is not 16 bytes.
    #[error("handshake accepted session {session_id:#x} with a {passwd_len}-byte password")]
    BadSession {
        /// The session id received.
        session_id: i64,
        /// The password length received.
        passwd_len: usize,
    },
    /// A reply body of another kind than the request calls for.
    #[error("unexpected reply body, expected {0}")]
    UnexpectedResponse(&'static str),
}
