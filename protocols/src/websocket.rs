//! WebSocket (RFC 6455) without I/O: the HTTP/1.1 Upgrade handshake as text in and out, frames
//! encoded into and decoded from byte buffers.
//!
//! Frames a client sends are masked and frames a server sends are not (RFC 6455 §5.1); a frame
//! that breaks that rule, sets a reserved bit, uses an undefined opcode, fragments a control
//! frame or is larger than the reader's limit is refused with a [`FrameError`] naming the fault.
//! No extension (such as permessage-deflate) is negotiated, so every reserved bit must be clear.
//!
//! [`crate::ws_stream`] runs these over a socket.

use std::ops::Range;

/// The GUID a server appends to the client's key to prove it speaks WebSocket (§1.3).
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The longest handshake request or response we read, in bytes.
pub const MAX_HANDSHAKE_LEN: usize = 8 * 1024;

/// The longest frame header: 2 bytes, an 8-byte length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// Which end of the connection we are: it decides which frames are masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The end that opened the connection; it masks what it sends.
    Client,
    /// The end that accepted it; it never masks.
    Server,
}

/// A frame's opcode (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// The next fragment of a message.
    Continuation = 0x0,
    /// UTF-8 text.
    Text = 0x1,
    /// Binary data.
    Binary = 0x2,
    /// The closing handshake.
    Close = 0x8,
    /// A ping; the peer answers with a pong carrying the same payload.
    Ping = 0x9,
    /// A pong.
    Pong = 0xA,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// Whether this is a control frame (close, ping, pong), which is never fragmented and
    /// carries at most 125 bytes.
    pub fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }
}

/// Status codes of a close frame (§7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// The purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// The endpoint is going away (server shutting down, client leaving).
    pub const GOING_AWAY: Self = Self(1001);
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// The peer sent a kind of data the endpoint does not take (binary to a text-only API).
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// A text message that is not UTF-8, or data inconsistent with its type.
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// A message violating the endpoint's policy (an unauthenticated order, say).
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// A message too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// The server met a condition it cannot handle.
    pub const INTERNAL_ERROR: Self = Self(1011);

    /// Whether a close frame may carry this code (§7.4): the defined codes and the ranges
    /// reserved for libraries (3000-3999) and applications (4000-4999).
    pub fn is_valid(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1011 | 3000..=4999)
    }
}

/// Why bytes are not a frame we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A reserved bit is set, but no extension was negotiated.
    #[error("WebSocket: reserved bits {0:#x} set without an extension")]
    ReservedBits(u8),
    /// An opcode RFC 6455 does not define.
    #[error("WebSocket: undefined opcode {0:#x}")]
    UnknownOpcode(u8),
    /// A close, ping or pong frame that is fragmented or longer than 125 bytes.
    #[error("WebSocket: control frame {opcode:?} is not allowed (fin {fin}, {len} bytes)")]
    BadControlFrame {
        /// The opcode.
        opcode: Opcode,
        /// Its FIN bit.
        fin: bool,
        /// Its payload length.
        len: u64,
    },
    /// A client frame without a mask, or a server frame with one.
    #[error("WebSocket: a frame from the {from:?} must {} masked", if *.from == Role::Client { "be" } else { "not be" })]
    Masking {
        /// Who sent the frame.
        from: Role,
    },
    /// A 64-bit length with its most significant bit set.
    #[error("WebSocket: payload length {0:#x} has its most significant bit set")]
    BadLength(u64),
    /// A frame larger than the reader takes.
    #[error("WebSocket: frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The frame's payload length.
        len: u64,
        /// The reader's limit.
        max: usize,
    },
    /// A close frame whose payload is one byte, has an invalid code or a reason that is not UTF-8.
    #[error("WebSocket: invalid close frame: {0}")]
    BadClose(&'static str),
}

/// A decoded frame's header and where its payload sits in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameHead {
    /// Whether this is the last fragment of its message.
    pub fin: bool,
    /// The opcode.
    pub opcode: Opcode,
    /// The payload's bytes in the buffer given to [`decode_frame`] (already unmasked); the frame
    /// ends where the payload ends.
    pub payload: Range<usize>,
}

/// Appends one frame to `out`. `mask` is the client's masking key (`None` for a server).
pub fn encode_frame(out: &mut Vec<u8>, fin: bool, opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>) {
    out.push(u8::from(fin) << 7 | opcode as u8);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        len @ 0..=125 => out.push(mask_bit | len as u8),
        len @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        None => out.extend_from_slice(payload),
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
    }
}

/// Decodes the frame at the start of `buf` sent by `from`, unmasking its payload in place.
/// `Ok(None)` means `buf` does not hold the whole frame yet; nothing is consumed.
pub fn decode_frame(buf: &mut [u8], from: Role, max_payload: usize) -> Result<Option<FrameHead>, FrameError> {
    let [first, second, ..] = *buf else { return Ok(None) };
    let reserved = first & 0x70;
    if reserved != 0 {
        return Err(FrameError::ReservedBits(reserved >> 4));
    }
    let fin = first & 0x80 != 0;
    let opcode = Opcode::from_bits(first & 0x0F).ok_or(FrameError::UnknownOpcode(first & 0x0F))?;
    let masked = second & 0x80 != 0;
    if masked != (from == Role::Client) {
        return Err(FrameError::Masking { from });
    }
    let (len, mut at) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(bytes) => (u64::from_be_bytes(bytes.try_into().expect("8 bytes")), 10),
            None => return Ok(None),
        },
        len => (u64::from(len), 2),
    };
    if len >> 63 != 0 {
        return Err(FrameError::BadLength(len));
    }
    if opcode.is_control() && (!fin || len > 125) {
        return Err(FrameError::BadControlFrame { opcode, fin, len });
    }
    if len > max_payload as u64 {
        return Err(FrameError::TooLarge { len, max: max_payload });
    }
    let key = if masked {
        let Some(key) = buf.get(at..at + 4) else { return Ok(None) };
        let key: [u8; 4] = key.try_into().expect("4 bytes");
        at += 4;
        Some(key)
    } else {
        None
    };
    let payload = at..at + len as usize;
    let Some(bytes) = buf.get_mut(payload.clone()) else { return Ok(None) };
    if let Some(key) = key {
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b ^= key[i % 4]);
    }
    Ok(Some(FrameHead { fin, opcode, payload }))
}

/// A close frame's payload: an optional code and a reason.
pub fn close_payload(code: CloseCode, reason: &str) -> Vec<u8> {
    let mut payload = code.0.to_be_bytes().to_vec();
    // Control frames carry at most 125 bytes: cut the reason at a character boundary.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}

/// Reads a close frame's payload: its code (none if empty) and reason.
pub fn parse_close(payload: &[u8]) -> Result<Option<(CloseCode, &str)>, FrameError> {
    match payload {
        [] => Ok(None),
        [_] => Err(FrameError::BadClose("a one-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_valid() {
                return Err(FrameError::BadClose("a code that may not be sent"));
            }
            let reason =
                std::str::from_utf8(reason).map_err(|_| FrameError::BadClose("a reason not UTF-8"))?;
            Ok(Some((code, reason)))
        }
    }
}

/// Why an opening handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request or response head is longer than [`MAX_HANDSHAKE_LEN`].
    #[error("WebSocket handshake: head longer than {MAX_HANDSHAKE_LEN} bytes")]
    TooLong,
    /// The head is not HTTP/1.1 text.
    #[error("WebSocket handshake: malformed HTTP: {0}")]
    Malformed(String),
    /// A required header is missing or has the wrong value.
    #[error("WebSocket handshake: header {name} is {found:?}, expected {expected}")]
    Header {
        /// The header.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was (empty if absent).
        found: String,
    },
    /// The server answered with another status than 101 Switching Protocols.
    #[error("WebSocket handshake: server answered {0:?}")]
    Refused(String),
}

/// An HTTP head: its first line, its headers as (name, value) pairs, and its length with the
/// blank line ending it.
struct Head<'a> {
    start: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    len: usize,
}

/// The head at the start of `buf`; `Ok(None)` while the blank line ending it has not arrived.
fn head(buf: &[u8]) -> Result<Option<Head<'_>>, HandshakeError> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HANDSHAKE_LEN { Err(HandshakeError::TooLong) } else { Ok(None) };
    };
    if end > MAX_HANDSHAKE_LEN {
        return Err(HandshakeError::TooLong);
    }
    let text = std::str::from_utf8(&buf[..end])
        .map_err(|_| HandshakeError::Malformed("head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let start = lines.next().unwrap_or_default();
    let headers = lines
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| HandshakeError::Malformed(format!("header line {line:?} has no colon")))?;
            Ok((name.trim(), value.trim()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(Head { start, headers, len: end + 4 }))
}

fn header<'a>(headers: &[(&'a str, &'a str)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map_or("", |(_, v)| v)
}

fn require(
    headers: &[(&str, &str)],
    name: &'static str,
    expected: &'static str,
    ok: impl Fn(&str) -> bool,
) -> Result<(), HandshakeError> {
    let found = header(headers, name);
    if ok(found) {
        Ok(())
    } else {
        Err(HandshakeError::Header { name, expected, found: found.to_owned() })
    }
}

fn has_token(value: &str, token: &str) -> bool {
    value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// A client's opening request for `path` on `host` with the base64 of 16 random bytes as `key`.
pub fn client_request(host: &str, path: &str, key: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// A valid opening request: the path asked for and the client's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The request target, e.g. `/ws`.
    pub path: String,
    /// `Sec-WebSocket-Key`.
    pub key: String,
}

/// Reads a client's opening request from the start of `buf`: the request and the bytes it took,
/// or `Ok(None)` until it is complete.
pub fn parse_request(buf: &[u8]) -> Result<Option<(UpgradeRequest, usize)>, HandshakeError> {
    let Some(Head { start, headers, len }) = head(buf)? else { return Ok(None) };
    let path = match start.split(' ').collect::<Vec<_>>()[..] {
        ["GET", path, "HTTP/1.1"] => path,
        _ => {
            return Err(HandshakeError::Malformed(format!(
                "request line {start:?} is not GET <path> HTTP/1.1"
            )))
        }
    };
    require(&headers, "Upgrade", "websocket", |v| v.eq_ignore_ascii_case("websocket"))?;
    require(&headers, "Connection", "a list with Upgrade", |v| has_token(v, "upgrade"))?;
    require(&headers, "Sec-WebSocket-Version", "13", |v| v == "13")?;
    require(&headers, "Sec-WebSocket-Key", "the base64 of 16 bytes", |v| {
        v.len() == 24
            && v.ends_with("==")
            && v[..22].bytes().all(|b| b.is_ascii_alphanumeric() || b"+/".contains(&b))
    })?;
    Ok(Some((
        UpgradeRequest { path: path.to_owned(), key: header(&headers, "Sec-WebSocket-Key").to_owned() },
        len,
    )))
}

/// The server's answer accepting a request with `key`.
pub fn accept_response(key: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    )
}

/// The server's answer refusing a request it could not read.
pub fn reject_response(error: &HandshakeError) -> String {
    let body = error.to_string();
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Reads the server's answer to a request with `key` from the start of `buf`: the bytes it
/// took once it is complete and accepts the upgrade.
pub fn parse_response(buf: &[u8], key: &str) -> Result<Option<usize>, HandshakeError> {
    let Some(Head { start: status, headers, len }) = head(buf)? else { return Ok(None) };
    let mut words = status.splitn(3, ' ');
    if words.next() != Some("HTTP/1.1") || words.next() != Some("101") {
        return Err(HandshakeError::Refused(status.to_owned()));
    }
    require(&headers, "Upgrade", "websocket", |v| v.eq_ignore_ascii_case("websocket"))?;
    require(&headers, "Connection", "a list with Upgrade", |v| has_token(v, "upgrade"))?;
    let expected = accept_key(key);
    require(&headers, "Sec-WebSocket-Accept", "the key's SHA-1 and GUID in base64", |v| v == expected)?;
    Ok(Some(len))
}

/// `Sec-WebSocket-Accept` for `key`: base64 of the SHA-1 of the key followed by the GUID.
pub fn accept_key(key: &str) -> String {
    let mut sha1 = sha1_smol::Sha1::new();
    sha1.update(key.as_bytes());
    sha1.update(ACCEPT_GUID.as_bytes());
    base64(&sha1.digest().bytes())
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(group >> (18 - 6 * i) & 0x3F) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_accept_key_is_the_one_rfc_6455_gives_for_its_sample_key() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn a_request_is_read_once_complete_and_the_response_accepts_it() {
        let request = client_request("127.0.0.1:9", "/ws", "dGhlIHNhbXBsZSBub25jZQ==");
        let bytes = request.as_bytes();
        assert_eq!(parse_request(&bytes[..bytes.len() - 1]), Ok(None));
        let (parsed, len) = parse_request(bytes).unwrap().unwrap();
        assert_eq!(
            (parsed.path.as_str(), parsed.key.as_str(), len),
            ("/ws", "dGhlIHNhbXBsZSBub25jZQ==", bytes.len())
        );
        let response = accept_response(&parsed.key);
        assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert_eq!(parse_response(response.as_bytes(), &parsed.key), Ok(Some(response.len())));
    }

    #[test]
    fn bad_handshakes_name_what_is_wrong() {
        let request = client_request("h", "/", "dGhlIHNhbXBsZSBub25jZQ==");
        let err = |text: String| parse_request(text.as_bytes()).unwrap_err().to_string();
        assert!(err(request.replace("Version: 13", "Version: 8")).contains("Sec-WebSocket-Version is \"8\""));
        assert!(err(request.replace("Upgrade: websocket\r\n", "")).contains("Upgrade is \"\""));
        assert!(err(request.replace("GET", "POST")).contains("request line"));
        assert!(err(request.replace("dGhlIHNhbXBsZSBub25jZQ==", "short")).contains("Sec-WebSocket-Key"));
        assert_eq!(parse_request(&[b'a'; MAX_HANDSHAKE_LEN + 1]), Err(HandshakeError::TooLong));
        let wrong_accept = accept_response("c29tZSBvdGhlciBrZXkgISE=");
        assert!(matches!(
            parse_response(wrong_accept.as_bytes(), "dGhlIHNhbXBsZSBub25jZQ=="),
            Err(HandshakeError::Header { name: "Sec-WebSocket-Accept", .. })
        ));
        let refused = reject_response(&HandshakeError::TooLong);
        assert!(
            matches!(parse_response(refused.as_bytes(), "k"), Err(HandshakeError::Refused(s)) if s.contains("400"))
        );
    }

    #[test]
    fn frames_use_7_16_and_64_bit_lengths_as_the_rfc_lays_them_out() {
        let mut out = Vec::new();
        encode_frame(&mut out, true, Opcode::Text, b"Hello", None);
        assert_eq!(out, b"\x81\x05Hello", "RFC 6455 §5.7: a single-frame unmasked text message");
        out.clear();
        encode_frame(&mut out, true, Opcode::Text, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(out, b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", "RFC 6455 §5.7: the masked one");
        assert_eq!(
            decode_frame(&mut out, Role::Client, 125),
            Ok(Some(FrameHead { fin: true, opcode: Opcode::Text, payload: 6..11 }))
        );
        assert_eq!(&out[6..11], b"Hello", "unmasked in place");
        for (len, header) in [(256usize, &b"\x82\x7e\x01\x00"[..]), (65_536, b"\x82\x7f\0\0\0\0\0\x01\0\0")] {
            out.clear();
            encode_frame(&mut out, true, Opcode::Binary, &vec![7; len], None);
            assert_eq!(&out[..header.len()], header);
            let head = decode_frame(&mut out, Role::Server, len).unwrap().unwrap();
            assert_eq!(head.payload, header.len()..header.len() + len);
            assert_eq!(decode_frame(&mut out[..header.len() + len - 1], Role::Server, len), Ok(None));
        }
    }

    #[test]
    fn frames_that_break_the_rules_are_refused_with_the_reason() {
        let decode = |bytes: &[u8], from, max| decode_frame(&mut bytes.to_vec(), from, max);
        assert_eq!(decode(b"\xc1\x00", Role::Server, 9), Err(FrameError::ReservedBits(4)));
        assert_eq!(decode(b"\x83\x00", Role::Server, 9), Err(FrameError::UnknownOpcode(3)));
        assert_eq!(decode(b"\x81\x00", Role::Client, 9), Err(FrameError::Masking { from: Role::Client }));
        assert_eq!(decode(b"\x81\x80abcd", Role::Server, 9), Err(FrameError::Masking { from: Role::Server }));
        assert_eq!(
            decode(b"\x09\x00", Role::Server, 9),
            Err(FrameError::BadControlFrame { opcode: Opcode::Ping, fin: false, len: 0 })
        );
        assert_eq!(
            decode(b"\x88\x7e\x00\x7e", Role::Server, 999),
            Err(FrameError::BadControlFrame { opcode: Opcode::Close, fin: true, len: 126 })
        );
        assert_eq!(decode(b"\x82\x0a", Role::Server, 9), Err(FrameError::TooLarge { len: 10, max: 9 }));
        assert_eq!(
            decode(b"\x82\x7f\x80\0\0\0\0\0\0\0", Role::Server, 9),
            Err(FrameError::BadLength(1 << 63))
        );
        assert!(FrameError::Masking { from: Role::Client }.to_string().contains("must be masked"));
    }

    #[test]
    fn close_frames_carry_a_valid_code_and_a_utf8_reason() {
        let payload = close_payload(CloseCode::GOING_AWAY, "bye");
        assert_eq!(parse_close(&payload), Ok(Some((CloseCode::GOING_AWAY, "bye"))));
        assert_eq!(parse_close(&[]), Ok(None));
        assert_eq!(parse_close(&[3]), Err(FrameError::BadClose("a one-byte payload")));
        assert_eq!(
            parse_close(&1005u16.to_be_bytes()),
            Err(FrameError::BadClose("a code that may not be sent"))
        );
        assert_eq!(parse_close(b"\x03\xe8\xff"), Err(FrameError::BadClose("a reason not UTF-8")));
        assert_eq!(close_payload(CloseCode::NORMAL, &"é".repeat(100)).len(), 124, "cut at a character");
    }

    proptest! {
        #[test]
        fn frames_round_trip(
            mut payload in proptest::collection::vec(any::<u8>(), 0..300),
            padding in prop_oneof![Just(0usize), Just(200), Just(70_000)],
            fin in any::<bool>(), binary in any::<bool>(), mask in proptest::option::of(any::<[u8; 4]>()),
        ) {
            // Long payloads (16- and 64-bit lengths) without drawing 70,000 random bytes.
            payload.extend((0..padding).map(|i| i as u8));
            let opcode = if binary { Opcode::Binary } else { Opcode::Continuation };
            let mut out = vec![0xAA];
            encode_frame(&mut out, fin, opcode, &payload, mask);
            let from = if mask.is_some() { Role::Client } else { Role::Server };
            let head = decode_frame(&mut out[1..], from, payload.len()).unwrap().unwrap();
            prop_assert_eq!((head.fin, head.opcode, head.payload.end), (fin, opcode, out.len() - 1));
            prop_assert_eq!(&out[1 + head.payload.start..], &payload[..]);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(
            mut bytes in proptest::collection::vec(any::<u8>(), 0..300), client in any::<bool>(),
        ) {
            let from = if client { Role::Client } else { Role::Server };
            if let Ok(Some(head)) = decode_frame(&mut bytes, from, 200) {
                prop_assert!(head.payload.end <= bytes.len());
                if head.opcode == Opcode::Close {
                    let _ = parse_close(&bytes[head.payload]);
                }
            }
            let _ = parse_request(&bytes);
            let _ = parse_response(&bytes, "dGhlIHNhbXBsZSBub25jZQ==");
        }
    }
}
