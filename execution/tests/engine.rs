//! The execution loop end to end against venue A over loopback, with books and the trading
//! state written into shared memory by the test: the market maker's quotes reach the venue
//! through the gate; a moved book replaces them; a halt pulls them; a kill cancels everything;
//! every step is journalled and timed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

use common::proxy::Proxy;
use common::Venue;
use execution::engine::{Engine, SymbolBook, Wiring};
use execution::gate_tap::GateTap;
use execution::gateway::ouch::OuchGateway;
use execution::gateway::Gateway;
use execution::journal::{self, Writer};
use execution::metrics::{Counter, EngineMetrics, EngineReport};
use execution::oms::Report;
use execution::strategy::{MarketMaker, MarketMakerConfig};
use execution::strategy_link::{link, LoopEnd, StrategyEnd, StrategyEvent, StrategyRequest};
use execution::{Oms, OrderState};
use protocols::ouch_client::ClientConfig;
use protocols::soupbintcp_session::Timing;
use risk::{Gate, Limits, PortfolioLimits, Side, SymbolLimits};
use shm_layout::records::{
    report_kind, trading_state, ExecutionReportRecord, Layout, Level, TopOfBook, TradingStateRecord, NO_LIMIT,
};
use shm_layout::{queue, realtime_ns, slots, Received, SegmentOptions};

const ONE: i64 = 1_000_000_000;
const CENT: i64 = ONE / 100;
const AAPL: u32 = 1;
const REPORT_SIZE: u32 = std::mem::size_of::<ExecutionReportRecord>() as u32;

/// Every record in the reports queue `name`, in order.
fn reports_in(name: &str) -> Vec<ExecutionReportRecord> {
    let mut reader = queue::Reader::attach(name).unwrap();
    let mut bytes = [0u8; REPORT_SIZE as usize];
    let mut records = Vec::new();
    while let Received::Message { .. } = reader.try_pop(&mut bytes).unwrap() {
        records.push(ExecutionReportRecord::from_bytes(&bytes));
    }
    records
}

/// The segments the test writes: venue A's books and the trading state.
struct Market {
    books: slots::Writer,
    trading: slots::Writer,
    names: [String; 3],
}

impl Market {
    fn new(tag: &str) -> Self {
        let prefix = format!("/execution-engine-{tag}-{}", std::process::id());
        let names = [format!("{prefix}.books"), format!("{prefix}.trading"), format!("{prefix}.metrics")];
        let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
        let books =
            slots::Writer::create(&names[0], 16, std::mem::size_of::<TopOfBook>() as u32, &options).unwrap();
        let size = std::mem::size_of::<TradingStateRecord>() as u32;
        let trading = slots::Writer::create(&names[1], 16, size, &options).unwrap();
        let mut market = Self { books, trading, names };
        market.state(trading_state::ACTIVE);
        market
    }

    fn book(&mut self, bid_cents: i64, ask_cents: i64) {
        let mut top = TopOfBook { instrument_id: AAPL, bid_levels: 1, ask_levels: 1, ..TopOfBook::default() };
        top.bids[0] = Level { price: bid_cents * CENT, quantity: 500 * ONE };
        top.asks[0] = Level { price: ask_cents * CENT, quantity: 500 * ONE };
        top.header.receive_ts_ns = realtime_ns();
        top.header.publish_ts_ns = realtime_ns();
        self.books.write(u64::from(AAPL), top.as_bytes()).unwrap();
    }

    /// Sets the global state, and AAPL's to active.
    fn state(&mut self, state: u8) {
        self.states(state, trading_state::ACTIVE);
    }

    fn states(&mut self, global: u8, aapl: u8) {
        for (key, state) in [(0, global), (u64::from(AAPL), aapl)] {
            let record = TradingStateRecord {
                instrument_id: key as u32,
                state,
                exposure_room: NO_LIMIT,
                ..TradingStateRecord::default()
            };
            self.trading.write(key, record.as_bytes()).unwrap();
        }
        self.trading.heartbeat();
    }
}

impl Drop for Market {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = shm_layout::unlink(name);
        }
    }
}

fn limits() -> Limits {
    Limits {
        symbols: vec![SymbolLimits {
            instrument: AAPL,
            tick: CENT,
            lot: 100 * ONE,
            min_quantity: 100 * ONE,
            max_quantity: 1_000 * ONE,
            max_notional: 1_000_000 * i128::from(ONE),
            price_band_bps: 100,
            max_position: 1_000 * ONE,
            max_venue_position: 1_000 * ONE,
            max_working_orders: 8,
            order_rate_per_s: 1_000,
            order_burst: 100,
            cancel_rate_per_s: 1_000,
            cancel_burst: 100,
            max_book_age_ns: 5_000_000_000,
        }],
        portfolio: PortfolioLimits {
            max_gross_notional: 10_000_000 * i128::from(ONE),
            max_net_notional: 10_000_000 * i128::from(ONE),
            max_working_orders: 16,
            // The test writes the heartbeat only when it changes the state.
            max_risk_heartbeat_age_ns: 600_000_000_000,
        },
        venues: 1,
        max_working_per_venue_symbol: 4,
    }
}

/// A market maker for AAPL on `venues` venues.
fn maker_on(venues: usize) -> MarketMaker {
    let config = MarketMakerConfig {
        tick: CENT,
        lot: 100 * ONE,
        half_spread_ticks: 2,
        level_spacing_ticks: 2,
        levels: 1,
        size: 100 * ONE,
        skew_ticks_per_lot: 0,
        tolerance_ticks: 2,
        fee_bps: 1,
        arbitrage_margin_ticks: 1,
        arbitrage_size: 100 * ONE,
        no_replace: [false; 3],
        max_position: 1_000 * ONE,
        max_venue_position: 1_000 * ONE,
    };
    MarketMaker::new(AAPL, venues, config)
}

/// Turns the engine until `done` holds (at most 5 s).
fn turn_until(engine: &mut Engine, what: &str, done: impl Fn(&Engine) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(engine) {
        assert!(
            Instant::now() < deadline,
            "{what}: open {:?}, gate rejections {:?}",
            open_quotes(engine),
            engine.gate().rejections().iter().enumerate().filter(|(_, n)| **n > 0).collect::<Vec<_>>()
        );
        if !engine.turn().unwrap() {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

fn open_quotes(engine: &Engine) -> Vec<(Side, i64, OrderState)> {
    let mut quotes: Vec<_> = engine.oms().open_orders().map(|o| (o.side, o.price / CENT, o.state)).collect();
    quotes.sort_by_key(|q| q.1);
    quotes
}

fn journal_named(tag: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("tickrail-engine-{tag}-{}.journal", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// An engine trading AAPL on venue A over `market`'s segments, quoted by `maker` or by the
/// strategy at the other end of `strategy`, taking over from what the journal at
/// `journal_path` holds, as the worker does.
fn engine_on(
    venue: SocketAddr,
    market: &Market,
    journal_path: &Path,
    maker: Option<MarketMaker>,
    strategy: Option<LoopEnd>,
    reports: Option<queue::Writer>,
) -> Engine {
    let config = ClientConfig {
        username: "ALICE".into(),
        password: "pw-a".into(),
        session: String::new(),
        timing: Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_secs(2) },
    };
    let (journal, contents) = Writer::open(journal_path, 1 << 16).unwrap();
    let mut oms = Oms::new(&[AAPL], 1, 256);
    journal::rebuild(&mut oms, &contents.entries).unwrap();
    let delivered = journal::delivered(&contents.entries, 0);
    let gateway = OuchGateway::connect(venue, &config, delivered, 0, &[("AAPL", AAPL)], "TRKR").unwrap();
    let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
    let wiring = Wiring {
        gateways: vec![Some(Gateway::Ouch(gateway))],
        books: vec![Some(slots::Reader::open(&market.names[0]).unwrap())],
        trading: slots::Reader::open(&market.names[1]).unwrap(),
        reports,
        strategy,
        symbols: vec![SymbolBook { instrument: AAPL, listed: [true, false, false], maker }],
        max_book_age_ns: 5_000_000_000,
    };
    // A restarted engine carries on its predecessor's metrics, as the worker does.
    let metrics = EngineMetrics::attach(&market.names[2])
        .or_else(|_| EngineMetrics::create(&market.names[2], &options))
        .unwrap();
    let gate = GateTap::new(Gate::new(limits(), realtime_ns()).unwrap(), None);
    let mut engine = Engine::new(wiring, gate, oms, journal, metrics, journal::last_id(&contents.entries));
    engine.take_over().unwrap();
    engine
}

#[test]
fn a_restarted_engine_pulls_the_quotes_its_predecessor_left_working_and_quotes_anew() {
    let venue = Venue::ouch(
        &[("ALICE", "pw-a")],
        Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_secs(2) },
        None,
    );
    let mut market = Market::new("orphans");
    market.book(18_999, 19_001);
    let journal_path = journal_named("orphans");
    let mut first = engine_on(venue.addr, &market, &journal_path, Some(maker_on(1)), None, None);
    turn_until(&mut first, "both quotes are accepted", |e| {
        e.oms().open_orders().filter(|o| o.state == OrderState::New).count() == 2
    });
    let left: Vec<u64> = first.oms().open_orders().map(|o| o.id).collect();
    drop(first); // dies with its quotes working at venue A, which keeps them

    let mut second = engine_on(venue.addr, &market, &journal_path, Some(maker_on(1)), None, None);
    turn_until(&mut second, "the old quotes are cancelled and two new ones work", |e| {
        left.iter().all(|id| e.oms().order(*id).is_some_and(|o| o.state == OrderState::Canceled))
            && e.oms().open_orders().filter(|o| o.state == OrderState::New).count() == 2
    });
    assert!(second.oms().open_orders().all(|o| !left.contains(&o.id)));
    drop(second);
    venue.stop();
}

#[test]
fn quotes_reach_the_venue_follow_the_book_are_pulled_on_a_halt_and_cancelled_on_a_kill() {
    let venue = Venue::ouch(
        &[("ALICE", "pw-a")],
        Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_secs(2) },
        None,
    );
    let mut market = Market::new("life");
    market.book(18_999, 19_001);
    let journal_path = journal_named("life");
    let reports_name = format!("{}.reports", market.names[2]);
    let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
    let reports = queue::Writer::create(&reports_name, 1 << 10, REPORT_SIZE, &options).unwrap();
    let mut engine = engine_on(venue.addr, &market, &journal_path, Some(maker_on(1)), None, Some(reports));

    turn_until(&mut engine, "both quotes are accepted", |e| {
        e.oms().open_orders().filter(|o| o.state == OrderState::New).count() == 2
    });
    assert_eq!(
        open_quotes(&engine),
        [(Side::Buy, 18_998, OrderState::New), (Side::Sell, 19_002, OrderState::New)]
    );

    market.book(19_009, 19_011); // ten cents up: past the tolerance
    turn_until(&mut engine, "both quotes are replaced", |e| {
        open_quotes(e).iter().map(|q| q.1).collect::<Vec<_>>() == [19_008, 19_012]
            && e.oms().open_orders().all(|o| o.state == OrderState::New)
    });

    market.state(trading_state::HALTED);
    turn_until(&mut engine, "a halt pulls the quotes", |e| e.oms().open_orders().next().is_none());
    market.book(19_029, 19_031);
    for _ in 0..1_000 {
        engine.turn().unwrap();
    }
    assert!(engine.oms().open_orders().next().is_none(), "nothing new while halted");

    market.state(trading_state::ACTIVE);
    market.book(19_030, 19_032);
    turn_until(&mut engine, "quoting again", |e| {
        e.oms().open_orders().filter(|o| o.state == OrderState::New).count() == 2
    });

    market.states(trading_state::ACTIVE, trading_state::KILLED);
    turn_until(&mut engine, "killing AAPL alone cancels its quotes", |e| {
        e.oms().open_orders().next().is_none()
    });
    market.state(trading_state::ACTIVE);
    market.book(19_031, 19_033);
    turn_until(&mut engine, "quoting AAPL again", |e| {
        e.oms().open_orders().filter(|o| o.state == OrderState::New).count() == 2
    });

    market.state(trading_state::KILLED);
    turn_until(&mut engine, "the kill switch cancels everything", |e| e.oms().open_orders().next().is_none());
    market.book(19_050, 19_052);
    for _ in 0..1_000 {
        engine.turn().unwrap();
    }
    assert!(engine.oms().open_orders().next().is_none(), "nothing new while killed");

    let report = EngineReport::read(&market.names[2]).unwrap();
    assert!(report.get(Counter::Orders) >= 4 && report.get(Counter::Kills) == 1, "{report:?}");
    assert!(report.tick_to_trade.count >= 4, "every order is timed from its tick");
    for (stage, histogram) in &report.stages {
        assert_eq!(histogram.count, report.tick_to_trade.count, "every order is timed by stage: {stage:?}");
    }
    let records = reports_in(&reports_name);
    let applied = report.get(Counter::Reports) - report.get(Counter::ReportsRefused);
    assert_eq!(records.len() as u64, applied, "every report applied went to the risk queue");
    assert!(records.iter().enumerate().all(|(at, r)| r.header.sequence == at as u64));
    let count = |kind: u8| records.iter().filter(|r| r.kind == kind).count();
    let replaced = count(report_kind::REPLACED);
    // A replaced quote carries on under its new id, so each quote accepted ends in one cancel.
    assert_eq!(count(report_kind::CANCELED), count(report_kind::ACCEPTED), "every quote ended");
    assert!(
        replaced >= 2 && records.iter().all(|r| (r.kind == report_kind::REPLACED) == (r.replacement_id > 0))
    );
    shm_layout::unlink(&reports_name).unwrap();
    drop(engine);
    let mut rebuilt = Oms::new(&[AAPL], 1, 256);
    journal::rebuild(&mut rebuilt, &journal::read(&journal_path).unwrap().entries).unwrap();
    assert!(rebuilt.open_orders().next().is_none(), "the journal tells the same story");
    venue.stop();
}

/// Turns the engine until the linked strategy hears something `wanted` (at most 5 s); what
/// it heard up to then.
fn hear_until(
    engine: &mut Engine,
    strategy: &StrategyEnd,
    what: &str,
    wanted: impl Fn(&StrategyEvent) -> bool,
) -> Vec<StrategyEvent> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut heard = Vec::new();
    while !heard.iter().any(&wanted) {
        assert!(Instant::now() < deadline, "{what}: heard {heard:?}");
        engine.turn().unwrap();
        strategy.take(Duration::from_micros(200), 64, &mut heard).unwrap();
    }
    heard
}

#[test]
fn a_linked_strategy_hears_books_and_its_orders_news_and_its_orders_pass_the_gate() {
    let venue = Venue::ouch(
        &[("ALICE", "pw-a")],
        Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_secs(2) },
        None,
    );
    let mut market = Market::new("linked");
    market.book(18_999, 19_001);
    let (loop_end, strategy) = link(64);
    let journal_path = journal_named("linked");
    let mut engine = engine_on(venue.addr, &market, &journal_path, None, Some(loop_end), None);

    let heard = hear_until(&mut engine, &strategy, "a book", |e| matches!(e, StrategyEvent::Book(_)));
    let StrategyEvent::Book(book) = heard[0] else { panic!("{heard:?}") };
    assert_eq!((book.instrument, book.tops[0].bid, book.tops[0].ask), (AAPL, 18_999 * CENT, 19_001 * CENT));
    assert!(book.tops[0].usable && book.receive_ns > 0);

    let bid = |tag: u64, price: i64| StrategyRequest::New {
        tag,
        venue: 0,
        instrument: AAPL,
        side: Side::Buy,
        price,
        quantity: 100 * ONE,
        tick_ns: book.receive_ns,
    };
    strategy.send(bid(1, 18_999 * CENT + 1)).unwrap(); // off the tick
    let heard =
        hear_until(&mut engine, &strategy, "the refusal", |e| matches!(e, StrategyEvent::Refused { .. }));
    assert!(heard.contains(&StrategyEvent::Refused { tag: 1, reason: risk::Reject::OffTick }), "{heard:?}");

    strategy.send(bid(2, 18_990 * CENT)).unwrap();
    let heard = hear_until(&mut engine, &strategy, "the acceptance", |e| {
        matches!(e, StrategyEvent::Report { report: Report::Accepted, .. })
    });
    let id = heard
        .iter()
        .find_map(|e| match e {
            StrategyEvent::Sent { tag: 2, id } => Some(*id),
            _ => None,
        })
        .expect("sent under an id");
    assert_eq!(engine.oms().order(id).map(|o| o.state), Some(OrderState::New));

    strategy.send(StrategyRequest::Cancel { id }).unwrap();
    hear_until(
        &mut engine,
        &strategy,
        "the cancel",
        |e| matches!(e, StrategyEvent::Report { id: cancelled, report: Report::Canceled, leaves: 0, .. } if *cancelled == id),
    );
    let report = EngineReport::read(&market.names[2]).unwrap();
    assert_eq!(report.linked_tick_to_trade.count, 1, "the linked strategy's order is timed apart");
    assert_eq!(report.tick_to_trade.count, 0);
    venue.stop();
}

#[test]
fn a_venue_slow_to_log_on_again_does_not_hold_the_loop_and_quoting_resumes_once_it_answers() {
    let venue = Venue::ouch(
        &[("ALICE", "pw-a")],
        Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_secs(2) },
        None,
    );
    let proxy = Proxy::start(venue.addr);
    let mut market = Market::new("slow");
    market.book(18_999, 19_001);
    let journal_path = journal_named("slow");
    let mut engine = engine_on(proxy.addr, &market, &journal_path, Some(maker_on(1)), None, None);
    turn_until(&mut engine, "both quotes are accepted", |e| {
        e.oms().open_orders().filter(|o| o.state == OrderState::New).count() == 2
    });

    proxy.cut();
    proxy.hold(true); // the venue's answer to our next logon waits in the relay
    let mut longest = Duration::ZERO;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(400) {
        let turn = Instant::now();
        engine.turn().unwrap();
        longest = longest.max(turn.elapsed());
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(longest < Duration::from_millis(250), "a turn took {longest:?} while the venue did not answer");
    assert_eq!(EngineReport::read(&market.names[2]).unwrap().get(Counter::Disconnects), 1);

    proxy.hold(false);
    market.book(19_009, 19_011);
    turn_until(&mut engine, "the quotes follow the book once the venue is back", |e| {
        open_quotes(e) == [(Side::Buy, 19_008, OrderState::New), (Side::Sell, 19_012, OrderState::New)]
    });
    drop(engine);
    proxy.stop();
    venue.stop();
}

#[test]
fn an_arbitrage_goes_out_with_both_legs_or_not_at_all() {
    let timing = Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_secs(2) };
    let venues =
        [Venue::ouch(&[("ALICE", "pw-a")], timing, None), Venue::ouch(&[("ALICE", "pw-a")], timing, None)];
    let mut markets = [Market::new("arb-0"), Market::new("arb-1")];
    markets[0].book(18_999, 19_001);
    markets[1].book(18_999, 19_001);
    let config =
        ClientConfig { username: "ALICE".into(), password: "pw-a".into(), session: String::new(), timing };
    let gateways = venues
        .iter()
        .enumerate()
        .map(|(at, v)| {
            Some(Gateway::Ouch(
                OuchGateway::connect(v.addr, &config, 1, at, &[("AAPL", AAPL)], "TRKR").unwrap(),
            ))
        })
        .collect();
    let wiring = Wiring {
        gateways,
        books: markets.iter().map(|m| Some(slots::Reader::open(&m.names[0]).unwrap())).collect(),
        trading: slots::Reader::open(&markets[0].names[1]).unwrap(),
        reports: None,
        strategy: None,
        symbols: vec![SymbolBook { instrument: AAPL, listed: [true, true, false], maker: Some(maker_on(2)) }],
        max_book_age_ns: 5_000_000_000,
    };
    // Room for the four quotes and one more order in all: an arbitrage's first leg fits, its
    // second does not.
    let mut limits = limits();
    limits.venues = 2;
    limits.portfolio.max_working_orders = 5;
    let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
    let metrics = EngineMetrics::create(&markets[0].names[2], &options).unwrap();
    let (journal, _) = Writer::open(&journal_named("arb"), 1 << 16).unwrap();
    let gate = GateTap::new(Gate::new(limits, realtime_ns()).unwrap(), None);
    let mut engine = Engine::new(wiring, gate, Oms::new(&[AAPL], 2, 256), journal, metrics, 0);
    turn_until(&mut engine, "four quotes are accepted", |e| {
        e.oms().open_orders().filter(|o| o.state == OrderState::New).count() == 4
    });

    markets[1].book(19_010, 19_012); // venue 1 bids 190.10, venue 0 offers at 190.01
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        engine.turn().unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let report = EngineReport::read(&markets[0].names[2]).unwrap();
    let refused = report.rejections.iter().find(|(r, _)| *r == risk::Reject::TooManyWorkingOrders).unwrap().1;
    assert!(refused >= 1, "the second leg was refused: {report:?}");
    let at_the_touch =
        |o: &&execution::Order| o.side == Side::Buy && o.venue == 0 && o.price == 19_001 * CENT;
    assert_eq!(
        engine.oms().open_orders().filter(at_the_touch).count(),
        0,
        "the first leg did not go out alone"
    );
    assert!(engine.oms().open_orders().count() <= 4);
    drop(engine);
    venues.into_iter().for_each(Venue::stop);
}
