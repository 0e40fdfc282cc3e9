//! The pre-trade gate: every new and replace order is checked here, inline, before its bytes
//! are written; cancels always pass. What execution learns from the venues (fills, cancels,
//! rejects, replaces acknowledged or refused) it tells the gate, so the worst-case positions
//! and our own resting orders are known at the next check.

use crate::exposure::{Exposure, Holding};
use crate::limits::{Limits, SymbolLimits};
use crate::market::MarketView;
use crate::order::{notional, NewOrder, Replace, Side};
use crate::own_orders::{OwnOrders, Working};
use crate::reject::Reject;
use crate::state::{TradingState, TradingView};
use crate::throttle::TokenBucket;

/// Basis points in one.
const BPS: i128 = 10_000;

/// Limits the gate cannot be built with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// A symbol's limit is not a usable number.
    #[error("instrument {instrument}: {what}")]
    Symbol {
        /// The instrument's id.
        instrument: u32,
        /// What is wrong.
        what: &'static str,
    },
    /// The same instrument is configured twice.
    #[error("instrument {0} is configured twice")]
    Duplicate(u32),
    /// No venue, or no room for a working order.
    #[error("{0}")]
    Shape(&'static str),
}

/// Where an order's symbol and venue live in the gate's tables.
#[derive(Debug, Clone, Copy)]
struct Slot {
    symbol: usize,
    table: usize,
}

/// The gate, with its tables sized for the configured symbols and venues.
#[derive(Debug)]
pub struct Gate {
    limits: Limits,
    /// Symbol index by instrument id.
    index: Vec<Option<usize>>,
    /// Our working orders per symbol and venue (`symbol * venues + venue`).
    own: Vec<OwnOrders>,
    exposure: Exposure,
    order_buckets: Vec<TokenBucket>,
    cancel_buckets: Vec<TokenBucket>,
    working_per_symbol: Vec<u32>,
    working_total: u32,
    last_id: u64,
    rejections: [u64; Reject::ALL.len()],
    passed: u64,
}

fn check_symbol(s: &SymbolLimits) -> Result<(), LimitsError> {
    let problem = if s.tick <= 0 {
        Some("tick must be positive")
    } else if s.lot <= 0 {
        Some("lot must be positive")
    } else if s.min_quantity <= 0 || s.min_quantity > s.max_quantity {
        Some("quantities must be 0 < min <= max")
    } else if s.max_notional <= 0 || s.max_position < 0 || s.max_venue_position < 0 {
        Some("notional and position limits must not be negative")
    } else if s.order_burst == 0 || s.cancel_burst == 0 {
        Some("throttle bursts must be positive")
    } else {
        None
    };
    problem.map_or(Ok(()), |what| Err(LimitsError::Symbol { instrument: s.instrument, what }))
}

impl Gate {
    /// A gate enforcing `limits`, its buckets full at `now_ns`, nothing working.
    pub fn new(limits: Limits, now_ns: u64) -> Result<Self, LimitsError> {
        if limits.venues == 0 {
            return Err(LimitsError::Shape("there must be a venue"));
        }
        if limits.max_working_per_venue_symbol == 0 {
            return Err(LimitsError::Shape("there must be room for a working order"));
        }
        let top = limits.symbols.iter().map(|s| s.instrument as usize + 1).max().unwrap_or(0);
        let mut index = vec![None; top];
        for (at, symbol) in limits.symbols.iter().enumerate() {
            check_symbol(symbol)?;
            if index[symbol.instrument as usize].replace(at).is_some() {
                return Err(LimitsError::Duplicate(symbol.instrument));
            }
        }
        let tables = limits.symbols.len() * limits.venues;
        let buckets = |rate: fn(&SymbolLimits) -> (u32, u32)| -> Vec<TokenBucket> {
            (0..tables)
                .map(|table| {
                    let (per_s, burst) = rate(&limits.symbols[table / limits.venues]);
                    TokenBucket::new(per_s, burst, now_ns)
                })
                .collect()
        };
        Ok(Self {
            index,
            own: (0..tables).map(|_| OwnOrders::with_capacity(limits.max_working_per_venue_symbol)).collect(),
            exposure: Exposure::new(limits.symbols.len(), limits.venues),
            order_buckets: buckets(|s| (s.order_rate_per_s, s.order_burst)),
            cancel_buckets: buckets(|s| (s.cancel_rate_per_s, s.cancel_burst)),
            working_per_symbol: vec![0; limits.symbols.len()],
            working_total: 0,
            last_id: 0,
            rejections: [0; Reject::ALL.len()],
            passed: 0,
            limits,
        })
    }

    fn slot(&self, venue: usize, instrument: u32) -> Result<Slot, Reject> {
        let symbol =
            self.index.get(instrument as usize).copied().flatten().ok_or(Reject::UnknownInstrument)?;
        if venue >= self.limits.venues {
            return Err(Reject::UnknownInstrument);
        }
        Ok(Slot { symbol, table: symbol * self.limits.venues + venue })
    }

    /// Checks a new order; on a pass it counts as working from now on (its bytes go out next).
    pub fn check_new(
        &mut self,
        order: &NewOrder,
        market: &MarketView,
        trading: &TradingView,
        now_ns: u64,
    ) -> Result<(), Reject> {
        let outcome = self.slot(order.venue, order.instrument).and_then(|slot| {
            self.judge(slot, order, None, market, trading, now_ns)?;
            self.accept(slot, order, now_ns);
            Ok(())
        });
        self.count(outcome)
    }

    /// Checks a cancel-replace of a working order: the order as it will be is judged as a new
    /// one in place of the original. On a pass the original is replaced in the gate's tables
    /// (a fill of the original before the venue acts still finds it, by either id).
    pub fn check_replace(
        &mut self,
        replace: &Replace,
        market: &MarketView,
        trading: &TradingView,
        now_ns: u64,
    ) -> Result<(), Reject> {
        let order = &replace.order;
        let outcome = self.slot(order.venue, order.instrument).and_then(|slot| {
            let original = *self.own[slot.table].get(replace.original).ok_or(Reject::UnknownOrder)?;
            if original.side != order.side {
                return Err(Reject::UnknownOrder);
            }
            self.judge(slot, order, Some(&original), market, trading, now_ns)?;
            self.cancel_buckets[slot.table].take(now_ns);
            self.order_buckets[slot.table].take(now_ns);
            self.last_id = order.id;
            self.exposure.remove_working(slot.symbol, order.venue, order.side, original.open);
            self.exposure.add_working(slot.symbol, order.venue, order.side, order.quantity);
            self.own[slot.table].replace(replace.original, order.id, order.price, order.quantity);
            Ok(())
        });
        self.count(outcome)
    }

    /// A cancel is on its way: it always passes, and counts against the cancel rate.
    pub fn cancel_sent(&mut self, venue: usize, instrument: u32, now_ns: u64) {
        if let Ok(slot) = self.slot(venue, instrument) {
            self.cancel_buckets[slot.table].take(now_ns);
        }
    }

    /// `quantity` of working order `id` filled.
    pub fn filled(&mut self, venue: usize, instrument: u32, id: u64, quantity: i64) {
        if let Ok(slot) = self.slot(venue, instrument) {
            if let Some(before) = self.own[slot.table].reduce(id, quantity) {
                let filled = quantity.min(before.open);
                self.exposure.fill(slot.symbol, venue, before.side, filled);
                self.forget_if_done(slot, before.open - filled);
            }
        }
    }

    /// Working order `id` is done without more fills (cancelled, rejected, expired, or
    /// cancelled by the venue when our session dropped).
    pub fn done(&mut self, venue: usize, instrument: u32, id: u64) {
        if let Ok(slot) = self.slot(venue, instrument) {
            if let Some(before) = self.own[slot.table].reduce(id, i64::MAX) {
                self.exposure.remove_working(slot.symbol, venue, before.side, before.open);
                self.forget_if_done(slot, 0);
            }
        }
    }

    /// The venue refused a replace the gate passed: the original order works on as it was.
    pub fn replace_refused(&mut self, replace: &Replace, original_price: i64, original_open: i64) {
        let order = &replace.order;
        if let Ok(slot) = self.slot(order.venue, order.instrument) {
            if let Some(now) = self.own[slot.table].get(order.id).copied() {
                self.exposure.remove_working(slot.symbol, order.venue, now.side, now.open);
                self.exposure.add_working(slot.symbol, order.venue, now.side, original_open);
                self.own[slot.table].replace(order.id, replace.original, original_price, original_open);
            }
        }
    }

    /// Takes on a working order without judging it (a restarted worker restoring what its
    /// journal holds): it counts from now on, like any order the gate passed.
    pub fn restore_working(&mut self, order: &NewOrder) -> Result<(), Reject> {
        let slot = self.slot(order.venue, order.instrument)?;
        if !self.own[slot.table].has_room() {
            return Err(Reject::TooManyWorkingOrders);
        }
        self.last_id = self.last_id.max(order.id);
        self.add_working(slot, order);
        Ok(())
    }

    /// Takes on a working order whose replace was pending when the journal ended, as the gate
    /// holds a replace it passed: as the `replacement` (its open quantity), answering to the
    /// `original` id too, so a fill, the venue's replace or its refusal finds it either way.
    pub fn restore_replacing(&mut self, original: u64, replacement: &NewOrder) -> Result<(), Reject> {
        self.restore_working(&NewOrder { id: original, ..*replacement })?;
        let slot = self.slot(replacement.venue, replacement.instrument)?;
        self.own[slot.table].replace(original, replacement.id, replacement.price, replacement.quantity);
        self.last_id = self.last_id.max(replacement.id);
        Ok(())
    }

    /// Takes on a position held on `venue` in `instrument` (signed; a restarted worker
    /// restoring what its journal holds).
    pub fn restore_position(&mut self, venue: usize, instrument: u32, quantity: i64) -> Result<(), Reject> {
        let slot = self.slot(venue, instrument)?;
        let side = if quantity >= 0 { Side::Buy } else { Side::Sell };
        self.exposure.add_working(slot.symbol, venue, side, quantity.abs());
        self.exposure.fill(slot.symbol, venue, side, quantity.abs());
        Ok(())
    }

    /// How many checks failed for each reason, in [`Reject::ALL`] order.
    pub fn rejections(&self) -> &[u64; Reject::ALL.len()] {
        &self.rejections
    }

    /// How many checks passed.
    pub fn passed(&self) -> u64 {
        self.passed
    }

    /// The positions and working quantities the gate holds.
    pub fn exposure(&self) -> &Exposure {
        &self.exposure
    }

    /// The working orders on `venue` in `instrument`, if both are configured.
    pub fn own_orders(&self, venue: usize, instrument: u32) -> Option<&OwnOrders> {
        self.slot(venue, instrument).ok().map(|slot| &self.own[slot.table])
    }

    fn count(&mut self, outcome: Result<(), Reject>) -> Result<(), Reject> {
        match outcome {
            Ok(()) => self.passed += 1,
            Err(reason) => self.rejections[usize::from(reason.code())] += 1,
        }
        outcome
    }

    fn forget_if_done(&mut self, slot: Slot, left_open: i64) {
        if left_open <= 0 {
            self.working_per_symbol[slot.symbol] -= 1;
            self.working_total -= 1;
        }
    }

    fn accept(&mut self, slot: Slot, order: &NewOrder, now_ns: u64) {
        self.order_buckets[slot.table].take(now_ns);
        self.last_id = order.id;
        self.add_working(slot, order);
    }

    /// `order` works from now on: in the own-order table, the exposure and the counts.
    fn add_working(&mut self, slot: Slot, order: &NewOrder) {
        let working = Working {
            id: order.id,
            previous: None,
            side: order.side,
            price: order.price,
            open: order.quantity,
        };
        self.own[slot.table].add(working);
        self.exposure.add_working(slot.symbol, order.venue, order.side, order.quantity);
        self.working_per_symbol[slot.symbol] += 1;
        self.working_total += 1;
    }

    /// Every check, cheapest first; `original` is the order a replace takes the place of.
    fn judge(
        &mut self,
        slot: Slot,
        order: &NewOrder,
        original: Option<&Working>,
        market: &MarketView,
        trading: &TradingView,
        now_ns: u64,
    ) -> Result<(), Reject> {
        let limits = self.limits.symbols[slot.symbol];
        let state = trading.effective(self.limits.portfolio.max_risk_heartbeat_age_ns)?;
        if state >= TradingState::Halted {
            return Err(Reject::Halted);
        }
        if order.id <= self.last_id {
            return Err(Reject::DuplicateOrderId);
        }
        validate(&limits, order)?;
        let reference = fresh_reference(&limits, market, now_ns)?;
        self.exposure.mark(slot.symbol, reference);
        let distance = i128::from(order.price.abs_diff(reference));
        if distance * BPS > i128::from(limits.price_band_bps) * i128::from(reference) {
            return Err(Reject::OutsidePriceBand);
        }
        // A replace takes the original's open quantity off its side first.
        let freed = original.map_or(0, |o| o.open);
        let added = order.quantity - freed;
        let symbol = self.exposure.symbol(slot.symbol).with_working(order.side, added);
        let venue = self.exposure.venue(slot.symbol, order.venue).with_working(order.side, added);
        if state == TradingState::ReduceOnly && !reduces(order.side, &symbol) {
            return Err(Reject::ReduceOnly);
        }
        if self.own[slot.table].would_cross(order.side, order.price, original.map(|o| o.id)) {
            return Err(Reject::SelfTrade);
        }
        if original.is_none()
            && (!self.own[slot.table].has_room()
                || self.working_per_symbol[slot.symbol] >= limits.max_working_orders
                || self.working_total >= self.limits.portfolio.max_working_orders)
        {
            return Err(Reject::TooManyWorkingOrders);
        }
        // Only the order's own side can take a position further: an order that reduces one
        // already past its limit passes.
        let beyond = |held: &Holding, limit: i64| match order.side {
            Side::Buy => held.worst_long() > limit,
            Side::Sell => held.worst_short() < -limit,
        };
        if beyond(&symbol, limits.max_position) {
            return Err(Reject::SymbolPositionLimit);
        }
        if beyond(&venue, limits.max_venue_position) {
            return Err(Reject::VenuePositionLimit);
        }
        let (gross, net) = self.exposure.gross_and_net_with(slot.symbol, order.side, added);
        if gross > self.limits.portfolio.max_gross_notional {
            return Err(Reject::GrossExposureLimit);
        }
        if net > self.limits.portfolio.max_net_notional {
            return Err(Reject::NetExposureLimit);
        }
        // The risk worker's room under its exposure limits (marked to its books): what an order
        // that does not only reduce the position adds must fit in it.
        if !reduces(order.side, &symbol) {
            let adds = notional(order.price, added.max(0));
            if adds > 0
                && (adds > i128::from(trading.symbol_room) || adds > i128::from(trading.portfolio_room))
            {
                return Err(Reject::RiskHeadroom);
            }
        }
        if !self.order_buckets[slot.table].has_token(now_ns) {
            return Err(Reject::OrderRateThrottled);
        }
        if !self.cancel_buckets[slot.table].has_token(now_ns) {
            return Err(Reject::CancelRateThrottled);
        }
        Ok(())
    }
}

/// Price and quantity validity, and the per-order size limits.
fn validate(limits: &SymbolLimits, order: &NewOrder) -> Result<(), Reject> {
    if order.price <= 0 {
        return Err(Reject::NonPositivePrice);
    }
    if order.price % limits.tick != 0 {
        return Err(Reject::OffTick);
    }
    if order.quantity <= 0 {
        return Err(Reject::NonPositiveQuantity);
    }
    if order.quantity % limits.lot != 0 {
        return Err(Reject::OddLot);
    }
    if order.quantity < limits.min_quantity {
        return Err(Reject::BelowMinQuantity);
    }
    if order.quantity > limits.max_quantity {
        return Err(Reject::AboveMaxQuantity);
    }
    if notional(order.price, order.quantity) > limits.max_notional {
        return Err(Reject::AboveMaxNotional);
    }
    Ok(())
}

/// The book's reference price, if the book is fresh enough to price an order on.
fn fresh_reference(limits: &SymbolLimits, market: &MarketView, now_ns: u64) -> Result<i64, Reject> {
    if market.stale {
        return Err(Reject::StaleBook);
    }
    if now_ns.saturating_sub(market.published_ns) > limits.max_book_age_ns {
        return Err(Reject::OldBook);
    }
    if market.reference_price <= 0 {
        return Err(Reject::NoReferencePrice);
    }
    Ok(market.reference_price)
}

/// Whether the holding `after` (with the order working) still only reduces the position: no
/// fill of its side's working orders can take the position past flat.
fn reduces(side: Side, after: &crate::exposure::Holding) -> bool {
    match side {
        Side::Buy => after.position < 0 && after.worst_long() <= 0,
        Side::Sell => after.position > 0 && after.worst_short() >= 0,
    }
}
