//! The lock and the election on tokio: the same recipes, awaited. A
//! timed-out or dropped acquire leaves nothing behind.
//!
//! Run: `cargo run --example tokio_lock` (the embedded server unless
//! `ZK_HOSTS` is set).

mod common;

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = common::hosts()?;
    let client = kazoo_tokio::connect(&hosts).await?;
    let other = kazoo_tokio::connect(&hosts).await?;

    let guard = client
        .lock("/examples/tokio-lock")
        .id("first")
        .acquire()
        .await?;
    println!(
        "first holds {} (token {:#x})",
        guard.path(),
        guard.fencing_token()
    );

    // Waiting with a timeout, and cancelling by dropping the future.
    let second = other.lock("/examples/tokio-lock").id("second");
    match second.acquire_timeout(Duration::from_millis(200)).await {
        Err(kazoo::Error::LockTimeout) => println!("second timed out"),
        other => println!("second: {other:?}"),
    }
    let _ = tokio::time::timeout(Duration::from_millis(200), second.acquire()).await;
    println!("contenders now: {:?}", second.contenders().await?);

    tokio::select! {
        status = guard.lost() => println!("lost: {status:?}"),
        _ = tokio::time::sleep(Duration::from_millis(100)) => println!("still held: {:?}", guard.status()),
    }
    guard.release().await?;

    let leader = other
        .election("/examples/tokio-election")
        .id("second")
        .elect()
        .await?;
    println!("second elected (token {:#x})", leader.fencing_token());
    leader.release().await?;
    client.close().await?;
    other.close().await?;
    Ok(())
}
