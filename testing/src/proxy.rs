//! A loopback TCP proxy a test can cut or stall, to drop a client's
//! connection the way a network does.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use super::TestingError;

/// Forwards connections from its own port to a server. Point a client at
/// [`addr`](Proxy::addr), then [`sever`](Proxy::sever) its connection,
/// [`stall`](Proxy::stall) it (nothing forwarded, nothing closed: the
/// client's read timeout has to notice), or [`refuse`](Proxy::refuse) new
/// ones (the server looks down).
///
/// ```no_run
/// use kazoo_testing::{Proxy, ZkServer};
/// let server = ZkServer::shared().unwrap();
/// let proxy = Proxy::start(server.addr()).unwrap();
/// // connect a client to proxy.addr() ... then:
/// proxy.sever(); // the client sees its connection drop and reconnects
/// ```
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    target: SocketAddr,
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    refusing: bool,
    stalled: bool,
    next_id: u64,
    /// Open connections: (id, client side, server side).
    open: Vec<(u64, TcpStream, TcpStream)>,
    accepted: u64,
    attempts: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub fn start(target: SocketAddr) -> Result<Proxy, TestingError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        thread::Builder::new()
            .name("kazoo-proxy".into())
            .spawn(move || accept_loop(&listener, &s))?;
        Ok(Proxy { addr, shared })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every open connection at once, both ways (a reset network).
    pub fn sever(&self) {
        let mut s = self.shared.lock();
        for (_, client, server) in s.open.drain(..) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
        self.shared.changed.notify_all();
    }

    /// Stops forwarding in both directions without closing anything.
    pub fn stall(&self) {
        self.shared.lock().stalled = true;
    }

    /// Forwards again (what was held back goes through).
    pub fn resume(&self) {
        self.shared.lock().stalled = false;
        self.shared.changed.notify_all();
    }

    /// While `yes`, new connections are accepted and closed at once.
    pub fn refuse(&self, yes: bool) {
        self.shared.lock().refusing = yes;
    }

    /// Connections open through the proxy now.
    pub fn connections(&self) -> usize {
        self.shared.lock().open.len()
    }

    /// Connection attempts since the start, refused ones included.
    pub fn attempts(&self) -> u64 {
        self.shared.lock().attempts
    }

    /// Connections accepted (and forwarded) since the start.
    pub fn accepted(&self) -> u64 {
        self.shared.lock().accepted
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.sever();
        // Wake the accept loop so that it sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = incoming else { continue };
        shared.lock().attempts += 1;
        if shared.lock().refusing {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(2)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let clones = (
            client.try_clone(),
            server.try_clone(),
            client.try_clone(),
            server.try_clone(),
        );
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = clones else {
            continue;
        };
        let id = {
            let mut s = shared.lock();
            s.next_id += 1;
            s.accepted += 1;
            let id = s.next_id;
            s.open.push((id, c3, s3));
            id
        };
        for (from, to) in [(client, s2), (server, c2)] {
            let shared = shared.clone();
            let spawned = thread::Builder::new()
                .name("kazoo-proxy-pump".into())
                .spawn(move || pump(from, to, id, &shared));
            drop(spawned);
        }
    }
}

/// Copies one direction until either side ends, holding data while stalled.
fn pump(mut from: TcpStream, mut to: TcpStream, id: u64, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut s = shared.lock();
        while s.stalled && s.open.iter().any(|(i, _, _)| *i == id) {
            s = shared
                .changed
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let severed = !s.open.iter().any(|(i, _, _)| *i == id);
        drop(s);
        if severed || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
    shared.lock().open.retain(|(i, _, _)| *i != id);
}
