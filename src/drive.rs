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
    /// Ask `host` whether it serves writes: on a connection of its own, send
    /// the four-letter word `isro`, and report later with
    /// `Session::handle_probe` whether the answer was `rw`.
    fn probe(&mut self, host: &HostPort);
    /// How many more bytes `write` should be given now: frames are held in
    /// the session while this is 0 (write backpressure). Unbounded by default.
    fn room(&self) -> usize {
        usize::MAX
    }
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
        let room = transport.room();
        let wrote = room > 0 && session.poll_transmit_within(now, &mut out, room);
        if wrote {
            transport.write(&out);
        }
        // Less than the room taken: the session had no more to send (it
        // stops short only at the budget), so unless a command changes
        // that, there is no need to ask the transport for its room again.
        let more = wrote && out.len() >= room;
        let mut commanded = false;
        while let Some(command) = session.poll_command() {
            commanded = true;
            match command {
                Command::Connect(host) => transport.connect(&host),
                Command::Disconnect => transport.disconnect(),
                Command::Probe(host) => transport.probe(&host),
            }
        }
        if !more && !commanded {
            break;
        }
    }
    session.scratch = out;
    session.poll_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Config;
    use std::time::Duration;

    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
    }

    impl Transport for Recorder {
        fn connect(&mut self, host: &HostPort) {
            self.calls.push(format!("connect {host}"));
        }
        fn disconnect(&mut self) {
            self.calls.push("disconnect".into());
        }
        fn write(&mut self, bytes: &[u8]) {
            self.calls.push(format!("write {}", bytes.len()));
        }
        fn probe(&mut self, host: &HostPort) {
            self.calls.push(format!("probe {host}"));
        }
    }

    #[test]
    fn pump_writes_then_commands_and_returns_the_deadline() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut config = Config::new("zk:2181").unwrap();
        config.session_timeout = Duration::from_secs(6);
        let mut session = Session::new(config, now);
        let mut t = Recorder::default();
        let deadline = pump(&mut session, now, &mut t);
        assert_eq!(t.calls, ["connect zk:2181"]);
        assert_eq!(
            deadline,
            Some(now + Duration::from_secs(6)),
            "connect timeout = T / 1 host"
        );
        session.handle_connected(now);
        pump(&mut session, now, &mut t);
        assert_eq!(
            t.calls[1], "write 49",
            "the 45-byte ConnectRequest in a frame"
        );
        session.close(now);
        pump(&mut session, now, &mut t);
        assert_eq!(t.calls[2], "disconnect");
        assert_eq!(pump(&mut session, now, &mut t), None, "closed: no deadline");
    }

    /// A transport that always has room for `room` bytes more.
    struct Narrow {
        room: usize,
        writes: Vec<usize>,
    }

    impl Transport for Narrow {
        fn connect(&mut self, _: &HostPort) {}
        fn disconnect(&mut self) {}
        fn write(&mut self, bytes: &[u8]) {
            self.writes.push(bytes.len());
        }
        fn probe(&mut self, _: &HostPort) {}
        fn room(&self) -> usize {
            self.room
        }
    }

    /// A write that filled the room leaves frames behind: the pump asks
    /// again until the session has none left (and stops asking once a
    /// write took less than the room).
    #[test]
    fn pump_goes_on_while_writes_fill_the_room() {
        use crate::session::tests::sim::{req, Sim};
        let mut sim = Sim::new(Sim::config());
        for _ in 0..100 {
            sim.session.submit(req::get("/p", false), sim.now);
        }
        let mut t = Narrow {
            room: 256,
            writes: Vec::new(),
        };
        pump(&mut sim.session, sim.now, &mut t);
        assert_eq!(sim.session.stats().queued, 0, "every request written");
        assert!(t.writes.len() > 1, "{:?}", t.writes);
        let (last, full) = t.writes.split_last().unwrap();
        assert!(full.iter().all(|&n| n >= 256), "{:?}", t.writes);
        assert!(*last < 256, "the last write took less: {:?}", t.writes);
    }
}
