"""The trading state in shared memory: every symbol starts active, each change is a new record
with its reason that a reader sees, and a state, reason or symbol that does not exist is refused
by name."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

from shm_layout import TRADING_STATE, SlotReader, segment_stats, unlink
from tickrail.market import instruments
from tickrail.trading import GLOBAL, TradingStateError, TradingStates, read


@pytest.fixture
def states() -> Iterator[TradingStates]:
    name = f"tickrail.trading{os.getpid()}.trading"
    states = TradingStates(name, dict(instruments()))
    yield states
    states.close()
    unlink(name)


def test_everything_starts_active_and_each_change_is_read_with_its_reason(states: TradingStates) -> None:
    aapl = dict(instruments())["AAPL"]
    assert read(states.name, GLOBAL) == ("active", "start", 0)
    assert states.set("AAPL", "reduce-only", "operator")["symbols"]["AAPL"] == "reduce-only"
    assert read(states.name, aapl) == ("reduce-only", "operator", 1)
    snapshot = states.set(None, "killed", "supervisor")
    assert snapshot["global"] == "killed" and snapshot["symbols"]["MSFT"] == "active"
    assert read(states.name, GLOBAL) == ("killed", "supervisor", 1)
    assert TRADING_STATE.itemsize == 80
    raw = SlotReader.open(states.name).read(aapl)
    assert raw is not None
    held = np.frombuffer(raw, dtype=TRADING_STATE)[0]
    assert int(held["exposure_room"]) == 2**63 - 1, "no limit until a risk worker says otherwise"


def test_a_state_reason_or_symbol_that_does_not_exist_is_refused_by_name(states: TradingStates) -> None:
    with pytest.raises(TradingStateError, match="no trading state 'paused'"):
        states.set(None, "paused", "operator")
    with pytest.raises(TradingStateError, match="no reason 'whim'"):
        states.set(None, "halted", "whim")
    with pytest.raises(TradingStateError, match=r"no symbol 'TSLA' \(AAPL, MSFT, SPY, NVDA\)"):
        states.set("TSLA", "halted", "operator")
    assert states.snapshot()["global"] == "active", "nothing changed"


def test_the_writer_heartbeat_tells_the_gate_its_writer_lives(states: TradingStates) -> None:
    states.heartbeat()
    stats = segment_stats(states.name)
    assert stats["writer_alive"] and stats["heartbeat_ns"] > 0
