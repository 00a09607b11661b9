//! The bounded outgoing buffer every adapter keeps per connection.
//!
//! [`Io::write`](super::Io::write) runs under the client's lock and must
//! never block, so an adapter writes to the socket only what it takes at
//! once ([`OutBuf::send_or_push`]), appends the rest to an `OutBuf` and
//! drains it from another thread, task or poll event. The buffer is bounded: once it holds
//! [`limit`](OutBuf::limit) bytes, [`room`](OutBuf::room) is 0, the session
//! stops producing frames (requests wait in its queue, visible as
//! `Pending`), and the adapter calls
//! [`Driver::writable`](super::Driver::writable) when it has drained it.
//! Memory stays bounded however fast callers submit.

/// A byte queue with a soft limit (one frame may overshoot it).
#[derive(Debug)]
pub struct OutBuf {
    bytes: Vec<u8>,
    /// Bytes at the front already written.
    start: usize,
    limit: usize,
    /// Bytes handed out by [`take`](OutBuf::take) and not yet reported
    /// written: they still count against the limit.
    in_flight: usize,
    /// The limit was reached since the last [`take_blocked`](OutBuf::take_blocked).
    blocked: bool,
    /// The buffer a writer handed back after [`take`](OutBuf::take),
    /// emptied, for the next take: in a steady stream of writes no
    /// allocation is made (and no thread frees another's buffers).
    spare: Vec<u8>,
}

/// The largest handed-back buffer kept for reuse: a burst's big buffer is
/// let go of rather than held for the connection's life.
const SPARE_KEPT: usize = 256 * 1024;

impl OutBuf {
    /// An empty buffer that reports no room once it holds `limit` bytes
    /// ([`Config::write_buffer_limit`](crate::session::Config::write_buffer_limit)).
    pub fn new(limit: usize) -> OutBuf {
        OutBuf {
            bytes: Vec::new(),
            start: 0,
            limit,
            in_flight: 0,
            blocked: false,
            spare: Vec::new(),
        }
    }

    /// Appends bytes (all of them: the session checks [`room`](OutBuf::room)
    /// before producing, so at most one frame goes past the limit).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
        self.bytes.extend_from_slice(bytes);
        if self.room() == 0 {
            self.blocked = true;
        }
    }

    /// How many more bytes the session may produce now.
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.len() + self.in_flight)
    }

    /// The configured limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    /// Bytes held: waiting, plus taken and not yet written.
    pub fn held(&self) -> usize {
        self.len() + self.in_flight
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes waiting, oldest first.
    pub fn chunk(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// `n` bytes of [`chunk`](OutBuf::chunk) were written.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.bytes.len());
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        } else if self.start > self.bytes.len() / 2 && self.start > 64 * 1024 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
    }

    /// Hands `bytes` straight to `send` (a non-blocking write to the
    /// socket) when nothing waits or is in flight before them, and queues
    /// what it did not take: no thread or task hand-off while the socket
    /// keeps up. `Ok(true)`: bytes were queued, the adapter's writer has
    /// work. `Err`: the socket failed; what it did not take is queued all
    /// the same (the writer meets the failure too), and the adapter closes
    /// the connection so that its reader reports it.
    pub fn send_or_push(
        &mut self,
        bytes: &[u8],
        mut send: impl FnMut(&[u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<bool> {
        let mut sent = 0;
        while self.held() == 0 && sent < bytes.len() {
            match send(&bytes[sent..]) {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.push(&bytes[sent..]);
                    return Err(e);
                }
            }
        }
        if sent == bytes.len() {
            return Ok(false);
        }
        self.push(&bytes[sent..]);
        Ok(true)
    }

    /// Takes every waiting byte at once, for a writer that writes outside
    /// the lock; they count against the limit until
    /// [`written`](OutBuf::written), which takes the buffer back.
    pub fn take(&mut self) -> Vec<u8> {
        let spare = std::mem::take(&mut self.spare);
        let mut bytes = std::mem::replace(&mut self.bytes, spare);
        bytes.drain(..self.start);
        self.start = 0;
        self.in_flight += bytes.len();
        bytes
    }

    /// The bytes of the last [`take`](OutBuf::take) were written; `buf`
    /// is that buffer, kept (emptied) for the next take.
    pub fn written(&mut self, mut buf: Vec<u8>) {
        self.in_flight = 0;
        if buf.capacity() <= SPARE_KEPT {
            buf.clear();
            self.spare = buf;
        }
    }

    /// Forgets everything (the connection is gone).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.start = 0;
        self.in_flight = 0;
        self.blocked = false;
    }

    /// True once if the limit was reached since the last call and there is
    /// room again: the adapter should call `Driver::writable` (outside its
    /// own lock).
    pub fn take_blocked(&mut self) -> bool {
        let unblocked = self.blocked && self.room() > 0;
        if unblocked {
            self.blocked = false;
        }
        unblocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_unblocked_once() {
        let mut b = OutBuf::new(10);
        b.push(b"0123456789abc");
        assert_eq!(b.room(), 0);
        assert!(!b.take_blocked(), "still full");
        b.consume(5);
        assert_eq!(b.chunk(), b"56789abc");
        b.consume(5);
        assert_eq!(b.room(), 7);
        assert!(b.take_blocked());
        assert!(!b.take_blocked(), "once");
        let taken = b.take();
        assert_eq!(taken, b"abc");
        assert!(b.is_empty());
        assert_eq!(b.room(), 7, "taken bytes count until written");
        b.written(taken);
        assert_eq!(b.room(), 10);
    }

    #[test]
    fn sent_directly_only_when_nothing_is_ahead() {
        use std::io::{Error, ErrorKind};
        let mut b = OutBuf::new(100);
        let mut wire = Vec::new();
        // The socket takes 3 bytes, then would block: the rest is queued.
        let queued = b.send_or_push(b"abcdef", |x| {
            if wire.len() >= 3 {
                return Err(Error::from(ErrorKind::WouldBlock));
            }
            wire.extend_from_slice(&x[..3]);
            Ok(3)
        });
        assert_eq!((queued.ok(), &wire[..]), (Some(true), &b"abc"[..]));
        // Bytes wait: later ones queue behind them, the socket untouched.
        let queued = b.send_or_push(b"gh", |_| panic!("sent ahead of queued bytes"));
        assert_eq!((queued.ok(), b.chunk()), (Some(true), &b"defgh"[..]));
        // Taken by a writer (in flight): still nothing goes ahead.
        let taken = b.take();
        assert!(b.send_or_push(b"ij", |_| panic!("ahead")).unwrap_or(false));
        b.written(taken);
        b.consume(2);
        // All written: straight to the socket.
        assert_eq!(b.send_or_push(b"kl", |x| Ok(x.len())).ok(), Some(false));
        // A failure after part of a frame: the rest is kept, in order,
        // for the writer (which meets the failure too).
        let mut calls = 0;
        let failed = b.send_or_push(b"mnop", |x| {
            calls += 1;
            match calls {
                1 => Ok(x.len().min(1)),
                _ => Err(Error::from(ErrorKind::BrokenPipe)),
            }
        });
        assert!(failed.is_err());
        assert_eq!(b.chunk(), b"nop");
    }

    /// Two buffers take turns (one filling, one being written): after the
    /// first two writes, no allocation per write in a steady stream.
    #[test]
    fn written_buffers_are_reused() {
        let mut b = OutBuf::new(1 << 20);
        let mut seen = Vec::new();
        for round in 0..6u8 {
            b.push(&[round; 1000]);
            let taken = b.take();
            assert_eq!(taken, [round; 1000]);
            seen.push(taken.as_ptr());
            b.written(taken);
        }
        assert_eq!(seen[2..], [seen[0], seen[1], seen[0], seen[1]]);
        // A burst's big buffer is let go of.
        b.push(&vec![7; SPARE_KEPT + 1]);
        let big = b.take();
        b.written(big);
        assert!(b.spare.capacity() <= SPARE_KEPT);
    }
}
