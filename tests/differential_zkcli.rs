//! Differential conformance with the Java CLI of the Debian package:
//! `zkCli.sh` runs a few commands against the real server and against
//! kazoo-server; what it prints (zxids and times left out) must be equal.

use std::process::Command;

use kazoo_server::EmbeddedServer;
use kazoo_testing::{fresh_chroot, ZkServer};

const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

const COMMANDS: &[&str] = &[
    "create /a hello",
    "create /a again",
    "create -s /s- x",
    "create -s /s- y",
    "create -e /e gone-after-exit",
    "ls /",
    "get /a",
    "set /a world",
    "get -s /a",
    "stat /a",
    "set -v 7 /a nope",
    "create /a/b child",
    "delete /a",
    "ls -s /a",
    "deleteall /a",
    "get /a",
    "getAcl /s-0000000000",
    "ls /",
];

/// What zkCli printed for `command`, after its connection banner, without
/// the lines that depend on the server's history.
fn run(connect: &str, command: &str) -> Vec<String> {
    let mut args = vec!["-server", connect];
    args.extend(command.split(' '));
    let output = Command::new(ZKCLI)
        .args(&args)
        .output()
        .expect("zkCli.sh runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("WatchedEvent state:SyncConnected type:None"))
        .map_or(0, |i| i + 1);
    lines[start..]
        .iter()
        .filter(|l| {
            !["cZxid", "ctime", "mZxid", "mtime", "pZxid"]
                .iter()
                .any(|p| l.starts_with(p))
                && !l.trim().is_empty()
                && !l.contains(" INFO ")
                && !l.contains(" WARN ")
        })
        .map(|l| l.to_string())
        .collect()
}

fn transcript(addr: std::net::SocketAddr, hosts: &str) -> Vec<String> {
    let connect = fresh_chroot(addr, hosts, "zkcli-diff").expect("a chroot");
    COMMANDS
        .iter()
        .flat_map(|c| {
            let mut lines = vec![format!("$ {c}")];
            lines.extend(run(&connect, c));
            lines
        })
        .collect()
}

#[test]
fn zkcli_sees_the_same_server() {
    let real = ZkServer::shared().expect("a ZooKeeper server");
    let embedded = EmbeddedServer::start(Default::default()).unwrap();
    let theirs = transcript(real.addr(), &real.connect_string());
    let ours = transcript(embedded.addr(), &embedded.connect_string());
    for (i, (r, o)) in theirs.iter().zip(&ours).enumerate() {
        assert_eq!(
            o,
            r,
            "line {i}: embedded vs real\nreal:\n{}",
            theirs.join("\n")
        );
    }
    assert_eq!(ours.len(), theirs.len(), "real:\n{}", theirs.join("\n"));
    assert!(
        theirs.iter().any(|l| l == "hello"),
        "zkCli ran:\n{}",
        theirs.join("\n")
    );
}
