//! Starting a client on each adapter, for tests that run one scenario on
//! all three (`#[path = "support/adapters.rs"] mod adapters;`).

use std::sync::OnceLock;

use kazoo::session::Config;
use kazoo::Client;

/// The tokio runtime the tokio clients run on, shared by the test binary.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// A client on adapter 0 (std), 1 (mio) or 2 (tokio).
pub fn start(adapter: usize, config: Config) -> Client {
    match adapter {
        0 => kazoo_std::start(config),
        1 => kazoo_mio::start(config),
        _ => kazoo_tokio::start(runtime().handle(), config),
    }
}
