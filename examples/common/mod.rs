//! What the examples share: which servers they talk to.

use kazoo_server::EmbeddedServer;

/// `ZK_HOSTS` when set (a real ensemble), else an embedded server started
/// here, kept running while the returned handle lives.
pub fn hosts() -> Result<(Option<EmbeddedServer>, String), Box<dyn std::error::Error>> {
    Ok(match std::env::var("ZK_HOSTS") {
        Ok(hosts) => (None, hosts),
        Err(_) => {
            let server = EmbeddedServer::start(Default::default())?;
            let hosts = server.connect_string();
            (Some(server), hosts)
        }
    })
}
