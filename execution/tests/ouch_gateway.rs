//! The OUCH gateway against venue A's order entry over loopback TCP: an order's life reaches
//! the OMS; a connection dropped in the middle of a burst recovers every report once; and an
//! OMS restarted from nothing, replaying the day, holds the venue's open orders and our
//! positions.

use std::time::{Duration, Instant};

mod common;

use common::Venue;
use execution::gateway::ouch::{OuchError, OuchGateway};
use execution::gateway::{apply, resend_pending, OrderEntry, VenueReport};
use execution::oms::{Replacement, Report};
use execution::{Oms, OrderState};
use protocols::ouch_client::{ClientConfig, ClientError};
use protocols::soupbintcp_session::Timing;
use risk::{NewOrder, Side};

const ONE: i64 = 1_000_000_000;
const AAPL: u32 = 1;
const VENUE: usize = 0;
const WAIT: Duration = Duration::from_secs(5);

fn timing() -> Timing {
    Timing { heartbeat_interval: Duration::from_millis(50), timeout: Duration::from_millis(500) }
}

fn connect(venue: &Venue, user: &str, next_sequence: u64) -> OuchGateway {
    let password = if user == "ALICE" { "pw-a" } else { "pw-b" };
    let config = ClientConfig {
        username: user.into(),
        password: password.into(),
        session: String::new(),
        timing: timing(),
    };
    OuchGateway::connect(venue.addr, &config, next_sequence, VENUE, &[("AAPL", AAPL)], "TRKR").unwrap()
}

fn order(id: u64, side: Side, price_cents: i64, shares: i64) -> NewOrder {
    NewOrder {
        id,
        venue: VENUE,
        instrument: AAPL,
        side,
        price: price_cents * ONE / 100,
        quantity: shares * ONE,
    }
}

/// The next report, waiting (bounded) for it.
fn next_report(gateway: &mut OuchGateway) -> VenueReport {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(report) = gateway.poll().unwrap() {
            return report;
        }
        assert!(Instant::now() < deadline, "no report within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Applies every report that comes until the venue is quiet for `quiet`.
fn drain(gateway: &mut OuchGateway, oms: &mut Oms, quiet: Duration) {
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        if let Some(report) = gateway.poll().unwrap() {
            apply(oms, &report).unwrap();
            last = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Sends `order` at once (the gateway queues what it sends until a flush or a poll).
fn send(gateway: &mut OuchGateway, oms: &mut Oms, order: &NewOrder) {
    oms.sent(order).unwrap();
    gateway.send_new(order).unwrap();
    gateway.flush().unwrap();
}

#[test]
fn an_orders_life_reaches_the_oms_fills_make_the_position_and_a_replace_carries_the_fill() {
    let venue = Venue::ouch(&[("ALICE", "pw-a"), ("BOB", "pw-b")], timing(), None);
    let mut alice = connect(&venue, "ALICE", 1);
    let mut bob = connect(&venue, "BOB", 1);
    let mut oms = Oms::new(&[AAPL], 3, 64);
    let mut theirs = Oms::new(&[AAPL], 3, 64);

    send(&mut alice, &mut oms, &order(1, Side::Buy, 19_000, 100));
    apply(&mut oms, &next_report(&mut alice)).unwrap();
    assert_eq!(oms.order(1).unwrap().state, OrderState::New);

    send(&mut bob, &mut theirs, &order(1, Side::Sell, 19_000, 40));
    let fill = next_report(&mut alice);
    assert_eq!(fill.report, Report::Fill { quantity: 40 * ONE, price: 190 * ONE });
    apply(&mut oms, &fill).unwrap();
    assert_eq!(oms.order(1).unwrap().state, OrderState::PartiallyFilled);
    assert_eq!(oms.positions().venue(0, VENUE).quantity, 40 * ONE);

    let replacement = Replacement { id: 2, price: 18_999 * ONE / 100, quantity: 100 * ONE };
    let original = *oms.replace_requested(1, replacement).unwrap();
    alice.send_replace(&original, &replacement).unwrap();
    apply(&mut oms, &next_report(&mut alice)).unwrap();
    let replaced = *oms.order(2).unwrap();
    assert_eq!(
        (replaced.state, replaced.filled, replaced.open()),
        (OrderState::PartiallyFilled, 40 * ONE, 60 * ONE)
    );

    let cancelling = *oms.cancel_requested(2).unwrap();
    alice.send_cancel(&cancelling).unwrap();
    apply(&mut oms, &next_report(&mut alice)).unwrap();
    assert_eq!(oms.order(2).unwrap().state, OrderState::Canceled);
    assert_eq!(oms.open_orders().count(), 0);

    // An order the venue refuses (a price beyond OUCH's) is refused before it is sent.
    let err = alice.send_new(&order(3, Side::Buy, 19_000, 1).with_price(190 * ONE + 1)).unwrap_err();
    assert!(matches!(err, OuchError::Inexact { id: 3, what: "the price" }), "{err}");
    venue.stop();
}

trait WithPrice {
    fn with_price(self, price: i64) -> Self;
}

impl WithPrice for NewOrder {
    fn with_price(self, price: i64) -> Self {
        NewOrder { price, ..self }
    }
}

fn dropped(error: &OuchError) -> bool {
    matches!(error, OuchError::Client(ClientError::Closed | ClientError::Io(_)))
}

#[test]
fn a_connection_dropped_in_the_middle_of_a_burst_recovers_every_report_once() {
    let venue = Venue::ouch(&[("ALICE", "pw-a"), ("BOB", "pw-b")], timing(), Some(4)); // the venue cuts us off after every 4 messages
    let mut alice = connect(&venue, "ALICE", 1);
    let mut oms = Oms::new(&[AAPL], 3, 64);
    for id in 1..=12 {
        send(&mut alice, &mut oms, &order(id, Side::Buy, 18_900 + id as i64, 10));
    }
    let mut reconnects = 0;
    let deadline = Instant::now() + WAIT;
    while oms.open_orders().any(|o| o.state != OrderState::New) {
        assert!(Instant::now() < deadline, "every order is acknowledged");
        match alice.poll() {
            Ok(Some(report)) => apply(&mut oms, &report).expect("each report applies once"),
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) if dropped(&e) => loop {
                // Log in again and send what the venue may not have seen; it may cut us off
                // again before we are done.
                alice.reconnect().unwrap();
                reconnects += 1;
                match resend_pending(&mut alice, &oms, VENUE) {
                    Ok(_) => break,
                    Err(e) if dropped(&e) => continue,
                    Err(e) => panic!("{e}"),
                }
            },
            Err(e) => panic!("{e}"),
        }
    }
    assert!(reconnects >= 2, "the burst was cut {reconnects} times");
    assert_eq!(oms.open_orders().count(), 12);
    venue.stop();
}

#[test]
fn an_oms_restarted_from_nothing_replays_the_day_to_the_venues_open_orders_and_our_positions() {
    let venue = Venue::ouch(&[("ALICE", "pw-a"), ("BOB", "pw-b")], timing(), None);
    let mut alice = connect(&venue, "ALICE", 1);
    let mut bob = connect(&venue, "BOB", 1);
    let mut oms = Oms::new(&[AAPL], 3, 64);
    let mut theirs = Oms::new(&[AAPL], 3, 64);
    send(&mut alice, &mut oms, &order(1, Side::Buy, 19_000, 100));
    send(&mut alice, &mut oms, &order(2, Side::Buy, 18_990, 50));
    send(&mut alice, &mut oms, &order(3, Side::Sell, 19_050, 30));
    drain(&mut alice, &mut oms, Duration::from_millis(100));
    send(&mut bob, &mut theirs, &order(1, Side::Sell, 19_000, 70));
    send(&mut bob, &mut theirs, &order(2, Side::Buy, 19_050, 10));
    drain(&mut alice, &mut oms, Duration::from_millis(100));
    let replacement = Replacement { id: 4, price: 18_980 * ONE / 100, quantity: 40 * ONE };
    let original = *oms.replace_requested(2, replacement).unwrap();
    alice.send_replace(&original, &replacement).unwrap();
    let cancelling = *oms.cancel_requested(1).unwrap();
    alice.send_cancel(&cancelling).unwrap();
    drain(&mut alice, &mut oms, Duration::from_millis(100));
    drop(alice);

    // A new execution worker: an empty OMS, logging in from the start of the day.
    let mut restarted = connect(&venue, "ALICE", 1);
    let mut recovered = Oms::new(&[AAPL], 3, 64);
    drain(&mut restarted, &mut recovered, Duration::from_millis(200));
    let open = |oms: &Oms| {
        let mut open: Vec<_> =
            oms.open_orders().map(|o| (o.id, o.side, o.price, o.open(), o.state)).collect();
        open.sort_by_key(|o| o.0);
        open
    };
    assert_eq!(open(&recovered), open(&oms));
    assert_eq!(
        open(&oms).iter().map(|o| o.0).collect::<Vec<_>>(),
        [3, 4],
        "order 4 replaced 2; 1 was cancelled"
    );
    assert_eq!(recovered.positions().venue(0, VENUE), oms.positions().venue(0, VENUE));
    assert_eq!(oms.positions().venue(0, VENUE).quantity, (70 - 10) * ONE);
    venue.stop();
}
