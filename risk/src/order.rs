//! The orders the gate judges.

/// Which way an order trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buys: adds to the position.
    Buy,
    /// Sells: takes from the position.
    Sell,
}

impl Side {
    /// `+1` for a buy, `-1` for a sell: the sign of the position change a fill makes.
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

/// A new limit order on the way to a venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrder {
    /// Our client order id: unique for the day, issued in increasing order.
    pub id: u64,
    /// The venue's index in the gate (0, 1, 2 for A, B, C).
    pub venue: usize,
    /// The instrument's id in the instance's symbol table.
    pub instrument: u32,
    /// Buy or sell.
    pub side: Side,
    /// Limit price, units of 1e-9.
    pub price: i64,
    /// Quantity, units of 1e-9.
    pub quantity: i64,
}

/// A cancel-replace of one of our working orders: a new id, price and quantity for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replace {
    /// The working order's client order id.
    pub original: u64,
    /// The order as it will be: its new id, price and quantity (venue, instrument and side are
    /// the original's).
    pub order: NewOrder,
}

/// The notional of `quantity` at `price` (both units of 1e-9), in units of 1e-9 of currency.
pub fn notional(price: i64, quantity: i64) -> i128 {
    i128::from(price) * i128::from(quantity) / 1_000_000_000
}
