//! A TLS session fed arbitrary "server" bytes: whatever arrives where the
//! server's TLS records belong (a ServerHello, alerts, garbage, plaintext
//! ZooKeeper frames) ends in a typed disconnect reason and a retry, never
//! a panic, and the session keeps a timer.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use kazoo::session::{Command, Config, Event, Session};
use kazoo::tls::TlsConfig;
use libfuzzer_sys::fuzz_target;

fn tls() -> &'static TlsConfig {
    static TLS: OnceLock<TlsConfig> = OnceLock::new();
    TLS.get_or_init(|| {
        let pki = kazoo_testing::TestPki::generate().expect("test certificates");
        TlsConfig::builder()
            .root_pem(pki.ca_pem.as_bytes())
            .build()
            .expect("a TLS config")
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
