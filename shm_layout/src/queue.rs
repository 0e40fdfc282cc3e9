//! The queue: one writer, one reader, back-pressure; for orders and execution reports.
//!
//! The writer sees "full" (and counts a back-pressure event) instead of overwriting; nothing is
//! lost or duplicated. The reader's cursor lives in the segment, so a reader that restarts
//! (after a crash, say) resumes exactly where the last one stopped, and a writer that restarts
//! continues the sequence. The slot format is the broadcast ring's, so every message is also
//! checked against its slot's stamp.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ShmError, ShmResult};
use crate::handle::{
    attach_writer, check_batch, check_buffer, check_len, check_read_batch, ring_geometry, ring_of,
    writer_signal,
};
use crate::layout::{Geometry, ReaderBlock, SegmentKind};
use crate::process::ProcessToken;
use crate::ring::SlotRead;
use crate::segment::{self, Access, Expected, Mapping, SegmentOptions};
use crate::sync::Ordering;
use crate::time::monotonic_ns;
use crate::wait::{wait_until, Signal, WakeFence};
use crate::{roles, Received, RingGeometry, WaitStrategy};

fn reader_block(mapping: &Mapping) -> &ReaderBlock {
    &mapping.readers()[0]
}

/// The signal a writer waiting for space sleeps on: the reader's cursor.
fn space_signal(mapping: &Mapping) -> Signal<'_> {
    let block = reader_block(mapping);
    Signal { word: &block.cursor, waiters: &block.space_waiters }
}

/// The single writer of a queue.
#[derive(Debug)]
pub struct Writer {
    mapping: Arc<Mapping>,
    me: ProcessToken,
    next_seq: u64,
    cached_read: u64,
    wait: WaitStrategy,
    fence: WakeFence,
}

impl Writer {
    /// Creates the queue's segment (`capacity` a power of two) and attaches as its writer.
    pub fn create(
        name: &str,
        capacity: u64,
        max_message_size: u32,
        options: &SegmentOptions,
    ) -> ShmResult<Self> {
        let geometry = Geometry { kind: SegmentKind::Queue, capacity, max_message_size, max_readers: 1 };
        Self::from_mapping(segment::create(name, geometry, options)?)
    }

    /// Attaches as the writer of an existing queue, continuing its sequence. Fails while another
    /// live process is its writer.
    pub fn attach(name: &str) -> ShmResult<Self> {
        Self::from_mapping(segment::open(name, Access::ReadWrite, SegmentKind::Queue)?)
    }

    fn from_mapping(mapping: Arc<Mapping>) -> ShmResult<Self> {
        let (me, next_seq) = attach_writer(&mapping)?;
        let cached_read = reader_block(&mapping).cursor.load(Ordering::Acquire);
        Ok(Self {
            mapping,
            me,
            next_seq,
            cached_read,
            wait: WaitStrategy::default(),
            fence: WakeFence::for_this_process(),
        })
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

    /// The queue's geometry.
    pub fn geometry(&self) -> RingGeometry {
        ring_geometry(&self.mapping)
    }

    /// The sequence the next message will get (= messages pushed so far).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Sets the strategy [`Writer::wait_for_space`] uses.
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    /// Pushes one message, or returns `false` (and counts a back-pressure event) when full.
    #[inline]
    pub fn try_push(&mut self, msg: &[u8]) -> ShmResult<bool> {
        check_len(&self.mapping, msg.len())?;
        let pushed = {
            let read_cursor = &reader_block(&self.mapping).cursor;
            ring_of(&self.mapping).try_push(self.next_seq, read_cursor, &mut self.cached_read, msg)
        };
        if !pushed {
            self.count_backpressure();
            return Ok(false);
        }
        self.commit(self.next_seq + 1);
        Ok(true)
    }

    /// Pushes as many of the fixed-size records in `records` as there is room for, making them
    /// visible together; returns how many. A partial push counts one back-pressure event.
    pub fn push_records(&mut self, records: &[u8], record_size: usize) -> ShmResult<usize> {
        check_batch(&self.mapping, records.len(), record_size)?;
        let ring = ring_of(&self.mapping);
        let read_cursor = &reader_block(&self.mapping).cursor;
        let mut pushed = 0;
        for record in records.chunks_exact(record_size) {
            if !ring.try_push(self.next_seq + pushed as u64, read_cursor, &mut self.cached_read, record) {
                break;
            }
            pushed += 1;
        }
        if pushed * record_size < records.len() {
            self.count_backpressure();
        }
        if pushed > 0 {
            self.commit(self.next_seq + pushed as u64);
        }
        Ok(pushed)
    }

    fn count_backpressure(&self) {
        let block = self.mapping.writer_block();
        let events = block.backpressure_events.load(Ordering::Relaxed);
        block.backpressure_events.store(events + 1, Ordering::Relaxed);
    }

    #[inline]
    fn commit(&mut self, next_seq: u64) {
        self.next_seq = next_seq;
        writer_signal(&self.mapping).advance(next_seq, self.fence);
    }

    /// Whether there is room for one more message.
    pub fn has_space(&self) -> bool {
        let read = reader_block(&self.mapping).cursor.load(Ordering::SeqCst);
        self.next_seq - read < self.mapping.geometry().capacity
    }

    /// Waits until there is room for a message or `timeout` passes; returns whether there is.
    pub fn wait_for_space(&self, timeout: Duration) -> bool {
        wait_until(self.wait, space_signal(&self.mapping), timeout, || self.has_space())
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

/// The single reader of a queue. Its cursor is the segment's, so it resumes where the
/// previous reader stopped.
#[derive(Debug)]
pub struct Reader {
    mapping: Arc<Mapping>,
    me: ProcessToken,
    cursor: u64,
    consumed: u64,
    wait: WaitStrategy,
    fence: WakeFence,
}

impl Reader {
    /// Attaches as the queue's reader at the cursor the last reader left. Fails while another
    /// live process is its reader.
    pub fn attach(name: &str) -> ShmResult<Self> {
        let mapping = segment::open(name, Access::ReadWrite, SegmentKind::Queue)?;
        let me = ProcessToken::current();
        let block = reader_block(&mapping);
        roles::claim(&block.owner, me.packed()).map_err(|pid| ShmError::ReaderActive {
            name: mapping.name().to_owned(),
            index: 0,
            pid,
        })?;
        let cursor = block.cursor.load(Ordering::Acquire);
        let consumed = block.consumed.load(Ordering::Relaxed);
        Ok(Self {
            mapping,
            me,
            cursor,
            consumed,
            wait: WaitStrategy::default(),
            fence: WakeFence::for_this_process(),
        })
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

    /// The queue's geometry.
    pub fn geometry(&self) -> RingGeometry {
        ring_geometry(&self.mapping)
    }

    /// The next sequence this reader will read.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Sets the strategy [`Reader::wait`] uses.
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    fn corrupt(&self, seq: u64) -> ShmError {
        ShmError::Corrupt {
            name: self.name().to_owned(),
            detail: format!("queue slot of message {seq} was overwritten before it was read"),
        }
    }

    /// Pops the next message into `out` (at least `max_message_size` bytes), without waiting:
    /// [`Received::Message`] or [`Received::Empty`], never a loss.
    #[inline]
    pub fn try_pop(&mut self, out: &mut [u8]) -> ShmResult<Received> {
        check_buffer(&self.mapping, out.len())?;
        let seq = self.cursor;
        match ring_of(&self.mapping).read(seq, out) {
            SlotRead::Ready(len) => {
                self.advance(seq + 1);
                Ok(Received::Message { seq, len })
            }
            SlotRead::NotYet => Ok(Received::Empty),
            SlotRead::Overwritten => Err(self.corrupt(seq)),
        }
    }

    /// The next message, viewed in place without a copy, or `None` if the queue is empty. The
    /// slot stays the reader's (the writer cannot reuse it) until [`Reader::consume`]; peeking
    /// again returns the same message.
    pub fn peek(&self) -> Option<Peeked> {
        let (word, len) = ring_of(&self.mapping).locate(self.cursor)?;
        Some(Peeked { mapping: Arc::clone(&self.mapping), word, len, seq: self.cursor })
    }

    /// Frees the slot of the message [`Reader::peek`] returned and moves on to the next one.
    /// Returns `false` if there was nothing to consume.
    pub fn consume(&mut self) -> bool {
        if ring_of(&self.mapping).locate(self.cursor).is_none() {
            return false;
        }
        self.advance(self.cursor + 1);
        true
    }

    /// Pops up to `out.len() / record_size` messages into consecutive records of `out`
    /// (zero-padding shorter ones) and frees their slots together; returns how many.
    pub fn pop_records(&mut self, out: &mut [u8], record_size: usize) -> ShmResult<usize> {
        check_read_batch(&self.mapping, out.len(), record_size)?;
        let ring = ring_of(&self.mapping);
        let mut popped = 0;
        for record in out.chunks_exact_mut(record_size) {
            let seq = self.cursor + popped as u64;
            match ring.read(seq, record) {
                SlotRead::Ready(len) => record[len..].fill(0),
                SlotRead::NotYet => break,
                SlotRead::Overwritten => return Err(self.corrupt(seq)),
            }
            popped += 1;
        }
        if popped > 0 {
            self.advance(self.cursor + popped as u64);
        }
        Ok(popped)
    }

    #[inline]
    fn advance(&mut self, cursor: u64) {
        self.consumed += cursor - self.cursor;
        self.cursor = cursor;
        let block = reader_block(&self.mapping);
        block.consumed.store(self.consumed, Ordering::Relaxed);
        space_signal(&self.mapping).advance(cursor, self.fence);
    }

    /// Whether a message is waiting.
    pub fn has_pending(&self) -> bool {
        self.mapping.writer_block().write_seq.load(Ordering::SeqCst) > self.cursor
    }

    /// Waits until a message is waiting or `timeout` passes; returns whether one is.
    pub fn wait(&self, timeout: Duration) -> bool {
        wait_until(self.wait, writer_signal(&self.mapping), timeout, || self.has_pending())
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        roles::release(&reader_block(&self.mapping).owner, self.me.packed());
    }
}

/// A queue message seen in place, in the segment, without a copy.
///
/// It keeps the segment mapped while it lives, so its address never dangles. Its bytes are the
/// message's until the reader [consumes](Reader::consume) it; after that the writer may reuse
/// the slot, so whoever holds the address must be done with it first.
#[derive(Debug, Clone)]
pub struct Peeked {
    mapping: Arc<Mapping>,
    word: usize,
    len: usize,
    seq: u64,
}

impl Peeked {
    /// The message's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address of its first byte, valid while this value lives.
    pub fn as_ptr(&self) -> *const u8 {
        self.mapping.data()[self.word..].as_ptr().cast::<u8>()
    }
}
