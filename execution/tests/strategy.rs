//! The market maker: a fair value from the usable venues, quotes around it skewed against
//! inventory, replaced only past the tolerance (cancelled and placed anew where a venue has
//! no replace), pulled when no book can be trusted, and arbitrage taken only beyond fees and
//! the margin.

use execution::strategy::{Action, MarketMaker, MarketMakerConfig, Top};
use risk::{NewOrder, Side};

const ONE: i64 = 1_000_000_000;
const CENT: i64 = ONE / 100;

fn config() -> MarketMakerConfig {
    MarketMakerConfig {
        tick: CENT,
        lot: 100 * ONE,
        half_spread_ticks: 2,
        level_spacing_ticks: 3,
        levels: 2,
        size: 100 * ONE,
        skew_ticks_per_lot: 1,
        tolerance_ticks: 2,
        fee_bps: 1,
        arbitrage_margin_ticks: 1,
        arbitrage_size: 500 * ONE,
        no_replace: [false, false, true],
        max_position: 1_000 * ONE,
        max_venue_position: 500 * ONE,
    }
}

fn top(bid_cents: i64, ask_cents: i64) -> Top {
    Top {
        bid: bid_cents * CENT,
        bid_quantity: 1_000 * ONE,
        ask: ask_cents * CENT,
        ask_quantity: 1_000 * ONE,
        usable: true,
    }
}

/// One book change; every new order and replacement is then accepted by its venue.
fn run(mm: &mut MarketMaker, tops: &[Top], position: i64, next_id: &mut u64) -> Vec<Action> {
    let mut actions = Vec::with_capacity(64);
    mm.on_book(tops, position, &[position, 0, 0], next_id, &mut actions);
    for action in &actions {
        match action {
            Action::New(order) | Action::Replace { order, .. } => mm.order_live(order.id),
            Action::Arbitrage { buy, sell } => {
                mm.order_live(buy.id);
                mm.order_live(sell.id);
            }
            Action::Cancel { .. } => {}
        }
    }
    actions
}

/// The new orders, an arbitrage's legs included (buy first).
fn news(actions: &[Action]) -> Vec<NewOrder> {
    actions
        .iter()
        .flat_map(|a| match a {
            Action::New(o) => vec![*o],
            Action::Arbitrage { buy, sell } => vec![*buy, *sell],
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn quotes_sit_around_the_mean_of_the_usable_mids_on_every_venue_and_level() {
    let mut mm = MarketMaker::new(1, 3, config());
    let stale = Top { usable: false, ..top(5_000, 5_010) };
    let tops = [top(10_000, 10_002), top(10_002, 10_004), stale];
    assert_eq!(mm.fair_value(&tops), Some(10_002 * CENT), "the stale venue is left out");
    let mut next_id = 0;
    let orders = news(&run(&mut mm, &tops, 0, &mut next_id));
    assert_eq!(orders.len(), 2 * 2 * 2, "two venues, two sides, two levels; none on the stale one");
    let prices = |venue: usize, side: Side| -> Vec<i64> {
        orders.iter().filter(|o| o.venue == venue && o.side == side).map(|o| o.price / CENT).collect()
    };
    assert_eq!(prices(1, Side::Buy), [10_000, 9_997]);
    assert_eq!(prices(1, Side::Sell), [10_004, 10_007]);
    // Venue 0 quotes around the same fair value, though its own mid is lower.
    assert_eq!(prices(0, Side::Sell), [10_004, 10_007]);
    assert_eq!(prices(0, Side::Buy), [10_000, 9_997]);
    assert!(orders.iter().all(|o| o.quantity == 100 * ONE) && next_id == 8);
}

#[test]
fn a_long_inventory_moves_both_sides_down_and_a_bid_never_crosses_the_venues_ask() {
    let mm = MarketMaker::new(1, 1, MarketMakerConfig { levels: 1, ..config() });
    let flat = mm.target(10_002 * CENT, 0, Side::Buy, 0, &top(10_000, 10_004));
    let long = mm.target(10_002 * CENT, 300 * ONE, Side::Buy, 0, &top(10_000, 10_004));
    assert_eq!((flat - long) / CENT, 3, "three lots long: three ticks lower");
    let short = mm.target(10_002 * CENT, -300 * ONE, Side::Buy, 0, &top(10_000, 10_004));
    assert_eq!(short / CENT, 10_003, "short: higher, but a tick under the venue's ask");
}

#[test]
fn small_moves_leave_quotes_alone_big_ones_replace_them_or_cancel_and_place_where_there_is_no_replace() {
    let mut mm = MarketMaker::new(1, 3, MarketMakerConfig { levels: 1, ..config() });
    let mut next_id = 0;
    let first = run(&mut mm, &[top(10_000, 10_002); 3], 0, &mut next_id);
    assert_eq!(news(&first).len(), 6);
    assert!(
        run(&mut mm, &[top(10_001, 10_003); 3], 0, &mut next_id).is_empty(),
        "one tick: within tolerance"
    );
    let moved = run(&mut mm, &[top(10_003, 10_005); 3], 0, &mut next_id);
    let replaces = moved.iter().filter(|a| matches!(a, Action::Replace { .. })).count();
    let cancels: Vec<usize> = moved
        .iter()
        .filter_map(|a| if let Action::Cancel { venue, .. } = a { Some(*venue) } else { None })
        .collect();
    assert_eq!(replaces, 4, "venues 0 and 1 replace both quotes");
    assert_eq!(cancels, [2, 2], "venue 2 cancels both and places anew");
    assert_eq!(news(&moved).iter().filter(|o| o.venue == 2).count(), 2);
    assert_eq!(mm.working().count(), 6);
}

#[test]
fn quotes_are_pulled_when_no_book_can_be_trusted_and_a_done_quote_is_placed_again() {
    let mut mm = MarketMaker::new(1, 1, MarketMakerConfig { levels: 1, ..config() });
    let mut next_id = 0;
    let placed = news(&run(&mut mm, &[top(10_000, 10_002)], 0, &mut next_id));
    let pulled = run(&mut mm, &[Top { usable: false, ..top(10_000, 10_002) }], 0, &mut next_id);
    assert_eq!(pulled.len(), 2);
    assert!(pulled.iter().all(|a| matches!(a, Action::Cancel { .. })));
    assert_eq!(mm.working().count(), 0);
    let again = news(&run(&mut mm, &[top(10_000, 10_002)], 0, &mut next_id));
    mm.order_done(again[0].id);
    assert_eq!(news(&run(&mut mm, &[top(10_000, 10_002)], 0, &mut next_id)).len(), 1, "the filled side only");
    assert_ne!(placed[0].id, again[0].id);
}

#[test]
fn a_quote_the_venue_has_not_accepted_is_neither_moved_nor_pulled() {
    let mut mm = MarketMaker::new(1, 1, MarketMakerConfig { levels: 1, ..config() });
    let (mut next_id, mut actions) = (0, Vec::new());
    mm.on_book(&[top(10_000, 10_002)], 0, &[0], &mut next_id, &mut actions);
    assert_eq!(actions.len(), 2);
    actions.clear();
    mm.on_book(&[top(10_010, 10_012)], 0, &[0], &mut next_id, &mut actions);
    assert!(actions.is_empty(), "not accepted yet: nothing to replace");
    mm.on_book(&[Top { usable: false, ..top(10_010, 10_012) }], 0, &[0], &mut next_id, &mut actions);
    assert!(actions.is_empty(), "nor to cancel");
    mm.order_live(1);
    mm.on_book(&[top(10_010, 10_012)], 0, &[0], &mut next_id, &mut actions);
    assert_eq!(actions.len(), 1, "the accepted quote moves; the other still waits");
}

#[test]
fn when_the_fair_value_rises_the_asks_move_before_the_bids_and_when_it_falls_the_bids_first() {
    let mut mm = MarketMaker::new(1, 1, MarketMakerConfig { levels: 1, ..config() });
    let mut next_id = 0;
    run(&mut mm, &[top(10_000, 10_002)], 0, &mut next_id);
    let side = |a: &Action| if let Action::Replace { order, .. } = a { Some(order.side) } else { None };
    let up = run(&mut mm, &[top(10_010, 10_012)], 0, &mut next_id);
    assert_eq!(up.iter().filter_map(side).collect::<Vec<_>>(), [Side::Sell, Side::Buy]);
    let down = run(&mut mm, &[top(9_990, 9_992)], 0, &mut next_id);
    assert_eq!(down.iter().filter_map(side).collect::<Vec<_>>(), [Side::Buy, Side::Sell]);
}

#[test]
fn a_side_whose_fill_would_pass_a_position_limit_and_a_one_sided_book_are_not_quoted() {
    let mut mm = MarketMaker::new(1, 2, MarketMakerConfig { levels: 1, ..config() });
    let mut next_id = 0;
    let mut actions = Vec::new();
    // Long 500 on venue 0 (its limit): no more bids there; venue 1 still bids.
    mm.on_book(
        &[top(10_000, 10_002), top(10_000, 10_002)],
        500 * ONE,
        &[500 * ONE, 0],
        &mut next_id,
        &mut actions,
    );
    let sides: Vec<(usize, Side)> = news(&actions).iter().map(|o| (o.venue, o.side)).collect();
    assert_eq!(sides, [(0, Side::Sell), (1, Side::Buy), (1, Side::Sell)]);
    actions.clear();
    let one_sided = Top { ask: 0, ..top(10_000, 10_002) };
    let mut fresh = MarketMaker::new(1, 2, MarketMakerConfig { levels: 1, ..config() });
    fresh.on_book(&[one_sided, top(10_000, 10_002)], 0, &[0, 0], &mut next_id, &mut actions);
    assert!(news(&actions).iter().all(|o| o.venue == 1), "no quotes on a book without an ask");
}

#[test]
fn arbitrage_is_taken_only_past_fees_and_the_margin_and_for_what_both_books_show() {
    let mut mm = MarketMaker::new(1, 3, MarketMakerConfig { levels: 0, ..config() });
    let mut next_id = 0;
    // Venue 1 bids 100.05 while venue 0 offers at 100.02: 3 cents of edge; fees are 1 bp of
    // each leg (about 2 cents) and the margin a cent: not enough.
    let mut tops = [top(10_000, 10_002), top(10_005, 10_007), top(10_001, 10_003)];
    assert!(run(&mut mm, &tops, 0, &mut next_id).is_empty());
    // 4 cents of edge is.
    tops[1] = top(10_006, 10_008);
    tops[0].ask_quantity = 250 * ONE;
    let legs = news(&run(&mut mm, &tops, 0, &mut next_id));
    assert_eq!(legs.len(), 2);
    assert_eq!((legs[0].venue, legs[0].side, legs[0].price), (0, Side::Buy, 10_002 * CENT));
    assert_eq!((legs[1].venue, legs[1].side, legs[1].price), (1, Side::Sell, 10_006 * CENT));
    assert!(legs.iter().all(|o| o.quantity == 200 * ONE), "250 shown, in whole lots");
    assert!(news(&run(&mut mm, &tops, 0, &mut next_id)).is_empty(), "one arbitrage at a time");
    mm.order_done(legs[0].id);
    mm.order_done(legs[1].id);
    assert_eq!(news(&run(&mut mm, &tops, 0, &mut next_id)).len(), 2, "both legs done: the next one");
    let mut full =
        MarketMaker::new(1, 3, MarketMakerConfig { levels: 0, max_venue_position: 100 * ONE, ..config() });
    assert!(news(&run(&mut full, &tops, 0, &mut next_id)).is_empty(), "200 would pass the venue's 100 limit");
}
