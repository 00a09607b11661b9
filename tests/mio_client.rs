//! The integration suite on the mio adapter (kazoo-mio, its ready driver
//! thread), against real ZooKeeper servers.

mod suite;

use suite::*;

integration_tests!(adapters::Mio);
