//! The JSON gateway against venue C's order channel over loopback: a signed logon; an order's
//! life (accepted, filled, cancelled; a refused place and a refused cancel named by order);
//! and the venue cancelling our orders when our session drops, which the OMS then says.

use std::time::{Duration, Instant};

mod common;

use common::Venue;
use execution::gateway::json::{JsonError, JsonGateway};
use execution::gateway::{apply, cancelled_on_disconnect, OrderEntry, VenueReport};
use execution::oms::{Replacement, Report};
use execution::{Oms, OrderState};
use risk::{NewOrder, Side};
use venues::flow::{MarketSpec, VenueSpec};
use venues::venue_c_server::{ApiKey, JsonVenueConfig, JsonVenueServer};

const ONE: i64 = 1_000_000_000;
const AAPL: u32 = 1;
const VENUE: usize = 2;
const WAIT: Duration = Duration::from_secs(5);
const SYMBOLS: [(&str, u32); 3] = [("AAPL", AAPL), ("SPY", 3), ("NVDA", 4)];

/// Venue C with almost no flow, and two desks' keys.
fn start_venue() -> Venue {
    let market = MarketSpec::equities(11, &[("AAPL", 1_900_000), ("SPY", 5_600_000), ("NVDA", 1_300_000)]);
    let keys = vec![
        ApiKey { key: "desk-1".into(), secret: b"secret one".to_vec() },
        ApiKey { key: "desk-2".into(), secret: b"secret two".to_vec() },
    ];
    let mut server =
        JsonVenueServer::bind(JsonVenueConfig::new(market, VenueSpec::new(3, 0.001), keys)).unwrap();
    let addr = server.order_addr().unwrap();
    Venue::run(addr, move |stop| server.run(stop).map(drop).unwrap())
}

fn connect(venue: &Venue, key: &str, secret: &[u8]) -> Result<JsonGateway, JsonError> {
    JsonGateway::connect(venue.addr, key, secret, VENUE, &SYMBOLS, WAIT)
}

fn order(id: u64, side: Side, cents: i64, shares: i64) -> NewOrder {
    NewOrder { id, venue: VENUE, instrument: AAPL, side, price: cents * ONE / 100, quantity: shares * ONE }
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
    let venue = start_venue();
    let err = connect(&venue, "desk-1", b"guessed").unwrap_err();
    assert!(matches!(err, JsonError::LogonRefused(_)), "{err}");
    venue.stop();
}

#[test]
fn an_orders_life_reaches_the_oms_and_refusals_name_the_order() {
    let venue = start_venue();
    let mut desk = connect(&venue, "desk-1", b"secret one").unwrap();
    let mut other = connect(&venue, "desk-2", b"secret two").unwrap();
    let mut oms = Oms::new(&[AAPL, 3, 4], 3, 64);
    let buy = order(1, Side::Buy, 10_000, 300); // far below the market: it rests
    oms.sent(&buy).unwrap();
    desk.send_new(&buy).unwrap();
    apply(&mut oms, &next_report(&mut desk)).unwrap();
    assert_eq!(oms.order(1).unwrap().state, OrderState::New);

    other.send_new(&order(1, Side::Sell, 10_000, 100)).unwrap();
    let fill = next_report(&mut desk);
    assert_eq!(fill.report, Report::Fill { quantity: 100 * ONE, price: 100 * ONE });
    apply(&mut oms, &fill).unwrap();
    assert_eq!(oms.positions().venue(0, VENUE).quantity, 100 * ONE);

    let cancelling = *oms.cancel_requested(1).unwrap();
    desk.send_cancel(&cancelling).unwrap();
    apply(&mut oms, &next_report(&mut desk)).unwrap();
    assert_eq!(oms.order(1).unwrap().state, OrderState::Canceled);
    desk.send_cancel(&cancelling).unwrap();
    assert_eq!(next_report(&mut desk), VenueReport { id: 1, report: Report::CancelRejected, order: None });

    let zero = NewOrder { price: 0, ..order(2, Side::Buy, 0, 100) };
    desk.send_new(&zero).unwrap();
    assert_eq!(next_report(&mut desk), VenueReport { id: 2, report: Report::Rejected, order: None });
    let replace = Replacement { id: 3, price: ONE, quantity: ONE };
    assert!(matches!(desk.send_replace(&cancelling, &replace), Err(JsonError::NoReplace(1))));
    venue.stop();
}

#[test]
fn a_dropped_session_cancels_our_orders_at_the_venue_and_the_oms_says_so() {
    let venue = start_venue();
    let mut desk = connect(&venue, "desk-1", b"secret one").unwrap();
    let mut oms = Oms::new(&[AAPL, 3, 4], 3, 64);
    for (id, cents) in [(1, 10_000), (2, 9_900)] {
        let buy = order(id, Side::Buy, cents, 100);
        oms.sent(&buy).unwrap();
        desk.send_new(&buy).unwrap();
        apply(&mut oms, &next_report(&mut desk)).unwrap();
    }
    drop(desk);
    assert_eq!(cancelled_on_disconnect(&mut oms, VENUE).unwrap().len(), 2);
    assert!(oms.open_orders().next().is_none());

    let _desk = connect(&venue, "desk-1", b"secret one").unwrap();
    let mut other = connect(&venue, "desk-2", b"secret two").unwrap();
    std::thread::sleep(Duration::from_millis(200)); // the venue sees our old session end
    other.send_new(&order(1, Side::Sell, 9_900, 100)).unwrap();
    assert_eq!(next_report(&mut other).report, Report::Accepted);
    let until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < until {
        assert!(other.poll().unwrap().is_none(), "nothing of ours is left to trade with");
        std::thread::sleep(Duration::from_millis(1));
    }
    venue.stop();
}
