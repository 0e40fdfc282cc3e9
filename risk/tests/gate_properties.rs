//! Whatever orders, fills and cancels come, no order the gate passes can take a worst-case
//! position past its limits, and the gate's working quantities are its working orders'.

use proptest::prelude::*;
use risk::{Gate, Limits, MarketView, NewOrder, PortfolioLimits, Side, SymbolLimits, TradingView};

const ONE: i64 = 1_000_000_000;
const NOW: u64 = 1_000_000_000_000;

fn limits() -> Limits {
    let symbol = SymbolLimits {
        instrument: 1,
        tick: ONE / 100,
        lot: ONE,
        min_quantity: ONE,
        max_quantity: 300 * ONE,
        max_notional: i128::MAX,
        price_band_bps: 500,
        max_position: 600 * ONE,
        max_venue_position: 400 * ONE,
        max_working_orders: 10,
        order_rate_per_s: 1_000_000,
        order_burst: 1_000,
        cancel_rate_per_s: 1_000_000,
        cancel_burst: 1_000,
        max_book_age_ns: u64::MAX,
    };
    Limits {
        symbols: vec![symbol],
        portfolio: PortfolioLimits {
            max_gross_notional: i128::MAX,
            max_net_notional: i128::MAX,
            max_working_orders: 100,
            max_risk_heartbeat_age_ns: u64::MAX,
        },
        venues: 2,
        max_working_per_venue_symbol: 6,
    }
}

#[derive(Debug, Clone)]
enum Step {
    New { venue: usize, buy: bool, ticks_off: i64, quantity: i64 },
    Fill { pick: usize, quantity: i64 },
    Cancel { pick: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..2usize, any::<bool>(), -300..300i64, 1..300i64)
            .prop_map(|(venue, buy, ticks_off, quantity)| Step::New { venue, buy, ticks_off, quantity }),
        (0..20usize, 1..300i64).prop_map(|(pick, quantity)| Step::Fill { pick, quantity }),
        (0..20usize).prop_map(|pick| Step::Cancel { pick }),
    ]
}

proptest! {
    #[test]
    fn passed_orders_never_break_a_position_limit(steps in proptest::collection::vec(step(), 1..120)) {
        let limits = limits();
        let symbol = limits.symbols[0];
        let mut gate = Gate::new(limits, NOW).unwrap();
        let market = MarketView { reference_price: 100 * ONE, published_ns: NOW, stale: false };
        let mut working: Vec<(usize, u64)> = Vec::new();
        for (n, step) in steps.into_iter().enumerate() {
            match step {
                Step::New { venue, buy, ticks_off, quantity } => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let price = 100 * ONE + ticks_off * symbol.tick;
                    let order = NewOrder { id: n as u64 + 1, venue, instrument: 1, side, price, quantity: quantity * ONE };
                    if gate.check_new(&order, &market, &TradingView::ACTIVE, NOW).is_ok() {
                        working.push((venue, order.id));
                    }
                }
                Step::Fill { pick, quantity } if !working.is_empty() => {
                    let (venue, id) = working[pick % working.len()];
                    gate.filled(venue, 1, id, quantity * ONE);
                }
                Step::Cancel { pick } if !working.is_empty() => {
                    let (venue, id) = working.swap_remove(pick % working.len());
                    gate.done(venue, 1, id);
                }
                _ => {}
            }
            working.retain(|&(venue, id)| gate.own_orders(venue, 1).unwrap().get(id).is_some());
            let all = gate.exposure().symbol(0);
            prop_assert!(all.worst_long() <= symbol.max_position && all.worst_short() >= -symbol.max_position);
            for venue in 0..2 {
                let held = gate.exposure().venue(0, venue);
                prop_assert!(held.worst_long() <= symbol.max_venue_position);
                prop_assert!(held.worst_short() >= -symbol.max_venue_position);
                let own = gate.own_orders(venue, 1).unwrap();
                let open = |side: Side| -> i64 {
                    working.iter().filter(|w| w.0 == venue).filter_map(|w| own.get(w.1)).filter(|o| o.side == side).map(|o| o.open).sum()
                };
                prop_assert_eq!((held.working_buy, held.working_sell), (open(Side::Buy), open(Side::Sell)));
            }
        }
    }
}
