//! A hasher for order reference numbers: one multiply folded into itself, instead of the
//! standard library's SipHash, which guards against hash flooding that a venue's own order
//! numbers cannot mount. Both halves of the product mix every input bit, so the table's bucket
//! (low bits) and tag (high bits) stay spread for sequential references.

use std::hash::{BuildHasherDefault, Hasher};

/// Hashes one `u64` key.
#[derive(Debug, Default, Clone, Copy)]
pub struct OrderRefHasher(u64);

impl Hasher for OrderRefHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    #[inline]
    fn write_u64(&mut self, key: u64) {
        let product = u128::from(self.0 ^ key) * 0x9E37_79B9_7F4A_7C15;
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`OrderRefHasher`]s for a `HashMap`.
pub type BuildOrderRefHasher = BuildHasherDefault<OrderRefHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn sequential_references_spread_over_low_and_high_bits() {
        let build = BuildOrderRefHasher::default();
        let hashes: Vec<u64> = (1..=4096u64).map(|r| build.hash_one(r)).collect();
        let buckets: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 4095).collect();
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(buckets.len() > 2500, "{} of 4096 buckets used", buckets.len());
        assert_eq!(tags.len(), 128, "every 7-bit tag appears");
    }
}
