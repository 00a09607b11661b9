//! A small seeded generator (SplitMix64): host shuffling and backoff jitter
//! must be reproducible from `Config::rng_seed`, so no OS randomness once
//! seeded. Seed 0 asks for a random seed, taken once per session.

#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// One SplitMix64 step of `x`: a well-mixed 64-bit value.
pub(crate) fn mix(x: u64) -> u64 {
    Rng::new(x).next_u64()
}

/// A seed that differs between sessions and processes, for `rng_seed == 0`:
/// std's per-thread hash keys (random at first use, stepped for each new
/// `RandomState`), so clients on every adapter spread over the hosts and
/// back off out of step. Never 0.
pub(crate) fn random_seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    RandomState::new().hash_one(0x006b_617a_6f6f_u64) | 1
}

/// 128 bits no server can predict, for a SASL client nonce: SipHash
/// under std's secret per-thread keys, which come from the operating
/// system's random source. Taking them from std keeps the core free of any
/// crate that calls the OS (the dependency rule in `scripts/test.sh`).
pub(crate) fn unpredictable() -> [u8; 16] {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    // Every `RandomState` steps the thread's keys, so two calls differ.
    let keys = RandomState::new();
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&keys.hash_one(0x6b7a_5f6e_6f6e_6365_u64).to_be_bytes());
    out[8..].copy_from_slice(&keys.hash_one(!0x6b7a_5f6e_6f6e_6365_u64).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn unpredictable_values_differ_between_calls() {
        let a = super::unpredictable();
        let b = super::unpredictable();
        assert_ne!(a, b);
        assert_ne!(a[..8], a[8..]);
    }
}
