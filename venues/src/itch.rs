//! Venue A's market data: matching-engine events as ITCH 5.0 messages.
//!
//! | engine event | ITCH |
//! |---|---|
//! | an order rests | `A` add order |
//! | a trade | `E` executed, on the resting order (a full execution removes it) |
//! | a resting order cancelled | `D` delete |
//! | a resting order reduced in place | `X` cancel (partial) |
//! | a replace that rests at once (cancel, accept, rest) | `U` replace |
//!
//! Orders that never rest (fully filled on arrival, IOC and market remainders) never appear:
//! only their executions against resting orders do, as on Nasdaq. Order reference numbers are
//! the engine's order ids, and the engine's prices are in ITCH's unit (1/10,000 of a dollar).

use protocols::itch::{self, Header, Message, Stock};

use crate::matching::{Event, Side};

/// The ITCH side of an engine side.
fn itch_side(side: Side) -> itch::Side {
    match side {
        Side::Buy => itch::Side::Buy,
        Side::Sell => itch::Side::Sell,
    }
}

/// Turns one symbol's engine events into ITCH messages.
#[derive(Debug, Clone)]
pub struct ItchTranslator {
    stock_locate: u16,
    stock: Stock,
    tracking_number: u16,
}

impl ItchTranslator {
    /// A translator for the stock with `stock_locate` and symbol `stock`.
    pub fn new(stock_locate: u16, stock: Stock) -> Self {
        Self { stock_locate, stock, tracking_number: 0 }
    }

    fn header(&mut self, timestamp_ns: u64) -> Header {
        self.tracking_number = self.tracking_number.wrapping_add(1);
        Header { stock_locate: self.stock_locate, tracking_number: self.tracking_number, timestamp_ns }
    }

    /// Appends the messages `events` imply, stamped `timestamp_ns` (nanoseconds since midnight).
    pub fn translate(&mut self, events: &[Event], timestamp_ns: u64, out: &mut Vec<Message>) {
        let mut i = 0;
        while i < events.len() {
            // A replace that rests without trading: cancel(old) + accept(new) + rest(new).
            if let [Event::Cancelled { id: original_ref, was_resting: true, .. }, Event::Accepted { id: new_ref }, Event::Rested { id, price, quantity, .. }, ..] =
                events[i..]
            {
                if id == new_ref {
                    let header = self.header(timestamp_ns);
                    out.push(Message::OrderReplace {
                        header,
                        original_ref,
                        new_ref,
                        shares: quantity as u32,
                        price: price as u32,
                    });
                    i += 3;
                    continue;
                }
            }
            let message = match events[i] {
                Event::Rested { id, side, price, quantity } => Some(Message::AddOrder {
                    header: self.header(timestamp_ns),
                    order_ref: id,
                    side: itch_side(side),
                    shares: quantity as u32,
                    stock: self.stock,
                    price: price as u32,
                    attribution: None,
                }),
                Event::Trade { maker, quantity, match_number, .. } => Some(Message::OrderExecuted {
                    header: self.header(timestamp_ns),
                    order_ref: maker,
                    executed_shares: quantity as u32,
                    match_number,
                }),
                Event::Cancelled { id, was_resting: true, .. } => {
                    Some(Message::OrderDelete { header: self.header(timestamp_ns), order_ref: id })
                }
                Event::Reduced { id, cancelled, .. } => Some(Message::OrderCancel {
                    header: self.header(timestamp_ns),
                    order_ref: id,
                    cancelled_shares: cancelled as u32,
                }),
                Event::Accepted { .. }
                | Event::Rejected { .. }
                | Event::Cancelled { was_resting: false, .. } => None,
            };
            out.extend(message);
            i += 1;
        }
    }
}
