//! TLS against a real ZooKeeper (`secureClientPort`, Netty, PEM key and
//! trust stores the test kit writes) on every adapter: the handshake,
//! an untrusted server, a required client certificate, and a port that
//! speaks the other language. Needs the `tls` feature.

#![allow(clippy::disallowed_methods)] // a test owns its clock

#[path = "support/adapters.rs"]
mod adapters;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use adapters::start;
use kazoo::session::{Config, DisconnectReason, SessionState};
use kazoo::tls::{CertificateProblem, TlsConfig, TlsError};
use kazoo::Client;
use kazoo_testing::{Proxy, ServerOptions, ServerTls, TestPki, ZkServer};

const WAIT: Duration = Duration::from_secs(20);

/// One TLS server per client-certificate policy, shared by the tests.
fn server(require_client_cert: bool) -> &'static (ZkServer, TestPki) {
    static OPEN: OnceLock<(ZkServer, TestPki)> = OnceLock::new();
    static MUTUAL: OnceLock<(ZkServer, TestPki)> = OnceLock::new();
    let cell = if require_client_cert { &MUTUAL } else { &OPEN };
    cell.get_or_init(|| {
        let pki = TestPki::generate().unwrap();
        let options = ServerOptions {
            tls: Some(ServerTls {
                pki: pki.clone(),
                require_client_cert,
            }),
            ..ServerOptions::default()
        };
        (ZkServer::start_with(&options).expect("a TLS server"), pki)
    })
}

fn config(hosts: &str, tls: TlsConfig) -> Config {
    Config::builder(hosts)
        .session_timeout(Duration::from_secs(10))
        .tls(tls)
        .build()
        .unwrap()
}

fn trusting(pki: &TestPki) -> TlsConfig {
    TlsConfig::builder()
        .root_pem(pki.ca_pem.as_bytes())
        .build()
        .unwrap()
}

/// The TLS reasons the client gave for its failed connections.
fn tls_reasons(c: &Client) -> Vec<TlsError> {
    c.recent_disconnects()
        .into_iter()
        .filter_map(|(_, r)| match r {
            DisconnectReason::Tls(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// Waits until `c` gave at least one reason, or `WAIT` passes.
fn first_reasons(c: &Client) -> Vec<DisconnectReason> {
    let deadline = Instant::now() + WAIT;
    while c.recent_disconnects().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    c.recent_disconnects().into_iter().map(|(_, r)| r).collect()
}

#[test]
fn every_adapter_speaks_tls_to_a_real_server() {
    let (server, pki) = server(false);
    let hosts = server.secure_addr().unwrap().to_string();
    for adapter in 0..3 {
        let c = start(adapter, config(&hosts, trusting(pki)));
        c.wait_connected()
            .wait_timeout(WAIT)
            .expect("connected over TLS");
        let path = format!("/tls-{adapter}");
        c.create(&path).data("secret").send().wait().unwrap();
        assert_eq!(
            &c.get(&path).send().wait().unwrap().0.unwrap()[..],
            b"secret"
        );
        c.close().wait().unwrap();
    }
}

#[test]
fn an_untrusted_server_is_a_typed_error_retried_with_backoff() {
    let (server, _) = server(false);
    let proxy = Proxy::start(server.secure_addr().unwrap()).unwrap();
    let stranger = TestPki::generate().unwrap();
    let c = start(0, config(&proxy.addr().to_string(), trusting(&stranger)));
    let cpu_before = cpu_seconds();
    std::thread::sleep(Duration::from_secs(5));
    let cpu = cpu_seconds() - cpu_before;
    assert!(
        tls_reasons(&c).contains(&TlsError::CertificateNotTrusted(
            CertificateProblem::UnknownIssuer
        )),
        "{:?}",
        c.recent_disconnects()
    );
    assert!(!matches!(c.state(), Some(SessionState::Connected { .. })));
    let attempts = proxy.attempts();
    assert!(
        (2..=20).contains(&attempts),
        "{attempts} attempts in 5 s: backed off, not given up"
    );
    assert!(cpu < 2.0, "{cpu:.2} s of CPU in 5 s of refused handshakes");
    drop(c.close());
}

#[test]
fn a_required_client_certificate() {
    let (server, pki) = server(true);
    let hosts = server.secure_addr().unwrap().to_string();
    let without = start(0, config(&hosts, trusting(pki)));
    let reasons = first_reasons(&without);
    println!("without a client certificate: {reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| matches!(r, DisconnectReason::Tls(_))),
        "a typed TLS error without a client certificate: {reasons:?}"
    );
    assert!(!matches!(
        without.state(),
        Some(SessionState::Connected { .. })
    ));
    drop(without.close());
    let tls = TlsConfig::builder()
        .root_pem(pki.ca_pem.as_bytes())
        .client_cert_pem(
            pki.client_cert_pem.as_bytes(),
            pki.client_key_pem.as_bytes(),
        )
        .build()
        .unwrap();
    for adapter in 0..3 {
        let with = start(adapter, config(&hosts, tls.clone()));
        with.wait_connected()
            .wait_timeout(WAIT)
            .expect("connected with a client certificate");
        let who = with.whoami().wait().unwrap();
        assert!(
            who.iter().any(|i| i.auth_scheme == "x509"),
            "the server knows the certificate: {who:?}"
        );
        with.close().wait().unwrap();
    }
}

#[test]
fn a_port_speaking_the_other_language_is_a_typed_error() {
    let (server, pki) = server(false);
    // TLS to the plaintext port.
    let tls_to_plain = start(1, config(&server.addr().to_string(), trusting(pki)));
    let reasons = first_reasons(&tls_to_plain);
    println!("TLS to the plaintext port: {reasons:?}");
    assert!(
        reasons.iter().any(|r| matches!(
            r,
            DisconnectReason::Tls(TlsError::NotTls | TlsError::ClosedDuringHandshake)
        )),
        "{reasons:?}"
    );
    drop(tls_to_plain.close());
    // Plaintext to the TLS port: the server closes it, no session.
    let plain_to_tls = kazoo_std::start(
        Config::builder(&server.secure_addr().unwrap().to_string())
            .session_timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    );
    let reasons = first_reasons(&plain_to_tls);
    println!("plaintext to the TLS port: {reasons:?}");
    assert!(!reasons.is_empty());
    assert!(!matches!(
        plain_to_tls.state(),
        Some(SessionState::Connected { .. })
    ));
    drop(plain_to_tls.close());
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
