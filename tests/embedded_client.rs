//! The integration suite, written against a real ZooKeeper 3.8.0, run
//! unchanged against the embedded server (kazoo-server) on the std adapter:
//! every assertion the real server passes, the embedded one must pass too.

mod suite;

use suite::*;

integration_tests!(adapters::EmbeddedStd);
