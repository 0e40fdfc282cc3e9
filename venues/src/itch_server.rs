//! Venue A on the network: its ITCH 5.0 market data in MoldUDP64 packets over UDP (unicast or
//! multicast), paced by the wall clock, and its MoldUDP64 re-request server.
//!
//! One thread runs everything: it advances the order flow to the time since the session opened,
//! serves the OUCH order-entry sessions (when configured), sends the market data all that made
//! (through the configured [`FaultPlan`]), answers re-requests,
//! sends a heartbeat when it has been quiet for `heartbeat_interval`, and sleeps briefly when
//! there is nothing to do. A blackout stops all market data, heartbeats included, for a while,
//! as a feed's link going down would, so the feed only learns of the loss from the next
//! packet's sequence number.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocols::moldudp64::{Request, Session, HEADER_LEN};

use crate::faults::{Connection, FaultCounts, FaultDraws, FaultPlan, FaultPlanError, StreamFaults};
use crate::flow::{MarketSpec, VenueSpec};
use crate::ouch_server::{OuchServer, OuchServerConfig, OuchServerError, OuchStats};
use crate::venue_a::ItchVenue;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is unusable.
    #[error("venue A config: {0}")]
    Config(String),
    /// The fault plan is unusable.
    #[error("venue A faults: {0}")]
    Faults(#[from] FaultPlanError),
    /// The OUCH order-entry server failed.
    #[error("venue A order entry: {0}")]
    OrderEntry(#[from] OuchServerError),
    /// A socket call failed.
    #[error("venue A {what}: {source}")]
    Io {
        /// What the server was doing.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

fn io_error(what: &'static str) -> impl FnOnce(io::Error) -> ServerError {
    move |source| ServerError::Io { what, source }
}

/// Everything venue A's server needs.
#[derive(Debug, Clone)]
pub struct ItchServerConfig {
    /// The symbols and the shared fair-value model.
    pub market: MarketSpec,
    /// This venue's flow: rate, lag, noise.
    pub venue: VenueSpec,
    /// The MoldUDP64 session name.
    pub session: Session,
    /// Where market data goes: a unicast address or a multicast group and port.
    pub destination: SocketAddr,
    /// Where the re-request server listens (port 0 picks a free one).
    pub rerequest: SocketAddr,
    /// How long the feed may be silent before a heartbeat is sent.
    pub heartbeat_interval: Duration,
    /// Faults injected into market data (never into re-request answers); multicast has no
    /// connection to cut, so the plan may not disconnect.
    pub faults: FaultPlan,
    /// Periods, counted from the session's opening, during which no market data is sent.
    pub blackouts: Vec<(Duration, Duration)>,
    /// OUCH 4.2 over SoupBinTCP order entry, if the venue takes orders.
    pub order_entry: Option<OuchServerConfig>,
}

/// What the server did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Market-data packets sent (including duplicates and heartbeats).
    pub packets_sent: u64,
    /// Messages sequenced.
    pub messages: u64,
    /// Re-requests answered.
    pub rerequests: u64,
    /// Market-data packets the socket refused (lost, as on a network; feeds re-request them).
    pub failed_sends: u64,
    /// Re-requests that did not decode or asked for another session.
    pub bad_rerequests: u64,
    /// Re-requests that could not be received or answered in full (a socket error, a full send
    /// buffer); the server carries on and the feed asks again.
    pub failed_rerequests: u64,
    /// Packets held back by a blackout.
    pub blacked_out: u64,
    /// Faults injected.
    pub faults: FaultCounts,
    /// What the order-entry server did.
    pub order_entry: OuchStats,
}

/// Sends one market-data packet, counting it as sent or failed.
fn send_counted(socket: &UdpSocket, packet: &[u8], destination: SocketAddr, stats: &mut ServerStats) {
    match socket.send_to(packet, destination) {
        Ok(_) => stats.packets_sent += 1,
        Err(_) => stats.failed_sends += 1,
    }
}

/// Venue A bound to its sockets, ready to run.
#[derive(Debug)]
pub struct ItchServer {
    venue: ItchVenue,
    session: Session,
    market_data: UdpSocket,
    destination: SocketAddr,
    rerequests: UdpSocket,
    heartbeat_interval: Duration,
    fault_draws: FaultDraws,
    faults: StreamFaults<[u8]>,
    blackouts: Vec<(Duration, Duration)>,
    order_entry: Option<OuchServer>,
    stats: ServerStats,
}

impl ItchServer {
    /// Binds the market-data and re-request sockets.
    pub fn bind(config: ItchServerConfig) -> Result<Self, ServerError> {
        config.faults.validate()?;
        if config.faults.disconnects() {
            return Err(ServerError::Config("market data over UDP has no connection to cut".into()));
        }
        if config.heartbeat_interval.is_zero() {
            return Err(ServerError::Config("heartbeat_interval must be positive".into()));
        }
        let local = if config.destination.ip().is_loopback() || config.destination.ip().is_multicast() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        let market_data = UdpSocket::bind((local, 0)).map_err(io_error("bind market data socket"))?;
        if let IpAddr::V4(group) = config.destination.ip() {
            if group.is_multicast() {
                market_data.set_multicast_loop_v4(true).map_err(io_error("enable multicast loop"))?;
                market_data.set_multicast_ttl_v4(0).map_err(io_error("keep multicast on this host"))?;
            }
        }
        let order_entry = config.order_entry.map(OuchServer::bind).transpose()?;
        let rerequests = UdpSocket::bind(config.rerequest).map_err(io_error("bind re-request socket"))?;
        rerequests.set_nonblocking(true).map_err(io_error("make re-request socket non-blocking"))?;
        Ok(Self {
            venue: ItchVenue::new(config.market, config.venue, config.session),
            session: config.session,
            market_data,
            destination: config.destination,
            rerequests,
            heartbeat_interval: config.heartbeat_interval,
            fault_draws: FaultDraws::new(config.faults),
            faults: StreamFaults::new(),
            blackouts: config.blackouts,
            order_entry,
            stats: ServerStats::default(),
        })
    }

    /// The address re-requests go to.
    pub fn rerequest_addr(&self) -> io::Result<SocketAddr> {
        self.rerequests.local_addr()
    }

    /// The address of the OUCH order-entry server, if the venue takes orders.
    pub fn order_entry_addr(&self) -> Option<io::Result<SocketAddr>> {
        self.order_entry.as_ref().map(OuchServer::local_addr)
    }

    /// Where market data goes.
    pub fn destination(&self) -> SocketAddr {
        self.destination
    }

    /// The venue, for its books.
    pub fn venue(&self) -> &ItchVenue {
        &self.venue
    }

    /// What the server did so far.
    pub fn stats(&self) -> ServerStats {
        let order_entry = self.order_entry.as_ref().map(OuchServer::stats).unwrap_or_default();
        ServerStats { faults: self.fault_draws.counts(), order_entry, ..self.stats }
    }

    /// Opens the session and runs it until `stop` is set, then sends the last heartbeat so a
    /// feed can see everything it missed. The flow stops with the session; re-requests are
    /// served to the end.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<ServerStats, ServerError> {
        let opened = Instant::now();
        let packets = self.venue.open();
        self.send_all(packets, Duration::ZERO);
        let mut last_sent = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let elapsed = now - opened;
            let now_ns = elapsed.as_nanos() as u64;
            self.fault_draws.set_clock(Some(elapsed));
            let mut packets = self.venue.step_until(now_ns);
            if let Some(order_entry) = &mut self.order_entry {
                order_entry.poll(&mut self.venue, now, now_ns)?;
                packets.extend(self.venue.flush());
            }
            let busy = !packets.is_empty();
            if busy {
                self.send_all(packets, elapsed);
                last_sent = Instant::now();
            } else if last_sent.elapsed() >= self.heartbeat_interval && !self.in_blackout(elapsed) {
                // A heartbeat in a blackout would tell the feed the sequence it cannot have.
                self.heartbeat();
                last_sent = Instant::now();
            }
            let served = self.serve_rerequests();
            if !busy && !served {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        self.fault_draws.set_clock(None);
        let mut held = None;
        self.faults.flush(|packet, _| held = Some(packet.to_vec()));
        if let Some(packet) = held {
            self.send(&packet);
        }
        self.heartbeat();
        self.stats.messages = self.venue.next_sequence() - 1;
        Ok(self.stats())
    }

    /// Answers re-requests until `stop` is set or `deadline` passes (after
    /// [`ItchServer::run`], so feeds can still fill the session's tail), sleeping briefly
    /// between polls.
    pub fn serve_until(&mut self, stop: &AtomicBool, deadline: Option<Instant>) -> Result<(), ServerError> {
        while !stop.load(Ordering::Relaxed) && deadline.map_or(true, |d| Instant::now() < d) {
            if !self.serve_rerequests() {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        Ok(())
    }

    fn in_blackout(&self, elapsed: Duration) -> bool {
        self.blackouts.iter().any(|&(start, length)| elapsed >= start && elapsed < start + length)
    }

    /// Sends `packets` through the fault plan, unless a blackout is on. A packet the socket
    /// refuses (a full buffer, say) is counted and lost, as on a real network: the feed
    /// re-requests it.
    fn send_all(&mut self, packets: Vec<Vec<u8>>, elapsed: Duration) {
        if self.in_blackout(elapsed) {
            self.stats.blacked_out += packets.len() as u64;
            return;
        }
        for packet in packets {
            let (socket, destination, stats) = (&self.market_data, self.destination, &mut self.stats);
            let connection = self.faults.pass(&mut self.fault_draws, &packet, |packet, _| {
                send_counted(socket, packet, destination, stats);
            });
            debug_assert_eq!(connection, Connection::Keep, "bind refuses plans that disconnect");
        }
    }

    fn send(&mut self, packet: &[u8]) {
        send_counted(&self.market_data, packet, self.destination, &mut self.stats);
    }

    fn heartbeat(&mut self) {
        let heartbeat = self.venue.heartbeat();
        self.send(&heartbeat);
    }

    /// Answers the waiting re-requests (up to 64); whether there was any. A request that cannot
    /// be received or answered is counted, never the end of the venue.
    fn serve_rerequests(&mut self) -> bool {
        let mut buf = [0u8; 64];
        let mut any = false;
        for _ in 0..64 {
            let (len, from) = match self.rerequests.recv_from(&mut buf) {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error of an earlier answer, say: the next request may be fine.
                Err(_) => {
                    self.stats.failed_rerequests += 1;
                    any = true;
                    continue;
                }
            };
            any = true;
            match Request::decode(&buf[..len]) {
                Ok(request) if len == HEADER_LEN && request.session == self.session => {
                    self.stats.rerequests += 1;
                    let answered = self
                        .venue
                        .serve(&request)
                        .iter()
                        .try_for_each(|packet| self.rerequests.send_to(packet, from).map(drop));
                    // The rest of a failed answer is not sent: the feed asks again for what it lacks.
                    if answered.is_err() {
                        self.stats.failed_rerequests += 1;
                    }
                }
                _ => self.stats.bad_rerequests += 1,
            }
        }
        any
    }
}
