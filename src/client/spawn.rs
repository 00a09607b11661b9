//! Background work with no runtime: a future polled on the adapter's
//! [`Dispatch`](super::Dispatch) whenever it is woken.
//!
//! Recipes need work that outlives the caller's future: a cancelled
//! acquire must still delete its node, a dropped lock guard releases in
//! the background, a leader latch keeps re-entering the election. Each
//! poll is short (it only sends requests and looks at replies), so it may
//! run on the callback thread or task between callbacks.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Wake, Waker};

use super::Inner;

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One spawned future; its waker schedules a poll on the dispatcher.
struct Spawned {
    /// `None` once finished (or while being polled).
    future: Mutex<Option<Work>>,
    /// Weak: the session's slots hold this task's wakers, and the task
    /// must not keep the client alive.
    inner: Weak<Inner>,
    /// Woken while being polled: poll again after.
    state: Mutex<RunState>,
}

#[derive(Clone, Copy, PartialEq)]
enum RunState {
    Idle,
    Scheduled,
    Running,
    /// Woken while running: schedule again when the poll ends.
    RunningWoken,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Spawned {
    fn schedule(self: &Arc<Self>) {
        {
            let mut s = lock(&self.state);
            match *s {
                RunState::Idle => *s = RunState::Scheduled,
                RunState::Running => {
                    *s = RunState::RunningWoken;
                    return;
                }
                RunState::Scheduled | RunState::RunningWoken => return,
            }
        }
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let task = self.clone();
        inner.dispatch_job(Box::new(move || task.run()));
    }

    fn run(self: Arc<Self>) {
        *lock(&self.state) = RunState::Running;
        let waker = Waker::from(self.clone());
        let mut cx = Context::from_waker(&waker);
        let mut slot = lock(&self.future);
        let done = match slot.as_mut() {
            Some(f) => f.as_mut().poll(&mut cx).is_ready(),
            None => true,
        };
        let finished = if done { slot.take() } else { None };
        drop(slot);
        // Dropped outside the lock: the future may hold the last handle
        // whose drop runs more code.
        drop(finished);
        let again = {
            let mut s = lock(&self.state);
            let again = *s == RunState::RunningWoken && !done;
            *s = RunState::Idle;
            again
        };
        if again {
            self.schedule();
        }
    }
}

impl Wake for Spawned {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}

/// Starts `future` in the background of the client owning `inner`.
pub(crate) fn spawn(inner: &Arc<Inner>, future: impl Future<Output = ()> + Send + 'static) {
    let task = Arc::new(Spawned {
        future: Mutex::new(Some(Box::pin(future))),
        inner: Arc::downgrade(inner),
        state: Mutex::new(RunState::Idle),
    });
    task.schedule();
}
