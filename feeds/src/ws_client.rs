//! Venue C's feed transport: a WebSocket connection to the venue's market data, one
//! [`DepthFeed`] per symbol driven by what arrives, snapshots fetched when a feed asks.
//!
//! [`DepthClient::run`] connects, subscribes to every symbol's depth stream, and reads frames
//! into the connection's reusable buffer; each depth message is decoded without allocating
//! ([`DepthDecoder`]) and handed to its symbol's feed with its receive time. A feed that finds a
//! gap (or has no book yet) makes the client request that symbol's snapshot on the same
//! connection, as Binance's procedure has it: the stream's updates are kept meanwhile and
//! replayed onto the snapshot. Pings are answered by the connection. When the connection is lost
//! every book turns stale, and the client reconnects after a pause and resyncs. Input that is
//! neither a depth message nor an answer is counted as malformed and skipped.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use protocols::depth_json::DepthDecoder;
use protocols::websocket::CloseCode;
use protocols::ws_api::{ApiError, Call, Request, Response};
use protocols::ws_stream::{WsError, WsLimits, WsMessage, WsStream};
use shm_layout::realtime_ns;

use crate::depth_feed::{DepthAction, DepthCounters, DepthFeed};
use crate::metrics::{Counter, Totals};
use crate::reconnect::pause;
use crate::recording::Frame;
use crate::refusals::Refusals;
use crate::sink::BookSink;
use crate::taps::Taps;

/// Where to connect and what to follow.
#[derive(Debug, Clone)]
pub struct DepthClientConfig {
    /// The venue's market-data address.
    pub addr: SocketAddr,
    /// The symbols, and the instrument id each is published under.
    pub symbols: Vec<(String, u32)>,
    /// Levels kept per side.
    pub depth: usize,
    /// Updates kept per symbol while waiting for a snapshot.
    pub max_pending: usize,
    /// WebSocket limits.
    pub limits: WsLimits,
    /// The longest one read waits (so `stop` is seen at least this often).
    pub read_timeout: Duration,
    /// The longest connecting and the opening handshake may take.
    pub connect_timeout: Duration,
    /// The pause before reconnecting after the connection was lost.
    pub reconnect_delay: Duration,
    /// How long a book may hear nothing before its snapshot is fetched to check it: the last
    /// update before a quiet spell may have been lost, and no later one would show the gap.
    pub audit_after: Duration,
}

impl DepthClientConfig {
    /// Following `symbols` at `addr`: 1,024 levels, 4,096 pending updates, 50 ms reads, 1 s
    /// connects, 100 ms before reconnecting, a quiet book checked after 500 ms.
    pub fn new(addr: SocketAddr, symbols: Vec<(String, u32)>) -> Self {
        Self {
            addr,
            symbols,
            depth: 1024,
            max_pending: 4096,
            limits: WsLimits::default(),
            read_timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
            reconnect_delay: Duration::from_millis(100),
            audit_after: Duration::from_millis(500),
        }
    }
}

/// Counters of the transport (each feed keeps its own too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCounters {
    /// Connections established (handshake done).
    pub connects: u64,
    /// Connections lost or failed.
    pub disconnects: u64,
    /// Depth messages handled.
    pub messages: u64,
    /// Messages that were neither depth messages nor answers.
    pub malformed: u64,
    /// Depth messages for a symbol we do not follow.
    pub unknown_symbol: u64,
    /// Snapshots requested to recover a book.
    pub snapshot_requests: u64,
    /// Snapshots requested to check a quiet book.
    pub audits: u64,
    /// Bytes of text and binary messages received.
    pub bytes: u64,
}

/// Why the client gave up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The venue refused a request of ours (an unknown symbol, say): retrying cannot help.
    #[error("venue C refused request {id}: {} {}", .error.code, .error.msg)]
    Refused {
        /// The request's id.
        id: u64,
        /// The venue's reason.
        error: ApiError,
    },
}

/// How a connection ended.
enum Ended {
    /// `stop` was set.
    Stopped,
    /// The connection failed or was closed, and why.
    Lost(String),
    /// The venue refused a request.
    Refused(ClientError),
}

impl From<WsError> for Ended {
    fn from(error: WsError) -> Self {
        Self::Lost(error.to_string())
    }
}

impl From<io::Error> for Ended {
    fn from(error: io::Error) -> Self {
        Self::Lost(WsError::from(error).to_string())
    }
}

/// Busy reads between looks for quiet books (an idle read always looks).
const AUDIT_CHECK_EVERY: u32 = 64;

/// Venue C's market data client.
#[derive(Debug)]
pub struct DepthClient {
    config: DepthClientConfig,
    feeds: Vec<DepthFeed>,
    decoder: DepthDecoder,
    counters: ClientCounters,
    refusals: Refusals,
    /// When each book last heard from the venue (or was checked), Unix ns.
    heard_ns: Vec<u64>,
    /// Reads since quiet books were last looked for.
    reads_since_audit: u32,
    next_request: u64,
    last_error: Option<String>,
}

impl DepthClient {
    /// A client with stale books, not connected yet.
    pub fn new(config: DepthClientConfig) -> Self {
        let feeds = config
            .symbols
            .iter()
            .map(|(_, id)| DepthFeed::new(*id, config.depth, config.max_pending))
            .collect();
        Self {
            feeds,
            decoder: DepthDecoder::new(),
            counters: ClientCounters::default(),
            refusals: Refusals::default(),
            heard_ns: vec![0; config.symbols.len()],
            reads_since_audit: 0,
            next_request: 0,
            last_error: None,
            config,
        }
    }

    /// The feed of the `index`th symbol of the configuration.
    pub fn feed(&self, index: usize) -> &DepthFeed {
        &self.feeds[index]
    }

    /// The counters.
    pub fn counters(&self) -> ClientCounters {
        self.counters
    }

    /// The messages refused, and the last one.
    pub fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Messages received so far (the number of the one being handled).
    fn received(&self) -> u64 {
        self.counters.messages + self.counters.malformed
    }

    /// Why the last connection ended, if one did.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// Follows the venue until `stop` is set, reconnecting whenever the connection is lost;
    /// books go to `sink`; every message is recorded and the counters mirrored through `taps`
    /// (an empty frame in the recording marks a connection). Returns early only if the venue
    /// refuses a request.
    pub fn run(
        &mut self,
        sink: &mut impl BookSink,
        taps: &mut Taps<'_>,
        stop: &AtomicBool,
    ) -> Result<ClientCounters, ClientError> {
        while !stop.load(Ordering::Relaxed) {
            match self.connection(sink, taps, stop) {
                Ended::Stopped => break,
                Ended::Refused(error) => return Err(error),
                Ended::Lost(error) => {
                    self.counters.disconnects += 1;
                    self.last_error = Some(error);
                    let now = realtime_ns();
                    self.feeds.iter_mut().for_each(|feed| feed.disconnected(now, sink));
                    taps.mirror(|| self.totals());
                    taps.pulse(sink, true);
                    pause(self.config.reconnect_delay, stop);
                }
            }
        }
        Ok(self.counters)
    }

    fn request(&mut self, ws: &mut WsStream<TcpStream>, call: Call) -> Result<(), WsError> {
        self.next_request += 1;
        ws.send_text(&Request { id: self.next_request, call }.encode())
    }

    /// One connection, from connecting to its end.
    fn connection(&mut self, sink: &mut impl BookSink, taps: &mut Taps<'_>, stop: &AtomicBool) -> Ended {
        match self.serve(sink, taps, stop) {
            Ok(never) => match never {},
            Err(ended) => ended,
        }
    }

    /// The client's and its books' count of `counter`, as its metrics show it.
    pub fn totals_of(&self, counter: Counter) -> u64 {
        self.totals().get(counter)
    }

    /// The client's and its books' counts by [`Counter`].
    fn totals(&self) -> Totals {
        let feeds = |count: fn(&DepthCounters) -> u64| self.feeds.iter().map(|f| count(&f.counters())).sum();
        let c = &self.counters;
        let mut totals = Totals::default();
        totals
            .set(Counter::Messages, feeds(|f| f.updates + f.snapshots + f.trades))
            .set(Counter::Bytes, c.bytes)
            .set(Counter::Packets, c.messages + c.malformed)
            .set(Counter::Gaps, feeds(|f| f.gaps))
            .set(Counter::StalePeriods, feeds(|f| f.gaps) + c.disconnects)
            .set(Counter::Recoveries, feeds(|f| f.snapshots).saturating_sub(c.audits))
            .set(Counter::Duplicates, feeds(|f| f.duplicates))
            .set(Counter::DecodeErrors, c.malformed)
            .set(Counter::BookErrors, feeds(|f| f.overflow))
            .set(Counter::PublishErrors, feeds(|f| f.publish_errors))
            .set(Counter::RecoveryRequests, c.snapshot_requests)
            .set(Counter::Connects, c.connects)
            .set(Counter::Disconnects, c.disconnects);
        totals
    }

    fn serve(
        &mut self,
        sink: &mut impl BookSink,
        taps: &mut Taps<'_>,
        stop: &AtomicBool,
    ) -> Result<std::convert::Infallible, Ended> {
        let config = &self.config;
        let stream = TcpStream::connect_timeout(&config.addr, config.connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(config.connect_timeout))?;
        stream.set_write_timeout(Some(config.connect_timeout))?;
        let host = config.addr.to_string();
        let mut ws = WsStream::connect(stream, &host, "/ws", config.limits, config.connect_timeout)?;
        ws.get_ref().set_read_timeout(Some(config.read_timeout))?;
        self.counters.connects += 1;
        taps.record(realtime_ns(), &[]);
        let streams = self.config.symbols.iter().map(|(symbol, _)| format!("{symbol}@depth")).collect();
        self.request(&mut ws, Call::Subscribe(streams))?;
        // Every book's snapshot at once: a quiet market sends no update that would ask for it.
        let now = realtime_ns();
        for index in 0..self.feeds.len() {
            self.counters.snapshot_requests += 1;
            self.fetch_snapshot(&mut ws, index, now)?;
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                let _ = ws.close(CloseCode::GOING_AWAY, "feed stopping");
                return Err(Ended::Stopped);
            }
            let resync = match ws.read_message()? {
                Some(WsMessage::Text(text)) => {
                    self.counters.bytes += text.len() as u64;
                    let receive_ts_ns = realtime_ns();
                    let resync = self.on_text(text.as_bytes(), receive_ts_ns, sink);
                    // Recorded after the books are published, so recording never delays them.
                    taps.record(receive_ts_ns, text.as_bytes());
                    resync?
                }
                Some(WsMessage::Binary(bytes)) => {
                    self.counters.bytes += bytes.len() as u64;
                    self.counters.malformed += 1;
                    self.refusals.note(None, self.received(), "a binary message (the venue sends text)");
                    None
                }
                Some(WsMessage::Close(close)) => {
                    let reason = close
                        .map_or_else(|| "no reason".to_owned(), |(code, text)| format!("{} {text}", code.0));
                    return Err(Ended::Lost(format!("venue closed the connection: {reason}")));
                }
                None => {
                    taps.pulse(sink, true);
                    self.audit_quiet_books(&mut ws, true)?;
                    None
                }
            };
            if let Some(index) = resync {
                self.counters.snapshot_requests += 1;
                self.fetch_snapshot(&mut ws, index, realtime_ns())?;
            }
            self.audit_quiet_books(&mut ws, false)?;
            taps.mirror(|| self.totals());
            taps.log(&self.refusals);
            taps.pulse(sink, false);
        }
    }

    /// Asks for the snapshot of book `index`; its updates are kept until it comes.
    fn fetch_snapshot(
        &mut self,
        ws: &mut WsStream<TcpStream>,
        index: usize,
        now_ns: u64,
    ) -> Result<(), WsError> {
        self.feeds[index].snapshot_requested();
        self.heard_ns[index] = now_ns;
        let symbol = self.config.symbols[index].0.clone();
        self.request(ws, Call::Depth { symbol })
    }

    /// On an idle read, and every few busy ones, fetches the snapshot of each book that has
    /// heard nothing for `audit_after`, to check it: a snapshot with a later update id than the
    /// book's replaces it, one with the same id confirms it.
    fn audit_quiet_books(&mut self, ws: &mut WsStream<TcpStream>, idle: bool) -> Result<(), WsError> {
        self.reads_since_audit += 1;
        if !idle && self.reads_since_audit < AUDIT_CHECK_EVERY {
            return Ok(());
        }
        self.reads_since_audit = 0;
        let now = realtime_ns();
        let quiet = self.config.audit_after.as_nanos() as u64;
        for index in 0..self.feeds.len() {
            if !self.feeds[index].is_awaiting_snapshot() && now.saturating_sub(self.heard_ns[index]) >= quiet
            {
                self.counters.audits += 1;
                self.fetch_snapshot(ws, index, now)?;
            }
        }
        Ok(())
    }

    /// Replays one recorded frame through the same handler: a text message as it was received,
    /// or (an empty frame) the start of a connection, the books going stale first if one was
    /// lost. Snapshot requests are not sent: the recording holds the snapshots that came.
    pub fn replay_frame(&mut self, frame: &Frame, sink: &mut impl BookSink) -> Result<(), ClientError> {
        if frame.bytes.is_empty() {
            if self.counters.connects > 0 {
                self.counters.disconnects += 1;
                self.feeds.iter_mut().for_each(|feed| feed.disconnected(frame.receive_ts_ns, sink));
            }
            self.counters.connects += 1;
            return Ok(());
        }
        self.counters.bytes += frame.bytes.len() as u64;
        match self.on_text(&frame.bytes, frame.receive_ts_ns, sink) {
            Err(Ended::Refused(error)) => Err(error),
            _ => Ok(()),
        }
    }

    /// Handles one text message; the index of a symbol whose snapshot must be fetched, if any.
    fn on_text(
        &mut self,
        bytes: &[u8],
        receive_ts_ns: u64,
        sink: &mut impl BookSink,
    ) -> Result<Option<usize>, Ended> {
        match self.decoder.decode(bytes) {
            Ok(event) => {
                self.counters.messages += 1;
                let Some(index) = self.config.symbols.iter().position(|(s, _)| s == event.symbol()) else {
                    self.counters.unknown_symbol += 1;
                    let received = self.counters.messages + self.counters.malformed;
                    let what = format_args!("depth of unknown symbol {:?}", event.symbol());
                    self.refusals.note(None, received, what);
                    return Ok(None);
                };
                self.heard_ns[index] = receive_ts_ns;
                Ok((self.feeds[index].on_message(&event, receive_ts_ns, sink) == DepthAction::Resync)
                    .then_some(index))
            }
            Err(_) => match Response::decode(bytes) {
                Ok(Response { id, error: Some(error), .. }) => {
                    Err(Ended::Refused(ClientError::Refused { id, error }))
                }
                Ok(_) => Ok(None),
                Err(_) => {
                    self.counters.malformed += 1;
                    let shown = &bytes[..bytes.len().min(80)];
                    let what = format_args!("malformed message {:?}", String::from_utf8_lossy(shown));
                    self.refusals.note(None, self.received(), what);
                    Ok(None)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::websocket::Opcode;
    use std::net::TcpListener;
    use std::sync::Arc;

    const TIMEOUT: Duration = Duration::from_secs(3);

    /// A venue that accepts one connection, reads the subscription and the snapshot request
    /// that follows it (so closing leaves nothing unread, which would reset the connection and
    /// lose what was sent), and sends `messages`.
    fn venue(messages: Vec<(Opcode, String)>) -> (SocketAddr, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            let (mut ws, _) = WsStream::accept(stream, WsLimits::default(), TIMEOUT).unwrap();
            let mut next_request = || loop {
                if let Some(WsMessage::Text(text)) = ws.read_message().unwrap() {
                    break Request::decode(text.as_bytes()).unwrap();
                }
            };
            assert_eq!(next_request().call, Call::Subscribe(vec!["AAPL@depth".into()]));
            assert_eq!(next_request().call, Call::Depth { symbol: "AAPL".into() });
            for (opcode, text) in messages {
                ws.send(opcode, text.as_bytes()).unwrap();
            }
            let _ = ws.close(CloseCode::GOING_AWAY, "done");
        });
        (addr, thread)
    }

    fn client(addr: SocketAddr) -> DepthClient {
        DepthClient::new(DepthClientConfig::new(addr, vec![("AAPL".into(), 1)]))
    }

    #[test]
    fn malformed_input_is_counted_and_skipped_and_a_closed_connection_leaves_the_book_stale() {
        let snapshot = r#"{"e":"depthSnapshot","s":"AAPL","lastUpdateId":3,"bids":[["190","5"]],"asks":[]}"#;
        let messages = vec![
            (Opcode::Text, "{garbage".to_owned()),
            (Opcode::Binary, "\u{1}".to_owned()),
            (Opcode::Text, r#"{"e":"depthUpdate","E":1,"s":"IBM","U":1,"u":1,"b":[],"a":[]}"#.to_owned()),
            (Opcode::Text, r#"{"id":1,"status":200,"result":null}"#.to_owned()),
            (
                Opcode::Text,
                r#"{"e":"depthUpdate","E":1,"s":"AAPL","U":4,"u":4,"b":[["190","6"]],"a":[]}"#.to_owned(),
            ),
            (Opcode::Text, snapshot.to_owned()),
        ];
        let (addr, venue) = venue(messages);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let run = std::thread::spawn(move || {
            let mut client = client(addr);
            let result = client.run(&mut (), &mut Taps::default(), &flag);
            (result, client)
        });
        venue.join().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Relaxed);
        let (result, client) = run.join().unwrap();
        let counters = result.unwrap();
        assert_eq!((counters.malformed, counters.unknown_symbol, counters.snapshot_requests), (2, 1, 1));
        assert!(counters.disconnects >= 1, "the venue went away and reconnecting failed");
        assert!(client.feed(0).is_stale(), "no book is trusted without a connection");
        let feed = client.feed(0).counters();
        assert_eq!(
            (feed.snapshots, feed.updates),
            (1, 1),
            "update 4 was replayed onto snapshot 3 before that"
        );
        assert!(client.last_error().is_some());
    }

    #[test]
    fn a_refused_subscription_ends_the_run_with_the_venues_reason() {
        let refusal = r#"{"id":1,"status":400,"error":{"code":-1121,"msg":"Invalid symbol \"AAPL\"."}}"#;
        let (addr, venue) = venue(vec![(Opcode::Text, refusal.to_owned())]);
        let error = client(addr).run(&mut (), &mut Taps::default(), &AtomicBool::new(false)).unwrap_err();
        venue.join().unwrap();
        assert!(matches!(&error, ClientError::Refused { id: 1, error } if error.code == -1121), "{error}");
    }
}
