//! The integration suite on the std adapter (kazoo-std), against a real
//! ZooKeeper server.

mod suite;

use suite::*;

integration_tests!(adapters::Std);
