//! The tokio adapter for the kazoo ZooKeeper client.
//!
//! Not yet: this crate will hold a driver task on tokio::net (issue "mio and tokio adapters…").
//! Today it only re-exports the core, so a user adds one dependency.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub use kazoo::*;
