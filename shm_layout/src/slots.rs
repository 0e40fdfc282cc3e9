//! Seqlock slots: a table of fixed-size records, the latest value per key; for top-of-book
//! snapshots and risk state.
//!
//! One writer updates records in place; any number of readers get a consistent copy or retry,
//! up to a bound, counting every retry in the segment.

use std::sync::Arc;

use crate::error::{ShmError, ShmResult};
use crate::handle::attach_writer;
use crate::layout::{Geometry, SegmentKind};
use crate::process::ProcessToken;
use crate::roles;
use crate::segment::{self, Access, Expected, Mapping, SegmentOptions};
use crate::seqlock::{self, SeqRead};
use crate::sync::{AtomicU64, Ordering};
use crate::time::monotonic_ns;

/// Default bound on a reader's retries before it reports [`ShmError::Contended`].
pub const DEFAULT_MAX_RETRIES: u32 = 1000;

fn slot_of(mapping: &Mapping, key: u64) -> ShmResult<&[AtomicU64]> {
    let g = mapping.geometry();
    if key >= g.capacity {
        return Err(ShmError::KeyOutOfRange { name: mapping.name().to_owned(), key, capacity: g.capacity });
    }
    let words = g.slot_size() / 8;
    let start = key as usize * words;
    Ok(&mapping.data()[start..start + words])
}

fn check_record(mapping: &Mapping, len: usize) -> ShmResult<()> {
    let size = mapping.geometry().max_message_size as usize;
    if len != size {
        return Err(ShmError::GeometryMismatch {
            name: mapping.name().to_owned(),
            field: "record_size",
            found: size as u64,
            expected: len as u64,
        });
    }
    Ok(())
}

/// The single writer of a slot table.
#[derive(Debug)]
pub struct Writer {
    mapping: Arc<Mapping>,
    me: ProcessToken,
}

impl Writer {
    /// Creates a table of `keys` records of `record_size` bytes and attaches as its writer.
    pub fn create(name: &str, keys: u64, record_size: u32, options: &SegmentOptions) -> ShmResult<Self> {
        let geometry = Geometry {
            kind: SegmentKind::Slots,
            capacity: keys,
            max_message_size: record_size,
            max_readers: 0,
        };
        Self::from_mapping(segment::create(name, geometry, options)?)
    }

    /// Attaches as the writer of an existing table. Fails while another live process is its
    /// writer.
    pub fn attach(name: &str) -> ShmResult<Self> {
        Self::from_mapping(segment::open(name, Access::ReadWrite, SegmentKind::Slots)?)
    }

    fn from_mapping(mapping: Arc<Mapping>) -> ShmResult<Self> {
        let (me, _) = attach_writer(&mapping)?;
        Ok(Self { mapping, me })
    }

    /// Checks the segment has the geometry the caller requires, so a handle never runs against
    /// a segment laid out for other messages.
    pub fn expect(self, expected: &Expected) -> ShmResult<Self> {
        expected.check(&self.mapping)?;
        Ok(self)
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.mapping.name()
    }

    /// Number of keys.
    pub fn keys(&self) -> u64 {
        self.mapping.geometry().capacity
    }

    /// Size of each record in bytes.
    pub fn record_size(&self) -> usize {
        self.mapping.geometry().max_message_size as usize
    }

    /// Replaces the record of `key` (exactly `record_size` bytes).
    #[inline]
    pub fn write(&mut self, key: u64, record: &[u8]) -> ShmResult<()> {
        check_record(&self.mapping, record.len())?;
        seqlock::write(slot_of(&self.mapping, key)?, record);
        let block = self.mapping.writer_block();
        let updates = block.write_seq.load(Ordering::Relaxed);
        block.write_seq.store(updates + 1, Ordering::Release);
        Ok(())
    }

    /// Records a sign of life for supervisors.
    pub fn heartbeat(&self) {
        self.mapping.writer_block().heartbeat_ns.store(monotonic_ns(), Ordering::Relaxed);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        roles::release(&self.mapping.writer_block().writer, self.me.packed());
    }
}

/// What [`Reader::read_unless_busy`] found under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotRead {
    /// A consistent copy, with its version.
    Read(u64),
    /// The key was never written.
    Empty,
    /// The writer was still writing it after `retries` retries: what `out` holds may be torn
    /// and must not be used; read again later.
    Busy {
        /// Retries made.
        retries: u32,
    },
}

/// A reader of a slot table. Any number may read at once, from any process.
#[derive(Debug, Clone)]
pub struct Reader {
    mapping: Arc<Mapping>,
    max_retries: u32,
}

impl Reader {
    /// Opens a table for reading.
    pub fn open(name: &str) -> ShmResult<Self> {
        let mapping = segment::open(name, Access::ReadWrite, SegmentKind::Slots)?;
        Ok(Self { mapping, max_retries: DEFAULT_MAX_RETRIES })
    }

    /// Checks the segment has the geometry the caller requires, so a handle never runs against
    /// a segment laid out for other messages.
    pub fn expect(self, expected: &Expected) -> ShmResult<Self> {
        expected.check(&self.mapping)?;
        Ok(self)
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.mapping.name()
    }

    /// Number of keys.
    pub fn keys(&self) -> u64 {
        self.mapping.geometry().capacity
    }

    /// Size of each record in bytes.
    pub fn record_size(&self) -> usize {
        self.mapping.geometry().max_message_size as usize
    }

    /// When the writer last gave a sign of life ([`Writer::heartbeat`]), `CLOCK_MONOTONIC`
    /// nanoseconds (0 if never): a reader that must fail closed on a dead writer checks it.
    pub fn writer_heartbeat_ns(&self) -> u64 {
        self.mapping.writer_block().heartbeat_ns.load(Ordering::Relaxed)
    }

    /// Sets the bound on retries per read.
    pub fn set_max_retries(&mut self, max_retries: u32) {
        self.max_retries = max_retries;
    }

    /// The version of `key`'s record now, without copying it: 0 if never written, odd while
    /// the writer updates it. A reader that keeps the version it last read learns cheaply
    /// whether there is anything new to read.
    #[inline]
    pub fn version(&self, key: u64) -> ShmResult<u64> {
        Ok(slot_of(&self.mapping, key)?[0].load(Ordering::Acquire))
    }

    /// As [`Reader::read`], but a record its writer is still writing after the retries (the
    /// writer was descheduled mid-write, on a machine with more threads than cores) is
    /// [`SlotRead::Busy`] rather than an error (and allocates nothing): a loop that reads again
    /// on its next turn, and keeps what it read last meanwhile, need not stop for it.
    #[inline]
    pub fn read_unless_busy(&self, key: u64, out: &mut [u8]) -> ShmResult<SlotRead> {
        check_record(&self.mapping, out.len())?;
        let outcome = seqlock::read(slot_of(&self.mapping, key)?, out, self.max_retries);
        let counters = self.mapping.counters();
        Ok(match outcome {
            SeqRead::Stable { version, retries } => {
                if retries > 0 {
                    counters.seqlock_retries.fetch_add(u64::from(retries), Ordering::Relaxed);
                }
                SlotRead::Read(version)
            }
            SeqRead::Empty => SlotRead::Empty,
            SeqRead::Contended { retries } => {
                counters.seqlock_retries.fetch_add(u64::from(retries), Ordering::Relaxed);
                counters.seqlock_failures.fetch_add(1, Ordering::Relaxed);
                SlotRead::Busy { retries }
            }
        })
    }

    /// Copies the record of `key` into `out` (exactly `record_size` bytes). Returns its version
    /// (even, growing with every update), or `None` if it was never written.
    #[inline]
    pub fn read(&self, key: u64, out: &mut [u8]) -> ShmResult<Option<u64>> {
        match self.read_unless_busy(key, out)? {
            SlotRead::Read(version) => Ok(Some(version)),
            SlotRead::Empty => Ok(None),
            SlotRead::Busy { retries } => {
                Err(ShmError::Contended { name: self.name().to_owned(), key, retries })
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_record_left_mid_write_reads_as_busy_and_then_as_the_next_write() {
        let name = format!("/shm_layout-slots-busy-{}", std::process::id());
        let mut writer = Writer::create(&name, 2, 8, &SegmentOptions::default()).unwrap();
        let mut reader = Reader::open(&name).unwrap();
        reader.set_max_retries(3);
        writer.write(1, &7u64.to_le_bytes()).unwrap();
        // The writer descheduled in the middle of its next write: the version is odd.
        let version = &slot_of(&reader.mapping, 1).unwrap()[0];
        version.fetch_add(1, Ordering::AcqRel);
        let mut out = [0u8; 8];
        assert!(matches!(reader.read(1, &mut out), Err(ShmError::Contended { key: 1, retries: 3, .. })));
        assert_eq!(reader.read_unless_busy(1, &mut out).unwrap(), SlotRead::Busy { retries: 3 });
        assert_eq!(reader.read_unless_busy(0, &mut out).unwrap(), SlotRead::Empty);
        version.fetch_add(1, Ordering::AcqRel);
        assert!(matches!(reader.read_unless_busy(1, &mut out).unwrap(), SlotRead::Read(_)));
        assert_eq!(u64::from_le_bytes(out), 7);
        drop((writer, reader));
        segment::unlink(&name).unwrap();
    }
}
