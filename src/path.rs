//! ZooKeeper paths: validation with the Java client's rules, chroot
//! prefixing and stripping, and sequential-node suffixes.
//!
//! ```
//! use kazoo::path::{validate, Chroot, sequence_number};
//!
//! assert!(validate("/app/config").is_ok());
//! assert!(validate("/app/").is_err());
//!
//! let chroot = Chroot::new("/app").unwrap();
//! assert_eq!(chroot.prepend("/lock"), "/app/lock");
//! assert_eq!(chroot.strip("/app/lock"), "/lock");
//! assert_eq!(chroot.strip("/application"), "/application"); // not under the chroot
//!
//! assert_eq!(sequence_number("lock-0000000042", "lock-"), Some(42));
//! ```

use std::borrow::Cow;

/// Why a path was rejected (PROTOCOL.md §1.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The empty string.
    #[error("path is empty")]
    Empty,
    /// Paths start with `/`.
    #[error("path {0:?} does not start with '/'")]
    NotAbsolute(String),
    /// Only the root may end with `/`.
    #[error("path {0:?} ends with '/'")]
    TrailingSlash(String),
    /// `//` somewhere in the path.
    #[error("path {path:?} has an empty segment at byte {at}")]
    EmptySegment {
        /// The path.
        path: String,
        /// Byte offset of the empty segment.
        at: usize,
    },
    /// A `.` or `..` segment.
    #[error("path {path:?} has a relative segment at byte {at}")]
    RelativeSegment {
        /// The path.
        path: String,
        /// Byte offset of the segment.
        at: usize,
    },
    /// A character ZooKeeper forbids (controls, U+D800–U+F8FF, U+FFF0–U+FFFF).
    #[error("path {path:?} has forbidden character {ch:?} at byte {at}")]
    InvalidChar {
        /// The path.
        path: String,
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
}

/// Checks a path the way the Java client does before sending.
pub fn validate(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute(path.to_owned()));
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(PathError::TrailingSlash(path.to_owned()));
    }
    if let Some((at, ch)) = path.char_indices().find(|&(_, c)| is_forbidden(c)) {
        return Err(PathError::InvalidChar {
            path: path.to_owned(),
            ch,
            at,
        });
    }
    let mut at = 1;
    for segment in path[1..].split('/') {
        match segment {
            "" => {
                return Err(PathError::EmptySegment {
                    path: path.to_owned(),
                    at,
                })
            }
            "." | ".." => {
                return Err(PathError::RelativeSegment {
                    path: path.to_owned(),
                    at,
                })
            }
            _ => {}
        }
        at += segment.len() + 1;
    }
    Ok(())
}

/// Checks the path of a sequential create: the server appends digits, so
/// the prefix may end in `/` (checked as `prefix + "1"`, as Java does).
pub fn validate_sequential(prefix: &str) -> Result<(), PathError> {
    if prefix.ends_with('/') {
        validate(&format!("{prefix}1"))
    } else {
        validate(prefix)
    }
}

/// U+D800–U+DFFF (surrogates) are forbidden too, but a Rust `str` cannot hold them.
fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}' | '\u{fff0}'..='\u{ffff}')
}

/// The last segment of a path (`"c"` for `/a/b/c`, `""` for `/`).
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The parent of a path (`/a/b` for `/a/b/c`, `/` for `/a` and `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// A chroot: the server path every client path is relative to (PROTOCOL.md §10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chroot {
    /// `None` for no chroot; otherwise a valid path other than `/`.
    root: Option<String>,
}

impl Chroot {
    /// A chroot from the part of a connect string after the hosts; `""` or `/` means none.
    pub fn new(root: &str) -> Result<Chroot, PathError> {
        if root.is_empty() || root == "/" {
            return Ok(Chroot::default());
        }
        validate(root)?;
        Ok(Chroot {
            root: Some(root.to_owned()),
        })
    }

    /// The chroot path, if any.
    pub fn as_str(&self) -> Option<&str> {
        self.root.as_deref()
    }

    /// The server path for a client path: `/` maps to the chroot itself.
    pub fn prepend<'a>(&self, path: &'a str) -> Cow<'a, str> {
        match &self.root {
            None => Cow::Borrowed(path),
            Some(root) if path == "/" => Cow::Owned(root.clone()),
            Some(root) => Cow::Owned(format!("{root}{path}")),
        }
    }

    /// The client path for a server path. The chroot itself becomes `/`;
    /// a path outside the chroot (on a segment boundary, so `/app` does not
    /// strip `/application`) is returned unchanged.
    pub fn strip<'a>(&self, path: &'a str) -> &'a str {
        let Some(root) = &self.root else {
            return path;
        };
        match path.strip_prefix(root.as_str()) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => path,
        }
    }
}

/// The sequence number of a sequential node named `prefix` + suffix.
///
/// The server appends the parent's cversion as `%010d`: ten digits, or
/// after a signed 32-bit wrap a `-` and the digits (`-2147483648`). Returns
/// `None` if `name` does not start with `prefix` or the rest is not exactly
/// such a suffix. The prefix is needed: `lock-1000000000` reads as
/// 1000000000 after `lock-`, or -1000000000 after `lock`.
pub fn sequence_number(name: &str, prefix: &str) -> Option<i32> {
    let suffix = name.strip_prefix(prefix)?;
    let n: i32 = suffix.parse().ok()?;
    (format_sequence(n) == suffix).then_some(n)
}

/// A sequence suffix as the server writes it (`%010d`).
pub fn format_sequence(n: i32) -> String {
    format!("{n:010}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/..a",
            "/a..",
            "/zookeeper/config",
            "/ü/日本",
            "/a b",
        ] {
            assert_eq!(validate(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn invalid_paths_name_the_problem() {
        assert_eq!(validate(""), Err(PathError::Empty));
        assert_eq!(validate("a"), Err(PathError::NotAbsolute("a".into())));
        assert_eq!(validate("/a/"), Err(PathError::TrailingSlash("/a/".into())));
        assert_eq!(
            validate("/a//b"),
            Err(PathError::EmptySegment {
                path: "/a//b".into(),
                at: 3
            })
        );
        assert_eq!(
            validate("/a/./b"),
            Err(PathError::RelativeSegment {
                path: "/a/./b".into(),
                at: 3
            })
        );
        assert_eq!(
            validate("/a/.."),
            Err(PathError::RelativeSegment {
                path: "/a/..".into(),
                at: 3
            })
        );
        assert_eq!(validate("//"), Err(PathError::TrailingSlash("//".into())));
        for (p, ch) in [
            ("/a\u{0}", '\u{0}'),
            ("/a\u{1f}", '\u{1f}'),
            ("/\u{7f}", '\u{7f}'),
            ("/\u{9f}", '\u{9f}'),
            ("/\u{e000}", '\u{e000}'),
            ("/\u{f8ff}", '\u{f8ff}'),
            ("/\u{fff0}", '\u{fff0}'),
            ("/\u{ffff}", '\u{ffff}'),
        ] {
            assert!(
                matches!(validate(p), Err(PathError::InvalidChar { ch: c, .. }) if c == ch),
                "{p:?}"
            );
        }
        // Just outside the forbidden ranges.
        assert_eq!(validate("/\u{a0}\u{f900}\u{ffef}\u{10000}"), Ok(()));
    }

    #[test]
    fn sequential_prefix_may_end_in_slash() {
        assert_eq!(validate_sequential("/queue/"), Ok(()));
        assert_eq!(validate_sequential("/queue/item-"), Ok(()));
        assert!(validate_sequential("/queue//").is_err());
    }

    #[test]
    fn chroot_join_and_strip() {
        let c = Chroot::new("/app/a").unwrap();
        assert_eq!(c.prepend("/"), "/app/a");
        assert_eq!(c.prepend("/x/y"), "/app/a/x/y");
        assert_eq!(c.strip("/app/a"), "/");
        assert_eq!(c.strip("/app/a/x"), "/x");
        assert_eq!(c.strip("/app/ab"), "/app/ab");
        assert_eq!(c.strip("/zookeeper/config"), "/zookeeper/config");
        let none = Chroot::new("/").unwrap();
        assert_eq!(none.as_str(), None);
        assert_eq!(none.prepend("/x"), "/x");
        assert_eq!(none.strip("/x"), "/x");
        assert!(Chroot::new("/app/").is_err());
        assert!(Chroot::new("app").is_err());
    }

    #[test]
    fn parent_and_basename() {
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/"), "/");
        assert_eq!(basename("/a/b/c"), "c");
        assert_eq!(basename("/"), "");
    }

    #[test]
    fn sequence_suffixes() {
        assert_eq!(sequence_number("lock-0000000001", "lock-"), Some(1));
        assert_eq!(sequence_number("0000000002", ""), Some(2));
        assert_eq!(sequence_number("lock--2147483648", "lock-"), Some(i32::MIN));
        assert_eq!(sequence_number("lock--000000005", "lock-"), Some(-5));
        assert_eq!(
            sequence_number("lock-1000000000", "lock"),
            Some(-1_000_000_000)
        );
        assert_eq!(
            sequence_number("lock-1000000000", "lock-"),
            Some(1_000_000_000)
        );
        assert_eq!(sequence_number("lock-2147483647", "lock-"), Some(i32::MAX));
        assert_eq!(sequence_number("lock-001", "lock-"), None);
        assert_eq!(sequence_number("lock-+000000001", "lock-"), None);
        assert_eq!(sequence_number("other-0000000001", "lock-"), None);
        assert_eq!(format_sequence(-5), "-000000005");
        assert_eq!(format_sequence(i32::MIN), "-2147483648");
    }

    proptest! {
        #[test]
        fn every_sequence_number_round_trips(n in any::<i32>(), prefix in "[a-z_-]{0,8}") {
            let name = format!("{prefix}{}", format_sequence(n));
            prop_assert_eq!(sequence_number(&name, &prefix), Some(n));
        }

        #[test]
        fn chroot_strip_undoes_prepend(root in "(/[a-z]{1,3}){1,3}", path in "(/[a-z]{1,3}){0,3}") {
            let c = Chroot::new(&root).unwrap();
            let path = if path.is_empty() { "/".to_string() } else { path };
            let server = c.prepend(&path);
            prop_assert_eq!(c.strip(&server), path.as_str());
        }

        #[test]
        fn validate_never_panics(s in any::<String>()) {
            let _ = validate(&s);
            let _ = validate_sequential(&s);
        }
    }
}
