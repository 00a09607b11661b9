//! Session configuration and connect-string parsing.

use std::fmt;
use std::time::Duration;

use crate::acl::{Acl, OPEN_ACL_UNSAFE};
use crate::path::Chroot;
use crate::proto::{DEFAULT_MAX_FRAME_LEN, DEFAULT_MAX_REQUEST_LEN, PASSWD_LEN};
use crate::retry::RetryPolicy;
use crate::sasl::SaslCredentials;
use crate::{ConfigError, Secret};

/// A server address as written in the connect string: resolved by the
/// adapter on every attempt (DNS may change between attempts).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Everything a [`Session`](super::Session) needs to know up front,
/// validated once by [`ConfigBuilder::build`]: a `Config` that exists is one
/// the session can run with, so no value in it can make a deadline
/// overflow or a loop spin.
///
/// ```
/// use std::time::Duration;
/// use kazoo::session::Config;
/// let config = Config::builder("zk1:2181,zk2,[::1]:2182/app")
///     .session_timeout(Duration::from_secs(30))
///     .build()
///     .unwrap();
/// assert_eq!(config.hosts().len(), 3);
/// assert_eq!(config.hosts()[1].port, 2181);
/// assert_eq!(config.chroot().as_str(), Some("/app"));
/// assert!(Config::builder("zk1").session_timeout(Duration::ZERO).build().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) hosts: Vec<HostPort>,
    pub(crate) chroot: Chroot,
    pub(crate) session_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_only: bool,
    pub(crate) rng_seed: u64,
    pub(crate) max_pending: usize,
    pub(crate) max_frame_len: usize,
    pub(crate) max_request_len: usize,
    pub(crate) auth: Vec<(String, Secret)>,
    pub(crate) queue_timeout: Option<Duration>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) close_linger: Duration,
    /// Pauses between rounds of failed connection attempts, and when to
    /// give up (kazoo's `connection_retry`).
    pub(crate) connection_retry: RetryPolicy,
    /// What [`Client::retry`](crate::Client::retry) runs under (kazoo's
    /// `command_retry`).
    pub(crate) command_retry: RetryPolicy,
    pub(crate) reconnect_delay: Duration,
    pub(crate) write_buffer_limit: usize,
    pub(crate) resume: Option<(i64, Secret)>,
    pub(crate) default_acl: Vec<Acl>,
    pub(crate) sasl: Option<SaslCredentials>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsConfig>,
}

/// The shortest session timeout a client may ask for.
const MIN_SESSION_TIMEOUT: Duration = Duration::from_millis(1);
/// The longest: the ConnectRequest carries milliseconds in an `i32`.
const MAX_SESSION_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);
/// The smallest frame limits that still fit a ConnectResponse and a reply.
const MIN_FRAME_LEN: usize = 1024;

impl Config {
    /// A configuration for a connect string `host[:port],…[/chroot]` with
    /// kazoo's defaults (10 s session timeout, port 2181 when omitted).
    pub fn new(connect_string: &str) -> Result<Config, ConfigError> {
        Config::builder(connect_string).build()
    }

    /// A builder starting from the defaults of [`Config::new`].
    pub fn builder(connect_string: &str) -> ConfigBuilder {
        ConfigBuilder {
            config: parse_connect_string(connect_string).map(|(hosts, chroot)| Config {
                hosts,
                chroot,
                session_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(15),
                read_only: false,
                rng_seed: 0,
                max_pending: 10_000,
                max_frame_len: DEFAULT_MAX_FRAME_LEN,
                max_request_len: DEFAULT_MAX_REQUEST_LEN,
                auth: Vec::new(),
                queue_timeout: Some(Duration::from_secs(10)),
                request_timeout: None,
                close_linger: Duration::from_secs(2),
                connection_retry: RetryPolicy::connection_default(),
                command_retry: RetryPolicy::default(),
                reconnect_delay: Duration::from_secs(1),
                write_buffer_limit: 4 << 20,
                resume: None,
                default_acl: OPEN_ACL_UNSAFE.to_vec(),
                sasl: None,
                #[cfg(feature = "tls")]
                tls: None,
            }),
        }
    }

    /// A builder starting from this configuration, to change some of it.
    pub fn to_builder(&self) -> ConfigBuilder {
        ConfigBuilder {
            config: Ok(self.clone()),
        }
    }

    /// Servers, in connect-string order (the session shuffles them).
    pub fn hosts(&self) -> &[HostPort] {
        &self.hosts
    }

    /// Every path is relative to this.
    pub fn chroot(&self) -> &Chroot {
        &self.chroot
    }

    /// The requested session timeout; the server clamps it.
    pub fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    /// See [`ConfigBuilder::connect_timeout`].
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Whether read-only servers are accepted.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The seed for host order and jitter; 0 means a random one per session.
    pub fn rng_seed(&self) -> u64 {
        self.rng_seed
    }

    /// How long a request may wait in the queue while disconnected.
    pub fn queue_timeout(&self) -> Option<Duration> {
        self.queue_timeout
    }

    /// See [`ConfigBuilder::request_timeout`].
    pub fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout
    }

    /// How many bytes an adapter buffers for a connection before the
    /// session holds frames back (see [`crate::client::OutBuf`]).
    pub fn write_buffer_limit(&self) -> usize {
        self.write_buffer_limit
    }

    /// How connection attempts are paced ([`ConfigBuilder::connection_retry`]).
    pub fn connection_retry(&self) -> &RetryPolicy {
        &self.connection_retry
    }

    /// What [`Client::retry`](crate::Client::retry) runs under.
    pub fn command_retry(&self) -> &RetryPolicy {
        &self.command_retry
    }

    /// The ACL of every node created without one (kazoo's `default_acl`).
    pub fn default_acl(&self) -> &[Acl] {
        &self.default_acl
    }

    /// The SASL credentials every connection authenticates with, if any.
    pub fn sasl(&self) -> Option<&SaslCredentials> {
        self.sasl.as_ref()
    }

    /// The session this configuration resumes, if any.
    pub fn resume(&self) -> Option<(i64, &Secret)> {
        self.resume.as_ref().map(|(id, p)| (*id, p))
    }
}

/// Builds a [`Config`], checking every value once, in
/// [`build`](ConfigBuilder::build). Durations too long to add to an
/// `Instant` are accepted where "forever" makes sense (queue timeout, close
/// linger, backoff cap) and saturate; those that would make the session
/// spin or overflow the wire format are errors.
#[derive(Debug, Clone)]
#[must_use = "call build() to get the Config"]
pub struct ConfigBuilder {
    config: Result<Config, ConfigError>,
}

impl ConfigBuilder {
    fn with(mut self, f: impl FnOnce(&mut Config)) -> Self {
        if let Ok(c) = &mut self.config {
            f(c);
        }
        self
    }

    /// Requested session timeout, 1 ms to `i32::MAX` ms; the server clamps
    /// it (2 to 20 ticks by default). Default 10 s.
    pub fn session_timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.session_timeout = timeout)
    }

    /// How long an adapter's `connect` waits for the first connection
    /// before it closes the client and fails with
    /// [`Error::Timeout`](crate::Error::Timeout) (kazoo's `start(timeout)`).
    /// Default 15 s, as in kazoo.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.connect_timeout = timeout)
    }

    /// Accept read-only servers (and a read-only session while no quorum
    /// exists). Default false.
    pub fn read_only(self, read_only: bool) -> Self {
        self.with(|c| c.read_only = read_only)
    }

    /// Seed for host shuffling, backoff and reconnect jitter: same seed,
    /// same behaviour. 0 (the default) picks a random seed per session, so
    /// clients spread over the hosts and do not reconnect in lock-step.
    pub fn rng_seed(self, seed: u64) -> Self {
        self.with(|c| c.rng_seed = seed)
    }

    /// Requests in flight at once (at least 1); more wait in the queue.
    pub fn max_pending(self, n: usize) -> Self {
        self.with(|c| c.max_pending = n)
    }

    /// Largest frame accepted from a server (at least 1 KiB).
    pub fn max_frame_len(self, len: usize) -> Self {
        self.with(|c| c.max_frame_len = len)
    }

    /// Largest request sent (at least 1 KiB); larger ones fail locally
    /// with `RequestTooLarge`.
    pub fn max_request_len(self, len: usize) -> Self {
        self.with(|c| c.max_request_len = len)
    }

    /// The ACL of every node this client creates without naming one
    /// (kazoo's `default_acl`; default: open to anyone). Recipes' nodes
    /// get it too.
    ///
    /// ```
    /// use kazoo::acl::{Acl, Perms};
    /// use kazoo::session::Config;
    /// let config = Config::builder("zk1:2181")
    ///     .auth("digest", "ann:secret")
    ///     .default_acl([Acl::creator(Perms::ALL), Acl::anyone(Perms::READ)])
    ///     .build()?;
    /// # Ok::<(), kazoo::ConfigError>(())
    /// ```
    pub fn default_acl(self, acl: impl Into<Vec<Acl>>) -> Self {
        let acl = acl.into();
        self.with(|c| c.default_acl = acl)
    }

    /// Speak TLS to every server (their `secureClientPort`), verifying
    /// each server's certificate against the configuration's roots.
    #[cfg(feature = "tls")]
    pub fn tls(self, tls: crate::tls::TlsConfig) -> Self {
        self.with(|c| c.tls = Some(tls))
    }

    /// Authenticate every connection with SASL before anything else is
    /// sent (see [`crate::sasl`]); a refusal ends the session for good.
    pub fn sasl(self, credentials: SaslCredentials) -> Self {
        self.with(|c| c.sasl = Some(credentials))
    }

    /// A credential sent after every connect (kazoo's `auth_data`).
    pub fn auth(self, scheme: impl Into<String>, credential: impl Into<Secret>) -> Self {
        let (scheme, credential) = (scheme.into(), credential.into());
        self.with(|c| c.auth.push((scheme, credential)))
    }

    /// How long a request may wait in the queue while disconnected before
    /// it fails with `ConnectionLoss`; `None` or `Duration::MAX` waits
    /// until the next connection. Default 10 s.
    pub fn queue_timeout(self, timeout: Option<Duration>) -> Self {
        self.with(|c| c.queue_timeout = timeout)
    }

    /// How long each request may go unanswered before its future fails
    /// with [`Error::RequestTimeout`](crate::Error::RequestTimeout), counted
    /// from when it was made, while the session lives on. `None` (the
    /// default) waits as long as the session does. Like `ConnectionLoss`,
    /// a timed-out write may still be applied; its answer, if it comes, is
    /// dropped.
    pub fn request_timeout(self, timeout: Option<Duration>) -> Self {
        self.with(|c| c.request_timeout = timeout)
    }

    /// How long `close` waits for the server to confirm closeSession.
    /// Default 2 s.
    pub fn close_linger(self, linger: Duration) -> Self {
        self.with(|c| c.close_linger = linger)
    }

    /// How the session paces its connection attempts (kazoo's
    /// `connection_retry`). One try is a round over every host; after a
    /// failed round the session waits the policy's next delay (`delay` at
    /// least 1 ms, `max_delay` at least `delay`), and after `max_tries`
    /// failed rounds it gives up: the client closes and every request
    /// fails with [`Error::RetryFailed`](crate::Error::RetryFailed). The
    /// policy's deadline, interrupt and `SessionExpired` rule do not apply.
    /// Default: [`RetryPolicy::connection_default`] (100 ms doubling,
    /// jitter ±40 %, a 5 s cap, never giving up). Start from it: a policy
    /// built from [`RetryPolicy::default`] keeps kazoo's 3600 s cap, up to
    /// an hour between rounds.
    ///
    /// ```
    /// use kazoo::retry::RetryPolicy;
    /// use kazoo::session::Config;
    /// let config = Config::builder("zk1")
    ///     .connection_retry(RetryPolicy::connection_default().max_tries(3))
    ///     .build()
    ///     .unwrap();
    /// # let _ = config;
    /// ```
    pub fn connection_retry(self, policy: RetryPolicy) -> Self {
        self.with(|c| c.connection_retry = policy)
    }

    /// The policy [`Client::retry`](crate::Client::retry) runs under
    /// (kazoo's `command_retry`). Default: [`RetryPolicy::default`].
    pub fn command_retry(self, policy: RetryPolicy) -> Self {
        self.with(|c| c.command_retry = policy)
    }

    /// The longest random pause before reconnecting after a connection
    /// that worked (the Java client's 0–1 s), so a restarted server is not
    /// hit by every client in the same millisecond. Default 1 s; zero
    /// reconnects at once.
    pub fn reconnect_delay(self, max: Duration) -> Self {
        self.with(|c| c.reconnect_delay = max)
    }

    /// Bytes an adapter buffers per connection before requests wait in the
    /// session's queue instead (at least 64 KiB; default 4 MiB): a server
    /// that stops reading cannot make the client's memory grow without limit.
    pub fn write_buffer_limit(self, bytes: usize) -> Self {
        self.with(|c| c.write_buffer_limit = bytes)
    }

    /// Resume this session (id and 16-byte password, from
    /// `Client::client_id` elsewhere) instead of creating one.
    pub fn resume(self, session_id: i64, passwd: impl Into<Secret>) -> Self {
        let passwd = passwd.into();
        self.with(|c| c.resume = Some((session_id, passwd)))
    }

    /// The configuration, or the first value it cannot run with.
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.config?;
        let bad = |field: &'static str, reason: &'static str| {
            Err(ConfigError::OutOfRange { field, reason })
        };
        if !(MIN_SESSION_TIMEOUT..=MAX_SESSION_TIMEOUT).contains(&c.session_timeout) {
            return bad("session_timeout", "must be 1 ms to i32::MAX ms");
        }
        if c.request_timeout.is_some_and(|t| t.is_zero()) {
            return bad("request_timeout", "must be more than zero");
        }
        if c.connect_timeout.is_zero() {
            return bad("connect_timeout", "must be more than zero");
        }
        if c.max_pending == 0 {
            return bad("max_pending", "must be at least 1");
        }
        if c.max_frame_len < MIN_FRAME_LEN || c.max_request_len < MIN_FRAME_LEN {
            return bad("max_frame_len/max_request_len", "must be at least 1 KiB");
        }
        if c.write_buffer_limit < 64 * 1024 {
            return bad("write_buffer_limit", "must be at least 64 KiB");
        }
        let pacing = &c.connection_retry;
        if pacing.delay < Duration::from_millis(1) {
            return bad("connection_retry", "the first pause must be at least 1 ms");
        }
        if pacing.max_delay < pacing.delay {
            return bad(
                "connection_retry",
                "the cap must be at least the first pause",
            );
        }
        if c.default_acl.is_empty() {
            return bad("default_acl", "needs at least one entry");
        }
        if let Some((id, passwd)) = &c.resume {
            if *id == 0 || passwd.len() != PASSWD_LEN {
                return bad("resume", "needs a non-zero id and a 16-byte password");
            }
        }
        Ok(c)
    }
}

/// What an adapter's `connect` accepts: a connect string, a [`Config`], or
/// a [`ConfigBuilder`] not yet built, so every adapter takes the same ones.
///
/// ```
/// use kazoo::session::{Config, IntoConfig};
/// use std::time::Duration;
/// assert!("zk1:2181/app".into_config().is_ok());
/// let built = Config::builder("zk1").connect_timeout(Duration::from_secs(3));
/// assert_eq!(built.into_config().unwrap().connect_timeout(), Duration::from_secs(3));
/// assert!("".into_config().is_err());
/// ```
pub trait IntoConfig {
    /// The configuration, or why there is none.
    fn into_config(self) -> Result<Config, ConfigError>;
}

impl IntoConfig for Config {
    fn into_config(self) -> Result<Config, ConfigError> {
        Ok(self)
    }
}

impl IntoConfig for ConfigBuilder {
    fn into_config(self) -> Result<Config, ConfigError> {
        self.build()
    }
}

impl IntoConfig for &str {
    fn into_config(self) -> Result<Config, ConfigError> {
        Config::new(self)
    }
}

impl IntoConfig for &String {
    fn into_config(self) -> Result<Config, ConfigError> {
        Config::new(self)
    }
}

impl IntoConfig for String {
    fn into_config(self) -> Result<Config, ConfigError> {
        Config::new(&self)
    }
}

/// Splits `h1:p1,h2,[v6]:p3/chroot` into hosts and chroot (PROTOCOL.md §10).
pub fn parse_connect_string(s: &str) -> Result<(Vec<HostPort>, Chroot), ConfigError> {
    let (hosts_part, chroot) = match s.find('/') {
        Some(i) => (
            &s[..i],
            Chroot::new(&s[i..]).map_err(ConfigError::InvalidChroot)?,
        ),
        None => (s, Chroot::default()),
    };
    let hosts = hosts_part
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(parse_host)
        .collect::<Result<Vec<_>, _>>()?;
    if hosts.is_empty() {
        return Err(ConfigError::EmptyHostList);
    }
    Ok((hosts, chroot))
}

fn parse_host(entry: &str) -> Result<HostPort, ConfigError> {
    let bad_host = || ConfigError::InvalidHost(entry.to_owned());
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad_host)?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or_else(bad_host)?)),
        }
    } else {
        match entry.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            Some(_) => return Err(bad_host()), // bare IPv6 must be bracketed
            None => (entry, None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(bad_host());
    }
    let port = match port {
        None => 2181,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| ConfigError::InvalidPort(entry.to_owned()))?,
    };
    Ok(HostPort {
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn connect_strings() {
        let (h, c) = parse_connect_string("a:1, b ,[::1]:3,[fe80::1]/app/x").unwrap();
        assert_eq!(
            h,
            [hp("a", 1), hp("b", 2181), hp("::1", 3), hp("fe80::1", 2181)]
        );
        assert_eq!(c.as_str(), Some("/app/x"));
        assert_eq!(parse_connect_string("a/").unwrap().1.as_str(), None);
        assert_eq!(hp("::1", 3).to_string(), "[::1]:3");
    }

    #[test]
    fn bad_connect_strings() {
        assert_eq!(parse_connect_string(""), Err(ConfigError::EmptyHostList));
        assert_eq!(
            parse_connect_string(" , /x"),
            Err(ConfigError::EmptyHostList)
        );
        assert_eq!(
            parse_connect_string("a:x"),
            Err(ConfigError::InvalidPort("a:x".into()))
        );
        assert_eq!(
            parse_connect_string("a:0"),
            Err(ConfigError::InvalidPort("a:0".into()))
        );
        assert_eq!(
            parse_connect_string("a:70000"),
            Err(ConfigError::InvalidPort("a:70000".into()))
        );
        assert_eq!(
            parse_connect_string("::1"),
            Err(ConfigError::InvalidHost("::1".into()))
        );
        assert_eq!(
            parse_connect_string("[::1"),
            Err(ConfigError::InvalidHost("[::1".into()))
        );
        assert_eq!(
            parse_connect_string(":1"),
            Err(ConfigError::InvalidHost(":1".into()))
        );
        assert!(matches!(
            parse_connect_string("a/b/"),
            Err(ConfigError::InvalidChroot(_))
        ));
    }
}
