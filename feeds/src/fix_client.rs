//! Venue B's feed handler loop: a [`FixFeed`] on a TCP connection.
//!
//! [`FixClient::run`] connects (with a bounded timeout), logs on and subscribes through the
//! feed core, then reads with a short timeout, hands what arrived to the core with its
//! receive time, writes what the core must send, and runs its timers. When the connection
//! drops or the session ends, every book is published stale at once; it waits a moment and
//! connects again (a new session and fresh snapshots, which make the books good again). It returns when `stop` is set, after logging
//! out. Reads go into one buffer that is reused, so the steady state allocates nothing.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use protocols::fix_session::State;
use shm_layout::realtime_ns;

use crate::fix_feed::{FixFeed, FixFeedConfig, FixFeedError};
use crate::metrics::{Counter, Totals};
use crate::reconnect::pause;
use crate::recording::Frame;
use crate::sink::BookSink;
use crate::taps::Taps;

/// The read buffer's starting size; it doubles for a message that does not fit.
const READ_BUFFER: usize = 256 << 10;

/// How a client reaches venue B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixClientConfig {
    /// The venue's address.
    pub addr: SocketAddr,
    /// Logon and subscriptions.
    pub feed: FixFeedConfig,
    /// How long a connection attempt may take.
    pub connect_timeout: Duration,
    /// How long a read waits for data before timers run.
    pub poll: Duration,
    /// How long to wait before connecting again.
    pub reconnect_delay: Duration,
}

impl FixClientConfig {
    /// Connects to `addr` with `feed`, 1 s connect timeout, 5 ms polls, 50 ms between attempts.
    pub fn new(addr: SocketAddr, feed: FixFeedConfig) -> Self {
        Self {
            addr,
            feed,
            connect_timeout: Duration::from_secs(1),
            poll: Duration::from_millis(5),
            reconnect_delay: Duration::from_millis(50),
        }
    }
}

/// What the loop saw of its connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionCounters {
    /// Connections made.
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Connections lost or ended by the session (not by `stop`).
    pub disconnects: u64,
}

/// The feed handler of venue B.
#[derive(Debug)]
pub struct FixClient {
    config: FixClientConfig,
    feed: FixFeed,
    connections: ConnectionCounters,
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
    /// Bytes of `read_buf` a replay has not applied yet.
    replay_filled: usize,
}

impl FixClient {
    /// A client that has not connected yet.
    pub fn new(config: FixClientConfig) -> Self {
        Self {
            feed: FixFeed::new(config.feed.clone(), realtime_ns()),
            config,
            connections: ConnectionCounters::default(),
            read_buf: vec![0; READ_BUFFER],
            write_buf: Vec::new(),
            replay_filled: 0,
        }
    }

    /// The feed core: books, staleness and counters.
    pub fn feed(&self) -> &FixFeed {
        &self.feed
    }

    /// The connection counters.
    pub fn connections(&self) -> ConnectionCounters {
        self.connections
    }

    /// The feed's and the connection's counts by [`Counter`].
    fn totals(&self) -> Totals {
        let (feed, session, connections) =
            (self.feed.counters(), self.feed.session_counters(), self.connections);
        let mut totals = Totals::default();
        totals
            .set(Counter::Messages, feed.snapshots + feed.refreshes)
            .set(Counter::Bytes, feed.bytes)
            .set(Counter::Packets, feed.messages)
            .set(Counter::Gaps, feed.gaps)
            .set(Counter::StalePeriods, feed.gaps + connections.disconnects)
            .set(Counter::Recoveries, feed.recoveries)
            .set(Counter::Duplicates, feed.duplicates)
            .set(Counter::DecodeErrors, feed.invalid)
            .set(Counter::BookErrors, feed.book_errors)
            .set(Counter::PublishErrors, feed.publish_errors)
            .set(Counter::RecoveryRequests, session.resend_requests_sent)
            .set(Counter::Connects, connections.connects)
            .set(Counter::Disconnects, connections.disconnects + connections.connect_failures);
        totals
    }

    /// Runs until `stop` is set, publishing into `sink`; every read is recorded and the
    /// counters mirrored through `taps` (an empty frame in the recording marks a connection).
    pub fn run(&mut self, sink: &mut impl BookSink, taps: &mut Taps<'_>, stop: &AtomicBool) {
        let mut first = true;
        while !stop.load(Ordering::Acquire) {
            let stream = match TcpStream::connect_timeout(&self.config.addr, self.config.connect_timeout) {
                Ok(stream) => stream,
                Err(_) => {
                    self.connections.connect_failures += 1;
                    taps.mirror(|| self.totals());
                    taps.pulse(sink, true);
                    pause(self.config.reconnect_delay, stop);
                    continue;
                }
            };
            self.connections.connects += 1;
            let now = realtime_ns();
            taps.record(now, &[]);
            if !first {
                self.feed.restart(now, sink);
            }
            first = false;
            match self.serve(stream, sink, taps, stop) {
                Ok(()) => return,
                Err(_) => {
                    self.connections.disconnects += 1;
                    self.feed.connection_lost(realtime_ns(), sink);
                    taps.mirror(|| self.totals());
                    pause(self.config.reconnect_delay, stop);
                }
            }
        }
    }

    /// Runs one connection; `Ok` when `stop` ended it, an error when it was lost.
    fn serve(
        &mut self,
        mut stream: TcpStream,
        sink: &mut impl BookSink,
        taps: &mut Taps<'_>,
        stop: &AtomicBool,
    ) -> io::Result<()> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(self.config.poll))?;
        stream.set_write_timeout(Some(self.config.connect_timeout))?;
        let mut filled = 0;
        loop {
            if stop.load(Ordering::Acquire) {
                self.feed.logout(realtime_ns());
                self.flush(&mut stream)?;
                return Ok(());
            }
            self.flush(&mut stream)?;
            if filled == self.read_buf.len() {
                self.read_buf.resize(self.read_buf.len() * 2, 0);
            }
            match stream.read(&mut self.read_buf[filled..]) {
                Ok(0) => {
                    return Err(io::Error::new(ErrorKind::UnexpectedEof, "the venue closed the connection"))
                }
                Ok(n) => {
                    filled += n;
                    let receive_ts_ns = realtime_ns();
                    let applied = self.feed.on_bytes(&self.read_buf[..filled], receive_ts_ns, sink);
                    // Recorded after the books are published, so recording never delays them.
                    taps.record(receive_ts_ns, &self.read_buf[filled - n..filled]);
                    let used = applied.map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
                    self.read_buf.copy_within(used..filled, 0);
                    filled -= used;
                    taps.mirror(|| self.totals());
                    taps.log(self.feed.refusals());
                    taps.pulse(sink, false);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    taps.pulse(sink, true);
                }
                Err(e) => return Err(e),
            }
            self.feed.on_timer(realtime_ns(), sink).map_err(|e| io::Error::new(ErrorKind::TimedOut, e))?;
            if self.feed.session_state() == State::Closed {
                self.flush(&mut stream)?;
                return Err(io::Error::new(ErrorKind::ConnectionAborted, "the session ended"));
            }
        }
    }

    /// Replays one recorded frame through the same handler: bytes as they were read, or (an
    /// empty frame) the start of a connection. What the session would send back is dropped:
    /// the recording holds what the venue answered.
    pub fn replay_frame(&mut self, frame: &Frame, sink: &mut impl BookSink) -> Result<(), FixFeedError> {
        if frame.bytes.is_empty() {
            if self.connections.connects > 0 {
                self.feed.restart(frame.receive_ts_ns, sink);
            }
            self.connections.connects += 1;
            self.replay_filled = 0;
            return Ok(());
        }
        let filled = self.replay_filled + frame.bytes.len();
        if filled > self.read_buf.len() {
            self.read_buf.resize(filled.next_power_of_two(), 0);
        }
        self.read_buf[self.replay_filled..filled].copy_from_slice(&frame.bytes);
        let used = self.feed.on_bytes(&self.read_buf[..filled], frame.receive_ts_ns, sink)?;
        self.read_buf.copy_within(used..filled, 0);
        self.replay_filled = filled - used;
        self.feed.drain_output(&mut self.write_buf);
        self.write_buf.clear();
        Ok(())
    }

    fn flush(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        self.feed.drain_output(&mut self.write_buf);
        if !self.write_buf.is_empty() {
            stream.write_all(&self.write_buf)?;
            self.write_buf.clear();
        }
        Ok(())
    }
}
