//! A blocking OUCH 4.2 client over SoupBinTCP on a `std::net` TCP stream: the session logic of
//! [`crate::soupbintcp_session::ClientSession`] with a socket. Every wait is bounded: reads
//! time out at the next heartbeat or the caller's deadline, whichever comes first, and the
//! client sends its heartbeats while it waits.
//!
//! After a disconnect, connect again with the old client's
//! [`next_sequence`](OuchClient::next_sequence): the server replays exactly the messages
//! missed.
//!
//! A hot loop uses [`try_recv`](OuchClient::try_recv) instead of `recv`: it never waits, and
//! writes that the socket cannot take at once stay queued for the next call.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::ouch42::{Inbound, Outbound, MAX_INBOUND_LEN};
use crate::soupbintcp::{Session, StreamBuffer};
use crate::soupbintcp_session::{ClientEvent, ClientSession, SessionError, Timing};
use crate::{alpha, DecodeError, FieldError};

/// Who logs in where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The username (at most 6 characters).
    pub username: String,
    /// The password (at most 10 characters).
    pub password: String,
    /// The session to join; empty for the server's current one.
    pub session: String,
    /// Heartbeat interval and silence timeout; the login must be answered within the timeout.
    pub timing: Timing,
}

/// Why the client stopped.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket failed.
    #[error("OUCH client: {0}")]
    Io(#[from] io::Error),
    /// The session failed (login rejected, timeout, a gap, a bad packet).
    #[error("OUCH client: {0}")]
    Session(#[from] SessionError),
    /// A configured field does not fit.
    #[error("OUCH client: {0}")]
    Field(#[from] FieldError),
    /// A sequenced message is not OUCH 4.2.
    #[error("OUCH client: sequenced message {sequence}: {error}")]
    Decode {
        /// Its sequence number.
        sequence: u64,
        /// What is wrong with it.
        error: DecodeError,
    },
    /// The server closed the connection.
    #[error("OUCH client: the server closed the connection")]
    Closed,
    /// The server ended the session.
    #[error("OUCH client: the server ended the session")]
    EndOfSession,
}

/// A logged-in OUCH connection.
#[derive(Debug)]
pub struct OuchClient {
    stream: TcpStream,
    session: ClientSession,
    buffer: StreamBuffer,
    out: Vec<u8>,
    joined: Session,
    nonblocking: bool,
}

impl OuchClient {
    /// Connects to `addr` and logs in, asking for sequenced messages from `next_sequence` (1
    /// for all, 0 for new ones only, or a previous client's
    /// [`next_sequence`](Self::next_sequence)); waits for the answer at most the timeout.
    pub fn connect(addr: SocketAddr, config: &ClientConfig, next_sequence: u64) -> Result<Self, ClientError> {
        let stream = TcpStream::connect_timeout(&addr, config.timing.timeout)?;
        stream.set_nodelay(true)?;
        let now = Instant::now();
        let session = ClientSession::new(
            alpha("username", &config.username)?,
            alpha("password", &config.password)?,
            alpha("session", &config.session)?,
            next_sequence,
            config.timing,
            now,
        );
        let mut client = Self {
            stream,
            session,
            buffer: StreamBuffer::new(),
            out: Vec::with_capacity(64 * 1024),
            joined: [b' '; 10],
            nonblocking: false,
        };
        client.session.login(now, &mut client.out);
        client.flush()?;
        let deadline = now + config.timing.timeout;
        while !client.session.is_logged_in() {
            if client.next_event(deadline)?.is_none() {
                return Err(SessionError::TimedOut {
                    silent: config.timing.timeout,
                    timeout: config.timing.timeout,
                }
                .into());
            }
        }
        Ok(client)
    }

    /// The session joined.
    pub fn session(&self) -> Session {
        self.joined
    }

    /// The sequence number of the next message not yet received: what to log in again with.
    pub fn next_sequence(&self) -> u64 {
        self.session.next_sequence()
    }

    /// Sends `message`.
    pub fn send(&mut self, message: &Inbound) -> Result<(), ClientError> {
        self.queue(message)?;
        self.flush()
    }

    /// Queues `message` without writing it: it goes out with the next [`flush`](Self::flush)
    /// (or `send`, `try_recv`), so a burst costs one write.
    pub fn queue(&mut self, message: &Inbound) -> Result<(), ClientError> {
        let mut bytes = [0u8; MAX_INBOUND_LEN];
        let len = message.encode(&mut bytes);
        Ok(self.session.send(&bytes[..len], Instant::now(), &mut self.out)?)
    }

    /// The next sequenced message and its sequence number, waiting at most `wait` (`None`
    /// if none came).
    pub fn recv(&mut self, wait: Duration) -> Result<Option<(u64, Outbound)>, ClientError> {
        self.set_nonblocking(false)?;
        let deadline = Instant::now() + wait;
        while let Some(event) = self.next_event(deadline)? {
            if let Some(message) = event {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// The next sequenced message already received, reading what the socket holds without
    /// waiting; sends a heartbeat when one is due and whatever earlier sends left queued.
    pub fn try_recv(&mut self) -> Result<Option<(u64, Outbound)>, ClientError> {
        self.set_nonblocking(true)?;
        let now = Instant::now();
        loop {
            if let Some(event) = self.take_packet(now)? {
                match event {
                    Some(message) => return Ok(Some(message)),
                    None => continue,
                }
            }
            self.session.poll(now, &mut self.out)?;
            self.flush()?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => self.buffer.extend(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Bytes sent but not yet taken by the socket.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        if self.nonblocking != nonblocking {
            self.stream.set_nonblocking(nonblocking)?;
            self.nonblocking = nonblocking;
        }
        Ok(())
    }

    /// Closes the connection at once, so the server ends the session (a client that gives up
    /// on a connection before logging in again).
    pub fn close(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both); // already closed is closed
    }

    /// Logs out and closes the connection.
    pub fn logout(mut self) -> Result<(), ClientError> {
        self.session.logout(Instant::now(), &mut self.out);
        self.flush()
    }

    /// Writes what is queued; on a non-blocking socket, what it cannot take stays queued.
    pub fn flush(&mut self) -> Result<(), ClientError> {
        let mut written = 0;
        while written < self.out.len() {
            match self.stream.write(&self.out[written..]) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.out.drain(..written);
        Ok(())
    }

    /// Handles the next whole packet received, if there is one: `Some(None)` for a packet
    /// without a message, `Some(Some(..))` for a sequenced message.
    fn take_packet(&mut self, now: Instant) -> Result<Option<Option<(u64, Outbound)>>, ClientError> {
        let Some(packet) = self.buffer.next_packet().map_err(SessionError::from)? else {
            return Ok(None);
        };
        match self.session.on_packet(packet, now)? {
            ClientEvent::Message { sequence, payload } => {
                let message =
                    Outbound::decode(payload).map_err(|error| ClientError::Decode { sequence, error })?;
                Ok(Some(Some((sequence, message))))
            }
            ClientEvent::LoggedIn { session, .. } => {
                self.joined = session;
                Ok(Some(None))
            }
            ClientEvent::EndOfSession => Err(ClientError::EndOfSession),
            ClientEvent::None => Ok(Some(None)),
        }
    }

    /// Handles the next packet, reading and heartbeating as needed until `deadline`: `None`
    /// at the deadline, `Some(None)` for a packet without a message, `Some(Some(..))` for a
    /// sequenced message.
    fn next_event(&mut self, deadline: Instant) -> Result<Option<Option<(u64, Outbound)>>, ClientError> {
        loop {
            let now = Instant::now();
            if let Some(event) = self.take_packet(now)? {
                return Ok(Some(event));
            }
            self.session.poll(now, &mut self.out)?;
            self.flush()?;
            if now >= deadline {
                return Ok(None);
            }
            let wake = deadline.min(self.session.next_deadline());
            let wait = wake.saturating_duration_since(now).max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(wait))?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => self.buffer.extend(&chunk[..n]),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
