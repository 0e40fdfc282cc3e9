//! A two-sided price-level book.

use crate::levels::{Level, Levels, Ordering};

/// A side of the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Bids.
    Bid,
    /// Asks (offers).
    Ask,
}

/// A level that changed: its side and price, its new quantity and the quantity it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelChange {
    /// The side.
    pub side: Side,
    /// The price.
    pub price: i64,
    /// The quantity now (0: the level went).
    pub quantity: i64,
    /// The quantity before (0: the level is new).
    pub was: i64,
}

/// Bids and asks of one instrument on one venue, aggregated by price.
#[derive(Debug, Clone)]
pub struct Book {
    bids: Levels,
    asks: Levels,
}

impl Book {
    /// An empty book keeping at most `depth` levels a side.
    pub fn new(depth: usize) -> Self {
        Self { bids: Levels::new(Ordering::Descending, depth), asks: Levels::new(Ordering::Ascending, depth) }
    }

    /// One side.
    pub fn side(&self, side: Side) -> &Levels {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut Levels {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    /// Adds `delta` to the quantity at `price` on `side` (order-level feeds).
    pub fn add(&mut self, side: Side, price: i64, delta: i64) -> LevelChange {
        let levels = self.side_mut(side);
        let was = levels.quantity_at(price);
        let quantity = levels.add(price, delta);
        LevelChange { side, price, quantity, was }
    }

    /// Sets the quantity at `price` on `side`; 0 removes the level (price-level feeds).
    pub fn set(&mut self, side: Side, price: i64, quantity: i64) -> LevelChange {
        let levels = self.side_mut(side);
        let was = levels.quantity_at(price);
        levels.set(price, quantity);
        LevelChange { side, price, quantity: quantity.max(0), was }
    }

    /// Empties both sides (before a snapshot is applied).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// The best bid and ask.
    pub fn best(&self) -> (Option<&Level>, Option<&Level>) {
        (self.bids.best(), self.asks.best())
    }

    /// Whether the best bid is at or above the best ask: a state no correct book of a
    /// continuous market rests in.
    pub fn is_crossed(&self) -> bool {
        matches!(self.best(), (Some(bid), Some(ask)) if bid.price >= ask.price)
    }

    /// Levels dropped on either side because it was full.
    pub fn dropped(&self) -> u64 {
        self.bids.dropped() + self.asks.dropped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_book_keeps_both_sides_and_sees_a_crossed_state() {
        let mut book = Book::new(10);
        book.add(Side::Bid, 100, 5);
        book.add(Side::Ask, 101, 3);
        assert!(!book.is_crossed());
        assert_eq!(book.best().0.map(|l| l.price), Some(100));
        book.set(Side::Bid, 101, 1);
        assert!(book.is_crossed());
        book.clear();
        assert_eq!(book.best(), (None, None));
    }
}
