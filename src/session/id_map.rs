//! Maps keyed by [`RequestId`], hashed for what the keys are.
//!
//! Every request passes through a few such maps (its completion slot, its
//! watcher, its timeout), and std's default SipHash, built to resist keys
//! chosen by an attacker, cost more per lookup than the rest of the
//! bookkeeping. Request ids are numbers this side counts up; answers only
//! look them up. A multiplication spreads them well enough.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::RequestId;

/// A map from request ids.
pub(crate) type IdMap<V> = HashMap<RequestId, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of one `u64`, rotated so the well-mixed middle bits
/// of the product pick the bucket (hashbrown takes the low bits): ids a
/// power of two apart (alternate ids, when every request has an alarm)
/// still spread over every bucket.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_apart_and_are_found() {
        let mut map = IdMap::default();
        for i in 0..10_000 {
            map.insert(RequestId(i), i * 2);
        }
        assert_eq!(map.len(), 10_000);
        assert!((0..10_000).all(|i| map.get(&RequestId(i)) == Some(&(i * 2))));
        assert_eq!(map.remove(&RequestId(7)), Some(14));
        assert_eq!(map.get(&RequestId(10_000)), None);
        // Neighbours hash apart (no two consecutive ids collide).
        let hash = |i| {
            let mut h = IdHasher::default();
            h.write_u64(i);
            h.finish()
        };
        assert!((0..1000).all(|i| hash(i) != hash(i + 1)));
        // Even ids alone still reach odd buckets.
        assert!((0..64).map(|i| hash(2 * i) & 1).any(|b| b == 1));
    }
}
