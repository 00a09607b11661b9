//! The one loop step every adapter runs: hand the session's output to a
//! [`Transport`] and report when to come back.

use std::time::Instant;

use crate::session::{Command, HostPort, Session};

/// What an adapter does with a socket; the session decides when.
pub trait Transport {
    /// Open a connection to `host` (resolving its name now). Report the
    /// outcome later with `Session::handle_connected` or `handle_disconnected`.
    fn connect(&mut self, host: &HostPort);
    /// Close the current connection, without reporting it back.
    fn disconnect(&mut self);
    /// Write bytes to the current connection (or buffer them until it is
    /// writable). On failure, report `handle_disconnected` later.
    fn write(&mut self, bytes: &[u8]);
}

/// Drains the session's frames into `transport.write` and its commands into
/// `connect` / `disconnect`, in that order, until both are empty; returns the
/// next deadline for `Session::handle_timeout`.
///
/// Events are left in the session for the client layer (`Session::poll_event`).
pub fn pump(
    session: &mut Session,
    now: Instant,
    transport: &mut impl Transport,
) -> Option<Instant> {
    let mut out = std::mem::take(&mut session.scratch);
    loop {
        out.clear();
        let wrote = session.poll_transmit(now, &mut out);
        if wrote {
            transport.write(&out);
        }
        let mut commanded = false;
        while let Some(command) = session.poll_command() {
            commanded = true;
            match command {
                Command::Connect(host) => transport.connect(&host),
                Command::Disconnect => transport.disconnect(),
            }
        }
        if !wrote && !commanded {
            break;
        }
    }
    session.scratch = out;
    session.poll_timeout()
}
