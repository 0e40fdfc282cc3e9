//! The trading states the risk worker publishes, and why each is what it is.
//!
//! Each key (0: the whole portfolio; otherwise an instrument's id) has an operator's state and
//! a latched one: what breaches and stale heartbeats set. The state the gate sees is the
//! stricter of the two. A latched state only ever gets stricter, whatever the figures do
//! afterwards, until an operator sets the key active again, which clears it (a breach still
//! standing then latches again at once). An operator's order is always answered with a
//! [`Change`], even one that leaves the state as it was.

use std::collections::HashMap;

use crate::breach::Breach;
use crate::state::TradingState;

/// Why a state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// An operator set it.
    Operator,
    /// A risk limit was breached.
    Limit(Breach),
    /// A feed's or execution's heartbeat went stale.
    StaleHeartbeat,
}

/// A change of a key's state, to be published and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The key: 0 for the portfolio, else the instrument's id.
    pub key: u32,
    /// The state before.
    pub from: TradingState,
    /// The state now.
    pub to: TradingState,
    /// Why.
    pub cause: Cause,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    operator: TradingState,
    latched: TradingState,
}

impl Entry {
    fn effective(&self) -> TradingState {
        self.operator.max(self.latched)
    }
}

/// Every key's states.
#[derive(Debug, Clone)]
pub struct Board {
    entries: HashMap<u32, Entry>,
}

/// The key of the whole portfolio's state.
pub const PORTFOLIO: u32 = 0;

impl Board {
    /// Every one of `keys` active ([`PORTFOLIO`] for the portfolio's state, instruments' ids
    /// for theirs).
    pub fn new(keys: &[u32]) -> Self {
        let active = Entry { operator: TradingState::Active, latched: TradingState::Active };
        Self { entries: keys.iter().map(|&k| (k, active)).collect() }
    }

    /// The state the gate sees for `key` (`None`: no such key).
    pub fn state(&self, key: u32) -> Option<TradingState> {
        self.entries.get(&key).map(Entry::effective)
    }

    /// Latches `state` on `key` for `cause` (a state no stricter than the latched one changes
    /// nothing); the change the gate will see, if any.
    pub fn latch(&mut self, key: u32, state: TradingState, cause: Cause) -> Option<Change> {
        let entry = self.entries.get_mut(&key)?;
        let from = entry.effective();
        entry.latched = entry.latched.max(state);
        changed(key, from, entry.effective(), cause)
    }

    /// An operator sets `key` to `state`; setting it active also clears what was latched. An
    /// operator's order is always answered (`None`: no such key), even when it leaves the state
    /// as it was, so whoever gave it knows it was applied.
    pub fn operator(&mut self, key: u32, state: TradingState) -> Option<Change> {
        let entry = self.entries.get_mut(&key)?;
        let from = entry.effective();
        entry.operator = state;
        if state == TradingState::Active {
            entry.latched = TradingState::Active;
        }
        Some(Change { key, from, to: entry.effective(), cause: Cause::Operator })
    }
}

fn changed(key: u32, from: TradingState, to: TradingState, cause: Cause) -> Option<Change> {
    (from != to).then_some(Change { key, from, to, cause })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latched_state_only_gets_stricter_until_an_operator_clears_it() {
        let mut board = Board::new(&[PORTFOLIO, 7]);
        let loss = Cause::Limit(Breach::Loss);
        let drawdown = Cause::Limit(Breach::Drawdown);
        assert_eq!(
            board.latch(7, TradingState::ReduceOnly, drawdown).map(|c| c.to),
            Some(TradingState::ReduceOnly)
        );
        assert_eq!(board.latch(7, TradingState::Halted, loss).map(|c| c.to), Some(TradingState::Halted));
        assert_eq!(board.latch(7, TradingState::ReduceOnly, drawdown), None, "never back by itself");
        assert_eq!(board.state(PORTFOLIO), Some(TradingState::Active), "the portfolio is apart");
        let cleared = board.operator(7, TradingState::Active).unwrap();
        assert_eq!(
            (cleared.from, cleared.to, cleared.cause),
            (TradingState::Halted, TradingState::Active, Cause::Operator)
        );
        assert_eq!(board.latch(99, TradingState::Halted, loss), None, "no such key");
    }

    #[test]
    fn the_stricter_of_the_operators_and_the_latched_state_is_seen() {
        let mut board = Board::new(&[PORTFOLIO, 7]);
        board.operator(7, TradingState::Halted);
        assert_eq!(board.latch(7, TradingState::ReduceOnly, Cause::StaleHeartbeat), None);
        let again = board.operator(7, TradingState::Halted).unwrap();
        assert_eq!(
            (again.from, again.to),
            (TradingState::Halted, TradingState::Halted),
            "answered, unchanged"
        );
        let lifted = board.operator(7, TradingState::ReduceOnly).unwrap();
        assert_eq!(lifted.to, TradingState::ReduceOnly, "the latch (reduce-only) is still there");
        assert_eq!(board.operator(7, TradingState::Active).map(|c| c.to), Some(TradingState::Active));
    }
}
