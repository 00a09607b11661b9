//! The sessions' next deadline as a timer file on Linux, armed once per
//! deadline rather than once per poll.
//!
//! A poll with a timeout arms a kernel timer when it sleeps and cancels it
//! when it wakes. On a virtual machine each of those can trap to the
//! hypervisor: on the benchmark machine it cost about 5 µs per sleep, more
//! than the turn's own work. A `timerfd` registered beside the waker stays
//! armed across sleeps, so [`Sessions::poll_timeout`] can answer `None`
//! (sleep until an event) while the timer covers the next deadline.
//! Elsewhere, or if the timer cannot be made, deadlines are poll
//! timeouts as before.
//!
//! [`Sessions::poll_timeout`]: crate::Sessions::poll_timeout

use std::time::Instant;

use mio::{Registry, Token};

/// A one-shot timer that wakes the poll with the waker's token.
#[derive(Debug)]
pub(crate) struct Timer {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fd: Option<rustix::fd::OwnedFd>,
    /// When the timer fires, if it is set.
    armed: Option<Instant>,
}

impl Timer {
    /// A timer registered on `registry` under `token`; one that could not
    /// be made or registered is left out (deadlines fall back to poll
    /// timeouts).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn new(registry: &Registry, token: Token) -> Timer {
        use rustix::fd::AsRawFd;
        use rustix::time::{timerfd_create, TimerfdClockId, TimerfdFlags};
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .ok()
        .filter(|fd| {
            let mut source = mio::unix::SourceFd(&fd.as_raw_fd());
            registry
                .register(&mut source, token, mio::Interest::READABLE)
                .is_ok()
        });
        Timer { fd, armed: None }
    }

    /// Without a timer file, every deadline is a poll timeout.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn new(_registry: &Registry, _token: Token) -> Timer {
        Timer { armed: None }
    }

    /// Makes the timer fire by `at`, unless it is set to fire between now
    /// and then already. Firing early is harmless: the loop finds nothing
    /// due and sets it again.
    pub(crate) fn cover(&mut self, at: Instant, now: Instant) {
        if self.armed.is_some_and(|armed| now < armed && armed <= at) {
            return;
        }
        self.armed = self.set(at.saturating_duration_since(now)).then_some(at);
    }

    /// True when the timer wakes the poll by `at`, so the poll needs no
    /// timeout of its own.
    pub(crate) fn covers(&self, at: Instant, now: Instant) -> bool {
        self.armed.is_some_and(|armed| now < armed && armed <= at)
    }

    /// Sets the timer to fire once, `after` from now; false if there is
    /// no timer or it could not be set.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn set(&self, after: std::time::Duration) -> bool {
        use rustix::time::{timerfd_settime, Itimerspec, TimerfdTimerFlags, Timespec};
        let Some(fd) = &self.fd else {
            return false;
        };
        // A zero value would disarm the timer: a deadline already due
        // fires at once instead.
        let after = after.max(std::time::Duration::from_nanos(1));
        let Ok(it_value) = Timespec::try_from(after) else {
            return false;
        };
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value,
        };
        timerfd_settime(fd, TimerfdTimerFlags::empty(), &spec).is_ok()
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn set(&self, _after: std::time::Duration) -> bool {
        false
    }
}
