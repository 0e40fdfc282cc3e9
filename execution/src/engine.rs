//! The execution loop: each turn it takes the venues' reports (into the OMS, the journal, the
//! gate and the strategy), reads the trading state and the books from shared memory without
//! locks, lets the strategy act on books that changed, sends every new order and replace
//! through the pre-trade gate and out through its venue's gateway, and writes the turn's
//! requests together. While trading is halted or killed it cancels every open order. Every
//! report applied also goes, as a record, into the reports queue the risk worker reads.
//!
//! A turn allocates nothing once its buffers have grown, takes no lock, and makes no system
//! call but the gateways' reads and writes (the journal is a memory mapping; it grows, with a
//! system call, once per growth step).

use std::sync::atomic::{AtomicBool, Ordering};

use risk::{Gate, MarketView, NewOrder, Replace, TradingView};
use shm_layout::records::{
    trading_state, ExecutionReportRecord, Layout, TopOfBook, TradingStateRecord, FLAG_STALE,
};
use shm_layout::{monotonic_ns, queue, realtime_ns, slots, ShmResult};

use crate::gateway::{self, cancelled_on_disconnect, resend_pending, Gateway, OrderEntry, VenueReport};
use crate::journal::{Entry, JournalError, Writer};
use crate::metrics::{Counter, EngineMetrics};
use crate::oms::{Oms, Replacement, Report};
use crate::order_state::OrderState;
use crate::reconnect::Reconnection;
use crate::reports_out::{applied_record, ReportsOut};
use crate::strategy::{Action, MarketMaker, Top, MAX_VENUES};
use crate::strategy_link::{BookUpdate, LoopEnd, StrategyEvent, StrategyRequest};

/// How long after a failed attempt to log on to a venue again, nanoseconds.
const RETRY_AFTER_NS: u64 = 500_000_000;

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
    gate: Gate,
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
    /// Receive times of the ticks behind this turn's orders, to time them once written, and
    /// whether the order came from the linked strategy.
    ticks: Vec<(u64, bool)>,
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
        gate: Gate,
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
        // Everything journalled this turn is in the page cache already (appended before it was
        // sent): the risk worker hears of no report a restarted worker would apply again.
        if self.reports.flush()? > 0 {
            self.metrics.add(Counter::ReportsHeldBack, 1);
        }
        if let Some(link) = self.wiring.strategy.as_mut() {
            link.flush();
        }
        self.write_out();
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

    /// Tells the linked strategy of a report on one of its orders.
    fn tell_strategy(&mut self, venue: usize, order: &crate::Order, report: Report) {
        let Some(link) = self.wiring.strategy.as_mut() else { return };
        let Some(tag) = link.tag_of(order.id) else { return };
        let position = self.oms.position_of_symbol(order.instrument);
        link.tell(StrategyEvent::Report {
            tag,
            id: order.id,
            venue,
            instrument: order.instrument,
            side: order.side,
            report,
            leaves: if order.state.is_final() { 0 } else { order.open() },
            position,
            receive_ns: realtime_ns(),
        });
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

    /// Carries out what the linked strategy asked for; whether it asked anything.
    fn take_strategy_requests(&mut self) -> Result<bool, EngineError> {
        let mut busy = false;
        while let Some(request) = self.wiring.strategy.as_mut().and_then(LoopEnd::next_request) {
            busy = true;
            match request {
                StrategyRequest::Cancel { id } => {
                    if self.wiring.strategy.as_ref().and_then(|l| l.tag_of(id)).is_some() {
                        self.cancel(id)?;
                    }
                }
                StrategyRequest::New { tag, venue, instrument, side, price, quantity, tick_ns } => {
                    let symbol =
                        self.symbol_of(instrument).filter(|&s| self.wiring.symbols[s].maker.is_none());
                    let refused = match symbol {
                        Some(s) if venue < self.wiring.gateways.len() => {
                            self.read_books(s)?;
                            self.next_id += 1;
                            let order =
                                NewOrder { id: self.next_id, venue, instrument, side, price, quantity };
                            // Owned first, so a refusal's clean-up finds it.
                            if let Some(link) = self.wiring.strategy.as_mut() {
                                link.own(order.id, tag);
                            }
                            self.execute(s, Action::New(order), tick_ns, true)?
                                .map(|reason| (reason, order.id))
                        }
                        _ => Some((risk::Reject::UnknownInstrument, 0)),
                    };
                    let Some(link) = self.wiring.strategy.as_mut() else { continue };
                    match refused {
                        None => link.tell(StrategyEvent::Sent { tag, id: self.next_id }),
                        Some((reason, id)) => {
                            link.done(id);
                            link.tell(StrategyEvent::Refused { tag, reason });
                        }
                    }
                }
            }
        }
        Ok(busy)
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

    /// The trading state the gate sees for `instrument` (0: only the global state).
    fn trading_view(&mut self, instrument: u32) -> ShmResult<TradingView> {
        let global = self.state_of(0)?;
        let symbol =
            if instrument == 0 { trading_state::ACTIVE } else { self.state_of(u64::from(instrument))? };
        let heartbeat = self.wiring.trading.writer_heartbeat_ns();
        let age = if heartbeat == 0 { u64::MAX } else { monotonic_ns().saturating_sub(heartbeat) };
        Ok(TradingView { global, symbol, risk_heartbeat_age_ns: age })
    }

    /// The trading state under `key` (0: global, else an instrument); a state never written
    /// is unknown, and the gate fails closed on it.
    fn state_of(&self, key: u64) -> ShmResult<u8> {
        let mut record = [0u8; std::mem::size_of::<TradingStateRecord>()];
        Ok(match self.wiring.trading.read(key, &mut record)? {
            Some(_) => TradingStateRecord::from_bytes(&record).state,
            None => u8::MAX,
        })
    }

    /// Reads each symbol's books; where one changed, the strategy acts. A symbol halted or
    /// killed on its own has its orders cancelled instead, each turn.
    fn act_on_books(&mut self) -> Result<bool, EngineError> {
        let mut busy = false;
        for s in 0..self.wiring.symbols.len() {
            let instrument = self.wiring.symbols[s].instrument;
            if !matches!(
                self.state_of(u64::from(instrument))?,
                trading_state::ACTIVE | trading_state::REDUCE_ONLY
            ) {
                busy |= self.cancel_everything(Some(instrument))?;
                continue;
            }
            let Some(newest_tick) = self.read_books(s)? else { continue };
            busy = true;
            let positions = self.oms.positions();
            let position = positions.symbol(s).quantity;
            for (venue, held) in self.venue_positions.iter_mut().enumerate() {
                *held = positions.venue(s, venue).quantity;
            }
            let Some(maker) = self.wiring.symbols[s].maker.as_mut() else {
                if let Some(link) = self.wiring.strategy.as_mut() {
                    let mut tops = [Top::default(); MAX_VENUES];
                    tops[..self.tops.len()].copy_from_slice(&self.tops);
                    let update = BookUpdate { instrument, tops, position, receive_ns: newest_tick };
                    if !link.book(update) {
                        self.metrics.add(Counter::StrategyBooksMissed, 1);
                    }
                }
                continue;
            };
            self.actions.clear();
            maker.on_book(&self.tops, position, &self.venue_positions, &mut self.next_id, &mut self.actions);
            for at in 0..self.actions.len() {
                let action = self.actions[at];
                self.execute(s, action, newest_tick, false)?;
            }
        }
        Ok(busy)
    }

    /// Reads symbol `s`'s book on every venue into `tops`; if one changed since the last
    /// read, the receive time of the newest tick behind them.
    fn read_books(&mut self, s: usize) -> Result<Option<u64>, EngineError> {
        let venues = self.wiring.gateways.len();
        let now = realtime_ns();
        let mut changed = false;
        let mut newest_tick = 0;
        {
            for venue in 0..venues {
                let top = &mut self.tops[venue];
                *top = Top::default();
                let listed =
                    self.wiring.symbols[s].listed[venue] && !self.down[venue] && !self.replaying[venue];
                let Some(reader) = self.wiring.books[venue].as_ref().filter(|_| listed) else { continue };
                let Some(version) =
                    reader.read(u64::from(self.wiring.symbols[s].instrument), &mut self.record)?
                else {
                    continue;
                };
                let book = TopOfBook::from_bytes(&self.record);
                self.published[venue] = book.header.publish_ts_ns;
                let fresh = now.saturating_sub(book.header.publish_ts_ns) <= self.wiring.max_book_age_ns;
                *top = Top {
                    bid: if book.bid_levels > 0 { book.bids[0].price } else { 0 },
                    bid_quantity: if book.bid_levels > 0 { book.bids[0].quantity } else { 0 },
                    ask: if book.ask_levels > 0 { book.asks[0].price } else { 0 },
                    ask_quantity: if book.ask_levels > 0 { book.asks[0].quantity } else { 0 },
                    usable: fresh
                        && book.header.flags & FLAG_STALE == 0
                        && self.wiring.gateways[venue].is_some(),
                };
                if self.seen[s * venues + venue] != version {
                    self.seen[s * venues + venue] = version;
                    changed = true;
                    newest_tick = newest_tick.max(book.header.receive_ts_ns);
                }
            }
        }
        Ok(changed.then_some(newest_tick))
    }

    /// The gate's view of `venue`'s book for an order.
    fn market(&self, venue: usize) -> MarketView {
        let top = self.tops[venue];
        let reference = if top.bid > 0 && top.ask > top.bid { (top.bid + top.ask) / 2 } else { 0 };
        MarketView { reference_price: reference, published_ns: self.published[venue], stale: !top.usable }
    }

    /// Carries out one action for `symbol` (placed by the linked strategy if `linked`);
    /// the reason a new order was refused, if it was.
    fn execute(
        &mut self,
        symbol: usize,
        action: Action,
        tick_ns: u64,
        linked: bool,
    ) -> Result<Option<risk::Reject>, EngineError> {
        match action {
            Action::New(order) => {
                if let Err(reason) = self.judge(&order)? {
                    self.refused(symbol, order.id, reason);
                    return Ok(Some(reason));
                }
                return self.dispatch(symbol, &order, tick_ns, linked);
            }
            Action::Arbitrage { buy, sell } => {
                // Both legs pass, or neither goes out: one leg alone is a position, not an
                // arbitrage.
                let judged = match self.judge(&buy)? {
                    Ok(()) => {
                        self.judge(&sell)?.inspect_err(|_| self.gate.done(buy.venue, buy.instrument, buy.id))
                    }
                    refused => refused,
                };
                if let Err(reason) = judged {
                    self.refused(symbol, buy.id, reason);
                    self.order_done(Some(symbol), sell.id);
                    return Ok(Some(reason));
                }
                self.dispatch(symbol, &buy, tick_ns, linked)?;
                self.dispatch(symbol, &sell, tick_ns, linked)?;
            }
            Action::Replace { original, order } => {
                let trading = self.trading_view(order.instrument)?;
                let replace = Replace { original, order };
                let passed =
                    self.gate.check_replace(&replace, &self.market(order.venue), &trading, realtime_ns());
                let replacement = Replacement { id: order.id, price: order.price, quantity: order.quantity };
                let requested = passed.is_ok() && self.oms.replace_requested(original, replacement).is_ok();
                if requested {
                    self.journal.append(&Entry::ReplaceRequested(original, replacement))?;
                    let working = self.oms.order(original).copied();
                    if let Some(working) = working {
                        self.send(order.venue, |g| g.send_replace(&working, &replacement));
                    }
                    self.metrics.add(Counter::Replaces, 1);
                    self.ticks.push((tick_ns, linked));
                } else {
                    // Refused: pull the quote instead (a cancel always passes).
                    if let Err(reason) = passed {
                        self.metrics.add(Counter::GateRejections, 1);
                        self.metrics.rejected(reason);
                    }
                    self.order_done(Some(symbol), order.id);
                    self.cancel(original)?;
                }
            }
            Action::Cancel { id, .. } => self.cancel(id)?,
        }
        Ok(None)
    }

    /// Passes `order` through the gate (which counts it as working if it passes).
    fn judge(&mut self, order: &NewOrder) -> Result<Result<(), risk::Reject>, EngineError> {
        let trading = self.trading_view(order.instrument)?;
        Ok(self.gate.check_new(order, &self.market(order.venue), &trading, realtime_ns()))
    }

    /// The gate refused order `id` of `symbol`: counted, and forgotten by whoever placed it.
    fn refused(&mut self, symbol: usize, id: u64, reason: risk::Reject) {
        self.metrics.add(Counter::GateRejections, 1);
        self.metrics.rejected(reason);
        self.order_done(Some(symbol), id);
    }

    /// Sends `order`, which the gate passed: into the OMS and the journal, then to its venue.
    fn dispatch(
        &mut self,
        symbol: usize,
        order: &NewOrder,
        tick_ns: u64,
        linked: bool,
    ) -> Result<Option<risk::Reject>, EngineError> {
        if self.oms.sent(order).is_err() {
            // An id the OMS holds already (adopted from a venue's replay): the order is not
            // sent, so nothing goes out twice under one id.
            self.metrics.add(Counter::SendFailures, 1);
            self.gate.done(order.venue, order.instrument, order.id);
            self.order_done(Some(symbol), order.id);
            return Ok(Some(risk::Reject::DuplicateOrderId));
        }
        self.journal.append(&Entry::Sent(*order))?;
        self.send(order.venue, |g| g.send_new(order));
        self.metrics.add(Counter::Orders, 1);
        self.ticks.push((tick_ns, linked));
        Ok(None)
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
        for venue in 0..self.wiring.gateways.len() {
            if let Some(gateway) = self.wiring.gateways[venue].as_mut() {
                if gateway.flush().is_err() {
                    self.metrics.add(Counter::SendFailures, 1);
                }
            }
        }
        let written = realtime_ns();
        for &(tick, linked) in &self.ticks {
            if tick > 0 {
                self.metrics.tick_to_trade(written.saturating_sub(tick), linked);
            }
        }
        self.ticks.clear();
    }

    /// `venue`'s connection dropped: the engine logs on again, off the loop, resuming the
    /// session so the venue replays what we missed.
    fn lost(&mut self, venue: usize) {
        self.metrics.add(Counter::Disconnects, 1);
        self.down[venue] = true;
        self.retry_at_ns[venue] = 0;
    }

    /// Takes over from a previous worker, once every gateway has logged on: what each venue
    /// replayed is applied, and where a venue that cancels on disconnect did not resume our
    /// session, our orders there from the last session are taken as cancelled.
    pub fn take_over(&mut self) -> Result<(), EngineError> {
        for venue in 0..self.wiring.gateways.len() {
            self.session_recovered(venue)?;
        }
        // What is still working was placed by strategies that died with the last worker.
        self.orphans.extend(self.oms.open_orders().map(|o| o.id));
        Ok(())
    }

    /// Cancels the orphans that can be cancelled now and forgets those that are over;
    /// whether it cancelled one.
    fn pull_orphans(&mut self) -> Result<bool, EngineError> {
        let mut busy = false;
        let mut at = 0;
        while at < self.orphans.len() {
            let id = self.orphans[at];
            match self.oms.order(id).map(|o| o.state) {
                Some(OrderState::New | OrderState::PartiallyFilled) => {
                    self.cancel(id)?;
                    busy = true;
                    at += 1;
                }
                Some(state) if state.is_working() => at += 1,
                _ => {
                    self.orphans.swap_remove(at);
                }
            }
        }
        Ok(busy)
    }

    /// `venue`'s session is up again (in this process or a restarted one): what the venue
    /// replayed while logging us on is applied first; then, where the venue cancels on
    /// disconnect but did not resume our session (it restarted: a new day), our orders from
    /// the last session are over. A venue that resumed replays those cancels itself, with any
    /// fill that came before them.
    fn session_recovered(&mut self, venue: usize) -> Result<(), EngineError> {
        let Some(gateway) = self.wiring.gateways[venue].as_ref() else { return Ok(()) };
        let replays = gateway.replays_missed();
        if self.take_venue_reports(venue)?.1 {
            self.lost(venue); // lost again at once
            return Ok(());
        }
        if !replays {
            return self.session_ended(venue);
        }
        self.replaying[venue] =
            self.wiring.gateways[venue].as_ref().is_some_and(Gateway::cancels_on_disconnect);
        Ok(())
    }

    /// `venue`'s session ended and will not be resumed: where the venue cancels on
    /// disconnect, our orders there are over (journalled, out of the gate and the strategy,
    /// reported to risk).
    fn session_ended(&mut self, venue: usize) -> Result<(), EngineError> {
        if !self.wiring.gateways[venue].as_ref().is_some_and(Gateway::cancels_on_disconnect) {
            return Ok(());
        }
        let ended = cancelled_on_disconnect(&mut self.oms, venue).unwrap_or_default();
        for (instrument, report) in ended {
            self.journal.append(&Entry::Report(report))?;
            if let Some(order) = self.oms.order(report.id).copied() {
                self.report_out(report.report, report.id, None);
                self.tell_strategy(venue, &order, report.report);
            }
            self.gate.done(venue, instrument, report.id);
            let symbol = self.symbol_of(instrument);
            self.order_done(symbol, report.id);
        }
        Ok(())
    }

    /// Moves a down venue's reconnection on: starts an attempt off the loop when it is time,
    /// takes the gateway back when the attempt is over; whether the venue is back.
    fn tend_reconnection(&mut self, venue: usize) -> Result<bool, EngineError> {
        match self.reconnecting[venue].take() {
            Some(attempt) if !attempt.is_done() => {
                self.reconnecting[venue] = Some(attempt);
                Ok(false)
            }
            Some(attempt) => {
                let (gateway, logged_on) = attempt.finish().ok_or(EngineError::Reconnect(venue))?;
                self.wiring.gateways[venue] = Some(gateway);
                if !logged_on {
                    // Its orders are still taken as working: the venue may resume the session
                    // and replay what happened to them.
                    self.retry_at_ns[venue] = monotonic_ns() + RETRY_AFTER_NS;
                    return Ok(false);
                }
                self.back_up(venue)?;
                Ok(true)
            }
            None if monotonic_ns() >= self.retry_at_ns[venue] => {
                if let Some(gateway) = self.wiring.gateways[venue].take() {
                    let attempt = Reconnection::start(gateway).map_err(|_| EngineError::Reconnect(venue))?;
                    self.reconnecting[venue] = Some(attempt);
                }
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// `venue` logged on again: what it may not have seen goes again (OUCH), what it replays
    /// is applied.
    fn back_up(&mut self, venue: usize) -> Result<(), EngineError> {
        self.down[venue] = false;
        let Some(gateway) = self.wiring.gateways[venue].as_mut() else { return Ok(()) };
        if !gateway.cancels_on_disconnect() {
            // OUCH replays what we missed; what the venue may not have seen goes again (it
            // ignores a token it has). Venues that cancel on disconnect free an ended order's
            // id, so nothing is sent to them again.
            let _ = resend_pending(gateway, &self.oms, venue);
        }
        self.session_recovered(venue)
    }
}
