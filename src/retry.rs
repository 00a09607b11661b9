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
//!     .retry_with(&policy, |c| c.get("/config").send())
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

/// When and how often to try again: kazoo's `KazooRetry`, with the
/// defaults kazoo's client gives its `command_retry`.
///
/// | setting | default | kazoo |
/// |---|---|---|
/// | [`max_tries`](Self::max_tries) | unlimited ([`forever`](Self::forever)) | `max_tries=None` |
/// | [`delay`](Self::delay) | 100 ms | `delay=0.1` |
/// | [`backoff`](Self::backoff) | 2.0 | `backoff=2` |
/// | [`max_jitter`](Self::max_jitter) | 0.4: each wait × uniform(0.6, 1.4) | `max_jitter=0.4` |
/// | [`max_delay`](Self::max_delay) | 3600 s | `max_delay=3600` |
/// | [`retry_session_expired`](Self::retry_session_expired) | true | `ignore_expire=True` |
/// | [`deadline`](Self::deadline) | none | `deadline=None` |
/// | [`interrupt`](Self::interrupt) | none; checked every 100 ms while waiting | `interrupt=None` |
///
/// Retried: `ConnectionLoss`, `OperationTimeout`, `RequestTimeout`,
/// `Throttled` ([`Error::is_retryable`]), [`Error::ForceRetry`], and
/// `SessionExpired` unless turned off. A closed client (`Closed`) never is.
/// One difference: kazoo feeds each jittered wait into the next delay, so
/// its jitter compounds; here every wait is jittered around the plain
/// curve `delay × backoff^(n-1)` (same growth, no drift).
#[derive(Clone)]
pub struct RetryPolicy {
    max_tries: Option<u32>,
    pub(crate) delay: Duration,
    backoff: f64,
    max_jitter: f64,
    pub(crate) max_delay: Duration,
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
    /// kazoo's client defaults (see the table above).
    fn default() -> Self {
        RetryPolicy {
            max_tries: None,
            delay: Duration::from_millis(100),
            backoff: 2.0,
            max_jitter: 0.4,
            max_delay: Duration::from_secs(3600),
            deadline: None,
            retry_session_expired: true,
            interrupt: None,
        }
    }
}

/// How often a wait looks at the interrupt (kazoo: every 0.1 s).
const INTERRUPT_CHECK: Duration = Duration::from_millis(100);

impl RetryPolicy {
    /// The session's default pacing of connection attempts
    /// ([`ConfigBuilder::connection_retry`](crate::session::ConfigBuilder::connection_retry)):
    /// [`default`](Self::default) with a 5 s cap instead of kazoo's 3600 s,
    /// which would leave a client up to an hour between rounds. Start from
    /// this one to change a connection policy.
    pub fn connection_default() -> RetryPolicy {
        RetryPolicy::default().max_delay(Duration::from_secs(5))
    }

    /// Runs at most `n` times in all (at least once).
    pub fn max_tries(mut self, n: u32) -> Self {
        self.max_tries = Some(n.max(1));
        self
    }

    /// Tries until it succeeds, fails for good, or hits the deadline (the
    /// default).
    pub fn forever(mut self) -> Self {
        self.max_tries = None;
        self
    }

    /// Wait before the first retry.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Each wait is the previous one times `factor` (1.0: constant; below
    /// 1, NaN or infinite counts as 1.0).
    pub fn backoff(mut self, factor: f64) -> Self {
        self.backoff = if factor.is_finite() {
            factor.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// Each wait is multiplied by a random factor from `1 - fraction` to
    /// `1 + fraction` (`fraction` from 0.0 to 1.0), so that many clients
    /// do not retry in step.
    pub fn max_jitter(mut self, fraction: f64) -> Self {
        self.max_jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// No wait is longer than this (jitter folds back below it).
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// Gives up once the next wait would end later than this much time
    /// after the first try.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Whether `SessionExpired` is retried (kazoo's `ignore_expire`; the
    /// default): the client carries on with a new session, and whatever
    /// the operation relied on from the old one is gone.
    pub fn retry_session_expired(mut self, yes: bool) -> Self {
        self.retry_session_expired = yes;
        self
    }

    /// Checked before each retry and every 100 ms while waiting; `true`
    /// stops with `Cancelled`.
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
    /// number for the jitter; `None` when out of tries. Never more than
    /// `max_delay`: a jitter that would pass it folds back below it.
    pub fn delay_after(&self, attempt: u32, random: u64) -> Option<Duration> {
        if self.max_tries.is_some_and(|max| attempt >= max) {
            return None;
        }
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.delay.as_secs_f64() * self.backoff.powi(exponent);
        // 0 × ∞ (no delay, a huge backoff power) is NaN: no delay it is.
        let base = if base.is_nan() { 0.0 } else { base };
        let cap = self.max_delay.as_secs_f64();
        // uniform(1 - j, 1 + j), from a random number in 0..=1_000_000.
        let unit = (random % 1_000_001) as f64 / 1_000_000.0;
        let factor = 1.0 - self.max_jitter + 2.0 * self.max_jitter * unit;
        let wait = base.min(cap) * factor;
        // Past the cap the jitter folds back below it, so waits at the cap
        // stay spread (from (1 - j) × cap to cap) instead of many clients
        // all waiting exactly max_delay and retrying in step.
        let wait = if wait > cap {
            (2.0 * cap - wait).max(0.0)
        } else {
            wait
        };
        // Overflowing or NaN arithmetic must not panic: it saturates.
        Some(
            Duration::try_from_secs_f64(wait.min(cap))
                .unwrap_or(self.max_delay)
                .min(self.max_delay),
        )
    }

    fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|f| f())
    }

    /// Runs `op` under this policy on `client`'s timers, for a closure that
    /// borrows (`Client::retry` needs `'static`): `.await` it.
    ///
    /// ```no_run
    /// # async fn f(client: &kazoo::Client) -> Result<(), kazoo::Error> {
    /// use kazoo::retry::RetryPolicy;
    /// let path = String::from("/config");
    /// let (data, _) = RetryPolicy::default()
    ///     .max_tries(5)
    ///     .run(client, || client.get(&path).send())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn run<T, F>(&self, client: &Client, op: impl FnMut() -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        self.run_from(client, client.inner().now(), op).await
    }

    /// [`run`](RetryPolicy::run), with the deadline counted from `start`.
    async fn run_from<T, F>(
        &self,
        client: &Client,
        start: std::time::Instant,
        mut op: impl FnMut() -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let mut tries = Tries::new(self, client, start);
        loop {
            let error = match op().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let wait = tries.after(error, client)?;
            self.sleep(client, wait).await?;
        }
    }

    /// [`run`](RetryPolicy::run) for a thread: `op` blocks (`.wait()`s
    /// for its request), and so do the waits between tries.
    ///
    /// ```no_run
    /// # fn f(client: &kazoo::Client) -> Result<(), kazoo::Error> {
    /// use kazoo::retry::RetryPolicy;
    /// let stat = RetryPolicy::default().run_blocking(client, || client.set("/n", "v").send().wait())?;
    /// # Ok(()) }
    /// ```
    pub fn run_blocking<T>(
        &self,
        client: &Client,
        mut op: impl FnMut() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut tries = Tries::new(self, client, client.inner().now());
        loop {
            let error = match op() {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let wait = tries.after(error, client)?;
            crate::client::block_on(self.sleep(client, wait))?;
        }
    }

    /// Waits `wait` on the session's clock, looking at the interrupt every
    /// 100 ms.
    async fn sleep(&self, client: &Client, wait: Duration) -> Result<(), Error> {
        if self.interrupt.is_none() {
            return client.sleep(wait).await;
        }
        let mut left = wait;
        while !left.is_zero() {
            if self.interrupted() {
                return Err(Error::Cancelled);
            }
            let step = left.min(INTERRUPT_CHECK);
            client.sleep(step).await?;
            left -= step;
        }
        Ok(())
    }
}

/// One retried call's count of tries, its start and its jitter.
struct Tries<'a> {
    policy: &'a RetryPolicy,
    rng: Rng,
    start: std::time::Instant,
    attempt: u32,
}

impl<'a> Tries<'a> {
    fn new(policy: &'a RetryPolicy, client: &Client, start: std::time::Instant) -> Tries<'a> {
        Tries {
            policy,
            // Varies the jitter between clients that share a seed.
            rng: Rng::new(client.inner().seed ^ client.session_id() as u64),
            start,
            attempt: 0,
        }
    }

    /// After a failed try: how long to wait before the next, or the error
    /// to end with.
    fn after(&mut self, error: Error, client: &Client) -> Result<Duration, Error> {
        self.attempt = self.attempt.saturating_add(1);
        if !self.policy.retries(&error) {
            return Err(error);
        }
        let give_up = |attempts, last| Error::RetryFailed {
            attempts,
            last: Box::new(last),
        };
        let Some(wait) = self.policy.delay_after(self.attempt, self.rng.next_u64()) else {
            return Err(give_up(self.attempt, error));
        };
        if let Some(deadline) = self.policy.deadline.and_then(|d| self.start.checked_add(d)) {
            let wake = crate::session::deadline_after(client.inner().now(), wait);
            if wake > deadline {
                return Err(give_up(self.attempt, error));
            }
        }
        if self.policy.interrupted() {
            return Err(Error::Cancelled);
        }
        Ok(wait)
    }
}

impl Client {
    /// Runs `op` under the client's
    /// [`command_retry`](crate::session::ConfigBuilder::command_retry)
    /// policy, as kazoo's `client.retry(func)`: see
    /// [`retry_with`](Self::retry_with).
    ///
    /// ```no_run
    /// # fn f(client: &kazoo::Client) -> Result<(), kazoo::Error> {
    /// let (data, _) = client.retry(|c| c.get("/config").send()).wait()?;
    /// # Ok(()) }
    /// ```
    pub fn retry<T, F>(&self, op: impl FnMut(&Client) -> F + Send + 'static) -> Task<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let policy = self.inner().command_retry.clone();
        self.retry_with(&policy, op)
    }

    /// Runs `op` until it succeeds, fails with an error the policy does not
    /// retry, or runs out of tries (`RetryFailed` with the last error).
    /// Waits between tries on the session's timers. The first try starts
    /// at once; `op` gets the client and must be `'static` (for a closure
    /// that borrows, see [`RetryPolicy::run`]).
    pub fn retry_with<T, F>(
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
        // The first try starts now, like every other method, and the
        // deadline counts from it.
        let start = client.inner().now();
        let first = op(&client);
        Task::new(async move {
            let mut first = Some(first);
            policy
                .run_from(&client, start, || match first.take() {
                    Some(first) => first,
                    None => op(&client),
                })
                .await
        })
    }
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
            .backoff(f64::MAX)
            .max_jitter(1.0);
        for attempt in [1, 2, 64, u32::MAX] {
            assert_eq!(p.delay_after(attempt, 500_000), Some(Duration::MAX));
            for random in [0, 1_000_000, u64::MAX] {
                assert!(p.delay_after(attempt, random).is_some());
            }
        }
    }

    /// At the cap, jitter still spreads the waits (below the cap), so
    /// clients that failed together do not retry together.
    #[test]
    fn waits_at_the_cap_stay_spread() {
        let p = RetryPolicy::default()
            .delay(Duration::from_secs(10))
            .max_delay(Duration::from_secs(5))
            .max_jitter(0.4);
        let waits: Vec<Duration> = (0..=10)
            .map(|i| p.delay_after(3, i * 100_000).unwrap())
            .collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(5)));
        assert!(waits.iter().all(|w| *w >= Duration::from_secs(3)));
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() >= 6, "{waits:?}");
    }

    #[test]
    fn delays_back_off_up_to_the_cap_and_stop_after_max_tries() {
        let p = RetryPolicy::default()
            .max_tries(6)
            .delay(Duration::from_millis(100))
            .backoff(2.0)
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
        let (mut shorter, mut longer) = (false, false);
        for _ in 0..1000 {
            let d = p.delay_after(1, rng.next_u64()).unwrap();
            assert!(
                d >= Duration::from_millis(60) && d <= Duration::from_millis(140),
                "{d:?}"
            );
            shorter |= d < Duration::from_millis(100);
            longer |= d > Duration::from_millis(100);
        }
        assert!(shorter && longer, "jitter goes both ways, as kazoo's");
        assert_eq!(p.delay_after(1, 0), Some(Duration::from_millis(60)));
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
        for e in [Error::NoNode, Error::Closed, Error::BadVersion] {
            assert!(!p.retries(&e), "{e:?}");
        }
        assert!(p.retries(&Error::SessionExpired), "kazoo's ignore_expire");
        assert!(!p
            .retry_session_expired(false)
            .retries(&Error::SessionExpired));
    }

    #[test]
    fn forever_never_runs_out_and_huge_numbers_saturate() {
        let p = RetryPolicy::default()
            .forever()
            .max_jitter(f64::NAN)
            .backoff(f64::NAN);
        assert_eq!(
            p.delay_after(u32::MAX, u64::MAX),
            Some(Duration::from_millis(100)),
            "NaN backoff counts as 1"
        );
        let p = RetryPolicy::default().max_jitter(0.0);
        assert_eq!(
            p.delay_after(u32::MAX, u64::MAX),
            Some(Duration::from_secs(3600)),
            "kazoo's cap"
        );
    }

    #[test]
    fn no_delay_stays_no_delay_at_any_attempt() {
        let p = RetryPolicy::default().delay(Duration::ZERO);
        for attempt in [1, 2, 1025, u32::MAX] {
            assert_eq!(p.delay_after(attempt, 500_000), Some(Duration::ZERO));
        }
    }

    #[test]
    fn defaults_are_kazoos() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_tries, None);
        assert_eq!((p.delay, p.backoff), (Duration::from_millis(100), 2.0));
        assert_eq!(
            (p.max_jitter, p.max_delay),
            (0.4, Duration::from_secs(3600))
        );
        assert!(p.retry_session_expired);
        let fractional = RetryPolicy::default().backoff(1.5).max_jitter(0.0);
        assert_eq!(
            fractional.delay_after(3, 0),
            Some(Duration::from_millis(225))
        );
    }
}
