//! Venue A's order entry without sockets: OUCH 4.2 requests of logged-in users carried out in
//! the venue's engines, and what the engines did reported back as OUCH messages per user.
//!
//! * Each user's order tokens are day-unique: an enter or replace reusing a token is ignored
//!   (OUCH lets clients resend benignly), and counted.
//! * An order gets an external engine id ([`ItchVenue::new_external_id`]); its token maps to
//!   that id. Executions report the engine's match numbers and the order reference numbers
//!   are the ITCH order references, so a client can find its orders in the market data.
//! * A replace keeps the order's priority (same engine id) when the price is unchanged and
//!   the size does not grow; otherwise the replacement is a new engine order at the back of
//!   its queue, and may trade at once.
//! * A cancel leaves the order with the requested size (0: none); a cancel naming no live
//!   order gets a cancel reject.
//! * Orders must be visible (`Y` or `A`), day (market or system hours) or IOC, without a
//!   minimum quantity or a cross, on a listed stock, at a positive price on the tick grid,
//!   for 1 to [`MAX_SHARES`] shares; anything else is rejected with its OUCH reason.

use std::collections::HashMap;

use protocols::ouch42::{
    CancelOrder, CancelReason, EnterOrder, Firm, Inbound, OrderState, OrderView, Outbound, RejectReason,
    ReplaceOrder, Side as OuchSide, Sweep, Token, MAX_PRICE, TIF_IMMEDIATE_OR_CANCEL, TIF_MARKET_HOURS,
    TIF_SYSTEM_HOURS,
};

use protocols::itch::Stock;

use crate::matching::{Event, NewOrder, OrderId, OrderType, Side};
use crate::venue_a::{ExternalRequest, ItchVenue, OPEN_NS};

/// The largest order accepted (the safety threshold).
pub const MAX_SHARES: u32 = 1_000_000;

/// A logged-in user, as the server numbers them.
pub type UserId = usize;

/// What the order entry did, for stats.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OrderEntryCounters {
    /// Orders accepted.
    pub accepted: u64,
    /// Orders replaced.
    pub replaced: u64,
    /// Cancels carried out (whole or partial).
    pub canceled: u64,
    /// Executions reported (each side of a trade counts once).
    pub executions: u64,
    /// Orders and replacements rejected.
    pub rejected: u64,
    /// Cancels rejected.
    pub cancel_rejects: u64,
    /// Requests ignored: a reused token, or a cancel that would not reduce the order.
    pub ignored: u64,
}

/// A live external order.
#[derive(Debug, Clone, Copy)]
struct LiveOrder {
    user: UserId,
    token: Token,
    symbol: usize,
    stock: Stock,
    side: OuchSide,
    price: u32,
    open: u32,
    time_in_force: u32,
    firm: Firm,
    display: u8,
    capacity: u8,
    sweep: Sweep,
}

/// Order entry for all users of one venue.
#[derive(Debug, Default)]
pub struct OrderEntry {
    /// Every token each user has used today, with the engine id it named (none if the
    /// request was rejected).
    tokens: HashMap<(UserId, Token), Option<OrderId>>,
    /// Live orders by engine id.
    orders: HashMap<OrderId, LiveOrder>,
    events: Vec<Event>,
    counters: OrderEntryCounters,
}

/// What a request turned into in the engine: how to report its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Enter,
    Replace { old_id: OrderId },
    Cancel,
}

fn engine_side(side: OuchSide) -> Side {
    match side {
        OuchSide::Buy => Side::Buy,
        OuchSide::Sell | OuchSide::SellShort | OuchSide::SellShortExempt => Side::Sell,
    }
}

impl OrderEntry {
    /// No orders yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the order entry has done so far.
    pub fn counters(&self) -> OrderEntryCounters {
        self.counters
    }

    /// The number of live external orders.
    pub fn live_orders(&self) -> usize {
        self.orders.len()
    }

    /// Carries out `message` from `user` at venue time `now_ns`; appends the OUCH messages
    /// for each user concerned to `out`.
    pub fn on_message(
        &mut self,
        user: UserId,
        message: Inbound,
        venue: &mut ItchVenue,
        now_ns: u64,
        out: &mut Vec<(UserId, Outbound)>,
    ) {
        let timestamp_ns = OPEN_NS + now_ns;
        match message {
            Inbound::EnterOrder(order) => self.enter(user, order, venue, now_ns, timestamp_ns, out),
            Inbound::ReplaceOrder(replace) => self.replace(user, replace, venue, now_ns, timestamp_ns, out),
            Inbound::CancelOrder(cancel) => self.cancel(user, cancel, venue, now_ns, timestamp_ns, out),
        }
    }

    /// Reports the flow's trades against external orders ([`ItchVenue::take_external_events`])
    /// made at venue time `now_ns`.
    pub fn on_flow_events(
        &mut self,
        events: &[(usize, Event)],
        now_ns: u64,
        out: &mut Vec<(UserId, Outbound)>,
    ) {
        for (_, event) in events {
            self.report(event, Context::Enter, OPEN_NS + now_ns, out);
        }
    }

    fn reject(
        &mut self,
        user: UserId,
        token: Token,
        reason: RejectReason,
        ts: u64,
        out: &mut Vec<(UserId, Outbound)>,
    ) {
        self.counters.rejected += 1;
        out.push((user, Outbound::Rejected { timestamp_ns: ts, token, reason }));
    }

    /// The reason a price, size, time in force and display are refused on `symbol`, if any.
    fn check(
        venue: &ItchVenue,
        symbol: usize,
        shares: u32,
        price: u32,
        display: u8,
        minimum_quantity: u32,
    ) -> Option<RejectReason> {
        let tick = venue.market().symbols[symbol].tick;
        if shares == 0 {
            Some(RejectReason::Other)
        } else if shares > MAX_SHARES {
            Some(RejectReason::SharesExceedSafetyThreshold)
        } else if price == 0 || price > MAX_PRICE || i64::from(price) % tick != 0 {
            Some(RejectReason::InvalidPrice)
        } else if !matches!(display, b'Y' | b'A') {
            Some(RejectReason::InvalidDisplayType)
        } else if minimum_quantity != 0 {
            Some(RejectReason::InvalidMinimumQuantity)
        } else {
            None
        }
    }

    fn enter(
        &mut self,
        user: UserId,
        order: EnterOrder,
        venue: &mut ItchVenue,
        now_ns: u64,
        ts: u64,
        out: &mut Vec<(UserId, Outbound)>,
    ) {
        if self.tokens.contains_key(&(user, order.token)) {
            self.counters.ignored += 1;
            return;
        }
        self.tokens.insert((user, order.token), None);
        let Some(symbol) = venue.symbol_of(&order.stock) else {
            return self.reject(user, order.token, RejectReason::InvalidStock, ts, out);
        };
        let price = i64::from(order.price);
        let order_type = match order.time_in_force {
            TIF_IMMEDIATE_OR_CANCEL => OrderType::Ioc { price },
            TIF_MARKET_HOURS | TIF_SYSTEM_HOURS => OrderType::Limit { price },
            _ => return self.reject(user, order.token, RejectReason::Other, ts, out),
        };
        let refused = if order.cross_type != b'N' {
            Some(RejectReason::NotAllowedInCross)
        } else {
            Self::check(venue, symbol, order.shares, order.price, order.display, order.minimum_quantity)
        };
        if let Some(reason) = refused {
            return self.reject(user, order.token, reason, ts, out);
        }
        let id = venue.new_external_id();
        self.tokens.insert((user, order.token), Some(id));
        let live = LiveOrder {
            user,
            token: order.token,
            symbol,
            stock: order.stock,
            side: order.side,
            price: order.price,
            open: order.shares,
            time_in_force: order.time_in_force,
            firm: order.firm,
            display: order.display,
            capacity: order.capacity,
            sweep: order.sweep,
        };
        let request = ExternalRequest::Submit(NewOrder {
            id,
            side: engine_side(order.side),
            quantity: u64::from(order.shares),
            order_type,
        });
        if !self.run(venue, symbol, request, now_ns) {
            return self.reject(user, order.token, RejectReason::Other, ts, out);
        }
        self.counters.accepted += 1;
        let state = Self::state(venue, symbol, id);
        out.push((user, Outbound::Accepted(Self::view(&live, id, order.shares, state, ts))));
        self.orders.insert(id, live);
        self.report_all(Context::Enter, ts, out);
        self.drop_dead(venue, symbol, id);
    }

    fn replace(
        &mut self,
        user: UserId,
        replace: ReplaceOrder,
        venue: &mut ItchVenue,
        now_ns: u64,
        ts: u64,
        out: &mut Vec<(UserId, Outbound)>,
    ) {
        let new_token = replace.replacement_token;
        if self.tokens.contains_key(&(user, new_token)) {
            self.counters.ignored += 1;
            return;
        }
        let Some((old_id, old)) = self.live(user, &replace.existing_token) else {
            self.tokens.insert((user, new_token), None);
            return self.reject(user, new_token, RejectReason::Other, ts, out);
        };
        let refused = if !matches!(replace.time_in_force, TIF_MARKET_HOURS | TIF_SYSTEM_HOURS) {
            Some(RejectReason::Other)
        } else {
            Self::check(
                venue,
                old.symbol,
                replace.shares,
                replace.price,
                replace.display,
                replace.minimum_quantity,
            )
        };
        if let Some(reason) = refused {
            self.tokens.insert((user, new_token), None);
            return self.reject(user, new_token, reason, ts, out);
        }
        let unchanged = replace.price == old.price && replace.shares == old.open;
        let keeps_priority = replace.price == old.price && replace.shares < old.open;
        let new_id = if unchanged || keeps_priority { old_id } else { venue.new_external_id() };
        self.tokens.insert((user, new_token), Some(new_id));
        let request = ExternalRequest::Replace {
            id: old_id,
            new_id,
            price: i64::from(replace.price),
            quantity: u64::from(replace.shares),
        };
        if unchanged {
            self.events.clear();
        } else if !self.run(venue, old.symbol, request, now_ns) {
            return self.reject(user, new_token, RejectReason::Other, ts, out);
        }
        let replacement = LiveOrder {
            token: new_token,
            price: replace.price,
            open: replace.shares,
            time_in_force: replace.time_in_force,
            display: replace.display,
            sweep: replace.sweep,
            ..old
        };
        self.orders.remove(&old_id);
        self.orders.insert(new_id, replacement);
        self.counters.replaced += 1;
        let state = Self::state(venue, old.symbol, new_id);
        out.push((
            user,
            Outbound::Replaced {
                order: Self::view(&replacement, new_id, replace.shares, state, ts),
                previous_token: old.token,
            },
        ));
        self.report_all(Context::Replace { old_id }, ts, out);
        self.drop_dead(venue, old.symbol, new_id);
    }

    fn cancel(
        &mut self,
        user: UserId,
        cancel: CancelOrder,
        venue: &mut ItchVenue,
        now_ns: u64,
        ts: u64,
        out: &mut Vec<(UserId, Outbound)>,
    ) {
        let Some((id, order)) = self.live(user, &cancel.token) else {
            self.counters.cancel_rejects += 1;
            out.push((user, Outbound::CancelReject { timestamp_ns: ts, token: cancel.token }));
            return;
        };
        if cancel.shares >= order.open {
            self.counters.ignored += 1;
            return;
        }
        let request = if cancel.shares == 0 {
            ExternalRequest::Cancel { id }
        } else {
            ExternalRequest::Replace {
                id,
                new_id: id,
                price: i64::from(order.price),
                quantity: u64::from(cancel.shares),
            }
        };
        if !self.run(venue, order.symbol, request, now_ns) {
            self.counters.cancel_rejects += 1;
            out.push((user, Outbound::CancelReject { timestamp_ns: ts, token: cancel.token }));
            return;
        }
        self.counters.canceled += 1;
        self.report_all(Context::Cancel, ts, out);
        self.drop_dead(venue, order.symbol, id);
    }

    /// The live order `user` names by `token`.
    fn live(&self, user: UserId, token: &Token) -> Option<(OrderId, LiveOrder)> {
        let id = (*self.tokens.get(&(user, *token))?)?;
        self.orders.get(&id).filter(|o| o.token == *token && o.user == user).map(|o| (id, *o))
    }

    /// Runs `request` in the venue, keeping its events; false if the engine refused it (which
    /// the checks above should have prevented).
    fn run(&mut self, venue: &mut ItchVenue, symbol: usize, request: ExternalRequest, now_ns: u64) -> bool {
        self.events.clear();
        match venue.external(symbol, request, now_ns) {
            Ok(events) => self.events.extend_from_slice(events),
            Err(_) => return false,
        }
        !self.events.iter().any(|e| matches!(e, Event::Rejected { .. }))
    }

    fn state(venue: &ItchVenue, symbol: usize, id: OrderId) -> OrderState {
        if venue.engine(symbol).is_resting(id) {
            OrderState::Live
        } else {
            OrderState::Dead
        }
    }

    /// Forgets `id` if it no longer rests (filled, IOC, canceled).
    fn drop_dead(&mut self, venue: &ItchVenue, symbol: usize, id: OrderId) {
        if !venue.engine(symbol).is_resting(id) {
            self.orders.remove(&id);
        }
    }

    fn view(order: &LiveOrder, id: OrderId, shares: u32, state: OrderState, ts: u64) -> OrderView {
        OrderView {
            timestamp_ns: ts,
            token: order.token,
            side: order.side,
            shares,
            stock: order.stock,
            price: order.price,
            time_in_force: order.time_in_force,
            firm: order.firm,
            display: order.display,
            order_ref: id,
            capacity: order.capacity,
            sweep: order.sweep,
            minimum_quantity: 0,
            cross_type: b'N',
            state,
            bbo_weight: b' ',
        }
    }

    fn report_all(&mut self, context: Context, ts: u64, out: &mut Vec<(UserId, Outbound)>) {
        let events = std::mem::take(&mut self.events);
        for event in &events {
            self.report(event, context, ts, out);
        }
        self.events = events;
    }

    /// The OUCH messages one engine event means for the external orders it concerns.
    fn report(&mut self, event: &Event, context: Context, ts: u64, out: &mut Vec<(UserId, Outbound)>) {
        match *event {
            Event::Trade { taker, maker, price, quantity, maker_left, match_number, .. } => {
                for (id, liquidity_flag) in [(taker, b'R'), (maker, b'A')] {
                    let Some(order) = self.orders.get_mut(&id) else { continue };
                    order.open = order.open.saturating_sub(quantity as u32);
                    self.counters.executions += 1;
                    out.push((
                        order.user,
                        Outbound::Executed {
                            timestamp_ns: ts,
                            token: order.token,
                            executed_shares: quantity as u32,
                            execution_price: price as u32,
                            liquidity_flag,
                            match_number,
                        },
                    ));
                }
                if maker_left == 0 {
                    self.orders.remove(&maker);
                }
            }
            Event::Rested { id, quantity, .. } => {
                if let Some(order) = self.orders.get_mut(&id) {
                    order.open = quantity as u32;
                }
            }
            Event::Cancelled { id, quantity, was_resting } => {
                if context == (Context::Replace { old_id: id }) {
                    return;
                }
                let Some(order) = self.orders.get(&id) else { return };
                let reason =
                    if was_resting { CancelReason::UserRequested } else { CancelReason::ImmediateOrCancel };
                out.push((
                    order.user,
                    Outbound::Canceled {
                        timestamp_ns: ts,
                        token: order.token,
                        decrement_shares: quantity as u32,
                        reason,
                    },
                ));
            }
            Event::Reduced { id, quantity, cancelled } => {
                let Some(order) = self.orders.get_mut(&id) else { return };
                order.open = quantity as u32;
                if context == Context::Cancel {
                    out.push((
                        order.user,
                        Outbound::Canceled {
                            timestamp_ns: ts,
                            token: order.token,
                            decrement_shares: cancelled as u32,
                            reason: CancelReason::UserRequested,
                        },
                    ));
                }
            }
            Event::Accepted { .. } | Event::Rejected { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{MarketSpec, VenueSpec};
    use feeds::book::Side as BookSide;
    use feeds::itch_feed::{Action, ItchFeed};
    use protocols::alpha;
    use protocols::itch::stock;
    use protocols::moldudp64::session;

    fn venue() -> ItchVenue {
        let market = MarketSpec::equities(17, &[("AAPL", 1_900_000), ("MSFT", 4_200_000)]);
        ItchVenue::new(market, VenueSpec::new(1, 50_000.0), session("TICKRAIL01"))
    }

    fn token(text: &str) -> Token {
        alpha("order token", text).unwrap()
    }

    fn enter(name: &str, side: OuchSide, shares: u32, price: u32) -> Inbound {
        Inbound::EnterOrder(EnterOrder::day_limit(token(name), side, shares, stock("AAPL"), price, *b"TRKR"))
    }

    fn replace(old: &str, new: &str, shares: u32, price: u32) -> Inbound {
        Inbound::ReplaceOrder(ReplaceOrder {
            existing_token: token(old),
            replacement_token: token(new),
            shares,
            price,
            time_in_force: TIF_MARKET_HOURS,
            display: b'Y',
            sweep: Sweep::NotEligible,
            minimum_quantity: 0,
        })
    }

    /// Runs `message` from `user`; returns the messages as (user, type, token, detail).
    fn run(
        entry: &mut OrderEntry,
        venue: &mut ItchVenue,
        user: UserId,
        message: Inbound,
    ) -> Vec<(UserId, Outbound)> {
        let mut out = Vec::new();
        entry.on_message(user, message, venue, 1_000, &mut out);
        out
    }

    fn kinds(out: &[(UserId, Outbound)]) -> Vec<(UserId, char)> {
        out.iter().map(|(user, m)| (*user, char::from(m.msg_type()))).collect()
    }

    #[test]
    fn an_order_rests_is_replaced_partly_filled_and_canceled() {
        let (mut entry, mut venue) = (OrderEntry::new(), venue());
        let out = run(&mut entry, &mut venue, 0, enter("B1", OuchSide::Buy, 300, 1_899_900));
        let Outbound::Accepted(view) = out[0].1 else { panic!("{out:?}") };
        assert_eq!((view.state, view.shares, view.order_ref >> 63), (OrderState::Live, 300, 1));
        assert_eq!(venue.engine(0).levels(Side::Buy), [(1_899_900, 300)]);

        let out = run(&mut entry, &mut venue, 0, replace("B1", "B2", 200, 1_899_900));
        let Outbound::Replaced { order, previous_token } = out[0].1 else { panic!("{out:?}") };
        assert_eq!((order.order_ref, previous_token, order.shares), (view.order_ref, token("B1"), 200));

        let out = run(&mut entry, &mut venue, 1, enter("S1", OuchSide::Sell, 50, 1_899_900));
        assert_eq!(kinds(&out), [(1, 'A'), (1, 'E'), (0, 'E')]);
        let Outbound::Executed { liquidity_flag, executed_shares, token: t, .. } = out[2].1 else { panic!() };
        assert_eq!((liquidity_flag, executed_shares, t), (b'A', 50, token("B2")));
        let Outbound::Accepted(taker) = out[0].1 else { panic!() };
        assert_eq!(taker.state, OrderState::Dead, "the sell filled at once");

        let out = run(
            &mut entry,
            &mut venue,
            0,
            Inbound::CancelOrder(CancelOrder { token: token("B2"), shares: 0 }),
        );
        assert!(matches!(
            out[..],
            [(0, Outbound::Canceled { decrement_shares: 150, reason: CancelReason::UserRequested, .. })]
        ));
        assert!(venue.engine(0).levels(Side::Buy).is_empty());
        assert_eq!(entry.live_orders(), 0);
    }

    #[test]
    fn a_replace_loses_priority_when_the_price_changes_or_the_size_grows() {
        let (mut entry, mut venue) = (OrderEntry::new(), venue());
        run(&mut entry, &mut venue, 0, enter("A", OuchSide::Buy, 100, 1_899_900));
        run(&mut entry, &mut venue, 0, enter("B", OuchSide::Buy, 100, 1_899_900));
        let out = run(&mut entry, &mut venue, 0, replace("A", "A2", 200, 1_899_900));
        let Outbound::Replaced { order, .. } = out[0].1 else { panic!() };
        assert_ne!(order.order_ref & !crate::matching::EXTERNAL_ID_BIT, 1, "a new engine order");
        let out = run(&mut entry, &mut venue, 1, enter("S", OuchSide::Sell, 100, 1_899_900));
        let filled: Vec<Token> =
            out.iter().filter(|(u, _)| *u == 0).filter_map(|(_, m)| m.token().copied()).collect();
        assert_eq!(filled, [token("B")], "B is now first in the queue");
    }

    #[test]
    fn an_ioc_remainder_is_canceled_and_a_cancel_can_reduce() {
        let (mut entry, mut venue) = (OrderEntry::new(), venue());
        run(&mut entry, &mut venue, 0, enter("S", OuchSide::Sell, 100, 1_900_000));
        let Inbound::EnterOrder(mut ioc) = enter("I", OuchSide::Buy, 300, 1_900_000) else { unreachable!() };
        ioc.time_in_force = TIF_IMMEDIATE_OR_CANCEL;
        let out = run(&mut entry, &mut venue, 1, Inbound::EnterOrder(ioc));
        assert_eq!(kinds(&out), [(1, 'A'), (1, 'E'), (0, 'E'), (1, 'C')]);
        assert!(matches!(
            out[3].1,
            Outbound::Canceled { decrement_shares: 200, reason: CancelReason::ImmediateOrCancel, .. }
        ));

        run(&mut entry, &mut venue, 0, enter("R", OuchSide::Sell, 500, 1_900_100));
        let out = run(
            &mut entry,
            &mut venue,
            0,
            Inbound::CancelOrder(CancelOrder { token: token("R"), shares: 200 }),
        );
        assert!(matches!(out[..], [(0, Outbound::Canceled { decrement_shares: 300, .. })]));
        assert_eq!(venue.engine(0).levels(Side::Sell), [(1_900_100, 200)]);
    }

    #[test]
    fn bad_requests_are_rejected_with_their_reason_and_reused_tokens_ignored() {
        let (mut entry, mut venue) = (OrderEntry::new(), venue());
        let reason = |out: Vec<(UserId, Outbound)>| match out[..] {
            [(_, Outbound::Rejected { reason, .. })] => reason,
            _ => panic!("{out:?}"),
        };
        let Inbound::EnterOrder(mut order) = enter("X1", OuchSide::Buy, 100, 1_899_950) else {
            unreachable!()
        };
        assert_eq!(
            reason(run(&mut entry, &mut venue, 0, Inbound::EnterOrder(order))),
            RejectReason::InvalidPrice
        );
        order.token = token("X2");
        order.price = 1_899_900;
        order.stock = stock("NOPE");
        assert_eq!(
            reason(run(&mut entry, &mut venue, 0, Inbound::EnterOrder(order))),
            RejectReason::InvalidStock
        );
        order.token = token("X3");
        order.stock = stock("AAPL");
        order.shares = MAX_SHARES + 1;
        assert_eq!(
            reason(run(&mut entry, &mut venue, 0, Inbound::EnterOrder(order))),
            RejectReason::SharesExceedSafetyThreshold
        );
        order.token = token("X4");
        order.shares = 100;
        order.display = b'N';
        assert_eq!(
            reason(run(&mut entry, &mut venue, 0, Inbound::EnterOrder(order))),
            RejectReason::InvalidDisplayType
        );
        assert!(run(&mut entry, &mut venue, 0, Inbound::EnterOrder(order)).is_empty(), "X4 was used");
        assert_eq!(
            reason(run(&mut entry, &mut venue, 0, replace("nothing", "Y1", 100, 1_899_900))),
            RejectReason::Other
        );
        let out = run(
            &mut entry,
            &mut venue,
            0,
            Inbound::CancelOrder(CancelOrder { token: token("X1"), shares: 0 }),
        );
        assert!(matches!(out[..], [(0, Outbound::CancelReject { .. })]));
        let counters = entry.counters();
        assert_eq!(
            (counters.rejected, counters.ignored, counters.cancel_rejects, counters.accepted),
            (5, 1, 1, 0)
        );
        assert!(venue.engine(0).levels(Side::Buy).is_empty(), "nothing reached the book");
    }

    #[test]
    fn tokens_are_per_user() {
        let (mut entry, mut venue) = (OrderEntry::new(), venue());
        run(&mut entry, &mut venue, 0, enter("T", OuchSide::Buy, 100, 1_899_900));
        assert_eq!(
            kinds(&run(&mut entry, &mut venue, 1, enter("T", OuchSide::Buy, 100, 1_899_900))),
            [(1, 'A')]
        );
        let out = run(
            &mut entry,
            &mut venue,
            1,
            Inbound::CancelOrder(CancelOrder { token: token("T"), shares: 0 }),
        );
        assert_eq!(kinds(&out), [(1, 'C')]);
        assert_eq!(venue.engine(0).levels(Side::Buy), [(1_899_900, 100)], "user 0's order is untouched");
    }

    #[test]
    fn external_orders_appear_in_the_market_data_and_the_flow_trades_with_them() {
        let (mut entry, mut venue) = (OrderEntry::new(), venue());
        let mut feed = ItchFeed::new(session("TICKRAIL01"), 64, 4096, 4096);
        let mut packets = venue.open();
        packets.extend(venue.step(2_000));
        // Aggressive resting orders on both sides, which the flow's marketable orders hit.
        let mid = venue.engine(0).best(Side::Buy).unwrap() as u32;
        run(&mut entry, &mut venue, 0, enter("BID", OuchSide::Buy, 100_000, mid + 100));
        run(&mut entry, &mut venue, 0, enter("ASK", OuchSide::Sell, 100_000, mid + 300));
        packets.extend(venue.flush());
        let mut flow_events = Vec::new();
        let mut out = Vec::new();
        for _ in 0..50 {
            packets.extend(venue.step(100));
            venue.take_external_events(&mut flow_events);
            entry.on_flow_events(&flow_events, venue.now_ns(), &mut out);
            flow_events.clear();
        }
        assert!(
            out.iter().any(|(_, m)| matches!(m, Outbound::Executed { liquidity_flag: b'A', .. })),
            "the flow traded"
        );
        for packet in &packets {
            assert_eq!(feed.on_packet(packet, 0, &mut ()), Action::None);
        }
        let book = feed.book(1).expect("AAPL traded");
        for (side, book_side) in [(Side::Buy, BookSide::Bid), (Side::Sell, BookSide::Ask)] {
            let levels: Vec<(i64, u64)> = book
                .book()
                .side(book_side)
                .iter()
                .map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64))
                .collect();
            assert_eq!(levels, venue.engine(0).levels(side), "{side:?}");
        }
    }
}
