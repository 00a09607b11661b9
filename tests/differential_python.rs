//! Differential conformance beyond our own client: Python kazoo runs the
//! same scripted session (`tests/python/scenario.py`: CRUD, stats, errors,
//! sequential and ephemeral nodes, watches, transactions, ACLs) against the
//! real server and against kazoo-server; the transcripts must be equal.
//! `scripts/deps.sh` installs kazoo with pip.

use std::process::Command;

use kazoo_server::EmbeddedServer;
use kazoo_testing::ZkServer;

fn run(hosts: &str, chroot: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/scenario.py");
    let output = Command::new("python3")
        .args([script, hosts, chroot])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "scenario.py against {hosts} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[test]
fn python_kazoo_sees_the_same_server() {
    let real = ZkServer::shared().expect("a ZooKeeper server");
    let embedded = EmbeddedServer::start(Default::default()).unwrap();
    let chroot = format!("/python-diff-{}", std::process::id());
    let theirs = run(&real.connect_string(), &chroot);
    let ours = run(&embedded.connect_string(), &chroot);
    for (i, (r, o)) in theirs.lines().zip(ours.lines()).enumerate() {
        assert_eq!(o, r, "observation {i}: embedded vs real\nreal:\n{theirs}");
    }
    assert_eq!(
        ours.lines().count(),
        theirs.lines().count(),
        "real:\n{theirs}"
    );
    assert!(theirs.lines().count() > 30, "the scenario ran:\n{theirs}");
}
