//! Venue C's order entry: JSON over WebSocket (its order channel), authenticated by an
//! HMAC-SHA256-signed `session.logon`. Requests are written by hand into one reused buffer, so
//! sending allocates nothing; the request id of an `order.place` is the client order id, and of
//! an `order.cancel` the order's id with [`CANCEL_BIT`] set, so an error answer names the
//! order it refuses. Venue C has no replace (a strategy cancels and places anew) and cancels a
//! session's orders when it ends ([`crate::gateway::cancelled_on_disconnect`]).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocols::decimal::write_decimal;
use protocols::websocket::Opcode;
use protocols::ws_api::{Call, ExecutionType, Logon, OrderChannelMessage, OrderSide, Request};
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
    /// Connects to the order channel at `addr`, logs on with `api_key` signed by `secret`
    /// (waiting at most `timeout` for the answer); `symbols` are those this venue lists.
    pub fn connect(
        addr: SocketAddr,
        api_key: &str,
        secret: &[u8],
        venue: usize,
        symbols: &[(&str, u32)],
        timeout: Duration,
    ) -> Result<Self, JsonError> {
        let login = Login { addr, api_key: api_key.to_owned(), secret: secret.to_vec(), timeout };
        let table = SymbolTable::new(symbols.iter().map(|&(name, id)| (name.to_owned(), id)));
        let ws = Self::open(&login)?;
        let mut gateway = Self { ws, login, venue, symbols: table, text: Vec::with_capacity(512) };
        gateway.log_on()?;
        Ok(gateway)
    }

    /// Connects and logs on again after the connection dropped (the venue cancelled what we
    /// had there).
    pub fn reconnect(&mut self) -> Result<(), JsonError> {
        self.ws = Self::open(&self.login)?;
        self.log_on()
    }

    /// Connects, upgrades to WebSocket and sends the signed logon.
    fn open(login: &Login) -> Result<WsStream<TcpStream>, JsonError> {
        let stream = TcpStream::connect_timeout(&login.addr, login.timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(login.timeout))?;
        let limits = WsLimits::default();
        let mut ws = WsStream::connect(stream, &login.addr.to_string(), "/ws", limits, login.timeout)?;
        let signed = Logon::signed(&login.api_key, &login.secret, unix_ms());
        ws.send_text(&Request { id: LOGON_ID, call: Call::Logon(signed) }.encode())?;
        ws.get_ref().set_nonblocking(true)?;
        Ok(ws)
    }

    /// Waits (at most the timeout) for the answer to the logon.
    fn log_on(&mut self) -> Result<(), JsonError> {
        let timeout = self.login.timeout;
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_message()? {
                Some(OrderChannelMessage::Response(r)) if r.id == LOGON_ID => {
                    if r.status == 200 {
                        return Ok(());
                    }
                    let why = r.error.map_or_else(|| format!("status {}", r.status), |e| e.msg);
                    return Err(JsonError::LogonRefused(why));
                }
                Some(_) => {}
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

    /// The next report the venue has sent, without waiting (`None`: nothing yet).
    pub fn poll(&mut self) -> Result<Option<VenueReport>, JsonError> {
        while let Some(message) = self.next_message()? {
            let report = match message {
                OrderChannelMessage::Execution(r) => {
                    let id = r
                        .client_order_id
                        .parse()
                        .map_err(|_| Refused::ForeignId(r.client_order_id.clone()))?;
                    let report = match r.execution {
                        ExecutionType::New => Report::Accepted,
                        ExecutionType::Trade => {
                            Report::Fill { quantity: r.last_quantity, price: r.last_price }
                        }
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
                    VenueReport { id, report, order }
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
        Ok(None)
    }

    fn send_text(&mut self) -> Result<(), JsonError> {
        let text = std::mem::take(&mut self.text);
        let sent = self.ws.send(Opcode::Text, &text);
        self.text = text;
        Ok(sent?)
    }
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
}
