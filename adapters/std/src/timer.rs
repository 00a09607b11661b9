//! A deadline as a timer file (Linux): for event loops, armed once per
//! deadline rather than once per poll.
//!
//! A poll with a timeout arms a kernel timer when it sleeps and cancels it
//! when it wakes. On a virtual machine each of those can trap to the
//! hypervisor: on the benchmark machine that cost about 5 µs per sleep,
//! more than a turn's own work (docs/performance.md). A `timerfd` in the
//! loop's poll stays armed across sleeps, so the loop sleeps without a
//! timeout while the timer covers its next deadline. kazoo-mio and
//! kazoo-tokio use it; anywhere else there is no timer file, and loops
//! fall back to timeouts.

use std::time::{Duration, Instant};

/// How finely deadlines are met.
const GRAIN: Duration = Duration::from_millis(1);

/// `d` rounded up to whole [`GRAIN`]s.
fn to_grain(d: Duration) -> Duration {
    let grains = d.as_nanos().div_ceil(GRAIN.as_nanos());
    GRAIN.saturating_mul(u32::try_from(grains).unwrap_or(u32::MAX))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};

/// A one-shot timer a poll can wait on, and when it fires.
///
/// ```
/// use std::time::{Duration, Instant};
/// let mut timer = kazoo_std::DeadlineTimer::new();
/// let now = Instant::now();
/// let deadline = now + Duration::from_secs(3);
/// timer.cover(deadline, now);
/// // With `timer.fd()` in the poll, while this holds, poll without a timeout.
/// if timer.covers(deadline, now) { /* poll(None) */ } else { /* poll(Some(3 s)) */ }
/// ```
#[derive(Debug)]
pub struct DeadlineTimer {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fd: Option<OwnedFd>,
    /// When the timer fires, if it is set.
    armed: Option<Instant>,
}

impl Default for DeadlineTimer {
    fn default() -> Self {
        DeadlineTimer::new()
    }
}

impl DeadlineTimer {
    /// A disarmed timer; without a timer file (another platform, or none
    /// could be made) it never covers a deadline.
    pub fn new() -> DeadlineTimer {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use rustix::time::{timerfd_create, TimerfdClockId, TimerfdFlags};
            let flags = TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC;
            let fd = timerfd_create(TimerfdClockId::Monotonic, flags).ok();
            DeadlineTimer { fd, armed: None }
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        DeadlineTimer { armed: None }
    }

    /// The file to register for readability in the poll (non-blocking).
    /// A timer whose file the poll does not watch must not be used to
    /// skip timeouts.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|fd| fd.as_fd())
    }

    /// Makes the timer fire at `at` (to the millisecond: see
    /// [`covers`](Self::covers)), unless it is set to fire between `now`
    /// and then already. Firing early is harmless: the loop finds nothing
    /// due and covers its next deadline again.
    pub fn cover(&mut self, at: Instant, now: Instant) {
        if self.covers(at, now) {
            return;
        }
        let after = to_grain(at.saturating_duration_since(now));
        self.armed = self.set(after).then(|| now + after);
    }

    /// True when the timer fires by `at`, or less than a millisecond
    /// after, so the poll needs no timeout of its own (earlier only wakes
    /// the loop early). Like a poll timeout, whole
    /// milliseconds: deadlines that close share one wake-up (10,000 idle
    /// sessions' pings would otherwise each wake the loop).
    pub fn covers(&self, at: Instant, now: Instant) -> bool {
        let latest = at.checked_add(GRAIN).unwrap_or(at);
        self.armed
            .is_some_and(|armed| now < armed && armed <= latest)
    }

    /// Takes the timer's expiry after the poll reported it readable; true
    /// if it had fired (false for a stale report of one it was re-set
    /// after).
    pub fn fired(&mut self) -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(fd) = &self.fd {
            let mut count = [0u8; 8];
            if rustix::io::read(fd, &mut count).is_ok() {
                self.armed = None;
                return true;
            }
        }
        false
    }

    /// Sets the timer to fire once, `after` from now; false if there is
    /// no timer or it could not be set.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn set(&self, after: Duration) -> bool {
        use rustix::time::{timerfd_settime, Itimerspec, TimerfdTimerFlags, Timespec};
        let Some(fd) = &self.fd else {
            return false;
        };
        // A zero value would disarm the timer: a deadline already due
        // fires at once instead.
        let after = after.max(Duration::from_nanos(1));
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
    fn set(&self, _after: Duration) -> bool {
        false
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    #![allow(clippy::disallowed_methods)]
    use super::*;

    #[test]
    fn fires_once_by_the_earliest_deadline_it_was_asked_to_cover() {
        let mut timer = DeadlineTimer::new();
        let now = Instant::now();
        let late = now + Duration::from_secs(60);
        let soon = now + Duration::from_millis(20);
        timer.cover(late, now);
        assert!(timer.covers(late, now));
        assert!(!timer.covers(soon, now), "set for later than asked");
        timer.cover(soon, now);
        assert!(timer.covers(late, now) && timer.covers(soon, now));
        let just_before = soon - Duration::from_micros(500);
        assert!(timer.covers(just_before, now), "within the millisecond");
        assert_eq!(
            to_grain(Duration::from_micros(1500)),
            Duration::from_millis(2)
        );
        assert_eq!(to_grain(Duration::ZERO), Duration::ZERO);
        assert!(!timer.fired(), "not yet due");
        std::thread::sleep(Duration::from_millis(60));
        assert!(timer.fired(), "due after 20 ms");
        assert!(
            !timer.covers(late, Instant::now()),
            "fired: nothing covered"
        );
        assert!(!timer.fired(), "one expiry, taken once");

        // Re-set after an expiry nobody took: the expiry is cleared (the
        // mio loop relies on this and never reads the timer).
        timer.cover(Instant::now() + Duration::from_millis(10), Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        timer.cover(Instant::now() + Duration::from_secs(60), Instant::now());
        assert!(!timer.fired(), "the untaken expiry was cleared");
    }
}
