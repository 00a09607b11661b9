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
/// A `kz` running in the background, killed when dropped, so a failing
/// test leaves no `kz watch` behind.
struct Running(std::process::Child);

impl std::ops::Deref for Running {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_lines(h: &str, args: &[&str]) -> (Running, mpsc::Receiver<String>) {
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
    (Running(child), rx)
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

/// Sends SIGINT (Ctrl-C) to `child`.
fn interrupt(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// `acquired <path> fencing-token <n>`: the path and the token.
fn acquired(line: &str, word: &str) -> (String, i64) {
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts.len(), 4, "{line}");
    assert_eq!((parts[0], parts[2]), (word, "fencing-token"), "{line}");
    (parts[1].to_owned(), parts[3].parse().unwrap())
}

#[test]
fn lock_holds_releases_and_times_out() {
    let h = hosts("lock");
    let out = ok(&h, &["lock", "/l", "--id", "one", "--hold", "0.2"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let (node, token) = acquired(lines[0], "acquired");
    assert!(
        node.starts_with("/l/") && node.contains("__lock__"),
        "{node}"
    );
    assert!(token > 0);
    assert_eq!(lines[1], "released");
    assert_eq!(ok(&h, &["ls", "/l"]), "");

    // A holder until Ctrl-C; a second kz times out with nothing left.
    let (mut holder, lines) = spawn_lines(&h, &["lock", "/l", "--id", "holder"]);
    let (node, _) = acquired(&lines.recv_timeout(LINE).unwrap(), "acquired");
    let err = fails(&h, &["--timeout", "1", "lock", "/l", "--id", "late"]);
    assert!(err.starts_with("kz: /l: LockTimeout"), "{err}");
    assert_eq!(ok(&h, &["contenders", "/l"]), "holder\n");
    interrupt(&holder);
    assert_eq!(holder.wait().unwrap().code(), Some(130));
    assert_eq!(ok(&h, &["ls", "/l"]), "", "{node} deleted");

    // Ctrl-C while waiting leaves nothing either.
    let (mut holder, lines) = spawn_lines(&h, &["wlock", "/l", "--id", "w"]);
    acquired(&lines.recv_timeout(LINE).unwrap(), "acquired");
    let (mut reader, _) = spawn_lines(&h, &["rlock", "/l", "--id", "r"]);
    let deadline = std::time::Instant::now() + LINE;
    while ok(&h, &["contenders", "/l"]) != "w\nr\n" {
        assert!(std::time::Instant::now() < deadline, "reader never queued");
        thread::sleep(Duration::from_millis(50));
    }
    interrupt(&reader);
    assert_eq!(reader.wait().unwrap().code(), Some(130));
    assert_eq!(ok(&h, &["contenders", "/l"]), "w\n");
    interrupt(&holder);
    assert_eq!(holder.wait().unwrap().code(), Some(130));
}

#[test]
fn a_lock_lost_while_held_exits_3() {
    let h = hosts("lock_lost");
    let (mut holder, lines) = spawn_lines(&h, &["lock", "/l", "--id", "h"]);
    let (node, _) = acquired(&lines.recv_timeout(LINE).unwrap(), "acquired");
    ok(&h, &["delete", &node]);
    let line = lines.recv_timeout(LINE).unwrap();
    assert!(line.starts_with("lost "), "{line}");
    assert_eq!(holder.wait().unwrap().code(), Some(3));
}

#[test]
fn a_lock_through_a_flap_and_through_a_partition() {
    let server = ZkServer::shared().expect("a ZooKeeper server");
    let chroot = server.chroot("kz-flap").unwrap();
    let proxy = kazoo_testing::Proxy::start(server.addr()).unwrap();
    let h = format!("{}{}", proxy.addr(), &chroot[chroot.find('/').unwrap()..]);
    let (mut holder, lines) = spawn_lines(&h, &["--timeout", "4", "lock", "/l", "--id", "h"]);
    acquired(&lines.recv_timeout(LINE).unwrap(), "acquired");
    // A cut that heals in time: suspended, reconnected, never lost.
    proxy.sever();
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "suspended");
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "reconnected");
    // A partition longer than the session timeout: lost, exit 3. (A
    // reconnect racing the cut may add a suspended/reconnected pair.)
    proxy.refuse(true);
    proxy.sever();
    let mut seen = Vec::new();
    let line = loop {
        let line = lines.recv_timeout(LINE).unwrap();
        if line.starts_with("lost ") {
            break line;
        }
        assert!(line == "suspended" || line == "reconnected", "{line}");
        seen.push(line);
    };
    assert_eq!(
        seen.last().map(String::as_str),
        Some("suspended"),
        "{seen:?}"
    );
    assert!(line.contains("session"), "{line}");
    assert_eq!(holder.wait().unwrap().code(), Some(3));
}

#[test]
fn semaphore_election_lease_and_contenders() {
    let h = hosts("recipes");
    let out = ok(
        &h,
        &[
            "semaphore",
            "/s",
            "--max",
            "2",
            "--id",
            "a",
            "--hold",
            "0.1",
        ],
    );
    let first = out.lines().next().unwrap();
    let (lease, _) = acquired(first, "acquired");
    assert!(lease.starts_with("/s/"), "{lease}");
    assert!(out.ends_with("released\n"), "{out}");
    assert_eq!(ok(&h, &["get", "/s"]), "2\n");
    let err = fails(&h, &["semaphore", "/s", "--max", "3", "--hold", "0.1"]);
    assert!(err.starts_with("kz: /s: MaxLeasesMismatch"), "{err}");

    let (mut leader, lines) = spawn_lines(&h, &["election", "/e", "--id", "boss"]);
    acquired(&lines.recv_timeout(LINE).unwrap(), "elected");
    assert_eq!(ok(&h, &["contenders", "/e"]), "boss\n");
    interrupt(&leader);
    assert_eq!(leader.wait().unwrap().code(), Some(130));
    let out = ok(&h, &["election", "/e", "--id", "next", "--hold", "0.1"]);
    assert!(
        out.starts_with("elected /e/") && out.ends_with("released\n"),
        "{out}"
    );

    assert_eq!(
        ok(&h, &["lease", "/ls", "--duration", "60", "--id", "a"]),
        "obtained\n"
    );
    assert_eq!(
        ok(&h, &["lease", "/ls", "--duration", "60", "--id", "a"]),
        "obtained\n"
    );
    let err = fails(&h, &["lease", "/ls", "--duration", "60", "--id", "b"]);
    assert!(err.contains("not obtained"), "{err}");
    assert_eq!(ok(&h, &["contenders", "/nothing"]), "");
}

#[test]
fn bad_recipe_usage_exits_2() {
    let h = hosts("recipe_usage");
    for args in [
        &["semaphore", "/s", "--max", "0"][..],
        &["semaphore", "/s"],
        &["lock", "/l", "--hold", "-1"],
        &["lock", "/l", "--hold", "soon"],
        &["lease", "/l", "--duration", "0"],
        &["lease", "/l"],
        &["election", "/e"],
    ] {
        let out = kz(&h, args);
        assert_eq!(out.status.code(), Some(2), "kz {args:?}: {out:?}");
    }
    let err = fails(&h, &["lock", "/l", "--id", "a/b"]);
    assert!(err.starts_with("kz: /l: InvalidIdentifier"), "{err}");
    let err = fails(&h, &["lock", "no-slash"]);
    assert!(err.starts_with("kz: no-slash: InvalidPath"), "{err}");
}

/// A chroot reached through a fault-injecting proxy.
fn through_proxy(name: &str) -> (kazoo_testing::Proxy, String, String) {
    let server = ZkServer::shared().expect("a ZooKeeper server");
    let chroot = server.chroot(name).unwrap();
    let proxy = kazoo_testing::Proxy::start(server.addr()).unwrap();
    let via = format!("{}{}", proxy.addr(), &chroot[chroot.find('/').unwrap()..]);
    (proxy, via, chroot)
}

/// The next lines until one that is not a connection state.
fn next_change(lines: &mpsc::Receiver<String>) -> String {
    loop {
        let line = lines.recv_timeout(LINE).unwrap();
        if !line.starts_with("state ") {
            return line;
        }
    }
}

#[test]
fn watch_prints_a_nodes_changes() {
    let h = hosts("watch-node");
    let (mut child, lines) = spawn_lines(&h, &["watch", "/n"]);
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "watching /n");
    ok(&h, &["create", "/n", "--data", "a"]);
    assert_eq!(
        lines.recv_timeout(LINE).unwrap(),
        "NodeCreated SyncConnected /n"
    );
    ok(&h, &["set", "/n", "b"]);
    assert_eq!(
        lines.recv_timeout(LINE).unwrap(),
        "NodeDataChanged SyncConnected /n"
    );
    ok(&h, &["create", "/n/child"]);
    ok(&h, &["delete", "/n", "-r"]);
    assert_eq!(
        lines.recv_timeout(LINE).unwrap(),
        "NodeDeleted SyncConnected /n"
    );
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

#[test]
fn watch_prints_changes_made_while_cut_off() {
    let (proxy, via, direct) = through_proxy("kz-watch-cut");
    ok(&direct, &["create", "/w", "--data", "before"]);
    ok(&direct, &["create", "/t"]);
    let (mut node, node_lines) = spawn_lines(&via, &["watch", "/w"]);
    let (mut tree, tree_lines) = spawn_lines(&via, &["watch", "/t", "--recursive"]);
    assert_eq!(node_lines.recv_timeout(LINE).unwrap(), "watching /w");
    assert_eq!(tree_lines.recv_timeout(LINE).unwrap(), "watching /t");
    // Cut for 2 s; the changes happen meanwhile.
    proxy.refuse(true);
    proxy.sever();
    assert_eq!(node_lines.recv_timeout(LINE).unwrap(), "state SUSPENDED");
    assert_eq!(tree_lines.recv_timeout(LINE).unwrap(), "state SUSPENDED");
    ok(&direct, &["set", "/w", "during"]);
    ok(&direct, &["create", "/t/new"]);
    thread::sleep(Duration::from_secs(2));
    proxy.refuse(false);
    assert_eq!(next_change(&node_lines), "NodeDataChanged SyncConnected /w");
    assert_eq!(next_change(&tree_lines), "NodeCreated SyncConnected /t/new");

    // A connection that goes silent until the read timeout. The changes
    // are made at once: made after the suspension, a slow machine could
    // take them past the session timeout and the watchers would see LOST.
    proxy.stall();
    ok(&direct, &["set", "/w", "silent"]);
    ok(&direct, &["delete", "/t/new"]);
    assert_eq!(next_state(&node_lines), "state SUSPENDED");
    proxy.resume();
    proxy.sever();
    assert_eq!(next_change(&node_lines), "NodeDataChanged SyncConnected /w");
    assert_eq!(next_change(&tree_lines), "NodeDeleted SyncConnected /t/new");
    node.kill().unwrap();
    tree.kill().unwrap();
    let _ = (node.wait(), tree.wait());
}

/// The next connection-state line.
fn next_state(lines: &mpsc::Receiver<String>) -> String {
    loop {
        let line = lines.recv_timeout(LINE).unwrap();
        if line.starts_with("state ") {
            return line;
        }
    }
}

#[test]
fn cache_prints_tree_cache_events() {
    let h = hosts("cache");
    ok(&h, &["create", "/c/a", "-p"]);
    let (mut child, lines) = spawn_lines(&h, &["cache", "/c"]);
    let first: Vec<_> = (0..3).map(|_| lines.recv_timeout(LINE).unwrap()).collect();
    assert_eq!(first, ["NODE_ADDED /c", "NODE_ADDED /c/a", "INITIALIZED"]);
    ok(&h, &["set", "/c/a", "x"]);
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "NODE_UPDATED /c/a");
    ok(&h, &["delete", "/c/a"]);
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "NODE_REMOVED /c/a");
    interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
}

#[test]
fn counter_queue_barrier_and_party() {
    let h = hosts("groups");
    assert_eq!(ok(&h, &["counter", "/n"]), "0\n");
    assert_eq!(ok(&h, &["counter", "/n", "--add", "5"]), "5\n");
    assert_eq!(ok(&h, &["counter", "/n", "--add", "-7"]), "-2\n");
    assert_eq!(ok(&h, &["get", "/n"]), "-2\n");
    ok(&h, &["set", "/n", "not a number"]);
    assert!(fails(&h, &["counter", "/n", "--add", "1"]).contains("BadCounterData"));

    assert_eq!(
        ok(&h, &["queue", "put", "/q", "late"]),
        "/q/entry-100-0000000000\n"
    );
    ok(&h, &["queue", "put", "/q", "first", "--priority", "1"]);
    assert_eq!(ok(&h, &["queue", "get", "/q"]), "first\n");
    assert_eq!(ok(&h, &["queue", "get", "/q"]), "late\n");
    let err = fails(&h, &["--timeout", "0.5", "queue", "get", "/q"]);
    assert!(err.contains("no item"), "{err}");
    let out = kz(&h, &["queue", "put", "/q", "x", "--priority", "1000"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    ok(&h, &["barrier", "create", "/b"]);
    let err = fails(&h, &["--timeout", "0.5", "barrier", "wait", "/b"]);
    assert!(err.contains("Timeout"), "{err}");
    let (mut waiter, _) = spawn_lines(&h, &["barrier", "wait", "/b"]);
    thread::sleep(Duration::from_millis(300));
    ok(&h, &["barrier", "remove", "/b"]);
    assert!(waiter.wait().unwrap().success());
    assert!(fails(&h, &["barrier", "remove", "/b"]).contains("NoNode"));

    let (mut member, lines) = spawn_lines(&h, &["party", "join", "/p", "--id", "m1"]);
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "joined");
    ok(&h, &["party", "join", "/p", "--id", "m0", "--hold", "0.1"]);
    assert_eq!(ok(&h, &["party", "list", "/p"]), "m1\n");
    interrupt(&member);
    assert_eq!(lines.recv_timeout(LINE).unwrap(), "left");
    assert_eq!(member.wait().unwrap().code(), Some(130));
    assert_eq!(ok(&h, &["party", "list", "/p"]), "");
}

/// A TLS server (secureClientPort) for this test binary, with its CA.
fn tls_server() -> &'static (ZkServer, kazoo_testing::TestPki, std::path::PathBuf) {
    static TLS: std::sync::OnceLock<(ZkServer, kazoo_testing::TestPki, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    TLS.get_or_init(|| {
        let pki = kazoo_testing::TestPki::generate().unwrap();
        let options = kazoo_testing::ServerOptions {
            tls: Some(kazoo_testing::ServerTls {
                pki: pki.clone(),
                require_client_cert: false,
            }),
            ..Default::default()
        };
        let server = ZkServer::start_with(&options).expect("a TLS server");
        let ca = server.dir().join("client-ca.pem");
        std::fs::write(&ca, &pki.ca_pem).unwrap();
        (server, pki, ca)
    })
}

#[test]
fn tls_flags_connect_and_an_untrusted_server_fails_in_time() {
    let (server, _, ca) = tls_server();
    let h = server.secure_addr().unwrap().to_string();
    let ca = ca.to_str().unwrap();
    assert_eq!(
        ok(&h, &["--tls-ca", ca, "create", "/over-tls", "--data", "x"]),
        "/over-tls\n"
    );
    assert_eq!(ok(&h, &["get", "/over-tls", "--tls-ca", ca]), "x\n");
    // A CA that did not sign the server's certificate.
    let stranger = kazoo_testing::TestPki::generate().unwrap();
    let other = server.dir().join("stranger-ca.pem");
    std::fs::write(&other, &stranger.ca_pem).unwrap();
    let started = std::time::Instant::now();
    let err = fails(
        &h,
        &[
            "--tls-ca",
            other.to_str().unwrap(),
            "--timeout",
            "3",
            "ls",
            "/",
        ],
    );
    assert!(err.contains("not trusted"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    // Plaintext to the TLS port: a timeout, not a hang.
    let err = fails(&h, &["--timeout", "2", "ls", "/"]);
    assert!(err.starts_with("kz: connect"), "{err}");
    // Bad files are bad usage.
    let out = kz(&h, &["--tls-ca", "/nonexistent.pem", "ls", "/"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = kz(&h, &["--tls-cert", ca, "ls", "/"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--tls-cert without --tls-key: {out:?}"
    );
}

#[test]
fn digest_credentials_come_from_the_environment() {
    let h = hosts("digest");
    let client = kazoo_std::connect(&h).unwrap();
    client.wait_connected().wait().unwrap();
    client
        .create("/guarded")
        .data("inside")
        .acl(vec![kazoo_std::acl::Acl::digest(
            "ann",
            "pw",
            kazoo_std::acl::Perms::ALL,
        )])
        .send()
        .wait()
        .unwrap();
    assert!(fails(&h, &["get", "/guarded"]).contains("NoAuth"));
    let out = Command::new(env!("CARGO_BIN_EXE_kz"))
        .args(["--hosts", &h, "get", "/guarded"])
        .env("KZ_DIGEST_AUTH", "ann:pw")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"inside\n");
    // --read-only is accepted (a read/write server serves it as usual).
    assert_eq!(ok(&h, &["--read-only", "ls", "/"]), "guarded\n");
    client.close().wait().unwrap();
}

#[test]
fn sasl_user_with_the_password_from_the_environment() {
    static SERVER: std::sync::OnceLock<ZkServer> = std::sync::OnceLock::new();
    let server = SERVER.get_or_init(|| {
        let options = kazoo_testing::ServerOptions {
            sasl_users: vec![("bob".into(), "bobsecret".into())],
            ..Default::default()
        };
        ZkServer::start_with(&options).expect("a SASL server")
    });
    let h = server.connect_string();
    let sasl = |password: Option<&str>, args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kz"));
        cmd.args(["--hosts", &h, "--sasl-user", "bob"]).args(args);
        cmd.env_remove("KZ_SASL_PASSWORD");
        if let Some(p) = password {
            cmd.env("KZ_SASL_PASSWORD", p);
        }
        cmd.output().unwrap()
    };
    let out = sasl(Some("bobsecret"), &["create", "/by-bob", "--data", "b"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = sasl(Some("bobsecret"), &["get", "/by-bob"]);
    assert_eq!(out.stdout, b"b\n", "{out:?}");
    // A wrong password: exit 1 naming the cause, at once, not at --timeout.
    let started = std::time::Instant::now();
    let out = sasl(Some("wrong"), &["--timeout", "20", "ls", "/"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authentication failed"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // No password in the environment: a usage error.
    let out = sasl(None, &["ls", "/"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("KZ_SASL_PASSWORD"));
}
