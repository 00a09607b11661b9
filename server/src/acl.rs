//! Access control: the world, auth, digest and ip schemes.

use std::net::IpAddr;

use kazoo::acl::{Acl, Id, Perms};
use kazoo::Error;

/// True if a connection authenticated as `ids` may do `perm` on a node
/// with `acl`.
pub(crate) fn allowed(acl: &[Acl], perm: Perms, ids: &[Id]) -> bool {
    acl.is_empty()
        || acl.iter().any(|entry| {
            entry.perms.contains(perm)
                && match entry.id.scheme.as_ref() {
                    "world" => entry.id.id == "anyone",
                    "ip" => ids
                        .iter()
                        .any(|id| id.scheme == "ip" && ip_matches(&entry.id.id, &id.id)),
                    _ => ids.contains(&entry.id),
                }
        })
}

/// `10.0.0.0/8` style entries match addresses in the range; plain
/// addresses match themselves.
fn ip_matches(entry: &str, addr: &str) -> bool {
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let (net, bits) = match entry.split_once('/') {
        Some((net, bits)) => (net, bits.parse::<u32>().ok()),
        None => (entry, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Checks a new ACL and replaces `auth` entries with the connection's
/// authenticated ids (not `ip`, which is not an authenticating scheme).
/// An empty list, an unknown scheme, a malformed id, or `auth` without any
/// authenticated id is `InvalidAcl`, as on the real server.
pub(crate) fn fix_up(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, Error> {
    if acl.is_empty() {
        return Err(Error::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        match entry.id.scheme.as_ref() {
            "world" if entry.id.id == "anyone" => out.push(entry.clone()),
            "digest" if valid_digest(&entry.id.id) => out.push(entry.clone()),
            "ip" if valid_ip(&entry.id.id) => out.push(entry.clone()),
            "auth" => {
                let mut any = false;
                for id in ids.iter().filter(|id| id.scheme != "ip") {
                    out.push(Acl::new(entry.perms, id.clone()));
                    any = true;
                }
                if !any {
                    return Err(Error::InvalidAcl);
                }
            }
            _ => return Err(Error::InvalidAcl),
        }
    }
    // Duplicate entries collapse, as on the real server.
    let mut unique: Vec<Acl> = Vec::with_capacity(out.len());
    for entry in out {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    Ok(unique)
}

/// True if `ids` hold any of the bits of `perms` (getACL asks READ or ADMIN).
pub(crate) fn allowed_any(acl: &[Acl], perms: &[Perms], ids: &[Id]) -> bool {
    perms.iter().any(|p| allowed(acl, *p, ids))
}

/// Without ADMIN, getACL hides digest hashes (`user:x`).
pub(crate) fn masked(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|entry| match entry.id.scheme.as_ref() {
            "digest" => {
                let user = entry.id.id.split(':').next().unwrap_or("").to_string();
                Acl::new(entry.perms, Id::new("digest", format!("{user}:x")))
            }
            _ => entry.clone(),
        })
        .collect()
}

fn valid_digest(id: &str) -> bool {
    id.split(':').count() == 2
}

fn valid_ip(id: &str) -> bool {
    let (net, bits) = match id.split_once('/') {
        Some((net, bits)) => (net, Some(bits)),
        None => (id, None),
    };
    let max = match net.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => 32,
        Ok(IpAddr::V6(_)) => 128,
        Err(_) => return false,
    };
    match bits {
        Some(b) => b.parse::<u8>().is_ok_and(|b| b <= max),
        None => true,
    }
}

/// The id a `digest` credential authenticates as. The real server accepts
/// any bytes: the user is the text before the first `:`, the hash covers
/// the whole credential.
pub(crate) fn digest_credential(credential: &[u8]) -> Id {
    let text = String::from_utf8_lossy(credential);
    Id::new("digest", kazoo::acl::digest_id_of_credential(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let alice = Id::digest("alice", "pw");
        let ip = Id::new("ip", "127.0.0.1");
        let acl = vec![
            Acl::new(Perms::READ, alice.clone()),
            Acl::new(Perms::WRITE, Id::new("ip", "127.0.0.0/8")),
        ];
        assert!(allowed(&acl, Perms::READ, std::slice::from_ref(&alice)));
        assert!(!allowed(&acl, Perms::WRITE, std::slice::from_ref(&alice)));
        assert!(allowed(&acl, Perms::WRITE, std::slice::from_ref(&ip)));
        assert!(!allowed(&acl, Perms::READ, std::slice::from_ref(&ip)));
        assert!(allowed(kazoo::acl::OPEN_ACL_UNSAFE, Perms::ADMIN, &[]));
        assert_eq!(fix_up(&[], &[]), Err(Error::InvalidAcl));
        assert_eq!(
            fix_up(kazoo::acl::CREATOR_ALL_ACL, std::slice::from_ref(&ip)),
            Err(Error::InvalidAcl)
        );
        assert_eq!(
            fix_up(kazoo::acl::CREATOR_ALL_ACL, &[ip, alice.clone()]),
            Ok(vec![Acl::new(Perms::ALL, alice)])
        );
        assert_eq!(
            fix_up(&[Acl::new(Perms::ALL, Id::new("bogus", "x"))], &[]),
            Err(Error::InvalidAcl)
        );
    }
}
