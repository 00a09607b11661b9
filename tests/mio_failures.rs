//! Failure semantics on the mio adapter (kazoo-mio, its ready driver
//! thread), against real ZooKeeper servers.

mod suite;

use suite::*;

failure_tests!(adapters::Mio);
