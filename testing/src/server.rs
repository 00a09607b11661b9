//! Starting and stopping a real standalone ZooKeeper server.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use std::{fs, thread};

use super::jvm::Jvm;
use super::{RawConnection, ServerTls, TestingError};

const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";

/// How to start a server. The defaults suit the integration suite.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `tickTime` in ms; sessions negotiate between 2 and 20 ticks.
    pub tick_time: u32,
    /// Enable TTL nodes (`extendedTypesEnabled`).
    pub extended_types: bool,
    /// How often containers and TTL nodes are swept, in ms (the server's default is 60 s).
    pub container_check_interval_ms: u32,
    /// Extra `zoo.cfg` lines.
    pub extra_config: Vec<String>,
    /// How long to wait for the first session.
    pub start_timeout: Duration,
    /// Also listen for TLS clients (`secureClientPort`, Netty).
    pub tls: Option<ServerTls>,
    /// SASL DIGEST-MD5 users (name, password): a JAAS `Server` section and
    /// the SASL authentication provider (`sasl:<name>` ACL ids).
    pub sasl_users: Vec<(String, String)>,
    /// Extra JVM arguments (`-Dreadonlymode.enabled=true`…).
    pub jvm_args: Vec<String>,
}

impl ServerOptions {
    /// The JVM arguments these options need, writing any file they name
    /// (the JAAS configuration) under `dir`.
    pub(crate) fn jvm_args(&self, dir: &Path) -> Result<Vec<String>, TestingError> {
        let mut args = self.jvm_args.clone();
        if !self.sasl_users.is_empty() {
            let users: String = self
                .sasl_users
                .iter()
                .map(|(name, password)| {
                    let quoted = password.replace('\\', "\\\\").replace('"', "\\\"");
                    format!("\n    user_{name}=\"{quoted}\"")
                })
                .collect();
            let jaas = dir.join("jaas.conf");
            fs::write(
                &jaas,
                format!(
                    "Server {{\n    org.apache.zookeeper.server.auth.DigestLoginModule required{users};\n}};\n"
                ),
            )?;
            args.push(format!(
                "-Djava.security.auth.login.config={}",
                jaas.display()
            ));
        }
        Ok(args)
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            tick_time: 2000,
            extended_types: true,
            container_check_interval_ms: 500,
            extra_config: Vec::new(),
            start_timeout: Duration::from_secs(60),
            tls: None,
            sasl_users: Vec::new(),
            jvm_args: Vec::new(),
        }
    }
}

/// A standalone ZooKeeper server on 127.0.0.1, stopped on drop.
///
/// The JVM runs under a guard that kills it by process id and removes its
/// directory when this process lets go of it, however this process exits.
#[derive(Debug)]
pub struct ZkServer {
    addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
    dir: PathBuf,
    jvm: Jvm,
}

impl ZkServer {
    /// Starts a server with the default options.
    pub fn start() -> Result<ZkServer, TestingError> {
        Self::start_with(&ServerOptions::default())
    }

    /// One server for the whole test binary, started on first use.
    pub fn shared() -> Result<&'static ZkServer, TestingError> {
        static SHARED: OnceLock<Result<ZkServer, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| ZkServer::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| TestingError::StartFailed(e.clone()))
    }

    /// Starts a server; retries on a fresh port if the chosen one was taken meanwhile.
    pub fn start_with(options: &ServerOptions) -> Result<ZkServer, TestingError> {
        ensure_installed()?;
        let mut last = None;
        for _ in 0..3 {
            match Self::launch(options) {
                Ok(server) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| TestingError::StartFailed("no attempt".into())))
    }

    fn launch(options: &ServerOptions) -> Result<ZkServer, TestingError> {
        let port = free_port()?;
        let dir = temp_dir()?;
        let data = dir.join("data");
        fs::create_dir_all(&data)?;
        let mut cfg = format!(
            "tickTime={}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n\
             extendedTypesEnabled={}\n",
            options.tick_time,
            data.display(),
            options.extended_types,
        );
        let secure_port = match &options.tls {
            Some(tls) => {
                let secure_port = free_port()?;
                fs::write(dir.join("ca.pem"), &tls.pki.ca_pem)?;
                fs::write(dir.join("server.pem"), &tls.pki.server_pem)?;
                cfg.push_str(&format!(
                    "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
                     secureClientPort={secure_port}\nsecureClientPortAddress=127.0.0.1\n\
                     ssl.keyStore.location={}\nssl.keyStore.type=PEM\n\
                     ssl.trustStore.location={}\nssl.trustStore.type=PEM\n\
                     ssl.clientAuth={}\n",
                    dir.join("server.pem").display(),
                    dir.join("ca.pem").display(),
                    if tls.require_client_cert {
                        "need"
                    } else {
                        "none"
                    },
                ));
                Some(secure_port)
            }
            None => None,
        };
        for line in &options.extra_config {
            cfg.push_str(line);
            cfg.push('\n');
        }
        let mut jvm_args = options.jvm_args(&dir)?;
        if !options.sasl_users.is_empty() {
            cfg.push_str(
                "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n",
            );
        }
        let cfg_path = dir.join("zoo.cfg");
        fs::write(&cfg_path, cfg)?;
        jvm_args.push(format!(
            "-Dznode.container.checkIntervalMs={}",
            options.container_check_interval_ms
        ));
        let jvm = Jvm::spawn(&cfg_path, &dir.join("server.log"), &jvm_args, Some(&dir))?;
        let server = ZkServer {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            secure_addr: secure_port.map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p))),
            dir,
            jvm,
        };
        server.wait_ready(options.start_timeout)?;
        Ok(server)
    }

    /// Polls with real handshakes: `ruok` answers before sessions work (PROTOCOL.md §14.3).
    fn wait_ready(&self, timeout: Duration) -> Result<(), TestingError> {
        let deadline = Instant::now() + timeout;
        loop {
            let probe = RawConnection::open_timeout(self.addr, Duration::from_secs(1))
                .and_then(|mut c| c.call(kazoo::proto::Request::CloseSession));
            if probe.is_ok() {
                return Ok(());
            }
            if !self.is_running() {
                return Err(TestingError::StartFailed(format!(
                    "the JVM exited; log:\n{}",
                    self.log_tail()
                )));
            }
            if Instant::now() > deadline {
                return Err(TestingError::StartFailed(format!(
                    "no session after {timeout:?}; log:\n{}",
                    self.log_tail()
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The TLS client address, when started with [`ServerOptions::tls`].
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_addr
    }

    /// The client address, 127.0.0.1 and the server's port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:port`, for a connect string.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// A connect string for a fresh, empty chroot `/<prefix>-<n>` on this
    /// server (created here), so that tests sharing one server never see
    /// each other's nodes.
    pub fn chroot(&self, prefix: &str) -> Result<String, TestingError> {
        fresh_chroot(self.addr, &self.connect_string(), prefix)
    }

    /// The JVM's process id.
    pub fn pid(&self) -> u32 {
        self.jvm.pid
    }

    /// The server's working directory (config, data, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn is_running(&self) -> bool {
        self.jvm.is_running()
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        log.get(start..).unwrap_or_default().to_string()
    }
}

/// Installs the Debian package if it is missing and `KAZOO_INSTALL_ZOOKEEPER=1`.
pub(crate) fn ensure_installed() -> Result<(), TestingError> {
    if Path::new(ZOOKEEPER_JAR).exists() {
        return Ok(());
    }
    if std::env::var_os("KAZOO_INSTALL_ZOOKEEPER").as_deref() != Some("1".as_ref()) {
        return Err(TestingError::NotInstalled(ZOOKEEPER_JAR));
    }
    let status = Command::new("sh")
        .arg("-c")
        .arg(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper",
        )
        .status()?;
    if !status.success() || !Path::new(ZOOKEEPER_JAR).exists() {
        return Err(TestingError::InstallFailed(format!(
            "apt-get exited with {status}"
        )));
    }
    Ok(())
}

/// A port nothing listens on right now (the OS picks it).
/// A port free now, for a server to listen on: below the kernel's
/// ephemeral range when it can be, so that no outgoing connection of
/// this machine (a client, a proxy) can take it while the server is down
/// and stop it from coming back. A 30-minute chaos run lost a member that
/// way: OS-assigned ports come from the ephemeral range.
pub(crate) fn free_port() -> Result<u16, TestingError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = ephemeral_low().unwrap_or(32768);
    if low > 12_000 {
        // Spread over [10000, low) from a per-process start, so parallel
        // test processes rarely try the same ports.
        let span = u32::from(low - 10_000);
        let start = std::process::id().wrapping_mul(7919) % span;
        for _ in 0..200 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let port = 10_000 + ((start + n * 97) % span) as u16;
            if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(port);
            }
        }
    }
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The first port of the kernel's ephemeral range (Linux).
fn ephemeral_low() -> Option<u16> {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub(crate) fn temp_dir() -> Result<PathBuf, TestingError> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("kazoo-zk-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Creates `/<prefix>-<n>` through `addr` (any ZooKeeper-compatible
/// server) and returns `hosts/<prefix>-<n>`, a connect string for it.
pub fn fresh_chroot(addr: SocketAddr, hosts: &str, prefix: &str) -> Result<String, TestingError> {
    static N: AtomicU32 = AtomicU32::new(0);
    let path = format!("/{prefix}-{}", N.fetch_add(1, Ordering::Relaxed));
    let mut zk = RawConnection::open(addr)?;
    let created = zk.call(kazoo::proto::Request::Create(kazoo::proto::CreateRequest {
        path: path.clone(),
        data: None,
        acl: kazoo::acl::OPEN_ACL_UNSAFE.to_vec(),
        mode: kazoo::proto::CreateMode::Persistent,
    }));
    match created {
        Ok(_) | Err(TestingError::Protocol(kazoo::Error::NodeExists)) => {}
        Err(e) => return Err(e),
    }
    let _ = zk.call(kazoo::proto::Request::CloseSession);
    Ok(format!("{hosts}{path}"))
}
