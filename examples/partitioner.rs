//! Three workers split six partitions with kazoo's SetPartitioner; one
//! leaves and the other two take its share.
//!
//! Run: `cargo run --example partitioner` (the embedded server unless
//! `ZK_HOSTS` is set).

mod common;

use std::time::Duration;

use kazoo::recipe::{PartitionState, SetPartitioner};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = common::hosts()?;
    let partitions = ["p0", "p1", "p2", "p3", "p4", "p5"];
    let workers: Vec<(kazoo::Client, SetPartitioner)> = (0..3)
        .map(|i| -> Result<_, Box<dyn std::error::Error>> {
            let client = kazoo_std::connect(&hosts)?;
            let part = client
                .set_partitioner("/examples/partitioner", partitions)
                .id(format!("worker-{i}"))
                .time_boundary(Duration::from_millis(300))
                .start()?;
            Ok((client, part))
        })
        .collect::<Result<_, _>>()?;
    let settle = |workers: &[(kazoo::Client, SetPartitioner)]| -> Result<(), kazoo::Error> {
        loop {
            for (_, p) in workers {
                if p.state() == PartitionState::Release {
                    p.release_set();
                }
            }
            let states: Vec<_> = workers
                .iter()
                .map(|(_, p)| p.wait_for_acquire(Duration::from_secs(10)).wait())
                .collect::<Result<_, _>>()?;
            // Acquired by all, and no change asked for meanwhile.
            workers[0].0.sleep(Duration::from_millis(500)).wait()?;
            if states.iter().all(|s| *s == PartitionState::Acquired)
                && workers
                    .iter()
                    .all(|(_, p)| p.state() == PartitionState::Acquired)
            {
                return Ok(());
            }
        }
    };
    settle(&workers)?;
    for (i, (_, p)) in workers.iter().enumerate() {
        println!("worker-{i} owns {:?}", p.items());
    }
    let mut workers = workers;
    let (client, leaving) = workers.pop().expect("three workers");
    leaving.finish().wait()?;
    client.close().wait()?;
    println!("worker-2 left");
    settle(&workers)?;
    for (i, (_, p)) in workers.iter().enumerate() {
        println!("worker-{i} owns {:?}", p.items());
    }
    for (client, p) in workers {
        p.finish().wait()?;
        client.close().wait()?;
    }
    Ok(())
}
