//! Read-only mode (PROTOCOL.md §2.6): while connected to a read-only server,
//! ask the other servers in turn whether they serve writes again (`isro`),
//! and move to the first that says `rw`.
//!
//! Probes go out as [`Command::Probe`]; the driver runs the four-letter
//! word on a connection of its own and reports back with
//! [`Session::handle_probe`]. The pause between probes starts at 100 ms and
//! doubles up to a minute, as in the Java client.

use std::time::{Duration, Instant};

use super::{after, Command, DisconnectReason, HostPort, Phase, Session, Timer};

/// The first pause, and the longest.
const PROBE_FIRST: Duration = Duration::from_millis(100);
const PROBE_MAX: Duration = Duration::from_secs(60);

impl Session {
    /// A read-only connection began: probe the others (if there are any).
    pub(super) fn start_probing(&mut self, now: Instant) {
        if self.hosts.len() > 1 {
            self.probe_every = PROBE_FIRST;
            self.probes = 0;
            self.timers.set(Timer::Probe, after(now, PROBE_FIRST));
        }
    }

    /// The probe timer fired: ask the next other host.
    pub(super) fn probe(&mut self, now: Instant) {
        let read_only = matches!(
            self.phase,
            Phase::Connected {
                read_only: true,
                ..
            }
        );
        if self.closing || !read_only {
            return;
        }
        if matches!(self.phase, Phase::Connected { sasl: Some(_), .. }) {
            // Not before this connection is authenticated and reported.
            return self.timers.set(Timer::Probe, after(now, self.probe_every));
        }
        let n = self.hosts.len();
        if n < 2 {
            return; // nobody else to ask (the list changed since)
        }
        let k = 1 + self.probes % (n - 1);
        self.probes += 1;
        let host = self.hosts[(self.current_host + k) % n].clone();
        self.commands.push_back(Command::Probe(host));
        self.timers.set(Timer::Probe, after(now, self.probe_every));
        self.probe_every = (self.probe_every * 2).min(PROBE_MAX);
    }

    /// The answer to a [`Command::Probe`]: whether `host` said it serves
    /// writes (`isro` answered `rw`). A failed probe is `false`. If the
    /// session is still read-only, it leaves its server for that one.
    ///
    /// An answer about the current server is ignored (a late answer from
    /// before this connection), and so is any answer once closing.
    pub fn handle_probe(&mut self, host: &HostPort, read_write: bool, now: Instant) {
        if !read_write
            || self.closing
            || !matches!(
                self.phase,
                Phase::Connected {
                    read_only: true,
                    ..
                }
            )
        {
            return;
        }
        let Some(i) = self.hosts.iter().position(|h| h == host) else {
            return;
        };
        if i == self.current_host {
            return;
        }
        self.next_host = i;
        self.drop_connection(now, DisconnectReason::ReadWriteServerFound);
    }
}
