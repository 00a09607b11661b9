//! A deterministic world: N clients (the real `Client` layer, each with its
//! own `Session`) and the embedded server core, a virtual clock, and a
//! seeded network that delays, cuts and partitions connections and
//! restarts the server. Same seed, same run: the same events in the same
//! order. A quarter of the seeds speak TLS (rustls inside each client's
//! session, a rustls server end in the world), whose random key shares
//! change the ciphertext from run to run but not its lengths or timing.

#![allow(clippy::disallowed_methods)] // tests take one real Instant as the origin

pub mod check;
pub mod counter_queue;
pub mod locks;
pub mod workload;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kazoo::client::{ConnId as ClientConn, Dispatch, Driver, Io, Job, Reply};
use kazoo::session::{Config, HostPort, SessionState};
use kazoo::Client;
use kazoo_server::{ConnId as ServerConn, Server, ServerConfig};

/// SplitMix64: the only randomness in the world.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a client's `Io` asked for since the world last looked.
#[derive(Default)]
struct Wire {
    connect: Option<ClientConn>,
    writes: Vec<Vec<u8>>,
    disconnect: bool,
}

struct SimIo {
    clock: Arc<Mutex<Instant>>,
    wire: Arc<Mutex<Wire>>,
}

impl Io for SimIo {
    fn now(&self) -> Instant {
        *lock(&self.clock)
    }
    fn connect(&mut self, _: &HostPort, conn: ClientConn, _: Duration) {
        let mut w = lock(&self.wire);
        w.connect = Some(conn);
        w.writes.clear();
    }
    fn disconnect(&mut self) {
        let mut w = lock(&self.wire);
        w.disconnect = true;
        w.writes.clear();
    }
    fn write(&mut self, bytes: &[u8]) {
        lock(&self.wire).writes.push(bytes.to_vec());
    }
    fn wake(&mut self) {}
    fn four_letter_word(&mut self, _: &HostPort, _: &'static str, reply: Reply<String>) {
        reply.send(Err(kazoo::Error::ConnectionLoss));
    }
}

/// Callbacks run by the world, in order, between steps.
struct SimDispatch(Arc<Mutex<Vec<Job>>>);

impl Dispatch for SimDispatch {
    fn dispatch(&self, job: Job) {
        lock(&self.0).push(job);
    }
}

/// One simulated client and its end of the network.
pub struct SimClient {
    pub client: Client,
    driver: Driver,
    wire: Arc<Mutex<Wire>>,
    /// The open connection: the client's id for it and the server's.
    conn: Option<(ClientConn, ServerConn)>,
    /// Cut off from the server until then.
    partitioned_until: Option<Instant>,
    pub states: Arc<Mutex<Vec<SessionState>>>,
}

#[derive(Debug)]
enum Msg {
    ToServer(ServerConn, Vec<u8>),
    ToClient(usize, ClientConn, Vec<u8>),
    Connected(usize, ClientConn, Option<ServerConn>),
    ClientSideClosed(usize, ClientConn),
    ServerSideClosed(ServerConn),
}

/// How rough the world is.
#[derive(Debug, Clone)]
pub struct Faults {
    pub latency_ms: (u64, u64),
    /// Per step of 10 ms, in thousandths.
    pub reset_per_mille: u64,
    pub partition_per_mille: u64,
    pub restart_per_mille: u64,
    pub expire_per_mille: u64,
    /// The server answers resumes with a new session id (ClickHouse Keeper).
    pub replace_on_resume: bool,
}

impl Faults {
    pub fn for_seed(rng: &mut Rng) -> Faults {
        Faults {
            latency_ms: (1, 1 + rng.below(30)),
            reset_per_mille: rng.below(12),
            partition_per_mille: rng.below(6),
            restart_per_mille: rng.below(4),
            expire_per_mille: rng.below(4),
            replace_on_resume: rng.chance(250),
        }
    }

    pub fn none() -> Faults {
        Faults {
            latency_ms: (1, 5),
            reset_per_mille: 0,
            partition_per_mille: 0,
            restart_per_mille: 0,
            expire_per_mille: 0,
            replace_on_resume: false,
        }
    }
}

pub struct World {
    pub rng: Rng,
    start: Instant,
    pub now: Instant,
    clock: Arc<Mutex<Instant>>,
    pub server: Server,
    pub clients: Vec<SimClient>,
    jobs: Arc<Mutex<Vec<Job>>>,
    queue: BTreeMap<(Instant, u64), Msg>,
    seq: u64,
    /// Server connection -> (client, client connection).
    owners: BTreeMap<ServerConn, (usize, ClientConn)>,
    /// Last delivery time per direction and connection (TCP keeps order).
    last_delivery: BTreeMap<(bool, u64), Instant>,
    pub faults: Faults,
    /// The first liveness violation seen, if any.
    pub stalled: Option<String>,
    /// What happened, for replay comparison.
    pub log: Vec<String>,
    /// The server's TLS end, when this seed speaks TLS.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// The TLS state of each server connection (with `tls`).
    server_tls: BTreeMap<ServerConn, rustls::ServerConnection>,
    client_tls: Option<kazoo::tls::TlsConfig>,
    /// TLS handshakes the server end completed.
    pub tls_handshakes: u64,
    /// TLS errors on the server end (in order delivery makes any a defect).
    pub tls_errors: u64,
}

/// Whether a seed speaks TLS: a quarter of them, chosen without drawing
/// from the seed's generator (so the other seeds' runs stay as they were).
pub fn speaks_tls(seed: u64) -> bool {
    seed % 4 == 0
}

/// A server and a client TLS configuration for the host `zk`, made once
/// per process (key generation is the slow part).
fn tls_pair() -> (Arc<rustls::ServerConfig>, kazoo::tls::TlsConfig) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    static PAIR: std::sync::OnceLock<(Arc<rustls::ServerConfig>, kazoo::tls::TlsConfig)> =
        std::sync::OnceLock::new();
    PAIR.get_or_init(|| {
        let pki = kazoo_testing::TestPki::generate_for(&["zk"]).expect("test certificates");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pki.server_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("the server certificate");
        let key = PrivateKeyDer::from_pem_slice(pki.server_pem.as_bytes()).expect("its key");
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a server TLS config");
        let client = kazoo::tls::TlsConfig::builder()
            .root_pem(pki.ca_pem.as_bytes())
            .build()
            .expect("a client TLS config");
        (Arc::new(server), client)
    })
    .clone()
}

impl World {
    pub fn new(seed: u64, clients: usize, faults: Faults) -> World {
        let start = Instant::now();
        let mut rng = Rng::new(seed);
        let mut server_config = ServerConfig::default();
        server_config.tick_time = Duration::from_millis(500);
        server_config.seed = rng.next();
        let server = Server::new(server_config, start);
        let clock = Arc::new(Mutex::new(start));
        let jobs = Arc::new(Mutex::new(Vec::new()));
        let mut world = World {
            rng,
            start,
            now: start,
            clock,
            server,
            clients: Vec::new(),
            jobs,
            queue: BTreeMap::new(),
            seq: 0,
            owners: BTreeMap::new(),
            last_delivery: BTreeMap::new(),
            faults: Faults::none(),
            stalled: None,
            log: Vec::new(),
            tls: None,
            server_tls: BTreeMap::new(),
            client_tls: None,
            tls_handshakes: 0,
            tls_errors: 0,
        };
        if speaks_tls(seed) {
            let (server, client) = tls_pair();
            world.tls = Some(server);
            world.client_tls = Some(client);
        }
        world.set_faults(faults);
        for _ in 0..clients {
            world.add_client();
        }
        world.settle();
        world
    }

    fn add_client(&mut self) {
        let mut config = Config::builder("zk:2181")
            .session_timeout(Duration::from_secs(2))
            .rng_seed(self.rng.next() | 1)
            .queue_timeout(Some(Duration::from_secs(5)));
        if let Some(tls) = &self.client_tls {
            config = config.tls(tls.clone());
        }
        let config = config.build().expect("a valid config");
        let wire = Arc::new(Mutex::new(Wire::default()));
        let io = SimIo {
            clock: self.clock.clone(),
            wire: wire.clone(),
        };
        let (client, driver) = Client::new(config, io, SimDispatch(self.jobs.clone()));
        let states = Arc::new(Mutex::new(Vec::new()));
        let s = states.clone();
        client.add_listener(move |state| lock(&s).push(state));
        self.clients.push(SimClient {
            client,
            driver,
            wire,
            conn: None,
            partitioned_until: None,
            states,
        });
    }

    fn latency(&mut self) -> Duration {
        let (lo, hi) = self.faults.latency_ms;
        self.rng.millis(lo, hi)
    }

    fn schedule(&mut self, at: Instant, msg: Msg) {
        self.seq += 1;
        self.queue.insert((at, self.seq), msg);
    }

    /// In-order delivery on one connection direction. A partition delays
    /// delivery until it heals (TCP retransmits; it never skips bytes).
    fn schedule_ordered(&mut self, client: usize, to_server: bool, conn: u64, msg: Msg) {
        let mut at = self.now + self.latency();
        if let Some(until) = self.clients[client]
            .partitioned_until
            .filter(|t| *t > self.now)
        {
            at = at.max(until + self.latency());
        }
        let last = self.last_delivery.entry((to_server, conn)).or_insert(at);
        let at = at.max(*last);
        *last = at;
        self.schedule(at, msg);
    }

    fn partitioned(&self, client: usize) -> bool {
        self.clients[client]
            .partitioned_until
            .is_some_and(|t| t > self.now)
    }

    /// Moves what clients and the server produced onto the network, runs
    /// callbacks, until nothing moves.
    pub fn settle(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.clients.len() {
                moved |= self.flush_client(i);
            }
            moved |= self.flush_server();
            let jobs = std::mem::take(&mut *lock(&self.jobs));
            for job in jobs {
                moved = true;
                job();
            }
            if !moved {
                return;
            }
        }
    }

    fn flush_client(&mut self, i: usize) -> bool {
        let (connect, writes, disconnect) = {
            let mut w = lock(&self.clients[i].wire);
            (
                w.connect.take(),
                std::mem::take(&mut w.writes),
                std::mem::replace(&mut w.disconnect, false),
            )
        };
        let moved = connect.is_some() || !writes.is_empty() || disconnect;
        if disconnect || connect.is_some() {
            if let Some((_, sconn)) = self.clients[i].conn.take() {
                self.schedule_ordered(i, true, sconn.0, Msg::ServerSideClosed(sconn));
            }
        }
        if let Some(cconn) = connect {
            let at = self.now + self.latency();
            let sconn = (!self.partitioned(i)).then(|| {
                self.server
                    .connection_opened_at(IpAddr::V4(Ipv4Addr::LOCALHOST), self.now)
            });
            if let Some(s) = sconn {
                self.owners.insert(s, (i, cconn));
                if let Some(tls) = &self.tls {
                    let conn =
                        rustls::ServerConnection::new(tls.clone()).expect("a TLS server end");
                    self.server_tls.insert(s, conn);
                }
            }
            self.schedule(at, Msg::Connected(i, cconn, sconn));
        }
        if let Some((_, sconn)) = self.clients[i].conn {
            for bytes in writes {
                self.schedule_ordered(i, true, sconn.0, Msg::ToServer(sconn, bytes));
            }
        }
        moved
    }

    fn flush_server(&mut self) -> bool {
        let mut moved = false;
        for sconn in self.server.connections_with_output() {
            let mut out = bytes::BytesMut::new();
            self.server.poll_transmit(sconn, &mut out);
            moved = true;
            let out = match self.server_tls.get_mut(&sconn) {
                Some(tls) => {
                    let _ = tls.writer().write_all(&out);
                    drain_tls(tls)
                }
                None => out.to_vec(),
            };
            if let Some(&(i, cconn)) = self.owners.get(&sconn) {
                self.schedule_ordered(i, false, sconn.0, Msg::ToClient(i, cconn, out));
            }
        }
        while let Some(sconn) = self.server.poll_close() {
            moved = true;
            self.server.connection_closed(sconn);
            self.server_tls.remove(&sconn);
            if let Some((i, cconn)) = self.owners.remove(&sconn) {
                self.schedule_ordered(i, false, sconn.0, Msg::ClientSideClosed(i, cconn));
            }
        }
        moved
    }

    fn trace(&self, client: usize, what: &str, bytes: &[u8]) {
        if std::env::var("SIM_TRACE")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            != Some(client)
        {
            return;
        }
        let mut rest = bytes;
        let mut frames = Vec::new();
        while rest.len() >= 4 {
            let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let frame = &rest[4..(4 + len).min(rest.len())];
            let word = |i: usize| {
                frame
                    .get(i..i + 4)
                    .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            };
            frames.push(format!(
                "[{len}: {:?} {:?} {:?}]",
                word(0),
                word(4),
                word(12)
            ));
            rest = &rest[(4 + len).min(rest.len())..];
        }
        eprintln!("{:?} {what} {}", self.elapsed(), frames.join(" "));
    }

    fn deliver(&mut self, msg: Msg) {
        if let Msg::ToServer(sconn, bytes) = &msg {
            if let Some(&(i, _)) = self.owners.get(sconn) {
                self.trace(i, &format!("c->s {sconn:?}"), bytes);
            }
        }
        if let Msg::ToClient(i, cconn, bytes) = &msg {
            self.trace(*i, &format!("s->c {cconn:?}"), bytes);
        }
        match &msg {
            Msg::Connected(i, c, s) => self.trace(*i, &format!("connected {c:?} {s:?}"), &[]),
            Msg::ClientSideClosed(i, c) => self.trace(*i, &format!("closed by server {c:?}"), &[]),
            _ => {}
        }
        match msg {
            Msg::ToServer(sconn, bytes) => match self.server_tls.get_mut(&sconn) {
                None => self.server.handle_connection_input(sconn, &bytes, self.now),
                Some(tls) => {
                    let was_handshaking = tls.is_handshaking();
                    // rustls takes a few KiB per read_tls: feed it all.
                    let mut rest = &bytes[..];
                    let mut plain = Vec::new();
                    let mut ok = true;
                    while ok && !rest.is_empty() {
                        ok = matches!(tls.read_tls(&mut rest), Ok(n) if n > 0)
                            && tls.process_new_packets().is_ok();
                        let _ = tls.reader().read_to_end(&mut plain);
                    }
                    if !ok {
                        self.tls_errors += 1;
                    }
                    if ok && was_handshaking && !tls.is_handshaking() {
                        self.tls_handshakes += 1;
                    }
                    let reply = drain_tls(tls);
                    if !plain.is_empty() {
                        self.server.handle_connection_input(sconn, &plain, self.now);
                    }
                    if let Some(&(i, cconn)) = self.owners.get(&sconn) {
                        if !reply.is_empty() {
                            self.schedule_ordered(
                                i,
                                false,
                                sconn.0,
                                Msg::ToClient(i, cconn, reply),
                            );
                        }
                        if !ok {
                            // A TLS error ends the connection, after its alert.
                            self.owners.remove(&sconn);
                            self.server_tls.remove(&sconn);
                            self.server.connection_closed(sconn);
                            self.schedule_ordered(
                                i,
                                false,
                                sconn.0,
                                Msg::ClientSideClosed(i, cconn),
                            );
                        }
                    }
                }
            },
            Msg::ToClient(i, cconn, bytes) => {
                if self.clients[i].conn.is_some_and(|(c, _)| c == cconn) {
                    self.clients[i].driver.input(cconn, &bytes);
                }
            }
            Msg::Connected(i, cconn, Some(sconn)) if !self.partitioned(i) => {
                self.clients[i].conn = Some((cconn, sconn));
                self.clients[i].driver.connected(cconn);
            }
            Msg::Connected(i, cconn, sconn) => {
                if let Some(s) = sconn {
                    self.server.connection_closed(s);
                    self.owners.remove(&s);
                    self.server_tls.remove(&s);
                }
                self.clients[i].driver.disconnected(cconn);
            }
            Msg::ClientSideClosed(i, cconn) => {
                if self.clients[i].conn.is_some_and(|(c, _)| c == cconn) {
                    self.clients[i].conn = None;
                    self.clients[i].driver.disconnected(cconn);
                }
            }
            Msg::ServerSideClosed(sconn) => {
                self.owners.remove(&sconn);
                self.server_tls.remove(&sconn);
                self.server.connection_closed(sconn);
            }
        }
    }

    /// The network cuts client `i`'s connection (both ends notice).
    fn reset(&mut self, i: usize) {
        if let Some((cconn, sconn)) = self.clients[i].conn.take() {
            self.log
                .push(format!("{:?} reset client {i}", self.elapsed()));
            self.owners.remove(&sconn);
            self.server_tls.remove(&sconn);
            self.server.connection_closed(sconn);
            self.clients[i].driver.disconnected(cconn);
        }
    }

    fn inject_faults(&mut self) {
        let n = self.clients.len() as u64;
        if self.rng.chance(self.faults.reset_per_mille) {
            let i = self.rng.below(n) as usize;
            self.reset(i);
        }
        if self.rng.chance(self.faults.partition_per_mille) {
            let i = self.rng.below(n) as usize;
            let d = self.rng.millis(100, 4000);
            self.log.push(format!(
                "{:?} partition client {i} for {d:?}",
                self.elapsed()
            ));
            self.clients[i].partitioned_until = Some(self.now + d);
        }
        if self.rng.chance(self.faults.restart_per_mille) {
            let keep = self.rng.chance(700);
            self.log.push(format!(
                "{:?} restart server (keep sessions: {keep})",
                self.elapsed()
            ));
            self.server.restart(keep, self.now);
        }
        if self.rng.chance(self.faults.expire_per_mille) {
            let i = self.rng.below(n) as usize;
            let id = self.clients[i].client.session_id();
            self.log
                .push(format!("{:?} expire client {i}", self.elapsed()));
            let _ = self.server.expire_session(id, self.now);
        }
    }

    /// Where each client stands, for a failure report.
    /// How rough the world is from now on (the server's own faults too).
    pub fn set_faults(&mut self, faults: Faults) {
        self.server.set_replace_on_resume(faults.replace_on_resume);
        self.faults = faults;
    }

    pub fn describe(&self) -> String {
        self.clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "client {i}: state {:?}, conn {:?}, partitioned {:?}, deadline in {:?}, {:?}, last states {:?}",
                    c.client.state(),
                    c.conn,
                    c.partitioned_until.map(|t| t.saturating_duration_since(self.now)),
                    c.driver.deadline().map(|t| t.saturating_duration_since(self.now)),
                    c.client.stats(),
                    c.states.lock().unwrap().iter().rev().take(4).collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(self.start)
    }

    /// Runs the world for `d` of virtual time in 10 ms steps, calling
    /// `each_step` (the workload) at every step.
    pub fn run(&mut self, d: Duration, faults: bool, mut each_step: impl FnMut(&mut World)) {
        let until = self.now + d;
        while self.now < until {
            let step_end = self.now + Duration::from_millis(10);
            // Everything due within this step, in time order.
            loop {
                let next_msg = self
                    .queue
                    .keys()
                    .next()
                    .map(|(t, _)| *t)
                    .filter(|t| *t <= step_end);
                let next_timer = self
                    .clients
                    .iter()
                    .filter_map(|c| c.driver.deadline())
                    .chain(self.server.poll_timeout())
                    .filter(|t| *t <= step_end)
                    .min();
                let Some(at) = [next_msg, next_timer].into_iter().flatten().min() else {
                    break;
                };
                self.now = self.now.max(at);
                *lock(&self.clock) = self.now;
                if next_msg == Some(at) {
                    if let Some((_, msg)) = self.queue.pop_first() {
                        self.deliver(msg);
                    }
                } else {
                    self.server.handle_timeout(self.now);
                    for c in &self.clients {
                        if c.driver.deadline().is_some_and(|d| d <= self.now) {
                            c.driver.timeout();
                        }
                    }
                }
                self.settle();
            }
            self.now = step_end;
            *lock(&self.clock) = self.now;
            for c in &mut self.clients {
                if c.partitioned_until.is_some_and(|t| t <= step_end) {
                    c.partitioned_until = None;
                }
            }
            if faults {
                self.inject_faults();
            }
            each_step(self);
            self.settle();
            self.check_liveness();
        }
    }

    /// The liveness invariant, after every step: an open session always
    /// has a deadline (a connection attempt, a connection or a backoff
    /// under way), so none can sit idle for ever.
    fn check_liveness(&mut self) {
        if self.stalled.is_some() {
            return;
        }
        for (i, c) in self.clients.iter().enumerate() {
            if !c.driver.is_closed() && c.driver.deadline().is_none() {
                self.stalled = Some(format!(
                    "client {i} at {:?}: open, with no timer",
                    self.elapsed()
                ));
            }
        }
    }
}

/// Ciphertext the TLS server end has to send.
fn drain_tls(tls: &mut rustls::ServerConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while tls.wants_write() {
        if tls.write_tls(&mut out).is_err() {
            break;
        }
    }
    out
}
