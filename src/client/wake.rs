//! Wakers are woken after the client's lock is released.
//!
//! Completing a request or pushing a watch event happens while the client
//! holds its lock; a waker woken right there may poll the future at once
//! (an executor on the same thread), and that poll takes the lock again.
//! So while [`Deferred`] is alive on a thread, [`wake`] keeps the waker and
//! [`Deferred`]'s drop wakes them all, after the caller has unlocked.

use std::cell::RefCell;
use std::task::Waker;

thread_local! {
    static DEFERRED: RefCell<Option<Vec<Waker>>> = const { RefCell::new(None) };
}

/// Wakes `waker` now, or when the current [`Deferred`] ends.
pub(crate) fn wake(waker: Waker) {
    let now = DEFERRED.with(|d| match d.borrow_mut().as_mut() {
        Some(kept) => {
            kept.push(waker);
            None
        }
        None => Some(waker),
    });
    if let Some(w) = now {
        w.wake();
    }
}

/// Defers [`wake`] on this thread until dropped (nested ones are no-ops).
pub(crate) struct Deferred {
    outermost: bool,
}

impl Deferred {
    pub(crate) fn start() -> Deferred {
        let outermost = DEFERRED.with(|d| {
            let mut d = d.borrow_mut();
            let outermost = d.is_none();
            if outermost {
                *d = Some(Vec::new());
            }
            outermost
        });
        Deferred { outermost }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        if !self.outermost {
            return;
        }
        let kept = DEFERRED.with(|d| d.borrow_mut().take()).unwrap_or_default();
        for w in kept {
            w.wake();
        }
    }
}
