//! The limits the gate enforces: per symbol, and for the whole portfolio.

/// One symbol's limits (the same on every venue, but for the venue position limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolLimits {
    /// The instrument's id in the instance's symbol table.
    pub instrument: u32,
    /// Prices are multiples of this, units of 1e-9.
    pub tick: i64,
    /// Quantities are multiples of this, units of 1e-9.
    pub lot: i64,
    /// Smallest quantity per order, units of 1e-9.
    pub min_quantity: i64,
    /// Largest quantity per order, units of 1e-9.
    pub max_quantity: i64,
    /// Largest notional per order, units of 1e-9 of currency.
    pub max_notional: i128,
    /// Furthest a limit price may be from the reference price, in basis points of it.
    pub price_band_bps: u32,
    /// Largest position, long or short, across venues, counting working orders in the worst
    /// case, units of 1e-9.
    pub max_position: i64,
    /// As `max_position`, on each venue alone.
    pub max_venue_position: i64,
    /// Most working orders on the symbol, all venues together.
    pub max_working_orders: u32,
    /// Orders (new and replace) a second on each venue, and the burst allowed.
    pub order_rate_per_s: u32,
    /// The order bucket's size.
    pub order_burst: u32,
    /// Cancels (and replaces) a second on each venue, and the burst allowed.
    pub cancel_rate_per_s: u32,
    /// The cancel bucket's size.
    pub cancel_burst: u32,
    /// Oldest book (since its feed published it) an order may be priced on, nanoseconds.
    pub max_book_age_ns: u64,
}

/// The portfolio's limits, across symbols and venues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortfolioLimits {
    /// Largest gross exposure (the sum over symbols of the worst-case absolute position times
    /// the mark price), units of 1e-9 of currency.
    pub max_gross_notional: i128,
    /// Largest net exposure (the worst-case signed sum of positions times mark prices), units
    /// of 1e-9 of currency.
    pub max_net_notional: i128,
    /// Most working orders in all.
    pub max_working_orders: u32,
    /// Oldest heartbeat of the risk worker the gate trusts, nanoseconds.
    pub max_risk_heartbeat_age_ns: u64,
}

/// Everything the gate enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Each tradable symbol's limits.
    pub symbols: Vec<SymbolLimits>,
    /// The portfolio's.
    pub portfolio: PortfolioLimits,
    /// Venues orders may go to (indices `0..venues`).
    pub venues: usize,
    /// Most working orders on one venue and symbol: the size of each own-order table.
    pub max_working_per_venue_symbol: usize,
}
