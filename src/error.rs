//! One error type for everything the client can report: ZooKeeper's error
//! codes (PROTOCOL.md §8), plus what goes wrong on the client's side.

use crate::path::PathError;
use crate::proto::{DecodeError, MultiResult, RequestTooLarge};

/// Declares [`Error`]: one unit variant per ZooKeeper code, then the client's own.
macro_rules! error_enum {
    (
        server { $( $(#[$sm:meta])* $sv:ident = $code:literal => $msg:literal, )* }
        client { $($client:tt)* }
    ) => {
        /// Everything an operation can fail with.
        ///
        /// Server errors keep their ZooKeeper code ([`Error::code`],
        /// [`Error::from_code`]); a code this client does not know becomes
        /// [`Error::Unknown`]. [`is_retryable`](Error::is_retryable) and
        /// [`is_session_fatal`](Error::is_session_fatal) tell callers what to do next.
        ///
        /// ```
        /// use kazoo::Error;
        /// assert_eq!(Error::from_code(-101), Error::NoNode);
        /// assert_eq!(Error::NoNode.code(), Some(-101));
        /// assert!(Error::ConnectionLoss.is_retryable());
        /// assert!(Error::SessionExpired.is_session_fatal());
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[non_exhaustive]
        pub enum Error {
            $( $(#[$sm])* #[error($msg)] $sv, )*
            $($client)*
        }

        impl Error {
            /// Every code with its own variant (0 included: a rolled-back multi entry).
            pub const KNOWN_CODES: &'static [i32] = &[$($code),*];

            /// The error for a ZooKeeper code; unknown codes become [`Error::Unknown`].
            pub fn from_code(code: i32) -> Error {
                match code {
                    $( $code => Error::$sv, )*
                    other => Error::Unknown(other),
                }
            }

            fn own_code(&self) -> Option<i32> {
                match self {
                    $( Error::$sv => Some($code), )*
                    _ => None,
                }
            }

            fn server_name(&self) -> Option<&'static str> {
                match self {
                    $( Error::$sv => Some(stringify!($sv)), )*
                    _ => None,
                }
            }
        }
    };
}

error_enum! {
    server {
        /// 0 in a failed multi: this entry was fine but rolled back with the rest.
        RolledBack = 0 => "rolled back: another operation of the transaction failed",
        /// -1: start of the system error range; servers do not send it.
        SystemError = -1 => "ZooKeeper system error",
        /// -2: in a failed multi, an entry after the failing one.
        RuntimeInconsistency = -2 => "runtime inconsistency",
        /// -3.
        DataInconsistency = -3 => "data inconsistency",
        /// -4: the connection dropped before the reply; the request may or may not have applied.
        ConnectionLoss = -4 => "connection lost",
        /// -5: the server could not parse the request (e.g. a multi mixing reads and writes).
        MarshallingError = -5 => "marshalling error",
        /// -6: the server does not know the operation (too old, or TTL disabled).
        Unimplemented = -6 => "operation not implemented by the server",
        /// -7: the operation timed out.
        OperationTimeout = -7 => "operation timed out",
        /// -8: the server rejected an argument (path, flags, TTL).
        BadArguments = -8 => "bad arguments",
        /// -12: server-internal.
        UnknownSession = -12 => "unknown session",
        /// -13: reconfig: the new configuration has no quorum.
        NewConfigNoQuorum = -13 => "new configuration has no quorum",
        /// -14: reconfig: another reconfiguration is running.
        ReconfigInProgress = -14 => "reconfiguration in progress",
        /// -100: start of the API error range; servers do not send it.
        ApiError = -100 => "API error",
        /// -101: the node does not exist.
        NoNode = -101 => "node does not exist",
        /// -102: the ACL does not allow it.
        NoAuth = -102 => "not authorized",
        /// -103: the version did not match.
        BadVersion = -103 => "version mismatch",
        /// -108: ephemeral nodes cannot have children.
        NoChildrenForEphemerals = -108 => "ephemeral nodes cannot have children",
        /// -110: the node already exists.
        NodeExists = -110 => "node already exists",
        /// -111: the node has children.
        NotEmpty = -111 => "node has children",
        /// -112: the session expired; its ephemerals and watches are gone.
        SessionExpired = -112 => "session expired",
        /// -113: invalid callback.
        InvalidCallback = -113 => "invalid callback",
        /// -114: the ACL is empty or invalid.
        InvalidAcl = -114 => "invalid ACL",
        /// -115: authentication failed; the server closes the connection.
        AuthFailed = -115 => "authentication failed",
        /// -118: the session moved to another server.
        SessionMoved = -118 => "session moved to another server",
        /// -119: a write on a read-only server.
        NotReadOnly = -119 => "server is read-only",
        /// -120: ephemeral create on a local session.
        EphemeralOnLocalSession = -120 => "ephemeral node on a local session",
        /// -121: no such watch.
        NoWatcher = -121 => "no such watcher",
        /// -122: the request took too long.
        RequestTimeout = -122 => "request timed out",
        /// -123: reconfig is disabled on the server.
        ReconfigDisabled = -123 => "reconfig is disabled",
        /// -124: the server requires SASL authentication; it closes the connection.
        SessionClosedRequireSaslAuth = -124 => "session closed: SASL authentication required",
        /// -125: quota exceeded.
        QuotaExceeded = -125 => "quota exceeded",
        /// -127: the server is overloaded; retry with backoff.
        Throttled = -127 => "request throttled by the server",
    }
    client {
        /// A ZooKeeper code this client has no variant for.
        #[error("ZooKeeper error code {0}")]
        Unknown(i32),
        /// A transaction failed: nothing was applied. `results` holds every
        /// entry's result; `error` is the failing entry's error.
        #[error("transaction failed at operation {index}: {error}")]
        MultiFailed {
            /// Position of the failing operation.
            index: usize,
            /// Why it failed.
            error: Box<Error>,
            /// One result per operation, as the server sent them.
            results: Vec<MultiResult>,
        },
        /// The client was closed; no more requests are accepted.
        #[error("the client is closed")]
        Closed,
        /// The caller cancelled the operation.
        #[error("cancelled")]
        Cancelled,
        /// A caller's wait ran out (the request itself may still complete).
        #[error("timed out")]
        Timeout,
        /// A lock was not acquired in time.
        #[error("lock not acquired in time")]
        LockTimeout,
        /// Returned by a retried closure to ask for another try
        /// (kazoo's `ForceRetryError`).
        #[error("retry forced")]
        ForceRetry,
        /// A retried operation ran out of tries or time.
        #[error("gave up after {attempts} attempts: {last}")]
        RetryFailed {
            /// How many times the operation ran (for a client's
            /// `connection_retry`: rounds of attempts over every host).
            attempts: u32,
            /// The error of the last attempt.
            last: Box<Error>,
        },
        /// A path was rejected before sending.
        #[error("invalid path: {0}")]
        InvalidPath(#[from] PathError),
        /// An argument was rejected before sending.
        #[error("invalid argument: {0}")]
        InvalidArgument(#[from] ArgumentError),
        /// The client configuration is invalid.
        #[error("invalid configuration: {0}")]
        Config(#[from] ConfigError),
        /// The API was used in a way it does not allow.
        #[error("misuse: {0}")]
        Misuse(#[from] Misuse),
        /// The request is larger than the server accepts; it was not sent.
        #[error("{0}")]
        RequestTooLarge(#[from] RequestTooLarge),
        /// The server sent bytes that do not decode.
        #[error("malformed data from the server: {0}")]
        Malformed(#[from] DecodeError),
        /// A four-letter word was not known, not allowed, or answered
        /// without what was looked for.
        #[error("{0}")]
        FourLetterWord(#[from] crate::client::FourLetterWordError),
        /// A recipe (lock, semaphore, election, lease…) refused or failed.
        #[error("{0}")]
        Recipe(#[from] crate::recipe::RecipeError),
    }
}

impl Error {
    /// The ZooKeeper code, for server errors (a failed transaction reports its failing entry's).
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Unknown(code) => Some(*code),
            Error::MultiFailed { error, .. } => error.code(),
            other => other.own_code(),
        }
    }

    /// The error's name, stable and without its details (`"NoNode"`,
    /// `"MultiFailed"`; a recipe's error by its own name, `"Lost"`), for
    /// logs, metrics and tools that must not parse `Debug` output.
    ///
    /// ```
    /// use kazoo::Error;
    /// assert_eq!(Error::NoNode.name(), "NoNode");
    /// assert_eq!(Error::Unknown(-9).name(), "Unknown");
    /// ```
    pub fn name(&self) -> &'static str {
        if let Some(name) = self.server_name() {
            return name;
        }
        match self {
            Error::Unknown(_) => "Unknown",
            Error::MultiFailed { .. } => "MultiFailed",
            Error::Closed => "Closed",
            Error::Cancelled => "Cancelled",
            Error::Timeout => "Timeout",
            Error::LockTimeout => "LockTimeout",
            Error::ForceRetry => "ForceRetry",
            Error::RetryFailed { .. } => "RetryFailed",
            Error::InvalidPath(_) => "InvalidPath",
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::Config(_) => "Config",
            Error::Misuse(_) => "Misuse",
            Error::RequestTooLarge(_) => "RequestTooLarge",
            Error::Malformed(_) => "Malformed",
            Error::FourLetterWord(_) => "FourLetterWord",
            Error::Recipe(r) => r.name(),
            // Every server variant was answered above.
            _ => "Error",
        }
    }

    /// True if the same request may succeed when simply tried again: the
    /// connection dropped or the server was busy. kazoo retries
    /// `ConnectionLoss` and `OperationTimeout`; `RequestTimeout` and
    /// `Throttled` are retried here as well.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss
                | Error::OperationTimeout
                | Error::RequestTimeout
                | Error::Throttled
        )
    }

    /// True if the session is over: its ephemerals, watches and
    /// authentication are gone, and retrying on it cannot help.
    pub fn is_session_fatal(&self) -> bool {
        matches!(
            self,
            Error::SessionExpired
                | Error::AuthFailed
                | Error::SessionClosedRequireSaslAuth
                | Error::Closed
        )
    }

    /// For a failed transaction, every operation's outcome as kazoo's
    /// `commit()` lists them: the failing one's own error,
    /// [`RolledBack`](Error::RolledBack) for those before it (they would
    /// have worked) and [`RuntimeInconsistency`](Error::RuntimeInconsistency)
    /// for those after it (never tried). `None` for any other error.
    ///
    /// ```
    /// # fn f(client: &kazoo::Client) {
    /// use kazoo::Error;
    /// let tx = client.transaction().create("/a").check("/a").version(7);
    /// if let Err(e) = tx.commit().wait() {
    ///     for (i, outcome) in e.transaction_errors().unwrap_or_default().iter().enumerate() {
    ///         println!("operation {i}: {outcome}");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn transaction_errors(&self) -> Option<Vec<Error>> {
        let Error::MultiFailed { results, .. } = self else {
            return None;
        };
        let errors = results
            .iter()
            // A failed transaction's entries are all error entries; a
            // success among them would be a server's mistake: call it rolled back.
            .map(|r| Error::from_code(r.error_code().unwrap_or(0)))
            .collect();
        Some(errors)
    }

    /// Turns the results of a transaction (multi) into `Ok(results)` or, if
    /// an entry failed, [`Error::MultiFailed`] with all of them.
    pub fn check_multi(results: Vec<MultiResult>) -> Result<Vec<MultiResult>, Error> {
        // Entries before the failing one carry 0 (rolled back), after it -2.
        let failed = results
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.error_code().filter(|&c| c != 0).map(|c| (i, c)));
        match failed {
            None => Ok(results),
            Some((index, code)) => Err(Error::MultiFailed {
                index,
                error: Box::new(Error::from_code(code)),
                results,
            }),
        }
    }
}

/// An argument rejected before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgumentError {
    /// `check` is only valid inside a transaction (PROTOCOL.md §0.1).
    #[error("check can only be sent inside a transaction")]
    CheckOutsideMulti,
    /// Pings, SetWatches, SASL and closeSession are the session's own business.
    #[error("{0:?} is sent by the session itself")]
    SessionInternal(crate::proto::OpCode),
    /// TTLs run from 1 ms to 2^40-1 ms (PROTOCOL.md §5.5).
    #[error("TTL {0} ms is outside 1..=1099511627775")]
    TtlOutOfRange(i64),
    /// A TTL was given with a non-TTL mode, or a TTL mode without a TTL.
    #[error("TTL and create mode do not match")]
    TtlModeMismatch,
    /// Create options that exclude each other (a container is never
    /// ephemeral, sequential or TTL; a TTL node is never ephemeral).
    #[error("create options conflict: {0}")]
    ModeConflict(&'static str),
    /// An empty ACL list (the server would refuse it with InvalidACL).
    #[error("empty ACL list")]
    EmptyAcl,
}

/// A configuration the client cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The connect string names no host.
    #[error("no host in the connect string")]
    EmptyHostList,
    /// A host entry that cannot be parsed.
    #[error("bad host entry {0:?}")]
    InvalidHost(String),
    /// A port that is not a number from 1 to 65535.
    #[error("bad port in host entry {0:?}")]
    InvalidPort(String),
    /// The chroot is not a valid path.
    #[error("bad chroot: {0}")]
    InvalidChroot(PathError),
    /// `set_hosts` named another chroot: a live client keeps its own.
    #[error("the chroot of a live client cannot change")]
    ChrootChange,
    /// A setting outside the range the session can run with.
    #[error("{field}: {reason}")]
    OutOfRange {
        /// The setting.
        field: &'static str,
        /// The rule it breaks.
        reason: &'static str,
    },
}

/// The API was used in a way it does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// An adapter was asked to start outside the runtime it needs.
    #[error("no async runtime to run the client on")]
    NoRuntime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ErrorResponse;

    #[test]
    fn every_known_code_round_trips() {
        // PROTOCOL.md §8, plus 0 for a rolled-back multi entry.
        let expected = [
            0, -1, -2, -3, -4, -5, -6, -7, -8, -12, -13, -14, -100, -101, -102, -103, -108, -110,
            -111, -112, -113, -114, -115, -118, -119, -120, -121, -122, -123, -124, -125, -127,
        ];
        assert_eq!(Error::KNOWN_CODES, &expected[..]);
        for &code in &expected {
            let e = Error::from_code(code);
            assert!(!matches!(e, Error::Unknown(_)), "{code} has no variant");
            assert_eq!(e.code(), Some(code));
        }
    }

    #[test]
    fn every_error_has_its_variant_name() {
        for &code in Error::KNOWN_CODES {
            let e = Error::from_code(code);
            let debug = format!("{e:?}");
            assert_eq!(e.name(), debug, "code {code}");
        }
        let client = [
            (Error::Unknown(-9), "Unknown"),
            (Error::Closed, "Closed"),
            (Error::Cancelled, "Cancelled"),
            (Error::Timeout, "Timeout"),
            (Error::LockTimeout, "LockTimeout"),
            (Error::ForceRetry, "ForceRetry"),
            (Error::Malformed(DecodeError::InvalidUtf8), "Malformed"),
            (Error::Misuse(Misuse::NoRuntime), "Misuse"),
            (Error::Recipe(crate::recipe::RecipeError::Lost), "Lost"),
            (
                Error::RetryFailed {
                    attempts: 3,
                    last: Box::new(Error::ConnectionLoss),
                },
                "RetryFailed",
            ),
            (Error::Config(ConfigError::EmptyHostList), "Config"),
        ];
        for (e, name) in client {
            assert_eq!(e.name(), name);
            // The name is the start of what Debug prints.
            if !matches!(e, Error::Recipe(_)) {
                assert!(format!("{e:?}").starts_with(name));
            }
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        for code in [-9, -15, -116, -117, -126, 1, i32::MIN] {
            assert_eq!(Error::from_code(code), Error::Unknown(code));
            assert_eq!(Error::from_code(code).code(), Some(code));
        }
    }

    #[test]
    fn client_errors_have_no_code() {
        assert_eq!(Error::Closed.code(), None);
        assert_eq!(Error::Malformed(DecodeError::InvalidUtf8).code(), None);
    }

    #[test]
    fn classification() {
        assert!(Error::ConnectionLoss.is_retryable());
        assert!(Error::OperationTimeout.is_retryable());
        assert!(!Error::SessionExpired.is_retryable());
        assert!(!Error::NoNode.is_retryable());
        assert!(Error::SessionExpired.is_session_fatal());
        assert!(Error::AuthFailed.is_session_fatal());
        assert!(!Error::ConnectionLoss.is_session_fatal());
    }

    #[test]
    fn failed_multi_reports_every_result() {
        // The 3.8.0 answer to create OK, setData with a bad version, create (PROTOCOL.md §6.3).
        let err = |err| MultiResult::Error(ErrorResponse { err });
        let results = vec![err(0), err(-103), err(-2)];
        let e = Error::check_multi(results.clone()).unwrap_err();
        assert_eq!(
            e,
            Error::MultiFailed {
                index: 1,
                error: Box::new(Error::BadVersion),
                results
            }
        );
        assert_eq!(e.code(), Some(-103));
        assert_eq!(
            e.transaction_errors(),
            Some(vec![
                Error::RolledBack,
                Error::BadVersion,
                Error::RuntimeInconsistency
            ])
        );
        assert_eq!(Error::NoNode.transaction_errors(), None);
        assert_eq!(
            e.to_string(),
            "transaction failed at operation 1: version mismatch"
        );

        let ok = vec![MultiResult::Delete, MultiResult::Check];
        assert_eq!(Error::check_multi(ok.clone()), Ok(ok));
    }
}
