//! Venue B on loopback TCP: [`FixVenue`] paced by the wall clock, FIX sessions that last the
//! venue's life (its trading day) across connections, market-data subscriptions, order entry,
//! and injected faults.
//!
//! Each turn of [`FixVenueServer::run`] accepts connections, reads and answers what clients
//! sent (at most [`MAX_READ_PER_TURN`] bytes of each, so one client cannot stall the others),
//! drops the connections that ended (cancelling their clients' resting orders: cancel on
//! disconnect, whether the session logged out, was cut or failed), runs the flow's actions the
//! wall clock has made due, sends their incremental refreshes to subscribers and reports to
//! order owners, keeps sessions alive, and writes what is pending, all on non-blocking
//! sockets; it sleeps 50 us when there was nothing to do, and returns once `stop` is set.
//!
//! A session belongs to the client's CompID. When its connection ends it is parked, not
//! dropped: the cancels of cancel-on-disconnect are reported into it (numbered and kept, as
//! any report meant for a client that is not connected), so they reach the client when it
//! comes back. A Logon with ResetSeqNumFlag=N from that CompID resumes the parked session
//! (taking it over from a connection the venue has not yet seen end, which is cut), and the
//! client asks for what it missed; one with ResetSeqNumFlag=Y starts afresh, as does a
//! resume from a CompID the venue has no session for (it restarted): the answer carries
//! ResetSeqNumFlag=Y, so the client can tell. Subscriptions belong to the connection. Memory
//! stays bounded: one parked session per CompID, each keeping at most
//! [`FixVenueConfig::retention`] messages.
//!
//! Faults act on incremental refreshes only, after they are numbered: a dropped refresh keeps
//! its MsgSeqNum, so the client sees a gap and asks for a resend; a duplicated one is sent
//! again as a possible duplicate (PossDupFlag=Y); a reordered one is held back and sent after
//! the next message (or at the end of the turn). A forced disconnect closes a connection
//! without a Logout (at random, or after every so many refreshes numbered for it). Faults act
//! while the venue trades, not while it lingers.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocols::fix::{self, tag, Writer};
use protocols::fix44::{
    Body, MarketDataIncremental, MarketDataRequest, MarketDataSnapshot, MdEntries, SubscriptionRequestType,
};
use protocols::fix_session::{possible_duplicate, Incoming, Session, SessionConfig, State};

use crate::clock::unix_now_ns;
use crate::faults::{Connection, Delivery, FaultCounts, FaultDraws, FaultPlan, FaultPlanError, StreamFaults};
use crate::flow::{MarketSpec, VenueSpec};
use crate::venue_b::{FixVenue, VenueOutput};

/// A connection whose unsent output grows past this is cut (a consumer that does not read).
const MAX_PENDING_OUTPUT: usize = 64 << 20;

/// The most bytes read from one client in one turn, so a client that sends without pause
/// cannot hold up the others and the flow: the rest waits in its socket for the next turn.
pub const MAX_READ_PER_TURN: usize = 64 << 10;

/// SessionRejectReason (373): invalid MsgType.
const INVALID_MSG_TYPE: u32 = 11;

/// How venue B is set up.
#[derive(Debug, Clone)]
pub struct FixVenueConfig {
    /// The symbols.
    pub market: MarketSpec,
    /// The flow.
    pub venue: VenueSpec,
    /// The venue's CompID.
    pub comp_id: String,
    /// How many sent messages each session keeps for resends.
    pub retention: usize,
    /// Faults injected into incremental refreshes.
    pub faults: FaultPlan,
    /// Stop the flow this long after `run` starts (the server keeps serving), so a test can
    /// let every client catch up with a book that no longer moves.
    pub flow_for_ns: Option<u64>,
    /// Where clients connect (port 0 picks a free one).
    pub addr: SocketAddr,
}

impl FixVenueConfig {
    /// `market` with `venue`'s flow, CompID `VENUEB`, no faults, on a free loopback port.
    pub fn new(market: MarketSpec, venue: VenueSpec) -> Self {
        Self {
            market,
            venue,
            comp_id: "VENUEB".into(),
            retention: 1 << 20,
            faults: FaultPlan::NONE,
            flow_for_ns: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// What a server did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted.
    pub connections: u64,
    /// Sessions logged on.
    pub logons: u64,
    /// Flow actions run.
    pub actions: u64,
    /// Incremental refreshes numbered for a client (whether sent or dropped).
    pub refreshes: u64,
    /// Snapshots sent.
    pub snapshots: u64,
    /// Faults injected into refreshes (and connections cut).
    pub faults: FaultCounts,
    /// Order messages taken.
    pub orders: u64,
    /// Reports sent.
    pub reports: u64,
    /// Messages refused as malformed or invalid.
    pub invalid: u64,
    /// Sessions ended by an error (silence, sequence, framing).
    pub session_errors: u64,
    /// Resting orders cancelled because their client's connection ended.
    pub cancelled_on_disconnect: u64,
}

/// Why the server stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket failed.
    #[error("venue B server: {0}")]
    Io(#[from] io::Error),
    /// The fault plan is unusable.
    #[error("venue B faults: {0}")]
    Faults(#[from] FaultPlanError),
}

#[derive(Debug)]
struct Client {
    /// The venue's client: the session's owner for the day (a resumed session brings its own).
    id: u64,
    stream: TcpStream,
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
    /// From the first message on, until the connection ends (or another takes it over).
    session: Option<Session>,
    /// The session has numbers worth keeping when the connection ends: it logged on, or it
    /// was resumed.
    parkable: bool,
    /// The MDReqID (262) each symbol's refreshes answer, while subscribed.
    subscriptions: Vec<Option<String>>,
    faults: StreamFaults<[u8]>,
    closing: bool,
}

impl Client {
    /// Sends `body` on a logged-on session, after what the session had pending; returns
    /// whether there was one.
    fn send(&mut self, body: &Body<'_>, now_ns: u64) -> bool {
        let Some(session) = self.session.as_mut().filter(|s| s.state() == State::Active) else {
            return false;
        };
        session.drain_output(&mut self.write_buf);
        self.write_buf.extend_from_slice(session.send(body, now_ns));
        true
    }
}

/// A session whose connection ended, waiting for its client to come back.
#[derive(Debug)]
struct Parked {
    /// The venue's client it belongs to.
    client: u64,
    session: Session,
}

/// How long a turn with nothing to do sleeps.
const IDLE_SLEEP: Duration = Duration::from_micros(50);

/// Venue B serving FIX on loopback.
#[derive(Debug)]
pub struct FixVenueServer {
    listener: TcpListener,
    config: FixVenueConfig,
    venue: FixVenue,
    clients: Vec<Client>,
    /// Sessions without a connection, by the client's CompID.
    parked: HashMap<String, Parked>,
    next_client: u64,
    fault_draws: FaultDraws,
    duplicates: Writer,
    out: VenueOutput,
    stats: Stats,
    /// Nanoseconds since the session opened: the venue's session clock.
    session_ns: u64,
    /// When trading started.
    opened: Option<Instant>,
}

impl FixVenueServer {
    /// Checks the fault plan and binds the configured address.
    pub fn bind(config: FixVenueConfig) -> Result<Self, ServerError> {
        config.faults.validate()?;
        let listener = TcpListener::bind(config.addr)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            venue: FixVenue::new(config.market.clone(), config.venue.clone()),
            fault_draws: FaultDraws::new(config.faults),
            config,
            clients: Vec::new(),
            parked: HashMap::new(),
            next_client: 1,
            duplicates: Writer::new(),
            out: VenueOutput::default(),
            stats: Stats::default(),
            session_ns: 0,
            opened: None,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The venue (its engines hold the true books).
    pub fn venue(&self) -> &FixVenue {
        &self.venue
    }

    /// What the server has done so far.
    pub fn stats(&self) -> Stats {
        Stats { faults: self.fault_draws.counts(), ..self.stats }
    }

    /// Serves until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<Stats, ServerError> {
        self.trade_until(stop)
    }

    /// Trades (the flow by the wall clock, orders, market data) until `close` is set; sessions
    /// stay up.
    pub fn trade_until(&mut self, close: &AtomicBool) -> Result<Stats, ServerError> {
        let start = *self.opened.get_or_insert_with(Instant::now);
        while !close.load(Ordering::Acquire) {
            let since_open = start.elapsed();
            self.session_ns = since_open.as_nanos() as u64;
            self.fault_draws.set_clock(Some(since_open));
            let flow_limit = self.config.flow_for_ns.map_or(self.session_ns, |f| self.session_ns.min(f));
            self.turn(Some(flow_limit))?;
        }
        Ok(self.stats())
    }

    /// After the close: serves sessions (snapshots, resends, orders) with the flow stopped
    /// until `deadline`, so feeds settle on the closing books.
    pub fn linger_until(&mut self, deadline: Instant) -> Result<Stats, ServerError> {
        self.fault_draws.set_clock(None);
        while Instant::now() < deadline {
            self.turn(None)?;
        }
        Ok(self.stats())
    }

    /// One turn: accept, read every client, drop the connections that ended (cancelling their
    /// orders), advance the flow to `flow_limit` (if trading), publish, write; sleeps briefly
    /// if there was nothing to do. A connection that ends while publishing or writing is
    /// dropped at the next turn.
    fn turn(&mut self, flow_limit: Option<u64>) -> Result<(), ServerError> {
        let now_ns = unix_now_ns();
        let mut busy = self.accept()?;
        for i in 0..self.clients.len() {
            busy |= self.read(i, now_ns);
        }
        busy |= self.drop_closed();
        if let Some(limit) = flow_limit {
            let actions = self.venue.advance_until(limit, &mut self.out);
            self.stats.actions += actions as u64;
            busy |= actions > 0;
        }
        self.publish(now_ns);
        for client in &mut self.clients {
            busy |= keep_alive_and_write(client, now_ns, &mut self.stats);
        }
        if !busy {
            // Short, so the flow's messages go out close to when they happen rather than in
            // millisecond batches (which a feed would see as latency).
            std::thread::sleep(IDLE_SLEEP);
        }
        Ok(())
    }

    /// Drops the connections that ended, cancelling their clients' resting orders and parking
    /// their sessions (the refreshes and reports go out with this turn's); returns whether any
    /// was dropped.
    fn drop_closed(&mut self) -> bool {
        let before = self.clients.len();
        for i in 0..self.clients.len() {
            if self.clients[i].closing {
                // Best effort: a Logout answer or a reject may still be pending.
                write_pending(&mut self.clients[i]);
                self.park(i);
            }
        }
        self.clients.retain(|client| !client.closing);
        self.clients.len() < before
    }

    /// Ends connection `i`'s hold on its session: the client's resting orders are cancelled
    /// (reported into the session) and the session is parked if it has numbers to keep.
    fn park(&mut self, i: usize) {
        let client = &mut self.clients[i];
        let Some(session) = client.session.take() else { return };
        let cancelled = self.venue.end_session(client.id, self.session_ns, &mut self.out);
        self.stats.cancelled_on_disconnect += cancelled as u64;
        if client.parkable {
            let comp_id = session.config().target_comp_id.clone();
            self.parked.insert(comp_id, Parked { client: client.id, session });
        }
    }

    /// Gives connection `i` its session at its first message: the one `peer` left if the
    /// message is a Logon resuming it (ResetSeqNumFlag=N), taken over from any connection
    /// still holding it (the venue may not yet have seen that one end; it is cut); else a
    /// fresh one, which answers a resume with ResetSeqNumFlag=Y.
    fn open_session(&mut self, i: usize, frame: &fix::Frame<'_>, now_ns: u64) {
        let peer = frame.get(tag::SENDER_COMP_ID).and_then(|v| std::str::from_utf8(v).ok()).unwrap_or("?");
        let resumes = frame.msg_type() == b"A" && frame.get(tag::RESET_SEQ_NUM_FLAG) != Some(b"Y".as_slice());
        if resumes {
            for j in 0..self.clients.len() {
                let holder = &mut self.clients[j];
                let holds = holder.parkable
                    && holder.session.as_ref().is_some_and(|s| s.config().target_comp_id == peer);
                if j != i && holds {
                    let _ = holder.stream.shutdown(Shutdown::Both);
                    holder.closing = true;
                    self.park(j);
                }
            }
            if let Some(Parked { client, mut session }) = self.parked.remove(peer) {
                session.reconnected(now_ns);
                let connection = &mut self.clients[i];
                (connection.id, connection.parkable, connection.session) = (client, true, Some(session));
                return;
            }
        }
        let config = SessionConfig {
            sender_comp_id: self.config.comp_id.clone(),
            target_comp_id: peer.to_owned(),
            heartbeat_interval_s: 30,
            retention: self.config.retention,
        };
        self.clients[i].session = Some(Session::accept(config, now_ns));
    }

    fn accept(&mut self) -> io::Result<bool> {
        let mut accepted = false;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(true)?;
                    stream.set_nodelay(true)?;
                    self.clients.push(Client {
                        id: self.next_client,
                        stream,
                        read_buf: Vec::new(),
                        write_buf: Vec::new(),
                        session: None,
                        parkable: false,
                        subscriptions: vec![None; self.venue.symbol_count()],
                        faults: StreamFaults::new(),
                        closing: false,
                    });
                    self.next_client += 1;
                    self.stats.connections += 1;
                    accepted = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(accepted),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads what client `i` sent (at most [`MAX_READ_PER_TURN`] bytes) and handles every
    /// whole message.
    fn read(&mut self, i: usize, now_ns: u64) -> bool {
        let client = &mut self.clients[i];
        let mut chunk = [0u8; 16 << 10];
        let mut got = false;
        let mut read = 0;
        while read < MAX_READ_PER_TURN {
            let room = chunk.len().min(MAX_READ_PER_TURN - read);
            match client.stream.read(&mut chunk[..room]) {
                Ok(0) => {
                    client.closing = true;
                    break;
                }
                Ok(n) => {
                    client.read_buf.extend_from_slice(&chunk[..n]);
                    read += n;
                    got = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    client.closing = true;
                    break;
                }
            }
        }
        let buf = std::mem::take(&mut self.clients[i].read_buf);
        let mut used = 0;
        loop {
            match fix::frame(&buf[used..]) {
                Ok(Some((frame, n))) => {
                    used += n;
                    self.on_frame(i, &frame, now_ns);
                }
                Ok(None) => break,
                Err(error) => {
                    // The stream cannot be cut past a framing error.
                    self.stats.invalid += 1;
                    let client = &mut self.clients[i];
                    if let Some(session) = &mut client.session {
                        session.logout(Some(&error.to_string()), now_ns);
                        session.drain_output(&mut client.write_buf);
                    }
                    client.closing = true;
                    break;
                }
            }
        }
        let client = &mut self.clients[i];
        client.read_buf = buf;
        client.read_buf.drain(..used);
        got
    }

    fn on_frame(&mut self, i: usize, frame: &fix::Frame<'_>, now_ns: u64) {
        let client = &self.clients[i];
        if client.session.is_none() {
            if client.parkable {
                // Its session was taken over by a new connection: nothing more is read here.
                return;
            }
            // The first message names the client; the session checks it is a Logon to us.
            self.open_session(i, frame, now_ns);
        }
        let client = &mut self.clients[i];
        let Some(session) = client.session.as_mut() else { return };
        let result = session.on_frame(frame, now_ns);
        session.drain_output(&mut client.write_buf);
        client.parkable |= session.state() == State::Active;
        match result {
            Ok(Incoming::App(message)) => self.on_app(i, &message.body, message.header.msg_seq_num, now_ns),
            Ok(Incoming::LoggedOn) => {
                self.stats.logons += 1;
                if !session.is_resumed() {
                    // The client started afresh: what it left parked is over.
                    self.parked.remove(&session.config().target_comp_id);
                }
            }
            Ok(Incoming::LoggedOut) => client.closing = true,
            Ok(Incoming::Admin | Incoming::Duplicate | Incoming::Discarded) => {}
            Err(error) if error.is_fatal() => {
                self.stats.session_errors += 1;
                client.closing = true;
            }
            Err(_) => self.stats.invalid += 1,
        }
    }

    fn on_app(&mut self, i: usize, body: &Body<'_>, seq: u64, now_ns: u64) {
        if let Body::MarketDataRequest(request) = body {
            return self.subscribe(i, request, now_ns);
        }
        let client_id = self.clients[i].id;
        if self.venue.on_order(client_id, body, self.session_ns, &mut self.out) {
            self.stats.orders += 1;
            return;
        }
        self.stats.invalid += 1;
        let text = format!("venue B does not take MsgType {}", body.msg_type());
        let reject = Body::Reject { ref_seq_num: seq, reason: Some(INVALID_MSG_TYPE), text: Some(&text) };
        self.clients[i].send(&reject, now_ns);
    }

    /// Answers a MarketDataRequest: a snapshot of each symbol (then its refreshes, if asked),
    /// or a reject naming a symbol the venue does not trade.
    fn subscribe(&mut self, i: usize, request: &MarketDataRequest<'_>, now_ns: u64) {
        let client = &mut self.clients[i];
        let mut entries = Vec::new();
        for symbol in &request.symbols {
            let Some(index) = self.venue.symbol(symbol) else {
                let text = format!("unknown symbol {symbol}");
                let reject =
                    Body::MarketDataRequestReject { md_req_id: request.md_req_id, text: Some(&text) };
                client.send(&reject, now_ns);
                continue;
            };
            match request.subscription {
                SubscriptionRequestType::Unsubscribe => {
                    client.subscriptions[index] = None;
                    continue;
                }
                SubscriptionRequestType::SnapshotAndUpdates => {
                    client.subscriptions[index] = Some(request.md_req_id.to_owned());
                }
                SubscriptionRequestType::Snapshot => {}
            }
            self.venue.snapshot(index, &mut entries);
            let snapshot = Body::MarketDataSnapshot(MarketDataSnapshot {
                md_req_id: Some(request.md_req_id),
                symbol,
                entries: MdEntries::from_slice(&entries),
            });
            if client.send(&snapshot, now_ns) {
                self.stats.snapshots += 1;
            }
        }
    }

    /// Sends the refreshes and reports the last turn produced.
    fn publish(&mut self, now_ns: u64) {
        let mut entries = Vec::new();
        for update in &self.out.market_data {
            self.venue.entries(update, &mut entries);
            for client in &mut self.clients {
                // Each refresh names the request it answers (262 is required in a response).
                let Some(md_req_id) =
                    client.subscriptions[update.symbol].as_deref().filter(|_| !client.closing)
                else {
                    continue;
                };
                let refresh = Body::MarketDataIncremental(MarketDataIncremental {
                    md_req_id: Some(md_req_id),
                    entries: MdEntries::from_slice(&entries),
                });
                let Some(session) = client.session.as_mut().filter(|s| s.state() == State::Active) else {
                    continue;
                };
                session.drain_output(&mut client.write_buf);
                let bytes = session.send(&refresh, now_ns);
                self.stats.refreshes += 1;
                let (write_buf, duplicates) = (&mut client.write_buf, &mut self.duplicates);
                let connection =
                    client.faults.pass(&mut self.fault_draws, bytes, |bytes, delivery| match delivery {
                        Delivery::Original | Delivery::Late => write_buf.extend_from_slice(bytes),
                        // The copy is resent as a possible duplicate, with its original MsgSeqNum.
                        Delivery::Duplicate => {
                            if let Ok(copy) = possible_duplicate(duplicates, bytes, now_ns) {
                                write_buf.extend_from_slice(copy);
                            }
                        }
                    });
                if connection == Connection::Cut {
                    client.write_buf.clear();
                    let _ = client.stream.shutdown(Shutdown::Both);
                    client.closing = true;
                }
            }
        }
        // A refresh held back goes out after the next one, or at the latest at the turn's end.
        for client in &mut self.clients {
            let write_buf = &mut client.write_buf;
            client.faults.flush(|held, _| write_buf.extend_from_slice(held));
        }
        for report in &self.out.reports {
            let body = report.body();
            let held = self.clients.iter_mut().find(|c| c.id == report.client && c.session.is_some());
            let session = match held {
                Some(client) => {
                    if client.send(&body, now_ns) {
                        self.stats.reports += 1;
                        continue;
                    }
                    client.session.as_mut()
                }
                None => self.parked.values_mut().find(|p| p.client == report.client).map(|p| &mut p.session),
            };
            // Not connected (or not logged on): numbered and kept, for when the client asks.
            if let Some(session) = session {
                session.send(&body, now_ns);
            }
        }
        self.out.clear();
    }
}

/// Runs the session's timers and writes what is pending; marks the client closing when its
/// session is over or its socket failed. Returns whether anything was written.
fn keep_alive_and_write(client: &mut Client, now_ns: u64, stats: &mut Stats) -> bool {
    if let Some(session) = &mut client.session {
        if session.on_timer(now_ns).is_err() {
            stats.session_errors += 1;
            client.closing = true;
        }
        session.drain_output(&mut client.write_buf);
        if session.state() == State::Closed {
            client.closing = true;
        }
    }
    write_pending(client)
}

/// Writes what is pending for `client` as far as its socket takes it; marks the client closing
/// when the socket failed or the backlog is too large. Returns whether anything was written.
fn write_pending(client: &mut Client) -> bool {
    let mut written = 0;
    while written < client.write_buf.len() {
        match client.stream.write(&client.write_buf[written..]) {
            Ok(0) => {
                client.closing = true;
                break;
            }
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                client.closing = true;
                break;
            }
        }
    }
    client.write_buf.drain(..written);
    if client.write_buf.len() > MAX_PENDING_OUTPUT {
        client.closing = true;
    }
    written > 0
}
