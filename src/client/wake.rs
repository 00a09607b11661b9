//! Wakers are woken after the client's lock is released.
//!
//! Completing a request or pushing a watch event happens while the client
//! holds its lock; a waker woken right there may poll the future at once
//! (an executor on the same thread), and that poll takes the lock again.
//! So while [`Deferred`] is alive on a thread, [`wake`] keeps the waker and
//! [`Deferred`]'s drop wakes them all, after the caller has unlocked.

use std::cell::RefCell;
use std::task::Waker;

/// This thread's deferred wakers.
struct Deferring {
    /// A [`Deferred`] is alive on this thread.
    active: bool,
    /// Kept between batches (emptied), so a batch of completions that are
    /// awaited allocates nothing.
    kept: Vec<Waker>,
}

thread_local! {
    static DEFERRED: RefCell<Deferring> = const {
        RefCell::new(Deferring {
            active: false,
            kept: Vec::new(),
        })
    };
}

/// The most wakers whose room is kept between batches.
const KEPT_ROOM: usize = 1024;

/// Wakes `waker` now, or when the current [`Deferred`] ends.
pub(crate) fn wake(waker: Waker) {
    let now = DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        if d.active {
            d.kept.push(waker);
            None
        } else {
            Some(waker)
        }
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
            let outermost = !d.active;
            d.active = true;
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
        let mut kept = DEFERRED.with(|d| {
            let mut d = d.borrow_mut();
            d.active = false;
            std::mem::take(&mut d.kept)
        });
        // A waker may run code that defers again: it finds the list empty.
        for w in kept.drain(..) {
            w.wake();
        }
        if kept.capacity() <= KEPT_ROOM {
            DEFERRED.with(|d| {
                let mut d = d.borrow_mut();
                if d.kept.capacity() == 0 {
                    d.kept = kept;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            // Woken wakers may defer again (a poll that completes more).
            let _nested = Deferred::start();
        }
    }

    /// Deferred wakers run when the outermost `Deferred` ends, and the
    /// list's room is kept for the next batch (no allocation per batch).
    #[test]
    fn deferred_wakers_run_at_the_end_and_the_room_is_kept() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        for batch in 1..=3 {
            {
                let _outer = Deferred::start();
                let _inner = Deferred::start();
                wake(Waker::from(count.clone()));
                wake(Waker::from(count.clone()));
                assert_eq!(count.0.load(Ordering::SeqCst), 2 * (batch - 1), "deferred");
            }
            assert_eq!(count.0.load(Ordering::SeqCst), 2 * batch);
            let room = DEFERRED.with(|d| d.borrow().kept.capacity());
            assert!(room >= 2, "room kept after batch {batch}");
        }
        wake(Waker::from(count.clone()));
        assert_eq!(count.0.load(Ordering::SeqCst), 7, "no Deferred: at once");
    }
}
