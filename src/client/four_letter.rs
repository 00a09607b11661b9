//! Four-letter words (`srvr`, `ruok`, `mntr`…): [`Client::command`] sends
//! any of them, [`Client::server_version`] reads the version out of `srvr`.
//! Each goes on a connection of its own, made by the adapter.

use std::fmt;

use super::{Client, Reply, Task};
use crate::Error;

/// Every four-letter word a ZooKeeper 3.9 server knows and answers without
/// an argument (`stmk` needs one, so it is not here); anything else is
/// refused before a connection is made.
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "wchc", "wchp", "wchs",
];

/// What the server says instead of answering a word it is not allowed
/// to run (`4lw.commands.whitelist`).
const NOT_ALLOWED: &str = "is not executed because it is not in the whitelist";

/// A four-letter word that could not be asked or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FourLetterWordError {
    /// Not one of [`FOUR_LETTER_WORDS`]; nothing was sent.
    #[error("{0:?} is not a four-letter word ZooKeeper knows")]
    Unknown(String),
    /// The server is configured not to run it (`4lw.commands.whitelist`).
    #[error("the server does not run {0} (not in its 4lw.commands.whitelist)")]
    NotAllowed(&'static str),
    /// The answer lacks what the client looks for in it.
    #[error("the server's answer to {word} has no {expected}")]
    Unexpected {
        /// The word asked.
        word: &'static str,
        /// What was missing.
        expected: &'static str,
    },
}

/// A server's version, from `srvr` (kazoo's `server_version()` gives the
/// numbers as a tuple).
///
/// ```
/// use kazoo::client::ServerVersion;
/// let v = ServerVersion::parse("3.8.0-5a02a05e, built on 2022-02-25 08:49 UTC").unwrap();
/// assert_eq!((v.major, v.minor, v.patch), (3, 8, 0));
/// assert_eq!(v.to_string(), "3.8.0-5a02a05e");
/// assert!(v >= ServerVersion::new(3, 5, 0), "has create2 and multiRead");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// 3 in 3.8.0.
    pub major: u32,
    /// 8 in 3.8.0.
    pub minor: u32,
    /// 0 in 3.8.0.
    pub patch: u32,
    /// What follows the numbers up to the first comma (`-5a02a05e`,
    /// `-SNAPSHOT`), often empty. Versions compare by their numbers, then
    /// by this as text, so `3.8.0-anything` is at least `3.8.0` (a
    /// server's build hash is no pre-release).
    pub rest: String,
}

impl ServerVersion {
    /// A version with no suffix, to compare with.
    pub fn new(major: u32, minor: u32, patch: u32) -> ServerVersion {
        ServerVersion {
            major,
            minor,
            patch,
            rest: String::new(),
        }
    }

    /// Reads `major.minor.patch[rest][, built on …]`; `None` if the three
    /// numbers are not there.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let text = text.split(',').next().unwrap_or_default().trim();
        let digits_end = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let mut numbers = [0u32; 3];
        let mut left = text;
        for (i, n) in numbers.iter_mut().enumerate() {
            if i > 0 {
                left = left.strip_prefix('.')?;
            }
            let end = digits_end(left);
            *n = left[..end].parse().ok()?;
            left = &left[end..];
        }
        let [major, minor, patch] = numbers;
        Some(ServerVersion {
            major,
            minor,
            patch,
            rest: left.to_owned(),
        })
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}{}",
            self.major, self.minor, self.patch, self.rest
        )
    }
}

impl Client {
    /// Sends a four-letter word to the current server on a connection of
    /// its own and returns the whole answer (kazoo's `command`). Only the
    /// words ZooKeeper knows are sent ([`FOUR_LETTER_WORDS`]); a server
    /// that does not allow the word gives
    /// [`FourLetterWordError::NotAllowed`].
    pub fn command(&self, word: &str) -> Task<String> {
        let Some(word) = FOUR_LETTER_WORDS.iter().copied().find(|w| *w == word) else {
            let unknown = FourLetterWordError::Unknown(word.to_owned());
            return Task::new(async move { Err(unknown.into()) });
        };
        let (reply, pending) = Reply::pair();
        self.inner
            .step(move |core, _| match core.session.current_host().cloned() {
                Some(host) => core.io.four_letter_word(&host, word, reply),
                None => reply.send(Err(Error::ConnectionLoss)),
            });
        Task::new(async move {
            let answer = pending.await?;
            if answer.contains(NOT_ALLOWED) {
                return Err(FourLetterWordError::NotAllowed(word).into());
            }
            Ok(answer)
        })
    }

    /// The current server's version, from the `srvr` four-letter word.
    pub fn server_version(&self) -> Task<ServerVersion> {
        let answer = self.command("srvr");
        Task::new(async move {
            answer
                .await?
                .lines()
                .find_map(|l| l.strip_prefix("Zookeeper version:"))
                .and_then(ServerVersion::parse)
                .ok_or_else(|| {
                    FourLetterWordError::Unexpected {
                        word: "srvr",
                        expected: "\"Zookeeper version: x.y.z\" line",
                    }
                    .into()
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_with_and_without_a_suffix() {
        let v = ServerVersion::parse(" 3.9.2, built on 2024-02-12").unwrap();
        assert_eq!(v, ServerVersion::new(3, 9, 2));
        let v = ServerVersion::parse("3.10.11-SNAPSHOT-abc").unwrap();
        assert_eq!(
            (v.minor, v.patch, v.rest.as_str()),
            (10, 11, "-SNAPSHOT-abc")
        );
        assert!(ServerVersion::new(3, 10, 0) > ServerVersion::new(3, 9, 9));
    }

    #[test]
    fn anything_else_is_no_version_and_no_panic() {
        for bad in [
            "",
            "3",
            "3.8",
            "3.8.",
            "x.8.0",
            "3..0",
            "99999999999.0.0",
            "é.1.2",
            ",",
        ] {
            assert_eq!(ServerVersion::parse(bad), None, "{bad:?}");
        }
    }
}
