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

use serde::Serialize;

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

/// One message of the depth stream as decoded by a [`DepthDecoder`]: the symbol borrows the
/// input and the levels borrow the decoder's buffers, so decoding allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthEvent<'a> {
    /// The whole book as of update `last_update_id`.
    Snapshot {
        /// The symbol.
        symbol: &'a str,
        /// The last update the snapshot includes.
        last_update_id: u64,
        /// Bids, best first.
        bids: &'a [Level],
        /// Asks, best first.
        asks: &'a [Level],
    },
    /// Levels changed by updates `first_update_id ..= last_update_id`.
    Update {
        /// The symbol.
        symbol: &'a str,
        /// Event time, milliseconds since the Unix epoch.
        event_time_ms: u64,
        /// The first update id covered (`U`).
        first_update_id: u64,
        /// The last update id covered (`u`).
        last_update_id: u64,
        /// New absolute bid quantities (0 removes).
        bids: &'a [Level],
        /// New absolute ask quantities (0 removes).
        asks: &'a [Level],
    },
    /// A trade.
    Trade {
        /// The symbol.
        symbol: &'a str,
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

impl<'a> DepthEvent<'a> {
    /// The symbol the message is about.
    pub fn symbol(&self) -> &'a str {
        match self {
            Self::Snapshot { symbol, .. } | Self::Update { symbol, .. } | Self::Trade { symbol, .. } => {
                symbol
            }
        }
    }

    /// An owned copy.
    pub fn to_message(&self) -> DepthMessage {
        match *self {
            Self::Snapshot { symbol, last_update_id, bids, asks } => DepthMessage::Snapshot {
                symbol: symbol.to_owned(),
                last_update_id,
                bids: bids.to_vec(),
                asks: asks.to_vec(),
            },
            Self::Update { symbol, event_time_ms, first_update_id, last_update_id, bids, asks } => {
                DepthMessage::Update {
                    symbol: symbol.to_owned(),
                    event_time_ms,
                    first_update_id,
                    last_update_id,
                    bids: bids.to_vec(),
                    asks: asks.to_vec(),
                }
            }
            Self::Trade { symbol, trade_id, price, quantity, trade_time_ms, buyer_is_maker } => {
                DepthMessage::Trade {
                    symbol: symbol.to_owned(),
                    trade_id,
                    price,
                    quantity,
                    trade_time_ms,
                    buyer_is_maker,
                }
            }
        }
    }
}

type WireLevel = [String; 2];

#[derive(Serialize)]
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

fn wire_levels(levels: &[Level]) -> Vec<WireLevel> {
    levels.iter().map(|&(p, q)| [format_decimal(p, DECIMALS), format_decimal(q, DECIMALS)]).collect()
}

impl DepthMessage {
    /// Decodes one message (into owned values; the feed's hot path uses a [`DepthDecoder`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        DepthDecoder::default().decode(bytes).map(|event| event.to_message())
    }

    /// The message as a borrowed [`DepthEvent`].
    pub fn as_event(&self) -> DepthEvent<'_> {
        match self {
            Self::Snapshot { symbol, last_update_id, bids, asks } => {
                DepthEvent::Snapshot { symbol, last_update_id: *last_update_id, bids, asks }
            }
            Self::Update { symbol, event_time_ms, first_update_id, last_update_id, bids, asks } => {
                DepthEvent::Update {
                    symbol,
                    event_time_ms: *event_time_ms,
                    first_update_id: *first_update_id,
                    last_update_id: *last_update_id,
                    bids,
                    asks,
                }
            }
            &Self::Trade { ref symbol, trade_id, price, quantity, trade_time_ms, buyer_is_maker } => {
                DepthEvent::Trade { symbol, trade_id, price, quantity, trade_time_ms, buyer_is_maker }
            }
        }
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

/// Decodes depth messages without allocating: the levels go into buffers it keeps and reuses
/// (they grow to the largest message seen, then stay). Symbols must be plain JSON strings
/// (without escapes), as every venue sends them.
#[derive(Debug, Default)]
pub struct DepthDecoder {
    bids: Vec<Level>,
    asks: Vec<Level>,
    /// The precise error behind a serde error raised inside a field (allocated only then).
    field_error: Option<DecodeError>,
}

impl DepthDecoder {
    /// A decoder with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one message.
    pub fn decode<'a>(&'a mut self, bytes: &'a [u8]) -> Result<DepthEvent<'a>, DecodeError> {
        self.bids.clear();
        self.asks.clear();
        self.field_error = None;
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let visitor =
            MessageVisitor { bids: &mut self.bids, asks: &mut self.asks, error: &mut self.field_error };
        let scalars = serde::Deserializer::deserialize_map(&mut deserializer, visitor)
            .and_then(|scalars| deserializer.end().map(|()| scalars))
            .map_err(|e| {
                self.field_error
                    .take()
                    .unwrap_or_else(|| DecodeError::Malformed { protocol: PROTOCOL, detail: e.to_string() })
            })?;
        scalars.event(&self.bids, &self.asks)
    }
}

/// The top-level keys we read; others are skipped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Kind,
    Symbol,
    LastUpdateId,
    EventTime,
    First,
    Last,
    Bids,
    Asks,
    TradeId,
    Price,
    Quantity,
    TradeTime,
    Maker,
    Other,
}

impl Key {
    fn from_name(name: &str) -> Self {
        match name {
            "e" => Self::Kind,
            "s" => Self::Symbol,
            "lastUpdateId" => Self::LastUpdateId,
            "E" => Self::EventTime,
            "U" => Self::First,
            "u" => Self::Last,
            "b" | "bids" => Self::Bids,
            "a" | "asks" => Self::Asks,
            "t" => Self::TradeId,
            "p" => Self::Price,
            "q" => Self::Quantity,
            "T" => Self::TradeTime,
            "m" => Self::Maker,
            _ => Self::Other,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(Key::from_name(name))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The message types.
#[derive(Clone, Copy)]
enum Kind {
    Snapshot,
    Update,
    Trade,
}

const KINDS: &[&str] = &["depthSnapshot", "depthUpdate", "trade"];

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindVisitor;
        impl serde::de::Visitor<'_> for KindVisitor {
            type Value = Kind;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message type")
            }
            fn visit_str<E: serde::de::Error>(self, kind: &str) -> Result<Kind, E> {
                match kind {
                    "depthSnapshot" => Ok(Kind::Snapshot),
                    "depthUpdate" => Ok(Kind::Update),
                    "trade" => Ok(Kind::Trade),
                    other => Err(E::unknown_variant(other, KINDS)),
                }
            }
        }
        deserializer.deserialize_str(KindVisitor)
    }
}

/// A decimal string read straight into units of 1e-9; an invalid one leaves its
/// [`DecodeError`] in `error`.
struct DecimalSeed<'b> {
    field: &'static str,
    error: &'b mut Option<DecodeError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for DecimalSeed<'_> {
    type Value = i64;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<i64, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for DecimalSeed<'_> {
    type Value = i64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a decimal string")
    }
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<i64, E> {
        parse_decimal(text.as_bytes(), DECIMALS).ok_or_else(|| {
            *self.error = Some(invalid(self.field, text));
            E::custom("invalid decimal")
        })
    }
}

/// A list of `[price, quantity]` pairs appended to `levels`.
struct LevelsSeed<'b> {
    field: &'static str,
    levels: &'b mut Vec<Level>,
    error: &'b mut Option<DecodeError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for LevelsSeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LevelsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of [price, quantity] pairs")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(level) =
            seq.next_element_seed(LevelSeed { field: self.field, error: &mut *self.error })?
        {
            self.levels.push(level);
        }
        Ok(())
    }
}

/// One `[price, quantity]` pair: a positive price and a quantity not below zero.
struct LevelSeed<'b> {
    field: &'static str,
    error: &'b mut Option<DecodeError>,
}

impl<'de> serde::de::DeserializeSeed<'de> for LevelSeed<'_> {
    type Value = Level;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Level, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for LevelSeed<'_> {
    type Value = Level;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a [price, quantity] pair")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Level, A::Error> {
        use serde::de::Error;
        let mut decimal =
            || seq.next_element_seed(DecimalSeed { field: self.field, error: &mut *self.error });
        let (Some(price), Some(quantity)) = (decimal()?, decimal()?) else {
            return Err(A::Error::invalid_length(1, &"a [price, quantity] pair"));
        };
        if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::invalid_length(3, &"a [price, quantity] pair"));
        }
        if price <= 0 || quantity < 0 {
            let level =
                format!("[{:?}, {:?}]", format_decimal(price, DECIMALS), format_decimal(quantity, DECIMALS));
            *self.error = Some(invalid(self.field, &level));
            return Err(A::Error::custom("invalid level"));
        }
        Ok((price, quantity))
    }
}

/// The top-level object, read field by field into [`Fields`].
struct MessageVisitor<'b> {
    bids: &'b mut Vec<Level>,
    asks: &'b mut Vec<Level>,
    error: &'b mut Option<DecodeError>,
}

/// The scalar fields of a message, each present or not.
#[derive(Default)]
struct Fields<'a> {
    kind: Option<Kind>,
    symbol: Option<&'a str>,
    last_update_id: Option<u64>,
    event_time: Option<u64>,
    first: Option<u64>,
    last: Option<u64>,
    bids: bool,
    asks: bool,
    trade_id: Option<u64>,
    price: Option<i64>,
    quantity: Option<i64>,
    trade_time: Option<u64>,
    maker: Option<bool>,
}

/// `value` if present, else serde's "missing field" error.
fn required<T, E: serde::de::Error>(value: Option<T>, name: &'static str) -> Result<T, E> {
    value.ok_or_else(|| E::missing_field(name))
}

impl<'de> serde::de::Visitor<'de> for MessageVisitor<'_> {
    type Value = Scalars<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a depth message object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Scalars<'de>, A::Error> {
        use serde::de::Error;
        fn set<T, E: Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
            match slot.replace(value) {
                Some(_) => Err(E::duplicate_field(name)),
                None => Ok(()),
            }
        }
        let mut f = Fields::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Kind => set(&mut f.kind, map.next_value()?, "e")?,
                Key::Symbol => set(&mut f.symbol, map.next_value()?, "s")?,
                Key::LastUpdateId => set(&mut f.last_update_id, map.next_value()?, "lastUpdateId")?,
                Key::EventTime => set(&mut f.event_time, map.next_value()?, "E")?,
                Key::First => set(&mut f.first, map.next_value()?, "U")?,
                Key::Last => set(&mut f.last, map.next_value()?, "u")?,
                Key::TradeId => set(&mut f.trade_id, map.next_value()?, "t")?,
                Key::TradeTime => set(&mut f.trade_time, map.next_value()?, "T")?,
                Key::Maker => set(&mut f.maker, map.next_value()?, "m")?,
                Key::Price => {
                    let price = map.next_value_seed(DecimalSeed { field: "p", error: &mut *self.error })?;
                    set(&mut f.price, price, "p")?;
                }
                Key::Quantity => {
                    let quantity =
                        map.next_value_seed(DecimalSeed { field: "q", error: &mut *self.error })?;
                    set(&mut f.quantity, quantity, "q")?;
                }
                Key::Bids | Key::Asks => {
                    let (seen, levels, field) = match key {
                        Key::Bids => (&mut f.bids, &mut *self.bids, "bids"),
                        _ => (&mut f.asks, &mut *self.asks, "asks"),
                    };
                    if std::mem::replace(seen, true) {
                        return Err(A::Error::duplicate_field(field));
                    }
                    map.next_value_seed(LevelsSeed { field, levels, error: &mut *self.error })?;
                }
                Key::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        // Check here, while serde can still name a missing field.
        let levels = |present: bool, name| if present { Ok(()) } else { Err(A::Error::missing_field(name)) };
        let symbol = required(f.symbol, "s")?;
        Ok(match required(f.kind, "e")? {
            Kind::Snapshot => {
                levels(f.bids, "bids")?;
                levels(f.asks, "asks")?;
                Scalars::Snapshot { symbol, last_update_id: required(f.last_update_id, "lastUpdateId")? }
            }
            Kind::Update => {
                levels(f.bids, "b")?;
                levels(f.asks, "a")?;
                Scalars::Update {
                    symbol,
                    event_time_ms: required(f.event_time, "E")?,
                    first: required(f.first, "U")?,
                    last: required(f.last, "u")?,
                }
            }
            Kind::Trade => Scalars::Trade {
                symbol,
                trade_id: required(f.trade_id, "t")?,
                price: required(f.price, "p")?,
                quantity: required(f.quantity, "q")?,
                trade_time_ms: required(f.trade_time, "T")?,
                buyer_is_maker: required(f.maker, "m")?,
            },
        })
    }
}

/// A message's fields other than its levels, all present.
enum Scalars<'a> {
    Snapshot {
        symbol: &'a str,
        last_update_id: u64,
    },
    Update {
        symbol: &'a str,
        event_time_ms: u64,
        first: u64,
        last: u64,
    },
    Trade {
        symbol: &'a str,
        trade_id: u64,
        price: i64,
        quantity: i64,
        trade_time_ms: u64,
        buyer_is_maker: bool,
    },
}

impl<'a> Scalars<'a> {
    /// The event with its levels.
    fn event(self, bids: &'a [Level], asks: &'a [Level]) -> Result<DepthEvent<'a>, DecodeError> {
        Ok(match self {
            Self::Snapshot { symbol, last_update_id } => {
                DepthEvent::Snapshot { symbol, last_update_id, bids, asks }
            }
            Self::Update { first, last, .. } if first > last => {
                return Err(invalid("U", &format!("{first} > u {last}")))
            }
            Self::Update { symbol, event_time_ms, first, last } => DepthEvent::Update {
                symbol,
                event_time_ms,
                first_update_id: first,
                last_update_id: last,
                bids,
                asks,
            },
            Self::Trade { symbol, trade_id, price, quantity, trade_time_ms, buyer_is_maker } => {
                DepthEvent::Trade { symbol, trade_id, price, quantity, trade_time_ms, buyer_is_maker }
            }
        })
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

    #[test]
    fn a_decoder_borrows_the_symbol_reuses_its_level_buffers_and_skips_unknown_fields() {
        let mut decoder = DepthDecoder::new();
        let big = br#"{"e":"depthSnapshot","s":"X","lastUpdateId":5,"bids":[["3","1"],["2","1"],["1","1"]],"asks":[]}"#;
        assert!(matches!(decoder.decode(big), Ok(DepthEvent::Snapshot { bids, .. }) if bids.len() == 3));
        let capacity = decoder.bids.capacity();
        let text = br#"{"x":{"nested":[1,2]},"e":"depthUpdate","E":7,"s":"BTCUSD","U":6,"u":6,"b":[["1.5","2"]],"a":[]}"#;
        let event = decoder.decode(text).unwrap();
        assert_eq!(
            event,
            DepthEvent::Update {
                symbol: "BTCUSD",
                event_time_ms: 7,
                first_update_id: 6,
                last_update_id: 6,
                bids: &[(1_500_000_000, 2_000_000_000)],
                asks: &[],
            }
        );
        assert!(text.as_ptr_range().contains(&event.symbol().as_ptr()), "the symbol points into the input");
        assert_eq!(event.to_message().as_event(), event);
        assert_eq!(decoder.bids.capacity(), capacity, "the buffer was reused, not reallocated");
    }

    #[test]
    fn missing_duplicate_and_escaped_fields_are_refused_with_their_name() {
        let err = |text: &str| DepthDecoder::new().decode(text.as_bytes()).unwrap_err().to_string();
        assert!(err(r#"{"e":"depthUpdate","E":1,"s":"X","U":1,"u":1,"b":[]}"#).contains("missing field `a`"));
        assert!(err(r#"{"e":"trade","s":"X"}"#).contains("missing field `t`"));
        assert!(err(r#"{"e":"trade","e":"trade"}"#).contains("duplicate field `e`"));
        assert!(err(r#"{"e":"depthSnapshot","s":"X","lastUpdateId":1,"bids":[["1"]],"asks":[]}"#)
            .contains("invalid length 1"));
        assert!(err(r#"{"e":"depthSnapshot","s":"X","lastUpdateId":1,"bids":[],"asks":[["1","2","3"]]}"#)
            .contains("invalid length 3"));
        assert!(err(r#"{"e":"depthSnapshot","s":"\u0058","lastUpdateId":1,"bids":[],"asks":[]}"#)
            .contains("borrowed string"));
        assert!(err(r#"{"e":"depthSnapshot","s":"X","lastUpdateId":1,"bids":[],"asks":[]} trailing"#)
            .contains("trailing characters"));
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
