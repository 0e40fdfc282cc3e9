//! The byte layout of a segment: the contract between every process that maps it.
//!
//! ```text
//! offset 0                 SegmentHeader      immutable after creation, then `ready`
//!        128               WriterBlock        the writer's sequence, pid, heartbeat
//!        256               SharedCounters     counters many readers add to (seqlock retries)
//!        384               ReaderBlock x R    one cursor and its counters per reader
//!        384 + 128 R       data               capacity x slot_size bytes
//! ```
//! Every block sits on its own 128-byte line pair so the writer and each reader never share a
//! cache line (adjacent-line prefetch pulls lines in pairs). `magic` and `layout_version` keep
//! their offsets in every future version so any build can name the version it finds.

use std::fmt;

use crate::sync::{AtomicU32, AtomicU64};
use crate::words::words_for;

/// The first eight bytes of every segment: `b"TICKRAIL"` read as a little-endian `u64`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"TICKRAIL");

/// The version of this layout. Bump it on any change to the structs in this module.
pub const LAYOUT_VERSION: u32 = 1;

/// Alignment and size of every block.
pub(crate) const BLOCK: usize = 128;

/// The value `SegmentHeader::ready` holds once the header is complete.
pub(crate) const READY: u32 = 0x5245_4459; // "REDY"

/// What a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum SegmentKind {
    /// A one-writer, many-reader broadcast ring.
    Broadcast = 1,
    /// A one-writer, one-reader queue with back-pressure.
    Queue = 2,
    /// A table of seqlock slots, the latest record per key.
    Slots = 3,
    /// An array of 64-bit counter cells one writer keeps: counters and histograms.
    Metrics = 4,
}

impl SegmentKind {
    /// The kind stored as `raw`, if it is one.
    pub fn from_raw(raw: u32) -> Option<Self> {
        match raw {
            1 => Some(Self::Broadcast),
            2 => Some(Self::Queue),
            3 => Some(Self::Slots),
            4 => Some(Self::Metrics),
            _ => None,
        }
    }

    /// Its lower-case name, as the stats tool prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Broadcast => "broadcast",
            Self::Queue => "queue",
            Self::Slots => "slots",
            Self::Metrics => "metrics",
        }
    }
}

impl fmt::Display for SegmentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first block of every segment.
///
/// All fields but `ready` are written once by the creator, covered by `checksum`, and never
/// change; `ready` is stored last, with release ordering, so a process that sees it set sees
/// the whole header.
#[derive(Debug)]
#[repr(C, align(128))]
pub struct SegmentHeader {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`LAYOUT_VERSION`] of the build that created the segment.
    pub layout_version: u32,
    /// A [`SegmentKind`] as its `u32`.
    pub kind: u32,
    /// Slots in the data area: a power of two for rings and queues, the number of keys for slots,
    /// the number of cells for metrics.
    pub capacity: u64,
    /// Bytes per slot, a multiple of 64.
    pub slot_size: u32,
    /// Largest message or record, in bytes.
    pub max_message_size: u32,
    /// Reader cursors reserved (0 for slot tables).
    pub max_readers: u32,
    /// Permission bits the segment was created with.
    pub mode: u32,
    /// Total size of the segment in bytes.
    pub total_size: u64,
    /// Pid of the process that created the segment.
    pub creator_pid: u32,
    /// Reserved, zero.
    pub reserved: u32,
    /// Start time of the creator (clock ticks after boot), so a reused pid is not mistaken for it.
    pub creator_start_ticks: u64,
    /// Wall-clock creation time, nanoseconds since the Unix epoch.
    pub created_realtime_ns: u64,
    /// FNV-1a over every field above.
    pub checksum: u64,
    /// [`READY`] once the header is complete; zero before.
    pub(crate) ready: std::sync::atomic::AtomicU32,
}

/// The writer's block: its published sequence and identity. Only the writer stores here,
/// except for `waiters`, which sleeping readers count themselves in.
#[derive(Debug)]
#[repr(C, align(128))]
pub(crate) struct WriterBlock {
    /// Next sequence to publish, so also the count of messages (or updates) published. Its low
    /// half is the futex word readers sleep on.
    pub write_seq: AtomicU64,
    /// Readers asleep on `write_seq`'s futex; the writer wakes them only when this is non-zero.
    pub waiters: AtomicU32,
    /// Reserved, zero.
    pub reserved: AtomicU32,
    /// The attached writer as a [`ProcessToken::packed`](crate::ProcessToken::packed) word,
    /// 0 when none is attached.
    pub writer: AtomicU64,
    /// `CLOCK_MONOTONIC` nanoseconds of the writer's last sign of life.
    pub heartbeat_ns: AtomicU64,
    /// Times a queue writer found the queue full.
    pub backpressure_events: AtomicU64,
    /// Times a writer attached to the segment (1 after the first writer).
    pub writer_attaches: AtomicU64,
}

/// Counters any number of readers add to, kept off the writer's line.
#[derive(Debug)]
#[repr(C, align(128))]
pub(crate) struct SharedCounters {
    /// Seqlock reads that had to be retried because the writer was mid-update.
    pub seqlock_retries: AtomicU64,
    /// Seqlock reads that gave up after their retry bound.
    pub seqlock_failures: AtomicU64,
}

/// One reader's cursor and counters. Only the reader holding it stores here, except for
/// `space_waiters` (queue writers asleep on `cursor`).
#[derive(Debug)]
#[repr(C, align(128))]
pub(crate) struct ReaderBlock {
    /// Next sequence this reader will read. Its low half is the futex word a queue writer
    /// waiting for space sleeps on.
    pub cursor: AtomicU64,
    /// Writers asleep on `cursor`'s futex.
    pub space_waiters: AtomicU32,
    /// Reserved, zero.
    pub reserved: AtomicU32,
    /// The process holding this cursor as a packed token, 0 when free.
    pub owner: AtomicU64,
    /// Messages this cursor has read.
    pub consumed: AtomicU64,
    /// Messages the writer overwrote before this cursor read them.
    pub lost: AtomicU64,
    /// Times this cursor was lapped.
    pub overruns: AtomicU64,
}

#[cfg(not(loom))]
const _: () = {
    assert!(std::mem::size_of::<SegmentHeader>() == BLOCK);
    assert!(std::mem::size_of::<WriterBlock>() == BLOCK);
    assert!(std::mem::size_of::<SharedCounters>() == BLOCK);
    assert!(std::mem::size_of::<ReaderBlock>() == BLOCK);
    assert!(std::mem::offset_of!(SegmentHeader, magic) == 0);
    assert!(std::mem::offset_of!(SegmentHeader, layout_version) == 8);
};

/// Bytes per metrics cell: one `u64`.
pub(crate) const METRIC_CELL: usize = 8;
/// Words at the start of every ring or queue slot: the stamp and the message length.
pub(crate) const SLOT_HEADER_WORDS: usize = 2;
/// Words at the start of every seqlock slot: the version.
pub(crate) const SEQLOCK_HEADER_WORDS: usize = 1;

/// The shape of a segment as stored in its header, from which every offset follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub kind: SegmentKind,
    pub capacity: u64,
    pub max_message_size: u32,
    pub max_readers: u32,
}

impl Geometry {
    /// Words of header in front of each slot's payload.
    pub fn slot_header_words(&self) -> usize {
        match self.kind {
            SegmentKind::Broadcast | SegmentKind::Queue => SLOT_HEADER_WORDS,
            SegmentKind::Slots => SEQLOCK_HEADER_WORDS,
            SegmentKind::Metrics => 0,
        }
    }

    /// Bytes per slot: header and payload rounded up to a 64-byte line; metrics cells are
    /// packed words (one writer stores them all, so they share lines without contention).
    pub fn slot_size(&self) -> usize {
        if self.kind == SegmentKind::Metrics {
            return METRIC_CELL;
        }
        let bytes = (self.slot_header_words() + words_for(self.max_message_size as usize)) * 8;
        bytes.next_multiple_of(64)
    }

    /// Offset of the first reader block.
    pub const fn readers_offset() -> usize {
        3 * BLOCK
    }

    /// Offset of the data area.
    pub fn data_offset(&self) -> usize {
        Self::readers_offset() + self.max_readers as usize * BLOCK
    }

    /// Total segment size in bytes, or `None` on overflow.
    pub fn total_size(&self) -> Option<usize> {
        (self.capacity as usize).checked_mul(self.slot_size())?.checked_add(self.data_offset())
    }

    /// Checks the geometry can make a segment, saying what is wrong if not.
    pub fn validate(&self) -> Result<(), String> {
        if self.capacity == 0 {
            return Err("capacity must be at least 1".into());
        }
        let is_ring = matches!(self.kind, SegmentKind::Broadcast | SegmentKind::Queue);
        if is_ring && !self.capacity.is_power_of_two() {
            return Err(format!("capacity {} is not a power of two", self.capacity));
        }
        if self.max_message_size == 0 {
            return Err("max_message_size must be at least 1 byte".into());
        }
        if self.max_message_size > 1 << 20 {
            return Err(format!("max_message_size {} exceeds 1 MiB", self.max_message_size));
        }
        let readers_ok = match self.kind {
            SegmentKind::Broadcast => (1..=1024).contains(&self.max_readers),
            SegmentKind::Queue => self.max_readers == 1,
            SegmentKind::Slots | SegmentKind::Metrics => self.max_readers == 0,
        };
        if self.kind == SegmentKind::Metrics && self.max_message_size as usize != METRIC_CELL {
            return Err(format!("metrics cells are {METRIC_CELL} bytes, not {}", self.max_message_size));
        }
        if !readers_ok {
            return Err(format!(
                "max_readers {} invalid for a {} (broadcast: 1..=1024, queue: 1, slots and metrics: 0)",
                self.max_readers, self.kind
            ));
        }
        match self.total_size() {
            Some(size) if size <= 1 << 40 => Ok(()),
            _ => Err("segment would exceed 1 TiB".into()),
        }
    }
}

/// FNV-1a 64 over `bytes`: a cheap check that the immutable header was not damaged.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(not(loom))]
impl SegmentHeader {
    /// Bytes of the header the checksum covers: everything before `checksum`.
    pub(crate) const CHECKSUMMED: usize = std::mem::offset_of!(SegmentHeader, checksum);

    /// The checksum the immutable fields should carry.
    pub(crate) fn expected_checksum(&self) -> u64 {
        // SAFETY: the header is `repr(C)` plain integers up to `checksum`, with no padding
        // before it (the offsets are fixed by the assertions above), so those bytes are
        // initialised and readable for the header's lifetime.
        let bytes =
            unsafe { std::slice::from_raw_parts((self as *const Self).cast::<u8>(), Self::CHECKSUMMED) };
        fnv1a(bytes)
    }

    /// The geometry the header describes, if its kind is known.
    pub(crate) fn geometry(&self) -> Option<Geometry> {
        Some(Geometry {
            kind: SegmentKind::from_raw(self.kind)?,
            capacity: self.capacity,
            max_message_size: self.max_message_size,
            max_readers: self.max_readers,
        })
    }

    /// Whether the creator finished writing the header.
    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire) == READY
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn ring(capacity: u64, max_message_size: u32, max_readers: u32) -> Geometry {
        Geometry { kind: SegmentKind::Broadcast, capacity, max_message_size, max_readers }
    }

    #[test]
    fn slots_round_up_to_a_cache_line() {
        assert_eq!(ring(8, 48, 1).slot_size(), 64);
        assert_eq!(ring(8, 49, 1).slot_size(), 128);
        assert_eq!(ring(8, 64, 1).slot_size(), 128);
    }

    #[test]
    fn data_follows_the_reader_table() {
        let g = ring(1024, 64, 4);
        assert_eq!(g.data_offset(), 384 + 4 * 128);
        assert_eq!(g.total_size(), Some(384 + 4 * 128 + 1024 * 128));
    }

    #[test]
    fn rejects_impossible_geometries() {
        assert!(ring(1000, 64, 1).validate().unwrap_err().contains("power of two"));
        assert!(ring(1024, 0, 1).validate().is_err());
        assert!(ring(1024, 64, 0).validate().unwrap_err().contains("max_readers"));
        let queue = Geometry { kind: SegmentKind::Queue, ..ring(8, 8, 2) };
        assert!(queue.validate().is_err());
        let table = Geometry { kind: SegmentKind::Slots, capacity: 10, max_message_size: 8, max_readers: 0 };
        assert!(table.validate().is_ok());
        let metrics =
            Geometry { kind: SegmentKind::Metrics, capacity: 13, max_message_size: 8, max_readers: 0 };
        assert!(metrics.validate().is_ok());
        assert_eq!(metrics.total_size(), Some(384 + 13 * 8));
        let wide = Geometry { max_message_size: 16, ..metrics };
        assert!(wide.validate().unwrap_err().contains("metrics cells"));
    }

    #[test]
    fn magic_spells_tickrail() {
        assert_eq!(&MAGIC.to_le_bytes(), b"TICKRAIL");
    }
}
