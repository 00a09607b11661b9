//! The integration suite on the std adapter (kazoo-std), against a real
//! ZooKeeper server.

mod suite;

use suite::*;

struct Std;

impl Adapter for Std {
    fn start(config: kazoo::session::Config) -> kazoo::Client {
        kazoo_std::start(config)
    }
}

integration_tests!(Std);
