//! The invariants checked after every simulated run.

use std::sync::atomic::Ordering;

use kazoo::session::SessionState;

use super::counter_queue::CounterQueueLoad;
use super::locks::{LockLoad, LOCK};
use super::workload::Workload;
use super::World;

/// Every check; the first violation, described.
pub fn all(
    world: &World,
    load: &Workload,
    locks: &LockLoad,
    shared: &CounterQueueLoad,
) -> Result<(), String> {
    if let Some(stalled) = &world.stalled {
        return Err(stalled.clone());
    }
    if world.tls_errors > 0 {
        // Bytes arrive whole and in order: a TLS error is a defect.
        return Err(format!("{} TLS errors on the server end", world.tls_errors));
    }
    completed(load)?;
    acknowledged_writes_visible(world, load)?;
    counter_lost_nothing(world, load)?;
    watches_fired_once(world, load)?;
    for (i, c) in world.clients.iter().enumerate() {
        states_in_order(&c.states.lock().unwrap()).map_err(|e| format!("client {i}: {e}"))?;
    }
    recipes(world, locks)?;
    shared.verify(world)
}

/// Every request completed (once: a slot completes once by construction,
/// and the session's own property tests count completions).
fn completed(load: &Workload) -> Result<(), String> {
    if load.idle() {
        Ok(())
    } else {
        Err(format!("{} requests never completed", load.outstanding()))
    }
}

fn acknowledged_writes_visible(world: &World, load: &Workload) -> Result<(), String> {
    for path in &load.acked_creates {
        if world.server.node(path).is_none() {
            return Err(format!("acknowledged create {path} is gone"));
        }
    }
    Ok(())
}

/// Each acknowledged increment is in the counter; ambiguous ones may be.
fn counter_lost_nothing(world: &World, load: &Workload) -> Result<(), String> {
    let (data, _) = world.server.node("/counter").ok_or("the counter is gone")?;
    let value: u64 = std::str::from_utf8(&data)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("the counter is not a number")?;
    let (lo, hi) = (load.cas_acked, load.cas_acked + load.cas_ambiguous);
    if value < lo || value > hi {
        return Err(format!("counter {value}, acknowledged {lo}, at most {hi}"));
    }
    Ok(())
}

/// One-shot watches fire at most once, and a watch whose node changed
/// after it was set fires (an event, or the end of its session).
fn watches_fired_once(world: &World, load: &Workload) -> Result<(), String> {
    for w in &load.watches {
        let fired = w.fired.load(Ordering::SeqCst);
        if fired > 1 {
            return Err(format!(
                "a one-shot watch on {} fired {fired} times",
                w.path
            ));
        }
        let changed = world
            .server
            .node(&w.path)
            .is_some_and(|(_, s)| s.mzxid > w.mzxid);
        if changed && fired == 0 {
            return Err(format!(
                "client {}: the watch on {} missed a change",
                w.client, w.path
            ));
        }
    }
    for f in &load.failed_watch_reads {
        if f.load(Ordering::SeqCst) != 0 {
            return Err("a watch whose read failed fired".into());
        }
    }
    Ok(())
}

/// Session states in an order that can happen, with ids that never lie:
/// - `Connected { new_session: false }` only after `Suspended` of the same id;
/// - a new id only at the start, after `Lost` of the previous one, or when a
///   read-only session is taken over (PROTOCOL.md §2.6);
/// - `Suspended` and `Lost` only about the current session, and a lost id
///   is never connected again;
/// - nothing after `Closed`.
pub fn states_in_order(states: &[SessionState]) -> Result<(), String> {
    use SessionState::*;
    // The current session: its id, and whether a read-only server issued it.
    let mut current: Option<(i64, bool)> = None;
    let mut lost = std::collections::BTreeSet::new();
    let mut prev: Option<SessionState> = None;
    for &s in states {
        let id = s.session_id();
        let same = current.is_some_and(|(c, _)| c == id);
        let was_read_only = current.is_some_and(|(_, read_only)| read_only);
        let ok = !lost.contains(&id)
            && match (prev, s) {
                (Some(Closed { .. }), _) => false,
                (_, Closed { .. }) => same || current.is_none(),
                (
                    None | Some(Lost { .. }),
                    Connected {
                        new_session: true, ..
                    }
                    | ReadOnly { .. },
                ) => true,
                (
                    Some(Suspended { .. }),
                    Connected {
                        new_session: false, ..
                    },
                ) => same,
                (
                    Some(Suspended { .. }),
                    Connected {
                        new_session: true, ..
                    },
                ) => !same && was_read_only,
                (Some(Suspended { .. }), ReadOnly { .. }) => same || was_read_only,
                (Some(Connected { .. } | ReadOnly { .. }), Suspended { .. }) => same,
                (Some(Suspended { .. } | Connected { .. } | ReadOnly { .. }), Lost { .. }) => same,
                // A resumed session the server no longer knows.
                (None, Lost { .. }) => true,
                _ => false,
            };
        if !ok {
            return Err(format!("{prev:?} then {s:?} in {states:?}"));
        }
        match s {
            Connected { session_id, .. } => current = Some((session_id, false)),
            ReadOnly { session_id } => current = Some((session_id, true)),
            Lost { session_id, .. } => {
                lost.insert(session_id);
                current = None;
            }
            _ => {}
        }
        prev = Some(s);
    }
    Ok(())
}

/// The lock: no two live holders and a register that never went back
/// (checked at every instant), every holder done, and no contender node
/// left once everything settled.
fn recipes(world: &World, locks: &LockLoad) -> Result<(), String> {
    if let Some(v) = locks.violations.first() {
        return Err(format!("lock: {v}"));
    }
    if !locks.idle() {
        return Err("a lock holder or acquire never finished".into());
    }
    let left = world
        .server
        .node(LOCK)
        .map_or(0, |(_, stat)| stat.num_children);
    if left != 0 {
        return Err(format!("{left} lock contender nodes left behind"));
    }
    Ok(())
}
