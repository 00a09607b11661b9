//! Session tests with no network: a scripted fake server, a virtual clock,
//! and golden transcripts of whole scenarios.

mod identity;
mod props;
mod read_only;
mod reconnect;
mod sasl;
mod scenarios;
pub(crate) mod sim;
#[cfg(feature = "tls")]
mod tls;
mod transcripts;
