//! The Counter and LockingQueue recipes under the world's faults.
//!
//! Counter: every client adds 1 again and again. An add that succeeded
//! counted exactly once; one that failed with `UnknownOutcome` counted
//! once or not at all; nothing else moves the counter. So at the end the
//! value lies between the successes and the successes plus the unknowns,
//! and it never goes down.
//!
//! LockingQueue: every client puts items and takes and consumes them. No
//! item is consumed twice; at the end every item put is consumed or still
//! queued (or its consume's outcome is unknown): none is lost.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kazoo::client::Task;
use kazoo::recipe::{Change, LockingQueue, RecipeError};
use kazoo::Error;

use super::workload::poll;
use super::World;

pub const COUNTER: &str = "/rcounter";
pub const QUEUE: &str = "/rqueue";

enum Adding {
    Idle { next: Instant },
    Busy(Task<Change<i64>>),
}

enum Queueing {
    Idle { next: Instant },
    Putting(Task<String>, String),
    Getting(Task<Option<Bytes>>),
    Consuming(Task<bool>, String),
}

pub struct CounterQueueLoad {
    adders: Vec<Adding>,
    queues: Vec<(LockingQueue, Queueing, u32)>,
    pub added: u64,
    pub unknown_adds: u64,
    seen_value: i64,
    pub put: BTreeSet<String>,
    /// Puts that failed: the item may or may not be in the queue.
    pub maybe_put: BTreeSet<String>,
    pub consumed: BTreeMap<String, usize>,
    /// Consumes that failed: the item may or may not be consumed.
    pub maybe_consumed: BTreeSet<String>,
    pub violations: Vec<String>,
}

/// `SIM_TRACE_QUEUE=1`: what each consumer got and how its consume ended.
fn trace(world: &World, client: usize, what: &str) {
    if std::env::var("SIM_TRACE_QUEUE").is_ok() {
        eprintln!(
            "{:?} client {client} ({:#x}): {what}",
            world.elapsed(),
            world.clients[client].client.session_id()
        );
    }
}

impl CounterQueueLoad {
    pub fn new(world: &World) -> CounterQueueLoad {
        let n = world.clients.len();
        CounterQueueLoad {
            adders: (0..n).map(|_| Adding::Idle { next: world.now }).collect(),
            queues: world
                .clients
                .iter()
                .map(|c| {
                    (
                        c.client.locking_queue(QUEUE),
                        Queueing::Idle { next: world.now },
                        0,
                    )
                })
                .collect(),
            added: 0,
            unknown_adds: 0,
            seen_value: 0,
            put: BTreeSet::new(),
            maybe_put: BTreeSet::new(),
            consumed: BTreeMap::new(),
            maybe_consumed: BTreeSet::new(),
            violations: Vec::new(),
        }
    }

    pub fn step(&mut self, world: &mut World, start_new: bool) {
        for i in 0..self.adders.len() {
            let client = world.clients[i].client.clone();
            let step = std::mem::replace(&mut self.adders[i], Adding::Idle { next: world.now });
            self.adders[i] = match step {
                Adding::Idle { next } if start_new && world.now >= next => {
                    Adding::Busy(client.counter(COUNTER).add(1))
                }
                idle @ Adding::Idle { .. } => idle,
                Adding::Busy(mut task) => match poll(&mut task) {
                    None => Adding::Busy(task),
                    Some(result) => {
                        match result {
                            Ok(_) => self.added += 1,
                            Err(Error::Recipe(RecipeError::UnknownOutcome(_))) => {
                                self.unknown_adds += 1
                            }
                            // Nothing else leaves a write behind: the
                            // recipe retries until it knows.
                            Err(_) => self.unknown_adds += 1,
                        }
                        Adding::Idle {
                            next: world.now + world.rng.millis(20, 150),
                        }
                    }
                },
            };
        }
        for i in 0..self.queues.len() {
            let (queue, step, made) = &mut self.queues[i];
            let current = std::mem::replace(step, Queueing::Idle { next: world.now });
            *step = match current {
                Queueing::Idle { next } if start_new && world.now >= next => {
                    if world.rng.chance(500) {
                        *made += 1;
                        let item = format!("c{i}-{made}");
                        Queueing::Putting(queue.put(item.clone()), item)
                    } else {
                        Queueing::Getting(queue.get_timeout(Duration::from_millis(200)))
                    }
                }
                idle @ Queueing::Idle { .. } => idle,
                Queueing::Putting(mut task, item) => match poll(&mut task) {
                    None => Queueing::Putting(task, item),
                    Some(result) => {
                        if result.is_ok() {
                            self.put.insert(item);
                        } else {
                            self.maybe_put.insert(item);
                        }
                        Queueing::Idle {
                            next: world.now + world.rng.millis(20, 150),
                        }
                    }
                },
                Queueing::Getting(mut task) => match poll(&mut task) {
                    None => Queueing::Getting(task),
                    Some(Ok(Some(item))) => {
                        let item = String::from_utf8_lossy(&item).into_owned();
                        trace(world, i, &format!("got {item}"));
                        Queueing::Consuming(queue.consume(), item)
                    }
                    Some(_) => Queueing::Idle {
                        next: world.now + world.rng.millis(20, 150),
                    },
                },
                Queueing::Consuming(mut task, item) => match poll(&mut task) {
                    None => Queueing::Consuming(task, item),
                    Some(result) => {
                        trace(world, i, &format!("consume {item}: {result:?}"));
                        match result {
                            Ok(true) => {
                                let n = self.consumed.entry(item.clone()).or_default();
                                *n += 1;
                                if *n > 1 {
                                    self.violations.push(format!(
                                        "{item} consumed twice (at {:?})",
                                        world.elapsed()
                                    ));
                                }
                            }
                            Ok(false) => {}
                            Err(_) => {
                                self.maybe_consumed.insert(item);
                            }
                        }
                        Queueing::Idle {
                            next: world.now + world.rng.millis(20, 150),
                        }
                    }
                },
            };
        }
        self.check(world);
    }

    /// The counter never goes down.
    fn check(&mut self, world: &World) {
        let Some((data, _)) = world.server.node(COUNTER) else {
            return;
        };
        let value = if data.is_empty() {
            0
        } else {
            std::str::from_utf8(&data)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(-1)
        };
        if value < self.seen_value {
            self.violations.push(format!(
                "the counter went back from {} to {value}",
                self.seen_value
            ));
        }
        self.seen_value = value;
    }

    pub fn idle(&self) -> bool {
        self.adders.iter().all(|a| matches!(a, Adding::Idle { .. }))
            && self
                .queues
                .iter()
                .all(|(_, s, _)| matches!(s, Queueing::Idle { .. }))
    }

    /// The end state: the counter's bounds, and every item accounted for.
    pub fn verify(&self, world: &World) -> Result<(), String> {
        if let Some(v) = self.violations.first() {
            return Err(v.clone());
        }
        if !self.idle() {
            return Err("a counter add or queue call never finished".into());
        }
        let value = self.seen_value.max(0) as u64;
        if value < self.added || value > self.added + self.unknown_adds {
            return Err(format!(
                "counter at {value}: {} adds succeeded, {} unknown",
                self.added, self.unknown_adds
            ));
        }
        let entries = format!("{QUEUE}/entries");
        let queued: BTreeSet<String> = world
            .server
            .children(&entries)
            .iter()
            .filter_map(|name| world.server.node(&format!("{entries}/{name}")))
            .map(|(data, _)| String::from_utf8_lossy(&data).into_owned())
            .collect();
        for item in &self.put {
            let here = queued.contains(item)
                || self.consumed.contains_key(item)
                || self.maybe_consumed.contains(item);
            if !here {
                return Err(format!("{item} was put and is gone, never consumed"));
            }
        }
        for item in queued.iter().chain(self.consumed.keys()) {
            if !self.put.contains(item) && !self.maybe_put.contains(item) {
                return Err(format!("{item} appeared without a put"));
            }
        }
        Ok(())
    }
}
