//! The FIX gateway against venue B over loopback TCP: an order's life reaches the OMS; when
//! our session drops, the venue cancels our orders and the OMS says so; and an execution
//! worker restarted from its journal holds the venue's open orders (none, after the cancel)
//! and our positions.

use std::time::{Duration, Instant};

mod common;

use common::Venue;
use execution::gateway::fix::FixGateway;
use execution::gateway::{apply, cancelled_on_disconnect, OrderEntry, VenueReport};
use execution::journal::{self, Entry, Writer};
use execution::oms::{Replacement, Report};
use execution::{Oms, OrderState};
use risk::{NewOrder, Side};
use venues::fix_server::{FixVenueConfig, FixVenueServer};
use venues::flow::{MarketSpec, VenueSpec};

const ONE: i64 = 1_000_000_000;
const MSFT: u32 = 2;
const VENUE: usize = 1;
const WAIT: Duration = Duration::from_secs(5);
const SYMBOLS: [(&str, u32); 3] = [("AAPL", 1), ("MSFT", MSFT), ("SPY", 3)];

/// Venue B with its flow stopped, so only the test's orders trade.
fn start_venue() -> Venue {
    let market = MarketSpec::equities(34, &[("AAPL", 1_900_000), ("MSFT", 4_200_000), ("SPY", 5_600_000)]);
    let mut config = FixVenueConfig::new(market, VenueSpec::new(2, 5_000.0));
    config.flow_for_ns = Some(0);
    let mut server = FixVenueServer::bind(config).unwrap();
    let addr = server.local_addr().unwrap();
    Venue::run(addr, move |stop| server.run(stop).map(drop).unwrap())
}

fn connect(venue: &Venue, sender: &str) -> FixGateway {
    FixGateway::connect(venue.addr, sender, "VENUEB", VENUE, &SYMBOLS, WAIT).unwrap()
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

/// What one execution worker keeps: its OMS and its journal, fed together.
struct Books {
    oms: Oms,
    journal: Writer,
}

impl Books {
    fn new(path: &std::path::Path) -> Self {
        Self { oms: Oms::new(&[1, MSFT, 3], 3, 64), journal: Writer::open(path, 4096).unwrap().0 }
    }

    fn send(&mut self, gateway: &mut FixGateway, order: &NewOrder) {
        self.oms.sent(order).unwrap();
        self.journal.append(&Entry::Sent(*order)).unwrap();
        gateway.send_new(order).unwrap();
    }

    fn take(&mut self, report: VenueReport) {
        apply(&mut self.oms, &report).unwrap();
        self.journal.append(&Entry::Report(report)).unwrap();
        self.journal.flush().unwrap();
    }
}

fn journal_path(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tickrail-fix-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("execution.journal");
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn an_orders_life_reaches_the_oms_with_fills_a_replace_and_a_cancel() {
    let venue = start_venue();
    let mut trader = connect(&venue, "TRADER");
    let mut other = connect(&venue, "OTHER");
    let mut oms = Oms::new(&[1, MSFT, 3], 3, 64);
    let buy = order(1, Side::Buy, 400, 200);
    oms.sent(&buy).unwrap();
    trader.send_new(&buy).unwrap();
    let accepted = next_report(&mut trader);
    assert_eq!((accepted.id, accepted.report), (1, Report::Accepted));
    apply(&mut oms, &accepted).unwrap();

    other.send_new(&order(1, Side::Sell, 400, 80)).unwrap();
    let fill = next_report(&mut trader);
    assert_eq!(fill.report, Report::Fill { quantity: 80 * ONE, price: 400 * ONE });
    apply(&mut oms, &fill).unwrap();
    assert_eq!(oms.positions().venue(1, VENUE).quantity, 80 * ONE);

    let replacement = Replacement { id: 2, price: 399 * ONE, quantity: 150 * ONE };
    let original = *oms.replace_requested(1, replacement).unwrap();
    trader.send_replace(&original, &replacement).unwrap();
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
    apply(&mut oms, &next_report(&mut trader)).unwrap();
    assert_eq!(oms.order(2).unwrap().state, OrderState::Canceled);
    venue.stop();
}

#[test]
fn a_dropped_session_cancels_our_orders_at_the_venue_and_a_restart_from_the_journal_agrees() {
    let venue = start_venue();
    let path = journal_path("restart");
    let mut trader = connect(&venue, "TRADER");
    let mut other = connect(&venue, "OTHER");
    let mut books = Books::new(&path);
    for (id, price) in [(1, 400), (2, 399), (3, 398)] {
        books.send(&mut trader, &order(id, Side::Buy, price, 100));
        let report = next_report(&mut trader);
        books.take(report);
    }
    other.send_new(&order(1, Side::Sell, 400, 60)).unwrap();
    let fill = next_report(&mut trader);
    books.take(fill);
    assert_eq!(books.oms.open_orders().count(), 3);

    // The execution worker dies: its session drops, and the venue cancels what it had.
    drop(trader);
    drop(books);
    let mut restarted = Oms::new(&[1, MSFT, 3], 3, 64);
    let contents = journal::read(&path).unwrap();
    journal::rebuild(&mut restarted, &contents.entries).unwrap();
    assert_eq!(restarted.open_orders().count(), 3, "the journal holds the orders as they were");
    assert_eq!(cancelled_on_disconnect(&mut restarted, VENUE).unwrap().len(), 3);
    assert_eq!(restarted.open_orders().count(), 0);
    assert_eq!(restarted.positions().venue(1, VENUE).quantity, 60 * ONE, "the fill survives in the journal");

    // The venue agrees: once it has seen our old connection close (and our new session is up),
    // a seller at our old bids finds nothing of ours to trade with.
    let _trader = connect(&venue, "TRADER");
    std::thread::sleep(Duration::from_millis(200));
    other.send_new(&order(2, Side::Sell, 398, 10)).unwrap();
    let about = |report: &VenueReport| report.id == 2;
    let report = std::iter::repeat_with(|| next_report(&mut other)).find(about).unwrap();
    assert_eq!(report.report, Report::Accepted);
    let until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < until {
        let later = other.poll().unwrap();
        assert!(!later.is_some_and(|r| about(&r)), "it rests: nothing of ours is left to trade with");
        std::thread::sleep(Duration::from_millis(1));
    }
    venue.stop();
}
