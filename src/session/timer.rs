//! Every deadline the session keeps, in one table indexed by [`Timer`].

use std::time::{Duration, Instant};

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The current connection attempt (TCP and handshake) gives up.
    Connect,
    /// Nothing received for 2/3 of the session timeout: the connection is dead.
    Read,
    /// Nothing sent for 1/3 of the session timeout: send a ping.
    Ping,
    /// Disconnected for the whole session timeout: the session is lost.
    Lost,
    /// The pause between two rounds over the host list is over.
    Backoff,
    /// `close` waited long enough for the closeSession reply.
    CloseLinger,
    /// The oldest request queued while disconnected has waited too long.
    QueueDeadline,
    /// While read-only: ask another server whether it is read/write.
    Probe,
}

impl Timer {
    const ALL: [Timer; 8] = [
        Timer::Connect,
        Timer::Read,
        Timer::Ping,
        Timer::Lost,
        Timer::Backoff,
        Timer::CloseLinger,
        Timer::QueueDeadline,
        Timer::Probe,
    ];
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable([Option<Instant>; Timer::ALL.len()]);

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.0[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0[timer as usize]
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// Stops and returns the first timer due at `now`, in table order.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let timer = Timer::ALL
            .into_iter()
            .find(|&t| self.get(t).is_some_and(|at| at <= now))?;
        self.stop(timer);
        Some(timer)
    }

    pub(crate) fn clear(&mut self) {
        *self = TimerTable::default();
    }
}

/// `now + d`, or the latest instant reachable when that overflows: a
/// deadline "forever" away (`Duration::MAX` is a natural way to say it).
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    let mut step = d;
    loop {
        if let Some(at) = now.checked_add(step) {
            return at;
        }
        step /= 2;
    }
}
