//! NASDAQ TotalView-ITCH 5.0: the messages a book needs, both directions.
//!
//! Every message starts with its type (1 byte), the stock locate (2), the tracking number (2)
//! and a timestamp of nanoseconds since midnight (6 bytes); all integers are big-endian and
//! prices carry four implied decimals. Stock symbols are 8 bytes, left-aligned and padded with
//! spaces.
//!
//! | type | message | bytes |
//! |---|---|---|
//! | `S` | system event | 12 |
//! | `R` | stock directory | 39 |
//! | `A` / `F` | add order (without / with MPID attribution) | 36 / 40 |
//! | `E` / `C` | order executed (at the resting price / with a price) | 31 / 36 |
//! | `X` | order cancel (partial) | 23 |
//! | `D` | order delete | 19 |
//! | `U` | order replace (the new order loses priority) | 35 |
//! | `P` | trade (non-cross, against a hidden order) | 44 |

use crate::bytes::{array, be, put_be};
use crate::DecodeError;

const PROTOCOL: &str = "ITCH 5.0";

/// The longest message this module encodes (`P`, 44 bytes).
pub const MAX_MESSAGE_LEN: usize = 44;

/// Prices have four implied decimals.
pub const PRICE_SCALE: u32 = 10_000;

/// An 8-byte stock symbol, left-aligned and space-padded.
pub type Stock = [u8; 8];

/// Pads `symbol` (at most 8 bytes) into a [`Stock`] with spaces.
pub fn stock(symbol: &str) -> Stock {
    let mut out = [b' '; 8];
    let bytes = symbol.as_bytes();
    assert!(bytes.len() <= 8, "an ITCH symbol has at most 8 bytes: {symbol:?}");
    out[..bytes.len()].copy_from_slice(bytes);
    out
}

/// The fields every message starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// The stock's locate code, as the stock directory assigned it.
    pub stock_locate: u16,
    /// Nasdaq's internal tracking number.
    pub tracking_number: u16,
    /// Nanoseconds since midnight (48 bits on the wire).
    pub timestamp_ns: u64,
}

/// The side of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `B`.
    Buy,
    /// `S`.
    Sell,
}

impl Side {
    fn byte(self) -> u8 {
        match self {
            Self::Buy => b'B',
            Self::Sell => b'S',
        }
    }
}

/// A stock directory entry (`R`): the symbol behind a locate code and its trading parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockDirectory {
    /// The stock.
    pub stock: Stock,
    /// Market category (`Q` Global Select, `G`, `S`, `N`, `A`, `P`, `Z`, `V`, or space).
    pub market_category: u8,
    /// Financial status indicator (`N` normal, or space).
    pub financial_status: u8,
    /// Shares in a round lot.
    pub round_lot_size: u32,
    /// `Y` if only round lots are accepted.
    pub round_lots_only: u8,
    /// Issue classification.
    pub issue_classification: u8,
    /// Issue sub-type.
    pub issue_subtype: [u8; 2],
    /// `P` live, `T` test.
    pub authenticity: u8,
    /// Short sale threshold indicator.
    pub short_sale_threshold: u8,
    /// IPO flag.
    pub ipo_flag: u8,
    /// LULD reference price tier.
    pub luld_tier: u8,
    /// ETP flag.
    pub etp_flag: u8,
    /// ETP leverage factor.
    pub etp_leverage_factor: u32,
    /// Inverse indicator.
    pub inverse_indicator: u8,
}

impl StockDirectory {
    /// The entry of an ordinary, live, normally trading common stock on the Global Select
    /// market with `round_lot_size` shares a lot.
    pub fn common_stock(stock: Stock, round_lot_size: u32) -> Self {
        Self {
            stock,
            market_category: b'Q',
            financial_status: b'N',
            round_lot_size,
            round_lots_only: b'N',
            issue_classification: b'C',
            issue_subtype: *b"Z ",
            authenticity: b'P',
            short_sale_threshold: b'N',
            ipo_flag: b' ',
            luld_tier: b'1',
            etp_flag: b'N',
            etp_leverage_factor: 0,
            inverse_indicator: b'N',
        }
    }
}

/// One ITCH 5.0 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// `S`: start or end of messages, system hours, market hours.
    SystemEvent {
        /// The common header.
        header: Header,
        /// `O`, `S`, `Q`, `M`, `E` or `C`.
        event_code: u8,
    },
    /// `R`: a stock's directory entry.
    StockDirectory {
        /// The common header.
        header: Header,
        /// The entry.
        directory: StockDirectory,
    },
    /// `A` (no attribution) or `F` (with an MPID): a new visible order.
    AddOrder {
        /// The common header.
        header: Header,
        /// The order's reference number, unique for the day.
        order_ref: u64,
        /// Buy or sell.
        side: Side,
        /// Shares.
        shares: u32,
        /// The stock.
        stock: Stock,
        /// Price, four implied decimals.
        price: u32,
        /// The market participant's id (`F` messages only).
        attribution: Option<[u8; 4]>,
    },
    /// `E`: part or all of an order executed at its own price.
    OrderExecuted {
        /// The common header.
        header: Header,
        /// The executed order.
        order_ref: u64,
        /// Shares executed.
        executed_shares: u32,
        /// The trade's match number.
        match_number: u64,
    },
    /// `C`: part or all of an order executed at another price.
    OrderExecutedWithPrice {
        /// The common header.
        header: Header,
        /// The executed order.
        order_ref: u64,
        /// Shares executed.
        executed_shares: u32,
        /// The trade's match number.
        match_number: u64,
        /// Whether the execution should print on time and sales.
        printable: bool,
        /// Execution price, four implied decimals.
        execution_price: u32,
    },
    /// `X`: part of an order cancelled.
    OrderCancel {
        /// The common header.
        header: Header,
        /// The order.
        order_ref: u64,
        /// Shares removed.
        cancelled_shares: u32,
    },
    /// `D`: an order removed from the book.
    OrderDelete {
        /// The common header.
        header: Header,
        /// The order.
        order_ref: u64,
    },
    /// `U`: an order replaced by a new one (new reference, size and price; priority lost).
    OrderReplace {
        /// The common header.
        header: Header,
        /// The order replaced.
        original_ref: u64,
        /// The replacing order's reference.
        new_ref: u64,
        /// Its shares.
        shares: u32,
        /// Its price, four implied decimals.
        price: u32,
    },
    /// `P`: an execution against a non-displayed order; the visible book does not change.
    Trade {
        /// The common header.
        header: Header,
        /// The hidden order's reference (0 since 2014).
        order_ref: u64,
        /// The side of the hidden order.
        side: Side,
        /// Shares.
        shares: u32,
        /// The stock.
        stock: Stock,
        /// Price, four implied decimals.
        price: u32,
        /// The trade's match number.
        match_number: u64,
    },
}

/// The wire length of each message type this module takes, or `None` for other types.
pub const fn message_len(msg_type: u8) -> Option<usize> {
    match msg_type {
        b'S' => Some(12),
        b'R' => Some(39),
        b'A' => Some(36),
        b'F' => Some(40),
        b'E' => Some(31),
        b'C' => Some(36),
        b'X' => Some(23),
        b'D' => Some(19),
        b'U' => Some(35),
        b'P' => Some(44),
        _ => None,
    }
}

fn invalid(msg_type: u8, field: &'static str, value: u8) -> DecodeError {
    DecodeError::InvalidField {
        protocol: PROTOCOL,
        msg_type: char::from(msg_type),
        field,
        value: char::from(value).to_string(),
    }
}

fn side(msg_type: u8, byte: u8) -> Result<Side, DecodeError> {
    match byte {
        b'B' => Ok(Side::Buy),
        b'S' => Ok(Side::Sell),
        other => Err(invalid(msg_type, "side", other)),
    }
}

impl Message {
    /// The message's type byte.
    pub fn msg_type(&self) -> u8 {
        match self {
            Self::SystemEvent { .. } => b'S',
            Self::StockDirectory { .. } => b'R',
            Self::AddOrder { attribution: None, .. } => b'A',
            Self::AddOrder { attribution: Some(_), .. } => b'F',
            Self::OrderExecuted { .. } => b'E',
            Self::OrderExecutedWithPrice { .. } => b'C',
            Self::OrderCancel { .. } => b'X',
            Self::OrderDelete { .. } => b'D',
            Self::OrderReplace { .. } => b'U',
            Self::Trade { .. } => b'P',
        }
    }

    /// Its length on the wire.
    pub fn encoded_len(&self) -> usize {
        message_len(self.msg_type()).expect("every variant has a length")
    }

    /// The common header.
    pub fn header(&self) -> &Header {
        match self {
            Self::SystemEvent { header, .. }
            | Self::StockDirectory { header, .. }
            | Self::AddOrder { header, .. }
            | Self::OrderExecuted { header, .. }
            | Self::OrderExecutedWithPrice { header, .. }
            | Self::OrderCancel { header, .. }
            | Self::OrderDelete { header, .. }
            | Self::OrderReplace { header, .. }
            | Self::Trade { header, .. } => header,
        }
    }

    /// Decodes one message that fills `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let &msg_type = bytes.first().ok_or(DecodeError::Empty { protocol: PROTOCOL })?;
        let expected =
            message_len(msg_type).ok_or(DecodeError::UnknownType { protocol: PROTOCOL, msg_type })?;
        if bytes.len() != expected {
            return Err(DecodeError::Length {
                protocol: PROTOCOL,
                msg_type: char::from(msg_type),
                expected,
                found: bytes.len(),
            });
        }
        let b = bytes;
        let header = Header {
            stock_locate: be::<2>(b, 1) as u16,
            tracking_number: be::<2>(b, 3) as u16,
            timestamp_ns: be::<6>(b, 5),
        };
        let u32_at = |at| be::<4>(b, at) as u32;
        let u64_at = |at| be::<8>(b, at);
        Ok(match msg_type {
            b'S' => Self::SystemEvent { header, event_code: b[11] },
            b'R' => Self::StockDirectory {
                header,
                directory: StockDirectory {
                    stock: array(b, 11),
                    market_category: b[19],
                    financial_status: b[20],
                    round_lot_size: u32_at(21),
                    round_lots_only: b[25],
                    issue_classification: b[26],
                    issue_subtype: array(b, 27),
                    authenticity: b[29],
                    short_sale_threshold: b[30],
                    ipo_flag: b[31],
                    luld_tier: b[32],
                    etp_flag: b[33],
                    etp_leverage_factor: u32_at(34),
                    inverse_indicator: b[38],
                },
            },
            b'A' | b'F' => Self::AddOrder {
                header,
                order_ref: u64_at(11),
                side: side(msg_type, b[19])?,
                shares: u32_at(20),
                stock: array(b, 24),
                price: u32_at(32),
                attribution: (msg_type == b'F').then(|| array(b, 36)),
            },
            b'E' => Self::OrderExecuted {
                header,
                order_ref: u64_at(11),
                executed_shares: u32_at(19),
                match_number: u64_at(23),
            },
            b'C' => Self::OrderExecutedWithPrice {
                header,
                order_ref: u64_at(11),
                executed_shares: u32_at(19),
                match_number: u64_at(23),
                printable: match b[31] {
                    b'Y' => true,
                    b'N' => false,
                    other => return Err(invalid(msg_type, "printable", other)),
                },
                execution_price: u32_at(32),
            },
            b'X' => Self::OrderCancel { header, order_ref: u64_at(11), cancelled_shares: u32_at(19) },
            b'D' => Self::OrderDelete { header, order_ref: u64_at(11) },
            b'U' => Self::OrderReplace {
                header,
                original_ref: u64_at(11),
                new_ref: u64_at(19),
                shares: u32_at(27),
                price: u32_at(31),
            },
            b'P' => Self::Trade {
                header,
                order_ref: u64_at(11),
                side: side(msg_type, b[19])?,
                shares: u32_at(20),
                stock: array(b, 24),
                price: u32_at(32),
                match_number: u64_at(36),
            },
            _ => unreachable!("message_len accepted only the types above"),
        })
    }

    /// Encodes the message into the front of `out`; returns its length.
    pub fn encode(&self, out: &mut [u8; MAX_MESSAGE_LEN]) -> usize {
        let len = self.encoded_len();
        let b = &mut out[..len];
        b[0] = self.msg_type();
        let header = self.header();
        put_be::<2>(b, 1, u64::from(header.stock_locate));
        put_be::<2>(b, 3, u64::from(header.tracking_number));
        put_be::<6>(b, 5, header.timestamp_ns);
        match *self {
            Self::SystemEvent { event_code, .. } => b[11] = event_code,
            Self::StockDirectory { directory: d, .. } => {
                b[11..19].copy_from_slice(&d.stock);
                b[19] = d.market_category;
                b[20] = d.financial_status;
                put_be::<4>(b, 21, u64::from(d.round_lot_size));
                b[25] = d.round_lots_only;
                b[26] = d.issue_classification;
                b[27..29].copy_from_slice(&d.issue_subtype);
                b[29] = d.authenticity;
                b[30] = d.short_sale_threshold;
                b[31] = d.ipo_flag;
                b[32] = d.luld_tier;
                b[33] = d.etp_flag;
                put_be::<4>(b, 34, u64::from(d.etp_leverage_factor));
                b[38] = d.inverse_indicator;
            }
            Self::AddOrder { order_ref, side, shares, stock, price, attribution, .. } => {
                put_be::<8>(b, 11, order_ref);
                b[19] = side.byte();
                put_be::<4>(b, 20, u64::from(shares));
                b[24..32].copy_from_slice(&stock);
                put_be::<4>(b, 32, u64::from(price));
                if let Some(mpid) = attribution {
                    b[36..40].copy_from_slice(&mpid);
                }
            }
            Self::OrderExecuted { order_ref, executed_shares, match_number, .. } => {
                put_be::<8>(b, 11, order_ref);
                put_be::<4>(b, 19, u64::from(executed_shares));
                put_be::<8>(b, 23, match_number);
            }
            Self::OrderExecutedWithPrice {
                order_ref,
                executed_shares,
                match_number,
                printable,
                execution_price,
                ..
            } => {
                put_be::<8>(b, 11, order_ref);
                put_be::<4>(b, 19, u64::from(executed_shares));
                put_be::<8>(b, 23, match_number);
                b[31] = if printable { b'Y' } else { b'N' };
                put_be::<4>(b, 32, u64::from(execution_price));
            }
            Self::OrderCancel { order_ref, cancelled_shares, .. } => {
                put_be::<8>(b, 11, order_ref);
                put_be::<4>(b, 19, u64::from(cancelled_shares));
            }
            Self::OrderDelete { order_ref, .. } => put_be::<8>(b, 11, order_ref),
            Self::OrderReplace { original_ref, new_ref, shares, price, .. } => {
                put_be::<8>(b, 11, original_ref);
                put_be::<8>(b, 19, new_ref);
                put_be::<4>(b, 27, u64::from(shares));
                put_be::<4>(b, 31, u64::from(price));
            }
            Self::Trade { order_ref, side, shares, stock, price, match_number, .. } => {
                put_be::<8>(b, 11, order_ref);
                b[19] = side.byte();
                put_be::<4>(b, 20, u64::from(shares));
                b[24..32].copy_from_slice(&stock);
                put_be::<4>(b, 32, u64::from(price));
                put_be::<8>(b, 36, match_number);
            }
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> Header {
        Header { stock_locate: 7, tracking_number: 2, timestamp_ns: 34_200_000_000_123 }
    }

    fn encoded(msg: &Message) -> Vec<u8> {
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let len = msg.encode(&mut buf);
        buf[..len].to_vec()
    }

    #[test]
    fn an_add_order_has_the_specified_layout() {
        let msg = Message::AddOrder {
            header: header(),
            order_ref: 0x0102_0304_0506_0708,
            side: Side::Buy,
            shares: 100,
            stock: stock("AAPL"),
            price: 1_895_000, // 189.5000
            attribution: None,
        };
        let bytes = encoded(&msg);
        let mut expected = vec![b'A', 0, 7, 0, 2];
        expected.extend_from_slice(&34_200_000_000_123u64.to_be_bytes()[2..]);
        expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, b'B', 0, 0, 0, 100]);
        expected.extend_from_slice(b"AAPL    ");
        expected.extend_from_slice(&1_895_000u32.to_be_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(Message::decode(&bytes), Ok(msg));
    }

    #[test]
    fn a_stock_directory_entry_round_trips_in_39_bytes() {
        let msg = Message::StockDirectory {
            header: header(),
            directory: StockDirectory::common_stock(stock("MSFT"), 100),
        };
        let bytes = encoded(&msg);
        assert_eq!(bytes.len(), 39);
        assert_eq!(&bytes[11..19], b"MSFT    ");
        assert_eq!(&bytes[21..25], &100u32.to_be_bytes());
        assert_eq!(Message::decode(&bytes), Ok(msg));
    }

    #[test]
    fn malformed_messages_name_what_is_wrong() {
        assert_eq!(Message::decode(&[]), Err(DecodeError::Empty { protocol: PROTOCOL }));
        assert_eq!(
            Message::decode(b"Z123"),
            Err(DecodeError::UnknownType { protocol: PROTOCOL, msg_type: b'Z' })
        );
        let delete = encoded(&Message::OrderDelete { header: header(), order_ref: 9 });
        assert_eq!(
            Message::decode(&delete[..18]),
            Err(DecodeError::Length { protocol: PROTOCOL, msg_type: 'D', expected: 19, found: 18 })
        );
        let mut add = encoded(&Message::AddOrder {
            header: header(),
            order_ref: 1,
            side: Side::Sell,
            shares: 1,
            stock: stock("MSFT"),
            price: 1,
            attribution: Some(*b"NITE"),
        });
        add[19] = b'Q';
        let err = Message::decode(&add).unwrap_err();
        assert_eq!(err.to_string(), "ITCH 5.0: message 'F' has side = \"Q\", which is not allowed");
    }

    fn any_header() -> impl Strategy<Value = Header> {
        (any::<u16>(), any::<u16>(), 0u64..(1 << 48)).prop_map(
            |(stock_locate, tracking_number, timestamp_ns)| Header {
                stock_locate,
                tracking_number,
                timestamp_ns,
            },
        )
    }

    fn any_side() -> impl Strategy<Value = Side> {
        prop_oneof![Just(Side::Buy), Just(Side::Sell)]
    }

    fn any_message() -> impl Strategy<Value = Message> {
        let stock = any::<[u8; 8]>();
        prop_oneof![
            (any_header(), any::<u8>())
                .prop_map(|(header, event_code)| Message::SystemEvent { header, event_code }),
            (
                any_header(),
                any::<u64>(),
                any_side(),
                any::<u32>(),
                stock,
                any::<u32>(),
                any::<Option<[u8; 4]>>()
            )
                .prop_map(|(header, order_ref, side, shares, stock, price, attribution)| {
                    Message::AddOrder { header, order_ref, side, shares, stock, price, attribution }
                }),
            (any_header(), any::<u64>(), any::<u32>(), any::<u64>()).prop_map(
                |(header, order_ref, executed_shares, match_number)| Message::OrderExecuted {
                    header,
                    order_ref,
                    executed_shares,
                    match_number
                }
            ),
            (any_header(), any::<u64>(), any::<u32>(), any::<u64>(), any::<bool>(), any::<u32>()).prop_map(
                |(header, order_ref, executed_shares, match_number, printable, execution_price)| {
                    Message::OrderExecutedWithPrice {
                        header,
                        order_ref,
                        executed_shares,
                        match_number,
                        printable,
                        execution_price,
                    }
                }
            ),
            (any_header(), any::<u64>(), any::<u32>()).prop_map(|(header, order_ref, cancelled_shares)| {
                Message::OrderCancel { header, order_ref, cancelled_shares }
            }),
            (any_header(), any::<u64>())
                .prop_map(|(header, order_ref)| Message::OrderDelete { header, order_ref }),
            (any_header(), any::<u64>(), any::<u64>(), any::<u32>(), any::<u32>()).prop_map(
                |(header, original_ref, new_ref, shares, price)| Message::OrderReplace {
                    header,
                    original_ref,
                    new_ref,
                    shares,
                    price
                }
            ),
            (any_header(), any::<u64>(), any_side(), any::<u32>(), stock, any::<u32>(), any::<u64>())
                .prop_map(|(header, order_ref, side, shares, stock, price, match_number)| Message::Trade {
                    header,
                    order_ref,
                    side,
                    shares,
                    stock,
                    price,
                    match_number
                }),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(msg in any_message()) {
            let bytes = encoded(&msg);
            prop_assert_eq!(bytes.len(), message_len(bytes[0]).unwrap());
            prop_assert_eq!(Message::decode(&bytes), Ok(msg));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Message::decode(&bytes);
        }
    }
}
