//! The execution loop: each turn it takes the venues' reports (into the OMS, the journal, the
//! gate and the strategy), reads the trading state and the books from shared memory without
//! locks, lets the strategy act on books that changed, sends every new order and replace
//! through the pre-trade gate and out through its venue's gateway, and writes the turn's
//! requests together. While trading is halted or killed it cancels every open order. Every
//! report applied also goes, as a record, into the reports queue the risk worker reads.
//!
//! This module has the loop and the reports' way in; `quoting` turns books into orders
//! through the gate, `linked` serves a strategy on the slower path, and `sessions` keeps the
//! venues' sessions (reconnects, replays, orders a venue will not report on, orphans).
//!
//! A turn allocates nothing once its buffers have grown, takes no lock, and makes no system
//! call but the gateways' reads and writes (the journal is a memory mapping, readied for the
//! next appends after the turn's writes, where it also grows, with a system call, once per
//! growth step).

use std::sync::atomic::{AtomicBool, Ordering};

use risk::{Gate, NewOrder, Replace, TradingView};

use crate::gate_tap::GateTap;
use shm_layout::records::{
    trading_state, ExecutionReportRecord, Layout, TopOfBook, TradingStateRecord, NO_LIMIT,
};
use shm_layout::slots::SlotRead;
use shm_layout::{monotonic_ns, queue, realtime_ns, slots, ShmResult};

use crate::gateway::{self, Gateway, OrderEntry, VenueReport};
use crate::journal::{Entry, JournalError, Writer};
use crate::metrics::{Counter, EngineMetrics, Stage};
use crate::oms::{Oms, Report};
use crate::order_state::OrderState;
use crate::reconnect::Reconnection;
use crate::reports_out::{applied_record, ReportsOut};
use crate::strategy::{Action, MarketMaker, Top, MAX_VENUES};
use crate::strategy_link::LoopEnd;

mod linked;
mod quoting;
mod sessions;

/// How long after a failed attempt to log on to a venue again, nanoseconds.
const RETRY_AFTER_NS: u64 = 500_000_000;

/// When the tick behind an order was received by its feed, published into shared memory and
/// seen by the loop, realtime nanoseconds (0: not known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tick {
    received_ns: u64,
    published_ns: u64,
    seen_ns: u64,
}

/// One symbol the engine trades: its instrument id, the venues that list it, its market maker.
#[derive(Debug)]
pub struct SymbolBook {
    /// The instrument's id.
    pub instrument: u32,
    /// Which venues list it.
    pub listed: [bool; MAX_VENUES],
    /// The built-in market maker for it; `None`: the linked strategy trades it.
    pub maker: Option<MarketMaker>,
}

/// Where the engine reads and writes.
#[derive(Debug)]
pub struct Wiring {
    /// Each venue's gateway (`None`: the engine does not trade there).
    pub gateways: Vec<Option<Gateway>>,
    /// Each venue's book slots (`None`: no feed).
    pub books: Vec<Option<slots::Reader>>,
    /// The trading state slots (key 0 global, then per instrument).
    pub trading: slots::Reader,
    /// The queue every applied report goes into, for the risk worker (`None`: none).
    pub reports: Option<queue::Writer>,
    /// The strategy on the slower path (Python) that trades the symbols without a market maker.
    pub strategy: Option<LoopEnd>,
    /// The symbols traded.
    pub symbols: Vec<SymbolBook>,
    /// A book older than this (since its feed published it) is not used, nanoseconds.
    pub max_book_age_ns: u64,
}

/// The execution loop's state.
#[derive(Debug)]
pub struct Engine {
    wiring: Wiring,
    gate: GateTap,
    oms: Oms,
    journal: Writer,
    reports: ReportsOut,
    metrics: EngineMetrics,
    next_id: u64,
    actions: Vec<Action>,
    /// Per symbol and venue, the version of the book last acted on.
    seen: Vec<u64>,
    tops: Vec<Top>,
    /// When each venue's book in `tops` was published, realtime nanoseconds.
    published: Vec<u64>,
    /// The symbol's position on each venue, for the strategy.
    venue_positions: Vec<i64>,
    record: [u8; std::mem::size_of::<TopOfBook>()],
    /// The ticks behind this turn's orders, to time them once written, and whether the order
    /// came from the linked strategy.
    ticks: Vec<(Tick, bool)>,
    killed: bool,
    turns: u64,
    /// Venues whose gateway failed, waiting to reconnect.
    down: [bool; MAX_VENUES],
    /// Each down venue's gateway while it logs on again off the loop.
    reconnecting: Vec<Option<Reconnection>>,
    /// When each down venue may be tried again (monotonic nanoseconds).
    retry_at_ns: [u64; MAX_VENUES],
    /// Venues that cancel on disconnect, logged on again and replaying what we missed: nothing
    /// new goes to them until the replay is done.
    replaying: [bool; MAX_VENUES],
    /// Orders a previous worker left working, which no strategy here manages: cancelled as
    /// soon as they can be.
    orphans: Vec<u64>,
    /// The orders a halt or kill is cancelling this turn (reused).
    sweep: Vec<u64>,
    /// Per trading-state key, the state and room last read: what the engine goes on with
    /// while the risk worker is caught mid-write (descheduled there).
    held_states: Vec<Option<(u8, i64)>>,
}

/// Why the loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The journal could not be written: trading without an audit trail is refused.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Shared memory could not be read.
    #[error(transparent)]
    Shm(#[from] shm_layout::ShmError),
    /// A venue's gateway was lost while logging on again (its thread could not start, or
    /// panicked): the worker stops, to be restarted from its journal.
    #[error("venue {0}'s gateway was lost while logging on again")]
    Reconnect(usize),
}

impl Engine {
    /// An engine over `wiring`, judging orders with `gate`, keeping `oms` (rebuilt from the
    /// journal), writing `journal` and `metrics`; client order ids start after `last_id`.
    pub fn new(
        mut wiring: Wiring,
        gate: GateTap,
        oms: Oms,
        journal: Writer,
        metrics: EngineMetrics,
        last_id: u64,
    ) -> Self {
        let venues = wiring.gateways.len();
        let slots = wiring.symbols.len() * venues;
        Self {
            reports: ReportsOut::new(wiring.reports.take()),
            seen: vec![0; slots],
            tops: vec![Top::default(); venues],
            published: vec![0; venues],
            held_states: Vec::new(),
            venue_positions: vec![0; venues],
            wiring,
            gate,
            oms,
            journal,
            metrics,
            next_id: last_id,
            actions: Vec::with_capacity(256),
            record: [0; std::mem::size_of::<TopOfBook>()],
            ticks: Vec::with_capacity(256),
            killed: false,
            turns: 0,
            down: [false; MAX_VENUES],
            reconnecting: (0..venues).map(|_| None).collect(),
            retry_at_ns: [0; MAX_VENUES],
            orphans: Vec::new(),
            replaying: [false; MAX_VENUES],
            sweep: Vec::with_capacity(256),
        }
    }

    /// The OMS (orders, positions).
    pub fn oms(&self) -> &Oms {
        &self.oms
    }

    /// The gate (its counts).
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// Turns until `stop` is set; an idle turn yields the core unless `spin`.
    pub fn run(&mut self, stop: &AtomicBool, spin: bool) -> Result<(), EngineError> {
        while !stop.load(Ordering::Acquire) {
            if !self.turn()? && !spin {
                std::thread::yield_now();
            }
        }
        Ok(())
    }

    /// One turn; whether anything happened.
    pub fn turn(&mut self) -> Result<bool, EngineError> {
        self.turns += 1;
        let mut busy = self.take_reports()?;
        busy |= self.pull_orphans()?;
        busy |= self.take_strategy_requests()?;
        let trading = self.trading_view(0)?;
        match trading.global {
            trading_state::ACTIVE | trading_state::REDUCE_ONLY => {
                self.killed = false;
                busy |= self.act_on_books()?;
            }
            // Halted (cancels only), killed, or a state the engine does not know: nothing new
            // goes out and every order that can be cancelled is, each turn, so an order
            // accepted later or a cancel the venue refused is taken down too.
            state => {
                if state == trading_state::KILLED && !self.killed {
                    self.killed = true;
                    self.metrics.add(Counter::Kills, 1);
                }
                busy |= self.cancel_everything(None)?;
            }
        }
        self.write_out();
        // The turn's orders are out; what follows is off the tick-to-trade path. Everything
        // journalled this turn is in the page cache already (appended before it was sent): the
        // risk worker hears of no report a restarted worker would apply again.
        if self.reports.flush()? > 0 {
            self.metrics.add(Counter::ReportsHeldBack, 1);
        }
        if let Some(link) = self.wiring.strategy.as_mut() {
            link.flush();
        }
        self.journal.prepare()?;
        self.metrics.set(Counter::OpenOrders, self.oms.open_count() as u64);
        self.metrics.heartbeat();
        Ok(busy)
    }

    /// Applies every report the venues have sent.
    fn take_reports(&mut self) -> Result<bool, EngineError> {
        let mut busy = false;
        for venue in 0..self.wiring.gateways.len() {
            if self.down[venue] {
                busy |= self.tend_reconnection(venue)?;
                continue;
            }
            let (taken, lost) = self.take_venue_reports(venue)?;
            busy |= taken;
            if lost {
                self.lost(venue);
            } else if self.replaying[venue]
                && self.wiring.gateways[venue].as_ref().is_some_and(Gateway::replay_done)
            {
                // Every order of the last session the venue knew of is over by its replay;
                // what is still pending was never seen (or its refusal not kept): it is over.
                self.replaying[venue] = false;
                self.session_ended(venue)?;
            }
        }
        Ok(busy)
    }

    /// Applies every report `venue` has sent; whether there was one, and whether its
    /// connection was lost.
    fn take_venue_reports(&mut self, venue: usize) -> Result<(bool, bool), EngineError> {
        let mut busy = false;
        while let Some(gateway) = self.wiring.gateways[venue].as_mut() {
            match gateway.poll() {
                Ok(Some(report)) => {
                    busy = true;
                    // Where the session is after it, kept with the report.
                    let next = gateway.next_sequence();
                    self.on_report(venue, &report, next)?;
                }
                Ok(None) => break,
                // A message naming what is not ours is skipped; the session goes on.
                Err(error) if error.is_refusal() => self.metrics.add(Counter::ReportsRefused, 1),
                Err(_) => return Ok((busy, true)),
            }
        }
        Ok((busy, false))
    }

    fn on_report(
        &mut self,
        venue: usize,
        report: &VenueReport,
        next: Option<u64>,
    ) -> Result<(), EngineError> {
        self.metrics.add(Counter::Reports, 1);
        // The order the report is about (OUCH refuses a replace by naming the replacement).
        let id = self.oms.original_of(report.id).unwrap_or(report.id);
        let before = self.oms.order(id).copied();
        if gateway::apply(&mut self.oms, report).is_err() {
            self.metrics.add(Counter::ReportsRefused, 1);
            return Ok(());
        }
        self.journal.append(&match next {
            Some(next) => Entry::Sequenced(*report, venue, next),
            None => Entry::Report(*report),
        })?;
        let Some(order) = self.oms.order(id).copied() else { return Ok(()) };
        self.report_out(report.report, id, before.as_ref());
        let symbol = self.symbol_of(order.instrument);
        match report.report {
            Report::Fill { quantity, .. } => {
                self.metrics.add(Counter::Fills, 1);
                self.gate.filled(venue, order.instrument, id, quantity);
            }
            Report::Accepted => {
                if before.is_none() {
                    // Adopted from a venue's replay: it counts against the limits from now on.
                    let working = NewOrder {
                        id,
                        venue,
                        instrument: order.instrument,
                        side: order.side,
                        price: order.price,
                        quantity: order.open(),
                    };
                    if self.gate.restore_working(&working).is_err() {
                        self.metrics.add(Counter::ReportsRefused, 1);
                    }
                }
                self.order_live(symbol, id);
            }
            Report::Replaced => {
                if let Some(new) = before.and_then(|o| o.replacement) {
                    self.order_live(symbol, new.id);
                }
            }
            Report::ReplaceRejected | Report::Rejected if before.is_some_and(|o| o.replacement.is_some()) => {
                // The venue refused a replace the gate passed: the original works on as it was.
                if let Some(new) = before.and_then(|o| o.replacement) {
                    let order_now = NewOrder {
                        id: new.id,
                        venue,
                        instrument: order.instrument,
                        side: order.side,
                        price: new.price,
                        quantity: new.quantity,
                    };
                    self.gate.replace_refused(
                        &Replace { original: id, order: order_now },
                        order.price,
                        order.open(),
                    );
                    self.order_done(symbol, new.id);
                }
            }
            _ => {}
        }
        // A replaced order lives on in the gate under its new id.
        self.tell_strategy(venue, &order, report.report);
        if order.state.is_final() && report.report != Report::Replaced {
            self.gate.done(venue, order.instrument, id);
            self.order_done(symbol, id);
        }
        Ok(())
    }

    /// Order `id` of `symbol` works at its venue: its market maker counts it live.
    fn order_live(&mut self, symbol: Option<usize>, id: u64) {
        if let Some(maker) = symbol.and_then(|s| self.wiring.symbols[s].maker.as_mut()) {
            maker.order_live(id);
        }
    }

    /// Order `id` of `symbol` is over (or never went out): whoever placed it forgets it.
    fn order_done(&mut self, symbol: Option<usize>, id: u64) {
        if let Some(maker) = symbol.and_then(|s| self.wiring.symbols[s].maker.as_mut()) {
            maker.order_done(id);
        } else if let Some(link) = self.wiring.strategy.as_mut() {
            link.done(id);
        }
    }

    /// Sends the record of `report`, just applied to order `id` (which was `before` it), to
    /// the risk worker's queue.
    fn report_out(&mut self, report: Report, id: u64, before: Option<&crate::Order>) {
        if let Some(record) = applied_record(&self.oms, report, id, before, realtime_ns()) {
            self.reports.push(record);
        }
    }

    /// Queues records of reports the journal holds but the risk worker's queue never got (a
    /// worker that died between the two), before anything new.
    pub fn report_missed(&mut self, records: impl IntoIterator<Item = ExecutionReportRecord>) {
        for record in records {
            self.reports.push(record);
        }
    }

    fn symbol_of(&self, instrument: u32) -> Option<usize> {
        self.wiring.symbols.iter().position(|s| s.instrument == instrument)
    }

    /// The trading state the gate sees for `instrument` (0: only the global state), with the
    /// room the risk worker leaves under its exposure limits.
    fn trading_view(&mut self, instrument: u32) -> ShmResult<TradingView> {
        let (global, portfolio_room) = self.state_of(0)?;
        let (symbol, symbol_room) = if instrument == 0 {
            (trading_state::ACTIVE, NO_LIMIT)
        } else {
            self.state_of(u64::from(instrument))?
        };
        let heartbeat = self.wiring.trading.writer_heartbeat_ns();
        let age = if heartbeat == 0 { u64::MAX } else { monotonic_ns().saturating_sub(heartbeat) };
        Ok(TradingView { global, symbol, risk_heartbeat_age_ns: age, symbol_room, portfolio_room })
    }

    /// The trading state under `key` (0: global, else an instrument) and its exposure room; a
    /// state never written is unknown, and the gate fails closed on it. A state the risk
    /// worker is caught writing (descheduled mid-write) is the one it held just before: the
    /// state last read here, or unknown if none was.
    fn state_of(&mut self, key: u64) -> ShmResult<(u8, i64)> {
        let mut record = [0u8; std::mem::size_of::<TradingStateRecord>()];
        let read = self.wiring.trading.read_unless_busy(key, &mut record)?;
        // The read succeeded, so `key` is within the segment's keys: the table stays as small.
        let at = key as usize;
        if self.held_states.len() <= at {
            self.held_states.resize(at + 1, None);
        }
        let state = match read {
            SlotRead::Read(_) => {
                let held = TradingStateRecord::from_bytes(&record);
                Some((held.state, held.exposure_room))
            }
            SlotRead::Empty => None,
            SlotRead::Busy { .. } => self.held_states[at],
        };
        self.held_states[at] = state;
        Ok(state.unwrap_or((u8::MAX, NO_LIMIT)))
    }

    fn cancel(&mut self, id: u64) -> Result<(), EngineError> {
        let Ok(order) = self.oms.cancel_requested(id).copied() else { return Ok(()) };
        self.journal.append(&Entry::CancelRequested(id))?;
        self.gate.cancel_sent(order.venue, order.instrument, realtime_ns());
        self.send(order.venue, |g| g.send_cancel(&order));
        self.metrics.add(Counter::Cancels, 1);
        Ok(())
    }

    /// Cancels every open order (of `instrument`, or of all) that can be cancelled now
    /// (accepted, not already being cancelled or replaced); whether there was one.
    fn cancel_everything(&mut self, instrument: Option<u32>) -> Result<bool, EngineError> {
        self.sweep.clear();
        self.sweep.extend(
            self.oms
                .open_orders()
                .filter(|o| matches!(o.state, OrderState::New | OrderState::PartiallyFilled))
                .filter(|o| instrument.map_or(true, |i| o.instrument == i))
                .map(|o| o.id),
        );
        for at in 0..self.sweep.len() {
            let id = self.sweep[at];
            self.cancel(id)?;
        }
        Ok(!self.sweep.is_empty())
    }

    /// Sends through `venue`'s gateway; a failure takes the venue down until it reconnects.
    fn send(&mut self, venue: usize, send: impl FnOnce(&mut Gateway) -> Result<(), gateway::GatewayError>) {
        let failed = match self.wiring.gateways[venue].as_mut() {
            Some(gateway) => send(gateway).is_err(),
            None => true,
        };
        if failed {
            self.metrics.add(Counter::SendFailures, 1);
        }
    }

    /// Writes every gateway's queued requests and times the turn's orders from their ticks.
    fn write_out(&mut self) {
        let writing = if self.ticks.is_empty() { 0 } else { realtime_ns() };
        for venue in 0..self.wiring.gateways.len() {
            if let Some(gateway) = self.wiring.gateways[venue].as_mut() {
                if gateway.flush().is_err() {
                    self.metrics.add(Counter::SendFailures, 1);
                }
            }
        }
        let written = realtime_ns();
        for &(tick, linked) in &self.ticks {
            if tick.received_ns == 0 {
                continue;
            }
            self.metrics.tick_to_trade(written.saturating_sub(tick.received_ns), linked);
            if !linked && tick.published_ns > 0 {
                self.metrics.stage(Stage::Feed, tick.published_ns.saturating_sub(tick.received_ns));
                self.metrics.stage(Stage::Handoff, tick.seen_ns.saturating_sub(tick.published_ns));
                self.metrics.stage(Stage::Decide, writing.saturating_sub(tick.seen_ns));
                self.metrics.stage(Stage::Write, written.saturating_sub(writing));
            }
        }
        self.ticks.clear();
    }
}
