//! A mio event loop of your own that serves its own TCP echo socket and runs
//! a ZooKeeper session side by side, on one thread, printing watch events.
//!
//! Run: `cargo run --example custom_event_loop`
//! (starts a local ZooKeeper unless `ZK_HOSTS` is set).

#![allow(clippy::disallowed_methods)] // an application owns its clock

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use kazoo::proto::AddWatchMode;
use kazoo::session::{Config, SessionState};
use kazoo_mio::mio::net::{TcpListener, TcpStream};
use kazoo_mio::mio::{Events, Interest, Poll, Token};
use kazoo_mio::Sessions;
use kazoo_testing::ZkServer;

const ZK_WAKER: Token = Token(0);
const ZK_SESSION: Token = Token(1);
const ECHO_LISTENER: Token = Token(2);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (_server, hosts) = match std::env::var("ZK_HOSTS") {
        Ok(hosts) => (None, hosts),
        Err(_) => {
            let server = ZkServer::start()?;
            let hosts = server.connect_string();
            (Some(server), hosts)
        }
    };

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(128);

    // Your own socket: an echo server.
    let mut listener = TcpListener::bind("127.0.0.1:0".parse()?)?;
    let echo_addr = listener.local_addr()?;
    poll.registry()
        .register(&mut listener, ECHO_LISTENER, Interest::READABLE)?;
    let mut echo_conns: HashMap<Token, TcpStream> = HashMap::new();
    let mut next_token = 10;

    // A ZooKeeper session in the same loop.
    let mut zk = Sessions::new(poll.registry(), ZK_WAKER)?;
    let client = zk.add(Config::new(&hosts)?, ZK_SESSION)?;
    let mut started = false;
    let mut echo_peer = None;
    let mut gone = None;
    let mut echoed = 0;
    let demo = format!("/custom-event-loop-{}", std::process::id());
    let finish_at = Instant::now() + Duration::from_secs(20);

    while Instant::now() < finish_at {
        let timeout = zk
            .poll_timeout()
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        poll.poll(&mut events, Some(timeout))?;
        for event in &events {
            if zk.handle_event(event) {
                continue; // the session's socket or waker
            }
            match event.token() {
                ECHO_LISTENER => loop {
                    match listener.accept() {
                        Ok((mut conn, peer)) => {
                            let token = Token(next_token);
                            next_token += 1;
                            poll.registry()
                                .register(&mut conn, token, Interest::READABLE)?;
                            echo_conns.insert(token, conn);
                            println!("echo: accepted {peer}");
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e.into()),
                    }
                },
                token => {
                    if let Some(conn) = echo_conns.get_mut(&token) {
                        let mut buf = [0u8; 1024];
                        loop {
                            match conn.read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    conn.write_all(&buf[..n])?;
                                    echoed += n;
                                }
                                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                }
            }
        }
        zk.handle_timeouts();

        // Once connected, do some ZooKeeper work without leaving the loop:
        // requests are sent at once; callbacks print on their own thread.
        if !started && matches!(client.state(), Some(SessionState::Connected { .. })) {
            started = true;
            println!("zk: connected, session {:#x}", client.session_id());
            let watch = client.add_watch(demo.as_str(), AddWatchMode::PersistentRecursive);
            drop(
                watch
                    .watch(|e| println!("zk watch: {:?} {:?} {}", e.event_type, e.state, e.path))
                    .send(),
            );
            drop(client.create(demo.as_str()).send());
            for i in 0..3 {
                drop(
                    client
                        .create(format!("{demo}/item-{i}"))
                        .data(format!("#{i}"))
                        .send(),
                );
                drop(client.set(format!("{demo}/item-{i}"), "changed").send());
                drop(client.delete(format!("{demo}/item-{i}")).send());
            }
            drop(client.delete(demo.as_str()).send());
            // Pipelined after everything above: never block the loop on it,
            // look at it each turn instead.
            gone = Some(client.exists(demo.as_str()).send());
            // And a peer for the echo socket (blocking, on another thread).
            echo_peer = Some(std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
                let mut s = std::net::TcpStream::connect(echo_addr)?;
                s.write_all(b"hello, loop")?;
                let mut back = vec![0u8; 11];
                s.read_exact(&mut back)?;
                Ok(back)
            }));
        }
        let echo_done = echo_peer.as_ref().is_some_and(|p| p.is_finished());
        if echo_done && gone.as_ref().is_some_and(|g| g.is_ready()) {
            break;
        }
    }
    if let Some(peer) = echo_peer {
        let back = peer.join().map_err(|_| "echo peer panicked")??;
        println!(
            "echo: {echoed} bytes echoed, peer got {:?}",
            String::from_utf8_lossy(&back)
        );
    }
    if let Some(gone) = gone {
        println!("zk: {demo} exists at the end: {:?}", gone.wait()?.is_some());
    }
    drop(client.close());
    while !zk.is_empty() {
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in &events {
            zk.handle_event(event);
        }
        zk.handle_timeouts();
    }
    println!("zk: closed");
    Ok(())
}
