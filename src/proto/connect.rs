//! The connect handshake: the first frame in each direction (PROTOCOL.md §2).

use bytes::{Bytes, BytesMut};

use super::jute::{Reader, Record};
use super::{DecodeError, ReplyHeader};
use crate::Secret;

/// Session passwords are 16 bytes (PROTOCOL.md §2.1).
pub(crate) const PASSWD_LEN: usize = 16;

/// The first frame a client sends on a connection, with no RequestHeader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The zxid of the last normal reply seen (0 for a new client).
    pub last_zxid_seen: i64,
    /// The requested session timeout in milliseconds.
    pub timeout: i32,
    /// 0 for a new session, else the session to resume.
    pub session_id: i64,
    /// 16 zero bytes for a new session, else the session's password.
    pub passwd: Secret,
    /// Whether a read-only server may serve this client. `None` omits the
    /// byte (the 44-byte form of clients before 3.4).
    pub read_only: Option<bool>,
}

/// The server's answer to a ConnectRequest when it accepts the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// The server sends 0.
    pub protocol_version: i32,
    /// The negotiated session timeout in ms; 0 or less means the session is invalid.
    pub timeout: i32,
    /// The session id (0 if invalid).
    pub session_id: i64,
    /// The session password (16 bytes).
    pub passwd: Secret,
    /// Whether the server is read-only. `None` if the server left the byte
    /// out (36-byte form: old servers, or a request without the byte).
    pub read_only: Option<bool>,
}

impl Record for ConnectRequest {
    const MIN_LEN: usize = 28;
    fn encode(&self, out: &mut BytesMut) {
        self.protocol_version.encode(out);
        self.last_zxid_seen.encode(out);
        self.timeout.encode(out);
        self.session_id.encode(out);
        self.passwd.encode(out);
        if let Some(ro) = self.read_only {
            ro.encode(out);
        }
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Self {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: Record::decode(r)?,
            read_only: optional_bool(r)?,
        })
    }
}

impl Record for ConnectResponse {
    const MIN_LEN: usize = 20;
    fn encode(&self, out: &mut BytesMut) {
        self.protocol_version.encode(out);
        self.timeout.encode(out);
        self.session_id.encode(out);
        self.passwd.encode(out);
        if let Some(ro) = self.read_only {
            ro.encode(out);
        }
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        Ok(Self {
            protocol_version: r.read_i32()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: Record::decode(r)?,
            read_only: optional_bool(r)?,
        })
    }
}

/// The trailing readOnly byte is present only if there is a byte left.
fn optional_bool(r: &mut Reader) -> Result<Option<bool>, DecodeError> {
    if r.remaining() == 0 {
        Ok(None)
    } else {
        r.read_bool().map(Some)
    }
}

/// What the first server frame on a connection means (PROTOCOL.md §2.2–§2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeReply {
    /// A live session: new, or resumed with the id and password sent.
    Accepted(ConnectResponse),
    /// The session is expired or unknown, or the password was wrong
    /// (timeout ≤ 0). The server closes the socket next.
    Expired,
    /// A 16-byte ReplyHeader instead of a ConnectResponse: a read-only server
    /// refusing a new session (err -119). Try the next host.
    Refused {
        /// The server's last zxid.
        zxid: i64,
        /// The ZooKeeper error code.
        err: i32,
    },
}

impl HandshakeReply {
    /// Classifies the payload of the first server frame.
    pub fn decode(payload: Bytes) -> Result<HandshakeReply, DecodeError> {
        let len = payload.len();
        if len == 16 {
            let header = ReplyHeader::decode_from(payload)?;
            return Ok(HandshakeReply::Refused {
                zxid: header.zxid,
                err: header.err,
            });
        }
        if len < 36 {
            return Err(DecodeError::BadHandshake(len));
        }
        let response = ConnectResponse::decode_from(payload)?;
        if response.timeout <= 0 {
            Ok(HandshakeReply::Expired)
        } else if response.session_id == 0 || response.passwd.len() != PASSWD_LEN {
            Err(DecodeError::BadSession {
                session_id: response.session_id,
                passwd_len: response.passwd.len(),
            })
        } else {
            Ok(HandshakeReply::Accepted(response))
        }
    }
}

#[cfg(test)]
mod gen {
    use super::*;
    use crate::proto::tests::gen::Gen;
    use proptest::prelude::*;

    impl Gen for ConnectRequest {
        fn gen() -> BoxedStrategy<Self> {
            (
                any::<(i32, i64, i32, i64)>(),
                Secret::gen(),
                any::<Option<bool>>(),
            )
                .prop_map(
                    |(
                        (protocol_version, last_zxid_seen, timeout, session_id),
                        passwd,
                        read_only,
                    )| {
                        Self {
                            protocol_version,
                            last_zxid_seen,
                            timeout,
                            session_id,
                            passwd,
                            read_only,
                        }
                    },
                )
                .boxed()
        }
    }

    impl Gen for ConnectResponse {
        fn gen() -> BoxedStrategy<Self> {
            (
                any::<(i32, i32, i64)>(),
                Secret::gen(),
                any::<Option<bool>>(),
            )
                .prop_map(
                    |((protocol_version, timeout, session_id), passwd, read_only)| Self {
                        protocol_version,
                        timeout,
                        session_id,
                        passwd,
                        read_only,
                    },
                )
                .boxed()
        }
    }
}
