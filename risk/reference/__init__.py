"""The reference rules: the pre-trade gate written as plain, readable Python.

This is the specification the Rust engine in ``risk/src/`` must match exactly: given the same
calls, the reference and the engine return the same decision and the same rejection reason (the
first check that fails) and keep the same positions, working orders, throttles and counters. It
is written to be read, not to be fast; shadow runs and tests compare the engine against it.
"""

from risk.reference.gate import (
    ACTIVE,
    HALTED,
    KILLED,
    REDUCE_ONLY,
    Gate,
    Holding,
    Limits,
    LimitsError,
    MarketView,
    NewOrder,
    PortfolioLimits,
    Reject,
    Replace,
    Side,
    SymbolLimits,
    TradingView,
)

__all__ = [
    "ACTIVE",
    "HALTED",
    "KILLED",
    "REDUCE_ONLY",
    "Gate",
    "Holding",
    "Limits",
    "LimitsError",
    "MarketView",
    "NewOrder",
    "PortfolioLimits",
    "Reject",
    "Replace",
    "Side",
    "SymbolLimits",
    "TradingView",
]
