//! Venue A without its sockets: the order flow through one matching engine per symbol, its
//! market data as ITCH 5.0 in sequenced MoldUDP64 packets, and the re-request server's store.
//! The venue process puts these packets on UDP; tests take them straight.
//!
//! Orders from outside clients (OUCH, see [`crate::ouch_orders`]) trade in the same engines.
//! Their engine ids have the top bit set ([`crate::matching::EXTERNAL_ID_BIT`]), so they never
//! collide with the flow's ids, which count up from 1; their book changes are published as ITCH
//! like the flow's, and the flow's trades against them are kept for the order-entry side to report.

use protocols::itch::{self, Header, Message, StockDirectory, MAX_MESSAGE_LEN};
use protocols::moldudp64::{Request, Session};

use crate::flow::{Action, MarketSpec, SymbolSpec, VenueFlow, VenueSpec};
use crate::itch::ItchTranslator;
use crate::matching::{is_external, Engine, Event, NewOrder, OrderId, EXTERNAL_ID_BIT};
use crate::mold::MoldPublisher;

/// A request from an outside client, in engine terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalRequest {
    /// A new order; its id comes from [`ItchVenue::new_external_id`].
    Submit(NewOrder),
    /// Cancel a resting order.
    Cancel {
        /// Its id.
        id: OrderId,
    },
    /// Replace a resting order (see [`Engine::replace`]); `new_id == id` keeps its priority
    /// when the price is unchanged and the quantity does not grow.
    Replace {
        /// The order's id.
        id: OrderId,
        /// The replacement's id.
        new_id: OrderId,
        /// The new price.
        price: i64,
        /// The new quantity.
        quantity: u64,
    },
}

/// An external request the venue cannot carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExternalError {
    /// No symbol has this index.
    #[error("venue A: no symbol {symbol} (the venue trades {symbols})")]
    UnknownSymbol {
        /// The index asked for.
        symbol: usize,
        /// How many symbols there are.
        symbols: usize,
    },
    /// An id without the external bit would collide with the flow's orders.
    #[error("venue A: order id {0:#x} is not an external id (top bit clear)")]
    NotExternal(OrderId),
}

/// Nanoseconds since midnight at which the session opens (09:30).
pub const OPEN_NS: u64 = 34_200_000_000_000;

/// A simulated ITCH venue.
#[derive(Debug)]
pub struct ItchVenue {
    market: MarketSpec,
    flow: VenueFlow,
    engines: Vec<Engine>,
    translators: Vec<ItchTranslator>,
    publisher: MoldPublisher,
    events: Vec<Event>,
    messages: Vec<Message>,
    next_external: u64,
    /// The flow's trades against external orders, for the order-entry side.
    external_events: Vec<(usize, Event)>,
}

impl ItchVenue {
    /// A venue trading `market`'s symbols (stock locate = index + 1) with `venue`'s flow.
    pub fn new(market: MarketSpec, venue: VenueSpec, session: Session) -> Self {
        let translators = market
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| ItchTranslator::new(i as u16 + 1, itch::stock(&s.name)))
            .collect();
        Self {
            flow: VenueFlow::new(&market, venue),
            engines: vec![Engine::new(); market.symbols.len()],
            translators,
            publisher: MoldPublisher::new(session),
            events: Vec::new(),
            messages: Vec::new(),
            next_external: 0,
            external_events: Vec::new(),
            market,
        }
    }

    /// The venue's time: nanoseconds since the open, as far as the flow has run.
    pub fn now_ns(&self) -> u64 {
        self.flow.now_ns()
    }

    /// The market the venue trades.
    pub fn market(&self) -> &MarketSpec {
        &self.market
    }

    /// The index of the symbol whose ITCH stock is `stock`.
    pub fn symbol_of(&self, stock: &itch::Stock) -> Option<usize> {
        self.market.symbols.iter().position(|s| itch::stock(&s.name) == *stock)
    }

    /// Number of symbols.
    pub fn symbol_count(&self) -> usize {
        self.engines.len()
    }

    /// The symbols, in locate order (locate = index + 1).
    pub fn symbols(&self) -> &[SymbolSpec] {
        &self.market.symbols
    }

    /// The matching engine of `symbol`.
    pub fn engine(&self, symbol: usize) -> &Engine {
        &self.engines[symbol]
    }

    /// The sequence number the next message gets.
    pub fn next_sequence(&self) -> u64 {
        self.publisher.next_sequence()
    }

    /// The session's opening packets: the start-of-messages event and a stock directory entry
    /// per symbol.
    pub fn open(&mut self) -> Vec<Vec<u8>> {
        let header = |locate: u16| Header { stock_locate: locate, tracking_number: 0, timestamp_ns: OPEN_NS };
        let mut messages = vec![Message::SystemEvent { header: header(0), event_code: b'O' }];
        for (i, symbol) in self.market.symbols.iter().enumerate() {
            messages.push(Message::StockDirectory {
                header: header(i as u16 + 1),
                directory: StockDirectory::common_stock(itch::stock(&symbol.name), symbol.lot as u32),
            });
        }
        self.messages = messages;
        self.publish()
    }

    /// Runs `actions` steps of the order flow; returns the packets of the market data they made
    /// (and of any external requests since the last packets).
    pub fn step(&mut self, actions: usize) -> Vec<Vec<u8>> {
        for _ in 0..actions {
            let (now_ns, action) = self.flow.next_action();
            self.apply(now_ns, action);
        }
        self.publish()
    }

    /// Runs the flow's actions due by `until_ns` (venue time: nanoseconds since the open), as a
    /// live venue paced by the wall clock does; returns the packets of the market data they
    /// made (and of any external requests since the last packets). Each action's messages go
    /// out in their own packet, as a venue sends what happens when it happens, however late
    /// the caller asks.
    pub fn step_until(&mut self, until_ns: u64) -> Vec<Vec<u8>> {
        let mut packets = self.publish();
        while let Some((now_ns, action)) = self.flow.next_action_until(until_ns) {
            self.apply(now_ns, action);
            packets.extend(self.publish());
        }
        packets
    }

    fn apply(&mut self, now_ns: u64, action: Action) {
        let symbol = self.flow.apply(action, &mut self.engines, &mut self.events);
        self.translators[symbol].translate(&self.events, OPEN_NS + now_ns, &mut self.messages);
        let against_external = |e: &&Event| matches!(e, Event::Trade { maker, .. } if is_external(*maker));
        self.external_events.extend(self.events.iter().filter(against_external).map(|&e| (symbol, e)));
    }

    /// A fresh engine id for an external order: `EXTERNAL_ID_BIT | n`, n counting from 1.
    pub fn new_external_id(&mut self) -> OrderId {
        self.next_external += 1;
        EXTERNAL_ID_BIT | self.next_external
    }

    /// Carries out an external request on `symbol` at venue time `now_ns`; returns what the
    /// engine did. Its market data is published with the next packets
    /// ([`flush`](Self::flush), [`step`](Self::step)).
    pub fn external(
        &mut self,
        symbol: usize,
        request: ExternalRequest,
        now_ns: u64,
    ) -> Result<&[Event], ExternalError> {
        if symbol >= self.engines.len() {
            return Err(ExternalError::UnknownSymbol { symbol, symbols: self.engines.len() });
        }
        let ids = match request {
            ExternalRequest::Submit(order) => [order.id, order.id],
            ExternalRequest::Cancel { id } => [id, id],
            ExternalRequest::Replace { id, new_id, .. } => [id, new_id],
        };
        if let Some(&id) = ids.iter().find(|&&id| !is_external(id)) {
            return Err(ExternalError::NotExternal(id));
        }
        self.events.clear();
        let engine = &mut self.engines[symbol];
        match request {
            ExternalRequest::Submit(order) => engine.submit(order, &mut self.events),
            ExternalRequest::Cancel { id } => engine.cancel(id, &mut self.events),
            ExternalRequest::Replace { id, new_id, price, quantity } => {
                engine.replace(id, new_id, price, quantity, &mut self.events)
            }
        }
        // The flow learns of its orders the external one took out.
        self.flow.observe(symbol, &self.events);
        self.translators[symbol].translate(&self.events, OPEN_NS + now_ns, &mut self.messages);
        Ok(&self.events)
    }

    /// Moves the flow's trades against external orders since the last call into `out`.
    pub fn take_external_events(&mut self, out: &mut Vec<(usize, Event)>) {
        out.append(&mut self.external_events);
    }

    /// The packets of the market data made since the last packets (by external requests).
    pub fn flush(&mut self) -> Vec<Vec<u8>> {
        self.publish()
    }

    /// Encodes the pending messages straight into the store and packs them.
    fn publish(&mut self) -> Vec<Vec<u8>> {
        let first = self.publisher.next_sequence();
        let mut wire = [0u8; MAX_MESSAGE_LEN];
        for message in self.messages.drain(..) {
            let len = message.encode(&mut wire);
            self.publisher.append(&wire[..len]);
        }
        self.publisher.packets_from(first)
    }

    /// The re-request server: packets of the messages `request` asks for.
    pub fn serve(&self, request: &Request) -> Vec<Vec<u8>> {
        self.publisher.serve(request)
    }

    /// A heartbeat carrying the next sequence number.
    pub fn heartbeat(&self) -> [u8; 20] {
        self.publisher.heartbeat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::Side;
    use feeds::book::Side as BookSide;
    use feeds::itch_feed::{Action, ItchFeed};
    use protocols::moldudp64::session;

    fn venue() -> ItchVenue {
        let market =
            MarketSpec::equities(17, &[("AAPL", 1_900_000), ("MSFT", 4_200_000), ("SPY", 5_600_000)]);
        ItchVenue::new(market, VenueSpec::new(1, 50_000.0), session("TICKRAIL01"))
    }

    #[test]
    fn a_feed_that_gets_every_packet_holds_every_book_of_the_venue() {
        let mut venue = venue();
        let mut feed = ItchFeed::new(session("TICKRAIL01"), 64, 4096, 4096);
        let mut packets = venue.open();
        packets.extend(venue.step(30_000));
        for packet in &packets {
            assert_eq!(feed.on_packet(packet, 0, &mut ()), Action::None);
        }
        assert_eq!(feed.next_sequence(), venue.next_sequence());
        let counters = feed.counters();
        assert_eq!((counters.decode_errors, counters.book_errors, counters.gaps), (0, 0, 0));
        for symbol in 0..3 {
            let book = feed.book(symbol as u16 + 1).expect("every symbol traded");
            for (side, book_side) in [(Side::Buy, BookSide::Bid), (Side::Sell, BookSide::Ask)] {
                let levels: Vec<(i64, u64)> = book
                    .book()
                    .side(book_side)
                    .iter()
                    .map(|l| (l.price / 100_000, (l.quantity / 1_000_000_000) as u64))
                    .collect();
                assert_eq!(levels, venue.engine(symbol).levels(side), "symbol {symbol} {side:?}");
            }
        }
    }

    #[test]
    fn the_same_seed_publishes_the_same_bytes() {
        let run = || {
            let mut v = venue();
            let mut packets = v.open();
            packets.extend(v.step(2_000));
            packets
        };
        assert_eq!(run(), run());
    }
}
