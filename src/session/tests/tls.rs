//! TLS inside the session, against an in-process rustls server: both ends
//! sans-IO, the bytes carried by hand, no socket and no clock.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustls::{ServerConfig, ServerConnection};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::sim::NowForTests;
use crate::proto::jute::Record;
use crate::proto::{encode_frame, ConnectResponse};
use crate::session::{Command, Config, DisconnectReason, Event, Session, SessionState};
use crate::tls::{CertificateProblem, TlsConfig, TlsError};

/// A CA and a server certificate it signed for `localhost`.
struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("test CA {n}"));
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_chain: vec![cert.der().clone()],
        server_key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    }
}

fn server(pki: &Pki) -> ServerConnection {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), pki.server_key.clone_key())
        .unwrap();
    ServerConnection::new(Arc::new(config)).unwrap()
}

fn session(trusting: &str, now: Instant) -> Session {
    let tls = TlsConfig::builder()
        .root_pem(trusting.as_bytes())
        .build()
        .unwrap();
    let config = Config::builder("localhost:2281")
        .session_timeout(Duration::from_secs(10))
        .tls(tls)
        .build()
        .unwrap();
    let mut s = Session::new(config, now);
    assert!(matches!(s.poll_command(), Some(Command::Connect(_))));
    s.handle_connected(now);
    s
}

/// Carries bytes both ways until neither side has more; returns the
/// plaintext the server received.
fn exchange(s: &mut Session, server: &mut ServerConnection, now: Instant) -> Vec<u8> {
    let mut plain = Vec::new();
    for _ in 0..20 {
        let mut out = BytesMut::new();
        let sent = s.poll_transmit(now, &mut out);
        if sent {
            let mut rd = &out[..];
            while !rd.is_empty() {
                server.read_tls(&mut rd).unwrap();
                if server.process_new_packets().is_err() {
                    break;
                }
            }
            let mut buf = [0u8; 4096];
            while let Ok(n) = server.reader().read(&mut buf) {
                if n == 0 {
                    break;
                }
                plain.extend_from_slice(&buf[..n]);
            }
        }
        let mut back = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut back).unwrap();
        }
        if !back.is_empty() {
            s.handle_input(&back, now);
        }
        if !sent && back.is_empty() {
            break;
        }
    }
    plain
}

fn tls_failure(s: &mut Session) -> Option<TlsError> {
    std::iter::from_fn(|| s.poll_event()).find_map(|e| match e {
        Event::Disconnected {
            reason: DisconnectReason::Tls(e),
            ..
        } => Some(e),
        _ => None,
    })
}

#[test]
fn the_handshake_and_the_session_go_through_tls() {
    let now = Instant::now_for_tests();
    let pki = pki();
    let mut s = session(&pki.ca_pem, now);
    let mut server = server(&pki);
    let plain = exchange(&mut s, &mut server, now);
    assert!(!server.is_handshaking(), "the TLS handshake finished");
    assert_eq!(server.server_name(), Some("localhost"), "SNI from the host");
    assert_eq!(
        plain.len(),
        4 + 45,
        "the ConnectRequest, in clear inside TLS"
    );
    let response = ConnectResponse {
        timeout: 10_000,
        session_id: 0x42,
        passwd: vec![1; 16].into(),
        read_only: Some(false),
        ..Default::default()
    };
    let mut frame = BytesMut::new();
    encode_frame(&mut frame, |o| response.encode(o));
    server.writer().write_all(&frame).unwrap();
    exchange(&mut s, &mut server, now);
    assert_eq!(
        s.state(),
        Some(SessionState::Connected {
            session_id: 0x42,
            new_session: true
        })
    );
}

#[test]
fn an_untrusted_certificate_is_a_typed_disconnect() {
    let now = Instant::now_for_tests();
    let (trusted, other) = (pki(), pki());
    let mut s = session(&other.ca_pem, now);
    let mut server = server(&trusted);
    exchange(&mut s, &mut server, now);
    assert_eq!(
        tls_failure(&mut s),
        Some(TlsError::CertificateNotTrusted(
            CertificateProblem::UnknownIssuer
        ))
    );
    assert!(matches!(s.poll_command(), Some(Command::Disconnect)));
    assert!(
        s.poll_timeout().is_some(),
        "the next attempt waits for a timer (backoff)"
    );
}

#[test]
fn a_server_that_does_not_speak_tls_is_a_typed_disconnect() {
    let now = Instant::now_for_tests();
    let pki = pki();
    // Answers the hello with a ZooKeeper frame.
    let mut s = session(&pki.ca_pem, now);
    let mut out = BytesMut::new();
    assert!(s.poll_transmit(now, &mut out), "a ClientHello");
    s.handle_input(&[0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0x27, 0x10], now);
    assert_eq!(tls_failure(&mut s), Some(TlsError::NotTls));
    // Closes the connection without a word.
    let mut s = session(&pki.ca_pem, now);
    assert!(s.poll_transmit(now, &mut out));
    s.handle_disconnected(now);
    assert_eq!(tls_failure(&mut s), Some(TlsError::ClosedDuringHandshake));
}

#[test]
fn bad_tls_configuration_is_refused_when_built() {
    use crate::tls::TlsConfigError;
    assert_eq!(
        TlsConfig::builder().build().unwrap_err(),
        TlsConfigError::NoRoots
    );
    assert_eq!(
        TlsConfig::builder()
            .root_pem(b"not pem")
            .build()
            .unwrap_err(),
        TlsConfigError::BadCertificate
    );
    let pki = pki();
    assert_eq!(
        TlsConfig::builder()
            .root_pem(pki.ca_pem.as_bytes())
            .client_cert_pem(pki.ca_pem.as_bytes(), b"no key here")
            .build()
            .unwrap_err(),
        TlsConfigError::BadKey
    );
    assert!(matches!(
        TlsConfig::builder()
            .root_pem_file("/nonexistent/ca.pem")
            .build()
            .unwrap_err(),
        TlsConfigError::Read { .. }
    ));
}
