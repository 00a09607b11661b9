//! Failure semantics on the tokio adapter (kazoo-tokio, on a multi-thread
//! runtime shared by the tests), on the embedded server and real ones.

mod suite;

use suite::*;

failure_tests!(adapters::Tokio);
