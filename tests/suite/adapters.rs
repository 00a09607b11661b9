//! The adapters the suite runs on, one type each.

use std::sync::OnceLock;

use kazoo::session::Config;
use kazoo::{Client, Error};

use super::Adapter;

/// kazoo-std against the real server.
pub struct Std;

impl Adapter for Std {
    fn start(config: Config) -> Client {
        kazoo_std::start(config)
    }
    fn connect(config: Config) -> Result<Client, Error> {
        kazoo_std::connect(config)
    }
}

/// kazoo-mio, its ready driver thread.
pub struct Mio;

impl Adapter for Mio {
    fn start(config: Config) -> Client {
        kazoo_mio::start(config)
    }
    fn connect(config: Config) -> Result<Client, Error> {
        kazoo_mio::connect(config)
    }
}

/// kazoo-tokio on a multi-thread runtime shared by the binary's tests.
pub struct Tokio;

impl Adapter for Tokio {
    fn start(config: Config) -> Client {
        kazoo_tokio::start(runtime().handle(), config)
    }
    fn connect(config: Config) -> Result<Client, Error> {
        runtime().block_on(kazoo_tokio::connect(config))
    }
}

/// A multi-thread runtime shared by the binary's tests.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}
