//! Four-letter words: `ruok`, `srvr`, `stat`, `envi` and `isro`, answered in plain
//! text on a connection that then closes.

use crate::server::Server;

/// Words the real server knows; the ones not answered here get its
/// "not in the whitelist" text.
const KNOWN: &[&str] = &[
    "ruok", "srvr", "stat", "isro", "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash",
    "mntr", "srst", "stmk", "wchc", "wchp", "wchs",
];

/// The answer to `prefix` if it is a four-letter word, `None` if it is the
/// start of a handshake.
pub(crate) fn answer(prefix: &[u8], server: &Server) -> Option<String> {
    let word = std::str::from_utf8(prefix).ok()?;
    if !KNOWN.contains(&word) {
        return None;
    }
    Some(match word {
        "ruok" => "imok".to_string(),
        // Python kazoo's server_version() reads this one.
        "envi" => format!(
            "Environment:\nzookeeper.version={}, built for kazoo-server\nhost.name=localhost\nos.name={}\n",
            crate::VERSION,
            std::env::consts::OS
        ),
        "isro" => "rw".to_string(),
        "wchc" => server.watches_by_session(),
        "srvr" => srvr(server),
        "stat" => {
            let mut s = srvr(server);
            s.insert_str(s.find("Latency").unwrap_or(0), "Clients:\n\n");
            s
        }
        other => format!("{other} is not executed because it is not in the whitelist.\n"),
    })
}

fn srvr(server: &Server) -> String {
    format!(
        "Zookeeper version: {}, built for kazoo-server\nLatency min/avg/max: 0/0.0/0\nReceived: {}\nSent: {}\n\
         Connections: {}\nOutstanding: 0\nZxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
        crate::VERSION,
        server.received,
        server.sent,
        server.connection_count(),
        server.zxid(),
        server.node_count()
    )
}
