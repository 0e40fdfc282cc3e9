//! The order state machine, driven by every pair of state and event, and by sequences of
//! reports: what is legal is applied, what is not is reported and changes nothing.

use execution::oms::{Replacement, Report};
use execution::order_state::next;
use execution::{Event, Oms, OmsError, OrderState};
use proptest::prelude::*;
use risk::{NewOrder, Side};

const ONE: i64 = 1_000_000_000;

/// The transitions the issue describes, written out by hand: `(from, event, filled) -> to`.
fn expected(from: OrderState, event: Event, filled: bool) -> Option<OrderState> {
    use Event as E;
    use OrderState as S;
    let resting = if filled { S::PartiallyFilled } else { S::New };
    Some(match (from, event) {
        (S::PendingNew, E::Accepted) => S::New,
        (S::PendingNew, E::Rejected) => S::Rejected,
        (S::PendingNew | S::New | S::PartiallyFilled, E::Fill { complete: false }) => S::PartiallyFilled,
        (
            S::PendingNew | S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace,
            E::Fill { complete: true },
        ) => S::Filled,
        (S::PendingCancel, E::Fill { complete: false }) => S::PendingCancel,
        (S::PendingReplace, E::Fill { complete: false }) => S::PendingReplace,
        (S::New | S::PartiallyFilled, E::CancelRequested) => S::PendingCancel,
        (S::New | S::PartiallyFilled, E::ReplaceRequested) => S::PendingReplace,
        (S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace, E::Canceled | E::Expired) => {
            if event == E::Canceled {
                S::Canceled
            } else {
                S::Expired
            }
        }
        (S::PendingCancel, E::CancelRejected) => resting,
        (S::PendingReplace, E::Replaced) => S::Replaced,
        (S::PendingReplace, E::ReplaceRejected) => resting,
        (S::Filled | S::Canceled | S::Expired, E::CancelRejected | E::ReplaceRejected) => from,
        _ => return None,
    })
}

const EVENTS: [Event; 11] = [
    Event::Accepted,
    Event::Rejected,
    Event::Fill { complete: false },
    Event::Fill { complete: true },
    Event::CancelRequested,
    Event::Canceled,
    Event::CancelRejected,
    Event::ReplaceRequested,
    Event::Replaced,
    Event::ReplaceRejected,
    Event::Expired,
];

#[test]
fn every_state_and_event_moves_as_specified_and_final_states_accept_only_a_late_refusal() {
    for state in OrderState::ALL {
        for event in EVENTS {
            for filled in [false, true] {
                let got = next(state, event, filled).ok();
                assert_eq!(got, expected(state, event, filled), "{state:?} + {event:?} (filled: {filled})");
                if state.is_final() {
                    let late_refusal = matches!(event, Event::CancelRejected | Event::ReplaceRejected);
                    assert!(got.is_none() || (late_refusal && got == Some(state)), "{state:?} is final");
                }
            }
        }
    }
}

fn oms() -> Oms {
    Oms::new(&[1, 2], 3, 64)
}

fn buy(id: u64, quantity: i64) -> NewOrder {
    NewOrder { id, venue: 1, instrument: 1, side: Side::Buy, price: 100 * ONE, quantity }
}

#[test]
fn an_order_lives_from_sent_to_filled_and_its_fills_make_the_position() {
    let mut oms = oms();
    oms.sent(&buy(1, 10 * ONE)).unwrap();
    assert_eq!(oms.apply(1, Report::Accepted).unwrap().state, OrderState::New);
    let partly = *oms.apply(1, Report::Fill { quantity: 4 * ONE, price: 100 * ONE }).unwrap();
    assert_eq!((partly.state, partly.filled, partly.open()), (OrderState::PartiallyFilled, 4 * ONE, 6 * ONE));
    assert_eq!(
        oms.apply(1, Report::Fill { quantity: 6 * ONE, price: 99 * ONE }).unwrap().state,
        OrderState::Filled
    );
    let position = oms.positions().venue(0, 1);
    assert_eq!((position.quantity, position.average_price), (10 * ONE, 99_400_000_000));
    assert_eq!(oms.open_orders().count(), 0);
}

#[test]
fn illegal_reports_are_refused_with_the_reason_and_change_nothing() {
    let mut oms = oms();
    oms.sent(&buy(1, 10 * ONE)).unwrap();
    let err = oms.apply(1, Report::Replaced).unwrap_err();
    assert!(matches!(err, OmsError::Illegal { id: 1, .. }), "{err}");
    assert_eq!(
        oms.apply(1, Report::CancelRejected).unwrap_err().to_string(),
        "order 1: CancelRejected is not allowed for an order that is PendingNew"
    );
    oms.apply(1, Report::Accepted).unwrap();
    let over = oms.apply(1, Report::Fill { quantity: 11 * ONE, price: 100 * ONE }).unwrap_err();
    assert_eq!(over, OmsError::Overfill { id: 1, open: 10 * ONE, fill: 11 * ONE });
    assert_eq!(
        oms.apply(1, Report::Fill { quantity: 0, price: 100 * ONE }).unwrap_err(),
        OmsError::BadFill(1)
    );
    assert_eq!(oms.apply(7, Report::Accepted).unwrap_err(), OmsError::UnknownOrder(7));
    assert_eq!(oms.sent(&buy(1, ONE)).unwrap_err(), OmsError::DuplicateOrder(1));
    assert_eq!(
        oms.sent(&NewOrder { instrument: 9, ..buy(2, ONE) }).unwrap_err(),
        OmsError::UnknownInstrument(2)
    );
    let order = *oms.order(1).unwrap();
    assert_eq!((order.state, order.filled), (OrderState::New, 0), "nothing changed");
    assert_eq!(oms.positions().symbol(0).quantity, 0);
    oms.apply(1, Report::Canceled).unwrap();
    assert!(
        oms.apply(1, Report::Fill { quantity: ONE, price: 100 * ONE }).is_err(),
        "a cancelled order fills no more"
    );
}

#[test]
fn a_replace_carries_the_filled_quantity_to_the_new_id_and_a_refused_one_leaves_the_order_as_it_was() {
    let mut oms = oms();
    oms.sent(&buy(1, 10 * ONE)).unwrap();
    oms.apply(1, Report::Accepted).unwrap();
    oms.replace_requested(1, Replacement { id: 2, price: 101 * ONE, quantity: 12 * ONE }).unwrap();
    oms.apply(1, Report::Fill { quantity: 3 * ONE, price: 100 * ONE }).unwrap();
    assert_eq!(oms.order(1).unwrap().state, OrderState::PendingReplace, "a fill races the replace");
    let successor = *oms.apply(1, Report::Replaced).unwrap();
    assert_eq!(
        (successor.id, successor.state, successor.filled, successor.open()),
        (2, OrderState::PartiallyFilled, 3 * ONE, 9 * ONE)
    );
    assert_eq!(oms.order(1).unwrap().state, OrderState::Replaced);
    oms.replace_requested(2, Replacement { id: 3, price: 102 * ONE, quantity: 12 * ONE }).unwrap();
    let back = *oms.apply(2, Report::ReplaceRejected).unwrap();
    assert_eq!((back.state, back.price, back.replacement), (OrderState::PartiallyFilled, 101 * ONE, None));
    assert!(oms.order(3).is_none());
    assert_eq!(
        oms.replace_requested(2, Replacement { id: 1, price: ONE, quantity: ONE }).unwrap_err(),
        OmsError::DuplicateOrder(1)
    );
    // A venue that refuses the replacement by its own id is answered about the original.
    oms.replace_requested(2, Replacement { id: 4, price: 102 * ONE, quantity: 12 * ONE }).unwrap();
    let back = *oms.apply(4, Report::Rejected).unwrap();
    assert_eq!((back.id, back.state), (2, OrderState::PartiallyFilled));
    assert_eq!(oms.apply(4, Report::Rejected).unwrap_err(), OmsError::UnknownOrder(4), "once only");
}

#[test]
fn the_venues_late_refusal_of_a_replace_on_an_order_that_filled_meanwhile_changes_nothing() {
    let mut oms = oms();
    oms.sent(&buy(1, 10 * ONE)).unwrap();
    oms.apply(1, Report::Accepted).unwrap();
    oms.replace_requested(1, Replacement { id: 2, price: 99 * ONE, quantity: 10 * ONE }).unwrap();
    assert_eq!(
        oms.apply(1, Report::Fill { quantity: 10 * ONE, price: 100 * ONE }).unwrap().state,
        OrderState::Filled
    );
    // OUCH refuses the replace by naming the replacement: answered about the original.
    let refused = *oms.apply(2, Report::Rejected).unwrap();
    assert_eq!((refused.id, refused.state, refused.replacement), (1, OrderState::Filled, None));
    assert_eq!(oms.original_of(2), None, "answered once, the replacement id names nothing");
    assert_eq!(oms.positions().symbol(0).quantity, 10 * ONE);
}

#[test]
fn an_order_found_working_at_the_venue_after_a_restart_is_adopted_with_its_fills() {
    let mut oms = oms();
    assert_eq!(oms.adopt(&buy(7, 10 * ONE), 4 * ONE).unwrap().state, OrderState::PartiallyFilled);
    assert_eq!(oms.adopt(&buy(8, 10 * ONE), 0).unwrap().state, OrderState::New);
    assert_eq!(oms.adopt(&buy(7, ONE), 0).unwrap_err(), OmsError::DuplicateOrder(7));
    assert_eq!(oms.open_orders().count(), 2);
}

#[test]
fn an_unsolicited_cancel_after_a_lost_session_is_applied_to_working_orders() {
    let mut oms = oms();
    for id in 1..=3 {
        oms.sent(&buy(id, ONE)).unwrap();
        oms.apply(id, Report::Accepted).unwrap();
    }
    oms.cancel_requested(2).unwrap();
    for id in 1..=3 {
        assert_eq!(oms.apply(id, Report::Canceled).unwrap().state, OrderState::Canceled);
    }
    assert_eq!(oms.open_orders().count(), 0);
}

fn report() -> impl Strategy<Value = (u8, i64)> {
    (0u8..9, 1i64..6)
}

proptest! {
    #[test]
    fn whatever_reports_come_fills_never_exceed_the_order_and_positions_equal_the_fills(
        steps in proptest::collection::vec(report(), 1..60)
    ) {
        let mut oms = oms();
        oms.sent(&buy(1, 10 * ONE)).unwrap();
        let mut id = 1;
        let mut filled = 0;
        for (n, (kind, quantity)) in steps.into_iter().enumerate() {
            let before = *oms.order(id).unwrap();
            let outcome = match kind {
                0 => oms.apply(id, Report::Accepted).map(|o| o.id),
                1 => oms.apply(id, Report::Fill { quantity: quantity * ONE, price: 100 * ONE }).map(|o| o.id),
                2 => oms.cancel_requested(id).map(|o| o.id),
                3 => oms.apply(id, Report::CancelRejected).map(|o| o.id),
                4 => oms.replace_requested(id, Replacement { id: 100 + n as u64, price: 100 * ONE, quantity: 12 * ONE }).map(|o| o.id),
                5 => oms.apply(id, Report::Replaced).map(|o| o.id),
                6 => oms.apply(id, Report::ReplaceRejected).map(|o| o.id),
                7 => oms.apply(id, Report::Canceled).map(|o| o.id),
                _ => oms.apply(id, Report::Rejected).map(|o| o.id),
            };
            match outcome {
                Ok(now) => {
                    if kind == 1 {
                        filled += quantity * ONE;
                    }
                    id = now;
                }
                Err(_) => prop_assert_eq!(*oms.order(id).unwrap(), before, "a refused report changes nothing"),
            }
            let order = *oms.order(id).unwrap();
            prop_assert!(order.filled <= order.quantity);
            prop_assert_eq!(order.filled, filled);
            prop_assert_eq!(oms.positions().symbol(0).quantity, filled);
            // The working orders are exactly the orders not in a final state.
            let working: Vec<u64> = oms.open_orders().map(|o| o.id).collect();
            let expected: Vec<u64> = [1].into_iter().chain(100..200).filter(|i| oms.order(*i).is_some_and(|o| o.state.is_working())).collect();
            let mut sorted = working.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, expected);
        }
    }
}
