//! A ZooKeeper client built around a sans-IO protocol core.
//!
//! This crate is the core: the wire format ([`proto`]), the session state
//! machine ([`session`]) and the one loop step adapters share ([`drive`]),
//! paths ([`path`]), ACLs ([`acl`]) and errors ([`Error`]). It does no I/O:
//! no sockets, threads, clocks or runtime. The client handle and the
//! adapters (std, mio, tokio) build on it.
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

//! # The run loop
//!
//! A [`session::Session`] is driven by whoever owns the socket and the clock
//! (an adapter, or you). After any `handle_*`, `submit` or `close` call,
//! drain in this order: `poll_transmit` (bytes to write), `poll_command`
//! (connect or disconnect), `poll_event` (responses, watches, states), then
//! read `poll_timeout` and call `handle_timeout` once it has passed.
//! [`drive::pump`] does the first two for adapters. Every input carries
//! `now`; the session never reads a clock, so the same inputs give the same
//! outputs.
//!
//! A complete blocking driver over a plain `TcpStream`:
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//!
//! use bytes::BytesMut;
//! use kazoo::proto::{PathWatch, Request};
//! use kazoo::session::{Command, Config, Event, Session};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut session = Session::new(Config::new("127.0.0.1:2181")?, Instant::now());
//! let get = session.submit(Request::GetData(PathWatch { path: "/".into(), watch: false }), Instant::now());
//! let mut socket: Option<TcpStream> = None;
//! let mut out = BytesMut::new();
//! let mut buf = vec![0u8; 64 * 1024];
//! loop {
//!     let now = Instant::now();
//!     // 1. Frames to send, coalesced into one buffer.
//!     out.clear();
//!     if session.poll_transmit(now, &mut out) {
//!         if let Some(s) = socket.as_mut() {
//!             if s.write_all(&out).is_err() {
//!                 socket = None;
//!                 session.handle_disconnected(now);
//!                 continue;
//!             }
//!         }
//!     }
//!     // 2. Commands for the driver: resolve the host on every attempt.
//!     let mut commanded = false;
//!     while let Some(command) = session.poll_command() {
//!         commanded = true;
//!         match command {
//!             Command::Connect(host) => match TcpStream::connect((host.host.as_str(), host.port)) {
//!                 Ok(s) => {
//!                     socket = Some(s);
//!                     session.handle_connected(now);
//!                 }
//!                 Err(_) => session.handle_disconnected(now),
//!             },
//!             Command::Disconnect => socket = None,
//!             // Only while read-only (`Config::read_only`): ask this server
//!             // `isro` on a second socket, then `session.handle_probe`.
//!             Command::Probe(_) => {}
//!         }
//!     }
//!     if commanded {
//!         continue; // a new connection has a handshake to send
//!     }
//!     // 3. Events for the application.
//!     while let Some(event) = session.poll_event() {
//!         if let Event::Response { id, result } = event {
//!             if id == get {
//!                 println!("{result:?}");
//!                 session.close(Instant::now());
//!             }
//!         }
//!     }
//!     if session.is_closed() {
//!         return Ok(());
//!     }
//!     // 4. Sleep until input arrives or the next deadline passes.
//!     let wait = session
//!         .poll_timeout()
//!         .map_or(Duration::from_secs(1), |at| at.saturating_duration_since(now))
//!         .max(Duration::from_millis(1));
//!     match socket.as_mut() {
//!         Some(s) => {
//!             s.set_read_timeout(Some(wait))?;
//!             match s.read(&mut buf) {
//!                 Ok(0) => {
//!                     socket = None;
//!                     session.handle_disconnected(Instant::now());
//!                 }
//!                 Ok(n) => session.handle_input(&buf[..n], Instant::now()),
//!                 Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
//!                 Err(_) => {
//!                     socket = None;
//!                     session.handle_disconnected(Instant::now());
//!                 }
//!             }
//!         }
//!         None => std::thread::sleep(wait),
//!     }
//!     session.handle_timeout(Instant::now());
//! }
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod acl;
pub mod client;
pub mod drive;
mod error;
pub mod path;
pub mod proto;
pub mod recipe;
pub mod retry;
pub mod sasl;
mod secret;
pub mod session;
pub mod tls;

/// Node data comes back as [`Bytes`]: re-exported so callers need not
/// depend on the `bytes` crate to name it.
pub use bytes::Bytes;
pub use client::Client;
pub use error::{ArgumentError, ConfigError, Error, Misuse};
pub use secret::Secret;
