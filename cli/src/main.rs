//! `kz`: look at and change a ZooKeeper tree from the shell.
//!
//! Exit codes: 0 on success, 1 with a one-line error (the ZooKeeper or
//! recipe error name and the path) when the operation fails, 2 on bad
//! usage, 3 when a held lock is lost, 130 when interrupted (Ctrl-C).
//!
//! Digest credentials (`user:password`) come from the environment
//! variable `KZ_DIGEST_AUTH`, and the SASL password of `--sasl-user` from
//! `KZ_SASL_PASSWORD`, never from an argument.

#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

mod groups;
mod recipes;
mod watching;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kazoo_std::proto::Stat;
use kazoo_std::sasl::SaslCredentials;
use kazoo_std::session::{Config, DisconnectReason, WatchedEvent};
use kazoo_std::tls::TlsConfig;
use kazoo_std::{Client, Error};

/// The environment variable holding `user:password` for digest auth.
const DIGEST_ENV: &str = "KZ_DIGEST_AUTH";
/// The environment variable holding the password of `--sasl-user`.
const SASL_PASSWORD_ENV: &str = "KZ_SASL_PASSWORD";

/// A small ZooKeeper command-line tool.
#[derive(Debug, Parser)]
#[command(name = "kz", version)]
struct Cli {
    /// Servers, `host:port[,host:port…][/chroot]`.
    #[arg(
        long,
        env = "ZK_HOSTS",
        default_value = "127.0.0.1:2181",
        global = true
    )]
    hosts: String,
    /// Seconds to wait for the connection and for each answer; also the
    /// session timeout asked for.
    #[arg(long, default_value_t = 10.0, global = true)]
    timeout: f64,
    /// Speak TLS, trusting the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE", global = true)]
    tls_ca: Option<PathBuf>,
    /// With --tls-ca: present this certificate chain (PEM) when the
    /// server asks for one (mutual TLS); needs --tls-key.
    #[arg(long, value_name = "FILE", global = true, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", global = true, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Accept a read-only server (one cut off from its quorum).
    #[arg(long, global = true)]
    read_only: bool,
    /// Authenticate with SASL DIGEST-MD5 as this user; the password comes
    /// from the environment variable KZ_SASL_PASSWORD.
    #[arg(long, value_name = "USER", global = true)]
    sasl_user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List a node's children, one per line, sorted.
    Ls { path: String },
    /// Print a node's data.
    Get {
        path: String,
        /// Then wait for the node to change and print the event.
        #[arg(long)]
        watch: bool,
    },
    /// Replace a node's data.
    Set {
        path: String,
        data: String,
        /// Only if the node's version is this.
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        version: i32,
    },
    /// Create a node and print its path.
    Create {
        path: String,
        /// The node's data.
        #[arg(long, default_value = "")]
        data: String,
        /// Deleted when this command's session ends.
        #[arg(long)]
        ephemeral: bool,
        /// Append a sequence number to the name.
        #[arg(long)]
        sequential: bool,
        /// Deleted by the server once its last child is gone.
        #[arg(long)]
        container: bool,
        /// Deleted after this many milliseconds without changes or children.
        #[arg(long, value_name = "MS")]
        ttl: Option<u64>,
        /// Create missing parents.
        #[arg(long, short = 'p')]
        parents: bool,
    },
    /// Delete a node.
    Delete {
        path: String,
        /// With everything under it.
        #[arg(long, short = 'r')]
        recursive: bool,
        /// Only if the node's version is this.
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        version: i32,
    },
    /// Print a node's Stat.
    Stat { path: String },
    /// Print the node's changes (its descendants' too with --recursive)
    /// until interrupted: `NodeCreated|NodeDataChanged|NodeDeleted
    /// SyncConnected PATH`, also for changes made while the connection
    /// was down (printed after the reconnect); connection states as
    /// `state SUSPENDED|CONNECTED|LOST`.
    Watch {
        path: String,
        #[arg(long)]
        recursive: bool,
    },
    /// Print kazoo's TreeCache events under PATH until interrupted
    /// (`NODE_ADDED PATH`, `NODE_UPDATED PATH`, `NODE_REMOVED PATH`,
    /// `INITIALIZED`, `CONNECTION_SUSPENDED|RECONNECTED|LOST`).
    Cache { path: String },
    /// Print kazoo's Counter at PATH, after adding N if asked.
    Counter {
        path: String,
        /// Add this (negative to subtract), then print the new value.
        #[arg(long, allow_negative_numbers = true)]
        add: Option<i64>,
    },
    /// kazoo's Queue: put an item, or get one (waiting at most
    /// --timeout; exit 1 if none came).
    #[command(subcommand)]
    Queue(QueueCommand),
    /// kazoo's Barrier: create it, remove it, or wait (at most --timeout)
    /// until it is removed.
    #[command(subcommand)]
    Barrier(BarrierCommand),
    /// kazoo's Party: join (and stay) or list the members.
    #[command(subcommand)]
    Party(PartyCommand),
    /// Create a node and its parents unless they exist.
    Ensure { path: String },
    /// Take kazoo's exclusive Lock and hold it (see `kz help lock`).
    ///
    /// Prints `acquired <node> fencing-token <czxid>`, holds, releases and
    /// prints `released`. Prints `suspended` / `reconnected` as the
    /// connection comes and goes, and `lost …` (exit 3) if the lock is
    /// lost while held. Ctrl-C deletes the node and exits 130. --timeout
    /// also bounds the wait (then LockTimeout, exit 1).
    Lock(Holding),
    /// Take kazoo's ReadLock (shared with readers) and hold it.
    Rlock(Holding),
    /// Take kazoo's WriteLock and hold it.
    Wlock(Holding),
    /// Take a lease of kazoo's Semaphore and hold it.
    Semaphore {
        #[command(flatten)]
        holding: Holding,
        /// The semaphore's max_leases (every participant must agree).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        max: u32,
    },
    /// Wait (at most --timeout) to be elected in kazoo's Election, print
    /// `elected <node> fencing-token <czxid>`, lead, print `released`.
    Election {
        path: String,
        /// The identifier other contenders see.
        #[arg(long)]
        id: String,
        /// Seconds to lead (default: until Ctrl-C).
        #[arg(long, value_name = "SECS", value_parser = seconds)]
        hold: Option<Duration>,
    },
    /// Take or renew kazoo's NonBlockingLease: prints `obtained`, or fails.
    Lease {
        path: String,
        /// Seconds the lease lasts.
        #[arg(long, value_name = "SECS", value_parser = seconds)]
        duration: Duration,
        /// The holder's identifier (default: HOSTNAME-PID).
        #[arg(long)]
        id: Option<String>,
    },
    /// List a lock's or election's contenders, in order, one per line.
    Contenders { path: String },
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// Add DATA; prints the entry's path.
    Put {
        path: String,
        data: String,
        /// 0 (first) to 999.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(0..=999))]
        priority: u16,
    },
    /// Take the first item and print it.
    Get { path: String },
}

#[derive(Debug, Subcommand)]
enum BarrierCommand {
    /// Put the barrier up.
    Create { path: String },
    /// Take it down (exit 1 if it was not up).
    Remove { path: String },
    /// Wait until it is down.
    Wait { path: String },
}

#[derive(Debug, Subcommand)]
enum PartyCommand {
    /// Join, print `joined`, stay (SECS, or until Ctrl-C), leave, print
    /// `left`. A lost session re-joins by itself.
    Join {
        path: String,
        /// The identifier other members see.
        #[arg(long)]
        id: String,
        /// Seconds to stay (default: until Ctrl-C).
        #[arg(long, value_name = "SECS", value_parser = seconds)]
        hold: Option<Duration>,
    },
    /// Print the members' identifiers, sorted, one per line.
    List { path: String },
}

/// A lock or semaphore path and how to hold it.
#[derive(Debug, clap::Args)]
struct Holding {
    path: String,
    /// The identifier contenders see (default: HOSTNAME-PID).
    #[arg(long)]
    id: Option<String>,
    /// Seconds to hold (default: until Ctrl-C).
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    hold: Option<Duration>,
}

/// A positive, finite number of seconds.
fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && secs < 1e9 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!("{s} must be a positive number of seconds"))
    }
}

impl Command {
    fn path(&self) -> &str {
        match self {
            Command::Ls { path }
            | Command::Get { path, .. }
            | Command::Set { path, .. }
            | Command::Create { path, .. }
            | Command::Delete { path, .. }
            | Command::Stat { path }
            | Command::Watch { path, .. }
            | Command::Cache { path }
            | Command::Counter { path, .. }
            | Command::Queue(QueueCommand::Put { path, .. } | QueueCommand::Get { path })
            | Command::Barrier(
                BarrierCommand::Create { path }
                | BarrierCommand::Remove { path }
                | BarrierCommand::Wait { path },
            )
            | Command::Party(PartyCommand::Join { path, .. } | PartyCommand::List { path })
            | Command::Ensure { path }
            | Command::Lock(Holding { path, .. })
            | Command::Rlock(Holding { path, .. })
            | Command::Wlock(Holding { path, .. })
            | Command::Semaphore {
                holding: Holding { path, .. },
                ..
            }
            | Command::Election { path, .. }
            | Command::Lease { path, .. }
            | Command::Contenders { path } => path,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !(cli.timeout.is_finite() && cli.timeout > 0.0 && cli.timeout < 1e6) {
        eprintln!("kz: --timeout must be a positive number of seconds");
        return ExitCode::from(2);
    }
    let timeout = Duration::from_secs_f64(cli.timeout);
    let mut builder = Config::builder(&cli.hosts)
        .session_timeout(timeout)
        .read_only(cli.read_only);
    // Digest credentials come from the environment, never the command line
    // (where `ps` shows them).
    if let Ok(credential) = std::env::var(DIGEST_ENV) {
        builder = builder.auth("digest", credential);
    }
    if let Some(user) = &cli.sasl_user {
        let Ok(password) = std::env::var(SASL_PASSWORD_ENV) else {
            eprintln!("kz: --sasl-user needs the password in {SASL_PASSWORD_ENV}");
            return ExitCode::from(2);
        };
        builder = builder.sasl(SaslCredentials::digest_md5(user.as_str(), password));
    }
    if let Some(ca) = &cli.tls_ca {
        let mut tls = TlsConfig::builder().root_pem_file(ca);
        if let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) {
            tls = tls.client_cert_pem_files(cert, key);
        }
        match tls.build() {
            Ok(tls) => builder = builder.tls(tls),
            Err(e) => {
                eprintln!("kz: --tls-ca/--tls-cert/--tls-key: {e}");
                return ExitCode::from(2);
            }
        }
    } else if cli.tls_cert.is_some() {
        eprintln!("kz: --tls-cert needs --tls-ca");
        return ExitCode::from(2);
    }
    let config = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kz: --hosts {:?}: {e}", cli.hosts);
            return ExitCode::from(2);
        }
    };
    let client = kazoo_std::start(config);
    if let Err(e) = client.wait_connected().wait_timeout(timeout) {
        // Name the cause the connections met (an untrusted certificate, a
        // refused handshake), not only that time ran out.
        let cause = client
            .recent_disconnects()
            .into_iter()
            .rev()
            .find_map(|(_, reason)| match reason {
                DisconnectReason::Tls(t) => Some(format!("TLS: {t}")),
                DisconnectReason::AuthFailed => Some("authentication failed".into()),
                DisconnectReason::Sasl(e) => Some(format!("SASL: {e}")),
                _ => None,
            });
        let _ = client.close().wait_timeout(Duration::from_millis(100));
        match cause {
            Some(cause) => eprintln!("kz: connect {}: {cause}", cli.hosts),
            None => eprintln!("kz: connect {}: {}", cli.hosts, describe(&e)),
        }
        return ExitCode::from(1);
    }
    let result = run(&client, &cli.command, timeout);
    let _ = client.close().wait_timeout(timeout);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kz: {}: {}", cli.command.path(), describe(&e));
            ExitCode::from(1)
        }
    }
}

/// Runs `command`; the exit code when it did not fail.
fn run(client: &Client, command: &Command, timeout: Duration) -> Result<u8, Error> {
    let mut out = std::io::stdout().lock();
    let held = |what, hold| {
        let ending = recipes::hold(client, what, hold, timeout)?;
        Ok(match ending {
            recipes::Ending::Done => 0,
            recipes::Ending::Lost => 3,
            recipes::Ending::Interrupted => 130,
        })
    };
    let id_or_default = |id: &Option<String>| id.clone().unwrap_or_else(recipes::default_id);
    match command {
        Command::Lock(h) | Command::Rlock(h) | Command::Wlock(h) => {
            let kind = match command {
                Command::Rlock(_) => recipes::LockKind::Read,
                Command::Wlock(_) => recipes::LockKind::Write,
                _ => recipes::LockKind::Exclusive,
            };
            drop(out);
            let id = id_or_default(&h.id);
            return held(
                recipes::Hold::Lock {
                    path: &h.path,
                    kind,
                    id: &id,
                },
                h.hold,
            );
        }
        Command::Semaphore { holding: h, max } => {
            drop(out);
            let id = id_or_default(&h.id);
            return held(
                recipes::Hold::Semaphore {
                    path: &h.path,
                    max: *max,
                    id: &id,
                },
                h.hold,
            );
        }
        Command::Election { path, id, hold } => {
            drop(out);
            return held(recipes::Hold::Election { path, id }, *hold);
        }
        Command::Lease { path, duration, id } => {
            let id = id_or_default(id);
            if recipes::lease(client, path, *duration, &id, timeout)? {
                let _ = writeln!(out, "obtained");
            } else {
                eprintln!("kz: {path}: not obtained (the lease is held by another identifier)");
                return Ok(1);
            }
        }
        Command::Contenders { path } => {
            for id in recipes::contenders(client, path, timeout)? {
                let _ = writeln!(out, "{id}");
            }
        }
        Command::Ls { path } => {
            let mut children = client.get_children(path).send().wait_timeout(timeout)?;
            children.sort();
            for child in children {
                let _ = writeln!(out, "{child}");
            }
        }
        Command::Get { path, watch: false } => {
            let (data, _) = client.get(path).send().wait_timeout(timeout)?;
            // Null data prints as nothing, like empty data.
            let _ = out.write_all(data.as_deref().unwrap_or_default());
            let _ = writeln!(out);
        }
        Command::Get { path, watch: true } => {
            let (read, watch) = client.get(path).send_watched();
            let (data, _) = read.wait_timeout(timeout)?;
            // Null data prints as nothing, like empty data.
            let _ = out.write_all(data.as_deref().unwrap_or_default());
            let _ = writeln!(out);
            let _ = out.flush();
            if let Some(event) = watch.wait() {
                print_event(&mut out, &event);
            }
        }
        Command::Set {
            path,
            data,
            version,
        } => {
            let stat = client
                .set(path, data.clone())
                .version(*version)
                .send()
                .wait_timeout(timeout)?;
            let _ = writeln!(out, "version {}", stat.version);
        }
        Command::Create {
            path,
            data,
            ephemeral,
            sequential,
            container,
            ttl,
            parents,
        } => {
            let mut create = client.create(path).data(data.clone());
            if *ephemeral {
                create = create.ephemeral();
            }
            if *sequential {
                create = create.sequential();
            }
            if *container {
                create = create.container();
            }
            if let Some(ms) = ttl {
                create = create.ttl(Duration::from_millis(*ms));
            }
            if *parents {
                create = create.make_parents();
            }
            let created = create.send().wait_timeout(timeout)?;
            let _ = writeln!(out, "{created}");
        }
        Command::Delete {
            path,
            recursive,
            version,
        } => {
            let mut delete = client.delete(path).version(*version);
            if *recursive {
                delete = delete.recursive();
            }
            delete.send().wait_timeout(timeout)?;
        }
        Command::Stat { path } => match client.exists(path).send().wait_timeout(timeout)? {
            Some(stat) => print_stat(&mut out, &stat),
            None => return Err(Error::NoNode),
        },
        Command::Watch { path, recursive } => {
            drop(out);
            return if *recursive {
                watching::watch_tree(client, path, timeout)
            } else {
                watching::watch(client, path, timeout)
            };
        }
        Command::Cache { path } => {
            drop(out);
            return watching::cache(client, path);
        }
        Command::Counter { path, add } => {
            let value = groups::counter(client, path, *add, timeout)?;
            let _ = writeln!(out, "{value}");
        }
        Command::Queue(QueueCommand::Put {
            path,
            data,
            priority,
        }) => {
            let entry = client
                .queue(path)
                .put_with_priority(data.clone(), *priority)
                .wait_timeout(timeout)?;
            let _ = writeln!(out, "{entry}");
        }
        Command::Queue(QueueCommand::Get { path }) => {
            match groups::queue_get(client, path, timeout)? {
                Some(item) => {
                    let _ = out.write_all(&item);
                    let _ = writeln!(out);
                }
                None => {
                    eprintln!("kz: {path}: no item within {} s", timeout.as_secs_f64());
                    return Ok(1);
                }
            }
        }
        Command::Barrier(BarrierCommand::Create { path }) => {
            client.barrier(path).create().wait_timeout(timeout)?;
        }
        Command::Barrier(BarrierCommand::Remove { path }) => {
            if !client.barrier(path).remove().wait_timeout(timeout)? {
                return Err(Error::NoNode);
            }
        }
        Command::Barrier(BarrierCommand::Wait { path }) => {
            client.barrier(path).wait_timeout(timeout).wait()?;
        }
        Command::Party(PartyCommand::Join { path, id, hold }) => {
            drop(out);
            return groups::party_join(client, path, id, *hold, timeout);
        }
        Command::Party(PartyCommand::List { path }) => {
            for id in groups::party_list(client, path, timeout)? {
                let _ = writeln!(out, "{id}");
            }
        }
        Command::Ensure { path } => client.ensure_path(path).wait_timeout(timeout)?,
    }
    Ok(0)
}

fn print_event(out: &mut impl Write, event: &WatchedEvent) {
    let _ = writeln!(
        out,
        "{:?} {:?} {}",
        event.event_type, event.state, event.path
    );
    let _ = out.flush();
}

fn print_stat(out: &mut impl Write, s: &Stat) {
    let _ = writeln!(
        out,
        "czxid {:#x}\nmzxid {:#x}\npzxid {:#x}\nctime {}\nmtime {}\nversion {}\ncversion {}\naversion {}\nephemeral_owner {:#x}\ndata_length {}\nnum_children {}",
        s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime, s.version, s.cversion, s.aversion, s.ephemeral_owner, s.data_length, s.num_children
    );
}

/// `NoNode (node does not exist)`: the error's name, then its message.
fn describe(e: &Error) -> String {
    format!("{} ({e})", e.name())
}
