//! Length-prefixed framing: an incremental decoder for received bytes and
//! encoders that append whole frames to a caller's buffer.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::jute::Record;
use super::{DecodeError, Request, RequestHeader};

/// Default limit for an incoming frame: 4 MiB, well over the server's
/// jute.maxbuffer (1 MiB), since replies can exceed it (PROTOCOL.md §0.10).
pub const DEFAULT_MAX_FRAME_LEN: usize = 4 * 1024 * 1024;

/// Default limit for an outgoing frame: the server's jute.maxbuffer. Larger
/// frames make the server drop the connection, so they fail locally instead.
pub const DEFAULT_MAX_REQUEST_LEN: usize = 0xfffff;

/// Reassembles frames from bytes read off a socket, however they were split.
///
/// Bytes are copied once, into the decoder's buffer; every frame comes out
/// as a [`Bytes`] slice of it, so payloads are never copied again. A length
/// prefix above the limit or below zero is an error before anything is
/// allocated for it; after an error, call [`reset`](Self::reset) before reuse
/// (the stream can no longer be trusted: the session drops the connection).
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_frame_len: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl FrameDecoder {
    /// A decoder that rejects frames with payloads over `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_frame_len,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame's payload (without its length prefix), or `None`
    /// if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let Some(prefix) = self.buf.get(..4) else {
            return Ok(None);
        };
        let raw = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let len = usize::try_from(raw).map_err(|_| DecodeError::NegativeFrameLength(raw))?;
        if len > self.max_frame_len {
            return Err(DecodeError::FrameTooLarge {
                len,
                max: self.max_frame_len,
            });
        }
        if self.buf.len() < 4 + len {
            // Reserve for the rest of this frame once, not per read; bounded by the limit.
            self.buf.reserve(4 + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(len).freeze()))
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops buffered bytes: call on every new connection.
    pub fn reset(&mut self) {
        self.buf.clear();
    }
}

/// A request whose frame would exceed the outgoing limit; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request of {len} bytes exceeds the limit of {max}")]
pub struct RequestTooLarge {
    /// Payload length the request would have had.
    pub len: usize,
    /// The limit.
    pub max: usize,
}

/// Appends one frame: a 4-byte length prefix, then whatever `body` writes.
/// Returns the payload length.
pub fn encode_frame(out: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) -> usize {
    let start = out.len();
    out.put_i32(0);
    body(out);
    let len = out.len() - start - 4;
    let prefix = i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes();
    out[start..start + 4].copy_from_slice(&prefix);
    len
}

/// Appends a request frame (`RequestHeader` + body). If the payload would be
/// longer than `max_len`, appends nothing and returns the error.
pub fn encode_request(
    out: &mut BytesMut,
    xid: i32,
    request: &Request,
    max_len: usize,
) -> Result<usize, RequestTooLarge> {
    let start = out.len();
    let len = encode_frame(out, |out| {
        RequestHeader {
            xid,
            op: request.op_code().as_i32(),
        }
        .encode(out);
        request.encode_body(out);
    });
    if len > max_len {
        out.truncate(start);
        return Err(RequestTooLarge { len, max: max_len });
    }
    Ok(len)
}
