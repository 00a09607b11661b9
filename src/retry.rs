//! Retrying operations that failed for a passing reason, kazoo style.
//!
//! [`RetryPolicy`] is arithmetic only: which errors to retry and how long to
//! wait before attempt `n`. [`Client::retry`] runs an operation under a
//! policy and waits on the session's timers ([`Client::sleep`]), so it needs
//! no runtime and no sleeping thread.
//!
//! ```no_run
//! # fn demo(client: kazoo::client::Client) -> Result<(), kazoo::Error> {
//! use kazoo::retry::RetryPolicy;
//! let policy = RetryPolicy::default().max_tries(5);
//! let data = client
//!     .retry(&policy, |c| c.get("/config").send())
//!     .wait()?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, Task};
use crate::session::rng::Rng;
use crate::Error;

/// When and how often to try again.
///
/// Retried: `ConnectionLoss`, `OperationTimeout`, `RequestTimeout`,
/// `Throttled` ([`Error::is_retryable`]) and [`Error::ForceRetry`];
/// `SessionExpired` only with [`retry_session_expired`](Self::retry_session_expired).
#[derive(Clone)]
pub struct RetryPolicy {
    max_tries: Option<u32>,
    delay: Duration,
    backoff: u32,
    max_jitter: f64,
    max_delay: Duration,
    deadline: Option<Duration>,
    retry_session_expired: bool,
    interrupt: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_tries", &self.max_tries)
            .field("delay", &self.delay)
            .field("backoff", &self.backoff)
            .field("max_jitter", &self.max_jitter)
            .field("max_delay", &self.max_delay)
            .field("deadline", &self.deadline)
            .field("retry_session_expired", &self.retry_session_expired)
            .field("interrupt", &self.interrupt.is_some())
            .finish()
    }
}

impl Default for RetryPolicy {
    /// kazoo's numbers: 100 ms first delay, doubling, up to 40% jitter,
    /// at most 60 s between tries; here 10 tries and no deadline.
    fn default() -> Self {
        RetryPolicy {
            max_tries: Some(10),
            delay: Duration::from_millis(100),
            backoff: 2,
            max_jitter: 0.4,
            max_delay: Duration::from_secs(60),
            deadline: None,
            retry_session_expired: false,
            interrupt: None,
        }
    }
}

impl RetryPolicy {
    /// Runs at most `n` times in all (at least once).
    pub fn max_tries(mut self, n: u32) -> Self {
        self.max_tries = Some(n.max(1));
        self
    }

    /// Tries until it succeeds, fails for good, or hits the deadline.
    pub fn forever(mut self) -> Self {
        self.max_tries = None;
        self
    }

    /// Wait before the first retry.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Each wait is the previous one times `factor` (1: constant).
    pub fn backoff(mut self, factor: u32) -> Self {
        self.backoff = factor.max(1);
        self
    }

    /// Adds up to `fraction` (0.0 to 1.0) of each wait at random, so that
    /// many clients do not retry in step.
    pub fn max_jitter(mut self, fraction: f64) -> Self {
        self.max_jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// No wait is longer than this.
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// Gives up once this much time has passed since the first try.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Also retry after `SessionExpired` (the client carries on with a new
    /// session; whatever the operation relied on from the old one is gone).
    pub fn retry_session_expired(mut self, yes: bool) -> Self {
        self.retry_session_expired = yes;
        self
    }

    /// Checked before each retry; returning true stops with `Cancelled`.
    pub fn interrupt(mut self, f: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.interrupt = Some(Arc::new(f));
        self
    }

    /// Whether `error` is worth another try under this policy.
    pub fn retries(&self, error: &Error) -> bool {
        error.is_retryable()
            || matches!(error, Error::ForceRetry)
            || (self.retry_session_expired && matches!(error, Error::SessionExpired))
    }

    /// The wait after the `attempt`-th failure (1-based), given a random
    /// number for the jitter; `None` when out of tries.
    pub fn delay_after(&self, attempt: u32, random: u64) -> Option<Duration> {
        if self.max_tries.is_some_and(|max| attempt >= max) {
            return None;
        }
        let factor = self.backoff.saturating_pow(attempt.saturating_sub(1));
        let base = self.delay.saturating_mul(factor).min(self.max_delay);
        let fraction = self.max_jitter * (random % 1_000_001) as f64 / 1_000_000.0;
        // NaN, negative or overflowing jitter settings must not panic.
        let jitter = if fraction > 0.0 {
            Duration::try_from_secs_f64(base.as_secs_f64() * fraction).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        };
        Some(base.saturating_add(jitter).min(self.max_delay))
    }

    fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|f| f())
    }
}

impl Client {
    /// Runs `op` until it succeeds, fails with an error the policy does not
    /// retry, or runs out of tries (`RetryFailed` with the last error).
    /// Waits between tries on the session's timers.
    pub fn retry<T, F>(
        &self,
        policy: &RetryPolicy,
        mut op: impl FnMut(&Client) -> F + Send + 'static,
    ) -> Task<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let client = self.clone();
        let policy = policy.clone();
        let start = client.inner().now();
        // The first try starts now, like every other method.
        let mut next = Some(op(&client));
        Task::new(async move {
            let mut rng = Rng::new(client.inner().seed ^ start_bits(&client));
            let mut attempt = 0;
            loop {
                attempt += 1;
                let this = match next.take() {
                    Some(first) => first,
                    None => op(&client),
                };
                let error = match this.await {
                    Ok(v) => return Ok(v),
                    Err(e) if policy.retries(&e) => e,
                    Err(e) => return Err(e),
                };
                let give_up = |last| {
                    Err(Error::RetryFailed {
                        attempts: attempt,
                        last: Box::new(last),
                    })
                };
                let Some(wait) = policy.delay_after(attempt, rng.next_u64()) else {
                    return give_up(error);
                };
                if let Some(deadline) = policy.deadline.and_then(|d| start.checked_add(d)) {
                    let wake = crate::session::deadline_after(client.inner().now(), wait);
                    if wake > deadline {
                        return give_up(error);
                    }
                }
                if policy.interrupted() {
                    return Err(Error::Cancelled);
                }
                client.sleep(wait).await?;
            }
        })
    }
}

/// Varies the jitter between clients that share a seed.
fn start_bits(client: &Client) -> u64 {
    client.session_id() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Duration::MAX` delays with full jitter saturate instead of
    /// panicking in the float arithmetic.
    #[test]
    fn huge_delays_saturate() {
        let p = RetryPolicy::default()
            .forever()
            .delay(Duration::MAX)
            .max_delay(Duration::MAX)
            .backoff(u32::MAX)
            .max_jitter(1.0);
        for attempt in [1, 2, 64, u32::MAX] {
            assert_eq!(p.delay_after(attempt, 1_000_000), Some(Duration::MAX));
        }
    }

    #[test]
    fn delays_back_off_up_to_the_cap_and_stop_after_max_tries() {
        let p = RetryPolicy::default()
            .max_tries(6)
            .delay(Duration::from_millis(100))
            .backoff(2)
            .max_jitter(0.0)
            .max_delay(Duration::from_millis(500));
        let waits: Vec<_> = (1..=6).map(|n| p.delay_after(n, 0)).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(waits, [ms(100), ms(200), ms(400), ms(500), ms(500), None]);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let p = RetryPolicy::default()
            .delay(Duration::from_millis(100))
            .max_jitter(0.4);
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let d = p.delay_after(1, rng.next_u64()).unwrap();
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(140),
                "{d:?}"
            );
        }
        assert_eq!(
            p.delay_after(1, 1_000_000),
            Some(Duration::from_millis(140))
        );
    }

    #[test]
    fn which_errors_are_retried() {
        let p = RetryPolicy::default();
        for e in [
            Error::ConnectionLoss,
            Error::OperationTimeout,
            Error::ForceRetry,
            Error::Throttled,
        ] {
            assert!(p.retries(&e), "{e:?}");
        }
        for e in [
            Error::SessionExpired,
            Error::NoNode,
            Error::Closed,
            Error::BadVersion,
        ] {
            assert!(!p.retries(&e), "{e:?}");
        }
        assert!(p
            .retry_session_expired(true)
            .retries(&Error::SessionExpired));
    }

    #[test]
    fn forever_never_runs_out_and_huge_numbers_saturate() {
        let p = RetryPolicy::default().forever().max_jitter(f64::NAN);
        assert_eq!(
            p.delay_after(u32::MAX, u64::MAX),
            Some(Duration::from_secs(60))
        );
    }
}
