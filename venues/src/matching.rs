//! A price-time priority matching engine for one symbol.
//!
//! Orders rest at their limit price in arrival order. An incoming order trades against the best
//! opposite prices first and, at each price, against the oldest resting order first; each trade
//! is at the resting order's price. A limit order's remainder rests; a market or IOC order's
//! remainder is cancelled. A cancel-replace keeps the order's place in its queue only when the
//! price is unchanged and the quantity does not grow; otherwise it goes to the back (and may
//! trade at once if its new price crosses).
//!
//! Every change is reported as an [`Event`], in the order it happened, into a caller-owned
//! vector, so a venue turns one order into its market-data and execution messages without
//! looking at the book again.
//!
//! Orders from outside clients share a venue's engines with its background flow: their ids
//! have [`EXTERNAL_ID_BIT`] set, so they never collide with the flow's, which count up from 1.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// An order's id, unique on the venue.
pub type OrderId = u64;

/// The bit set in the engine id of every order from an outside client (never in the flow's).
pub const EXTERNAL_ID_BIT: OrderId = 1 << 63;

/// Whether `id` is an outside client's order (its [`EXTERNAL_ID_BIT`] is set).
pub fn is_external(id: OrderId) -> bool {
    id & EXTERNAL_ID_BIT != 0
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Self {
        match self {
            Self::Buy => Self::Sell,
            Self::Sell => Self::Buy,
        }
    }
}

/// How long an order may rest and at what price it may trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    /// Trades up to its price; the remainder rests.
    Limit {
        /// The limit price, in ticks.
        price: i64,
    },
    /// Trades up to its price; the remainder is cancelled (immediate or cancel).
    Ioc {
        /// The limit price, in ticks.
        price: i64,
    },
    /// Trades at any price; the remainder is cancelled.
    Market,
}

/// A new order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrder {
    /// Its id; must not be in use.
    pub id: OrderId,
    /// Buy or sell.
    pub side: Side,
    /// Quantity, in lots.
    pub quantity: u64,
    /// Limit, IOC or market.
    pub order_type: OrderType,
}

/// Why an order or a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// The id is already in use.
    DuplicateId,
    /// The quantity is zero.
    ZeroQuantity,
    /// The price is not positive.
    BadPrice,
    /// No resting order has this id (cancel or replace).
    UnknownOrder,
}

/// Something that happened in the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The order was accepted.
    Accepted {
        /// The order.
        id: OrderId,
    },
    /// The order was refused; nothing changed.
    Rejected {
        /// The order (or the order a cancel or replace named).
        id: OrderId,
        /// Why.
        reason: Reject,
    },
    /// A trade: `taker` (incoming) against `maker` (resting), at the maker's price.
    Trade {
        /// The incoming order.
        taker: OrderId,
        /// The resting order.
        maker: OrderId,
        /// The maker's side.
        maker_side: Side,
        /// Trade price.
        price: i64,
        /// Quantity traded.
        quantity: u64,
        /// Quantity the maker still has resting (0: it left the book).
        maker_left: u64,
        /// A number unique to this trade.
        match_number: u64,
    },
    /// The order (or its remainder) now rests in the book.
    Rested {
        /// The order.
        id: OrderId,
        /// Its side.
        side: Side,
        /// Its price.
        price: i64,
        /// Its resting quantity.
        quantity: u64,
    },
    /// The order (or its unfilled remainder) was cancelled and is not in the book.
    Cancelled {
        /// The order.
        id: OrderId,
        /// The quantity cancelled.
        quantity: u64,
        /// Whether it had been resting (so market data must remove it).
        was_resting: bool,
    },
    /// A resting order was changed in place and kept its priority (smaller quantity).
    Reduced {
        /// The order.
        id: OrderId,
        /// Its new resting quantity.
        quantity: u64,
        /// The quantity taken off.
        cancelled: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Resting {
    id: OrderId,
    quantity: u64,
}

#[derive(Debug, Clone, Copy)]
struct Location {
    side: Side,
    price: i64,
}

/// What outside clients' orders did on one symbol (orders with [`EXTERNAL_ID_BIT`]): the
/// venue's own record, against which a client checks its positions and its limits. Prices in
/// ticks, quantities in shares.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OutsideLedger {
    /// Orders accepted (a replace that is not done in place counts as a new order).
    pub orders: u64,
    /// The largest quantity of one order.
    pub largest_quantity: u64,
    /// The largest price times quantity of one order.
    pub largest_notional: u128,
    /// Shares bought.
    pub bought: u64,
    /// Shares sold.
    pub sold: u64,
    /// The sum of price times quantity over the shares bought.
    pub bought_value: u128,
    /// The sum of price times quantity over the shares sold.
    pub sold_value: u128,
    /// Quantity of buy orders open (resting, or being matched).
    pub open_buys: u64,
    /// Quantity of sell orders open.
    pub open_sells: u64,
    /// The most the position could have reached long had every open buy filled, at any moment.
    pub worst_long: i64,
    /// The most it could have reached short had every open sell filled (positive).
    pub worst_short: i64,
}

impl OutsideLedger {
    /// Shares held: bought less sold.
    pub fn position(&self) -> i64 {
        self.bought as i64 - self.sold as i64
    }

    fn accepted(&mut self, side: Side, price: Option<i64>, quantity: u64) {
        self.orders += 1;
        self.largest_quantity = self.largest_quantity.max(quantity);
        if let Some(price) = price {
            self.largest_notional =
                self.largest_notional.max(price.unsigned_abs() as u128 * quantity as u128);
        }
        match side {
            Side::Buy => self.open_buys += quantity,
            Side::Sell => self.open_sells += quantity,
        }
        self.worst_long = self.worst_long.max(self.position() + self.open_buys as i64);
        self.worst_short = self.worst_short.max(self.open_sells as i64 - self.position());
    }

    fn traded(&mut self, side: Side, price: i64, quantity: u64) {
        let value = price.unsigned_abs() as u128 * quantity as u128;
        match side {
            Side::Buy => {
                self.open_buys -= quantity;
                self.bought += quantity;
                self.bought_value += value;
            }
            Side::Sell => {
                self.open_sells -= quantity;
                self.sold += quantity;
                self.sold_value += value;
            }
        }
    }

    fn closed(&mut self, side: Side, quantity: u64) {
        match side {
            Side::Buy => self.open_buys -= quantity,
            Side::Sell => self.open_sells -= quantity,
        }
    }
}

/// The order book of one symbol.
#[derive(Debug, Default, Clone)]
pub struct Engine {
    bids: BTreeMap<i64, VecDeque<Resting>>,
    asks: BTreeMap<i64, VecDeque<Resting>>,
    locations: HashMap<OrderId, Location>,
    next_match: u64,
    outside: OutsideLedger,
}

impl Engine {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<i64, VecDeque<Resting>> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// The best price on `side`, if any.
    pub fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }

    /// Levels of `side`, best first: price and total resting quantity.
    pub fn levels(&self, side: Side) -> Vec<(i64, u64)> {
        let total =
            |(price, queue): (&i64, &VecDeque<Resting>)| (*price, queue.iter().map(|r| r.quantity).sum());
        match side {
            Side::Buy => self.bids.iter().rev().map(total).collect(),
            Side::Sell => self.asks.iter().map(total).collect(),
        }
    }

    /// Whether `id` rests in the book.
    pub fn is_resting(&self, id: OrderId) -> bool {
        self.locations.contains_key(&id)
    }

    /// The side and price at which `id` rests, if it does.
    pub fn resting_at(&self, id: OrderId) -> Option<(Side, i64)> {
        self.locations.get(&id).map(|l| (l.side, l.price))
    }

    /// What outside clients' orders did here.
    pub fn outside(&self) -> OutsideLedger {
        self.outside
    }

    /// The total quantity resting at `price` on `side` (0 if none).
    pub fn quantity_at(&self, side: Side, price: i64) -> u64 {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        levels.get(&price).map_or(0, |queue| queue.iter().map(|r| r.quantity).sum())
    }

    /// Submits an order; appends what happened to `events`.
    pub fn submit(&mut self, order: NewOrder, events: &mut Vec<Event>) {
        let reject = if self.locations.contains_key(&order.id) {
            Some(Reject::DuplicateId)
        } else if order.quantity == 0 {
            Some(Reject::ZeroQuantity)
        } else if matches!(order.order_type, OrderType::Limit { price } | OrderType::Ioc { price } if price <= 0)
        {
            Some(Reject::BadPrice)
        } else {
            None
        };
        if let Some(reason) = reject {
            events.push(Event::Rejected { id: order.id, reason });
            return;
        }
        events.push(Event::Accepted { id: order.id });
        let limit = match order.order_type {
            OrderType::Limit { price } | OrderType::Ioc { price } => Some(price),
            OrderType::Market => None,
        };
        if is_external(order.id) {
            self.outside.accepted(order.side, limit, order.quantity);
        }
        let left = self.match_against_book(order.id, order.side, limit, order.quantity, events);
        if left == 0 {
            return;
        }
        match order.order_type {
            OrderType::Limit { price } => self.rest(order.id, order.side, price, left, events),
            OrderType::Ioc { .. } | OrderType::Market => {
                if is_external(order.id) {
                    self.outside.closed(order.side, left);
                }
                events.push(Event::Cancelled { id: order.id, quantity: left, was_resting: false });
            }
        }
    }

    fn rest(&mut self, id: OrderId, side: Side, price: i64, quantity: u64, events: &mut Vec<Event>) {
        self.side_mut(side).entry(price).or_default().push_back(Resting { id, quantity });
        self.locations.insert(id, Location { side, price });
        events.push(Event::Rested { id, side, price, quantity });
    }

    /// Trades `quantity` of an incoming `side` order against the opposite side, up to `limit`;
    /// returns what is left.
    fn match_against_book(
        &mut self,
        taker: OrderId,
        side: Side,
        limit: Option<i64>,
        mut quantity: u64,
        events: &mut Vec<Event>,
    ) -> u64 {
        let maker_side = side.opposite();
        while quantity > 0 {
            let Some(price) = self.best(maker_side) else { break };
            let crosses = match (side, limit) {
                (_, None) => true,
                (Side::Buy, Some(limit)) => price <= limit,
                (Side::Sell, Some(limit)) => price >= limit,
            };
            if !crosses {
                break;
            }
            let queue = self.side_mut(maker_side).get_mut(&price).expect("best price has a queue");
            let maker = queue.front_mut().expect("a price level is never empty");
            let traded = quantity.min(maker.quantity);
            maker.quantity -= traded;
            quantity -= traded;
            let (maker_id, maker_left) = (maker.id, maker.quantity);
            if maker_left == 0 {
                queue.pop_front();
                if queue.is_empty() {
                    self.side_mut(maker_side).remove(&price);
                }
                self.locations.remove(&maker_id);
            }
            self.next_match += 1;
            if is_external(taker) {
                self.outside.traded(side, price, traded);
            }
            if is_external(maker_id) {
                self.outside.traded(maker_side, price, traded);
            }
            events.push(Event::Trade {
                taker,
                maker: maker_id,
                maker_side,
                price,
                quantity: traded,
                maker_left,
                match_number: self.next_match,
            });
        }
        quantity
    }

    /// Removes a resting order and returns its quantity.
    fn remove(&mut self, id: OrderId) -> Option<(Location, u64)> {
        let location = self.locations.remove(&id)?;
        let levels = self.side_mut(location.side);
        let queue = levels.get_mut(&location.price).expect("a located order has a queue");
        let at = queue.iter().position(|r| r.id == id).expect("a located order is in its queue");
        let quantity = queue.remove(at).expect("position is in range").quantity;
        if queue.is_empty() {
            levels.remove(&location.price);
        }
        if is_external(id) {
            self.outside.closed(location.side, quantity);
        }
        Some((location, quantity))
    }

    /// Cancels a resting order; appends what happened to `events`.
    pub fn cancel(&mut self, id: OrderId, events: &mut Vec<Event>) {
        match self.remove(id) {
            Some((_, quantity)) => events.push(Event::Cancelled { id, quantity, was_resting: true }),
            None => events.push(Event::Rejected { id, reason: Reject::UnknownOrder }),
        }
    }

    /// Replaces resting order `id` by `new_id` with `price` and `quantity`. Keeps its priority
    /// (an in-place [`Event::Reduced`]) when the price is unchanged and the quantity does not
    /// grow; otherwise the old order is cancelled and the new one submitted as a limit order.
    pub fn replace(
        &mut self,
        id: OrderId,
        new_id: OrderId,
        price: i64,
        quantity: u64,
        events: &mut Vec<Event>,
    ) {
        let Some(location) = self.locations.get(&id).copied() else {
            events.push(Event::Rejected { id, reason: Reject::UnknownOrder });
            return;
        };
        let reject = if quantity == 0 {
            Some(Reject::ZeroQuantity)
        } else if price <= 0 {
            Some(Reject::BadPrice)
        } else if new_id != id && self.locations.contains_key(&new_id) {
            Some(Reject::DuplicateId)
        } else {
            None
        };
        if let Some(reason) = reject {
            events.push(Event::Rejected { id, reason });
            return;
        }
        let queue = self.side_mut(location.side).get_mut(&location.price).expect("located");
        let resting = queue.iter_mut().find(|r| r.id == id).expect("located");
        if price == location.price && quantity <= resting.quantity && new_id == id {
            let cancelled = resting.quantity - quantity;
            resting.quantity = quantity;
            if is_external(id) {
                self.outside.closed(location.side, cancelled);
            }
            events.push(Event::Reduced { id, quantity, cancelled });
            return;
        }
        let (_, old_quantity) = self.remove(id).expect("located");
        events.push(Event::Cancelled { id, quantity: old_quantity, was_resting: true });
        self.submit(
            NewOrder { id: new_id, side: location.side, quantity, order_type: OrderType::Limit { price } },
            events,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(id: OrderId, side: Side, price: i64, quantity: u64) -> NewOrder {
        NewOrder { id, side, quantity, order_type: OrderType::Limit { price } }
    }

    fn run(engine: &mut Engine, order: NewOrder) -> Vec<Event> {
        let mut events = Vec::new();
        engine.submit(order, &mut events);
        events
    }

    fn trades(events: &[Event]) -> Vec<(OrderId, i64, u64)> {
        events
            .iter()
            .filter_map(|e| match *e {
                Event::Trade { maker, price, quantity, .. } => Some((maker, price, quantity)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn orders_trade_best_price_first_then_oldest_first_at_the_makers_price() {
        let mut e = Engine::new();
        run(&mut e, limit(1, Side::Sell, 101, 5));
        run(&mut e, limit(2, Side::Sell, 100, 5));
        run(&mut e, limit(3, Side::Sell, 100, 5));
        let events = run(&mut e, limit(4, Side::Buy, 101, 12));
        assert_eq!(trades(&events), [(2, 100, 5), (3, 100, 5), (1, 101, 2)]);
        assert_eq!(e.levels(Side::Sell), [(101, 3)]);
        assert!(e.levels(Side::Buy).is_empty(), "fully filled: nothing rests");
    }

    #[test]
    fn a_limit_remainder_rests_and_an_ioc_or_market_remainder_is_cancelled() {
        let mut e = Engine::new();
        run(&mut e, limit(1, Side::Sell, 100, 5));
        let events = run(&mut e, limit(2, Side::Buy, 100, 8));
        assert_eq!(events.last(), Some(&Event::Rested { id: 2, side: Side::Buy, price: 100, quantity: 3 }));
        let ioc = run(
            &mut e,
            NewOrder { id: 3, side: Side::Sell, quantity: 10, order_type: OrderType::Ioc { price: 99 } },
        );
        assert_eq!(trades(&ioc), [(2, 100, 3)]);
        assert_eq!(ioc.last(), Some(&Event::Cancelled { id: 3, quantity: 7, was_resting: false }));
        let market =
            run(&mut e, NewOrder { id: 4, side: Side::Buy, quantity: 1, order_type: OrderType::Market });
        assert_eq!(market.last(), Some(&Event::Cancelled { id: 4, quantity: 1, was_resting: false }));
        assert!(e.levels(Side::Buy).is_empty() && e.levels(Side::Sell).is_empty());
    }

    #[test]
    fn a_market_order_walks_the_book() {
        let mut e = Engine::new();
        run(&mut e, limit(1, Side::Buy, 99, 2));
        run(&mut e, limit(2, Side::Buy, 98, 2));
        let events =
            run(&mut e, NewOrder { id: 3, side: Side::Sell, quantity: 3, order_type: OrderType::Market });
        assert_eq!(trades(&events), [(1, 99, 2), (2, 98, 1)]);
    }

    #[test]
    fn a_replace_keeps_priority_only_when_it_shrinks_at_the_same_price() {
        let mut e = Engine::new();
        run(&mut e, limit(1, Side::Buy, 100, 5));
        run(&mut e, limit(2, Side::Buy, 100, 5));
        let mut events = Vec::new();
        e.replace(1, 1, 100, 3, &mut events);
        assert_eq!(events, [Event::Reduced { id: 1, quantity: 3, cancelled: 2 }]);
        assert_eq!(trades(&run(&mut e, limit(3, Side::Sell, 100, 1))), [(1, 100, 1)], "1 kept its place");
        events.clear();
        e.replace(1, 1, 100, 9, &mut events);
        assert!(matches!(events[0], Event::Cancelled { id: 1, quantity: 2, was_resting: true }));
        assert_eq!(
            trades(&run(&mut e, limit(4, Side::Sell, 100, 1))),
            [(2, 100, 1)],
            "a bigger 1 went to the back"
        );
    }

    #[test]
    fn a_replace_to_a_crossing_price_trades_at_once() {
        let mut e = Engine::new();
        run(&mut e, limit(1, Side::Sell, 101, 4));
        run(&mut e, limit(2, Side::Buy, 99, 4));
        let mut events = Vec::new();
        e.replace(2, 5, 101, 4, &mut events);
        assert_eq!(trades(&events), [(1, 101, 4)]);
        assert!(!e.is_resting(2) && !e.is_resting(5));
    }

    #[test]
    fn the_outside_ledger_keeps_outside_clients_fills_and_their_worst_case_position() {
        let mut e = Engine::new();
        let ours = |n: OrderId| n | EXTERNAL_ID_BIT;
        run(&mut e, limit(1, Side::Sell, 101, 5)); // the flow's
        run(&mut e, limit(ours(1), Side::Buy, 100, 10));
        assert_eq!((e.outside().open_buys, e.outside().worst_long), (10, 10));
        run(&mut e, limit(ours(2), Side::Buy, 101, 3)); // takes 3 of the flow's 5 at 101
        run(&mut e, limit(2, Side::Sell, 100, 4)); // the flow hits our bid at 100
        let mut events = Vec::new();
        e.replace(ours(1), ours(3), 99, 2, &mut events); // 6 left at 100: re-placed as 2 at 99
        e.cancel(ours(3), &mut events);
        let ledger = e.outside();
        assert_eq!((ledger.orders, ledger.largest_quantity, ledger.largest_notional), (3, 10, 1_000));
        assert_eq!((ledger.bought, ledger.sold, ledger.position()), (7, 0, 7));
        assert_eq!(ledger.bought_value, 3 * 101 + 4 * 100);
        assert_eq!((ledger.open_buys, ledger.open_sells), (0, 0), "nothing of ours is left open");
        assert_eq!((ledger.worst_long, ledger.worst_short), (13, 0), "10 open, then 3 more");
    }

    #[test]
    fn bad_requests_are_rejected_and_change_nothing() {
        let mut e = Engine::new();
        run(&mut e, limit(1, Side::Buy, 100, 5));
        assert_eq!(
            run(&mut e, limit(1, Side::Buy, 100, 5)),
            [Event::Rejected { id: 1, reason: Reject::DuplicateId }]
        );
        assert_eq!(
            run(&mut e, limit(2, Side::Buy, 100, 0)),
            [Event::Rejected { id: 2, reason: Reject::ZeroQuantity }]
        );
        assert_eq!(
            run(&mut e, limit(3, Side::Buy, 0, 5)),
            [Event::Rejected { id: 3, reason: Reject::BadPrice }]
        );
        let mut events = Vec::new();
        e.cancel(9, &mut events);
        e.replace(9, 9, 100, 1, &mut events);
        assert_eq!(
            events,
            [
                Event::Rejected { id: 9, reason: Reject::UnknownOrder },
                Event::Rejected { id: 9, reason: Reject::UnknownOrder }
            ]
        );
        assert_eq!(e.levels(Side::Buy), [(100, 5)]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Whatever arrives, the book never rests crossed, quantities are conserved (what
            /// was sent is traded twice over, rests, or is cancelled), and every resting id is
            /// located.
            #[test]
            fn the_book_never_crosses_and_conserves_quantity(
                orders in proptest::collection::vec((any::<bool>(), 95i64..105, 1u64..20, 0u8..4), 1..200)
            ) {
                let mut e = Engine::new();
                let mut events = Vec::new();
                let (mut sent, mut cancelled, mut traded) = (0u64, 0u64, 0u64);
                for (i, (buy, price, quantity, kind)) in orders.into_iter().enumerate() {
                    let id = i as OrderId + 1;
                    let side = if buy { Side::Buy } else { Side::Sell };
                    events.clear();
                    match kind {
                        0 | 1 => e.submit(limit(id, side, price, quantity), &mut events),
                        2 => e.submit(NewOrder { id, side, quantity, order_type: OrderType::Ioc { price } }, &mut events),
                        _ => e.cancel(id / 2, &mut events),
                    }
                    if kind < 3 { sent += quantity; }
                    for event in &events {
                        match *event {
                            Event::Trade { quantity, .. } => traded += quantity,
                            Event::Cancelled { quantity, .. } => cancelled += quantity,
                            _ => {}
                        }
                    }
                    if let (Some(bid), Some(ask)) = (e.best(Side::Buy), e.best(Side::Sell)) {
                        prop_assert!(bid < ask, "crossed: {} >= {}", bid, ask);
                    }
                }
                let resting: u64 = e.levels(Side::Buy).iter().chain(e.levels(Side::Sell).iter()).map(|l| l.1).sum();
                prop_assert_eq!(sent, 2 * traded + resting + cancelled);
            }
        }
    }
}
