//! Venue B's order entry: FIX 4.4 over TCP (NewOrderSingle, OrderCancelRequest,
//! OrderCancelReplaceRequest; ExecutionReport and OrderCancelReject back). Client order ids
//! travel as their decimal digits, a cancel request's as the order's followed by `C`; prices
//! and quantities in FIX's decimal text are our fixed point exactly.
//!
//! Venue B keeps our session (its numbers and the messages it sent) for the trading day and
//! cancels our orders when a connection ends, reporting the cancels into the session. So after
//! a dropped connection or a restart the gateway logs on again without resetting the numbers
//! ([`FixGateway::reconnect`], or [`FixGateway::connect`] from the journal) and the venue
//! replays what we missed, those cancels included: the OMS learns every fill and every cancel
//! from the venue, once. Our next number survives a crash in a [`FixSessionStore`]; the
//! venue's next number comes from the journal (every report is journalled with
//! [`FixGateway::next_sequence`]), so a restarted worker is sent only what it had not
//! journalled. What we sent before a restart is not kept: asked for it, the gateway gap-fills
//! (a stale order is never sent again). A venue that answers with a fresh session (it
//! restarted) replays nothing ([`FixGateway::replays_missed`]): our orders there are then
//! taken as cancelled ([`crate::gateway::cancelled_on_disconnect`]).

use std::fs::OpenOptions;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use protocols::fix::frame;
use protocols::fix44::{
    Body, CxlRejResponseTo, ExecType, ExecutionReport, Message, NewOrderSingle, OrdType,
    OrderCancelReplaceRequest, OrderCancelRequest, Side as FixSide,
};
use protocols::fix_session::{Incoming, Session, SessionConfig, SessionError, State};
use protocols::DecodeError;
use risk::{NewOrder, Side};
use shm_layout::realtime_ns;

use crate::gateway::{IdText, OrderEntry, Refused, SymbolTable, VenueReport};
use crate::oms::{Order, Replacement, Report};

/// The read buffer's size: far more than one message.
const READ_BUFFER: usize = 64 << 10;
/// Sent messages kept for the venue's resend requests: none. A resend is gap-filled (an order
/// is never sent late; one the venue never saw is resolved once its replay is done), and
/// sending copies nothing.
const RETENTION: usize = 0;

/// Why the gateway could not send, or could not read the venue.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// The socket failed or the venue closed it.
    #[error("FIX gateway: {0}")]
    Io(#[from] io::Error),
    /// The session store could not be opened or mapped.
    #[error("FIX gateway: session store {path}: {source}")]
    Store {
        /// The store's file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The session failed (logon refused, a timeout, a peer that lost count).
    #[error("FIX gateway: {0}")]
    Session(#[from] SessionError),
    /// The venue sent bytes that are not FIX 4.4.
    #[error("FIX gateway: {0}")]
    Decode(#[from] DecodeError),
    /// The venue did not answer our Logon in time.
    #[error("FIX gateway: no Logon from the venue within {0:?}")]
    LogonTimeout(Duration),
    /// An order or a report that names what the gateway does not know.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The session is over (the venue logged us out).
    #[error("FIX gateway: the session ended")]
    Ended,
}

/// The order id in a ClOrdID: its digits, with a cancel request's `C` dropped.
fn id_of(text: &str) -> Result<u64, FixError> {
    let digits = text.strip_suffix('C').unwrap_or(text);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refused::ForeignId(text.to_owned()).into());
    }
    digits.parse().map_err(|_| Refused::ForeignId(text.to_owned()).into())
}

fn fix_side(side: Side) -> FixSide {
    match side {
        Side::Buy => FixSide::Buy,
        Side::Sell => FixSide::Sell,
    }
}

/// The first bytes of a session store.
const STORE_MAGIC: u64 = u64::from_le_bytes(*b"TRFIXS01");
/// A session store's size: one page.
const STORE_LEN: usize = 4096;

/// Where the number of our next FIX message survives a crash of the process: a page-sized
/// file (next to the journal) mapped shared, holding a magic and the number.
/// [`FixSessionStore::record`] is a plain memory store, no system call; the page belongs to
/// the file, so what a killed process stored last is there for the next. A number too high is
/// harmless (the venue asks for the gap and we gap-fill it); one too low would make the venue
/// refuse our Logon, so the number is recorded before the bytes it counts leave.
#[derive(Debug)]
pub struct FixSessionStore {
    /// The mapping's first two words: the magic, then the next number (0: none yet).
    words: NonNull<[AtomicU64; 2]>,
}

// SAFETY: the mapping belongs to this value alone and is only touched through atomics.
unsafe impl Send for FixSessionStore {}
// SAFETY: as for `Send`: shared references reach the mapping only through atomics.
unsafe impl Sync for FixSessionStore {}

impl FixSessionStore {
    /// Opens the store at `path`, creating it (mode 0600) if missing; a file that is not a
    /// store (too short, or without the magic) starts empty.
    pub fn open(path: &Path) -> Result<Self, FixError> {
        let failed = |source| FixError::Store { path: path.to_owned(), source };
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path);
        let file = file.map_err(failed)?;
        if file.metadata().map_err(failed)?.len() < STORE_LEN as u64 {
            file.set_len(STORE_LEN as u64).map_err(failed)?;
        }
        let (prot, flags) = (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED);
        // SAFETY: a fresh shared mapping of an open descriptor at least STORE_LEN long; the
        // kernel picks the address. The mapping outlives the descriptor, closed on return.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), STORE_LEN, prot, flags, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(failed(io::Error::last_os_error()));
        }
        let words = NonNull::new(ptr.cast()).ok_or_else(|| failed(io::Error::other("mmap returned null")))?;
        let store = Self { words };
        let [magic, next] = store.words();
        if magic.load(Ordering::Acquire) != STORE_MAGIC {
            next.store(0, Ordering::Relaxed);
            magic.store(STORE_MAGIC, Ordering::Release);
        }
        Ok(store)
    }

    fn words(&self) -> &[AtomicU64; 2] {
        // SAFETY: `words` points at the start of a live, page-aligned, read-write mapping of
        // STORE_LEN bytes, unmapped only on drop; every access is atomic.
        unsafe { self.words.as_ref() }
    }

    /// The number recorded: our next message's, if a session has recorded one.
    pub fn next_out(&self) -> Option<u64> {
        Some(self.words()[1].load(Ordering::Relaxed)).filter(|&n| n > 0)
    }

    /// Records `next_out`, the number our next message will have.
    pub fn record(&self, next_out: u64) {
        self.words()[1].store(next_out, Ordering::Relaxed);
    }
}

impl Drop for FixSessionStore {
    fn drop(&mut self) {
        // SAFETY: the mapping `open` made, of STORE_LEN bytes; nothing refers to it after this.
        unsafe { libc::munmap(self.words.as_ptr().cast(), STORE_LEN) };
    }
}

/// How the gateway logs on to venue B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixLogin {
    /// Our SenderCompID (49).
    pub sender_comp_id: String,
    /// The venue's CompID (56).
    pub target_comp_id: String,
    /// The session store's file ([`FixSessionStore`]), next to the journal.
    pub store: PathBuf,
    /// How long to wait for the venue's Logon.
    pub timeout: Duration,
}

/// A logged-on FIX order-entry session with venue B.
#[derive(Debug)]
pub struct FixGateway {
    stream: TcpStream,
    session: Session,
    config: SessionConfig,
    store: FixSessionStore,
    addr: SocketAddr,
    timeout: Duration,
    read_buf: Vec<u8>,
    filled: usize,
    out: Vec<u8>,
    venue: usize,
    symbols: SymbolTable<String>,
}

impl FixGateway {
    /// Connects to `addr` and logs on as `login` says, waiting at most its timeout for the
    /// venue's Logon; `symbols` are the symbols this venue lists with their instrument ids.
    /// `delivered` is the venue's next number the journal has not seen
    /// ([`crate::journal::delivered`]): with a number in the store, the gateway resumes the
    /// day's session from there (the venue replays what the journal lacks); with `delivered`
    /// 0 or an empty store, it starts a fresh session (ResetSeqNumFlag=Y).
    pub fn connect(
        addr: SocketAddr,
        login: &FixLogin,
        delivered: u64,
        venue: usize,
        symbols: &[(&str, u32)],
    ) -> Result<Self, FixError> {
        let config = SessionConfig {
            sender_comp_id: login.sender_comp_id.clone(),
            target_comp_id: login.target_comp_id.clone(),
            heartbeat_interval_s: 1,
            retention: RETENTION,
        };
        let store = FixSessionStore::open(&login.store)?;
        let table = SymbolTable::new(symbols.iter().map(|&(name, id)| (name.to_owned(), id)));
        let stream = TcpStream::connect_timeout(&addr, login.timeout)?;
        let now = realtime_ns();
        let session = match store.next_out() {
            Some(next_out) if delivered > 0 => Session::resume(config.clone(), next_out, delivered, now),
            _ => Session::initiate(config.clone(), now),
        };
        let mut gateway = Self {
            stream,
            session,
            config,
            store,
            addr,
            timeout: login.timeout,
            read_buf: vec![0; READ_BUFFER],
            filled: 0,
            out: Vec::with_capacity(READ_BUFFER),
            venue,
            symbols: table,
        };
        gateway.log_on()?;
        Ok(gateway)
    }

    /// Connects and logs on again after the connection dropped, resuming the session: the
    /// venue replays what we missed (the fills, then the cancels of what it had of ours). What
    /// was queued for the old connection is dropped (its numbers are gap-filled if asked for).
    pub fn reconnect(&mut self) -> Result<(), FixError> {
        self.stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
        let (next_out, next_in) = (self.session.next_out(), self.session.next_in());
        self.session = Session::resume(self.config.clone(), next_out, next_in, realtime_ns());
        self.filled = 0;
        self.out.clear();
        self.log_on()
    }

    /// The venue's next number not yet received: journalled with each report, it is where a
    /// restarted worker resumes from.
    pub fn next_sequence(&self) -> u64 {
        self.session.next_in()
    }

    /// Whether the venue resumed our session at the last logon, so it replays what we missed
    /// (the cancels of its cancel-on-disconnect included); false when it answered with a fresh
    /// session (our orders there are gone, and nothing of them will be reported).
    pub fn replays_missed(&self) -> bool {
        self.session.is_resumed()
    }

    /// Whether everything the venue replays after our logon has come (no gap is open).
    pub fn replay_done(&self) -> bool {
        !self.session.is_gap_open()
    }

    fn log_on(&mut self) -> Result<(), FixError> {
        self.stream.set_nodelay(true)?;
        self.stream.set_nonblocking(true)?;
        let deadline = Instant::now() + self.timeout;
        while self.session.state() != State::Active {
            if Instant::now() >= deadline {
                return Err(FixError::LogonTimeout(self.timeout));
            }
            if self.poll()?.is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    /// Runs `f` with the symbol of `instrument`; the table is moved out meanwhile (no copy),
    /// so `f` may send.
    fn with_symbol(
        &mut self,
        id: u64,
        instrument: u32,
        f: impl FnOnce(&mut Self, &str) -> Result<(), FixError>,
    ) -> Result<(), FixError> {
        let symbols = std::mem::take(&mut self.symbols);
        let outcome = match symbols.name(id, instrument) {
            Ok(symbol) => f(self, symbol),
            Err(refused) => Err(refused.into()),
        };
        self.symbols = symbols;
        outcome
    }

    fn instrument(&self, symbol: &str) -> Result<u32, FixError> {
        Ok(self.symbols.instrument(symbol).ok_or_else(|| Refused::ForeignSymbol(symbol.to_owned()))?)
    }

    /// Numbers and sends `body` after whatever the session must send first.
    fn send(&mut self, body: &Body<'_>) -> Result<(), FixError> {
        let now = realtime_ns();
        self.session.drain_output(&mut self.out);
        let bytes = self.session.send(body, now);
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes what is queued (every request since the last flush together; a poll flushes
    /// too); what the socket cannot take now stays queued. The store has our next number
    /// before any byte leaves.
    pub fn flush(&mut self) -> Result<(), FixError> {
        self.session.drain_output(&mut self.out);
        self.store.record(self.session.next_out());
        let mut written = 0;
        while written < self.out.len() {
            match self.stream.write(&self.out[written..]) {
                Ok(0) => {
                    return Err(io::Error::new(ErrorKind::WriteZero, "the venue closed the connection").into())
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.out.drain(..written);
        Ok(())
    }

    /// The next report the venue has sent, without waiting (`None`: nothing yet); runs the
    /// session's timers and sends what they call for.
    pub fn poll(&mut self) -> Result<Option<VenueReport>, FixError> {
        let mut used = 0;
        let outcome = self.next_report(&mut used);
        self.read_buf.copy_within(used..self.filled, 0);
        self.filled -= used;
        outcome
    }

    fn next_report(&mut self, used: &mut usize) -> Result<Option<VenueReport>, FixError> {
        loop {
            while let Some((frame, len)) = frame(&self.read_buf[*used..self.filled])? {
                *used += len;
                match self.session.on_frame(&frame, realtime_ns())? {
                    Incoming::App(message) => {
                        // Returned at once (what the session has to send goes at the next
                        // flush): a report the session has counted is never lost to an error.
                        if let Some(report) = self.report(&message)? {
                            return Ok(Some(report));
                        }
                    }
                    Incoming::LoggedOut => return Err(FixError::Ended),
                    _ => {}
                }
            }
            self.session.on_timer(realtime_ns())?;
            self.flush()?;
            if self.session.state() == State::Closed {
                return Err(FixError::Ended);
            }
            if *used > 0 {
                // Room for what comes next, before reading again.
                self.read_buf.copy_within(*used..self.filled, 0);
                self.filled -= *used;
                *used = 0;
            }
            if self.filled == self.read_buf.len() {
                self.read_buf.resize(self.read_buf.len() * 2, 0);
            }
            match self.stream.read(&mut self.read_buf[self.filled..]) {
                Ok(0) => {
                    return Err(
                        io::Error::new(ErrorKind::UnexpectedEof, "the venue closed the connection").into()
                    )
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn order_of(&self, r: &ExecutionReport<'_>, id: u64) -> Result<NewOrder, FixError> {
        Ok(NewOrder {
            id,
            venue: self.venue,
            instrument: self.instrument(r.symbol)?,
            side: if r.side == FixSide::Buy { Side::Buy } else { Side::Sell },
            price: r.price.unwrap_or(0),
            quantity: r.leaves_qty,
        })
    }

    fn report(&self, message: &Message<'_>) -> Result<Option<VenueReport>, FixError> {
        let plain = |id, report| Some(VenueReport { id, report, order: None });
        Ok(match &message.body {
            Body::ExecutionReport(r) => {
                let id = id_of(r.cl_ord_id)?;
                let original = r.orig_cl_ord_id.map(id_of).transpose()?;
                match r.exec_type {
                    ExecType::New => {
                        Some(VenueReport { id, report: Report::Accepted, order: Some(self.order_of(r, id)?) })
                    }
                    ExecType::Trade => plain(
                        id,
                        Report::Fill { quantity: r.last_qty.unwrap_or(0), price: r.last_px.unwrap_or(0) },
                    ),
                    ExecType::Canceled => plain(original.unwrap_or(id), Report::Canceled),
                    ExecType::Replaced => Some(VenueReport {
                        id: original.unwrap_or(id),
                        report: Report::Replaced,
                        order: Some(self.order_of(r, id)?),
                    }),
                    ExecType::Rejected => plain(id, Report::Rejected),
                }
            }
            Body::OrderCancelReject(r) => {
                let report = match r.response_to {
                    CxlRejResponseTo::OrderCancelRequest => Report::CancelRejected,
                    CxlRejResponseTo::OrderCancelReplaceRequest => Report::ReplaceRejected,
                };
                plain(id_of(r.orig_cl_ord_id)?, report)
            }
            _ => None,
        })
    }
}

impl OrderEntry for FixGateway {
    type Error = FixError;

    /// A day limit order.
    fn send_new(&mut self, order: &NewOrder) -> Result<(), Self::Error> {
        let id = IdText::new(order.id, None);
        self.with_symbol(order.id, order.instrument, |gateway, symbol| {
            gateway.send(&Body::NewOrderSingle(NewOrderSingle {
                cl_ord_id: id.as_str(),
                symbol,
                side: fix_side(order.side),
                transact_time_ns: realtime_ns(),
                order_qty: order.quantity,
                ord_type: OrdType::Limit,
                price: Some(order.price),
                time_in_force: None,
            }))
        })
    }

    fn send_cancel(&mut self, order: &Order) -> Result<(), Self::Error> {
        let original = IdText::new(order.id, None);
        let request = IdText::new(order.id, Some(b'C'));
        self.with_symbol(order.id, order.instrument, |gateway, symbol| {
            gateway.send(&Body::OrderCancelRequest(OrderCancelRequest {
                orig_cl_ord_id: original.as_str(),
                cl_ord_id: request.as_str(),
                symbol,
                side: fix_side(order.side),
                transact_time_ns: realtime_ns(),
            }))
        })
    }

    /// FIX's OrderQty is the replacement's total quantity, filled part included, as the OMS's.
    fn send_replace(&mut self, order: &Order, replacement: &Replacement) -> Result<(), Self::Error> {
        let original = IdText::new(order.id, None);
        let new = IdText::new(replacement.id, None);
        self.with_symbol(order.id, order.instrument, |gateway, symbol| {
            gateway.send(&Body::OrderCancelReplaceRequest(OrderCancelReplaceRequest {
                orig_cl_ord_id: original.as_str(),
                cl_ord_id: new.as_str(),
                symbol,
                side: fix_side(order.side),
                transact_time_ns: realtime_ns(),
                order_qty: replacement.quantity,
                ord_type: OrdType::Limit,
                price: Some(replacement.price),
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_travel_as_digits_and_a_cancel_request_adds_a_c() {
        assert_eq!(IdText::new(0, None).as_str(), "0");
        assert_eq!(IdText::new(u64::MAX, Some(b'C')).as_str(), "18446744073709551615C");
        assert_eq!(id_of("42C").unwrap(), 42);
        assert_eq!(id_of("42").unwrap(), 42);
        assert!(matches!(id_of("b1"), Err(FixError::Refused(Refused::ForeignId(t))) if t == "b1"));
        assert!(matches!(id_of(""), Err(FixError::Refused(Refused::ForeignId(_)))));
    }
}
