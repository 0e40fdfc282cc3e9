//! Positions and working quantities per symbol and venue, and the portfolio's exposure in the
//! worst case: every working order filled.

use crate::order::{notional, Side};

/// A position and the quantities working on each side, units of 1e-9.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holding {
    /// Signed position: long above zero.
    pub position: i64,
    /// Open quantity of working buys.
    pub working_buy: i64,
    /// Open quantity of working sells.
    pub working_sell: i64,
}

impl Holding {
    /// The position if every working buy filled.
    pub fn worst_long(&self) -> i64 {
        self.position + self.working_buy
    }

    /// The position if every working sell filled.
    pub fn worst_short(&self) -> i64 {
        self.position - self.working_sell
    }

    /// This holding with `quantity` more working on `side`.
    pub fn with_working(mut self, side: Side, quantity: i64) -> Self {
        match side {
            Side::Buy => self.working_buy += quantity,
            Side::Sell => self.working_sell += quantity,
        }
        self
    }
}

/// Every symbol's holdings, per venue and in all, with each symbol's mark price.
#[derive(Debug, Clone)]
pub struct Exposure {
    venues: usize,
    per_venue: Vec<Holding>,
    per_symbol: Vec<Holding>,
    marks: Vec<i64>,
}

impl Exposure {
    /// Flat, for `symbols` symbols on `venues` venues.
    pub fn new(symbols: usize, venues: usize) -> Self {
        Self {
            venues,
            per_venue: vec![Holding::default(); symbols * venues],
            per_symbol: vec![Holding::default(); symbols],
            marks: vec![0; symbols],
        }
    }

    /// The holding of symbol (index) `symbol` on `venue`.
    pub fn venue(&self, symbol: usize, venue: usize) -> Holding {
        self.per_venue[symbol * self.venues + venue]
    }

    /// The holding of `symbol` across venues.
    pub fn symbol(&self, symbol: usize) -> Holding {
        self.per_symbol[symbol]
    }

    /// Sets the price `symbol`'s exposure is valued at.
    pub fn mark(&mut self, symbol: usize, price: i64) {
        self.marks[symbol] = price;
    }

    fn both(&mut self, symbol: usize, venue: usize, change: impl Fn(&mut Holding)) {
        change(&mut self.per_venue[symbol * self.venues + venue]);
        change(&mut self.per_symbol[symbol]);
    }

    /// `quantity` more working on `side`.
    pub fn add_working(&mut self, symbol: usize, venue: usize, side: Side, quantity: i64) {
        self.both(symbol, venue, |h| *h = h.with_working(side, quantity));
    }

    /// `quantity` less working on `side` (cancelled, rejected or expired).
    pub fn remove_working(&mut self, symbol: usize, venue: usize, side: Side, quantity: i64) {
        self.both(symbol, venue, |h| *h = h.with_working(side, -quantity));
    }

    /// A fill of `quantity` of a working order on `side`: it moves from working to the position.
    pub fn fill(&mut self, symbol: usize, venue: usize, side: Side, quantity: i64) {
        self.both(symbol, venue, |h| {
            *h = h.with_working(side, -quantity);
            h.position += side.sign() * quantity;
        });
    }

    /// The portfolio's worst-case gross exposure and its worst net exposure (the larger in
    /// size of all working buys filled, or all working sells filled), with `quantity` more
    /// working on `side` of `symbol`; units of 1e-9 of currency.
    pub fn gross_and_net_with(&self, symbol: usize, side: Side, quantity: i64) -> (i128, i128) {
        let (mut gross, mut long, mut short) = (0i128, 0i128, 0i128);
        for (index, (&holding, &mark)) in self.per_symbol.iter().zip(&self.marks).enumerate() {
            let h = if index == symbol { holding.with_working(side, quantity) } else { holding };
            let (worst_long, worst_short) = (notional(mark, h.worst_long()), notional(mark, h.worst_short()));
            gross += worst_long.abs().max(worst_short.abs());
            long += worst_long;
            short += worst_short;
        }
        (gross, long.abs().max(short.abs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: i64 = 1_000_000_000;

    #[test]
    fn fills_move_working_quantity_into_the_position_per_venue_and_in_all() {
        let mut exposure = Exposure::new(2, 3);
        exposure.add_working(1, 2, Side::Buy, 10);
        exposure.add_working(1, 0, Side::Sell, 4);
        exposure.fill(1, 2, Side::Buy, 6);
        let venue = Holding { position: 6, working_buy: 4, working_sell: 0 };
        assert_eq!(exposure.venue(1, 2), venue);
        assert_eq!(exposure.symbol(1), Holding { position: 6, working_buy: 4, working_sell: 4 });
        assert_eq!((exposure.symbol(1).worst_long(), exposure.symbol(1).worst_short()), (10, 2));
        exposure.remove_working(1, 0, Side::Sell, 4);
        assert_eq!(exposure.symbol(0), Holding::default());
    }

    #[test]
    fn gross_counts_each_symbols_worse_side_and_net_the_worse_of_all_long_or_all_short() {
        let mut exposure = Exposure::new(2, 1);
        exposure.mark(0, 100 * ONE);
        exposure.mark(1, 50 * ONE);
        exposure.add_working(0, 0, Side::Buy, 10 * ONE);
        exposure.fill(0, 0, Side::Buy, 10 * ONE); // long 10 at 100: 1,000
        exposure.add_working(1, 0, Side::Sell, 30 * ONE); // short 30 at 50 if filled: -1,500
        let (gross, net) = exposure.gross_and_net_with(0, Side::Buy, 0);
        assert_eq!(
            (gross, net),
            (2_500 * i128::from(ONE), 1_000 * i128::from(ONE)),
            "long: 1,000; short: -500"
        );
        let (gross, net) = exposure.gross_and_net_with(1, Side::Sell, 10 * ONE);
        assert_eq!((gross, net), (3_000 * i128::from(ONE), 1_000 * i128::from(ONE)));
        let (_, net) = exposure.gross_and_net_with(0, Side::Sell, 30 * ONE);
        assert_eq!(net, 3_500 * i128::from(ONE), "all sells filled: -2,000 - 1,500");
    }
}
