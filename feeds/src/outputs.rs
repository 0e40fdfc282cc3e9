//! The shared-memory segments a feed process writes: its venue's event ring, its book slots
//! and its metrics, created together under one name prefix.

use shm_layout::records::{Layout, MarketEvent, TopOfBook, BOOK_DEPTH, FLAG_STALE};
use shm_layout::{broadcast, slots, Expected, RingGeometry, SegmentOptions, ShmError, ShmResult};

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

    /// Attaches as the writer of the three segments a supervisor created (or a dead feed
    /// left), checking their records are a feed's: the event ring's sequence carries on, so its
    /// readers resume where they were, and the metrics keep counting. Every book already in the
    /// slots is marked stale first: a new feed trusts only the books it has rebuilt itself.
    pub fn attach(&self) -> ShmResult<(BookPublisher, FeedMetrics)> {
        let records = |size: usize| Expected { capacity: None, max_message_size: Some(size as u32) };
        let ring =
            broadcast::Writer::attach(&self.events)?.expect(&records(std::mem::size_of::<MarketEvent>()))?;
        let mut books =
            slots::Writer::attach(&self.books)?.expect(&records(std::mem::size_of::<TopOfBook>()))?;
        mark_books_stale(&mut books)?;
        let publisher = BookPublisher::new(ring, books, self.levels)?;
        let metrics = FeedMetrics::attach(&self.metrics)?;
        Ok((publisher, metrics))
    }

    /// Unlinks the three segments, ignoring any already gone.
    pub fn unlink(&self) {
        for name in [&self.events, &self.books, &self.metrics] {
            let _ = shm_layout::unlink(name);
        }
    }
}

/// Sets [`FLAG_STALE`] on every book written so far in `books`.
fn mark_books_stale(books: &mut slots::Writer) -> ShmResult<()> {
    let reader = slots::Reader::open(books.name())?;
    let mut record = [0u8; std::mem::size_of::<TopOfBook>()];
    for key in 0..books.keys() {
        if reader.read(key, &mut record)?.is_some() {
            let mut top = TopOfBook::from_bytes(&record);
            top.header.flags |= FLAG_STALE;
            books.write(key, top.as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Book, Side};
    use crate::metrics::Counter;
    use crate::sink::Stamps;

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

    #[test]
    fn a_feed_attached_to_a_dead_feeds_segments_carries_on_its_ring_and_marks_its_books_stale() {
        let outputs = FeedOutputs::named(&format!("/feeds-outputs-attach-{}", std::process::id()));
        let stamps = Stamps { sequence: 1, exchange_ts_ns: 1, receive_ts_ns: 2 };
        let (mut publisher, metrics) = outputs.create(&SegmentOptions::default()).unwrap();
        let mut reader = broadcast::Reader::attach(&outputs.events, broadcast::StartAt::Oldest).unwrap();
        let mut book = Book::new(4);
        book.set(Side::Bid, 100, 5);
        publisher.level(3, Side::Bid, 100, 5, 0, &stamps).unwrap();
        publisher.top_of_book(3, &book, false, &stamps).unwrap();
        metrics.set(Counter::Messages, 1);
        assert!(matches!(outputs.attach(), Err(ShmError::WriterActive { .. })), "its writer is alive");
        drop((publisher, metrics));

        let (mut publisher, metrics) = outputs.attach().unwrap();
        let books = slots::Reader::open(&outputs.books).unwrap();
        let mut record = [0u8; std::mem::size_of::<TopOfBook>()];
        books.read(3, &mut record).unwrap().expect("the old book is still there");
        let old = TopOfBook::from_bytes(&record);
        assert_eq!((old.bid_levels, old.header.flags & FLAG_STALE), (1, FLAG_STALE));
        assert_eq!(books.read(4, &mut record).unwrap(), None, "a book never written stays unwritten");
        let report = crate::metrics::FeedReport::read(&outputs.metrics).unwrap();
        assert_eq!(report.get(Counter::Messages), 1, "the counts carry on");

        assert_eq!(publisher.level(3, Side::Bid, 99, 1, 0, &stamps).unwrap(), 1, "the sequence carries on");
        let mut buf = [0u8; 64];
        let sequences: Vec<u64> = std::iter::from_fn(|| match reader.try_read(&mut buf).unwrap() {
            shm_layout::Received::Message { seq, .. } => Some(seq),
            _ => None,
        })
        .collect();
        assert_eq!(sequences, [0, 1], "a reader from before the restart reads on without a gap");
        drop((publisher, metrics));
        outputs.unlink();
    }

    #[test]
    fn attaching_to_segments_of_another_shape_is_refused_by_name() {
        let outputs = FeedOutputs::named(&format!("/feeds-outputs-shape-{}", std::process::id()));
        drop(outputs.create(&SegmentOptions::default()).unwrap());
        shm_layout::unlink(&outputs.books).unwrap();
        let options = SegmentOptions::default();
        drop(slots::Writer::create(&outputs.books, 8, 64, &options).unwrap());
        let err = outputs.attach().unwrap_err();
        assert!(matches!(err, ShmError::GeometryMismatch { field: "max_message_size", .. }), "{err}");
        assert!(err.to_string().contains(&outputs.books), "{err}");
        outputs.unlink();
    }
}
