//! Real ZooKeeper servers for tests (feature `testing`).
//!
//! [`ZkServer`] starts the Debian `zookeeper` package's server on a free
//! loopback port with its own temporary directory and stops it, by process
//! id, when dropped (or when the test process dies); [`ZkEnsemble`] starts
//! several as one ensemble whose members a test can stop, kill and restart.
//! [`RawConnection`] speaks the wire protocol over a blocking socket with
//! nothing but the codec. Faults: [`Proxy`] cuts or stalls a client's
//! connection; [`expire_session`] expires a session for real.
//!
//! This module does I/O and reads the clock; the sans-IO core never uses it.
//!
//! ```no_run
//! use kazoo::testing::{RawConnection, ZkServer};
//! use kazoo::proto::{Request, PathWatch, Response};
//!
//! let server = ZkServer::shared().unwrap();
//! let mut conn = RawConnection::open(server.addr()).unwrap();
//! let reply = conn.call(Request::Exists(PathWatch { path: "/".into(), watch: false })).unwrap();
//! assert!(matches!(reply, Response::Stat(_)));
//! ```

#![allow(clippy::disallowed_methods)] // a test kit owns real clocks and sleeps

mod ensemble;
mod faults;
mod jvm;
mod proxy;
mod raw;
mod server;

pub use ensemble::ZkEnsemble;
pub use faults::{expire_session, watch_count};
pub use jvm::four_letter_word;
pub use proxy::Proxy;
pub use raw::RawConnection;
pub use server::{fresh_chroot, ServerOptions, ZkServer};

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
    Protocol(#[from] crate::Error),
}
