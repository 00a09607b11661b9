//! `kazoo-server`: an in-memory ZooKeeper-compatible server for tests and
//! examples. Not for production: no quorum, nothing on disk.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kazoo_server::{EmbeddedServer, ServerConfig};

/// An in-memory ZooKeeper-compatible server.
#[derive(Debug, Parser)]
#[command(name = "kazoo-server", version)]
struct Args {
    /// Client port.
    #[arg(long, default_value_t = 2181)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// tickTime in milliseconds (sessions get 2 to 20 ticks).
    #[arg(long, default_value_t = 2000)]
    tick_time: u64,
    /// Longest session timeout in milliseconds (default 20 ticks).
    #[arg(long)]
    max_session_timeout: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Ok(addr) = format!("{}:{}", args.host, args.port).parse::<SocketAddr>() else {
        eprintln!("kazoo-server: bad address {}:{}", args.host, args.port);
        return ExitCode::from(2);
    };
    let mut config = ServerConfig::default();
    config.tick_time = Duration::from_millis(args.tick_time.clamp(1, 3_600_000));
    config.max_session_timeout = args.max_session_timeout.map(Duration::from_millis);
    match EmbeddedServer::bind(addr, config) {
        Ok(server) => {
            println!("kazoo-server listening on {}", server.addr());
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("kazoo-server: cannot listen on {addr}: {e}");
            ExitCode::from(1)
        }
    }
}
