//! Venue C on the network: [`JsonVenue`] served over WebSocket on loopback TCP, paced by the
//! wall clock, with faults injected into its market data on request.
//!
//! Two listeners: market data (subscribe to `<SYMBOL>@depth` / `<SYMBOL>@trade`, ask for a
//! `depth` snapshot) and orders (`session.logon` with an HMAC-signed timestamp, then
//! `order.place` / `order.cancel`). One thread runs everything, on non-blocking sockets: each
//! turn of [`JsonVenueServer::run`] accepts connections, takes their opening handshakes as far
//! as their bytes have come (a connection that has not finished its handshake by
//! [`JsonVenueConfig::handshake_timeout`] is dropped), runs the flow up to the wall clock,
//! serves every client's requests (at most [`MAX_REQUESTS_PER_TURN`] of each, so one client
//! cannot stall the others and the flow), publishes depth updates, trades and execution
//! reports, and sleeps for the poll interval only when the turn had nothing to do. A client
//! that stops reading is disconnected once its send queue is full; an order session that ends
//! has its open orders cancelled.
//!
//! An order connection logged on with a key is sent the key's execution reports from the key's
//! log, in sequence, as they are made. A logon takes its key over: the key's other connection
//! (and this connection's earlier session, if any) is logged off and closed, and its session
//! ends, before the logon sends again the reports its `resumeFrom` asks for; so a client that
//! reconnects hears every report of its old session, the cancels of its orders included, before
//! the answer to its logon.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocols::websocket::{self, CloseCode, Role, MAX_HANDSHAKE_LEN};
use protocols::ws_api::{ApiError, Call, Logon, LogonResult, OrderChannelMessage, Request, Response};
use protocols::ws_stream::{WsLimits, WsMessage, WsStream};

use crate::clock::unix_now_ms;
use crate::faults::{Connection, FaultCounts, FaultDraws, FaultPlan, FaultPlanError, StreamFaults};
use crate::flow::{MarketSpec, VenueSpec};
use crate::venue_c::{JsonVenue, SessionId, Stream, DEFAULT_REPORT_RETENTION};

/// An API key and its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key, sent in the clear.
    pub key: String,
    /// The secret the logon is signed with.
    pub secret: Vec<u8>,
}

/// The most requests taken from one client in one turn; the rest wait for the next turns.
pub const MAX_REQUESTS_PER_TURN: usize = 64;

/// Everything a venue C server needs.
#[derive(Debug, Clone)]
pub struct JsonVenueConfig {
    /// The symbols and the shared fair value.
    pub market: MarketSpec,
    /// The venue's background flow.
    pub venue: VenueSpec,
    /// Who may log on to the order channel.
    pub api_keys: Vec<ApiKey>,
    /// Faults injected into each market-data client's depth updates (a disconnect shuts the
    /// client's TCP connection down without a close frame).
    pub faults: FaultPlan,
    /// WebSocket message and queue limits per connection.
    pub limits: WsLimits,
    /// How long a turn of the loop that had nothing to do sleeps (a turn with work is followed
    /// at once by the next).
    pub poll: Duration,
    /// The longest a new connection may take over its opening handshake.
    pub handshake_timeout: Duration,
    /// How far a logon's timestamp may be from the venue's clock, in milliseconds.
    pub recv_window_ms: u64,
    /// How many execution reports of each API key the venue keeps for logons that resume
    /// (a resume from before them is refused).
    pub report_retention: usize,
    /// Where market-data clients connect (port 0 picks a free one).
    pub market_data_addr: SocketAddr,
    /// Where order clients connect (port 0 picks a free one).
    pub order_addr: SocketAddr,
}

impl JsonVenueConfig {
    /// A configuration with no faults, default limits, a 50 us sleep when idle, a 1 s handshake
    /// timeout, a 5 s receive window, [`DEFAULT_REPORT_RETENTION`] reports kept per key, and
    /// both listeners on free loopback ports.
    pub fn new(market: MarketSpec, venue: VenueSpec, api_keys: Vec<ApiKey>) -> Self {
        Self {
            market,
            venue,
            api_keys,
            faults: FaultPlan::NONE,
            limits: WsLimits::default(),
            poll: Duration::from_micros(50),
            handshake_timeout: Duration::from_secs(1),
            recv_window_ms: 5_000,
            report_retention: DEFAULT_REPORT_RETENTION,
            market_data_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            order_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Market-data connections accepted.
    pub market_data_clients: u64,
    /// Order connections accepted.
    pub order_clients: u64,
    /// Connections whose opening handshake failed or did not finish in time.
    pub handshake_failures: u64,
    /// Flow actions run.
    pub flow_actions: u64,
    /// Depth updates sent (each copy counted).
    pub updates_sent: u64,
    /// Faults injected into depth updates (disconnects are of market-data clients).
    pub faults: FaultCounts,
    /// Clients disconnected for an error of theirs or of their socket (slow, protocol, I/O).
    pub failed_clients: u64,
    /// Snapshots served.
    pub snapshots: u64,
    /// Logons refused.
    pub logons_refused: u64,
    /// Orders accepted.
    pub orders: u64,
    /// Requests refused (bad orders, unknown symbols, malformed or unauthenticated requests).
    pub requests_refused: u64,
}

/// Why the server could not start, or stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The fault plan is unusable.
    #[error("venue C faults: {0}")]
    Faults(#[from] FaultPlanError),
    /// A listener could not be bound.
    #[error("venue C: binding the {channel} listener: {source}")]
    Bind {
        /// Which listener: "market-data" or "order".
        channel: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A listener failed.
    #[error("venue C: accepting {channel} connections: {source}")]
    Accept {
        /// Which listener: "market-data" or "order".
        channel: &'static str,
        /// The error.
        source: io::Error,
    },
}

#[derive(Debug)]
struct MarketDataClient {
    ws: WsStream<TcpStream>,
    depth: Vec<bool>,
    trades: Vec<bool>,
    faults: StreamFaults<str>,
}

/// A connection whose opening handshake is under way.
#[derive(Debug)]
struct Handshake {
    stream: TcpStream,
    market_data: bool,
    /// The client's request, as far as it has come.
    request: Vec<u8>,
    /// Once the request is read: the answer, how much of it is written, and what the client
    /// sent past its request.
    answer: Option<(Vec<u8>, usize, Vec<u8>)>,
    deadline: Instant,
}

/// Where a handshake stands after a turn.
enum HandshakeProgress {
    /// Waiting for the client's bytes (or for room to answer).
    Pending,
    /// Answered: the connection is open ([`Handshake::open`]).
    Done,
    /// Refused, broken off or too slow.
    Failed,
}

impl Handshake {
    /// Reads what has come of the request and writes what the socket takes of the answer.
    fn advance(&mut self, now: Instant) -> HandshakeProgress {
        if self.answer.is_none() {
            let mut chunk = [0u8; 2048];
            // A request longer than the limit is refused by the parser, so this much is enough.
            while self.request.len() <= MAX_HANDSHAKE_LEN {
                match self.stream.read(&mut chunk) {
                    Ok(0) => return HandshakeProgress::Failed,
                    Ok(n) => self.request.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return HandshakeProgress::Failed,
                }
            }
            match websocket::parse_request(&self.request) {
                Ok(Some((request, len))) => {
                    let answer = websocket::accept_response(&request.key).into_bytes();
                    self.answer = Some((answer, 0, self.request[len..].to_vec()));
                }
                Ok(None) => {}
                Err(error) => {
                    // Best effort: the client learns why before the connection drops.
                    let _ = self.stream.write(websocket::reject_response(&error).as_bytes());
                    return HandshakeProgress::Failed;
                }
            }
        }
        if let Some((answer, written, _)) = &mut self.answer {
            while *written < answer.len() {
                match self.stream.write(&answer[*written..]) {
                    Ok(0) => return HandshakeProgress::Failed,
                    Ok(n) => *written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => return HandshakeProgress::Failed,
                }
            }
            if *written == answer.len() {
                return HandshakeProgress::Done;
            }
        }
        if now >= self.deadline {
            HandshakeProgress::Failed
        } else {
            HandshakeProgress::Pending
        }
    }

    /// The open connection, once [`Handshake::advance`] is done.
    fn open(self, limits: WsLimits) -> WsStream<TcpStream> {
        let already_read = self.answer.map(|(_, _, rest)| rest).unwrap_or_default();
        WsStream::new(self.stream, Role::Server, limits, &already_read)
    }
}

#[derive(Debug)]
struct OrderClient {
    ws: WsStream<TcpStream>,
    /// Once logged on.
    session: Option<OrderSession>,
}

/// A logged-on order connection's session.
#[derive(Debug)]
struct OrderSession {
    id: SessionId,
    key: String,
    /// The sequence number of the key's next report to send.
    next: u64,
}

/// Venue C serving WebSocket clients on loopback.
#[derive(Debug)]
pub struct JsonVenueServer {
    venue: JsonVenue,
    config: JsonVenueConfig,
    market_data: TcpListener,
    orders: TcpListener,
    handshakes: Vec<Handshake>,
    market_data_clients: Vec<MarketDataClient>,
    order_clients: Vec<OrderClient>,
    last_logon: HashMap<String, u64>,
    fault_draws: FaultDraws,
    stats: ServerStats,
    opened: Option<Instant>,
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

impl JsonVenueServer {
    /// Checks the fault plan and binds the market-data and order listeners.
    pub fn bind(config: JsonVenueConfig) -> Result<Self, ServerError> {
        config.faults.validate()?;
        let bind = |channel, addr| listen(addr).map_err(|source| ServerError::Bind { channel, source });
        Ok(Self {
            venue: JsonVenue::new(config.market.clone(), config.venue.clone(), config.report_retention),
            market_data: bind("market-data", config.market_data_addr)?,
            orders: bind("order", config.order_addr)?,
            handshakes: Vec::new(),
            market_data_clients: Vec::new(),
            order_clients: Vec::new(),
            last_logon: HashMap::new(),
            fault_draws: FaultDraws::new(config.faults),
            stats: ServerStats::default(),
            opened: None,
            config,
        })
    }

    /// Where market-data clients connect.
    pub fn market_data_addr(&self) -> io::Result<SocketAddr> {
        self.market_data.local_addr()
    }

    /// Where order clients connect.
    pub fn order_addr(&self) -> io::Result<SocketAddr> {
        self.orders.local_addr()
    }

    /// The venue (its engines hold the true books).
    pub fn venue(&self) -> &JsonVenue {
        &self.venue
    }

    /// Serves until `stop` is set, then closes every connection; returns what it did.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<ServerStats, ServerError> {
        self.trade_until(stop)?;
        self.close_all();
        Ok(self.stats())
    }

    /// Trades (the flow by the wall clock, client orders, market data) until `close` is set;
    /// connections stay open.
    pub fn trade_until(&mut self, close: &AtomicBool) -> Result<ServerStats, ServerError> {
        let start = *self.opened.get_or_insert_with(Instant::now);
        while !close.load(Ordering::Relaxed) {
            self.turn(Some(start))?;
        }
        Ok(self.stats())
    }

    /// After the close: serves clients (snapshots, the last updates, order requests) with the
    /// flow stopped until `deadline`, so feeds settle on the closing books; then closes every
    /// connection.
    pub fn linger_until(&mut self, deadline: Instant) -> Result<ServerStats, ServerError> {
        while Instant::now() < deadline {
            self.turn(None)?;
        }
        self.close_all();
        Ok(self.stats())
    }

    /// What the server has done so far.
    pub fn stats(&self) -> ServerStats {
        ServerStats { faults: self.fault_draws.counts(), ..self.stats }
    }

    /// One turn of the loop: new connections and handshakes, the flow up to now (if trading
    /// since `opened`), then every client; sleeps for the poll interval if there was nothing
    /// to do.
    fn turn(&mut self, opened: Option<Instant>) -> Result<(), ServerError> {
        let mut busy = self.accept()?;
        busy |= self.advance_handshakes();
        let now = unix_now_ms();
        if let Some(start) = opened {
            let actions = self.venue.advance_until(start.elapsed().as_nanos() as u64, now);
            self.stats.flow_actions += actions as u64;
            busy |= actions > 0;
        }
        busy |= self.serve_market_data();
        busy |= self.serve_orders(now);
        self.fault_draws.set_clock(opened.map(|start| start.elapsed()));
        busy |= self.publish(now);
        self.flush_all();
        if !busy {
            std::thread::sleep(self.config.poll);
        }
        Ok(())
    }

    /// Writes what each client's socket could not take before (a send only writes what fits):
    /// without this a client's last messages would wait for its next one. A client whose
    /// socket failed is dropped and counted.
    fn flush_all(&mut self) {
        let before = self.market_data_clients.len() + self.order_clients.len();
        self.market_data_clients.retain_mut(|client| client.ws.flush().is_ok());
        self.order_clients.retain_mut(|client| client.ws.flush().is_ok());
        let after = self.market_data_clients.len() + self.order_clients.len();
        self.stats.failed_clients += (before - after) as u64;
    }

    fn close_all(&mut self) {
        for client in &mut self.market_data_clients {
            let _ = client.ws.close(CloseCode::GOING_AWAY, "venue stopping");
        }
        for client in &mut self.order_clients {
            let _ = client.ws.close(CloseCode::GOING_AWAY, "venue stopping");
        }
    }

    /// Takes every pending connection on both listeners into a handshake; whether there was
    /// any.
    fn accept(&mut self) -> Result<bool, ServerError> {
        let mut any = false;
        for market_data in [true, false] {
            let listener = if market_data { &self.market_data } else { &self.orders };
            loop {
                let stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(source) => {
                        let channel = if market_data { "market-data" } else { "order" };
                        return Err(ServerError::Accept { channel, source });
                    }
                };
                any = true;
                match stream.set_nonblocking(true).and_then(|()| stream.set_nodelay(true)) {
                    Ok(()) => self.handshakes.push(Handshake {
                        stream,
                        market_data,
                        request: Vec::new(),
                        answer: None,
                        deadline: Instant::now() + self.config.handshake_timeout,
                    }),
                    Err(_) => self.stats.handshake_failures += 1,
                }
            }
        }
        Ok(any)
    }

    /// Takes every handshake as far as its bytes have come: opens the answered ones, drops the
    /// failed and the late ones. Whether any finished.
    fn advance_handshakes(&mut self) -> bool {
        let now = Instant::now();
        let mut any = false;
        let mut index = 0;
        while index < self.handshakes.len() {
            match self.handshakes[index].advance(now) {
                HandshakeProgress::Pending => index += 1,
                HandshakeProgress::Failed => {
                    self.stats.handshake_failures += 1;
                    self.handshakes.swap_remove(index);
                    any = true;
                }
                HandshakeProgress::Done => {
                    let handshake = self.handshakes.swap_remove(index);
                    let market_data = handshake.market_data;
                    self.open(market_data, handshake.open(self.config.limits));
                    any = true;
                }
            }
        }
        any
    }

    /// Serves `ws` from now on, as a market-data or an order client.
    fn open(&mut self, market_data: bool, ws: WsStream<TcpStream>) {
        if market_data {
            self.stats.market_data_clients += 1;
            let symbols = self.venue.symbol_count();
            self.market_data_clients.push(MarketDataClient {
                ws,
                depth: vec![false; symbols],
                trades: vec![false; symbols],
                faults: StreamFaults::new(),
            });
        } else {
            self.stats.order_clients += 1;
            self.order_clients.push(OrderClient { ws, session: None });
        }
    }

    /// Serves every market-data client; whether any sent something or left.
    fn serve_market_data(&mut self) -> bool {
        let mut busy = false;
        let mut index = 0;
        while index < self.market_data_clients.len() {
            match self.serve_market_data_client(index) {
                Ok(Served::Open(requests)) => {
                    busy |= requests > 0;
                    index += 1;
                }
                Ok(Served::Closed) => {
                    busy = true;
                    self.market_data_clients.swap_remove(index);
                }
                Err(()) => {
                    busy = true;
                    self.stats.failed_clients += 1;
                    self.market_data_clients.swap_remove(index);
                }
            }
        }
        busy
    }

    /// Answers up to [`MAX_REQUESTS_PER_TURN`] of one client's requests; `Err` if it failed.
    fn serve_market_data_client(&mut self, index: usize) -> Result<Served, ()> {
        for taken in 0..MAX_REQUESTS_PER_TURN {
            let client = &mut self.market_data_clients[index];
            let request = match read_request(&mut client.ws)? {
                Incoming::Request(request) => request,
                Incoming::Malformed(response) => {
                    self.stats.requests_refused += 1;
                    send(&mut client.ws, &response.encode())?;
                    continue;
                }
                Incoming::Idle => return Ok(Served::Open(taken)),
                Incoming::Closed => return Ok(Served::Closed),
            };
            let response = match request.call {
                Call::Subscribe(streams) => self.subscribe(index, request.id, &streams),
                Call::Depth { symbol } => match self.venue.symbol(&symbol) {
                    Some(symbol) => {
                        self.stats.snapshots += 1;
                        let snapshot = self.venue.snapshot(symbol).encode();
                        send(&mut self.market_data_clients[index].ws, &snapshot)?;
                        continue;
                    }
                    None => Response::error(request.id, ApiError::unknown_symbol(&symbol)),
                },
                _ => Response::error(
                    request.id,
                    ApiError::malformed("order methods belong on the order channel"),
                ),
            };
            if response.error.is_some() {
                self.stats.requests_refused += 1;
            }
            send(&mut self.market_data_clients[index].ws, &response.encode())?;
        }
        Ok(Served::Open(MAX_REQUESTS_PER_TURN))
    }

    fn subscribe(&mut self, index: usize, id: u64, streams: &[String]) -> Response {
        let mut wanted = Vec::with_capacity(streams.len());
        for stream in streams {
            let parsed = stream.rsplit_once('@').and_then(|(symbol, kind)| {
                let kind = match kind {
                    "depth" => Stream::Depth,
                    "trade" => Stream::Trade,
                    _ => return None,
                };
                Some((self.venue.symbol(symbol)?, kind))
            });
            match parsed {
                Some(stream) => wanted.push(stream),
                None => {
                    return Response::error(
                        id,
                        ApiError::illegal("params", &format!("unknown stream {stream:?}")),
                    )
                }
            }
        }
        let client = &mut self.market_data_clients[index];
        for (symbol, kind) in wanted {
            match kind {
                Stream::Depth => client.depth[symbol] = true,
                Stream::Trade => client.trades[symbol] = true,
            }
        }
        Response::ok(id, serde_json::Value::Null)
    }

    /// Serves every order client, ending the sessions of those that left; whether any sent
    /// something or left.
    fn serve_orders(&mut self, now: u64) -> bool {
        let mut busy = false;
        let mut index = 0;
        while index < self.order_clients.len() {
            let outcome = self.serve_order_client(index, now);
            if let Ok(Served::Open(requests)) = outcome {
                busy |= requests > 0;
                index += 1;
                continue;
            }
            busy = true;
            if outcome.is_err() {
                self.stats.failed_clients += 1;
            }
            let client = self.order_clients.swap_remove(index);
            if let Some(session) = client.session {
                self.venue.end_session(session.id, now);
            }
        }
        busy
    }

    /// Answers up to [`MAX_REQUESTS_PER_TURN`] of one client's requests; `Err` if it failed.
    fn serve_order_client(&mut self, index: usize, now: u64) -> Result<Served, ()> {
        for taken in 0..MAX_REQUESTS_PER_TURN {
            let client = &mut self.order_clients[index];
            let request = match read_request(&mut client.ws)? {
                Incoming::Request(request) => request,
                Incoming::Malformed(response) => {
                    self.stats.requests_refused += 1;
                    send(&mut client.ws, &response.encode())?;
                    continue;
                }
                Incoming::Idle => return Ok(Served::Open(taken)),
                Incoming::Closed => return Ok(Served::Closed),
            };
            let session = client.session.as_ref().map(|s| s.id);
            let outcome = match (&request.call, session) {
                (Call::Logon(logon), _) => self.log_on(index, logon, now),
                (Call::Place(_) | Call::Cancel(_), None) => Err(ApiError::unauthorized()),
                (Call::Place(place), Some(session)) => self.venue.place(session, place, now).map(|id| {
                    self.stats.orders += 1;
                    serde_json::json!({ "orderId": id, "clientOrderId": place.client_order_id })
                }),
                (Call::Cancel(cancel), Some(session)) => self
                    .venue
                    .cancel(session, cancel, now)
                    .map(|id| serde_json::json!({ "orderId": id, "clientOrderId": cancel.client_order_id })),
                (Call::Subscribe(_) | Call::Depth { .. }, _) => {
                    Err(ApiError::malformed("market-data methods belong on the market-data channel"))
                }
            };
            let response = match outcome {
                Ok(result) => Response::ok(request.id, result),
                Err(error) => {
                    self.stats.requests_refused += 1;
                    if matches!(request.call, Call::Logon(_)) {
                        self.stats.logons_refused += 1;
                    }
                    Response::error(request.id, error)
                }
            };
            // The answer first, then the order's reports (NEW before TRADE, as venues do).
            send(&mut self.order_clients[index].ws, &OrderChannelMessage::Response(response).encode())?;
            self.send_reports();
        }
        Ok(Served::Open(MAX_REQUESTS_PER_TURN))
    }

    /// Logs client `index` on: checks the logon ([`Self::authenticate`]), takes the key over
    /// (the key's other connection and this one's earlier session end first, so their reports,
    /// the cancels of their orders included, are in the log), then sends the reports the
    /// logon resumes from; the answer's result.
    fn log_on(&mut self, index: usize, logon: &Logon, now: u64) -> Result<serde_json::Value, ApiError> {
        self.authenticate(logon, now)?;
        let key = &logon.api_key;
        for (at, client) in self.order_clients.iter_mut().enumerate() {
            let holds_key = client.session.as_ref().is_some_and(|s| s.key == *key);
            if at == index || holds_key {
                if let Some(session) = client.session.take() {
                    self.venue.end_session(session.id, now);
                }
                if at != index {
                    // Best effort: the connection is logged off whether or not it hears why.
                    let _ = client.ws.close(CloseCode::POLICY_VIOLATION, "session taken over by a new logon");
                }
            }
        }
        let resume = self.venue.resume(key, logon.resume_from)?;
        let client = &mut self.order_clients[index];
        for report in self.venue.reports(key, resume.from) {
            // A failed send shows up as an error on the client's next read.
            let _ = client.ws.send_text(&OrderChannelMessage::Execution(report.clone()).encode());
        }
        let next_sequence = self.venue.next_sequence(key);
        let id = self.venue.open_session(key);
        self.order_clients[index].session = Some(OrderSession { id, key: key.clone(), next: next_sequence });
        let result = LogonResult {
            api_key: key.clone(),
            authorized_since: now,
            resumed: resume.resumed,
            next_sequence,
        };
        Ok(serde_json::to_value(result).expect("a logon's result always serialises"))
    }

    /// Checks a logon: a known key, a valid signature, a timestamp within the receive window
    /// and newer than the key's last logon (so a captured logon cannot be replayed).
    fn authenticate(&mut self, logon: &Logon, now: u64) -> Result<(), ApiError> {
        let key =
            self.config.api_keys.iter().find(|k| k.key == logon.api_key).ok_or_else(ApiError::unknown_key)?;
        if !logon.signature_is_valid(&key.secret) {
            return Err(ApiError::bad_signature());
        }
        if logon.timestamp.abs_diff(now) > self.config.recv_window_ms {
            return Err(ApiError::timestamp("is outside of the recvWindow"));
        }
        if self.last_logon.get(&logon.api_key).is_some_and(|&last| logon.timestamp <= last) {
            return Err(ApiError::timestamp("is not newer than the last logon's"));
        }
        self.last_logon.insert(logon.api_key.clone(), logon.timestamp);
        Ok(())
    }

    /// Sends each logged-on client its key's reports made since it was last sent some;
    /// whether there were any.
    fn send_reports(&mut self) -> bool {
        let mut any = false;
        for client in &mut self.order_clients {
            let Some(session) = client.session.as_mut() else { continue };
            for report in self.venue.reports(&session.key, session.next) {
                // A failed send shows up as an error on the client's next read.
                let _ = client.ws.send_text(&OrderChannelMessage::Execution(report.clone()).encode());
                session.next = report.sequence + 1;
                any = true;
            }
        }
        any
    }

    /// Sends the execution reports, then the market data made since the last turn to its
    /// subscribers, depth updates through each client's faults (an update held back goes out
    /// by the end of the turn); whether there was anything.
    fn publish(&mut self, now: u64) -> bool {
        let reports = self.send_reports();
        let market_data = self.venue.publish(now);
        let any = reports || !market_data.is_empty();
        for data in market_data {
            let text = data.message.encode();
            let mut index = 0;
            while index < self.market_data_clients.len() {
                let client = &mut self.market_data_clients[index];
                let sent = match data.stream {
                    Stream::Depth if client.depth[data.symbol] => {
                        let (ws, updates_sent) = (&mut client.ws, &mut self.stats.updates_sent);
                        let mut sent = Ok(());
                        let connection = client.faults.pass(&mut self.fault_draws, &text, |text, _| {
                            if sent.is_ok() {
                                sent = send(ws, text);
                                *updates_sent += 1;
                            }
                        });
                        if connection == Connection::Cut {
                            let _ = client.ws.get_ref().shutdown(std::net::Shutdown::Both);
                            self.market_data_clients.swap_remove(index);
                            continue;
                        }
                        sent
                    }
                    Stream::Trade if client.trades[data.symbol] => send(&mut client.ws, &text),
                    Stream::Depth | Stream::Trade => Ok(()),
                };
                match sent {
                    Ok(()) => index += 1,
                    Err(()) => {
                        self.stats.failed_clients += 1;
                        self.market_data_clients.swap_remove(index);
                    }
                }
            }
        }
        self.release_held();
        any
    }

    /// Sends each client's update held back for reordering: it goes out after the next one,
    /// or at the latest at the end of the turn, so a quiet market (or the close) never keeps
    /// one back for good.
    fn release_held(&mut self) {
        let before = self.market_data_clients.len();
        self.market_data_clients.retain_mut(|client| {
            let (ws, mut sent) = (&mut client.ws, Ok(()));
            client.faults.flush(|text, _| sent = send(ws, text));
            sent.is_ok()
        });
        self.stats.failed_clients += (before - self.market_data_clients.len()) as u64;
    }
}

/// What serving one client in one turn came to.
enum Served {
    /// The client is still there; it sent this many requests.
    Open(usize),
    /// The client closed the connection.
    Closed,
}

/// What reading a client gave.
enum Incoming {
    /// A request.
    Request(Request),
    /// Something that is not a request, and the answer saying so.
    Malformed(Response),
    /// Nothing for now.
    Idle,
    /// The client closed the connection.
    Closed,
}

fn read_request(ws: &mut WsStream<TcpStream>) -> Result<Incoming, ()> {
    match ws.read_message() {
        Ok(Some(WsMessage::Text(text))) => Ok(match Request::decode(text.as_bytes()) {
            Ok(request) => Incoming::Request(request),
            Err(error) => Incoming::Malformed(Response::error(0, ApiError::malformed(&error.to_string()))),
        }),
        Ok(Some(WsMessage::Binary(_))) => {
            let _ = ws.close(CloseCode::UNSUPPORTED_DATA, "text messages only");
            Ok(Incoming::Closed)
        }
        Ok(Some(WsMessage::Close(_))) => Ok(Incoming::Closed),
        Ok(None) => Ok(Incoming::Idle),
        Err(error) => {
            if let Some(code) = error.close_code() {
                let _ = ws.close(code, &error.to_string());
            }
            Err(())
        }
    }
}

fn send(ws: &mut WsStream<TcpStream>, text: &str) -> Result<(), ()> {
    ws.send_text(text).map_err(|_| ())
}
