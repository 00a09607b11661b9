//! kazoo's recipes, written once over [`Client`](crate::Client): they work
//! on every adapter, blocking (`.wait()`) or async (`.await`), and use
//! kazoo's znode layout, so Rust and Python processes coordinate on the
//! same paths (docs/recipes.md has the table).
//!
//! What they share, and what makes them safe under faults
//! (RECIPES.md): contender nodes are created with a unique prefix and
//! found again after a lost reply, but only if the **current** session
//! owns them; sequence numbers are compared as numbers, across the
//! 32-bit wrap; every wait re-checks from scratch after any wake-up and
//! watches only the node just ahead; a failed, timed-out or cancelled
//! call (its future dropped) deletes its node in the background, through
//! connection loss; and what is held reports a [`Status`] that follows
//! the session's state and identity, per a [`LossPolicy`].

mod barrier;
mod counter;
mod election;
mod error;
mod held;
mod lease;
mod lock;
mod node;
mod partitioner;
mod party;
mod queue;
mod semaphore;
mod sequence;
mod tree_cache;
mod wait;
mod watchers;

pub use barrier::{Barrier, DoubleBarrier};
pub use counter::{Change, Counter, CounterValue};
pub use election::{Election, LeaderLatch};
pub use error::RecipeError;
pub use held::{LossPolicy, LostFuture, Status};
pub use lease::{Clock, MultiNonBlockingLease, NonBlockingLease};
pub use lock::{Lock, LockGuard};
pub use node::NodeStyle;
pub use partitioner::{
    round_robin, PartitionFn, PartitionState, SetPartitioner, SetPartitionerBuilder,
};
pub use party::Party;
pub use queue::{LockingQueue, Queue};
pub use semaphore::{Lease, Semaphore};
pub use tree_cache::{NodeData, TreeCache, TreeCacheBuilder, TreeEvent};
pub use watchers::{ChildrenChange, ChildrenWatch, DataChange, DataWatch, Running};

/// Entry points for the fuzz targets (`fuzz/fuzz_targets/recipe_parsers.rs`),
/// built only under `cargo fuzz`: what recipes parse from nodes others
/// wrote must never panic, and what they write must read back the same.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// kazoo's lease JSON: decoded, re-encoded, decoded again equal.
    pub fn lease_record(data: &[u8]) {
        super::lease::check_record_round_trip(data);
    }

    /// Contender names and their wrap-aware order; queue entry names.
    pub fn names(names: &[String]) {
        let mut found = super::sequence::contenders(names, &["__lock__", "__rlock__", "-lock-"]);
        super::sequence::sort(&mut found);
        super::queue::check_entry_order(names);
    }
}
