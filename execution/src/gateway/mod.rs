//! Order entry: a client for each venue's protocol that sends our orders, cancels and replaces
//! and turns the venue's messages into [`VenueReport`]s for the OMS, and [`apply`], which
//! feeds them to the OMS, adopting what a restarted OMS finds working at the venue.

pub mod fix;
pub mod json;
pub mod ouch;

use risk::NewOrder;

use crate::gateway::fix::{FixError, FixGateway};
use crate::gateway::json::{JsonError, JsonGateway};
use crate::gateway::ouch::{OuchError, OuchGateway};
use crate::oms::{Oms, OmsError, Order, Replacement, Report};
use crate::order_state::OrderState;

/// Each instrument id's name on a venue (a FIX or JSON symbol, an OUCH stock), both ways.
#[derive(Debug, Clone)]
pub struct SymbolTable<T> {
    names: Vec<Option<T>>,
}

impl<T> Default for SymbolTable<T> {
    fn default() -> Self {
        Self { names: Vec::new() }
    }
}

impl<T: PartialEq> SymbolTable<T> {
    /// The table of `symbols`, each a name with its instrument id.
    pub fn new(symbols: impl IntoIterator<Item = (T, u32)>) -> Self {
        let mut names: Vec<Option<T>> = Vec::new();
        for (name, id) in symbols {
            let at = id as usize;
            if names.len() <= at {
                names.resize_with(at + 1, || None);
            }
            names[at] = Some(name);
        }
        Self { names }
    }

    /// The name of `instrument` for order `id`, or why there is none.
    pub fn name(&self, id: u64, instrument: u32) -> Result<&T, Refused> {
        self.names
            .get(instrument as usize)
            .and_then(Option::as_ref)
            .ok_or(Refused::UnknownInstrument { id, instrument })
    }

    /// The instrument called `name`, if the table has it.
    pub fn instrument<Q>(&self, name: &Q) -> Option<u32>
    where
        T: std::borrow::Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        self.names.iter().position(|n| n.as_ref().is_some_and(|n| n.borrow() == name)).map(|at| at as u32)
    }
}

/// A client order id as text, without allocating: its decimal digits and an optional suffix.
pub(crate) struct IdText {
    bytes: [u8; 21],
    len: usize,
}

impl IdText {
    /// `id`'s digits, then `suffix` if any.
    pub(crate) fn new(id: u64, suffix: Option<u8>) -> Self {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = id;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let mut bytes = [0u8; 21];
        let len = digits.len() - at;
        bytes[..len].copy_from_slice(&digits[at..]);
        let len = match suffix {
            Some(byte) => {
                bytes[len] = byte;
                len + 1
            }
            None => len,
        };
        Self { bytes, len }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("ASCII digits")
    }

    /// The text's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What a gateway refuses, whatever its protocol: an order it cannot name, or a venue message
/// naming what is not ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The instrument is not one this venue lists.
    #[error("order {id}: instrument {instrument} is not listed on this venue")]
    UnknownInstrument {
        /// The order.
        id: u64,
        /// Its instrument.
        instrument: u32,
    },
    /// The venue named an order by an id that is not one of ours.
    #[error("the venue named order {0:?}, which is not one of ours")]
    ForeignId(String),
    /// The venue named a symbol we do not trade.
    #[error("the venue named symbol {0:?}, which is not in our symbol table")]
    ForeignSymbol(String),
}

/// Why a venue's gateway failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Venue A's.
    #[error(transparent)]
    Ouch(#[from] OuchError),
    /// Venue B's.
    #[error(transparent)]
    Fix(#[from] FixError),
    /// Venue C's.
    #[error(transparent)]
    Json(#[from] JsonError),
}

impl GatewayError {
    /// Whether the venue sent a message that names what is not ours (counted and skipped)
    /// rather than the connection failing.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            GatewayError::Ouch(OuchError::Refused(_))
                | GatewayError::Fix(FixError::Refused(_))
                | GatewayError::Json(JsonError::Refused(_))
        )
    }
}

/// The gateway of one venue, whichever its protocol. There are three, each built once, so
/// their sizes differing does not matter.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "one per venue, never moved on the hot path")]
pub enum Gateway {
    /// OUCH 4.2 over SoupBinTCP.
    Ouch(OuchGateway),
    /// FIX 4.4.
    Fix(FixGateway),
    /// JSON over WebSocket.
    Json(JsonGateway),
}

impl Gateway {
    /// The next report the venue has sent, without waiting.
    pub fn poll(&mut self) -> Result<Option<VenueReport>, GatewayError> {
        Ok(match self {
            Gateway::Ouch(g) => g.poll()?,
            Gateway::Fix(g) => g.poll()?,
            Gateway::Json(g) => g.poll()?,
        })
    }

    /// Writes what is queued.
    pub fn flush(&mut self) -> Result<(), GatewayError> {
        match self {
            Gateway::Ouch(g) => g.flush()?,
            Gateway::Fix(g) => g.flush()?,
            Gateway::Json(g) => g.flush()?,
        }
        Ok(())
    }

    /// The venue's next sequence number not yet received, to log on again from (each venue
    /// numbers its messages to us: OUCH's session, FIX's session, venue C's reports).
    pub fn next_sequence(&self) -> Option<u64> {
        match self {
            Gateway::Ouch(g) => Some(g.next_sequence()),
            Gateway::Fix(g) => Some(g.next_sequence()),
            Gateway::Json(g) => Some(g.next_sequence()),
        }
    }

    /// Whether the venue cancels our orders when our session drops (so nothing is resent).
    pub fn cancels_on_disconnect(&self) -> bool {
        !matches!(self, Gateway::Ouch(_))
    }

    /// Whether the venue replays, on this session, what we missed while disconnected or down
    /// (cancels on disconnect included): OUCH always; FIX and JSON when the venue resumed our
    /// session at the last logon. Where it does not, our orders on a venue that cancels on
    /// disconnect are to be taken as cancelled ([`cancelled_on_disconnect`]).
    pub fn replays_missed(&self) -> bool {
        match self {
            Gateway::Ouch(_) => true,
            Gateway::Fix(g) => g.replays_missed(),
            Gateway::Json(g) => g.replays_missed(),
        }
    }

    /// Whether what the venue replays after our logon has all come: FIX once the gap its
    /// logon opened is filled; OUCH and JSON replay within the logon itself.
    pub fn replay_done(&self) -> bool {
        match self {
            Gateway::Fix(g) => g.replay_done(),
            Gateway::Ouch(_) | Gateway::Json(_) => true,
        }
    }

    /// Logs on again after the connection dropped.
    pub fn reconnect(&mut self) -> Result<(), GatewayError> {
        match self {
            Gateway::Ouch(g) => g.reconnect()?,
            Gateway::Fix(g) => g.reconnect()?,
            Gateway::Json(g) => g.reconnect()?,
        }
        Ok(())
    }
}

impl OrderEntry for Gateway {
    type Error = GatewayError;

    fn send_new(&mut self, order: &NewOrder) -> Result<(), Self::Error> {
        match self {
            Gateway::Ouch(g) => g.send_new(order)?,
            Gateway::Fix(g) => g.send_new(order)?,
            Gateway::Json(g) => g.send_new(order)?,
        }
        Ok(())
    }

    fn send_cancel(&mut self, order: &Order) -> Result<(), Self::Error> {
        match self {
            Gateway::Ouch(g) => g.send_cancel(order)?,
            Gateway::Fix(g) => g.send_cancel(order)?,
            Gateway::Json(g) => g.send_cancel(order)?,
        }
        Ok(())
    }

    fn send_replace(&mut self, order: &Order, replacement: &Replacement) -> Result<(), Self::Error> {
        match self {
            Gateway::Ouch(g) => g.send_replace(order, replacement)?,
            Gateway::Fix(g) => g.send_replace(order, replacement)?,
            Gateway::Json(g) => g.send_replace(order, replacement)?,
        }
        Ok(())
    }
}

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
/// it or cancelled it). The orders that ended, each with its instrument and the report applied
/// (for the journal).
pub fn cancelled_on_disconnect(oms: &mut Oms, venue: usize) -> Result<Vec<(u32, VenueReport)>, OmsError> {
    let ended: Vec<(u32, VenueReport)> = oms
        .open_orders()
        .filter(|o| o.venue == venue)
        .map(|o| {
            let report = if o.state == OrderState::PendingNew { Report::Rejected } else { Report::Canceled };
            (o.instrument, VenueReport { id: o.id, report, order: None })
        })
        .collect();
    for (_, ended) in &ended {
        oms.apply(ended.id, ended.report)?;
    }
    Ok(ended)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symbol_table_names_listed_instruments_both_ways_and_refuses_the_rest_by_name() {
        let table = SymbolTable::new([("AAPL".to_owned(), 1), ("SPY".to_owned(), 3)]);
        assert_eq!(table.name(7, 3).map(String::as_str), Ok("SPY"));
        assert_eq!(table.name(7, 2), Err(Refused::UnknownInstrument { id: 7, instrument: 2 }));
        assert_eq!(table.name(7, 99), Err(Refused::UnknownInstrument { id: 7, instrument: 99 }));
        assert_eq!((table.instrument("AAPL"), table.instrument("MSFT")), (Some(1), None));
    }
}
