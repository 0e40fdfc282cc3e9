//! Venue A's order entry: OUCH 4.2 over SoupBinTCP. Requests are queued and written together
//! at the next [`OuchGateway::flush`] or [`OuchGateway::poll`], so a burst costs one write.
//! Client order ids travel as 14-digit
//! tokens; prices as four implied decimals and quantities as whole shares, exactly (an order
//! that cannot be said exactly is refused before anything is sent). Recovery is the session's:
//! logging in again from [`OuchGateway::next_sequence`] replays what was missed, and from 1
//! replays the day.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use protocols::itch::{stock, Stock};
use protocols::ouch42::{
    self, CancelOrder, EnterOrder, Inbound, OrderView, Outbound, ReplaceOrder, Sweep, Token,
};
use protocols::ouch_client::{ClientConfig, ClientError, OuchClient};
use protocols::soupbintcp::RejectReason;
use protocols::soupbintcp_session::SessionError;
use risk::{NewOrder, Side};

use crate::gateway::{OrderEntry, Refused, SymbolTable, VenueReport};
use crate::oms::{Order, Replacement, Report};

/// Fixed-point units (1e-9) in one OUCH price unit (1e-4).
const PRICE_UNIT: i64 = 100_000;
/// Fixed-point units in one share.
const SHARE: i64 = 1_000_000_000;
/// The largest client order id a 14-digit token holds.
pub const MAX_ID: u64 = 99_999_999_999_999;

/// Why the gateway could not send, or could not read the venue.
#[derive(Debug, thiserror::Error)]
pub enum OuchError {
    /// The session or its socket failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The id does not fit a token.
    #[error("order {0}: the id does not fit a 14-digit OUCH token")]
    IdTooLarge(u64),
    /// The price or quantity cannot be said exactly in OUCH (four decimals; whole shares).
    #[error("order {id}: {what} cannot be said exactly in OUCH 4.2")]
    Inexact {
        /// The order.
        id: u64,
        /// Which field.
        what: &'static str,
    },
    /// An order or a report that names what the gateway does not know.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// A logged-in OUCH connection for our orders on one venue.
#[derive(Debug)]
pub struct OuchGateway {
    client: OuchClient,
    addr: SocketAddr,
    config: ClientConfig,
    venue: usize,
    stocks: SymbolTable<Stock>,
    firm: ouch42::Firm,
}

/// Logs in, trying again (within the session timeout) while the venue still holds our
/// previous connection, which it may not yet have seen close.
fn login(addr: SocketAddr, config: &ClientConfig, next_sequence: u64) -> Result<OuchClient, OuchError> {
    let deadline = Instant::now() + config.timing.timeout;
    loop {
        match OuchClient::connect(addr, config, next_sequence) {
            Err(ClientError::Session(SessionError::LoginRejected(RejectReason::SessionNotAvailable)))
                if Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            outcome => return Ok(outcome?),
        }
    }
}

fn token(id: u64) -> Result<Token, OuchError> {
    if id > MAX_ID {
        return Err(OuchError::IdTooLarge(id));
    }
    let mut token = [b'0'; 14];
    let mut rest = id;
    for byte in token.iter_mut().rev() {
        *byte = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    Ok(token)
}

fn id_of(token: &Token) -> Result<u64, OuchError> {
    if !token.iter().all(u8::is_ascii_digit) {
        return Err(Refused::ForeignId(String::from_utf8_lossy(token).into_owned()).into());
    }
    Ok(token.iter().fold(0, |id, digit| id * 10 + u64::from(digit - b'0')))
}

fn price_of(id: u64, price: i64) -> Result<u32, OuchError> {
    let inexact = OuchError::Inexact { id, what: "the price" };
    if price % PRICE_UNIT != 0 {
        return Err(inexact);
    }
    u32::try_from(price / PRICE_UNIT).ok().filter(|&p| p <= ouch42::MAX_PRICE).ok_or(inexact)
}

fn shares_of(id: u64, quantity: i64) -> Result<u32, OuchError> {
    let inexact = OuchError::Inexact { id, what: "the quantity" };
    if quantity % SHARE != 0 {
        return Err(inexact);
    }
    u32::try_from(quantity / SHARE).map_err(|_| inexact)
}

fn side_of(side: Side) -> ouch42::Side {
    match side {
        Side::Buy => ouch42::Side::Buy,
        Side::Sell => ouch42::Side::Sell,
    }
}

impl OuchGateway {
    /// Connects to `addr` and logs in as `config` says, asking for the venue's messages from
    /// `next_sequence` (1: the whole day, as after a restart); `symbols` are the stocks this
    /// venue lists with their instrument ids.
    pub fn connect(
        addr: SocketAddr,
        config: &ClientConfig,
        next_sequence: u64,
        venue: usize,
        symbols: &[(&str, u32)],
        firm: &str,
    ) -> Result<Self, OuchError> {
        let client = login(addr, config, next_sequence)?;
        let stocks = SymbolTable::new(symbols.iter().map(|&(name, id)| (stock(name), id)));
        let mut padded = [b' '; 4];
        for (slot, byte) in padded.iter_mut().zip(firm.bytes()) {
            *slot = byte;
        }
        Ok(Self { client, addr, config: config.clone(), venue, stocks, firm: padded })
    }

    /// Logs in again after the connection dropped, from the next message not yet received:
    /// the venue replays what was missed. Orders, cancels and replaces the venue may not have
    /// seen are the caller's to send again ([`crate::gateway::resend_pending`]); OUCH ignores
    /// a token it already has, so sending again is harmless.
    pub fn reconnect(&mut self) -> Result<(), OuchError> {
        // The old session ends first: the venue holds one session per user.
        self.client.close();
        self.client = login(self.addr, &self.config, self.client.next_sequence())?;
        Ok(())
    }

    /// The sequence number of the next venue message not yet received: what to log in again
    /// with after a disconnect.
    pub fn next_sequence(&self) -> u64 {
        self.client.next_sequence()
    }

    fn stock(&self, order: &NewOrder) -> Result<Stock, OuchError> {
        Ok(*self.stocks.name(order.id, order.instrument)?)
    }

    fn instrument(&self, stock: &Stock) -> Result<u32, OuchError> {
        let foreign = || Refused::ForeignSymbol(String::from_utf8_lossy(stock).trim_end().to_owned());
        Ok(self.stocks.instrument(stock).ok_or_else(foreign)?)
    }

    /// Bytes sent but not yet taken by the socket.
    pub fn queued(&self) -> usize {
        self.client.queued()
    }

    /// Writes what earlier sends left queued (as much as the socket takes now).
    pub fn flush(&mut self) -> Result<(), OuchError> {
        Ok(self.client.flush()?)
    }

    /// The next report the venue has sent, without waiting (`None`: nothing yet).
    pub fn poll(&mut self) -> Result<Option<VenueReport>, OuchError> {
        while let Some((_, message)) = self.client.try_recv()? {
            if let Some(report) = self.report(&message)? {
                return Ok(Some(report));
            }
        }
        Ok(None)
    }

    fn order(&self, view: &OrderView, quantity: u32) -> Result<NewOrder, OuchError> {
        Ok(NewOrder {
            id: id_of(&view.token)?,
            venue: self.venue,
            instrument: self.instrument(&view.stock)?,
            side: match view.side {
                ouch42::Side::Buy => Side::Buy,
                _ => Side::Sell,
            },
            price: i64::from(view.price) * PRICE_UNIT,
            quantity: i64::from(quantity) * SHARE,
        })
    }

    fn report(&self, message: &Outbound) -> Result<Option<VenueReport>, OuchError> {
        let plain = |token: &Token, report: Report| -> Result<Option<VenueReport>, OuchError> {
            Ok(Some(VenueReport { id: id_of(token)?, report, order: None }))
        };
        match message {
            Outbound::SystemEvent { .. } => Ok(None),
            Outbound::Accepted(view) => {
                let order = self.order(view, view.shares)?;
                Ok(Some(VenueReport { id: order.id, report: Report::Accepted, order: Some(order) }))
            }
            Outbound::Replaced { order, previous_token } => {
                let replacement = self.order(order, order.shares)?;
                Ok(Some(VenueReport {
                    id: id_of(previous_token)?,
                    report: Report::Replaced,
                    order: Some(replacement),
                }))
            }
            Outbound::Canceled { token, .. } => plain(token, Report::Canceled),
            Outbound::Executed { token, executed_shares, execution_price, .. } => plain(
                token,
                Report::Fill {
                    quantity: i64::from(*executed_shares) * SHARE,
                    price: i64::from(*execution_price) * PRICE_UNIT,
                },
            ),
            Outbound::Rejected { token, .. } => plain(token, Report::Rejected),
            Outbound::CancelReject { token, .. } => plain(token, Report::CancelRejected),
        }
    }
}

impl OrderEntry for OuchGateway {
    type Error = OuchError;

    /// Sends a new day limit order.
    fn send_new(&mut self, order: &NewOrder) -> Result<(), Self::Error> {
        let enter = EnterOrder::day_limit(
            token(order.id)?,
            side_of(order.side),
            shares_of(order.id, order.quantity)?,
            self.stock(order)?,
            price_of(order.id, order.price)?,
            self.firm,
        );
        Ok(self.client.queue(&Inbound::EnterOrder(enter))?)
    }

    fn send_cancel(&mut self, order: &Order) -> Result<(), Self::Error> {
        Ok(self.client.queue(&Inbound::CancelOrder(CancelOrder { token: token(order.id)?, shares: 0 }))?)
    }

    /// OUCH takes the replacement's open shares: its quantity less what has filled.
    fn send_replace(&mut self, order: &Order, replacement: &Replacement) -> Result<(), Self::Error> {
        let replace = ReplaceOrder {
            existing_token: token(order.id)?,
            replacement_token: token(replacement.id)?,
            shares: shares_of(replacement.id, replacement.quantity - order.filled)?,
            price: price_of(replacement.id, replacement.price)?,
            time_in_force: ouch42::TIF_MARKET_HOURS,
            display: b'Y',
            sweep: Sweep::NotEligible,
            minimum_quantity: 0,
        };
        Ok(self.client.queue(&Inbound::ReplaceOrder(replace))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_travel_as_fourteen_digit_tokens_and_foreign_tokens_are_refused() {
        assert_eq!(&token(42).unwrap(), b"00000000000042");
        assert_eq!(id_of(&token(MAX_ID).unwrap()).unwrap(), MAX_ID);
        assert!(matches!(token(MAX_ID + 1), Err(OuchError::IdTooLarge(_))));
        let foreign = id_of(b"ABC00000000001");
        assert!(matches!(foreign, Err(OuchError::Refused(Refused::ForeignId(t))) if t == "ABC00000000001"));
    }

    #[test]
    fn prices_and_quantities_must_be_said_exactly() {
        assert_eq!(price_of(1, 190_010_000_000).unwrap(), 1_900_100);
        assert!(matches!(price_of(1, 190_010_000_001), Err(OuchError::Inexact { what: "the price", .. })));
        assert!(matches!(price_of(1, -PRICE_UNIT), Err(OuchError::Inexact { .. })));
        assert_eq!(shares_of(1, 7 * SHARE).unwrap(), 7);
        assert!(matches!(shares_of(1, SHARE / 2), Err(OuchError::Inexact { what: "the quantity", .. })));
    }
}
