//! A feed's counters and its receive-to-publish latency histogram, in a metrics segment that
//! the supervisor and engineers read live.
//!
//! The layout is [`Counter::ALL`] cells in that order, then one HDR histogram
//! ([`histogram::CELLS`]) of nanoseconds from a message's receive timestamp to the moment its
//! book was written to shared memory.

use std::sync::atomic::Ordering;

use shm_layout::histogram::{self, Recorder, Snapshot};
use shm_layout::{metrics, realtime_ns, Expected, SegmentOptions, ShmResult};

use crate::book::{Book, LevelChange};
use crate::sink::{BookSink, Stamps};

/// One of a feed's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Messages applied to books.
    Messages,
    /// Bytes received.
    Bytes,
    /// Packets or frames received.
    Packets,
    /// Sequence gaps detected.
    Gaps,
    /// Gaps recovered (books correct again).
    Recoveries,
    /// Messages skipped because they were already applied.
    Duplicates,
    /// Packets, frames or messages that did not decode.
    DecodeErrors,
    /// Messages a book refused (an unknown order, say).
    BookErrors,
    /// Updates shared memory could not take.
    PublishErrors,
    /// Times the books went stale.
    StalePeriods,
    /// Recovery requests sent (re-requests, resend requests, snapshot fetches).
    RecoveryRequests,
    /// Connections (re)established.
    Connects,
    /// Connections lost, or attempts that failed.
    Disconnects,
}

impl Counter {
    /// Every counter, in cell order.
    pub const ALL: [Counter; 13] = [
        Counter::Messages,
        Counter::Bytes,
        Counter::Packets,
        Counter::Gaps,
        Counter::Recoveries,
        Counter::Duplicates,
        Counter::DecodeErrors,
        Counter::BookErrors,
        Counter::PublishErrors,
        Counter::StalePeriods,
        Counter::RecoveryRequests,
        Counter::Connects,
        Counter::Disconnects,
    ];

    /// Its snake-case name, as reports print it.
    pub fn name(self) -> &'static str {
        match self {
            Counter::Messages => "messages",
            Counter::Bytes => "bytes",
            Counter::Packets => "packets",
            Counter::Gaps => "gaps",
            Counter::Recoveries => "recoveries",
            Counter::Duplicates => "duplicates",
            Counter::DecodeErrors => "decode_errors",
            Counter::BookErrors => "book_errors",
            Counter::PublishErrors => "publish_errors",
            Counter::StalePeriods => "stale_periods",
            Counter::RecoveryRequests => "recovery_requests",
            Counter::Connects => "connects",
            Counter::Disconnects => "disconnects",
        }
    }
}

const HISTOGRAM_AT: usize = Counter::ALL.len();
/// Cells of a feed's metrics segment.
pub const CELLS: usize = HISTOGRAM_AT + histogram::CELLS;

fn expected() -> Expected {
    Expected { capacity: Some(CELLS as u64), max_message_size: None }
}

/// The writing side, owned by the feed's hot loop.
#[derive(Debug)]
pub struct FeedMetrics {
    segment: metrics::Writer,
}

impl FeedMetrics {
    /// Creates the segment `name`.
    pub fn create(name: &str, options: &SegmentOptions) -> ShmResult<Self> {
        Ok(Self { segment: metrics::Writer::create(name, CELLS as u64, options)? })
    }

    /// Attaches to an existing segment, carrying on its counts (a restarted feed).
    pub fn attach(name: &str) -> ShmResult<Self> {
        Ok(Self { segment: metrics::Writer::attach(name)?.expect(&expected())? })
    }

    /// Sets `counter` to `value` (the loop mirrors its handler's own counts).
    #[inline]
    pub fn set(&self, counter: Counter, value: u64) {
        self.segment.cells()[counter as usize].store(value, Ordering::Relaxed);
    }

    /// Adds `by` to `counter`.
    #[inline]
    pub fn add(&self, counter: Counter, by: u64) {
        let cell = &self.segment.cells()[counter as usize];
        cell.store(cell.load(Ordering::Relaxed) + by, Ordering::Relaxed);
    }

    /// The receive-to-publish latency histogram.
    #[inline]
    pub fn latency(&self) -> Recorder<'_> {
        Recorder::new(&self.segment.cells()[HISTOGRAM_AT..])
    }

    /// Records a sign of life.
    pub fn heartbeat(&self) {
        self.segment.heartbeat();
    }
}

/// A handler's own counts, by [`Counter`], as its transport loop gathers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals([u64; Counter::ALL.len()]);

impl Totals {
    /// Sets `counter`'s total.
    pub fn set(&mut self, counter: Counter, value: u64) -> &mut Self {
        self.0[counter as usize] = value;
        self
    }

    /// `counter`'s total.
    pub fn get(&self, counter: Counter) -> u64 {
        self.0[counter as usize]
    }
}

/// Mirrors a handler's totals into its metrics segment: only what changed is stored, as a
/// delta, so a restarted feed attached to its old segment carries on counting.
#[derive(Debug, Default)]
pub struct Mirror {
    last: Totals,
}

impl Mirror {
    /// Adds to `metrics` what grew since the last call.
    #[inline]
    pub fn update(&mut self, now: &Totals, metrics: &FeedMetrics) {
        for (counter, (after, before)) in Counter::ALL.iter().zip(now.0.iter().zip(self.last.0.iter())) {
            if after != before {
                metrics.add(*counter, after.wrapping_sub(*before));
            }
        }
        self.last = *now;
    }
}

/// A snapshot of a feed's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedReport {
    /// Every counter with its value, in [`Counter::ALL`] order.
    pub counters: Vec<(Counter, u64)>,
    /// Receive-to-publish latency, nanoseconds.
    pub latency: Snapshot,
}

impl FeedReport {
    /// Reads the segment `name` without disturbing its writer.
    pub fn read(name: &str) -> ShmResult<Self> {
        let reader = metrics::Reader::open(name)?.expect(&expected())?;
        let cells = reader.cells();
        Ok(Self {
            counters: Counter::ALL.iter().map(|&c| (c, cells[c as usize].load(Ordering::Relaxed))).collect(),
            latency: Snapshot::read(&cells[HISTOGRAM_AT..]),
        })
    }

    /// The value of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.counters[counter as usize].1
    }
}

/// A sink that times every book it passes on: the nanoseconds from the message's receive
/// timestamp to the book being written go into the feed's latency histogram.
#[derive(Debug)]
pub struct Timed<'m, S> {
    inner: S,
    metrics: &'m FeedMetrics,
}

impl<'m, S: BookSink> Timed<'m, S> {
    /// Times what goes into `inner`.
    pub fn new(inner: S, metrics: &'m FeedMetrics) -> Self {
        Self { inner, metrics }
    }

    /// The sink inside.
    pub fn inner(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: BookSink> BookSink for Timed<'_, S> {
    fn level(&mut self, instrument: u32, change: &LevelChange, stamps: &Stamps) -> ShmResult<()> {
        self.inner.level(instrument, change, stamps)
    }

    fn book(&mut self, instrument: u32, book: &Book, stale: bool, stamps: &Stamps) -> ShmResult<()> {
        self.inner.book(instrument, book, stale, stamps)?;
        if stamps.receive_ts_ns != 0 {
            self.metrics.latency().record(realtime_ns().saturating_sub(stamps.receive_ts_ns));
        }
        Ok(())
    }

    fn heartbeat(&mut self) {
        self.inner.heartbeat();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Side;

    #[test]
    fn counters_and_latencies_written_by_the_feed_are_read_back_by_name() {
        let name = format!("/feeds-metrics-{}", std::process::id());
        let metrics = FeedMetrics::create(&name, &SegmentOptions::default()).unwrap();
        metrics.set(Counter::Messages, 10);
        metrics.add(Counter::Gaps, 2);
        let mut book = Book::new(4);
        book.set(Side::Bid, 100, 5);
        let mut sink = Timed::new((), &metrics);
        let stamps = Stamps { sequence: 1, exchange_ts_ns: 0, receive_ts_ns: realtime_ns() };
        sink.book(1, &book, false, &stamps).unwrap();
        sink.book(1, &book, false, &Stamps { receive_ts_ns: 0, ..stamps }).unwrap();
        let report = FeedReport::read(&name).unwrap();
        assert_eq!((report.get(Counter::Messages), report.get(Counter::Gaps)), (10, 2));
        assert_eq!(report.latency.count, 1, "a message without a receive time is not timed");
        assert!(report.latency.max < 1_000_000_000);
        shm_layout::unlink(&name).unwrap();
    }

    #[test]
    fn a_mirror_adds_only_what_grew_so_a_restarted_feed_keeps_counting() {
        let name = format!("/feeds-metrics-mirror-{}", std::process::id());
        let metrics = FeedMetrics::create(&name, &SegmentOptions::default()).unwrap();
        metrics.set(Counter::Messages, 100); // counted by the feed's previous run
        let mut mirror = Mirror::default();
        let mut totals = Totals::default();
        mirror.update(totals.set(Counter::Messages, 5).set(Counter::Gaps, 1), &metrics);
        mirror.update(totals.set(Counter::Messages, 7), &metrics);
        let report = FeedReport::read(&name).unwrap();
        assert_eq!((report.get(Counter::Messages), report.get(Counter::Gaps)), (107, 1));
        shm_layout::unlink(&name).unwrap();
    }

    #[test]
    fn the_names_follow_the_cell_order() {
        for (i, counter) in Counter::ALL.iter().enumerate() {
            assert_eq!(*counter as usize, i, "{}", counter.name());
        }
    }
}
