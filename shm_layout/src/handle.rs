//! What the handles of every structure share: the ring view of a mapping, claiming the
//! writer's role, and the checks of a caller's message or buffer against the segment.

use crate::error::{ShmError, ShmResult};
use crate::layout::SegmentKind;
use crate::process::ProcessToken;
use crate::ring::Ring;
use crate::segment::Mapping;
use crate::sync::Ordering;
use crate::time::monotonic_ns;
use crate::wait::Signal;
use crate::{roles, RingGeometry};

/// Builds the ring view of a validated ring or queue mapping.
pub(crate) fn ring_of(mapping: &Mapping) -> Ring<'_> {
    let g = mapping.geometry();
    Ring::new(mapping.data(), g.slot_size() / 8, g.capacity, g.max_message_size as usize)
}

/// The geometry of a validated ring or queue mapping, as users give it.
pub(crate) fn ring_geometry(mapping: &Mapping) -> RingGeometry {
    let g = mapping.geometry();
    RingGeometry { capacity: g.capacity, max_message_size: g.max_message_size, max_readers: g.max_readers }
}

/// Claims the writer's role of `mapping`, resuming its sequence. A message the previous
/// writer completed but died before committing is kept (a reader may already have seen it);
/// a half-written one is rewritten by the next publish.
pub(crate) fn attach_writer(mapping: &Mapping) -> ShmResult<(ProcessToken, u64)> {
    let me = ProcessToken::current();
    let block = mapping.writer_block();
    roles::claim(&block.writer, me.packed())
        .map_err(|pid| ShmError::WriterActive { name: mapping.name().to_owned(), pid })?;
    let mut next_seq = block.write_seq.load(Ordering::Acquire);
    let is_ring = matches!(mapping.geometry().kind, SegmentKind::Broadcast | SegmentKind::Queue);
    if is_ring && ring_of(mapping).is_published(next_seq) {
        next_seq += 1;
    }
    block.write_seq.store(next_seq, Ordering::SeqCst);
    block.writer_attaches.fetch_add(1, Ordering::Relaxed);
    block.heartbeat_ns.store(monotonic_ns(), Ordering::Relaxed);
    Ok((me, next_seq))
}

/// The signal sleepers on a segment's writer sequence wait on.
pub(crate) fn writer_signal(mapping: &Mapping) -> Signal<'_> {
    let block = mapping.writer_block();
    Signal { word: &block.write_seq, waiters: &block.waiters }
}

/// Checks `msg` fits a slot of `mapping`.
pub(crate) fn check_len(mapping: &Mapping, len: usize) -> ShmResult<()> {
    let max = mapping.geometry().max_message_size as usize;
    if len > max {
        return Err(ShmError::MessageTooLarge { name: mapping.name().to_owned(), len, max });
    }
    Ok(())
}

/// Checks a batch of `len` bytes holds whole `record_size`-byte records that fit a slot.
pub(crate) fn check_batch(mapping: &Mapping, len: usize, record_size: usize) -> ShmResult<()> {
    check_len(mapping, record_size)?;
    if record_size == 0 || len % record_size != 0 {
        return Err(ShmError::BadBatch { name: mapping.name().to_owned(), len, record_size });
    }
    Ok(())
}

/// Checks a batch buffer of `len` bytes splits into whole `record_size`-byte records that can
/// each take any message of `mapping`.
pub(crate) fn check_read_batch(mapping: &Mapping, len: usize, record_size: usize) -> ShmResult<()> {
    check_buffer(mapping, record_size)?;
    if len % record_size != 0 {
        return Err(ShmError::BadBatch { name: mapping.name().to_owned(), len, record_size });
    }
    Ok(())
}

/// Checks a caller's buffer can take any message of `mapping`.
pub(crate) fn check_buffer(mapping: &Mapping, len: usize) -> ShmResult<()> {
    let needed = mapping.geometry().max_message_size as usize;
    if len < needed {
        return Err(ShmError::BufferTooSmall { name: mapping.name().to_owned(), len, needed });
    }
    Ok(())
}
