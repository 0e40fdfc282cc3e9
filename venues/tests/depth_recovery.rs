//! Venue C end to end without sockets: order flow through the engine, the book as JSON depth
//! updates over a "network" that drops, duplicates and reorders, the feed resyncing from
//! snapshots whenever the update ids show a gap. At the end its book is the engine's.

mod common;

use std::collections::{HashMap, VecDeque};

use common::{fate, Fate};
use feeds::book::{Book, LevelChange, Side as BookSide};
use feeds::depth_feed::{DepthAction, DepthFeed};
use feeds::sink::{BookSink, Stamps};
use proptest::prelude::*;
use protocols::depth_json::DepthMessage;
use venues::depth::DepthPublisher;
use venues::matching::{Engine, NewOrder, OrderType, Side};

fn levels(feed: &DepthFeed, side: BookSide) -> Vec<(i64, u64)> {
    feed.book().side(side).iter().map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64)).collect()
}

/// Levels of one side in the engine's units: (price ticks, shares).
type Levels = Vec<(i64, u64)>;

/// Keeps what the feed last published: its bids, asks, and whether it said stale.
#[derive(Default)]
struct Published {
    book: Option<(Levels, Levels, bool)>,
}

impl BookSink for Published {
    fn level(&mut self, _: u32, _: &LevelChange, _: &Stamps) -> shm_layout::ShmResult<()> {
        Ok(())
    }

    fn book(&mut self, _: u32, book: &Book, stale: bool, _: &Stamps) -> shm_layout::ShmResult<()> {
        let side = |s| {
            book.side(s).iter().map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64)).collect()
        };
        self.book = Some((side(BookSide::Bid), side(BookSide::Ask), stale));
        Ok(())
    }
}

/// The book a subscriber must hold after each update id: (bids, asks) in the engine's units.
type History = HashMap<u64, (Levels, Levels)>;

/// Decodes and applies one message; a resync fetches a snapshot at once. Afterwards, a feed
/// that claims to be at update `k` must hold exactly the book published as of `k`.
fn deliver(
    feed: &mut DepthFeed,
    sink: &mut Published,
    publisher: &DepthPublisher,
    history: &History,
    bytes: &str,
) {
    let message = DepthMessage::decode(bytes.as_bytes()).expect("our JSON decodes");
    if feed.on_message(&message.as_event(), 0, sink) == DepthAction::Resync {
        let snapshot = publisher.snapshot().encode();
        let action = feed.on_message(&DepthMessage::decode(snapshot.as_bytes()).unwrap().as_event(), 0, sink);
        assert_eq!(action, DepthAction::None, "a fresh snapshot needs no other");
    }
    if let Some(id) = feed.last_update_id() {
        let (bids, asks) = &history[&id];
        assert_eq!(&levels(feed, BookSide::Bid), bids, "bids at update {id}");
        assert_eq!(&levels(feed, BookSide::Ask), asks, "asks at update {id}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_feed_resyncs_after_every_gap_and_ends_with_the_engines_book(
        orders in proptest::collection::vec((any::<bool>(), 9_990i64..10_010, 1u64..300, 0u8..5), 1..300),
        fates in proptest::collection::vec(fate(), 0..400),
        batch in 1usize..4,
    ) {
        let mut engine = Engine::new();
        let mut publisher = DepthPublisher::new("TICK");
        let mut feed = DepthFeed::new(1, 1024, 64);
        let mut sink = Published::default();
        let mut fates = fates.into_iter();
        let mut delayed: VecDeque<String> = VecDeque::new();
        let mut history: History = HashMap::from([(0, (Vec::new(), Vec::new()))]);
        let mut events = Vec::new();
        for (i, (buy, price, quantity, kind)) in orders.into_iter().enumerate() {
            let id = i as u64 + 1;
            let side = if buy { Side::Buy } else { Side::Sell };
            events.clear();
            match kind {
                0..=2 => engine.submit(NewOrder { id, side, quantity, order_type: OrderType::Limit { price } }, &mut events),
                3 => engine.submit(NewOrder { id, side, quantity, order_type: OrderType::Ioc { price } }, &mut events),
                _ => engine.cancel(id / 2, &mut events),
            }
            if i % batch != 0 {
                continue;
            }
            let Some(update) = publisher.update(&engine, i as u64) else { continue };
            history.insert(publisher.last_update_id(), (engine.levels(Side::Buy), engine.levels(Side::Sell)));
            let bytes = update.encode();
            match fates.next().unwrap_or(Fate::Deliver) {
                Fate::Deliver => deliver(&mut feed, &mut sink, &publisher, &history, &bytes),
                Fate::Drop => {}
                Fate::Duplicate => {
                    deliver(&mut feed, &mut sink, &publisher, &history, &bytes);
                    deliver(&mut feed, &mut sink, &publisher, &history, &bytes);
                }
                Fate::Delay => delayed.push_back(bytes),
            }
            if delayed.len() > 1 {
                let late = delayed.pop_front().unwrap();
                deliver(&mut feed, &mut sink, &publisher, &history, &late);
            }
        }
        for late in delayed {
            deliver(&mut feed, &mut sink, &publisher, &history, &late);
        }
        // The stream's next update would reveal a lost tail (its ids would jump): stand in for it
        // by comparing ids, and resync as the feed would.
        if let Some(update) = publisher.update(&engine, 0) {
            history.insert(publisher.last_update_id(), (engine.levels(Side::Buy), engine.levels(Side::Sell)));
            deliver(&mut feed, &mut sink, &publisher, &history, &update.encode());
        }
        if feed.last_update_id() != Some(publisher.last_update_id()) {
            let snapshot = publisher.snapshot().encode();
            feed.on_message(&DepthMessage::decode(snapshot.as_bytes()).unwrap().as_event(), 0, &mut sink);
        }
        prop_assert!(!feed.is_stale());
        let (bids, asks, stale) = sink.book.clone().expect("the feed published its book");
        prop_assert!(!stale, "the last published book is not stale");
        prop_assert_eq!(bids, engine.levels(Side::Buy), "published bids");
        prop_assert_eq!(asks, engine.levels(Side::Sell), "published asks");
        prop_assert_eq!(levels(&feed, BookSide::Bid), engine.levels(Side::Buy));
        prop_assert_eq!(levels(&feed, BookSide::Ask), engine.levels(Side::Sell));
    }
}
