//! The integration suite on the mio adapter (kazoo-mio, its ready driver thread), against
//! real ZooKeeper servers.

mod suite;

use suite::*;

struct Mio;

impl Adapter for Mio {
    fn start(config: kazoo::session::Config) -> kazoo::Client {
        kazoo_mio::start(config)
    }
}

integration_tests!(Mio);
