//! The session's behaviour, scenario by scenario, against the fake server.

use std::time::Duration;

use bytes::BytesMut;

use super::sim::{req, Handshake, Sim};
use crate::proto::*;
use crate::session::{Command, Config, DisconnectReason, Event, LostReason, SessionState};
use crate::Error;

fn connected(sim: &Sim) -> bool {
    matches!(sim.session.state(), Some(SessionState::Connected { .. }))
}

#[test]
fn connect() {
    let sim = Sim::new(Sim::config());
    assert!(connected(&sim));
    assert_eq!(
        sim.states(),
        [SessionState::Connected {
            session_id: 0x101,
            new_session: true
        }]
    );
    assert_eq!(sim.session.timeout(), Duration::from_millis(3000));
    assert_eq!(sim.session.session().0, 0x101);
}

#[test]
fn pipelined_ops_answered_in_order() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/p", CreateMode::Persistent));
    let ids: Vec<_> = (0..1000)
        .map(|_| sim.session.submit(req::get("/p", false), sim.now))
        .collect();
    let mut out = BytesMut::new();
    assert!(sim.session.poll_transmit(sim.now, &mut out));
    let mut frames = FrameDecoder::default();
    frames.push(&out);
    let mut n = 0;
    while frames.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 1000, "all 1000 coalesced into one transmit");
    assert_eq!(sim.session.stats().pending, 1000);
    // Hand the coalesced bytes to the server and let the replies flow back.
    sim.server_receive(&out);
    sim.step();
    let done: Vec<_> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Response {
                id,
                result: Ok(Response::GetData(_)),
            } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(done, ids);
    assert_eq!(sim.session.stats().pending, 0);
}

#[test]
fn notification_before_its_reply() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/n", CreateMode::Persistent));
    let watch = sim.submit(req::get("/n", true));
    sim.events.clear();
    let set = sim.submit(req::set("/n"));
    assert!(matches!(&sim.events[0], Event::Watch { watcher, event }
        if *watcher == watch && event.event_type == EventType::NodeDataChanged && event.path == "/n"));
    assert!(matches!(&sim.events[1], Event::Response { id, result: Ok(_) } if *id == set));
    // One-shot: a second change fires nothing.
    sim.events.clear();
    sim.submit(req::set("/n"));
    assert!(sim.watch_events().is_empty());
}

#[test]
fn frames_split_at_every_byte() {
    let mut sim = Sim::new(Sim::config());
    sim.split = 1;
    let c = sim.submit(req::create("/s", CreateMode::Persistent));
    let g = sim.submit(req::get("/s", true));
    sim.submit(req::set("/s"));
    assert!(matches!(sim.result(c), Some(Ok(Response::Create(_)))));
    assert!(matches!(sim.result(g), Some(Ok(Response::GetData(_)))));
    assert_eq!(sim.watch_events().len(), 1);
}

#[test]
fn ping_after_a_third_idle_and_none_while_busy() {
    let mut sim = Sim::new(Sim::config());
    let pings = |sim: &Sim| {
        sim.received_ops()
            .iter()
            .filter(|&&o| o == OpCode::Ping)
            .count()
    };
    sim.advance(Duration::from_millis(999));
    assert_eq!(pings(&sim), 0);
    sim.advance(Duration::from_millis(1));
    assert_eq!(pings(&sim), 1, "ping at T/3 = 1000 ms of send-idleness");
    assert!(sim.session.stats().last_rtt.is_some());
    // Busy: a request every 500 ms keeps pings away.
    sim.submit(req::create("/b", CreateMode::Persistent));
    for _ in 0..10 {
        sim.advance(Duration::from_millis(500));
        sim.submit(req::get("/b", false));
    }
    assert_eq!(pings(&sim), 1);
    assert!(connected(&sim));
}

#[test]
fn read_timeout_moves_to_the_next_host() {
    let mut config = Sim::config();
    config.hosts = Config::new("a:1,b:2").unwrap().hosts;
    let mut sim = Sim::new(config);
    let first = sim.transcript.clone();
    sim.server.stalled = true;
    let id = sim.submit(req::get("/", false));
    sim.advance(Duration::from_millis(1999));
    assert!(sim.result(id).is_none());
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.result(id), Some(&Err(Error::ConnectionLoss)));
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::ReadTimeout,
            ..
        }
    )));
    let connects: Vec<_> = sim
        .transcript
        .lines()
        .filter(|l| l.contains("connect "))
        .collect();
    assert_eq!(connects.len(), 2);
    assert_ne!(
        connects[0].split_whitespace().last(),
        connects[1].split_whitespace().last()
    );
    assert!(first.contains("connect"));
    assert_eq!(
        sim.states()[..2],
        [
            SessionState::Connected {
                session_id: 0x101,
                new_session: true
            },
            SessionState::Suspended { session_id: 0x101 }
        ]
    );
}

#[test]
fn session_lost_on_its_own_clock_then_a_new_session() {
    let mut sim = Sim::new(Sim::config());
    sim.refuse = true;
    sim.drop_connection();
    assert_eq!(
        sim.session.state(),
        Some(SessionState::Suspended { session_id: 0x101 })
    );
    sim.advance(Duration::from_millis(2999));
    assert_eq!(
        sim.session.state(),
        Some(SessionState::Suspended { session_id: 0x101 })
    );
    sim.advance(Duration::from_millis(1));
    assert_eq!(
        sim.session.state(),
        Some(SessionState::Lost {
            session_id: 0x101,
            reason: LostReason::TimedOut
        }),
        "Lost without hearing from the server"
    );
    sim.refuse = false;
    sim.advance(Duration::from_secs(10));
    assert_eq!(
        sim.states(),
        [
            SessionState::Connected {
                session_id: 0x101,
                new_session: true
            },
            SessionState::Suspended { session_id: 0x101 },
            SessionState::Lost {
                session_id: 0x101,
                reason: LostReason::TimedOut
            },
            SessionState::Connected {
                session_id: 0x102,
                new_session: true
            },
        ]
    );
}

#[test]
fn requests_queued_for_a_lost_session_fail_and_later_ones_use_the_new_one() {
    let mut config = Sim::config();
    config.queue_timeout = None;
    let mut sim = Sim::new(config);
    sim.refuse = true;
    sim.drop_connection();
    let old = sim.submit(req::create("/mine", CreateMode::Ephemeral));
    sim.advance(Duration::from_secs(3));
    assert_eq!(
        sim.session.state(),
        Some(SessionState::Lost {
            session_id: 0x101,
            reason: LostReason::TimedOut
        })
    );
    assert_eq!(sim.result(old), Some(&Err(Error::SessionExpired)));
    let new = sim.submit(req::create("/mine", CreateMode::Ephemeral));
    sim.refuse = false;
    sim.advance(Duration::from_secs(10));
    assert!(matches!(sim.result(new), Some(Ok(_))));
    assert_eq!(sim.completions(old), 1);
    assert!(sim.server.exists("/mine"));
}

#[test]
fn a_server_that_accepts_then_sends_garbage_is_backed_off() {
    let mut config = Sim::config();
    config.hosts = Config::new("a:1,b:2").unwrap().hosts;
    let mut sim = Sim::new(config);
    sim.server.handshake = Handshake::AcceptThenGarbage;
    sim.drop_connection();
    sim.advance(Duration::from_secs(60));
    let attempts = sim
        .transcript
        .lines()
        .filter(|l| l.contains(" connect "))
        .count();
    assert!(
        attempts < 60,
        "{attempts} attempts in 60 s: the handshake must not reset the backoff"
    );
    let malformed = sim
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Disconnected {
                    reason: DisconnectReason::Malformed(_),
                    ..
                }
            )
        })
        .count();
    assert!(malformed > 5, "each attempt reported ({malformed})");
}

#[test]
fn an_expired_session_starts_anew_on_the_same_server() {
    let mut config = Sim::config();
    config.hosts = Config::new("a:1,b:2,c:3").unwrap().hosts;
    let mut sim = Sim::new(config);
    let session = sim.session.session().0;
    sim.server.expire(session); // and closes the connection
    sim.step();
    assert!(matches!(
        sim.states().last(),
        Some(SessionState::Connected {
            new_session: true,
            ..
        })
    ));
    assert_ne!(sim.session.session().0, session);
    // Reconnect to the next host, hear "expired" there, start anew there.
    let connects: Vec<&str> = sim
        .transcript
        .lines()
        .filter(|l| l.contains(" connect "))
        .collect();
    let [.., expired_at, anew_at] = connects[..] else {
        panic!("{connects:?}")
    };
    assert_eq!(
        expired_at.split_whitespace().last(),
        anew_at.split_whitespace().last(),
        "the server was fine; only the session was gone:\n{}",
        sim.transcript
    );
}

#[test]
fn backoff_between_rounds_is_capped_and_never_busy() {
    let mut config = Sim::config();
    config.hosts = Config::new("a:1,b:2,c:3").unwrap().hosts;
    let mut sim = Sim::new(config);
    sim.refuse = true;
    sim.drop_connection();
    sim.advance(Duration::from_secs(60));
    let attempts = sim
        .transcript
        .lines()
        .filter(|l| l.contains(" connect "))
        .count();
    // 3 hosts per round; pauses 60–140 ms, 120–280 ms, … capped at 3–5 s.
    assert!(
        attempts > 20 && attempts < 80,
        "{attempts} attempts in 60 s"
    );
}

#[test]
fn expired_connect_response() {
    let mut sim = Sim::new(Sim::config());
    let w = sim.submit(req::get("/", true));
    sim.prove_connection();
    sim.drop_connection(); // reconnects at once, same session
    assert!(connected(&sim));
    let session = sim.session.session().0;
    sim.server.expire(session);
    sim.step(); // the server closed the socket
    sim.advance(Duration::from_millis(150)); // a connection that did not prove itself: a short pause (60–140 ms)
    let states = sim.states();
    assert_eq!(
        states[states.len() - 2],
        SessionState::Lost {
            session_id: 0x101,
            reason: LostReason::Expired
        }
    );
    assert_eq!(
        states[states.len() - 1],
        SessionState::Connected {
            session_id: 0x102,
            new_session: true
        }
    );
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::Expired,
            ..
        }
    )));
    // The watch of the old session was dropped and its watcher told.
    assert!(sim
        .watch_events()
        .contains(&(w.0, EventType::None, KeeperState::Expired, "/".into())));
}

#[test]
fn reconnect_replays_auth_then_every_watch_kind() {
    let mut config = Sim::config();
    config.auth = vec![("digest".into(), "u:p".into())];
    let mut sim = Sim::new(config);
    for p in ["/d", "/c", "/r", "/p"] {
        sim.submit(req::create(p, CreateMode::Persistent));
    }
    let data = sim.submit(req::get("/d", true));
    let exist = sim.submit(req::exists("/missing", true));
    let child = sim.submit(req::children("/c", true));
    let pers = sim.submit(req::add_watch("/p", AddWatchMode::Persistent));
    let rec = sim.submit(req::add_watch("/r", AddWatchMode::PersistentRecursive));
    let zxid = sim.session.last_zxid();
    sim.prove_connection();
    sim.server.received.clear();
    sim.drop_connection();
    let replay: Vec<_> = sim
        .server
        .received
        .iter()
        .map(|(x, r)| (*x, r.clone()))
        .collect();
    assert_eq!(
        replay,
        [
            (xid::AUTH, req::auth(b"u:p")),
            (
                xid::SET_WATCHES,
                Request::SetWatches2(SetWatches2 {
                    relative_zxid: zxid,
                    data_watches: vec!["/d".into()],
                    exist_watches: vec!["/missing".into()],
                    child_watches: vec!["/c".into()],
                    persistent_watches: vec!["/p".into()],
                    persistent_recursive_watches: vec!["/r".into()],
                })
            ),
        ]
    );
    // Same session: persistent and recursive watchers are told to re-read.
    let resumed: Vec<_> = sim
        .watch_events()
        .into_iter()
        .filter(|(_, t, s, _)| *t == EventType::None && *s == KeeperState::SyncConnected)
        .map(|(id, ..)| id)
        .collect();
    assert_eq!(resumed, [pers.0, rec.0]);
    assert_eq!(
        sim.states().last(),
        Some(&SessionState::Connected {
            session_id: 0x101,
            new_session: false
        })
    );
    // The re-armed watches still fire, once for one-shots.
    sim.submit(req::set("/d"));
    sim.submit(req::create("/missing", CreateMode::Persistent));
    sim.submit(req::create("/c/k", CreateMode::Persistent));
    sim.submit(req::create("/r/k", CreateMode::Persistent));
    let fired: Vec<_> = sim
        .watch_events()
        .into_iter()
        .filter(|(_, t, ..)| *t != EventType::None)
        .collect();
    assert!(fired.contains(&(
        data.0,
        EventType::NodeDataChanged,
        KeeperState::SyncConnected,
        "/d".into()
    )));
    assert!(fired.contains(&(
        exist.0,
        EventType::NodeCreated,
        KeeperState::SyncConnected,
        "/missing".into()
    )));
    assert!(fired.contains(&(
        child.0,
        EventType::NodeChildrenChanged,
        KeeperState::SyncConnected,
        "/c".into()
    )));
    assert!(fired.contains(&(
        rec.0,
        EventType::NodeCreated,
        KeeperState::SyncConnected,
        "/r/k".into()
    )));
}

#[test]
fn set_watches_catch_up_for_changes_while_disconnected() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/w", CreateMode::Persistent));
    let w = sim.submit(req::get("/w", true));
    sim.refuse = true;
    sim.drop_connection();
    sim.server.set_behind("/w", b"changed");
    sim.refuse = false;
    sim.advance(Duration::from_secs(1));
    assert!(sim.watch_events().contains(&(
        w.0,
        EventType::NodeDataChanged,
        KeeperState::SyncConnected,
        "/w".into()
    )));
}

#[test]
fn one_shot_watches_on_a_persistent_path_stay_local() {
    // Pre-3.9 servers keep one mode per path: never send watch=true there (PROTOCOL.md §0.8).
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/pp", CreateMode::Persistent));
    let p = sim.submit(req::add_watch("/pp", AddWatchMode::Persistent));
    let g = sim.submit(req::get("/pp", true));
    let (_, sent) = sim.server.received.last().unwrap();
    assert_eq!(
        sent,
        &req::get("/pp", false),
        "watch flag cleared on the wire"
    );
    sim.submit(req::set("/pp"));
    sim.submit(req::set("/pp"));
    let fired: Vec<_> = sim
        .watch_events()
        .into_iter()
        .map(|(id, t, ..)| (id, t))
        .collect();
    use EventType::NodeDataChanged as C;
    assert_eq!(
        fired,
        [(g.0, C), (p.0, C), (p.0, C)],
        "one-shot once, persistent every time"
    );
}

#[test]
fn auth_failure_is_terminal() {
    let mut sim = Sim::new(Sim::config());
    sim.server.reject_auth = true;
    let a = sim.submit(req::auth(b"bad"));
    assert_eq!(sim.result(a), Some(&Err(Error::AuthFailed)));
    assert_eq!(
        sim.session.state(),
        Some(SessionState::Lost {
            session_id: 0x101,
            reason: LostReason::AuthFailed
        })
    );
    assert!(sim.session.is_closed());
    let later = sim.submit(req::get("/", false));
    assert_eq!(sim.result(later), Some(&Err(Error::AuthFailed)));
}

#[test]
fn chroot_in_and_out() {
    let mut config = Sim::config();
    config.chroot = crate::path::Chroot::new("/app").unwrap();
    let mut sim = Sim::new(config);
    // The chroot node itself is reached as "/".
    let root = sim.submit(req::create("/", CreateMode::Persistent));
    assert!(matches!(sim.result(root), Some(Ok(Response::Create(c))) if c.path == "/"));
    let seq = sim.submit(req::create("/q-", CreateMode::PersistentSequential));
    assert!(matches!(sim.result(seq), Some(Ok(Response::Create(c))) if c.path == "/q-0000000000"));
    assert!(sim.server.exists("/app/q-0000000000"));
    let w = sim.submit(req::children("/", true));
    sim.submit(req::create("/k", CreateMode::Persistent));
    assert!(sim.watch_events().contains(&(
        w.0,
        EventType::NodeChildrenChanged,
        KeeperState::SyncConnected,
        "/".into()
    )));
    let sent: Vec<String> = sim
        .server
        .received
        .iter()
        .filter_map(|(_, r)| match r {
            Request::Create(c) => Some(c.path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["/app", "/app/q-", "/app/k"]);
}

#[test]
fn close_with_pending_requests() {
    let mut sim = Sim::new(Sim::config());
    sim.server.stalled = true;
    let a = sim.submit(req::get("/", false));
    sim.close();
    let b = sim.submit(req::get("/", false));
    assert_eq!(sim.result(b), Some(&Err(Error::Closed)));
    assert!(sim.result(a).is_none());
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.result(a), Some(&Err(Error::Closed)));
    assert_eq!(
        sim.session.state(),
        Some(SessionState::Closed { session_id: 0x101 })
    );
    assert!(sim.session.poll_timeout().is_none());
    assert!(sim.received_ops().is_empty(), "stalled server saw nothing");
}

#[test]
fn close_gets_its_reply() {
    let mut sim = Sim::new(Sim::config());
    let e = sim.submit(req::create("/e", CreateMode::Ephemeral));
    assert!(matches!(sim.result(e), Some(Ok(_))));
    sim.close();
    assert_eq!(sim.received_ops().last(), Some(&OpCode::CloseSession));
    assert_eq!(
        sim.session.state(),
        Some(SessionState::Closed { session_id: 0x101 })
    );
    assert!(!sim.server.exists("/e"), "ephemeral gone with the session");
    assert!(!sim.is_connected());
}

#[test]
fn requests_queued_while_disconnected() {
    let mut sim = Sim::new(Sim::config());
    sim.refuse = true;
    sim.drop_connection();
    let q = sim.submit(req::create("/queued", CreateMode::Persistent));
    assert!(sim.result(q).is_none());
    sim.refuse = false;
    sim.advance(Duration::from_millis(500));
    assert!(matches!(sim.result(q), Some(Ok(Response::Create(_)))));
}

#[test]
fn queued_requests_time_out() {
    let mut config = Sim::config();
    config.queue_timeout = Some(Duration::from_millis(700));
    let mut sim = Sim::new(config);
    sim.refuse = true;
    sim.drop_connection();
    let q = sim.submit(req::get("/", false));
    sim.advance(Duration::from_millis(699));
    assert!(sim.result(q).is_none());
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.result(q), Some(&Err(Error::ConnectionLoss)));
}

#[test]
fn read_only_refusal_moves_on_and_read_only_accept_is_reported() {
    let mut config = Sim::config();
    config.read_only = true;
    config.hosts = Config::new("a:1,b:2").unwrap().hosts;
    let mut sim = Sim::new(config.clone());
    assert!(connected(&sim));
    let mut sim2 = Sim::new(config);
    sim2.server.handshake = Handshake::RefuseReadOnly;
    sim2.drop_connection();
    assert!(sim2.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::Refused(Error::NotReadOnly),
            ..
        }
    )));
    sim2.server.handshake = Handshake::AcceptReadOnly;
    sim2.advance(Duration::from_secs(1));
    assert_eq!(
        sim2.session.state(),
        Some(SessionState::ReadOnly { session_id: 0x101 })
    );
    sim.close();
}

#[test]
fn silent_server_hits_the_connect_timeout() {
    let mut config = Sim::config();
    config.hosts = Config::new("a:1,b:2").unwrap().hosts;
    let mut sim = Sim::new(config);
    sim.server.handshake = Handshake::Silent;
    sim.drop_connection();
    sim.advance(Duration::from_millis(1500)); // 3000 ms / 2 hosts
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::ConnectTimeout,
            ..
        }
    )));
}

#[test]
fn garbage_from_the_server_drops_the_connection_not_the_request_twice() {
    let mut sim = Sim::new(Sim::config());
    sim.server.stalled = true;
    let a = sim.submit(req::get("/", false));
    // A reply to an xid nobody asked for.
    let mut bad = BytesMut::new();
    encode_frame(&mut bad, |o| {
        crate::proto::jute::Record::encode(
            &ReplyHeader {
                xid: 77,
                zxid: 1,
                err: 0,
            },
            o,
        )
    });
    sim.session.handle_input(&bad, sim.now);
    assert_eq!(sim.session.poll_command(), Some(Command::Disconnect));
    sim.step();
    assert_eq!(sim.completions(a), 1);
    assert_eq!(sim.result(a), Some(&Err(Error::ConnectionLoss)));
    assert!(sim.events.iter().any(|e| matches!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::Malformed(DecodeError::UnexpectedXid { got: 77, .. }),
            ..
        }
    )));
}

#[test]
fn invalid_paths_fail_without_sending() {
    let mut sim = Sim::new(Sim::config());
    let bad = sim.submit(req::get("/a/", false));
    assert!(matches!(sim.result(bad), Some(Err(Error::InvalidPath(_)))));
    let check = sim.submit(Request::Check(CheckVersionRequest {
        path: "/".into(),
        version: 0,
    }));
    assert!(matches!(
        sim.result(check),
        Some(Err(Error::InvalidArgument(_)))
    ));
    assert!(sim.received_ops().is_empty());
}

#[test]
fn remove_watches_tells_the_watchers() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/rw", CreateMode::Persistent));
    let g = sim.submit(req::get("/rw", true));
    let r = sim.submit(Request::RemoveWatches(WatchesRequest {
        path: "/rw".into(),
        watcher_type: WatcherType::Data,
    }));
    assert_eq!(sim.result(r), Some(&Ok(Response::Empty)));
    assert_eq!(
        sim.watch_events(),
        [(
            g.0,
            EventType::DataWatchRemoved,
            KeeperState::SyncConnected,
            "/rw".into()
        )]
    );
}

#[test]
fn set_watches_are_batched_under_128_kib() {
    let mut sim = Sim::new(Sim::config());
    // 300 exist watches on 1000-character paths: 300,000 characters in all.
    let long = "x".repeat(995);
    for i in 0..300 {
        sim.submit(req::exists(&format!("/{long}{i:03}"), true));
    }
    sim.prove_connection();
    sim.server.received.clear();
    sim.drop_connection();
    let batches: Vec<usize> = sim
        .server
        .received
        .iter()
        .filter_map(|(x, r)| match r {
            Request::SetWatches(s) if *x == xid::SET_WATCHES => Some(s.exist_watches.len()),
            _ => None,
        })
        .collect();
    // A batch closes once its paths reach 131,072 characters (may overshoot by one path).
    assert_eq!(batches, [132, 132, 36]);
    assert!(connected(&sim));
    assert_eq!(sim.session.stats().pending, 0, "every batch was answered");
}

#[test]
fn chroot_is_stripped_inside_multi_results() {
    let mut config = Sim::config();
    config.chroot = crate::path::Chroot::new("/app").unwrap();
    let mut sim = Sim::new(config);
    sim.submit(req::create("/", CreateMode::Persistent));
    let create = |path: &str| CreateRequest {
        path: path.into(),
        data: None,
        acl: crate::acl::OPEN_ACL_UNSAFE.to_vec(),
        mode: CreateMode::Persistent,
    };
    let m = sim.submit(Request::Multi(MultiRequest {
        ops: vec![MultiOp::Create(create("/m"))],
    }));
    let sent = &sim.server.received.last().unwrap().1;
    assert_eq!(
        sent,
        &Request::Multi(MultiRequest {
            ops: vec![MultiOp::Create(create("/app/m"))]
        })
    );
    // The fake server answers multi with Unimplemented; check the stripping on a crafted reply instead.
    assert_eq!(sim.result(m), Some(&Err(Error::Unimplemented)));
    let mut response = Response::Multi(MultiResponse {
        results: vec![MultiResult::Create(CreateResponse {
            path: "/app/m".into(),
        })],
    });
    crate::session::request::strip_chroot(
        &mut response,
        OpCode::Multi,
        &crate::path::Chroot::new("/app").unwrap(),
    )
    .unwrap();
    assert_eq!(
        response,
        Response::Multi(MultiResponse {
            results: vec![MultiResult::Create(CreateResponse { path: "/m".into() })]
        })
    );
}

#[test]
fn alarms_fire_on_time_and_end_with_the_session() {
    let mut sim = Sim::new(Sim::config());
    let a = sim.session.alarm(sim.now + Duration::from_millis(250));
    let b = sim.session.alarm(sim.now + Duration::from_secs(60));
    let c = sim.session.alarm(sim.now + Duration::from_millis(100));
    sim.session.cancel_alarm(c);
    sim.advance(Duration::from_millis(249));
    assert!(sim.result(a).is_none());
    sim.advance(Duration::from_millis(1));
    assert_eq!(sim.result(a), Some(&Ok(Response::Empty)));
    assert!(sim.result(c).is_none(), "cancelled");
    sim.close();
    assert_eq!(sim.result(b), Some(&Err(Error::Closed)));
    let late = sim.session.alarm(sim.now);
    sim.step();
    assert_eq!(sim.result(late), Some(&Err(Error::Closed)));
}

/// ZOOKEEPER-4466: a getData pipelined behind an addWatch on the same path
/// (the addWatch not yet answered) must go out without the watch flag, or
/// a 3.8 server replaces the persistent watch with the one-shot.
#[test]
fn a_one_shot_pipelined_behind_add_watch_stays_local() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/pp", CreateMode::Persistent));
    let now = sim.now;
    let p = sim
        .session
        .submit(req::add_watch("/pp", AddWatchMode::Persistent), now);
    let g = sim.session.submit(req::get("/pp", true), now);
    sim.step();
    let gets: Vec<_> = sim
        .server
        .received
        .iter()
        .filter(|(_, r)| matches!(r, Request::GetData(_)))
        .collect();
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0].1, req::get("/pp", false), "watch flag cleared");
    sim.submit(req::set("/pp"));
    sim.submit(req::set("/pp"));
    let fired: Vec<_> = sim
        .watch_events()
        .into_iter()
        .map(|(id, t, ..)| (id, t))
        .collect();
    use EventType::NodeDataChanged as C;
    assert_eq!(fired, [(g.0, C), (p.0, C), (p.0, C)]);
}

/// An addWatch lost with its connection leaves no "served locally" mark
/// behind: later one-shots on the path are armed on the server again.
#[test]
fn no_phantom_local_mark_after_a_lost_add_watch() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/pp", CreateMode::Persistent));
    sim.server.stalled = true;
    let now = sim.now;
    let _p = sim
        .session
        .submit(req::add_watch("/pp", AddWatchMode::Persistent), now);
    let g = sim.session.submit(req::get("/pp", true), now);
    sim.step();
    sim.server.stalled = false;
    sim.drop_connection(); // both fail with ConnectionLoss
    assert_eq!(sim.result(g), Some(&Err(Error::ConnectionLoss)));
    // The get failed, so it never registered: nothing to tell; the registry
    // holds no phantom "served locally" mark for /pp afterwards.
    sim.advance(Duration::from_secs(1));
    let g2 = sim.submit(req::get("/pp", true));
    assert!(sim.result(g2).is_some_and(Result::is_ok));
    let (_, sent) = sim.server.received.last().unwrap();
    assert_eq!(sent, &req::get("/pp", true), "armed on the server again");
}

/// Review finding: a watcher dropped while another addWatch on the same
/// path is still queued must not remove the server's watch that the newer
/// watcher is about to rely on.
#[test]
fn dropping_a_watcher_keeps_the_server_watch_a_newer_one_needs() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/p", CreateMode::Persistent));
    let a = sim.submit(req::add_watch("/p", AddWatchMode::Persistent));
    let now = sim.now;
    let b = sim
        .session
        .submit(req::add_watch("/p", AddWatchMode::Persistent), now);
    sim.session.remove_watcher(a, now);
    sim.step();
    assert!(sim.result(b).is_some_and(Result::is_ok));
    assert!(
        !sim.received_ops().contains(&OpCode::RemoveWatches),
        "the server keeps the watch b needs"
    );
    sim.submit(req::set("/p"));
    assert!(sim
        .watch_events()
        .iter()
        .any(|(w, t, ..)| *w == b.0 && *t == EventType::NodeDataChanged));
}

/// Review finding: an addWatch answered with a body that does not decode
/// must not leave its path marked "persistent-pending" for ever (later
/// one-shot watches there would go out without the watch flag).
#[test]
fn a_malformed_add_watch_reply_leaves_no_pending_mark() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/p", CreateMode::Persistent));
    sim.server.bad_add_watch_reply = true;
    let w = sim.submit(req::add_watch("/p", AddWatchMode::Persistent));
    assert_eq!(sim.result(w), Some(&Err(Error::ConnectionLoss)));
    sim.advance(Duration::from_secs(1)); // reconnected
    let g = sim.submit(req::get("/p", true));
    assert!(sim.result(g).is_some_and(Result::is_ok));
    let (_, sent) = sim.server.received.last().unwrap();
    assert_eq!(sent, &req::get("/p", true), "armed on the server");
}

/// Found by the recipes' watch hygiene check: a one-shot watcher nobody
/// listens to any more (a timed-out wait dropped its future) was forgotten
/// by the client but stayed on the server, to be re-armed on every
/// reconnect. It is removed there too, by kind, and only when it was the
/// last of its kind on the path.
#[test]
fn dropping_a_one_shot_watcher_removes_the_server_watch() {
    let mut sim = Sim::new(Sim::config());
    sim.submit(req::create("/o", CreateMode::Persistent));
    let data = sim.submit(req::get("/o", true));
    let children = sim.submit(req::children("/o", true));
    let now = sim.now;
    sim.session.remove_watcher(data, now);
    sim.step();
    let (_, sent) = sim.server.received.last().unwrap();
    assert_eq!(
        sent,
        &Request::RemoveWatches(WatchesRequest {
            path: "/o".into(),
            watcher_type: WatcherType::Data,
        }),
        "the child watch stays"
    );
    sim.session.remove_watcher(children, now);
    sim.step();
    let (_, sent) = sim.server.received.last().unwrap();
    assert_eq!(
        sent,
        &Request::RemoveWatches(WatchesRequest {
            path: "/o".into(),
            watcher_type: WatcherType::Any,
        })
    );
    // Two data watchers: dropping one keeps the server's watch.
    let a = sim.submit(req::get("/o", true));
    let _b = sim.submit(req::get("/o", true));
    let removes = sim
        .received_ops()
        .iter()
        .filter(|o| **o == OpCode::RemoveWatches)
        .count();
    sim.session.remove_watcher(a, now);
    sim.step();
    let after = sim
        .received_ops()
        .iter()
        .filter(|o| **o == OpCode::RemoveWatches)
        .count();
    assert_eq!(after, removes, "the other getData still needs it");
}
