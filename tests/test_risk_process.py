"""The risk worker process's log: every change of a trading state names what changed, from what,
why, and the figures behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from risk.__main__ import describe
from risk.reference.numbers import ONE

if TYPE_CHECKING:
    from tickrail._native import RiskChange

PORTFOLIO = {"pnl": -160 * ONE, "drawdown": 160 * ONE}


def change(**fields: Any) -> RiskChange:
    base: dict[str, Any] = {
        "key": 1,
        "before": 0,
        "after": 2,
        "cause": "loss",
        "symbol": {"pnl": -110 * ONE, "drawdown": 110 * ONE},
        "portfolio": PORTFOLIO,
        "visible_after_ns": 4_200,
        "segment": None,
    }
    return cast("RiskChange", {**base, **fields})


def test_a_breach_names_the_symbol_the_limit_the_figures_and_how_soon_it_was_visible() -> None:
    line = describe(change(), {1: "AAPL"})
    assert line == (
        "risk: AAPL halted (was active): loss limit breached; P&L -110.00, drawdown 110.00; "
        "visible 4.2 us after its report"
    )


def test_a_stale_heartbeat_names_the_segment_and_an_operators_order_says_so() -> None:
    stale = describe(
        change(
            key=0, after=3, cause="stale-heartbeat", symbol=None, visible_after_ns=None, segment="t.b.metrics"
        ),
        {},
    )
    assert stale == (
        "risk: the portfolio killed (was active): stale-heartbeat; P&L -160.00, drawdown 160.00; "
        "t.b.metrics stopped beating"
    )
    ordered = describe(change(before=2, after=0, cause="operator", visible_after_ns=None), {1: "AAPL"})
    assert ordered.startswith("risk: AAPL active (was halted): operator; P&L -110.00")
