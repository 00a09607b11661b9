//! Faults a test inflicts on a client for real.

use std::net::SocketAddr;
use std::time::Duration;

use super::{RawConnection, TestingError};
use crate::proto::{ConnectRequest, Request};
use crate::Client;

/// Expires `client`'s session for real: joins the session from a second
/// connection with the same id and password (the server drops the
/// client's own connection), then closes it there. The client finds out
/// when it next talks to the server (kazoo's harness only pretends).
pub fn expire_session(server: SocketAddr, client: &Client) -> Result<(), TestingError> {
    let (session_id, passwd) = client.client_id();
    if session_id == 0 {
        return Err(crate::Error::ConnectionLoss.into());
    }
    let request = ConnectRequest {
        timeout: 10_000,
        session_id,
        passwd,
        read_only: Some(false),
        ..Default::default()
    };
    let mut twin = RawConnection::handshake(server, &request, Duration::from_secs(5))?;
    twin.call(Request::CloseSession)?;
    Ok(())
}
