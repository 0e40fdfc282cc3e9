//! Feed handlers: the order books a venue's market data implies.
//!
//! * [`levels`]: one side of a price-level (L2) book, best first, in a fixed-capacity array, so
//!   updating it never allocates.
//! * [`book`]: a two-sided price-level book, updated by deltas (order-level feeds) or by
//!   absolute level quantities (L2 feeds).
//! * [`orders`]: the order-level (L3) book an ITCH 5.0 feed implies, aggregated into a
//!   [`book::Book`].
//! * [`order_hash`]: a fast hasher for the order book's reference numbers.
//! * [`itch_feed`]: venue A's handler core: MoldUDP64 packets in sequence, gaps re-requested and
//!   recovered, books marked stale meanwhile.
//! * [`itch_net`]: venue A's feed on a UDP socket, re-requesting gaps from the venue's server.
//! * [`depth_feed`]: venue C's handler core: a price-level book from JSON depth updates, resynced
//!   from a snapshot on any gap in the update ids.
//! * [`ws_client`]: venue C's transport: WebSocket connection, subscriptions, snapshots on
//!   request, reconnection; drives a [`depth_feed::DepthFeed`] per symbol.
//! * [`fix_feed`]: venue B's handler core: FIX 4.4 sessions, price-level books from snapshots
//!   and incremental refreshes, stale while a sequence gap is open, recovered by ResendRequest.
//! * [`fix_client`]: venue B's handler loop on TCP: logon, subscribe, read, reconnect.
//! * [`publish`]: books into shared memory: level changes on the venue's ring, the top levels in
//!   its seqlock slots, flagged stale while a gap is open.
//! * [`metrics`]: a feed's counters and receive-to-publish latency histogram in shared memory.
//! * [`instruments`]: the firm's instrument ids, the same on every venue.
//! * [`outputs`]: the segments a feed process writes: event ring, book slots, metrics.
//! * [`refusals`]: input a handler refused, kept for its loop to log with the venue's name.
//! * [`sink`]: the interface between the handlers and wherever their updates go.
//! * [`taps`]: what a transport loop reports to besides its sink: metrics and a recording.
//! * [`recording`]: what a feed received, recorded with receive times, replayed through the
//!   same handler.
//!
//! Prices and quantities are integers in units of 1e-9 (`shm_layout::records::FIXED_POINT_SCALE`),
//! whatever the venue's own precision.

pub mod book;
pub mod depth_feed;
pub mod fix_client;
pub mod fix_feed;
pub mod instruments;
pub mod itch_feed;
pub mod itch_net;
pub mod levels;
pub mod metrics;
pub mod order_hash;
pub mod orders;
pub mod outputs;
pub mod publish;
mod reconnect;
pub mod recording;
pub mod refusals;
pub mod sink;
pub mod taps;
pub mod ws_client;
