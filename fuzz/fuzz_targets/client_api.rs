//! The client layer (Client + Driver, as every adapter drives it) fed an
//! arbitrary schedule of API calls (reads with watches, writes,
//! transactions, persistent watches, close) interleaved with connects,
//! disconnects, time, valid replies, events and garbage from the "server",
//! through a fake `Io`: no panic, and once the client is closed and time
//! has passed, every future it handed out has completed.
#![no_main]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kazoo::client::{ConnId, Dispatch, Io, Job, Reply};
use kazoo::proto::jute::{Reader, Record};
use kazoo::proto::*;
use kazoo::session::{Config, HostPort};
use kazoo::Client;
use libfuzzer_sys::fuzz_target;

#[derive(Default)]
struct World {
    now: Option<Instant>,
    connecting: Option<ConnId>,
    written: Vec<u8>,
}

#[derive(Clone)]
struct FakeIo(Arc<Mutex<World>>);

impl Io for FakeIo {
    fn now(&self) -> Instant {
        self.0.lock().unwrap().now.expect("a clock")
    }
    fn connect(&mut self, _host: &HostPort, conn: ConnId, _timeout: Duration) {
        self.0.lock().unwrap().connecting = Some(conn);
    }
    fn disconnect(&mut self) {}
    fn write(&mut self, bytes: &[u8]) {
        self.0.lock().unwrap().written.extend_from_slice(bytes);
    }
    fn wake(&mut self) {}
    fn four_letter_word(&mut self, _host: &HostPort, word: &'static str, reply: Reply<String>) {
        match word {
            "isro" => reply.send(Ok("rw".into())),
            _ => reply.send(Ok("Zookeeper version: 3.8.0".into())),
        }
    }
}

#[derive(Clone, Default)]
struct Jobs(Arc<Mutex<Vec<Job>>>);

impl Dispatch for Jobs {
    fn dispatch(&self, job: Job) {
        self.0.lock().unwrap().push(job);
    }
}

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

type Call = Pin<Box<dyn Future<Output = ()> + Send>>;

fn drop_output<F: Future + Send + 'static>(f: F) -> Call {
    Box::pin(async move {
        let _ = f.await;
    })
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head.to_vec()
    }
}

fn call(client: &Client, b: u8) -> Vec<Call> {
    let path = ["/a", "/a/b", "/", "bad", "/c"][usize::from(b % 5)];
    match b / 5 % 9 {
        0 => {
            let (read, watch) = client.get(path).send_watched();
            vec![drop_output(read), drop_output(watch)]
        }
        1 => {
            let (read, watch) = client.exists(path).send_watched();
            vec![drop_output(read), drop_output(watch)]
        }
        2 => {
            let (read, watch) = client.get_children(path).send_watched();
            vec![drop_output(read), drop_output(watch)]
        }
        3 => vec![drop_output(
            client.create(path).data("x").make_parents().send(),
        )],
        4 => vec![drop_output(
            client.set(path, "y").version(i32::from(b) - 128).send(),
        )],
        5 => vec![drop_output(client.delete(path).recursive().send())],
        6 => vec![drop_output(
            client
                .add_watch(path, AddWatchMode::PersistentRecursive)
                .stream(),
        )],
        7 => {
            let tx = client
                .transaction()
                .check(path)
                .version(1)
                .create("/t")
                .data("z");
            vec![drop_output(tx.commit())]
        }
        _ => vec![drop_output(client.sync(path))],
    }
}

/// Steps taken from one input at most.
const MAX_STEPS: usize = 300;

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let world = Arc::new(Mutex::new(World {
        now: Some(Instant::now()),
        ..World::default()
    }));
    let jobs = Jobs::default();
    let config = Config::builder("a:1,b:2")
        .session_timeout(Duration::from_millis(3000))
        .read_only(true)
        .rng_seed(1)
        .build()
        .unwrap();
    let (client, driver) = Client::new(config, FakeIo(world.clone()), jobs.clone());
    let mut conn: Option<ConnId> = None;
    let mut handshaken = false;
    let mut sent: Vec<i32> = Vec::new();
    let mut calls: Vec<Call> = Vec::new();
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let advance = |ms: u64| {
        let mut w = world.lock().unwrap();
        w.now = w.now.map(|t| t + Duration::from_millis(ms));
    };

    // Every step polls every outstanding call: a few hundred steps find
    // the interleavings, longer inputs only slow the search down.
    for _ in 0..data.len().min(MAX_STEPS) {
        if input.0.is_empty() {
            break;
        }
        let op = input.byte();
        let mut feed: Option<Vec<u8>> = None;
        match op % 10 {
            0 | 1 => calls.extend(call(&client, input.byte())),
            2 => {
                advance(u64::from(input.byte()) * 20);
                driver.timeout();
            }
            3 => {
                let connecting = world.lock().unwrap().connecting.take();
                if let Some(c) = connecting {
                    conn = Some(c);
                    handshaken = false;
                    sent.clear();
                    driver.connected(c);
                }
            }
            4 => {
                if let Some(c) = conn.take() {
                    driver.disconnected(c);
                }
            }
            5 if conn.is_some() => {
                let resp = ConnectResponse {
                    protocol_version: 0,
                    timeout: if input.byte() % 8 == 0 { 0 } else { 3000 },
                    session_id: 7,
                    passwd: Bytes::from(vec![7; 16]).into(),
                    read_only: Some(input.byte() % 4 == 0),
                };
                let mut b = BytesMut::new();
                encode_frame(&mut b, |o| resp.encode(o));
                feed = Some(b.to_vec());
            }
            6 if conn.is_some() && !sent.is_empty() => {
                let xid = sent.remove(0);
                let err = [0, -101, -110, -4][usize::from(input.byte() % 4)];
                let len = usize::from(input.byte() % 96);
                let body = input.bytes(len);
                let mut b = BytesMut::new();
                encode_frame(&mut b, |o| {
                    ReplyHeader { xid, zxid: 9, err }.encode(o);
                    o.extend_from_slice(&body);
                });
                feed = Some(b.to_vec());
            }
            7 if conn.is_some() => {
                let len = usize::from(input.byte() % 64);
                feed = Some(input.bytes(len));
            }
            8 if conn.is_some() => {
                let event = WatcherEvent {
                    event_type: EventType::from_i32(i32::from(input.byte() % 7)),
                    state: KeeperState::SyncConnected,
                    path: ["/a", "/a/b", "/", "/c"][usize::from(input.byte() % 4)].into(),
                };
                let mut b = BytesMut::new();
                encode_frame(&mut b, |o| {
                    ReplyHeader {
                        xid: -1,
                        zxid: -1,
                        err: 0,
                    }
                    .encode(o);
                    event.encode(o);
                });
                feed = Some(b.to_vec());
            }
            9 => calls.push(drop_output(client.close())),
            _ => {}
        }
        if let (Some(bytes), Some(c)) = (feed, conn) {
            let split = usize::from(input.byte()).max(1);
            for chunk in bytes.chunks(split) {
                driver.input(c, chunk);
            }
        }
        // What the client wrote: the request xids, in order.
        let written = std::mem::take(&mut world.lock().unwrap().written);
        let mut frames = FrameDecoder::new(usize::MAX);
        frames.push(&written);
        while let Ok(Some(f)) = frames.next_frame() {
            if !handshaken {
                handshaken = true;
                continue;
            }
            if let Ok(h) = RequestHeader::decode(&mut Reader::new(f)) {
                if h.xid > 0 {
                    sent.push(h.xid);
                }
            }
        }
        let ready: Vec<Job> = std::mem::take(&mut *jobs.0.lock().unwrap());
        for job in ready {
            job();
        }
        calls.retain_mut(|c| c.as_mut().poll(&mut cx).is_pending());
    }

    // Close, let every timer fire: nothing handed out may still wait.
    calls.push(drop_output(client.close()));
    for _ in 0..50 {
        advance(1000);
        driver.timeout();
        let connecting = world.lock().unwrap().connecting.take();
        if let Some(c) = connecting {
            driver.disconnected(c);
        }
        let ready: Vec<Job> = std::mem::take(&mut *jobs.0.lock().unwrap());
        for job in ready {
            job();
        }
        calls.retain_mut(|c| c.as_mut().poll(&mut cx).is_pending());
        if calls.is_empty() {
            break;
        }
    }
    assert!(calls.is_empty(), "{} futures never completed", calls.len());
});
