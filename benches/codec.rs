//! Codec throughput: the hot paths of a pipelined client.
//!
//! Run: `cargo bench --bench codec`. (`cargo test --benches` runs each once.)

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kazoo::acl::OPEN_ACL_UNSAFE;
use kazoo::proto::jute::Record;
use kazoo::proto::*;

fn encode_get_data(c: &mut Criterion) {
    let req = Request::GetData(GetDataRequest {
        path: "/bench/node-0000000042".into(),
        watch: false,
    });
    let mut out = BytesMut::with_capacity(64 * 1024);
    c.bench_function("encode getData request", |b| {
        b.iter(|| {
            out.clear();
            encode_request(
                &mut out,
                black_box(42),
                black_box(&req),
                DEFAULT_MAX_REQUEST_LEN,
            )
            .unwrap();
        })
    });
}

fn decode_get_data(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode getData response");
    for size in [100usize, 1_000_000] {
        let body = GetDataResponse {
            data: Some(Bytes::from(vec![7u8; size])),
            stat: Stat::default(),
        }
        .to_bytes();
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            b.iter(|| Response::decode(OpCode::GetData, black_box(body.clone())).unwrap())
        });
    }
    group.finish();
}

fn decode_children(c: &mut Criterion) {
    let children: Vec<String> = (0..10_000).map(|i| format!("child-{i:010}")).collect();
    let body = ChildrenResponse { children }.to_bytes();
    let mut group = c.benchmark_group("decode getChildren response");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("10000 names", |b| {
        b.iter(|| Response::decode(OpCode::GetChildren, black_box(body.clone())).unwrap())
    });
    group.finish();
}

fn multi_round_trip(c: &mut Criterion) {
    let ops = (0..100)
        .map(|i| {
            MultiOp::Create(CreateRequest {
                path: format!("/bench/multi/n{i}"),
                data: Some(Bytes::from_static(b"0123456789")),
                acl: OPEN_ACL_UNSAFE.to_vec(),
                mode: CreateMode::Persistent,
            })
        })
        .collect();
    let req = Request::Multi(MultiRequest { ops });
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut frames = FrameDecoder::default();
    let mut group = c.benchmark_group("multi");
    group.throughput(Throughput::Elements(100));
    group.bench_function("encode+decode 100-op multi", |b| {
        b.iter(|| {
            out.clear();
            encode_request(&mut out, 1, black_box(&req), DEFAULT_MAX_REQUEST_LEN).unwrap();
            frames.push(&out);
            let frame = frames.next_frame().unwrap().unwrap();
            let mut r = kazoo::proto::jute::Reader::new(frame);
            let header = RequestHeader::decode(&mut r).unwrap();
            Request::decode_body(OpCode::from_i32(header.op).unwrap(), &mut r).unwrap()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    encode_get_data,
    decode_get_data,
    decode_children,
    multi_round_trip
);
criterion_main!(benches);
