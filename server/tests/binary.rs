//! The `kazoo-server` binary serves real clients over TCP.

#![allow(clippy::disallowed_methods)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_binary_serves_a_client() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kazoo-server"))
        .args(["--port", &port.to_string(), "--tick-time", "500"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let client = kazoo_std::connect(format!("127.0.0.1:{port}")).unwrap();
    client
        .wait_connected()
        .wait_timeout(Duration::from_secs(10))
        .unwrap();
    client.create("/hello").data("world").send().wait().unwrap();
    assert_eq!(
        &client.get("/hello").send().wait().unwrap().0.unwrap()[..],
        b"world"
    );
    let version = client
        .server_version()
        .wait_timeout(Duration::from_secs(5))
        .unwrap();
    assert_eq!((version.major, version.minor, version.patch), (3, 8, 0));
    let bad = Command::new(env!("CARGO_BIN_EXE_kazoo-server"))
        .args(["--port", "nope"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "bad usage");
    client.close().wait().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
}
