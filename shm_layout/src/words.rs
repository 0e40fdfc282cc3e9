//! Copies between byte buffers and shared words with relaxed atomic accesses.
//!
//! A seqlock reader may copy a slot while the writer overwrites it; the copy is then discarded,
//! but a plain `memcpy` racing with a write would still be undefined behaviour in Rust's memory
//! model. Word-sized relaxed atomics are race-free by definition and compile to the same plain
//! moves on x86-64 and AArch64.

use crate::sync::{AtomicU64, Ordering};

const WORD: usize = 8;

/// Number of 8-byte words that hold `bytes` bytes.
pub(crate) const fn words_for(bytes: usize) -> usize {
    bytes.div_ceil(WORD)
}

/// Stores `src` into the leading words of `dst`, zero-padding the last partial word.
#[inline]
pub(crate) fn store_bytes(dst: &[AtomicU64], src: &[u8]) {
    let mut chunks = src.chunks_exact(WORD);
    for (word, chunk) in dst.iter().zip(&mut chunks) {
        let value = u64::from_ne_bytes(chunk.try_into().expect("chunks_exact yields 8 bytes"));
        word.store(value, Ordering::Relaxed);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; WORD];
        last[..tail.len()].copy_from_slice(tail);
        dst[src.len() / WORD].store(u64::from_ne_bytes(last), Ordering::Relaxed);
    }
}

/// Fills `dst` from the leading words of `src`.
#[inline]
pub(crate) fn load_bytes(src: &[AtomicU64], dst: &mut [u8]) {
    let len = dst.len();
    let mut chunks = dst.chunks_exact_mut(WORD);
    for (word, chunk) in src.iter().zip(&mut chunks) {
        chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let last = src[len / WORD].load(Ordering::Relaxed).to_ne_bytes();
        let n = tail.len();
        tail.copy_from_slice(&last[..n]);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn words(n: usize) -> Vec<AtomicU64> {
        (0..n).map(|_| AtomicU64::new(u64::MAX)).collect()
    }

    #[test]
    fn round_trips_every_length_up_to_three_words() {
        for len in 0..=24 {
            let src: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            let shared = words(3);
            store_bytes(&shared, &src);
            let mut back = vec![0u8; len];
            load_bytes(&shared, &mut back);
            assert_eq!(back, src, "length {len}");
        }
    }

    #[test]
    fn pads_the_last_partial_word_with_zeros() {
        let shared = words(1);
        store_bytes(&shared, &[1, 2, 3]);
        assert_eq!(shared[0].load(Ordering::Relaxed).to_ne_bytes(), [1, 2, 3, 0, 0, 0, 0, 0]);
    }
}
