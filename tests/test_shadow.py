"""Shadow mode on recordings: the Rust gate and the reference rules judge every recorded call; a
call where either disagrees with what was recorded, or after which their positions differ, is
reported with its inputs; a recording that cannot be played is refused, saying why. A journal's
execution reports play through both risk engines, and figures that part are reported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from risk.reference import gate as ref
from risk.reference import portfolio
from risk.reference.numbers import I64_MAX, ONE
from risk.shadow import CALLS, Engine, ShadowError, Summary, compare, limits_as_dict, replay, replay_reports
from shm_layout import EXECUTION_REPORT, GATE_CALL
from tickrail import _native

LIMITS = ref.Limits(
    symbols=(
        ref.SymbolLimits(
            instrument=1,
            tick=ONE // 100,
            lot=ONE,
            min_quantity=ONE,
            max_quantity=100 * ONE,
            max_notional=100_000 * ONE,
            price_band_bps=500,
            max_position=1_000 * ONE,
            max_venue_position=1_000 * ONE,
            max_working_orders=10,
            order_rate_per_s=1_000,
            order_burst=100,
            cancel_rate_per_s=1_000,
            cancel_burst=100,
            max_book_age_ns=10**9,
        ),
    ),
    portfolio=ref.PortfolioLimits(10**7 * ONE, 10**7 * ONE, 100, 10**9),
    venues=1,
    max_working_per_venue_symbol=16,
)
NOW = 10**12


def call(kind: str, order_id: int = 0, price: int = 0, quantity: int = 0, outcome: int = 0) -> np.ndarray:
    record = np.zeros(1, dtype=GATE_CALL)
    record["call"], record["order_id"], record["instrument_id"], record["side"] = CALLS[kind], order_id, 1, 1
    record["price"], record["quantity"], record["outcome"] = price, quantity, outcome
    record["reference_price"], record["book_published_ns"], record["now_ns"] = 100 * ONE, NOW, NOW
    record["symbol_room"], record["portfolio_room"] = I64_MAX, I64_MAX
    return record


def recording(path: Path, *records: np.ndarray) -> Path:
    path.write_bytes(json.dumps(limits_as_dict(LIMITS)).encode() + b"\n" + np.concatenate(records).tobytes())
    return path


def test_every_call_is_judged_by_both_engines_and_agreement_is_no_difference(tmp_path: Path) -> None:
    summary = replay(
        recording(
            tmp_path / "day.bin",
            call("started"),
            call("new", 1, 100 * ONE, 10 * ONE),
            call("filled", 1, 0, 4 * ONE),
            call("new", 2, 100 * ONE + 1, 10 * ONE, outcome=ref.Reject.OffTick + 1),
            call("done", 1),
        )
    )
    assert (summary.calls, summary.orders, summary.gates, summary.differences) == (5, 2, 1, 0)
    assert set(summary.latency_ns) == {"rust", "reference"} and summary.latency_ns["rust"]["p50"] > 0


def test_a_decision_unlike_the_recorded_one_is_reported_with_its_inputs(tmp_path: Path) -> None:
    off_tick_but_recorded_as_passed = call("new", 7, 100 * ONE + 1, 10 * ONE)
    summary = replay(recording(tmp_path / "day.bin", call("started"), off_tick_but_recorded_as_passed))
    assert summary.differences == 1
    [difference] = summary.first
    assert difference.call == "new"
    assert difference.outcomes == {"recorded": None, "rust": "OffTick", "reference": "OffTick"}
    assert (difference.inputs["order_id"], difference.inputs["price"]) == (7, 100 * ONE + 1)


class ForgetsFills(ref.Gate):
    """A reference gate with a bug: fills never reach its positions."""

    def filled(self, venue: int, instrument: int, id: int, quantity: int) -> None:
        pass


def test_positions_that_drift_apart_are_reported_after_the_call_that_parted_them() -> None:
    engines = {
        "rust": Engine(lambda: _native.Gate(LIMITS, 0)),
        "reference": Engine(lambda: ForgetsFills(LIMITS, 0)),
    }
    summary = Summary()
    records = np.concatenate(
        [call("started"), call("new", 1, 100 * ONE, 10 * ONE), call("filled", 1, 0, 4 * ONE)]
    )
    compare(records, engines, summary, None)
    assert summary.differences == 1
    [difference] = summary.first
    assert difference.call == "filled (position, working buys, working sells)"
    assert difference.outcomes == {"rust": str((4 * ONE, 6 * ONE, 0)), "reference": str((0, 10 * ONE, 0))}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json\n", "the first line is not a gate's limits"),
        (json.dumps(limits_as_dict(LIMITS)).encode() + b"\n" + b"\x00" * 7, "are not whole"),
        (json.dumps(limits_as_dict(LIMITS)).encode() + b"\n" + call("new").tobytes(), "a 'started' record"),
    ],
)
def test_a_recording_that_cannot_be_played_is_refused_saying_why(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(ShadowError, match=re.escape(message)):
        replay(path)
    with pytest.raises(ShadowError, match="No such file"):
        replay(tmp_path / "none.bin")


def reports() -> np.ndarray:
    """A round trip in instrument 1 on venue 0 that loses 100: bought 10 at 100, sold at 90."""
    records = np.zeros(4, dtype=EXECUTION_REPORT)
    rows = [
        (1, 1, 1, 2, 100, 10, 10),
        (1, 1, 3, 4, 100, 10, 0),
        (2, 2, 1, 2, 90, 10, 10),
        (2, 2, 3, 4, 90, 10, 0),
    ]
    for record, (order, side, kind, state, price, quantity, leaves) in zip(records, rows, strict=True):
        record["instrument_id"], record["order_id"], record["side"] = 1, order, side
        record["kind"], record["state"], record["price"] = kind, state, price * ONE
        record["quantity"], record["leaves"] = quantity * ONE, leaves * ONE
    return records


def test_a_journals_reports_play_through_both_risk_engines_and_agree() -> None:
    limits = (portfolio.SymbolRiskLimits(1, max_loss=50 * ONE),)
    summary = replay_reports(reports(), limits, portfolio.PortfolioRiskLimits(), 1)
    assert (summary.subject, summary.calls, summary.differences) == ("execution reports", 4, 0)


def test_figures_that_part_are_reported_with_the_report_behind_them(monkeypatch: pytest.MonkeyPatch) -> None:
    fill = portfolio.Position.fill

    def twice(self: portfolio.Position, side: ref.Side, quantity: int, price: int) -> None:
        fill(self, side, 2 * quantity, price)

    monkeypatch.setattr(portfolio.Position, "fill", twice)
    summary = replay_reports(reports(), (portfolio.SymbolRiskLimits(1),), portfolio.PortfolioRiskLimits(), 1)
    assert summary.differences >= 1
    first = summary.first[0]
    assert (first.sequence, first.call) == (1, "report (symbol figures)")
    assert first.inputs["order_id"] == 1 and first.inputs["kind"] == 3
