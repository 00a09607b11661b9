//! A 3-node (or n-node) ZooKeeper ensemble on loopback (PROTOCOL.md §14.4)
//! whose members a test can stop, kill and start again.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::jvm::{four_letter_word, Jvm};
use super::server::{ensure_installed, free_port, fresh_chroot, temp_dir};
use super::{RawConnection, ServerOptions, TestingError};

/// An ensemble of real servers on 127.0.0.1, each under its own directory;
/// every member is stopped (by process id) and the directory removed on drop.
///
/// ```no_run
/// let mut zk = kazoo_testing::ZkEnsemble::start(3).unwrap();
/// let leader = zk.leader().unwrap();
/// zk.kill(leader).unwrap(); // SIGKILL; the other two elect a new leader
/// zk.start_member(leader).unwrap();
/// ```
#[derive(Debug)]
pub struct ZkEnsemble {
    dir: PathBuf,
    members: Vec<Member>,
    options: ServerOptions,
}

#[derive(Debug)]
struct Member {
    addr: SocketAddr,
    cfg: PathBuf,
    log: PathBuf,
    jvm: Option<Jvm>,
}

impl ZkEnsemble {
    /// Starts `n` members (3 for a majority of 2) and waits until every one
    /// is leader or follower and accepts sessions.
    pub fn start(n: usize) -> Result<ZkEnsemble, TestingError> {
        Self::start_with(n, &ServerOptions::default())
    }

    /// [`start`](Self::start) with options (tick time, extra `zoo.cfg` lines).
    pub fn start_with(n: usize, options: &ServerOptions) -> Result<ZkEnsemble, TestingError> {
        ensure_installed()?;
        let dir = temp_dir()?;
        let mut ports = Vec::new();
        for _ in 0..n {
            ports.push((free_port()?, free_port()?, free_port()?));
        }
        let servers: String = ports
            .iter()
            .enumerate()
            .map(|(i, (_, quorum, election))| {
                format!("server.{}=127.0.0.1:{quorum}:{election}\n", i + 1)
            })
            .collect();
        let mut members = Vec::new();
        for (i, (client, _, _)) in ports.iter().enumerate() {
            let home = dir.join((i + 1).to_string());
            let data = home.join("data");
            fs::create_dir_all(&data)?;
            fs::write(data.join("myid"), format!("{}\n", i + 1))?;
            let mut cfg = format!(
                "tickTime={}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client}\n\
                 clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n\
                 maxClientCnxns=0\nextendedTypesEnabled={}\n{servers}",
                options.tick_time,
                data.display(),
                options.extended_types,
            );
            for line in &options.extra_config {
                cfg.push_str(line);
                cfg.push('\n');
            }
            if !options.sasl_users.is_empty() {
                cfg.push_str(
                    "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n",
                );
            }
            let cfg_path = home.join("zoo.cfg");
            fs::write(&cfg_path, cfg)?;
            members.push(Member {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, *client)),
                cfg: cfg_path,
                log: home.join("server.log"),
                jvm: None,
            });
        }
        let mut ensemble = ZkEnsemble {
            dir,
            members,
            options: options.clone(),
        };
        for i in 0..n {
            ensemble.spawn(i)?;
        }
        for i in 0..n {
            ensemble.wait_serving(i)?;
        }
        Ok(ensemble)
    }

    fn spawn(&mut self, i: usize) -> Result<(), TestingError> {
        let m = &mut self.members[i];
        let home = m.cfg.parent().unwrap_or(&self.dir).to_path_buf();
        let mut args = self.options.jvm_args(&home)?;
        args.push(format!(
            "-Dznode.container.checkIntervalMs={}",
            self.options.container_check_interval_ms
        ));
        m.jvm = Some(Jvm::spawn(&m.cfg, &m.log, &args, None)?);
        Ok(())
    }

    /// Waits until member `i` is leader or follower and accepts a session.
    fn wait_serving(&self, i: usize) -> Result<(), TestingError> {
        let deadline = Instant::now() + self.options.start_timeout;
        loop {
            let mode = self.mode(i);
            if matches!(mode.as_deref(), Some("leader" | "follower" | "standalone")) {
                let probe =
                    RawConnection::open_timeout(self.members[i].addr, Duration::from_secs(1))
                        .and_then(|mut c| c.call(kazoo::proto::Request::CloseSession));
                if probe.is_ok() {
                    return Ok(());
                }
            }
            if !self.is_running(i) {
                return Err(TestingError::StartFailed(format!(
                    "member {i} exited; log:\n{}",
                    self.log_tail(i)
                )));
            }
            if Instant::now() > deadline {
                return Err(TestingError::StartFailed(format!(
                    "member {i} not serving (mode {mode:?}); log:\n{}",
                    self.log_tail(i)
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// How many members the ensemble has (running or not).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: an ensemble has members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Member `i`'s client address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.members[i].addr
    }

    /// Which member listens on `addr`, if any.
    pub fn member_at(&self, addr: SocketAddr) -> Option<usize> {
        self.members.iter().position(|m| m.addr == addr)
    }

    /// The member `client` is connected to now, so a test can kill exactly
    /// that one (Curator's `findConnectionInstance`); `None` while it is
    /// not connected, or connected to a server outside this ensemble.
    pub fn member_of(&self, client: &kazoo::Client) -> Option<usize> {
        use kazoo::session::SessionState;
        let up = matches!(
            client.state(),
            Some(SessionState::Connected { .. } | SessionState::ReadOnly { .. })
        );
        let host = client.current_host().filter(|_| up)?;
        let ip: std::net::IpAddr = match host.host.as_str() {
            "localhost" => Ipv4Addr::LOCALHOST.into(),
            other => other.parse().ok()?,
        };
        self.member_at(SocketAddr::new(ip, host.port))
    }

    /// A connect string for a fresh, empty chroot (created through a
    /// running member), every member listed.
    pub fn chroot(&self, prefix: &str) -> Result<String, TestingError> {
        let up = (0..self.len()).find(|&i| self.is_running(i)).unwrap_or(0);
        fresh_chroot(self.addr(up), &self.connect_string(), prefix)
    }

    /// Every member, `127.0.0.1:p1,127.0.0.1:p2,…`.
    pub fn connect_string(&self) -> String {
        let hosts: Vec<String> = self.members.iter().map(|m| m.addr.to_string()).collect();
        hosts.join(",")
    }

    /// True while member `i`'s JVM runs.
    pub fn is_running(&self, i: usize) -> bool {
        self.members[i].jvm.as_ref().is_some_and(Jvm::is_running)
    }

    /// Member `i`'s role from `srvr` (`leader`, `follower`…), if it answers.
    pub fn mode(&self, i: usize) -> Option<String> {
        let answer = four_letter_word(self.members[i].addr, "srvr").ok()?;
        answer
            .lines()
            .find_map(|l| l.strip_prefix("Mode:"))
            .map(|m| m.trim().to_string())
    }

    /// The member that is leader now, if one is.
    pub fn leader(&self) -> Option<usize> {
        (0..self.len()).find(|&i| self.is_running(i) && self.mode(i).as_deref() == Some("leader"))
    }

    /// Waits until some member is leader (after a kill, the election takes
    /// a moment).
    pub fn wait_for_leader(&self, timeout: Duration) -> Result<usize, TestingError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.leader() {
                return Ok(i);
            }
            if Instant::now() > deadline {
                return Err(TestingError::StartFailed("no leader elected".into()));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops member `i` gracefully (SIGTERM) and waits until it is gone.
    pub fn stop(&mut self, i: usize) -> Result<(), TestingError> {
        if let Some(jvm) = self.members[i].jvm.take() {
            jvm.stop()?;
        }
        Ok(())
    }

    /// Kills member `i` (SIGKILL: no goodbye to clients or peers).
    pub fn kill(&mut self, i: usize) -> Result<(), TestingError> {
        if let Some(jvm) = self.members[i].jvm.take() {
            jvm.kill()?;
        }
        Ok(())
    }

    /// Freezes member `i` (SIGSTOP): it neither answers nor closes its
    /// connections, like a long GC pause or a hung host.
    /// [`resume`](Self::resume) thaws it; a kill or the drop still ends it.
    pub fn pause(&mut self, i: usize) -> Result<(), TestingError> {
        match &self.members[i].jvm {
            Some(jvm) => jvm.signal("STOP"),
            None => Ok(()),
        }
    }

    /// Thaws a member frozen by [`pause`](Self::pause) (SIGCONT).
    pub fn resume(&mut self, i: usize) -> Result<(), TestingError> {
        match &self.members[i].jvm {
            Some(jvm) => jvm.signal("CONT"),
            None => Ok(()),
        }
    }

    /// Kills every member at once (the whole ensemble goes down together).
    pub fn kill_all(&mut self) -> Result<(), TestingError> {
        let jvms: Vec<Jvm> = self
            .members
            .iter_mut()
            .filter_map(|m| m.jvm.take())
            .collect();
        for jvm in &jvms {
            jvm.signal("KILL")?;
        }
        for jvm in &jvms {
            jvm.kill()?;
        }
        Ok(())
    }

    /// Starts member `i` again (same data) and waits until it serves.
    pub fn start_member(&mut self, i: usize) -> Result<(), TestingError> {
        if !self.is_running(i) {
            self.members[i].jvm = None;
            self.spawn(i)?;
        }
        self.wait_serving(i)
    }

    /// Starts every stopped member without waiting for it to serve.
    pub fn spawn_stopped(&mut self) -> Result<(), TestingError> {
        for i in 0..self.len() {
            if !self.is_running(i) {
                self.members[i].jvm = None;
                self.spawn(i)?;
            }
        }
        Ok(())
    }

    /// Starts every stopped member at once, then waits until each serves
    /// (use when no quorum is up, so none can serve alone).
    pub fn start_all(&mut self) -> Result<(), TestingError> {
        self.spawn_stopped()?;
        for i in 0..self.len() {
            self.wait_serving(i)?;
        }
        Ok(())
    }

    fn log_tail(&self, i: usize) -> String {
        let log = fs::read_to_string(&self.members[i].log).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        log.get(start..).unwrap_or_default().to_string()
    }
}

impl Drop for ZkEnsemble {
    fn drop(&mut self) {
        for m in &mut self.members {
            drop(m.jvm.take());
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
