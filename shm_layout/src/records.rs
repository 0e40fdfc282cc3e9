//! Fixed-size message records, defined once here and mirrored as numpy structured dtypes.
//!
//! Every record starts with a [`RecordHeader`]. Prices and quantities are fixed-point integers
//! with nine decimals ([`FIXED_POINT_SCALE`]), exact for every venue's tick and lot sizes.
//! [`Layout::FIELDS`] describes each record's layout (name, numpy type code, offset) so the
//! Python side builds its dtypes from the same definition, never from a copy.

use std::mem::{offset_of, size_of};

/// Prices and quantities are integers in units of 1e-9.
pub const FIXED_POINT_SCALE: i64 = 1_000_000_000;

/// Price levels per side in a [`TopOfBook`].
pub const BOOK_DEPTH: usize = 10;

/// `RecordHeader::flags` bit: the book is not known to be correct (a gap is being recovered);
/// nothing may trade on it.
pub const FLAG_STALE: u16 = 1 << 0;

/// Values of [`MarketEvent::side`].
pub mod side {
    /// Bid, or a buy.
    pub const BID: u8 = 1;
    /// Ask (offer), or a sell.
    pub const ASK: u8 = 2;
}

/// Values of [`MarketEvent::action`].
pub mod action {
    /// A price level appeared.
    pub const ADD: u8 = 1;
    /// A price level's quantity changed.
    pub const MODIFY: u8 = 2;
    /// A price level went.
    pub const DELETE: u8 = 3;
    /// A trade.
    pub const TRADE: u8 = 4;
    /// The book was cleared (a snapshot follows).
    pub const CLEAR: u8 = 5;
}

/// The header every record starts with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RecordHeader {
    /// The record's type: its [`Record::TYPE_ID`].
    pub msg_type: u16,
    /// Bit flags, per record type.
    pub flags: u16,
    /// The record's length in bytes.
    pub length: u32,
    /// The sequence number the source gave it (the exchange's, or the publisher's own).
    pub sequence: u64,
    /// When the exchange stamped the event, nanoseconds since the Unix epoch.
    pub exchange_ts_ns: u64,
    /// When our process received it, nanoseconds since the Unix epoch.
    pub receive_ts_ns: u64,
    /// When it was published into shared memory, nanoseconds since the Unix epoch.
    pub publish_ts_ns: u64,
}

/// A market-data event for one instrument: an order added, changed or removed, or a trade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MarketEvent {
    /// The common header.
    pub header: RecordHeader,
    /// The instrument's id in the instance's symbol table.
    pub instrument_id: u32,
    /// [`side::BID`], [`side::ASK`], or 0 (none).
    pub side: u8,
    /// One of [`action`]'s values.
    pub action: u8,
    /// Reserved, zero.
    pub reserved: u16,
    /// Price in units of 1e-9.
    pub price: i64,
    /// Quantity in units of 1e-9.
    pub quantity: i64,
}

/// One price level: price and total quantity, both in units of 1e-9.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Level {
    /// Price in units of 1e-9 (0 when the level is empty).
    pub price: i64,
    /// Quantity in units of 1e-9 (0 when the level is empty).
    pub quantity: i64,
}

/// The best levels of one instrument's book on one venue: a seqlock slot's record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct TopOfBook {
    /// The common header.
    pub header: RecordHeader,
    /// The instrument's id in the instance's symbol table.
    pub instrument_id: u32,
    /// Levels filled on the bid side.
    pub bid_levels: u16,
    /// Levels filled on the ask side.
    pub ask_levels: u16,
    /// Best bids, best first.
    pub bids: [Level; BOOK_DEPTH],
    /// Best asks, best first.
    pub asks: [Level; BOOK_DEPTH],
}

/// The trading state of one instrument (or, under key and instrument 0, of everything): what
/// the pre-trade gate allows, and the room left under the risk worker's limits. A seqlock slot's
/// record, written by the risk worker; the header's `sequence` counts writes and `publish_ts_ns`
/// says when the last one was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct TradingStateRecord {
    /// The common header.
    pub header: RecordHeader,
    /// The instrument's id, or 0 for the global state.
    pub instrument_id: u32,
    /// One of [`trading_state`]'s values.
    pub state: u8,
    /// Why it was last changed: one of [`state_reason`]'s values.
    pub reason: u8,
    /// Operators' orders on this key the writer has answered (wrapping): an operator waits for
    /// it to move.
    pub orders: u16,
    /// Room left under the loss limit, units of 1e-9 of currency (below zero: breached;
    /// [`NO_LIMIT`]: no limit).
    pub loss_room: i64,
    /// Room left under the drawdown limit, likewise.
    pub drawdown_room: i64,
    /// Room left under the exposure limit (a symbol's exposure; the portfolio's gross exposure),
    /// likewise: what the pre-trade gate lets an order add.
    pub exposure_room: i64,
    /// Room left under the portfolio's net exposure limit, likewise ([`NO_LIMIT`] for a symbol).
    pub net_room: i64,
}

/// A room with no limit above it.
pub const NO_LIMIT: i64 = i64::MAX;

/// Values of [`TradingStateRecord::state`].
pub mod trading_state {
    /// Any order the limits allow.
    pub const ACTIVE: u8 = 0;
    /// Only orders that reduce the position.
    pub const REDUCE_ONLY: u8 = 1;
    /// Cancels only.
    pub const HALTED: u8 = 2;
    /// Cancels only, and every open order is cancelled: the kill switch.
    pub const KILLED: u8 = 3;
}

/// Bits of a [`TradingStateRecord`]'s `header.flags`.
pub mod trading_state_flags {
    /// The first state a risk worker writes when it starts: its events ring's run begins there.
    pub const FIRST: u16 = 1;
    /// Not a state written but a mark in a risk worker's events ring: the limits were reloaded
    /// here (the portfolio's state as it was).
    pub const RELOADED: u16 = 2;
}

/// Values of [`TradingStateRecord::reason`].
pub mod state_reason {
    /// The state every instance starts in.
    pub const START: u8 = 0;
    /// An operator set it.
    pub const OPERATOR: u8 = 1;
    /// A risk limit was breached.
    pub const LIMIT: u8 = 2;
    /// A heartbeat (a feed's, execution's) went stale.
    pub const STALE_HEARTBEAT: u8 = 3;
    /// The supervisor halted the instance (restarts came too fast).
    pub const SUPERVISOR: u8 = 4;
}

/// One execution report, as the execution worker applied it to its order state: what happened
/// to which order, and the order's and the position's state after it. The execution worker
/// writes one per report into its reports queue for the risk worker; the header's `sequence`
/// counts the worker's reports, `receive_ts_ns` says when the report came in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct ExecutionReportRecord {
    /// The common header.
    pub header: RecordHeader,
    /// The instrument's id.
    pub instrument_id: u32,
    /// The venue's index in the execution worker's venues.
    pub venue: u8,
    /// [`side::BID`] for a buy order, [`side::ASK`] for a sell order.
    pub side: u8,
    /// What happened: one of [`report_kind`]'s values.
    pub kind: u8,
    /// The order's state after it: one of [`order_state`]'s values.
    pub state: u8,
    /// The client order id the report is about.
    pub order_id: u64,
    /// For a replace done, the replacement's client order id (the order carries on under it); 0
    /// otherwise.
    pub replacement_id: u64,
    /// For a fill, its price; otherwise the order's limit price (after a replace, the
    /// replacement's); units of 1e-9.
    pub price: i64,
    /// For a fill, its quantity; otherwise the order's total quantity; units of 1e-9.
    pub quantity: i64,
    /// The order's open quantity after it, units of 1e-9.
    pub leaves: i64,
    /// The symbol's position on the venue after it (long above zero), units of 1e-9.
    pub position: i64,
    /// The average price of that position, units of 1e-9 (0 when flat).
    pub average_price: i64,
    /// P&L realized on the symbol and venue so far, units of 1e-9 of currency (saturated).
    pub realized_pnl: i64,
}

/// Values of [`ExecutionReportRecord::kind`].
pub mod report_kind {
    /// The venue accepted the order.
    pub const ACCEPTED: u8 = 1;
    /// The venue refused the order.
    pub const REJECTED: u8 = 2;
    /// Part or all of the order traded.
    pub const FILL: u8 = 3;
    /// The order was cancelled (asked for, or by the venue, or on a lost session).
    pub const CANCELED: u8 = 4;
    /// Our cancel was refused.
    pub const CANCEL_REJECTED: u8 = 5;
    /// Our replace was done: the order carries on under the replacement's id.
    pub const REPLACED: u8 = 6;
    /// Our replace was refused.
    pub const REPLACE_REJECTED: u8 = 7;
    /// The order expired.
    pub const EXPIRED: u8 = 8;
}

/// Values of [`ExecutionReportRecord::state`]: an order's life.
pub mod order_state {
    /// Sent, not yet accepted.
    pub const PENDING_NEW: u8 = 1;
    /// Accepted, nothing filled.
    pub const NEW: u8 = 2;
    /// Partly filled, the rest open.
    pub const PARTIALLY_FILLED: u8 = 3;
    /// Entirely filled.
    pub const FILLED: u8 = 4;
    /// A cancel was asked for.
    pub const PENDING_CANCEL: u8 = 5;
    /// Cancelled.
    pub const CANCELED: u8 = 6;
    /// A replace was asked for.
    pub const PENDING_REPLACE: u8 = 7;
    /// Replaced by another order.
    pub const REPLACED: u8 = 8;
    /// Refused by the venue.
    pub const REJECTED: u8 = 9;
    /// Expired.
    pub const EXPIRED: u8 = 10;
}

/// One call the execution worker made on its pre-trade gate: what it was, everything the gate
/// saw, and what it said. The worker writes one per call into its gate ring, so the reference
/// rules can judge the same calls beside it (shadow mode); the header's `sequence` counts the
/// calls since the worker started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct GateCallRecord {
    /// The common header.
    pub header: RecordHeader,
    /// The instrument's id.
    pub instrument_id: u32,
    /// The venue's index in the execution worker's venues.
    pub venue: u8,
    /// [`side::BID`] for a buy order, [`side::ASK`] for a sell order (for a restored position:
    /// the sign of the quantity).
    pub side: u8,
    /// Which call: one of [`gate_call`]'s values.
    pub call: u8,
    /// What the gate said: 0 for a pass (or a call that passes nothing), else 1 + the
    /// rejection's code.
    pub outcome: u8,
    /// The order's client order id (for a replace, the order as it will be).
    pub order_id: u64,
    /// For a replace (asked, refused or restored), the working order's id; 0 otherwise.
    pub original_id: u64,
    /// The limit price (a refused replace: the original's price), units of 1e-9.
    pub price: i64,
    /// The quantity (a fill: the quantity filled; a refused replace: the original's open
    /// quantity; a restored position: its size), units of 1e-9.
    pub quantity: i64,
    /// The reference price the gate was given, units of 1e-9.
    pub reference_price: i64,
    /// When the feed published the book the gate was given, nanoseconds.
    pub book_published_ns: u64,
    /// The age of the risk worker's heartbeat the gate was given, nanoseconds.
    pub risk_heartbeat_age_ns: u64,
    /// The time the gate was given, nanoseconds.
    pub now_ns: u64,
    /// The room under the symbol's exposure limit the gate was given.
    pub symbol_room: i64,
    /// The room under the portfolio's gross exposure limit the gate was given.
    pub portfolio_room: i64,
    /// The global trading state the gate was given.
    pub global_state: u8,
    /// The symbol's trading state the gate was given.
    pub symbol_state: u8,
    /// 1 if the book was flagged stale.
    pub stale: u8,
    /// Reserved, zero.
    pub reserved: [u8; 5],
}

/// Values of [`GateCallRecord::call`].
pub mod gate_call {
    /// A new order judged.
    pub const NEW: u8 = 1;
    /// A cancel-replace judged.
    pub const REPLACE: u8 = 2;
    /// A cancel on its way.
    pub const CANCEL_SENT: u8 = 3;
    /// A working order filled.
    pub const FILLED: u8 = 4;
    /// A working order done.
    pub const DONE: u8 = 5;
    /// A replace the venue refused.
    pub const REPLACE_REFUSED: u8 = 6;
    /// A working order restored from the journal.
    pub const RESTORE_WORKING: u8 = 7;
    /// A working order with a replace pending, restored from the journal.
    pub const RESTORE_REPLACING: u8 = 8;
    /// A position restored from the journal.
    pub const RESTORE_POSITION: u8 = 9;
    /// A gate was built (the worker started): the calls after it are the new gate's.
    pub const STARTED: u8 = 10;
}

/// A venue's best bid and ask for one instrument, as the risk worker marked its positions with
/// them: a record of the risk worker's events ring, beside the execution reports it applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MarkRecord {
    /// The common header (`publish_ts_ns`: when the feed published the book).
    pub header: RecordHeader,
    /// The instrument's id.
    pub instrument_id: u32,
    /// The venue's index in the execution worker's venues.
    pub venue: u8,
    /// Reserved, zero.
    pub reserved: [u8; 3],
    /// The best bid, units of 1e-9 (0: none).
    pub bid: i64,
    /// The best ask, units of 1e-9 (0: none).
    pub ask: i64,
}

/// One field of a layout, as numpy describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Field name (the header's fields are flattened into the record: `sequence`, not `header.sequence`).
    pub name: &'static str,
    /// numpy type string, little-endian (`<u2`, `<i8`, `|u1`), or the name of another layout in
    /// [`LAYOUTS`] for a nested struct (`Level`).
    pub format: &'static str,
    /// Byte offset in the record.
    pub offset: usize,
    /// Array length; 1 for a scalar field.
    pub count: usize,
}

/// A `repr(C)` struct with a numpy mirror: every field, in order.
pub trait Layout: Copy + Default {
    /// Its name, as Python knows it.
    const NAME: &'static str;
    /// Every field, in order.
    const FIELDS: &'static [FieldSpec];

    /// The struct's bytes.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: layouts are `repr(C)` structs of integers whose fields tile the struct with
        // no padding (checked by `assert_tiles` in the tests), so every byte is initialised.
        unsafe { std::slice::from_raw_parts((self as *const Self).cast::<u8>(), size_of::<Self>()) }
    }

    /// Reads one from the first `size_of::<Self>()` bytes of `bytes`.
    fn from_bytes(bytes: &[u8]) -> Self {
        assert!(bytes.len() >= size_of::<Self>(), "{} needs {} bytes", Self::NAME, size_of::<Self>());
        // SAFETY: the length is checked above; any bit pattern is a valid struct of integers;
        // `read_unaligned` makes no alignment assumption.
        unsafe { bytes.as_ptr().cast::<Self>().read_unaligned() }
    }
}

/// A message record: a [`Layout`] that starts with a [`RecordHeader`].
pub trait Record: Layout {
    /// The value of `header.msg_type` for this record.
    const TYPE_ID: u16;
}

const fn field(name: &'static str, format: &'static str, offset: usize) -> FieldSpec {
    FieldSpec { name, format, offset, count: 1 }
}

/// The fields of a record: its header's, flattened, then `rest`.
macro_rules! record_fields {
    ($record:ty; $($rest:expr),* $(,)?) => {{
        let base = offset_of!($record, header);
        [
            field("msg_type", "<u2", base + offset_of!(RecordHeader, msg_type)),
            field("flags", "<u2", base + offset_of!(RecordHeader, flags)),
            field("length", "<u4", base + offset_of!(RecordHeader, length)),
            field("sequence", "<u8", base + offset_of!(RecordHeader, sequence)),
            field("exchange_ts_ns", "<u8", base + offset_of!(RecordHeader, exchange_ts_ns)),
            field("receive_ts_ns", "<u8", base + offset_of!(RecordHeader, receive_ts_ns)),
            field("publish_ts_ns", "<u8", base + offset_of!(RecordHeader, publish_ts_ns)),
            $($rest),*
        ]
    }};
}

const MARKET_EVENT_FIELDS: [FieldSpec; 12] = record_fields!(MarketEvent;
    field("instrument_id", "<u4", offset_of!(MarketEvent, instrument_id)),
    field("side", "|u1", offset_of!(MarketEvent, side)),
    field("action", "|u1", offset_of!(MarketEvent, action)),
    field("price", "<i8", offset_of!(MarketEvent, price)),
    field("quantity", "<i8", offset_of!(MarketEvent, quantity)),
);

const LEVEL_FIELDS: [FieldSpec; 2] =
    [field("price", "<i8", offset_of!(Level, price)), field("quantity", "<i8", offset_of!(Level, quantity))];

const TOP_OF_BOOK_FIELDS: [FieldSpec; 12] = record_fields!(TopOfBook;
    field("instrument_id", "<u4", offset_of!(TopOfBook, instrument_id)),
    field("bid_levels", "<u2", offset_of!(TopOfBook, bid_levels)),
    field("ask_levels", "<u2", offset_of!(TopOfBook, ask_levels)),
    FieldSpec {
        name: "bids",
        format: Level::NAME,
        offset: offset_of!(TopOfBook, bids),
        count: BOOK_DEPTH,
    },
    FieldSpec {
        name: "asks",
        format: Level::NAME,
        offset: offset_of!(TopOfBook, asks),
        count: BOOK_DEPTH,
    },
);

const TRADING_STATE_FIELDS: [FieldSpec; 15] = record_fields!(TradingStateRecord;
    field("instrument_id", "<u4", offset_of!(TradingStateRecord, instrument_id)),
    field("state", "|u1", offset_of!(TradingStateRecord, state)),
    field("reason", "|u1", offset_of!(TradingStateRecord, reason)),
    field("orders", "<u2", offset_of!(TradingStateRecord, orders)),
    field("loss_room", "<i8", offset_of!(TradingStateRecord, loss_room)),
    field("drawdown_room", "<i8", offset_of!(TradingStateRecord, drawdown_room)),
    field("exposure_room", "<i8", offset_of!(TradingStateRecord, exposure_room)),
    field("net_room", "<i8", offset_of!(TradingStateRecord, net_room)),
);

impl Layout for TradingStateRecord {
    const NAME: &'static str = "TradingState";
    const FIELDS: &'static [FieldSpec] = &TRADING_STATE_FIELDS;
}

impl Record for TradingStateRecord {
    const TYPE_ID: u16 = 3;
}

const EXECUTION_REPORT_FIELDS: [FieldSpec; 20] = record_fields!(ExecutionReportRecord;
    field("instrument_id", "<u4", offset_of!(ExecutionReportRecord, instrument_id)),
    field("venue", "|u1", offset_of!(ExecutionReportRecord, venue)),
    field("side", "|u1", offset_of!(ExecutionReportRecord, side)),
    field("kind", "|u1", offset_of!(ExecutionReportRecord, kind)),
    field("state", "|u1", offset_of!(ExecutionReportRecord, state)),
    field("order_id", "<u8", offset_of!(ExecutionReportRecord, order_id)),
    field("replacement_id", "<u8", offset_of!(ExecutionReportRecord, replacement_id)),
    field("price", "<i8", offset_of!(ExecutionReportRecord, price)),
    field("quantity", "<i8", offset_of!(ExecutionReportRecord, quantity)),
    field("leaves", "<i8", offset_of!(ExecutionReportRecord, leaves)),
    field("position", "<i8", offset_of!(ExecutionReportRecord, position)),
    field("average_price", "<i8", offset_of!(ExecutionReportRecord, average_price)),
    field("realized_pnl", "<i8", offset_of!(ExecutionReportRecord, realized_pnl)),
);

impl Layout for ExecutionReportRecord {
    const NAME: &'static str = "ExecutionReport";
    const FIELDS: &'static [FieldSpec] = &EXECUTION_REPORT_FIELDS;
}

impl Record for ExecutionReportRecord {
    const TYPE_ID: u16 = 4;
}

const GATE_CALL_FIELDS: [FieldSpec; 26] = record_fields!(GateCallRecord;
    field("instrument_id", "<u4", offset_of!(GateCallRecord, instrument_id)),
    field("venue", "|u1", offset_of!(GateCallRecord, venue)),
    field("side", "|u1", offset_of!(GateCallRecord, side)),
    field("call", "|u1", offset_of!(GateCallRecord, call)),
    field("outcome", "|u1", offset_of!(GateCallRecord, outcome)),
    field("order_id", "<u8", offset_of!(GateCallRecord, order_id)),
    field("original_id", "<u8", offset_of!(GateCallRecord, original_id)),
    field("price", "<i8", offset_of!(GateCallRecord, price)),
    field("quantity", "<i8", offset_of!(GateCallRecord, quantity)),
    field("reference_price", "<i8", offset_of!(GateCallRecord, reference_price)),
    field("book_published_ns", "<u8", offset_of!(GateCallRecord, book_published_ns)),
    field("risk_heartbeat_age_ns", "<u8", offset_of!(GateCallRecord, risk_heartbeat_age_ns)),
    field("now_ns", "<u8", offset_of!(GateCallRecord, now_ns)),
    field("symbol_room", "<i8", offset_of!(GateCallRecord, symbol_room)),
    field("portfolio_room", "<i8", offset_of!(GateCallRecord, portfolio_room)),
    field("global_state", "|u1", offset_of!(GateCallRecord, global_state)),
    field("symbol_state", "|u1", offset_of!(GateCallRecord, symbol_state)),
    field("stale", "|u1", offset_of!(GateCallRecord, stale)),
    FieldSpec { name: "reserved", format: "|u1", offset: offset_of!(GateCallRecord, reserved), count: 5 },
);

impl Layout for GateCallRecord {
    const NAME: &'static str = "GateCall";
    const FIELDS: &'static [FieldSpec] = &GATE_CALL_FIELDS;
}

impl Record for GateCallRecord {
    const TYPE_ID: u16 = 5;
}

const MARK_FIELDS: [FieldSpec; 12] = record_fields!(MarkRecord;
    field("instrument_id", "<u4", offset_of!(MarkRecord, instrument_id)),
    field("venue", "|u1", offset_of!(MarkRecord, venue)),
    FieldSpec { name: "reserved", format: "|u1", offset: offset_of!(MarkRecord, reserved), count: 3 },
    field("bid", "<i8", offset_of!(MarkRecord, bid)),
    field("ask", "<i8", offset_of!(MarkRecord, ask)),
);

impl Layout for MarkRecord {
    const NAME: &'static str = "Mark";
    const FIELDS: &'static [FieldSpec] = &MARK_FIELDS;
}

impl Record for MarkRecord {
    const TYPE_ID: u16 = 6;
}

impl Layout for MarketEvent {
    const NAME: &'static str = "MarketEvent";
    const FIELDS: &'static [FieldSpec] = &MARKET_EVENT_FIELDS;
}

impl Record for MarketEvent {
    const TYPE_ID: u16 = 1;
}

impl Layout for Level {
    const NAME: &'static str = "Level";
    const FIELDS: &'static [FieldSpec] = &LEVEL_FIELDS;
}

impl Layout for TopOfBook {
    const NAME: &'static str = "TopOfBook";
    const FIELDS: &'static [FieldSpec] = &TOP_OF_BOOK_FIELDS;
}

impl Record for TopOfBook {
    const TYPE_ID: u16 = 2;
}

/// A layout's description, for building its numpy dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutSpec {
    /// The struct's name.
    pub name: &'static str,
    /// Its `msg_type` if it is a message record.
    pub type_id: Option<u16>,
    /// Its size in bytes.
    pub size: usize,
    /// Its fields.
    pub fields: &'static [FieldSpec],
}

impl LayoutSpec {
    /// The description of a nested struct.
    pub const fn of<L: Layout>() -> Self {
        Self { name: L::NAME, type_id: None, size: size_of::<L>(), fields: L::FIELDS }
    }

    /// The description of a message record.
    pub const fn of_record<R: Record>() -> Self {
        Self { type_id: Some(R::TYPE_ID), ..Self::of::<R>() }
    }
}

/// Every layout, nested structs before the records that use them.
pub const LAYOUTS: [LayoutSpec; 7] = [
    LayoutSpec::of::<Level>(),
    LayoutSpec::of_record::<MarketEvent>(),
    LayoutSpec::of_record::<TopOfBook>(),
    LayoutSpec::of_record::<TradingStateRecord>(),
    LayoutSpec::of_record::<ExecutionReportRecord>(),
    LayoutSpec::of_record::<GateCallRecord>(),
    LayoutSpec::of_record::<MarkRecord>(),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn size_of_field(spec: &FieldSpec) -> usize {
        let one = match LAYOUTS.iter().find(|l| l.name == spec.format) {
            Some(nested) => nested.size,
            None => spec.format[2..].parse().unwrap(),
        };
        one * spec.count
    }

    /// Fields tile the struct exactly, apart from named reserved bytes: no padding, and no field
    /// missing from the dtype.
    fn assert_tiles(layout: &LayoutSpec, reserved: usize) {
        let covered: usize = layout.fields.iter().map(size_of_field).sum();
        assert_eq!(covered + reserved, layout.size, "{}", layout.name);
        for pair in layout.fields.windows(2) {
            assert!(pair[0].offset + size_of_field(&pair[0]) <= pair[1].offset, "{} overlaps", pair[0].name);
        }
    }

    #[test]
    fn market_events_are_one_cache_line() {
        assert_eq!(size_of::<RecordHeader>(), 40);
        assert_eq!(size_of::<MarketEvent>(), 64);
        assert_tiles(&LayoutSpec::of_record::<MarketEvent>(), 2);
    }

    #[test]
    fn top_of_book_fields_cover_the_record() {
        assert_eq!(size_of::<TopOfBook>(), 40 + 8 + 2 * BOOK_DEPTH * 16);
        assert_tiles(&LayoutSpec::of_record::<TopOfBook>(), 0);
        assert_tiles(&LayoutSpec::of::<Level>(), 0);
    }

    #[test]
    fn trading_state_fields_cover_the_record() {
        assert_eq!(size_of::<TradingStateRecord>(), 48 + 4 * 8);
        assert_tiles(&LayoutSpec::of_record::<TradingStateRecord>(), 0);
    }

    #[test]
    fn execution_report_fields_cover_the_record() {
        assert_eq!(size_of::<ExecutionReportRecord>(), 40 + 8 + 8 * 8);
        assert_tiles(&LayoutSpec::of_record::<ExecutionReportRecord>(), 0);
    }

    #[test]
    fn gate_call_fields_cover_the_record() {
        assert_eq!(size_of::<GateCallRecord>(), 40 + 8 + 10 * 8 + 8);
        assert_tiles(&LayoutSpec::of_record::<GateCallRecord>(), 0);
    }

    #[test]
    fn mark_fields_cover_the_record() {
        assert_eq!(size_of::<MarkRecord>(), 40 + 8 + 16);
        assert_tiles(&LayoutSpec::of_record::<MarkRecord>(), 0);
    }

    #[test]
    fn records_round_trip_through_bytes() {
        let mut event = MarketEvent {
            instrument_id: 7,
            side: 1,
            action: 4,
            price: 101 * FIXED_POINT_SCALE,
            quantity: 3,
            ..Default::default()
        };
        event.header.sequence = 42;
        assert_eq!(MarketEvent::from_bytes(event.as_bytes()), event);
    }
}
