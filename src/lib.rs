//! A ZooKeeper client built around a sans-IO protocol core.
//!
//! This crate is the core: it turns bytes into typed records and back
//! ([`proto`]), validates paths ([`path`]), models ACLs ([`acl`]) and
//! errors ([`Error`]). It does no I/O: no sockets, threads, clocks or
//! runtime. The session state machine, client handle and adapters (std,
//! mio, tokio) build on it.
//!
//! ```
//! use bytes::BytesMut;
//! use kazoo::proto::{jute::Record, ConnectRequest, FrameDecoder, HandshakeReply};
//!
//! // The handshake a new client sends (PROTOCOL.md §2.1) ...
//! let mut out = BytesMut::new();
//! kazoo::proto::encode_frame(&mut out, |o| ConnectRequest {
//!     timeout: 10_000,
//!     passwd: vec![0; 16].into(),
//!     read_only: Some(false),
//!     ..Default::default()
//! }.encode(o));
//! assert_eq!(out.len(), 49);
//!
//! // ... and how its answer is read, from bytes split anywhere.
//! let mut frames = FrameDecoder::default();
//! frames.push(&[0, 0, 0, 37, 0, 0, 0, 0, 0, 0, 0x27, 0x10]);
//! assert!(frames.next_frame().unwrap().is_none());
//! let mut rest = vec![0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 16];
//! rest.extend([0xab; 16]);
//! rest.push(0);
//! frames.push(&rest);
//! let reply = HandshakeReply::decode(frames.next_frame().unwrap().unwrap()).unwrap();
//! assert!(matches!(reply, HandshakeReply::Accepted(r) if r.session_id == 7 && r.timeout == 10_000));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod acl;
pub mod drive;
mod error;
pub mod path;
pub mod proto;
pub mod session;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ArgumentError, ConfigError, Error, Misuse};
