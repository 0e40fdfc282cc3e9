//! What the gate needs of a venue's book for one order.

/// The venue's book for the order's symbol, as the execution worker read it from its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketView {
    /// The reference price (the book's mid, or the last trade), units of 1e-9; 0 if none.
    pub reference_price: i64,
    /// When the feed published the book, nanoseconds on the clock `now_ns` is read from.
    pub published_ns: u64,
    /// Whether the feed flagged the book stale.
    pub stale: bool,
}
