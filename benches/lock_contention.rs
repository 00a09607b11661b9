//! Lock contention: 8 clients take one Lock in turn, each holder writing a
//! counter through a fenced transaction, on each adapter. Reports
//! acquisitions per second (the issue's contention figure) and the
//! process's CPU time per acquisition.
//!
//! ```sh
//! cargo bench --bench lock_contention                  # starts a real server
//! cargo bench --bench lock_contention -- 127.0.0.1:2181 [acquisitions]
//! ```

#![allow(clippy::disallowed_methods)]

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use kazoo::session::Config;
use kazoo::Client;

const CLIENTS: usize = 8;

fn run(adapter: &str, hosts: &str, total: usize, start: &dyn Fn(Config) -> Client) {
    let setup = start(Config::new(hosts).unwrap());
    setup
        .wait_connected()
        .wait_timeout(Duration::from_secs(30))
        .expect("connected");
    let root = format!("/bench-lock-{adapter}-{}", std::process::id());
    setup
        .create(format!("{root}/counter"))
        .data("0")
        .make_parents()
        .send()
        .wait()
        .unwrap();
    let clients: Vec<Client> = (0..CLIENTS)
        .map(|_| {
            let c = start(Config::new(hosts).unwrap());
            c.wait_connected()
                .wait_timeout(Duration::from_secs(30))
                .expect("connected");
            c
        })
        .collect();
    let per_client = total / CLIENTS;
    let root = Arc::new(root);
    let (cpu0, t0) = (common::cpu_seconds(), Instant::now());
    let workers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            let root = root.clone();
            thread::spawn(move || {
                let lock = client.lock(format!("{root}/lock")).id(format!("w{i}"));
                let counter = format!("{root}/counter");
                for _ in 0..per_client {
                    let guard = lock.acquire().wait().expect("acquired");
                    let (data, stat) = client.get(&counter).send().wait().unwrap();
                    let data = data.unwrap_or_default();
                    let n: u64 = std::str::from_utf8(&data).unwrap().parse().unwrap();
                    guard
                        .fence(client.transaction())
                        .set(&counter, (n + 1).to_string())
                        .version(stat.version)
                        .commit()
                        .wait()
                        .expect("fenced write");
                    guard.release().wait().expect("released");
                }
                client.close().wait().unwrap();
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let (elapsed, cpu) = (t0.elapsed().as_secs_f64(), common::cpu_seconds() - cpu0);
    let done = per_client * CLIENTS;
    let (data, _) = setup.get(format!("{root}/counter")).send().wait().unwrap();
    assert_eq!(data.as_deref(), Some(done.to_string().as_bytes()));
    println!(
        "RESULT client=kazoo-rs adapter={adapter} workload=lock-contention clients={CLIENTS} acquisitions={done} acq_per_s={:.0} cpu_us_per_acq={:.0}",
        done as f64 / elapsed,
        cpu * 1e6 / done as f64
    );
    setup
        .delete(root.as_str())
        .recursive()
        .send()
        .wait()
        .unwrap();
    setup.close().wait().unwrap();
}

fn main() {
    let (_server, hosts, args) = common::server_and_args();
    let total: usize = args.first().and_then(|n| n.parse().ok()).unwrap_or(1600);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    run("std", &hosts, total, &|c| kazoo_std::start(c));
    run("mio", &hosts, total, &|c| kazoo_mio::start(c));
    run("tokio", &hosts, total, &move |c| {
        kazoo_tokio::start(&handle, c)
    });
}
