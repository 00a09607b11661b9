//! Access control: permissions, identities, ACL entries, the well-known ACL
//! lists, and digest credentials.
//!
//! ```
//! use kazoo::acl::{Acl, Id, Perms, OPEN_ACL_UNSAFE};
//!
//! // What `addauth digest bob:secret` makes the server know this session as:
//! let id = Id::digest("bob", "secret");
//! assert_eq!(id.id, "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=");
//!
//! // Bob may read and write; everyone else may read.
//! let acl = vec![Acl::new(Perms::READ | Perms::WRITE, id), Acl::new(Perms::READ, Id::ANYONE)];
//! assert_eq!(OPEN_ACL_UNSAFE[0].perms, Perms::ALL);
//! # let _ = acl;
//! ```

use std::borrow::Cow;
use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use base64::Engine as _;
use bytes::{BufMut, BytesMut};
use sha1::{Digest, Sha1};

use crate::proto::jute::{records, Reader, Record};
use crate::proto::DecodeError;

/// A set of permission bits (PROTOCOL.md §5.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(i32);

impl Perms {
    /// Read data and list children.
    pub const READ: Perms = Perms(1);
    /// Set data.
    pub const WRITE: Perms = Perms(2);
    /// Create children.
    pub const CREATE: Perms = Perms(4);
    /// Delete children.
    pub const DELETE: Perms = Perms(8);
    /// Set the ACL.
    pub const ADMIN: Perms = Perms(16);
    /// All of the above.
    pub const ALL: Perms = Perms(31);
    /// No permission.
    pub const NONE: Perms = Perms(0);

    /// The permissions for raw bits as sent on the wire (unknown bits are kept).
    pub const fn from_bits(bits: i32) -> Perms {
        Perms(bits)
    }

    /// The raw bits.
    pub const fn bits(self) -> i32 {
        self.0
    }

    /// True if every permission in `other` is in `self`.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}

impl BitOrAssign for Perms {
    fn bitor_assign(&mut self, rhs: Perms) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Perms {
    /// Prints like ZooKeeper's CLI: `cdrwa` letters, or the raw bits if unknown ones are set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 & !Perms::ALL.0 != 0 {
            return write!(f, "Perms({:#x})", self.0);
        }
        let letters = [
            (Perms::CREATE, 'c'),
            (Perms::DELETE, 'd'),
            (Perms::READ, 'r'),
            (Perms::WRITE, 'w'),
            (Perms::ADMIN, 'a'),
        ];
        let s: String = letters
            .iter()
            .filter(|(p, _)| self.contains(*p))
            .map(|(_, c)| *c)
            .collect();
        write!(f, "Perms({s})")
    }
}

impl Record for Perms {
    const MIN_LEN: usize = 4;
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.0);
    }
    fn decode(r: &mut Reader) -> Result<Self, DecodeError> {
        r.read_i32().map(Perms)
    }
}

records! {
    /// An identity: a scheme (`world`, `auth`, `digest`, `ip`, `x509`, `sasl`) and an id within it.
    #[derive(Hash)]
    pub struct Id {
        /// The authentication scheme.
        pub scheme: Cow<'static, str>,
        /// The identity within the scheme (for `digest`: `user:base64(sha1(user:password))`).
        pub id: Cow<'static, str>,
    }

    /// One ACL entry: who may do what.
    #[derive(Hash)]
    pub struct Acl {
        /// What the identity may do.
        pub perms: Perms,
        /// Who the entry is for.
        pub id: Id,
    }
}

impl Id {
    /// `world:anyone`: every client.
    pub const ANYONE: Id = Id {
        scheme: Cow::Borrowed("world"),
        id: Cow::Borrowed("anyone"),
    };

    /// `auth:` (empty id): in an ACL, replaced by the creator's authenticated identities.
    pub const AUTH: Id = Id {
        scheme: Cow::Borrowed("auth"),
        id: Cow::Borrowed(""),
    };

    /// An identity from a scheme and an id.
    pub fn new(scheme: impl Into<Cow<'static, str>>, id: impl Into<Cow<'static, str>>) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// The `digest` identity the server gives a session after `add_auth("digest", "user:password")`.
    pub fn digest(user: &str, password: &str) -> Id {
        Id::new("digest", digest_id(user, password))
    }
}

impl Acl {
    /// An ACL entry.
    pub fn new(perms: Perms, id: Id) -> Acl {
        Acl { perms, id }
    }

    /// `perms` for every client (`world:anyone`).
    pub fn anyone(perms: Perms) -> Acl {
        Acl::new(perms, Id::ANYONE)
    }

    /// `perms` for the identities the creating session has authenticated
    /// as (`auth:`): the server stores them in its place. The session
    /// needs an `add_auth` first, or the create fails with `InvalidAcl`.
    pub fn creator(perms: Perms) -> Acl {
        Acl::new(perms, Id::AUTH)
    }

    /// `perms` for whoever authenticates with `add_auth("digest",
    /// "user:password")` (kazoo's `make_digest_acl`): the password is
    /// hashed here, never sent.
    ///
    /// ```
    /// use kazoo::acl::{Acl, Perms};
    /// let acl = Acl::digest("ann", "secret", Perms::READ | Perms::WRITE);
    /// assert_eq!(acl.id.scheme, "digest");
    /// assert!(acl.id.id.starts_with("ann:"));
    /// assert!(!acl.id.id.contains("secret"));
    /// ```
    pub fn digest(user: &str, password: &str, perms: Perms) -> Acl {
        Acl::new(perms, Id::digest(user, password))
    }

    /// `perms` for clients connecting from `address` (an IP, or a
    /// `10.0.0.0/8` range).
    pub fn ip(address: &str, perms: Perms) -> Acl {
        Acl::new(perms, Id::new("ip", address.to_owned()))
    }

    /// `perms` for a user authenticated with SASL (the server's
    /// `SASLAuthenticationProvider` must be enabled).
    pub fn sasl(user: &str, perms: Perms) -> Acl {
        Acl::new(perms, Id::new("sasl", user.to_owned()))
    }
}

/// `user:base64(sha1("user:password"))`: the id of a digest ACL entry (PROTOCOL.md §11.2).
pub fn digest_id(user: &str, password: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{password}").as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{b64}")
}

/// The digest id a server gives for an `add_auth("digest", credential)`:
/// the text before the first `:` as the user, and the SHA-1 of the whole
/// credential (for `user:password`, the same as [`digest_id`]).
pub fn digest_id_of_credential(credential: &str) -> String {
    let user = credential.split(':').next().unwrap_or("");
    let hash = Sha1::digest(credential.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
    format!("{user}:{b64}")
}

/// `world:anyone` with every permission: open to all.
pub const OPEN_ACL_UNSAFE: &[Acl] = &[Acl {
    perms: Perms::ALL,
    id: Id::ANYONE,
}];

/// Every permission for the creator's authenticated identities (needs prior `add_auth`).
pub const CREATOR_ALL_ACL: &[Acl] = &[Acl {
    perms: Perms::ALL,
    id: Id::AUTH,
}];

/// `world:anyone` may read.
pub const READ_ACL_UNSAFE: &[Acl] = &[Acl {
    perms: Perms::READ,
    id: Id::ANYONE,
}];

#[cfg(test)]
impl crate::proto::tests::gen::Gen for Perms {
    fn gen() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::prelude::*;
        any::<i32>().prop_map(Perms).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_server() {
        // Checked against a 3.8.0 server (PROTOCOL.md §11.2).
        assert_eq!(
            digest_id("bob", "secret"),
            "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="
        );
        assert_eq!(Id::digest("bob", "secret").scheme, "digest");
    }

    #[test]
    fn perms_combine_and_print() {
        let p = Perms::READ | Perms::WRITE;
        assert!(p.contains(Perms::READ));
        assert!(!p.contains(Perms::ADMIN));
        assert!(Perms::ALL.contains(p));
        assert_eq!(format!("{p:?}"), "Perms(rw)");
        assert_eq!(format!("{:?}", Perms::ALL), "Perms(cdrwa)");
        assert_eq!(format!("{:?}", Perms::from_bits(64)), "Perms(0x40)");
    }

    #[test]
    fn well_known_acl_bytes() {
        // world:anyone ALL as in the create example of PROTOCOL.md §4.1.
        let bytes = OPEN_ACL_UNSAFE.to_vec().to_bytes();
        assert_eq!(
            &bytes[..],
            b"\x00\x00\x00\x01\x00\x00\x00\x1f\x00\x00\x00\x05world\x00\x00\x00\x06anyone"
        );
        assert_eq!(CREATOR_ALL_ACL[0].id.scheme, "auth");
        assert_eq!(READ_ACL_UNSAFE[0].perms, Perms::READ);
    }
}
