//! The seqlock protocol of one slot: `[version, record...]` in 8-byte words.
//!
//! The version is even when the record is stable and odd while the writer updates it; 0 means
//! never written. A reader copies the record between two loads of the version and keeps the
//! copy only if both are the same even value. Copies are word-sized relaxed atomics, so a read
//! racing a write is a retry, not undefined behaviour.

use crate::sync::{fence, retry_pause, AtomicU64, Ordering};
use crate::words::{load_bytes, store_bytes};

/// Writes `record` into `slot`. Only the slot's one writer calls this. A version left odd by a
/// writer that died mid-update is moved on to the next odd value, never to an even one.
#[inline]
pub(crate) fn write(slot: &[AtomicU64], record: &[u8]) {
    let version = slot[0].load(Ordering::Relaxed);
    let writing = if version % 2 == 0 { version + 1 } else { version + 2 };
    slot[0].store(writing, Ordering::Relaxed);
    // Orders the odd version before the record stores.
    fence(Ordering::Release);
    store_bytes(&slot[1..], record);
    slot[0].store(writing + 1, Ordering::Release);
}

/// The result of a bounded seqlock read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqRead {
    /// A consistent copy of the record at this version is in the caller's buffer.
    Stable { version: u64, retries: u32 },
    /// The slot was never written.
    Empty,
    /// Every attempt collided with the writer.
    Contended { retries: u32 },
}

/// Copies the record in `slot` into `out`, trying at most `max_retries + 1` times.
#[inline]
pub(crate) fn read(slot: &[AtomicU64], out: &mut [u8], max_retries: u32) -> SeqRead {
    let mut retries = 0;
    loop {
        let before = slot[0].load(Ordering::Acquire);
        if before == 0 {
            return SeqRead::Empty;
        }
        if before % 2 == 0 {
            load_bytes(&slot[1..], out);
            // Orders the record loads before the second version load.
            fence(Ordering::Acquire);
            if slot[0].load(Ordering::Relaxed) == before {
                return SeqRead::Stable { version: before, retries };
            }
        }
        if retries == max_retries {
            return SeqRead::Contended { retries };
        }
        retries += 1;
        retry_pause(retries);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn slot(words: usize) -> Vec<AtomicU64> {
        (0..words).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn an_unwritten_slot_reads_empty() {
        assert_eq!(read(&slot(2), &mut [0u8; 8], 3), SeqRead::Empty);
    }

    #[test]
    fn a_written_record_reads_back_at_an_even_version() {
        let s = slot(3);
        write(&s, b"0123456789abcdef");
        write(&s, b"fedcba9876543210");
        let mut out = [0u8; 16];
        assert_eq!(read(&s, &mut out, 0), SeqRead::Stable { version: 4, retries: 0 });
        assert_eq!(&out, b"fedcba9876543210");
    }

    #[test]
    fn a_slot_left_mid_update_is_contended_then_recovered_by_the_next_write() {
        let s = slot(2);
        write(&s, b"stable!!");
        s[0].store(3, Ordering::Relaxed); // a writer died after marking the slot odd
        assert_eq!(read(&s, &mut [0u8; 8], 5), SeqRead::Contended { retries: 5 });
        write(&s, b"resumed!");
        let mut out = [0u8; 8];
        assert_eq!(read(&s, &mut out, 0), SeqRead::Stable { version: 6, retries: 0 });
        assert_eq!(&out, b"resumed!");
    }
}
