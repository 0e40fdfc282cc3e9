//! SoupBinTCP 3.0 sessions without sockets: the client's and the server's side of one
//! connection, driven by the packets received and the time, writing what to send into a
//! caller's buffer.
//!
//! * Login: the client asks for the sequence number of the first message it wants (the one
//!   after the last it holds, so a client that lost its connection logs in again from there);
//!   the server answers with the number its first sequenced message will carry and replays
//!   its stored messages from there. The client drops any replayed message it already holds
//!   and refuses a login that would skip messages, so none is lost or seen twice.
//! * Heartbeats: each side sends one when it has sent nothing for the heartbeat interval
//!   (1 s); a side that has heard nothing for the timeout (15 s) declares the peer dead.
//! * The client logs out (`O`); the server ends the session (`Z`).
//!
//! Times are `Instant`s the caller passes in, so tests drive the clock.

use std::time::{Duration, Instant};

use crate::soupbintcp::{LoginRequest, Packet, Password, RejectReason, Session, TooLong, Username};
use crate::DecodeError;

/// Heartbeat interval and silence timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Send a heartbeat after sending nothing for this long.
    pub heartbeat_interval: Duration,
    /// Declare the peer dead after hearing nothing for this long.
    pub timeout: Duration,
}

impl Default for Timing {
    /// The specification's 1 s heartbeats and 15 s timeout.
    fn default() -> Self {
        Self { heartbeat_interval: Duration::from_secs(1), timeout: Duration::from_secs(15) }
    }
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// A packet did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The peer sent nothing for longer than the timeout.
    #[error("SoupBinTCP: the peer was silent for {silent:?}, beyond the {timeout:?} timeout")]
    TimedOut {
        /// How long it was silent.
        silent: Duration,
        /// The timeout.
        timeout: Duration,
    },
    /// The server refused the login.
    #[error("SoupBinTCP: login rejected: {0:?}")]
    LoginRejected(RejectReason),
    /// A packet the peer may not send in the session's state.
    #[error("SoupBinTCP: unexpected packet {packet_type:?} while {state}")]
    Unexpected {
        /// The packet's type.
        packet_type: char,
        /// What the session was doing.
        state: &'static str,
    },
    /// The server would start after messages the client has not received.
    #[error(
        "SoupBinTCP: the server starts at sequence {accepted} but the client expects {expected}; \
         messages would be lost"
    )]
    SequenceGap {
        /// The next sequence number the client expects.
        expected: u64,
        /// The one the server announced.
        accepted: u64,
    },
    /// A payload too long for a packet.
    #[error(transparent)]
    TooLong(#[from] TooLong),
}

/// Send and receive times, for heartbeats and timeouts.
#[derive(Debug, Clone, Copy)]
struct Liveness {
    timing: Timing,
    last_sent: Instant,
    last_received: Instant,
}

impl Liveness {
    fn new(timing: Timing, now: Instant) -> Self {
        Self { timing, last_sent: now, last_received: now }
    }

    fn check(&self, now: Instant) -> Result<(), SessionError> {
        let silent = now.saturating_duration_since(self.last_received);
        if silent > self.timing.timeout {
            return Err(SessionError::TimedOut { silent, timeout: self.timing.timeout });
        }
        Ok(())
    }

    fn heartbeat_due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_sent) >= self.timing.heartbeat_interval
    }

    fn next_deadline(&self) -> Instant {
        (self.last_sent + self.timing.heartbeat_interval).min(self.last_received + self.timing.timeout)
    }
}

fn unexpected(packet: &Packet<'_>, state: &'static str) -> SessionError {
    SessionError::Unexpected { packet_type: char::from(packet.packet_type()), state }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    LoggingIn,
    LoggedIn,
    Closed,
}

/// What a packet meant to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEvent<'a> {
    /// Nothing the caller needs to act on (a heartbeat, a debug text, a replayed message
    /// already held).
    None,
    /// The login succeeded; sequenced messages follow from `sequence`.
    LoggedIn {
        /// The session joined.
        session: Session,
        /// The sequence number of the next message.
        sequence: u64,
    },
    /// The next sequenced message.
    Message {
        /// Its sequence number.
        sequence: u64,
        /// Its bytes.
        payload: &'a [u8],
    },
    /// The server ended the session.
    EndOfSession,
}

/// The client's side of a SoupBinTCP connection.
#[derive(Debug, Clone)]
pub struct ClientSession {
    request: LoginRequest,
    /// The sequence number of the next message the client does not hold.
    next_sequence: u64,
    /// The sequence number the next sequenced packet on this connection carries.
    incoming: u64,
    state: ClientState,
    liveness: Liveness,
}

impl ClientSession {
    /// A client that will log in as `username` to `session` (all spaces: the current one),
    /// wanting messages from `next_sequence` on (1 from the start, 0 only new ones).
    pub fn new(
        username: Username,
        password: Password,
        session: Session,
        next_sequence: u64,
        timing: Timing,
        now: Instant,
    ) -> Self {
        Self {
            request: LoginRequest { username, password, session, sequence: next_sequence },
            next_sequence,
            incoming: next_sequence,
            state: ClientState::LoggingIn,
            liveness: Liveness::new(timing, now),
        }
    }

    /// The sequence number of the next message the client does not hold: what to ask for
    /// when logging in again after a disconnect.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Whether the login was accepted and the session is still open.
    pub fn is_logged_in(&self) -> bool {
        self.state == ClientState::LoggedIn
    }

    /// Writes the login request.
    pub fn login(&mut self, now: Instant, out: &mut Vec<u8>) {
        self.request.sequence = self.next_sequence;
        self.send_packet(Packet::LoginRequest(self.request), now, out).expect("a login request fits");
    }

    fn send_packet(&mut self, packet: Packet<'_>, now: Instant, out: &mut Vec<u8>) -> Result<(), TooLong> {
        packet.encode(out)?;
        self.liveness.last_sent = now;
        Ok(())
    }

    /// Handles a packet from the server.
    pub fn on_packet<'a>(
        &mut self,
        packet: Packet<'a>,
        now: Instant,
    ) -> Result<ClientEvent<'a>, SessionError> {
        self.liveness.last_received = now;
        match (self.state, packet) {
            (_, Packet::Debug(_)) | (ClientState::LoggedIn, Packet::ServerHeartbeat) => Ok(ClientEvent::None),
            (ClientState::LoggingIn, Packet::LoginAccepted { session, sequence }) => {
                if self.next_sequence == 0 {
                    self.next_sequence = sequence;
                } else if sequence > self.next_sequence {
                    self.state = ClientState::Closed;
                    return Err(SessionError::SequenceGap {
                        expected: self.next_sequence,
                        accepted: sequence,
                    });
                }
                self.incoming = sequence;
                self.state = ClientState::LoggedIn;
                Ok(ClientEvent::LoggedIn { session, sequence })
            }
            (ClientState::LoggingIn, Packet::LoginRejected(reason)) => {
                self.state = ClientState::Closed;
                Err(SessionError::LoginRejected(reason))
            }
            (ClientState::LoggedIn, Packet::SequencedData(payload)) => {
                let sequence = self.incoming;
                self.incoming += 1;
                if sequence < self.next_sequence {
                    return Ok(ClientEvent::None);
                }
                self.next_sequence = sequence + 1;
                Ok(ClientEvent::Message { sequence, payload })
            }
            (ClientState::LoggedIn, Packet::EndOfSession) => {
                self.state = ClientState::Closed;
                Ok(ClientEvent::EndOfSession)
            }
            (ClientState::LoggingIn, other) => Err(unexpected(&other, "logging in")),
            (ClientState::LoggedIn, other) => Err(unexpected(&other, "logged in")),
            (ClientState::Closed, other) => Err(unexpected(&other, "closed")),
        }
    }

    /// Writes `payload` as unsequenced data.
    pub fn send(&mut self, payload: &[u8], now: Instant, out: &mut Vec<u8>) -> Result<(), SessionError> {
        if self.state != ClientState::LoggedIn {
            return Err(SessionError::Unexpected { packet_type: 'U', state: "not logged in" });
        }
        Ok(self.send_packet(Packet::UnsequencedData(payload), now, out)?)
    }

    /// Writes a logout request; the session is closed.
    pub fn logout(&mut self, now: Instant, out: &mut Vec<u8>) {
        self.state = ClientState::Closed;
        self.send_packet(Packet::LogoutRequest, now, out).expect("a logout fits");
    }

    /// Checks the timeout and writes a heartbeat when one is due.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<u8>) -> Result<(), SessionError> {
        self.liveness.check(now)?;
        if self.state == ClientState::LoggedIn && self.liveness.heartbeat_due(now) {
            self.send_packet(Packet::ClientHeartbeat, now, out).expect("a heartbeat fits");
        }
        Ok(())
    }

    /// When [`poll`](Self::poll) next has something to do.
    pub fn next_deadline(&self) -> Instant {
        self.liveness.next_deadline()
    }
}

/// A server's store of one session's sequenced messages, numbered from 1, kept so any client
/// can replay them after logging in again. The messages share one buffer.
#[derive(Debug, Default, Clone)]
pub struct SequencedStore {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl SequencedStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the next message; returns its sequence number.
    pub fn push(&mut self, message: &[u8]) -> u64 {
        self.bytes.extend_from_slice(message);
        self.ends.push(self.bytes.len());
        self.ends.len() as u64
    }

    /// The sequence number the next message gets.
    pub fn next_sequence(&self) -> u64 {
        self.ends.len() as u64 + 1
    }

    /// Message `sequence`, if stored.
    pub fn get(&self, sequence: u64) -> Option<&[u8]> {
        let index = usize::try_from(sequence.checked_sub(1)?).ok()?;
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        Some(&self.bytes[start..end])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    AwaitingLogin,
    LoggedIn,
    Closed,
}

/// What a packet meant to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerEvent<'a> {
    /// Nothing the caller needs to act on.
    None,
    /// The client asks to log in: check it and call [`ServerSession::accept`] or
    /// [`ServerSession::reject`].
    LoginRequested(LoginRequest),
    /// A message from the client.
    Message(&'a [u8]),
    /// The client logged out; close the connection.
    LoggedOut,
}

/// The server's side of a SoupBinTCP connection.
#[derive(Debug, Clone)]
pub struct ServerSession {
    state: ServerState,
    /// The sequence number of the next stored message to send.
    next_to_send: u64,
    liveness: Liveness,
}

impl ServerSession {
    /// A connection that has just been accepted.
    pub fn new(timing: Timing, now: Instant) -> Self {
        Self { state: ServerState::AwaitingLogin, next_to_send: 1, liveness: Liveness::new(timing, now) }
    }

    /// Whether a login was accepted and the session is still open.
    pub fn is_logged_in(&self) -> bool {
        self.state == ServerState::LoggedIn
    }

    fn send_packet(&mut self, packet: Packet<'_>, now: Instant, out: &mut Vec<u8>) -> Result<(), TooLong> {
        packet.encode(out)?;
        self.liveness.last_sent = now;
        Ok(())
    }

    /// Handles a packet from the client.
    pub fn on_packet<'a>(
        &mut self,
        packet: Packet<'a>,
        now: Instant,
    ) -> Result<ServerEvent<'a>, SessionError> {
        self.liveness.last_received = now;
        match (self.state, packet) {
            (_, Packet::Debug(_)) | (ServerState::LoggedIn, Packet::ClientHeartbeat) => Ok(ServerEvent::None),
            (ServerState::AwaitingLogin, Packet::LoginRequest(request)) => {
                Ok(ServerEvent::LoginRequested(request))
            }
            (ServerState::LoggedIn, Packet::UnsequencedData(payload)) => Ok(ServerEvent::Message(payload)),
            (ServerState::LoggedIn, Packet::LogoutRequest) => {
                self.state = ServerState::Closed;
                Ok(ServerEvent::LoggedOut)
            }
            (ServerState::AwaitingLogin, other) => Err(unexpected(&other, "awaiting a login")),
            (ServerState::LoggedIn, other) => Err(unexpected(&other, "logged in")),
            (ServerState::Closed, other) => Err(unexpected(&other, "closed")),
        }
    }

    /// Accepts the login `request` into `session`, whose messages are in `store`: writes the
    /// login accepted; the next [`flush`](Self::flush) replays the stored messages from the
    /// requested one (from the next one if the client asked for 0 or for more than there is).
    pub fn accept(
        &mut self,
        request: &LoginRequest,
        session: Session,
        store: &SequencedStore,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        let next = store.next_sequence();
        self.next_to_send = if request.sequence == 0 { next } else { request.sequence.min(next) };
        self.state = ServerState::LoggedIn;
        let accepted = Packet::LoginAccepted { session, sequence: self.next_to_send };
        self.send_packet(accepted, now, out).expect("a login accepted fits");
    }

    /// Rejects the login; the caller closes the connection once `out` is sent.
    pub fn reject(&mut self, reason: RejectReason, now: Instant, out: &mut Vec<u8>) {
        self.state = ServerState::Closed;
        self.send_packet(Packet::LoginRejected(reason), now, out).expect("a login rejected fits");
    }

    /// Writes the stored messages this client has not been sent yet.
    pub fn flush(&mut self, store: &SequencedStore, now: Instant, out: &mut Vec<u8>) -> Result<(), TooLong> {
        self.flush_until(store, store.next_sequence(), now, out)
    }

    /// Writes the stored messages this client has not been sent yet, up to (not including)
    /// sequence number `end`.
    pub fn flush_until(
        &mut self,
        store: &SequencedStore,
        end: u64,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), TooLong> {
        if self.state != ServerState::LoggedIn {
            return Ok(());
        }
        while let Some(message) = store.get(self.next_to_send).filter(|_| self.next_to_send < end) {
            self.send_packet(Packet::SequencedData(message), now, out)?;
            self.next_to_send += 1;
        }
        Ok(())
    }

    /// The sequence number of the next stored message this client will be sent.
    pub fn next_to_send(&self) -> u64 {
        self.next_to_send
    }

    /// Writes the end of the session; the caller closes the connection once `out` is sent.
    pub fn end_session(&mut self, now: Instant, out: &mut Vec<u8>) {
        self.state = ServerState::Closed;
        self.send_packet(Packet::EndOfSession, now, out).expect("an end of session fits");
    }

    /// Checks the timeout (also for a client that never logs in) and writes a heartbeat when
    /// one is due.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<u8>) -> Result<(), SessionError> {
        self.liveness.check(now)?;
        if self.state == ServerState::LoggedIn && self.liveness.heartbeat_due(now) {
            self.send_packet(Packet::ServerHeartbeat, now, out).expect("a heartbeat fits");
        }
        Ok(())
    }

    /// When [`poll`](Self::poll) next has something to do.
    pub fn next_deadline(&self) -> Instant {
        self.liveness.next_deadline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alpha;

    const SESSION: Session = *b"TICKRAIL01";

    fn timing() -> Timing {
        Timing { heartbeat_interval: Duration::from_millis(100), timeout: Duration::from_millis(500) }
    }

    fn client(next_sequence: u64, now: Instant) -> ClientSession {
        let username = alpha("username", "TRD1").unwrap();
        let password = alpha("password", "pw").unwrap();
        ClientSession::new(username, password, [b' '; 10], next_sequence, timing(), now)
    }

    /// The packets written into `wire` (which is emptied), as frames to decode.
    fn frames(wire: &mut Vec<u8>) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some((_, used)) = crate::soupbintcp::decode(wire).unwrap() {
            frames.push(wire.drain(..used).skip(2).collect());
        }
        assert!(wire.is_empty(), "only whole packets were written");
        frames
    }

    fn packets(frames: &[Vec<u8>]) -> impl Iterator<Item = Packet<'_>> {
        frames.iter().map(|frame| Packet::decode(frame).unwrap())
    }

    fn store_of(n: u64) -> SequencedStore {
        let mut store = SequencedStore::new();
        for i in 1..=n {
            assert_eq!(store.push(format!("message {i}").as_bytes()), i);
        }
        store
    }

    /// Logs `client` in to a fresh server session over `store`; returns the server session
    /// and the messages the client received.
    fn log_in(client: &mut ClientSession, store: &SequencedStore, now: Instant) -> (ServerSession, Vec<u64>) {
        let mut server = ServerSession::new(timing(), now);
        let mut wire = Vec::new();
        client.login(now, &mut wire);
        let wire_frames = frames(&mut wire);
        let requests: Vec<_> = packets(&wire_frames).map(|p| server.on_packet(p, now).unwrap()).collect();
        let ServerEvent::LoginRequested(request) = requests[0] else { panic!("{requests:?}") };
        server.accept(&request, SESSION, store, now, &mut wire);
        server.flush(store, now, &mut wire).unwrap();
        let wire_frames = frames(&mut wire);
        let received: Vec<_> = packets(&wire_frames)
            .map(|p| match client.on_packet(p, now).unwrap() {
                ClientEvent::Message { sequence, payload } => {
                    assert_eq!(payload, format!("message {sequence}").as_bytes());
                    Some(sequence)
                }
                _ => None,
            })
            .collect();
        (server, received.into_iter().flatten().collect())
    }

    #[test]
    fn a_client_logging_in_from_1_receives_every_stored_message_then_new_ones() {
        let now = Instant::now();
        let mut store = store_of(3);
        let mut client = client(1, now);
        let (mut server, received) = log_in(&mut client, &store, now);
        assert_eq!(received, [1, 2, 3]);
        store.push(b"message 4");
        store.push(b"message 5");
        let mut wire = Vec::new();
        server.flush_until(&store, 5, now, &mut wire).unwrap();
        let wire_frames = frames(&mut wire);
        let events: Vec<_> =
            packets(&wire_frames).map(|p| client.on_packet(p, now).unwrap() == ClientEvent::None).collect();
        assert_eq!((events, client.next_sequence()), (vec![false], 5));
    }

    #[test]
    fn logging_in_again_from_the_next_sequence_receives_exactly_what_was_missed() {
        let now = Instant::now();
        let mut store = store_of(2);
        let mut first = client(1, now);
        let (_, received) = log_in(&mut first, &store, now);
        assert_eq!(received, [1, 2]);
        store.push(b"message 3");
        store.push(b"message 4");
        // The connection died; a new one logs in where the old one stopped.
        let mut again = client(first.next_sequence(), now);
        let (_, received) = log_in(&mut again, &store, now);
        assert_eq!(received, [3, 4]);
    }

    #[test]
    fn a_replay_from_before_what_the_client_holds_is_not_delivered_twice() {
        let now = Instant::now();
        let store = store_of(4);
        let mut client = client(3, now);
        let mut wire = Vec::new();
        client.login(now, &mut wire);
        wire.clear();
        // The server starts earlier than asked (say it lost track): 1 and 2 are dropped.
        let mut server_side = Vec::new();
        Packet::LoginAccepted { session: SESSION, sequence: 1 }.encode(&mut server_side).unwrap();
        for i in 1..=4 {
            Packet::SequencedData(store.get(i).unwrap()).encode(&mut server_side).unwrap();
        }
        let server_side_frames = frames(&mut server_side);
        let messages: Vec<_> = packets(&server_side_frames)
            .map(|p| match client.on_packet(p, now).unwrap() {
                ClientEvent::Message { sequence, .. } => Some(sequence),
                _ => None,
            })
            .collect();
        assert_eq!(messages.into_iter().flatten().collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn a_login_that_would_skip_messages_is_refused_by_the_client() {
        let now = Instant::now();
        let mut client = client(2, now);
        let err = client.on_packet(Packet::LoginAccepted { session: SESSION, sequence: 5 }, now).unwrap_err();
        assert_eq!(err, SessionError::SequenceGap { expected: 2, accepted: 5 });
        assert!(err.to_string().contains("messages would be lost"));
    }

    #[test]
    fn asking_for_0_or_beyond_the_end_starts_with_the_next_new_message() {
        let now = Instant::now();
        let store = store_of(3);
        for asked in [0, 9] {
            let mut client = client(asked, now);
            let (server, received) = log_in(&mut client, &store, now);
            assert!(received.is_empty());
            assert_eq!((server.next_to_send(), client.next_sequence()), (4, if asked == 0 { 4 } else { 9 }));
        }
    }

    #[test]
    fn a_rejected_login_is_an_error_naming_the_reason() {
        let now = Instant::now();
        let mut server = ServerSession::new(timing(), now);
        let mut wire = Vec::new();
        server.reject(RejectReason::NotAuthorized, now, &mut wire);
        let mut client = client(1, now);
        let wire_frames = frames(&mut wire);
        let results: Vec<_> = packets(&wire_frames).map(|p| client.on_packet(p, now)).collect();
        assert_eq!(results, [Err(SessionError::LoginRejected(RejectReason::NotAuthorized))]);
        assert!(!server.is_logged_in() && !client.is_logged_in());
    }

    #[test]
    fn idle_sides_heartbeat_and_silence_times_out() {
        let start = Instant::now();
        let store = store_of(0);
        let mut client = client(1, start);
        let (mut server, _) = log_in(&mut client, &store, start);
        let mut wire = Vec::new();
        let later = start + Duration::from_millis(100);
        server.poll(later, &mut wire).unwrap();
        assert_eq!(wire, [0, 1, b'H']);
        let wire_frames = frames(&mut wire);
        assert_eq!(
            packets(&wire_frames).map(|p| client.on_packet(p, later)).collect::<Vec<_>>(),
            [Ok(ClientEvent::None)]
        );
        client.poll(later, &mut wire).unwrap();
        assert_eq!(wire, [0, 1, b'R']);
        let wire_frames = frames(&mut wire);
        assert_eq!(
            packets(&wire_frames).map(|p| server.on_packet(p, later)).collect::<Vec<_>>(),
            [Ok(ServerEvent::None)]
        );
        assert_eq!(server.next_deadline(), later + Duration::from_millis(100));
        let silent = later + Duration::from_millis(501);
        assert!(matches!(server.poll(silent, &mut wire), Err(SessionError::TimedOut { .. })));
        assert!(matches!(client.poll(silent, &mut wire), Err(SessionError::TimedOut { .. })));
    }

    #[test]
    fn a_connection_that_never_logs_in_times_out_without_heartbeats() {
        let start = Instant::now();
        let mut server = ServerSession::new(timing(), start);
        let mut wire = Vec::new();
        server.poll(start + Duration::from_millis(400), &mut wire).unwrap();
        assert!(wire.is_empty(), "no heartbeats before a login");
        assert!(server.poll(start + Duration::from_millis(600), &mut wire).is_err());
    }

    #[test]
    fn packets_out_of_place_are_errors_and_a_logout_closes() {
        let now = Instant::now();
        let mut server = ServerSession::new(timing(), now);
        assert_eq!(
            server.on_packet(Packet::UnsequencedData(b"early"), now).unwrap_err().to_string(),
            "SoupBinTCP: unexpected packet 'U' while awaiting a login"
        );
        let mut client = client(1, now);
        assert!(client.on_packet(Packet::SequencedData(b"early"), now).is_err());
        assert!(client.send(b"early", now, &mut Vec::new()).is_err());
        let store = store_of(0);
        let (mut server, _) = log_in(&mut client, &store, now);
        assert!(server.on_packet(Packet::ServerHeartbeat, now).is_err(), "a server packet from the client");
        let mut wire = Vec::new();
        client.send(b"order", now, &mut wire).unwrap();
        client.logout(now, &mut wire);
        let wire_frames = frames(&mut wire);
        let events: Vec<_> = packets(&wire_frames).map(|p| server.on_packet(p, now).unwrap()).collect();
        assert_eq!(events, [ServerEvent::Message(b"order"), ServerEvent::LoggedOut]);
        assert!(!server.is_logged_in());
    }

    #[test]
    fn the_end_of_session_reaches_the_client() {
        let now = Instant::now();
        let store = store_of(0);
        let mut client = client(1, now);
        let (mut server, _) = log_in(&mut client, &store, now);
        let mut wire = Vec::new();
        server.end_session(now, &mut wire);
        let wire_frames = frames(&mut wire);
        assert_eq!(
            packets(&wire_frames).map(|p| client.on_packet(p, now)).collect::<Vec<_>>(),
            [Ok(ClientEvent::EndOfSession)]
        );
        assert!(!client.is_logged_in());
    }

    #[test]
    fn the_store_numbers_messages_from_1() {
        let store = store_of(2);
        assert_eq!((store.get(0), store.get(3)), (None, None));
        assert_eq!(store.get(2), Some(&b"message 2"[..]));
        assert_eq!(store.next_sequence(), 3);
    }
}
