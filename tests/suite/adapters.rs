//! The adapters the suite runs on, one type each.

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

#[path = "../support/adapters.rs"]
mod shared;

use shared::runtime;
