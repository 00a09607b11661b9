//! No secret in output: every public type that can hold a credential or a
//! session password formats it as `<redacted>` under `{:?}`.

#![allow(clippy::disallowed_methods)] // a test owns its clock

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kazoo::proto::jute::Record;
use kazoo::proto::{encode_frame, AuthPacket, ConnectRequest, ConnectResponse, Request};
use kazoo::sasl::SaslCredentials;
use kazoo::session::{Config, Session};
use kazoo::Secret;

/// The password every handshake here uses, and the credential.
const PASSWD: &[u8; 16] = b"PASSWORDPASSWORD";
const CREDENTIAL: &str = "ann:hunter2";

/// Fails if `shown` holds the password or the credential in any spelling
/// `Debug` uses for bytes or text.
fn assert_hidden(what: &str, shown: &str) {
    for leak in [
        "PASSWORD",
        "hunter2",
        "80, 65, 83, 83", // a byte slice's Debug
        "68756e74657232", // hex of hunter2
    ] {
        assert!(!shown.contains(leak), "{what} shows {leak:?}: {shown}");
    }
}

fn config() -> Config {
    Config::builder("127.0.0.1:1/app")
        .auth("digest", CREDENTIAL)
        .sasl(SaslCredentials::digest_md5("ann", "hunter2"))
        .resume(0x1234, &PASSWD[..])
        .build()
        .unwrap()
}

#[test]
fn configs_and_builders_hide_credentials_and_passwords() {
    let builder = Config::builder("127.0.0.1:1")
        .auth("digest", CREDENTIAL)
        .sasl(SaslCredentials::digest_md5("ann", "hunter2"))
        .resume(0x1234, Bytes::from_static(PASSWD));
    assert_hidden("ConfigBuilder", &format!("{builder:?}"));
    let config = config();
    let shown = format!("{config:?}");
    assert_hidden("Config", &shown);
    assert!(shown.contains("<redacted>"), "{shown}");
    assert_hidden("Config (pretty)", &format!("{config:#?}"));
    let sasl = SaslCredentials::digest_md5("ann", "hunter2");
    assert_hidden("SaslCredentials", &format!("{sasl:?}"));
    assert_hidden("Config::sasl", &format!("{:?}", config.sasl()));
}

#[test]
fn wire_records_hide_passwords_and_credentials() {
    let request = ConnectRequest {
        session_id: 0x1234,
        passwd: PASSWD.into(),
        ..Default::default()
    };
    assert_hidden("ConnectRequest", &format!("{request:?}"));
    let response = ConnectResponse {
        session_id: 0x1234,
        passwd: PASSWD.into(),
        ..Default::default()
    };
    assert_hidden("ConnectResponse", &format!("{response:?}"));
    let auth = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: CREDENTIAL.into(),
    };
    assert_hidden("AuthPacket", &format!("{auth:?}"));
    assert_hidden("Request::Auth", &format!("{:?}", Request::Auth(auth)));
    let secret = Secret::from(CREDENTIAL);
    assert_eq!(format!("{secret:?}"), "<redacted>");
    assert_eq!(&secret.expose()[..], CREDENTIAL.as_bytes());
}

#[test]
fn a_session_hides_its_password_and_credentials() {
    let now = Instant::now();
    let mut session = Session::new(config(), now);
    assert_hidden("Session before connecting", &format!("{session:?}"));
    session.handle_connected(now);
    let mut out = BytesMut::new();
    while session.poll_transmit(now, &mut out) {}
    let mut reply = BytesMut::new();
    let response = ConnectResponse {
        timeout: 10_000,
        session_id: 0x1234,
        passwd: PASSWD.into(),
        read_only: Some(false),
        ..Default::default()
    };
    encode_frame(&mut reply, |o| response.encode(o));
    session.handle_input(&reply, now);
    assert_eq!(session.session().0, 0x1234, "the handshake was taken");
    assert_hidden("Session after the handshake", &format!("{session:?}"));
    assert_hidden("Session::session", &format!("{:?}", session.session()));
}

#[test]
fn a_client_hides_its_password() {
    let server = kazoo_server::EmbeddedServer::start(Default::default()).unwrap();
    let config = Config::builder(&server.connect_string())
        .auth("digest", CREDENTIAL)
        .build()
        .unwrap();
    let client = kazoo_std::start(config);
    client.wait_connected().wait().unwrap();
    let (id, passwd) = client.client_id();
    assert_eq!(passwd.len(), 16);
    assert_ne!(id, 0);
    let shown = format!("{:?}", client.client_id());
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(
        !shown.contains(&format!("{:?}", passwd.expose())),
        "client_id shows the password: {shown}"
    );
    assert_hidden("Client", &format!("{client:?}"));
    client.close().wait().unwrap();
}
