//! Exchange wire protocols, encoded and decoded by the same code on both sides: the simulated
//! venues encode with it and the feed handlers decode with it.
//!
//! Because both sides share this crate, a misreading of a specification would pass our own
//! round trips; the tests therefore also check every format against independent parsers
//! (`itchfeed` for ITCH) and against byte layouts written out from the specifications.
//!
//! * [`itch`]: NASDAQ TotalView-ITCH 5.0 messages (big-endian, 6-byte nanosecond timestamps).
//! * [`moldudp64`]: MoldUDP64 packets that carry them over UDP, and re-requests for gaps.
//! * [`fix`]: FIX 4.4 tag=value framing with BodyLength and CheckSum.
//! * [`depth_json`]: crypto-exchange style JSON depth snapshots, updates and trades.
//! * [`websocket`]: RFC 6455 WebSocket handshake and frames, without I/O; [`ws_stream`] runs
//!   them over a socket.
//! * [`ws_api`]: venue C's requests, answers and execution reports (subscriptions, snapshots,
//!   an HMAC-signed logon, orders), JSON over WebSocket.
//! * [`decimal`]: exact decimal text to and from fixed-point integers.
//!
//! Decoding never panics on any input: a malformed message is a [`DecodeError`] that names
//! what was wrong, and nothing is read past the end of the buffer.

mod bytes;
pub mod decimal;
pub mod depth_json;
mod error;
pub mod fix;
pub mod itch;
pub mod moldudp64;
pub mod websocket;
pub mod ws_api;
pub mod ws_stream;

pub use error::DecodeError;
