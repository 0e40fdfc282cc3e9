//! The gate tap: a record per gate call, in order, after one saying a gate starts, each holding
//! what the gate saw and what it said; and the gate behaves exactly as without a tap.

use execution::gate_tap::GateTap;
use risk::{Gate, Limits, MarketView, NewOrder, PortfolioLimits, Reject, Side, SymbolLimits, TradingView};
use shm_layout::broadcast::{self, StartAt};
use shm_layout::records::{gate_call, side, GateCallRecord, Layout};
use shm_layout::{RingGeometry, SegmentOptions};

const ONE: i64 = 1_000_000_000;
const AAPL: u32 = 1;

fn limits() -> Limits {
    Limits {
        symbols: vec![SymbolLimits {
            instrument: AAPL,
            tick: ONE / 100,
            lot: ONE,
            min_quantity: ONE,
            max_quantity: 100 * ONE,
            max_notional: 100_000 * i128::from(ONE),
            price_band_bps: 100,
            max_position: 1_000 * ONE,
            max_venue_position: 1_000 * ONE,
            max_working_orders: 8,
            order_rate_per_s: 1_000,
            order_burst: 100,
            cancel_rate_per_s: 1_000,
            cancel_burst: 100,
            max_book_age_ns: 1_000_000_000,
        }],
        portfolio: PortfolioLimits {
            max_gross_notional: 10_000_000 * i128::from(ONE),
            max_net_notional: 10_000_000 * i128::from(ONE),
            max_working_orders: 16,
            max_risk_heartbeat_age_ns: 1_000_000_000,
        },
        venues: 1,
        max_working_per_venue_symbol: 4,
    }
}

#[test]
fn every_call_is_published_with_what_the_gate_saw_and_said_after_a_start() {
    let name = format!("/execution-gate-tap-{}", std::process::id());
    let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
    let size = std::mem::size_of::<GateCallRecord>() as u32;
    let geometry = RingGeometry { capacity: 64, max_message_size: size, max_readers: 1 };
    let ring = broadcast::Writer::create(&name, geometry, &options).unwrap();
    let mut reader = broadcast::Reader::attach(&name, StartAt::Oldest).unwrap();
    let mut tap = GateTap::new(Gate::new(limits(), 0).unwrap(), Some(ring));
    let mut plain = Gate::new(limits(), 0).unwrap();

    let market = MarketView { reference_price: 100 * ONE, published_ns: 5_000, stale: false };
    let trading = TradingView { risk_heartbeat_age_ns: 7, ..TradingView::ACTIVE };
    let buy =
        NewOrder { id: 1, venue: 0, instrument: AAPL, side: Side::Buy, price: 100 * ONE, quantity: 10 * ONE };
    let off_tick = NewOrder { id: 2, price: 100 * ONE + 1, side: Side::Sell, ..buy };
    for gate_result in [
        (tap.check_new(&buy, &market, &trading, 6_000), plain.check_new(&buy, &market, &trading, 6_000)),
        (
            tap.check_new(&off_tick, &market, &trading, 6_001),
            plain.check_new(&off_tick, &market, &trading, 6_001),
        ),
    ] {
        assert_eq!(gate_result.0, gate_result.1, "the tap changes nothing the gate says");
    }
    tap.filled(0, AAPL, 1, 4 * ONE);
    tap.done(0, AAPL, 1);
    assert_eq!(tap.passed(), 1, "the gate is read through the tap");

    let mut bytes = vec![0u8; 8 * size as usize];
    let (count, lost) = reader.read_records(&mut bytes, size as usize).unwrap();
    assert_eq!((count, lost), (5, 0));
    let records: Vec<GateCallRecord> =
        bytes.chunks_exact(size as usize).take(count).map(GateCallRecord::from_bytes).collect();
    let calls: Vec<(u8, u64, u8)> = records.iter().map(|r| (r.call, r.header.sequence, r.outcome)).collect();
    assert_eq!(
        calls,
        vec![
            (gate_call::STARTED, 0, 0),
            (gate_call::NEW, 1, 0),
            (gate_call::NEW, 2, Reject::OffTick.code() + 1),
            (gate_call::FILLED, 3, 0),
            (gate_call::DONE, 4, 0),
        ]
    );
    let sell = records[2];
    assert_eq!(
        (sell.order_id, sell.side, sell.price, sell.quantity),
        (2, side::ASK, 100 * ONE + 1, 10 * ONE)
    );
    assert_eq!(
        (sell.reference_price, sell.book_published_ns, sell.now_ns, sell.risk_heartbeat_age_ns),
        (100 * ONE, 5_000, 6_001, 7)
    );
    assert_eq!((records[3].order_id, records[3].quantity), (1, 4 * ONE));
    drop(reader);
    shm_layout::unlink(&name).unwrap();
}
