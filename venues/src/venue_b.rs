//! Venue B without its sockets: the order flow and clients' FIX orders through one matching
//! engine per symbol, its market data as FIX 4.4 price-level refreshes, and its execution
//! reports. [`crate::fix_server`] puts this on TCP.
//!
//! Market data is by price level: after each action the levels it touched are compared with
//! what subscribers hold, and every difference becomes an MDUpdateAction New, Change or Delete
//! with the level's whole size (absolute, not a change), alongside a Trade entry
//! (MDEntryType=2) per fill. A snapshot is the whole book as subscribers hold it.
//!
//! Client orders share the engines with the background flow. Their engine ids have the top bit
//! set ([`crate::matching::EXTERNAL_ID_BIT`]) so they never meet the flow's (which count up
//! from 1), and each client's ClOrdIDs map to them. The flow ignores them resting, so it never
//! cancels them. Prices are engine ticks of 1/10,000 inside and units of 1e-9 on the wire; quantities are
//! shares inside and units of 1e-9 on the wire.

use std::collections::HashMap;

use protocols::fix44::{
    self, Body, CxlRejResponseTo, ExecType, MdEntry, MdEntryType, MdUpdateAction, NewOrderSingle, OrdStatus,
    OrdType, OrderCancelReplaceRequest, OrderCancelRequest, TimeInForce,
};

use crate::depth::{PRICE_TO_NANOS, SHARES_TO_NANOS};
use crate::flow::{Action, MarketSpec, SymbolSpec, VenueFlow, VenueSpec};
use crate::matching::{Engine, Event, NewOrder, OrderId, OrderType, Reject, Side, EXTERNAL_ID_BIT};

/// OrdRejReason (103) and CxlRejReason (102) values the venue uses.
pub mod reason {
    /// OrdRejReason: unknown symbol.
    pub const UNKNOWN_SYMBOL: u32 = 1;
    /// OrdRejReason: duplicate order (a ClOrdID in use).
    pub const DUPLICATE_ORDER: u32 = 6;
    /// OrdRejReason: incorrect quantity.
    pub const INCORRECT_QUANTITY: u32 = 13;
    /// CxlRejReason: unknown order.
    pub const UNKNOWN_ORDER: u32 = 1;
    /// Both: other.
    pub const OTHER: u32 = 99;
}

/// A change to one symbol's market data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdChange {
    /// A price level is new, changed size, or went.
    Level {
        /// New, Change or Delete.
        action: MdUpdateAction,
        /// Its side.
        side: Side,
        /// Its price, in ticks.
        price: i64,
        /// Its whole size now, in shares (0 for a delete).
        quantity: u64,
    },
    /// A trade.
    Trade {
        /// Its price, in ticks.
        price: i64,
        /// Its quantity, in shares.
        quantity: u64,
    },
}

/// What one action did to one symbol's market data: one incremental refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdUpdate {
    /// The symbol's index in the market.
    pub symbol: usize,
    /// When, in ns since the session opened.
    pub time_ns: u64,
    /// The changes, in order.
    pub changes: Vec<MdChange>,
}

/// An ExecutionReport (`8`), with owned texts; prices and quantities in units of 1e-9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// OrderID (37): the engine id, or `NONE` for an order refused before it had one.
    pub order_id: String,
    /// ClOrdID (11).
    pub cl_ord_id: String,
    /// OrigClOrdID (41), on a cancel or replace.
    pub orig_cl_ord_id: Option<String>,
    /// ExecID (17).
    pub exec_id: String,
    /// ExecType (150).
    pub exec_type: ExecType,
    /// OrdStatus (39).
    pub ord_status: OrdStatus,
    /// Symbol (55).
    pub symbol: String,
    /// Side (54).
    pub side: fix44::Side,
    /// OrderQty (38).
    pub order_qty: i64,
    /// Price (44) of a limit order.
    pub price: Option<i64>,
    /// LastQty (32) and LastPx (31) of a fill.
    pub last: Option<(i64, i64)>,
    /// LeavesQty (151).
    pub leaves_qty: i64,
    /// CumQty (14).
    pub cum_qty: i64,
    /// AvgPx (6).
    pub avg_px: i64,
    /// OrdRejReason (103).
    pub ord_rej_reason: Option<u32>,
    /// Text (58).
    pub text: Option<String>,
}

/// An OrderCancelReject (`9`), with owned texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelReject {
    /// OrderID (37), `NONE` if the order is unknown.
    pub order_id: String,
    /// ClOrdID (11) of the refused request.
    pub cl_ord_id: String,
    /// OrigClOrdID (41).
    pub orig_cl_ord_id: String,
    /// OrdStatus (39) of the order.
    pub ord_status: OrdStatus,
    /// CxlRejResponseTo (434).
    pub response_to: CxlRejResponseTo,
    /// CxlRejReason (102).
    pub reason: u32,
    /// Text (58).
    pub text: String,
}

/// What a report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportKind {
    /// An ExecutionReport.
    Execution(Execution),
    /// An OrderCancelReject.
    CancelReject(CancelReject),
}

/// A report for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The client (connection) it is for.
    pub client: u64,
    /// What it says.
    pub kind: ReportKind,
}

impl Report {
    /// The report as a FIX message body, borrowing its texts.
    pub fn body(&self) -> Body<'_> {
        match &self.kind {
            ReportKind::Execution(e) => Body::ExecutionReport(fix44::ExecutionReport {
                order_id: &e.order_id,
                cl_ord_id: &e.cl_ord_id,
                orig_cl_ord_id: e.orig_cl_ord_id.as_deref(),
                exec_id: &e.exec_id,
                exec_type: e.exec_type,
                ord_status: e.ord_status,
                symbol: &e.symbol,
                side: e.side,
                order_qty: Some(e.order_qty),
                price: e.price,
                last_qty: e.last.map(|(qty, _)| qty),
                last_px: e.last.map(|(_, px)| px),
                leaves_qty: e.leaves_qty,
                cum_qty: e.cum_qty,
                avg_px: e.avg_px,
                ord_rej_reason: e.ord_rej_reason,
                text: e.text.as_deref(),
            }),
            ReportKind::CancelReject(r) => Body::OrderCancelReject(fix44::OrderCancelReject {
                order_id: &r.order_id,
                cl_ord_id: &r.cl_ord_id,
                orig_cl_ord_id: &r.orig_cl_ord_id,
                ord_status: r.ord_status,
                response_to: r.response_to,
                reason: Some(r.reason),
                text: Some(&r.text),
            }),
        }
    }
}

/// What the venue produced: market data and reports, in order.
#[derive(Debug, Clone, Default)]
pub struct VenueOutput {
    /// Incremental refreshes.
    pub market_data: Vec<MdUpdate>,
    /// Reports for clients.
    pub reports: Vec<Report>,
}

impl VenueOutput {
    /// Empties both lists.
    pub fn clear(&mut self) {
        self.market_data.clear();
        self.reports.clear();
    }
}

/// A client's live order.
#[derive(Debug, Clone)]
struct ClientOrder {
    client: u64,
    cl_ord_id: String,
    symbol: usize,
    side: Side,
    price: Option<i64>,
    quantity: u64,
    filled: u64,
    /// Sum of fill price (ticks) times quantity, for AvgPx.
    notional: u128,
}

impl ClientOrder {
    fn status(&self) -> OrdStatus {
        match self.filled {
            0 => OrdStatus::New,
            f if f >= self.quantity => OrdStatus::Filled,
            _ => OrdStatus::PartiallyFilled,
        }
    }
}

/// The answer to a cancel or replace of an order the client does not have.
fn unknown_order(
    client: u64,
    cl_ord_id: &str,
    orig_cl_ord_id: &str,
    response_to: CxlRejResponseTo,
) -> Report {
    Report {
        client,
        kind: ReportKind::CancelReject(CancelReject {
            order_id: "NONE".into(),
            cl_ord_id: cl_ord_id.into(),
            orig_cl_ord_id: orig_cl_ord_id.into(),
            ord_status: OrdStatus::Rejected,
            response_to,
            reason: reason::UNKNOWN_ORDER,
            text: "no such live order of this client on this symbol".into(),
        }),
    }
}

fn fix_side(side: Side) -> fix44::Side {
    match side {
        Side::Buy => fix44::Side::Buy,
        Side::Sell => fix44::Side::Sell,
    }
}

fn engine_side(side: fix44::Side) -> Side {
    match side {
        fix44::Side::Buy => Side::Buy,
        fix44::Side::Sell => Side::Sell,
    }
}

fn reject_text(reason: Reject) -> &'static str {
    match reason {
        Reject::DuplicateId => "the order id is in use",
        Reject::ZeroQuantity => "the quantity is zero",
        Reject::BadPrice => "the price is not positive",
        Reject::UnknownOrder => "no such resting order",
    }
}

/// A simulated FIX venue.
#[derive(Debug)]
pub struct FixVenue {
    market: MarketSpec,
    flow: VenueFlow,
    engines: Vec<Engine>,
    /// Level sizes as subscribers hold them, per symbol: bids, asks.
    published: Vec<[HashMap<i64, u64>; 2]>,
    events: Vec<Event>,
    touched: Vec<(Side, i64)>,
    orders: HashMap<OrderId, ClientOrder>,
    by_cl_ord_id: HashMap<(u64, String), OrderId>,
    next_client_order: u64,
    next_exec: u64,
}

impl FixVenue {
    /// A venue trading `market`'s symbols with `venue`'s flow.
    pub fn new(market: MarketSpec, venue: VenueSpec) -> Self {
        let symbols = market.symbols.len();
        Self {
            flow: VenueFlow::new(&market, venue),
            engines: vec![Engine::new(); symbols],
            published: vec![[HashMap::new(), HashMap::new()]; symbols],
            events: Vec::new(),
            touched: Vec::new(),
            orders: HashMap::new(),
            by_cl_ord_id: HashMap::new(),
            next_client_order: 1,
            next_exec: 1,
            market,
        }
    }

    /// The symbols, in index order.
    pub fn symbols(&self) -> &[SymbolSpec] {
        &self.market.symbols
    }

    /// Number of symbols.
    pub fn symbol_count(&self) -> usize {
        self.engines.len()
    }

    /// The index of the symbol named `name`.
    pub fn symbol(&self, name: &str) -> Option<usize> {
        self.market.symbols.iter().position(|s| s.name == name)
    }

    /// The name of symbol `symbol`.
    pub fn symbol_name(&self, symbol: usize) -> &str {
        &self.market.symbols[symbol].name
    }

    /// The matching engine of `symbol`.
    pub fn engine(&self, symbol: usize) -> &Engine {
        &self.engines[symbol]
    }

    /// Runs `actions` steps of the order flow.
    pub fn step(&mut self, actions: usize, out: &mut VenueOutput) {
        for _ in 0..actions {
            let (now_ns, action) = self.flow.next_action();
            self.apply_flow(now_ns, action, out);
        }
    }

    /// Runs the flow's actions due by `limit_ns` (ns since the session opened); returns how
    /// many ran.
    pub fn advance_until(&mut self, limit_ns: u64, out: &mut VenueOutput) -> usize {
        let mut count = 0;
        while let Some((now_ns, action)) = self.flow.next_action_until(limit_ns) {
            self.apply_flow(now_ns, action, out);
            count += 1;
        }
        count
    }

    fn apply_flow(&mut self, now_ns: u64, action: Action, out: &mut VenueOutput) {
        self.touched.clear();
        if let Action::Cancel { symbol, id } = action {
            self.touched.extend(self.engines[symbol].resting_at(id));
        }
        let symbol = self.flow.apply(action, &mut self.engines, &mut self.events);
        self.report_fills(out);
        self.publish_touched(symbol, now_ns, out);
    }

    /// After a client's request: lets the flow see what happened (the flow orders it took out)
    /// and publishes the levels the request touched.
    fn finish_action(&mut self, symbol: usize, now_ns: u64, out: &mut VenueOutput) {
        self.flow.observe(symbol, &self.events);
        self.publish_touched(symbol, now_ns, out);
    }

    /// Publishes the levels the last action touched (and its trades).
    fn publish_touched(&mut self, symbol: usize, now_ns: u64, out: &mut VenueOutput) {
        let mut changes = Vec::new();
        for event in &self.events {
            match *event {
                Event::Trade { maker_side, price, quantity, .. } => {
                    changes.push(MdChange::Trade { price, quantity });
                    if !self.touched.contains(&(maker_side, price)) {
                        self.touched.push((maker_side, price));
                    }
                }
                Event::Rested { side, price, .. } if !self.touched.contains(&(side, price)) => {
                    self.touched.push((side, price));
                }
                _ => {}
            }
        }
        for &(side, price) in &self.touched {
            let now = self.engines[symbol].quantity_at(side, price);
            let published = &mut self.published[symbol][side as usize];
            let action = match (published.get(&price).copied(), now) {
                (None, 0) => continue,
                (None, _) => MdUpdateAction::New,
                (Some(was), now) if was == now => continue,
                (Some(_), 0) => MdUpdateAction::Delete,
                (Some(_), _) => MdUpdateAction::Change,
            };
            if now == 0 {
                published.remove(&price);
            } else {
                published.insert(price, now);
            }
            changes.push(MdChange::Level { action, side, price, quantity: now });
        }
        if !changes.is_empty() {
            out.market_data.push(MdUpdate { symbol, time_ns: now_ns, changes });
        }
    }

    /// The entries of `update` as FIX, into `out` (cleared first).
    pub fn entries<'v>(&'v self, update: &MdUpdate, out: &mut Vec<MdEntry<'v>>) {
        out.clear();
        let symbol = self.symbol_name(update.symbol);
        out.extend(update.changes.iter().map(|change| match *change {
            MdChange::Level { action, side, price, quantity } => MdEntry {
                action,
                entry_type: match side {
                    Side::Buy => MdEntryType::Bid,
                    Side::Sell => MdEntryType::Offer,
                },
                symbol,
                price: price * PRICE_TO_NANOS,
                size: quantity as i64 * SHARES_TO_NANOS,
            },
            MdChange::Trade { price, quantity } => MdEntry {
                action: MdUpdateAction::New,
                entry_type: MdEntryType::Trade,
                symbol,
                price: price * PRICE_TO_NANOS,
                size: quantity as i64 * SHARES_TO_NANOS,
            },
        }));
    }

    /// The book of `symbol` as subscribers hold it, as snapshot entries (bids best first, then
    /// offers best first), into `out` (cleared first).
    pub fn snapshot<'v>(&'v self, symbol: usize, out: &mut Vec<MdEntry<'v>>) {
        out.clear();
        let name = self.symbol_name(symbol);
        for (side, entry_type) in [(Side::Buy, MdEntryType::Bid), (Side::Sell, MdEntryType::Offer)] {
            let mut levels: Vec<(i64, u64)> =
                self.published[symbol][side as usize].iter().map(|(&p, &q)| (p, q)).collect();
            levels.sort_unstable_by_key(|&(price, _)| if side == Side::Buy { -price } else { price });
            out.extend(levels.into_iter().map(|(price, quantity)| MdEntry {
                action: MdUpdateAction::New,
                entry_type,
                symbol: name,
                price: price * PRICE_TO_NANOS,
                size: quantity as i64 * SHARES_TO_NANOS,
            }));
        }
    }

    /// Takes a client's order message (D, F or G) at `now_ns` (ns since the session opened);
    /// returns false for any other message.
    pub fn on_order(&mut self, client: u64, body: &Body<'_>, now_ns: u64, out: &mut VenueOutput) -> bool {
        match body {
            Body::NewOrderSingle(order) => self.new_order(client, order, now_ns, out),
            Body::OrderCancelRequest(cancel) => self.cancel(client, cancel, now_ns, out),
            Body::OrderCancelReplaceRequest(replace) => self.replace(client, replace, now_ns, out),
            _ => return false,
        }
        true
    }

    fn exec_id(&mut self) -> String {
        self.next_exec += 1;
        (self.next_exec - 1).to_string()
    }

    /// The checks FIX values must pass before they reach an engine: whole shares, prices on
    /// the symbol's tick. Returns the quantity in shares and the price in ticks.
    fn engine_terms(
        &self,
        symbol: usize,
        qty: i64,
        price: Option<i64>,
    ) -> Result<(u64, Option<i64>), (u32, String)> {
        if qty <= 0 || qty % SHARES_TO_NANOS != 0 {
            return Err((reason::INCORRECT_QUANTITY, "the quantity is not a whole number of shares".into()));
        }
        let tick = self.market.symbols[symbol].tick * PRICE_TO_NANOS;
        match price {
            Some(p) if p % tick != 0 => {
                Err((reason::OTHER, format!("the price is not on the tick of {tick}e-9")))
            }
            _ => Ok(((qty / SHARES_TO_NANOS) as u64, price.map(|p| p / PRICE_TO_NANOS))),
        }
    }

    fn reject_new(
        &mut self,
        client: u64,
        order: &NewOrderSingle<'_>,
        reason: u32,
        text: String,
        out: &mut VenueOutput,
    ) {
        let exec_id = self.exec_id();
        out.reports.push(Report {
            client,
            kind: ReportKind::Execution(Execution {
                order_id: "NONE".into(),
                cl_ord_id: order.cl_ord_id.into(),
                orig_cl_ord_id: None,
                exec_id,
                exec_type: ExecType::Rejected,
                ord_status: OrdStatus::Rejected,
                symbol: order.symbol.into(),
                side: order.side,
                order_qty: order.order_qty,
                price: order.price,
                last: None,
                leaves_qty: 0,
                cum_qty: 0,
                avg_px: 0,
                ord_rej_reason: Some(reason),
                text: Some(text),
            }),
        });
    }

    fn new_order(&mut self, client: u64, order: &NewOrderSingle<'_>, now_ns: u64, out: &mut VenueOutput) {
        let Some(symbol) = self.symbol(order.symbol) else {
            return self.reject_new(client, order, reason::UNKNOWN_SYMBOL, "unknown symbol".into(), out);
        };
        if self.by_cl_ord_id.contains_key(&(client, order.cl_ord_id.to_owned())) {
            let text = "the ClOrdID is in use".to_owned();
            return self.reject_new(client, order, reason::DUPLICATE_ORDER, text, out);
        }
        let (quantity, price) = match self.engine_terms(symbol, order.order_qty, order.price) {
            Ok(terms) => terms,
            Err((reason, text)) => return self.reject_new(client, order, reason, text, out),
        };
        let order_type = match (order.ord_type, price, order.time_in_force) {
            (OrdType::Limit, Some(price), Some(TimeInForce::ImmediateOrCancel)) => OrderType::Ioc { price },
            (OrdType::Limit, Some(price), _) => OrderType::Limit { price },
            _ => OrderType::Market,
        };
        let id = EXTERNAL_ID_BIT | self.next_client_order;
        self.next_client_order += 1;
        let side = engine_side(order.side);
        self.orders.insert(
            id,
            ClientOrder {
                client,
                cl_ord_id: order.cl_ord_id.into(),
                symbol,
                side,
                price,
                quantity,
                filled: 0,
                notional: 0,
            },
        );
        self.by_cl_ord_id.insert((client, order.cl_ord_id.into()), id);
        self.events.clear();
        self.touched.clear();
        self.engines[symbol].submit(NewOrder { id, side, quantity, order_type }, &mut self.events);
        for i in 0..self.events.len() {
            match self.events[i] {
                Event::Accepted { id } => self.report(id, ExecType::New, None, None, out),
                Event::Rejected { id, reason } => {
                    self.forget(id);
                    let text = reject_text(reason).to_owned();
                    self.reject_new(client, order, reason::OTHER, text, out);
                }
                Event::Cancelled { id, .. } => {
                    self.report(id, ExecType::Canceled, None, None, out);
                    self.forget(id);
                }
                _ => {}
            }
            self.report_fill(i, out);
        }
        self.finish_action(symbol, now_ns, out);
    }

    /// The live order `orig_cl_ord_id` of `client` on `symbol`.
    fn find(&self, client: u64, orig_cl_ord_id: &str, symbol: &str) -> Option<OrderId> {
        let id = *self.by_cl_ord_id.get(&(client, orig_cl_ord_id.to_owned()))?;
        (self.symbol_name(self.orders[&id].symbol) == symbol).then_some(id)
    }

    fn cancel_reject(
        &self,
        id: OrderId,
        cl_ord_id: &str,
        response_to: CxlRejResponseTo,
        text: String,
    ) -> Report {
        let order = &self.orders[&id];
        Report {
            client: order.client,
            kind: ReportKind::CancelReject(CancelReject {
                order_id: id.to_string(),
                cl_ord_id: cl_ord_id.into(),
                orig_cl_ord_id: order.cl_ord_id.clone(),
                ord_status: order.status(),
                response_to,
                reason: reason::OTHER,
                text,
            }),
        }
    }

    fn cancel(&mut self, client: u64, cancel: &OrderCancelRequest<'_>, now_ns: u64, out: &mut VenueOutput) {
        let response_to = CxlRejResponseTo::OrderCancelRequest;
        let Some(id) = self.find(client, cancel.orig_cl_ord_id, cancel.symbol) else {
            return out.reports.push(unknown_order(
                client,
                cancel.cl_ord_id,
                cancel.orig_cl_ord_id,
                response_to,
            ));
        };
        let symbol = self.orders[&id].symbol;
        self.events.clear();
        self.touched.clear();
        self.touched.extend(self.engines[symbol].resting_at(id));
        self.engines[symbol].cancel(id, &mut self.events);
        if let Some(Event::Rejected { reason, .. }) = self.events.first() {
            let reject = self.cancel_reject(id, cancel.cl_ord_id, response_to, reject_text(*reason).into());
            return out.reports.push(reject);
        }
        let orig = self.rename(id, cancel.cl_ord_id);
        self.report(id, ExecType::Canceled, None, Some(orig), out);
        self.forget(id);
        self.finish_action(symbol, now_ns, out);
    }

    fn replace(
        &mut self,
        client: u64,
        replace: &OrderCancelReplaceRequest<'_>,
        now_ns: u64,
        out: &mut VenueOutput,
    ) {
        let response_to = CxlRejResponseTo::OrderCancelReplaceRequest;
        let Some(id) = self.find(client, replace.orig_cl_ord_id, replace.symbol) else {
            let reject = unknown_order(client, replace.cl_ord_id, replace.orig_cl_ord_id, response_to);
            return out.reports.push(reject);
        };
        let order = self.orders[&id].clone();
        let refuse =
            |venue: &Self, text: String| venue.cancel_reject(id, replace.cl_ord_id, response_to, text);
        if replace.ord_type != OrdType::Limit || engine_side(replace.side) != order.side {
            return out
                .reports
                .push(refuse(self, "only a limit order's price and quantity can change".into()));
        }
        if self.by_cl_ord_id.contains_key(&(client, replace.cl_ord_id.to_owned())) {
            return out.reports.push(refuse(self, "the new ClOrdID is in use".into()));
        }
        let (quantity, price) = match self.engine_terms(order.symbol, replace.order_qty, replace.price) {
            Ok((quantity, Some(price))) if quantity > order.filled => (quantity, price),
            Ok(_) => {
                return out.reports.push(refuse(self, "the quantity is not above what is filled".into()))
            }
            Err((_, text)) => return out.reports.push(refuse(self, text)),
        };
        let leaves = quantity - order.filled;
        let keeps_place = Some(price) == order.price && leaves <= order.quantity - order.filled;
        let new_id = if keeps_place { id } else { EXTERNAL_ID_BIT | self.next_client_order };
        self.events.clear();
        self.touched.clear();
        self.touched.extend(self.engines[order.symbol].resting_at(id));
        self.engines[order.symbol].replace(id, new_id, price, leaves, &mut self.events);
        if let Some(Event::Rejected { reason, .. }) = self.events.first() {
            return out.reports.push(refuse(self, reject_text(*reason).into()));
        }
        if new_id != id {
            self.next_client_order += 1;
            let moved = self.orders.remove(&id).expect("found above");
            self.orders.insert(new_id, moved);
        }
        let orig = self.rename(new_id, replace.cl_ord_id);
        self.by_cl_ord_id.insert((client, replace.cl_ord_id.into()), new_id);
        let live = self.orders.get_mut(&new_id).expect("just keyed");
        live.quantity = quantity;
        live.price = Some(price);
        self.report(new_id, ExecType::Replaced, None, Some(orig), out);
        for i in 0..self.events.len() {
            self.report_fill(i, out);
        }
        self.finish_action(order.symbol, now_ns, out);
    }

    /// `client`'s connection ended (logout, cut, error): its resting orders are cancelled
    /// (cancel on disconnect), each reported Canceled to the client (whose session the venue
    /// keeps for the day, so the reports reach it when it comes back) and their levels
    /// published as refreshes. Returns how many orders were cancelled.
    pub fn end_session(&mut self, client: u64, now_ns: u64, out: &mut VenueOutput) -> usize {
        let mut open: Vec<(usize, OrderId)> = self
            .orders
            .iter()
            .filter(|(_, order)| order.client == client)
            .map(|(&id, order)| (order.symbol, id))
            .collect();
        open.sort_unstable();
        for &(symbol, id) in &open {
            self.events.clear();
            self.touched.clear();
            self.touched.extend(self.engines[symbol].resting_at(id));
            self.engines[symbol].cancel(id, &mut self.events);
            self.report(id, ExecType::Canceled, None, None, out);
            self.forget(id);
            self.publish_touched(symbol, now_ns, out);
        }
        open.len()
    }

    /// Gives order `id` the ClOrdID `cl_ord_id`; returns the one it had.
    fn rename(&mut self, id: OrderId, cl_ord_id: &str) -> String {
        let order = self.orders.get_mut(&id).expect("a live client order");
        let orig = std::mem::replace(&mut order.cl_ord_id, cl_ord_id.into());
        self.by_cl_ord_id.remove(&(order.client, orig.clone()));
        self.by_cl_ord_id.insert((order.client, cl_ord_id.into()), id);
        orig
    }

    /// Drops a client order that is no longer live.
    fn forget(&mut self, id: OrderId) {
        if let Some(order) = self.orders.remove(&id) {
            self.by_cl_ord_id.remove(&(order.client, order.cl_ord_id));
        }
    }

    /// Reports on order `id` as it stands.
    fn report(
        &mut self,
        id: OrderId,
        exec_type: ExecType,
        last: Option<(u64, i64)>,
        orig_cl_ord_id: Option<String>,
        out: &mut VenueOutput,
    ) {
        let exec_id = self.exec_id();
        let Some(order) = self.orders.get(&id) else { return };
        let (ord_status, leaves) = match exec_type {
            ExecType::Canceled => (OrdStatus::Canceled, 0),
            _ => (order.status(), order.quantity - order.filled),
        };
        let avg_px = match order.filled {
            0 => 0,
            filled => (order.notional * PRICE_TO_NANOS as u128 / u128::from(filled)) as i64,
        };
        out.reports.push(Report {
            client: order.client,
            kind: ReportKind::Execution(Execution {
                order_id: id.to_string(),
                cl_ord_id: order.cl_ord_id.clone(),
                orig_cl_ord_id,
                exec_id,
                exec_type,
                ord_status,
                symbol: self.symbol_name(order.symbol).into(),
                side: fix_side(order.side),
                order_qty: order.quantity as i64 * SHARES_TO_NANOS,
                price: order.price.map(|p| p * PRICE_TO_NANOS),
                last: last.map(|(qty, px)| (qty as i64 * SHARES_TO_NANOS, px * PRICE_TO_NANOS)),
                leaves_qty: leaves as i64 * SHARES_TO_NANOS,
                cum_qty: order.filled as i64 * SHARES_TO_NANOS,
                avg_px,
                ord_rej_reason: None,
                text: None,
            }),
        });
    }

    /// Fills of client orders in all of the last action's events.
    fn report_fills(&mut self, out: &mut VenueOutput) {
        for i in 0..self.events.len() {
            self.report_fill(i, out);
        }
    }

    /// If event `i` is a trade, reports it to the client orders on either side of it.
    fn report_fill(&mut self, i: usize, out: &mut VenueOutput) {
        let Event::Trade { taker, maker, price, quantity, .. } = self.events[i] else { return };
        for id in [taker, maker] {
            let Some(order) = self.orders.get_mut(&id) else { continue };
            order.filled += quantity;
            order.notional += u128::from(quantity) * price as u128;
            let filled = order.filled >= order.quantity;
            self.report(id, ExecType::Trade, Some((quantity, price)), None, out);
            if filled {
                self.forget(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const T0: u64 = 1_795_559_799_000_000_000;

    fn venue() -> FixVenue {
        let market = MarketSpec::equities(23, &[("AAPL", 1_900_000), ("MSFT", 4_200_000)]);
        FixVenue::new(market, VenueSpec::new(2, 50_000.0))
    }

    fn order(cl_ord_id: &str, side: fix44::Side, shares: i64, price_ticks: i64) -> Body<'_> {
        Body::NewOrderSingle(NewOrderSingle {
            cl_ord_id,
            symbol: "AAPL",
            side,
            transact_time_ns: T0,
            order_qty: shares * SHARES_TO_NANOS,
            ord_type: OrdType::Limit,
            price: Some(price_ticks * PRICE_TO_NANOS),
            time_in_force: None,
        })
    }

    fn executions(out: &VenueOutput) -> Vec<(u64, String, ExecType, OrdStatus, i64, i64)> {
        out.reports
            .iter()
            .filter_map(|r| match &r.kind {
                ReportKind::Execution(e) => Some((
                    r.client,
                    e.cl_ord_id.clone(),
                    e.exec_type,
                    e.ord_status,
                    e.cum_qty / SHARES_TO_NANOS,
                    e.leaves_qty / SHARES_TO_NANOS,
                )),
                ReportKind::CancelReject(_) => None,
            })
            .collect()
    }

    /// Applies refreshes to per-symbol maps, checking each action suits the level it names.
    fn apply(updates: &[MdUpdate], books: &mut [[BTreeMap<i64, u64>; 2]]) {
        for update in updates {
            for change in &update.changes {
                let MdChange::Level { action, side, price, quantity } = *change else { continue };
                let levels = &mut books[update.symbol][side as usize];
                let had = levels.contains_key(&price);
                match action {
                    MdUpdateAction::New => assert!(!had && quantity > 0, "New for a level {price} it has"),
                    MdUpdateAction::Change => {
                        assert!(had && quantity > 0, "Change of a level {price} it lacks")
                    }
                    MdUpdateAction::Delete => {
                        assert!(had && quantity == 0, "Delete of a level {price} it lacks")
                    }
                }
                if quantity == 0 {
                    levels.remove(&price);
                } else {
                    levels.insert(price, quantity);
                }
            }
        }
    }

    #[test]
    fn incremental_refreshes_rebuild_every_level_of_the_engines() {
        let mut venue = venue();
        let mut out = VenueOutput::default();
        venue.step(20_000, &mut out);
        let mut books = vec![[BTreeMap::new(), BTreeMap::new()]; 2];
        apply(&out.market_data, &mut books);
        for (symbol, book) in books.iter().enumerate() {
            let bids: Vec<(i64, u64)> =
                book[Side::Buy as usize].iter().rev().map(|(&p, &q)| (p, q)).collect();
            let asks: Vec<(i64, u64)> = book[Side::Sell as usize].iter().map(|(&p, &q)| (p, q)).collect();
            assert_eq!(bids, venue.engine(symbol).levels(Side::Buy));
            assert_eq!(asks, venue.engine(symbol).levels(Side::Sell));
        }
        let trades =
            out.market_data.iter().flat_map(|u| &u.changes).filter(|c| matches!(c, MdChange::Trade { .. }));
        assert!(trades.count() > 100, "the flow trades");
    }

    #[test]
    fn a_snapshot_is_the_book_best_first() {
        let mut venue = venue();
        let mut out = VenueOutput::default();
        venue.step(5_000, &mut out);
        let mut entries = Vec::new();
        venue.snapshot(0, &mut entries);
        let side = |t| -> Vec<(i64, u64)> {
            entries
                .iter()
                .filter(|e| e.entry_type == t)
                .map(|e| (e.price / PRICE_TO_NANOS, (e.size / SHARES_TO_NANOS) as u64))
                .collect()
        };
        assert_eq!(side(MdEntryType::Bid), venue.engine(0).levels(Side::Buy));
        assert_eq!(side(MdEntryType::Offer), venue.engine(0).levels(Side::Sell));
    }

    #[test]
    fn client_orders_rest_trade_with_each_other_and_are_reported_to_their_owners() {
        let mut venue = venue();
        let mut out = VenueOutput::default();
        // Far below the market, so only these orders meet there.
        assert!(venue.on_order(7, &order("b1", fix44::Side::Buy, 300, 100), T0, &mut out));
        assert_eq!(executions(&out), [(7, "b1".into(), ExecType::New, OrdStatus::New, 0, 300)]);
        assert_eq!(venue.engine(0).levels(Side::Buy), [(100, 300)]);
        let level = &out.market_data[0].changes[0];
        assert_eq!(
            *level,
            MdChange::Level { action: MdUpdateAction::New, side: Side::Buy, price: 100, quantity: 300 }
        );
        out.clear();
        venue.on_order(8, &order("s1", fix44::Side::Sell, 100, 100), T0, &mut out);
        assert_eq!(
            executions(&out),
            [
                (8, "s1".into(), ExecType::New, OrdStatus::New, 0, 100),
                (8, "s1".into(), ExecType::Trade, OrdStatus::Filled, 100, 0),
                (7, "b1".into(), ExecType::Trade, OrdStatus::PartiallyFilled, 100, 200),
            ]
        );
        let ReportKind::Execution(fill) = &out.reports[2].kind else { unreachable!() };
        assert_eq!(
            (fill.last, fill.avg_px),
            (Some((100 * SHARES_TO_NANOS, 100 * PRICE_TO_NANOS)), 100 * PRICE_TO_NANOS)
        );
        assert_eq!(
            out.market_data[0].changes,
            [
                MdChange::Trade { price: 100, quantity: 100 },
                MdChange::Level {
                    action: MdUpdateAction::Change,
                    side: Side::Buy,
                    price: 100,
                    quantity: 200
                },
            ]
        );
    }

    #[test]
    fn a_client_order_is_replaced_in_place_or_anew_and_cancelled() {
        let mut venue = venue();
        let mut out = VenueOutput::default();
        venue.on_order(7, &order("b1", fix44::Side::Buy, 300, 100), T0, &mut out);
        out.clear();
        let replace = |orig, cl, shares: i64, price: i64| {
            Body::OrderCancelReplaceRequest(OrderCancelReplaceRequest {
                orig_cl_ord_id: orig,
                cl_ord_id: cl,
                symbol: "AAPL",
                side: fix44::Side::Buy,
                transact_time_ns: T0,
                order_qty: shares * SHARES_TO_NANOS,
                ord_type: OrdType::Limit,
                price: Some(price * PRICE_TO_NANOS),
            })
        };
        venue.on_order(7, &replace("b1", "b2", 200, 100), T0, &mut out);
        assert_eq!(executions(&out), [(7, "b2".into(), ExecType::Replaced, OrdStatus::New, 0, 200)]);
        assert_eq!(venue.engine(0).levels(Side::Buy), [(100, 200)]);
        out.clear();
        venue.on_order(7, &replace("b2", "b3", 400, 200), T0, &mut out);
        assert_eq!(executions(&out), [(7, "b3".into(), ExecType::Replaced, OrdStatus::New, 0, 400)]);
        assert_eq!(venue.engine(0).levels(Side::Buy), [(200, 400)]);
        out.clear();
        venue.on_order(7, &replace("b1", "b4", 400, 200), T0, &mut out);
        assert!(
            matches!(&out.reports[0].kind, ReportKind::CancelReject(r) if r.reason == reason::UNKNOWN_ORDER)
        );
        out.clear();
        let cancel = |orig, cl| {
            Body::OrderCancelRequest(OrderCancelRequest {
                orig_cl_ord_id: orig,
                cl_ord_id: cl,
                symbol: "AAPL",
                side: fix44::Side::Buy,
                transact_time_ns: T0,
            })
        };
        venue.on_order(8, &cancel("b3", "x"), T0, &mut out);
        assert!(matches!(&out.reports[0].kind, ReportKind::CancelReject(_)), "another client's order");
        out.clear();
        venue.on_order(7, &cancel("b3", "c1"), T0, &mut out);
        assert_eq!(executions(&out), [(7, "c1".into(), ExecType::Canceled, OrdStatus::Canceled, 0, 0)]);
        assert!(venue.engine(0).levels(Side::Buy).is_empty());
        let deleted =
            MdChange::Level { action: MdUpdateAction::Delete, side: Side::Buy, price: 200, quantity: 0 };
        assert_eq!(out.market_data[0].changes, [deleted]);
    }

    #[test]
    fn orders_with_nonsense_terms_are_rejected_with_a_reason() {
        let mut venue = venue();
        let mut out = VenueOutput::default();
        let mut half_share = order("h", fix44::Side::Buy, 1, 100);
        if let Body::NewOrderSingle(o) = &mut half_share {
            o.order_qty = SHARES_TO_NANOS / 2;
        }
        let mut off_tick = order("t", fix44::Side::Buy, 1, 100);
        if let Body::NewOrderSingle(o) = &mut off_tick {
            o.price = Some(100 * PRICE_TO_NANOS + 1);
        }
        let mut unknown = order("u", fix44::Side::Buy, 1, 100);
        if let Body::NewOrderSingle(o) = &mut unknown {
            o.symbol = "NOPE";
        }
        for body in [&half_share, &off_tick, &unknown] {
            venue.on_order(7, body, T0, &mut out);
        }
        venue.on_order(7, &order("d", fix44::Side::Buy, 1, 100), T0, &mut out);
        venue.on_order(7, &order("d", fix44::Side::Buy, 1, 100), T0, &mut out);
        let reasons: Vec<Option<u32>> = out
            .reports
            .iter()
            .filter_map(|r| match &r.kind {
                ReportKind::Execution(e) if e.exec_type == ExecType::Rejected => Some(e.ord_rej_reason),
                _ => None,
            })
            .collect();
        assert_eq!(
            reasons,
            [
                Some(reason::INCORRECT_QUANTITY),
                Some(reason::OTHER),
                Some(reason::UNKNOWN_SYMBOL),
                Some(reason::DUPLICATE_ORDER)
            ]
        );
        assert_eq!(venue.engine(0).levels(Side::Buy), [(100, 1)], "only the first d rests");
    }

    #[test]
    fn ending_a_connection_cancels_its_resting_orders_reports_them_and_publishes_their_levels_going() {
        let mut venue = venue();
        let mut out = VenueOutput::default();
        venue.on_order(7, &order("b1", fix44::Side::Buy, 300, 100), T0, &mut out);
        venue.on_order(7, &order("b2", fix44::Side::Buy, 100, 200), T0, &mut out);
        venue.on_order(8, &order("other", fix44::Side::Buy, 100, 100), T0, &mut out);
        out.clear();
        assert_eq!(venue.end_session(7, T0, &mut out), 2);
        assert_eq!(venue.engine(0).levels(Side::Buy), [(100, 100)], "only the other client's order rests");
        let changes: Vec<MdChange> = out.market_data.iter().flat_map(|u| u.changes.clone()).collect();
        assert_eq!(
            changes,
            [
                MdChange::Level {
                    action: MdUpdateAction::Change,
                    side: Side::Buy,
                    price: 100,
                    quantity: 100
                },
                MdChange::Level { action: MdUpdateAction::Delete, side: Side::Buy, price: 200, quantity: 0 },
            ]
        );
        assert_eq!(
            executions(&out),
            [
                (7, "b1".into(), ExecType::Canceled, OrdStatus::Canceled, 0, 0),
                (7, "b2".into(), ExecType::Canceled, OrdStatus::Canceled, 0, 0),
            ],
            "the client hears of it when it comes back"
        );
        let mut again = VenueOutput::default();
        venue.on_order(7, &order("b1", fix44::Side::Buy, 100, 100), T0, &mut again);
        assert_eq!(executions(&again)[0].2, ExecType::New, "the session's ClOrdIDs are free again");
    }

    #[test]
    fn the_flow_never_cancels_a_client_order() {
        let mut venue = venue();
        let mut out = VenueOutput::default();
        venue.on_order(7, &order("deep", fix44::Side::Buy, 100, 100), T0, &mut out);
        venue.step(30_000, &mut out);
        assert!(venue.engine(0).is_resting(EXTERNAL_ID_BIT | 1));
    }
}
