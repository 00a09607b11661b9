//! Faults a test inflicts on a client for real.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;

use super::TestingError;
use kazoo::proto::jute::Record;
use kazoo::proto::{
    encode_frame, encode_request, ConnectRequest, Request, DEFAULT_MAX_REQUEST_LEN,
};
use kazoo::Client;

/// How many watches the server holds for `session` (`wchc`; a path
/// watched for both data and children counts twice, a persistent watch
/// too), on a real server or the embedded one. For checks that a recipe
/// or a client leaves no watch behind (Curator's test base does this).
pub fn watch_count(server: SocketAddr, session: i64) -> Result<usize, TestingError> {
    let report = super::jvm::four_letter_word(server, "wchc")?;
    let header = format!("0x{session:x}");
    let mut count = 0;
    let mut mine = false;
    for line in report.lines() {
        if let Some(path) = line.strip_prefix('\t') {
            if mine && !path.is_empty() {
                count += 1;
            }
        } else {
            mine = line.trim() == header;
        }
    }
    Ok(count)
}

/// Expires `client`'s session for real: a second connection joins the
/// session with the same id and password and closes it there (the server
/// drops the client's own connection on the way). The client finds out
/// when it next talks to the server (kazoo's harness only pretends).
///
/// The handshake and the closeSession go out in one write, so the client's
/// own reconnect cannot slip in between and take the session back.
pub fn expire_session(server: SocketAddr, client: &Client) -> Result<(), TestingError> {
    let (session_id, passwd) = client.client_id();
    if session_id == 0 {
        return Err(kazoo::Error::ConnectionLoss.into());
    }
    let handshake = ConnectRequest {
        timeout: 10_000,
        session_id,
        passwd,
        read_only: Some(false),
        ..Default::default()
    };
    let mut out = BytesMut::new();
    encode_frame(&mut out, |o| handshake.encode(o));
    encode_request(&mut out, 1, &Request::CloseSession, DEFAULT_MAX_REQUEST_LEN)
        .map_err(kazoo::Error::from)?;
    // The client reconnects as soon as the server drops its connection and
    // may take the session back before our closeSession is read; so repeat
    // until a handshake finds the session gone.
    for attempt in 0..20 {
        let mut twin = TcpStream::connect_timeout(&server, Duration::from_secs(5))?;
        twin.set_read_timeout(Some(Duration::from_secs(10)))?;
        twin.write_all(&out)?;
        let mut answer = Vec::new();
        // The server answers, then closes (or is told to by the client's reconnect).
        let _ = twin.read_to_end(&mut answer);
        // ConnectResponse: length, protocol version, timeout. Timeout 0: gone.
        let gone = answer.len() >= 12 && answer[8..12] == [0, 0, 0, 0];
        if gone {
            return if attempt == 0 {
                Err(kazoo::Error::SessionExpired.into())
            } else {
                Ok(())
            };
        }
    }
    Err(kazoo::Error::ConnectionLoss.into())
}
