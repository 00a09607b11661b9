//! Golden transcripts: the whole sequence of commands, frames sent and events
//! of canonical scenarios, checked in under `transcripts/`. A change in the
//! *shape* of the interaction shows up as a diff. Regenerate deliberately
//! with `KAZOO_BLESS=1 cargo test --lib transcripts`.

use std::time::Duration;

use super::sim::{req, Sim};
use crate::proto::{AddWatchMode, CreateMode};

fn check(name: &str, transcript: &str) {
    let path = format!(
        "{}/src/session/tests/transcripts/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("KAZOO_BLESS").is_some() {
        std::fs::write(&path, transcript).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == transcript,
        "transcript {name} changed (KAZOO_BLESS=1 to accept):\n--- golden\n{golden}\n--- now\n{transcript}"
    );
}

#[test]
fn connect() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/t", CreateMode::Persistent));
    sim.submit(req::get("/t", true));
    sim.advance(Duration::from_millis(1500));
    check("connect", &sim.transcript);
}

#[test]
fn reconnect_with_replay() {
    let mut config = Sim::config();
    config.auth = vec![("digest".into(), "u:p".into())];
    let mut sim = Sim::new(config);
    sim.submit(req::create("/t", CreateMode::Persistent));
    sim.submit(req::get("/t", true));
    sim.submit(req::add_watch("/t", AddWatchMode::PersistentRecursive));
    sim.prove_connection();
    sim.refuse = true;
    sim.drop_connection();
    sim.server.set_behind("/t", b"x");
    sim.advance(Duration::from_millis(400));
    sim.refuse = false;
    sim.advance(Duration::from_millis(400));
    check("reconnect_with_replay", &sim.transcript);
}

#[test]
fn expiry() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/e", CreateMode::Ephemeral));
    sim.submit(req::exists("/e", true));
    sim.prove_connection();
    sim.refuse = true;
    sim.drop_connection();
    let id = sim.session.session().0;
    sim.server.expire(id);
    sim.advance(Duration::from_millis(1000));
    sim.refuse = false;
    sim.advance(Duration::from_millis(2000));
    check("expiry", &sim.transcript);
}
