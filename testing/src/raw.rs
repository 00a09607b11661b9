//! A minimal blocking connection built from the codec alone.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::TestingError;
use kazoo::proto::jute::{Reader, Record};
use kazoo::proto::{
    encode_frame, encode_request, xid, ConnectRequest, ConnectResponse, FrameDecoder,
    HandshakeReply, ReplyHeader, Request, Response, WatcherEvent, DEFAULT_MAX_REQUEST_LEN,
};
use kazoo::Error;

/// One ZooKeeper connection on a blocking socket, with no session logic:
/// no pings, no reconnects, replies read strictly in order.
#[derive(Debug)]
pub struct RawConnection {
    stream: TcpStream,
    frames: FrameDecoder,
    next_xid: i32,
    session: ConnectResponse,
    /// Notifications received while waiting for replies, oldest first.
    pub events: Vec<WatcherEvent>,
}

impl RawConnection {
    /// Connects and creates a new session (requested timeout 10 s).
    pub fn open(addr: SocketAddr) -> Result<RawConnection, TestingError> {
        Self::open_timeout(addr, Duration::from_secs(5))
    }

    /// [`open`](Self::open), giving up on connect or read after `timeout`.
    pub fn open_timeout(
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<RawConnection, TestingError> {
        let request = ConnectRequest {
            timeout: 10_000,
            passwd: Bytes::from(vec![0; 16]).into(),
            read_only: Some(false),
            ..Default::default()
        };
        Self::handshake(addr, &request, timeout)
    }

    /// Connects and sends `request` as the handshake; fails unless the
    /// server accepts it (an expired session is [`Error::SessionExpired`]).
    pub fn handshake(
        addr: SocketAddr,
        request: &ConnectRequest,
        timeout: Duration,
    ) -> Result<RawConnection, TestingError> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        let mut conn = RawConnection {
            stream,
            frames: FrameDecoder::default(),
            next_xid: 0,
            session: ConnectResponse::default(),
            events: Vec::new(),
        };
        let mut out = BytesMut::new();
        encode_frame(&mut out, |o| request.encode(o));
        conn.stream.write_all(&out)?;
        let frame = conn.read_frame()?;
        match HandshakeReply::decode(frame).map_err(Error::from)? {
            HandshakeReply::Accepted(session) => conn.session = session,
            HandshakeReply::Expired => return Err(Error::SessionExpired.into()),
            HandshakeReply::Refused { err, .. } => return Err(Error::from_code(err).into()),
        }
        Ok(conn)
    }

    /// The server's ConnectResponse: session id, password, negotiated timeout.
    pub fn session(&self) -> &ConnectResponse {
        &self.session
    }

    /// Sends a request without waiting; returns its xid.
    pub fn send(&mut self, request: &Request) -> Result<i32, TestingError> {
        let id = match request {
            Request::Ping => xid::PING,
            Request::Auth(_) => xid::AUTH,
            _ => {
                self.next_xid = xid::next(self.next_xid);
                self.next_xid
            }
        };
        let mut out = BytesMut::new();
        encode_request(&mut out, id, request, DEFAULT_MAX_REQUEST_LEN).map_err(Error::from)?;
        self.stream.write_all(&out)?;
        Ok(id)
    }

    /// Reads the next reply that is not a notification (notifications go to
    /// [`events`](Self::events)): its header and body.
    pub fn recv(&mut self) -> Result<(ReplyHeader, Bytes), TestingError> {
        loop {
            let mut r = Reader::new(self.read_frame()?);
            let header = ReplyHeader::decode(&mut r).map_err(Error::from)?;
            if header.xid == xid::NOTIFICATION {
                let event = WatcherEvent::decode(&mut r).map_err(Error::from)?;
                self.events.push(event);
                continue;
            }
            return Ok((header, r.into_rest()));
        }
    }

    /// Sends a request and waits for its reply, decoded (server errors as [`Error`]).
    pub fn call(&mut self, request: Request) -> Result<Response, TestingError> {
        let sent = self.send(&request)?;
        let (header, body) = self.recv()?;
        if header.xid != sent {
            return Err(TestingError::StartFailed(format!(
                "reply xid {} does not match request xid {sent}",
                header.xid
            )));
        }
        if header.err != 0 {
            return Err(Error::from_code(header.err).into());
        }
        Ok(Response::decode(request.op_code(), body).map_err(Error::from)?)
    }

    /// Reads one whole frame.
    pub fn read_frame(&mut self) -> Result<Bytes, TestingError> {
        let mut buf = [0u8; 64 * 1024];
        loop {
            if let Some(frame) = self.frames.next_frame().map_err(Error::from)? {
                return Ok(frame);
            }
            let n = self.stream.read(&mut buf)?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            self.frames.push(&buf[..n]);
        }
    }

    /// Writes raw bytes (for tests of what the server does with odd input).
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<(), TestingError> {
        Ok(self.stream.write_all(bytes)?)
    }
}
