//! Judging the figures as they move: a [`SymbolGroup`] applies reports and books to the
//! portfolio of its symbols and latches each symbol's breach on its board; a
//! [`PortfolioWatch`] does the same for the whole portfolio from the groups' totals. The risk
//! worker runs one group per thread and one watch over them all; run one after the other on the
//! same events, they are the sequential engine the reference rules describe.

use std::collections::HashMap;

use crate::board::{Board, Cause, Change, PORTFOLIO};
use crate::breach::{
    PortfolioHeadroom, PortfolioRisk, PortfolioRiskLimits, SymbolHeadroom, SymbolRiskLimits,
};
use crate::portfolio::{Portfolio, PortfolioError, ReportFacts, SymbolRisk, Totals};
use crate::state::TradingState;

/// The risk of a group of symbols, judged after every report and book.
#[derive(Debug, Clone)]
pub struct SymbolGroup {
    portfolio: Portfolio,
    limits: HashMap<u32, SymbolRiskLimits>,
    board: Board,
}

impl SymbolGroup {
    /// A flat group of the symbols `limits` names, on `venues` venues.
    pub fn new(limits: &[SymbolRiskLimits], venues: usize, open_orders: usize) -> Self {
        let instruments: Vec<u32> = limits.iter().map(|l| l.instrument).collect();
        Self {
            portfolio: Portfolio::new(&instruments, venues, open_orders),
            limits: limits.iter().map(|l| (l.instrument, *l)).collect(),
            board: Board::new(&instruments),
        }
    }

    /// Applies one report; the change of its symbol's state, if it breached a limit.
    pub fn apply(&mut self, report: &ReportFacts) -> Result<Option<Change>, PortfolioError> {
        let risk = *self.portfolio.apply(report)?;
        Ok(self.judge(&risk))
    }

    /// Sets a venue's book for a symbol; the change of the symbol's state, if it breached.
    pub fn mark(
        &mut self,
        instrument: u32,
        venue: usize,
        bid: i64,
        ask: i64,
    ) -> Result<Option<Change>, PortfolioError> {
        let risk = *self.portfolio.mark(instrument, venue, bid, ask)?;
        Ok(self.judge(&risk))
    }

    fn judge(&mut self, risk: &SymbolRisk) -> Option<Change> {
        let breach = SymbolHeadroom::of(risk, &self.limits[&risk.instrument]).breach()?;
        self.board.latch(risk.instrument, breach.state(), Cause::Limit(breach))
    }

    /// Takes new limits (a reload); the changes of the symbols they make breach.
    pub fn set_limits(&mut self, limits: &[SymbolRiskLimits], changes: &mut Vec<Change>) {
        for l in limits {
            if let Some(held) = self.limits.get_mut(&l.instrument) {
                *held = *l;
            }
        }
        for at in 0..self.portfolio.symbols().len() {
            let risk = self.portfolio.symbols()[at];
            changes.extend(self.judge(&risk));
        }
    }

    /// An operator sets a symbol's state (active also clears a latched breach, which latches
    /// again at once if it still stands).
    pub fn operator(&mut self, instrument: u32, state: TradingState, changes: &mut Vec<Change>) {
        changes.extend(self.board.operator(instrument, state));
        if let Some(risk) = self.portfolio.symbol(instrument).copied() {
            changes.extend(self.judge(&risk));
        }
    }

    /// Takes `instrument`'s state as the operators' without judging or answering (a restarted
    /// worker adopting what the slots hold).
    pub fn adopt(&mut self, instrument: u32, state: TradingState) {
        self.board.operator(instrument, state);
    }

    /// The portfolio of the group's symbols.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// The room left under `instrument`'s limits.
    pub fn headroom(&self, instrument: u32) -> Option<SymbolHeadroom> {
        let risk = self.portfolio.symbol(instrument)?;
        Some(SymbolHeadroom::of(risk, self.limits.get(&instrument)?))
    }

    /// The state the gate sees for `instrument`.
    pub fn state(&self, instrument: u32) -> Option<TradingState> {
        self.board.state(instrument)
    }
}

/// The whole portfolio's figures and limits, judged after every update of its totals.
#[derive(Debug, Clone)]
pub struct PortfolioWatch {
    risk: PortfolioRisk,
    limits: PortfolioRiskLimits,
    board: Board,
}

impl PortfolioWatch {
    /// Flat, under `limits`.
    pub fn new(limits: PortfolioRiskLimits) -> Self {
        Self { risk: PortfolioRisk::default(), limits, board: Board::new(&[PORTFOLIO]) }
    }

    /// The totals over every symbol now; the change of the portfolio's state, if they breach.
    pub fn update(&mut self, totals: Totals) -> Option<Change> {
        self.risk = self.risk.next(totals);
        self.judge()
    }

    fn judge(&mut self) -> Option<Change> {
        let breach = PortfolioHeadroom::of(&self.risk, &self.limits).breach()?;
        self.board.latch(PORTFOLIO, breach.state(), Cause::Limit(breach))
    }

    /// Takes new limits (a reload); the change, if they make the portfolio breach.
    pub fn set_limits(&mut self, limits: PortfolioRiskLimits) -> Option<Change> {
        self.limits = limits;
        self.judge()
    }

    /// An operator sets the portfolio's state (as [`SymbolGroup::operator`]).
    pub fn operator(&mut self, state: TradingState, changes: &mut Vec<Change>) {
        changes.extend(self.board.operator(PORTFOLIO, state));
        changes.extend(self.judge());
    }

    /// Takes the portfolio's state as the operators' without judging or answering (a restarted
    /// worker adopting what the slots hold).
    pub fn adopt(&mut self, state: TradingState) {
        self.board.operator(PORTFOLIO, state);
    }

    /// Latches `state` on the portfolio for `cause` (the kill switch on a stale heartbeat).
    pub fn latch(&mut self, state: TradingState, cause: Cause) -> Option<Change> {
        self.board.latch(PORTFOLIO, state, cause)
    }

    /// The figures.
    pub fn risk(&self) -> PortfolioRisk {
        self.risk
    }

    /// The room left under the limits.
    pub fn headroom(&self) -> PortfolioHeadroom {
        PortfolioHeadroom::of(&self.risk, &self.limits)
    }

    /// The state the gate sees for the whole portfolio.
    pub fn state(&self) -> TradingState {
        self.board.state(PORTFOLIO).unwrap_or(TradingState::Killed)
    }
}
