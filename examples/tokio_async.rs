//! The client on tokio: every call is a future; watches are futures too.
//!
//! Run: `cargo run --example tokio_async`
//! (starts a local ZooKeeper unless `ZK_HOSTS` is set).

use std::time::Duration;

use kazoo::proto::AddWatchMode;
use kazoo_testing::ZkServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = match std::env::var("ZK_HOSTS") {
        Ok(hosts) => (None, hosts),
        Err(_) => {
            let server = tokio::task::spawn_blocking(ZkServer::start).await??;
            let hosts = server.connect_string();
            (Some(server), hosts)
        }
    };
    let client = kazoo_tokio::connect(&hosts).await?;
    println!("connected, session {:#x}", client.session_id());

    let root = format!("/tokio-example-{}", std::process::id());
    let mut events = client
        .add_watch(root.as_str(), AddWatchMode::PersistentRecursive)
        .stream()
        .await?;
    client.ensure_path(format!("{root}/queue")).await?;

    // A thousand creates in flight at once, then awaited together.
    let creates: Vec<_> = (0..1000)
        .map(|i| {
            client
                .create(format!("{root}/queue/item-"))
                .data(format!("{i}"))
                .sequential()
                .send()
        })
        .collect();
    let mut last = String::new();
    for create in creates {
        last = create.await?;
    }
    println!("created 1000 items, the last is {last}");
    println!(
        "{} nodes under {root}",
        client.get_all_children_number(root.as_str()).await?
    );

    let (_, deleted) = client.exists(last.as_str()).send_watched();
    client.delete(last.as_str()).send().await?;
    println!("watch: {:?}", deleted.await.map(|e| e.event_type));

    // Waiting without tokio's timer: the session's own clock.
    client.sleep(Duration::from_millis(100)).await?;
    let mut seen = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), events.next()).await {
        seen += 1;
    }
    println!("the recursive watch saw {seen} events");

    client.delete(root.as_str()).recursive().send().await?;
    client.close().await?;
    println!("closed");
    Ok(())
}
