//! The bounded outgoing buffer every adapter keeps per connection.
//!
//! [`Io::write`](super::Io::write) runs under the client's lock and must
//! never block, so an adapter appends to an `OutBuf` and drains it from
//! another thread, task or poll event. The buffer is bounded: once it holds
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
}

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

    /// Takes every waiting byte at once, for a writer that writes outside
    /// the lock; they count against the limit until
    /// [`written`](OutBuf::written).
    pub fn take(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.drain(..self.start);
        self.start = 0;
        self.in_flight += bytes.len();
        bytes
    }

    /// The bytes of the last [`take`](OutBuf::take) were written.
    pub fn written(&mut self) {
        self.in_flight = 0;
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
        assert_eq!(b.take(), b"abc");
        assert!(b.is_empty());
        assert_eq!(b.room(), 7, "taken bytes count until written");
        b.written();
        assert_eq!(b.room(), 10);
    }
}
