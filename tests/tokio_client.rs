//! The integration suite on the tokio adapter (kazoo-tokio, on a
//! multi-thread runtime shared by the tests), against real ZooKeeper servers.

mod suite;

use suite::*;

integration_tests!(adapters::Tokio);
