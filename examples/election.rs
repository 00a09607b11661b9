//! Leader election two ways: `Election::run` (kazoo's), and a
//! `LeaderLatch` that stays in the election and follows its leadership.
//!
//! Run: `cargo run --example election` (the embedded server unless
//! `ZK_HOSTS` is set).

mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = common::hosts()?;
    let a = kazoo_std::connect(&hosts)?;
    let b = kazoo_std::connect(&hosts)?;

    // kazoo's Election: block until elected, lead while the closure runs.
    let election = a.election("/examples/election").id("node-a");
    election
        .run(|leadership| println!("node-a leads (token {:#x})", leadership.fencing_token()))
        .wait()?;

    // A latch per node; the first leads, the second takes over on close.
    let latch_a = a.leader_latch("/examples/latch").id("node-a").start();
    latch_a.await_leadership().wait()?;
    let latch_b = b.leader_latch("/examples/latch").id("node-b").start();
    println!("contenders: {:?}", latch_b.contenders().wait()?);
    println!(
        "node-a leads: {}, node-b leads: {}",
        latch_a.has_leadership(),
        latch_b.has_leadership()
    );
    latch_a.close().wait()?;
    latch_b.await_leadership().wait()?;
    println!("node-a left; node-b leads: {}", latch_b.has_leadership());
    latch_b.close().wait()?;
    a.close().wait()?;
    b.close().wait()?;
    Ok(())
}
