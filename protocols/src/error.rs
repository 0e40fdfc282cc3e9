//! Decoding errors, each naming the protocol, the message and what was wrong, and the error of
//! a text that does not fit its fixed-width field.

/// Why some bytes are not a valid message or packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Nothing to decode.
    #[error("{protocol}: empty message")]
    Empty {
        /// The protocol.
        protocol: &'static str,
    },
    /// A message type the protocol does not define (or we do not take).
    #[error("{protocol}: unknown message type {msg_type:#04x} ({:?})", char::from(*msg_type))]
    UnknownType {
        /// The protocol.
        protocol: &'static str,
        /// The type byte found.
        msg_type: u8,
    },
    /// A message or packet of the wrong length for its type.
    #[error("{protocol}: message {msg_type:?} is {found} bytes, expected {expected}")]
    Length {
        /// The protocol.
        protocol: &'static str,
        /// The message (or packet part) type.
        msg_type: char,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// A packet whose framing overruns its end.
    #[error("{protocol}: {detail}")]
    Truncated {
        /// The protocol.
        protocol: &'static str,
        /// What ran out.
        detail: String,
    },
    /// Bytes that do not follow the protocol's syntax.
    #[error("{protocol}: {detail}")]
    Malformed {
        /// The protocol.
        protocol: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A field the message requires is absent.
    #[error("{protocol}: message {msg_type:?} lacks the required field {field}")]
    MissingField {
        /// The protocol.
        protocol: &'static str,
        /// The message type.
        msg_type: char,
        /// The field.
        field: &'static str,
    },
    /// A field holding a value the protocol does not allow.
    #[error("{protocol}: message {msg_type:?} has {field} = {value:?}, which is not allowed")]
    InvalidField {
        /// The protocol.
        protocol: &'static str,
        /// The message type.
        msg_type: char,
        /// The field.
        field: &'static str,
        /// The value found, as text.
        value: String,
    },
}

/// A text that does not fit a fixed-width alpha field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {text:?} is not at most {width} printable ASCII characters")]
pub struct FieldError {
    /// The field.
    pub field: &'static str,
    /// Its width in bytes.
    pub width: usize,
    /// The text that does not fit.
    pub text: String,
}
