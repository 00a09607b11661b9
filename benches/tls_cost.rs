//! What TLS costs: W2 of BASELINES.md (pipelined getData of a 100-byte
//! node, 1,000 in flight) on kazoo-std over the plaintext port and over
//! TLS (rustls inside the session) of the same real server, interleaved
//! for three rounds, with the client's CPU per operation.
//!
//! ```sh
//! cargo bench --bench tls_cost --features tls          # 100,000 gets a round
//! cargo bench --bench tls_cost --features tls -- 20000 # fewer
//! ```

#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use kazoo::session::Config;
use kazoo::tls::TlsConfig;
use kazoo::Client;
use kazoo_testing::{ServerOptions, ServerTls, TestPki, ZkServer};

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let pki = TestPki::generate().expect("test certificates");
    let options = ServerOptions {
        tls: Some(ServerTls {
            pki: pki.clone(),
            require_client_cert: false,
        }),
        ..ServerOptions::default()
    };
    let server = ZkServer::start_with(&options).expect("a TLS server");
    let tls = TlsConfig::builder()
        .root_pem(pki.ca_pem.as_bytes())
        .build()
        .expect("TLS config");
    let plain = connect(Config::new(&server.connect_string()).unwrap());
    let secure = connect(
        Config::builder(&server.secure_addr().unwrap().to_string())
            .tls(tls)
            .build()
            .unwrap(),
    );
    let node = format!("/tls-cost-{}", std::process::id());
    plain
        .create(&node)
        .data(vec![b'x'; 100])
        .send()
        .wait()
        .expect("node");
    // Warm both paths and the server's JIT.
    for c in [&plain, &secure] {
        common::block_on(common::run_pipelined(c, &node, "W2", 20_000, 1000));
    }
    let mut per_op = [Vec::new(), Vec::new()];
    for round in 1..=3 {
        for (i, (name, c)) in [("plain", &plain), ("tls", &secure)]
            .into_iter()
            .enumerate()
        {
            let cpu0 = common::cpu_seconds();
            let line = common::block_on(common::run_pipelined(c, &node, "W2", count, 1000));
            let cpu_us = (common::cpu_seconds() - cpu0) / count as f64 * 1e6;
            per_op[i].push(cpu_us);
            println!(
                "RESULT client=kazoo-rs adapter=std transport={name} workload=W2 round={round} {line} client_cpu_us_per_op={cpu_us:.1}"
            );
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, t) = (median(&mut per_op[0]), median(&mut per_op[1]));
    println!(
        "RESULT workload=W2 tls_cpu_us_per_op_median={t:.1} plain_cpu_us_per_op_median={p:.1} tls_over_plain={:.2}",
        t / p
    );
    plain.delete(&node).send().wait().expect("cleanup");
    for c in [plain, secure] {
        c.close().wait().expect("close");
    }
}

fn connect(config: Config) -> Client {
    let c = kazoo_std::start(config);
    c.wait_connected()
        .wait_timeout(Duration::from_secs(30))
        .expect("connected");
    c
}
