//! Failure semantics on the std adapter (kazoo-std), against real servers:
//! a standalone server behind the test kit's proxy and a 3-node ensemble.

mod suite;

use suite::*;

struct Std;

impl Adapter for Std {
    fn start(config: kazoo::session::Config) -> kazoo::Client {
        kazoo_std::start(config)
    }
}

failure_tests!(Std);
