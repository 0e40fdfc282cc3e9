//! Venue C's market data: crypto-exchange style JSON depth over WebSocket.
//!
//! A depth snapshot carries the id of the last update it includes; incremental updates carry
//! the first and last update ids they cover (`U`, `u`) and absolute quantities per price, where
//! 0 removes the level; trades stand alone. Prices and quantities are decimal strings, held as
//! integers in units of 1e-9.
//!
//! ```text
//! {"e":"depthSnapshot","s":"BTCUSD","lastUpdateId":160,"bids":[["64000.5","1.25"]],"asks":[...]}
//! {"e":"depthUpdate","E":1700000000123,"s":"BTCUSD","U":157,"u":160,"b":[["64000.5","0"]],"a":[...]}
//! {"e":"trade","E":1700000000124,"s":"BTCUSD","t":12345,"p":"64001","q":"0.5","T":1700000000124,"m":true}
//! ```

use serde::{Deserialize, Serialize};

use crate::decimal::{format_decimal, parse_decimal};
use crate::DecodeError;

const PROTOCOL: &str = "JSON depth";

/// Decimals of prices and quantities once parsed.
pub const DECIMALS: u32 = 9;

/// A price level: price and absolute quantity, in units of 1e-9.
pub type Level = (i64, i64);

/// One message of the depth stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepthMessage {
    /// The whole book as of update `last_update_id`.
    Snapshot {
        /// The symbol.
        symbol: String,
        /// The last update the snapshot includes.
        last_update_id: u64,
        /// Bids, best first.
        bids: Vec<Level>,
        /// Asks, best first.
        asks: Vec<Level>,
    },
    /// Levels changed by updates `first_update_id ..= last_update_id`.
    Update {
        /// The symbol.
        symbol: String,
        /// Event time, milliseconds since the Unix epoch.
        event_time_ms: u64,
        /// The first update id covered (`U`).
        first_update_id: u64,
        /// The last update id covered (`u`).
        last_update_id: u64,
        /// New absolute bid quantities (0 removes).
        bids: Vec<Level>,
        /// New absolute ask quantities (0 removes).
        asks: Vec<Level>,
    },
    /// A trade.
    Trade {
        /// The symbol.
        symbol: String,
        /// The trade's id.
        trade_id: u64,
        /// Price.
        price: i64,
        /// Quantity.
        quantity: i64,
        /// Trade time, milliseconds since the Unix epoch.
        trade_time_ms: u64,
        /// Whether the buyer was the resting (maker) side.
        buyer_is_maker: bool,
    },
}

type WireLevel = [String; 2];

#[derive(Serialize, Deserialize)]
#[serde(tag = "e")]
enum Wire {
    #[serde(rename = "depthSnapshot")]
    Snapshot {
        s: String,
        #[serde(rename = "lastUpdateId")]
        last_update_id: u64,
        bids: Vec<WireLevel>,
        asks: Vec<WireLevel>,
    },
    #[serde(rename = "depthUpdate")]
    Update {
        #[serde(rename = "E")]
        event_time: u64,
        s: String,
        #[serde(rename = "U")]
        first: u64,
        u: u64,
        b: Vec<WireLevel>,
        a: Vec<WireLevel>,
    },
    #[serde(rename = "trade")]
    Trade {
        #[serde(rename = "E")]
        event_time: u64,
        s: String,
        t: u64,
        p: String,
        q: String,
        #[serde(rename = "T")]
        trade_time: u64,
        m: bool,
    },
}

fn invalid(field: &'static str, value: &str) -> DecodeError {
    DecodeError::InvalidField { protocol: PROTOCOL, msg_type: '{', field, value: value.to_owned() }
}

fn decimal(field: &'static str, text: &str) -> Result<i64, DecodeError> {
    parse_decimal(text.as_bytes(), DECIMALS).ok_or_else(|| invalid(field, text))
}

fn levels(field: &'static str, wire: Vec<WireLevel>) -> Result<Vec<Level>, DecodeError> {
    wire.iter()
        .map(|[price, quantity]| {
            let level = (decimal(field, price)?, decimal(field, quantity)?);
            if level.0 <= 0 || level.1 < 0 {
                return Err(invalid(field, &format!("[{price:?}, {quantity:?}]")));
            }
            Ok(level)
        })
        .collect()
}

fn wire_levels(levels: &[Level]) -> Vec<WireLevel> {
    levels.iter().map(|&(p, q)| [format_decimal(p, DECIMALS), format_decimal(q, DECIMALS)]).collect()
}

impl DepthMessage {
    /// Decodes one message.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let wire: Wire = serde_json::from_slice(bytes)
            .map_err(|e| DecodeError::Malformed { protocol: PROTOCOL, detail: e.to_string() })?;
        Ok(match wire {
            Wire::Snapshot { s, last_update_id, bids, asks } => Self::Snapshot {
                symbol: s,
                last_update_id,
                bids: levels("bids", bids)?,
                asks: levels("asks", asks)?,
            },
            Wire::Update { event_time, s, first, u, b, a } => {
                if first > u {
                    return Err(invalid("U", &format!("{first} > u {u}")));
                }
                Self::Update {
                    symbol: s,
                    event_time_ms: event_time,
                    first_update_id: first,
                    last_update_id: u,
                    bids: levels("b", b)?,
                    asks: levels("a", a)?,
                }
            }
            Wire::Trade { event_time: _, s, t, p, q, trade_time, m } => Self::Trade {
                symbol: s,
                trade_id: t,
                price: decimal("p", &p)?,
                quantity: decimal("q", &q)?,
                trade_time_ms: trade_time,
                buyer_is_maker: m,
            },
        })
    }

    /// Encodes the message as JSON.
    pub fn encode(&self) -> String {
        let wire = match self {
            Self::Snapshot { symbol, last_update_id, bids, asks } => Wire::Snapshot {
                s: symbol.clone(),
                last_update_id: *last_update_id,
                bids: wire_levels(bids),
                asks: wire_levels(asks),
            },
            Self::Update { symbol, event_time_ms, first_update_id, last_update_id, bids, asks } => {
                Wire::Update {
                    event_time: *event_time_ms,
                    s: symbol.clone(),
                    first: *first_update_id,
                    u: *last_update_id,
                    b: wire_levels(bids),
                    a: wire_levels(asks),
                }
            }
            Self::Trade { symbol, trade_id, price, quantity, trade_time_ms, buyer_is_maker } => Wire::Trade {
                event_time: *trade_time_ms,
                s: symbol.clone(),
                t: *trade_id,
                p: format_decimal(*price, DECIMALS),
                q: format_decimal(*quantity, DECIMALS),
                trade_time: *trade_time_ms,
                m: *buyer_is_maker,
            },
        };
        serde_json::to_string(&wire).expect("these types always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_update_reads_as_the_exchanges_document_it() {
        let text = br#"{"e":"depthUpdate","E":123456789,"s":"BNBBTC","U":157,"u":160,
            "b":[["0.0024","10"]],"a":[["0.0026","100"],["0.0027","0"]]}"#;
        let message = DepthMessage::decode(text).unwrap();
        assert_eq!(
            message,
            DepthMessage::Update {
                symbol: "BNBBTC".into(),
                event_time_ms: 123_456_789,
                first_update_id: 157,
                last_update_id: 160,
                bids: vec![(2_400_000, 10_000_000_000)],
                asks: vec![(2_600_000, 100_000_000_000), (2_700_000, 0)],
            }
        );
        assert_eq!(DepthMessage::decode(message.encode().as_bytes()), Ok(message));
    }

    #[test]
    fn malformed_messages_name_what_is_wrong() {
        let err = |text: &str| DepthMessage::decode(text.as_bytes()).unwrap_err().to_string();
        assert!(err("{").contains("JSON depth: EOF"));
        assert!(err(r#"{"e":"kline"}"#).contains("unknown variant `kline`"));
        assert!(err(r#"{"e":"trade","E":1,"s":"X","t":1,"p":"1.5x","q":"1","T":1,"m":false}"#)
            .contains("p = \"1.5x\""));
        assert!(
            err(r#"{"e":"depthUpdate","E":1,"s":"X","U":9,"u":8,"b":[],"a":[]}"#).contains("U = \"9 > u 8\"")
        );
        assert!(err(r#"{"e":"depthSnapshot","s":"X","lastUpdateId":1,"bids":[["-1","1"]],"asks":[]}"#)
            .contains("bids"));
    }

    fn levels() -> impl Strategy<Value = Vec<Level>> {
        proptest::collection::vec((1i64..10_000_000_000_000, 0i64..1_000_000_000_000), 0..8)
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            symbol in "[A-Z]{3,8}", first in 1u64..1_000_000, span in 0u64..10,
            bids in levels(), asks in levels(), time in any::<u32>(), maker in any::<bool>(),
        ) {
            let update = DepthMessage::Update {
                symbol: symbol.clone(), event_time_ms: u64::from(time), first_update_id: first,
                last_update_id: first + span, bids: bids.clone(), asks: asks.clone(),
            };
            prop_assert_eq!(DepthMessage::decode(update.encode().as_bytes()), Ok(update));
            let snapshot = DepthMessage::Snapshot { symbol: symbol.clone(), last_update_id: first, bids, asks };
            prop_assert_eq!(DepthMessage::decode(snapshot.encode().as_bytes()), Ok(snapshot));
            let trade = DepthMessage::Trade {
                symbol, trade_id: first, price: 1 + i64::from(time), quantity: i64::from(time),
                trade_time_ms: u64::from(time), buyer_is_maker: maker,
            };
            prop_assert_eq!(DepthMessage::decode(trade.encode().as_bytes()), Ok(trade));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = DepthMessage::decode(&bytes);
        }
    }
}
