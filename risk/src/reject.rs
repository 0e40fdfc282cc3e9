//! Why the gate refused an order: one code per check, counted per code.

/// A rejection reason. Its discriminant is its code in counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(u8)]
pub enum Reject {
    /// The price is zero or negative.
    #[error("the price is not positive")]
    NonPositivePrice = 0,
    /// The price is not a multiple of the symbol's tick.
    #[error("the price is not on the tick")]
    OffTick,
    /// The quantity is zero or negative.
    #[error("the quantity is not positive")]
    NonPositiveQuantity,
    /// The quantity is not a multiple of the symbol's lot.
    #[error("the quantity is not a whole number of lots")]
    OddLot,
    /// The quantity is below the symbol's minimum.
    #[error("the quantity is below the minimum")]
    BelowMinQuantity,
    /// The quantity is above the symbol's maximum per order.
    #[error("the quantity is above the maximum per order")]
    AboveMaxQuantity,
    /// The notional is above the maximum per order.
    #[error("the notional is above the maximum per order")]
    AboveMaxNotional,
    /// The price is further from the reference price than the band allows.
    #[error("the price is outside the band around the reference price")]
    OutsidePriceBand,
    /// Filled in full, the order (with every working order on its side) would take the
    /// symbol's position past its limit.
    #[error("the symbol's position limit would be exceeded")]
    SymbolPositionLimit,
    /// As [`Reject::SymbolPositionLimit`], on the order's venue alone.
    #[error("the venue's position limit for the symbol would be exceeded")]
    VenuePositionLimit,
    /// The portfolio's gross exposure would exceed its limit.
    #[error("the portfolio's gross exposure limit would be exceeded")]
    GrossExposureLimit,
    /// The portfolio's net exposure would exceed its limit.
    #[error("the portfolio's net exposure limit would be exceeded")]
    NetExposureLimit,
    /// Too many working orders (on the symbol and venue, the symbol, or the portfolio).
    #[error("too many working orders")]
    TooManyWorkingOrders,
    /// The venue and symbol's order-rate throttle is empty.
    #[error("the order rate is throttled")]
    OrderRateThrottled,
    /// The venue and symbol's cancel-rate throttle is empty: it cancelled too fast.
    #[error("the cancel rate is throttled")]
    CancelRateThrottled,
    /// The client order id was used before today (ids only grow).
    #[error("the client order id is not new")]
    DuplicateOrderId,
    /// The order would trade against one of our own resting orders.
    #[error("the order would trade against our own order")]
    SelfTrade,
    /// The venue's book is flagged stale by its feed.
    #[error("the book is marked stale")]
    StaleBook,
    /// The venue's book is older than allowed.
    #[error("the book is too old")]
    OldBook,
    /// The book has no reference price to check against.
    #[error("there is no reference price")]
    NoReferencePrice,
    /// Trading is halted (or the kill switch is on), globally or for the symbol.
    #[error("trading is halted")]
    Halted,
    /// Only orders that reduce the position are allowed, and this one does not.
    #[error("reduce-only: the order does not reduce the position")]
    ReduceOnly,
    /// The risk worker's heartbeat is stale: the gate fails closed.
    #[error("the risk worker's heartbeat is stale")]
    RiskHeartbeatStale,
    /// The trading state in shared memory is not one the gate knows: it fails closed.
    #[error("the trading state is unknown")]
    UnknownTradingState,
    /// The instrument or venue is not one the gate was built for.
    #[error("the instrument or venue is not configured")]
    UnknownInstrument,
    /// A replace names an order that is not working.
    #[error("the order to replace is not working")]
    UnknownOrder,
    /// The order would add more exposure than the risk worker's limits leave room for (the
    /// symbol's, or the portfolio's gross).
    #[error("no room left under the risk worker's exposure limits")]
    RiskHeadroom,
}

impl Reject {
    /// Every reason, in code order.
    pub const ALL: [Reject; 27] = [
        Reject::NonPositivePrice,
        Reject::OffTick,
        Reject::NonPositiveQuantity,
        Reject::OddLot,
        Reject::BelowMinQuantity,
        Reject::AboveMaxQuantity,
        Reject::AboveMaxNotional,
        Reject::OutsidePriceBand,
        Reject::SymbolPositionLimit,
        Reject::VenuePositionLimit,
        Reject::GrossExposureLimit,
        Reject::NetExposureLimit,
        Reject::TooManyWorkingOrders,
        Reject::OrderRateThrottled,
        Reject::CancelRateThrottled,
        Reject::DuplicateOrderId,
        Reject::SelfTrade,
        Reject::StaleBook,
        Reject::OldBook,
        Reject::NoReferencePrice,
        Reject::Halted,
        Reject::ReduceOnly,
        Reject::RiskHeartbeatStale,
        Reject::UnknownTradingState,
        Reject::UnknownInstrument,
        Reject::UnknownOrder,
        Reject::RiskHeadroom,
    ];

    /// The reason's code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_once_at_its_code() {
        for (code, reason) in Reject::ALL.iter().enumerate() {
            assert_eq!(usize::from(reason.code()), code, "{reason:?}");
        }
    }
}
