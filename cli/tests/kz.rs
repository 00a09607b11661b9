//! Runs the `kz` binary against a real ZooKeeper server.

#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use kazoo_testing::ZkServer;

/// `host:port/kz-<name>-<n>`, a fresh chroot that exists.
fn hosts(name: &str) -> String {
    let server = ZkServer::shared().expect("a ZooKeeper server");
    server
        .chroot(&format!("kz-{name}"))
        .expect("a fresh chroot")
}

fn kz(hosts: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kz"))
        .arg("--hosts")
        .arg(hosts)
        .args(args)
        .output()
        .expect("kz runs")
}

fn ok(hosts: &str, args: &[&str]) -> String {
    let out = kz(hosts, args);
    assert_eq!(out.status.code(), Some(0), "kz {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn fails(hosts: &str, args: &[&str]) -> String {
    let out = kz(hosts, args);
    assert_eq!(out.status.code(), Some(1), "kz {args:?}: {out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    err
}

#[test]
fn create_get_set_ls_stat_delete() {
    let h = hosts("basic");
    assert_eq!(ok(&h, &["create", "/a", "--data", "hello"]), "/a\n");
    assert_eq!(ok(&h, &["get", "/a"]), "hello\n");
    assert_eq!(
        ok(&h, &["set", "/a", "world", "--version", "0"]),
        "version 1\n"
    );
    assert_eq!(ok(&h, &["get", "/a"]), "world\n");
    assert_eq!(ok(&h, &["create", "/a/x/y", "-p"]), "/a/x/y\n");
    assert_eq!(
        ok(&h, &["create", "/a/s-", "--sequential"]),
        "/a/s-0000000001\n"
    );
    assert_eq!(ok(&h, &["ls", "/a"]), "s-0000000001\nx\n");
    let stat = ok(&h, &["stat", "/a"]);
    assert!(
        stat.contains("version 1\n") && stat.contains("num_children 2\n"),
        "{stat}"
    );
    assert!(stat.contains("data_length 5\n"), "{stat}");
    ok(&h, &["create", "/c", "--container"]);
    ok(&h, &["create", "/t", "--ttl", "60000"]);
    ok(&h, &["create", "/e", "--ephemeral"]);
    assert_eq!(
        ok(&h, &["ls", "/"]),
        "a\nc\nt\n",
        "the ephemeral went with kz's session"
    );
    ok(&h, &["delete", "/a", "--recursive"]);
    ok(&h, &["delete", "/c"]);
    ok(&h, &["ensure", "/p/q/r"]);
    ok(&h, &["ensure", "/p/q/r"]);
    assert_eq!(ok(&h, &["ls", "/p/q"]), "r\n");
}

#[test]
fn failures_name_the_error_and_the_path() {
    let h = hosts("errors");
    let err = fails(&h, &["get", "/missing"]);
    assert!(err.starts_with("kz: /missing: NoNode"), "{err}");
    ok(&h, &["create", "/n"]);
    assert!(fails(&h, &["create", "/n"]).starts_with("kz: /n: NodeExists"));
    assert!(fails(&h, &["set", "/n", "x", "--version", "7"]).starts_with("kz: /n: BadVersion"));
    ok(&h, &["create", "/n/kid"]);
    assert!(fails(&h, &["delete", "/n"]).starts_with("kz: /n: NotEmpty"));
    assert!(fails(&h, &["stat", "/none"]).starts_with("kz: /none: NoNode"));
    assert!(fails(&h, &["get", "no-slash"]).starts_with("kz: no-slash: InvalidPath"));
    assert!(fails(&h, &["create", "/x", "--container", "--ephemeral"]).contains("InvalidArgument"));
}

#[test]
fn bad_usage_exits_2() {
    let h = hosts("usage");
    for args in [
        &["frobnicate", "/"][..],
        &["get"],
        &["--timeout", "-1", "ls", "/"],
        &["create", "/x", "--ttl", "soon"],
    ] {
        let out = kz(&h, args);
        assert_eq!(out.status.code(), Some(2), "kz {args:?}: {out:?}");
    }
    assert_eq!(kz("", &["ls", "/"]).status.code(), Some(2), "no hosts");
}

#[test]
fn unreachable_server_fails_after_the_timeout() {
    // A port nothing listens on: refused at once, retried until the timeout.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = kz(&format!("127.0.0.1:{port}"), &["--timeout", "1", "ls", "/"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!("kz: connect 127.0.0.1:{port}: Timeout")),
        "{err}"
    );
}

/// Starts a long-running kz and hands its stdout lines to a channel.
fn spawn_lines(h: &str, args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kz"))
        .arg("--hosts")
        .arg(h)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

const LINE: Duration = Duration::from_secs(15);

#[test]
fn get_watch_prints_the_event() {
    let h = hosts("get_watch");
    ok(&h, &["create", "/w", "--data", "v0"]);
    let (mut child, lines) = spawn_lines(&h, &["get", "/w", "--watch"]);
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "v0");
    ok(&h, &["set", "/w", "v1"]);
    assert_eq!(
        lines.recv_timeout(LINE).unwrap(),
        "NodeDataChanged SyncConnected /w"
    );
    assert!(child.wait().unwrap().success());
}

#[test]
fn watch_prints_events_until_interrupted() {
    let h = hosts("watch");
    let (mut child, lines) = spawn_lines(&h, &["watch", "/tree", "--recursive"]);
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "watching /tree");
    ok(&h, &["create", "/tree/a", "-p"]);
    ok(&h, &["set", "/tree/a", "x"]);
    ok(&h, &["delete", "/tree", "-r"]);
    let seen: Vec<_> = (0..5).map(|_| lines.recv_timeout(LINE).unwrap()).collect();
    assert_eq!(
        seen,
        [
            "NodeCreated SyncConnected /tree",
            "NodeCreated SyncConnected /tree/a",
            "NodeDataChanged SyncConnected /tree/a",
            "NodeDeleted SyncConnected /tree/a",
            "NodeDeleted SyncConnected /tree",
        ]
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
