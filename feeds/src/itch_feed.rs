//! Venue A's feed handler core: MoldUDP64 packets in, order-level books out, gaps recovered.
//!
//! Packets are applied in sequence order. A packet beyond the next expected sequence means
//! messages were lost: the handler asks for them with a MoldUDP64 re-request, keeps the early
//! packet aside, and marks every book stale until the gap is filled; then it applies what it
//! kept, in order. Packets already seen (duplicates, or retransmissions that arrive twice) are
//! skipped message by message. Malformed packets and messages are counted and dropped; a
//! message that does not fit the book (an unknown order, say) is counted and marks the stock's
//! book stale rather than corrupting it.

use std::collections::BTreeMap;

use protocols::itch::Message;
use protocols::moldudp64::{Packet, Request, Session};

use crate::instruments::Instruments;
use crate::orders::OrderBook;
use crate::refusals::Refusals;
use crate::sink::{BookSink, Stamps};

/// The largest gap believed: a packet further ahead of the books than this is nonsense (a
/// corrupt or foreign sequence number), refused rather than left to keep every book stale.
pub const MAX_GAP: u64 = 1 << 24;

/// Most messages one re-request asks for, so its answer fits a socket's receive buffer; a
/// longer gap is filled by successive requests.
pub const MAX_REREQUEST: u64 = 1024;

/// Counters of one feed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounters {
    /// Packets received (including heartbeats).
    pub packets: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Messages applied.
    pub messages: u64,
    /// Gaps detected.
    pub gaps: u64,
    /// Gaps filled.
    pub recoveries: u64,
    /// Messages skipped because they were already applied.
    pub duplicates: u64,
    /// Packets or messages that did not decode.
    pub decode_errors: u64,
    /// Messages the books refused.
    pub book_errors: u64,
    /// Updates the sink could not take.
    pub publish_errors: u64,
}

/// What the caller must do after a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing.
    None,
    /// Ask the re-request server for these messages.
    Rerequest(Request),
}

/// The books of one ITCH session and the sequence they are at.
#[derive(Debug)]
pub struct ItchFeed {
    session: Session,
    next_sequence: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    max_pending: usize,
    /// Books by stock locate: locates are small and dense, and a vector visits them in order,
    /// so a replay publishes in the order the live run did.
    books: Vec<Option<OrderBook>>,
    /// Instrument ids by stock locate, learnt from the stock directory; `None` publishes each
    /// book under its locate code.
    instruments: Option<(Instruments, Vec<Option<u32>>)>,
    stale: bool,
    /// The sequence the open gap ends before: the highest sequence seen beyond the books.
    gap_end: u64,
    counters: FeedCounters,
    refusals: Refusals,
    orders_per_book: usize,
    depth: usize,
    midnight_ns: u64,
}

impl ItchFeed {
    /// A feed of `session` expecting sequence 1 first, keeping at most `max_pending` early
    /// packets while a gap is open.
    pub fn new(session: Session, max_pending: usize, orders_per_book: usize, depth: usize) -> Self {
        Self {
            session,
            next_sequence: 1,
            pending: BTreeMap::new(),
            max_pending,
            books: Vec::new(),
            instruments: None,
            stale: false,
            gap_end: 0,
            refusals: Refusals::default(),
            counters: FeedCounters::default(),
            orders_per_book,
            depth,
            midnight_ns: 0,
        }
    }

    /// Sets the Unix time (ns) of the session's midnight, which ITCH timestamps count from, so
    /// published exchange timestamps are Unix times.
    pub fn with_midnight(mut self, midnight_ns: u64) -> Self {
        self.midnight_ns = midnight_ns;
        self
    }

    /// Publishes each stock's book under its id in `instruments`, learnt from the session's
    /// stock directory; stocks not in the table are kept but not published.
    pub fn with_instruments(mut self, instruments: Instruments) -> Self {
        self.instruments = Some((instruments, Vec::new()));
        self
    }

    /// The instrument id the book of `locate` is published under.
    fn instrument(&self, locate: usize) -> Option<u32> {
        match &self.instruments {
            None => Some(locate as u32),
            Some((_, by_locate)) => by_locate.get(locate).copied().flatten(),
        }
    }

    /// Learns a stock directory entry's instrument id.
    fn learn(&mut self, message: &Message) {
        let (Some((instruments, by_locate)), Message::StockDirectory { header, directory }) =
            (&mut self.instruments, message)
        else {
            return;
        };
        let locate = usize::from(header.stock_locate);
        if by_locate.len() <= locate {
            by_locate.resize(locate + 1, None);
        }
        by_locate[locate] = instruments.id(&String::from_utf8_lossy(&directory.stock));
    }

    /// The book of the stock with `locate`, if it has had any message.
    pub fn book(&self, locate: u16) -> Option<&OrderBook> {
        self.books.get(usize::from(locate))?.as_ref()
    }

    /// Whether a gap is open, so no book is known to be correct.
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// The request for what the open gap still lacks, if a gap is open: to ask again when an
    /// earlier request's answer never came.
    pub fn open_gap(&self) -> Option<Request> {
        self.stale.then(|| self.missing())
    }

    /// The request for the messages missing before the first packet kept (or, if none is
    /// kept, up to the end of the gap).
    fn missing(&self) -> Request {
        self.gap_request(self.pending.keys().next().copied().unwrap_or(self.gap_end))
    }

    /// The next sequence number the feed needs.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The counters.
    pub fn counters(&self) -> FeedCounters {
        self.counters
    }

    /// The packets and messages refused, and the last one.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Takes one packet (from the live feed or a retransmission), received at `receive_ts_ns`
    /// (Unix ns); every change it makes to a book goes to `sink`.
    pub fn on_packet(&mut self, bytes: &[u8], receive_ts_ns: u64, sink: &mut impl BookSink) -> Action {
        self.counters.packets += 1;
        self.counters.bytes += bytes.len() as u64;
        let packet = match Packet::decode(bytes) {
            Ok(packet) if packet.header.session == self.session => packet,
            Ok(packet) => {
                self.counters.decode_errors += 1;
                let session = String::from_utf8_lossy(&packet.header.session);
                let what = format!("a packet of another session, {session:?}");
                self.refusals.note(Some(packet.header.sequence), self.counters.packets, what);
                return Action::None;
            }
            Err(error) => {
                self.counters.decode_errors += 1;
                self.refusals.note(None, self.counters.packets, format_args!("malformed packet: {error}"));
                return Action::None;
            }
        };
        let header = packet.header;
        if header.sequence - self.next_sequence.min(header.sequence) > MAX_GAP {
            self.counters.decode_errors += 1;
            let what = format_args!(
                "sequence {} is more than {MAX_GAP} beyond the books ({})",
                header.sequence, self.next_sequence
            );
            self.refusals.note(Some(header.sequence), self.counters.packets, what);
            return Action::None;
        }
        if header.sequence > self.next_sequence {
            // The gap ends where this packet's messages end: if it cannot be kept, they too
            // are asked for.
            self.gap_end = self.gap_end.max(header.next_sequence());
            // Messages between what we have and this packet were lost: keep it for later.
            if !header.is_heartbeat() && self.pending.len() < self.max_pending {
                self.pending.entry(header.sequence).or_insert_with(|| bytes.to_vec());
            }
            if !self.stale {
                self.counters.gaps += 1;
                self.stale = true;
                self.flag_books(receive_ts_ns, sink);
            }
            return Action::Rerequest(self.missing());
        }
        self.apply(&packet, receive_ts_ns, sink);
        self.drain_pending(receive_ts_ns, sink);
        if self.stale && self.pending.is_empty() && self.next_sequence >= self.gap_end {
            self.stale = false;
            self.counters.recoveries += 1;
            self.flag_books(receive_ts_ns, sink);
        }
        if self.stale {
            Action::Rerequest(self.missing())
        } else {
            Action::None
        }
    }

    fn gap_request(&self, up_to: u64) -> Request {
        let count = (up_to - self.next_sequence).min(MAX_REREQUEST) as u16;
        Request { session: self.session, sequence: self.next_sequence, count }
    }

    /// Tells the sink every book's staleness (after a gap opens or closes).
    fn flag_books(&mut self, receive_ts_ns: u64, sink: &mut impl BookSink) {
        let stamps = Stamps { sequence: self.next_sequence - 1, exchange_ts_ns: 0, receive_ts_ns };
        let books = self.books.iter().enumerate().filter_map(|(locate, book)| Some((locate, book.as_ref()?)));
        for (locate, book) in books {
            let Some(instrument) = self.instrument(locate) else { continue };
            if sink.book(instrument, book.book(), self.stale, &stamps).is_err() {
                self.counters.publish_errors += 1;
            }
        }
    }

    fn apply(&mut self, packet: &Packet<'_>, receive_ts_ns: u64, sink: &mut impl BookSink) {
        for (sequence, bytes) in packet.messages() {
            if sequence < self.next_sequence {
                self.counters.duplicates += 1;
                continue;
            }
            self.next_sequence = sequence + 1;
            match Message::decode(bytes) {
                Ok(message) => {
                    let stamps = Stamps {
                        sequence,
                        exchange_ts_ns: self.midnight_ns + message.header().timestamp_ns,
                        receive_ts_ns,
                    };
                    self.apply_message(&message, &stamps, sink);
                }
                Err(error) => {
                    self.counters.decode_errors += 1;
                    self.refusals.note(
                        Some(sequence),
                        self.counters.packets,
                        format_args!("malformed message: {error}"),
                    );
                }
            }
        }
        self.next_sequence = self.next_sequence.max(packet.header.next_sequence());
    }

    fn apply_message(&mut self, message: &Message, stamps: &Stamps, sink: &mut impl BookSink) {
        self.learn(message);
        let (orders, depth, stale) = (self.orders_per_book, self.depth, self.stale);
        let index = usize::from(message.header().stock_locate);
        let instrument = self.instrument(index);
        if self.books.len() <= index {
            self.books.resize_with(index + 1, || None);
        }
        let book = self.books[index].get_or_insert_with(|| OrderBook::new(orders, depth));
        let changes = match book.apply(message) {
            Ok(changes) => changes,
            Err(error) => {
                self.counters.book_errors += 1;
                let what = format_args!("stock locate {index}: {error}");
                self.refusals.note(Some(stamps.sequence), self.counters.packets, what);
                return;
            }
        };
        self.counters.messages += 1;
        let Some(instrument) = instrument else { return };
        let mut published = changes.iter().try_for_each(|change| sink.level(instrument, change, stamps));
        if changes.iter().next().is_some() {
            published = published.and_then(|()| sink.book(instrument, book.book(), stale, stamps));
        }
        if published.is_err() {
            self.counters.publish_errors += 1;
        }
    }

    fn drain_pending(&mut self, receive_ts_ns: u64, sink: &mut impl BookSink) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > self.next_sequence {
                break;
            }
            let bytes = entry.remove();
            let packet = Packet::decode(&bytes).expect("only decoded packets are kept");
            self.apply(&packet, receive_ts_ns, sink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::itch::{stock, Header, Side, MAX_MESSAGE_LEN};
    use protocols::moldudp64::{session, PacketBuilder};

    fn add(order_ref: u64) -> Vec<u8> {
        let message = Message::AddOrder {
            header: Header { stock_locate: 3, ..Header::default() },
            order_ref,
            side: Side::Buy,
            shares: 10,
            stock: stock("TICK"),
            price: 10_000,
            attribution: None,
        };
        let mut wire = [0u8; MAX_MESSAGE_LEN];
        let len = message.encode(&mut wire);
        wire[..len].to_vec()
    }

    fn packet(session_name: &str, sequence: u64, messages: &[Vec<u8>]) -> Vec<u8> {
        let mut builder = PacketBuilder::new(session(session_name), sequence, 1472);
        for m in messages {
            assert!(builder.push(m));
        }
        builder.finish().to_vec()
    }

    #[test]
    fn a_gap_is_rerequested_and_the_early_packet_applied_once_it_is_filled() {
        let mut feed = ItchFeed::new(session("S"), 16, 16, 16);
        assert_eq!(feed.on_packet(&packet("S", 1, &[add(1)]), 0, &mut ()), Action::None);
        let gap = feed.on_packet(&packet("S", 3, &[add(3)]), 0, &mut ());
        assert_eq!(gap, Action::Rerequest(Request { session: session("S"), sequence: 2, count: 1 }));
        assert!(feed.is_stale());
        assert_eq!(feed.on_packet(&packet("S", 2, &[add(2)]), 0, &mut ()), Action::None);
        assert!(!feed.is_stale());
        assert_eq!(feed.book(3).unwrap().order_count(), 3);
        let c = feed.counters();
        assert_eq!((c.gaps, c.recoveries, c.messages), (1, 1, 3));
    }

    /// Collects the instrument ids of published books.
    #[derive(Default)]
    struct Instruments(Vec<u32>);

    impl BookSink for Instruments {
        fn level(&mut self, _: u32, _: &crate::book::LevelChange, _: &Stamps) -> shm_layout::ShmResult<()> {
            Ok(())
        }

        fn book(
            &mut self,
            instrument: u32,
            _: &crate::book::Book,
            _: bool,
            _: &Stamps,
        ) -> shm_layout::ShmResult<()> {
            self.0.push(instrument);
            Ok(())
        }
    }

    fn directory(locate: u16, symbol: &str) -> Vec<u8> {
        let message = Message::StockDirectory {
            header: Header { stock_locate: locate, ..Header::default() },
            directory: protocols::itch::StockDirectory::common_stock(stock(symbol), 100),
        };
        let mut wire = [0u8; MAX_MESSAGE_LEN];
        let len = message.encode(&mut wire);
        wire[..len].to_vec()
    }

    #[test]
    fn books_are_published_under_the_firms_instrument_id_learnt_from_the_stock_directory() {
        let table = crate::instruments::Instruments::new([("TICK", 42)]).unwrap();
        let mut feed = ItchFeed::new(session("S"), 16, 16, 16).with_instruments(table);
        let mut published = Instruments::default();
        feed.on_packet(&packet("S", 1, &[directory(3, "TICK"), add(1)]), 0, &mut published);
        assert_eq!(published.0, [42]);

        let unlisted = crate::instruments::Instruments::new([("OTHER", 7)]).unwrap();
        let mut feed = ItchFeed::new(session("S"), 16, 16, 16).with_instruments(unlisted);
        let mut published = Instruments::default();
        feed.on_packet(&packet("S", 1, &[directory(3, "TICK"), add(1)]), 0, &mut published);
        assert!(published.0.is_empty(), "a stock outside the table is not published");
        assert_eq!(feed.book(3).unwrap().order_count(), 1, "but its book is kept");
    }

    #[test]
    fn a_gap_longer_than_one_request_stays_open_until_every_message_is_in() {
        let mut feed = ItchFeed::new(session("S"), 16, 4096, 16);
        let total = MAX_REREQUEST + 10;
        // Only a heartbeat says how far the venue got: nothing early is kept.
        let heartbeat = protocols::moldudp64::header_only(session("S"), total + 1, 0);
        let Action::Rerequest(first) = feed.on_packet(&heartbeat, 0, &mut ()) else { panic!("gap noticed") };
        assert_eq!((first.sequence, u64::from(first.count)), (1, MAX_REREQUEST));
        let answer: Vec<Vec<u8>> = (1..=MAX_REREQUEST).map(add).collect();
        for (i, chunk) in answer.chunks(30).enumerate() {
            feed.on_packet(&packet("S", 1 + i as u64 * 30, chunk), 0, &mut ());
        }
        assert!(feed.is_stale(), "ten messages are still missing");
        let rest = feed.open_gap().expect("the gap is open");
        assert_eq!((rest.sequence, rest.count), (MAX_REREQUEST + 1, 10));
        let tail: Vec<Vec<u8>> = (MAX_REREQUEST + 1..=total).map(add).collect();
        assert_eq!(feed.on_packet(&packet("S", MAX_REREQUEST + 1, &tail), 0, &mut ()), Action::None);
        assert!(!feed.is_stale() && feed.open_gap().is_none());
        assert_eq!(feed.book(3).unwrap().order_count() as u64, total);
    }

    #[test]
    fn a_sequence_absurdly_far_ahead_is_refused_and_leaves_the_books_good() {
        let mut feed = ItchFeed::new(session("S"), 16, 16, 16);
        feed.on_packet(&packet("S", 1, &[add(1)]), 0, &mut ());
        assert_eq!(feed.on_packet(&packet("S", 2 + MAX_GAP + 1, &[add(2)]), 0, &mut ()), Action::None);
        assert!(!feed.is_stale(), "nonsense does not open a gap");
        assert_eq!(feed.counters().decode_errors, 1);
        assert!(feed.refusals().last().unwrap().what.contains("beyond the books"));
        assert_eq!(feed.on_packet(&packet("S", 2, &[add(2)]), 0, &mut ()), Action::None);
        assert_eq!(feed.book(3).unwrap().order_count(), 2);
    }

    #[test]
    fn a_gap_whose_early_packet_was_not_kept_asks_for_that_packet_too() {
        let mut feed = ItchFeed::new(session("S"), 0, 16, 16); // keeps nothing early
        feed.on_packet(&packet("S", 1, &[add(1)]), 0, &mut ());
        let Action::Rerequest(request) = feed.on_packet(&packet("S", 3, &[add(3), add(4)]), 0, &mut ())
        else {
            panic!("the gap is noticed");
        };
        assert_eq!(
            (request.sequence, request.count),
            (2, 3),
            "messages 2 to 4: the gap and the packet not kept"
        );
        feed.on_packet(&packet("S", 2, &[add(2), add(3), add(4)]), 0, &mut ());
        assert!(!feed.is_stale());
        assert_eq!(feed.counters().gaps, 1, "one gap, not a second one for the packet not kept");
    }

    #[test]
    fn malformed_and_foreign_packets_are_counted_and_change_nothing() {
        let mut feed = ItchFeed::new(session("S"), 16, 16, 16);
        let mut bad = packet("S", 1, &[add(1)]);
        bad.truncate(bad.len() - 1);
        assert_eq!(feed.on_packet(&bad, 0, &mut ()), Action::None);
        assert_eq!(feed.on_packet(&packet("OTHER", 1, &[add(1)]), 0, &mut ()), Action::None);
        let mut unknown = add(2);
        unknown[0] = b'Z';
        feed.on_packet(&packet("S", 1, &[unknown, add(3)]), 0, &mut ());
        let c = feed.counters();
        assert_eq!((c.decode_errors, c.messages, feed.next_sequence()), (3, 1, 3));
        assert_eq!(feed.refusals().count(), 3, "each refusal is kept for the log");
        let last = feed.refusals().last().unwrap();
        assert_eq!((last.sequence, last.received), (Some(1), 3));
        assert!(last.what.starts_with("malformed message"), "{last}");
        assert_eq!(feed.book(3).unwrap().order_count(), 1);
    }
}
