//! Venue C without its sockets: the order flow and external clients' orders through one
//! matching engine per symbol, the books as JSON depth updates and snapshots, trades, and
//! execution reports for the clients. [`crate::venue_c_server`] puts it on WebSocket.
//!
//! External orders share the engines with the background flow. Their engine ids have the top
//! bit set ([`crate::matching::EXTERNAL_ID_BIT`]), so they never meet the flow's ids, which
//! count up from 1; each is found again by its session and the client's own order id.
//!
//! Each session belongs to an API key, and every execution report of a key's orders goes into
//! the key's log under the key's next sequence number (from 1, for the venue's life), whether
//! or not the key has a connection to hear it: a connection sends on from the log
//! ([`JsonVenue::reports`]), and a logon resuming from a number sends again what was missed
//! ([`JsonVenue::resume`]). A log keeps its last reports only, up to a retention count.

use std::collections::{HashMap, VecDeque};

use protocols::decimal::parse_decimal;
use protocols::depth_json::{DepthMessage, DECIMALS};
use protocols::ws_api::{
    ApiError, Cancel, ExecutionReport, ExecutionType, OrderKind, OrderSide, OrderStatus, Place, TimeInForce,
};

/// How many reports a key's log keeps unless configured otherwise.
pub const DEFAULT_REPORT_RETENTION: usize = 1 << 20;

use crate::depth::{DepthPublisher, PRICE_TO_NANOS, SHARES_TO_NANOS};
use crate::flow::{Action, MarketSpec, SymbolSpec, VenueFlow, VenueSpec};
use crate::matching::{Engine, Event, NewOrder, OrderId, OrderType, Side, EXTERNAL_ID_BIT};

/// An order-entry session (one authenticated connection).
pub type SessionId = u64;

/// Which stream a market-data message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Depth updates (`<SYMBOL>@depth`).
    Depth,
    /// Trades (`<SYMBOL>@trade`).
    Trade,
}

/// One market-data message for the subscribers of a symbol's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketData {
    /// The symbol's index.
    pub symbol: usize,
    /// Its stream.
    pub stream: Stream,
    /// The message.
    pub message: DepthMessage,
}

#[derive(Debug)]
struct ExternalOrder {
    session: SessionId,
    symbol: usize,
    client_order_id: String,
    side: Side,
    quantity: u64,
    filled: u64,
}

/// Every execution report of one API key's orders, numbered from 1; the last ones are kept.
#[derive(Debug)]
struct ReportLog {
    /// The sequence number of `kept[0]` (of the next report, when nothing is kept).
    first: u64,
    kept: VecDeque<ExecutionReport>,
}

/// The log of a key that has none yet.
static NO_LOG: ReportLog = ReportLog::EMPTY;

impl ReportLog {
    const EMPTY: Self = Self { first: 1, kept: VecDeque::new() };

    /// The sequence number the next report gets.
    fn next(&self) -> u64 {
        self.first + self.kept.len() as u64
    }
}

/// Where a logon asking to resume starts sending its key's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// The sequence number of the first report to send.
    pub from: u64,
    /// Whether that is the one asked for (the session resumes), rather than the key's next
    /// (a fresh session).
    pub resumed: bool,
}

/// A simulated JSON-over-WebSocket venue.
#[derive(Debug)]
pub struct JsonVenue {
    market: MarketSpec,
    flow: VenueFlow,
    engines: Vec<Engine>,
    publishers: Vec<DepthPublisher>,
    events: Vec<Event>,
    touched: Vec<bool>,
    trades: Vec<MarketData>,
    logs: HashMap<String, ReportLog>,
    retention: usize,
    session_keys: HashMap<SessionId, String>,
    next_session: SessionId,
    orders: HashMap<OrderId, ExternalOrder>,
    client_ids: HashMap<(SessionId, String), OrderId>,
    next_external: u64,
}

impl JsonVenue {
    /// A venue trading `market`'s symbols with `venue`'s flow, keeping the last `retention`
    /// reports of each API key.
    pub fn new(market: MarketSpec, venue: VenueSpec, retention: usize) -> Self {
        let symbols = market.symbols.len();
        Self {
            flow: VenueFlow::new(&market, venue),
            engines: vec![Engine::new(); symbols],
            publishers: market.symbols.iter().map(|s| DepthPublisher::new(&s.name)).collect(),
            events: Vec::new(),
            touched: vec![false; symbols],
            trades: Vec::new(),
            logs: HashMap::new(),
            retention,
            session_keys: HashMap::new(),
            next_session: 0,
            orders: HashMap::new(),
            client_ids: HashMap::new(),
            next_external: 0,
            market,
        }
    }

    /// The index of the symbol named `name`.
    pub fn symbol(&self, name: &str) -> Option<usize> {
        self.market.symbols.iter().position(|s| s.name == name)
    }

    /// The symbols, in index order.
    pub fn symbols(&self) -> &[SymbolSpec] {
        &self.market.symbols
    }

    /// Number of symbols.
    pub fn symbol_count(&self) -> usize {
        self.engines.len()
    }

    /// The matching engine of `symbol`.
    pub fn engine(&self, symbol: usize) -> &Engine {
        &self.engines[symbol]
    }

    /// `symbol`'s book as last published, with the last update id it includes.
    pub fn snapshot(&self, symbol: usize) -> DepthMessage {
        self.publishers[symbol].snapshot()
    }

    /// Runs the flow's actions due at or before `limit_ns` (venue time); returns how many.
    pub fn advance_until(&mut self, limit_ns: u64, now_ms: u64) -> usize {
        let mut count = 0;
        while let Some((_, action)) = self.flow.next_action_until(limit_ns) {
            self.flow_action(action, now_ms);
            count += 1;
        }
        count
    }

    /// Runs the next `actions` actions of the flow, whenever they are due.
    pub fn step(&mut self, actions: usize, now_ms: u64) {
        for _ in 0..actions {
            let (_, action) = self.flow.next_action();
            self.flow_action(action, now_ms);
        }
    }

    fn flow_action(&mut self, action: Action, now_ms: u64) {
        let symbol = self.flow.apply(action, &mut self.engines, &mut self.events);
        self.after_events(symbol, now_ms);
    }

    /// Opens a session for `key` (a logged-on connection): its orders' reports go into the
    /// key's log.
    pub fn open_session(&mut self, key: &str) -> SessionId {
        self.next_session += 1;
        self.session_keys.insert(self.next_session, key.to_owned());
        self.next_session
    }

    /// Where a logon for `key` asking to resume from sequence number `from` starts: from
    /// `from` if the key's log has it (`resumed`); from the key's next report if `from` is 0
    /// (a fresh session) or the log has no such report (the key has no log, or a shorter one:
    /// the client's numbers are of another day). Refused when the log no longer keeps `from`.
    pub fn resume(&self, key: &str, from: u64) -> Result<Resume, ApiError> {
        let log = self.logs.get(key).unwrap_or(&NO_LOG);
        let next = log.next();
        if from == 0 || from > next || next == 1 {
            return Ok(Resume { from: next, resumed: false });
        }
        if from < log.first {
            return Err(ApiError::resume_unavailable(from, log.first));
        }
        Ok(Resume { from, resumed: true })
    }

    /// `key`'s kept reports numbered `from` or above, in order.
    pub fn reports(&self, key: &str, from: u64) -> impl Iterator<Item = &ExecutionReport> {
        let log = self.logs.get(key).unwrap_or(&NO_LOG);
        log.kept.iter().skip(from.saturating_sub(log.first) as usize)
    }

    /// The sequence number `key`'s next report gets (1 if it has none yet).
    pub fn next_sequence(&self, key: &str) -> u64 {
        self.logs.get(key).map_or(1, ReportLog::next)
    }

    /// Places a client's order for `session`; returns its engine id. Execution reports (NEW,
    /// TRADE, EXPIRED) go into the session key's log ([`Self::reports`]).
    pub fn place(&mut self, session: SessionId, place: &Place, now_ms: u64) -> Result<OrderId, ApiError> {
        if !self.session_keys.contains_key(&session) {
            return Err(ApiError::unauthorized());
        }
        let symbol = self.symbol(&place.symbol).ok_or_else(|| ApiError::unknown_symbol(&place.symbol))?;
        let spec = &self.market.symbols[symbol];
        let quantity = parse_decimal(place.quantity.as_bytes(), DECIMALS)
            .filter(|&q| q > 0 && q % SHARES_TO_NANOS == 0)
            .ok_or_else(|| ApiError::illegal("quantity", "not a positive whole number of shares"))?
            as u64
            / SHARES_TO_NANOS as u64;
        if quantity % spec.lot != 0 {
            return Err(ApiError::filter(&format!("LOT_SIZE: quantity is not a multiple of {}", spec.lot)));
        }
        let price = match (place.kind, &place.price) {
            (OrderKind::Limit, Some(price)) => {
                let nanos = parse_decimal(price.as_bytes(), DECIMALS)
                    .filter(|&p| p > 0 && p % PRICE_TO_NANOS == 0)
                    .ok_or_else(|| ApiError::illegal("price", "not a positive price in 1/10,000"))?;
                let ticks = nanos / PRICE_TO_NANOS;
                if ticks % spec.tick != 0 {
                    return Err(ApiError::filter("PRICE_FILTER: price is not on a tick"));
                }
                Some(ticks)
            }
            (OrderKind::Limit, None) => {
                return Err(ApiError::illegal("price", "a limit order needs a price"))
            }
            (OrderKind::Market, Some(_)) => {
                return Err(ApiError::illegal("price", "a market order takes no price"))
            }
            (OrderKind::Market, None) => None,
        };
        if place.client_order_id.is_empty() || place.client_order_id.len() > 36 {
            return Err(ApiError::illegal("newClientOrderId", "1 to 36 characters"));
        }
        let key = (session, place.client_order_id.clone());
        if self.client_ids.contains_key(&key) {
            return Err(ApiError::order_rejected("duplicate newClientOrderId among open orders"));
        }
        let order_type = match (price, place.time_in_force) {
            (None, _) => OrderType::Market,
            (Some(price), Some(TimeInForce::ImmediateOrCancel)) => OrderType::Ioc { price },
            (Some(price), _) => OrderType::Limit { price },
        };
        self.next_external += 1;
        let id = EXTERNAL_ID_BIT | self.next_external;
        let side = match place.side {
            OrderSide::Buy => Side::Buy,
            OrderSide::Sell => Side::Sell,
        };
        self.orders.insert(
            id,
            ExternalOrder {
                session,
                symbol,
                client_order_id: place.client_order_id.clone(),
                side,
                quantity,
                filled: 0,
            },
        );
        self.client_ids.insert(key, id);
        self.events.clear();
        self.engines[symbol].submit(NewOrder { id, side, quantity, order_type }, &mut self.events);
        if let Some(Event::Rejected { reason, .. }) = self.events.first().copied() {
            self.forget(id);
            return Err(ApiError::order_rejected(&format!("{reason:?}")));
        }
        // The flow learns of its orders the client's took out (never to cancel the client's).
        self.flow.observe(symbol, &self.events);
        self.after_events(symbol, now_ms);
        Ok(id)
    }

    /// Cancels `session`'s open order; returns its engine id. The CANCELED report goes into
    /// the session key's log.
    pub fn cancel(&mut self, session: SessionId, cancel: &Cancel, now_ms: u64) -> Result<OrderId, ApiError> {
        let symbol = self.symbol(&cancel.symbol).ok_or_else(|| ApiError::unknown_symbol(&cancel.symbol))?;
        let id = *self
            .client_ids
            .get(&(session, cancel.client_order_id.clone()))
            .filter(|id| self.orders[*id].symbol == symbol)
            .ok_or_else(|| ApiError::cancel_rejected("unknown order (never placed, or no longer open)"))?;
        self.cancel_id(symbol, id, now_ms);
        Ok(id)
    }

    fn cancel_id(&mut self, symbol: usize, id: OrderId, now_ms: u64) {
        self.events.clear();
        self.engines[symbol].cancel(id, &mut self.events);
        self.after_events(symbol, now_ms);
    }

    /// Ends `session`: its open orders are cancelled (cancel on disconnect), the cancels
    /// logged under its key for a later session to hear.
    pub fn end_session(&mut self, session: SessionId, now_ms: u64) {
        let mut open: Vec<(usize, OrderId)> =
            self.orders.iter().filter(|(_, o)| o.session == session).map(|(&id, o)| (o.symbol, id)).collect();
        open.sort_unstable();
        for (symbol, id) in open {
            self.cancel_id(symbol, id, now_ms);
        }
        self.session_keys.remove(&session);
    }

    /// The market data made since the last call: for every symbol whose book changed, a depth
    /// update under the next update id; then the trades, in order.
    pub fn publish(&mut self, now_ms: u64) -> Vec<MarketData> {
        let mut out = Vec::new();
        for (symbol, touched) in self.touched.iter_mut().enumerate() {
            if std::mem::take(touched) {
                if let Some(message) = self.publishers[symbol].update(&self.engines[symbol], now_ms) {
                    out.push(MarketData { symbol, stream: Stream::Depth, message });
                }
            }
        }
        out.append(&mut self.trades);
        out
    }

    /// Turns the engine's events of one action into trades and execution reports.
    fn after_events(&mut self, symbol: usize, now_ms: u64) {
        self.touched[symbol] = true;
        for index in 0..self.events.len() {
            match self.events[index] {
                Event::Trade { taker, maker, maker_side, price, quantity, match_number, .. } => {
                    self.trades.push(MarketData {
                        symbol,
                        stream: Stream::Trade,
                        message: DepthMessage::Trade {
                            symbol: self.market.symbols[symbol].name.clone(),
                            trade_id: match_number,
                            price: price * PRICE_TO_NANOS,
                            quantity: quantity as i64 * SHARES_TO_NANOS,
                            trade_time_ms: now_ms,
                            buyer_is_maker: maker_side == Side::Buy,
                        },
                    });
                    for id in [taker, maker] {
                        self.report(id, ExecutionType::Trade, (quantity, price, match_number), now_ms);
                    }
                }
                Event::Accepted { id } => self.report(id, ExecutionType::New, (0, 0, 0), now_ms),
                Event::Cancelled { id, was_resting, .. } => {
                    let execution =
                        if was_resting { ExecutionType::Canceled } else { ExecutionType::Expired };
                    self.report(id, execution, (0, 0, 0), now_ms);
                }
                Event::Rested { .. } | Event::Rejected { .. } | Event::Reduced { .. } => {}
            }
        }
    }

    /// Reports what happened to `id` if it is a client's order; `trade` is (quantity, price,
    /// trade id), zeros unless it traded.
    fn report(&mut self, id: OrderId, execution: ExecutionType, trade: (u64, i64, u64), now_ms: u64) {
        let Some(order) = self.orders.get_mut(&id) else { return };
        order.filled += trade.0;
        let status = match execution {
            ExecutionType::New => OrderStatus::New,
            ExecutionType::Trade if order.filled == order.quantity => OrderStatus::Filled,
            ExecutionType::Trade => OrderStatus::PartiallyFilled,
            ExecutionType::Canceled => OrderStatus::Canceled,
            ExecutionType::Expired => OrderStatus::Expired,
        };
        let key = &self.session_keys[&order.session];
        if !self.logs.contains_key(key) {
            self.logs.insert(key.clone(), ReportLog::EMPTY);
        }
        let log = self.logs.get_mut(key).expect("inserted above");
        let sequence = log.next();
        log.kept.push_back(ExecutionReport {
            event_time_ms: now_ms,
            symbol: self.market.symbols[order.symbol].name.clone(),
            client_order_id: order.client_order_id.clone(),
            order_id: id,
            side: match order.side {
                Side::Buy => OrderSide::Buy,
                Side::Sell => OrderSide::Sell,
            },
            execution,
            status,
            quantity: order.quantity as i64 * SHARES_TO_NANOS,
            last_quantity: trade.0 as i64 * SHARES_TO_NANOS,
            last_price: trade.1 * PRICE_TO_NANOS,
            cumulative_quantity: order.filled as i64 * SHARES_TO_NANOS,
            trade_id: trade.2,
            sequence,
        });
        while log.kept.len() > self.retention {
            log.kept.pop_front();
            log.first += 1;
        }
        if matches!(status, OrderStatus::Filled | OrderStatus::Canceled | OrderStatus::Expired) {
            self.forget(id);
        }
    }

    fn forget(&mut self, id: OrderId) {
        if let Some(order) = self.orders.remove(&id) {
            self.client_ids.remove(&(order.session, order.client_order_id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue_keeping(retention: usize) -> JsonVenue {
        let market = MarketSpec::equities(5, &[("AAPL", 1_900_000), ("MSFT", 4_200_000)]);
        let mut venue = JsonVenue::new(market, VenueSpec::new(3, 10_000.0), retention);
        venue.step(2_000, 0);
        venue.publish(0);
        venue
    }

    fn venue() -> JsonVenue {
        venue_keeping(DEFAULT_REPORT_RETENTION)
    }

    fn place(side: OrderSide, kind: OrderKind, price: Option<&str>, quantity: &str, id: &str) -> Place {
        Place {
            symbol: "AAPL".into(),
            side,
            kind,
            time_in_force: None,
            price: price.map(Into::into),
            quantity: quantity.into(),
            client_order_id: id.into(),
        }
    }

    fn price_text(ticks: i64) -> String {
        protocols::decimal::format_decimal(ticks, 4)
    }

    /// `key`'s reports from `*next` on, as a connection sends them; moves `next` past them.
    fn sent(venue: &JsonVenue, key: &str, next: &mut u64) -> Vec<ExecutionReport> {
        let reports: Vec<ExecutionReport> = venue.reports(key, *next).cloned().collect();
        *next = venue.next_sequence(key);
        reports
    }

    fn sequences(venue: &JsonVenue, key: &str, from: u64) -> Vec<u64> {
        venue.reports(key, from).map(|r| r.sequence).collect()
    }

    #[test]
    fn a_resting_client_order_is_in_the_book_and_filled_by_a_crossing_one() {
        let mut venue = venue();
        let (maker, taker) = (venue.open_session("maker"), venue.open_session("taker"));
        let (mut maker_next, mut taker_next) = (1, 1);
        let (bid, ahead) = venue.engine(0).levels(Side::Buy)[0];
        let id = venue.place(
            maker,
            &place(OrderSide::Buy, OrderKind::Limit, Some(&price_text(bid)), "300", "b1"),
            1,
        );
        let id = id.unwrap();
        assert_eq!(id & EXTERNAL_ID_BIT, EXTERNAL_ID_BIT);
        assert_eq!(venue.engine(0).levels(Side::Buy)[0], (bid, ahead + 300), "joined the best bid's queue");
        let reports = sent(&venue, "maker", &mut maker_next);
        assert_eq!(reports.len(), 1);
        assert_eq!((reports[0].execution, reports[0].status), (ExecutionType::New, OrderStatus::New));
        let update = venue.publish(2);
        let level = (bid * PRICE_TO_NANOS, (ahead + 300) as i64 * SHARES_TO_NANOS);
        assert!(matches!(&update[0].message, DepthMessage::Update { bids, .. } if bids.contains(&level)));

        // A market sell takes the orders queued ahead first, then 100 of the client's.
        let sell = place(OrderSide::Sell, OrderKind::Market, None, &(ahead + 100).to_string(), "s1");
        venue.place(taker, &sell, 3).unwrap();
        let made = sent(&venue, "maker", &mut maker_next);
        assert_eq!(made.len(), 1, "{made:?}");
        assert_eq!((made[0].execution, made[0].status), (ExecutionType::Trade, OrderStatus::PartiallyFilled));
        assert_eq!(
            (made[0].last_price, made[0].last_quantity),
            (bid * PRICE_TO_NANOS, 100 * SHARES_TO_NANOS)
        );
        let taken = sent(&venue, "taker", &mut taker_next);
        assert_eq!(
            (taken.last().unwrap().status, taken.last().unwrap().cumulative_quantity),
            (OrderStatus::Filled, (ahead + 100) as i64 * SHARES_TO_NANOS)
        );
        assert!(venue.publish(4).iter().any(|m| m.stream == Stream::Trade));

        venue.cancel(maker, &Cancel { symbol: "AAPL".into(), client_order_id: "b1".into() }, 5).unwrap();
        let reports = sent(&venue, "maker", &mut maker_next);
        assert_eq!(
            (reports[0].execution, reports[0].cumulative_quantity),
            (ExecutionType::Canceled, 100 * SHARES_TO_NANOS)
        );
        assert!(
            venue.engine(0).levels(Side::Buy).iter().all(|&(p, _)| p != bid),
            "the level went with the remainder"
        );
        let again = venue.cancel(maker, &Cancel { symbol: "AAPL".into(), client_order_id: "b1".into() }, 6);
        assert_eq!(again.unwrap_err().code, -2011);
    }

    #[test]
    fn orders_breaking_the_rules_are_refused_with_the_reason() {
        let mut venue = venue();
        let (one, two) = (venue.open_session("one"), venue.open_session("two"));
        let mut bad = |p: Place| venue.place(one, &p, 0).unwrap_err();
        assert_eq!(
            bad(Place { symbol: "IBM".into(), ..place(OrderSide::Buy, OrderKind::Market, None, "100", "a") })
                .code,
            -1121
        );
        assert_eq!(bad(place(OrderSide::Buy, OrderKind::Market, None, "1.5", "a")).code, -1100);
        assert!(bad(place(OrderSide::Buy, OrderKind::Market, None, "150", "a")).msg.contains("LOT_SIZE"));
        assert!(bad(place(OrderSide::Buy, OrderKind::Limit, Some("190.001"), "100", "a"))
            .msg
            .contains("PRICE_FILTER"));
        assert!(bad(place(OrderSide::Buy, OrderKind::Limit, None, "100", "a")).msg.contains("needs a price"));
        assert!(bad(place(OrderSide::Buy, OrderKind::Market, Some("1"), "100", "a"))
            .msg
            .contains("takes no price"));
        assert!(bad(place(OrderSide::Buy, OrderKind::Market, None, "100", ""))
            .msg
            .contains("newClientOrderId"));
        let low = place(OrderSide::Buy, OrderKind::Limit, Some("1"), "100", "dup");
        venue.place(one, &low, 0).unwrap();
        assert!(venue.place(one, &low, 0).unwrap_err().msg.contains("duplicate"));
        assert!(venue.place(two, &low, 0).is_ok(), "client order ids are per session");
        assert_eq!(venue.place(99, &low, 0).unwrap_err().code, -1002, "a session that never logged on");
    }

    #[test]
    fn ending_a_session_cancels_its_orders_into_its_keys_log_and_the_flow_never_cancels_them() {
        let mut venue = venue();
        let session = venue.open_session("desk");
        let low = place(OrderSide::Buy, OrderKind::Limit, Some("1"), "100", "deep");
        let id = venue.place(session, &low, 0).unwrap();
        venue.step(5_000, 0);
        assert!(venue.engine(0).is_resting(id), "the flow left the client's order alone");
        venue.end_session(session, 1);
        assert!(!venue.engine(0).is_resting(id));
        let log: Vec<_> = venue.reports("desk", 1).map(|r| (r.sequence, r.execution)).collect();
        assert_eq!(
            log,
            [(1, ExecutionType::New), (2, ExecutionType::Canceled)],
            "the cancel is logged for the key's next session though nobody is left to tell"
        );
    }

    #[test]
    fn a_keys_reports_are_numbered_across_its_sessions_and_a_resume_replays_from_the_asked_number() {
        let mut venue = venue();
        let first = venue.open_session("desk");
        let other = venue.open_session("other");
        for id in ["a", "b"] {
            venue.place(first, &place(OrderSide::Buy, OrderKind::Limit, Some("1"), "100", id), 0).unwrap();
        }
        venue.place(other, &place(OrderSide::Buy, OrderKind::Limit, Some("1"), "100", "x"), 0).unwrap();
        venue.end_session(first, 1);
        let second = venue.open_session("desk");
        venue.place(second, &place(OrderSide::Buy, OrderKind::Limit, Some("1"), "100", "c"), 2).unwrap();

        assert_eq!(sequences(&venue, "desk", 1), [1, 2, 3, 4, 5], "NEW a, NEW b, the two cancels, NEW c");
        assert_eq!(sequences(&venue, "other", 1), [1], "each key numbers its own from 1");
        assert_eq!(venue.next_sequence("desk"), 6);
        assert_eq!(venue.resume("desk", 3), Ok(Resume { from: 3, resumed: true }));
        let replayed: Vec<_> =
            venue.reports("desk", 3).map(|r| (r.sequence, r.client_order_id.as_str(), r.execution)).collect();
        assert_eq!(
            replayed,
            [
                (3, "a", ExecutionType::Canceled),
                (4, "b", ExecutionType::Canceled),
                (5, "c", ExecutionType::New)
            ]
        );
        assert_eq!(venue.resume("desk", 6), Ok(Resume { from: 6, resumed: true }), "nothing missed");
        assert_eq!(venue.resume("desk", 0), Ok(Resume { from: 6, resumed: false }), "a fresh session");
        assert_eq!(
            venue.resume("desk", 40),
            Ok(Resume { from: 6, resumed: false }),
            "numbers of another day: the session starts afresh from the key's next"
        );
    }

    #[test]
    fn a_resume_from_before_what_is_kept_is_refused_by_name() {
        let mut venue = venue_keeping(2);
        let session = venue.open_session("desk");
        for id in ["a", "b", "c"] {
            venue.place(session, &place(OrderSide::Buy, OrderKind::Limit, Some("1"), "100", id), 0).unwrap();
        }
        assert_eq!(sequences(&venue, "desk", 1), [2, 3], "the last two are kept");
        let refused = venue.resume("desk", 1).unwrap_err();
        assert_eq!(refused.code, -1130);
        assert!(refused.msg.contains("'resumeFrom'"), "{}", refused.msg);
        assert!(refused.msg.contains("report 1 is no longer kept (the oldest kept is 2)"), "{}", refused.msg);
        assert_eq!(venue.resume("desk", 2), Ok(Resume { from: 2, resumed: true }));
    }

    #[test]
    fn a_key_with_no_log_is_not_resumed_and_numbers_its_reports_from_one() {
        let mut venue = venue();
        for from in [0, 1, 5] {
            assert_eq!(venue.resume("desk", from), Ok(Resume { from: 1, resumed: false }), "from {from}");
        }
        let session = venue.open_session("desk");
        venue.place(session, &place(OrderSide::Buy, OrderKind::Limit, Some("1"), "100", "a"), 0).unwrap();
        assert_eq!(sequences(&venue, "desk", 0), [1]);
    }
}
