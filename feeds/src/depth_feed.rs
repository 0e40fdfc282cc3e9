//! Venue C's feed handler core: a price-level book kept in step by JSON depth updates, and
//! rebuilt from a snapshot whenever the update ids show a gap.
//!
//! The book is correct only after a snapshot, and only while each update starts right after
//! the last one applied (`U <= last + 1 <= u`). Updates that arrive before the snapshot are
//! kept and replayed onto it; updates the book already covers are skipped; an update beyond the
//! next id means some were lost, so the book is marked stale, a new snapshot is asked for, and
//! updates are kept again until it comes.

use std::collections::VecDeque;

use protocols::depth_json::{DepthEvent, Level};

use crate::book::{Book, Side};
use crate::sink::{BookSink, Stamps};

/// What the caller must do after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthAction {
    /// Nothing.
    None,
    /// Fetch a snapshot and hand it to [`DepthFeed::on_message`].
    Resync,
}

/// Counters of one depth feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepthCounters {
    /// Updates applied.
    pub updates: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Trades seen.
    pub trades: u64,
    /// Gaps detected.
    pub gaps: u64,
    /// Updates skipped because the book already covered them.
    pub duplicates: u64,
    /// Updates dropped because too many were waiting for a snapshot.
    pub overflow: u64,
    /// Updates the sink could not take.
    pub publish_errors: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    first: u64,
    last: u64,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

/// The book of one symbol from a depth stream.
#[derive(Debug)]
pub struct DepthFeed {
    instrument: u32,
    book: Book,
    last_update_id: Option<u64>,
    pending: VecDeque<Pending>,
    max_pending: usize,
    awaiting_snapshot: bool,
    counters: DepthCounters,
}

impl DepthFeed {
    /// A feed of `instrument` with no book yet (stale until its first snapshot).
    pub fn new(instrument: u32, depth: usize, max_pending: usize) -> Self {
        Self {
            instrument,
            book: Book::new(depth),
            last_update_id: None,
            pending: VecDeque::new(),
            max_pending,
            awaiting_snapshot: false,
            counters: DepthCounters::default(),
        }
    }

    /// The book (meaningful only when not [stale](Self::is_stale)).
    pub fn book(&self) -> &Book {
        &self.book
    }

    /// Whether the book is not known to be correct.
    pub fn is_stale(&self) -> bool {
        self.last_update_id.is_none()
    }

    /// The id of the last update the book includes (`None` while stale).
    pub fn last_update_id(&self) -> Option<u64> {
        self.last_update_id
    }

    /// The counters.
    pub fn counters(&self) -> DepthCounters {
        self.counters
    }

    /// Takes one message of the stream (or a snapshot fetched on [`DepthAction::Resync`]),
    /// received at `receive_ts_ns` (Unix ns). Level changes of updates go to `sink` as they are
    /// applied, and the book after every message that changed it or its staleness. A snapshot
    /// (and the updates replayed onto it) rebuilds the book without level events: the book it
    /// leaves is what the sink gets.
    pub fn on_message(
        &mut self,
        message: &DepthEvent<'_>,
        receive_ts_ns: u64,
        sink: &mut impl BookSink,
    ) -> DepthAction {
        let was_stale = self.is_stale();
        let (action, stamps) = match *message {
            DepthEvent::Snapshot { last_update_id, bids, asks, .. } => {
                let stamps = Stamps { sequence: last_update_id, exchange_ts_ns: 0, receive_ts_ns };
                self.book.clear();
                self.apply_levels(bids, asks, &stamps, &mut ());
                self.last_update_id = Some(last_update_id);
                self.awaiting_snapshot = false;
                self.counters.snapshots += 1;
                let mut pending = std::mem::take(&mut self.pending).into_iter();
                let mut action = DepthAction::None;
                while let Some(p) = pending.next() {
                    if self.on_update(p.first, p.last, &p.bids, &p.asks, &stamps, &mut ())
                        == DepthAction::Resync
                    {
                        // A gap after the snapshot: keep what is left, in order, for the next one.
                        self.pending.extend(pending);
                        action = DepthAction::Resync;
                        break;
                    }
                }
                (action, stamps)
            }
            DepthEvent::Update { first_update_id, last_update_id, bids, asks, event_time_ms, .. } => {
                let stamps = Stamps {
                    sequence: last_update_id,
                    exchange_ts_ns: event_time_ms * 1_000_000,
                    receive_ts_ns,
                };
                (self.on_update(first_update_id, last_update_id, bids, asks, &stamps, sink), stamps)
            }
            DepthEvent::Trade { .. } => {
                self.counters.trades += 1;
                return DepthAction::None;
            }
        };
        if !(was_stale && self.is_stale())
            && sink.book(self.instrument, &self.book, self.is_stale(), &stamps).is_err()
        {
            self.counters.publish_errors += 1;
        }
        action
    }

    /// Whether a snapshot has been asked for and has not come yet.
    pub fn is_awaiting_snapshot(&self) -> bool {
        self.awaiting_snapshot
    }

    /// The caller asked for a snapshot unprompted (on connecting, so a quiet market still
    /// gets its book): updates are kept until it comes, and no other is asked for meanwhile.
    pub fn snapshot_requested(&mut self) {
        self.awaiting_snapshot = true;
    }

    /// The connection to the venue was lost: the book is stale until a snapshot after the
    /// reconnection; what was kept for a snapshot is dropped (the new connection's updates
    /// start afresh). A book that was correct is published once more, flagged stale.
    pub fn disconnected(&mut self, receive_ts_ns: u64, sink: &mut impl BookSink) {
        let was_stale = self.is_stale();
        self.last_update_id = None;
        self.pending.clear();
        self.awaiting_snapshot = false;
        if !was_stale {
            let stamps = Stamps { sequence: 0, exchange_ts_ns: 0, receive_ts_ns };
            if sink.book(self.instrument, &self.book, true, &stamps).is_err() {
                self.counters.publish_errors += 1;
            }
        }
    }

    /// Applies updates `first ..= last`, skips them if the book has them, or keeps a copy for
    /// the next snapshot if the book is stale or they leave a gap (the only copy made).
    fn on_update(
        &mut self,
        first: u64,
        last: u64,
        bids: &[Level],
        asks: &[Level],
        stamps: &Stamps,
        sink: &mut impl BookSink,
    ) -> DepthAction {
        let keep =
            |feed: &mut Self| feed.keep(Pending { first, last, bids: bids.to_vec(), asks: asks.to_vec() });
        let Some(applied) = self.last_update_id else {
            return keep(self);
        };
        if last <= applied {
            self.counters.duplicates += 1;
            return DepthAction::None;
        }
        if first > applied + 1 {
            self.counters.gaps += 1;
            self.last_update_id = None;
            return keep(self);
        }
        self.apply_levels(bids, asks, stamps, sink);
        self.last_update_id = Some(last);
        self.counters.updates += 1;
        DepthAction::None
    }

    /// Keeps an update until a snapshot comes; asks for one if it has not yet.
    fn keep(&mut self, update: Pending) -> DepthAction {
        if self.pending.len() == self.max_pending {
            self.pending.pop_front();
            self.counters.overflow += 1;
        }
        self.pending.push_back(update);
        if self.awaiting_snapshot {
            return DepthAction::None;
        }
        self.awaiting_snapshot = true;
        DepthAction::Resync
    }

    fn apply_levels(&mut self, bids: &[Level], asks: &[Level], stamps: &Stamps, sink: &mut impl BookSink) {
        let levels = bids.iter().map(|l| (Side::Bid, l)).chain(asks.iter().map(|l| (Side::Ask, l)));
        for (side, &(price, quantity)) in levels {
            let change = self.book.set(side, price, quantity);
            if change.was != change.quantity && sink.level(self.instrument, &change, stamps).is_err() {
                self.counters.publish_errors += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::depth_json::DepthMessage;

    fn update(first: u64, last: u64, bid: Level) -> DepthMessage {
        DepthMessage::Update {
            symbol: "X".into(),
            event_time_ms: 0,
            first_update_id: first,
            last_update_id: last,
            bids: vec![bid],
            asks: vec![],
        }
    }

    fn snapshot(last_update_id: u64, bids: Vec<Level>) -> DepthMessage {
        DepthMessage::Snapshot { symbol: "X".into(), last_update_id, bids, asks: vec![] }
    }

    fn apply(feed: &mut DepthFeed, message: DepthMessage) -> DepthAction {
        feed.on_message(&message.as_event(), 0, &mut ())
    }

    fn bids(feed: &DepthFeed) -> Vec<Level> {
        feed.book().side(Side::Bid).iter().map(|l| (l.price, l.quantity)).collect()
    }

    #[test]
    fn updates_before_the_snapshot_are_kept_and_replayed_onto_it() {
        let mut feed = DepthFeed::new(1, 16, 16);
        assert_eq!(apply(&mut feed, update(3, 4, (100, 1))), DepthAction::Resync);
        assert_eq!(apply(&mut feed, update(5, 5, (101, 2))), DepthAction::None, "one request is enough");
        assert!(feed.is_stale());
        assert_eq!(apply(&mut feed, snapshot(4, vec![(100, 7)])), DepthAction::None);
        assert_eq!(feed.last_update_id(), Some(5));
        assert_eq!(bids(&feed), [(101, 2), (100, 7)], "update 3..4 was in the snapshot; 5 applied");
    }

    #[test]
    fn a_lost_connection_leaves_the_book_stale_until_the_next_snapshot() {
        let mut feed = DepthFeed::new(1, 16, 16);
        apply(&mut feed, snapshot(10, vec![(100, 1)]));
        feed.disconnected(0, &mut ());
        assert!(feed.is_stale());
        assert_eq!(
            apply(&mut feed, update(20, 20, (100, 2))),
            DepthAction::Resync,
            "a new snapshot is needed"
        );
        assert_eq!(apply(&mut feed, snapshot(20, vec![(100, 2)])), DepthAction::None);
        assert_eq!((feed.last_update_id(), bids(&feed)), (Some(20), vec![(100, 2)]));
    }

    #[test]
    fn a_snapshot_asked_for_on_connecting_is_not_asked_for_again_by_the_first_update() {
        let mut feed = DepthFeed::new(1, 16, 16);
        feed.snapshot_requested();
        assert_eq!(apply(&mut feed, update(3, 4, (100, 1))), DepthAction::None, "kept for the snapshot");
        apply(&mut feed, snapshot(2, vec![(100, 5)]));
        assert!(!feed.is_stale());
        assert_eq!(bids(&feed), [(100, 1)], "the kept update applied onto the snapshot");
    }

    #[test]
    fn a_gap_after_the_snapshot_asks_for_another_and_keeps_what_follows() {
        let mut feed = DepthFeed::new(1, 16, 16);
        apply(&mut feed, snapshot(10, vec![]));
        assert_eq!(apply(&mut feed, update(11, 11, (100, 1))), DepthAction::None);
        assert_eq!(apply(&mut feed, update(13, 13, (100, 3))), DepthAction::Resync);
        assert!(feed.is_stale());
        assert_eq!(apply(&mut feed, update(14, 14, (100, 4))), DepthAction::None);
        assert_eq!(apply(&mut feed, snapshot(12, vec![(100, 2)])), DepthAction::None);
        assert_eq!((feed.last_update_id(), bids(&feed)), (Some(14), vec![(100, 4)]));
        let c = feed.counters();
        assert_eq!((c.gaps, c.snapshots, c.updates), (1, 2, 3));
    }
}
