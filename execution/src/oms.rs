//! The order management system: every order of the day by client order id, moved through its
//! life by the venues' reports and our own requests, with the positions its fills make. A
//! report that does not fit the order (an unknown id, an illegal transition, a fill larger than
//! what is open) is refused with the reason and changes nothing.

use std::collections::{HashMap, HashSet};

use risk::{NewOrder, Side};

use crate::order_state::{next, Event, IllegalTransition, OrderState};
use risk::positions::{Position, Positions};

/// One order and where it is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    /// Client order id.
    pub id: u64,
    /// Venue index.
    pub venue: usize,
    /// Instrument id.
    pub instrument: u32,
    /// Buy or sell.
    pub side: Side,
    /// Limit price, units of 1e-9.
    pub price: i64,
    /// Total quantity (filled and open), units of 1e-9.
    pub quantity: i64,
    /// Quantity filled so far, units of 1e-9.
    pub filled: i64,
    /// Where it is.
    pub state: OrderState,
    /// The order it will become if the venue accepts our pending replace.
    pub replacement: Option<Replacement>,
}

impl Order {
    /// Quantity still open.
    pub fn open(&self) -> i64 {
        self.quantity - self.filled
    }
}

/// A replace we asked for: the new id, price and total quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replacement {
    /// The new client order id.
    pub id: u64,
    /// The new limit price.
    pub price: i64,
    /// The new total quantity (filled included).
    pub quantity: i64,
}

/// What a venue reports about one of our orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Accepted.
    Accepted,
    /// Refused.
    Rejected,
    /// `quantity` filled at `price`.
    Fill {
        /// Units of 1e-9.
        quantity: i64,
        /// Units of 1e-9.
        price: i64,
    },
    /// Cancelled (asked or not).
    Canceled,
    /// Our cancel was refused.
    CancelRejected,
    /// Our replace was done: the order carries on under the replacement's id.
    Replaced,
    /// Our replace was refused.
    ReplaceRejected,
    /// Expired.
    Expired,
}

/// A report or request the OMS refused; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OmsError {
    /// No order has this id.
    #[error("order {0} is unknown")]
    UnknownOrder(u64),
    /// An order already has this id.
    #[error("order {0} exists already")]
    DuplicateOrder(u64),
    /// The instrument or venue is not one the OMS keeps positions for.
    #[error("order {0}: its instrument or venue is not configured")]
    UnknownInstrument(u64),
    /// The order's state does not allow the event.
    #[error("order {id}: {transition}")]
    Illegal {
        /// The order.
        id: u64,
        /// What was refused.
        transition: IllegalTransition,
    },
    /// A fill larger than the quantity open.
    #[error("order {id}: a fill of {fill} is more than the {open} open")]
    Overfill {
        /// The order.
        id: u64,
        /// Open quantity.
        open: i64,
        /// The fill's quantity.
        fill: i64,
    },
    /// A fill of nothing, or at no price.
    #[error("order {0}: a fill must have a positive quantity and price")]
    BadFill(u64),
}

/// Every order of the day, and the positions their fills made.
#[derive(Debug)]
pub struct Oms {
    orders: HashMap<u64, Order>,
    /// The ids of the orders not yet in a final state, so walking the working orders never
    /// walks the whole day.
    working: HashSet<u64>,
    /// The original order of each pending replacement, by the replacement's id.
    replacing: HashMap<u64, u64>,
    index: Vec<Option<usize>>,
    venues: usize,
    positions: Positions,
}

impl Oms {
    /// An OMS for `instruments` on `venues` venues, with room for `capacity` orders before its
    /// table grows.
    pub fn new(instruments: &[u32], venues: usize, capacity: usize) -> Self {
        let top = instruments.iter().map(|&i| i as usize + 1).max().unwrap_or(0);
        let mut index = vec![None; top];
        for (at, &instrument) in instruments.iter().enumerate() {
            index[instrument as usize] = Some(at);
        }
        Self {
            orders: HashMap::with_capacity(capacity),
            working: HashSet::with_capacity(capacity / 4 + 1),
            replacing: HashMap::with_capacity(capacity / 8 + 1),
            index,
            venues,
            positions: Positions::new(instruments.len(), venues),
        }
    }

    fn symbol(&self, order: &Order) -> Option<usize> {
        self.index.get(order.instrument as usize).copied().flatten().filter(|_| order.venue < self.venues)
    }

    /// Records an order as sent: PendingNew.
    pub fn sent(&mut self, order: &NewOrder) -> Result<(), OmsError> {
        let record = Order {
            id: order.id,
            venue: order.venue,
            instrument: order.instrument,
            side: order.side,
            price: order.price,
            quantity: order.quantity,
            filled: 0,
            state: OrderState::PendingNew,
            replacement: None,
        };
        if self.symbol(&record).is_none() {
            return Err(OmsError::UnknownInstrument(order.id));
        }
        if self.orders.contains_key(&order.id) {
            return Err(OmsError::DuplicateOrder(order.id));
        }
        self.orders.insert(order.id, record);
        self.working.insert(order.id);
        Ok(())
    }

    /// Records our cancel request for order `id`: PendingCancel.
    pub fn cancel_requested(&mut self, id: u64) -> Result<&Order, OmsError> {
        self.transition(id, Event::CancelRequested, |_| {})
    }

    /// Records our replace request for order `id`: PendingReplace until the venue answers.
    pub fn replace_requested(&mut self, id: u64, replacement: Replacement) -> Result<&Order, OmsError> {
        if self.orders.contains_key(&replacement.id) || self.replacing.contains_key(&replacement.id) {
            return Err(OmsError::DuplicateOrder(replacement.id));
        }
        self.transition(id, Event::ReplaceRequested, |order| order.replacement = Some(replacement))?;
        self.replacing.insert(replacement.id, id);
        Ok(&self.orders[&id])
    }

    /// Takes on an order found working at the venue that this OMS did not send (recovered
    /// after a restart, from the venue's replay): New, or PartiallyFilled if `filled`.
    pub fn adopt(&mut self, order: &NewOrder, filled: i64) -> Result<&Order, OmsError> {
        self.sent(order)?;
        self.transition(order.id, Event::Accepted, |_| {})?;
        if filled > 0 {
            let record = self.orders.get_mut(&order.id).ok_or(OmsError::UnknownOrder(order.id))?;
            record.filled = filled.min(record.quantity);
            record.state = if record.filled == record.quantity {
                OrderState::Filled
            } else {
                OrderState::PartiallyFilled
            };
            if record.state.is_final() {
                self.working.remove(&order.id);
            }
        }
        Ok(&self.orders[&order.id])
    }

    /// Applies a venue's report on order `id`; the order as it is now (for a replace, the
    /// replacement, under its new id).
    pub fn apply(&mut self, id: u64, report: Report) -> Result<&Order, OmsError> {
        // A venue that names the replacement when it refuses a replace (OUCH) is answered
        // about the original.
        if let (Report::Rejected, Some(&original)) = (report, self.replacing.get(&id)) {
            if !self.orders.contains_key(&id) {
                return self.apply(original, Report::ReplaceRejected);
            }
        }
        match report {
            Report::Accepted => self.transition(id, Event::Accepted, |_| {}),
            Report::Rejected => self.transition(id, Event::Rejected, |_| {}),
            Report::Canceled => self.transition(id, Event::Canceled, |_| {}),
            Report::CancelRejected => self.transition(id, Event::CancelRejected, |_| {}),
            Report::Expired => self.transition(id, Event::Expired, |_| {}),
            Report::ReplaceRejected => {
                let pending = self.orders.get(&id).and_then(|o| o.replacement);
                self.transition(id, Event::ReplaceRejected, |o| o.replacement = None)?;
                if let Some(replacement) = pending {
                    self.replacing.remove(&replacement.id);
                }
                Ok(&self.orders[&id])
            }
            Report::Fill { quantity, price } => self.fill(id, quantity, price),
            Report::Replaced => self.replaced(id),
        }
    }

    fn fill(&mut self, id: u64, quantity: i64, price: i64) -> Result<&Order, OmsError> {
        let order = *self.orders.get(&id).ok_or(OmsError::UnknownOrder(id))?;
        if quantity <= 0 || price <= 0 {
            return Err(OmsError::BadFill(id));
        }
        if quantity > order.open() {
            return Err(OmsError::Overfill { id, open: order.open(), fill: quantity });
        }
        let complete = quantity == order.open();
        next(order.state, Event::Fill { complete }, order.filled > 0)
            .map_err(|transition| OmsError::Illegal { id, transition })?;
        if let Some(symbol) = self.symbol(&order) {
            self.positions.fill(symbol, order.venue, order.side, quantity, price);
        }
        self.transition(id, Event::Fill { complete }, |o| o.filled += quantity)
    }

    fn replaced(&mut self, id: u64) -> Result<&Order, OmsError> {
        let order = *self.orders.get(&id).ok_or(OmsError::UnknownOrder(id))?;
        let Some(replacement) = order.replacement else {
            let transition = IllegalTransition { state: order.state, event: Event::Replaced };
            return Err(OmsError::Illegal { id, transition });
        };
        self.transition(id, Event::Replaced, |_| {})?;
        self.replacing.remove(&replacement.id);
        let state = if order.filled >= replacement.quantity {
            OrderState::Filled
        } else if order.filled > 0 {
            OrderState::PartiallyFilled
        } else {
            OrderState::New
        };
        let successor = Order {
            id: replacement.id,
            price: replacement.price,
            quantity: replacement.quantity,
            state,
            replacement: None,
            ..order
        };
        if !state.is_final() {
            self.working.insert(replacement.id);
        }
        Ok(self.orders.entry(replacement.id).or_insert(successor))
    }

    /// Moves order `id` by `event`, changing it with `change` only if the event is allowed.
    fn transition(
        &mut self,
        id: u64,
        event: Event,
        change: impl FnOnce(&mut Order),
    ) -> Result<&Order, OmsError> {
        let order = self.orders.get_mut(&id).ok_or(OmsError::UnknownOrder(id))?;
        let state = next(order.state, event, order.filled > 0)
            .map_err(|transition| OmsError::Illegal { id, transition })?;
        change(order);
        order.state = state;
        if state.is_final() {
            self.working.remove(&id);
        }
        Ok(order)
    }

    /// The original order a pending replacement `id` will replace, if `id` is one (and not
    /// an order of its own).
    pub fn original_of(&self, id: u64) -> Option<u64> {
        self.replacing.get(&id).copied().filter(|_| !self.orders.contains_key(&id))
    }

    /// Order `id`.
    pub fn order(&self, id: u64) -> Option<&Order> {
        self.orders.get(&id)
    }

    /// How many orders are not yet over.
    pub fn open_count(&self) -> usize {
        self.working.len()
    }

    /// The orders that may still rest on a venue (not in a final state).
    pub fn open_orders(&self) -> impl Iterator<Item = &Order> {
        self.working.iter().filter_map(|id| self.orders.get(id))
    }

    /// The position `order` is part of: its symbol's on its venue.
    pub fn position_of(&self, order: &Order) -> Position {
        self.symbol(order).map_or_else(Position::default, |s| self.positions.venue(s, order.venue))
    }

    /// Our position in `instrument` across venues, units of 1e-9 (0 if not kept).
    pub fn position_of_symbol(&self, instrument: u32) -> i64 {
        let symbol = self.index.get(instrument as usize).copied().flatten();
        symbol.map_or(0, |s| self.positions.symbol(s).quantity)
    }

    /// The positions the fills made.
    pub fn positions(&self) -> &Positions {
        &self.positions
    }
}
