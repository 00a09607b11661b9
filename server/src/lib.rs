//! A small in-memory ZooKeeper-compatible server, for tests, examples and
//! simulation: no Java, no install, no disk.
//!
//! The core ([`Server`]) is sans-IO like the client's session: it takes
//! bytes per connection and `now`, and gives bytes per connection, and
//! deadlines. [`EmbeddedServer`] runs it on loopback TCP with plain
//! threads, so any ZooKeeper client can talk to it; the `kazoo-server`
//! binary does the same from the command line.
//!
//! ```no_run
//! let server = kazoo_server::EmbeddedServer::start(Default::default())?;
//! println!("connect to {}", server.connect_string());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! It implements what clients use: sessions (negotiated timeouts, expiry,
//! resumption from another connection, closeSession), the data tree with
//! ZooKeeper's Stat bookkeeping, persistent, ephemeral, sequential,
//! container and TTL nodes, ACLs (world, auth, digest, ip) and digest auth,
//! one-shot, persistent and recursive watches (notifications before the
//! reply that caused them), SetWatches with catch-up, multi and multiRead,
//! sync, getEphemerals, getAllChildrenNumber, whoAmI, and the `ruok`,
//! `srvr`, `stat` four-letter words. It answers like a 3.8.0 server
//! (PROTOCOL.md), quirks included.
//!
//! **Not in scope:** quorum and replication, persistence to disk,
//! reconfig, SASL, TLS. Production runs on a real ZooKeeper ensemble.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod acl;
mod fault;
mod fourlw;
mod net;
mod ops;
mod server;
mod tree;
mod watches;

use std::time::Duration;

pub use fault::{FaultError, RequestFilter};
pub use net::EmbeddedServer;
pub use server::{Server, HANDSHAKE_TIMEOUT};

/// The version `srvr` reports: the real server's it imitates.
pub const VERSION: &str = "3.8.0-kazoo";

/// Names one client connection of a [`Server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// How a server behaves; the defaults match the test kit's Java server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// `tickTime`: sessions negotiate between 2 and 20 ticks.
    pub tick_time: Duration,
    /// Upper bound for session timeouts (default 20 ticks).
    pub max_session_timeout: Option<Duration>,
    /// TTL nodes (`extendedTypesEnabled`).
    pub extended_types: bool,
    /// How often empty containers and expired TTL nodes are swept.
    pub container_check_interval: Duration,
    /// Largest request frame (jute.maxbuffer); larger ones close the connection.
    pub max_frame_len: usize,
    /// The top byte of session ids.
    pub server_id: i64,
    /// Seed for session passwords: same seed, same passwords.
    pub seed: u64,
    /// Wall-clock milliseconds at start, for ctime and mtime (the core reads no clock).
    pub wall_clock_ms: i64,
    /// `maxClientCnxns`: open connections allowed per client address; one
    /// more is closed at once, before its handshake. 0 (the default, as in
    /// the test kit's Java server) means no limit; ZooKeeper's own default
    /// is 60.
    pub max_client_cnxns: usize,
    /// The 3.5 creates (`create2`, containers, TTL nodes). `false` treats
    /// them as a 3.4 server does any opcode it does not know: it answers
    /// Unimplemented, then closes the connection.
    pub create2: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_time: Duration::from_millis(2000),
            max_session_timeout: None,
            extended_types: true,
            container_check_interval: Duration::from_millis(500),
            max_frame_len: 0xfffff,
            server_id: 1,
            seed: 0,
            wall_clock_ms: 0,
            max_client_cnxns: 0,
            create2: true,
        }
    }
}
