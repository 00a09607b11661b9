//! Clients that take one Lock, write a shared register through a fenced
//! transaction carrying their fencing token, and release, under the
//! world's faults. Checked at every virtual instant: no two clients hold
//! the lock while their sessions live on the server, and the register
//! only ever moves to the token of the holder whose node is first.

use std::time::{Duration, Instant};

use kazoo::client::{Pending, Task};
use kazoo::proto::MultiResult;
use kazoo::recipe::{LockGuard, Status};

use super::workload::poll;
use super::World;

pub const LOCK: &str = "/lock";
pub const REGISTER: &str = "/register";

enum Step {
    Idle {
        next: Instant,
    },
    Acquiring(Task<LockGuard>),
    Holding {
        guard: LockGuard,
        write: Option<Pending<Vec<MultiResult>>>,
        until: Instant,
    },
    Releasing(Task<()>),
}

#[derive(Default)]
pub struct LockLoad {
    clients: Vec<Option<Step>>,
    pub grants: u64,
    pub fenced_writes: u64,
    /// The register's value when last looked at (a token, or 0).
    register: i64,
    pub violations: Vec<String>,
}

impl LockLoad {
    pub fn new(world: &World) -> LockLoad {
        LockLoad {
            clients: (0..world.clients.len())
                .map(|_| Some(Step::Idle { next: world.now }))
                .collect(),
            ..LockLoad::default()
        }
    }

    pub fn step(&mut self, world: &mut World, start_new: bool) {
        for i in 0..self.clients.len() {
            let client = world.clients[i].client.clone();
            let step = self.clients[i].take().expect("a step");
            let next = match step {
                Step::Idle { next } if start_new && world.now >= next => Step::Acquiring(
                    client
                        .lock(LOCK)
                        .id(format!("c{i}"))
                        .acquire_timeout(Duration::from_secs(4)),
                ),
                idle @ Step::Idle { .. } => idle,
                Step::Acquiring(mut task) => match poll(&mut task) {
                    None => Step::Acquiring(task),
                    Some(Ok(guard)) => {
                        self.grants += 1;
                        let tx = guard
                            .fence(client.transaction())
                            .set(REGISTER, guard.fencing_token().to_string());
                        let hold = world.rng.millis(1, 80);
                        Step::Holding {
                            guard,
                            write: Some(tx.commit()),
                            until: world.now + hold,
                        }
                    }
                    Some(Err(_)) => Step::Idle {
                        next: world.now + world.rng.millis(1, 50),
                    },
                },
                Step::Holding {
                    guard,
                    mut write,
                    until,
                } => {
                    if let Some(w) = write.as_mut() {
                        if let Some(result) = poll(w) {
                            if result.is_ok() {
                                self.fenced_writes += 1;
                            }
                            write = None;
                        }
                    }
                    if write.is_none() && (world.now >= until || guard.status() == Status::Lost) {
                        Step::Releasing(guard.release())
                    } else {
                        Step::Holding {
                            guard,
                            write,
                            until,
                        }
                    }
                }
                Step::Releasing(mut task) => match poll(&mut task) {
                    None => Step::Releasing(task),
                    Some(_) => Step::Idle {
                        next: world.now + world.rng.millis(1, 50),
                    },
                },
            };
            self.clients[i] = Some(next);
        }
        self.check(world);
    }

    /// The invariants at this virtual instant.
    fn check(&mut self, world: &World) {
        let holders: Vec<(usize, i64)> = self
            .clients
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Some(Step::Holding { guard, .. }) if guard.status() == Status::Held => {
                    Some((i, world.clients[i].client.session_id()))
                }
                _ => None,
            })
            .filter(|(_, session)| world.server.has_session(*session))
            .collect();
        if holders.len() > 1 {
            self.violations
                .push(format!("two holders at {:?}: {holders:?}", world.elapsed()));
        }
        let Some((data, _)) = world.server.node(REGISTER) else {
            return;
        };
        let token: i64 = std::str::from_utf8(&data)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        if token != self.register {
            // A fenced write lands only while its lock node exists, and
            // every later grant has a larger token: never backwards.
            if token < self.register {
                self.violations.push(format!(
                    "the register went back from {} to {token}",
                    self.register
                ));
            }
            self.register = token;
        }
    }

    pub fn idle(&self) -> bool {
        self.clients
            .iter()
            .all(|s| matches!(s, Some(Step::Idle { .. })))
    }
}
