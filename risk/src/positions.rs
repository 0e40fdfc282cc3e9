//! Positions, average prices and P&L per symbol and venue, from fills.

use crate::order::notional;
use crate::order::Side;

/// A position in one symbol (on one venue, or in all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed quantity, long above zero, units of 1e-9.
    pub quantity: i64,
    /// The average price the open quantity was bought or sold at, units of 1e-9 (0 when flat).
    pub average_price: i64,
    /// P&L realized by closing quantity, units of 1e-9 of currency.
    pub realized: i128,
}

impl Position {
    /// Applies a fill of `quantity` at `price` on `side`: quantity that closes the position
    /// realizes its P&L against the average price; quantity that opens it moves the average.
    pub fn fill(&mut self, side: Side, quantity: i64, price: i64) {
        let signed = side.sign() * quantity;
        let opening = self.quantity == 0 || (self.quantity > 0) == (signed > 0);
        if opening {
            let held = i128::from(self.quantity.abs());
            let cost = i128::from(self.average_price) * held + i128::from(price) * i128::from(quantity);
            self.quantity += signed;
            self.average_price = (cost / i128::from(self.quantity.abs())) as i64;
            return;
        }
        let closed = quantity.min(self.quantity.abs());
        let direction = self.quantity.signum();
        self.realized += notional(price - self.average_price, closed) * i128::from(direction);
        self.quantity += signed;
        if self.quantity == 0 {
            self.average_price = 0;
        } else if self.quantity.signum() != direction {
            self.average_price = price; // flipped: what is left opened at this price
        }
    }

    /// The P&L of the open quantity marked at `mark`, units of 1e-9 of currency.
    pub fn unrealized(&self, mark: i64) -> i128 {
        notional(mark - self.average_price, self.quantity)
    }
}

/// Every symbol's position on every venue, and across venues.
#[derive(Debug, Clone)]
pub struct Positions {
    venues: usize,
    per_venue: Vec<Position>,
    per_symbol: Vec<Position>,
}

impl Positions {
    /// Flat, for symbol indices `0..symbols` on `venues` venues.
    pub fn new(symbols: usize, venues: usize) -> Self {
        Self {
            venues,
            per_venue: vec![Position::default(); symbols * venues],
            per_symbol: vec![Position::default(); symbols],
        }
    }

    /// Applies a fill to the venue's position and the symbol's.
    pub fn fill(&mut self, symbol: usize, venue: usize, side: Side, quantity: i64, price: i64) {
        self.per_venue[symbol * self.venues + venue].fill(side, quantity, price);
        self.per_symbol[symbol].fill(side, quantity, price);
    }

    /// The position in `symbol` on `venue`.
    pub fn venue(&self, symbol: usize, venue: usize) -> Position {
        self.per_venue[symbol * self.venues + venue]
    }

    /// The position in `symbol` across venues.
    pub fn symbol(&self, symbol: usize) -> Position {
        self.per_symbol[symbol]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: i64 = 1_000_000_000;

    #[test]
    fn buying_averages_selling_realizes_and_a_flip_opens_at_the_fill_price() {
        let mut p = Position::default();
        p.fill(Side::Buy, 10 * ONE, 100 * ONE);
        p.fill(Side::Buy, 10 * ONE, 102 * ONE);
        assert_eq!((p.quantity, p.average_price, p.realized), (20 * ONE, 101 * ONE, 0));
        assert_eq!(p.unrealized(103 * ONE), 40 * i128::from(ONE));
        p.fill(Side::Sell, 5 * ONE, 105 * ONE);
        assert_eq!((p.quantity, p.average_price, p.realized), (15 * ONE, 101 * ONE, 20 * i128::from(ONE)));
        p.fill(Side::Sell, 25 * ONE, 99 * ONE); // closes 15 at a loss of 2 each, opens 10 short at 99
        assert_eq!((p.quantity, p.average_price), (-10 * ONE, 99 * ONE));
        assert_eq!(p.realized, (20 - 30) * i128::from(ONE));
        assert_eq!(p.unrealized(97 * ONE), 20 * i128::from(ONE), "short 10 from 99, marked at 97");
        p.fill(Side::Buy, 10 * ONE, 98 * ONE);
        assert_eq!((p.quantity, p.average_price, p.realized), (0, 0, 0));
    }

    #[test]
    fn venues_add_up_to_the_symbol() {
        let mut positions = Positions::new(2, 3);
        positions.fill(1, 0, Side::Buy, 10 * ONE, 100 * ONE);
        positions.fill(1, 2, Side::Sell, 4 * ONE, 101 * ONE);
        assert_eq!(positions.venue(1, 0).quantity, 10 * ONE);
        assert_eq!(positions.venue(1, 2).quantity, -4 * ONE);
        let all = positions.symbol(1);
        assert_eq!((all.quantity, all.realized), (6 * ONE, 4 * i128::from(ONE)));
        assert_eq!(positions.symbol(0), Position::default());
    }
}
