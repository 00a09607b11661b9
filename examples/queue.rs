//! A producer and two consumers on kazoo's LockingQueue: every item is
//! consumed exactly once, even by a consumer that takes an item and then
//! gives it back.
//!
//! Run: `cargo run --example queue` (the embedded server unless `ZK_HOSTS`
//! is set; Python kazoo's `LockingQueue(zk, "/examples/queue")` can put
//! and take items beside it).

mod common;

use std::thread;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = common::hosts()?;
    let producer = kazoo_std::connect(&hosts)?;
    producer
        .delete("/examples/queue")
        .recursive()
        .send()
        .wait()
        .ok();

    let jobs = producer.locking_queue("/examples/queue");
    jobs.put_all((0..6).map(|i| format!("job {i}")), 100)
        .wait()?;
    jobs.put_with_priority("urgent job", 1).wait()?;
    println!("queued {} jobs", jobs.len().wait()?);

    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let hosts = hosts.clone();
            thread::spawn(move || -> Result<(), kazoo::Error> {
                let client = kazoo_std::connect(&hosts)?;
                let queue = client.locking_queue("/examples/queue");
                let mut gave_back = false;
                while let Some(item) = queue.get_timeout(Duration::from_millis(500)).wait()? {
                    let item = String::from_utf8_lossy(&item).into_owned();
                    if c == 1 && !gave_back {
                        // Not now: back to the queue for someone else.
                        gave_back = queue.release().wait()?;
                        println!("consumer {c} gave back {item}");
                        continue;
                    }
                    client.sleep(Duration::from_millis(20)).wait()?; // the work
                    if queue.consume().wait()? {
                        println!("consumer {c} did {item}");
                    }
                }
                client.close().wait()
            })
        })
        .collect();
    for c in consumers {
        c.join().expect("a consumer")?;
    }
    println!("left in the queue: {}", jobs.len().wait()?);
    producer.close().wait()?;
    Ok(())
}
