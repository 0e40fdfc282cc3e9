//! The pre-trade gate as the execution worker calls it: every call goes to the [`Gate`] and, as
//! a [`GateCallRecord`] with everything the gate saw and what it said, into the worker's gate
//! ring, where shadow mode reads it and judges the same calls with the reference rules. The
//! ring never waits for its readers; without a ring, calls just go to the gate. Reading the
//! gate (its counts, holdings) goes straight to it.

use std::ops::Deref;

use risk::{Gate, MarketView, NewOrder, Reject, Replace, Side, TradingView};
use shm_layout::records::{gate_call, side, GateCallRecord, Layout, Record, RecordHeader};
use shm_layout::{broadcast, ShmResult};

/// The gate, with its calls published.
#[derive(Debug)]
pub struct GateTap {
    gate: Gate,
    ring: Option<broadcast::Writer>,
    /// Calls published so far.
    calls: u64,
}

/// What a call gave the gate, beyond the order.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    market: Option<MarketView>,
    trading: Option<TradingView>,
    now_ns: u64,
}

fn side_code(s: Side) -> u8 {
    match s {
        Side::Buy => side::BID,
        Side::Sell => side::ASK,
    }
}

fn outcome(result: Result<(), Reject>) -> u8 {
    result.err().map_or(0, |reason| reason.code() + 1)
}

impl GateTap {
    /// `gate`, its calls published into `ring` (if any), after a record saying a new gate
    /// starts there.
    pub fn new(gate: Gate, ring: Option<broadcast::Writer>) -> Self {
        let mut tap = Self { gate, ring, calls: 0 };
        let nothing = NewOrder { id: 0, venue: 0, instrument: 0, side: Side::Buy, price: 0, quantity: 0 };
        tap.publish(gate_call::STARTED, &nothing, 0, Seen::default(), Ok(()));
        tap
    }

    fn publish(
        &mut self,
        call: u8,
        order: &NewOrder,
        original_id: u64,
        seen: Seen,
        result: Result<(), Reject>,
    ) {
        let Some(ring) = self.ring.as_mut() else { return };
        let market = seen.market.unwrap_or(MarketView { reference_price: 0, published_ns: 0, stale: false });
        let trading = seen.trading.unwrap_or(TradingView::ACTIVE);
        let record = GateCallRecord {
            header: RecordHeader {
                msg_type: GateCallRecord::TYPE_ID,
                length: std::mem::size_of::<GateCallRecord>() as u32,
                sequence: self.calls,
                ..RecordHeader::default()
            },
            instrument_id: order.instrument,
            venue: order.venue as u8,
            side: side_code(order.side),
            call,
            outcome: outcome(result),
            order_id: order.id,
            original_id,
            price: order.price,
            quantity: order.quantity,
            reference_price: market.reference_price,
            book_published_ns: market.published_ns,
            risk_heartbeat_age_ns: trading.risk_heartbeat_age_ns,
            now_ns: seen.now_ns,
            symbol_room: trading.symbol_room,
            portfolio_room: trading.portfolio_room,
            global_state: trading.global,
            symbol_state: trading.symbol,
            stale: u8::from(market.stale),
            reserved: [0; 5],
        };
        // The ring only refuses a record that does not fit, and this one always does.
        let published: ShmResult<u64> = ring.publish(record.as_bytes());
        debug_assert!(published.is_ok());
        self.calls += 1;
    }

    /// [`Gate::check_new`].
    pub fn check_new(
        &mut self,
        order: &NewOrder,
        market: &MarketView,
        trading: &TradingView,
        now_ns: u64,
    ) -> Result<(), Reject> {
        let result = self.gate.check_new(order, market, trading, now_ns);
        let seen = Seen { market: Some(*market), trading: Some(*trading), now_ns };
        self.publish(gate_call::NEW, order, 0, seen, result);
        result
    }

    /// [`Gate::check_replace`].
    pub fn check_replace(
        &mut self,
        replace: &Replace,
        market: &MarketView,
        trading: &TradingView,
        now_ns: u64,
    ) -> Result<(), Reject> {
        let result = self.gate.check_replace(replace, market, trading, now_ns);
        let seen = Seen { market: Some(*market), trading: Some(*trading), now_ns };
        self.publish(gate_call::REPLACE, &replace.order, replace.original, seen, result);
        result
    }

    /// [`Gate::cancel_sent`].
    pub fn cancel_sent(&mut self, venue: usize, instrument: u32, now_ns: u64) {
        self.gate.cancel_sent(venue, instrument, now_ns);
        let order = NewOrder { id: 0, venue, instrument, side: Side::Buy, price: 0, quantity: 0 };
        self.publish(gate_call::CANCEL_SENT, &order, 0, Seen { now_ns, ..Seen::default() }, Ok(()));
    }

    /// [`Gate::filled`].
    pub fn filled(&mut self, venue: usize, instrument: u32, id: u64, quantity: i64) {
        self.gate.filled(venue, instrument, id, quantity);
        let order = NewOrder { id, venue, instrument, side: Side::Buy, price: 0, quantity };
        self.publish(gate_call::FILLED, &order, 0, Seen::default(), Ok(()));
    }

    /// [`Gate::done`].
    pub fn done(&mut self, venue: usize, instrument: u32, id: u64) {
        self.gate.done(venue, instrument, id);
        let order = NewOrder { id, venue, instrument, side: Side::Buy, price: 0, quantity: 0 };
        self.publish(gate_call::DONE, &order, 0, Seen::default(), Ok(()));
    }

    /// [`Gate::replace_refused`].
    pub fn replace_refused(&mut self, replace: &Replace, original_price: i64, original_open: i64) {
        self.gate.replace_refused(replace, original_price, original_open);
        let order = NewOrder { price: original_price, quantity: original_open, ..replace.order };
        self.publish(gate_call::REPLACE_REFUSED, &order, replace.original, Seen::default(), Ok(()));
    }

    /// [`Gate::restore_working`].
    pub fn restore_working(&mut self, order: &NewOrder) -> Result<(), Reject> {
        let result = self.gate.restore_working(order);
        self.publish(gate_call::RESTORE_WORKING, order, 0, Seen::default(), result);
        result
    }

    /// [`Gate::restore_replacing`].
    pub fn restore_replacing(&mut self, original: u64, replacement: &NewOrder) -> Result<(), Reject> {
        let result = self.gate.restore_replacing(original, replacement);
        self.publish(gate_call::RESTORE_REPLACING, replacement, original, Seen::default(), result);
        result
    }

    /// [`Gate::restore_position`].
    pub fn restore_position(&mut self, venue: usize, instrument: u32, quantity: i64) -> Result<(), Reject> {
        let result = self.gate.restore_position(venue, instrument, quantity);
        let side = if quantity >= 0 { Side::Buy } else { Side::Sell };
        let order = NewOrder { id: 0, venue, instrument, side, price: 0, quantity };
        self.publish(gate_call::RESTORE_POSITION, &order, 0, Seen::default(), result);
        result
    }
}

impl Deref for GateTap {
    type Target = Gate;

    /// The gate, to read (every change goes through the tap).
    fn deref(&self) -> &Gate {
        &self.gate
    }
}
