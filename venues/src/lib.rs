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
//! * [`venue_a`]: venue A without sockets: flow, engines, ITCH in MoldUDP64, re-requests,
//!   external orders.
//! * [`itch_server`]: venue A on UDP, paced by the wall clock, with its re-request server.
//! * [`ouch_orders`]: venue A's OUCH 4.2 order entry without sockets: tokens to engine orders,
//!   engine events to OUCH messages per user.
//! * [`ouch_server`]: venue A's OUCH 4.2 over SoupBinTCP server on loopback TCP.
//! * [`venue_b`]: venue B without sockets: flow and clients' FIX orders through the engines,
//!   FIX 4.4 price-level market data and execution reports.
//! * [`fix_server`]: venue B on loopback TCP: FIX sessions, subscriptions, order entry, and
//!   injected faults (lost, duplicated and reordered market data, forced disconnects).
//! * [`venue_c`]: venue C without sockets: flow and client orders, JSON depth, execution reports.
//! * [`venue_c_server`]: venue C over WebSocket on loopback, paced by the wall clock, with faults.
//! * [`clock`]: the wall clock venue servers stamp messages with (Unix ns and ms).
//! * [`faults`]: every venue's fault decisions (drops, duplicates, reordering, cut connections)
//!   for what it sends, from one seeded, validated plan.

pub mod clock;
pub mod depth;
pub mod faults;
pub mod fix_server;
pub mod flow;
pub mod itch;
pub mod itch_server;
pub mod matching;
pub mod mold;
pub mod ouch_orders;
pub mod ouch_server;
pub mod random;
pub mod venue_a;
pub mod venue_b;
pub mod venue_c;
pub mod venue_c_server;
