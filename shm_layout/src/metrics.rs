//! Metrics segments: an array of 64-bit cells one writer keeps (counters, gauges, HDR
//! histograms) and anyone reads without disturbing it.
//!
//! What each cell means is the writer's layout (a feed's counters, say); the segment only
//! guarantees its size and that every cell is read and written whole.

use std::sync::Arc;

use crate::error::ShmResult;
use crate::handle::attach_writer;
use crate::layout::{Geometry, SegmentKind, METRIC_CELL};
use crate::process::ProcessToken;
use crate::roles;
use crate::segment::{self, Access, Expected, Mapping, SegmentOptions};
use crate::sync::{AtomicU64, Ordering};
use crate::time::monotonic_ns;

/// The single writer of a metrics segment.
#[derive(Debug)]
pub struct Writer {
    mapping: Arc<Mapping>,
    me: ProcessToken,
}

impl Writer {
    /// Creates a segment of `cells` zeroed cells and attaches as its writer.
    pub fn create(name: &str, cells: u64, options: &SegmentOptions) -> ShmResult<Self> {
        let geometry = Geometry {
            kind: SegmentKind::Metrics,
            capacity: cells,
            max_message_size: METRIC_CELL as u32,
            max_readers: 0,
        };
        Self::from_mapping(segment::create(name, geometry, options)?)
    }

    /// Attaches as the writer of an existing segment, keeping its cells (a restarted process
    /// carries on counting). Fails while another live process is its writer.
    pub fn attach(name: &str) -> ShmResult<Self> {
        Self::from_mapping(segment::open(name, Access::ReadWrite, SegmentKind::Metrics)?)
    }

    fn from_mapping(mapping: Arc<Mapping>) -> ShmResult<Self> {
        let (me, _) = attach_writer(&mapping)?;
        Ok(Self { mapping, me })
    }

    /// Checks the segment has `expected.capacity` cells, so a writer never runs against a
    /// segment laid out for other metrics.
    pub fn expect(self, expected: &Expected) -> ShmResult<Self> {
        expected.check(&self.mapping)?;
        Ok(self)
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.mapping.name()
    }

    /// The cells. Only this writer stores to them.
    pub fn cells(&self) -> &[AtomicU64] {
        self.mapping.data()
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

/// A read-only view of a metrics segment.
#[derive(Debug, Clone)]
pub struct Reader {
    mapping: Arc<Mapping>,
}

impl Reader {
    /// Opens a metrics segment read-only.
    pub fn open(name: &str) -> ShmResult<Self> {
        Ok(Self { mapping: segment::open(name, Access::ReadOnly, SegmentKind::Metrics)? })
    }

    /// Checks the segment has the number of cells the caller's layout expects.
    pub fn expect(self, expected: &Expected) -> ShmResult<Self> {
        expected.check(&self.mapping)?;
        Ok(self)
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.mapping.name()
    }

    /// The cells, to load from.
    pub fn cells(&self) -> &[AtomicU64] {
        self.mapping.data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShmError;

    fn name(tag: &str) -> String {
        format!("/shm_layout-metrics-{tag}-{}", std::process::id())
    }

    #[test]
    fn a_reader_sees_what_the_writer_stores_and_a_restarted_writer_keeps_counting() {
        let name = name("restart");
        let writer = Writer::create(&name, 5, &SegmentOptions::default()).unwrap();
        writer.cells()[3].store(41, Ordering::Relaxed);
        drop(writer);
        let writer = Writer::attach(&name).unwrap();
        let reader = Reader::open(&name).unwrap();
        assert_eq!(reader.cells().len(), 5);
        writer.cells()[3].fetch_add(1, Ordering::Relaxed);
        assert_eq!(reader.cells()[3].load(Ordering::Relaxed), 42);
        crate::unlink(&name).unwrap();
    }

    #[test]
    fn a_second_writer_and_a_wrong_layout_are_refused_by_name() {
        let name = name("refuse");
        let _writer = Writer::create(&name, 5, &SegmentOptions::default()).unwrap();
        assert!(matches!(Writer::attach(&name), Err(ShmError::WriterActive { .. })));
        let expected = Expected { capacity: Some(6), ..Expected::default() };
        let err = Reader::open(&name).unwrap().expect(&expected).unwrap_err();
        assert!(err.to_string().contains(&name), "{err}");
        assert!(matches!(crate::slots::Reader::open(&name), Err(ShmError::KindMismatch { .. })));
        crate::unlink(&name).unwrap();
    }
}
