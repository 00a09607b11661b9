//! SASL DIGEST-MD5 against a real ZooKeeper (a JAAS `Server` section the
//! test kit writes) on every adapter: authentication and the `sasl` ACL
//! scheme, bad credentials (terminal, no retry storm), and a connection
//! cut in the middle of the exchange (a reconnect that authenticates).

#![allow(clippy::disallowed_methods)] // a test owns its clock

#[path = "support/adapters.rs"]
mod adapters;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use adapters::start;
use kazoo::acl::{Acl, Perms};
use kazoo::sasl::SaslCredentials;
use kazoo::session::{Config, DisconnectReason, LostReason, SessionState};
use kazoo::Error;
use kazoo_testing::{Proxy, ServerOptions, ZkServer};

const WAIT: Duration = Duration::from_secs(20);

fn server() -> &'static ZkServer {
    static SERVER: OnceLock<ZkServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let options = ServerOptions {
            sasl_users: vec![
                ("bob".into(), "bobsecret".into()),
                ("ann".into(), "a\"nn's".into()),
            ],
            ..ServerOptions::default()
        };
        ZkServer::start_with(&options).expect("a SASL server")
    })
}

fn config(hosts: &str, user: &str, password: &str) -> Config {
    Config::builder(hosts)
        .session_timeout(Duration::from_secs(10))
        .sasl(SaslCredentials::digest_md5(user, password.to_string()))
        .build()
        .unwrap()
}

#[test]
fn every_adapter_authenticates_and_sasl_acls_hold() {
    let hosts = server().connect_string();
    let anonymous = kazoo_std::start(Config::new(&hosts).unwrap());
    anonymous.wait_connected().wait_timeout(WAIT).unwrap();
    for adapter in 0..3 {
        let c = start(adapter, config(&hosts, "bob", "bobsecret"));
        c.wait_connected()
            .wait_timeout(WAIT)
            .expect("authenticated");
        let who = c.whoami().wait().unwrap();
        assert!(
            who.iter()
                .any(|i| i.auth_scheme == "sasl" && i.user == "bob"),
            "{who:?}"
        );
        let path = format!("/sasl-{adapter}");
        c.create(&path)
            .data("bob's")
            .acl([Acl::sasl("bob", Perms::ALL)])
            .send()
            .wait()
            .unwrap();
        assert_eq!(
            &c.get(&path).send().wait().unwrap().0.unwrap()[..],
            b"bob's"
        );
        assert_eq!(
            anonymous.get(&path).send().wait().map(|_| ()),
            Err(Error::NoAuth),
            "another session cannot read it"
        );
        c.close().wait().unwrap();
    }
    // A password with a quote in it goes through the quoted-string rules.
    let ann = start(0, config(&hosts, "ann", "a\"nn's"));
    ann.wait_connected()
        .wait_timeout(WAIT)
        .expect("ann authenticated");
    ann.close().wait().unwrap();
    anonymous.close().wait().unwrap();
}

#[test]
fn a_wrong_password_is_terminal_on_every_adapter() {
    let proxy = Proxy::start(server().addr()).unwrap();
    for adapter in 0..3 {
        let before = proxy.attempts();
        let c = start(adapter, config(&proxy.addr().to_string(), "bob", "wrong"));
        let started = Instant::now();
        assert_eq!(
            c.wait_connected().wait_timeout(WAIT),
            Err(Error::AuthFailed),
            "the wait for a connection ends with the cause"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(
            c.state(),
            Some(SessionState::Lost {
                reason: LostReason::AuthFailed,
                ..
            })
        ));
        assert_eq!(c.get("/").send().wait().map(|_| ()), Err(Error::AuthFailed));
        assert!(c
            .recent_disconnects()
            .iter()
            .any(|(_, r)| *r == DisconnectReason::AuthFailed));
        thread::sleep(Duration::from_secs(1));
        assert_eq!(
            proxy.attempts() - before,
            1,
            "no retry with bad credentials"
        );
        drop(c.close());
    }
}

#[test]
fn a_connection_cut_during_the_exchange_reconnects_and_authenticates() {
    let cutter = Cutter::start(server().addr());
    for adapter in 0..3 {
        let cuts = cutter.cuts();
        let c = start(
            adapter,
            config(&cutter.addr.to_string(), "bob", "bobsecret"),
        );
        c.wait_connected()
            .wait_timeout(WAIT)
            .expect("authenticated");
        assert_eq!(cutter.cuts(), cuts + 1, "the first connection was cut");
        assert!(c
            .recent_disconnects()
            .iter()
            .any(|(_, r)| *r == DisconnectReason::Closed));
        let who = c.whoami().wait().unwrap();
        assert!(who.iter().any(|i| i.auth_scheme == "sasl"), "{who:?}");
        c.close().wait().unwrap();
    }
}

/// Forwards to a server, but closes every other connection when the
/// client sends its third frame (the handshake, the first SASL token,
/// then the response to the challenge): the exchange is cut half-way.
struct Cutter {
    addr: SocketAddr,
    cuts: Arc<AtomicUsize>,
}

impl Cutter {
    fn start(target: SocketAddr) -> Cutter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cuts = Arc::new(AtomicUsize::new(0));
        let counter = cuts.clone();
        thread::spawn(move || {
            for (n, client) in listener.incoming().enumerate() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let cut = n % 2 == 0;
                let counter = counter.clone();
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || pipe(s2, c2));
                thread::spawn(move || {
                    if forward_frames(client, server, cut) {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Cutter { addr, cuts }
    }

    fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Client to server, frame by frame; true if it cut the connection.
fn forward_frames(mut client: TcpStream, mut server: TcpStream, cut: bool) -> bool {
    for frame in 0.. {
        let mut len = [0u8; 4];
        if client.read_exact(&mut len).is_err() {
            break;
        }
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        if client.read_exact(&mut body).is_err() {
            break;
        }
        if cut && frame == 2 {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return true;
        }
        if server.write_all(&len).is_err() || server.write_all(&body).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    false
}

/// A server with no SASL configured answers every token with nothing: the
/// credentials cannot be checked there, and that is as final as a refusal
/// (not an endless reconnect).
#[test]
fn a_server_without_sasl_is_a_terminal_refusal() {
    let plain = ZkServer::shared().unwrap();
    let proxy = Proxy::start(plain.addr()).unwrap();
    let c = start(0, config(&proxy.addr().to_string(), "bob", "bobsecret"));
    assert_eq!(
        c.wait_connected().wait_timeout(WAIT),
        Err(Error::AuthFailed)
    );
    thread::sleep(Duration::from_secs(1));
    assert_eq!(proxy.attempts(), 1, "{:?}", c.recent_disconnects());
    drop(c.close());
}
