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
//! * [`fix44`]: FIX 4.4 session, market-data and order messages as types.
//! * [`fix_session`]: the FIX session layer without I/O: logon, sequence numbers, heartbeats,
//!   gap recovery by ResendRequest, resends with PossDup, logout.
//! * [`utc`]: FIX UTCTimestamps to and from nanoseconds since the Unix epoch.
//! * [`depth_json`]: crypto-exchange style JSON depth snapshots, updates and trades.
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
pub mod utc;

pub use error::DecodeError;
