//! Venue A into shared memory: the venue's ITCH through the feed handler and the book
//! publisher into a broadcast ring and seqlock slots, read back by another handle. Every
//! instrument's slot holds the engine's top ten levels; while a gap is open every slot says
//! stale, and the recovery clears it.

use feeds::itch_feed::{Action, ItchFeed};
use feeds::publish::BookPublisher;
use protocols::moldudp64::session;
use shm_layout::records::{Layout, MarketEvent, TopOfBook, FLAG_STALE};
use shm_layout::{broadcast, slots, RingGeometry, SegmentOptions, SegmentStats};
use venues::flow::{MarketSpec, VenueSpec};
use venues::matching::Side;
use venues::venue_a::ItchVenue;

/// Unlinks the test's segments however it ends.
struct Segments([String; 2]);

impl Drop for Segments {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = shm_layout::unlink(name);
        }
    }
}

fn venue() -> ItchVenue {
    ItchVenue::new(
        MarketSpec::equities(99, &[("AAPL", 1_900_000), ("MSFT", 4_200_000)]).calm(),
        VenueSpec::new(1, 50_000.0),
        session("TICKRAIL01"),
    )
}

fn top(reader: &slots::Reader, instrument: u64) -> TopOfBook {
    let mut raw = vec![0u8; std::mem::size_of::<TopOfBook>()];
    reader.read(instrument, &mut raw).unwrap().expect("the slot was written");
    TopOfBook::from_bytes(&raw)
}

fn engine_top(venue: &ItchVenue, symbol: usize, side: Side) -> Vec<(i64, i64)> {
    venue
        .engine(symbol)
        .levels(side)
        .into_iter()
        .take(10)
        .map(|(p, q)| (p * 100_000, q as i64 * 1_000_000_000))
        .collect()
}

#[test]
fn the_feed_publishes_the_venues_books_into_shared_memory_and_flags_gaps() {
    let names =
        [format!("/venues-it-{}.md", std::process::id()), format!("/venues-it-{}.books", std::process::id())];
    let segments = Segments(names);
    let options = SegmentOptions::default();
    let geometry = RingGeometry { capacity: 1 << 16, max_message_size: 64, max_readers: 2 };
    let ring = broadcast::Writer::create(&segments.0[0], geometry, &options).unwrap();
    let slots_writer =
        slots::Writer::create(&segments.0[1], 8, std::mem::size_of::<TopOfBook>() as u32, &options).unwrap();
    let mut publisher = BookPublisher::new(ring, slots_writer, 10).unwrap();
    let mut reader = broadcast::Reader::attach(&segments.0[0], broadcast::StartAt::Latest).unwrap();
    let books = slots::Reader::open(&segments.0[1]).unwrap();

    let mut venue = venue();
    let mut feed = ItchFeed::new(session("TICKRAIL01"), 64, 4096, 4096);
    let mut packets = venue.open();
    packets.extend(venue.step(20_000));
    for packet in &packets {
        assert_eq!(feed.on_packet(packet, 1, &mut publisher), Action::None);
    }
    assert_eq!(feed.counters().publish_errors, 0);
    for symbol in 0..2 {
        let top = top(&books, symbol as u64 + 1);
        assert_eq!(top.header.flags & FLAG_STALE, 0);
        let bids: Vec<(i64, i64)> =
            top.bids[..usize::from(top.bid_levels)].iter().map(|l| (l.price, l.quantity)).collect();
        let asks: Vec<(i64, i64)> =
            top.asks[..usize::from(top.ask_levels)].iter().map(|l| (l.price, l.quantity)).collect();
        assert_eq!(bids, engine_top(&venue, symbol, Side::Buy));
        assert_eq!(asks, engine_top(&venue, symbol, Side::Sell));
    }
    let mut buf = [0u8; 64];
    let shm_layout::Received::Message { .. } = reader.try_read(&mut buf).unwrap() else {
        panic!("level changes were published");
    };
    let event = MarketEvent::from_bytes(&buf);
    assert!(event.header.sequence > 0 && event.header.publish_ts_ns > 0);
    assert!(SegmentStats::read(&segments.0[0]).unwrap().published > 1000);

    // Lose a packet: every book turns stale until the re-request fills the gap.
    let mut next = venue.step(2_000);
    next.remove(0); // never delivered
    let Action::Rerequest(request) = feed.on_packet(&next[0], 2, &mut publisher) else {
        panic!("the gap is noticed");
    };
    assert!((1..=2).all(|i| top(&books, i).header.flags & FLAG_STALE != 0), "stale while the gap is open");
    for packet in venue.serve(&request) {
        feed.on_packet(&packet, 3, &mut publisher);
    }
    for packet in &next[1..] {
        feed.on_packet(packet, 3, &mut publisher);
    }
    assert!(!feed.is_stale());
    for symbol in 0..2 {
        let top = top(&books, symbol as u64 + 1);
        assert_eq!(top.header.flags & FLAG_STALE, 0, "recovered");
        assert_eq!(top.bids[0].price, engine_top(&venue, symbol, Side::Buy)[0].0);
    }
}
