//! Venue C's order entry: JSON over WebSocket (its order channel), authenticated by an
//! HMAC-SHA256-signed `session.logon`. Requests are written by hand into one reused buffer, so
//! sending allocates nothing; the request id of an `order.place` is the client order id, and of
//! an `order.cancel` the order's id with [`CANCEL_BIT`] set, so an error answer names the
//! order it refuses. Venue C has no replace (a strategy cancels and places anew) and cancels a
//! session's orders when it ends ([`crate::gateway::cancelled_on_disconnect`]).
//!
//! Recovery is the venue's: it numbers every report of our key, and logging on again from
//! [`JsonGateway::next_sequence`] has it send what we missed (the fills and the cancels of the
//! session that ended among them) before it answers; those reports come out of
//! [`JsonGateway::poll`] first, in order, each once. If the venue no longer keeps them, or
//! started a new day, the session starts afresh and [`JsonGateway::replays_missed`] says so.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocols::decimal::write_decimal;
use protocols::websocket::Opcode;
use protocols::ws_api::{
    ApiError, Call, ExecutionReport, ExecutionType, Logon, LogonResult, OrderChannelMessage, OrderSide,
    Request,
};
use protocols::ws_stream::{WsError, WsLimits, WsMessage, WsStream};
use protocols::DecodeError;
use risk::{NewOrder, Side};

use crate::gateway::{IdText, OrderEntry, Refused, SymbolTable, VenueReport};
use crate::oms::{Order, Replacement, Report};

/// Set in the request id of a cancel.
pub const CANCEL_BIT: u64 = 1 << 63;
/// The request id of the logon (client order ids start above it).
const LOGON_ID: u64 = 0;
/// The decimals of prices and quantities on the wire (units of 1e-9, as ours).
const DECIMALS: u32 = 9;

/// Why the gateway could not send, or could not read the venue.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The socket failed.
    #[error("JSON gateway: {0}")]
    Io(#[from] io::Error),
    /// The WebSocket failed (or the venue closed it).
    #[error("JSON gateway: {0}")]
    WebSocket(#[from] WsError),
    /// The venue sent something that is not its API.
    #[error("JSON gateway: {0}")]
    Decode(#[from] DecodeError),
    /// The venue refused our logon.
    #[error("JSON gateway: logon refused ({0})")]
    LogonRefused(String),
    /// The venue did not answer our logon in time.
    #[error("JSON gateway: no answer to the logon within {0:?}")]
    LogonTimeout(Duration),
    /// A report came numbered past the one expected: reports between were missed (logging on
    /// again from [`JsonGateway::next_sequence`] has the venue send them).
    #[error("JSON gateway: report {received} came when report {expected} was expected")]
    Gap {
        /// The sequence number expected.
        expected: u64,
        /// The one that came.
        received: u64,
    },
    /// Venue C has no replace.
    #[error("order {0}: venue C has no replace; cancel it and place a new one")]
    NoReplace(u64),
    /// The id is one the request ids cannot tell from a cancel's, or the logon's.
    #[error("order {0}: client order ids must be between 1 and 2^63")]
    BadId(u64),
    /// An order or a report that names what the gateway does not know.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// A logged-on order channel with venue C.
#[derive(Debug)]
pub struct JsonGateway {
    ws: WsStream<TcpStream>,
    login: Login,
    venue: usize,
    symbols: SymbolTable<String>,
    text: Vec<u8>,
    /// The sequence number of the next report to deliver.
    expected: u64,
    /// Whether the venue resumed our session on the last logon.
    resumed: bool,
    /// What came before the answer to the last logon (the reports it resumed from), not yet
    /// polled.
    early: VecDeque<OrderChannelMessage>,
    /// The timestamp of our last logon (each must be newer).
    logon_ms: u64,
}

/// What logging on takes, kept to log on again.
#[derive(Clone)]
struct Login {
    addr: SocketAddr,
    api_key: String,
    secret: Vec<u8>,
    timeout: Duration,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("Login")
            .field("addr", &self.addr)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl JsonGateway {
    /// Connects to the order channel at `addr` and logs on with `api_key` signed by `secret`
    /// (waiting at most `timeout` for the answer), resuming from report `delivered`, the first
    /// our journal has not seen ([`crate::journal::delivered`]; 0: a fresh session): the venue
    /// sends again what we missed, which [`Self::poll`] delivers first. `symbols` are those
    /// this venue lists.
    pub fn connect(
        addr: SocketAddr,
        api_key: &str,
        secret: &[u8],
        delivered: u64,
        venue: usize,
        symbols: &[(&str, u32)],
        timeout: Duration,
    ) -> Result<Self, JsonError> {
        let login = Login { addr, api_key: api_key.to_owned(), secret: secret.to_vec(), timeout };
        let table = SymbolTable::new(symbols.iter().map(|&(name, id)| (name.to_owned(), id)));
        let ws = Self::open(&login)?;
        let mut gateway = Self {
            ws,
            login,
            venue,
            symbols: table,
            text: Vec::with_capacity(512),
            expected: delivered,
            resumed: false,
            early: VecDeque::new(),
            logon_ms: 0,
        };
        gateway.log_on(delivered)?;
        Ok(gateway)
    }

    /// Connects and logs on again after the connection dropped, resuming from the next report
    /// not yet delivered: the venue sends what we missed, the cancels of the orders it took
    /// away with our session among them.
    pub fn reconnect(&mut self) -> Result<(), JsonError> {
        self.ws = Self::open(&self.login)?;
        self.log_on(self.expected)
    }

    /// The sequence number of the next report not yet delivered by [`Self::poll`]: what to
    /// journal with each report, and to resume from.
    pub fn next_sequence(&self) -> u64 {
        self.expected
    }

    /// Whether the venue resumed our session on the last logon, sending again what we had
    /// missed; if not, the session is fresh and what the venue said meanwhile is lost to us.
    pub fn replays_missed(&self) -> bool {
        self.resumed
    }

    /// Connects and upgrades to WebSocket.
    fn open(login: &Login) -> Result<WsStream<TcpStream>, JsonError> {
        let stream = TcpStream::connect_timeout(&login.addr, login.timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(login.timeout))?;
        let limits = WsLimits::default();
        let ws = WsStream::connect(stream, &login.addr.to_string(), "/ws", limits, login.timeout)?;
        ws.get_ref().set_nonblocking(true)?;
        Ok(ws)
    }

    /// Logs on, resuming from report `from` (0: afresh); a venue that no longer keeps it is
    /// asked for a fresh session instead.
    fn log_on(&mut self, from: u64) -> Result<(), JsonError> {
        self.early.clear();
        let answer = match self.logon_answer(from)? {
            Err(refused) if from > 0 && refused.code == ApiError::RESUME_UNAVAILABLE => {
                self.early.clear();
                self.logon_answer(0)?
            }
            answer => answer,
        };
        let result = answer.map_err(|refused| JsonError::LogonRefused(refused.msg))?;
        self.resumed = result.resumed;
        self.expected = if result.resumed { from } else { result.next_sequence };
        Ok(())
    }

    /// Sends a signed logon resuming from `from` and waits (at most the timeout) for its
    /// answer: the result, or why the venue refused. What comes before the answer waits in
    /// `early`.
    fn logon_answer(&mut self, from: u64) -> Result<Result<LogonResult, ApiError>, JsonError> {
        // A logon must be newer than the last: two within a millisecond take the next one.
        self.logon_ms = unix_ms().max(self.logon_ms + 1);
        let signed =
            Logon::signed(&self.login.api_key, &self.login.secret, self.logon_ms).resuming_from(from);
        self.ws.send_text(&Request { id: LOGON_ID, call: Call::Logon(signed) }.encode())?;
        let timeout = self.login.timeout;
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_message()? {
                Some(OrderChannelMessage::Response(r)) if r.id == LOGON_ID => {
                    return Ok(match (r.result, r.error) {
                        (Some(result), None) if r.status == 200 => Ok(LogonResult::decode(result)?),
                        (_, Some(error)) => Err(error),
                        _ => Err(ApiError { code: 0, msg: format!("status {}", r.status) }),
                    });
                }
                Some(message) => self.early.push_back(message),
                None if Instant::now() >= deadline => return Err(JsonError::LogonTimeout(timeout)),
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    fn next_message(&mut self) -> Result<Option<OrderChannelMessage>, JsonError> {
        loop {
            match self.ws.read_message()? {
                Some(WsMessage::Text(text)) => {
                    return Ok(Some(OrderChannelMessage::decode(text.as_bytes())?))
                }
                Some(WsMessage::Close(_)) => return Err(WsError::Closed.into()),
                Some(_) => continue,
                None => return Ok(None),
            }
        }
    }

    fn instrument(&self, symbol: &str) -> Result<u32, JsonError> {
        Ok(self.symbols.instrument(symbol).ok_or_else(|| Refused::ForeignSymbol(symbol.to_owned()))?)
    }

    /// The next report the venue has sent, without waiting (`None`: nothing yet). Reports come
    /// in sequence: one already delivered is skipped, one past the next expected is a
    /// [`JsonError::Gap`].
    pub fn poll(&mut self) -> Result<Option<VenueReport>, JsonError> {
        // What was queued and not yet flushed goes first.
        self.flush()?;
        loop {
            let message = match self.early.pop_front() {
                Some(message) => message,
                None => match self.next_message()? {
                    Some(message) => message,
                    None => return Ok(None),
                },
            };
            let report = match message {
                OrderChannelMessage::Execution(r) => {
                    if !next_in_order(&mut self.expected, r.sequence)? {
                        continue;
                    }
                    self.report(&r)?
                }
                OrderChannelMessage::Response(r) if r.status == 200 || r.id == LOGON_ID => continue,
                OrderChannelMessage::Response(r) if r.id & CANCEL_BIT != 0 => {
                    VenueReport { id: r.id & !CANCEL_BIT, report: Report::CancelRejected, order: None }
                }
                OrderChannelMessage::Response(r) => {
                    VenueReport { id: r.id, report: Report::Rejected, order: None }
                }
            };
            return Ok(Some(report));
        }
    }

    /// What an execution report says of our order.
    fn report(&self, r: &ExecutionReport) -> Result<VenueReport, JsonError> {
        let id = r.client_order_id.parse().map_err(|_| Refused::ForeignId(r.client_order_id.clone()))?;
        let report = match r.execution {
            ExecutionType::New => Report::Accepted,
            ExecutionType::Trade => Report::Fill { quantity: r.last_quantity, price: r.last_price },
            ExecutionType::Canceled => Report::Canceled,
            ExecutionType::Expired => Report::Expired,
        };
        let order = (r.execution == ExecutionType::New)
            .then(|| -> Result<NewOrder, JsonError> {
                Ok(NewOrder {
                    id,
                    venue: self.venue,
                    instrument: self.instrument(&r.symbol)?,
                    side: if r.side == OrderSide::Buy { Side::Buy } else { Side::Sell },
                    // The report does not repeat the limit price; the OMS has it.
                    price: 0,
                    quantity: r.quantity - r.cumulative_quantity,
                })
            })
            .transpose()?;
        Ok(VenueReport { id, report, order })
    }

    /// Queues the request in the buffer; it goes out at the next [`flush`](Self::flush) or
    /// poll.
    fn send_text(&mut self) -> Result<(), JsonError> {
        let text = std::mem::take(&mut self.text);
        let sent = self.ws.queue_message(Opcode::Text, &text);
        self.text = text;
        Ok(sent?)
    }

    /// Writes every queued request together.
    pub fn flush(&mut self) -> Result<(), JsonError> {
        self.ws.flush()?;
        Ok(())
    }
}

/// Whether report `received` is the next to deliver (moving `expected` past it) rather than
/// one delivered already; a gap if it is past the next.
fn next_in_order(expected: &mut u64, received: u64) -> Result<bool, JsonError> {
    if received > *expected {
        return Err(JsonError::Gap { expected: *expected, received });
    }
    let next = received == *expected;
    if next {
        *expected += 1;
    }
    Ok(next)
}

/// Appends `value`'s decimal digits.
fn push_id(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(IdText::new(value, None).as_bytes());
}

impl JsonGateway {
    /// Writes a request about order `id` on `instrument` with `build` (given the buffer and
    /// the symbol) and sends it; the symbol table and the buffer are moved out meanwhile, so
    /// nothing is copied or allocated.
    fn request(
        &mut self,
        id: u64,
        instrument: u32,
        build: impl FnOnce(&mut Vec<u8>, &str),
    ) -> Result<(), JsonError> {
        if id == LOGON_ID || id & CANCEL_BIT != 0 {
            return Err(JsonError::BadId(id));
        }
        let symbols = std::mem::take(&mut self.symbols);
        let outcome = match symbols.name(id, instrument) {
            Ok(symbol) => {
                self.text.clear();
                build(&mut self.text, symbol);
                self.send_text()
            }
            Err(refused) => Err(refused.into()),
        };
        self.symbols = symbols;
        outcome
    }
}

impl OrderEntry for JsonGateway {
    type Error = JsonError;

    /// A GTC limit order.
    fn send_new(&mut self, order: &NewOrder) -> Result<(), Self::Error> {
        self.request(order.id, order.instrument, |out, symbol| {
            out.extend_from_slice(b"{\"id\":");
            push_id(out, order.id);
            out.extend_from_slice(b",\"method\":\"order.place\",\"params\":{\"symbol\":\"");
            out.extend_from_slice(symbol.as_bytes());
            let side: &[u8] =
                if order.side == Side::Buy { b"\",\"side\":\"BUY\"" } else { b"\",\"side\":\"SELL\"" };
            out.extend_from_slice(side);
            out.extend_from_slice(b",\"type\":\"LIMIT\",\"timeInForce\":\"GTC\",\"price\":\"");
            write_decimal(out, order.price, DECIMALS);
            out.extend_from_slice(b"\",\"quantity\":\"");
            write_decimal(out, order.quantity, DECIMALS);
            out.extend_from_slice(b"\",\"newClientOrderId\":\"");
            push_id(out, order.id);
            out.extend_from_slice(b"\"}}");
        })
    }

    fn send_cancel(&mut self, order: &Order) -> Result<(), Self::Error> {
        self.request(order.id, order.instrument, |out, symbol| {
            out.extend_from_slice(b"{\"id\":");
            push_id(out, order.id | CANCEL_BIT);
            out.extend_from_slice(b",\"method\":\"order.cancel\",\"params\":{\"symbol\":\"");
            out.extend_from_slice(symbol.as_bytes());
            out.extend_from_slice(b"\",\"origClientOrderId\":\"");
            push_id(out, order.id);
            out.extend_from_slice(b"\"}}");
        })
    }

    fn send_replace(&mut self, order: &Order, _replacement: &Replacement) -> Result<(), Self::Error> {
        Err(JsonError::NoReplace(order.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_written_in_full_and_a_cancel_request_id_keeps_the_order_id() {
        let mut out = Vec::new();
        push_id(&mut out, 7 | CANCEL_BIT);
        assert_eq!(String::from_utf8(out).unwrap(), (7 | CANCEL_BIT).to_string());
        let mut out = Vec::new();
        push_id(&mut out, 0);
        assert_eq!(out, b"0");
    }

    #[test]
    fn reports_are_delivered_in_sequence_skipping_those_delivered_and_refusing_a_gap_by_number() {
        let mut expected = 5;
        assert!(!next_in_order(&mut expected, 4).unwrap(), "delivered already");
        assert!(next_in_order(&mut expected, 5).unwrap());
        assert_eq!(expected, 6);
        let gap = next_in_order(&mut expected, 8).unwrap_err();
        assert!(matches!(gap, JsonError::Gap { expected: 6, received: 8 }), "{gap}");
        assert_eq!(gap.to_string(), "JSON gateway: report 8 came when report 6 was expected");
        assert_eq!(expected, 6, "resuming from 6 has the venue send what was missed");
    }
}
