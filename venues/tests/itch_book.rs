//! Random order flow through the matching engine, out as ITCH 5.0 bytes, and back in through
//! the feed's order-level book: the book the feed builds is the engine's, level for level.

use feeds::book::Side as BookSide;
use feeds::orders::OrderBook;
use proptest::prelude::*;
use protocols::itch::{stock, Message, MAX_MESSAGE_LEN};
use venues::itch::ItchTranslator;
use venues::matching::{Engine, NewOrder, OrderType, Side};

/// One step of order flow.
#[derive(Debug, Clone)]
enum Step {
    Limit { buy: bool, price: i64, quantity: u64 },
    Ioc { buy: bool, price: i64, quantity: u64 },
    Market { buy: bool, quantity: u64 },
    Cancel { nth: usize },
    Replace { nth: usize, price: i64, quantity: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    let price = 1_000_000i64..1_000_200;
    prop_oneof![
        4 => (any::<bool>(), price.clone(), 1u64..500).prop_map(|(buy, price, quantity)| Step::Limit { buy, price, quantity }),
        1 => (any::<bool>(), price.clone(), 1u64..500).prop_map(|(buy, price, quantity)| Step::Ioc { buy, price, quantity }),
        1 => (any::<bool>(), 1u64..300).prop_map(|(buy, quantity)| Step::Market { buy, quantity }),
        2 => any::<usize>().prop_map(|nth| Step::Cancel { nth }),
        2 => (any::<usize>(), price, 1u64..500).prop_map(|(nth, price, quantity)| Step::Replace { nth, price, quantity }),
    ]
}

fn side(buy: bool) -> Side {
    if buy {
        Side::Buy
    } else {
        Side::Sell
    }
}

/// The feed's levels in the engine's units (ITCH price ticks, shares).
fn feed_levels(book: &OrderBook, side: BookSide) -> Vec<(i64, u64)> {
    book.book().side(side).iter().map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_feed_rebuilds_the_engines_book_from_itch_bytes(steps in proptest::collection::vec(step(), 1..300)) {
        let mut engine = Engine::new();
        let mut translator = ItchTranslator::new(1, stock("TICK"));
        let mut feed = OrderBook::new(1024, 1024);
        let (mut events, mut messages) = (Vec::new(), Vec::new());
        let mut live: Vec<u64> = Vec::new();
        let mut wire = [0u8; MAX_MESSAGE_LEN];
        for (i, step) in steps.into_iter().enumerate() {
            let id = i as u64 + 1;
            events.clear();
            messages.clear();
            live.retain(|&id| engine.is_resting(id));
            match step {
                Step::Limit { buy, price, quantity } => engine.submit(
                    NewOrder { id, side: side(buy), quantity, order_type: OrderType::Limit { price } }, &mut events),
                Step::Ioc { buy, price, quantity } => engine.submit(
                    NewOrder { id, side: side(buy), quantity, order_type: OrderType::Ioc { price } }, &mut events),
                Step::Market { buy, quantity } => engine.submit(
                    NewOrder { id, side: side(buy), quantity, order_type: OrderType::Market }, &mut events),
                Step::Cancel { nth } if !live.is_empty() => engine.cancel(live[nth % live.len()], &mut events),
                Step::Replace { nth, price, quantity } if !live.is_empty() => {
                    let old = live[nth % live.len()];
                    let new_id = if nth % 2 == 0 { old } else { id };
                    engine.replace(old, new_id, price, quantity, &mut events);
                }
                Step::Cancel { .. } | Step::Replace { .. } => continue,
            }
            live.push(id);
            translator.translate(&events, 34_200_000_000_000 + i as u64, &mut messages);
            for message in &messages {
                let len = message.encode(&mut wire);
                let decoded = Message::decode(&wire[..len]).expect("our own ITCH decodes");
                prop_assert_eq!(&decoded, message);
                feed.apply(&decoded).expect("every message applies to the feed's book");
            }
            prop_assert_eq!(feed_levels(&feed, BookSide::Bid), engine.levels(Side::Buy));
            prop_assert_eq!(feed_levels(&feed, BookSide::Ask), engine.levels(Side::Sell));
        }
    }
}
