//! The trading state the gate enforces, as the risk worker and operators set it in shared
//! memory.

use shm_layout::records::trading_state;

use crate::reject::Reject;

/// What may trade, globally or for one symbol (its codes are those of the trading state
/// slots in shared memory, [`trading_state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TradingState {
    /// Any order the limits allow.
    Active = trading_state::ACTIVE,
    /// Only orders that reduce the position.
    ReduceOnly = trading_state::REDUCE_ONLY,
    /// Cancels only.
    Halted = trading_state::HALTED,
    /// Cancels only, and execution cancels every open order: the kill switch.
    Killed = trading_state::KILLED,
}

impl TradingState {
    /// The state stored as `code`; an unknown code fails closed.
    pub fn from_code(code: u8) -> Result<Self, Reject> {
        match code {
            trading_state::ACTIVE => Ok(TradingState::Active),
            trading_state::REDUCE_ONLY => Ok(TradingState::ReduceOnly),
            trading_state::HALTED => Ok(TradingState::Halted),
            trading_state::KILLED => Ok(TradingState::Killed),
            _ => Err(Reject::UnknownTradingState),
        }
    }
}

/// What the gate reads of the trading state for one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradingView {
    /// The global state's code.
    pub global: u8,
    /// The order's symbol's state's code.
    pub symbol: u8,
    /// Nanoseconds since the risk worker's last heartbeat.
    pub risk_heartbeat_age_ns: u64,
    /// Room the risk worker leaves under the symbol's exposure limit, units of 1e-9 of
    /// currency (`i64::MAX`: no limit).
    pub symbol_room: i64,
    /// Room it leaves under the portfolio's gross exposure limit, likewise.
    pub portfolio_room: i64,
}

impl TradingView {
    /// Everything active, with a fresh heartbeat and no limit.
    pub const ACTIVE: TradingView = TradingView {
        global: TradingState::Active as u8,
        symbol: TradingState::Active as u8,
        risk_heartbeat_age_ns: 0,
        symbol_room: i64::MAX,
        portfolio_room: i64::MAX,
    };

    /// The stricter of the global and the symbol's state, or why there is none to trust.
    pub fn effective(&self, max_heartbeat_age_ns: u64) -> Result<TradingState, Reject> {
        if self.risk_heartbeat_age_ns > max_heartbeat_age_ns {
            return Err(Reject::RiskHeartbeatStale);
        }
        Ok(TradingState::from_code(self.global)?.max(TradingState::from_code(self.symbol)?))
    }
}
