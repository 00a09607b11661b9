//! `kz lock`, `rlock`, `wlock`, `semaphore`, `election`, `lease`,
//! `contenders`: kazoo's recipes from the shell, on kazoo's layout.
//!
//! A holder prints `acquired <node> fencing-token <czxid>` (`elected …`
//! for an election), holds for `--hold` seconds or until Ctrl-C, releases
//! and prints `released`. While held it prints `suspended` and
//! `reconnected` as the connection comes and goes, and a line with `lost`
//! (then exit 3) only when the lock is really gone: the session lost or
//! replaced, or the own node deleted. Ctrl-C deletes the own node, closes
//! the session and exits 130.

use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kazoo_std::recipe::{Lease, LockGuard, LossPolicy, LostFuture, Status};
use kazoo_std::session::SessionState;
use kazoo_std::{Client, Error};

/// How a recipe command ended, beyond success and failure.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Done,
    /// The lock was lost while held: exit 3.
    Lost,
    /// Ctrl-C or SIGTERM: exit 130.
    Interrupted,
}

/// Which recipe to hold.
pub(crate) enum Hold<'a> {
    Lock {
        path: &'a str,
        kind: LockKind,
        id: &'a str,
    },
    Semaphore {
        path: &'a str,
        max: u32,
        id: &'a str,
    },
    Election {
        path: &'a str,
        id: &'a str,
    },
}

#[derive(Clone, Copy)]
pub(crate) enum LockKind {
    Exclusive,
    Read,
    Write,
}

/// What was acquired.
enum Held {
    Lock(LockGuard),
    Lease(Lease),
}

impl Held {
    fn describe(&self) -> (&str, i64) {
        match self {
            Held::Lock(g) => (g.path(), g.fencing_token()),
            Held::Lease(l) => (l.path(), l.fencing_token()),
        }
    }
    fn status(&self) -> Status {
        match self {
            Held::Lock(g) => g.status(),
            Held::Lease(l) => l.status(),
        }
    }
    fn lost(&self) -> LostFuture {
        match self {
            Held::Lock(g) => g.lost(),
            Held::Lease(l) => l.lost(),
        }
    }
    fn release(self) -> Result<(), Error> {
        match self {
            Held::Lock(g) => g.release().wait(),
            Held::Lease(l) => l.release().wait(),
        }
    }
}

/// Something that happened while waiting or holding.
enum Happened {
    Interrupted,
    State(SessionState),
    Lost,
}

/// Ctrl-C and SIGTERM as messages (installed once, for recipe commands).
fn interrupts(tx: mpsc::Sender<Happened>) {
    let _ = ctrlc::set_handler(move || {
        let _ = tx.send(Happened::Interrupted);
    });
}

// kz is the application around the core: it may read the clock.
#[allow(clippy::disallowed_methods)]
pub(crate) fn hold(
    client: &Client,
    what: Hold<'_>,
    hold: Option<Duration>,
    timeout: Duration,
) -> Result<Ending, Error> {
    let (tx, rx) = mpsc::channel();
    interrupts(tx.clone());
    // Acquire on another thread; Ctrl-C cancels it.
    let (done_tx, done_rx) = mpsc::channel();
    let cancel: Box<dyn Fn() + Send> = match what {
        Hold::Lock { path, kind, id } => {
            let lock = match kind {
                LockKind::Exclusive => client.lock(path),
                LockKind::Read => client.read_lock(path),
                LockKind::Write => client.write_lock(path),
            }
            .id(id)
            .policy(LossPolicy::SessionOnly);
            let task = lock.acquire_timeout(timeout);
            std::thread::spawn(move || {
                let _ = done_tx.send(task.wait().map(Held::Lock));
            });
            Box::new(move || lock.cancel())
        }
        Hold::Semaphore { path, max, id } => {
            let sem = client
                .semaphore(path, max)
                .id(id)
                .policy(LossPolicy::SessionOnly);
            let task = sem.acquire_timeout(timeout);
            std::thread::spawn(move || {
                let _ = done_tx.send(task.wait().map(Held::Lease));
            });
            Box::new(move || sem.cancel())
        }
        Hold::Election { path, id } => {
            let election = client.election(path).id(id).policy(LossPolicy::SessionOnly);
            let task = election.elect_timeout(timeout);
            std::thread::spawn(move || {
                let _ = done_tx.send(task.wait().map(Held::Lock));
            });
            Box::new(move || election.cancel())
        }
    };
    let elected = matches!(what, Hold::Election { .. });
    let held = loop {
        if let Ok(result) = done_rx.recv_timeout(Duration::from_millis(20)) {
            break result?;
        }
        if let Ok(Happened::Interrupted) = rx.try_recv() {
            cancel();
            return Ok(Ending::Interrupted);
        }
    };
    // Report the connection's ups and downs, and the loss, from now on.
    let listener = {
        let tx = tx.clone();
        client.add_listener(move |state| {
            let _ = tx.send(Happened::State(state));
        })
    };
    let lost = held.lost();
    std::thread::spawn(move || {
        // SessionOnly: completes only when the lock is really gone.
        if lost.wait() == Status::Lost {
            let _ = tx.send(Happened::Lost);
        }
    });
    // Listening before saying "acquired": a state change right after is heard.
    let mut out = std::io::stdout().lock();
    let (node, token) = held.describe();
    let node = node.to_owned();
    let owner = client.session_id();
    let word = if elected { "elected" } else { "acquired" };
    let _ = writeln!(out, "{word} {node} fencing-token {token}");
    let _ = out.flush();
    let until = hold.map(|d| Instant::now() + d);
    let ending = loop {
        let event = match until {
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(e) => e,
                Err(_) => break Ending::Done,
            },
            None => match rx.recv() {
                Ok(e) => e,
                Err(_) => break Ending::Done,
            },
        };
        match event {
            Happened::Interrupted => break Ending::Interrupted,
            Happened::Lost => break Ending::Lost,
            Happened::State(SessionState::Suspended { .. }) => {
                let _ = writeln!(out, "suspended");
            }
            Happened::State(SessionState::Connected {
                new_session: false, ..
            }) => {
                let _ = writeln!(out, "reconnected");
            }
            Happened::State(_) => {}
        }
        if held.status() == Status::Lost {
            break Ending::Lost;
        }
        let _ = out.flush();
    };
    client.remove_listener(listener);
    match ending {
        Ending::Lost => {
            let _ = writeln!(out, "lost {node}: {}", why_lost(client, owner));
            let _ = out.flush();
            let _ = held.release();
            Ok(Ending::Lost)
        }
        Ending::Interrupted => {
            // Closing the session right after deletes the node anyway.
            let _ = held.release();
            Ok(Ending::Interrupted)
        }
        Ending::Done => {
            held.release()?;
            let _ = writeln!(out, "released");
            Ok(Ending::Done)
        }
    }
}

/// Why a lock is gone, as far as this client can tell.
fn why_lost(client: &Client, node_owner: i64) -> &'static str {
    if client.session_id() != node_owner
        || !matches!(client.state(), Some(SessionState::Connected { .. }))
    {
        "session lost or replaced"
    } else {
        "node deleted"
    }
}

/// `kz lease`: take or renew; `Ok(true)` if obtained.
pub(crate) fn lease(
    client: &Client,
    path: &str,
    duration: Duration,
    id: &str,
    timeout: Duration,
) -> Result<bool, Error> {
    client
        .lease(path, duration, id)
        .try_acquire()
        .wait_timeout(timeout)
}

/// `kz contenders`: every lock or election contender, in order (readers
/// and writers both).
pub(crate) fn contenders(
    client: &Client,
    path: &str,
    timeout: Duration,
) -> Result<Vec<String>, Error> {
    client.write_lock(path).contenders().wait_timeout(timeout)
}

/// `<hostname>-<pid>`, the identifier when none is given (kazoo's
/// default for barriers and parties).
pub(crate) fn default_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}-{}", std::process::id())
}
