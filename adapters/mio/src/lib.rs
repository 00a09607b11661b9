//! The mio adapter for the kazoo ZooKeeper client.
//!
//! Not yet: this crate will hold a driver on a mio Poll, or inside your own mio loop (issue "mio and tokio adapters…").
//! Today it only re-exports the core, so a user adds one dependency.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub use kazoo::*;
