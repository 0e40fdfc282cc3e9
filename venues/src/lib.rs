//! Simulated exchanges.
//!
//! * [`matching`]: a price-time priority limit order book for one symbol: limit, market and IOC
//!   orders, cancels and cancel-replaces, partial fills and trades, reported as [`matching::Event`]s
//!   that the protocol encoders turn into each venue's market data and execution reports.
//! * [`itch`]: venue A's market data, engine events as ITCH 5.0 messages.
//! * [`depth`]: venue C's market data, the engine's book as JSON depth snapshots and updates.
//! * [`mold`]: venue A's MoldUDP64 packetiser, message store and re-request server.
//! * [`flow`]: seeded background order flow: a shared fair value per symbol, venue lags and
//!   noise, Poisson arrivals, bursts. [`random`] is its deterministic random source.
//! * [`venue_a`]: venue A without sockets: flow, engines, ITCH in MoldUDP64, re-requests.
//! * [`venue_b`]: venue B without sockets: flow and clients' FIX orders through the engines,
//!   FIX 4.4 price-level market data and execution reports.
//! * [`fix_server`]: venue B on loopback TCP: FIX sessions, subscriptions, order entry, and
//!   injected faults (lost, duplicated and reordered market data, forced disconnects).

pub mod depth;
pub mod fix_server;
pub mod flow;
pub mod itch;
pub mod matching;
pub mod mold;
pub mod random;
pub mod venue_a;
pub mod venue_b;
