//! SASL authentication, run by the session on every connection before
//! anything else is sent (PROTOCOL.md §11.3).
//!
//! ZooKeeper servers accept DIGEST-MD5 (username and password from the
//! server's JAAS `Server` section) and GSSAPI (Kerberos). This crate speaks
//! DIGEST-MD5; the exchange is a small sans-IO state machine like the rest
//! of the session, so every adapter gets it.
//!
//! ```
//! use kazoo::sasl::SaslCredentials;
//! use kazoo::session::Config;
//! let config = Config::builder("zk1:2181")
//!     .sasl(SaslCredentials::digest_md5("bob", "bobsecret"))
//!     .build()
//!     .unwrap();
//! // The password never reaches a log.
//! assert!(!format!("{config:?}").contains("bobsecret"));
//! ```
//!
//! # How it behaves
//!
//! - After each handshake the session runs the exchange first; credentials
//!   from [`add_auth`](crate::Client::add_auth), re-armed watches and your
//!   queued requests follow once it completed. The `Connected` state is
//!   reported then, so "connected" means "authenticated".
//! - The server refusing the credentials is final: the session ends with
//!   [`LostReason::AuthFailed`](crate::session::LostReason::AuthFailed) and
//!   every request fails with [`Error::AuthFailed`](crate::Error::AuthFailed).
//!   Retrying would only lock the account or fill the server's log.
//! - A connection that drops during the exchange is an ordinary disconnect:
//!   the session moves on to the next server and starts the exchange again.
//! - A challenge this client cannot answer ([`SaslError`]) ends the
//!   connection the same way, with backoff, since another server may be fine.
//!
//! # Adding a mechanism
//!
//! A mechanism is a variant of [`SaslCredentials`] and a state machine in a
//! submodule answering `Exchange::step`: the session only carries its
//! tokens. GSSAPI would be one more module holding a Kerberos context.

pub(crate) mod digest_md5;

use crate::Secret;

/// The service name ZooKeeper servers register under (`zookeeper.sasl.client.username`).
pub const SERVICE: &str = "zookeeper";
/// The server name in the DIGEST-MD5 `digest-uri` that ZooKeeper servers expect.
pub const DIGEST_MD5_SERVER: &str = "zk-sasl-md5";

/// Who this client is, for SASL. Given once in
/// [`ConfigBuilder::sasl`](crate::session::ConfigBuilder::sasl) and used on
/// every connection. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslCredentials {
    /// DIGEST-MD5 (RFC 2831) with a user the server's JAAS `Server`
    /// section lists (`user_<name>="<password>"`).
    DigestMd5 {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
}

impl SaslCredentials {
    /// DIGEST-MD5 credentials.
    pub fn digest_md5(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        SaslCredentials::DigestMd5 {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The mechanism's SASL name.
    pub fn mechanism(&self) -> &'static str {
        match self {
            SaslCredentials::DigestMd5 { .. } => "DIGEST-MD5",
        }
    }
}

/// Why a SASL exchange failed on this client's side. Reported as
/// [`DisconnectReason::Sasl`](crate::session::DisconnectReason::Sasl).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    /// The server's challenge is not what the mechanism defines.
    #[error("the server's SASL challenge is malformed")]
    MalformedChallenge,
    /// The server requires a protection (integrity or confidentiality
    /// layer) this client does not offer.
    #[error("the server offers no SASL quality of protection this client supports")]
    UnsupportedQop,
    /// The server's proof that it knows the password is wrong: it is not
    /// the server the credentials are for.
    #[error("the server failed to prove it knows the SASL password")]
    ServerNotAuthenticated,
    /// The server sent more rounds than the mechanism has.
    #[error("the server continued the SASL exchange after it was complete")]
    UnexpectedChallenge,
}

/// What the session sends next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// This token.
    Respond(Vec<u8>),
    /// Nothing: the exchange is complete and both sides are authenticated.
    Done,
}

/// One connection's exchange.
#[derive(Debug)]
pub(crate) enum Exchange {
    DigestMd5(digest_md5::Client),
}

impl Exchange {
    /// A fresh exchange and its first token. `cnonce` is this client's
    /// random contribution (from the session's seeded generator, so a
    /// simulation replays the same bytes).
    pub(crate) fn start(credentials: &SaslCredentials, cnonce: String) -> (Exchange, Vec<u8>) {
        match credentials {
            SaslCredentials::DigestMd5 { username, password } => (
                Exchange::DigestMd5(digest_md5::Client::new(
                    username.clone(),
                    password.clone(),
                    cnonce,
                )),
                Vec::new(),
            ),
        }
    }

    /// Answers the server's token.
    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<Step, SaslError> {
        match self {
            Exchange::DigestMd5(client) => client.step(challenge),
        }
    }
}
