"""The Rust risk engines decide exactly as the reference rules say: random portfolios, limits,
books and order streams give the same decisions, reasons, holdings, figures and trading states
from the Rust gate and portfolio engine as from ``risk.reference``. At least 100,000 orders a
run; ``pytest --long`` plays a million."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from risk_streams import run_day

ORDERS_PER_DAY = 2_000
DAYS = 50  # 100,000 orders


@pytest.fixture(scope="module")
def days(request: pytest.FixtureRequest) -> int:
    """Days to play: ten times as many with ``--long``."""
    return DAYS * (10 if request.config.getoption("--long") else 1)


def test_random_days_give_the_same_decisions_reasons_positions_and_states(days: int) -> None:
    played: list[int] = []

    @settings(max_examples=days, deadline=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(min_value=0, max_value=2**32 - 1))
    def one_day(seed: int) -> None:
        played.append(run_day(seed, ORDERS_PER_DAY).orders)

    one_day()
    assert sum(played) >= days * ORDERS_PER_DAY, "every day played its orders"
