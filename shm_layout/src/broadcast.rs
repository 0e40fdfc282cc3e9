//! The broadcast ring: one writer, many readers, for market data.
//!
//! The writer never waits for readers and never reads their cursors. Each reader holds one
//! cursor in the segment's reader table; a reader lapped by the writer gets
//! [`Received::Lost`] with the exact count, resumes at the oldest message still in the ring,
//! and the loss is counted in its cursor block. Messages are variable-length, up to the
//! segment's `max_message_size`, one per fixed-size slot.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ShmError, ShmResult};
use crate::handle::{
    attach_writer, check_batch, check_buffer, check_len, check_read_batch, ring_geometry, ring_of,
    writer_signal,
};
use crate::layout::{Geometry, ReaderBlock, SegmentKind};
use crate::process::ProcessToken;
use crate::segment::{self, Access, Expected, Mapping, SegmentOptions};
use crate::sync::Ordering;
use crate::time::monotonic_ns;
use crate::wait::{wait_until, WakeFence};
use crate::{roles, Received, RingGeometry, WaitStrategy};

/// The writer refreshes its heartbeat once per this many single publishes (and on every batch).
const HEARTBEAT_EVERY: u64 = 1024;

/// The single writer of a broadcast ring.
#[derive(Debug)]
pub struct Writer {
    mapping: Arc<Mapping>,
    me: ProcessToken,
    next_seq: u64,
    fence: WakeFence,
}

impl Writer {
    /// Creates the ring's segment and attaches as its writer.
    pub fn create(name: &str, geometry: RingGeometry, options: &SegmentOptions) -> ShmResult<Self> {
        let geometry = Geometry {
            kind: SegmentKind::Broadcast,
            capacity: geometry.capacity,
            max_message_size: geometry.max_message_size,
            max_readers: geometry.max_readers,
        };
        Self::from_mapping(segment::create(name, geometry, options)?)
    }

    /// Attaches as the writer of an existing ring, continuing its sequence. Fails while
    /// another live process is its writer; a dead writer's role is taken over.
    pub fn attach(name: &str) -> ShmResult<Self> {
        Self::from_mapping(segment::open(name, Access::ReadWrite, SegmentKind::Broadcast)?)
    }

    fn from_mapping(mapping: Arc<Mapping>) -> ShmResult<Self> {
        let (me, next_seq) = attach_writer(&mapping)?;
        Ok(Self { mapping, me, next_seq, fence: WakeFence::for_this_process() })
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

    /// The ring's geometry.
    pub fn geometry(&self) -> RingGeometry {
        ring_geometry(&self.mapping)
    }

    /// The sequence the next message will get (= messages published so far).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Publishes one message and returns its sequence. Never waits.
    #[inline]
    pub fn publish(&mut self, msg: &[u8]) -> ShmResult<u64> {
        check_len(&self.mapping, msg.len())?;
        let seq = self.next_seq;
        ring_of(&self.mapping).write(seq, msg);
        self.commit(seq + 1);
        if seq % HEARTBEAT_EVERY == 0 {
            self.heartbeat();
        }
        Ok(seq)
    }

    /// Publishes `records.len() / record_size` fixed-size records from one contiguous buffer
    /// (a numpy array's bytes, say), making them visible together. Returns how many.
    pub fn publish_records(&mut self, records: &[u8], record_size: usize) -> ShmResult<u64> {
        check_batch(&self.mapping, records.len(), record_size)?;
        let ring = ring_of(&self.mapping);
        let start = self.next_seq;
        for (i, record) in records.chunks_exact(record_size).enumerate() {
            ring.write(start + i as u64, record);
        }
        let count = (records.len() / record_size) as u64;
        self.commit(start + count);
        self.heartbeat();
        Ok(count)
    }

    #[inline]
    fn commit(&mut self, next_seq: u64) {
        self.next_seq = next_seq;
        writer_signal(&self.mapping).advance(next_seq, self.fence);
    }

    /// Records a sign of life for supervisors (publishing does this too, now and then).
    pub fn heartbeat(&self) {
        self.mapping.writer_block().heartbeat_ns.store(monotonic_ns(), Ordering::Relaxed);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        roles::release(&self.mapping.writer_block().writer, self.me.packed());
    }
}

/// Where a newly attached reader starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// At the oldest message still in the ring.
    Oldest,
    /// At the next message to be published.
    Latest,
}

/// One reader of a broadcast ring, holding one cursor of the segment's reader table.
#[derive(Debug)]
pub struct Reader {
    mapping: Arc<Mapping>,
    me: ProcessToken,
    index: u32,
    cursor: u64,
    consumed: u64,
    lost: u64,
    overruns: u64,
    wait: WaitStrategy,
}

impl Reader {
    /// Attaches a new reader on the first free cursor (or one whose holder died).
    pub fn attach(name: &str, start: StartAt) -> ShmResult<Self> {
        let mapping = segment::open(name, Access::ReadWrite, SegmentKind::Broadcast)?;
        let me = ProcessToken::current();
        let index = (0..mapping.geometry().max_readers)
            .find(|&i| roles::claim(&mapping.readers()[i as usize].owner, me.packed()).is_ok())
            .ok_or_else(|| ShmError::NoFreeReader {
                name: mapping.name().to_owned(),
                max_readers: mapping.geometry().max_readers,
            })?;
        let write_seq = mapping.writer_block().write_seq.load(Ordering::Acquire);
        let cursor = match start {
            StartAt::Latest => write_seq,
            StartAt::Oldest => write_seq.saturating_sub(mapping.geometry().capacity),
        };
        let block = &mapping.readers()[index as usize];
        for counter in [&block.consumed, &block.lost, &block.overruns] {
            counter.store(0, Ordering::Relaxed);
        }
        block.cursor.store(cursor, Ordering::Release);
        Ok(Self::new(mapping, me, index, cursor))
    }

    /// Resumes the cursor `index`, left by a reader that stopped or died, where it stopped.
    pub fn resume(name: &str, index: u32) -> ShmResult<Self> {
        let mapping = segment::open(name, Access::ReadWrite, SegmentKind::Broadcast)?;
        let max_readers = mapping.geometry().max_readers;
        let block = mapping.readers().get(index as usize).ok_or_else(|| ShmError::ReaderOutOfRange {
            name: mapping.name().to_owned(),
            index,
            max_readers,
        })?;
        let me = ProcessToken::current();
        roles::claim(&block.owner, me.packed()).map_err(|pid| ShmError::ReaderActive {
            name: mapping.name().to_owned(),
            index,
            pid,
        })?;
        let cursor = block.cursor.load(Ordering::Acquire);
        let mut reader = Self::new(Arc::clone(&mapping), me, index, cursor);
        reader.consumed = block.consumed.load(Ordering::Relaxed);
        reader.lost = block.lost.load(Ordering::Relaxed);
        reader.overruns = block.overruns.load(Ordering::Relaxed);
        Ok(reader)
    }

    fn new(mapping: Arc<Mapping>, me: ProcessToken, index: u32, cursor: u64) -> Self {
        Self { mapping, me, index, cursor, consumed: 0, lost: 0, overruns: 0, wait: WaitStrategy::default() }
    }

    fn block(&self) -> &ReaderBlock {
        &self.mapping.readers()[self.index as usize]
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

    /// The ring's geometry.
    pub fn geometry(&self) -> RingGeometry {
        ring_geometry(&self.mapping)
    }

    /// This reader's cursor index in the segment (give it to [`Reader::resume`]).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The next sequence this reader will read.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Messages read so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Messages lost to laps so far.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The wait strategy [`Reader::wait`] uses.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// Sets the wait strategy [`Reader::wait`] uses.
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    /// Reads the next message into `out` (at least `max_message_size` bytes), without waiting.
    #[inline]
    pub fn try_read(&mut self, out: &mut [u8]) -> ShmResult<Received> {
        check_buffer(&self.mapping, out.len())?;
        let received = {
            let write_seq = &self.mapping.writer_block().write_seq;
            ring_of(&self.mapping).read_next(write_seq, &mut self.cursor, out)
        };
        match received {
            Received::Message { .. } => self.consumed += 1,
            Received::Lost { count } => self.record_loss(count),
            Received::Empty => return Ok(received),
        }
        self.publish_cursor();
        Ok(received)
    }

    /// Reads up to `out.len() / record_size` messages of at most `record_size` bytes into
    /// consecutive records of `out` (zero-padding shorter ones), skipping over laps. Returns the
    /// number of records filled and the number of messages lost meanwhile.
    pub fn read_records(&mut self, out: &mut [u8], record_size: usize) -> ShmResult<(usize, u64)> {
        check_read_batch(&self.mapping, out.len(), record_size)?;
        let ring = ring_of(&self.mapping);
        let write_seq = &self.mapping.writer_block().write_seq;
        let (mut filled, mut lost) = (0, 0);
        for record in out.chunks_exact_mut(record_size) {
            // A lap costs one step; a batch can meet at most a few before it catches up.
            let received = loop {
                match ring.read_next(write_seq, &mut self.cursor, record) {
                    Received::Lost { count } => lost += count,
                    other => break other,
                }
            };
            match received {
                Received::Message { len, .. } => {
                    record[len..].fill(0);
                    filled += 1;
                }
                _ => break,
            }
        }
        self.consumed += filled as u64;
        if lost > 0 {
            self.record_loss(lost);
        }
        self.publish_cursor();
        Ok((filled, lost))
    }

    fn record_loss(&mut self, count: u64) {
        self.lost += count;
        self.overruns += 1;
        let block = self.block();
        block.lost.store(self.lost, Ordering::Relaxed);
        block.overruns.store(self.overruns, Ordering::Relaxed);
    }

    #[inline]
    fn publish_cursor(&self) {
        let block = self.block();
        block.consumed.store(self.consumed, Ordering::Relaxed);
        block.cursor.store(self.cursor, Ordering::Release);
    }

    /// Whether the writer has published past this reader's cursor.
    pub fn has_pending(&self) -> bool {
        self.mapping.writer_block().write_seq.load(Ordering::SeqCst) > self.cursor
    }

    /// Waits with this reader's strategy until a message (or a lap) is pending or `timeout`
    /// passes; returns whether one is.
    pub fn wait(&self, timeout: Duration) -> bool {
        wait_until(self.wait, writer_signal(&self.mapping), timeout, || self.has_pending())
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        roles::release(&self.block().owner, self.me.packed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::writing_stamp;

    fn ring_name(test: &str) -> String {
        format!("/shm_layout-unit-{test}-{}", std::process::id())
    }

    fn geometry() -> RingGeometry {
        RingGeometry { capacity: 8, max_message_size: 16, max_readers: 2 }
    }

    /// What a writer killed between marking slot `seq` busy and finishing it leaves behind.
    fn half_write(writer: &Writer, seq: u64) {
        let g = writer.mapping.geometry();
        let slot = (seq % g.capacity) as usize * g.slot_size() / 8;
        let data = writer.mapping.data();
        data[slot].store(writing_stamp(seq), Ordering::Relaxed);
        data[slot + 1].store(16, Ordering::Relaxed);
        data[slot + 2].store(u64::MAX, Ordering::Relaxed);
    }

    #[test]
    fn a_new_writer_rewrites_the_slot_a_dead_writer_left_half_written() {
        let name = ring_name("half");
        let mut writer = Writer::create(&name, geometry(), &SegmentOptions::default()).unwrap();
        let mut reader = Reader::attach(&name, StartAt::Latest).unwrap();
        for i in 0..3u8 {
            writer.publish(&[i; 16]).unwrap();
        }
        half_write(&writer, 3);
        drop(writer);
        let mut buf = [0u8; 16];
        for seq in 0..3 {
            assert_eq!(reader.try_read(&mut buf).unwrap(), Received::Message { seq, len: 16 });
        }
        assert_eq!(reader.try_read(&mut buf).unwrap(), Received::Empty, "a half-written slot is never read");
        let mut heir = Writer::attach(&name).unwrap();
        assert_eq!(heir.next_seq(), 3);
        heir.publish(b"whole").unwrap();
        assert_eq!(reader.try_read(&mut buf).unwrap(), Received::Message { seq: 3, len: 5 });
        assert_eq!(&buf[..5], b"whole");
        crate::unlink(&name).unwrap();
    }

    #[test]
    fn a_new_writer_keeps_a_message_the_dead_writer_finished_but_did_not_commit() {
        let name = ring_name("uncommitted");
        let mut writer = Writer::create(&name, geometry(), &SegmentOptions::default()).unwrap();
        let mut reader = Reader::attach(&name, StartAt::Latest).unwrap();
        writer.publish(b"zero").unwrap();
        ring_of(&writer.mapping).write(1, b"one");
        drop(writer);
        let mut buf = [0u8; 16];
        assert_eq!(reader.try_read(&mut buf).unwrap(), Received::Message { seq: 0, len: 4 });
        assert_eq!(reader.try_read(&mut buf).unwrap(), Received::Message { seq: 1, len: 3 });
        let mut heir = Writer::attach(&name).unwrap();
        assert_eq!(heir.next_seq(), 2, "message 1 was complete: it keeps its sequence");
        heir.publish(b"two").unwrap();
        assert_eq!(reader.try_read(&mut buf).unwrap(), Received::Message { seq: 2, len: 3 });
        crate::unlink(&name).unwrap();
    }

    #[test]
    fn a_resumed_reader_continues_from_the_cursor_left_in_the_segment() {
        let name = ring_name("resume");
        let mut writer = Writer::create(&name, geometry(), &SegmentOptions::default()).unwrap();
        let mut first = Reader::attach(&name, StartAt::Latest).unwrap();
        for i in 0..4u8 {
            writer.publish(&[i]).unwrap();
        }
        let mut buf = [0u8; 16];
        first.try_read(&mut buf).unwrap();
        let index = first.index();
        assert!(matches!(Reader::resume(&name, index), Err(ShmError::ReaderActive { .. })));
        drop(first);
        let mut heir = Reader::resume(&name, index).unwrap();
        assert_eq!((heir.cursor(), heir.consumed()), (1, 1));
        assert_eq!(heir.try_read(&mut buf).unwrap(), Received::Message { seq: 1, len: 1 });
        crate::unlink(&name).unwrap();
    }

    #[test]
    fn a_sleeping_reader_is_woken_for_every_message_and_never_waits_out_its_timeout() {
        let name = ring_name("wake");
        let geometry = RingGeometry { capacity: 4096, max_message_size: 8, max_readers: 1 };
        let mut writer = Writer::create(&name, geometry, &SegmentOptions::default()).unwrap();
        let mut reader = Reader::attach(&name, StartAt::Latest).unwrap();
        reader.set_wait_strategy(WaitStrategy::Futex);
        const MESSAGES: u64 = 2000;
        let publisher = std::thread::spawn(move || {
            for i in 0..MESSAGES {
                if i % 3 == 0 {
                    std::thread::sleep(Duration::from_micros(i % 50));
                }
                writer.publish(&i.to_le_bytes()).unwrap();
            }
        });
        let mut buf = [0u8; 8];
        let mut slowest = Duration::ZERO;
        let mut seen = 0;
        while seen < MESSAGES {
            let start = std::time::Instant::now();
            assert!(reader.wait(Duration::from_secs(10)), "message {seen} never came");
            slowest = slowest.max(start.elapsed());
            while let Received::Message { .. } = reader.try_read(&mut buf).unwrap() {
                seen += 1;
            }
        }
        publisher.join().unwrap();
        assert!(slowest < Duration::from_secs(2), "a wake-up was lost: one wait took {slowest:?}");
        crate::unlink(&name).unwrap();
    }
}
