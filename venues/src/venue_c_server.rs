//! Venue C on the network: [`JsonVenue`] served over WebSocket on loopback TCP, paced by the
//! wall clock, with faults injected into its market data on request.
//!
//! Two listeners: market data (subscribe to `<SYMBOL>@depth` / `<SYMBOL>@trade`, ask for a
//! `depth` snapshot) and orders (`session.logon` with an HMAC-signed timestamp, then
//! `order.place` / `order.cancel`). One thread runs everything: each turn of [`JsonVenueServer::run`]
//! accepts connections, runs the flow up to the wall clock, serves every client's requests
//! from non-blocking sockets, publishes depth updates, trades and execution reports, and sleeps
//! for the poll interval. A client that stops reading is disconnected once its send queue is
//! full; an order session that ends has its open orders cancelled.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocols::websocket::CloseCode;
use protocols::ws_api::{ApiError, Call, Logon, OrderChannelMessage, Request, Response};
use protocols::ws_stream::{WsLimits, WsMessage, WsStream};

use crate::clock::unix_now_ms;
use crate::faults::{Connection, FaultCounts, FaultDraws, FaultPlan, FaultPlanError, StreamFaults};
use crate::flow::{MarketSpec, VenueSpec};
use crate::venue_c::{JsonVenue, SessionId, Stream};

/// An API key and its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key, sent in the clear.
    pub key: String,
    /// The secret the logon is signed with.
    pub secret: Vec<u8>,
}

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
    /// How long each turn of the loop sleeps.
    pub poll: Duration,
    /// The longest a new connection may take over its opening handshake.
    pub handshake_timeout: Duration,
    /// How far a logon's timestamp may be from the venue's clock, in milliseconds.
    pub recv_window_ms: u64,
    /// Where market-data clients connect (port 0 picks a free one).
    pub market_data_addr: SocketAddr,
    /// Where order clients connect (port 0 picks a free one).
    pub order_addr: SocketAddr,
}

impl JsonVenueConfig {
    /// A configuration with no faults, default limits, a 50 us poll (each turn's depth changes go
    /// out as one update per symbol), a 1 s handshake timeout,
    /// a 5 s receive window, and both listeners on free loopback ports.
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
    /// Connections whose opening handshake failed.
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

#[derive(Debug)]
struct OrderClient {
    ws: WsStream<TcpStream>,
    session: SessionId,
    logged_on: bool,
}

/// Venue C serving WebSocket clients on loopback.
#[derive(Debug)]
pub struct JsonVenueServer {
    venue: JsonVenue,
    config: JsonVenueConfig,
    market_data: TcpListener,
    orders: TcpListener,
    market_data_clients: Vec<MarketDataClient>,
    order_clients: Vec<OrderClient>,
    last_logon: HashMap<String, u64>,
    next_session: SessionId,
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
            venue: JsonVenue::new(config.market.clone(), config.venue.clone()),
            market_data: bind("market-data", config.market_data_addr)?,
            orders: bind("order", config.order_addr)?,
            market_data_clients: Vec::new(),
            order_clients: Vec::new(),
            last_logon: HashMap::new(),
            next_session: 0,
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

    /// One turn of the loop: the flow up to now (if trading since `opened`), then every client.
    fn turn(&mut self, opened: Option<Instant>) -> Result<(), ServerError> {
        self.accept()?;
        let now = unix_now_ms();
        if let Some(start) = opened {
            self.stats.flow_actions +=
                self.venue.advance_until(start.elapsed().as_nanos() as u64, now) as u64;
        }
        self.serve_market_data();
        self.serve_orders(now);
        self.fault_draws.set_clock(opened.map(|start| start.elapsed()));
        self.publish(now);
        std::thread::sleep(self.config.poll);
        Ok(())
    }

    fn close_all(&mut self) {
        for client in &mut self.market_data_clients {
            let _ = client.ws.close(CloseCode::GOING_AWAY, "venue stopping");
        }
        for client in &mut self.order_clients {
            let _ = client.ws.close(CloseCode::GOING_AWAY, "venue stopping");
        }
    }

    fn accept(&mut self) -> Result<(), ServerError> {
        let symbols = self.venue.symbol_count();
        while let Some(ws) = self.accept_one(true)? {
            self.stats.market_data_clients += 1;
            let client = MarketDataClient {
                ws,
                depth: vec![false; symbols],
                trades: vec![false; symbols],
                faults: StreamFaults::new(),
            };
            self.market_data_clients.push(client);
        }
        while let Some(ws) = self.accept_one(false)? {
            self.stats.order_clients += 1;
            self.next_session += 1;
            self.order_clients.push(OrderClient { ws, session: self.next_session, logged_on: false });
        }
        Ok(())
    }

    /// Accepts one pending connection and completes its handshake (waiting at most the
    /// handshake timeout); `None` when no connection is pending.
    fn accept_one(&mut self, market_data: bool) -> Result<Option<WsStream<TcpStream>>, ServerError> {
        let listener = if market_data { &self.market_data } else { &self.orders };
        loop {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    let channel = if market_data { "market-data" } else { "order" };
                    return Err(ServerError::Accept { channel, source });
                }
            };
            let timeout = self.config.handshake_timeout;
            let handshake = stream
                .set_nonblocking(false)
                .and_then(|()| stream.set_read_timeout(Some(timeout)))
                .and_then(|()| stream.set_write_timeout(Some(timeout)))
                .and_then(|()| stream.set_nodelay(true))
                .map_err(Into::into)
                .and_then(|()| WsStream::accept(stream, self.config.limits, timeout))
                .and_then(|(ws, _path)| ws.get_ref().set_nonblocking(true).map(|()| ws).map_err(Into::into));
            match handshake {
                Ok(ws) => return Ok(Some(ws)),
                Err(_) => self.stats.handshake_failures += 1,
            }
        }
    }

    fn serve_market_data(&mut self) {
        let mut index = 0;
        while index < self.market_data_clients.len() {
            match self.serve_market_data_client(index) {
                Ok(true) => index += 1,
                Ok(false) => {
                    self.market_data_clients.swap_remove(index);
                }
                Err(()) => {
                    self.stats.failed_clients += 1;
                    self.market_data_clients.swap_remove(index);
                }
            }
        }
    }

    /// Answers one client's requests; `Ok(false)` once it closed, `Err` if it failed.
    fn serve_market_data_client(&mut self, index: usize) -> Result<bool, ()> {
        loop {
            let client = &mut self.market_data_clients[index];
            let request = match read_request(&mut client.ws)? {
                Incoming::Request(request) => request,
                Incoming::Malformed(response) => {
                    self.stats.requests_refused += 1;
                    send(&mut client.ws, &response.encode())?;
                    continue;
                }
                Incoming::Idle => return Ok(true),
                Incoming::Closed => return Ok(false),
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

    fn serve_orders(&mut self, now: u64) {
        let mut index = 0;
        while index < self.order_clients.len() {
            let outcome = self.serve_order_client(index, now);
            if outcome == Ok(true) {
                index += 1;
                continue;
            }
            if outcome.is_err() {
                self.stats.failed_clients += 1;
            }
            let client = self.order_clients.swap_remove(index);
            self.venue.end_session(client.session, now);
        }
    }

    fn serve_order_client(&mut self, index: usize, now: u64) -> Result<bool, ()> {
        loop {
            let client = &mut self.order_clients[index];
            let request = match read_request(&mut client.ws)? {
                Incoming::Request(request) => request,
                Incoming::Malformed(response) => {
                    self.stats.requests_refused += 1;
                    send(&mut client.ws, &response.encode())?;
                    continue;
                }
                Incoming::Idle => return Ok(true),
                Incoming::Closed => return Ok(false),
            };
            let (session, logged_on) = (client.session, client.logged_on);
            let outcome = match (&request.call, logged_on) {
                (Call::Logon(logon), _) => self.logon(logon, now).map(|()| {
                    self.order_clients[index].logged_on = true;
                    serde_json::json!({ "apiKey": logon.api_key, "authorizedSince": now })
                }),
                (Call::Place(_) | Call::Cancel(_), false) => Err(ApiError::unauthorized()),
                (Call::Place(place), true) => self.venue.place(session, place, now).map(|id| {
                    self.stats.orders += 1;
                    serde_json::json!({ "orderId": id, "clientOrderId": place.client_order_id })
                }),
                (Call::Cancel(cancel), true) => self
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
    }

    /// Checks a logon: a known key, a valid signature, a timestamp within the receive window
    /// and newer than the key's last logon (so a captured logon cannot be replayed).
    fn logon(&mut self, logon: &Logon, now: u64) -> Result<(), ApiError> {
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

    /// Sends the execution reports waiting in the venue to their sessions.
    fn send_reports(&mut self) {
        for (session, report) in self.venue.take_reports() {
            if let Some(client) = self.order_clients.iter_mut().find(|c| c.session == session) {
                // A failed send shows up as an error on the client's next read.
                let _ = client.ws.send_text(&OrderChannelMessage::Execution(report).encode());
            }
        }
    }

    /// Sends the execution reports, then the market data made since the last turn to its
    /// subscribers, depth updates through each client's faults.
    fn publish(&mut self, now: u64) {
        self.send_reports();
        for data in self.venue.publish(now) {
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
    }
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
