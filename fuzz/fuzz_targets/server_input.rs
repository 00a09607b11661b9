//! The embedded server fed a program of connection events built from the
//! input: connects (with or without a valid handshake), raw bytes, framed
//! bodies under real opcodes, time passing, closes. It must never panic,
//! and a connection it closes must not take others with it.
//!
//! The server allows 32 connections per address (every connection here
//! comes from one): the limit's refusals get fuzzed too, and the number of
//! open connections, which every step scans, stays small.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use kazoo::proto::jute::Record;
use kazoo::proto::{encode_frame, ConnectRequest, OpCode};
use kazoo_server::{ConnId, Server, ServerConfig};
use libfuzzer_sys::fuzz_target;

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (head, rest) = data.split_at(n);
    *data = rest;
    head
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    let start = Instant::now();
    let mut now = start;
    let mut config = ServerConfig::default();
    config.max_client_cnxns = 32;
    let mut server = Server::new(config, now);
    let mut conns: Vec<ConnId> = Vec::new();
    let mut out = BytesMut::new();
    while let [op, arg, ..] = *data {
        data = &data[2..];
        let pick = |conns: &[ConnId]| conns.get(usize::from(arg) % conns.len().max(1)).copied();
        let mut bytes = BytesMut::new();
        match op % 6 {
            0 => {
                let conn = server.connection_opened(IpAddr::V4(Ipv4Addr::LOCALHOST));
                conns.push(conn);
                if arg % 2 == 0 {
                    let handshake = ConnectRequest {
                        timeout: 4000,
                        passwd: vec![0; 16].into(),
                        read_only: Some(false),
                        ..Default::default()
                    };
                    encode_frame(&mut bytes, |o| handshake.encode(o));
                    server.handle_connection_input(conn, &bytes, now);
                }
            }
            1 => {
                if let Some(conn) = pick(&conns) {
                    let raw = take(&mut data, usize::from(arg));
                    server.handle_connection_input(conn, raw, now);
                }
            }
            2 | 3 => {
                if let Some(conn) = pick(&conns) {
                    let body = take(&mut data, usize::from(arg) / 2);
                    encode_frame(&mut bytes, |o| {
                        if op % 6 == 3 {
                            let ops = OpCode::ALL;
                            o.put_i32(i32::from(arg));
                            o.put_i32(ops[usize::from(arg) % ops.len()].as_i32());
                        }
                        o.put_slice(body);
                    });
                    server.handle_connection_input(conn, &bytes, now);
                }
            }
            4 => {
                now += Duration::from_millis(u64::from(arg) * 100);
                server.handle_timeout(now);
            }
            _ => {
                if let Some(conn) = pick(&conns) {
                    server.connection_closed(conn);
                    conns.retain(|c| *c != conn);
                }
            }
        }
        for conn in server.connections_with_output() {
            out.clear();
            server.poll_transmit(conn, &mut out);
        }
        while let Some(conn) = server.poll_close() {
            server.connection_closed(conn);
            conns.retain(|c| *c != conn);
        }
        assert!(server.connection_count() == conns.len());
    }
});
