//! Session configuration and connect-string parsing.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::path::Chroot;
use crate::proto::{DEFAULT_MAX_FRAME_LEN, DEFAULT_MAX_REQUEST_LEN};
use crate::ConfigError;

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

/// Everything a [`Session`](super::Session) needs to know up front.
///
/// ```
/// use std::time::Duration;
/// let mut config = kazoo::session::Config::new("zk1:2181,zk2,[::1]:2182/app").unwrap();
/// config.session_timeout = Duration::from_secs(30);
/// assert_eq!(config.hosts.len(), 3);
/// assert_eq!(config.hosts[1].port, 2181);
/// assert_eq!(config.chroot.as_str(), Some("/app"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Servers, in connect-string order (the session shuffles them).
    pub hosts: Vec<HostPort>,
    /// Every path is relative to this.
    pub chroot: Chroot,
    /// Requested session timeout; the server clamps it (2 to 20 ticks by default).
    pub session_timeout: Duration,
    /// Accept read-only servers (and a read-only session while no quorum exists).
    pub read_only: bool,
    /// Seed for host shuffling and backoff jitter: same seed, same behaviour.
    pub rng_seed: u64,
    /// Requests in flight at once; more wait in the queue.
    pub max_pending: usize,
    /// Largest frame accepted from a server.
    pub max_frame_len: usize,
    /// Largest request sent; larger ones fail locally with `RequestTooLarge`.
    pub max_request_len: usize,
    /// Credentials sent after every connect, as `(scheme, credential)`.
    pub auth: Vec<(String, Bytes)>,
    /// How long a request may wait in the queue while disconnected before it
    /// fails with `ConnectionLoss`; `None` waits until the next connection.
    pub queue_timeout: Option<Duration>,
    /// How long `close` waits for the server to confirm closeSession.
    pub close_linger: Duration,
    /// Pause after the first failed round over all hosts; doubles per round.
    pub backoff_initial: Duration,
    /// Cap for the pause between rounds.
    pub backoff_max: Duration,
    /// Resume this session (id, password) instead of creating one.
    pub resume: Option<(i64, Bytes)>,
}

impl Config {
    /// A configuration for a connect string `host[:port],…[/chroot]` with
    /// kazoo's defaults (10 s session timeout, port 2181 when omitted).
    pub fn new(connect_string: &str) -> Result<Config, ConfigError> {
        let (hosts, chroot) = parse_connect_string(connect_string)?;
        Ok(Config {
            hosts,
            chroot,
            session_timeout: Duration::from_secs(10),
            read_only: false,
            rng_seed: 0,
            max_pending: 10_000,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_request_len: DEFAULT_MAX_REQUEST_LEN,
            auth: Vec::new(),
            queue_timeout: Some(Duration::from_secs(10)),
            close_linger: Duration::from_secs(2),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            resume: None,
        })
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
