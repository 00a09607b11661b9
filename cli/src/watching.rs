//! `kz watch` and `kz cache`: a node's changes (DataWatch) or a tree's
//! (TreeCache), printed as they happen, including changes made while the
//! connection was down (found by the re-read after the reconnect).
//! Connection states are printed as `state SUSPENDED`, `state CONNECTED`,
//! `state LOST` (kazoo's names), never as node events.

use std::io::Write;
use std::sync::mpsc;

use kazoo_std::proto::EventType;
use kazoo_std::recipe::TreeEvent;
use kazoo_std::session::SessionState;
use kazoo_std::{Client, Error};

/// One line to print, or the end.
enum Line {
    Print(String),
    Interrupted,
}

/// kazoo's name of a connection state, if it is one to print.
fn state_line(state: &SessionState) -> Option<String> {
    let name = match state {
        SessionState::Suspended { .. } => "SUSPENDED",
        SessionState::Connected { .. } | SessionState::ReadOnly { .. } => "CONNECTED",
        SessionState::Lost { .. } => "LOST",
        _ => return None,
    };
    Some(format!("state {name}"))
}

/// Prints lines from `rx` until Ctrl-C (exit 130) or the source ends.
fn print_until_interrupted(rx: mpsc::Receiver<Line>) -> u8 {
    let mut out = std::io::stdout().lock();
    for line in rx {
        match line {
            Line::Print(text) => {
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            Line::Interrupted => return 130,
        }
    }
    0
}

/// Ctrl-C ends the printing; with `states`, connection states are
/// printed too.
fn listen(client: &Client, tx: &mpsc::Sender<Line>, states: bool) {
    let interrupt = tx.clone();
    let _ = ctrlc::set_handler(move || {
        let _ = interrupt.send(Line::Interrupted);
    });
    if !states {
        return;
    }
    let states = tx.clone();
    client.add_listener(move |state| {
        if let Some(line) = state_line(&state) {
            let _ = states.send(Line::Print(line));
        }
    });
}

/// `kz watch PATH`: the node's creation, data changes and deletion.
pub(crate) fn watch(
    client: &Client,
    path: &str,
    timeout: std::time::Duration,
) -> Result<u8, Error> {
    let (tx, rx) = mpsc::channel();
    // Listening from the start: a state change while the watch is set up,
    // or right after "watching" is printed, must not slip past (one did,
    // and a cut showed up as LOST alone). Lines wait in `rx` until then.
    listen(client, &tx, true);
    let changes = tx.clone();
    let node = path.to_owned();
    let _watch = client
        .data_watch(path, move |change| {
            if change.kind == EventType::None {
                return true; // the value now: "watching" stands for it
            }
            let line = format!("{:?} SyncConnected {node}", change.kind);
            changes.send(Line::Print(line)).is_ok()
        })
        .wait_timeout(timeout)?;
    println!("watching {path}");
    drop(tx);
    Ok(print_until_interrupted(rx))
}

/// `kz watch --recursive PATH`: changes anywhere under the node.
pub(crate) fn watch_tree(
    client: &Client,
    path: &str,
    timeout: std::time::Duration,
) -> Result<u8, Error> {
    let (tx, rx) = mpsc::channel();
    listen(client, &tx, true); // from the start, as in `watch`
    let cache = client.tree_cache(path).start()?;
    // The tree as it is now is not news: skip to the end of the load.
    loop {
        match cache.recv_timeout(timeout)? {
            Some(TreeEvent::Initialized) => break,
            Some(_) => {}
            None => return Ok(0),
        }
    }
    println!("watching {path}");
    follow(cache, tx, rx, |event| match event {
        TreeEvent::Added(n) => Some(format!("NodeCreated SyncConnected {}", n.path)),
        TreeEvent::Updated { new, .. } => {
            Some(format!("NodeDataChanged SyncConnected {}", new.path))
        }
        TreeEvent::Removed(n) => Some(format!("NodeDeleted SyncConnected {}", n.path)),
        _ => None,
    })
}

/// `kz cache PATH`: every TreeCache event, with kazoo's event names.
pub(crate) fn cache(client: &Client, path: &str) -> Result<u8, Error> {
    let cache = client.tree_cache(path).start()?;
    let (tx, rx) = mpsc::channel();
    listen(client, &tx, false);
    follow(cache, tx, rx, |event| {
        Some(match event {
            TreeEvent::Added(n) => format!("NODE_ADDED {}", n.path),
            TreeEvent::Updated { new, .. } => format!("NODE_UPDATED {}", new.path),
            TreeEvent::Removed(n) => format!("NODE_REMOVED {}", n.path),
            TreeEvent::Initialized => "INITIALIZED".into(),
            TreeEvent::Suspended => "CONNECTION_SUSPENDED".into(),
            TreeEvent::Reconnected => "CONNECTION_RECONNECTED".into(),
            TreeEvent::Lost => "CONNECTION_LOST".into(),
            _ => return None,
        })
    })
}

/// Prints `cache`'s events (as `show` words them) and whatever else comes
/// through `tx` (states, Ctrl-C), until Ctrl-C.
fn follow(
    cache: kazoo_std::recipe::TreeCache,
    tx: mpsc::Sender<Line>,
    rx: mpsc::Receiver<Line>,
    show: impl Fn(&TreeEvent) -> Option<String> + Send + 'static,
) -> Result<u8, Error> {
    std::thread::spawn(move || {
        while let Some(event) = cache.recv() {
            if let Some(line) = show(&event) {
                if tx.send(Line::Print(line)).is_err() {
                    return;
                }
            }
        }
    });
    Ok(print_until_interrupted(rx))
}
