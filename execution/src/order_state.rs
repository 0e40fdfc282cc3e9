//! An order's life as a state machine: which execution report (or request of ours) may move
//! an order from which state, and where to. An event the table does not allow is reported and
//! never applied.

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Sent; the venue has not answered.
    PendingNew,
    /// Accepted by the venue, nothing filled.
    New,
    /// Accepted, filled in part.
    PartiallyFilled,
    /// Filled in full (final).
    Filled,
    /// We asked the venue to cancel it.
    PendingCancel,
    /// Cancelled, on our request or the venue's own (final).
    Canceled,
    /// We asked the venue to replace it.
    PendingReplace,
    /// Replaced by a new order, which carries on (final for this one).
    Replaced,
    /// Refused by the venue (final).
    Rejected,
    /// Expired (its time in force ran out) (final).
    Expired,
}

impl OrderState {
    /// Every state.
    pub const ALL: [OrderState; 10] = [
        OrderState::PendingNew,
        OrderState::New,
        OrderState::PartiallyFilled,
        OrderState::Filled,
        OrderState::PendingCancel,
        OrderState::Canceled,
        OrderState::PendingReplace,
        OrderState::Replaced,
        OrderState::Rejected,
        OrderState::Expired,
    ];

    /// Whether nothing more can happen to the order.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderState::Filled
                | OrderState::Canceled
                | OrderState::Replaced
                | OrderState::Rejected
                | OrderState::Expired
        )
    }

    /// Whether the order may rest on the venue's book (and fill).
    pub fn is_working(self) -> bool {
        !self.is_final()
    }
}

/// What happens to an order: our requests and the venue's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// The venue accepted the order.
    Accepted,
    /// The venue refused the order.
    Rejected,
    /// Part of the order filled; `complete` when nothing is left open.
    Fill {
        /// Whether this fill completes the order.
        complete: bool,
    },
    /// We asked for a cancel.
    CancelRequested,
    /// The venue cancelled the order (asked or not: cancel-on-disconnect, say).
    Canceled,
    /// The venue refused our cancel.
    CancelRejected,
    /// We asked for a replace.
    ReplaceRequested,
    /// The venue replaced the order.
    Replaced,
    /// The venue refused our replace.
    ReplaceRejected,
    /// The order's time in force ran out.
    Expired,
}

/// An event the order's state does not allow; the order is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} is not allowed for an order that is {state:?}")]
pub struct IllegalTransition {
    /// The order's state.
    pub state: OrderState,
    /// The event refused.
    pub event: Event,
}

/// The state `event` moves an order in `state` to, with `filled` telling whether anything of
/// it has filled (a refused cancel or replace returns it to New or PartiallyFilled).
pub fn next(state: OrderState, event: Event, filled: bool) -> Result<OrderState, IllegalTransition> {
    use Event as E;
    use OrderState as S;
    let resting = if filled { S::PartiallyFilled } else { S::New };
    let next = match (state, event) {
        (S::PendingNew, E::Accepted) => S::New,
        (S::PendingNew, E::Rejected) => S::Rejected,
        // A venue may fill before its acknowledgement arrives.
        (S::PendingNew | S::New | S::PartiallyFilled, E::Fill { complete }) => {
            if complete {
                S::Filled
            } else {
                S::PartiallyFilled
            }
        }
        // A fill racing our cancel or replace leaves the request pending.
        (S::PendingCancel | S::PendingReplace, E::Fill { complete: true }) => S::Filled,
        (S::PendingCancel, E::Fill { complete: false }) => S::PendingCancel,
        (S::PendingReplace, E::Fill { complete: false }) => S::PendingReplace,
        (S::New | S::PartiallyFilled, E::CancelRequested) => S::PendingCancel,
        (S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace, E::Canceled) => S::Canceled,
        (S::PendingCancel, E::CancelRejected) => resting,
        (S::New | S::PartiallyFilled, E::ReplaceRequested) => S::PendingReplace,
        (S::PendingReplace, E::Replaced) => S::Replaced,
        (S::PendingReplace, E::ReplaceRejected) => resting,
        (S::New | S::PartiallyFilled | S::PendingCancel | S::PendingReplace, E::Expired) => S::Expired,
        // A cancel or replace that crossed the order's end is refused by the venue: too late,
        // and nothing changes.
        (S::Filled | S::Canceled | S::Expired, E::CancelRejected | E::ReplaceRejected) => state,
        _ => return Err(IllegalTransition { state, event }),
    };
    Ok(next)
}
