//! Session tests with no network: a scripted fake server, a virtual clock,
//! and golden transcripts of whole scenarios.

mod identity;
mod props;
mod reconnect;
mod scenarios;
pub(crate) mod sim;
#[cfg(feature = "tls")]
mod tls;
mod transcripts;
