//! A lock shared by three workers, each writing under it with a fenced
//! transaction, then a holder that learns its lock was lost.
//!
//! Run: `cargo run --example lock` (the embedded server unless `ZK_HOSTS`
//! is set; point it at a real ensemble and run Python kazoo's
//! `zk.Lock("/examples/lock")` beside it: they exclude each other).

mod common;

use std::thread;

use kazoo::recipe::Status;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = common::hosts()?;
    let setup = kazoo_std::connect(&hosts)?;
    setup
        .delete("/examples/lock")
        .recursive()
        .send()
        .wait()
        .ok();
    setup
        .create("/examples/counter")
        .data("0")
        .make_parents()
        .send()
        .wait()
        .ok();

    let workers: Vec<_> = (0..3)
        .map(|i| {
            let hosts = hosts.clone();
            thread::spawn(move || -> Result<(), kazoo::Error> {
                let client = kazoo_std::connect(&hosts)?;
                let lock = client.lock("/examples/lock").id(format!("worker-{i}"));
                for _ in 0..3 {
                    let guard = lock.acquire().wait()?;
                    // The fence: the write commits only while our lock node
                    // exists. A worker paused past its session's expiry
                    // cannot overwrite the next holder's work.
                    let (data, stat) = client.get("/examples/counter").send().wait()?;
                    let n: u64 = String::from_utf8_lossy(&data.unwrap_or_default())
                        .parse()
                        .unwrap_or(0);
                    guard
                        .fence(client.transaction())
                        .set("/examples/counter", (n + 1).to_string())
                        .version(stat.version)
                        .commit()
                        .wait()?;
                    println!(
                        "worker-{i}: counter {} -> {} (fencing token {:#x})",
                        n,
                        n + 1,
                        guard.fencing_token()
                    );
                    guard.release().wait()?;
                }
                client.close().wait()
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker")?;
    }

    // A holder is told when its lock goes: here an operator deletes it.
    let guard = setup.lock("/examples/lock").acquire().wait()?;
    let lost = guard.lost();
    setup.delete(guard.path()).send().wait()?;
    let status = lost.wait();
    println!("holder: lock status is now {status:?}");
    assert_eq!(status, Status::Lost);
    if let Err(e) = guard.release().wait() {
        println!("holder: release says {e}");
    }
    setup.close().wait()?;
    Ok(())
}
