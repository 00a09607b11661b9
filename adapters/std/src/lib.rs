//! The std adapter for the kazoo ZooKeeper client.
//!
//! Not yet: this crate will hold a driver thread on std::net (issue "Client handle, std adapter…").
//! Today it only re-exports the core, so a user adds one dependency.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub use kazoo::*;
