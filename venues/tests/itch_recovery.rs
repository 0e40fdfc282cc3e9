//! Venue A end to end without sockets: order flow through the engine, ITCH in MoldUDP64 packets
//! over a lossy "network" that drops, duplicates and reorders, the feed re-requesting what it
//! misses from the venue's re-request server. Once the feed is no longer stale its books equal
//! the engine's.

mod common;

use std::collections::VecDeque;

use common::{fate, Fate};
use feeds::book::Side as BookSide;
use feeds::itch_feed::{Action, ItchFeed};
use proptest::prelude::*;
use protocols::itch::{stock, MAX_MESSAGE_LEN};
use protocols::moldudp64::session;
use venues::itch::ItchTranslator;
use venues::matching::{Engine, NewOrder, OrderType, Side};
use venues::mold::MoldPublisher;

/// Sends `packets` through the network as `fates` say; returns what arrives, in arrival order.
fn network(packets: Vec<Vec<u8>>, fates: &mut impl Iterator<Item = Fate>) -> Vec<Vec<u8>> {
    let mut arrived = Vec::new();
    let mut delayed: VecDeque<Vec<u8>> = VecDeque::new();
    for packet in packets {
        match fates.next().unwrap_or(Fate::Deliver) {
            Fate::Deliver => arrived.push(packet),
            Fate::Drop => {}
            Fate::Duplicate => arrived.extend([packet.clone(), packet]),
            Fate::Delay => delayed.push_back(packet),
        }
        if delayed.len() > 1 {
            arrived.extend(delayed.pop_front());
        }
    }
    arrived.extend(delayed);
    arrived
}

fn feed_levels(feed: &ItchFeed, side: BookSide) -> Vec<(i64, u64)> {
    feed.book(1).map_or_else(Vec::new, |b| {
        b.book().side(side).iter().map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64)).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_feed_recovers_every_gap_and_ends_with_the_engines_book(
        orders in proptest::collection::vec((any::<bool>(), 9_990i64..10_010, 1u64..300, 0u8..5), 1..300),
        fates in proptest::collection::vec(fate(), 0..400),
    ) {
        let mut engine = Engine::new();
        let mut translator = ItchTranslator::new(1, stock("TICK"));
        let mut publisher = MoldPublisher::new(session("TEST01"));
        let mut feed = ItchFeed::new(session("TEST01"), 1024, 1024, 1024);
        let mut fates = fates.into_iter();
        let (mut events, mut messages) = (Vec::new(), Vec::new());
        let mut wire = [0u8; MAX_MESSAGE_LEN];
        for (i, (buy, price, quantity, kind)) in orders.into_iter().enumerate() {
            let id = i as u64 + 1;
            let side = if buy { Side::Buy } else { Side::Sell };
            events.clear();
            messages.clear();
            match kind {
                0..=2 => engine.submit(NewOrder { id, side, quantity, order_type: OrderType::Limit { price } }, &mut events),
                3 => engine.submit(NewOrder { id, side, quantity, order_type: OrderType::Ioc { price } }, &mut events),
                _ => engine.cancel(id / 2, &mut events),
            }
            translator.translate(&events, i as u64, &mut messages);
            let encoded: Vec<Vec<u8>> = messages
                .iter()
                .map(|m| {
                    let len = m.encode(&mut wire);
                    wire[..len].to_vec()
                })
                .collect();
            let packets = publisher.publish(encoded.iter().map(Vec::as_slice));
            let mut inbox: VecDeque<Vec<u8>> = network(packets, &mut fates).into();
            let mut served = 0;
            while let Some(packet) = inbox.pop_front() {
                if let Action::Rerequest(request) = feed.on_packet(&packet, 0, &mut ()) {
                    served += 1;
                    prop_assert!(served < 10_000, "re-requests never end");
                    inbox.extend(network(publisher.serve(&request), &mut fates));
                }
            }
        }
        // The venue's heartbeats carry its next sequence: a feed that lost the tail finds out.
        for _ in 0..50 {
            if !feed.is_stale() && feed.next_sequence() == publisher.next_sequence() {
                break;
            }
            let mut inbox: VecDeque<Vec<u8>> = VecDeque::from([publisher.heartbeat().to_vec()]);
            while let Some(packet) = inbox.pop_front() {
                if let Action::Rerequest(request) = feed.on_packet(&packet, 0, &mut ()) {
                    inbox.extend(network(publisher.serve(&request), &mut fates));
                }
            }
        }
        prop_assert!(!feed.is_stale());
        prop_assert_eq!(feed.next_sequence(), publisher.next_sequence());
        let counters = feed.counters();
        prop_assert_eq!((counters.decode_errors, counters.book_errors), (0, 0));
        prop_assert_eq!(counters.gaps, counters.recoveries);
        prop_assert_eq!(feed_levels(&feed, BookSide::Bid), engine.levels(Side::Buy));
        prop_assert_eq!(feed_levels(&feed, BookSide::Ask), engine.levels(Side::Sell));
    }
}
