//! Books to orders: each symbol's books read without locks, the market maker (or the linked
//! strategy) told of a change, and each order it asks for judged by the gate and sent.

use risk::{MarketView, NewOrder, Replace};
use shm_layout::realtime_ns;
use shm_layout::records::{trading_state, Layout, TopOfBook, FLAG_STALE};
use shm_layout::slots::SlotRead;

use super::{Engine, EngineError, Tick};
use crate::gateway::OrderEntry;
use crate::journal::Entry;
use crate::metrics::Counter;
use crate::oms::Replacement;
use crate::strategy::{Action, Top, MAX_VENUES};
use crate::strategy_link::BookUpdate;

impl Engine {
    /// Reads each symbol's books; where one changed, the strategy acts. A symbol halted or
    /// killed on its own has its orders cancelled instead, each turn.
    pub(super) fn act_on_books(&mut self) -> Result<bool, EngineError> {
        let mut busy = false;
        for s in 0..self.wiring.symbols.len() {
            let instrument = self.wiring.symbols[s].instrument;
            if !matches!(
                self.state_of(u64::from(instrument))?.0,
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
                    let update =
                        BookUpdate { instrument, tops, position, receive_ns: newest_tick.received_ns };
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
    /// read, the newest tick behind them.
    pub(super) fn read_books(&mut self, s: usize) -> Result<Option<Tick>, EngineError> {
        let venues = self.wiring.gateways.len();
        let now = realtime_ns();
        let mut newest_tick = Tick { seen_ns: now, ..Tick::default() };
        // The versions read, kept as seen only once every venue's book was read whole.
        let mut versions = [None; MAX_VENUES];
        {
            for (venue, read) in versions.iter_mut().enumerate().take(venues) {
                let top = &mut self.tops[venue];
                *top = Top::default();
                let listed =
                    self.wiring.symbols[s].listed[venue] && !self.down[venue] && !self.replaying[venue];
                let Some(reader) = self.wiring.books[venue].as_ref().filter(|_| listed) else { continue };
                let version = match reader
                    .read_unless_busy(u64::from(self.wiring.symbols[s].instrument), &mut self.record)?
                {
                    SlotRead::Read(version) => version,
                    SlotRead::Empty => continue,
                    // Its feed is caught mid-write: the symbol is acted on next turn.
                    SlotRead::Busy { .. } => return Ok(None),
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
                    *read = Some(version);
                    if book.header.receive_ts_ns > newest_tick.received_ns {
                        newest_tick.received_ns = book.header.receive_ts_ns;
                        newest_tick.published_ns = book.header.publish_ts_ns;
                    }
                }
            }
        }
        let mut changed = false;
        for (venue, version) in versions.iter().enumerate().take(venues) {
            if let Some(version) = *version {
                self.seen[s * venues + venue] = version;
                changed = true;
            }
        }
        Ok(changed.then_some(newest_tick))
    }

    /// The gate's view of `venue`'s book for an order.
    pub(super) fn market(&self, venue: usize) -> MarketView {
        let top = self.tops[venue];
        let reference = if top.bid > 0 && top.ask > top.bid { (top.bid + top.ask) / 2 } else { 0 };
        MarketView { reference_price: reference, published_ns: self.published[venue], stale: !top.usable }
    }

    /// Carries out one action for `symbol` (placed by the linked strategy if `linked`);
    /// the reason a new order was refused, if it was.
    pub(super) fn execute(
        &mut self,
        symbol: usize,
        action: Action,
        tick: Tick,
        linked: bool,
    ) -> Result<Option<risk::Reject>, EngineError> {
        match action {
            Action::New(order) => {
                if let Err(reason) = self.judge(&order)? {
                    self.refused(symbol, order.id, reason);
                    return Ok(Some(reason));
                }
                return self.dispatch(symbol, &order, tick, linked);
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
                self.dispatch(symbol, &buy, tick, linked)?;
                self.dispatch(symbol, &sell, tick, linked)?;
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
                    self.ticks.push((tick, linked));
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
    pub(super) fn judge(&mut self, order: &NewOrder) -> Result<Result<(), risk::Reject>, EngineError> {
        let trading = self.trading_view(order.instrument)?;
        Ok(self.gate.check_new(order, &self.market(order.venue), &trading, realtime_ns()))
    }

    /// The gate refused order `id` of `symbol`: counted, and forgotten by whoever placed it.
    pub(super) fn refused(&mut self, symbol: usize, id: u64, reason: risk::Reject) {
        self.metrics.add(Counter::GateRejections, 1);
        self.metrics.rejected(reason);
        self.order_done(Some(symbol), id);
    }

    /// Sends `order`, which the gate passed: into the OMS and the journal, then to its venue.
    pub(super) fn dispatch(
        &mut self,
        symbol: usize,
        order: &NewOrder,
        tick: Tick,
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
        self.ticks.push((tick, linked));
        Ok(None)
    }
}
