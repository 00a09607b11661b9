//! Failure semantics on the std adapter (kazoo-std), against real servers:
//! a standalone server behind the test kit's proxy and a 3-node ensemble.

mod suite;

use suite::*;

failure_tests!(adapters::Std);
