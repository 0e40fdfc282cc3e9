//! Venue A's order-entry server: OUCH 4.2 over SoupBinTCP 3.0 on loopback TCP.
//!
//! One thread serves every connection: the listener and the connections are non-blocking,
//! and each [`poll`](OuchServer::poll) accepts new connections, reads what has arrived, carries
//! out the requests in the venue ([`OrderEntry`]), appends each user's OUCH messages to that
//! user's sequenced store and writes every logged-in connection what it has not been sent,
//! plus heartbeats; silent connections time out. [`run`](OuchServer::run) loops `poll` with the
//! venue's flow paced by the wall clock and a short sleep, until told to stop.
//!
//! A user's sequenced stream outlives its connections: logging in again with the next
//! sequence number replays what was missed. One connection per user at a time; a second login
//! is rejected as "session not available". For recovery tests, the config can force a
//! connection closed once it has been sent a number of sequenced messages.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocols::ouch42::{Inbound, Outbound, MAX_OUTBOUND_LEN};
use protocols::soupbintcp::{LoginRequest, Packet, RejectReason, Session, StreamBuffer};
use protocols::soupbintcp_session::{SequencedStore, ServerEvent, ServerSession, Timing};
use protocols::{alpha, FieldError};

use crate::ouch_orders::{OrderEntry, OrderEntryCounters, UserId};
use crate::venue_a::ItchVenue;

/// A connection whose unsent bytes exceed this is too slow and is closed.
pub const MAX_BACKLOG: usize = 4 << 20;

/// A user allowed to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username (at most 6 characters; compared without regard to case).
    pub username: String,
    /// The password (at most 10 characters).
    pub password: String,
}

/// The server's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OuchServerConfig {
    /// Where to listen (loopback, port 0 for an ephemeral port).
    pub addr: SocketAddr,
    /// The session name (at most 10 characters).
    pub session: String,
    /// The users.
    pub users: Vec<Credentials>,
    /// Heartbeat interval and silence timeout.
    pub timing: Timing,
    /// How long [`run`](OuchServer::run) sleeps between polls.
    pub poll_interval: Duration,
    /// Fault injection: close a connection once it has been sent this many sequenced messages.
    pub disconnect_after: Option<u64>,
}

impl OuchServerConfig {
    /// A loopback server on an ephemeral port for `users`, with the standard timing.
    pub fn loopback(session: &str, users: &[(&str, &str)]) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            session: session.to_owned(),
            users: users
                .iter()
                .map(|&(username, password)| Credentials {
                    username: username.to_owned(),
                    password: password.to_owned(),
                })
                .collect(),
            timing: Timing::default(),
            poll_interval: Duration::from_millis(1),
            disconnect_after: None,
        }
    }
}

/// What the server has done.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OuchStats {
    /// Connections accepted.
    pub connections: u64,
    /// Logins accepted.
    pub logins: u64,
    /// Logins rejected.
    pub login_rejects: u64,
    /// OUCH messages received.
    pub messages_in: u64,
    /// Sequenced messages stored, over all users.
    pub messages_out: u64,
    /// Unsequenced payloads that were not OUCH 4.2 (answered with a debug packet).
    pub bad_messages: u64,
    /// Connections closed for a protocol error (a bad packet, one out of place).
    pub protocol_errors: u64,
    /// Connections closed because the client fell silent.
    pub timeouts: u64,
    /// Connections closed by fault injection or [`OuchServer::force_disconnect`].
    pub forced_disconnects: u64,
    /// Connections closed for falling too far behind.
    pub slow_consumers: u64,
    /// The order entry's counters.
    pub orders: OrderEntryCounters,
}

#[derive(Debug)]
struct User {
    username: String,
    password: String,
    store: SequencedStore,
    connected: bool,
}

#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    session: ServerSession,
    buffer: StreamBuffer,
    outgoing: Vec<u8>,
    user: Option<UserId>,
    /// The first sequence number sent on this connection.
    first_sent: u64,
    /// Close once `outgoing` is written (a reject, a logout, an end of session).
    closing: bool,
    closed: bool,
}

/// The OUCH server of one venue.
#[derive(Debug)]
pub struct OuchServer {
    listener: TcpListener,
    config: OuchServerConfig,
    session: Session,
    users: Vec<User>,
    connections: Vec<Connection>,
    entry: OrderEntry,
    out: Vec<(UserId, Outbound)>,
    flow_events: Vec<(usize, crate::matching::Event)>,
    stats: OuchStats,
}

/// A configuration the server cannot run with, or a listener failure.
#[derive(Debug, thiserror::Error)]
pub enum OuchServerError {
    /// A configured name does not fit its field.
    #[error("OUCH server: {0}")]
    Field(#[from] FieldError),
    /// The listener failed.
    #[error("OUCH server: {0}")]
    Io(#[from] io::Error),
}

impl OuchServer {
    /// Binds the listener.
    pub fn bind(config: OuchServerConfig) -> Result<Self, OuchServerError> {
        let session = alpha("session", &config.session)?;
        for user in &config.users {
            alpha::<6>("username", &user.username)?;
            alpha::<10>("password", &user.password)?;
        }
        let listener = TcpListener::bind(config.addr)?;
        listener.set_nonblocking(true)?;
        let users = config
            .users
            .iter()
            .map(|c| User {
                username: c.username.clone(),
                password: c.password.clone(),
                store: SequencedStore::new(),
                connected: false,
            })
            .collect();
        Ok(Self {
            listener,
            session,
            users,
            connections: Vec::new(),
            entry: OrderEntry::new(),
            out: Vec::new(),
            flow_events: Vec::new(),
            stats: OuchStats::default(),
            config,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What the server has done so far.
    pub fn stats(&self) -> OuchStats {
        OuchStats { orders: self.entry.counters(), ..self.stats }
    }

    /// Closes `username`'s connection, if it has one; returns whether it had.
    pub fn force_disconnect(&mut self, username: &str) -> bool {
        let Some(user) = self.user_index(username) else { return false };
        let mut found = false;
        for connection in self.connections.iter_mut().filter(|c| c.user == Some(user) && !c.closed) {
            connection.closed = true;
            found = true;
        }
        if found {
            self.stats.forced_disconnects += 1;
            self.sweep();
        }
        found
    }

    fn user_index(&self, username: &str) -> Option<UserId> {
        self.users.iter().position(|u| u.username.eq_ignore_ascii_case(username.trim()))
    }

    /// Serves every connection once at `now`, venue time `now_ns` (nanoseconds since the
    /// open): accepts, reads, carries out requests, reports the flow's trades against external
    /// orders, writes. Never blocks. The market data the requests made is left in the venue for
    /// the caller to publish ([`ItchVenue::flush`]).
    pub fn poll(&mut self, venue: &mut ItchVenue, now: Instant, now_ns: u64) -> Result<(), OuchServerError> {
        self.accept(now)?;
        for index in 0..self.connections.len() {
            self.read(index, venue, now, now_ns);
        }
        venue.take_external_events(&mut self.flow_events);
        self.entry.on_flow_events(&self.flow_events, now_ns, &mut self.out);
        self.flow_events.clear();
        self.store_messages();
        self.write_all(now);
        self.sweep();
        Ok(())
    }

    /// Serves until `stop` is set, running the venue's flow by the wall clock and handing
    /// every market-data packet (MoldUDP64) to `publish`.
    pub fn run(
        &mut self,
        venue: &mut ItchVenue,
        stop: &AtomicBool,
        mut publish: impl FnMut(&[u8]),
    ) -> Result<OuchStats, OuchServerError> {
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let now_ns = now.duration_since(start).as_nanos() as u64;
            venue.step_until(now_ns).iter().for_each(|p| publish(p));
            self.poll(venue, now, now_ns)?;
            venue.flush().iter().for_each(|p| publish(p));
            std::thread::sleep(self.config.poll_interval);
        }
        Ok(self.stats())
    }

    fn accept(&mut self, now: Instant) -> io::Result<()> {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(true)?;
                    stream.set_nodelay(true)?;
                    self.stats.connections += 1;
                    self.connections.push(Connection {
                        stream,
                        session: ServerSession::new(self.config.timing, now),
                        buffer: StreamBuffer::new(),
                        outgoing: Vec::new(),
                        user: None,
                        first_sent: 0,
                        closing: false,
                        closed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads what connection `index` has received and handles its packets.
    fn read(&mut self, index: usize, venue: &mut ItchVenue, now: Instant, now_ns: u64) {
        let mut chunk = [0u8; 4096];
        let connection = &mut self.connections[index];
        while !connection.closed && !connection.closing {
            match connection.stream.read(&mut chunk) {
                Ok(0) => connection.closed = true,
                Ok(n) => connection.buffer.extend(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => connection.closed = true,
            }
        }
        loop {
            let connection = &mut self.connections[index];
            if connection.closing {
                return;
            }
            let packet = match connection.buffer.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return,
                Err(_) => return self.protocol_error(index),
            };
            let event = match connection.session.on_packet(packet, now) {
                Ok(event) => event,
                Err(_) => return self.protocol_error(index),
            };
            match event {
                ServerEvent::None => {}
                ServerEvent::LoginRequested(request) => self.login(index, &request, now),
                ServerEvent::Message(payload) => {
                    let user = connection.user.expect("messages come only after a login");
                    self.stats.messages_in += 1;
                    match Inbound::decode(payload) {
                        Ok(message) => self.entry.on_message(user, message, venue, now_ns, &mut self.out),
                        Err(error) => {
                            self.stats.bad_messages += 1;
                            let text = error.to_string();
                            Packet::Debug(text.as_bytes())
                                .encode(&mut connection.outgoing)
                                .expect("short text");
                        }
                    }
                }
                ServerEvent::LoggedOut => connection.closing = true,
            }
        }
    }

    fn protocol_error(&mut self, index: usize) {
        self.stats.protocol_errors += 1;
        self.connections[index].closed = true;
    }

    fn login(&mut self, index: usize, request: &LoginRequest, now: Instant) {
        let username = String::from_utf8_lossy(&request.username);
        let password = String::from_utf8_lossy(&request.password);
        let user =
            self.user_index(&username).filter(|&u| self.users[u].password == password.trim_end_matches(' '));
        let wanted = request.session;
        let connection = &mut self.connections[index];
        let reason = match user {
            None => Some(RejectReason::NotAuthorized),
            Some(u) if self.users[u].connected => Some(RejectReason::SessionNotAvailable),
            Some(_) if wanted != [b' '; 10] && wanted != self.session => {
                Some(RejectReason::SessionNotAvailable)
            }
            Some(_) => None,
        };
        match (reason, user) {
            (None, Some(u)) => {
                self.stats.logins += 1;
                self.users[u].connected = true;
                connection.user = Some(u);
                connection.session.accept(
                    request,
                    self.session,
                    &self.users[u].store,
                    now,
                    &mut connection.outgoing,
                );
                connection.first_sent = connection.session.next_to_send();
            }
            (reason, _) => {
                self.stats.login_rejects += 1;
                let reason = reason.unwrap_or(RejectReason::NotAuthorized);
                connection.session.reject(reason, now, &mut connection.outgoing);
                connection.closing = true;
            }
        }
    }

    /// Appends the order entry's messages to their users' stores.
    fn store_messages(&mut self) {
        let mut bytes = [0u8; MAX_OUTBOUND_LEN];
        for (user, message) in self.out.drain(..) {
            let len = message.encode(&mut bytes);
            self.users[user].store.push(&bytes[..len]);
            self.stats.messages_out += 1;
        }
    }

    /// Sends every connection its new sequenced messages and heartbeats, and writes.
    fn write_all(&mut self, now: Instant) {
        for connection in self.connections.iter_mut().filter(|c| !c.closed) {
            if let Some(user) = connection.user {
                let store = &self.users[user].store;
                let end = match self.config.disconnect_after {
                    Some(limit) => store.next_sequence().min(connection.first_sent + limit),
                    None => store.next_sequence(),
                };
                connection
                    .session
                    .flush_until(store, end, now, &mut connection.outgoing)
                    .expect("OUCH messages fit");
                let sent = connection.session.next_to_send() - connection.first_sent;
                if self.config.disconnect_after.is_some_and(|limit| sent >= limit) && !connection.closing {
                    self.stats.forced_disconnects += 1;
                    connection.closing = true;
                }
            }
            if connection.session.poll(now, &mut connection.outgoing).is_err() {
                self.stats.timeouts += 1;
                connection.closed = true;
                continue;
            }
            match write_some(&mut connection.stream, &mut connection.outgoing) {
                Ok(()) if connection.closing && connection.outgoing.is_empty() => connection.closed = true,
                Ok(()) if connection.outgoing.len() > MAX_BACKLOG => {
                    self.stats.slow_consumers += 1;
                    connection.closed = true;
                }
                Ok(()) => {}
                Err(_) => connection.closed = true,
            }
        }
    }

    /// Drops closed connections and frees their users.
    fn sweep(&mut self) {
        for connection in self.connections.iter().filter(|c| c.closed) {
            if let Some(user) = connection.user {
                self.users[user].connected = false;
            }
            let _ = connection.stream.shutdown(std::net::Shutdown::Both);
        }
        self.connections.retain(|c| !c.closed);
    }
}

/// Writes as much of `outgoing` as the socket takes now, keeping the rest.
fn write_some(stream: &mut TcpStream, outgoing: &mut Vec<u8>) -> io::Result<()> {
    let mut written = 0;
    while written < outgoing.len() {
        match stream.write(&outgoing[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    outgoing.drain(..written);
    Ok(())
}
