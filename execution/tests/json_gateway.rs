//! The JSON gateway against venue C's order channel over loopback: a signed logon; an order's
//! life (accepted, filled, cancelled; a refused place and a refused cancel named by order);
//! the venue cancelling our orders when our session drops, which the OMS then says; and
//! recovery: a gateway that reconnects, or a worker restarted from its journal, hears every
//! report the venue made meanwhile (fills and cancel-on-disconnect cancels) exactly once.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

mod common;

use common::Venue;
use execution::gateway::json::{JsonError, JsonGateway};
use execution::gateway::{apply, cancelled_on_disconnect, OrderEntry, VenueReport};
use execution::journal::{self, Entry, Writer};
use execution::oms::{Replacement, Report};
use execution::{Oms, OrderState};
use risk::{NewOrder, Side};
use venues::flow::{MarketSpec, VenueSpec};
use venues::venue_c::DEFAULT_REPORT_RETENTION;
use venues::venue_c_server::{ApiKey, JsonVenueConfig, JsonVenueServer};

const ONE: i64 = 1_000_000_000;
const AAPL: u32 = 1;
const SPY: u32 = 3;
const INSTRUMENTS: [u32; 3] = [AAPL, SPY, 4];
const VENUE: usize = 2;
const WAIT: Duration = Duration::from_secs(5);
const SYMBOLS: [(&str, u32); 3] = [("AAPL", AAPL), ("SPY", SPY), ("NVDA", 4)];
/// Fixed-point units (1e-9) in one of the venue's price units (1e-4).
const PRICE_UNIT: i64 = 100_000;

/// Venue C with almost no flow, and two desks' keys; the server comes back through the
/// receiver once the venue is stopped, so a test can read the venue's own record.
fn start_venue() -> (Venue, Receiver<JsonVenueServer>) {
    start_venue_keeping(DEFAULT_REPORT_RETENTION)
}

/// [`start_venue`], keeping the last `retention` reports of each key.
fn start_venue_keeping(retention: usize) -> (Venue, Receiver<JsonVenueServer>) {
    let market = MarketSpec::equities(11, &[("AAPL", 1_900_000), ("SPY", 5_600_000), ("NVDA", 1_300_000)]);
    let keys = vec![
        ApiKey { key: "desk-1".into(), secret: b"secret one".to_vec() },
        ApiKey { key: "desk-2".into(), secret: b"secret two".to_vec() },
    ];
    let mut config = JsonVenueConfig::new(market, VenueSpec::new(3, 0.001), keys);
    config.report_retention = retention;
    let mut server = JsonVenueServer::bind(config).unwrap();
    let addr = server.order_addr().unwrap();
    let (stopped, server_back) = mpsc::channel();
    let venue = Venue::run(addr, move |stop| {
        server.run(stop).unwrap();
        // The test may not want it back.
        let _ = stopped.send(server);
    });
    (venue, server_back)
}

/// Logs on as `key`, resuming from report `delivered` (0: a fresh session).
fn connect(venue: &Venue, key: &str, secret: &[u8], delivered: u64) -> Result<JsonGateway, JsonError> {
    JsonGateway::connect(venue.addr, key, secret, delivered, VENUE, &SYMBOLS, WAIT)
}

fn desk_1(venue: &Venue, delivered: u64) -> JsonGateway {
    connect(venue, "desk-1", b"secret one", delivered).unwrap()
}

fn desk_2(venue: &Venue) -> JsonGateway {
    connect(venue, "desk-2", b"secret two", 0).unwrap()
}

fn order(id: u64, side: Side, cents: i64, shares: i64) -> NewOrder {
    NewOrder { id, venue: VENUE, instrument: AAPL, side, price: cents * ONE / 100, quantity: shares * ONE }
}

fn spy(id: u64, side: Side, cents: i64, shares: i64) -> NewOrder {
    NewOrder { instrument: SPY, ..order(id, side, cents, shares) }
}

fn next_report(gateway: &mut JsonGateway) -> VenueReport {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(report) = gateway.poll().unwrap() {
            return report;
        }
        assert!(Instant::now() < deadline, "no report within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_logon_signed_with_the_wrong_secret_is_refused_by_the_venue() {
    let (venue, _) = start_venue();
    let err = connect(&venue, "desk-1", b"guessed", 0).unwrap_err();
    assert!(matches!(err, JsonError::LogonRefused(_)), "{err}");
    venue.stop();
}

#[test]
fn an_orders_life_reaches_the_oms_and_refusals_name_the_order() {
    let (venue, _) = start_venue();
    let mut desk = desk_1(&venue, 0);
    let mut other = desk_2(&venue);
    let mut oms = Oms::new(&INSTRUMENTS, 3, 64);
    let buy = order(1, Side::Buy, 10_000, 300); // far below the market: it rests
    oms.sent(&buy).unwrap();
    desk.send_new(&buy).unwrap();
    desk.flush().unwrap();
    apply(&mut oms, &next_report(&mut desk)).unwrap();
    assert_eq!(oms.order(1).unwrap().state, OrderState::New);

    other.send_new(&order(1, Side::Sell, 10_000, 100)).unwrap();
    other.flush().unwrap();
    let fill = next_report(&mut desk);
    assert_eq!(fill.report, Report::Fill { quantity: 100 * ONE, price: 100 * ONE });
    apply(&mut oms, &fill).unwrap();
    assert_eq!(oms.positions().venue(0, VENUE).quantity, 100 * ONE);

    let cancelling = *oms.cancel_requested(1).unwrap();
    desk.send_cancel(&cancelling).unwrap();
    desk.flush().unwrap();
    apply(&mut oms, &next_report(&mut desk)).unwrap();
    assert_eq!(oms.order(1).unwrap().state, OrderState::Canceled);
    desk.send_cancel(&cancelling).unwrap();
    desk.flush().unwrap();
    assert_eq!(next_report(&mut desk), VenueReport { id: 1, report: Report::CancelRejected, order: None });

    let zero = NewOrder { price: 0, ..order(2, Side::Buy, 0, 100) };
    desk.send_new(&zero).unwrap();
    desk.flush().unwrap();
    assert_eq!(next_report(&mut desk), VenueReport { id: 2, report: Report::Rejected, order: None });
    let replace = Replacement { id: 3, price: ONE, quantity: ONE };
    assert!(matches!(desk.send_replace(&cancelling, &replace), Err(JsonError::NoReplace(1))));
    venue.stop();
}

#[test]
fn a_dropped_session_cancels_our_orders_at_the_venue_and_the_oms_says_so() {
    let (venue, _) = start_venue();
    let mut desk = desk_1(&venue, 0);
    let mut oms = Oms::new(&INSTRUMENTS, 3, 64);
    for (id, cents) in [(1, 10_000), (2, 9_900)] {
        let buy = order(id, Side::Buy, cents, 100);
        oms.sent(&buy).unwrap();
        desk.send_new(&buy).unwrap();
        desk.flush().unwrap();
        apply(&mut oms, &next_report(&mut desk)).unwrap();
    }
    drop(desk);
    assert_eq!(cancelled_on_disconnect(&mut oms, VENUE).unwrap().len(), 2);
    assert!(oms.open_orders().next().is_none());

    let _desk = desk_1(&venue, 0);
    let mut other = desk_2(&venue);
    std::thread::sleep(Duration::from_millis(200)); // the venue sees our old session end
    other.send_new(&order(1, Side::Sell, 9_900, 100)).unwrap();
    other.flush().unwrap();
    assert_eq!(next_report(&mut other).report, Report::Accepted);
    let until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < until {
        assert!(other.poll().unwrap().is_none(), "nothing of ours is left to trade with");
        std::thread::sleep(Duration::from_millis(1));
    }
    venue.stop();
}

/// Every report that comes until the venue is quiet for `quiet`, in order.
fn drain(gateway: &mut JsonGateway, quiet: Duration) -> Vec<VenueReport> {
    let (mut reports, mut last) = (Vec::new(), Instant::now());
    while last.elapsed() < quiet {
        match gateway.poll().unwrap() {
            Some(report) => {
                reports.push(report);
                last = Instant::now();
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    reports
}

/// Waits (bounded) until `gateway` hears a fill: the venue has then sent the other side's too.
fn await_fill(gateway: &mut JsonGateway) {
    let deadline = Instant::now() + WAIT;
    while !matches!(gateway.poll().unwrap(), Some(VenueReport { report: Report::Fill { .. }, .. })) {
        assert!(Instant::now() < deadline, "no fill within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn fill(id: u64, shares: i64, cents: i64) -> VenueReport {
    VenueReport { id, report: Report::Fill { quantity: shares * ONE, price: cents * ONE / 100 }, order: None }
}

fn canceled(id: u64) -> VenueReport {
    VenueReport { id, report: Report::Canceled, order: None }
}

#[test]
fn a_connection_dropped_while_fills_are_in_flight_recovers_the_fills_and_the_cancels_once() {
    let (venue, _) = start_venue();
    let mut desk = desk_1(&venue, 0);
    let mut other = desk_2(&venue);
    let mut oms = Oms::new(&INSTRUMENTS, 3, 64);
    for (id, cents) in [(1, 10_000), (2, 9_990), (3, 9_980)] {
        let buy = order(id, Side::Buy, cents, 200);
        oms.sent(&buy).unwrap();
        desk.send_new(&buy).unwrap();
        desk.flush().unwrap();
        apply(&mut oms, &next_report(&mut desk)).unwrap();
    }
    assert_eq!(desk.next_sequence(), 4, "three reports delivered");

    // Another desk's sell takes all of order 1 and half of order 2; our reports of it are sent
    // to our connection, which drops (the gateway connects anew) before we read them.
    other.send_new(&order(1, Side::Sell, 9_990, 300)).unwrap();
    other.flush().unwrap();
    await_fill(&mut other);
    desk.reconnect().unwrap();

    assert!(desk.replays_missed(), "the venue resumed our session");
    let missed = drain(&mut desk, Duration::from_millis(200));
    assert_eq!(
        missed,
        [fill(1, 200, 10_000), fill(2, 100, 9_990), canceled(2), canceled(3)],
        "the fills, then the cancels of what the dropped session left open, each once"
    );
    for report in &missed {
        apply(&mut oms, report).expect("each report applies once");
    }
    assert_eq!(desk.next_sequence(), 8);
    assert!(oms.open_orders().next().is_none());
    assert_eq!(oms.positions().venue(0, VENUE).quantity, 300 * ONE);
    venue.stop();
}

fn journal_path(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tickrail-json-gateway-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("execution.journal");
    let _ = std::fs::remove_file(&path);
    path
}

/// Applies `report` as the engine does, journalling it with where the session stands.
fn applied(oms: &mut Oms, journal: &mut Writer, gateway: &JsonGateway, report: &VenueReport) {
    apply(oms, report).unwrap();
    journal.append(&Entry::Sequenced(*report, VENUE, gateway.next_sequence())).unwrap();
}

#[test]
fn a_worker_killed_with_orders_open_is_restarted_from_its_journal_with_the_venues_fills() {
    let (venue, server_back) = start_venue();
    let path = journal_path("killed");
    let (mut journal, contents) = Writer::open(&path, 4096).unwrap();
    let mut desk = desk_1(&venue, journal::delivered(&contents.entries, VENUE));
    let mut other = desk_2(&venue);
    let mut oms = Oms::new(&INSTRUMENTS, 3, 64);
    for (id, cents, shares) in [(1, 56_000, 300), (2, 55_900, 200)] {
        let buy = spy(id, Side::Buy, cents, shares);
        oms.sent(&buy).unwrap();
        journal.append(&Entry::Sent(buy)).unwrap();
        desk.send_new(&buy).unwrap();
        desk.flush().unwrap();
        let report = next_report(&mut desk);
        applied(&mut oms, &mut journal, &desk, &report);
    }

    // The venue fills 100 of order 1 after the worker stopped reading; then it dies.
    other.send_new(&spy(1, Side::Sell, 56_000, 100)).unwrap();
    other.flush().unwrap();
    await_fill(&mut other);
    drop((desk, journal, oms));

    // A new worker: the OMS rebuilt from the journal, logging on from what it had delivered.
    let contents = journal::read(&path).unwrap();
    let mut oms = Oms::new(&INSTRUMENTS, 3, 64);
    journal::rebuild(&mut oms, &contents.entries).unwrap();
    let delivered = journal::delivered(&contents.entries, VENUE);
    assert_eq!(delivered, 3, "the two acceptances were journalled");
    let (mut journal, _) = Writer::open(&path, 4096).unwrap();
    let mut desk = desk_1(&venue, delivered);
    assert!(desk.replays_missed());
    let mut missed = Vec::new();
    let deadline = Instant::now() + WAIT;
    while oms.open_orders().next().is_some() {
        assert!(Instant::now() < deadline, "still open: {:?}", oms.open_orders().collect::<Vec<_>>());
        match desk.poll().unwrap() {
            Some(report) => {
                applied(&mut oms, &mut journal, &desk, &report);
                missed.push(report);
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    assert_eq!(missed, [fill(1, 100, 56_000), canceled(1), canceled(2)], "the fill, then the cancels");
    journal.sync().unwrap();
    drop(journal);
    venue.stop();

    // Our position, rebuilt once more from the journal, is the venue's record of our fills.
    let mut rebuilt = Oms::new(&INSTRUMENTS, 3, 64);
    journal::rebuild(&mut rebuilt, &journal::read(&path).unwrap().entries).unwrap();
    let ours = rebuilt.positions().venue(1, VENUE);
    assert_eq!(ours, oms.positions().venue(1, VENUE));
    let server = server_back.recv_timeout(WAIT).unwrap();
    let spy_at_venue = server.venue().symbol("SPY").unwrap();
    let record = server.venue().engine(spy_at_venue).outside();
    // Desk 2 (the other outside client) only sold: what outside clients bought is ours.
    assert_eq!((record.bought, record.sold), (100, 100));
    assert_eq!(ours.quantity, record.bought as i64 * ONE);
    assert_eq!(ours.average_price, (record.bought_value / u128::from(record.bought)) as i64 * PRICE_UNIT);
    assert_eq!(record.open_buys, 0, "the venue cancelled what we left open");
}

#[test]
fn a_venue_that_cannot_resume_us_starts_a_fresh_session_and_the_gateway_says_so() {
    // A new day: the venue has no reports of ours, whatever our journal says.
    let (venue, _) = start_venue_keeping(2);
    let mut desk = desk_1(&venue, 40);
    assert!(!desk.replays_missed());
    assert_eq!(desk.next_sequence(), 1, "the venue's numbers start again");

    // Reports from before the last two the venue keeps cannot be sent again.
    let mut oms = Oms::new(&INSTRUMENTS, 3, 64);
    for (id, cents) in [(1, 10_000), (2, 9_990), (3, 9_980)] {
        let buy = order(id, Side::Buy, cents, 100);
        oms.sent(&buy).unwrap();
        desk.send_new(&buy).unwrap();
        desk.flush().unwrap();
        apply(&mut oms, &next_report(&mut desk)).unwrap();
    }
    drop(desk);
    let mut desk = desk_1(&venue, 2);
    assert!(!desk.replays_missed(), "report 2 is no longer kept: a fresh session");
    assert_eq!(desk.next_sequence(), 7, "after our three acceptances and the three cancels");
    assert!(drain(&mut desk, Duration::from_millis(100)).is_empty(), "nothing is sent again");
    venue.stop();
}
