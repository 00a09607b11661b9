//! What the simulated clients do: unique creates, a compare-and-set
//! counter, one-shot watches on flags, and writes to the flags.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use bytes::Bytes;
use kazoo::client::{Pending, Task};
use kazoo::proto::Stat;
use kazoo::Error;

use super::World;

pub const FLAGS: usize = 4;

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Polls a future once (the world drives progress; nothing needs waking).
pub fn poll<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    match Pin::new(f).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

enum Cas {
    Idle,
    Reading(Pending<(Option<Bytes>, Stat)>),
    Writing(Pending<Stat>),
}

/// A one-shot watch left by a successful read.
pub struct WatchRecord {
    pub client: usize,
    pub path: String,
    /// The node's mzxid the read saw: a later change must fire the watch.
    pub mzxid: i64,
    pub fired: Arc<AtomicU32>,
}

/// A read that leaves a one-shot watch, and the watch's call count.
type WatchRead = (String, Pending<(Option<Bytes>, Stat)>, Arc<AtomicU32>);

struct ClientLoad {
    next_op: Instant,
    n: u64,
    creates: Vec<(String, Task<String>)>,
    cas: Cas,
    reads: Vec<WatchRead>,
    sets: Vec<Pending<Stat>>,
}

#[derive(Default)]
pub struct Workload {
    clients: Vec<ClientLoad>,
    pub acked_creates: Vec<String>,
    pub unacked_creates: u64,
    pub cas_acked: u64,
    pub cas_ambiguous: u64,
    pub watches: Vec<WatchRecord>,
    /// Callbacks of reads that failed (and so left no watch).
    pub failed_watch_reads: Vec<Arc<AtomicU32>>,
    pub ops: u64,
}

impl Workload {
    /// Creates the nodes the workload uses, with no faults.
    pub fn set_up(world: &mut World) -> Workload {
        let c = world.clients[0].client.clone();
        let mut setup = vec![
            Some(c.create("/w").send()),
            Some(c.create("/counter").data("0").send()),
            Some(c.create(super::locks::REGISTER).data("0").send()),
            Some(c.create(super::locks::LOCK).send()),
        ];
        for j in 0..FLAGS {
            setup.push(Some(c.create(format!("/flag{j}")).send()));
        }
        world.run(std::time::Duration::from_secs(5), false, |_| {
            for slot in setup.iter_mut() {
                if let Some(result) = slot.as_mut().and_then(poll) {
                    result.expect("set-up create");
                    *slot = None;
                }
            }
        });
        assert!(setup.iter().all(Option::is_none), "set-up did not finish");
        let now = world.now;
        Workload {
            clients: (0..world.clients.len())
                .map(|_| ClientLoad {
                    next_op: now,
                    n: 0,
                    creates: Vec::new(),
                    cas: Cas::Idle,
                    reads: Vec::new(),
                    sets: Vec::new(),
                })
                .collect(),
            ..Workload::default()
        }
    }

    /// One step: start new operations where due, collect finished ones.
    pub fn step(&mut self, world: &mut World, start_new: bool) {
        for i in 0..self.clients.len() {
            if start_new && world.now >= self.clients[i].next_op {
                self.start_op(world, i);
                self.clients[i].next_op = world.now + world.rng.millis(5, 120);
            }
            let client = world.clients[i].client.clone();
            self.collect(i, &client);
        }
    }

    fn start_op(&mut self, world: &mut World, i: usize) {
        let client = world.clients[i].client.clone();
        let load = &mut self.clients[i];
        load.n += 1;
        self.ops += 1;
        match world.rng.below(10) {
            0..=2 => {
                let path = format!("/w/c{i}-{}", load.n);
                let task = client
                    .create(path.as_str())
                    .data(format!("{}", load.n))
                    .send();
                load.creates.push((path, task));
            }
            3..=5 => {
                if matches!(load.cas, Cas::Idle) {
                    load.cas = Cas::Reading(client.get("/counter").send());
                }
            }
            6..=7 => {
                let path = format!("/flag{}", world.rng.below(FLAGS as u64));
                let fired = Arc::new(AtomicU32::new(0));
                let f = fired.clone();
                let read = client
                    .get(path.as_str())
                    .watch(move |_| {
                        f.fetch_add(1, Ordering::SeqCst);
                    })
                    .send();
                load.reads.push((path, read, fired));
            }
            _ => {
                let path = format!("/flag{}", world.rng.below(FLAGS as u64));
                load.sets
                    .push(client.set(path, format!("{}", world.rng.next())).send());
            }
        }
    }

    fn collect(&mut self, i: usize, client: &kazoo::Client) {
        let load = &mut self.clients[i];
        let mut k = 0;
        while k < load.creates.len() {
            match poll(&mut load.creates[k].1) {
                None => k += 1,
                Some(result) => {
                    let (path, _) = load.creates.swap_remove(k);
                    match result {
                        Ok(created) => {
                            assert_eq!(created, path);
                            self.acked_creates.push(path);
                        }
                        Err(_) => self.unacked_creates += 1,
                    }
                }
            }
        }
        load.cas = match std::mem::replace(&mut load.cas, Cas::Idle) {
            Cas::Reading(mut read) => match poll(&mut read) {
                None => Cas::Reading(read),
                Some(Ok((data, stat))) => {
                    let value: u64 = std::str::from_utf8(data.as_deref().unwrap_or_default())
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(u64::MAX);
                    assert_ne!(value, u64::MAX, "counter holds {data:?}");
                    Cas::Writing(
                        client
                            .set("/counter", format!("{}", value + 1))
                            .version(stat.version)
                            .send(),
                    )
                }
                Some(Err(_)) => Cas::Idle,
            },
            Cas::Writing(mut write) => match poll(&mut write) {
                None => Cas::Writing(write),
                Some(Ok(_)) => {
                    self.cas_acked += 1;
                    Cas::Idle
                }
                Some(Err(Error::ConnectionLoss)) => {
                    self.cas_ambiguous += 1;
                    Cas::Idle
                }
                Some(Err(_)) => Cas::Idle,
            },
            Cas::Idle => Cas::Idle,
        };
        let mut k = 0;
        while k < load.reads.len() {
            match poll(&mut load.reads[k].1) {
                None => k += 1,
                Some(result) => {
                    let (path, _, fired) = load.reads.swap_remove(k);
                    match result {
                        Ok((_, stat)) => self.watches.push(WatchRecord {
                            client: i,
                            path,
                            mzxid: stat.mzxid,
                            fired,
                        }),
                        Err(_) => self.failed_watch_reads.push(fired),
                    }
                }
            }
        }
        load.sets.retain_mut(|s| poll(s).is_none());
    }

    /// True once every operation has finished.
    pub fn idle(&self) -> bool {
        self.clients.iter().all(|c| {
            c.creates.is_empty()
                && matches!(c.cas, Cas::Idle)
                && c.reads.is_empty()
                && c.sets.is_empty()
        })
    }

    pub fn outstanding(&self) -> usize {
        self.clients
            .iter()
            .map(|c| {
                c.creates.len()
                    + usize::from(!matches!(c.cas, Cas::Idle))
                    + c.reads.len()
                    + c.sets.len()
            })
            .sum()
    }
}
