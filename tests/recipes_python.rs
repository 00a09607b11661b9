//! Rust and Python kazoo coordinate on the same paths: a Python `Lock`
//! and a Rust `Lock` exclude each other both ways and list each other as
//! contenders; the same for Semaphore leases and Election contenders;
//! both add to one Counter, share Queues and LockingQueues (priorities
//! kept), wait on each other's Barriers, list each other's Party members
//! and pass a DoubleBarrier together.
//! Python kazoo is installed with pip when missing; the test is skipped
//! (and says so) only when pip itself is unavailable.

#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use kazoo::recipe::Status;
use kazoo::Client;
use kazoo_testing::ZkServer;

const LINE: Duration = Duration::from_secs(20);

/// True when Python kazoo can be imported, installing it if needed.
fn python_kazoo() -> bool {
    let import = || {
        Command::new("python3")
            .args(["-c", "import kazoo"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if import() {
        return true;
    }
    let pip = Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !pip {
        eprintln!(
            "SKIPPED recipes_python: pip is unavailable, so Python kazoo cannot be installed"
        );
        return false;
    }
    let installed = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "kazoo==2.11.0",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(installed && import(), "pip could not install Python kazoo");
    true
}

/// The Python side: one command per line, one answer per line.
struct Python {
    child: Child,
    input: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Python {
    fn start(hosts: &str) -> Python {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/recipes.py");
        let mut child = Command::new("python3")
            .args([script, hosts])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let input = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Python {
            child,
            input,
            lines,
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.input, "{command}").unwrap();
        self.input.flush().unwrap();
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(LINE)
            .expect("an answer from Python")
    }

    fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.line()
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "quit");
        let _ = self.child.wait();
    }
}

fn setup(name: &str) -> Option<(Client, Python)> {
    if !python_kazoo() {
        return None;
    }
    let server = ZkServer::shared().expect("a ZooKeeper server");
    let hosts = server.chroot(&format!("py-{name}")).unwrap();
    let client = kazoo_std::start(kazoo::session::Config::new(&hosts).unwrap());
    client.wait_connected().wait_timeout(LINE).unwrap();
    Some((client, Python::start(&hosts)))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + LINE;
    while !f() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn python_and_rust_locks_exclude_each_other() {
    let Some((client, mut py)) = setup("lock") else {
        return;
    };
    let lock = client.lock("/lock").id("rust");
    // Python holds: Rust cannot take it and sees Python as the holder.
    assert_eq!(py.ask("trylock p /lock python"), "True");
    assert!(lock.try_acquire().wait().unwrap().is_none());
    assert_eq!(lock.contenders().wait().unwrap(), ["python"]);
    // Rust queues; Python lists it; Python's release hands over.
    let waiting = {
        let lock = lock.clone();
        thread::spawn(move || lock.acquire().wait_timeout(LINE))
    };
    wait_until("rust queued", || {
        py.ask("contenders /lock") == "python,rust"
    });
    assert_eq!(py.ask("release p"), "released");
    let guard = waiting.join().unwrap().unwrap();
    assert_eq!(guard.status(), Status::Held);
    // Rust holds: Python times out, then queues and gets it on release.
    assert_eq!(py.ask("trylock q /lock python"), "False");
    assert_eq!(py.ask("timedlock q /lock python 0.5"), "timeout");
    assert_eq!(py.ask("lock w /lock python"), "started");
    wait_until("python queued", || {
        lock.contenders().wait().unwrap() == ["rust", "python"]
    });
    guard.release().wait().unwrap();
    assert_eq!(py.line(), "acquired w");
    assert!(lock.try_acquire().wait().unwrap().is_none());
    assert_eq!(py.ask("release w"), "released");
    wait_until("all gone", || {
        client
            .get_children("/lock")
            .send()
            .wait()
            .unwrap()
            .is_empty()
    });
}

#[test]
fn python_and_rust_semaphores_share_leases() {
    let Some((client, mut py)) = setup("semaphore") else {
        return;
    };
    assert_eq!(py.ask("sem a /sem 2 python"), "True");
    let sem = client.semaphore("/sem", 2).id("rust");
    let lease = sem.try_acquire().wait().unwrap().expect("a second lease");
    assert!(client
        .semaphore("/sem", 2)
        .id("third")
        .try_acquire()
        .wait()
        .unwrap()
        .is_none());
    assert_eq!(py.ask("sem b /sem 2 python2"), "False");
    assert_eq!(py.ask("holders /sem 2"), "python,rust");
    let mut holders = sem.lease_holders().wait().unwrap();
    holders.sort();
    assert_eq!(holders, ["python", "rust"]);
    // Python refuses a different max_leases, as Rust does.
    assert!(py.ask("sem c /sem 3 x").starts_with("error ValueError"));
    assert!(client.semaphore("/sem", 3).try_acquire().wait().is_err());
    lease.release().wait().unwrap();
    assert_eq!(py.ask("sem b /sem 2 python2"), "True");
    assert_eq!(py.ask("release a"), "released");
    assert_eq!(py.ask("release b"), "released");
}

#[test]
fn python_and_rust_elections_list_each_other() {
    let Some((client, mut py)) = setup("election") else {
        return;
    };
    let election = client.election("/el").id("rust");
    let leader = election.elect().wait_timeout(LINE).unwrap();
    assert_eq!(py.ask("election /el"), "rust");
    assert_eq!(py.ask("lock w /el python"), "started");
    wait_until("python queued", || {
        election.contenders().wait().unwrap() == ["rust", "python"]
    });
    assert_eq!(py.ask("election /el"), "rust,python");
    leader.release().wait().unwrap();
    assert_eq!(py.line(), "acquired w");
    assert_eq!(election.contenders().wait().unwrap(), ["python"]);
    assert_eq!(py.ask("release w"), "released");
}

#[test]
fn python_and_rust_count_on_the_same_counter() {
    let Some((client, mut py)) = setup("counter") else {
        return;
    };
    let rust = {
        let counter = client.counter("/n");
        thread::spawn(move || {
            for _ in 0..200 {
                counter.add(1).wait_timeout(LINE).unwrap();
            }
        })
    };
    let py_value: i64 = py.ask("counter /n 200").parse().unwrap();
    rust.join().unwrap();
    assert!(py_value >= 200, "{py_value}");
    assert_eq!(client.counter("/n").value().wait().unwrap(), 400);
    assert_eq!(client.counter("/n").add(-1).wait().unwrap().post, 399);
    assert_eq!(py.ask("counter /n 1"), "400");
    // Floats in Python's repr, both ways.
    assert_eq!(py.ask("fcounter /f 2.5"), "2.5");
    let f = client.counter("/f").float();
    assert_eq!(f.add(0.1).wait().unwrap().post, 2.6);
    let py_repr = py.ask("fcounter /f 1e16");
    assert_eq!(py_repr, "1.0000000000000002e+16");
    assert_eq!(f.value().wait().unwrap(), 1e16 + 2.6);
    // Rust writes the same bytes Python does.
    f.add(0.0).wait().unwrap();
    let (bytes, _) = client.get("/f").send().wait().unwrap();
    assert_eq!(bytes.as_deref(), Some(py_repr.as_bytes()));
}

#[test]
fn python_and_rust_share_queues() {
    let Some((client, mut py)) = setup("queue") else {
        return;
    };
    let q = client.queue("/q");
    q.put("rust-late").wait().unwrap();
    assert_eq!(py.ask("qput /q py-first 5"), "ok");
    q.put_with_priority("rust-first", 1).wait().unwrap();
    assert_eq!(py.ask("qget /q"), "rust-first");
    assert_eq!(q.get().wait().unwrap().as_deref(), Some(&b"py-first"[..]));
    assert_eq!(py.ask("qget /q"), "rust-late");
    assert_eq!(py.ask("qget /q"), "None");

    let lq = client.locking_queue("/lq");
    assert_eq!(py.ask("lqput /lq from-python 100"), "ok");
    lq.put_with_priority("from-rust", 0).wait().unwrap();
    assert_eq!(py.ask("lqget /lq"), "from-rust");
    assert_eq!(lq.get().wait().unwrap(), "from-python");
    assert!(lq.consume().wait().unwrap());
    assert_eq!(lq.len().wait().unwrap(), 0);
    lq.put_all(["a", "b"], 7).wait().unwrap();
    assert_eq!(py.ask("lqget /lq"), "a");
    assert_eq!(py.ask("lqget /lq"), "b");
}

#[test]
fn python_and_rust_barriers_and_parties() {
    let Some((client, mut py)) = setup("barrier") else {
        return;
    };
    assert_eq!(py.ask("bcreate /b"), "ok");
    let b = client.barrier("/b");
    assert_eq!(
        b.wait_timeout(Duration::from_millis(200)).wait(),
        Err(kazoo::Error::Timeout)
    );
    assert_eq!(py.ask("bwait /b 0.2"), "False");
    assert!(b.remove().wait().unwrap());
    assert_eq!(py.ask("bwait /b 1"), "True");
    assert_eq!(py.ask("bremove /b"), "False");

    assert_eq!(py.ask("join p /party py"), "joined");
    let party = client.party("/party").id("rs");
    party.join().wait().unwrap();
    assert_eq!(py.ask("members /party"), "py,rs");
    let mut members = party.members().wait().unwrap();
    members.sort();
    assert_eq!(members, ["py", "rs"]);
    assert_eq!(py.ask("leave p"), "True");
    assert_eq!(party.members().wait().unwrap(), ["rs"]);

    assert_eq!(py.ask("sjoin s /shallow py-1"), "joined");
    let shallow = client.shallow_party("/shallow").id("rs-1");
    shallow.join().wait().unwrap();
    assert_eq!(py.ask("smembers /shallow"), "py-1,rs-1");
    let mut members = shallow.members().wait().unwrap();
    members.sort();
    assert_eq!(members, ["py-1", "rs-1"]);
}

#[test]
fn python_and_rust_enter_and_leave_a_double_barrier() {
    let Some((client, mut py)) = setup("double-barrier") else {
        return;
    };
    assert_eq!(py.ask("enter a /db 3 py-a"), "started");
    let rust = client.double_barrier("/db", 3).id("rs");
    let entering = {
        let rust = rust.clone();
        thread::spawn(move || rust.enter().wait_timeout(LINE))
    };
    thread::sleep(Duration::from_millis(300));
    assert!(!entering.is_finished(), "two of three");
    assert_eq!(py.ask("enter b /db 3 py-b"), "started");
    let mut entered = vec![py.line(), py.line()];
    entered.sort();
    assert_eq!(entered, ["entered a", "entered b"]);
    entering.join().unwrap().unwrap();
    assert_eq!(py.ask("dleave a"), "started");
    assert_eq!(py.ask("dleave b"), "started");
    rust.leave().wait_timeout(LINE).unwrap();
    let mut left = vec![py.line(), py.line()];
    left.sort();
    assert_eq!(left, ["left a", "left b"]);
    assert!(client.get_children("/db").send().wait().unwrap().is_empty());
}
