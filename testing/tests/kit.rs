//! The kit as a user's test would use it: an embedded server with no Java,
//! and the real one behind the same API.

use std::time::Duration;

use kazoo_testing::TestServer;

const WAIT: Duration = Duration::from_secs(10);

fn round_trip(server: &TestServer) {
    let client = kazoo_std::start(server.client_config("kit").unwrap());
    client.wait_connected().wait_timeout(WAIT).unwrap();
    let path = client
        .create("/job-")
        .sequential()
        .send()
        .wait_timeout(WAIT)
        .unwrap();
    assert_eq!(path, "/job-0000000000", "a fresh chroot per test");
    let (read, fired) = client.exists(&path).send_watched();
    read.wait_timeout(WAIT).unwrap(); // the watch is set once it is answered
    assert_eq!(server.watch_count(client.session_id()).unwrap(), 1);
    client.delete(&path).send().wait_timeout(WAIT).unwrap();
    fired.wait_timeout(WAIT).unwrap();
    assert_eq!(server.watch_count(client.session_id()).unwrap(), 0);
    client.close().wait_timeout(WAIT).unwrap();
}

#[test]
fn the_embedded_server_needs_no_java() {
    let server = TestServer::embedded();
    round_trip(&server);
    assert!(
        server.embedded_server().is_some(),
        "its faults are reachable"
    );
}

#[test]
fn a_real_server_behind_the_same_api() {
    let server = TestServer::real().expect("the Debian zookeeper package");
    round_trip(&server);
    assert!(server.embedded_server().is_none());
}
