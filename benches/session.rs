//! The Session's hot path with no socket: submit getData → poll_transmit →
//! feed the reply → poll_event. Reports ns/op (criterion) and heap
//! allocations per op (a counting global allocator).
//!
//! Run: `cargo bench --bench session`.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{black_box, Criterion};
use kazoo::proto::jute::Record;
use kazoo::proto::*;
use kazoo::session::{Config, Event, Session};

#[path = "../tests/support/counting.rs"]
mod counting;

/// A session that has completed its handshake with a scripted server.
struct Rig {
    session: Session,
    now: Instant,
    out: BytesMut,
    reply: Vec<u8>,
}

impl Rig {
    fn new() -> Rig {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut session = Session::new(Config::new("bench:2181").unwrap(), now);
        let _ = session.poll_command();
        session.handle_connected(now);
        let mut out = BytesMut::with_capacity(64 * 1024);
        let _ = session.poll_transmit(now, &mut out);
        let mut handshake = BytesMut::new();
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout: 10_000,
            session_id: 1,
            passwd: Bytes::from(vec![1; 16]).into(),
            read_only: Some(false),
        };
        encode_frame(&mut handshake, |o| resp.encode(o));
        session.handle_input(&handshake, now);
        while session.poll_event().is_some() {}
        let mut reply = BytesMut::new();
        let body = GetDataResponse {
            data: Some(Bytes::from(vec![7u8; 100])),
            stat: Stat::default(),
        };
        encode_frame(&mut reply, |o| {
            ReplyHeader {
                xid: 0,
                zxid: 5,
                err: 0,
            }
            .encode(o);
            body.encode(o);
        });
        Rig {
            session,
            now,
            out,
            reply: reply.to_vec(),
        }
    }

    /// One getData round trip.
    fn op(&mut self, request: Request) {
        self.session.submit(request, self.now);
        self.out.clear();
        let _ = self.session.poll_transmit(self.now, &mut self.out);
        // The reply echoes the request's xid (bytes 4..8 of its frame).
        self.reply[4..8].copy_from_slice(&self.out[4..8]);
        self.session.handle_input(&self.reply, self.now);
        match self.session.poll_event() {
            Some(Event::Response {
                result: Ok(Response::GetData(r)),
                ..
            }) => {
                black_box(r);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn get_data(path: &str) -> Request {
    Request::GetData(PathWatch {
        path: path.to_owned(),
        watch: false,
    })
}

fn report_allocations() {
    const N: u64 = 100_000;
    let mut rig = Rig::new();
    for _ in 0..1_000 {
        rig.op(get_data("/bench/node")); // warm up buffers and queues
    }
    let requests: Vec<Request> = (0..N).map(|_| get_data("/bench/node")).collect();
    let before = counting::allocations();
    for r in requests {
        rig.op(r);
    }
    let session_only = counting::allocations() - before;
    let before = counting::allocations();
    for _ in 0..N {
        rig.op(get_data("/bench/node"));
    }
    let with_request = counting::allocations() - before;
    println!(
        "allocations per getData round trip: {:.3} in the session, {:.3} including building the request",
        session_only as f64 / N as f64,
        with_request as f64 / N as f64
    );
}

fn main() {
    report_allocations();
    let mut c = Criterion::default().configure_from_args();
    let mut rig = Rig::new();
    c.bench_function("session getData round trip (no socket)", |b| {
        b.iter(|| rig.op(get_data("/bench/node")))
    });
    c.final_summary();
}
