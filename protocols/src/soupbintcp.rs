//! SoupBinTCP 3.0: NASDAQ's session layer over TCP that carries OUCH (and ITCH) with login,
//! heartbeats and a sequenced server-to-client stream that survives reconnections.
//!
//! Every packet is a 2-byte big-endian length (of what follows it), a type byte and a payload.
//! Alpha fields are ASCII, left-aligned and padded with spaces on the right; numeric fields are
//! ASCII digits, right-aligned and padded with spaces on the left.
//!
//! | type | sender | packet | payload |
//! |---|---|---|---|
//! | `+` | both | debug | free text |
//! | `A` | server | login accepted | session (10 alpha), next sequence number (20 numeric) |
//! | `J` | server | login rejected | reason (1): `A` not authorized, `S` session not available |
//! | `S` | server | sequenced data | one message of the higher-level protocol |
//! | `H` | server | server heartbeat | none |
//! | `Z` | server | end of session | none |
//! | `L` | client | login request | username (6 alpha), password (10 alpha), requested session (10 alpha, blank: the current one), requested sequence number (20 numeric, 0: only new messages) |
//! | `U` | client | unsequenced data | one message of the higher-level protocol |
//! | `R` | client | client heartbeat | none |
//! | `O` | client | logout request | none |
//!
//! Sequenced messages are numbered implicitly: the first after a login accepted carries the
//! number that packet announced, and each further one the next. This module is sans-IO: it
//! cuts packets out of a byte stream and writes them into a caller's buffer.

use crate::bytes::trim_spaces;
use crate::DecodeError;

const PROTOCOL: &str = "SoupBinTCP 3.0";

/// The largest payload a packet can carry (the length field counts the type byte too).
pub const MAX_PAYLOAD: usize = u16::MAX as usize - 1;

/// A session name: 10 ASCII bytes, left-aligned and space-padded; all spaces names the
/// server's current session in a login request.
pub type Session = [u8; 10];

/// A username: 6 ASCII bytes, left-aligned and space-padded.
pub type Username = [u8; 6];

/// A password: 10 ASCII bytes, left-aligned and space-padded.
pub type Password = [u8; 10];

/// Why the server refused a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// `A`: the username or password is wrong.
    NotAuthorized,
    /// `S`: the requested session is not available.
    SessionNotAvailable,
}

impl RejectReason {
    fn byte(self) -> u8 {
        match self {
            Self::NotAuthorized => b'A',
            Self::SessionNotAvailable => b'S',
        }
    }
}

/// A login request (`L`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRequest {
    /// The username.
    pub username: Username,
    /// The password.
    pub password: Password,
    /// The session to join; all spaces for the server's current one.
    pub session: Session,
    /// The sequence number of the first message the client wants; 0 for only new ones.
    pub sequence: u64,
}

/// One SoupBinTCP packet; data payloads borrow from the buffer they were decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `+`: human-readable text, either direction.
    Debug(&'a [u8]),
    /// `A`: the login succeeded; the next sequenced message will carry `sequence`.
    LoginAccepted {
        /// The session joined.
        session: Session,
        /// The sequence number of the next sequenced message.
        sequence: u64,
    },
    /// `J`: the login failed; the server closes the connection.
    LoginRejected(RejectReason),
    /// `S`: the next message of the sequenced stream.
    SequencedData(&'a [u8]),
    /// `H`: the server is alive.
    ServerHeartbeat,
    /// `Z`: the session is over; the client should not log in to it again.
    EndOfSession,
    /// `L`: the client asks to log in.
    LoginRequest(LoginRequest),
    /// `U`: a message from the client, not sequenced.
    UnsequencedData(&'a [u8]),
    /// `R`: the client is alive.
    ClientHeartbeat,
    /// `O`: the client leaves.
    LogoutRequest,
}

/// A packet too long for the 2-byte length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("SoupBinTCP 3.0: a payload of {len} bytes exceeds the largest packet ({MAX_PAYLOAD} bytes)")]
pub struct TooLong {
    /// The payload's length.
    pub len: usize,
}

const LOGIN_ACCEPTED_LEN: usize = 30;
const LOGIN_REQUEST_LEN: usize = 46;

/// The payload length each fixed-size packet type must have, or `None` for a variable one.
fn fixed_payload_len(packet_type: u8) -> Result<Option<usize>, DecodeError> {
    match packet_type {
        b'+' | b'S' | b'U' => Ok(None),
        b'A' => Ok(Some(LOGIN_ACCEPTED_LEN)),
        b'J' => Ok(Some(1)),
        b'L' => Ok(Some(LOGIN_REQUEST_LEN)),
        b'H' | b'Z' | b'R' | b'O' => Ok(Some(0)),
        msg_type => Err(DecodeError::UnknownType { protocol: PROTOCOL, msg_type }),
    }
}

/// Writes `value` right-aligned in 20 ASCII bytes, padded with spaces.
fn write_numeric(mut value: u64, out: &mut Vec<u8>) {
    let mut field = [b' '; 20];
    for slot in field.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&field);
}

/// Reads a 20-byte numeric field: ASCII digits with padding spaces on either side.
fn read_numeric(packet_type: u8, field: &'static str, bytes: &[u8]) -> Result<u64, DecodeError> {
    let digits = trim_spaces(bytes);
    let invalid = || DecodeError::InvalidField {
        protocol: PROTOCOL,
        msg_type: char::from(packet_type),
        field,
        value: String::from_utf8_lossy(bytes).into_owned(),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    digits
        .iter()
        .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
        .ok_or_else(invalid)
}

impl<'a> Packet<'a> {
    /// The packet's type byte.
    pub fn packet_type(&self) -> u8 {
        match self {
            Self::Debug(_) => b'+',
            Self::LoginAccepted { .. } => b'A',
            Self::LoginRejected(_) => b'J',
            Self::SequencedData(_) => b'S',
            Self::ServerHeartbeat => b'H',
            Self::EndOfSession => b'Z',
            Self::LoginRequest(_) => b'L',
            Self::UnsequencedData(_) => b'U',
            Self::ClientHeartbeat => b'R',
            Self::LogoutRequest => b'O',
        }
    }

    /// Appends the packet, with its length, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), TooLong> {
        let payload_len = match self {
            Self::Debug(bytes) | Self::SequencedData(bytes) | Self::UnsequencedData(bytes) => bytes.len(),
            _ => fixed_payload_len(self.packet_type()).ok().flatten().expect("fixed-size packet type"),
        };
        if payload_len > MAX_PAYLOAD {
            return Err(TooLong { len: payload_len });
        }
        out.reserve(3 + payload_len);
        out.extend_from_slice(&(payload_len as u16 + 1).to_be_bytes());
        out.push(self.packet_type());
        match *self {
            Self::Debug(bytes) | Self::SequencedData(bytes) | Self::UnsequencedData(bytes) => {
                out.extend_from_slice(bytes)
            }
            Self::LoginAccepted { session, sequence } => {
                out.extend_from_slice(&session);
                write_numeric(sequence, out);
            }
            Self::LoginRejected(reason) => out.push(reason.byte()),
            Self::LoginRequest(request) => {
                out.extend_from_slice(&request.username);
                out.extend_from_slice(&request.password);
                out.extend_from_slice(&request.session);
                write_numeric(request.sequence, out);
            }
            Self::ServerHeartbeat | Self::EndOfSession | Self::ClientHeartbeat | Self::LogoutRequest => {}
        }
        Ok(())
    }

    /// Decodes one packet from its type byte and payload (the bytes after the length).
    pub fn decode(frame: &'a [u8]) -> Result<Self, DecodeError> {
        let (&packet_type, payload) = frame.split_first().ok_or(DecodeError::Empty { protocol: PROTOCOL })?;
        if let Some(expected) = fixed_payload_len(packet_type)? {
            if payload.len() != expected {
                return Err(DecodeError::Length {
                    protocol: PROTOCOL,
                    msg_type: char::from(packet_type),
                    expected: expected + 1,
                    found: frame.len(),
                });
            }
        }
        let p = payload;
        Ok(match packet_type {
            b'+' => Self::Debug(p),
            b'S' => Self::SequencedData(p),
            b'U' => Self::UnsequencedData(p),
            b'A' => Self::LoginAccepted {
                session: p[..10].try_into().expect("length checked"),
                sequence: read_numeric(packet_type, "sequence number", &p[10..30])?,
            },
            b'J' => Self::LoginRejected(match p[0] {
                b'A' => RejectReason::NotAuthorized,
                b'S' => RejectReason::SessionNotAvailable,
                other => {
                    return Err(DecodeError::InvalidField {
                        protocol: PROTOCOL,
                        msg_type: 'J',
                        field: "reject reason code",
                        value: char::from(other).to_string(),
                    })
                }
            }),
            b'L' => Self::LoginRequest(LoginRequest {
                username: p[..6].try_into().expect("length checked"),
                password: p[6..16].try_into().expect("length checked"),
                session: p[16..26].try_into().expect("length checked"),
                sequence: read_numeric(packet_type, "requested sequence number", &p[26..46])?,
            }),
            b'H' => Self::ServerHeartbeat,
            b'Z' => Self::EndOfSession,
            b'R' => Self::ClientHeartbeat,
            b'O' => Self::LogoutRequest,
            _ => unreachable!("fixed_payload_len accepted only the types above"),
        })
    }
}

/// Cuts the first packet off a byte stream: `Ok(None)` while it is incomplete, otherwise the
/// packet and the number of bytes it took (so the caller drops them). A zero length breaks
/// the framing and is an error; any other error leaves the framing intact, so the caller may
/// drop the packet's bytes and go on.
pub fn decode(stream: &[u8]) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    let Some(length) = stream.get(..2) else { return Ok(None) };
    let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
    if length == 0 {
        return Err(DecodeError::Malformed {
            protocol: PROTOCOL,
            detail: "a packet length of 0 leaves no room for the packet type".to_owned(),
        });
    }
    let Some(frame) = stream.get(2..2 + length) else { return Ok(None) };
    Ok(Some((Packet::decode(frame)?, 2 + length)))
}

/// The number of bytes the first packet of `stream` takes, once its length is known.
pub fn frame_len(stream: &[u8]) -> Option<usize> {
    stream.get(..2).map(|length| 2 + usize::from(u16::from_be_bytes([length[0], length[1]])))
}

/// Bytes received from a stream, cut into packets as they complete.
#[derive(Debug, Default, Clone)]
pub struct StreamBuffer {
    bytes: Vec<u8>,
    start: usize,
}

impl StreamBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, received: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.bytes.len() {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(received);
    }

    /// Bytes received but not yet cut into packets.
    pub fn pending(&self) -> usize {
        self.bytes.len() - self.start
    }

    /// The next complete packet, if any. A packet that does not decode is consumed (the
    /// framing is intact, so what follows it is not lost) and its error returned, except for
    /// a zero length, which breaks the framing and stays an error.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, DecodeError> {
        let rest = &self.bytes[self.start..];
        match decode(rest) {
            Ok(Some((_, used))) => {
                let at = self.start;
                self.start += used;
                Ok(Some(Packet::decode(&self.bytes[at + 2..at + used]).expect("decoded just now")))
            }
            Ok(None) => Ok(None),
            Err(err) => {
                if let Some(used) = frame_len(rest).filter(|&used| used > 2 && used <= rest.len()) {
                    self.start += used;
                }
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alpha;
    use proptest::prelude::*;

    fn encoded(packet: &Packet<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        packet.encode(&mut out).unwrap();
        out
    }

    fn request() -> LoginRequest {
        LoginRequest {
            username: alpha("username", "TRD1").unwrap(),
            password: alpha("password", "secret").unwrap(),
            session: [b' '; 10],
            sequence: 42,
        }
    }

    #[test]
    fn a_login_request_has_the_specified_layout() {
        let bytes = encoded(&Packet::LoginRequest(request()));
        let mut expected = vec![0, 47, b'L'];
        expected.extend_from_slice(b"TRD1  secret              ");
        expected.extend_from_slice(b"                  42");
        assert_eq!(bytes, expected);
        assert_eq!(decode(&bytes), Ok(Some((Packet::LoginRequest(request()), 49))));
    }

    #[test]
    fn a_login_accepted_carries_the_session_and_the_next_sequence_number() {
        let packet = Packet::LoginAccepted { session: *b"TICKRAIL01", sequence: 1 };
        let bytes = encoded(&packet);
        let mut expected = vec![0, 31, b'A'];
        expected.extend_from_slice(b"TICKRAIL01                   1");
        assert_eq!(bytes, expected);
        assert_eq!(Packet::decode(&bytes[2..]), Ok(packet));
    }

    #[test]
    fn numeric_fields_may_be_padded_on_either_side_or_with_zeros() {
        let mut frame = b"ATICKRAIL01".to_vec();
        frame.extend_from_slice(b"00000000000000000007");
        assert!(matches!(Packet::decode(&frame), Ok(Packet::LoginAccepted { sequence: 7, .. })));
        frame.truncate(11);
        frame.extend_from_slice(b"7                   ");
        assert!(matches!(Packet::decode(&frame), Ok(Packet::LoginAccepted { sequence: 7, .. })));
    }

    #[test]
    fn short_packets_are_a_length_and_a_type() {
        for (packet, byte) in [
            (Packet::ServerHeartbeat, b'H'),
            (Packet::EndOfSession, b'Z'),
            (Packet::ClientHeartbeat, b'R'),
            (Packet::LogoutRequest, b'O'),
        ] {
            assert_eq!(encoded(&packet), [0, 1, byte]);
            assert_eq!(Packet::decode(&[byte]), Ok(packet));
        }
        assert_eq!(encoded(&Packet::LoginRejected(RejectReason::NotAuthorized)), [0, 2, b'J', b'A']);
        assert_eq!(encoded(&Packet::SequencedData(b"xy")), [0, 3, b'S', b'x', b'y']);
        assert_eq!(encoded(&Packet::UnsequencedData(b"")), [0, 1, b'U']);
    }

    #[test]
    fn a_stream_is_cut_into_packets_only_once_they_are_complete() {
        let mut stream = encoded(&Packet::SequencedData(b"hello"));
        stream.extend(encoded(&Packet::ServerHeartbeat));
        for cut in 0..8 {
            assert_eq!(decode(&stream[..cut]), Ok(None), "{cut} bytes are not a packet yet");
        }
        assert_eq!(decode(&stream), Ok(Some((Packet::SequencedData(b"hello"), 8))));
        assert_eq!(decode(&stream[8..]), Ok(Some((Packet::ServerHeartbeat, 3))));
        assert_eq!(frame_len(&stream), Some(8));
    }

    #[test]
    fn malformed_packets_name_what_is_wrong() {
        assert!(decode(&[0, 0, b'H']).unwrap_err().to_string().contains("length of 0"));
        assert_eq!(
            decode(&[0, 1, b'Q']),
            Err(DecodeError::UnknownType { protocol: PROTOCOL, msg_type: b'Q' })
        );
        assert_eq!(
            decode(&[0, 2, b'H', 0]),
            Err(DecodeError::Length { protocol: PROTOCOL, msg_type: 'H', expected: 1, found: 2 })
        );
        assert_eq!(
            Packet::decode(b"JX").unwrap_err().to_string(),
            "SoupBinTCP 3.0: message 'J' has reject reason code = \"X\", which is not allowed"
        );
        let mut login = encoded(&Packet::LoginRequest(request()));
        login[47] = b'x';
        assert!(matches!(
            decode(&login),
            Err(DecodeError::InvalidField { field: "requested sequence number", .. })
        ));
        let mut overflow = b"ASESSION   ".to_vec();
        overflow.extend_from_slice(b"99999999999999999999");
        assert!(Packet::decode(&overflow).is_err(), "beyond u64");
        assert_eq!(Packet::decode(&[]), Err(DecodeError::Empty { protocol: PROTOCOL }));
    }

    #[test]
    fn a_stream_buffer_hands_out_packets_as_they_complete_and_skips_a_bad_one() {
        let mut stream = encoded(&Packet::SequencedData(b"one"));
        stream.extend([0, 1, b'Q']);
        stream.extend(encoded(&Packet::ServerHeartbeat));
        let mut buffer = StreamBuffer::new();
        buffer.extend(&stream[..4]);
        assert_eq!(buffer.next_packet(), Ok(None));
        buffer.extend(&stream[4..]);
        assert_eq!(buffer.next_packet(), Ok(Some(Packet::SequencedData(b"one"))));
        assert!(matches!(buffer.next_packet(), Err(DecodeError::UnknownType { msg_type: b'Q', .. })));
        assert_eq!(buffer.next_packet(), Ok(Some(Packet::ServerHeartbeat)));
        assert_eq!(buffer.next_packet(), Ok(None));
        assert_eq!(buffer.pending(), 0);
    }

    #[test]
    fn fields_that_do_not_fit_are_refused_when_built() {
        assert_eq!(
            alpha::<6>("username", "toolong").unwrap_err().to_string(),
            "username \"toolong\" is not at most 6 printable ASCII characters"
        );
        let big = vec![0u8; MAX_PAYLOAD + 1];
        assert_eq!(Packet::SequencedData(&big).encode(&mut Vec::new()), Err(TooLong { len: big.len() }));
    }

    fn any_packet() -> impl Strategy<Value = (u8, Vec<u8>, [u8; 10], u64, [u8; 16], u8)> {
        (
            0u8..10,
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<[u8; 10]>(),
            any::<u64>(),
            any::<[u8; 16]>(),
            0u8..2,
        )
    }

    proptest! {
        #[test]
        fn every_packet_round_trips((kind, data, session, sequence, credentials, reason) in any_packet()) {
            let packet = match kind {
                0 => Packet::Debug(&data),
                1 => Packet::LoginAccepted { session, sequence },
                2 => Packet::LoginRejected(if reason == 0 { RejectReason::NotAuthorized } else { RejectReason::SessionNotAvailable }),
                3 => Packet::SequencedData(&data),
                4 => Packet::ServerHeartbeat,
                5 => Packet::EndOfSession,
                6 => Packet::LoginRequest(LoginRequest {
                    username: credentials[..6].try_into().unwrap(),
                    password: credentials[6..].try_into().unwrap(),
                    session,
                    sequence,
                }),
                7 => Packet::UnsequencedData(&data),
                8 => Packet::ClientHeartbeat,
                _ => Packet::LogoutRequest,
            };
            let bytes = encoded(&packet);
            prop_assert_eq!(decode(&bytes), Ok(Some((packet, bytes.len()))));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut rest = &bytes[..];
            while let Ok(Some((_, used))) = decode(rest) {
                prop_assert!(used >= 3 && used <= rest.len());
                rest = &rest[used..];
            }
        }
    }
}
