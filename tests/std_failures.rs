//! Failure semantics on the std adapter (kazoo-std), on the embedded server and real ones:
//! a standalone server behind the test kit's proxy and a 3-node ensemble.

mod suite;

use suite::*;

failure_tests!(adapters::Std);
