//! The portfolio risk limits, and what a breach of each does to the trading state:
//!
//! | limit | breached when | state |
//! |---|---|---|
//! | loss | P&L below minus the limit | halted |
//! | drawdown | drawdown above the limit | reduce-only |
//! | exposure (a symbol's), gross and net (the portfolio's) | above the limit | reduce-only |
//!
//! The checks run in that order, strictest first, and the first breached is the breach. A
//! limit left out is no limit.

use crate::portfolio::{SymbolRisk, Totals};
use crate::state::TradingState;

/// One symbol's risk limits; currency in units of 1e-9.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SymbolRiskLimits {
    /// The instrument's id.
    pub instrument: u32,
    /// Largest loss (P&L below zero) allowed.
    pub max_loss: Option<i128>,
    /// Largest drawdown from the day's peak P&L allowed.
    pub max_drawdown: Option<i128>,
    /// Largest exposure (the position's notional at the mark, in size) allowed.
    pub max_exposure: Option<i128>,
}

/// The whole portfolio's risk limits; currency in units of 1e-9.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortfolioRiskLimits {
    /// Largest loss allowed.
    pub max_loss: Option<i128>,
    /// Largest drawdown from the day's peak allowed.
    pub max_drawdown: Option<i128>,
    /// Largest gross exposure (the sum of the symbols' exposures) allowed.
    pub max_gross: Option<i128>,
    /// Largest net exposure (the signed sum's size) allowed.
    pub max_net: Option<i128>,
}

/// A limit breached. Its discriminant is its code in logs and shared memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Breach {
    /// The loss limit.
    Loss = 1,
    /// The drawdown limit.
    Drawdown,
    /// A symbol's exposure limit.
    Exposure,
    /// The portfolio's gross exposure limit.
    GrossExposure,
    /// The portfolio's net exposure limit.
    NetExposure,
}

impl Breach {
    /// The trading state the breach moves its symbol (or the portfolio) to.
    pub fn state(self) -> TradingState {
        match self {
            Breach::Loss => TradingState::Halted,
            _ => TradingState::ReduceOnly,
        }
    }

    /// Its name in logs (`loss`, `drawdown`, `exposure`, `gross-exposure`, `net-exposure`).
    pub fn name(self) -> &'static str {
        match self {
            Breach::Loss => "loss",
            Breach::Drawdown => "drawdown",
            Breach::Exposure => "exposure",
            Breach::GrossExposure => "gross-exposure",
            Breach::NetExposure => "net-exposure",
        }
    }
}

/// How far a figure is from its limit: the limit less the figure (below zero when breached).
fn room(limit: Option<i128>, used: i128) -> Option<i128> {
    limit.map(|limit| limit - used)
}

/// The room left under each of a symbol's limits (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SymbolHeadroom {
    /// Under the loss limit.
    pub loss: Option<i128>,
    /// Under the drawdown limit.
    pub drawdown: Option<i128>,
    /// Under the exposure limit.
    pub exposure: Option<i128>,
}

impl SymbolHeadroom {
    /// The room `risk` leaves under `limits`.
    pub fn of(risk: &SymbolRisk, limits: &SymbolRiskLimits) -> Self {
        Self {
            loss: room(limits.max_loss, -risk.pnl),
            drawdown: room(limits.max_drawdown, risk.drawdown),
            exposure: room(limits.max_exposure, risk.exposure),
        }
    }

    /// The first limit breached, strictest first.
    pub fn breach(&self) -> Option<Breach> {
        first_breach(&[
            (self.loss, Breach::Loss),
            (self.drawdown, Breach::Drawdown),
            (self.exposure, Breach::Exposure),
        ])
    }
}

/// The whole portfolio's figures: its symbols' totals, with the day's peak P&L.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortfolioRisk {
    /// The totals over the symbols.
    pub totals: Totals,
    /// The day's highest P&L (from zero).
    pub peak: i128,
}

impl PortfolioRisk {
    /// The figures after `totals`, the peak carried on from these.
    pub fn next(&self, totals: Totals) -> Self {
        Self { totals, peak: self.peak.max(totals.pnl) }
    }

    /// The peak less the P&L.
    pub fn drawdown(&self) -> i128 {
        self.peak - self.totals.pnl
    }
}

/// The room left under each of the portfolio's limits (`None`: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortfolioHeadroom {
    /// Under the loss limit.
    pub loss: Option<i128>,
    /// Under the drawdown limit.
    pub drawdown: Option<i128>,
    /// Under the gross exposure limit.
    pub gross: Option<i128>,
    /// Under the net exposure limit.
    pub net: Option<i128>,
}

impl PortfolioHeadroom {
    /// The room `risk` leaves under `limits`.
    pub fn of(risk: &PortfolioRisk, limits: &PortfolioRiskLimits) -> Self {
        Self {
            loss: room(limits.max_loss, -risk.totals.pnl),
            drawdown: room(limits.max_drawdown, risk.drawdown()),
            gross: room(limits.max_gross, risk.totals.gross),
            net: room(limits.max_net, risk.totals.net.abs()),
        }
    }

    /// The first limit breached, strictest first.
    pub fn breach(&self) -> Option<Breach> {
        first_breach(&[
            (self.loss, Breach::Loss),
            (self.drawdown, Breach::Drawdown),
            (self.gross, Breach::GrossExposure),
            (self.net, Breach::NetExposure),
        ])
    }
}

fn first_breach(rooms: &[(Option<i128>, Breach)]) -> Option<Breach> {
    rooms.iter().find(|(room, _)| room.is_some_and(|r| r < 0)).map(|&(_, breach)| breach)
}
