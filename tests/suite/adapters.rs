//! The adapters the suite runs on, one type each.

use std::sync::OnceLock;

use kazoo::session::Config;
use kazoo::Client;

use super::Adapter;

/// kazoo-std against the real server.
pub struct Std;

impl Adapter for Std {
    fn start(config: Config) -> Client {
        kazoo_std::start(config)
    }
}

/// kazoo-mio, its ready driver thread.
pub struct Mio;

impl Adapter for Mio {
    fn start(config: Config) -> Client {
        kazoo_mio::start(config)
    }
}

/// kazoo-tokio on a multi-thread runtime shared by the binary's tests.
pub struct Tokio;

impl Adapter for Tokio {
    fn start(config: Config) -> Client {
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
