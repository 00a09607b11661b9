//! Failure semantics on the tokio adapter (kazoo-tokio, on a multi-thread runtime
//! shared by the tests), against real ZooKeeper servers.

mod suite;

use std::sync::OnceLock;

use suite::*;

struct Tokio;

impl Adapter for Tokio {
    fn start(config: kazoo::session::Config) -> kazoo::Client {
        static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
        let runtime = RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime")
        });
        kazoo_tokio::start(runtime.handle(), config)
    }
}

failure_tests!(Tokio);
