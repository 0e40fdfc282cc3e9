//! The slot protocol shared by the broadcast ring and the queue: a power-of-two array of
//! fixed-size slots, each `[stamp, length, payload...]` in 8-byte words.
//!
//! The stamp is a per-slot seqlock carrying the sequence it holds: `2 seq + 1` while the writer
//! fills the slot with message `seq`, `2 seq + 2` once it is complete. Stamps only grow, so a
//! reader expecting `seq` knows from one load whether the slot is not written yet (smaller),
//! ready (equal) or already reused for a later lap (larger); it re-checks the stamp after
//! copying and discards the copy if the writer came back meanwhile. No reader ever returns a
//! torn message, and the writer never looks at readers.

use crate::sync::{fence, AtomicU64, Ordering};
use crate::words::{load_bytes, store_bytes};
use crate::Received;

/// The stamp of a slot while message `seq` is being written into it.
#[inline]
pub(crate) const fn writing_stamp(seq: u64) -> u64 {
    2 * seq + 1
}

/// The stamp of a slot holding the complete message `seq`.
#[inline]
pub(crate) const fn published_stamp(seq: u64) -> u64 {
    2 * seq + 2
}

/// What a reader found in the slot of the sequence it wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotRead {
    /// The message, of this length, is in the caller's buffer.
    Ready(usize),
    /// The message has not been (completely) written yet.
    NotYet,
    /// The slot already holds a later message: the wanted one is gone.
    Overwritten,
}

/// A view of a ring's slots.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ring<'a> {
    data: &'a [AtomicU64],
    slot_words: usize,
    capacity: u64,
    max_len: usize,
}

impl<'a> Ring<'a> {
    /// A ring of `capacity` (a power of two) slots of `slot_words` words over `data`.
    pub fn new(data: &'a [AtomicU64], slot_words: usize, capacity: u64, max_len: usize) -> Self {
        debug_assert!(capacity.is_power_of_two());
        debug_assert!(data.len() >= capacity as usize * slot_words);
        debug_assert!(max_len <= (slot_words - 2) * 8);
        Self { data, slot_words, capacity, max_len }
    }

    #[inline]
    fn slot(&self, seq: u64) -> &'a [AtomicU64] {
        let start = (seq & (self.capacity - 1)) as usize * self.slot_words;
        &self.data[start..start + self.slot_words]
    }

    /// Writes message `seq` into its slot. Only the ring's one writer calls this.
    #[inline]
    pub fn write(&self, seq: u64, msg: &[u8]) {
        debug_assert!(msg.len() <= self.max_len);
        let slot = self.slot(seq);
        slot[0].store(writing_stamp(seq), Ordering::Relaxed);
        // Orders the odd stamp before the payload stores: a reader that sees any of the new
        // payload also sees the slot as being written when it re-checks the stamp.
        fence(Ordering::Release);
        slot[1].store(msg.len() as u64, Ordering::Relaxed);
        store_bytes(&slot[2..], msg);
        slot[0].store(published_stamp(seq), Ordering::Release);
    }

    /// Whether the slot of `seq` holds the complete message `seq`.
    pub fn is_published(&self, seq: u64) -> bool {
        self.slot(seq)[0].load(Ordering::Acquire) == published_stamp(seq)
    }

    /// Where message `seq` lies in the data words, if its slot holds it complete: the word
    /// offset of its payload and its length. Only a queue reader may use the location, and only
    /// until it frees the slot: until then the writer does not touch it.
    pub fn locate(&self, seq: u64) -> Option<(usize, usize)> {
        let start = (seq & (self.capacity - 1)) as usize * self.slot_words;
        if !self.is_published(seq) {
            return None;
        }
        let len = (self.data[start + 1].load(Ordering::Relaxed) as usize).min(self.max_len);
        Some((start + 2, len))
    }

    /// Copies message `seq` into `out` (at least `max_len` bytes) if its slot holds it.
    #[inline]
    pub fn read(&self, seq: u64, out: &mut [u8]) -> SlotRead {
        let slot = self.slot(seq);
        let want = published_stamp(seq);
        let before = slot[0].load(Ordering::Acquire);
        if before < want {
            return SlotRead::NotYet;
        }
        if before > want {
            return SlotRead::Overwritten;
        }
        // A length torn by a concurrent rewrite is caught by the stamp check below; clamping
        // keeps the copy inside the slot meanwhile.
        let len = (slot[1].load(Ordering::Relaxed) as usize).min(self.max_len);
        load_bytes(&slot[2..], &mut out[..len]);
        // Orders the payload loads before the second stamp load.
        fence(Ordering::Acquire);
        if slot[0].load(Ordering::Relaxed) != want {
            return SlotRead::Overwritten;
        }
        SlotRead::Ready(len)
    }

    /// One broadcast reader step at `*cursor`: a message, nothing yet, or a lap. On a lap the
    /// cursor jumps to the oldest message still in the ring (and past the overwritten one even
    /// if the writer has not published its successor yet) and the skipped count is returned.
    #[inline]
    pub fn read_next(&self, write_seq: &AtomicU64, cursor: &mut u64, out: &mut [u8]) -> Received {
        match self.read(*cursor, out) {
            SlotRead::Ready(len) => {
                let seq = *cursor;
                *cursor += 1;
                Received::Message { seq, len }
            }
            SlotRead::NotYet => Received::Empty,
            SlotRead::Overwritten => {
                let oldest = write_seq.load(Ordering::Acquire).saturating_sub(self.capacity);
                let next = oldest.max(*cursor + 1);
                let count = next - *cursor;
                *cursor = next;
                Received::Lost { count }
            }
        }
    }

    /// One queue writer step: writes message `seq` unless the reader at `read_cursor` has not
    /// freed its slot yet. `cached_read` is the writer's last look at the reader's cursor, so
    /// the reader's cache line is touched only when the queue looks full.
    #[inline]
    pub fn try_push(&self, seq: u64, read_cursor: &AtomicU64, cached_read: &mut u64, msg: &[u8]) -> bool {
        if seq - *cached_read >= self.capacity {
            *cached_read = read_cursor.load(Ordering::Acquire);
            if seq - *cached_read >= self.capacity {
                return false;
            }
        }
        self.write(seq, msg);
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct Owned {
        data: Vec<AtomicU64>,
        write_seq: AtomicU64,
    }

    fn owned(capacity: u64, max_len: usize) -> Owned {
        let words = capacity as usize * (2 + max_len.div_ceil(8));
        Owned { data: (0..words).map(|_| AtomicU64::new(0)).collect(), write_seq: AtomicU64::new(0) }
    }

    fn ring(o: &Owned, capacity: u64, max_len: usize) -> Ring<'_> {
        Ring::new(&o.data, 2 + max_len.div_ceil(8), capacity, max_len)
    }

    #[test]
    fn a_reader_sees_messages_in_order_then_empty() {
        let o = owned(4, 16);
        let r = ring(&o, 4, 16);
        for seq in 0..3u64 {
            r.write(seq, &seq.to_le_bytes());
            o.write_seq.store(seq + 1, Ordering::Release);
        }
        let (mut cursor, mut out) = (0, [0u8; 16]);
        for seq in 0..3u64 {
            assert_eq!(r.read_next(&o.write_seq, &mut cursor, &mut out), Received::Message { seq, len: 8 });
            assert_eq!(out[..8], seq.to_le_bytes());
        }
        assert_eq!(r.read_next(&o.write_seq, &mut cursor, &mut out), Received::Empty);
    }

    #[test]
    fn a_lapped_reader_learns_exactly_how_many_it_lost() {
        let o = owned(4, 8);
        let r = ring(&o, 4, 8);
        for seq in 0..10u64 {
            r.write(seq, &seq.to_le_bytes());
            o.write_seq.store(seq + 1, Ordering::Release);
        }
        let (mut cursor, mut out) = (0, [0u8; 8]);
        assert_eq!(r.read_next(&o.write_seq, &mut cursor, &mut out), Received::Lost { count: 6 });
        assert_eq!(r.read_next(&o.write_seq, &mut cursor, &mut out), Received::Message { seq: 6, len: 8 });
    }

    #[test]
    fn a_slot_being_written_is_not_yet_readable() {
        let o = owned(4, 8);
        let r = ring(&o, 4, 8);
        o.data[0].store(writing_stamp(0), Ordering::Relaxed);
        assert_eq!(r.read(0, &mut [0u8; 8]), SlotRead::NotYet);
        assert!(!r.is_published(0));
    }

    #[test]
    fn a_full_queue_refuses_until_the_reader_moves() {
        let o = owned(2, 8);
        let r = ring(&o, 2, 8);
        let read_cursor = AtomicU64::new(0);
        let mut cached = 0;
        assert!(r.try_push(0, &read_cursor, &mut cached, b"a"));
        assert!(r.try_push(1, &read_cursor, &mut cached, b"b"));
        assert!(!r.try_push(2, &read_cursor, &mut cached, b"c"));
        read_cursor.store(1, Ordering::Release);
        assert!(r.try_push(2, &read_cursor, &mut cached, b"c"));
    }
}
