//! Quickstart: connect, then create, read, watch, change and delete a few
//! nodes, printing what happens.
//!
//! Run: `./scripts/quickstart.sh` or `cargo run --example quickstart`.
//! With `ZK_HOSTS` unset it runs against the embedded server (kazoo-server:
//! in memory, no Java); set `ZK_HOSTS=host:port[,host:port…]` to use a real
//! ZooKeeper ensemble.

use std::time::Duration;

use kazoo_server::EmbeddedServer;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = match std::env::var("ZK_HOSTS") {
        Ok(hosts) => (None, hosts),
        Err(_) => {
            let server = EmbeddedServer::start(Default::default())?;
            println!("running on the embedded server at {} (set ZK_HOSTS=host:port,... for a real ensemble)", server.addr());
            let hosts = server.connect_string();
            (Some(server), hosts)
        }
    };

    // `start` returns at once (`connect` would wait for the session): the
    // listener is there in time to hear the first connection.
    let client = kazoo_std::start(kazoo::session::Config::new(&hosts)?);
    client.add_listener(|state| println!("listener: session is now {state:?}"));
    client
        .wait_connected()
        .wait_timeout(Duration::from_secs(15))?;
    println!("connected to {hosts}, session {:#x}", client.session_id());

    let root = format!("/quickstart-{}", std::process::id());
    client.ensure_path(format!("{root}/jobs")).wait()?;
    println!("ensure_path {root}/jobs");

    let job = client
        .create(format!("{root}/jobs/job-"))
        .data("build the docs")
        .sequential()
        .send()
        .wait()?;
    println!("create      {job}");

    // `None` would mean null data, which kazoo tells apart from empty.
    let (data, stat) = client.get(&job).send().wait()?;
    println!(
        "get         {job} = {:?} (version {})",
        String::from_utf8_lossy(&data.unwrap_or_default()),
        stat.version
    );

    // A one-shot watch as a callback, kazoo style ...
    client
        .get(&job)
        .watch(|event| println!("callback:   {:?} on {}", event.event_type, event.path))
        .send()
        .wait()?;
    // ... and one as a future.
    let (_, children_changed) = client.get_children(format!("{root}/jobs")).send_watched();

    client
        .set(&job, "docs built")
        .version(stat.version)
        .send()
        .wait()?;
    println!("set         {job} (expected version {})", stat.version);

    let results = client
        .transaction()
        .create(format!("{root}/jobs/done"))
        .data("1")
        .delete(&job)
        .commit()
        .wait()?;
    println!("transaction {} operations committed", results.len());

    if let Some(event) = children_changed.wait_timeout(Duration::from_secs(5))? {
        println!("future:     {:?} on {}", event.event_type, event.path);
    }

    let children = client.get_children(format!("{root}/jobs")).send().wait()?;
    println!("children    {children:?}");

    client.delete(&root).recursive().send().wait()?;
    println!("delete      {root} (recursive)");
    println!(
        "exists      {root}: {:?}",
        client.exists(&root).send().wait()?
    );

    client.close().wait()?;
    println!("closed");
    Ok(())
}
