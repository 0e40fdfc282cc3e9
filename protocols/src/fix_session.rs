//! The FIX 4.4 session layer, without I/O: one side of one connection, usable by a venue
//! (acceptor) and a client (initiator) alike.
//!
//! The caller cuts the byte stream into frames ([`crate::fix::frame`]) and hands each to
//! [`Session::on_frame`], calls [`Session::on_timer`] now and then, sends application messages
//! with [`Session::send`] and writes out what the session itself must send (Logon replies,
//! heartbeats, test requests, resend requests and replays, logouts), which it collects in an
//! output buffer ([`Session::drain_output`]).
//!
//! * Sequence numbers: each side numbers what it sends from 1. A Logon with ResetSeqNumFlag=Y
//!   starts the numbering afresh in both directions (it counts as number 1 and the answer
//!   says so too); that is how a market-data client starts (it takes a fresh snapshot rather
//!   than a replay of the previous connection).
//! * Resuming: a session lasts the trading day, across connections. A client that comes back
//!   ([`Session::resume`]) logs on with ResetSeqNumFlag=N numbered where its count stands and
//!   expecting the venue's next number to be the one after the last message it took in; the
//!   venue's session, parked since the last connection ended ([`Session::reconnected`]), checks
//!   that Logon's number as any message's. Each side asks for what it missed through the gap
//!   logic below, and gets it as a replay. A venue's fresh session ([`Session::accept`]) that
//!   gets a Logon with ResetSeqNumFlag=N has nothing to resume (the venue restarted): it
//!   answers with ResetSeqNumFlag=Y and both sides start afresh ([`Session::is_resumed`] tells
//!   the client which happened).
//! * Gaps: a message above the expected number is not delivered; the session asks for
//!   everything from the expected number on (ResendRequest, EndSeqNo=0) and drops what arrives
//!   beyond the gap until the replay has filled it (the replay brings those messages again).
//!   The replay has begun once a PossDup message fills the next number; a live message beyond
//!   the gap after that, or a replayed one beyond it, means the replay missed something, so
//!   the session asks again; so it does if a request goes unanswered for a heartbeat interval.
//! * Duplicates: a message below the expected number with PossDupFlag=Y is skipped; without it
//!   the peer has lost count, which ends the session.
//! * Resends: application messages sent are kept (up to a retention count) and replayed with
//!   PossDupFlag=Y and OrigSendingTime; admin messages are replaced by SequenceReset-GapFill.
//!   A request reaching past what is kept ends the session (the client reconnects and takes a
//!   fresh snapshot) rather than gap-filling what the client needs; but a resumed client,
//!   which restarted and no longer has what it sent before, gap-fills those numbers (an order
//!   it sent before a crash is never sent again: its owner sends again, by ClOrdID, what the
//!   venue has not answered).
//! * Liveness: a Heartbeat after an interval without sending; a TestRequest after an interval
//!   (plus a fifth) without receiving; the peer is dead if that gets no answer within another.

use std::collections::VecDeque;

use crate::fix::{tag, Frame, Writer};
use crate::fix44::{encode_body, encode_header, is_admin, Body, Header, Message};
use crate::DecodeError;

/// How one side of a session is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our SenderCompID (49).
    pub sender_comp_id: String,
    /// The peer's CompID: TargetCompID (56) of what we send.
    pub target_comp_id: String,
    /// HeartBtInt (108) in seconds; an acceptor takes the initiator's.
    pub heartbeat_interval_s: u32,
    /// How many sent messages are kept for resends. 0 keeps none and copies none: every
    /// resend is gap-filled (an order-entry client that never sends an order late).
    pub retention: usize,
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for the peer's Logon (or, as initiator, its answer to ours).
    AwaitingLogon,
    /// Logged on.
    Active,
    /// We sent a Logout and wait for the peer's.
    LogoutSent,
    /// Over; the connection should be closed once the output is written.
    Closed,
}

/// What a received message was.
// Returned by value and never stored: boxing the message would allocate per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// An application message, in sequence (a replayed one has PossDupFlag set).
    App(Message<'a>),
    /// The Logon handshake completed.
    LoggedOn,
    /// A session-level message, dealt with (any answer is in the output).
    Admin,
    /// A message already received (PossDupFlag=Y), skipped.
    Duplicate,
    /// A message beyond a gap: not delivered; the replay brings it again.
    Discarded,
    /// The peer logged out; the session is closed.
    LoggedOut,
}

/// Why a session refused a message or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// A well-framed message that is not a valid FIX 4.4 message, numbered `seq`. The session
    /// answered with a Reject and goes on; the message is lost to the application.
    #[error("FIX session: message {seq} refused: {error}")]
    Invalid {
        /// Its MsgSeqNum.
        seq: u64,
        /// What was wrong.
        error: DecodeError,
    },
    /// A message whose header cannot be read, so the sequence cannot be followed.
    #[error("FIX session: unreadable header: {0}")]
    Garbled(DecodeError),
    /// The first message was not a Logon.
    #[error("FIX session: expected Logon first, got MsgType {0:?}")]
    NotLoggedOn(String),
    /// The peer's CompIDs are not this session's.
    #[error("FIX session: message from {sender:?} to {target:?} does not belong to this session")]
    WrongCompIds {
        /// Its SenderCompID.
        sender: String,
        /// Its TargetCompID.
        target: String,
    },
    /// A message numbered below the expected number without PossDupFlag.
    #[error(
        "FIX session: MsgSeqNum {received} is below the expected {expected} and not a possible duplicate"
    )]
    SequenceTooLow {
        /// The number expected.
        expected: u64,
        /// The number received.
        received: u64,
    },
    /// The peer asked for messages no longer kept.
    #[error("FIX session: resend from {begin} asked for, but the oldest message kept is {oldest}")]
    ResendBeyondRetention {
        /// BeginSeqNo asked for.
        begin: u64,
        /// The oldest number kept.
        oldest: u64,
    },
    /// Nothing came from the peer, not even an answer to a TestRequest.
    #[error("FIX session: the peer has been silent for {silent_ms} ms")]
    PeerSilent {
        /// For how long.
        silent_ms: u64,
    },
    /// The Logon handshake did not complete in time.
    #[error("FIX session: no Logon within {waited_ms} ms")]
    LogonTimeout {
        /// How long we waited.
        waited_ms: u64,
    },
}

impl SessionError {
    /// Whether the session is over (the connection should be closed).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::Invalid { .. })
    }
}

/// Counters of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCounters {
    /// Messages received (every frame handed in).
    pub received: u64,
    /// Messages sent (application and admin, replays included).
    pub sent: u64,
    /// Gaps detected.
    pub gaps: u64,
    /// Gaps filled.
    pub recoveries: u64,
    /// ResendRequests sent.
    pub resend_requests_sent: u64,
    /// ResendRequests answered.
    pub resend_requests_served: u64,
    /// Application messages resent.
    pub resent: u64,
    /// SequenceReset-GapFills sent in replays.
    pub gap_fills_sent: u64,
    /// Possible duplicates skipped.
    pub duplicates: u64,
    /// Messages dropped because they came beyond a gap.
    pub discarded: u64,
    /// Messages refused as invalid.
    pub invalid: u64,
    /// TestRequests sent.
    pub test_requests_sent: u64,
}

impl std::ops::Add for SessionCounters {
    type Output = Self;

    /// The counts of two sessions together.
    fn add(self, other: Self) -> Self {
        Self {
            received: self.received + other.received,
            sent: self.sent + other.sent,
            gaps: self.gaps + other.gaps,
            recoveries: self.recoveries + other.recoveries,
            resend_requests_sent: self.resend_requests_sent + other.resend_requests_sent,
            resend_requests_served: self.resend_requests_served + other.resend_requests_served,
            resent: self.resent + other.resent,
            gap_fills_sent: self.gap_fills_sent + other.gap_fills_sent,
            duplicates: self.duplicates + other.duplicates,
            discarded: self.discarded + other.discarded,
            invalid: self.invalid + other.invalid,
            test_requests_sent: self.test_requests_sent + other.test_requests_sent,
        }
    }
}

/// A sent message kept for resends: the bytes of an application message, or `None` for an
/// admin message (gap-filled on a resend).
type Stored = Option<Vec<u8>>;

#[derive(Debug, Clone, Copy)]
struct Recovery {
    requested_at_ns: u64,
    /// A possible duplicate has filled the next number since the request.
    replay_started: bool,
    /// The request was made because a replay skipped a number (the rest of that replay is
    /// beyond the gap too and needs no further request).
    for_replay_hole: bool,
}

const NS_PER_S: u64 = 1_000_000_000;

/// One side of a FIX session.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    initiator: bool,
    state: State,
    heartbeat_ns: u64,
    next_out: u64,
    next_in: u64,
    highest_seen: u64,
    recovery: Option<Recovery>,
    started_ns: u64,
    last_sent_ns: u64,
    last_received_ns: u64,
    /// When the outstanding TestRequest was sent.
    test_request: Option<u64>,
    logout_sent_ns: u64,
    store: VecDeque<Stored>,
    store_first: u64,
    /// An acceptor whose numbers go on from an earlier connection: a Logon without
    /// ResetSeqNumFlag resumes them.
    parked: bool,
    /// Numbers below `store_first` are answered with a gap fill (a resumed initiator) rather
    /// than ending the session.
    gap_fill_unkept: bool,
    /// The Logon carried the numbers on from an earlier connection.
    resumed: bool,
    writer: Writer,
    resend_writer: Writer,
    output: Vec<u8>,
    counters: SessionCounters,
}

impl Session {
    fn new(config: SessionConfig, initiator: bool, now_ns: u64) -> Self {
        Self {
            heartbeat_ns: u64::from(config.heartbeat_interval_s.max(1)) * NS_PER_S,
            config,
            initiator,
            state: State::AwaitingLogon,
            next_out: 1,
            next_in: 1,
            highest_seen: 0,
            recovery: None,
            started_ns: now_ns,
            last_sent_ns: now_ns,
            last_received_ns: now_ns,
            test_request: None,
            logout_sent_ns: 0,
            store: VecDeque::new(),
            store_first: 1,
            parked: false,
            gap_fill_unkept: false,
            resumed: false,
            writer: Writer::new(),
            resend_writer: Writer::new(),
            output: Vec::new(),
            counters: SessionCounters::default(),
        }
    }

    /// The client side: sends Logon (with ResetSeqNumFlag=Y) at once.
    pub fn initiate(config: SessionConfig, now_ns: u64) -> Self {
        let mut session = Self::new(config, true, now_ns);
        let heart_bt_int_s = session.config.heartbeat_interval_s.max(1);
        session.send_admin(&Body::Logon { heart_bt_int_s, reset_seq_num: true }, now_ns);
        session
    }

    /// The client side, coming back to the day's session (after a dropped connection or a
    /// restart): sends Logon with ResetSeqNumFlag=N numbered `next_out`, and expects the
    /// venue's next message to be numbered `next_in` (the one after the last it took in).
    /// What the venue sent meanwhile comes as a replay (PossDupFlag=Y) once its Logon shows
    /// the gap. The session keeps nothing sent before `next_out`: asked for those numbers, it
    /// answers with SequenceReset-GapFill. If the venue answers with ResetSeqNumFlag=Y (it has
    /// no session to resume), both sides start afresh, as after [`Session::initiate`].
    pub fn resume(config: SessionConfig, next_out: u64, next_in: u64, now_ns: u64) -> Self {
        let mut session = Self::new(config, true, now_ns);
        session.next_out = next_out.max(1);
        session.store_first = session.next_out;
        session.next_in = next_in.max(1);
        session.highest_seen = session.next_in - 1;
        session.gap_fill_unkept = true;
        let heart_bt_int_s = session.config.heartbeat_interval_s.max(1);
        session.send_admin(&Body::Logon { heart_bt_int_s, reset_seq_num: false }, now_ns);
        session
    }

    /// The venue side: waits for the client's Logon. A fresh session has nothing to resume, so
    /// whatever the Logon's ResetSeqNumFlag, it starts the numbering afresh and says so.
    pub fn accept(config: SessionConfig, now_ns: u64) -> Self {
        Self::new(config, false, now_ns)
    }

    /// The venue side, after the connection ended: waits for the client's Logon on a new
    /// connection, keeping the numbers and the messages kept for resends. A Logon with
    /// ResetSeqNumFlag=N resumes the session: its number is checked as any message's (too
    /// low without PossDupFlag ends the session; above the expected number, the client is
    /// asked to resend); one with ResetSeqNumFlag=Y starts afresh in both directions and
    /// forgets what was kept. Output not yet written to the old connection is dropped (it is
    /// kept, and replayed if asked for).
    pub fn reconnected(&mut self, now_ns: u64) {
        debug_assert!(!self.initiator, "an initiator comes back with Session::resume");
        self.state = State::AwaitingLogon;
        self.parked = true;
        self.resumed = false;
        self.highest_seen = self.next_in - 1;
        self.recovery = None;
        self.started_ns = now_ns;
        self.last_sent_ns = now_ns;
        self.last_received_ns = now_ns;
        self.test_request = None;
        self.output.clear();
    }

    /// The session's setup.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Whether the Logon carried the session on from an earlier connection (neither side
    /// reset the numbers), so the peer replays what we missed; false before the Logon and
    /// after one that started afresh.
    pub fn is_resumed(&self) -> bool {
        self.resumed
    }

    /// Where the session is.
    pub fn state(&self) -> State {
        self.state
    }

    /// The counters.
    pub fn counters(&self) -> SessionCounters {
        self.counters
    }

    /// The MsgSeqNum the next message from the peer must have.
    pub fn next_in(&self) -> u64 {
        self.next_in
    }

    /// The MsgSeqNum our next message gets.
    pub fn next_out(&self) -> u64 {
        self.next_out
    }

    /// Whether messages from the peer were lost and are not yet replayed: application
    /// messages delivered since the gap opened are in sequence, but some are missing.
    pub fn is_gap_open(&self) -> bool {
        self.recovery.is_some()
    }

    /// The bytes the session must send; the caller writes them out, in order, before any
    /// message [`Session::send`] returns after this call.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Moves the pending output to the end of `out`.
    pub fn drain_output(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.output);
        self.output.clear();
    }

    /// Numbers, encodes and keeps `body` (the bytes of an application message, for resends),
    /// leaving it in the writer.
    fn encode_next(&mut self, body: &Body<'_>, now_ns: u64) {
        let header = header(&self.config, self.next_out, now_ns);
        encode_header(&mut self.writer, body.msg_type(), &header);
        encode_body(&mut self.writer, body);
        let bytes = self.writer.finish();
        let keep = self.config.retention > 0 && !is_admin(body.msg_type().as_bytes());
        let stored = keep.then(|| bytes.to_vec());
        self.store.push_back(stored);
        if self.store.len() > self.config.retention.max(1) {
            self.store.pop_front();
            self.store_first += 1;
        }
        self.next_out += 1;
        self.last_sent_ns = now_ns;
        self.counters.sent += 1;
    }

    /// Numbers, encodes and keeps `body` (for resends) and returns its bytes, which the
    /// caller must write after [`Session::output`]. A message the caller does not write still
    /// has its number: the peer will see a gap and ask for it. Keeping an application message
    /// copies it (one allocation per message sent).
    pub fn send(&mut self, body: &Body<'_>, now_ns: u64) -> &[u8] {
        self.encode_next(body, now_ns);
        self.writer.as_bytes()
    }

    fn send_admin(&mut self, body: &Body<'_>, now_ns: u64) {
        self.encode_next(body, now_ns);
        self.output.extend_from_slice(self.writer.as_bytes());
    }

    /// Sends Logout; the session closes when the peer answers (or after a heartbeat interval).
    pub fn logout(&mut self, text: Option<&str>, now_ns: u64) {
        if self.state == State::Closed {
            return;
        }
        self.send_admin(&Body::Logout { text }, now_ns);
        self.state = State::LogoutSent;
        self.logout_sent_ns = now_ns;
    }

    /// Ends the session with a Logout naming `error`, which is returned.
    fn fail(&mut self, error: SessionError, now_ns: u64) -> SessionError {
        if self.state != State::Closed {
            let text = error.to_string();
            self.send_admin(&Body::Logout { text: Some(&text) }, now_ns);
            self.state = State::Closed;
        }
        error
    }

    fn request_resend(&mut self, for_replay_hole: bool, now_ns: u64) {
        let begin_seq_no = self.next_in;
        self.send_admin(&Body::ResendRequest { begin_seq_no, end_seq_no: 0 }, now_ns);
        self.counters.resend_requests_sent += 1;
        self.recovery = Some(Recovery { requested_at_ns: now_ns, replay_started: false, for_replay_hole });
    }

    /// Takes one received message.
    pub fn on_frame<'a>(&mut self, frame: &Frame<'a>, now_ns: u64) -> Result<Incoming<'a>, SessionError> {
        self.counters.received += 1;
        self.last_received_ns = now_ns;
        // Anything from the peer shows it is alive.
        self.test_request = None;
        let message = match Message::decode(frame) {
            Ok(message) => message,
            Err(error) => return Err(self.on_invalid(frame, error, now_ns)),
        };
        let header = message.header;
        let logon = self.state == State::AwaitingLogon;
        let mut seq = header.msg_seq_num;
        if logon && self.on_logon(&message, now_ns)? {
            // A Logon that starts afresh is number 1, whatever it says.
            seq = 1;
        }
        if let Body::SequenceReset { gap_fill: false, new_seq_no } = message.body {
            // Reset mode ignores the message's own number.
            self.next_in = self.next_in.max(new_seq_no);
            self.close_gap_if_filled();
            return Ok(Incoming::Admin);
        }
        self.highest_seen = self.highest_seen.max(seq);
        if seq < self.next_in {
            if header.poss_dup {
                self.counters.duplicates += 1;
                return Ok(Incoming::Duplicate);
            }
            let error = SessionError::SequenceTooLow { expected: self.next_in, received: seq };
            return Err(self.fail(error, now_ns));
        }
        if seq > self.next_in {
            // A ResendRequest is answered even across a gap, so both sides can recover.
            if let Body::ResendRequest { begin_seq_no, end_seq_no } = message.body {
                self.serve_resend(begin_seq_no, end_seq_no, now_ns)?;
            }
            self.on_beyond_gap(header.poss_dup, now_ns);
            // A Logon beyond a gap (a resume, after missed messages) still logs on.
            return Ok(if logon { Incoming::LoggedOn } else { Incoming::Discarded });
        }
        self.next_in += 1;
        if header.poss_dup {
            if let Some(recovery) = &mut self.recovery {
                recovery.replay_started = true;
            }
        }
        let incoming = self.dispatch(message, now_ns)?;
        self.close_gap_if_filled();
        Ok(incoming)
    }

    /// Takes the first message, which must be a Logon of this session; returns whether it
    /// started the numbering afresh.
    fn on_logon(&mut self, message: &Message<'_>, now_ns: u64) -> Result<bool, SessionError> {
        let Body::Logon { heart_bt_int_s, reset_seq_num } = message.body else {
            let error = SessionError::NotLoggedOn(message.body.msg_type().to_owned());
            return Err(self.fail(error, now_ns));
        };
        let header = message.header;
        if header.sender_comp_id != self.config.target_comp_id
            || header.target_comp_id != self.config.sender_comp_id
        {
            let error = SessionError::WrongCompIds {
                sender: header.sender_comp_id.to_owned(),
                target: header.target_comp_id.to_owned(),
            };
            return Err(self.fail(error, now_ns));
        }
        // A fresh venue session has nothing to resume: it starts afresh whatever was asked.
        let afresh = reset_seq_num || !(self.initiator || self.parked);
        if afresh {
            self.restart_numbering();
        } else if !self.initiator && header.msg_seq_num < self.next_in && !header.poss_dup {
            let error = SessionError::SequenceTooLow { expected: self.next_in, received: header.msg_seq_num };
            return Err(self.fail(error, now_ns));
        }
        self.resumed = !afresh;
        if !self.initiator {
            self.heartbeat_ns = u64::from(heart_bt_int_s) * NS_PER_S;
            self.config.heartbeat_interval_s = heart_bt_int_s;
            self.send_admin(&Body::Logon { heart_bt_int_s, reset_seq_num: afresh }, now_ns);
        }
        self.state = State::Active;
        Ok(afresh)
    }

    /// Starts the numbering afresh in both directions, each side's Logon being number 1: the
    /// peer's next is 1 (its Logon), ours is 1 (an acceptor's answer) or 2 (an initiator's
    /// Logon was 1); nothing sent before is kept.
    fn restart_numbering(&mut self) {
        self.next_in = 1;
        self.highest_seen = 0;
        self.recovery = None;
        self.store.clear();
        self.store_first = 1;
        self.next_out = 1;
        if self.initiator {
            self.store.push_back(None);
            self.next_out = 2;
        }
    }

    fn on_beyond_gap(&mut self, poss_dup: bool, now_ns: u64) {
        self.counters.discarded += 1;
        match self.recovery {
            None => {
                self.counters.gaps += 1;
                self.request_resend(false, now_ns);
            }
            // The replay is over (or went on past a hole) and a number is still missing.
            Some(recovery) if recovery.replay_started => self.request_resend(false, now_ns),
            // The replay skipped a number.
            Some(recovery) if poss_dup && !recovery.for_replay_hole => self.request_resend(true, now_ns),
            // A live message sent before the venue saw our request: the replay has it too.
            Some(_) => {}
        }
    }

    fn close_gap_if_filled(&mut self) {
        if self.recovery.is_some() && self.next_in > self.highest_seen {
            self.recovery = None;
            self.counters.recoveries += 1;
        }
    }

    /// A framed message that does not decode: refused with a Reject if its number can be read
    /// (its number is used up), else the session cannot go on.
    fn on_invalid(&mut self, frame: &Frame<'_>, error: DecodeError, now_ns: u64) -> SessionError {
        self.counters.invalid += 1;
        let seq = frame.get(tag::MSG_SEQ_NUM).and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok());
        let Some(seq) = seq.filter(|&s| s > 0 && self.state != State::AwaitingLogon) else {
            return self.fail(SessionError::Garbled(error), now_ns);
        };
        self.highest_seen = self.highest_seen.max(seq);
        if seq == self.next_in {
            self.next_in += 1;
            let text = error.to_string();
            self.send_admin(&Body::Reject { ref_seq_num: seq, reason: None, text: Some(&text) }, now_ns);
            self.close_gap_if_filled();
        } else if seq > self.next_in {
            self.on_beyond_gap(false, now_ns);
        }
        SessionError::Invalid { seq, error }
    }

    fn dispatch<'a>(&mut self, message: Message<'a>, now_ns: u64) -> Result<Incoming<'a>, SessionError> {
        Ok(match message.body {
            Body::Logon { .. } => Incoming::LoggedOn,
            Body::Heartbeat { .. } => Incoming::Admin,
            Body::TestRequest { test_req_id } => {
                self.send_admin(&Body::Heartbeat { test_req_id: Some(test_req_id) }, now_ns);
                Incoming::Admin
            }
            Body::ResendRequest { begin_seq_no, end_seq_no } => {
                self.serve_resend(begin_seq_no, end_seq_no, now_ns)?;
                Incoming::Admin
            }
            Body::Reject { .. } => Incoming::Admin,
            Body::SequenceReset { new_seq_no, .. } => {
                self.next_in = self.next_in.max(new_seq_no);
                Incoming::Admin
            }
            Body::Logout { .. } => {
                if self.state != State::LogoutSent {
                    self.send_admin(&Body::Logout { text: None }, now_ns);
                }
                self.state = State::Closed;
                Incoming::LoggedOut
            }
            _ => Incoming::App(message),
        })
    }

    /// Answers a ResendRequest: kept application messages again with PossDupFlag=Y and
    /// OrigSendingTime, each run of admin messages (and, for a resumed initiator, of numbers
    /// no longer kept) as one SequenceReset-GapFill.
    fn serve_resend(&mut self, begin: u64, end: u64, now_ns: u64) -> Result<(), SessionError> {
        self.counters.resend_requests_served += 1;
        let last = if end == 0 { self.next_out - 1 } else { end.min(self.next_out - 1) };
        if begin > last {
            return Ok(());
        }
        if begin < self.store_first && !self.gap_fill_unkept && self.config.retention > 0 {
            let error = SessionError::ResendBeyondRetention { begin, oldest: self.store_first };
            return Err(self.fail(error, now_ns));
        }
        let mut seq = begin;
        while seq <= last {
            if let Some(bytes) = kept(&self.store, self.store_first, seq) {
                // Stored messages are our own, well framed: the copy cannot fail.
                if let Ok(copy) = possible_duplicate(&mut self.resend_writer, bytes, now_ns) {
                    self.output.extend_from_slice(copy);
                    self.counters.resent += 1;
                }
                seq += 1;
                continue;
            }
            let mut next_app = seq + 1;
            while next_app <= last && kept(&self.store, self.store_first, next_app).is_none() {
                next_app += 1;
            }
            let header = Header {
                poss_dup: true,
                orig_sending_time_ns: Some(now_ns),
                ..header(&self.config, seq, now_ns)
            };
            let gap_fill = Body::SequenceReset { gap_fill: true, new_seq_no: next_app };
            encode_header(&mut self.resend_writer, gap_fill.msg_type(), &header);
            encode_body(&mut self.resend_writer, &gap_fill);
            self.output.extend_from_slice(self.resend_writer.finish());
            self.counters.gap_fills_sent += 1;
            seq = next_app;
        }
        self.last_sent_ns = now_ns;
        Ok(())
    }

    /// Heartbeats, test requests, overdue resend requests and timeouts; call it at least a few
    /// times a heartbeat interval.
    pub fn on_timer(&mut self, now_ns: u64) -> Result<(), SessionError> {
        let hb = self.heartbeat_ns;
        match self.state {
            State::Closed => return Ok(()),
            State::AwaitingLogon => {
                let waited = now_ns.saturating_sub(self.started_ns);
                if waited >= 2 * hb {
                    return Err(
                        self.fail(SessionError::LogonTimeout { waited_ms: waited / 1_000_000 }, now_ns)
                    );
                }
                return Ok(());
            }
            State::LogoutSent => {
                if now_ns.saturating_sub(self.logout_sent_ns) >= hb {
                    self.state = State::Closed;
                }
                return Ok(());
            }
            State::Active => {}
        }
        let silent = now_ns.saturating_sub(self.last_received_ns);
        match self.test_request {
            Some(sent_ns) if now_ns.saturating_sub(sent_ns) >= hb => {
                return Err(self.fail(SessionError::PeerSilent { silent_ms: silent / 1_000_000 }, now_ns));
            }
            None if silent >= hb + hb / 5 => {
                let id = (self.counters.test_requests_sent + 1).to_string();
                self.send_admin(&Body::TestRequest { test_req_id: &id }, now_ns);
                self.test_request = Some(now_ns);
                self.counters.test_requests_sent += 1;
            }
            _ => {}
        }
        if let Some(recovery) = self.recovery {
            if now_ns.saturating_sub(recovery.requested_at_ns) >= hb {
                self.request_resend(false, now_ns);
            }
        }
        if now_ns.saturating_sub(self.last_sent_ns) >= hb {
            self.send_admin(&Body::Heartbeat { test_req_id: None }, now_ns);
        }
        Ok(())
    }
}

/// The bytes of application message `seq` in `store` (which starts at number `first`), if
/// kept: admin messages, and numbers outside what is kept, have none.
fn kept(store: &VecDeque<Stored>, first: u64, seq: u64) -> Option<&[u8]> {
    let index = seq.checked_sub(first)?;
    store.get(usize::try_from(index).ok()?)?.as_deref()
}

fn header(config: &SessionConfig, msg_seq_num: u64, now_ns: u64) -> Header<'_> {
    Header {
        sender_comp_id: &config.sender_comp_id,
        target_comp_id: &config.target_comp_id,
        msg_seq_num,
        sending_time_ns: now_ns,
        poss_dup: false,
        orig_sending_time_ns: None,
    }
}

/// `message` again as a possible duplicate: SendingTime now, PossDupFlag=Y and
/// OrigSendingTime the original SendingTime, every other field as it was. An error if
/// `message` is not one well-framed message.
pub fn possible_duplicate<'w>(
    writer: &'w mut Writer,
    message: &[u8],
    now_ns: u64,
) -> Result<&'w [u8], DecodeError> {
    let frame = match crate::fix::frame(message)? {
        Some((frame, used)) if used == message.len() => frame,
        _ => {
            return Err(DecodeError::Truncated {
                protocol: "FIX 4.4",
                detail: "a possible duplicate needs exactly one whole message".into(),
            })
        }
    };
    let msg_type = std::str::from_utf8(frame.msg_type())
        .map_err(|_| DecodeError::UnknownType { protocol: "FIX 4.4", msg_type: frame.msg_type()[0] })?;
    writer.begin(msg_type);
    for (t, value) in frame.fields() {
        match t {
            tag::POSS_DUP_FLAG | tag::ORIG_SENDING_TIME => {}
            tag::SENDING_TIME => {
                writer
                    .timestamp(tag::SENDING_TIME, now_ns)
                    .char(tag::POSS_DUP_FLAG, b'Y')
                    .field(tag::ORIG_SENDING_TIME, value);
            }
            _ => {
                writer.field(t, value);
            }
        }
    }
    Ok(writer.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::frame;

    const T0: u64 = 1_795_559_799_000_000_000;
    const S: u64 = NS_PER_S;

    fn config(sender: &str, target: &str) -> SessionConfig {
        SessionConfig {
            sender_comp_id: sender.into(),
            target_comp_id: target.into(),
            heartbeat_interval_s: 1,
            retention: 100,
        }
    }

    /// What a delivered message was, without borrowing it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Seen {
        App { seq: u64, label: String, poss_dup: bool },
        LoggedOn,
        Admin,
        Duplicate,
        Discarded,
        LoggedOut,
        Error(String),
    }

    /// Hands every message in `bytes` to `to`.
    fn deliver(bytes: &[u8], to: &mut Session, now_ns: u64) -> Vec<Seen> {
        let mut seen = Vec::new();
        let mut rest = bytes;
        while let Some((frame, used)) = frame(rest).unwrap() {
            seen.push(match to.on_frame(&frame, now_ns) {
                Ok(Incoming::App(m)) => {
                    let Body::MarketDataRequestReject { md_req_id, .. } = m.body else { panic!("{m:?}") };
                    Seen::App {
                        seq: m.header.msg_seq_num,
                        label: md_req_id.into(),
                        poss_dup: m.header.poss_dup,
                    }
                }
                Ok(Incoming::LoggedOn) => Seen::LoggedOn,
                Ok(Incoming::Admin) => Seen::Admin,
                Ok(Incoming::Duplicate) => Seen::Duplicate,
                Ok(Incoming::Discarded) => Seen::Discarded,
                Ok(Incoming::LoggedOut) => Seen::LoggedOut,
                Err(e) => Seen::Error(e.to_string()),
            });
            rest = &rest[used..];
        }
        seen
    }

    fn output(session: &mut Session) -> Vec<u8> {
        let mut out = Vec::new();
        session.drain_output(&mut out);
        out
    }

    /// Every message in `bytes` as `(MsgType, fields)` text with `|` for SOH.
    fn texts(bytes: &[u8]) -> Vec<String> {
        let mut texts = Vec::new();
        let mut rest = bytes;
        while let Some((frame, used)) = frame(rest).unwrap() {
            texts.push(String::from_utf8_lossy(frame.bytes()).replace('\x01', "|"));
            rest = &rest[used..];
        }
        texts
    }

    fn app(label: &str) -> Body<'_> {
        Body::MarketDataRequestReject { md_req_id: label, text: None }
    }

    /// A venue and a client, logged on.
    fn logged_on() -> (Session, Session) {
        let mut client = Session::initiate(config("FEED", "VENUEB"), T0);
        let mut venue = Session::accept(config("VENUEB", "FEED"), T0);
        assert_eq!(deliver(&output(&mut client), &mut venue, T0), [Seen::LoggedOn]);
        assert_eq!(deliver(&output(&mut venue), &mut client, T0), [Seen::LoggedOn]);
        (venue, client)
    }

    #[test]
    fn a_logon_is_answered_and_both_sides_count_from_one() {
        let mut client = Session::initiate(config("FEED", "VENUEB"), T0);
        let logon = output(&mut client);
        assert!(texts(&logon)[0].contains("|35=A|49=FEED|56=VENUEB|34=1|"));
        assert!(texts(&logon)[0].contains("|98=0|108=1|141=Y|"));
        let mut venue = Session::accept(config("VENUEB", "FEED"), T0);
        assert_eq!(venue.state(), State::AwaitingLogon);
        assert_eq!(deliver(&logon, &mut venue, T0), [Seen::LoggedOn]);
        let answer = output(&mut venue);
        assert!(texts(&answer)[0].contains("|35=A|49=VENUEB|56=FEED|34=1|"));
        assert_eq!(deliver(&answer, &mut client, T0), [Seen::LoggedOn]);
        assert_eq!((client.state(), venue.state()), (State::Active, State::Active));
        assert_eq!((client.next_in(), client.next_out(), venue.next_in(), venue.next_out()), (2, 2, 2, 2));
    }

    #[test]
    fn a_logon_for_another_session_or_another_first_message_ends_the_session() {
        let mut stranger = Session::initiate(config("OTHER", "VENUEB"), T0);
        let mut venue = Session::accept(config("VENUEB", "FEED"), T0);
        let seen = deliver(&output(&mut stranger), &mut venue, T0);
        assert!(matches!(&seen[0], Seen::Error(e) if e.contains("\"OTHER\"")), "{seen:?}");
        assert_eq!(venue.state(), State::Closed);
        assert!(texts(&output(&mut venue))[0].contains("|35=5|"), "a Logout says why");

        let mut fresh = Session::accept(config("VENUEB", "FEED"), T0);
        let client = config("FEED", "VENUEB");
        let mut w = Writer::new();
        let hb = Message { header: header(&client, 1, T0), body: Body::Heartbeat { test_req_id: None } };
        let seen = deliver(hb.encode(&mut w), &mut fresh, T0);
        assert!(matches!(&seen[0], Seen::Error(e) if e.contains("expected Logon")), "{seen:?}");
    }

    #[test]
    fn silence_brings_heartbeats_then_a_test_request_then_the_end() {
        let (mut venue, mut client) = logged_on();
        venue.on_timer(T0 + S / 2).unwrap();
        assert!(output(&mut venue).is_empty(), "nothing due within the interval");
        client.on_timer(T0 + S).unwrap();
        let out = texts(&output(&mut client));
        assert!(out.len() == 1 && out[0].contains("|35=0|"), "a heartbeat after an interval: {out:?}");
        client.on_timer(T0 + S + S / 5).unwrap();
        let out = texts(&output(&mut client));
        assert!(out.iter().any(|m| m.contains("|35=1|") && m.contains("|112=1|")), "{out:?}");
        let err = client.on_timer(T0 + 2 * S + S / 5).unwrap_err();
        assert!(matches!(err, SessionError::PeerSilent { silent_ms: 2200 }), "{err}");
        assert_eq!(client.state(), State::Closed);
    }

    #[test]
    fn a_test_request_is_answered_with_its_id() {
        let (mut venue, mut client) = logged_on();
        client.send_admin(&Body::TestRequest { test_req_id: "ping-7" }, T0);
        assert_eq!(deliver(&output(&mut client), &mut venue, T0), [Seen::Admin]);
        let answer = texts(&output(&mut venue));
        assert!(answer[0].contains("|35=0|") && answer[0].contains("|112=ping-7|"), "{answer:?}");
    }

    #[test]
    fn a_gap_is_requested_and_filled_by_possible_duplicates_and_gap_fills() {
        let (mut venue, mut client) = logged_on();
        let first = venue.send(&app("a"), T0 + 1).to_vec();
        let _lost = venue.send(&app("b"), T0 + 2).to_vec();
        venue.send_admin(&Body::Heartbeat { test_req_id: None }, T0 + 3);
        let _lost_admin = output(&mut venue);
        let _lost_too = venue.send(&app("c"), T0 + 4).to_vec();
        let after_gap = venue.send(&app("d"), T0 + 5).to_vec();
        assert_eq!(
            deliver(&first, &mut client, T0 + 10),
            [Seen::App { seq: 2, label: "a".into(), poss_dup: false }]
        );
        assert_eq!(deliver(&after_gap, &mut client, T0 + 11), [Seen::Discarded]);
        assert!(client.is_gap_open());
        let request = output(&mut client);
        assert!(texts(&request)[0].contains("|35=2|") && texts(&request)[0].contains("|7=3|16=0|"));

        assert_eq!(deliver(&request, &mut venue, T0 + 20), [Seen::Admin]);
        let replay = output(&mut venue);
        let replayed = texts(&replay);
        assert_eq!(replayed.len(), 4, "{replayed:?}");
        assert!(
            replayed[0].contains("|34=3|52=") && replayed[0].contains("|43=Y|122=20261124-22:36:39.000|")
        );
        assert!(
            replayed[1].contains("|35=4|")
                && replayed[1].contains("|34=4|")
                && replayed[1].contains("|123=Y|36=5|")
        );
        assert!(replayed[1].contains("|43=Y|"), "a gap fill is a possible duplicate");
        assert_eq!(
            deliver(&replay, &mut client, T0 + 21),
            [
                Seen::App { seq: 3, label: "b".into(), poss_dup: true },
                Seen::Admin,
                Seen::App { seq: 5, label: "c".into(), poss_dup: true },
                Seen::App { seq: 6, label: "d".into(), poss_dup: true },
            ]
        );
        assert!(!client.is_gap_open());
        let c = client.counters();
        assert_eq!((c.gaps, c.recoveries, c.resend_requests_sent), (1, 1, 1));
        assert_eq!(venue.counters().resent, 3);
        assert_eq!(venue.counters().gap_fills_sent, 1);
    }

    #[test]
    fn a_possible_duplicate_copy_needs_one_whole_message() {
        let (mut venue, _) = logged_on();
        let a = venue.send(&app("a"), T0).to_vec();
        let mut w = Writer::new();
        assert!(possible_duplicate(&mut w, &a[..a.len() - 1], T0).is_err());
        assert!(possible_duplicate(&mut w, &[a.clone(), a.clone()].concat(), T0).is_err());
        assert!(possible_duplicate(&mut w, b"garbage", T0).is_err());
    }

    #[test]
    fn a_possible_duplicate_is_skipped_and_a_plain_repeat_ends_the_session() {
        let (mut venue, mut client) = logged_on();
        let a = venue.send(&app("a"), T0).to_vec();
        deliver(&a, &mut client, T0);
        let mut w = Writer::new();
        let again = possible_duplicate(&mut w, &a, T0 + 1).unwrap().to_vec();
        assert_eq!(deliver(&again, &mut client, T0 + 1), [Seen::Duplicate]);
        assert_eq!(client.counters().duplicates, 1);
        let seen = deliver(&a, &mut client, T0 + 2);
        assert!(matches!(&seen[0], Seen::Error(e) if e.contains("below the expected 3")), "{seen:?}");
        assert_eq!(client.state(), State::Closed);
    }

    #[test]
    fn a_replay_that_misses_a_message_is_asked_for_again() {
        let (mut venue, mut client) = logged_on();
        let sent: Vec<Vec<u8>> = ["a", "b", "c"].iter().map(|l| venue.send(&app(l), T0).to_vec()).collect();
        assert_eq!(deliver(&sent[2], &mut client, T0), [Seen::Discarded]);
        let request = output(&mut client);
        deliver(&request, &mut venue, T0);
        let replay = output(&mut venue);
        // The first replayed message is lost; the second shows the hole.
        let (first, _) = frame(&replay).unwrap().unwrap();
        let rest = &replay[first.bytes().len()..];
        let seen = deliver(rest, &mut client, T0);
        assert_eq!(seen[0], Seen::Discarded);
        let again = texts(&output(&mut client));
        assert!(again.len() == 1 && again[0].contains("|7=2|16=0|"), "{again:?}");
        assert!(client.is_gap_open());
    }

    #[test]
    fn an_unanswered_resend_request_is_repeated_after_an_interval() {
        let (mut venue, mut client) = logged_on();
        let _lost = venue.send(&app("a"), T0);
        let b = venue.send(&app("b"), T0).to_vec();
        deliver(&b, &mut client, T0);
        let _ = output(&mut client);
        client.on_timer(T0 + S / 2).unwrap();
        assert!(output(&mut client).is_empty());
        deliver(venue.send(&Body::Heartbeat { test_req_id: None }, T0 + S), &mut client, T0 + S);
        client.on_timer(T0 + S).unwrap();
        let out = texts(&output(&mut client));
        assert!(out.iter().any(|m| m.contains("|35=2|") && m.contains("|7=2|")), "{out:?}");
    }

    #[test]
    fn a_session_that_keeps_nothing_gap_fills_every_resend() {
        let mut venue = Session::accept(config("VENUEB", "FEED"), T0);
        let mut client = Session::initiate(SessionConfig { retention: 0, ..config("FEED", "VENUEB") }, T0);
        deliver(&output(&mut client), &mut venue, T0);
        deliver(&output(&mut venue), &mut client, T0);
        for label in ["a", "b", "c"] {
            client.send(&app(label), T0);
        }
        output(&mut client); // lost on the way
        venue.send_admin(&Body::ResendRequest { begin_seq_no: 2, end_seq_no: 0 }, T0);
        deliver(&output(&mut venue), &mut client, T0);
        let said = texts(&output(&mut client));
        assert_eq!(said.len(), 1, "one gap fill, no order again: {said:?}");
        assert!(said[0].contains("|35=4|") && said[0].contains("|34=2|") && said[0].contains("|123=Y|36=5|"));
        assert_eq!((client.counters().resent, client.state()), (0, State::Active));
    }

    #[test]
    fn a_resend_beyond_what_is_kept_ends_the_session() {
        let mut venue = Session::accept(SessionConfig { retention: 2, ..config("VENUEB", "FEED") }, T0);
        let mut client = Session::initiate(config("FEED", "VENUEB"), T0);
        deliver(&output(&mut client), &mut venue, T0);
        deliver(&output(&mut venue), &mut client, T0);
        for label in ["a", "b", "c", "d"] {
            venue.send(&app(label), T0);
        }
        client.send_admin(&Body::ResendRequest { begin_seq_no: 2, end_seq_no: 0 }, T0);
        let seen = deliver(&output(&mut client), &mut venue, T0);
        assert!(matches!(&seen[0], Seen::Error(e) if e.contains("oldest message kept is 4")), "{seen:?}");
        assert_eq!(venue.state(), State::Closed);
    }

    #[test]
    fn an_invalid_message_is_rejected_and_its_number_used_up() {
        let (mut venue, mut client) = logged_on();
        let mut w = Writer::new();
        encode_header(&mut w, "D", &header(&config("FEED", "VENUEB"), 2, T0));
        w.str(tag::SYMBOL, "AAPL");
        let bad = w.finish().to_vec();
        let seen = deliver(&bad, &mut venue, T0);
        assert!(matches!(&seen[0], Seen::Error(e) if e.contains("lacks the required field")), "{seen:?}");
        let reject = texts(&output(&mut venue));
        assert!(reject[0].contains("|35=3|") && reject[0].contains("|45=2|"), "{reject:?}");
        assert_eq!((venue.next_in(), venue.state()), (3, State::Active));
        client.next_out = 3;
        assert_eq!(deliver(client.send(&app("ok"), T0), &mut venue, T0).len(), 1);
        assert_eq!(venue.next_in(), 4);
    }

    #[test]
    fn a_logout_is_answered_and_closes_both_sides() {
        let (mut venue, mut client) = logged_on();
        client.logout(Some("done"), T0);
        assert_eq!(client.state(), State::LogoutSent);
        assert_eq!(deliver(&output(&mut client), &mut venue, T0), [Seen::LoggedOut]);
        assert_eq!(venue.state(), State::Closed);
        assert_eq!(deliver(&output(&mut venue), &mut client, T0), [Seen::LoggedOut]);
        assert_eq!(client.state(), State::Closed);
    }

    /// The client's session comes back after a crash: a new session resuming from the
    /// numbers it had; the venue's parks and takes the new connection.
    fn come_back(venue: &mut Session, client: &Session, next_in: u64, now_ns: u64) -> Session {
        venue.reconnected(now_ns);
        Session::resume(config("FEED", "VENUEB"), client.next_out(), next_in, now_ns)
    }

    #[test]
    fn a_resumed_logon_is_answered_without_a_reset_and_the_gap_is_replayed() {
        let (mut venue, mut client) = logged_on();
        let a = venue.send(&app("a"), T0).to_vec();
        assert_eq!(deliver(&a, &mut client, T0).len(), 1);
        let _unread = venue.send(&app("b"), T0 + 1).to_vec();
        // The client dies having taken in "a" (the venue's 2); the venue, not yet knowing,
        // sends "c" into the dead connection.
        let _lost = venue.send(&app("c"), T0 + 2).to_vec();
        let mut client = come_back(&mut venue, &client, 3, T0 + S);
        let logon = output(&mut client);
        assert!(texts(&logon)[0].contains("|35=A|49=FEED|56=VENUEB|34=2|"), "{:?}", texts(&logon));
        assert!(!texts(&logon)[0].contains("|141="), "ResetSeqNumFlag=N, by its absence");
        assert_eq!(deliver(&logon, &mut venue, T0 + S), [Seen::LoggedOn]);
        assert!(venue.is_resumed());
        let answer = output(&mut venue);
        assert!(texts(&answer)[0].contains("|35=A|49=VENUEB|56=FEED|34=5|"));
        assert!(!texts(&answer)[0].contains("|141="));
        assert_eq!(deliver(&answer, &mut client, T0 + S), [Seen::LoggedOn]);
        assert_eq!(client.state(), State::Active);
        assert!(client.is_resumed() && client.is_gap_open());
        let request = output(&mut client);
        assert!(texts(&request)[0].contains("|35=2|") && texts(&request)[0].contains("|7=3|16=0|"));
        assert_eq!(deliver(&request, &mut venue, T0 + S), [Seen::Admin]);
        assert_eq!(
            deliver(&output(&mut venue), &mut client, T0 + S),
            [
                Seen::App { seq: 3, label: "b".into(), poss_dup: true },
                Seen::App { seq: 4, label: "c".into(), poss_dup: true },
                Seen::Admin,
            ],
            "the venue's Logon is gap-filled"
        );
        assert!(!client.is_gap_open());
        assert_eq!((client.next_in(), venue.next_in()), (6, 4));
    }

    #[test]
    fn a_resumed_logon_above_the_expected_number_is_gap_filled_by_a_client_that_kept_nothing() {
        let (mut venue, mut client) = logged_on();
        // Two orders the venue never got: the client's count went on (as a count kept in a
        // file, updated before each send, may even overshoot).
        client.send(&app("x"), T0);
        client.send(&app("y"), T0);
        let mut client = come_back(&mut venue, &client, 2, T0 + S);
        assert_eq!(deliver(&output(&mut client), &mut venue, T0 + S), [Seen::LoggedOn]);
        let answer = output(&mut venue);
        let said = texts(&answer);
        assert!(said[0].contains("|35=A|") && said[1].contains("|35=2|") && said[1].contains("|7=2|16=0|"));
        assert_eq!(deliver(&answer, &mut client, T0 + S), [Seen::LoggedOn, Seen::Admin]);
        let fill = output(&mut client);
        let said = texts(&fill);
        assert_eq!(said.len(), 1, "one gap fill over the orders and the Logon: {said:?}");
        assert!(said[0].contains("|35=4|") && said[0].contains("|34=2|") && said[0].contains("|123=Y|36=5|"));
        assert_eq!(deliver(&fill, &mut venue, T0 + S), [Seen::Admin]);
        assert!(!venue.is_gap_open());
        assert_eq!(venue.next_in(), 5);
        assert_eq!(client.counters().resent, 0, "a stale order is never sent again");
    }

    #[test]
    fn a_resumed_logon_below_the_expected_number_ends_the_session_with_a_reason() {
        let (mut venue, mut client) = logged_on();
        deliver(client.send(&app("x"), T0), &mut venue, T0);
        venue.reconnected(T0 + S);
        let mut behind = Session::resume(config("FEED", "VENUEB"), 2, 2, T0 + S);
        let seen = deliver(&output(&mut behind), &mut venue, T0 + S);
        assert!(
            matches!(&seen[0], Seen::Error(e) if e.contains("MsgSeqNum 2 is below the expected 3")),
            "{seen:?}"
        );
        assert_eq!(venue.state(), State::Closed);
        let said = texts(&output(&mut venue));
        assert!(said.len() == 1 && said[0].contains("|35=5|"), "a Logout, no Logon: {said:?}");
    }

    #[test]
    fn a_reset_logon_after_a_park_starts_afresh_both_ways_and_forgets_what_was_kept() {
        let (mut venue, client) = logged_on();
        venue.send(&app("a"), T0);
        let _ = client;
        venue.reconnected(T0 + S);
        let mut client = Session::initiate(config("FEED", "VENUEB"), T0 + S);
        assert_eq!(deliver(&output(&mut client), &mut venue, T0 + S), [Seen::LoggedOn]);
        let answer = output(&mut venue);
        assert!(texts(&answer)[0].contains("|34=1|") && texts(&answer)[0].contains("|141=Y|"));
        assert_eq!(deliver(&answer, &mut client, T0 + S), [Seen::LoggedOn]);
        assert!(!venue.is_resumed() && !client.is_resumed());
        assert_eq!((venue.next_in(), venue.next_out(), client.next_in(), client.next_out()), (2, 2, 2, 2));
        client.send_admin(&Body::ResendRequest { begin_seq_no: 1, end_seq_no: 0 }, T0 + S);
        deliver(&output(&mut client), &mut venue, T0 + S);
        let replay = texts(&output(&mut venue));
        assert!(replay.len() == 1 && replay[0].contains("|123=Y|36=2|"), "only the new Logon: {replay:?}");
    }

    #[test]
    fn a_fresh_venue_session_answers_a_resume_with_a_reset_and_the_client_starts_afresh() {
        let mut venue = Session::accept(config("VENUEB", "FEED"), T0);
        let mut client = Session::resume(config("FEED", "VENUEB"), 40, 17, T0);
        assert_eq!(deliver(&output(&mut client), &mut venue, T0), [Seen::LoggedOn]);
        let answer = output(&mut venue);
        assert!(texts(&answer)[0].contains("|34=1|") && texts(&answer)[0].contains("|141=Y|"));
        assert_eq!(deliver(&answer, &mut client, T0), [Seen::LoggedOn]);
        assert!(!client.is_resumed() && !client.is_gap_open());
        assert_eq!((venue.next_in(), venue.next_out(), client.next_in(), client.next_out()), (2, 2, 2, 2));
        let a = venue.send(&app("a"), T0).to_vec();
        assert_eq!(deliver(&a, &mut client, T0), [Seen::App { seq: 2, label: "a".into(), poss_dup: false }]);
        assert_eq!(deliver(client.send(&app("x"), T0), &mut venue, T0).len(), 1);
        assert!(!venue.is_gap_open());
    }

    #[test]
    fn a_logon_that_never_comes_times_out() {
        let mut venue = Session::accept(config("VENUEB", "FEED"), T0);
        venue.on_timer(T0 + S).unwrap();
        assert!(matches!(venue.on_timer(T0 + 2 * S), Err(SessionError::LogonTimeout { waited_ms: 2000 })));
    }
}
