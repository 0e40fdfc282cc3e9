//! The Rust risk rules, one call at a time, for Python to hold beside the reference rules
//! (`risk.reference`): the pre-trade gate (`Gate`) and the portfolio risk engine (`RiskEngine`:
//! a symbol group and the portfolio watch run one after the other, as the reference runs them).
//! The arguments are the reference's own objects, read by attribute; a rejection is returned
//! as its reason's name, a state change as `(key, before, after, cause)`.

use std::collections::HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use risk::board::{Cause, Change};
use risk::breach::{PortfolioRiskLimits, SymbolRiskLimits};
use risk::portfolio::{ReportFacts, SymbolRisk};
use risk::watch::{PortfolioWatch, SymbolGroup};
use risk::{
    Limits, MarketView, NewOrder, PortfolioLimits, Reject, Replace, Side, SymbolLimits, TradingState,
    TradingView,
};

/// A side, read from its `sign` (+1 buys, -1 sells).
#[derive(Debug, FromPyObject)]
struct SideArg {
    sign: i64,
}

impl SideArg {
    fn side(&self) -> Side {
        if self.sign > 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }
}

#[derive(Debug, FromPyObject)]
struct SymbolLimitsArg {
    instrument: u32,
    tick: i64,
    lot: i64,
    min_quantity: i64,
    max_quantity: i64,
    max_notional: i128,
    price_band_bps: u32,
    max_position: i64,
    max_venue_position: i64,
    max_working_orders: u32,
    order_rate_per_s: u32,
    order_burst: u32,
    cancel_rate_per_s: u32,
    cancel_burst: u32,
    max_book_age_ns: u64,
}

#[derive(Debug, FromPyObject)]
struct PortfolioLimitsArg {
    max_gross_notional: i128,
    max_net_notional: i128,
    max_working_orders: u32,
    max_risk_heartbeat_age_ns: u64,
}

#[derive(Debug, FromPyObject)]
struct LimitsArg {
    symbols: Vec<SymbolLimitsArg>,
    portfolio: PortfolioLimitsArg,
    venues: usize,
    max_working_per_venue_symbol: usize,
}

impl LimitsArg {
    fn limits(&self) -> Limits {
        let p = &self.portfolio;
        Limits {
            symbols: self
                .symbols
                .iter()
                .map(|s| SymbolLimits {
                    instrument: s.instrument,
                    tick: s.tick,
                    lot: s.lot,
                    min_quantity: s.min_quantity,
                    max_quantity: s.max_quantity,
                    max_notional: s.max_notional,
                    price_band_bps: s.price_band_bps,
                    max_position: s.max_position,
                    max_venue_position: s.max_venue_position,
                    max_working_orders: s.max_working_orders,
                    order_rate_per_s: s.order_rate_per_s,
                    order_burst: s.order_burst,
                    cancel_rate_per_s: s.cancel_rate_per_s,
                    cancel_burst: s.cancel_burst,
                    max_book_age_ns: s.max_book_age_ns,
                })
                .collect(),
            portfolio: PortfolioLimits {
                max_gross_notional: p.max_gross_notional,
                max_net_notional: p.max_net_notional,
                max_working_orders: p.max_working_orders,
                max_risk_heartbeat_age_ns: p.max_risk_heartbeat_age_ns,
            },
            venues: self.venues,
            max_working_per_venue_symbol: self.max_working_per_venue_symbol,
        }
    }
}

#[derive(Debug, FromPyObject)]
struct NewOrderArg {
    id: u64,
    venue: usize,
    instrument: u32,
    side: SideArg,
    price: i64,
    quantity: i64,
}

impl NewOrderArg {
    fn order(&self) -> NewOrder {
        NewOrder {
            id: self.id,
            venue: self.venue,
            instrument: self.instrument,
            side: self.side.side(),
            price: self.price,
            quantity: self.quantity,
        }
    }
}

#[derive(Debug, FromPyObject)]
struct ReplaceArg {
    original: u64,
    order: NewOrderArg,
}

impl ReplaceArg {
    fn replace(&self) -> Replace {
        Replace { original: self.original, order: self.order.order() }
    }
}

#[derive(Debug, FromPyObject)]
struct MarketArg {
    reference_price: i64,
    published_ns: u64,
    stale: bool,
}

#[derive(Debug, FromPyObject)]
struct TradingArg {
    global_state: u8,
    symbol: u8,
    risk_heartbeat_age_ns: u64,
    symbol_room: i64,
    portfolio_room: i64,
}

fn market(m: &MarketArg) -> MarketView {
    MarketView { reference_price: m.reference_price, published_ns: m.published_ns, stale: m.stale }
}

fn trading(t: &TradingArg) -> TradingView {
    TradingView {
        global: t.global_state,
        symbol: t.symbol,
        risk_heartbeat_age_ns: t.risk_heartbeat_age_ns,
        symbol_room: t.symbol_room,
        portfolio_room: t.portfolio_room,
    }
}

fn outcome(result: Result<(), Reject>) -> Option<String> {
    result.err().map(|reason| format!("{reason:?}"))
}

/// The Rust pre-trade gate (`risk::Gate`), driven call by call.
#[pyclass(module = "tickrail._native", name = "Gate", unsendable)]
struct PyGate {
    gate: risk::Gate,
    /// Symbol index by instrument, as the gate's tables hold them.
    symbols: HashMap<u32, usize>,
}

#[pymethods]
impl PyGate {
    #[new]
    fn new(limits: LimitsArg, now_ns: u64) -> PyResult<Self> {
        let symbols = limits.symbols.iter().enumerate().map(|(at, s)| (s.instrument, at)).collect();
        let gate =
            risk::Gate::new(limits.limits(), now_ns).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Self { gate, symbols })
    }

    /// Checks a new order: `None` if it passes, else the reason's name.
    fn check_new(
        &mut self,
        order: NewOrderArg,
        market: MarketArg,
        trading: TradingArg,
        now_ns: u64,
    ) -> Option<String> {
        outcome(self.gate.check_new(&order.order(), &self::market(&market), &self::trading(&trading), now_ns))
    }

    /// Checks a cancel-replace: `None` if it passes, else the reason's name.
    fn check_replace(
        &mut self,
        replace: ReplaceArg,
        market: MarketArg,
        trading: TradingArg,
        now_ns: u64,
    ) -> Option<String> {
        outcome(self.gate.check_replace(
            &replace.replace(),
            &self::market(&market),
            &self::trading(&trading),
            now_ns,
        ))
    }

    /// A cancel is on its way.
    fn cancel_sent(&mut self, venue: usize, instrument: u32, now_ns: u64) {
        self.gate.cancel_sent(venue, instrument, now_ns);
    }

    /// `quantity` of working order `id` filled.
    #[pyo3(name = "filled")]
    fn fill(&mut self, venue: usize, instrument: u32, id: u64, quantity: i64) {
        self.gate.filled(venue, instrument, id, quantity);
    }

    /// Working order `id` is done.
    fn done(&mut self, venue: usize, instrument: u32, id: u64) {
        self.gate.done(venue, instrument, id);
    }

    /// The venue refused a replace the gate passed.
    fn replace_refused(&mut self, replace: ReplaceArg, original_price: i64, original_open: i64) {
        self.gate.replace_refused(&replace.replace(), original_price, original_open);
    }

    /// Takes on a working order without judging it.
    fn restore_working(&mut self, order: NewOrderArg) -> Option<String> {
        outcome(self.gate.restore_working(&order.order()))
    }

    /// Takes on a working order whose replace was pending, as the replacement answering to the
    /// original's id too.
    fn restore_replacing(&mut self, original: u64, replacement: NewOrderArg) -> Option<String> {
        outcome(self.gate.restore_replacing(original, &replacement.order()))
    }

    /// Takes on a held position.
    fn restore_position(&mut self, venue: usize, instrument: u32, quantity: i64) -> Option<String> {
        outcome(self.gate.restore_position(venue, instrument, quantity))
    }

    /// Failed checks per reason, in code order.
    fn rejections(&self) -> Vec<u64> {
        self.gate.rejections().to_vec()
    }

    /// Checks passed.
    #[getter]
    fn passed(&self) -> u64 {
        self.gate.passed()
    }

    /// `(position, working_buy, working_sell)` of `instrument` on `venue`.
    fn venue_holding(&self, venue: usize, instrument: u32) -> Option<(i64, i64, i64)> {
        let symbol = *self.symbols.get(&instrument)?;
        (self.gate.own_orders(venue, instrument).is_some()).then(|| {
            let h = self.gate.exposure().venue(symbol, venue);
            (h.position, h.working_buy, h.working_sell)
        })
    }

    /// `(position, working_buy, working_sell)` of `instrument` across venues.
    fn symbol_holding(&self, instrument: u32) -> Option<(i64, i64, i64)> {
        let h = self.gate.exposure().symbol(*self.symbols.get(&instrument)?);
        Some((h.position, h.working_buy, h.working_sell))
    }

    /// Each working order on `venue` in `instrument` as `(id, side sign, price, open)`, by id.
    fn working(&self, venue: usize, instrument: u32) -> Vec<(u64, i64, i64, i64)> {
        let mut orders: Vec<_> = self
            .gate
            .own_orders(venue, instrument)
            .into_iter()
            .flat_map(|own| own.iter().map(|o| (o.id, o.side.sign(), o.price, o.open)))
            .collect();
        orders.sort_unstable();
        orders
    }
}

/// One symbol's risk limits, as `risk.reference.SymbolRiskLimits` holds them.
#[derive(Debug, FromPyObject)]
pub(crate) struct SymbolRiskLimitsArg {
    instrument: u32,
    max_loss: Option<i128>,
    max_drawdown: Option<i128>,
    max_exposure: Option<i128>,
}

/// The portfolio's risk limits, as `risk.reference.PortfolioRiskLimits` holds them.
#[derive(Debug, FromPyObject)]
pub(crate) struct PortfolioRiskLimitsArg {
    max_loss: Option<i128>,
    max_drawdown: Option<i128>,
    max_gross: Option<i128>,
    max_net: Option<i128>,
}

impl SymbolRiskLimitsArg {
    pub(crate) fn limits(&self) -> SymbolRiskLimits {
        SymbolRiskLimits {
            instrument: self.instrument,
            max_loss: self.max_loss,
            max_drawdown: self.max_drawdown,
            max_exposure: self.max_exposure,
        }
    }
}

impl PortfolioRiskLimitsArg {
    pub(crate) fn limits(&self) -> PortfolioRiskLimits {
        PortfolioRiskLimits {
            max_loss: self.max_loss,
            max_drawdown: self.max_drawdown,
            max_gross: self.max_gross,
            max_net: self.max_net,
        }
    }
}

#[derive(Debug, FromPyObject)]
struct ReportArg {
    instrument: u32,
    venue: usize,
    side: SideArg,
    kind: u8,
    state: u8,
    order_id: u64,
    replacement_id: u64,
    price: i64,
    quantity: i64,
    leaves: i64,
}

/// A state change for Python: `(key, before, after, cause)`.
type ChangeTuple = (u32, u8, u8, &'static str);

/// Why a state changed, as logs and Python name it.
pub(crate) fn cause_name(cause: Cause) -> &'static str {
    match cause {
        Cause::Operator => "operator",
        Cause::StaleHeartbeat => "stale-heartbeat",
        Cause::Limit(breach) => breach.name(),
    }
}

fn change_tuple(change: &Change) -> ChangeTuple {
    (change.key, change.from as u8, change.to as u8, cause_name(change.cause))
}

/// A symbol's figures for Python, in `risk.reference.SymbolRisk`'s field order.
type SymbolTuple = (u32, i64, i64, i128, i128, i128, i128, i128, i128, i128, i128, i128);

fn symbol_tuple(s: &SymbolRisk) -> SymbolTuple {
    (
        s.instrument,
        s.position,
        s.mark,
        s.realized,
        s.unrealized,
        s.pnl,
        s.peak,
        s.drawdown,
        s.net,
        s.exposure,
        s.open_buy,
        s.open_sell,
    )
}

fn state_of(code: u8) -> PyResult<TradingState> {
    TradingState::from_code(code).map_err(|_| PyValueError::new_err(format!("no trading state {code}")))
}

/// The Rust portfolio risk engine (`risk::watch`), driven event by event.
#[pyclass(module = "tickrail._native", name = "RiskEngine", unsendable)]
struct PyRiskEngine {
    group: SymbolGroup,
    watch: PortfolioWatch,
}

impl PyRiskEngine {
    fn judged(&mut self, symbol: Option<Change>) -> Vec<ChangeTuple> {
        let whole = self.watch.update(self.group.portfolio().totals());
        symbol.iter().chain(whole.iter()).map(change_tuple).collect()
    }
}

#[pymethods]
impl PyRiskEngine {
    #[new]
    fn new(symbols: Vec<SymbolRiskLimitsArg>, portfolio: PortfolioRiskLimitsArg, venues: usize) -> Self {
        let limits: Vec<SymbolRiskLimits> = symbols.iter().map(SymbolRiskLimitsArg::limits).collect();
        Self {
            group: SymbolGroup::new(&limits, venues, 1024),
            watch: PortfolioWatch::new(portfolio.limits()),
        }
    }

    /// Applies one report; the states it changed.
    fn apply(&mut self, report: ReportArg) -> PyResult<Vec<ChangeTuple>> {
        let facts = ReportFacts {
            instrument: report.instrument,
            venue: report.venue,
            side: report.side.side(),
            kind: report.kind,
            state: report.state,
            order_id: report.order_id,
            replacement_id: report.replacement_id,
            price: report.price,
            quantity: report.quantity,
            leaves: report.leaves,
        };
        let change = self.group.apply(&facts).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(self.judged(change))
    }

    /// Sets a venue's book for a symbol; the states it changed.
    fn mark(&mut self, instrument: u32, venue: usize, bid: i64, ask: i64) -> PyResult<Vec<ChangeTuple>> {
        let change =
            self.group.mark(instrument, venue, bid, ask).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(self.judged(change))
    }

    /// An operator sets `key`'s state (0: the portfolio's); the states it changed.
    fn operator(&mut self, key: u32, state: u8) -> PyResult<Vec<ChangeTuple>> {
        let state = state_of(state)?;
        let mut changes = Vec::new();
        if key == risk::board::PORTFOLIO {
            self.watch.operator(state, &mut changes);
        } else {
            self.group.operator(key, state, &mut changes);
        }
        Ok(changes.iter().map(change_tuple).collect())
    }

    /// The state the gate would see for `key`.
    fn state(&self, key: u32) -> Option<u8> {
        if key == risk::board::PORTFOLIO {
            Some(self.watch.state() as u8)
        } else {
            self.group.state(key).map(|s| s as u8)
        }
    }

    /// `instrument`'s figures, in `risk.reference.SymbolRisk`'s field order.
    fn symbol(&self, instrument: u32) -> Option<SymbolTuple> {
        self.group.portfolio().symbol(instrument).map(symbol_tuple)
    }

    /// The portfolio's `(pnl, gross, net, open, peak)`.
    fn totals(&self) -> (i128, i128, i128, i128, i128) {
        let risk = self.watch.risk();
        (risk.totals.pnl, risk.totals.gross, risk.totals.net, risk.totals.open, risk.peak)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGate>()?;
    m.add_class::<PyRiskEngine>()?;
    Ok(())
}
