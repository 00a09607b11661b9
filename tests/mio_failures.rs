//! Failure semantics on the mio adapter (kazoo-mio, its ready driver
//! thread), on the embedded server and real ones.

mod suite;

use suite::*;

failure_tests!(adapters::Mio);
