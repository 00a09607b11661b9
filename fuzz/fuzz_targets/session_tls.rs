//! A TLS session fed arbitrary "server" bytes: whatever arrives where the
//! server's TLS records belong (a ServerHello, alerts, garbage, plaintext
//! ZooKeeper frames) ends in a typed disconnect reason and a retry, never
//! a panic, and the session keeps a timer.
//!
//! The key exchange is a stand-in with X25519's name and sizes: a real one
//! took 70 % of every run (a fresh key per connection attempt), and no
//! random server ever completes a handshake, so the session's handling of
//! what arrives is the same.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use kazoo::session::{Command, Config, Event, Session};
use kazoo::tls::TlsConfig;
use libfuzzer_sys::fuzz_target;
use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, NamedGroup, RootCertStore};

#[derive(Debug)]
struct StandInX25519;

impl SupportedKxGroup for StandInX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        Ok(Box::new(StandInX25519))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

impl ActiveKeyExchange for StandInX25519 {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        if peer.len() != 32 {
            return Err(rustls::PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(peer))
    }

    fn pub_key(&self) -> &[u8] {
        &[9; 32]
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

fn tls() -> &'static TlsConfig {
    static TLS: OnceLock<TlsConfig> = OnceLock::new();
    TLS.get_or_init(|| {
        let pki = kazoo_testing::TestPki::generate().expect("test certificates");
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
            roots.add(cert.expect("a certificate")).expect("a root");
        }
        let mut provider = rustls::crypto::ring::default_provider();
        provider.kx_groups = vec![&StandInX25519];
        let config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConfig::from_rustls(Arc::new(config))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let config = Config::builder("localhost:2281")
        .session_timeout(Duration::from_millis(3000))
        .rng_seed(1)
        .tls(tls().clone())
        .build()
        .unwrap();
    let mut session = Session::new(config, now);
    let mut out = BytesMut::new();
    let mut connected = false;
    let mut rest = data;
    loop {
        while let Some(c) = session.poll_command() {
            match c {
                Command::Connect(_) => {
                    session.handle_connected(now);
                    connected = true;
                }
                Command::Disconnect => connected = false,
                Command::Probe(_) => {}
            }
        }
        out.clear();
        let _ = session.poll_transmit(now, &mut out);
        while let Some(e) = session.poll_event() {
            if let Event::Disconnected { .. } = e {
                connected = false;
            }
        }
        assert!(session.is_closed() || session.poll_timeout().is_some());
        let Some((&len, tail)) = rest.split_first() else {
            break;
        };
        let n = usize::from(len).min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        rest = tail;
        if len == 0 {
            // An empty chunk: time passes instead.
            now += Duration::from_millis(700);
            session.handle_timeout(now);
        } else if connected {
            session.handle_input(chunk, now);
        }
    }
});
