//! The order-level (L3) book an ITCH 5.0 feed implies, aggregated into price levels.
//!
//! Every visible order is kept by its reference number; adds, executions, cancels, deletes and
//! replaces move its shares and the level they rest at. A message about an order the book does
//! not know (its add was lost, or it is nonsense) is refused with an error and changes nothing,
//! so the caller can count it and mark the book stale rather than corrupt it.

use std::collections::HashMap;

use protocols::itch::{self, Message};

use crate::book::{Book, LevelChange, Side};
use crate::order_hash::BuildOrderRefHasher;

/// ITCH prices have 4 decimals; books use 9.
const PRICE_TO_NANOS: i64 = 100_000;
/// ITCH quantities are whole shares; books use units of 1e-9.
const SHARES_TO_NANOS: i64 = 1_000_000_000;

/// Why a message could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// An execution, cancel, delete or replace of an order the book does not hold.
    #[error("order {order_ref} is not in the book (message {msg_type:?})")]
    UnknownOrder {
        /// The message type.
        msg_type: char,
        /// The order's reference.
        order_ref: u64,
    },
    /// An add of an order reference the book already holds.
    #[error("order {order_ref} is already in the book")]
    DuplicateOrder {
        /// The order's reference.
        order_ref: u64,
    },
    /// An execution or cancel of more shares than the order has.
    #[error("message {msg_type:?} removes {removed} shares from order {order_ref}, which has {left}")]
    Overfill {
        /// The message type.
        msg_type: char,
        /// The order's reference.
        order_ref: u64,
        /// Shares the message removes.
        removed: u32,
        /// Shares the order has.
        left: u32,
    },
}

/// The levels one message changed: none, one, or two (a replace to another price).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    changes: [Option<LevelChange>; 2],
}

impl Changes {
    fn push(&mut self, change: LevelChange) {
        let free =
            self.changes.iter_mut().find(|c| c.is_none()).expect("a message changes at most two levels");
        *free = Some(change);
    }

    /// The changes, in the order they happened.
    pub fn iter(&self) -> impl Iterator<Item = &LevelChange> {
        self.changes.iter().flatten()
    }
}

#[derive(Debug, Clone, Copy)]
struct Order {
    side: Side,
    price: u32,
    shares: u32,
}

/// The visible orders of one stock and the price-level book they add up to.
#[derive(Debug, Clone)]
pub struct OrderBook {
    orders: HashMap<u64, Order, BuildOrderRefHasher>,
    book: Book,
}

fn side(side: itch::Side) -> Side {
    match side {
        itch::Side::Buy => Side::Bid,
        itch::Side::Sell => Side::Ask,
    }
}

impl OrderBook {
    /// An empty book with room for `orders` live orders and `depth` levels a side before it
    /// has to grow (orders) or drop levels (depth).
    pub fn new(orders: usize, depth: usize) -> Self {
        Self {
            orders: HashMap::with_capacity_and_hasher(orders, BuildOrderRefHasher::default()),
            book: Book::new(depth),
        }
    }

    /// The aggregated price levels.
    pub fn book(&self) -> &Book {
        &self.book
    }

    /// Live orders.
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    fn level_delta(&mut self, order: Order, shares: i64) -> LevelChange {
        self.book.add(order.side, i64::from(order.price) * PRICE_TO_NANOS, shares * SHARES_TO_NANOS)
    }

    fn take(&mut self, msg_type: u8, order_ref: u64, shares: u32) -> Result<LevelChange, BookError> {
        let msg_type = char::from(msg_type);
        let order = self.orders.get_mut(&order_ref).ok_or(BookError::UnknownOrder { msg_type, order_ref })?;
        if shares > order.shares {
            return Err(BookError::Overfill { msg_type, order_ref, removed: shares, left: order.shares });
        }
        order.shares -= shares;
        let order = *order;
        if order.shares == 0 {
            self.orders.remove(&order_ref);
        }
        Ok(self.level_delta(order, -i64::from(shares)))
    }

    /// Applies one message of this stock and returns the levels it changed. Messages that do
    /// not change the visible book (system events, directory entries, hidden trades) change
    /// nothing.
    pub fn apply(&mut self, message: &Message) -> Result<Changes, BookError> {
        let msg_type = message.msg_type();
        let mut changes = Changes::default();
        match *message {
            Message::AddOrder { order_ref, side: s, shares, price, .. } => {
                if self.orders.contains_key(&order_ref) {
                    return Err(BookError::DuplicateOrder { order_ref });
                }
                let order = Order { side: side(s), price, shares };
                self.orders.insert(order_ref, order);
                changes.push(self.level_delta(order, i64::from(shares)));
            }
            Message::OrderExecuted { order_ref, executed_shares, .. }
            | Message::OrderExecutedWithPrice { order_ref, executed_shares, .. } => {
                changes.push(self.take(msg_type, order_ref, executed_shares)?);
            }
            Message::OrderCancel { order_ref, cancelled_shares, .. } => {
                changes.push(self.take(msg_type, order_ref, cancelled_shares)?);
            }
            Message::OrderDelete { order_ref, .. } => {
                let shares = self
                    .orders
                    .get(&order_ref)
                    .ok_or(BookError::UnknownOrder { msg_type: char::from(msg_type), order_ref })?
                    .shares;
                changes.push(self.take(msg_type, order_ref, shares)?);
            }
            Message::OrderReplace { original_ref, new_ref, shares, price, .. } => {
                let old = *self.orders.get(&original_ref).ok_or(BookError::UnknownOrder {
                    msg_type: char::from(msg_type),
                    order_ref: original_ref,
                })?;
                if new_ref != original_ref && self.orders.contains_key(&new_ref) {
                    return Err(BookError::DuplicateOrder { order_ref: new_ref });
                }
                changes.push(self.take(msg_type, original_ref, old.shares)?);
                let order = Order { side: old.side, price, shares };
                self.orders.insert(new_ref, order);
                changes.push(self.level_delta(order, i64::from(shares)));
            }
            Message::SystemEvent { .. } | Message::StockDirectory { .. } | Message::Trade { .. } => {}
        }
        Ok(changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::itch::{stock, Header};

    fn add(order_ref: u64, side: itch::Side, shares: u32, price: u32) -> Message {
        Message::AddOrder {
            header: Header::default(),
            order_ref,
            side,
            shares,
            stock: stock("AAPL"),
            price,
            attribution: None,
        }
    }

    fn levels(book: &OrderBook, s: Side) -> Vec<(i64, i64)> {
        book.book().side(s).iter().map(|l| (l.price / PRICE_TO_NANOS, l.quantity / SHARES_TO_NANOS)).collect()
    }

    #[test]
    fn orders_aggregate_into_levels_through_their_whole_life() {
        let mut book = OrderBook::new(16, 16);
        let h = Header::default();
        book.apply(&add(1, itch::Side::Buy, 100, 1_000_000)).unwrap();
        book.apply(&add(2, itch::Side::Buy, 50, 1_000_000)).unwrap();
        book.apply(&add(3, itch::Side::Sell, 70, 1_000_100)).unwrap();
        assert_eq!(levels(&book, Side::Bid), [(1_000_000, 150)]);
        book.apply(&Message::OrderExecuted { header: h, order_ref: 1, executed_shares: 30, match_number: 1 })
            .unwrap();
        book.apply(&Message::OrderCancel { header: h, order_ref: 2, cancelled_shares: 50 }).unwrap();
        assert_eq!(levels(&book, Side::Bid), [(1_000_000, 70)]);
        assert_eq!(book.order_count(), 2, "a fully cancelled order leaves the book");
        book.apply(&Message::OrderReplace {
            header: h,
            original_ref: 1,
            new_ref: 4,
            shares: 80,
            price: 999_900,
        })
        .unwrap();
        assert_eq!(levels(&book, Side::Bid), [(999_900, 80)]);
        book.apply(&Message::OrderDelete { header: h, order_ref: 3 }).unwrap();
        assert!(book.book().side(Side::Ask).is_empty());
    }

    #[test]
    fn messages_about_unknown_or_overdrawn_orders_change_nothing() {
        let mut book = OrderBook::new(16, 16);
        let h = Header::default();
        book.apply(&add(1, itch::Side::Sell, 10, 500)).unwrap();
        assert_eq!(
            book.apply(&Message::OrderDelete { header: h, order_ref: 9 }),
            Err(BookError::UnknownOrder { msg_type: 'D', order_ref: 9 })
        );
        assert_eq!(
            book.apply(&Message::OrderCancel { header: h, order_ref: 1, cancelled_shares: 11 }),
            Err(BookError::Overfill { msg_type: 'X', order_ref: 1, removed: 11, left: 10 })
        );
        assert_eq!(
            book.apply(&add(1, itch::Side::Buy, 5, 400)),
            Err(BookError::DuplicateOrder { order_ref: 1 })
        );
        assert_eq!(levels(&book, Side::Ask), [(500, 10)]);
        assert!(book.book().side(Side::Bid).is_empty());
    }
}
