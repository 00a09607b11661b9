//! One ZooKeeper JVM under a guard that kills it by process id when the
//! test process goes away, however it goes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use super::TestingError;

/// Debian's `zookeeper.jar` manifest omits two Netty jars the Netty
/// connection factory (TLS) needs (PROTOCOL.md §14.5); a missing entry is
/// ignored by `java`.
const CLASSPATH: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:\
                         /usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar";

/// A running `QuorumPeerMain`. The JVM runs under a small `sh` guard that
/// holds the other end of a pipe from this process: when the pipe closes
/// (drop, or the test process dies), the guard kills the JVM by its pid
/// and, if asked, removes the server's directory.
#[derive(Debug)]
pub(crate) struct Jvm {
    pub(crate) pid: u32,
    guard: Child,
    guard_stdin: Option<ChildStdin>,
}

impl Jvm {
    /// Starts `QuorumPeerMain cfg` with its output in `log`.
    pub(crate) fn spawn(
        cfg: &Path,
        log: &Path,
        jvm_options: &[String],
        remove_on_exit: Option<&Path>,
    ) -> Result<Jvm, TestingError> {
        let mut guard = Command::new("sh")
            .arg("-c")
            // Start the JVM, report its pid, then wait for our end of stdin to close.
            .arg(
                r#"java "$@" >>"$ZK_LOG" 2>&1 & echo $!; read _ignored; kill -9 $! 2>/dev/null; wait; if [ -n "$ZK_REMOVE" ]; then rm -rf "$ZK_REMOVE"; fi"#,
            )
            .arg("zk-guard")
            .args(["-Xmx256m", "-XX:+UseSerialGC", "-Dzookeeper.admin.enableServer=false"])
            .args(jvm_options)
            .args([
                "-cp",
                CLASSPATH,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(cfg)
            .env("ZK_LOG", log)
            .env("ZK_REMOVE", remove_on_exit.map(PathBuf::from).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let guard_stdin = guard.stdin.take();
        let mut line = String::new();
        if let Some(out) = guard.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let pid = line
            .trim()
            .parse()
            .map_err(|_| TestingError::StartFailed(format!("no pid from the guard: {line:?}")))?;
        Ok(Jvm {
            pid,
            guard,
            guard_stdin,
        })
    }

    pub(crate) fn is_running(&self) -> bool {
        // A killed JVM stays a zombie of the guard until it is reaped, so
        // look at its state, not only whether /proc has it.
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => !matches!(
                stat.rsplit_once(") ").map(|(_, s)| &s[..1]),
                Some("Z" | "X")
            ),
            Err(_) => false,
        }
    }

    /// Sends `signal` (`TERM`, `KILL`, `STOP`, `CONT`) to the JVM by pid.
    pub(crate) fn signal(&self, signal: &str) -> Result<(), TestingError> {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid.to_string())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() && self.is_running() {
            return Err(TestingError::StartFailed(format!(
                "kill -{signal} {} failed",
                self.pid
            )));
        }
        Ok(())
    }

    /// Stops the JVM with SIGTERM and waits (up to 10 s) until it is gone.
    pub(crate) fn stop(&self) -> Result<(), TestingError> {
        self.signal("TERM")?;
        self.wait_gone(Duration::from_secs(10))
    }

    /// Kills the JVM with SIGKILL and waits until it is gone.
    pub(crate) fn kill(&self) -> Result<(), TestingError> {
        self.signal("KILL")?;
        self.wait_gone(Duration::from_secs(10))
    }

    fn wait_gone(&self, timeout: Duration) -> Result<(), TestingError> {
        let deadline = std::time::Instant::now() + timeout;
        while self.is_running() {
            if std::time::Instant::now() > deadline {
                return Err(TestingError::StartFailed(format!(
                    "JVM {} did not exit",
                    self.pid
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        // Closing the guard's stdin makes it kill the JVM by pid and exit.
        drop(self.guard_stdin.take());
        let _ = self.guard.wait();
    }
}

/// Asks a server a four-letter word (`srvr`, `ruok`, `stat`…) and returns
/// the whole answer.
pub fn four_letter_word(addr: SocketAddr, word: &str) -> Result<String, TestingError> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(word.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}
