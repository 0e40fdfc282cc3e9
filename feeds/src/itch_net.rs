//! Venue A's feed on the network: MoldUDP64 packets from a UDP socket (unicast or a multicast
//! group) through [`ItchFeed`] into a [`BookSink`], with re-requests sent to the venue's
//! re-request server from the same socket, so their answers arrive in the same stream.
//!
//! The loop waits for packets as configured ([`Poll`]): blocking with a timeout (so it notices
//! `stop`), or busy-polling on an isolated core. A gap is re-requested at once, and one request
//! at most is in flight: the next goes out when the answer has been applied, or when
//! `retry_after` has passed without it (lost, or the server busy). So the packets that keep
//! arriving while a gap is open never multiply the requests, nor the server's answers.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use protocols::moldudp64::Request;
use shm_layout::realtime_ns;

use crate::itch_feed::{Action, FeedCounters, ItchFeed};
use crate::metrics::{Counter, Totals};
use crate::sink::BookSink;
use crate::taps::Taps;

/// Largest datagram the loop reads.
const MAX_DATAGRAM: usize = 2048;

/// Receive buffer the socket asks for: tens of milliseconds of a busy feed, so a loop that is
/// descheduled for a moment loses nothing (the kernel caps it at `net.core.rmem_max`).
const RECEIVE_BUFFER: usize = 8 << 20;

/// Asks for a receive buffer of `bytes`; the kernel grants what `net.core.rmem_max` allows.
fn set_receive_buffer(socket: &UdpSocket, bytes: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: the descriptor is open for the socket's lifetime, and `value` is a c_int that
    // outlives the call, whose size is passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// How the loop waits for the next packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// Sleep in the kernel until a packet comes or `timeout` passes.
    Block {
        /// Longest sleep, after which `stop` is checked.
        timeout: Duration,
    },
    /// Poll without sleeping: lowest latency, one core busy.
    Spin,
}

/// Where venue A's feed listens.
#[derive(Debug, Clone, Copy)]
pub struct ItchReceiverConfig {
    /// A unicast address to bind, or the multicast group and port to join.
    pub listen: SocketAddr,
    /// The interface a multicast group is joined on.
    pub interface: Ipv4Addr,
    /// How to wait for packets.
    pub poll: Poll,
}

/// Where and how often venue A's feed asks for what it missed.
#[derive(Debug, Clone, Copy)]
pub struct Rerequests {
    /// The venue's re-request server.
    pub server: SocketAddr,
    /// How long a gap may stay open before its request is sent again.
    pub retry_after: Duration,
}

/// Why the receive loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// A socket call failed.
    #[error("venue A feed: {what}: {source}")]
    Io {
        /// What the loop was doing.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

fn io_error(what: &'static str) -> impl FnOnce(io::Error) -> ReceiveError {
    move |source| ReceiveError::Io { what, source }
}

/// Venue A's market-data socket, ready to run a feed.
#[derive(Debug)]
pub struct ItchReceiver {
    socket: UdpSocket,
    poll: Poll,
    last_request: Option<(Request, Instant)>,
}

impl ItchReceiver {
    /// Binds (and, for a multicast group, joins) `config.listen`.
    pub fn bind(config: ItchReceiverConfig) -> Result<Self, ReceiveError> {
        let socket = UdpSocket::bind(config.listen).map_err(io_error("bind market-data socket"))?;
        set_receive_buffer(&socket, RECEIVE_BUFFER).map_err(io_error("size the receive buffer"))?;
        if let std::net::IpAddr::V4(group) = config.listen.ip() {
            if group.is_multicast() {
                socket
                    .join_multicast_v4(&group, &config.interface)
                    .map_err(io_error("join multicast group"))?;
            }
        }
        match config.poll {
            Poll::Block { timeout } => socket.set_read_timeout(Some(timeout.max(Duration::from_micros(1)))),
            Poll::Spin => socket.set_nonblocking(true),
        }
        .map_err(io_error("set how the socket waits"))?;
        Ok(Self { socket, poll: config.poll, last_request: None })
    }

    /// The bound address (for unicast: where the venue must send).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Runs `feed` on the socket until `stop` is set: every packet is applied, its updates
    /// written to `sink`, gaps re-requested from `rerequests`, the packet recorded and the
    /// counters mirrored through `taps`.
    pub fn run(
        &mut self,
        rerequests: &Rerequests,
        feed: &mut ItchFeed,
        sink: &mut impl BookSink,
        taps: &mut Taps<'_>,
        stop: &AtomicBool,
    ) -> Result<(), ReceiveError> {
        let mut buf = [0u8; MAX_DATAGRAM];
        taps.add(Counter::Connects, 1);
        while !stop.load(Ordering::Relaxed) {
            let len = match self.socket.recv(&mut buf) {
                Ok(len) => len,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if self.poll == Poll::Spin {
                        std::hint::spin_loop();
                    }
                    self.retry_open_gap(rerequests, feed, taps)?;
                    taps.pulse(sink, true);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReceiveError::Io { what: "receive market data", source: e }),
            };
            let receive_ts_ns = realtime_ns();
            let action = feed.on_packet(&buf[..len], receive_ts_ns, sink);
            // Recorded after the books are published, so recording never delays them.
            taps.record(receive_ts_ns, &buf[..len]);
            if let Action::Rerequest(request) = action {
                self.request(rerequests, request, feed.next_sequence(), taps)?;
            } else if !feed.is_stale() {
                self.last_request = None;
            }
            taps.mirror(|| totals(&feed.counters()));
            taps.log(feed.refusals());
            taps.pulse(sink, false);
        }
        Ok(())
    }

    fn request(
        &mut self,
        rerequests: &Rerequests,
        request: Request,
        next_sequence: u64,
        taps: &Taps<'_>,
    ) -> Result<(), ReceiveError> {
        let in_flight = matches!(self.last_request, Some((last, at))
            if next_sequence < last.sequence + u64::from(last.count) && at.elapsed() < rerequests.retry_after);
        if in_flight {
            return Ok(());
        }
        self.socket.send_to(&request.encode(), rerequests.server).map_err(io_error("send re-request"))?;
        taps.add(Counter::RecoveryRequests, 1);
        self.last_request = Some((request, Instant::now()));
        Ok(())
    }

    /// Sends the open gap's request again if its answer never came (lost, or the server was
    /// busy); quiet links are where that matters.
    fn retry_open_gap(
        &mut self,
        rerequests: &Rerequests,
        feed: &ItchFeed,
        taps: &Taps<'_>,
    ) -> Result<(), ReceiveError> {
        match (feed.open_gap(), self.last_request) {
            (Some(request), Some((_, at))) if at.elapsed() >= rerequests.retry_after => {
                self.request(rerequests, request, feed.next_sequence(), taps)
            }
            _ => Ok(()),
        }
    }
}

/// The handler's counters by [`Counter`].
fn totals(counters: &FeedCounters) -> Totals {
    let mut totals = Totals::default();
    totals
        .set(Counter::Messages, counters.messages)
        .set(Counter::Bytes, counters.bytes)
        .set(Counter::Packets, counters.packets)
        .set(Counter::Gaps, counters.gaps)
        .set(Counter::StalePeriods, counters.gaps)
        .set(Counter::Recoveries, counters.recoveries)
        .set(Counter::Duplicates, counters.duplicates)
        .set(Counter::DecodeErrors, counters.decode_errors)
        .set(Counter::BookErrors, counters.book_errors)
        .set(Counter::PublishErrors, counters.publish_errors);
    totals
}
