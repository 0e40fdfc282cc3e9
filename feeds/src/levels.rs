//! One side of a price-level book: levels sorted best first in a fixed-capacity array.
//!
//! Market data touches the top of the book far more than its depths, so levels live in a
//! sorted array with the best at index 0: finding a price is a binary search and an insert or
//! removal near the top moves few entries. The capacity is fixed when the book is made, so the
//! hot path never allocates; a level that would fall beyond it is dropped (and counted), as a
//! depth-limited venue feed would.

/// A price and the total quantity resting there, both in units of 1e-9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Level {
    /// Price.
    pub price: i64,
    /// Total quantity.
    pub quantity: i64,
}

/// Which way a side's prices improve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// Bids: the highest price is best.
    Descending,
    /// Asks: the lowest price is best.
    Ascending,
}

/// One side of a book.
#[derive(Debug, Clone)]
pub struct Levels {
    levels: Vec<Level>,
    capacity: usize,
    ordering: Ordering,
    dropped: u64,
}

impl Levels {
    /// An empty side holding at most `capacity` levels.
    pub fn new(ordering: Ordering, capacity: usize) -> Self {
        assert!(capacity > 0, "a book side needs room for at least one level");
        Self { levels: Vec::with_capacity(capacity), capacity, ordering, dropped: 0 }
    }

    /// Levels, best first.
    pub fn iter(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter()
    }

    /// The best level.
    pub fn best(&self) -> Option<&Level> {
        self.levels.first()
    }

    /// Number of levels.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether the side is empty.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Levels dropped because the side was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Empties the side.
    pub fn clear(&mut self) {
        self.levels.clear();
    }

    /// Where `price` is, or where it would go.
    fn find(&self, price: i64) -> Result<usize, usize> {
        match self.ordering {
            Ordering::Descending => self.levels.binary_search_by(|l| price.cmp(&l.price)),
            Ordering::Ascending => self.levels.binary_search_by(|l| l.price.cmp(&price)),
        }
    }

    /// The quantity at `price` (0 if none).
    pub fn quantity_at(&self, price: i64) -> i64 {
        self.find(price).map_or(0, |i| self.levels[i].quantity)
    }

    /// Sets the quantity at `price`; 0 (or less) removes the level.
    pub fn set(&mut self, price: i64, quantity: i64) {
        match self.find(price) {
            Ok(i) if quantity > 0 => self.levels[i].quantity = quantity,
            Ok(i) => {
                self.levels.remove(i);
            }
            Err(_) if quantity <= 0 => {}
            Err(i) => self.insert(i, Level { price, quantity }),
        }
    }

    /// Adds `delta` (which may be negative) to the quantity at `price`; a level reaching 0 is
    /// removed. Returns the new quantity.
    pub fn add(&mut self, price: i64, delta: i64) -> i64 {
        let quantity = self.quantity_at(price) + delta;
        self.set(price, quantity);
        quantity.max(0)
    }

    fn insert(&mut self, at: usize, level: Level) {
        if at >= self.capacity {
            self.dropped += 1;
            return;
        }
        if self.levels.len() == self.capacity {
            self.levels.pop();
            self.dropped += 1;
        }
        self.levels.insert(at, level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn bids_are_best_first_by_highest_price() {
        let mut bids = Levels::new(Ordering::Descending, 8);
        for (price, qty) in [(100, 5), (102, 1), (101, 7)] {
            bids.add(price, qty);
        }
        let prices: Vec<i64> = bids.iter().map(|l| l.price).collect();
        assert_eq!(prices, [102, 101, 100]);
        assert_eq!(bids.add(102, -1), 0);
        assert_eq!(bids.best(), Some(&Level { price: 101, quantity: 7 }));
    }

    #[test]
    fn asks_are_best_first_by_lowest_price_and_zero_removes() {
        let mut asks = Levels::new(Ordering::Ascending, 8);
        asks.set(105, 3);
        asks.set(103, 2);
        asks.set(105, 0);
        asks.set(104, 0);
        assert_eq!(asks.iter().copied().collect::<Vec<_>>(), [Level { price: 103, quantity: 2 }]);
    }

    #[test]
    fn a_full_side_keeps_the_best_levels_and_counts_what_it_drops() {
        let mut bids = Levels::new(Ordering::Descending, 2);
        bids.set(100, 1);
        bids.set(101, 1);
        bids.set(99, 1);
        bids.set(102, 1);
        assert_eq!(bids.iter().map(|l| l.price).collect::<Vec<_>>(), [102, 101]);
        assert_eq!(bids.dropped(), 2);
        assert_eq!(bids.len(), 2);
    }

    proptest! {
        #[test]
        fn a_side_matches_a_sorted_map(ops in proptest::collection::vec((90i64..110, -5i64..10), 0..200)) {
            let mut asks = Levels::new(Ordering::Ascending, 64);
            let mut model: BTreeMap<i64, i64> = BTreeMap::new();
            for (price, delta) in ops {
                let quantity = (model.get(&price).copied().unwrap_or(0) + delta).max(0);
                if quantity == 0 { model.remove(&price); } else { model.insert(price, quantity); }
                prop_assert_eq!(asks.add(price, delta), quantity);
            }
            let got: Vec<(i64, i64)> = asks.iter().map(|l| (l.price, l.quantity)).collect();
            let want: Vec<(i64, i64)> = model.into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}
