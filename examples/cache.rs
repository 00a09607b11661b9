//! A TreeCache following a small configuration tree: the initial load,
//! then each change as an event, and the cached tree read locally.
//!
//! Run: `cargo run --example cache` (the embedded server unless `ZK_HOSTS`
//! is set).

mod common;

use std::time::Duration;

use kazoo::recipe::TreeEvent;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = common::hosts()?;
    let client = kazoo_std::connect(&hosts)?;
    client
        .delete("/examples/config")
        .recursive()
        .send()
        .wait()
        .ok();
    client
        .create("/examples/config/db/url")
        .data("postgres://db-1")
        .make_parents()
        .send()
        .wait()?;

    let cache = client.tree_cache("/examples/config").start()?;
    let show = |event: TreeEvent| match event {
        TreeEvent::Added(n) => println!("added   {} = {:?}", n.path, n.data),
        TreeEvent::Updated { new, .. } => println!("updated {} = {:?}", new.path, new.data),
        TreeEvent::Removed(n) => println!("removed {}", n.path),
        other => println!("{other:?}"),
    };
    // The tree as it is, then Initialized.
    while let Some(event) = cache.recv_timeout(Duration::from_secs(5))? {
        let done = event == TreeEvent::Initialized;
        show(event);
        if done {
            break;
        }
    }
    client
        .set("/examples/config/db/url", "postgres://db-2")
        .send()
        .wait()?;
    client
        .create("/examples/config/feature")
        .data("on")
        .send()
        .wait()?;
    client
        .delete("/examples/config/db")
        .recursive()
        .send()
        .wait()?;
    for _ in 0..4 {
        if let Some(event) = cache.recv_timeout(Duration::from_secs(5))? {
            show(event);
        }
    }
    println!(
        "cached children of /examples/config: {:?}",
        cache.get_children("/examples/config")
    );
    cache.close();
    client.close().wait()?;
    Ok(())
}
