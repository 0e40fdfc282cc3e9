//! MoldUDP64: the UDP framing that carries ITCH, with sequence numbers and re-requests.
//!
//! A packet is a 20-byte header (session, 10 ASCII bytes; the sequence number of its first
//! message, 8 bytes; the message count, 2 bytes; big-endian) followed by `count` blocks of a
//! 2-byte length and that many bytes of message. A count of 0 is a heartbeat carrying the next
//! sequence number; `0xFFFF` ends the session. A receiver that sees a gap sends a [`Request`]
//! (session, first missing sequence, count) to the re-request server, which answers with
//! packets of those messages.

use crate::bytes::{array, be, put_be};
use crate::DecodeError;

const PROTOCOL: &str = "MoldUDP64";

/// Bytes of a packet header (and of a re-request).
pub const HEADER_LEN: usize = 20;

/// The message count that marks the end of a session.
pub const END_OF_SESSION: u16 = 0xFFFF;

/// A session name: 10 ASCII bytes, space-padded.
pub type Session = [u8; 10];

/// Pads `name` (at most 10 bytes) into a [`Session`] with spaces.
pub fn session(name: &str) -> Session {
    let mut out = [b' '; 10];
    let bytes = name.as_bytes();
    assert!(bytes.len() <= 10, "a MoldUDP64 session has at most 10 bytes: {name:?}");
    out[..bytes.len()].copy_from_slice(bytes);
    out
}

/// A packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// The session the packet belongs to.
    pub session: Session,
    /// The sequence number of its first message (of the next one, for a heartbeat).
    pub sequence: u64,
    /// How many messages it carries; 0 for a heartbeat, [`END_OF_SESSION`] at the end.
    pub count: u16,
}

impl PacketHeader {
    /// Whether the packet is a heartbeat.
    pub fn is_heartbeat(&self) -> bool {
        self.count == 0
    }

    /// Whether the packet ends the session.
    pub fn is_end_of_session(&self) -> bool {
        self.count == END_OF_SESSION
    }

    /// The sequence number of the message after this packet's last.
    pub fn next_sequence(&self) -> u64 {
        match self.count {
            0 | END_OF_SESSION => self.sequence,
            count => self.sequence + u64::from(count),
        }
    }

    fn write(&self, out: &mut [u8]) {
        out[..10].copy_from_slice(&self.session);
        put_be::<8>(out, 10, self.sequence);
        put_be::<2>(out, 18, u64::from(self.count));
    }

    fn read(bytes: &[u8]) -> Self {
        Self { session: array(bytes, 0), sequence: be::<8>(bytes, 10), count: be::<2>(bytes, 18) as u16 }
    }
}

/// A decoded packet whose message blocks were all checked to lie inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header.
    pub header: PacketHeader,
    blocks: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Decodes a packet, checking its framing end to end before any message is handed out, so
    /// a malformed packet is refused whole.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Length {
                protocol: PROTOCOL,
                msg_type: 'H',
                expected: HEADER_LEN,
                found: bytes.len(),
            });
        }
        let header = PacketHeader::read(bytes);
        if header.sequence.checked_add(u64::from(header.count)).is_none() {
            return Err(DecodeError::InvalidField {
                protocol: PROTOCOL,
                msg_type: 'H',
                field: "sequence",
                value: format!("{} (with {} messages it overflows)", header.sequence, header.count),
            });
        }
        let blocks = &bytes[HEADER_LEN..];
        let count = if header.is_end_of_session() { 0 } else { header.count };
        let mut at = 0;
        for index in 0..count {
            let truncated = |detail: String| DecodeError::Truncated { protocol: PROTOCOL, detail };
            if blocks.len() < at + 2 {
                return Err(truncated(format!(
                    "packet {} claims {count} messages but ends before the length of message {index}",
                    header.sequence
                )));
            }
            let len = be::<2>(blocks, at) as usize;
            if blocks.len() < at + 2 + len {
                return Err(truncated(format!(
                    "message {index} of packet {} claims {len} bytes, {} remain",
                    header.sequence,
                    blocks.len() - at - 2
                )));
            }
            at += 2 + len;
        }
        if at != blocks.len() {
            return Err(DecodeError::Truncated {
                protocol: PROTOCOL,
                detail: format!(
                    "packet {} has {} bytes after its {count} messages",
                    header.sequence,
                    blocks.len() - at
                ),
            });
        }
        Ok(Self { header, blocks })
    }

    /// The messages, in order, each with its sequence number.
    pub fn messages(&self) -> Messages<'a> {
        Messages { rest: self.blocks, sequence: self.header.sequence }
    }
}

/// The messages of a [`Packet`], with their sequence numbers.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
    sequence: u64,
}

impl<'a> Iterator for Messages<'a> {
    type Item = (u64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 2 {
            return None;
        }
        // The framing was checked by `Packet::decode`.
        let len = be::<2>(self.rest, 0) as usize;
        let message = &self.rest[2..2 + len];
        self.rest = &self.rest[2 + len..];
        let sequence = self.sequence;
        self.sequence += 1;
        Some((sequence, message))
    }
}

/// Builds packets of consecutive messages into a buffer of at most `max_len` bytes (an MTU).
#[derive(Debug, Clone)]
pub struct PacketBuilder {
    buf: Vec<u8>,
    header: PacketHeader,
    max_len: usize,
}

impl PacketBuilder {
    /// An empty packet of `session` whose first message will be `sequence`.
    pub fn new(session: Session, sequence: u64, max_len: usize) -> Self {
        assert!(max_len > HEADER_LEN + 2, "a packet needs room for at least one message");
        let mut buf = Vec::with_capacity(max_len);
        buf.resize(HEADER_LEN, 0);
        Self { buf, header: PacketHeader { session, sequence, count: 0 }, max_len }
    }

    /// Appends a message; returns `false` (and appends nothing) if the packet is full.
    pub fn push(&mut self, message: &[u8]) -> bool {
        let full = self.header.count == END_OF_SESSION - 1
            || self.buf.len() + 2 + message.len() > self.max_len
            || message.len() > usize::from(u16::MAX);
        if full {
            return false;
        }
        self.buf.extend_from_slice(&(message.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(message);
        self.header.count += 1;
        true
    }

    /// Messages in the packet so far.
    pub fn count(&self) -> u16 {
        self.header.count
    }

    /// The finished packet's bytes.
    pub fn finish(&mut self) -> &[u8] {
        let header = self.header;
        header.write(&mut self.buf);
        &self.buf
    }

    /// Starts the next packet, whose first message follows this packet's last.
    pub fn reset(&mut self) {
        self.header.sequence = self.header.next_sequence();
        self.header.count = 0;
        self.buf.truncate(HEADER_LEN);
    }
}

/// A header-only packet: a heartbeat (`count` 0) or the end of the session.
pub fn header_only(session: Session, next_sequence: u64, count: u16) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    PacketHeader { session, sequence: next_sequence, count }.write(&mut out);
    out
}

/// A re-request for `count` messages from `sequence` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The session.
    pub session: Session,
    /// The first missing sequence number.
    pub sequence: u64,
    /// How many messages are wanted.
    pub count: u16,
}

impl Request {
    /// The request's 20 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        header_only(self.session, self.sequence, self.count)
    }

    /// Decodes a request (exactly 20 bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != HEADER_LEN {
            return Err(DecodeError::Length {
                protocol: PROTOCOL,
                msg_type: 'R',
                expected: HEADER_LEN,
                found: bytes.len(),
            });
        }
        let header = PacketHeader::read(bytes);
        Ok(Self { session: header.session, sequence: header.sequence, count: header.count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_sequence_that_would_overflow_with_its_messages_is_refused() {
        let mut bytes = header_only(session("S"), u64::MAX, 0).to_vec();
        bytes[18..20].copy_from_slice(&1u16.to_be_bytes());
        bytes.extend_from_slice(&[0, 1, b'x']);
        let err = Packet::decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("overflows"), "{err}");
        assert!(
            Packet::decode(&header_only(session("S"), u64::MAX, 0)).is_ok(),
            "a heartbeat at the end is fine"
        );
    }

    #[test]
    fn a_packet_has_the_specified_layout_and_numbers_its_messages() {
        let mut builder = PacketBuilder::new(session("TR0001"), 41, 1500);
        assert!(builder.push(b"abc"));
        assert!(builder.push(b""));
        let bytes = builder.finish().to_vec();
        let mut expected = b"TR0001    ".to_vec();
        expected.extend_from_slice(&41u64.to_be_bytes());
        expected.extend_from_slice(&[0, 2, 0, 3, b'a', b'b', b'c', 0, 0]);
        assert_eq!(bytes, expected);
        let packet = Packet::decode(&bytes).unwrap();
        assert_eq!(packet.header.next_sequence(), 43);
        assert_eq!(packet.messages().collect::<Vec<_>>(), vec![(41, &b"abc"[..]), (42, &b""[..])]);
        builder.reset();
        assert_eq!((builder.count(), builder.finish().len()), (0, HEADER_LEN));
        assert_eq!(Packet::decode(builder.finish()).unwrap().header.sequence, 43);
    }

    #[test]
    fn a_full_packet_refuses_more() {
        let mut builder = PacketBuilder::new(session("S"), 1, HEADER_LEN + 10);
        assert!(builder.push(b"12345678"));
        assert!(!builder.push(b"x"));
        assert_eq!(builder.count(), 1);
    }

    #[test]
    fn heartbeats_and_the_end_of_session_carry_the_next_sequence() {
        let heartbeat_bytes = header_only(session("S"), 99, 0);
        let heartbeat = Packet::decode(&heartbeat_bytes).unwrap();
        assert!(heartbeat.header.is_heartbeat());
        assert_eq!((heartbeat.header.next_sequence(), heartbeat.messages().count()), (99, 0));
        let end_bytes = header_only(session("S"), 99, END_OF_SESSION);
        let end = Packet::decode(&end_bytes).unwrap();
        assert!(end.header.is_end_of_session());
        assert_eq!(end.header.next_sequence(), 99);
    }

    #[test]
    fn malformed_packets_are_refused_whole() {
        assert!(matches!(Packet::decode(&[0; 19]), Err(DecodeError::Length { found: 19, .. })));
        let mut builder = PacketBuilder::new(session("S"), 5, 100);
        builder.push(b"hello");
        let bytes = builder.finish().to_vec();
        let err = Packet::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(err.to_string(), "MoldUDP64: message 0 of packet 5 claims 5 bytes, 4 remain");
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Packet::decode(&longer).unwrap_err().to_string().contains("1 bytes after its 1 messages"));
        let mut more = bytes.clone();
        more[19] = 2;
        assert!(Packet::decode(&more)
            .unwrap_err()
            .to_string()
            .contains("ends before the length of message 1"));
    }

    #[test]
    fn a_request_round_trips() {
        let request = Request { session: session("S"), sequence: 1 << 40, count: 12 };
        assert_eq!(Request::decode(&request.encode()), Ok(request));
        assert!(Request::decode(&[0; 21]).is_err());
    }

    proptest! {
        #[test]
        fn packets_round_trip(first in any::<u32>(), messages in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..50), 0..20)) {
            let mut builder = PacketBuilder::new(session("PROP"), u64::from(first), 1500);
            for m in &messages {
                prop_assert!(builder.push(m));
            }
            let bytes = builder.finish().to_vec();
            let packet = Packet::decode(&bytes).unwrap();
            let got: Vec<(u64, Vec<u8>)> = packet.messages().map(|(s, m)| (s, m.to_vec())).collect();
            let want: Vec<(u64, Vec<u8>)> =
                messages.iter().enumerate().map(|(i, m)| (u64::from(first) + i as u64, m.clone())).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(packet) = Packet::decode(&bytes) {
                let _ = packet.messages().count();
            }
        }
    }
}
