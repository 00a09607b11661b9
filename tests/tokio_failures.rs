//! Failure semantics on the tokio adapter (kazoo-tokio, on a multi-thread
//! runtime shared by the tests), against real ZooKeeper servers.

mod suite;

use suite::*;

failure_tests!(adapters::Tokio);
