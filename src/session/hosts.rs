//! Changing the host list of a live session (kazoo's `set_hosts`, the
//! Java client's `updateServerList`): the session, its watches and its
//! ephemerals stay; only where it connects next changes.

use std::time::Instant;

use super::{DisconnectReason, HostPort, Phase, Session, Timer};
use crate::ConfigError;

impl Session {
    /// Connects to `hosts` from now on (shuffled, as the first list was).
    ///
    /// A connection to a server that is still on the list is kept. One to
    /// a server no longer on it is dropped
    /// ([`DisconnectReason::HostsChanged`]) and the session resumes on the
    /// new list, keeping its id. An empty list is refused and changes
    /// nothing.
    pub fn set_hosts(&mut self, mut hosts: Vec<HostPort>, now: Instant) -> Result<(), ConfigError> {
        if hosts.is_empty() {
            return Err(ConfigError::EmptyHostList);
        }
        if self.closing || matches!(self.phase, Phase::Closed) {
            return Ok(());
        }
        // The same servers again (a caller refreshing its list): nothing
        // to do, and the backoff and probing carry on as they were.
        let known = self.new_hosts.as_ref().unwrap_or(&self.hosts);
        if same_set(known, &hosts) {
            return Ok(());
        }
        self.new_hosts = None;
        self.rng.shuffle(&mut hosts);
        self.failed_attempts = 0;
        let active = matches!(
            self.phase,
            Phase::Connecting | Phase::Handshaking { .. } | Phase::Connected { .. }
        );
        let current = self.hosts.get(self.current_host);
        match current.and_then(|c| hosts.iter().position(|h| h == c)) {
            // Still on the list (or nothing to keep): switch now.
            Some(i) => {
                self.hosts = hosts;
                self.current_host = i;
                self.next_host = (i + 1) % self.hosts.len();
                // A read-only connection probes the servers of the new list.
                if matches!(
                    self.phase,
                    Phase::Connected {
                        read_only: true,
                        ..
                    }
                ) {
                    self.timers.stop(Timer::Probe);
                    self.start_probing(now);
                }
            }
            None if !active => {
                self.hosts = hosts;
                self.current_host = 0;
                self.next_host = 0;
            }
            // The Disconnected event names the old server; the next
            // attempt takes the new list.
            None => {
                self.new_hosts = Some(hosts);
                self.drop_connection(now, DisconnectReason::HostsChanged);
            }
        }
        Ok(())
    }

    /// Before an attempt: a list set while a connection to a server no
    /// longer on it was open takes over now.
    pub(super) fn take_new_hosts(&mut self) {
        if let Some(hosts) = self.new_hosts.take() {
            self.hosts = hosts;
            self.current_host = 0;
            self.next_host = 0;
        }
    }
}

/// The same servers, in any order.
fn same_set(a: &[HostPort], b: &[HostPort]) -> bool {
    a.len() == b.len() && a.iter().all(|h| b.contains(h))
}
