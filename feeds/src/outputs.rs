//! The shared-memory segments a feed process writes: its venue's event ring, its book slots
//! and its metrics, created together under one name prefix.

use shm_layout::records::{MarketEvent, TopOfBook, BOOK_DEPTH};
use shm_layout::{broadcast, slots, RingGeometry, SegmentOptions, ShmError, ShmResult};

use crate::metrics::FeedMetrics;
use crate::publish::BookPublisher;

/// The names and sizes of one feed's segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedOutputs {
    /// The broadcast ring of [`MarketEvent`]s.
    pub events: String,
    /// The seqlock slots of [`TopOfBook`]s, keyed by instrument id.
    pub books: String,
    /// The feed's counters and latency histogram.
    pub metrics: String,
    /// Slots in the event ring (a power of two).
    pub ring_capacity: u64,
    /// Reader cursors in the event ring.
    pub ring_readers: u32,
    /// Keys in the book table: instrument ids must be below this.
    pub instrument_slots: u64,
    /// Levels per side written to the book slots.
    pub levels: usize,
}

impl FeedOutputs {
    /// `{prefix}.events`, `{prefix}.books` and `{prefix}.metrics`, with a 64 Ki-event ring for
    /// 8 readers, 1024 instrument slots and [`BOOK_DEPTH`] levels.
    pub fn named(prefix: &str) -> Self {
        Self {
            events: format!("{prefix}.events"),
            books: format!("{prefix}.books"),
            metrics: format!("{prefix}.metrics"),
            ring_capacity: 1 << 16,
            ring_readers: 8,
            instrument_slots: 1024,
            levels: BOOK_DEPTH,
        }
    }

    /// Creates the three segments; returns the book publisher and the metrics writer. If one
    /// cannot be created, those this call created are unlinked again (never one that already
    /// existed), so a refused configuration leaves nothing behind.
    pub fn create(&self, options: &SegmentOptions) -> ShmResult<(BookPublisher, FeedMetrics)> {
        if self.levels == 0 || self.levels > BOOK_DEPTH {
            let detail = format!("{} levels: 1 to {BOOK_DEPTH} are written", self.levels);
            return Err(ShmError::InvalidConfig { name: self.books.clone(), detail });
        }
        let mut created = Vec::new();
        let outcome = self.create_each(options, &mut created);
        if outcome.is_err() {
            for name in created {
                let _ = shm_layout::unlink(name);
            }
        }
        outcome
    }

    fn create_each<'s>(
        &'s self,
        options: &SegmentOptions,
        created: &mut Vec<&'s str>,
    ) -> ShmResult<(BookPublisher, FeedMetrics)> {
        let geometry = RingGeometry {
            capacity: self.ring_capacity,
            max_message_size: std::mem::size_of::<MarketEvent>() as u32,
            max_readers: self.ring_readers,
        };
        let ring = broadcast::Writer::create(&self.events, geometry, options)?;
        created.push(&self.events);
        let record = std::mem::size_of::<TopOfBook>() as u32;
        let books = slots::Writer::create(&self.books, self.instrument_slots, record, options)?;
        created.push(&self.books);
        let publisher = BookPublisher::new(ring, books, self.levels)?;
        let metrics = FeedMetrics::create(&self.metrics, options)?;
        Ok((publisher, metrics))
    }

    /// Unlinks the three segments, ignoring any already gone.
    pub fn unlink(&self) {
        for name in [&self.events, &self.books, &self.metrics] {
            let _ = shm_layout::unlink(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feeds_segments_are_created_under_its_prefix_and_refused_twice() {
        let outputs = FeedOutputs::named(&format!("/feeds-outputs-{}", std::process::id()));
        let created = outputs.create(&SegmentOptions::default()).unwrap();
        assert!(shm_layout::list_segments(&outputs.books).unwrap().contains(&outputs.books));
        let again = outputs.create(&SegmentOptions::default());
        assert!(matches!(again, Err(shm_layout::ShmError::AlreadyExists { .. })));
        drop(created);
        outputs.unlink();
    }

    #[test]
    fn a_refused_configuration_leaves_no_segment_behind_and_never_removes_another_feeds() {
        let outputs = FeedOutputs::named(&format!("/feeds-outputs-refused-{}", std::process::id()));
        let too_deep = FeedOutputs { levels: BOOK_DEPTH + 1, ..outputs.clone() };
        let err = too_deep.create(&SegmentOptions::default()).unwrap_err();
        assert!(err.to_string().contains("1 to 10 are written"), "{err}");
        // Another feed's metrics segment is in the way: the ring and slots created are removed,
        // the segment that was there stays.
        let theirs = FeedMetrics::create(&outputs.metrics, &SegmentOptions::default()).unwrap();
        assert!(matches!(outputs.create(&SegmentOptions::default()), Err(ShmError::AlreadyExists { .. })));
        for name in [&outputs.events, &outputs.books] {
            assert!(shm_layout::list_segments(name).unwrap().is_empty(), "{name} was removed");
        }
        assert_eq!(
            shm_layout::list_segments(&outputs.metrics).unwrap(),
            std::slice::from_ref(&outputs.metrics)
        );
        drop(theirs);
        outputs.unlink();
    }
}
