//! FIX 4.4 tag=value framing, both directions.
//!
//! A message is `8=FIX.4.4<SOH>9=<body length><SOH>` then the body (`35=<type><SOH>` first, then
//! any fields) and `10=<checksum><SOH>`, where the body length counts the bytes from `35=` up to
//! and including the SOH before `10=`, and the checksum is the sum of every byte before `10=`,
//! modulo 256, as three digits. This module frames and checks messages; what the fields mean
//! (session, market data, orders) is the business of the venue and the gateway. Values are
//! text: non-empty and free of SOH (tickrail uses none of FIX's length-prefixed data fields).

use crate::decimal::{parse_decimal, write_decimal, write_unsigned};
use crate::utc::write_utc_timestamp;
use crate::DecodeError;

pub(crate) const PROTOCOL: &str = "FIX 4.4";

/// The field separator.
pub const SOH: u8 = 0x01;

/// `8=FIX.4.4<SOH>`: every message starts with it.
pub const BEGIN_STRING: &[u8] = b"8=FIX.4.4\x01";

/// The tags tickrail uses, named as in the FIX 4.4 specification.
pub mod tag {
    /// AvgPx.
    pub const AVG_PX: u32 = 6;
    /// BeginSeqNo.
    pub const BEGIN_SEQ_NO: u32 = 7;
    /// BeginString.
    pub const BEGIN_STRING: u32 = 8;
    /// BodyLength.
    pub const BODY_LENGTH: u32 = 9;
    /// CheckSum.
    pub const CHECK_SUM: u32 = 10;
    /// ClOrdID.
    pub const CL_ORD_ID: u32 = 11;
    /// CumQty.
    pub const CUM_QTY: u32 = 14;
    /// EndSeqNo.
    pub const END_SEQ_NO: u32 = 16;
    /// ExecID.
    pub const EXEC_ID: u32 = 17;
    /// LastPx.
    pub const LAST_PX: u32 = 31;
    /// LastQty.
    pub const LAST_QTY: u32 = 32;
    /// MsgSeqNum.
    pub const MSG_SEQ_NUM: u32 = 34;
    /// MsgType.
    pub const MSG_TYPE: u32 = 35;
    /// NewSeqNo.
    pub const NEW_SEQ_NO: u32 = 36;
    /// OrderID.
    pub const ORDER_ID: u32 = 37;
    /// OrderQty.
    pub const ORDER_QTY: u32 = 38;
    /// OrdStatus.
    pub const ORD_STATUS: u32 = 39;
    /// OrdType.
    pub const ORD_TYPE: u32 = 40;
    /// OrigClOrdID.
    pub const ORIG_CL_ORD_ID: u32 = 41;
    /// PossDupFlag.
    pub const POSS_DUP_FLAG: u32 = 43;
    /// Price.
    pub const PRICE: u32 = 44;
    /// RefSeqNum.
    pub const REF_SEQ_NUM: u32 = 45;
    /// SenderCompID.
    pub const SENDER_COMP_ID: u32 = 49;
    /// SendingTime.
    pub const SENDING_TIME: u32 = 52;
    /// Side.
    pub const SIDE: u32 = 54;
    /// Symbol.
    pub const SYMBOL: u32 = 55;
    /// TargetCompID.
    pub const TARGET_COMP_ID: u32 = 56;
    /// Text.
    pub const TEXT: u32 = 58;
    /// TimeInForce.
    pub const TIME_IN_FORCE: u32 = 59;
    /// TransactTime.
    pub const TRANSACT_TIME: u32 = 60;
    /// EncryptMethod.
    pub const ENCRYPT_METHOD: u32 = 98;
    /// CxlRejReason.
    pub const CXL_REJ_REASON: u32 = 102;
    /// OrdRejReason.
    pub const ORD_REJ_REASON: u32 = 103;
    /// HeartBtInt.
    pub const HEART_BT_INT: u32 = 108;
    /// TestReqID.
    pub const TEST_REQ_ID: u32 = 112;
    /// OrigSendingTime.
    pub const ORIG_SENDING_TIME: u32 = 122;
    /// GapFillFlag.
    pub const GAP_FILL_FLAG: u32 = 123;
    /// ResetSeqNumFlag.
    pub const RESET_SEQ_NUM_FLAG: u32 = 141;
    /// NoRelatedSym.
    pub const NO_RELATED_SYM: u32 = 146;
    /// ExecType.
    pub const EXEC_TYPE: u32 = 150;
    /// LeavesQty.
    pub const LEAVES_QTY: u32 = 151;
    /// MDReqID.
    pub const MD_REQ_ID: u32 = 262;
    /// SubscriptionRequestType.
    pub const SUBSCRIPTION_REQUEST_TYPE: u32 = 263;
    /// MarketDepth.
    pub const MARKET_DEPTH: u32 = 264;
    /// MDUpdateType.
    pub const MD_UPDATE_TYPE: u32 = 265;
    /// NoMDEntryTypes.
    pub const NO_MD_ENTRY_TYPES: u32 = 267;
    /// NoMDEntries.
    pub const NO_MD_ENTRIES: u32 = 268;
    /// MDEntryType.
    pub const MD_ENTRY_TYPE: u32 = 269;
    /// MDEntryPx.
    pub const MD_ENTRY_PX: u32 = 270;
    /// MDEntrySize.
    pub const MD_ENTRY_SIZE: u32 = 271;
    /// MDUpdateAction.
    pub const MD_UPDATE_ACTION: u32 = 279;
    /// MDReqRejReason.
    pub const MD_REQ_REJ_REASON: u32 = 281;
    /// SessionRejectReason.
    pub const SESSION_REJECT_REASON: u32 = 373;
    /// CxlRejResponseTo.
    pub const CXL_REJ_RESPONSE_TO: u32 = 434;
}

/// Builds one message at a time into a reusable buffer.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    buf: Vec<u8>,
    body_start: usize,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a message of type `msg_type` (`A`, `D`, `8`, ...).
    pub fn begin(&mut self, msg_type: &str) -> &mut Self {
        self.buf.clear();
        self.buf.extend_from_slice(BEGIN_STRING);
        // BodyLength is written when the body is known; keep room for "9=" and 6 digits.
        self.buf.extend_from_slice(b"9=000000\x01");
        self.body_start = self.buf.len();
        self.field(tag::MSG_TYPE, msg_type.as_bytes())
    }

    /// Appends a field. Values must be non-empty and must not contain SOH.
    pub fn field(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        debug_assert!(!value.is_empty() && !value.contains(&SOH), "a FIX value is non-empty and has no SOH");
        self.tag(tag);
        self.buf.extend_from_slice(value);
        self.buf.push(SOH);
        self
    }

    fn tag(&mut self, tag: u32) {
        write_unsigned(&mut self.buf, u64::from(tag));
        self.buf.push(b'=');
    }

    /// Appends a string field.
    pub fn str(&mut self, tag: u32, value: &str) -> &mut Self {
        self.field(tag, value.as_bytes())
    }

    /// Appends a one-character field (a code such as Side or MsgType).
    pub fn char(&mut self, tag: u32, code: u8) -> &mut Self {
        self.field(tag, &[code])
    }

    /// Appends an integer field.
    pub fn int(&mut self, tag: u32, value: i64) -> &mut Self {
        self.tag(tag);
        if value < 0 {
            self.buf.push(b'-');
        }
        write_unsigned(&mut self.buf, value.unsigned_abs());
        self.buf.push(SOH);
        self
    }

    /// Appends a fixed-point decimal: `value` in units of 10^-`decimals`, written with its
    /// trailing zeros trimmed (`1895000, 4` is `189.5`).
    pub fn decimal(&mut self, tag: u32, value: i64, decimals: u32) -> &mut Self {
        self.tag(tag);
        write_decimal(&mut self.buf, value, decimals);
        self.buf.push(SOH);
        self
    }

    /// Appends a UTCTimestamp of `ns` since the Unix epoch, at millisecond precision.
    pub fn timestamp(&mut self, tag: u32, ns: u64) -> &mut Self {
        self.tag(tag);
        write_utc_timestamp(&mut self.buf, ns);
        self.buf.push(SOH);
        self
    }

    /// The bytes written so far: the whole message once [`Writer::finish`] has run.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Writes BodyLength and CheckSum and returns the finished message. Nothing is allocated
    /// once the writer's buffer has grown to the largest message.
    pub fn finish(&mut self) -> &[u8] {
        let body_len = self.buf.len() - self.body_start;
        let mut length = [0u8; 20];
        let mut at = length.len();
        let mut n = body_len;
        loop {
            at -= 1;
            length[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let digits = &length[at..];
        // The placeholder is "9=000000<SOH>": write the real digits and close the room left.
        let digits_start = BEGIN_STRING.len() + 2;
        let room = self.body_start - 1 - digits_start;
        if digits.len() <= room {
            let shift = room - digits.len();
            self.buf[digits_start..digits_start + digits.len()].copy_from_slice(digits);
            self.buf[digits_start + digits.len()] = SOH;
            self.buf.copy_within(self.body_start.., self.body_start - shift);
            self.buf.truncate(self.buf.len() - shift);
        } else {
            self.buf.splice(digits_start..digits_start + room, digits.iter().copied());
        }
        let sum = self.buf.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        self.buf.extend_from_slice(b"10=");
        self.buf.extend_from_slice(&[b'0' + sum / 100, b'0' + sum / 10 % 10, b'0' + sum % 10]);
        self.buf.push(SOH);
        &self.buf
    }
}

/// One decoded message: its fields in order, borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    fields: Vec<Field<'a>>,
}

impl<'a> Message<'a> {
    /// The message type (tag 35).
    pub fn msg_type(&self) -> &'a [u8] {
        self.fields[2].1
    }

    /// Every field, in order, from BeginString to CheckSum.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }

    /// The first value of `tag`.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.fields.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v)
    }

    /// The first value of `tag` as text.
    pub fn str(&self, tag: u32) -> Option<&'a str> {
        std::str::from_utf8(self.get(tag)?).ok()
    }

    /// The first value of `tag` as an integer.
    pub fn int(&self, tag: u32) -> Option<i64> {
        self.str(tag)?.parse().ok()
    }

    /// The first value of `tag` as a decimal in units of 10^-`decimals`.
    pub fn decimal(&self, tag: u32, decimals: u32) -> Option<i64> {
        parse_decimal(self.get(tag)?, decimals)
    }
}

fn malformed(detail: impl Into<String>) -> DecodeError {
    DecodeError::Malformed { protocol: PROTOCOL, detail: detail.into() }
}

/// A field: its tag and its value.
type Field<'a> = (u32, &'a [u8]);

/// Splits `tag=value<SOH>` at the start of `bytes`; returns the field and the bytes after it,
/// or `None` if the field does not end yet.
fn split_field(bytes: &[u8]) -> Result<Option<(Field<'_>, &[u8])>, DecodeError> {
    let Some(end) = bytes.iter().position(|&b| b == SOH) else {
        return Ok(None);
    };
    let field = &bytes[..end];
    let eq = field.iter().position(|&b| b == b'=').ok_or_else(|| malformed("a field without '='"))?;
    let tag_text = &field[..eq];
    if tag_text.is_empty() || tag_text.len() > 9 || !tag_text.iter().all(u8::is_ascii_digit) {
        return Err(malformed(format!("tag {:?} is not a number", String::from_utf8_lossy(tag_text))));
    }
    let tag = tag_text.iter().fold(0u32, |t, &d| t * 10 + u32::from(d - b'0'));
    let value = &field[eq + 1..];
    if value.is_empty() {
        return Err(malformed(format!("tag {tag} has an empty value")));
    }
    Ok(Some(((tag, value), &bytes[end + 1..])))
}

/// A framed message: BeginString, BodyLength, CheckSum and the syntax of every field checked,
/// borrowed from the input. Reading its fields allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    bytes: &'a [u8],
    length_text: &'a [u8],
    msg_type: &'a [u8],
    /// The body's fields after MsgType.
    rest: &'a [u8],
    checksum_text: &'a [u8],
}

impl<'a> Frame<'a> {
    /// The whole message, from `8=` to the SOH after the checksum.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The message type (tag 35).
    pub fn msg_type(&self) -> &'a [u8] {
        self.msg_type
    }

    /// The body's fields after MsgType, in order (the checksum excluded).
    pub fn fields(&self) -> Fields<'a> {
        Fields { rest: self.rest }
    }

    /// The first value of `tag` after MsgType.
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        self.fields().find(|(t, _)| *t == tag).map(|(_, v)| v)
    }
}

/// The fields of a [`Frame`], in order.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    /// The fields in `bytes`, which a [`frame`] has checked.
    pub(crate) fn checked(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The bytes of the fields not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u32, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The frame checked every field's syntax, so a field that does not split ends the
        // iteration only on bytes that never came from a frame.
        let (field, rest) = split_field(self.rest).ok()??;
        self.rest = rest;
        Some(field)
    }
}

/// Cuts the message at the start of `bytes` (a TCP stream buffer) without allocating. Returns
/// `Ok(None)` while the message is incomplete, or the frame and how many bytes it took.
/// Framing, BodyLength, CheckSum and field syntax are checked; a malformed message is an error
/// (the stream cannot be trusted past it).
pub fn frame(bytes: &[u8]) -> Result<Option<(Frame<'_>, usize)>, DecodeError> {
    let prefix = bytes.len().min(BEGIN_STRING.len());
    if bytes[..prefix] != BEGIN_STRING[..prefix] {
        return Err(malformed("a message must start with 8=FIX.4.4"));
    }
    if bytes.len() < BEGIN_STRING.len() {
        return Ok(None);
    }
    let after_begin = &bytes[BEGIN_STRING.len()..];
    let Some(((tag, length_text), body)) = split_field(after_begin)? else {
        if after_begin.len() > 12 {
            return Err(malformed("BodyLength (9) does not end"));
        }
        return Ok(None);
    };
    if tag != tag::BODY_LENGTH {
        return Err(malformed(format!("the second field is {tag}, not BodyLength (9)")));
    }
    let body_len: usize = std::str::from_utf8(length_text)
        .ok()
        .and_then(|t| t.parse().ok())
        .filter(|&n: &usize| n > 0 && n < 1 << 20)
        .ok_or_else(|| {
            malformed(format!("BodyLength {:?} is not a length", String::from_utf8_lossy(length_text)))
        })?;
    let body_start = bytes.len() - body.len();
    // The trailer is "10=ddd<SOH>": 7 bytes.
    if body.len() < body_len + 7 {
        return Ok(None);
    }
    let trailer = &body[body_len..body_len + 7];
    if &trailer[..3] != b"10=" || trailer[6] != SOH || !trailer[3..6].iter().all(u8::is_ascii_digit) {
        return Err(malformed(format!("no CheckSum (10) after a body of {body_len} bytes")));
    }
    let declared = trailer[3..6].iter().fold(0u32, |s, &d| s * 10 + u32::from(d - b'0'));
    let sum = bytes[..body_start + body_len].iter().fold(0u8, |s, &b| s.wrapping_add(b));
    if declared != u32::from(sum) {
        return Err(DecodeError::InvalidField {
            protocol: PROTOCOL,
            msg_type: '?',
            field: "CheckSum (10)",
            value: format!("{declared:03}, the bytes sum to {sum:03}"),
        });
    }
    let body = &body[..body_len];
    let mut rest = body;
    let mut msg_type = None;
    while !rest.is_empty() {
        let Some(((tag, value), after)) = split_field(rest)? else {
            return Err(malformed("the body's last field does not end with SOH"));
        };
        if msg_type.is_none() {
            if tag != tag::MSG_TYPE {
                return Err(malformed("the body does not start with MsgType (35)"));
            }
            msg_type = Some((value, after));
        }
        rest = after;
    }
    let (msg_type, rest) = msg_type.ok_or_else(|| malformed("the body does not start with MsgType (35)"))?;
    let used = body_start + body_len + 7;
    let frame = Frame { bytes: &bytes[..used], length_text, msg_type, rest, checksum_text: &trailer[3..6] };
    Ok(Some((frame, used)))
}

/// Decodes the message at the start of `bytes` into a list of its fields (see [`frame`], which
/// reads the same message without allocating).
pub fn decode(bytes: &[u8]) -> Result<Option<(Message<'_>, usize)>, DecodeError> {
    let Some((frame, used)) = frame(bytes)? else {
        return Ok(None);
    };
    let mut fields = vec![
        (tag::BEGIN_STRING, &b"FIX.4.4"[..]),
        (tag::BODY_LENGTH, frame.length_text),
        (tag::MSG_TYPE, frame.msg_type),
    ];
    fields.extend(frame.fields());
    fields.push((tag::CHECK_SUM, frame.checksum_text));
    Ok(Some((Message { fields }, used)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn heartbeat() -> Vec<u8> {
        let mut w = Writer::new();
        w.begin("0")
            .str(tag::SENDER_COMP_ID, "VENUE")
            .str(tag::TARGET_COMP_ID, "CLIENT")
            .int(tag::MSG_SEQ_NUM, 2);
        w.finish().to_vec()
    }

    #[test]
    fn a_message_has_the_specified_length_and_checksum() {
        let bytes = heartbeat();
        let text = String::from_utf8(bytes.clone()).unwrap().replace('\x01', "|");
        let body = "35=0|49=VENUE|56=CLIENT|34=2|";
        assert!(text.starts_with(&format!("8=FIX.4.4|9={}|{body}10=", body.len())), "{text}");
        let before_checksum = &bytes[..bytes.len() - 7];
        let sum = before_checksum.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
        assert!(text.ends_with(&format!("10={sum:03}|")));
        let (message, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(message.msg_type(), b"0");
        assert_eq!(
            (message.str(tag::SENDER_COMP_ID), message.int(tag::MSG_SEQ_NUM)),
            (Some("VENUE"), Some(2))
        );
    }

    #[test]
    fn a_stream_is_cut_into_messages_and_waits_for_the_rest() {
        let one = heartbeat();
        let mut stream = one.clone();
        stream.extend_from_slice(&one);
        let (_, used) = decode(&stream).unwrap().unwrap();
        assert_eq!(used, one.len());
        for cut in 0..one.len() {
            assert_eq!(decode(&one[..cut]).unwrap(), None, "a prefix of {cut} bytes is incomplete");
        }
    }

    #[test]
    fn malformed_messages_are_refused_with_the_reason() {
        let good = heartbeat();
        let mut bad_sum = good.clone();
        let n = bad_sum.len();
        bad_sum[n - 2] = if bad_sum[n - 2] == b'9' { b'0' } else { bad_sum[n - 2] + 1 };
        assert!(decode(&bad_sum).unwrap_err().to_string().contains("CheckSum (10)"));
        assert!(decode(b"8=FIX.4.2\x019=5\x01").unwrap_err().to_string().contains("8=FIX.4.4"));
        assert!(decode(b"8=FIX.4.4\x019=x\x0135=0\x0110=000\x01")
            .unwrap_err()
            .to_string()
            .contains("BodyLength"));
        assert!(decode(b"8=FIX.4.4\x0135=0\x01").unwrap_err().to_string().contains("not BodyLength"));
        let mut wrong_length = good.clone();
        wrong_length[BEGIN_STRING.len() + 2] = b'9';
        assert!(!matches!(decode(&wrong_length), Ok(Some(_))), "a wrong BodyLength never yields a message");
    }

    /// Frames `body` with BeginString, BodyLength and CheckSum, whatever it holds.
    fn frame(body: &[u8]) -> Vec<u8> {
        let mut bytes = format!("8=FIX.4.4\x019={}\x01", body.len()).into_bytes();
        bytes.extend_from_slice(body);
        let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        bytes.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        bytes
    }

    #[test]
    fn an_empty_value_or_a_missing_msg_type_is_malformed() {
        let err = decode(&frame(b"35=0\x0149=\x01")).unwrap_err();
        assert!(err.to_string().contains("tag 49 has an empty value"), "{err}");
        let err = decode(&frame(b"49=VENUE\x0135=0\x01")).unwrap_err();
        assert!(err.to_string().contains("does not start with MsgType (35)"), "{err}");
        assert!(decode(&frame(b"35=0\x01")).unwrap().is_some());
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            msg_type in "[0-9A-Za-z]{1,2}",
            fields in proptest::collection::vec((11u32..100_000, "[ -~]{1,20}"), 0..20),
        ) {
            let mut w = Writer::new();
            w.begin(&msg_type);
            for (tag, value) in &fields {
                w.str(*tag, value);
            }
            let bytes = w.finish().to_vec();
            let (message, used) = decode(&bytes).unwrap().unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(message.msg_type(), msg_type.as_bytes());
            let body: Vec<(u32, Vec<u8>)> =
                message.fields()[3..message.fields().len() - 1].iter().map(|(t, v)| (*t, v.to_vec())).collect();
            let want: Vec<(u32, Vec<u8>)> = fields.iter().map(|(t, v)| (*t, v.as_bytes().to_vec())).collect();
            prop_assert_eq!(body, want);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn decoding_corrupted_messages_never_panics(flip in 0usize..60, byte in any::<u8>()) {
            let mut bytes = heartbeat();
            let at = flip % bytes.len();
            bytes[at] = byte;
            let _ = decode(&bytes);
        }
    }
}
