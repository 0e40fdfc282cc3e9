//! Publishing a venue's books into shared memory: every level change as a
//! [`MarketEvent`] on the venue's broadcast ring, and the top levels of each instrument in its
//! seqlock slot as a [`TopOfBook`], flagged stale while the book is not known to be correct.

use shm_layout::records::{
    action, side as record_side, Layout, Level as RecordLevel, MarketEvent, Record, RecordHeader, TopOfBook,
    BOOK_DEPTH, FLAG_STALE,
};
use shm_layout::{broadcast, realtime_ns, slots, ShmError, ShmResult};

use crate::book::{Book, LevelChange, Side};
use crate::sink::{BookSink, Stamps};

fn header<R: Record>(stamps: &Stamps, publish_ts_ns: u64, flags: u16) -> RecordHeader {
    RecordHeader {
        msg_type: R::TYPE_ID,
        flags,
        length: std::mem::size_of::<R>() as u32,
        sequence: stamps.sequence,
        exchange_ts_ns: stamps.exchange_ts_ns,
        receive_ts_ns: stamps.receive_ts_ns,
        publish_ts_ns,
    }
}

/// The publish time of the records of one venue message: read from the clock at the message's
/// first record and shared by the rest, so a message that moves two levels and the book costs
/// one clock read, not three.
#[derive(Debug, Default)]
struct PublishClock {
    message: Option<(u64, u64)>,
    at_ns: u64,
}

impl PublishClock {
    fn now(&mut self, stamps: &Stamps) -> u64 {
        let message = Some((stamps.sequence, stamps.receive_ts_ns));
        if self.message != message {
            self.message = message;
            self.at_ns = realtime_ns();
        }
        self.at_ns
    }
}

fn record_side(side: Side) -> u8 {
    match side {
        Side::Bid => record_side::BID,
        Side::Ask => record_side::ASK,
    }
}

/// Writes one venue's market events and top-of-book slots.
#[derive(Debug)]
pub struct BookPublisher {
    ring: broadcast::Writer,
    slots: slots::Writer,
    levels: usize,
    clock: PublishClock,
}

impl BookPublisher {
    /// A publisher onto `ring` (messages of at least a [`MarketEvent`]) and `slots` (records of
    /// exactly a [`TopOfBook`], one key per instrument id), writing the top `levels` levels
    /// (at most [`BOOK_DEPTH`]).
    pub fn new(ring: broadcast::Writer, slots: slots::Writer, levels: usize) -> ShmResult<Self> {
        let invalid = |name: &str, detail: String| ShmError::InvalidConfig { name: name.to_owned(), detail };
        if (ring.geometry().max_message_size as usize) < std::mem::size_of::<MarketEvent>() {
            return Err(invalid(ring.name(), "its messages are smaller than a MarketEvent".into()));
        }
        if slots.record_size() != std::mem::size_of::<TopOfBook>() {
            return Err(invalid(slots.name(), "its records are not TopOfBook records".into()));
        }
        if levels == 0 || levels > BOOK_DEPTH {
            return Err(invalid(slots.name(), format!("{levels} levels: 1 to {BOOK_DEPTH} are written")));
        }
        Ok(Self { ring, slots, levels, clock: PublishClock::default() })
    }

    /// Publishes a level's new quantity (0: it went) on `side` of `instrument_id`.
    pub fn level(
        &mut self,
        instrument_id: u32,
        side: Side,
        price: i64,
        quantity: i64,
        was: i64,
        stamps: &Stamps,
    ) -> ShmResult<u64> {
        let action = match (was, quantity) {
            (0, _) => action::ADD,
            (_, 0) => action::DELETE,
            _ => action::MODIFY,
        };
        self.event(instrument_id, record_side(side), action, price, quantity, stamps)
    }

    /// Publishes a trade of `quantity` at `price`; `side` is the aggressor's, if known.
    pub fn trade(
        &mut self,
        instrument_id: u32,
        side: Option<Side>,
        price: i64,
        quantity: i64,
        stamps: &Stamps,
    ) -> ShmResult<u64> {
        self.event(instrument_id, side.map_or(0, record_side), action::TRADE, price, quantity, stamps)
    }

    fn event(
        &mut self,
        instrument_id: u32,
        side: u8,
        action: u8,
        price: i64,
        quantity: i64,
        stamps: &Stamps,
    ) -> ShmResult<u64> {
        let event = MarketEvent {
            header: header::<MarketEvent>(stamps, self.clock.now(stamps), 0),
            instrument_id,
            side,
            action,
            reserved: 0,
            price,
            quantity,
        };
        self.ring.publish(event.as_bytes())
    }

    /// Writes the top levels of `book` into the slot of `instrument_id`.
    pub fn top_of_book(
        &mut self,
        instrument_id: u32,
        book: &Book,
        stale: bool,
        stamps: &Stamps,
    ) -> ShmResult<()> {
        let mut top = TopOfBook {
            header: header::<TopOfBook>(stamps, self.clock.now(stamps), if stale { FLAG_STALE } else { 0 }),
            instrument_id,
            ..TopOfBook::default()
        };
        let fill = |out: &mut [RecordLevel; BOOK_DEPTH], side: Side| {
            let mut filled = 0;
            for (slot, level) in out.iter_mut().zip(book.side(side).iter()).take(self.levels) {
                *slot = RecordLevel { price: level.price, quantity: level.quantity };
                filled += 1;
            }
            filled
        };
        top.bid_levels = fill(&mut top.bids, Side::Bid);
        top.ask_levels = fill(&mut top.asks, Side::Ask);
        self.slots.write(u64::from(instrument_id), top.as_bytes())
    }

    /// Publishes a [`LevelChange`].
    pub fn change(&mut self, instrument_id: u32, change: &LevelChange, stamps: &Stamps) -> ShmResult<u64> {
        self.level(instrument_id, change.side, change.price, change.quantity, change.was, stamps)
    }

    /// Records a sign of life on both segments.
    pub fn heartbeat(&self) {
        self.ring.heartbeat();
        self.slots.heartbeat();
    }
}

impl BookSink for BookPublisher {
    fn level(&mut self, instrument: u32, change: &LevelChange, stamps: &Stamps) -> ShmResult<()> {
        self.change(instrument, change, stamps).map(|_| ())
    }

    fn book(&mut self, instrument: u32, book: &Book, stale: bool, stamps: &Stamps) -> ShmResult<()> {
        self.top_of_book(instrument, book, stale, stamps)
    }

    fn heartbeat(&mut self) {
        BookPublisher::heartbeat(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shm_layout::{RingGeometry, SegmentOptions};

    struct Segments(Vec<String>);

    impl Drop for Segments {
        fn drop(&mut self) {
            for name in &self.0 {
                let _ = shm_layout::unlink(name);
            }
        }
    }

    fn publisher(test: &str, levels: usize) -> (BookPublisher, Segments) {
        let ring_name = format!("/feeds-test-{test}-{}.md", std::process::id());
        let slots_name = format!("/feeds-test-{test}-{}.books", std::process::id());
        let options = SegmentOptions::default();
        let geometry = RingGeometry { capacity: 64, max_message_size: 64, max_readers: 2 };
        let ring = broadcast::Writer::create(&ring_name, geometry, &options).unwrap();
        let slots =
            slots::Writer::create(&slots_name, 4, std::mem::size_of::<TopOfBook>() as u32, &options).unwrap();
        (BookPublisher::new(ring, slots, levels).unwrap(), Segments(vec![ring_name, slots_name]))
    }

    #[test]
    fn level_changes_reach_the_ring_and_the_top_reaches_the_slot() {
        let (mut publisher, segments) = publisher("top", 2);
        let mut reader = broadcast::Reader::attach(&segments.0[0], broadcast::StartAt::Latest).unwrap();
        let mut book = Book::new(16);
        let stamps = Stamps { sequence: 7, exchange_ts_ns: 1, receive_ts_ns: 2 };
        for (price, quantity) in [(100, 5), (99, 6), (98, 7)] {
            book.set(Side::Bid, price, quantity);
            publisher.level(3, Side::Bid, price, quantity, 0, &stamps).unwrap();
        }
        book.set(Side::Ask, 101, 4);
        publisher.level(3, Side::Ask, 101, 0, 4, &stamps).unwrap();
        publisher.top_of_book(3, &book, true, &stamps).unwrap();

        let mut buf = [0u8; 64];
        let mut events = Vec::new();
        while let shm_layout::Received::Message { .. } = reader.try_read(&mut buf).unwrap() {
            events.push(MarketEvent::from_bytes(&buf));
        }
        assert_eq!(events.len(), 4);
        assert_eq!((events[0].action, events[0].side, events[0].price), (action::ADD, record_side::BID, 100));
        assert_eq!((events[3].action, events[3].side), (action::DELETE, record_side::ASK));
        assert_eq!((events[0].header.sequence, events[0].header.receive_ts_ns), (7, 2));
        assert!(events[0].header.publish_ts_ns > 0);

        let slots = slots::Reader::open(&segments.0[1]).unwrap();
        let mut raw = vec![0u8; std::mem::size_of::<TopOfBook>()];
        slots.read(3, &mut raw).unwrap().expect("written");
        let top = TopOfBook::from_bytes(&raw);
        assert_eq!((top.instrument_id, top.bid_levels, top.ask_levels), (3, 2, 1));
        assert_eq!(
            top.bids[..2],
            [RecordLevel { price: 100, quantity: 5 }, RecordLevel { price: 99, quantity: 6 }]
        );
        assert_eq!(top.header.flags & FLAG_STALE, FLAG_STALE);
    }

    #[test]
    fn segments_of_the_wrong_shape_are_refused() {
        let (publisher, segments) = publisher("shape", 2);
        let BookPublisher { ring, slots, .. } = publisher;
        let err = BookPublisher::new(ring, slots, BOOK_DEPTH + 1).unwrap_err();
        assert!(err.to_string().contains("1 to 10 are written"), "{err}");
        drop(segments);
    }
}
