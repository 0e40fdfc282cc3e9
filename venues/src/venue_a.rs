//! Venue A without its sockets: the order flow through one matching engine per symbol, its
//! market data as ITCH 5.0 in sequenced MoldUDP64 packets, and the re-request server's store.
//! The venue process puts these packets on UDP; tests take them straight.

use protocols::itch::{self, Header, Message, StockDirectory, MAX_MESSAGE_LEN};
use protocols::moldudp64::{Request, Session};

use crate::flow::{Action, MarketSpec, SymbolSpec, VenueFlow, VenueSpec};
use crate::itch::ItchTranslator;
use crate::matching::{Engine, Event};
use crate::mold::MoldPublisher;

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
            market,
        }
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

    /// Runs `actions` steps of the order flow; returns the packets of the market data they made.
    pub fn step(&mut self, actions: usize) -> Vec<Vec<u8>> {
        self.messages.clear();
        for _ in 0..actions {
            let (now_ns, action) = self.flow.next_action();
            self.act(now_ns, action);
        }
        self.publish()
    }

    /// Runs the order flow up to `until_ns` nanoseconds into the session (a live venue passes
    /// the time since it opened); returns the packets of the market data it made. Each
    /// action's messages go out in their own packet, as a venue sends what happens when it
    /// happens, however late the caller asks.
    pub fn step_until(&mut self, until_ns: u64) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        while let Some((now_ns, action)) = self.flow.next_action_until(until_ns) {
            self.messages.clear();
            self.act(now_ns, action);
            packets.extend(self.publish());
        }
        packets
    }

    fn act(&mut self, now_ns: u64, action: Action) {
        self.events.clear();
        let symbol = match action {
            Action::Submit { symbol, order } => {
                self.engines[symbol].submit(order, &mut self.events);
                symbol
            }
            Action::Cancel { symbol, id } => {
                self.engines[symbol].cancel(id, &mut self.events);
                symbol
            }
        };
        self.flow.observe(symbol, &self.events);
        self.translators[symbol].translate(&self.events, OPEN_NS + now_ns, &mut self.messages);
    }

    fn publish(&mut self) -> Vec<Vec<u8>> {
        let mut wire = [0u8; MAX_MESSAGE_LEN];
        let encoded: Vec<Vec<u8>> = self
            .messages
            .iter()
            .map(|m| {
                let len = m.encode(&mut wire);
                wire[..len].to_vec()
            })
            .collect();
        self.messages.clear();
        self.publisher.publish(encoded.iter().map(Vec::as_slice))
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
