//! NASDAQ OUCH 4.2 order entry, both directions; it travels in SoupBinTCP packets (inbound as
//! unsequenced data, outbound as sequenced data).
//!
//! Integers are big-endian binary, prices 4 bytes with four implied decimals, outbound
//! timestamps 8 bytes of nanoseconds since midnight; alpha fields (order tokens of 14 bytes,
//! stocks of 8, firms of 4) are left-aligned and padded with spaces.
//!
//! | direction | type | message | bytes |
//! |---|---|---|---|
//! | in | `O` | enter order | 49 |
//! | in | `U` | replace order (a new token; priority kept only for a smaller size at the same price) | 47 |
//! | in | `X` | cancel order (down to a given size; 0 cancels it) | 19 |
//! | out | `S` | system event | 10 |
//! | out | `A` | accepted | 66 |
//! | out | `U` | replaced | 80 |
//! | out | `C` | canceled (shares decremented) | 28 |
//! | out | `E` | executed | 40 |
//! | out | `J` | rejected | 24 |
//! | out | `I` | cancel reject | 23 |

use crate::bytes::{array, be, put_be};
use crate::itch::Stock;
use crate::DecodeError;

const PROTOCOL: &str = "OUCH 4.2";

/// The longest inbound message (enter order).
pub const MAX_INBOUND_LEN: usize = 49;

/// The longest outbound message (replaced).
pub const MAX_OUTBOUND_LEN: usize = 80;

/// A client's order token: 14 alpha bytes, day-unique per user.
pub type Token = [u8; 14];

/// A firm: 4 alpha bytes.
pub type Firm = [u8; 4];

/// Time in force 0: immediate or cancel.
pub const TIF_IMMEDIATE_OR_CANCEL: u32 = 0;
/// Time in force 99,998: until the end of market hours.
pub const TIF_MARKET_HOURS: u32 = 99_998;
/// Time in force 99,999: until the end of system hours.
pub const TIF_SYSTEM_HOURS: u32 = 99_999;

/// The highest limit price ($199,999.9900).
pub const MAX_PRICE: u32 = 1_999_999_900;

fn invalid(msg_type: u8, field: &'static str, value: u8) -> DecodeError {
    DecodeError::InvalidField {
        protocol: PROTOCOL,
        msg_type: char::from(msg_type),
        field,
        value: char::from(value).to_string(),
    }
}

/// An enumerated one-byte field: the enum, its wire bytes and its decoding.
macro_rules! code {
    ($(#[$meta:meta])* $name:ident, $field:literal, { $($(#[$vmeta:meta])* $variant:ident = $byte:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The value's byte on the wire.
            pub fn byte(self) -> u8 {
                match self {
                    $(Self::$variant => $byte,)+
                }
            }

            fn decode(msg_type: u8, byte: u8) -> Result<Self, DecodeError> {
                match byte {
                    $($byte => Ok(Self::$variant),)+
                    other => Err(invalid(msg_type, $field, other)),
                }
            }
        }
    };
}

code!(
    /// Buy or sell.
    Side, "buy/sell indicator", {
        /// `B`.
        Buy = b'B',
        /// `S`.
        Sell = b'S',
        /// `T`: sell short.
        SellShort = b'T',
        /// `E`: sell short exempt.
        SellShortExempt = b'E',
    }
);

code!(
    /// Intermarket sweep eligibility.
    Sweep, "intermarket sweep eligibility", {
        /// `Y`: eligible.
        Eligible = b'Y',
        /// `N`: not eligible.
        NotEligible = b'N',
    }
);

code!(
    /// A system event.
    SystemEventCode, "event code", {
        /// `S`: start of day.
        StartOfDay = b'S',
        /// `E`: end of day.
        EndOfDay = b'E',
    }
);

code!(
    /// Whether an order is still live after an accept or replace.
    OrderState, "order state", {
        /// `L`: live.
        Live = b'L',
        /// `D`: dead (for example an IOC order that traded at once).
        Dead = b'D',
    }
);

code!(
    /// Why shares of an order were canceled.
    CancelReason, "reason", {
        /// `U`: the user asked.
        UserRequested = b'U',
        /// `I`: the unfilled rest of an immediate-or-cancel order.
        ImmediateOrCancel = b'I',
        /// `T`: its time in force ran out.
        Timeout = b'T',
        /// `S`: supervisory.
        Supervisory = b'S',
        /// `D`: a regulatory restriction.
        RegulatoryRestriction = b'D',
        /// `Q`: self-match prevention.
        SelfMatchPrevention = b'Q',
        /// `Z`: the system canceled it.
        SystemCancel = b'Z',
    }
);

code!(
    /// Why an order was rejected.
    RejectReason, "reason", {
        /// `T`: test mode.
        TestMode = b'T',
        /// `H`: the stock is halted.
        Halted = b'H',
        /// `Z`: the shares exceed the safety threshold.
        SharesExceedSafetyThreshold = b'Z',
        /// `S`: the stock is not traded here.
        InvalidStock = b'S',
        /// `D`: a display type not allowed.
        InvalidDisplayType = b'D',
        /// `C`: the market is closed.
        Closed = b'C',
        /// `L`: the firm may not use this clearing type.
        FirmNotAuthorized = b'L',
        /// `M`: outside the times allowed for the clearing type.
        OutsidePermittedTimes = b'M',
        /// `R`: not allowed in this type of cross.
        NotAllowedInCross = b'R',
        /// `X`: the price is not allowed (zero, above the maximum, off the tick grid).
        InvalidPrice = b'X',
        /// `N`: the minimum quantity is not allowed.
        InvalidMinimumQuantity = b'N',
        /// `O`: another reason.
        Other = b'O',
    }
);

/// `O`: a new order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnterOrder {
    /// The client's token for it.
    pub token: Token,
    /// Buy or sell.
    pub side: Side,
    /// Shares.
    pub shares: u32,
    /// The stock.
    pub stock: Stock,
    /// The limit price, four implied decimals.
    pub price: u32,
    /// Seconds to live, or one of the `TIF_` constants.
    pub time_in_force: u32,
    /// The entering firm.
    pub firm: Firm,
    /// Display (`Y` visible, `A` attributable, `N` hidden, ...).
    pub display: u8,
    /// Capacity (`A` agency, `P` principal, `R` riskless, `O` other).
    pub capacity: u8,
    /// Intermarket sweep eligibility.
    pub sweep: Sweep,
    /// The minimum quantity to execute (0: none).
    pub minimum_quantity: u32,
    /// Cross type (`N` continuous market, `O` opening, `C` closing, ...).
    pub cross_type: u8,
    /// Customer type (`R` retail, `N` not retail, space: the firm's default).
    pub customer_type: u8,
}

impl EnterOrder {
    /// A visible day limit order in the continuous market, as a market maker enters it:
    /// principal capacity, no minimum quantity, not sweep eligible, the firm's default
    /// customer type.
    pub fn day_limit(token: Token, side: Side, shares: u32, stock: Stock, price: u32, firm: Firm) -> Self {
        Self {
            token,
            side,
            shares,
            stock,
            price,
            time_in_force: TIF_MARKET_HOURS,
            firm,
            display: b'Y',
            capacity: b'P',
            sweep: Sweep::NotEligible,
            minimum_quantity: 0,
            cross_type: b'N',
            customer_type: b' ',
        }
    }
}

/// `U`: replace a live order by a new one with a new token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaceOrder {
    /// The token of the order replaced.
    pub existing_token: Token,
    /// The token of the replacement.
    pub replacement_token: Token,
    /// The replacement's shares (its new open size).
    pub shares: u32,
    /// Its limit price, four implied decimals.
    pub price: u32,
    /// Its time in force.
    pub time_in_force: u32,
    /// Its display.
    pub display: u8,
    /// Its intermarket sweep eligibility.
    pub sweep: Sweep,
    /// Its minimum quantity.
    pub minimum_quantity: u32,
}

/// `X`: cancel an order down to `shares` (0 cancels it entirely).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelOrder {
    /// The order's token.
    pub token: Token,
    /// The size the order should be left with.
    pub shares: u32,
}

/// A message from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// `O`.
    EnterOrder(EnterOrder),
    /// `U`.
    ReplaceOrder(ReplaceOrder),
    /// `X`.
    CancelOrder(CancelOrder),
}

/// The body of an accepted (`A`) or replaced (`U`) message: the order as it now stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderView {
    /// Nanoseconds since midnight.
    pub timestamp_ns: u64,
    /// The order's token (the replacement's, for a replace).
    pub token: Token,
    /// Buy or sell.
    pub side: Side,
    /// Open shares.
    pub shares: u32,
    /// The stock.
    pub stock: Stock,
    /// The limit price.
    pub price: u32,
    /// Its time in force.
    pub time_in_force: u32,
    /// The entering firm.
    pub firm: Firm,
    /// Its display.
    pub display: u8,
    /// The exchange's reference number for the order (as in ITCH).
    pub order_ref: u64,
    /// Its capacity.
    pub capacity: u8,
    /// Its intermarket sweep eligibility.
    pub sweep: Sweep,
    /// Its minimum quantity.
    pub minimum_quantity: u32,
    /// Its cross type.
    pub cross_type: u8,
    /// Whether it is live.
    pub state: OrderState,
    /// BBO weight indicator (space: unspecified).
    pub bbo_weight: u8,
}

/// A message from the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    /// `S`: the start or end of the day.
    SystemEvent {
        /// Nanoseconds since midnight.
        timestamp_ns: u64,
        /// Which event.
        event: SystemEventCode,
    },
    /// `A`: an order was accepted.
    Accepted(OrderView),
    /// `U`: an order was replaced.
    Replaced {
        /// The replacement as it now stands.
        order: OrderView,
        /// The token of the order it replaced.
        previous_token: Token,
    },
    /// `C`: shares of an order were canceled.
    Canceled {
        /// Nanoseconds since midnight.
        timestamp_ns: u64,
        /// The order.
        token: Token,
        /// Shares taken off.
        decrement_shares: u32,
        /// Why.
        reason: CancelReason,
    },
    /// `E`: an order (partly) executed.
    Executed {
        /// Nanoseconds since midnight.
        timestamp_ns: u64,
        /// The order.
        token: Token,
        /// Shares executed.
        executed_shares: u32,
        /// The execution price.
        execution_price: u32,
        /// Liquidity flag (`A` added, `R` removed, ...).
        liquidity_flag: u8,
        /// The trade's match number (as in ITCH).
        match_number: u64,
    },
    /// `J`: an order (or a replacement) was rejected.
    Rejected {
        /// Nanoseconds since midnight.
        timestamp_ns: u64,
        /// The rejected order's token.
        token: Token,
        /// Why.
        reason: RejectReason,
    },
    /// `I`: a cancel request could not be carried out.
    CancelReject {
        /// Nanoseconds since midnight.
        timestamp_ns: u64,
        /// The token the cancel named.
        token: Token,
    },
}

fn check_len(msg_type: u8, expected: usize, bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() != expected {
        return Err(DecodeError::Length {
            protocol: PROTOCOL,
            msg_type: char::from(msg_type),
            expected,
            found: bytes.len(),
        });
    }
    Ok(())
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    be::<4>(bytes, at) as u32
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    put_be::<4>(bytes, at, u64::from(value));
}

impl Inbound {
    /// The message's type byte.
    pub fn msg_type(&self) -> u8 {
        match self {
            Self::EnterOrder(_) => b'O',
            Self::ReplaceOrder(_) => b'U',
            Self::CancelOrder(_) => b'X',
        }
    }

    /// Decodes one message that fills `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let &msg_type = bytes.first().ok_or(DecodeError::Empty { protocol: PROTOCOL })?;
        let b = bytes;
        Ok(match msg_type {
            b'O' => {
                check_len(msg_type, 49, b)?;
                Self::EnterOrder(EnterOrder {
                    token: array(b, 1),
                    side: Side::decode(msg_type, b[15])?,
                    shares: u32_at(b, 16),
                    stock: array(b, 20),
                    price: u32_at(b, 28),
                    time_in_force: u32_at(b, 32),
                    firm: array(b, 36),
                    display: b[40],
                    capacity: b[41],
                    sweep: Sweep::decode(msg_type, b[42])?,
                    minimum_quantity: u32_at(b, 43),
                    cross_type: b[47],
                    customer_type: b[48],
                })
            }
            b'U' => {
                check_len(msg_type, 47, b)?;
                Self::ReplaceOrder(ReplaceOrder {
                    existing_token: array(b, 1),
                    replacement_token: array(b, 15),
                    shares: u32_at(b, 29),
                    price: u32_at(b, 33),
                    time_in_force: u32_at(b, 37),
                    display: b[41],
                    sweep: Sweep::decode(msg_type, b[42])?,
                    minimum_quantity: u32_at(b, 43),
                })
            }
            b'X' => {
                check_len(msg_type, 19, b)?;
                Self::CancelOrder(CancelOrder { token: array(b, 1), shares: u32_at(b, 15) })
            }
            _ => return Err(DecodeError::UnknownType { protocol: PROTOCOL, msg_type }),
        })
    }

    /// Encodes the message into the front of `out`; returns its length.
    pub fn encode(&self, out: &mut [u8; MAX_INBOUND_LEN]) -> usize {
        out[0] = self.msg_type();
        match *self {
            Self::EnterOrder(o) => {
                out[1..15].copy_from_slice(&o.token);
                out[15] = o.side.byte();
                put_u32(out, 16, o.shares);
                out[20..28].copy_from_slice(&o.stock);
                put_u32(out, 28, o.price);
                put_u32(out, 32, o.time_in_force);
                out[36..40].copy_from_slice(&o.firm);
                out[40] = o.display;
                out[41] = o.capacity;
                out[42] = o.sweep.byte();
                put_u32(out, 43, o.minimum_quantity);
                out[47] = o.cross_type;
                out[48] = o.customer_type;
                49
            }
            Self::ReplaceOrder(r) => {
                out[1..15].copy_from_slice(&r.existing_token);
                out[15..29].copy_from_slice(&r.replacement_token);
                put_u32(out, 29, r.shares);
                put_u32(out, 33, r.price);
                put_u32(out, 37, r.time_in_force);
                out[41] = r.display;
                out[42] = r.sweep.byte();
                put_u32(out, 43, r.minimum_quantity);
                47
            }
            Self::CancelOrder(c) => {
                out[1..15].copy_from_slice(&c.token);
                put_u32(out, 15, c.shares);
                19
            }
        }
    }
}

impl OrderView {
    /// Writes the fields up to the order state (offsets 1..65) of an `A` or `U` message.
    fn write(&self, b: &mut [u8]) {
        put_be::<8>(b, 1, self.timestamp_ns);
        b[9..23].copy_from_slice(&self.token);
        b[23] = self.side.byte();
        put_u32(b, 24, self.shares);
        b[28..36].copy_from_slice(&self.stock);
        put_u32(b, 36, self.price);
        put_u32(b, 40, self.time_in_force);
        b[44..48].copy_from_slice(&self.firm);
        b[48] = self.display;
        put_be::<8>(b, 49, self.order_ref);
        b[57] = self.capacity;
        b[58] = self.sweep.byte();
        put_u32(b, 59, self.minimum_quantity);
        b[63] = self.cross_type;
        b[64] = self.state.byte();
    }

    /// Reads an `A` or `U` message whose BBO weight indicator is at `bbo_at`.
    fn read(msg_type: u8, b: &[u8], bbo_at: usize) -> Result<Self, DecodeError> {
        Ok(Self {
            timestamp_ns: be::<8>(b, 1),
            token: array(b, 9),
            side: Side::decode(msg_type, b[23])?,
            shares: u32_at(b, 24),
            stock: array(b, 28),
            price: u32_at(b, 36),
            time_in_force: u32_at(b, 40),
            firm: array(b, 44),
            display: b[48],
            order_ref: be::<8>(b, 49),
            capacity: b[57],
            sweep: Sweep::decode(msg_type, b[58])?,
            minimum_quantity: u32_at(b, 59),
            cross_type: b[63],
            state: OrderState::decode(msg_type, b[64])?,
            bbo_weight: b[bbo_at],
        })
    }
}

impl Outbound {
    /// The message's type byte.
    pub fn msg_type(&self) -> u8 {
        match self {
            Self::SystemEvent { .. } => b'S',
            Self::Accepted(_) => b'A',
            Self::Replaced { .. } => b'U',
            Self::Canceled { .. } => b'C',
            Self::Executed { .. } => b'E',
            Self::Rejected { .. } => b'J',
            Self::CancelReject { .. } => b'I',
        }
    }

    /// The wire length of each outbound message type, or `None` for other types.
    pub const fn message_len(msg_type: u8) -> Option<usize> {
        match msg_type {
            b'S' => Some(10),
            b'A' => Some(66),
            b'U' => Some(80),
            b'C' => Some(28),
            b'E' => Some(40),
            b'J' => Some(24),
            b'I' => Some(23),
            _ => None,
        }
    }

    /// The token of the order the message is about (none for a system event).
    pub fn token(&self) -> Option<&Token> {
        match self {
            Self::SystemEvent { .. } => None,
            Self::Accepted(order) | Self::Replaced { order, .. } => Some(&order.token),
            Self::Canceled { token, .. }
            | Self::Executed { token, .. }
            | Self::Rejected { token, .. }
            | Self::CancelReject { token, .. } => Some(token),
        }
    }

    /// Decodes one message that fills `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let &msg_type = bytes.first().ok_or(DecodeError::Empty { protocol: PROTOCOL })?;
        let expected =
            Self::message_len(msg_type).ok_or(DecodeError::UnknownType { protocol: PROTOCOL, msg_type })?;
        check_len(msg_type, expected, bytes)?;
        let b = bytes;
        let timestamp_ns = be::<8>(b, 1);
        Ok(match msg_type {
            b'S' => Self::SystemEvent { timestamp_ns, event: SystemEventCode::decode(msg_type, b[9])? },
            b'A' => Self::Accepted(OrderView::read(msg_type, b, 65)?),
            b'U' => Self::Replaced { order: OrderView::read(msg_type, b, 79)?, previous_token: array(b, 65) },
            b'C' => Self::Canceled {
                timestamp_ns,
                token: array(b, 9),
                decrement_shares: u32_at(b, 23),
                reason: CancelReason::decode(msg_type, b[27])?,
            },
            b'E' => Self::Executed {
                timestamp_ns,
                token: array(b, 9),
                executed_shares: u32_at(b, 23),
                execution_price: u32_at(b, 27),
                liquidity_flag: b[31],
                match_number: be::<8>(b, 32),
            },
            b'J' => Self::Rejected {
                timestamp_ns,
                token: array(b, 9),
                reason: RejectReason::decode(msg_type, b[23])?,
            },
            b'I' => Self::CancelReject { timestamp_ns, token: array(b, 9) },
            _ => unreachable!("message_len accepted only the types above"),
        })
    }

    /// Encodes the message into the front of `out`; returns its length.
    pub fn encode(&self, out: &mut [u8; MAX_OUTBOUND_LEN]) -> usize {
        let len = Self::message_len(self.msg_type()).expect("every variant has a length");
        let b = &mut out[..len];
        b[0] = self.msg_type();
        match *self {
            Self::SystemEvent { timestamp_ns, event } => {
                put_be::<8>(b, 1, timestamp_ns);
                b[9] = event.byte();
            }
            Self::Accepted(order) => {
                order.write(b);
                b[65] = order.bbo_weight;
            }
            Self::Replaced { order, previous_token } => {
                order.write(b);
                b[65..79].copy_from_slice(&previous_token);
                b[79] = order.bbo_weight;
            }
            Self::Canceled { timestamp_ns, token, decrement_shares, reason } => {
                put_be::<8>(b, 1, timestamp_ns);
                b[9..23].copy_from_slice(&token);
                put_u32(b, 23, decrement_shares);
                b[27] = reason.byte();
            }
            Self::Executed {
                timestamp_ns,
                token,
                executed_shares,
                execution_price,
                liquidity_flag,
                match_number,
            } => {
                put_be::<8>(b, 1, timestamp_ns);
                b[9..23].copy_from_slice(&token);
                put_u32(b, 23, executed_shares);
                put_u32(b, 27, execution_price);
                b[31] = liquidity_flag;
                put_be::<8>(b, 32, match_number);
            }
            Self::Rejected { timestamp_ns, token, reason } => {
                put_be::<8>(b, 1, timestamp_ns);
                b[9..23].copy_from_slice(&token);
                b[23] = reason.byte();
            }
            Self::CancelReject { timestamp_ns, token } => {
                put_be::<8>(b, 1, timestamp_ns);
                b[9..23].copy_from_slice(&token);
            }
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alpha;
    use crate::itch::stock;
    use proptest::prelude::*;

    fn token(text: &str) -> Token {
        alpha("order token", text).unwrap()
    }

    fn enter() -> EnterOrder {
        EnterOrder::day_limit(token("ORD0000000001"), Side::Buy, 300, stock("AAPL"), 1_895_100, *b"TRKR")
    }

    fn inbound_bytes(msg: &Inbound) -> Vec<u8> {
        let mut buf = [0u8; MAX_INBOUND_LEN];
        let len = msg.encode(&mut buf);
        buf[..len].to_vec()
    }

    fn outbound_bytes(msg: &Outbound) -> Vec<u8> {
        let mut buf = [0u8; MAX_OUTBOUND_LEN];
        let len = msg.encode(&mut buf);
        buf[..len].to_vec()
    }

    #[test]
    fn an_enter_order_has_the_specified_layout() {
        let msg = Inbound::EnterOrder(enter());
        let mut expected = b"OORD0000000001 B".to_vec();
        expected.extend_from_slice(&300u32.to_be_bytes());
        expected.extend_from_slice(b"AAPL    ");
        expected.extend_from_slice(&1_895_100u32.to_be_bytes());
        expected.extend_from_slice(&[0, 1, 0x86, 0x9E]); // 99,998
        expected.extend_from_slice(b"TRKRYPN");
        expected.extend_from_slice(&[0, 0, 0, 0, b'N', b' ']);
        assert_eq!(expected.len(), 49);
        assert_eq!(inbound_bytes(&msg), expected);
        assert_eq!(Inbound::decode(&expected), Ok(msg));
    }

    #[test]
    fn replace_and_cancel_have_the_specified_layouts() {
        let replace = Inbound::ReplaceOrder(ReplaceOrder {
            existing_token: token("A"),
            replacement_token: token("B"),
            shares: 200,
            price: 1_895_000,
            time_in_force: TIF_MARKET_HOURS,
            display: b'Y',
            sweep: Sweep::NotEligible,
            minimum_quantity: 0,
        });
        let mut expected = b"UA             B             ".to_vec();
        expected.extend_from_slice(&200u32.to_be_bytes());
        expected.extend_from_slice(&1_895_000u32.to_be_bytes());
        expected.extend_from_slice(&99_998u32.to_be_bytes());
        expected.extend_from_slice(b"YN\0\0\0\0");
        assert_eq!(inbound_bytes(&replace), expected);
        assert_eq!(Inbound::decode(&expected), Ok(replace));
        let cancel = Inbound::CancelOrder(CancelOrder { token: token("A"), shares: 0 });
        assert_eq!(inbound_bytes(&cancel), b"XA             \0\0\0\0");
    }

    fn view() -> OrderView {
        OrderView {
            timestamp_ns: 34_200_000_000_001,
            token: token("ORD0000000001"),
            side: Side::Sell,
            shares: 100,
            stock: stock("MSFT"),
            price: 4_200_000,
            time_in_force: TIF_MARKET_HOURS,
            firm: *b"TRKR",
            display: b'Y',
            order_ref: (1 << 63) | 5,
            capacity: b'P',
            sweep: Sweep::NotEligible,
            minimum_quantity: 0,
            cross_type: b'N',
            state: OrderState::Live,
            bbo_weight: b' ',
        }
    }

    #[test]
    fn an_accepted_has_the_specified_layout_and_a_replaced_adds_the_previous_token() {
        let mut expected = b"A".to_vec();
        expected.extend_from_slice(&34_200_000_000_001u64.to_be_bytes());
        expected.extend_from_slice(b"ORD0000000001 S");
        expected.extend_from_slice(&100u32.to_be_bytes());
        expected.extend_from_slice(b"MSFT    ");
        expected.extend_from_slice(&4_200_000u32.to_be_bytes());
        expected.extend_from_slice(&99_998u32.to_be_bytes());
        expected.extend_from_slice(b"TRKRY");
        expected.extend_from_slice(&((1u64 << 63) | 5).to_be_bytes());
        expected.extend_from_slice(b"PN\0\0\0\0NL ");
        assert_eq!(expected.len(), 66);
        let accepted = Outbound::Accepted(view());
        assert_eq!(outbound_bytes(&accepted), expected);
        assert_eq!(Outbound::decode(&expected), Ok(accepted));

        let replaced = Outbound::Replaced { order: view(), previous_token: token("ORD0") };
        let bytes = outbound_bytes(&replaced);
        assert_eq!(bytes.len(), 80);
        assert_eq!((bytes[0], &bytes[1..65]), (b'U', &expected[1..65]));
        assert_eq!((&bytes[65..79], bytes[79]), (&b"ORD0          "[..], b' '));
        assert_eq!(Outbound::decode(&bytes), Ok(replaced));
    }

    #[test]
    fn executions_cancels_and_rejects_have_the_specified_layouts() {
        let ts = 34_200_000_000_001u64.to_be_bytes();
        let executed = Outbound::Executed {
            timestamp_ns: 34_200_000_000_001,
            token: token("T"),
            executed_shares: 100,
            execution_price: 4_200_000,
            liquidity_flag: b'A',
            match_number: 77,
        };
        let mut expected = vec![b'E'];
        expected.extend_from_slice(&ts);
        expected.extend_from_slice(b"T             ");
        expected.extend_from_slice(&100u32.to_be_bytes());
        expected.extend_from_slice(&4_200_000u32.to_be_bytes());
        expected.push(b'A');
        expected.extend_from_slice(&77u64.to_be_bytes());
        assert_eq!(outbound_bytes(&executed), expected);

        let canceled = Outbound::Canceled {
            timestamp_ns: 34_200_000_000_001,
            token: token("T"),
            decrement_shares: 50,
            reason: CancelReason::UserRequested,
        };
        let mut expected = vec![b'C'];
        expected.extend_from_slice(&ts);
        expected.extend_from_slice(b"T             \0\0\0\x32U");
        assert_eq!(outbound_bytes(&canceled), expected);

        let rejected = Outbound::Rejected {
            timestamp_ns: 34_200_000_000_001,
            token: token("T"),
            reason: RejectReason::InvalidPrice,
        };
        let bytes = outbound_bytes(&rejected);
        assert_eq!((bytes.len(), bytes[0], bytes[23]), (24, b'J', b'X'));
        let event = Outbound::SystemEvent { timestamp_ns: 1, event: SystemEventCode::StartOfDay };
        assert_eq!(outbound_bytes(&event), b"S\0\0\0\0\0\0\0\x01S");
    }

    #[test]
    fn malformed_messages_name_what_is_wrong() {
        assert_eq!(Inbound::decode(&[]), Err(DecodeError::Empty { protocol: PROTOCOL }));
        assert_eq!(
            Inbound::decode(b"Q"),
            Err(DecodeError::UnknownType { protocol: PROTOCOL, msg_type: b'Q' })
        );
        assert_eq!(
            Inbound::decode(&[b'X'; 18]),
            Err(DecodeError::Length { protocol: PROTOCOL, msg_type: 'X', expected: 19, found: 18 })
        );
        let mut bytes = inbound_bytes(&Inbound::EnterOrder(enter()));
        bytes[15] = b'Q';
        assert_eq!(
            Inbound::decode(&bytes).unwrap_err().to_string(),
            "OUCH 4.2: message 'O' has buy/sell indicator = \"Q\", which is not allowed"
        );
        let mut accepted = outbound_bytes(&Outbound::Accepted(view()));
        accepted[64] = b'?';
        assert!(matches!(
            Outbound::decode(&accepted),
            Err(DecodeError::InvalidField { field: "order state", .. })
        ));
        assert!(matches!(Outbound::decode(b"Z"), Err(DecodeError::UnknownType { msg_type: b'Z', .. })));
    }

    fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
        proptest::sample::select(all)
    }

    fn any_view() -> impl Strategy<Value = OrderView> {
        (
            (any::<u64>(), any::<Token>(), pick(Side::ALL), any::<u32>(), any::<Stock>(), any::<u32>()),
            (any::<u32>(), any::<Firm>(), any::<u8>(), any::<u64>(), any::<u8>(), pick(Sweep::ALL)),
            (any::<u32>(), any::<u8>(), pick(OrderState::ALL), any::<u8>()),
        )
            .prop_map(
                |(
                    (timestamp_ns, token, side, shares, stock, price),
                    (time_in_force, firm, display, order_ref, capacity, sweep),
                    (minimum_quantity, cross_type, state, bbo_weight),
                )| OrderView {
                    timestamp_ns,
                    token,
                    side,
                    shares,
                    stock,
                    price,
                    time_in_force,
                    firm,
                    display,
                    order_ref,
                    capacity,
                    sweep,
                    minimum_quantity,
                    cross_type,
                    state,
                    bbo_weight,
                },
            )
    }

    fn any_inbound() -> impl Strategy<Value = Inbound> {
        prop_oneof![
            (
                (any::<Token>(), pick(Side::ALL), any::<u32>(), any::<Stock>(), any::<u32>(), any::<u32>()),
                (any::<Firm>(), any::<u8>(), any::<u8>(), pick(Sweep::ALL), any::<u32>(), any::<[u8; 2]>()),
            )
                .prop_map(
                    |(
                        (token, side, shares, stock, price, time_in_force),
                        (firm, display, capacity, sweep, minimum_quantity, [cross_type, customer_type]),
                    )| {
                        Inbound::EnterOrder(EnterOrder {
                            token,
                            side,
                            shares,
                            stock,
                            price,
                            time_in_force,
                            firm,
                            display,
                            capacity,
                            sweep,
                            minimum_quantity,
                            cross_type,
                            customer_type,
                        })
                    }
                ),
            (any::<Token>(), any::<Token>(), any::<[u32; 3]>(), any::<u8>(), pick(Sweep::ALL), any::<u32>())
                .prop_map(
                    |(
                        existing_token,
                        replacement_token,
                        [shares, price, time_in_force],
                        display,
                        sweep,
                        minimum_quantity,
                    )| {
                        Inbound::ReplaceOrder(ReplaceOrder {
                            existing_token,
                            replacement_token,
                            shares,
                            price,
                            time_in_force,
                            display,
                            sweep,
                            minimum_quantity,
                        })
                    }
                ),
            (any::<Token>(), any::<u32>())
                .prop_map(|(token, shares)| Inbound::CancelOrder(CancelOrder { token, shares })),
        ]
    }

    fn any_outbound() -> impl Strategy<Value = Outbound> {
        prop_oneof![
            (any::<u64>(), pick(SystemEventCode::ALL))
                .prop_map(|(timestamp_ns, event)| Outbound::SystemEvent { timestamp_ns, event }),
            any_view().prop_map(Outbound::Accepted),
            (any_view(), any::<Token>())
                .prop_map(|(order, previous_token)| Outbound::Replaced { order, previous_token }),
            (any::<u64>(), any::<Token>(), any::<u32>(), pick(CancelReason::ALL)).prop_map(
                |(timestamp_ns, token, decrement_shares, reason)| Outbound::Canceled {
                    timestamp_ns,
                    token,
                    decrement_shares,
                    reason
                }
            ),
            (any::<u64>(), any::<Token>(), any::<[u32; 2]>(), any::<u8>(), any::<u64>()).prop_map(
                |(timestamp_ns, token, [executed_shares, execution_price], liquidity_flag, match_number)| {
                    Outbound::Executed {
                        timestamp_ns,
                        token,
                        executed_shares,
                        execution_price,
                        liquidity_flag,
                        match_number,
                    }
                }
            ),
            (any::<u64>(), any::<Token>(), pick(RejectReason::ALL))
                .prop_map(|(timestamp_ns, token, reason)| Outbound::Rejected { timestamp_ns, token, reason }),
            (any::<u64>(), any::<Token>())
                .prop_map(|(timestamp_ns, token)| Outbound::CancelReject { timestamp_ns, token }),
        ]
    }

    proptest! {
        #[test]
        fn every_inbound_message_round_trips(msg in any_inbound()) {
            prop_assert_eq!(Inbound::decode(&inbound_bytes(&msg)), Ok(msg));
        }

        #[test]
        fn every_outbound_message_round_trips(msg in any_outbound()) {
            let bytes = outbound_bytes(&msg);
            prop_assert_eq!(Some(bytes.len()), Outbound::message_len(bytes[0]));
            prop_assert_eq!(Outbound::decode(&bytes), Ok(msg));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..90)) {
            let _ = Inbound::decode(&bytes);
            let _ = Outbound::decode(&bytes);
        }

        #[test]
        fn decoding_arbitrary_bodies_of_known_types_never_panics(
            msg_type in pick(b"OUXSAUCEJI"),
            body in proptest::collection::vec(any::<u8>(), 79)
        ) {
            for len in [19, 22, 23, 27, 39, 46, 48, 65, 79] {
                let mut bytes = vec![msg_type];
                bytes.extend_from_slice(&body[..len]);
                let _ = Inbound::decode(&bytes);
                let _ = Outbound::decode(&bytes);
            }
        }
    }
}
