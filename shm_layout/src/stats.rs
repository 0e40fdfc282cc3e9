//! Counters read from outside a segment, without disturbing its writer or readers.
//!
//! The segment is mapped read-only after its header (magic, layout version, checksum) is
//! validated; every counter is a relaxed load of a word its owner stores.

use crate::error::ShmResult;
use crate::layout::ReaderBlock;
use crate::process::ProcessToken;
use crate::segment::{self, Access, Mapping, SegmentInfo};
use crate::sync::Ordering;
use crate::time::monotonic_ns;

/// One reader cursor's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderStats {
    /// The cursor's index in the segment's reader table.
    pub index: u32,
    /// Pid of its holder (0 if free).
    pub pid: u32,
    /// Whether the holder is alive.
    pub alive: bool,
    /// Next sequence it will read.
    pub cursor: u64,
    /// Messages it read.
    pub consumed: u64,
    /// Messages published that it has not read yet.
    pub lag: u64,
    /// Messages it lost to laps.
    pub lost: u64,
    /// Times it was lapped.
    pub overruns: u64,
}

/// A snapshot of a segment's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentStats {
    /// What the header says.
    pub info: SegmentInfo,
    /// Pid of the attached writer (0 if none).
    pub writer_pid: u32,
    /// Whether the writer is alive.
    pub writer_alive: bool,
    /// Times a writer attached.
    pub writer_attaches: u64,
    /// Messages published (ring, queue) or records updated (slots).
    pub published: u64,
    /// `CLOCK_MONOTONIC` nanoseconds of the writer's last heartbeat (0 if never).
    pub heartbeat_ns: u64,
    /// Nanoseconds since that heartbeat, when taking the snapshot.
    pub heartbeat_age_ns: u64,
    /// Times a queue writer found the queue full.
    pub backpressure_events: u64,
    /// Seqlock reads retried.
    pub seqlock_retries: u64,
    /// Seqlock reads that gave up.
    pub seqlock_failures: u64,
    /// Every reader cursor that has been used.
    pub readers: Vec<ReaderStats>,
}

/// A segment's writer, watched for signs of life from a read-only mapping held open (a
/// supervisor or the risk worker failing closed on a dead writer checks it often).
#[derive(Debug)]
pub struct WriterWatch {
    mapping: std::sync::Arc<Mapping>,
}

impl WriterWatch {
    /// Opens `name` read-only and validates its header.
    pub fn open(name: &str) -> ShmResult<Self> {
        Ok(Self { mapping: segment::open_any(name, Access::ReadOnly)? })
    }

    /// When the writer last gave a sign of life, `CLOCK_MONOTONIC` nanoseconds (0 if never).
    pub fn heartbeat_ns(&self) -> u64 {
        self.mapping.writer_block().heartbeat_ns.load(Ordering::Relaxed)
    }
}

impl SegmentStats {
    /// Opens `name` read-only, validates its header and reads its counters.
    pub fn read(name: &str) -> ShmResult<Self> {
        Ok(Self::of(&*segment::open_any(name, Access::ReadOnly)?))
    }

    fn of(mapping: &Mapping) -> Self {
        let writer = mapping.writer_block();
        let counters = mapping.counters();
        let published = writer.write_seq.load(Ordering::Acquire);
        let writer_token = writer.writer.load(Ordering::Acquire);
        let heartbeat_ns = writer.heartbeat_ns.load(Ordering::Relaxed);
        let readers = mapping
            .readers()
            .iter()
            .enumerate()
            .filter_map(|(index, block)| reader_stats(index as u32, block, published))
            .collect();
        Self {
            info: SegmentInfo::of(mapping),
            writer_pid: ProcessToken::packed_pid(writer_token),
            writer_alive: ProcessToken::packed_is_alive(writer_token),
            writer_attaches: writer.writer_attaches.load(Ordering::Relaxed),
            published,
            heartbeat_ns,
            heartbeat_age_ns: if heartbeat_ns == 0 { 0 } else { monotonic_ns().saturating_sub(heartbeat_ns) },
            backpressure_events: writer.backpressure_events.load(Ordering::Relaxed),
            seqlock_retries: counters.seqlock_retries.load(Ordering::Relaxed),
            seqlock_failures: counters.seqlock_failures.load(Ordering::Relaxed),
            readers,
        }
    }

    /// Messages lost by all readers together.
    pub fn lost(&self) -> u64 {
        self.readers.iter().map(|r| r.lost).sum()
    }

    /// Laps suffered by all readers together.
    pub fn overruns(&self) -> u64 {
        self.readers.iter().map(|r| r.overruns).sum()
    }
}

fn reader_stats(index: u32, block: &ReaderBlock, published: u64) -> Option<ReaderStats> {
    let owner = block.owner.load(Ordering::Acquire);
    let cursor = block.cursor.load(Ordering::Acquire);
    let consumed = block.consumed.load(Ordering::Relaxed);
    if owner == 0 && cursor == 0 && consumed == 0 {
        return None;
    }
    Some(ReaderStats {
        index,
        pid: ProcessToken::packed_pid(owner),
        alive: ProcessToken::packed_is_alive(owner),
        cursor,
        consumed,
        lag: published.saturating_sub(cursor),
        lost: block.lost.load(Ordering::Relaxed),
        overruns: block.overruns.load(Ordering::Relaxed),
    })
}
