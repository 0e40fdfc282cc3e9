//! Every check of the gate, with orders that must pass and orders that must fail at its edges.

use risk::gate::LimitsError;
use risk::{
    Gate, Limits, MarketView, NewOrder, PortfolioLimits, Reject, Replace, Side, SymbolLimits, TradingView,
};

/// One unit (a share, a dollar) in fixed point.
const ONE: i64 = 1_000_000_000;
const AAPL: u32 = 1;
const MSFT: u32 = 2;
const NOW: u64 = 1_000_000_000_000;
/// A cent.
const TICK: i64 = ONE / 100;

fn symbol(instrument: u32) -> SymbolLimits {
    SymbolLimits {
        instrument,
        tick: TICK,
        lot: ONE,
        min_quantity: ONE,
        max_quantity: 1_000 * ONE,
        max_notional: 50_000 * i128::from(ONE),
        price_band_bps: 500,
        max_position: 2_000 * ONE,
        max_venue_position: 1_000 * ONE,
        max_working_orders: 8,
        order_rate_per_s: 100,
        order_burst: 50,
        cancel_rate_per_s: 100,
        cancel_burst: 50,
        max_book_age_ns: 1_000_000_000,
    }
}

fn limits() -> Limits {
    Limits {
        symbols: vec![symbol(AAPL), symbol(MSFT)],
        portfolio: PortfolioLimits {
            max_gross_notional: 500_000 * i128::from(ONE),
            max_net_notional: 300_000 * i128::from(ONE),
            max_working_orders: 12,
            max_risk_heartbeat_age_ns: 2_000_000_000,
        },
        venues: 3,
        max_working_per_venue_symbol: 4,
    }
}

/// A book at 100.00 published just now.
fn market() -> MarketView {
    MarketView { reference_price: 100 * ONE, published_ns: NOW, stale: false }
}

struct Orders {
    gate: Gate,
    next_id: u64,
}

impl Orders {
    fn new(limits: Limits) -> Self {
        Self { gate: Gate::new(limits, NOW).unwrap(), next_id: 1 }
    }

    fn order(&mut self, venue: usize, side: Side, price: i64, quantity: i64) -> NewOrder {
        self.next_id += 1;
        NewOrder { id: self.next_id, venue, instrument: AAPL, side, price, quantity }
    }

    fn send(&mut self, venue: usize, side: Side, price: i64, quantity: i64) -> Result<u64, Reject> {
        let order = self.order(venue, side, price, quantity);
        self.gate.check_new(&order, &market(), &TradingView::ACTIVE, NOW).map(|()| order.id)
    }
}

fn gate() -> Orders {
    Orders::new(limits())
}

#[test]
fn a_plain_order_passes_and_is_counted_as_working() {
    let mut orders = gate();
    let id = orders.send(0, Side::Buy, 100 * ONE, 10 * ONE).unwrap();
    assert_eq!(orders.gate.passed(), 1);
    assert_eq!(orders.gate.own_orders(0, AAPL).unwrap().get(id).unwrap().open, 10 * ONE);
    assert_eq!(orders.gate.exposure().symbol(0).working_buy, 10 * ONE);
}

#[test]
fn prices_and_quantities_must_be_positive_on_the_tick_and_in_whole_lots() {
    let mut orders = gate();
    assert_eq!(orders.send(0, Side::Buy, 0, ONE), Err(Reject::NonPositivePrice));
    assert_eq!(orders.send(0, Side::Buy, -TICK, ONE), Err(Reject::NonPositivePrice));
    assert_eq!(orders.send(0, Side::Buy, 100 * ONE + TICK / 2, ONE), Err(Reject::OffTick));
    assert!(orders.send(0, Side::Buy, 100 * ONE + TICK, ONE).is_ok(), "one tick up");
    assert_eq!(orders.send(0, Side::Buy, 100 * ONE, 0), Err(Reject::NonPositiveQuantity));
    assert_eq!(orders.send(0, Side::Buy, 100 * ONE, ONE + ONE / 2), Err(Reject::OddLot));
}

#[test]
fn quantity_and_notional_per_order_are_bounded_inclusively() {
    let mut limits = limits();
    limits.symbols[0].min_quantity = 2 * ONE;
    let mut orders = Orders::new(limits);
    assert_eq!(orders.send(0, Side::Buy, 100 * ONE, ONE), Err(Reject::BelowMinQuantity));
    assert!(orders.send(0, Side::Buy, 100 * ONE, 2 * ONE).is_ok(), "the minimum itself");
    // 500 at 100.00 is the 50,000 maximum notional exactly; 501 is over (and under 1,000 max).
    assert!(orders.send(1, Side::Buy, 100 * ONE, 500 * ONE).is_ok());
    assert_eq!(orders.send(2, Side::Buy, 100 * ONE, 501 * ONE), Err(Reject::AboveMaxNotional));
    let mut limits = self::limits();
    limits.symbols[0].max_quantity = 10 * ONE;
    let mut orders = Orders::new(limits);
    assert!(orders.send(0, Side::Buy, 100 * ONE, 10 * ONE).is_ok());
    assert_eq!(orders.send(0, Side::Buy, 100 * ONE, 11 * ONE), Err(Reject::AboveMaxQuantity));
}

#[test]
fn a_fat_finger_outside_the_band_around_the_reference_never_leaves() {
    let mut orders = gate();
    // 5% of 100.00 either way is inside; a cent beyond is not.
    assert!(orders.send(0, Side::Buy, 105 * ONE, ONE).is_ok());
    assert!(orders.send(1, Side::Sell, 95 * ONE, ONE).is_ok());
    assert_eq!(orders.send(2, Side::Buy, 105 * ONE + TICK, ONE), Err(Reject::OutsidePriceBand));
    assert_eq!(orders.send(2, Side::Sell, 95 * ONE - TICK, ONE), Err(Reject::OutsidePriceBand));
    assert_eq!(orders.send(2, Side::Buy, 1_000 * ONE, ONE), Err(Reject::OutsidePriceBand));
}

#[test]
fn position_limits_count_every_working_order_on_the_side_in_the_worst_case() {
    let mut orders = gate();
    // 1,000 a venue: two working buys of 500 reach it; one more share does not fit.
    assert!(orders.send(0, Side::Buy, 100 * ONE, 500 * ONE).is_ok());
    assert!(orders.send(0, Side::Buy, 99 * ONE, 400 * ONE).is_ok());
    assert!(orders.send(0, Side::Buy, 99 * ONE, 100 * ONE).is_ok());
    assert_eq!(orders.send(0, Side::Buy, 98 * ONE, ONE), Err(Reject::VenuePositionLimit));
    assert!(orders.send(0, Side::Sell, 101 * ONE, 400 * ONE).is_ok(), "the other side is its own worst case");
    // 2,000 across venues: venue 1 takes 1,000 more, then the symbol is full.
    assert!(orders.send(1, Side::Buy, 100 * ONE, 500 * ONE).is_ok());
    assert!(orders.send(1, Side::Buy, 100 * ONE, 500 * ONE).is_ok());
    assert_eq!(orders.send(2, Side::Buy, 100 * ONE, ONE), Err(Reject::SymbolPositionLimit));
}

#[test]
fn fills_and_cancels_move_the_worst_case() {
    let mut orders = gate();
    let id = orders.send(0, Side::Buy, 100 * ONE, 500 * ONE).unwrap();
    orders.gate.filled(0, AAPL, id, 200 * ONE);
    let holding = orders.gate.exposure().venue(0, 0);
    assert_eq!((holding.position, holding.working_buy), (200 * ONE, 300 * ONE));
    orders.gate.done(0, AAPL, id);
    assert_eq!(orders.gate.exposure().venue(0, 0).working_buy, 0);
    assert!(orders.gate.own_orders(0, AAPL).unwrap().is_empty());
    // 801 at 100.00 is past the 50,000 notional per order before any position limit.
    assert_eq!(orders.send(0, Side::Buy, 100 * ONE, 801 * ONE), Err(Reject::AboveMaxNotional));
    let mut limits = limits();
    limits.symbols[0].max_notional = i128::MAX;
    let mut big = Orders::new(limits);
    let id = big.send(0, Side::Buy, 100 * ONE, 200 * ONE).unwrap();
    big.gate.filled(0, AAPL, id, 200 * ONE);
    assert!(big.send(0, Side::Buy, 100 * ONE, 800 * ONE).is_ok());
    assert_eq!(big.send(0, Side::Buy, 100 * ONE, ONE), Err(Reject::VenuePositionLimit));
}

#[test]
fn gross_and_net_exposure_are_limited_across_symbols_and_venues() {
    let mut limits = limits();
    limits.portfolio.max_gross_notional = 100_000 * i128::from(ONE);
    limits.portfolio.max_net_notional = 60_000 * i128::from(ONE);
    let mut orders = Orders::new(limits);
    // 400 AAPL at 100 = 40,000 long, filled; then MSFT short 400 at 100 working: gross 80,000.
    let id = orders.send(0, Side::Buy, 100 * ONE, 400 * ONE).unwrap();
    orders.gate.filled(0, AAPL, id, 400 * ONE);
    let msft = NewOrder {
        id: 100,
        venue: 1,
        instrument: MSFT,
        side: Side::Sell,
        price: 100 * ONE,
        quantity: 400 * ONE,
    };
    assert!(orders.gate.check_new(&msft, &market(), &TradingView::ACTIVE, NOW).is_ok());
    orders.next_id = 100;
    // 200 more AAPL long working: net 60,000 (at the limit), gross 100,000 (at the limit).
    assert!(orders.send(1, Side::Buy, 100 * ONE, 200 * ONE).is_ok());
    assert_eq!(orders.send(2, Side::Buy, 100 * ONE, ONE), Err(Reject::GrossExposureLimit));
    let mut limits = self::limits();
    limits.portfolio.max_net_notional = 60_000 * i128::from(ONE);
    let mut orders = Orders::new(limits);
    assert!(orders.send(0, Side::Buy, 100 * ONE, 500 * ONE).is_ok());
    assert!(orders.send(1, Side::Buy, 100 * ONE, 100 * ONE).is_ok());
    assert_eq!(orders.send(2, Side::Buy, 100 * ONE, ONE), Err(Reject::NetExposureLimit));
}

#[test]
fn working_orders_are_limited_per_venue_and_symbol_per_symbol_and_in_all() {
    let mut orders = gate();
    for _ in 0..4 {
        assert!(orders.send(0, Side::Buy, 96 * ONE, ONE).is_ok());
    }
    assert_eq!(orders.send(0, Side::Buy, 96 * ONE, ONE), Err(Reject::TooManyWorkingOrders), "4 a venue");
    for _ in 0..4 {
        assert!(orders.send(1, Side::Buy, 96 * ONE, ONE).is_ok());
    }
    assert_eq!(orders.send(2, Side::Buy, 96 * ONE, ONE), Err(Reject::TooManyWorkingOrders), "8 a symbol");
    let id = orders.gate.own_orders(0, AAPL).unwrap().get(2).map(|o| o.id).unwrap();
    orders.gate.done(0, AAPL, id);
    assert!(orders.send(2, Side::Buy, 96 * ONE, ONE).is_ok(), "one done, one more");
}

#[test]
fn order_and_cancel_rates_are_throttled_per_venue_and_symbol_while_cancels_always_pass() {
    let mut limits = limits();
    limits.symbols[0].order_burst = 2;
    limits.symbols[0].cancel_burst = 1;
    limits.max_working_per_venue_symbol = 8;
    let mut orders = Orders::new(limits);
    assert!(orders.send(0, Side::Buy, 99 * ONE, ONE).is_ok());
    assert!(orders.send(0, Side::Buy, 99 * ONE, ONE).is_ok());
    assert_eq!(orders.send(0, Side::Buy, 99 * ONE, ONE), Err(Reject::OrderRateThrottled));
    assert!(orders.send(1, Side::Buy, 99 * ONE, ONE).is_ok(), "another venue has its own bucket");
    orders.gate.cancel_sent(1, AAPL, NOW);
    orders.gate.cancel_sent(1, AAPL, NOW);
    assert_eq!(orders.send(1, Side::Buy, 99 * ONE, ONE), Err(Reject::CancelRateThrottled));
    // 100 a second: 20 ms repays two cancels' worth (one of debt, one token).
    let later = orders.order(1, Side::Buy, 99 * ONE, ONE);
    assert!(orders.gate.check_new(&later, &market(), &TradingView::ACTIVE, NOW + 20_000_000).is_ok());
}

#[test]
fn a_client_order_id_is_used_once_and_ids_only_grow() {
    let mut orders = gate();
    let order = orders.order(0, Side::Buy, 99 * ONE, ONE);
    assert!(orders.gate.check_new(&order, &market(), &TradingView::ACTIVE, NOW).is_ok());
    assert_eq!(
        orders.gate.check_new(&order, &market(), &TradingView::ACTIVE, NOW),
        Err(Reject::DuplicateOrderId)
    );
    let older = NewOrder { id: order.id - 1, ..order };
    assert_eq!(
        orders.gate.check_new(&older, &market(), &TradingView::ACTIVE, NOW),
        Err(Reject::DuplicateOrderId)
    );
}

#[test]
fn an_order_that_would_trade_against_our_own_resting_order_is_stopped() {
    let mut orders = gate();
    assert!(orders.send(0, Side::Sell, 101 * ONE, ONE).is_ok());
    assert!(orders.send(0, Side::Buy, 101 * ONE - TICK, ONE).is_ok(), "one tick below our offer");
    assert_eq!(orders.send(0, Side::Buy, 101 * ONE, ONE), Err(Reject::SelfTrade));
    assert_eq!(orders.send(0, Side::Sell, 101 * ONE - TICK, ONE), Err(Reject::SelfTrade));
    assert!(orders.send(1, Side::Buy, 101 * ONE, ONE).is_ok(), "another venue's book is another book");
}

#[test]
fn a_stale_old_or_empty_book_blocks_new_orders() {
    let mut orders = gate();
    let order = orders.order(0, Side::Buy, 100 * ONE, ONE);
    let stale = MarketView { stale: true, ..market() };
    assert_eq!(orders.gate.check_new(&order, &stale, &TradingView::ACTIVE, NOW), Err(Reject::StaleBook));
    let age = 1_000_000_000;
    assert_eq!(
        orders.gate.check_new(&order, &market(), &TradingView::ACTIVE, NOW + age + 1),
        Err(Reject::OldBook)
    );
    assert!(
        orders.gate.check_new(&order, &market(), &TradingView::ACTIVE, NOW + age).is_ok(),
        "at the age limit"
    );
    let empty = MarketView { reference_price: 0, ..market() };
    let next = orders.order(0, Side::Buy, 100 * ONE, ONE);
    assert_eq!(
        orders.gate.check_new(&next, &empty, &TradingView::ACTIVE, NOW),
        Err(Reject::NoReferencePrice)
    );
}

#[test]
fn halted_killed_reduce_only_unknown_and_unheard_trading_states_fail_closed() {
    let mut orders = gate();
    let long = orders.send(0, Side::Buy, 100 * ONE, 10 * ONE).unwrap();
    orders.gate.filled(0, AAPL, long, 10 * ONE);
    let with = |global: u8, symbol: u8, age: u64| TradingView {
        global,
        symbol,
        risk_heartbeat_age_ns: age,
        ..TradingView::ACTIVE
    };
    let mut check = |view: TradingView, side: Side, quantity: i64| {
        let order = orders.order(0, side, 100 * ONE, quantity);
        orders.gate.check_new(&order, &market(), &view, NOW)
    };
    assert_eq!(check(with(2, 0, 0), Side::Sell, ONE), Err(Reject::Halted), "halted globally");
    assert_eq!(check(with(0, 3, 0), Side::Sell, ONE), Err(Reject::Halted), "the symbol is killed");
    assert_eq!(check(with(1, 0, 0), Side::Buy, ONE), Err(Reject::ReduceOnly), "a buy adds to a long");
    assert!(check(with(0, 1, 0), Side::Sell, 6 * ONE).is_ok(), "a sell reduces the long of 10");
    assert_eq!(check(with(0, 1, 0), Side::Sell, 5 * ONE), Err(Reject::ReduceOnly), "6 + 5 would go short");
    assert!(check(with(0, 1, 0), Side::Sell, 4 * ONE).is_ok(), "6 + 4 reach flat exactly");
    assert_eq!(check(with(9, 0, 0), Side::Sell, ONE), Err(Reject::UnknownTradingState));
    assert_eq!(check(with(0, 0, 2_000_000_001), Side::Sell, ONE), Err(Reject::RiskHeartbeatStale));
    assert!(check(with(0, 0, 2_000_000_000), Side::Sell, ONE).is_ok(), "at the heartbeat limit");
}

#[test]
fn a_replace_is_judged_in_place_of_the_order_it_replaces_and_can_be_undone() {
    let mut limits = limits();
    limits.symbols[0].max_notional = i128::MAX;
    let mut orders = Orders::new(limits);
    let id = orders.send(0, Side::Buy, 99 * ONE, 600 * ONE).unwrap();
    let sell = orders.send(0, Side::Sell, 101 * ONE, ONE).unwrap();
    let replace = |orders: &mut Orders, original: u64, price: i64, quantity: i64| {
        let order = orders.order(0, Side::Buy, price, quantity);
        let replace = Replace { original, order };
        orders.gate.check_replace(&replace, &market(), &TradingView::ACTIVE, NOW).map(|()| replace)
    };
    // 900 in place of 600 fits the 1,000 venue limit (as a new order of 900 would not).
    let moved = replace(&mut orders, id, 99 * ONE + TICK, 900 * ONE).unwrap();
    assert_eq!(orders.gate.exposure().venue(0, 0).working_buy, 900 * ONE);
    assert_eq!(replace(&mut orders, moved.order.id, 99 * ONE, 1_001 * ONE), Err(Reject::AboveMaxQuantity));
    assert_eq!(replace(&mut orders, moved.order.id, 101 * ONE, 900 * ONE), Err(Reject::SelfTrade));
    assert_eq!(replace(&mut orders, 999, 99 * ONE, ONE), Err(Reject::UnknownOrder));
    assert_eq!(
        replace(&mut orders, sell, 99 * ONE, ONE),
        Err(Reject::UnknownOrder),
        "a replace keeps its side"
    );
    // A fill of the original before the venue acts is still found.
    orders.gate.filled(0, AAPL, id, 100 * ONE);
    assert_eq!(orders.gate.exposure().venue(0, 0).position, 100 * ONE);
    orders.gate.replace_refused(&moved, 99 * ONE, 500 * ONE);
    let working = *orders.gate.own_orders(0, AAPL).unwrap().get(id).unwrap();
    assert_eq!((working.price, working.open), (99 * ONE, 500 * ONE));
    assert_eq!(orders.gate.exposure().venue(0, 0).working_buy, 500 * ONE);
    // Long 100: in place of the 500, 900 reach the 1,000 venue limit exactly; 901 do not.
    assert_eq!(replace(&mut orders, id, 99 * ONE, 901 * ONE), Err(Reject::VenuePositionLimit));
    assert!(replace(&mut orders, id, 99 * ONE, 900 * ONE).is_ok());
}

#[test]
fn every_rejection_is_counted_under_its_reason() {
    let mut orders = gate();
    let _ = orders.send(0, Side::Buy, 0, ONE);
    let _ = orders.send(0, Side::Buy, 0, ONE);
    let _ = orders.send(0, Side::Buy, 100 * ONE, 0);
    let rejections = orders.gate.rejections();
    assert_eq!(rejections[usize::from(Reject::NonPositivePrice.code())], 2);
    assert_eq!(rejections[usize::from(Reject::NonPositiveQuantity.code())], 1);
    assert_eq!(rejections.iter().sum::<u64>(), 3);
    let unknown = NewOrder { instrument: 77, ..orders.order(0, Side::Buy, 100 * ONE, ONE) };
    assert_eq!(
        orders.gate.check_new(&unknown, &market(), &TradingView::ACTIVE, NOW),
        Err(Reject::UnknownInstrument)
    );
    let far = NewOrder { venue: 3, ..orders.order(0, Side::Buy, 100 * ONE, ONE) };
    assert_eq!(
        orders.gate.check_new(&far, &market(), &TradingView::ACTIVE, NOW),
        Err(Reject::UnknownInstrument)
    );
}

#[test]
fn a_restarted_gate_restores_working_orders_and_positions_and_judges_new_orders_against_them() {
    let mut orders = gate();
    orders.gate.restore_position(0, AAPL, 600 * ONE).unwrap();
    let working = orders.order(0, Side::Buy, 99 * ONE, 300 * ONE);
    orders.gate.restore_working(&working).unwrap();
    assert_eq!(orders.gate.exposure().venue(0, 0).worst_long(), 900 * ONE);
    assert_eq!(orders.send(0, Side::Buy, 99 * ONE, 101 * ONE), Err(Reject::VenuePositionLimit));
    assert!(orders.send(0, Side::Buy, 98 * ONE, 100 * ONE).is_ok(), "exactly to the 1,000 limit");
    let old = NewOrder { id: 1, ..orders.order(0, Side::Buy, 98 * ONE, ONE) };
    assert_eq!(
        orders.gate.check_new(&old, &market(), &TradingView::ACTIVE, NOW),
        Err(Reject::DuplicateOrderId)
    );
    assert_eq!(orders.gate.restore_position(0, 77, ONE), Err(Reject::UnknownInstrument));
}

#[test]
fn an_order_that_reduces_a_position_already_past_its_limit_passes() {
    let mut orders = gate();
    orders.gate.restore_position(0, AAPL, 1_200 * ONE).unwrap(); // past the 1,000 venue limit
    assert_eq!(orders.send(0, Side::Buy, 100 * ONE, ONE), Err(Reject::VenuePositionLimit));
    assert!(orders.send(0, Side::Sell, 100 * ONE, 10 * ONE).is_ok(), "a sell brings it back");
}

#[test]
fn limits_that_cannot_work_are_refused_by_name() {
    let mut bad = limits();
    bad.symbols[1].tick = 0;
    assert_eq!(
        Gate::new(bad, 0).unwrap_err(),
        LimitsError::Symbol { instrument: MSFT, what: "tick must be positive" }
    );
    let mut twice = limits();
    twice.symbols[1].instrument = AAPL;
    assert_eq!(Gate::new(twice, 0).unwrap_err().to_string(), "instrument 1 is configured twice");
    let mut none = limits();
    none.venues = 0;
    assert!(Gate::new(none, 0).is_err());
}

#[test]
fn a_replace_pending_over_a_restart_is_restored_as_the_replacement_answering_to_both_ids() {
    let mut orders = gate();
    let original = orders.order(0, Side::Buy, 99 * ONE, 300 * ONE);
    let replacement = NewOrder { id: original.id + 1, price: 98 * ONE, quantity: 200 * ONE, ..original };
    orders.gate.restore_replacing(original.id, &replacement).unwrap();
    orders.next_id = replacement.id;
    assert_eq!(orders.gate.exposure().venue(0, 0).worst_long(), 200 * ONE, "counted as the replacement");
    orders.gate.filled(0, AAPL, original.id, 50 * ONE); // a fill of the original before the venue acted
    assert_eq!(
        orders.gate.exposure().venue(0, 0).worst_long(),
        200 * ONE,
        "filled, still open in the worst case"
    );
    orders.gate.done(0, AAPL, replacement.id);
    assert_eq!(orders.gate.exposure().venue(0, 0).worst_long(), 50 * ONE, "only the fill is left");
    let reused = NewOrder { id: replacement.id, ..orders.order(0, Side::Buy, 98 * ONE, 100 * ONE) };
    assert_eq!(
        orders.gate.check_new(&reused, &market(), &TradingView::ACTIVE, NOW),
        Err(Reject::DuplicateOrderId),
        "the replacement's id is never used again"
    );
}

#[test]
fn an_order_must_fit_in_the_room_the_risk_worker_leaves_unless_it_only_reduces() {
    let mut orders = gate();
    let long = orders.send(0, Side::Buy, 100 * ONE, 10 * ONE).unwrap();
    orders.gate.filled(0, AAPL, long, 10 * ONE);
    let room = |symbol_room: i64, portfolio_room: i64| TradingView {
        symbol_room,
        portfolio_room,
        ..TradingView::ACTIVE
    };
    let thousand = 1_000 * ONE; // the notional of 10 at 100
    let mut check = |view: TradingView, side: Side, price: i64| {
        let order = orders.order(0, side, price, 10 * ONE);
        orders.gate.check_new(&order, &market(), &view, NOW)
    };
    assert_eq!(
        check(room(thousand - 1, i64::MAX), Side::Buy, 100 * ONE),
        Err(Reject::RiskHeadroom),
        "the symbol's"
    );
    assert_eq!(
        check(room(i64::MAX, thousand - 1), Side::Buy, 100 * ONE),
        Err(Reject::RiskHeadroom),
        "the portfolio's"
    );
    assert!(check(room(thousand, thousand), Side::Buy, 100 * ONE).is_ok(), "exactly the room left");
    let reduce = check(room(-1, -1), Side::Sell, 101 * ONE);
    assert!(reduce.is_ok(), "a sale that only reduces the long needs no room: {reduce:?}");
}
