//! The test kit for kazoo users: one [`TestServer`] API over the embedded
//! ZooKeeper-compatible server (in-process, no Java, starts in
//! milliseconds) and a real ZooKeeper (the Debian package, on free
//! loopback ports), plus clusters, a fault proxy and fault injection.
//!
//! ```no_run
//! use kazoo_testing::TestServer;
//! let server = TestServer::embedded();
//! let config = server.client_config("my-test").unwrap(); // a fresh chroot
//! // kazoo_std::start(config) … your test … on a real server:
//! let real = TestServer::real().unwrap();
//! # let _ = (config, real);
//! ```
//!
//! Faults the recipes' failure tests need (a lost reply after commit, a
//! replaced session, stalls, expiry…) are on the embedded server
//! ([`TestServer::embedded_server`]); on a real server, [`Proxy`] cuts and
//! stalls connections and [`expire_session`] expires a session for real.
//! See docs/testing.md.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![allow(clippy::disallowed_methods)] // a test kit owns real clocks and sleeps

mod ensemble;
mod faults;
mod jvm;
mod pki;
mod proxy;
mod raw;
mod server;

pub use ensemble::ZkEnsemble;
pub use faults::{expire_session, watch_count};
pub use jvm::four_letter_word;
pub use pki::{ServerTls, TestPki};
pub use proxy::Proxy;
pub use raw::RawConnection;
pub use server::{fresh_chroot, ServerOptions, ZkServer};

use std::net::SocketAddr;
use std::time::Duration;

/// A real ZooKeeper ensemble on loopback (kill, stop, start, leader, `member_of`).
pub type TestCluster = ZkEnsemble;
pub use kazoo_server::{EmbeddedServer, FaultError, ServerConfig};

use kazoo::session::Config;

/// A ZooKeeper-compatible server for a test: embedded or real.
#[derive(Debug)]
pub enum TestServer {
    /// kazoo-server in this process: no Java, fault injection.
    Embedded(EmbeddedServer),
    /// The Debian package's ZooKeeper, one per test binary, shared.
    Real(&'static ZkServer),
}

impl TestServer {
    /// An embedded server on a free loopback port (tick time 500 ms, so
    /// sessions of 1 to 10 s). Panics only if no loopback port can be
    /// bound; use [`TestServer::try_embedded`] to handle that.
    pub fn embedded() -> TestServer {
        match TestServer::try_embedded() {
            Ok(server) => server,
            Err(e) => panic!("kazoo-testing: cannot start the embedded server: {e}"),
        }
    }

    /// [`TestServer::embedded`], with the error.
    pub fn try_embedded() -> std::io::Result<TestServer> {
        let mut config = ServerConfig::default();
        config.tick_time = Duration::from_millis(500);
        EmbeddedServer::start(config).map(TestServer::Embedded)
    }

    /// The real ZooKeeper shared by this test binary (started on first use;
    /// a clear error names what is missing, e.g. the Debian package).
    pub fn real() -> Result<TestServer, TestingError> {
        ZkServer::shared().map(TestServer::Real)
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        match self {
            TestServer::Embedded(s) => s.addr(),
            TestServer::Real(s) => s.addr(),
        }
    }

    /// The connect string (no chroot).
    pub fn connect_string(&self) -> String {
        match self {
            TestServer::Embedded(s) => s.connect_string(),
            TestServer::Real(s) => s.connect_string(),
        }
    }

    /// A connect string for a fresh, empty chroot named after `prefix`, so
    /// tests sharing a server never see each other's nodes.
    pub fn chroot(&self, prefix: &str) -> Result<String, TestingError> {
        fresh_chroot(self.addr(), &self.connect_string(), prefix)
    }

    /// A client configuration preset for tests, on a fresh chroot: a 4 s
    /// session timeout (short enough for expiry tests, long enough for a
    /// loaded machine). `.to_builder()` changes the rest.
    pub fn client_config(&self, prefix: &str) -> Result<Config, TestingError> {
        Ok(Config::builder(&self.chroot(prefix)?)
            .session_timeout(Duration::from_secs(4))
            .build()
            .map_err(kazoo::Error::from)?)
    }

    /// The embedded server, for its fault injection; `None` on a real one.
    pub fn embedded_server(&self) -> Option<&EmbeddedServer> {
        match self {
            TestServer::Embedded(s) => Some(s),
            TestServer::Real(_) => None,
        }
    }

    /// How many watches the server holds for `session` (`wchc`), to check
    /// that a client or recipe leaves none behind.
    pub fn watch_count(&self, session: i64) -> Result<usize, TestingError> {
        watch_count(self.addr(), session)
    }
}

/// Why the test kit could not provide a server or connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestingError {
    /// The server package is missing and installing it is not permitted.
    #[error(
        "ZooKeeper is not installed ({0} missing); run ./scripts/test.sh, \
         or set KAZOO_INSTALL_ZOOKEEPER=1 to let the test kit run apt-get"
    )]
    NotInstalled(&'static str),
    /// Installing the package failed.
    #[error("installing zookeeper failed: {0}")]
    InstallFailed(String),
    /// The server did not become ready; the message holds the end of its log.
    #[error("ZooKeeper did not start: {0}")]
    StartFailed(String),
    /// An I/O error talking to a process or socket.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The server answered with something unexpected.
    #[error(transparent)]
    Protocol(#[from] kazoo::Error),
}

/// Threads of this process now (Linux: `/proc/self/task`), for tests that
/// check a client leaves none behind.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// The names of this process's threads, sorted (Linux: each task's
/// `comm`), for a failure message that says which ones were left.
pub fn thread_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect();
    names.sort();
    names
}

/// Waits up to `timeout` for the process to be down to `at_most` threads;
/// returns how many are left.
pub fn wait_for_threads(at_most: usize, timeout: Duration) -> usize {
    let deadline = std::time::Instant::now() + timeout;
    while thread_count() > at_most && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    thread_count()
}
