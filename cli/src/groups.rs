//! `kz counter`, `kz queue`, `kz barrier`, `kz party`: kazoo's shared
//! counters, queues, barriers and parties, on kazoo's znode layout.
//! Every wait is bounded by `--timeout` (then exit 1).

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use kazoo_std::{Client, Error};

/// `kz counter PATH [--add N]`: the value after the change.
pub(crate) fn counter(
    client: &Client,
    path: &str,
    add: Option<i64>,
    timeout: Duration,
) -> Result<i64, Error> {
    let counter = client.counter(path);
    match add {
        Some(n) => Ok(counter.add(n).wait_timeout(timeout)?.post),
        None => counter.value().wait_timeout(timeout),
    }
}

/// `kz queue get PATH`: the first item, waiting up to `timeout`.
pub(crate) fn queue_get(
    client: &Client,
    path: &str,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, Error> {
    // The wait ends a little before the request's own bound.
    let item = client
        .queue(path)
        .get_timeout(timeout)
        .wait_timeout(timeout + Duration::from_secs(1))?;
    Ok(item.map(|b| b.to_vec()))
}

/// `kz party join PATH --id ID [--hold SECS]`: joins, prints `joined`,
/// stays until `hold` passes or Ctrl-C, leaves and prints `left`.
pub(crate) fn party_join(
    client: &Client,
    path: &str,
    id: &str,
    hold: Option<Duration>,
    timeout: Duration,
) -> Result<u8, Error> {
    let party = client.party(path).id(id).auto_rejoin();
    party.join().wait_timeout(timeout)?;
    let (tx, rx) = mpsc::channel();
    let _ = ctrlc::set_handler(move || {
        let _ = tx.send(());
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "joined");
    let _ = out.flush();
    let interrupted = match hold {
        Some(d) => rx.recv_timeout(d).is_ok(),
        None => rx.recv().is_ok(),
    };
    party.leave().wait_timeout(timeout)?;
    let _ = writeln!(out, "left");
    Ok(if interrupted { 130 } else { 0 })
}

/// `kz party list PATH`: the members' identifiers, sorted.
pub(crate) fn party_list(
    client: &Client,
    path: &str,
    timeout: Duration,
) -> Result<Vec<String>, Error> {
    let mut members = client.party(path).members().wait_timeout(timeout)?;
    members.sort();
    Ok(members)
}
