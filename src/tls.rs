//! TLS between the socket's bytes and the session's frames.
//!
//! rustls is itself a sans-IO state machine, so it runs inside the
//! [`Session`](crate::session::Session): ciphertext goes in through
//! `handle_input` and comes out of `poll_transmit`, and every adapter (or
//! your own event loop) gets TLS with no code of its own. Build a
//! [`TlsConfig`] once (feature `tls`) and give it to
//! [`ConfigBuilder::tls`](crate::session::ConfigBuilder::tls).
//!
//! ```no_run
//! # #[cfg(feature = "tls")] {
//! use kazoo::session::Config;
//! use kazoo::tls::TlsConfig;
//! let tls = TlsConfig::builder()
//!     .root_pem_file("/etc/zookeeper/ca.pem")
//!     .client_cert_pem_files("/etc/zookeeper/me.pem", "/etc/zookeeper/me.key")
//!     .build()?;
//! let config = Config::builder("zk1:2281,zk2:2281").tls(tls).build()?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// Why a TLS connection failed: reported as
/// [`DisconnectReason::Tls`](crate::session::DisconnectReason::Tls), and the
/// session tries again with backoff like after any failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate is not trusted: unknown issuer, expired,
    /// or not valid for the host name.
    #[error("the server's certificate is not trusted ({0})")]
    CertificateNotTrusted(CertificateProblem),
    /// The server refused the handshake with an alert: a missing or
    /// refused client certificate (`ssl.clientAuth=need`), or no common
    /// protocol version or cipher.
    #[error("the server refused the TLS handshake (alert {0})")]
    Refused(u8),
    /// The server does not speak TLS here, or broke the protocol.
    #[error("the server does not speak TLS, or broke the protocol")]
    NotTls,
    /// The connection closed before the handshake finished (a server
    /// that does not speak TLS on this port closes it).
    #[error("the connection closed during the TLS handshake")]
    ClosedDuringHandshake,
    /// The host name cannot be a TLS server name.
    #[error("the host cannot be used as a TLS server name")]
    InvalidServerName,
    /// Anything else rustls reported.
    #[error("TLS failed")]
    Other,
}

/// What is wrong with a server certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// Signed by no trusted root.
    #[error("unknown issuer")]
    UnknownIssuer,
    /// Not valid for the host name (or IP) connected to.
    #[error("not valid for this host")]
    WrongName,
    /// Expired or not yet valid.
    #[error("expired or not yet valid")]
    Expired,
    /// Revoked, malformed, or otherwise refused.
    #[error("refused")]
    Other,
}

#[cfg(feature = "tls")]
mod enabled;
#[cfg(feature = "tls")]
pub(crate) use enabled::TlsLayer;
#[cfg(feature = "tls")]
pub use enabled::{TlsConfig, TlsConfigBuilder, TlsConfigError};
