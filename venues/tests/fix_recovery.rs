//! Venue B end to end without sockets: random order flow through the venue, its refreshes
//! over a "network" that drops, duplicates and delays them, the feed recovering every gap by
//! ResendRequest. At the end the feed's books, not stale, are the engines' books.

mod common;

use common::{fate, Fate};
use feeds::book::Side as BookSide;
use feeds::fix_feed::{FixFeed, FixFeedConfig};
use proptest::prelude::*;
use protocols::fix::{self, Writer};
use protocols::fix44::{Body, MarketDataIncremental, MarketDataSnapshot, MdEntries};
use protocols::fix_session::{possible_duplicate, Incoming, Session, SessionConfig};
use venues::flow::{MarketSpec, VenueSpec};
use venues::matching::Side;
use venues::venue_b::{FixVenue, VenueOutput};

const T0: u64 = 1_795_559_799_000_000_000;
const SYMBOLS: [(&str, i64); 2] = [("AAPL", 1_900_000), ("MSFT", 4_200_000)];

/// The venue's end of the wire: its session with the feed and what it sends.
struct Wire {
    session: Session,
    to_feed: Vec<u8>,
    held: Option<Vec<u8>>,
    duplicates: Writer,
    dropped: u64,
}

impl Wire {
    /// Takes what the feed sent: session messages, and subscriptions answered by `venue`'s
    /// snapshots.
    fn take(&mut self, venue: &FixVenue, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some((frame, used)) = fix::frame(rest).unwrap() {
            rest = &rest[used..];
            let incoming = self.session.on_frame(&frame, T0).expect("the feed speaks FIX");
            self.session.drain_output(&mut self.to_feed);
            let Incoming::App(message) = incoming else { continue };
            let Body::MarketDataRequest(request) = message.body else { panic!("{message:?}") };
            let mut entries = Vec::new();
            for symbol in &request.symbols {
                venue.snapshot(venue.symbol(symbol).unwrap(), &mut entries);
                let entries = MdEntries::from_slice(&entries);
                let snapshot =
                    Body::MarketDataSnapshot(MarketDataSnapshot { md_req_id: None, symbol, entries });
                self.to_feed.extend_from_slice(self.session.send(&snapshot, T0));
            }
        }
    }

    /// Sends one refresh through the network's `fate`.
    fn publish(&mut self, body: &Body<'_>, fate: Fate) {
        self.session.drain_output(&mut self.to_feed);
        let bytes = self.session.send(body, T0);
        match fate {
            Fate::Drop => {
                self.dropped += 1;
                return;
            }
            Fate::Deliver => self.to_feed.extend_from_slice(bytes),
            Fate::Duplicate => {
                self.to_feed.extend_from_slice(bytes);
                self.to_feed.extend_from_slice(possible_duplicate(&mut self.duplicates, bytes, T0).unwrap());
            }
            Fate::Delay => {
                let earlier = self.held.replace(bytes.to_vec());
                self.to_feed.extend(earlier.unwrap_or_default());
                return;
            }
        }
        if let Some(held) = self.held.take() {
            self.to_feed.extend_from_slice(&held);
        }
    }
}

/// Passes bytes both ways until neither side has anything to say (boundedly).
fn exchange(venue: &FixVenue, end: &mut Wire, feed: &mut FixFeed) {
    let mut to_venue = Vec::new();
    for _ in 0..20 {
        end.session.drain_output(&mut end.to_feed);
        let used = feed.on_bytes(&end.to_feed, T0, &mut ()).expect("the venue speaks FIX");
        assert_eq!(used, end.to_feed.len(), "whole messages only");
        end.to_feed.clear();
        feed.drain_output(&mut to_venue);
        if to_venue.is_empty() {
            return;
        }
        end.take(venue, &to_venue);
        to_venue.clear();
    }
    panic!("the exchange does not settle");
}

/// Runs the flow for `steps` actions through the network's `fates` (then a perfect one);
/// returns how many gaps the feed saw.
fn run(seed: u64, fates: &[Fate], steps: usize) -> u64 {
    let market = MarketSpec::equities(seed, &SYMBOLS);
    let session = SessionConfig {
        sender_comp_id: "VENUEB".into(),
        target_comp_id: "FEED".into(),
        heartbeat_interval_s: 1,
        retention: 1 << 20,
    };
    let mut venue = FixVenue::new(market, VenueSpec::new(2, 50_000.0));
    let mut end = Wire {
        session: Session::accept(session, T0),
        to_feed: Vec::new(),
        held: None,
        duplicates: Writer::new(),
        dropped: 0,
    };
    let config = FixFeedConfig {
        sender_comp_id: "FEED".into(),
        target_comp_id: "VENUEB".into(),
        heartbeat_interval_s: 1,
        symbols: SYMBOLS.iter().enumerate().map(|(i, (s, _))| ((*s).to_owned(), i as u32)).collect(),
        depth: 4096,
    };
    let mut feed = FixFeed::new(config, T0);
    exchange(&venue, &mut end, &mut feed);
    let mut out = VenueOutput::default();
    let mut fates = fates.iter().copied();
    for _ in 0..steps {
        venue.step(1, &mut out);
        let mut entries = Vec::new();
        for update in &out.market_data {
            venue.entries(update, &mut entries);
            let entries = MdEntries::from_slice(&entries);
            let refresh = Body::MarketDataIncremental(MarketDataIncremental { md_req_id: None, entries });
            end.publish(&refresh, fates.next().unwrap_or(Fate::Deliver));
        }
        out.clear();
        // As on TCP, a delayed refresh goes out before the venue reads again: it can come
        // after the next refresh, but never after a replay the feed asks for later.
        if let Some(held) = end.held.take() {
            end.to_feed.extend(held);
        }
        exchange(&venue, &mut end, &mut feed);
    }
    // A heartbeat shows the feed any loss at the very end.
    end.session.drain_output(&mut end.to_feed);
    end.to_feed.extend_from_slice(end.session.send(&Body::Heartbeat { test_req_id: None }, T0));
    exchange(&venue, &mut end, &mut feed);
    for (i, (name, _)) in SYMBOLS.iter().enumerate() {
        assert!(!feed.is_stale(i), "{name} is stale: {:?}", feed.counters());
        for (side, book_side) in [(Side::Buy, BookSide::Bid), (Side::Sell, BookSide::Ask)] {
            let levels: Vec<(i64, u64)> = feed
                .book(i)
                .side(book_side)
                .iter()
                .map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64))
                .collect();
            assert_eq!(levels, venue.engine(i).levels(side), "{name} {side:?}");
        }
    }
    let c = feed.counters();
    assert_eq!((c.invalid, c.book_errors), (0, 0), "{c:?}");
    assert_eq!(c.gaps, c.recoveries, "every gap was filled");
    assert!(end.dropped == 0 || c.gaps > 0, "a lost refresh shows as a gap");
    c.gaps
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_feed_behind_a_lossy_network_ends_with_the_engines_books(
        seed in 0u64..1_000,
        fates in proptest::collection::vec(fate(), 0..400),
        steps in 50usize..400,
    ) {
        run(seed, &fates, steps);
    }
}

#[test]
fn a_feed_on_a_perfect_network_never_sees_a_gap() {
    assert_eq!(run(7, &[], 2_000), 0);
}
