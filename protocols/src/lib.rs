//! Exchange wire protocols, encoded and decoded by the same code on both sides: the simulated
//! venues encode with it and the feed handlers decode with it.
//!
//! Because both sides share this crate, a misreading of a specification would pass our own
//! round trips; the tests therefore also check every format against independent parsers
//! (`itchfeed` for ITCH) and against byte layouts written out from the specifications.
//!
//! * [`itch`]: NASDAQ TotalView-ITCH 5.0 messages (big-endian, 6-byte nanosecond timestamps).
//! * [`moldudp64`]: MoldUDP64 packets that carry them over UDP, and re-requests for gaps.
//! * [`soupbintcp`]: SoupBinTCP 3.0 packets and stream framing (login, heartbeats, sequenced data).
//! * [`soupbintcp_session`]: SoupBinTCP client and server sessions without sockets: login with
//!   replay from a sequence number, heartbeats, timeouts, logout.
//! * [`ouch42`]: OUCH 4.2 order entry: enter, replace and cancel in; accepted, replaced,
//!   canceled, executed and rejected out.
//! * [`ouch_client`]: a blocking OUCH client over SoupBinTCP on a `std::net` TCP stream.
//! * [`fix`]: FIX 4.4 tag=value framing with BodyLength and CheckSum.
//! * [`fix44`]: FIX 4.4 session, market-data and order messages as types.
//! * [`fix_session`]: the FIX session layer without I/O: logon, sequence numbers, heartbeats,
//!   gap recovery by ResendRequest, resends with PossDup, logout.
//! * [`utc`]: FIX UTCTimestamps to and from nanoseconds since the Unix epoch.
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
pub mod fix44;
pub mod fix_session;
pub mod itch;
pub mod moldudp64;
pub mod ouch42;
pub mod ouch_client;
pub mod soupbintcp;
pub mod soupbintcp_session;
pub mod utc;
pub mod websocket;
pub mod ws_api;
pub mod ws_stream;

pub use bytes::alpha;
pub use error::{DecodeError, FieldError};
