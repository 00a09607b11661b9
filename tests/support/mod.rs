//! A blocking driver for the sans-IO `Session` over `std::net::TcpStream`,
//! for integration tests until the std adapter exists. It follows the
//! run-loop contract of the crate docs, plus test knobs (sever the socket,
//! refuse new connections).

#![allow(dead_code)]
#![allow(clippy::disallowed_methods)] // a driver owns the clock, like an adapter

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use kazoo::proto::{Request, Response};
use kazoo::session::{Command, Config, Event, RequestId, Session, SessionState};
use kazoo::Error;

pub struct Driver {
    pub session: Session,
    socket: Option<TcpStream>,
    /// Every event the session emitted, in order.
    pub events: Vec<Event>,
    /// While set, connection attempts fail (as if every host were down).
    pub refuse: bool,
    out: BytesMut,
}

impl Driver {
    pub fn new(config: Config) -> Driver {
        let mut d = Driver {
            session: Session::new(config, Instant::now()),
            socket: None,
            events: Vec::new(),
            refuse: false,
            out: BytesMut::new(),
        };
        d.drain(Instant::now());
        d
    }

    /// Connects and waits for the first `Connected` state.
    pub fn connect(connect_string: &str) -> Driver {
        let mut d = Driver::new(Config::new(connect_string).unwrap());
        d.wait_for(
            |e| {
                matches!(
                    e,
                    Event::State {
                        state: SessionState::Connected { .. },
                        ..
                    }
                )
            },
            10,
        );
        d
    }

    /// Runs the contract's output half: transmit, commands, events.
    fn drain(&mut self, now: Instant) {
        loop {
            self.out.clear();
            let mut progressed = false;
            if self.session.poll_transmit(now, &mut self.out) {
                progressed = true;
                let ok = self
                    .socket
                    .as_mut()
                    .is_some_and(|s| s.write_all(&self.out).is_ok());
                if !ok && self.socket.take().is_some() {
                    self.session.handle_disconnected(now);
                }
            }
            while let Some(cmd) = self.session.poll_command() {
                progressed = true;
                match cmd {
                    Command::Connect(host) => {
                        let socket = if self.refuse {
                            None
                        } else {
                            connect(&host.host, host.port)
                        };
                        match socket {
                            Some(s) => {
                                self.socket = Some(s);
                                self.session.handle_connected(now);
                            }
                            None => self.session.handle_disconnected(now),
                        }
                    }
                    Command::Disconnect => self.socket = None,
                    // One server: nothing to probe.
                    Command::Probe(_) => {}
                }
            }
            while let Some(e) = self.session.poll_event() {
                progressed = true;
                self.events.push(e);
            }
            if !progressed {
                return;
            }
        }
    }

    /// One turn: wait for input or the session's next deadline (at most `max`).
    pub fn turn(&mut self, max: Duration) {
        let now = Instant::now();
        let wait = self
            .session
            .poll_timeout()
            .map_or(max, |d| d.saturating_duration_since(now).min(max))
            .max(Duration::from_millis(1));
        let mut buf = [0u8; 64 * 1024];
        match self.socket.as_mut() {
            Some(s) => {
                let _ = s.set_read_timeout(Some(wait));
                match s.read(&mut buf) {
                    Ok(0) => {
                        self.socket = None;
                        self.session.handle_disconnected(Instant::now());
                    }
                    Ok(n) => self.session.handle_input(&buf[..n], Instant::now()),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => {
                        self.socket = None;
                        self.session.handle_disconnected(Instant::now());
                    }
                }
            }
            None => std::thread::sleep(wait),
        }
        let now = Instant::now();
        self.session.handle_timeout(now);
        self.drain(now);
    }

    /// Turns until an event emitted from now on matches; panics after `secs` seconds.
    pub fn wait_for(&mut self, pred: impl Fn(&Event) -> bool, secs: u64) -> Event {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = self.events.len();
        loop {
            if let Some(e) = self.events[seen..].iter().find(|e| pred(e)) {
                return e.clone();
            }
            seen = self.events.len();
            assert!(
                Instant::now() < deadline,
                "timed out; events: {:#?}",
                self.events
            );
            self.turn(Duration::from_millis(50));
        }
    }

    pub fn submit(&mut self, request: Request) -> RequestId {
        let id = self.session.submit(request, Instant::now());
        self.drain(Instant::now());
        id
    }

    pub fn result(&mut self, id: RequestId) -> Result<Response, Error> {
        let done = |e: &Event| matches!(e, Event::Response { id: i, .. } if *i == id);
        if let Some(Event::Response { result, .. }) = self.events.iter().find(|e| done(e)) {
            return result.clone();
        }
        match self.wait_for(
            |e| matches!(e, Event::Response { id: i, .. } if *i == id),
            20,
        ) {
            Event::Response { result, .. } => result,
            _ => unreachable!(),
        }
    }

    pub fn call(&mut self, request: Request) -> Result<Response, Error> {
        let id = self.submit(request);
        self.result(id)
    }

    /// Turns for a while, collecting events.
    pub fn run_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.turn(until.saturating_duration_since(Instant::now()));
        }
    }

    /// Cuts the TCP connection under the session's feet.
    pub fn sever(&mut self) {
        if let Some(s) = &self.socket {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn states(&self) -> Vec<SessionState> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::State { state, .. } => Some(*state),
                _ => None,
            })
            .collect()
    }
}

fn connect(host: &str, port: u16) -> Option<TcpStream> {
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_nodelay(true).ok()?;
    Some(s)
}
