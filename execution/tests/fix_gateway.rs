//! The FIX gateway against venue B over loopback TCP: an order's life reaches the OMS; a
//! connection that dies with fills in flight resumes its session and the venue replays the
//! fills and the cancels of its cancel-on-disconnect, each once; an execution worker that dies
//! with orders open, restarted from its journal and its session store, learns from the replay
//! what it never read, and ends holding the venue's positions and open orders; and a venue
//! that restarted answers a resume with a fresh session, which the gateway reports; and an
//! engine resumed on venue B takes an order the venue never saw as rejected once the replay
//! is done.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

mod common;

use common::proxy::Proxy;
use common::Venue;
use execution::engine::{Engine, Wiring};
use execution::gate_tap::GateTap;
use execution::gateway::fix::{FixGateway, FixLogin};
use execution::gateway::{apply, Gateway, OrderEntry, VenueReport};
use execution::journal::{self, Entry, Writer};
use execution::metrics::EngineMetrics;
use execution::oms::{Replacement, Report};
use execution::{Oms, OrderState};
use risk::{Gate, Limits, NewOrder, PortfolioLimits, Side};
use shm_layout::records::TradingStateRecord;
use shm_layout::{realtime_ns, slots, SegmentOptions};
use venues::fix_server::{FixVenueConfig, FixVenueServer};
use venues::flow::{MarketSpec, VenueSpec};
use venues::matching::OutsideLedger;

const ONE: i64 = 1_000_000_000;
const MSFT: u32 = 2;
/// MSFT's index among the OMS's instruments and among the venue's symbols alike.
const MSFT_INDEX: usize = 1;
const VENUE: usize = 1;
const WAIT: Duration = Duration::from_secs(5);
const SYMBOLS: [(&str, u32); 3] = [("AAPL", 1), ("MSFT", MSFT), ("SPY", 3)];

/// Venue B with its flow stopped, so only the test's orders trade; once stopped, it tells
/// what outside clients did on MSFT (its own record of our fills and open orders).
fn start_venue() -> (Venue, Receiver<OutsideLedger>) {
    let market = MarketSpec::equities(34, &[("AAPL", 1_900_000), ("MSFT", 4_200_000), ("SPY", 5_600_000)]);
    let mut config = FixVenueConfig::new(market, VenueSpec::new(2, 5_000.0));
    config.flow_for_ns = Some(0);
    let mut server = FixVenueServer::bind(config).unwrap();
    let addr = server.local_addr().unwrap();
    let (ledger, ledger_out) = mpsc::channel();
    let venue = Venue::run(addr, move |stop| {
        server.run(stop).unwrap();
        // A test that does not look has dropped the receiver.
        let _ = ledger.send(server.venue().engine(MSFT_INDEX).outside());
    });
    (venue, ledger_out)
}

/// A directory of its own for `tag`'s journal and session stores, emptied.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickrail-fix-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn login(sender: &str, dir: &Path) -> FixLogin {
    FixLogin {
        sender_comp_id: sender.into(),
        target_comp_id: "VENUEB".into(),
        store: dir.join(format!("{sender}.fixseq")),
        timeout: WAIT,
    }
}

/// Logs on to `addr` as `sender`, resuming from `delivered` if its store (in `dir`) has a
/// number.
fn connect(addr: std::net::SocketAddr, sender: &str, dir: &Path, delivered: u64) -> FixGateway {
    FixGateway::connect(addr, &login(sender, dir), delivered, VENUE, &SYMBOLS).unwrap()
}

fn order(id: u64, side: Side, price: i64, shares: i64) -> NewOrder {
    NewOrder { id, venue: VENUE, instrument: MSFT, side, price: price * ONE, quantity: shares * ONE }
}

fn next_report(gateway: &mut FixGateway) -> VenueReport {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(report) = gateway.poll().unwrap() {
            return report;
        }
        assert!(Instant::now() < deadline, "no report within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The reports that come until those taken are `enough` (waiting at most [`WAIT`] for each),
/// then any that follow within 100 ms (where a duplicate would show).
fn reports_until(gateway: &mut FixGateway, enough: impl Fn(&[VenueReport]) -> bool) -> Vec<VenueReport> {
    let mut reports = Vec::new();
    while !enough(&reports) {
        reports.push(next_report(gateway));
    }
    let quiet = Instant::now() + Duration::from_millis(100);
    while Instant::now() < quiet {
        match gateway.poll().unwrap() {
            Some(report) => reports.push(report),
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    reports
}

fn fills(reports: &[VenueReport]) -> Vec<(u64, Report)> {
    reports.iter().filter(|r| matches!(r.report, Report::Fill { .. })).map(|r| (r.id, r.report)).collect()
}

/// What one execution worker keeps: its OMS and its journal, fed together as the engine
/// feeds them (each report with the session's next number).
struct Books {
    oms: Oms,
    journal: Writer,
}

impl Books {
    fn new(path: &Path) -> Self {
        Self { oms: Oms::new(&[1, MSFT, 3], 3, 64), journal: Writer::open(path, 4096).unwrap().0 }
    }

    fn send(&mut self, gateway: &mut FixGateway, order: &NewOrder) {
        self.oms.sent(order).unwrap();
        self.journal.append(&Entry::Sent(*order)).unwrap();
        gateway.send_new(order).unwrap();
        gateway.flush().unwrap();
    }

    fn take(&mut self, gateway: &FixGateway, report: VenueReport) {
        apply(&mut self.oms, &report).unwrap();
        self.journal.append(&Entry::Sequenced(report, VENUE, gateway.next_sequence())).unwrap();
    }
}

/// Our open orders as (id, state, open quantity), by id.
fn open_orders(oms: &Oms) -> Vec<(u64, OrderState, i64)> {
    let mut open: Vec<_> = oms.open_orders().map(|o| (o.id, o.state, o.open())).collect();
    open.sort_unstable_by_key(|o| o.0);
    open
}

fn cancels(reports: &[VenueReport]) -> Vec<u64> {
    let mut ids: Vec<u64> = reports.iter().filter(|r| r.report == Report::Canceled).map(|r| r.id).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn an_orders_life_reaches_the_oms_with_fills_a_replace_and_a_cancel() {
    let (venue, _) = start_venue();
    let dir = scratch("life");
    let mut trader = connect(venue.addr, "TRADER", &dir, 0);
    let mut other = connect(venue.addr, "OTHER", &dir, 0);
    assert!(!trader.replays_missed(), "a fresh session has nothing to replay");
    let mut oms = Oms::new(&[1, MSFT, 3], 3, 64);
    let buy = order(1, Side::Buy, 400, 200);
    oms.sent(&buy).unwrap();
    trader.send_new(&buy).unwrap();
    trader.flush().unwrap();
    let accepted = next_report(&mut trader);
    assert_eq!((accepted.id, accepted.report), (1, Report::Accepted));
    apply(&mut oms, &accepted).unwrap();

    other.send_new(&order(1, Side::Sell, 400, 80)).unwrap();
    other.flush().unwrap();
    let fill = next_report(&mut trader);
    assert_eq!(fill.report, Report::Fill { quantity: 80 * ONE, price: 400 * ONE });
    apply(&mut oms, &fill).unwrap();
    assert_eq!(oms.positions().venue(MSFT_INDEX, VENUE).quantity, 80 * ONE);

    let replacement = Replacement { id: 2, price: 399 * ONE, quantity: 150 * ONE };
    let original = *oms.replace_requested(1, replacement).unwrap();
    trader.send_replace(&original, &replacement).unwrap();
    trader.flush().unwrap();
    let replaced = next_report(&mut trader);
    assert_eq!((replaced.id, replaced.report), (1, Report::Replaced));
    apply(&mut oms, &replaced).unwrap();
    let now = *oms.order(2).unwrap();
    assert_eq!(
        (now.state, now.filled, now.open(), now.price),
        (OrderState::PartiallyFilled, 80 * ONE, 70 * ONE, 399 * ONE)
    );

    let cancelling = *oms.cancel_requested(2).unwrap();
    trader.send_cancel(&cancelling).unwrap();
    trader.flush().unwrap();
    apply(&mut oms, &next_report(&mut trader)).unwrap();
    assert_eq!(oms.order(2).unwrap().state, OrderState::Canceled);
    venue.stop();
}

#[test]
fn a_connection_that_dies_with_fills_in_flight_resumes_and_gets_the_fills_and_each_cancel_once() {
    let (venue, ledger) = start_venue();
    let proxy = Proxy::start(venue.addr);
    let dir = scratch("resume");
    let mut trader = connect(proxy.addr, "TRADER", &dir, 0);
    let mut other = connect(venue.addr, "OTHER", &dir, 0);
    let mut oms = Oms::new(&[1, MSFT, 3], 3, 64);
    for (id, price) in [(1, 400), (2, 399), (3, 398)] {
        let bid = order(id, Side::Buy, price, 100);
        oms.sent(&bid).unwrap();
        trader.send_new(&bid).unwrap();
        trader.flush().unwrap();
        apply(&mut oms, &next_report(&mut trader)).unwrap();
    }

    // The venue fills two of our bids, but the fills never reach us: the connection dies
    // with them in flight, and the venue cancels what is left of our orders.
    proxy.hold(true);
    other.send_new(&order(1, Side::Sell, 398, 150)).unwrap();
    other.flush().unwrap();
    // The seller hearing of both trades shows the venue has sent ours.
    reports_until(&mut other, |theirs| fills(theirs).len() == 2);
    proxy.cut();
    let deadline = Instant::now() + WAIT;
    loop {
        match trader.poll() {
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Ok(Some(report)) => panic!("{report:?} was held, then dropped by the cut"),
            Err(_) => break,
        }
        assert!(Instant::now() < deadline, "the gateway sees its connection end");
    }

    trader.reconnect().unwrap();
    assert!(trader.replays_missed(), "the venue resumed our session");
    let replayed = reports_until(&mut trader, |replayed| replayed.len() == 4);
    for report in &replayed {
        apply(&mut oms, report).expect("each report applies once");
    }
    assert_eq!(
        fills(&replayed),
        [
            (1, Report::Fill { quantity: 100 * ONE, price: 400 * ONE }),
            (2, Report::Fill { quantity: 50 * ONE, price: 399 * ONE }),
        ]
    );
    assert_eq!(cancels(&replayed), [2, 3], "cancelled on disconnect, each reported once");
    assert_eq!(oms.open_orders().count(), 0);
    assert_eq!(oms.positions().venue(MSFT_INDEX, VENUE).quantity, 150 * ONE);
    proxy.stop();
    venue.stop();
    let ledger = ledger.recv().unwrap();
    assert_eq!((ledger.bought, ledger.open_buys), (150, 0), "the venue's record agrees");
}

#[test]
fn a_worker_that_dies_with_orders_open_restarted_from_its_journal_holds_the_venues_positions() {
    let (venue, ledger) = start_venue();
    let dir = scratch("restart");
    let path = dir.join("execution.journal");
    let mut trader = connect(venue.addr, "TRADER", &dir, 0);
    let mut other = connect(venue.addr, "OTHER", &dir, 0);
    let mut books = Books::new(&path);
    for (id, price) in [(1, 400), (2, 399), (3, 398)] {
        books.send(&mut trader, &order(id, Side::Buy, price, 100));
        let report = next_report(&mut trader);
        books.take(&trader, report);
    }
    other.send_new(&order(1, Side::Sell, 400, 60)).unwrap();
    other.flush().unwrap();
    let fill = next_report(&mut trader);
    books.take(&trader, fill);

    // The venue fills us again; the worker is killed before it reads the fill (which the
    // venue has sent: the seller has heard of the trade).
    other.send_new(&order(2, Side::Sell, 399, 70)).unwrap();
    other.flush().unwrap();
    reports_until(&mut other, |theirs| fills(theirs).iter().any(|&(id, _)| id == 2));
    drop(trader);
    drop(books);

    // A new worker: its OMS from the journal, its session resumed from the journal's number
    // and the store's.
    let contents = journal::read(&path).unwrap();
    let mut restarted = Oms::new(&[1, MSFT, 3], 3, 64);
    journal::rebuild(&mut restarted, &contents.entries).unwrap();
    assert_eq!(restarted.open_orders().count(), 3, "the journal holds the orders as they were");
    let delivered = journal::delivered(&contents.entries, VENUE);
    let mut trader = connect(venue.addr, "TRADER", &dir, delivered);
    assert!(trader.replays_missed());
    let replayed = reports_until(&mut trader, |replayed| replayed.len() == 4);
    for report in &replayed {
        apply(&mut restarted, report).expect("nothing the journal holds comes again");
    }
    assert_eq!(
        fills(&replayed),
        [
            (1, Report::Fill { quantity: 40 * ONE, price: 400 * ONE }),
            (2, Report::Fill { quantity: 30 * ONE, price: 399 * ONE })
        ]
    );
    assert_eq!(cancels(&replayed), [2, 3], "the venue cancelled what was left when we died");
    assert_eq!(open_orders(&restarted), []);
    let held = restarted.positions().venue(MSFT_INDEX, VENUE).quantity;
    assert_eq!(held, 130 * ONE);
    venue.stop();
    let ledger = ledger.recv().unwrap();
    assert_eq!((ledger.bought as i64 * ONE, ledger.open_buys), (held, 0), "the venue's record agrees");
}

#[test]
fn a_venue_that_restarted_answers_a_resume_with_a_fresh_session() {
    let dir = scratch("venue-restart");
    let (first, _) = start_venue();
    let mut trader = connect(first.addr, "TRADER", &dir, 0);
    trader.send_new(&order(1, Side::Buy, 400, 100)).unwrap();
    trader.flush().unwrap();
    let accepted = next_report(&mut trader);
    let delivered = trader.next_sequence();
    drop(trader);
    first.stop();
    assert_eq!(accepted.report, Report::Accepted);

    let (second, _) = start_venue();
    let mut trader = connect(second.addr, "TRADER", &dir, delivered);
    assert!(!trader.replays_missed(), "nothing of the old session is left to replay");
    trader.send_new(&order(2, Side::Buy, 400, 100)).unwrap();
    trader.flush().unwrap();
    let accepted = next_report(&mut trader);
    assert_eq!((accepted.id, accepted.report), (2, Report::Accepted));
    second.stop();
}

#[test]
fn a_resumed_engine_takes_an_order_the_venue_never_saw_as_rejected_once_the_replay_is_done() {
    let (venue, _) = start_venue();
    let dir = scratch("never-seen");
    // A first worker logs on and goes: the venue parks its session.
    drop(connect(venue.addr, "TRKRN", &dir, 0));
    // Its journal says it sent order 5, which never reached the venue.
    let journal_path = dir.join("execution.journal");
    let (mut journal, _) = Writer::open(&journal_path, 4096).unwrap();
    journal.append(&Entry::Sent(order(5, Side::Buy, 420, 100))).unwrap();
    drop(journal);

    let (journal, contents) = Writer::open(&journal_path, 4096).unwrap();
    let mut oms = Oms::new(&[1, MSFT, 3], 3, 64);
    journal::rebuild(&mut oms, &contents.entries).unwrap();
    let gateway = connect(venue.addr, "TRKRN", &dir, journal::delivered(&contents.entries, VENUE));
    assert!(gateway.replays_missed(), "the venue resumed the parked session");
    let trading_name = format!("/tickrail-fix-never-seen-{}.trading", std::process::id());
    let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
    let _trading =
        slots::Writer::create(&trading_name, 4, std::mem::size_of::<TradingStateRecord>() as u32, &options)
            .unwrap();
    let wiring = Wiring {
        gateways: vec![None, Some(Gateway::Fix(gateway)), None],
        books: vec![None, None, None],
        trading: slots::Reader::open(&trading_name).unwrap(),
        reports: None,
        strategy: None,
        symbols: Vec::new(),
        max_book_age_ns: 1_000_000_000,
    };
    let limits = Limits {
        symbols: Vec::new(),
        portfolio: PortfolioLimits {
            max_gross_notional: 0,
            max_net_notional: 0,
            max_working_orders: 0,
            max_risk_heartbeat_age_ns: 0,
        },
        venues: 3,
        max_working_per_venue_symbol: 1,
    };
    let metrics_name = format!("/tickrail-fix-never-seen-{}.metrics", std::process::id());
    let metrics = EngineMetrics::create(&metrics_name, &options).unwrap();
    let gate = GateTap::new(Gate::new(limits, realtime_ns()).unwrap(), None);
    let mut engine = Engine::new(wiring, gate, oms, journal, metrics, journal::last_id(&contents.entries));
    engine.take_over().unwrap();
    let deadline = Instant::now() + WAIT;
    while engine.oms().order(5).map(|o| o.state) != Some(OrderState::Rejected) {
        assert!(Instant::now() < deadline, "order 5 is still {:?}", engine.oms().order(5));
        engine.turn().unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(engine);
    for name in [&trading_name, &metrics_name] {
        shm_layout::unlink(name).unwrap();
    }
    venue.stop();
}
