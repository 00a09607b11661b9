//! Counters for diagnostics and benchmarks.

use std::time::Duration;

/// What a reconnect sent again before anything else: credentials, then
/// the armed watches in SetWatches batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replay {
    /// Credentials (addAuth packets).
    pub credentials: usize,
    /// Watched paths, over all watch kinds.
    pub watches: usize,
    /// SetWatches frames they took.
    pub batches: usize,
}

/// Counters of one session since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Frames written (handshakes and pings included).
    pub frames_sent: u64,
    /// Frames read.
    pub frames_received: u64,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// Pings sent.
    pub pings_sent: u64,
    /// Successful handshakes after the first.
    pub reconnects: u64,
    /// Requests sent and not yet answered.
    pub pending: usize,
    /// Requests waiting to be sent.
    pub queued: usize,
    /// Alarms (sleeps, retry backoffs) not yet due.
    pub alarms: usize,
    /// Round-trip time of the last answered ping.
    pub last_rtt: Option<Duration>,
    /// What the last reconnect to the same session replayed.
    pub last_replay: Replay,
    /// Bytes the adapter holds for the socket (filled in by `Client::stats`).
    pub write_buffered: usize,
}
