//! The risk worker on real segments: a breach a report causes is in the trading slots, with
//! its reason, within a bounded time, and the gate reading them rejects what it must; a book marks positions; an operator's command clears a
//! latch (which latches again while the breach stands); reloaded limits are judged at once; a
//! stale heartbeat of a watched segment kills trading; a restarted worker keeps the states the
//! slots hold, and replays the reports its queue was read past; every report taken is copied
//! on to the forward queue; and every event applied is published, in order, for shadow mode.

use std::time::{Duration, Instant};

use risk::breach::{PortfolioRiskLimits, SymbolRiskLimits};
use risk::worker::{RiskWorker, WorkerConfig};
use risk::{
    Gate, Limits, MarketView, NewOrder, PortfolioLimits, Reject, Side, SymbolLimits as GateLimits,
    TradingState, TradingView,
};
use shm_layout::broadcast::{self, StartAt};
use shm_layout::records::{
    order_state, report_kind, side, state_reason, ExecutionReportRecord, Layout, Level, MarkRecord, Record,
    RecordHeader, TopOfBook, TradingStateRecord, NO_LIMIT,
};
use shm_layout::{queue, slots, Received, RingGeometry, SegmentOptions};

const ONE: i64 = 1_000_000_000;
const CASH: i128 = ONE as i128;
const AAPL: u32 = 1;
const MSFT: u32 = 2;

/// The segments a risk worker reads and writes, removed when dropped.
struct Segments {
    names: Vec<String>,
    reports: queue::Writer,
    commands: queue::Writer,
    books: slots::Writer,
    heartbeat: slots::Writer,
}

impl Segments {
    fn new(tag: &str) -> Self {
        let prefix = format!("/risk-worker-{tag}-{}", std::process::id());
        let names: Vec<String> = ["reports", "commands", "trading", "books", "feed", "forward", "events"]
            .iter()
            .map(|n| format!("{prefix}.{n}"))
            .collect();
        let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
        let report_size = std::mem::size_of::<ExecutionReportRecord>() as u32;
        let state_size = std::mem::size_of::<TradingStateRecord>() as u32;
        let reports = queue::Writer::create(&names[0], 1 << 10, report_size, &options).unwrap();
        let commands = queue::Writer::create(&names[1], 1 << 6, state_size, &options).unwrap();
        drop(slots::Writer::create(&names[2], 16, state_size, &options).unwrap());
        let book_size = std::mem::size_of::<TopOfBook>() as u32;
        let books = slots::Writer::create(&names[3], 16, book_size, &options).unwrap();
        let heartbeat = slots::Writer::create(&names[4], 16, book_size, &options).unwrap();
        heartbeat.heartbeat();
        drop(queue::Writer::create(&names[5], 1 << 10, report_size, &options).unwrap());
        let geometry = RingGeometry { capacity: 1 << 10, max_message_size: report_size, max_readers: 1 };
        drop(broadcast::Writer::create(&names[6], geometry, &options).unwrap());
        Self { names, reports, commands, books, heartbeat }
    }

    fn config(&self, symbols: Vec<SymbolRiskLimits>, portfolio: PortfolioRiskLimits) -> WorkerConfig {
        WorkerConfig {
            symbols,
            portfolio,
            books: vec![Some(self.names[3].clone()), None],
            reports: self.names[0].clone(),
            commands: self.names[1].clone(),
            forward: Some(self.names[5].clone()),
            events: Some(self.names[6].clone()),
            trading: self.names[2].clone(),
            watched: vec![self.names[4].clone()],
            max_heartbeat_age: Duration::from_millis(300),
            threads: 2,
            cores: Vec::new(),
            mark_every: Duration::from_millis(1),
            idle: Duration::from_millis(1),
            spin: false,
            replay: Vec::new(),
        }
    }

    fn fill(&mut self, order_id: u64, instrument: u32, buy: bool, price: i64, quantity: i64) {
        assert!(self.reports.try_push(fill(order_id, instrument, buy, price, quantity).as_bytes()).unwrap());
    }

    fn book(&mut self, instrument: u32, bid: i64, ask: i64) {
        let mut top =
            TopOfBook { instrument_id: instrument, bid_levels: 1, ask_levels: 1, ..TopOfBook::default() };
        top.bids[0] = Level { price: bid * ONE, quantity: 100 * ONE };
        top.asks[0] = Level { price: ask * ONE, quantity: 100 * ONE };
        self.books.write(u64::from(instrument), top.as_bytes()).unwrap();
    }

    fn command(&mut self, key: u32, state: TradingState) {
        let record =
            TradingStateRecord { instrument_id: key, state: state as u8, ..TradingStateRecord::default() };
        assert!(self.commands.try_push(record.as_bytes()).unwrap());
    }

    /// The state and reason in the slots for `key` now, if written.
    fn state(&self, key: u32) -> Option<(TradingState, u8)> {
        let reader = slots::Reader::open(&self.names[2]).unwrap();
        let mut record = [0u8; std::mem::size_of::<TradingStateRecord>()];
        let held = reader
            .read(u64::from(key), &mut record)
            .unwrap()
            .map(|_| TradingStateRecord::from_bytes(&record));
        held.map(|r| (TradingState::from_code(r.state).unwrap(), r.reason))
    }

    /// The state and reason in the slots for `key`, once they are `state` (or after 5 s).
    fn wait_for(&self, key: u32, state: TradingState) -> (TradingState, u8) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = self.state(key);
            if now.is_some_and(|(s, _)| s == state) || Instant::now() > deadline {
                return now.unwrap_or((TradingState::Killed, u8::MAX));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A fill of the whole of order `order_id` on venue 1.
fn fill(order_id: u64, instrument: u32, buy: bool, price: i64, quantity: i64) -> ExecutionReportRecord {
    ExecutionReportRecord {
        header: RecordHeader {
            msg_type: ExecutionReportRecord::TYPE_ID,
            length: std::mem::size_of::<ExecutionReportRecord>() as u32,
            ..RecordHeader::default()
        },
        instrument_id: instrument,
        venue: 1,
        side: if buy { side::BID } else { side::ASK },
        kind: report_kind::FILL,
        state: order_state::FILLED,
        order_id,
        price: price * ONE,
        quantity: quantity * ONE,
        ..ExecutionReportRecord::default()
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = shm_layout::unlink(name);
        }
    }
}

/// What the pre-trade gate says of `order` with the trading states the slots hold now, long 10
/// AAPL (as the fills in these tests leave it) and a fresh book at 95.
fn gate_says(segments: &Segments, side: Side, quantity: i64) -> Result<(), Reject> {
    let reader = slots::Reader::open(&segments.names[2]).unwrap();
    let mut record = [0u8; std::mem::size_of::<TradingStateRecord>()];
    let mut state = |key: u32| {
        reader.read(u64::from(key), &mut record).unwrap();
        TradingStateRecord::from_bytes(&record).state
    };
    let limits = Limits {
        symbols: vec![GateLimits {
            instrument: AAPL,
            tick: ONE / 100,
            lot: ONE,
            min_quantity: ONE,
            max_quantity: 100 * ONE,
            max_notional: 100_000 * CASH,
            price_band_bps: 500,
            max_position: 1_000 * ONE,
            max_venue_position: 1_000 * ONE,
            max_working_orders: 8,
            order_rate_per_s: 100,
            order_burst: 10,
            cancel_rate_per_s: 100,
            cancel_burst: 10,
            max_book_age_ns: 1_000_000_000,
        }],
        portfolio: PortfolioLimits {
            max_gross_notional: 10_000_000 * CASH,
            max_net_notional: 10_000_000 * CASH,
            max_working_orders: 16,
            max_risk_heartbeat_age_ns: 1_000_000_000,
        },
        venues: 2,
        max_working_per_venue_symbol: 4,
    };
    let mut gate = Gate::new(limits, 0).unwrap();
    gate.restore_position(1, AAPL, 10 * ONE).unwrap();
    let trading = TradingView { global: state(0), symbol: state(AAPL), ..TradingView::ACTIVE };
    let market = MarketView { reference_price: 95 * ONE, published_ns: 1_000, stale: false };
    let order =
        NewOrder { id: 1, venue: 1, instrument: AAPL, side, price: 95 * ONE, quantity: quantity * ONE };
    gate.check_new(&order, &market, &trading, 1_000)
}

fn symbol(instrument: u32, max_loss: Option<i128>) -> SymbolRiskLimits {
    SymbolRiskLimits { instrument, max_loss, max_drawdown: None, max_exposure: None }
}

#[test]
fn a_loss_past_its_limit_halts_the_symbol_until_an_operator_clears_it_and_the_portfolio_too() {
    let mut segments = Segments::new("loss");
    let portfolio = PortfolioRiskLimits { max_loss: Some(150 * CASH), ..PortfolioRiskLimits::default() };
    let worker = RiskWorker::start(
        segments.config(vec![symbol(AAPL, Some(100 * CASH)), symbol(MSFT, None)], portfolio),
    )
    .unwrap();
    assert_eq!(segments.wait_for(AAPL, TradingState::Active).0, TradingState::Active, "written at start");
    segments.fill(1, AAPL, true, 100, 10);
    segments.book(AAPL, 89, 91); // long 10 from 100 at 90: -100, at the limit
    segments.fill(2, MSFT, false, 50, 10);
    segments.book(MSFT, 50, 50);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        segments.wait_for(AAPL, TradingState::Active).0,
        TradingState::Active,
        "at the limit is within it"
    );
    segments.book(AAPL, 88, 90); // -110
    assert_eq!(segments.wait_for(AAPL, TradingState::Halted), (TradingState::Halted, state_reason::LIMIT));
    assert_eq!(gate_says(&segments, Side::Sell, 5), Err(Reject::Halted), "halted: not even a sale passes");
    assert_eq!(segments.wait_for(MSFT, TradingState::Active).0, TradingState::Active, "MSFT trades on");

    segments.book(MSFT, 55, 55); // short 10 from 50 at 55: -50; the portfolio -160
    assert_eq!(segments.wait_for(0, TradingState::Halted), (TradingState::Halted, state_reason::LIMIT));

    segments.book(AAPL, 99, 101); // back to flat P&L: the latch holds
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(segments.wait_for(AAPL, TradingState::Halted).0, TradingState::Halted, "latched");
    segments.command(AAPL, TradingState::Active);
    assert_eq!(segments.wait_for(AAPL, TradingState::Active), (TradingState::Active, state_reason::OPERATOR));
    segments.book(AAPL, 80, 80);
    assert_eq!(segments.wait_for(AAPL, TradingState::Halted).0, TradingState::Halted, "breached again");

    let changes = worker.changes();
    let causes: Vec<_> = changes.iter().map(|l| (l.change.key, l.change.to)).collect();
    assert!(causes.contains(&(AAPL, TradingState::Halted)) && causes.contains(&(0, TradingState::Halted)));
    std::thread::sleep(Duration::from_millis(50)); // the list of symbols shown is at most 10 ms old
    let (symbols, whole) = worker.view();
    let aapl = symbols.iter().find(|s| s.risk.instrument == AAPL).unwrap();
    assert_eq!((aapl.risk.pnl, aapl.headroom.loss), (-200 * CASH, Some(-100 * CASH)));
    assert_eq!(whole.risk.totals.pnl, -250 * CASH);
    // The rooms are in the slots the gate reads, beside the states.
    let slots = slots::Reader::open(&segments.names[2]).unwrap();
    let mut bytes = [0u8; std::mem::size_of::<TradingStateRecord>()];
    slots.read(u64::from(AAPL), &mut bytes).unwrap();
    let aapl = TradingStateRecord::from_bytes(&bytes);
    assert_eq!((aapl.loss_room, aapl.exposure_room), ((-100 * CASH) as i64, NO_LIMIT), "lost 200 of 100");
    slots.read(0, &mut bytes).unwrap();
    assert_eq!(
        TradingStateRecord::from_bytes(&bytes).loss_room,
        (-100 * CASH) as i64,
        "the portfolio's: 250 of 150"
    );
    assert_eq!(worker.reports(), (2, 0));
    let mut forwarded = queue::Reader::attach(&segments.names[5]).unwrap();
    let mut record = [0u8; std::mem::size_of::<ExecutionReportRecord>()];
    let mut orders = Vec::new();
    while let Received::Message { .. } = forwarded.try_pop(&mut record).unwrap() {
        orders.push(ExecutionReportRecord::from_bytes(&record).order_id);
    }
    assert_eq!((orders, worker.forwards_dropped()), (vec![1, 2], 0), "every report copied on, in order");

    // Every event applied, in the order routed (the reports, each book as it was marked), with
    // every state written right after the event that caused it.
    let mut events = broadcast::Reader::attach(&segments.names[6], StartAt::Oldest).unwrap();
    let mut bytes = [0u8; std::mem::size_of::<ExecutionReportRecord>()];
    let mut seen = Vec::new();
    while let Received::Message { .. } = events.try_read(&mut bytes).unwrap() {
        seen.push(match u16::from_le_bytes([bytes[0], bytes[1]]) {
            ExecutionReportRecord::TYPE_ID => {
                format!("report {}", ExecutionReportRecord::from_bytes(&bytes).order_id)
            }
            MarkRecord::TYPE_ID => {
                let mark = MarkRecord::from_bytes(&bytes);
                format!("mark {} {}", mark.instrument_id, mark.bid / ONE)
            }
            TradingStateRecord::TYPE_ID => {
                let state = TradingStateRecord::from_bytes(&bytes);
                format!("state {} {} {}", state.instrument_id, state.state, state.reason)
            }
            other => panic!("an event of type {other}"),
        });
    }
    let at =
        |event: &str| seen.iter().position(|e| e == event).unwrap_or_else(|| panic!("{event} in {seen:?}"));
    assert_eq!(seen[0], format!("state 0 {} {}", TradingState::Active as u8, state_reason::START));
    assert!(
        at("report 1") < at("report 2")
            && at("mark 1 89") < at("mark 1 88")
            && at("mark 1 99") < at("mark 1 80")
    );
    let halted = |key| format!("state {key} {} {}", TradingState::Halted as u8, state_reason::LIMIT);
    assert_eq!(at(&halted(AAPL)), at("mark 1 88") + 1, "the breach right after the book that caused it");
    assert_eq!(at(&halted(0)), at("mark 2 55") + 1);
    worker.stop().unwrap();
}

#[test]
fn reloaded_limits_are_judged_at_once_and_a_restarted_worker_keeps_the_states_in_the_slots() {
    let mut segments = Segments::new("reload");
    let limits = vec![symbol(AAPL, None)];
    let worker = RiskWorker::start(segments.config(limits.clone(), PortfolioRiskLimits::default())).unwrap();
    segments.fill(1, AAPL, true, 100, 10);
    segments.book(AAPL, 94, 96);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(segments.wait_for(AAPL, TradingState::Active).0, TradingState::Active);
    let tighter = SymbolRiskLimits { max_exposure: Some(900 * CASH), ..symbol(AAPL, None) };
    worker.set_limits(vec![tighter], PortfolioRiskLimits::default());
    assert_eq!(
        segments.wait_for(AAPL, TradingState::ReduceOnly),
        (TradingState::ReduceOnly, state_reason::LIMIT)
    );
    assert_eq!(gate_says(&segments, Side::Buy, 1), Err(Reject::ReduceOnly), "reduce-only: no more bought");
    assert_eq!(gate_says(&segments, Side::Sell, 5), Ok(()), "a sale reduces the position");
    segments.command(0, TradingState::Killed);
    assert_eq!(segments.wait_for(0, TradingState::Killed).0, TradingState::Killed);
    worker.stop().unwrap();

    let again = RiskWorker::start(segments.config(limits, PortfolioRiskLimits::default())).unwrap();
    let killed = segments.wait_for(0, TradingState::Killed);
    assert_eq!(killed, (TradingState::Killed, state_reason::OPERATOR), "the kill survives, with its reason");
    let reduced = segments.wait_for(AAPL, TradingState::ReduceOnly);
    assert_eq!(reduced, (TradingState::ReduceOnly, state_reason::LIMIT));
    segments.command(0, TradingState::Active);
    assert_eq!(segments.wait_for(0, TradingState::Active).0, TradingState::Active);
    again.stop().unwrap();
}

#[test]
fn a_watched_heartbeat_gone_stale_kills_trading() {
    let segments = Segments::new("stale");
    let worker =
        RiskWorker::start(segments.config(vec![symbol(AAPL, None)], PortfolioRiskLimits::default())).unwrap();
    assert_eq!(segments.wait_for(0, TradingState::Active).0, TradingState::Active);
    let beating = Instant::now();
    while beating.elapsed() < Duration::from_millis(500) {
        segments.heartbeat.heartbeat();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(segments.wait_for(0, TradingState::Active).0, TradingState::Active, "alive while it beats");
    let killed = segments.wait_for(0, TradingState::Killed);
    assert_eq!(killed, (TradingState::Killed, state_reason::STALE_HEARTBEAT));
    let logged = worker.changes().into_iter().find(|l| l.change.to == TradingState::Killed).unwrap();
    assert_eq!(logged.segment.and_then(|s| worker.watched(s)), Some(segments.names[4].as_str()));
    worker.stop().unwrap();
}

#[test]
fn a_watched_writer_still_starting_is_given_time_before_its_silence_kills_trading() {
    // The supervisor created the segment (a first beat) and its writer has not started yet.
    let segments = Segments::new("starting");
    let worker =
        RiskWorker::start(segments.config(vec![symbol(AAPL, None)], PortfolioRiskLimits::default())).unwrap();
    assert_eq!(segments.wait_for(0, TradingState::Active).0, TradingState::Active);
    std::thread::sleep(Duration::from_millis(900)); // three times the largest age
    assert_eq!(segments.state(0).map(|(s, _)| s), Some(TradingState::Active), "a writer still starting");
    // It starts, beats, and goes quiet: now its silence counts.
    segments.heartbeat.heartbeat();
    let killed = segments.wait_for(0, TradingState::Killed);
    assert_eq!(killed, (TradingState::Killed, state_reason::STALE_HEARTBEAT));
    worker.stop().unwrap();
}

#[test]
fn a_restarted_worker_replays_the_reports_its_queue_was_read_past_and_carries_on_from_the_queue() {
    let mut segments = Segments::new("replay");
    let limits = vec![symbol(AAPL, Some(150 * CASH))];
    let first = RiskWorker::start(segments.config(limits.clone(), PortfolioRiskLimits::default())).unwrap();
    segments.fill(1, AAPL, true, 100, 10);
    segments.fill(2, AAPL, false, 90, 10); // -100 realized
    let deadline = Instant::now() + Duration::from_secs(5);
    while first.reports().0 < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    first.stop().unwrap();
    segments.fill(3, AAPL, true, 100, 10);
    segments.fill(4, AAPL, false, 90, 10); // -200 in all: past the limit only with what came before

    let mut config = segments.config(limits, PortfolioRiskLimits::default());
    // The journal holds all four; the queue was read past the first two.
    config.replay = [(1, true, 100), (2, false, 90), (3, true, 100), (4, false, 90)]
        .iter()
        .map(|&(id, buy, price)| fill(id, AAPL, buy, price, 10))
        .collect();
    let again = RiskWorker::start(config).unwrap();
    assert_eq!(segments.wait_for(AAPL, TradingState::Halted), (TradingState::Halted, state_reason::LIMIT));
    std::thread::sleep(Duration::from_millis(50)); // the list of symbols shown is at most 10 ms old
    let (symbols, _) = again.view();
    assert_eq!(symbols[0].risk.realized, -200 * CASH, "each report applied once");
    again.stop().unwrap();
}
