//! Our working orders on one venue and symbol, in a table of fixed size: what self-trade
//! prevention and the worst-case position need, found without allocating.

use crate::order::Side;

/// One working order: its id, side, price and the quantity still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Working {
    /// Client order id.
    pub id: u64,
    /// The id it had before a replace the venue has not yet acted on (a fill may still come
    /// under it).
    pub previous: Option<u64>,
    /// Buy or sell.
    pub side: Side,
    /// Limit price, units of 1e-9.
    pub price: i64,
    /// Quantity still open, units of 1e-9.
    pub open: i64,
}

/// The working orders of one venue and symbol.
#[derive(Debug, Clone)]
pub struct OwnOrders {
    orders: Vec<Working>,
    capacity: usize,
}

impl OwnOrders {
    /// An empty table for at most `capacity` orders (allocated now, never again).
    pub fn with_capacity(capacity: usize) -> Self {
        Self { orders: Vec::with_capacity(capacity), capacity }
    }

    /// Whether another order fits.
    pub fn has_room(&self) -> bool {
        self.orders.len() < self.capacity
    }

    /// How many orders are working.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Adds a working order; `false` (and nothing added) when the table is full.
    pub fn add(&mut self, order: Working) -> bool {
        if !self.has_room() {
            return false;
        }
        self.orders.push(order);
        true
    }

    /// Every working order, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Working> {
        self.orders.iter()
    }

    /// The working order `id` (by its id, or the id it had before a replace).
    pub fn get(&self, id: u64) -> Option<&Working> {
        self.orders.iter().find(|o| o.answers_to(id))
    }

    /// Gives working order `id` a new id, price and open quantity (a replace, or a replace
    /// undone); the id it had is kept as its previous one.
    pub fn replace(&mut self, id: u64, new_id: u64, price: i64, open: i64) {
        if let Some(order) = self.orders.iter_mut().find(|o| o.answers_to(id)) {
            *order = Working { id: new_id, previous: Some(order.id), side: order.side, price, open };
        }
    }

    /// Takes `quantity` off order `id` (filled or cancelled in part), removing it when nothing
    /// is left open; what it was before, if it was working.
    pub fn reduce(&mut self, id: u64, quantity: i64) -> Option<Working> {
        let at = self.orders.iter().position(|o| o.answers_to(id))?;
        let before = self.orders[at];
        if quantity >= before.open {
            self.orders.swap_remove(at);
        } else {
            self.orders[at].open -= quantity;
        }
        Some(before)
    }

    /// Whether an order on `side` at `price` would trade against one of ours on the other
    /// side, leaving out order `except` (the one being replaced).
    pub fn would_cross(&self, side: Side, price: i64, except: Option<u64>) -> bool {
        self.orders.iter().any(|o| {
            except.map_or(true, |id| !o.answers_to(id))
                && match (side, o.side) {
                    (Side::Buy, Side::Sell) => price >= o.price,
                    (Side::Sell, Side::Buy) => price <= o.price,
                    _ => false,
                }
        })
    }
}

impl Working {
    /// Whether `id` is this order's id or the one it had before a replace.
    fn answers_to(&self, id: u64) -> bool {
        self.id == id || self.previous == Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: u64, side: Side, price: i64) -> Working {
        Working { id, previous: None, side, price, open: 10 }
    }

    #[test]
    fn a_crossing_order_is_seen_unless_it_is_the_one_replaced() {
        let mut own = OwnOrders::with_capacity(4);
        assert!(own.add(order(1, Side::Buy, 99)) && own.add(order(2, Side::Sell, 101)));
        assert!(own.would_cross(Side::Buy, 101, None) && !own.would_cross(Side::Buy, 100, None));
        assert!(own.would_cross(Side::Sell, 99, None) && !own.would_cross(Side::Sell, 100, None));
        assert!(!own.would_cross(Side::Buy, 101, Some(2)), "replacing our own sell");
    }

    #[test]
    fn a_full_table_refuses_and_reducing_to_nothing_frees_a_place() {
        let mut own = OwnOrders::with_capacity(1);
        assert!(own.add(order(1, Side::Buy, 99)));
        assert!(!own.add(order(2, Side::Buy, 98)) && own.len() == 1);
        assert_eq!(own.reduce(1, 4).map(|o| o.open), Some(10));
        assert_eq!(own.get(1).map(|o| o.open), Some(6));
        own.reduce(1, 6);
        assert!(own.is_empty() && own.reduce(1, 1).is_none());
    }
}
