//! [`Secret`]: bytes that must never reach a log.

use std::fmt;

use bytes::Bytes;

/// A credential or session password. `Debug` prints `<redacted>`, so a
/// `{:?}` of a [`Config`](crate::session::Config), a handshake or an auth
/// packet never shows it; [`expose`](Secret::expose) hands the bytes to
/// whoever really needs them.
///
/// ```
/// use kazoo::Secret;
/// let s = Secret::from("user:password");
/// assert_eq!(format!("{s:?}"), "<redacted>");
/// assert_eq!(&s.expose()[..], b"user:password");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret(Bytes);

impl Secret {
    /// The bytes themselves.
    pub fn expose(&self) -> &Bytes {
        &self.0
    }

    /// Its length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<Bytes> for Secret {
    fn from(b: Bytes) -> Secret {
        Secret(b)
    }
}

impl From<Vec<u8>> for Secret {
    fn from(b: Vec<u8>) -> Secret {
        Secret(b.into())
    }
}

impl From<&'static [u8]> for Secret {
    fn from(b: &'static [u8]) -> Secret {
        Secret(Bytes::from_static(b))
    }
}

impl<const N: usize> From<&'static [u8; N]> for Secret {
    fn from(b: &'static [u8; N]) -> Secret {
        Secret(Bytes::from_static(b))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s.into())
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(Bytes::copy_from_slice(s.as_bytes()))
    }
}
