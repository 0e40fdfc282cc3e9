//! Venue C's requests and answers over WebSocket, in the style of Binance's WebSocket API: a
//! client sends `{"id":…,"method":…,"params":…}` and gets `{"id":…,"status":…,"result":…}` or
//! `{"id":…,"status":…,"error":{"code":…,"msg":…}}` back; order events arrive unasked as
//! `executionReport` messages.
//!
//! ```text
//! {"id":1,"method":"SUBSCRIBE","params":["BTCUSD@depth","BTCUSD@trade"]}
//! {"id":2,"method":"depth","params":{"symbol":"BTCUSD"}}            -> a depthSnapshot message
//! {"id":3,"method":"session.logon","params":{"apiKey":"k","timestamp":1700000000000,"signature":"…"}}
//! {"id":3,"method":"session.logon","params":{"apiKey":"k","timestamp":1700000000001,"signature":"…",
//!   "resumeFrom":42}}                       -> executionReports 42, 43, … then the answer
//! {"id":4,"method":"order.place","params":{"symbol":"BTCUSD","side":"BUY","type":"LIMIT",
//!   "timeInForce":"GTC","price":"64000.5","quantity":"2","newClientOrderId":"c-1"}}
//! {"id":5,"method":"order.cancel","params":{"symbol":"BTCUSD","origClientOrderId":"c-1"}}
//! ```
//!
//! The order channel is authenticated: `session.logon` carries an API key, a timestamp in
//! milliseconds since the Unix epoch and the hex HMAC-SHA256, keyed by the key's secret, of
//! `apiKey=<key>&timestamp=<ms>` ([`logon_payload`]). One connection at a time holds a key: a
//! logon takes the key over from any other connection holding it, whose session ends (and with
//! it its orders).
//!
//! Recovery: the venue numbers every `executionReport` of a key's orders (`u`, from 1, for the
//! venue's whole day), including those made while the key has no connection, such as the
//! cancels of its orders when its session ends. A logon with `resumeFrom` N first sends every
//! report of the key numbered N or above, in order, then answers with a [`LogonResult`] whose
//! `resumed` says so. Without `resumeFrom` (or with 0) the session starts fresh and nothing is
//! sent again. A key the venue has no such report for (the venue started a new day) answers
//! `resumed: false`, and its numbers start from the answer's `nextSequence`. A venue keeps a
//! bounded number of reports per key: a resume from before the oldest it keeps is refused
//! ([`ApiError::resume_unavailable`]) and the client logs on afresh.
//!
//! These messages are not on a hot path of the feed; they are decoded into owned values.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::DecodeError;

const PROTOCOL: &str = "JSON API";

/// A client's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the client; its answer carries the same id.
    pub id: u64,
    /// What is asked.
    #[serde(flatten)]
    pub call: Call,
}

/// The methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum Call {
    /// Streams to receive: `<SYMBOL>@depth` (depth updates) and `<SYMBOL>@trade` (trades).
    #[serde(rename = "SUBSCRIBE")]
    Subscribe(Vec<String>),
    /// The symbol's depth snapshot, sent as a `depthSnapshot` message.
    #[serde(rename = "depth")]
    Depth {
        /// The symbol.
        symbol: String,
    },
    /// Authenticates the order channel.
    #[serde(rename = "session.logon")]
    Logon(Logon),
    /// Places an order.
    #[serde(rename = "order.place")]
    Place(Place),
    /// Cancels an order.
    #[serde(rename = "order.cancel")]
    Cancel(Cancel),
}

/// `session.logon`'s parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logon {
    /// The API key.
    #[serde(rename = "apiKey")]
    pub api_key: String,
    /// Milliseconds since the Unix epoch when the client signed.
    pub timestamp: u64,
    /// Hex HMAC-SHA256 of [`logon_payload`] keyed by the secret.
    pub signature: String,
    /// The sequence number of the first report to send again before answering (0: none, a
    /// fresh session).
    #[serde(rename = "resumeFrom", default, skip_serializing_if = "is_zero")]
    pub resume_from: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Logon {
    /// A logon for `api_key` at `timestamp_ms`, signed with `secret`.
    pub fn signed(api_key: &str, secret: &[u8], timestamp_ms: u64) -> Self {
        let mut mac = hmac(secret);
        mac.update(logon_payload(api_key, timestamp_ms).as_bytes());
        let signature = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        Self { api_key: api_key.to_owned(), timestamp: timestamp_ms, signature, resume_from: 0 }
    }

    /// The same logon, asking for the key's reports from sequence number `from` first (0: a
    /// fresh session).
    pub fn resuming_from(self, from: u64) -> Self {
        Self { resume_from: from, ..self }
    }

    /// Whether the signature is the HMAC of the payload under `secret` (compared in constant
    /// time).
    pub fn signature_is_valid(&self, secret: &[u8]) -> bool {
        let Some(signature) = hex(&self.signature) else { return false };
        let mut mac = hmac(secret);
        mac.update(logon_payload(&self.api_key, self.timestamp).as_bytes());
        mac.verify_slice(&signature).is_ok()
    }
}

fn hmac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length")
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// What a successful `session.logon` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogonResult {
    /// The key logged on.
    #[serde(rename = "apiKey")]
    pub api_key: String,
    /// When, in milliseconds since the Unix epoch.
    #[serde(rename = "authorizedSince")]
    pub authorized_since: u64,
    /// Whether the venue sent again, before this answer, the reports asked for by
    /// `resumeFrom`.
    pub resumed: bool,
    /// The sequence number of the key's next report (the first after this answer).
    #[serde(rename = "nextSequence")]
    pub next_sequence: u64,
}

/// What a logon signs: `apiKey=<key>&timestamp=<ms>`.
pub fn logon_payload(api_key: &str, timestamp_ms: u64) -> String {
    format!("apiKey={api_key}&timestamp={timestamp_ms}")
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderSide {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// Limit or market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderKind {
    /// Trades up to its price.
    Limit,
    /// Trades at any price; what is left expires.
    Market,
}

/// How long a limit order lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeInForce {
    /// Good till cancelled: what does not trade rests.
    #[serde(rename = "GTC")]
    GoodTillCancel,
    /// Immediate or cancel: what does not trade expires.
    #[serde(rename = "IOC")]
    ImmediateOrCancel,
}

/// `order.place`'s parameters. Price and quantity are decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// The symbol.
    pub symbol: String,
    /// Buy or sell.
    pub side: OrderSide,
    /// Limit or market.
    #[serde(rename = "type")]
    pub kind: OrderKind,
    /// Limit orders only (GTC if absent).
    #[serde(rename = "timeInForce", default, skip_serializing_if = "Option::is_none")]
    pub time_in_force: Option<TimeInForce>,
    /// The limit price (limit orders only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// The quantity.
    pub quantity: String,
    /// The client's id of the order, unique among its open orders.
    #[serde(rename = "newClientOrderId")]
    pub client_order_id: String,
}

/// `order.cancel`'s parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancel {
    /// The symbol.
    pub symbol: String,
    /// The client's id of the order to cancel.
    #[serde(rename = "origClientOrderId")]
    pub client_order_id: String,
}

/// Why a request failed: a code and a message, as Binance documents them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The error code (negative).
    pub code: i32,
    /// What was wrong.
    pub msg: String,
}

impl ApiError {
    /// The code of [`ApiError::resume_unavailable`].
    pub const RESUME_UNAVAILABLE: i32 = -1130;

    /// Code -1002: the session has not logged on.
    pub fn unauthorized() -> Self {
        Self { code: -1002, msg: "You are not authorized to execute this request.".into() }
    }
    /// Code -1021: the timestamp is outside the window or not newer than the last logon's.
    pub fn timestamp(detail: &str) -> Self {
        Self { code: -1021, msg: format!("Timestamp for this request {detail}.") }
    }
    /// Code -1022: the signature does not match.
    pub fn bad_signature() -> Self {
        Self { code: -1022, msg: "Signature for this request is not valid.".into() }
    }
    /// Code -2015: the API key is unknown.
    pub fn unknown_key() -> Self {
        Self { code: -2015, msg: "Invalid API-key, IP, or permissions for action.".into() }
    }
    /// Code -1121: the symbol is not traded.
    pub fn unknown_symbol(symbol: &str) -> Self {
        Self { code: -1121, msg: format!("Invalid symbol {symbol:?}.") }
    }
    /// Code -1100: a parameter has an illegal value.
    pub fn illegal(parameter: &str, detail: &str) -> Self {
        Self { code: -1100, msg: format!("Illegal characters found in parameter '{parameter}': {detail}.") }
    }
    /// Code -1013: the order breaks a filter (tick, lot).
    pub fn filter(detail: &str) -> Self {
        Self { code: -1013, msg: format!("Filter failure: {detail}.") }
    }
    /// Code -2010: a new order was refused.
    pub fn order_rejected(detail: &str) -> Self {
        Self { code: -2010, msg: format!("Order rejected: {detail}.") }
    }
    /// Code -2011: a cancel was refused.
    pub fn cancel_rejected(detail: &str) -> Self {
        Self { code: -2011, msg: format!("Cancel rejected: {detail}.") }
    }
    /// Code -1130: a logon's `resumeFrom` asks for reports the venue no longer keeps (the
    /// oldest it keeps is `oldest`); logging on without it starts a fresh session.
    pub fn resume_unavailable(from: u64, oldest: u64) -> Self {
        Self {
            code: Self::RESUME_UNAVAILABLE,
            msg: format!(
                "Data sent for parameter 'resumeFrom' is not valid: report {from} is no longer kept \
                 (the oldest kept is {oldest}); log on without it for a fresh session."
            ),
        }
    }
    /// Code -1000: the request could not be read.
    pub fn malformed(detail: &str) -> Self {
        Self { code: -1000, msg: format!("Malformed request: {detail}.") }
    }
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The request's id (0 if the request could not be read).
    pub id: u64,
    /// An HTTP-like status: 200 done, 400 bad request, 401 unauthorized.
    pub status: u16,
    /// What the request returned, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Why it failed, otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl Response {
    /// A success carrying `result`.
    pub fn ok(id: u64, result: serde_json::Value) -> Self {
        Self { id, status: 200, result: Some(result), error: None }
    }

    /// A failure: status 401 for authentication errors, 400 otherwise.
    pub fn error(id: u64, error: ApiError) -> Self {
        let status = if matches!(error.code, -1002 | -1021 | -1022 | -2015) { 401 } else { 400 };
        Self { id, status, result: None, error: Some(error) }
    }
}

/// What happened to an order (`x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExecutionType {
    /// Accepted by the venue.
    New,
    /// Traded (partly or fully).
    Trade,
    /// Cancelled at the client's request (or when its session ended).
    Canceled,
    /// What an IOC or market order could not trade at once.
    Expired,
}

/// Where an order stands (`X`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Open, nothing traded.
    New,
    /// Open, partly traded.
    PartiallyFilled,
    /// Fully traded.
    Filled,
    /// Cancelled.
    Canceled,
    /// Expired.
    Expired,
}

/// An order event, sent unasked on the order channel. Prices and quantities are in units of
/// 1e-9 (decimal strings on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename = "executionReport")]
pub struct ExecutionReport {
    /// Event time, milliseconds since the Unix epoch.
    #[serde(rename = "E")]
    pub event_time_ms: u64,
    /// The symbol.
    #[serde(rename = "s")]
    pub symbol: String,
    /// The client's order id.
    #[serde(rename = "c")]
    pub client_order_id: String,
    /// The venue's order id.
    #[serde(rename = "i")]
    pub order_id: u64,
    /// Buy or sell.
    #[serde(rename = "S")]
    pub side: OrderSide,
    /// What happened.
    #[serde(rename = "x")]
    pub execution: ExecutionType,
    /// Where the order stands now.
    #[serde(rename = "X")]
    pub status: OrderStatus,
    /// The order's quantity.
    #[serde(rename = "q", with = "decimal_string")]
    pub quantity: i64,
    /// Quantity of this trade (0 unless a trade).
    #[serde(rename = "l", with = "decimal_string")]
    pub last_quantity: i64,
    /// Price of this trade (0 unless a trade).
    #[serde(rename = "L", with = "decimal_string")]
    pub last_price: i64,
    /// Quantity traded so far.
    #[serde(rename = "z", with = "decimal_string")]
    pub cumulative_quantity: i64,
    /// The trade's id (0 unless a trade).
    #[serde(rename = "t")]
    pub trade_id: u64,
    /// The report's number among its API key's reports, from 1 (see the module's recovery).
    #[serde(rename = "u")]
    pub sequence: u64,
}

/// Decimal strings in units of 1e-9, for serde.
mod decimal_string {
    use crate::decimal::{format_decimal, parse_decimal};
    use crate::depth_json::DECIMALS;

    pub fn serialize<S: serde::Serializer>(value: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_decimal(*value, DECIMALS))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(deserializer)?;
        parse_decimal(text.as_bytes(), DECIMALS)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a decimal")))
    }
}

/// A message the venue sends on the order channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderChannelMessage {
    /// An order event.
    Execution(ExecutionReport),
    /// The answer to a request.
    Response(Response),
}

fn malformed(error: serde_json::Error) -> DecodeError {
    DecodeError::Malformed { protocol: PROTOCOL, detail: error.to_string() }
}

impl Request {
    /// Decodes a request.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(bytes).map_err(malformed)
    }

    /// Encodes the request as JSON.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("these types always serialise")
    }
}

impl Response {
    /// Decodes an answer.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(bytes).map_err(malformed)
    }

    /// Encodes the answer as JSON.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("these types always serialise")
    }
}

impl LogonResult {
    /// Reads the result of a logon's answer.
    pub fn decode(result: serde_json::Value) -> Result<Self, DecodeError> {
        serde_json::from_value(result).map_err(malformed)
    }
}

impl OrderChannelMessage {
    /// Decodes a message of the order channel.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        serde_json::from_slice(bytes).map_err(malformed)
    }

    /// Encodes the message as JSON.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("these types always serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_read_as_the_documented_json() {
        let text =
            br#"{"id":4,"method":"order.place","params":{"symbol":"BTCUSD","side":"BUY","type":"LIMIT",
            "timeInForce":"GTC","price":"64000.5","quantity":"2","newClientOrderId":"c-1"}}"#;
        let request = Request::decode(text).unwrap();
        assert_eq!(
            request,
            Request {
                id: 4,
                call: Call::Place(Place {
                    symbol: "BTCUSD".into(),
                    side: OrderSide::Buy,
                    kind: OrderKind::Limit,
                    time_in_force: Some(TimeInForce::GoodTillCancel),
                    price: Some("64000.5".into()),
                    quantity: "2".into(),
                    client_order_id: "c-1".into(),
                })
            }
        );
        assert_eq!(Request::decode(request.encode().as_bytes()).unwrap(), request);
        let subscribe = Request::decode(br#"{"id":1,"method":"SUBSCRIBE","params":["X@depth"]}"#).unwrap();
        assert_eq!(subscribe.call, Call::Subscribe(vec!["X@depth".into()]));
        let err = Request::decode(br#"{"id":1,"method":"order.amend","params":{}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `order.amend`"), "{err}");
        assert!(Request::decode(b"{\"id\":1}").is_err());
    }

    #[test]
    fn the_logon_signature_is_hmac_sha256_of_the_payload() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = hmac(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        let digest: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

        let logon = Logon::signed("key-1", b"secret", 1_700_000_000_000);
        assert_eq!(logon.signature.len(), 64);
        assert!(logon.signature_is_valid(b"secret"));
        assert!(!logon.signature_is_valid(b"other secret"));
        let tampered = Logon { timestamp: logon.timestamp + 1, ..logon.clone() };
        assert!(!tampered.signature_is_valid(b"secret"), "the timestamp is signed");
        let garbage = Logon { signature: "zz".repeat(32), ..logon };
        assert!(!garbage.signature_is_valid(b"secret"));
    }

    #[test]
    fn order_channel_messages_are_reports_or_answers() {
        let report = ExecutionReport {
            event_time_ms: 5,
            symbol: "X".into(),
            client_order_id: "c".into(),
            order_id: 1 << 63 | 7,
            side: OrderSide::Sell,
            execution: ExecutionType::Trade,
            status: OrderStatus::PartiallyFilled,
            quantity: 3_000_000_000,
            last_quantity: 1_000_000_000,
            last_price: 64_000_500_000_000,
            cumulative_quantity: 1_000_000_000,
            trade_id: 9,
            sequence: 12,
        };
        let text = OrderChannelMessage::Execution(report.clone()).encode();
        assert!(text.starts_with(r#"{"e":"executionReport","E":5,"#), "{text}");
        assert!(text.ends_with(r#""t":9,"u":12}"#), "the report's sequence number is `u`: {text}");
        assert!(
            text.contains(r#""x":"TRADE","X":"PARTIALLY_FILLED","q":"3","l":"1","L":"64000.5""#),
            "{text}"
        );
        assert_eq!(
            OrderChannelMessage::decode(text.as_bytes()).unwrap(),
            OrderChannelMessage::Execution(report)
        );
        let error = Response::error(4, ApiError::bad_signature());
        assert_eq!(error.status, 401);
        let text = OrderChannelMessage::Response(error.clone()).encode();
        assert_eq!(
            text,
            r#"{"id":4,"status":401,"error":{"code":-1022,"msg":"Signature for this request is not valid."}}"#
        );
        assert_eq!(
            OrderChannelMessage::decode(text.as_bytes()).unwrap(),
            OrderChannelMessage::Response(error)
        );
    }

    #[test]
    fn a_logon_asks_to_resume_from_a_sequence_number_and_its_answer_says_whether_it_did() {
        let fresh = Logon::signed("k", b"s", 1_700_000_000_000);
        let text = Request { id: 3, call: Call::Logon(fresh.clone()) }.encode();
        assert!(!text.contains("resumeFrom"), "a fresh session says nothing of it: {text}");
        let resuming = fresh.clone().resuming_from(42);
        let text = Request { id: 3, call: Call::Logon(resuming.clone()) }.encode();
        assert!(text.ends_with(r#","resumeFrom":42}}"#), "{text}");
        assert_eq!(Request::decode(text.as_bytes()).unwrap().call, Call::Logon(resuming.clone()));
        assert!(resuming.signature_is_valid(b"s"), "the signature is the same with or without it");
        let documented = br#"{"id":3,"method":"session.logon","params":{"apiKey":"k",
            "timestamp":1700000000000,"signature":"ab","resumeFrom":42}}"#;
        let Call::Logon(logon) = Request::decode(documented).unwrap().call else { panic!("a logon") };
        assert_eq!(logon.resume_from, 42);

        let result = LogonResult {
            api_key: "k".into(),
            authorized_since: 1_700_000_000_001,
            resumed: true,
            next_sequence: 57,
        };
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"apiKey":"k","authorizedSince":1_700_000_000_001_u64,"resumed":true,"nextSequence":57})
        );
        assert_eq!(LogonResult::decode(value).unwrap(), result);
        assert!(LogonResult::decode(serde_json::json!({"apiKey":"k"})).is_err());
        let refused = Response::error(3, ApiError::resume_unavailable(42, 100));
        assert_eq!((refused.status, refused.error.as_ref().unwrap().code), (400, -1130));
        assert!(refused.error.unwrap().msg.contains("'resumeFrom'"));
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Request::decode(&bytes);
            let _ = OrderChannelMessage::decode(&bytes);
        }

        #[test]
        fn requests_round_trip(id in any::<u64>(), symbol in "[A-Z]{1,8}", client in "[a-z0-9-]{1,20}", ioc in any::<bool>()) {
            let place = Request { id, call: Call::Place(Place {
                symbol: symbol.clone(), side: OrderSide::Sell, kind: OrderKind::Limit,
                time_in_force: Some(if ioc { TimeInForce::ImmediateOrCancel } else { TimeInForce::GoodTillCancel }),
                price: Some("1.25".into()), quantity: "7".into(), client_order_id: client.clone(),
            })};
            prop_assert_eq!(Request::decode(place.encode().as_bytes()).unwrap(), place);
            let cancel = Request { id, call: Call::Cancel(Cancel { symbol, client_order_id: client }) };
            prop_assert_eq!(Request::decode(cancel.encode().as_bytes()).unwrap(), cancel);
        }
    }
}
