//! Order entry: a client for each venue's protocol that sends our orders, cancels and replaces
//! and turns the venue's messages into [`VenueReport`]s for the OMS, and [`apply`], which
//! feeds them to the OMS, adopting what a restarted OMS finds working at the venue.

pub mod fix;
pub mod json;
pub mod ouch;

use risk::NewOrder;

use crate::oms::{Oms, OmsError, Order, Replacement, Report};
use crate::order_state::OrderState;

/// What a gateway sends; each venue's protocol implements it.
pub trait OrderEntry {
    /// Why sending failed.
    type Error;

    /// Sends a new order.
    fn send_new(&mut self, order: &NewOrder) -> Result<(), Self::Error>;

    /// Sends a cancel of `order` (all that is open).
    fn send_cancel(&mut self, order: &Order) -> Result<(), Self::Error>;

    /// Sends a replace of `order` by `replacement` (whose quantity counts what has filled).
    fn send_replace(&mut self, order: &Order, replacement: &Replacement) -> Result<(), Self::Error>;
}

/// Sends again, after a reconnect, every request of ours on `venue` the venue has not
/// answered: new orders still pending, cancels and replaces still pending. Venues ignore a
/// request they already have (OUCH tokens, FIX ClOrdIDs are never reused).
pub fn resend_pending<G: OrderEntry>(gateway: &mut G, oms: &Oms, venue: usize) -> Result<usize, G::Error> {
    let mut sent = 0;
    for order in oms.open_orders().filter(|o| o.venue == venue) {
        match (order.state, order.replacement) {
            (OrderState::PendingNew, _) => {
                let new = NewOrder {
                    id: order.id,
                    venue: order.venue,
                    instrument: order.instrument,
                    side: order.side,
                    price: order.price,
                    quantity: order.quantity,
                };
                gateway.send_new(&new)?;
            }
            (OrderState::PendingCancel, _) => gateway.send_cancel(order)?,
            (OrderState::PendingReplace, Some(replacement)) => gateway.send_replace(order, &replacement)?,
            _ => continue,
        }
        sent += 1;
    }
    Ok(sent)
}

/// What a venue said about one of our orders, with the order as the venue holds it when the
/// message carries it (accepted, replaced), so an OMS that did not send it can adopt it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueReport {
    /// The client order id the report is about (for a replace, the original's).
    pub id: u64,
    /// What happened.
    pub report: Report,
    /// The order as the venue now holds it, with its open quantity (for a replace, the
    /// replacement).
    pub order: Option<NewOrder>,
}

/// The venue cancelled every order of ours when our session dropped (cancel-on-disconnect):
/// `oms` says so. An order still pending new is taken as rejected (the venue either never had
/// it or cancelled it); how many orders that ended.
pub fn cancelled_on_disconnect(oms: &mut Oms, venue: usize) -> Result<usize, OmsError> {
    let ended: Vec<(u64, OrderState)> =
        oms.open_orders().filter(|o| o.venue == venue).map(|o| (o.id, o.state)).collect();
    for &(id, state) in &ended {
        let report = if state == OrderState::PendingNew { Report::Rejected } else { Report::Canceled };
        oms.apply(id, report)?;
    }
    Ok(ended.len())
}

/// Applies `report` to `oms`. An order the OMS does not know (it restarted, and the venue is
/// replaying the day) is adopted when the venue shows it accepted, and a replace it did not
/// ask for is taken as asked: after the replay the OMS holds what the venue holds.
pub fn apply(oms: &mut Oms, report: &VenueReport) -> Result<(), OmsError> {
    match (report.report, report.order) {
        (Report::Accepted, Some(order)) if oms.order(report.id).is_none() => {
            oms.adopt(&order, 0)?;
        }
        (Report::Replaced, Some(order)) => {
            let original = *oms.order(report.id).ok_or(OmsError::UnknownOrder(report.id))?;
            if original.replacement.is_none() {
                // The replacement's quantity, as the OMS counts it, includes what had filled.
                let quantity = order.quantity + original.filled;
                let replacement = Replacement { id: order.id, price: order.price, quantity };
                oms.replace_requested(report.id, replacement)?;
            }
            oms.apply(report.id, Report::Replaced)?;
        }
        _ => {
            oms.apply(report.id, report.report)?;
        }
    }
    Ok(())
}
