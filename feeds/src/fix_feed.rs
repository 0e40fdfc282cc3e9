//! Venue B's feed handler core, without I/O: FIX 4.4 bytes in, price-level books out through
//! a [`BookSink`], the bytes to send back (Logon, MarketDataRequest, heartbeats, resend
//! requests) collected for the caller.
//!
//! Each connection is a fresh session (ResetSeqNumFlag=Y): once logged on, the feed
//! subscribes to its symbols and each book is rebuilt from its snapshot (`W`), then kept by
//! incremental refreshes (`X`) whose level sizes are absolute. A book is published stale while
//! it is not known to be correct: before its snapshot, while the session has a sequence gap
//! open (the session asked for a resend and drops what comes beyond the gap until the replay
//! fills it), and after a refresh that does not fit it (a change to a level it lacks, say),
//! which also asks for a fresh snapshot. A message that is malformed or invalid is counted and
//! lost; since it may have been a refresh, every book goes stale and is subscribed afresh.
//! Possible duplicates already applied are skipped by the session.

use std::collections::HashMap;

use protocols::fix::{self, Frame};
use protocols::fix44::{
    Body, MarketDataRequest, MdEntry, MdEntryType, MdUpdateAction, Message, SubscriptionRequestType,
};
use protocols::fix_session::{Incoming, Session, SessionConfig, SessionCounters, SessionError, State};
use protocols::DecodeError;

use crate::book::{Book, Side};
use crate::refusals::Refusals;
use crate::sink::{BookSink, Stamps};

/// How the feed logs on and what it subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixFeedConfig {
    /// Our CompID.
    pub sender_comp_id: String,
    /// The venue's CompID.
    pub target_comp_id: String,
    /// HeartBtInt (108) in seconds.
    pub heartbeat_interval_s: u32,
    /// The symbols and the instrument id each book is published under.
    pub symbols: Vec<(String, u32)>,
    /// Levels kept per side.
    pub depth: usize,
}

/// Counters of one feed, across its connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FixFeedCounters {
    /// Messages received.
    pub messages: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Sessions started (connections).
    pub sessions: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Incremental refreshes applied.
    pub refreshes: u64,
    /// Level entries applied.
    pub level_entries: u64,
    /// Trade entries seen.
    pub trades: u64,
    /// Sequence gaps opened.
    pub gaps: u64,
    /// Sequence gaps filled by a replay.
    pub recoveries: u64,
    /// Possible duplicates skipped.
    pub duplicates: u64,
    /// Messages that did not frame or decode, or that the session refused.
    pub invalid: u64,
    /// Refresh entries that did not fit the book (each made the book stale and resubscribed).
    pub book_errors: u64,
    /// Entries or rejects naming a symbol the feed does not keep or the venue does not trade.
    pub unknown_symbols: u64,
    /// Updates the sink could not take.
    pub publish_errors: u64,
}

/// Why the current session is over (the caller closes the connection and starts another).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FixFeedError {
    /// The byte stream cannot be cut into messages past this point.
    #[error("FIX feed: unframeable input: {0}")]
    Framing(DecodeError),
    /// The session ended.
    #[error("FIX feed: {0}")]
    Session(SessionError),
}

/// The books of one FIX market-data connection.
#[derive(Debug)]
pub struct FixFeed {
    config: FixFeedConfig,
    session: Session,
    symbols: HashMap<String, usize>,
    books: Vec<Book>,
    /// Whether each book has had its snapshot and every refresh since fitted it.
    known: Vec<bool>,
    /// Books changed by the message being applied.
    touched: Vec<bool>,
    gap_open: bool,
    requests: u64,
    output: Vec<u8>,
    counters: FixFeedCounters,
    refusals: Refusals,
    /// Session counters of connections that ended.
    past_sessions: SessionCounters,
}

impl FixFeed {
    /// A feed whose first session starts at once (its Logon is in the output).
    pub fn new(config: FixFeedConfig, now_ns: u64) -> Self {
        let n = config.symbols.len();
        let symbols = config.symbols.iter().enumerate().map(|(i, (s, _))| (s.clone(), i)).collect();
        let mut feed = Self {
            session: Session::initiate(session_config(&config), now_ns),
            books: vec![Book::new(config.depth); n],
            known: vec![false; n],
            touched: vec![false; n],
            symbols,
            config,
            gap_open: false,
            requests: 0,
            output: Vec::new(),
            counters: FixFeedCounters { sessions: 1, ..FixFeedCounters::default() },
            refusals: Refusals::default(),
            past_sessions: SessionCounters::default(),
        };
        feed.session.drain_output(&mut feed.output);
        feed
    }

    /// Starts a new session (after a disconnect): every book is stale until its new snapshot;
    /// unsent output of the old connection is discarded and the Logon is in the output.
    pub fn restart(&mut self, now_ns: u64, sink: &mut impl BookSink) {
        let old =
            std::mem::replace(&mut self.session, Session::initiate(session_config(&self.config), now_ns));
        self.past_sessions = self.past_sessions + old.counters();
        self.counters.sessions += 1;
        self.output.clear();
        self.session.drain_output(&mut self.output);
        self.gap_open = false;
        self.forget_books(now_ns, sink);
    }

    /// The connection was lost: every book is stale (and published so) until a new session's
    /// snapshots come, however long reconnecting takes.
    pub fn connection_lost(&mut self, now_ns: u64, sink: &mut impl BookSink) {
        self.forget_books(now_ns, sink);
    }

    /// The book of instrument `i` (meaningful only when not [stale](Self::is_stale)).
    pub fn book(&self, i: usize) -> &Book {
        &self.books[i]
    }

    /// Whether book `i` is not known to be correct.
    pub fn is_stale(&self, i: usize) -> bool {
        !self.known[i] || self.gap_open
    }

    /// The counters.
    pub fn counters(&self) -> FixFeedCounters {
        self.counters
    }

    /// The messages and entries refused, and the last one.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// The session counters, summed over every connection so far.
    pub fn session_counters(&self) -> SessionCounters {
        self.past_sessions + self.session.counters()
    }

    /// Where the current session is.
    pub fn session_state(&self) -> State {
        self.session.state()
    }

    /// Moves what must be sent to the end of `out`.
    pub fn drain_output(&mut self, out: &mut Vec<u8>) {
        self.session.drain_output(&mut self.output);
        out.extend_from_slice(&self.output);
        self.output.clear();
    }

    /// Logs out (before closing the connection on purpose).
    pub fn logout(&mut self, now_ns: u64) {
        self.session.logout(None, now_ns);
    }

    /// Takes received bytes: applies every whole message at their start and returns how many
    /// bytes that was (the caller keeps the rest for the next read).
    pub fn on_bytes(
        &mut self,
        bytes: &[u8],
        receive_ts_ns: u64,
        sink: &mut impl BookSink,
    ) -> Result<usize, FixFeedError> {
        let mut used = 0;
        loop {
            match fix::frame(&bytes[used..]) {
                Ok(Some((frame, n))) => {
                    used += n;
                    self.counters.bytes += n as u64;
                    self.on_frame(&frame, receive_ts_ns, sink)?;
                }
                Ok(None) => return Ok(used),
                Err(error) => {
                    self.counters.invalid += 1;
                    self.refusals.note(
                        None,
                        self.counters.messages + 1,
                        format_args!("unframeable input: {error}"),
                    );
                    return Err(FixFeedError::Framing(error));
                }
            }
        }
    }

    /// Takes one framed message.
    pub fn on_frame(
        &mut self,
        frame: &Frame<'_>,
        receive_ts_ns: u64,
        sink: &mut impl BookSink,
    ) -> Result<(), FixFeedError> {
        self.counters.messages += 1;
        let result = self.session.on_frame(frame, receive_ts_ns);
        self.follow_gap(receive_ts_ns, sink);
        match result {
            Ok(Incoming::App(message)) => self.on_app(&message, receive_ts_ns, sink),
            Ok(Incoming::LoggedOn) => self.subscribe(&[], receive_ts_ns),
            Ok(Incoming::Duplicate) => self.counters.duplicates += 1,
            Ok(Incoming::Admin | Incoming::Discarded | Incoming::LoggedOut) => {}
            Err(SessionError::Invalid { seq, error }) => {
                // It may have been a refresh: no book can be trusted until it is resent whole.
                self.counters.invalid += 1;
                self.refusals.note(
                    Some(seq),
                    self.counters.messages,
                    format_args!("invalid message: {error}"),
                );
                self.forget_books(receive_ts_ns, sink);
                self.subscribe(&[], receive_ts_ns);
            }
            Err(error) => return Err(FixFeedError::Session(error)),
        }
        Ok(())
    }

    /// Heartbeats, test requests, overdue resend requests; an error ends the session.
    pub fn on_timer(&mut self, now_ns: u64, sink: &mut impl BookSink) -> Result<(), FixFeedError> {
        let result = self.session.on_timer(now_ns);
        self.follow_gap(now_ns, sink);
        result.map_err(FixFeedError::Session)
    }

    /// Publishes every book's staleness when the session's gap opens or closes.
    fn follow_gap(&mut self, now_ns: u64, sink: &mut impl BookSink) {
        let open = self.session.is_gap_open();
        if open == self.gap_open {
            return;
        }
        self.gap_open = open;
        if open {
            self.counters.gaps += 1;
        } else {
            self.counters.recoveries += 1;
        }
        let stamps =
            Stamps { sequence: self.session.next_in() - 1, exchange_ts_ns: 0, receive_ts_ns: now_ns };
        for i in 0..self.books.len() {
            self.publish_book(i, &stamps, sink);
        }
    }

    /// Marks every book unknown and tells the sink.
    fn forget_books(&mut self, now_ns: u64, sink: &mut impl BookSink) {
        let stamps = Stamps { sequence: 0, exchange_ts_ns: 0, receive_ts_ns: now_ns };
        for i in 0..self.books.len() {
            self.known[i] = false;
            self.publish_book(i, &stamps, sink);
        }
    }

    fn publish_book(&mut self, i: usize, stamps: &Stamps, sink: &mut impl BookSink) {
        let stale = self.is_stale(i);
        if sink.book(self.config.symbols[i].1, &self.books[i], stale, stamps).is_err() {
            self.counters.publish_errors += 1;
        }
    }

    /// Asks for snapshots and refreshes of `symbols` (all of them if empty).
    fn subscribe(&mut self, symbols: &[&str], now_ns: u64) {
        self.requests += 1;
        let md_req_id = self.requests.to_string();
        let symbols = if symbols.is_empty() {
            self.config.symbols.iter().map(|(s, _)| s.as_str()).collect()
        } else {
            symbols.to_vec()
        };
        let request = Body::MarketDataRequest(MarketDataRequest {
            md_req_id: &md_req_id,
            subscription: SubscriptionRequestType::SnapshotAndUpdates,
            market_depth: 0,
            entry_types: vec![MdEntryType::Bid, MdEntryType::Offer, MdEntryType::Trade],
            symbols,
        });
        self.session.drain_output(&mut self.output);
        let bytes = self.session.send(&request, now_ns);
        self.output.extend_from_slice(bytes);
    }

    fn on_app(&mut self, message: &Message<'_>, receive_ts_ns: u64, sink: &mut impl BookSink) {
        let header = &message.header;
        let stamps = Stamps {
            sequence: header.msg_seq_num,
            exchange_ts_ns: header.orig_sending_time_ns.unwrap_or(header.sending_time_ns),
            receive_ts_ns,
        };
        match &message.body {
            Body::MarketDataSnapshot(snapshot) => {
                let Some(&i) = self.symbols.get(snapshot.symbol) else {
                    self.counters.unknown_symbols += 1;
                    let what = format_args!("snapshot of unknown symbol {:?}", snapshot.symbol);
                    self.refusals.note(Some(stamps.sequence), self.counters.messages, what);
                    return;
                };
                let book = &mut self.books[i];
                book.clear();
                for entry in snapshot.entries.iter() {
                    if let Some(side) = book_side(entry.entry_type) {
                        book.set(side, entry.price, entry.size);
                    }
                }
                self.known[i] = true;
                self.counters.snapshots += 1;
                self.publish_book(i, &stamps, sink);
            }
            Body::MarketDataIncremental(refresh) => {
                for entry in refresh.entries.iter() {
                    self.apply(&entry, &stamps, sink);
                }
                self.counters.refreshes += 1;
                for i in 0..self.books.len() {
                    if std::mem::take(&mut self.touched[i]) {
                        self.publish_book(i, &stamps, sink);
                    }
                }
            }
            Body::MarketDataRequestReject { text, .. } => {
                self.counters.unknown_symbols += 1;
                let what = format_args!("subscription refused: {}", text.unwrap_or("no reason"));
                self.refusals.note(Some(stamps.sequence), self.counters.messages, what);
            }
            _ => {}
        }
    }

    /// Applies one refresh entry; one that does not fit its book makes the book unknown and
    /// asks for its snapshot again.
    fn apply(&mut self, entry: &MdEntry<'_>, stamps: &Stamps, sink: &mut impl BookSink) {
        let Some(side) = book_side(entry.entry_type) else {
            self.counters.trades += 1;
            return;
        };
        let Some(&i) = self.symbols.get(entry.symbol) else {
            self.counters.unknown_symbols += 1;
            let what = format_args!("refresh entry of unknown symbol {:?}", entry.symbol);
            self.refusals.note(Some(stamps.sequence), self.counters.messages, what);
            return;
        };
        if !self.known[i] {
            return;
        }
        let had = self.books[i].side(side).quantity_at(entry.price) > 0;
        let fits = match entry.action {
            MdUpdateAction::New => !had && entry.size > 0,
            MdUpdateAction::Change => had && entry.size > 0,
            MdUpdateAction::Delete => had,
        };
        self.touched[i] = true;
        if !fits {
            self.counters.book_errors += 1;
            let what = format_args!(
                "{:?} of {} {:?} at {} does not fit the book; resubscribing",
                entry.action, entry.symbol, side, entry.price
            );
            self.refusals.note(Some(stamps.sequence), self.counters.messages, what);
            self.known[i] = false;
            let symbol = self.config.symbols[i].0.clone();
            self.subscribe(&[&symbol], stamps.receive_ts_ns);
            return;
        }
        let size = if entry.action == MdUpdateAction::Delete { 0 } else { entry.size };
        let change = self.books[i].set(side, entry.price, size);
        self.counters.level_entries += 1;
        if sink.level(self.config.symbols[i].1, &change, stamps).is_err() {
            self.counters.publish_errors += 1;
        }
    }
}

fn book_side(entry_type: MdEntryType) -> Option<Side> {
    match entry_type {
        MdEntryType::Bid => Some(Side::Bid),
        MdEntryType::Offer => Some(Side::Ask),
        MdEntryType::Trade => None,
    }
}

fn session_config(config: &FixFeedConfig) -> SessionConfig {
    SessionConfig {
        sender_comp_id: config.sender_comp_id.clone(),
        target_comp_id: config.target_comp_id.clone(),
        heartbeat_interval_s: config.heartbeat_interval_s,
        // The feed sends only MarketDataRequests; a few suffice for any resend.
        retention: 64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use protocols::fix::{decode, tag, Writer};
    use protocols::fix44::{MarketDataIncremental, MarketDataSnapshot, MdEntries};
    use protocols::fix_session::possible_duplicate;

    const T0: u64 = 1_795_559_799_000_000_000;
    const PX: i64 = 1_000_000_000;

    fn config() -> FixFeedConfig {
        FixFeedConfig {
            sender_comp_id: "FEED".into(),
            target_comp_id: "VENUEB".into(),
            heartbeat_interval_s: 1,
            symbols: vec![("AAPL".into(), 0), ("MSFT".into(), 1)],
            depth: 16,
        }
    }

    /// Counts what the feed publishes.
    #[derive(Debug, Default)]
    struct Counting {
        levels: u64,
        books: Vec<(u32, bool)>,
    }

    impl BookSink for Counting {
        fn level(&mut self, _: u32, _: &crate::book::LevelChange, _: &Stamps) -> shm_layout::ShmResult<()> {
            self.levels += 1;
            Ok(())
        }

        fn book(&mut self, instrument: u32, _: &Book, stale: bool, _: &Stamps) -> shm_layout::ShmResult<()> {
            self.books.push((instrument, stale));
            Ok(())
        }
    }

    fn texts(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).replace('\x01', "|")
    }

    /// The venue's side of the session.
    struct Venue(Session);

    impl Venue {
        fn send(&mut self, body: &Body<'_>) -> Vec<u8> {
            let mut out = Vec::new();
            self.0.drain_output(&mut out);
            out.extend_from_slice(self.0.send(body, T0));
            out
        }

        /// Takes what the feed sent; returns the venue's answers.
        fn take(&mut self, bytes: &[u8]) -> Vec<u8> {
            let mut rest = bytes;
            while let Some((frame, used)) = fix::frame(rest).unwrap() {
                self.0.on_frame(&frame, T0).unwrap();
                rest = &rest[used..];
            }
            let mut out = Vec::new();
            self.0.drain_output(&mut out);
            out
        }
    }

    fn output(feed: &mut FixFeed) -> Vec<u8> {
        let mut out = Vec::new();
        feed.drain_output(&mut out);
        out
    }

    /// A feed and a venue logged on to each other; the feed's subscription is consumed.
    fn logged_on(sink: &mut Counting) -> (FixFeed, Venue) {
        let mut feed = FixFeed::new(config(), T0);
        let venue_config = SessionConfig {
            sender_comp_id: "VENUEB".into(),
            target_comp_id: "FEED".into(),
            heartbeat_interval_s: 1,
            retention: 100,
        };
        let mut venue = Venue(Session::accept(venue_config, T0));
        let answer = venue.take(&output(&mut feed));
        feed.on_bytes(&answer, T0, sink).unwrap();
        let subscription = output(&mut feed);
        assert!(texts(&subscription).contains("|35=V|"), "{}", texts(&subscription));
        assert!(texts(&subscription).contains("|146=2|55=AAPL|55=MSFT|"), "{}", texts(&subscription));
        venue.take(&subscription);
        (feed, venue)
    }

    fn level(
        entry_type: MdEntryType,
        action: MdUpdateAction,
        symbol: &str,
        price: i64,
        size: i64,
    ) -> MdEntry<'_> {
        MdEntry { action, entry_type, symbol, price: price * PX, size: size * PX }
    }

    fn snapshot<'a>(symbol: &'a str, entries: &'a [MdEntry<'a>]) -> Body<'a> {
        Body::MarketDataSnapshot(MarketDataSnapshot {
            md_req_id: None,
            symbol,
            entries: MdEntries::from_slice(entries),
        })
    }

    fn refresh<'a>(entries: &'a [MdEntry<'a>]) -> Body<'a> {
        Body::MarketDataIncremental(MarketDataIncremental {
            md_req_id: None,
            entries: MdEntries::from_slice(entries),
        })
    }

    fn bids(feed: &FixFeed, i: usize) -> Vec<(i64, i64)> {
        feed.book(i).side(Side::Bid).iter().map(|l| (l.price / PX, l.quantity / PX)).collect()
    }

    /// Both books from snapshots: AAPL bid 100 x 5, MSFT bid 200 x 1.
    fn with_books(sink: &mut Counting) -> (FixFeed, Venue) {
        let (mut feed, mut venue) = logged_on(sink);
        assert!(feed.is_stale(0) && feed.is_stale(1), "no book before its snapshot");
        let aapl = [level(MdEntryType::Bid, MdUpdateAction::New, "AAPL", 100, 5)];
        let msft = [level(MdEntryType::Bid, MdUpdateAction::New, "MSFT", 200, 1)];
        let mut bytes = venue.send(&snapshot("AAPL", &aapl));
        bytes.extend(venue.send(&snapshot("MSFT", &msft)));
        assert_eq!(feed.on_bytes(&bytes, T0, sink).unwrap(), bytes.len());
        assert!(!feed.is_stale(0) && !feed.is_stale(1));
        (feed, venue)
    }

    #[test]
    fn books_come_from_snapshots_and_follow_absolute_refreshes() {
        let mut sink = Counting::default();
        let (mut feed, mut venue) = with_books(&mut sink);
        assert_eq!(bids(&feed, 0), [(100, 5)]);
        let entries = [
            level(MdEntryType::Bid, MdUpdateAction::Change, "AAPL", 100, 7),
            level(MdEntryType::Bid, MdUpdateAction::New, "AAPL", 101, 2),
            level(MdEntryType::Trade, MdUpdateAction::New, "AAPL", 101, 3),
            level(MdEntryType::Bid, MdUpdateAction::Delete, "MSFT", 200, 0),
        ];
        sink.books.clear();
        feed.on_bytes(&venue.send(&refresh(&entries)), T0, &mut sink).unwrap();
        assert_eq!(bids(&feed, 0), [(101, 2), (100, 7)]);
        assert!(bids(&feed, 1).is_empty());
        assert_eq!(sink.levels, 3, "a level event per level entry");
        assert_eq!(sink.books, [(0, false), (1, false)], "each touched book once, after the message");
        let c = feed.counters();
        assert_eq!((c.snapshots, c.refreshes, c.level_entries, c.trades), (2, 1, 3, 1));
    }

    #[test]
    fn a_lost_connection_makes_every_book_stale_at_once_not_at_the_next_logon() {
        let mut sink = Counting::default();
        let (mut feed, _venue) = with_books(&mut sink);
        sink.books.clear();
        feed.connection_lost(T0, &mut sink);
        assert!(feed.is_stale(0) && feed.is_stale(1));
        assert_eq!(sink.books, [(0, true), (1, true)], "published stale while the venue is unreachable");
    }

    #[test]
    fn a_gap_makes_every_book_stale_until_the_resend_fills_it() {
        let mut sink = Counting::default();
        let (mut feed, mut venue) = with_books(&mut sink);
        let first = [level(MdEntryType::Bid, MdUpdateAction::Change, "AAPL", 100, 6)];
        let second = [level(MdEntryType::Bid, MdUpdateAction::New, "AAPL", 99, 1)];
        let _lost = venue.send(&refresh(&first));
        sink.books.clear();
        feed.on_bytes(&venue.send(&refresh(&second)), T0, &mut sink).unwrap();
        assert!(feed.is_stale(0) && feed.is_stale(1));
        assert_eq!(sink.books, [(0, true), (1, true)], "the sink hears at once");
        assert_eq!(bids(&feed, 0), [(100, 5)], "nothing beyond the gap is applied");
        let request = output(&mut feed);
        assert!(texts(&request).contains("|35=2|"), "{}", texts(&request));
        let replay = venue.take(&request);
        feed.on_bytes(&replay, T0, &mut sink).unwrap();
        assert!(!feed.is_stale(0) && !feed.is_stale(1));
        assert_eq!(bids(&feed, 0), [(100, 6), (99, 1)]);
        let c = feed.counters();
        assert_eq!((c.gaps, c.recoveries, c.book_errors), (1, 1, 0));
    }

    #[test]
    fn a_possible_duplicate_is_applied_once() {
        let mut sink = Counting::default();
        let (mut feed, mut venue) = with_books(&mut sink);
        let entries = [level(MdEntryType::Bid, MdUpdateAction::New, "AAPL", 99, 1)];
        let bytes = venue.send(&refresh(&entries));
        let mut w = Writer::new();
        let again = possible_duplicate(&mut w, &bytes, T0).unwrap().to_vec();
        feed.on_bytes(&[bytes, again].concat(), T0, &mut sink).unwrap();
        let c = feed.counters();
        assert_eq!((c.duplicates, c.book_errors, c.level_entries), (1, 0, 1), "{c:?}");
        assert!(!feed.is_stale(0));
    }

    #[test]
    fn a_refresh_that_does_not_fit_its_book_makes_it_stale_and_resubscribes_it() {
        let mut sink = Counting::default();
        let (mut feed, mut venue) = with_books(&mut sink);
        let entries = [level(MdEntryType::Bid, MdUpdateAction::Change, "AAPL", 98, 4)];
        feed.on_bytes(&venue.send(&refresh(&entries)), T0, &mut sink).unwrap();
        assert!(feed.is_stale(0) && !feed.is_stale(1), "only the book it named");
        assert_eq!(feed.counters().book_errors, 1);
        let again = texts(&output(&mut feed));
        assert!(again.contains("|35=V|") && again.contains("|146=1|55=AAPL|"), "{again}");
        let fresh = [level(MdEntryType::Bid, MdUpdateAction::New, "AAPL", 98, 4)];
        feed.on_bytes(&venue.send(&snapshot("AAPL", &fresh)), T0, &mut sink).unwrap();
        assert!(!feed.is_stale(0));
        assert_eq!(bids(&feed, 0), [(98, 4)]);
    }

    /// `message` with the value of `tag` replaced (and MsgType `msg_type`), re-framed.
    fn altered(message: &[u8], msg_type: &str, tag: u32, value: &str) -> Vec<u8> {
        let (decoded, _) = decode(message).unwrap().unwrap();
        let mut w = Writer::new();
        w.begin(msg_type);
        for &(t, v) in &decoded.fields()[3..decoded.fields().len() - 1] {
            w.field(t, if t == tag { value.as_bytes() } else { v });
        }
        w.finish().to_vec()
    }

    #[test]
    fn malformed_input_is_counted_and_never_touches_a_book() {
        let mut sink = Counting::default();
        let (mut feed, mut venue) = with_books(&mut sink);
        let entries = [level(MdEntryType::Bid, MdUpdateAction::Change, "AAPL", 100, 9)];
        let good = venue.send(&refresh(&entries));

        for cut in 0..good.len() {
            assert_eq!(feed.on_bytes(&good[..cut], T0, &mut sink), Ok(0), "a truncated message waits");
        }
        let mut bad_sum = good.clone();
        let n = bad_sum.len();
        bad_sum[n - 2] = if bad_sum[n - 2] == b'0' { b'1' } else { b'0' };
        let err = feed.on_bytes(&bad_sum, T0, &mut sink).unwrap_err();
        assert!(matches!(err, FixFeedError::Framing(_)) && err.to_string().contains("CheckSum"), "{err}");
        let wrong_length = texts(&good).replacen("|9=", "|9=1", 1).replace('|', "\x01");
        assert!(feed.on_bytes(wrong_length.as_bytes(), T0, &mut sink).map_or(true, |used| used == 0));
        assert_eq!(bids(&feed, 0), [(100, 5)], "nothing applied");
        assert_eq!(feed.counters().invalid, 1);

        // Well framed but not valid: the session refuses them and the books go stale.
        let nonsense = altered(&good, "X", tag::MD_ENTRY_PX, "-100");
        feed.on_bytes(&nonsense, T0, &mut sink).unwrap();
        assert!(feed.is_stale(0) && feed.is_stale(1));
        assert_eq!(bids(&feed, 0), [(100, 5)], "the nonsense was not applied");
        let resubscribe = texts(&output(&mut feed));
        assert!(resubscribe.contains("|35=3|") && resubscribe.contains("|35=V|"), "{resubscribe}");
        let next = venue.send(&refresh(&entries));
        let unknown = altered(&next, "Z", 0, "");
        feed.on_bytes(&unknown, T0, &mut sink).unwrap();
        assert_eq!(feed.counters().invalid, 3);
        assert_eq!(feed.session_state(), State::Active, "the session goes on");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_never_touch_a_book(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut sink = Counting::default();
            let (mut feed, _venue) = with_books(&mut sink);
            let _ = feed.on_bytes(&bytes, T0, &mut sink);
            prop_assert_eq!(bids(&feed, 0), [(100, 5)]);
        }

        #[test]
        fn corrupted_refreshes_never_panic(at in 0usize..200, byte in any::<u8>()) {
            let mut sink = Counting::default();
            let (mut feed, mut venue) = with_books(&mut sink);
            let entries = [level(MdEntryType::Bid, MdUpdateAction::New, "AAPL", 101, 3)];
            let mut bytes = venue.send(&refresh(&entries));
            let at = at % bytes.len();
            bytes[at] = byte;
            let _ = feed.on_bytes(&bytes, T0, &mut sink);
            let book = bids(&feed, 0);
            prop_assert!(book == [(100, 5)] || book == [(101, 3), (100, 5)], "{:?}", book);
        }
    }
}
