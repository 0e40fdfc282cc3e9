"""The instance's trading state in shared memory: one seqlock slot per instrument (key 0: the
global state) that the pre-trade gate reads on every order.

The risk worker writes it (:class:`TradingStates` only sets every state active when the segment
is made); operators' orders (``tickrail kill``, ``resume``, ``state``) and the supervisor's own
halts reach it through its commands queue (:class:`TradingControl`), and are in force once the
slots show them. An instance with no risk worker has no one to write it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from shm_layout import TRADING_STATE, TYPE_IDS, QueueWriter, SegmentNotFound, SlotReader, SlotWriter
from tickrail._native import STATE_REASONS, TRADING_STATES

#: Key of the global state.
GLOBAL = 0
#: A room with no limit above it (as the risk worker writes it).
NO_LIMIT = 2**63 - 1
#: Keys in the table: instrument ids must be below this (as in the book slots).
KEYS = 1024
_STATE_NAMES = {code: name for name, code in TRADING_STATES.items()}
_REASON_NAMES = {code: name for name, code in STATE_REASONS.items()}


class TradingStateError(ValueError):
    """A state, a reason or a symbol that does not exist; the message names it."""


def _key(instruments: dict[str, int], symbol: str | None, state: str, reason: str) -> int:
    """The key of ``symbol`` (the global state's if ``None``), once the state and the reason are
    known ones; an unknown name is refused, listing the known."""
    if state not in TRADING_STATES:
        raise TradingStateError(f"no trading state {state!r} ({', '.join(TRADING_STATES)})")
    if reason not in STATE_REASONS:
        raise TradingStateError(f"no reason {reason!r} ({', '.join(STATE_REASONS)})")
    if symbol is not None and symbol not in instruments:
        raise TradingStateError(f"no symbol {symbol!r} ({', '.join(instruments)})")
    return GLOBAL if symbol is None else instruments[symbol]


def _state_record(key: int, state: str, reason: str, sequence: int) -> np.ndarray:
    """One trading state record."""
    record = np.zeros(1, dtype=TRADING_STATE)
    record["msg_type"] = TYPE_IDS["TradingState"]
    record["length"] = TRADING_STATE.itemsize
    record["sequence"] = sequence
    record["publish_ts_ns"] = time.time_ns()
    record["instrument_id"] = key
    record["state"] = TRADING_STATES[state]
    record["reason"] = STATE_REASONS[reason]
    for room in ("loss_room", "drawdown_room", "exposure_room", "net_room"):
        record[room] = NO_LIMIT
    return record


def segment_name(instance: str) -> str:
    """The trading state segment of ``instance``."""
    return f"tickrail.{instance}.trading"


class TradingStates:
    """The writer of an instance's trading state: every instrument and the global state start
    ``active``; each change is a new record with the next sequence and its reason."""

    def __init__(self, name: str, instruments: dict[str, int]) -> None:
        self.name = name
        self.instruments = instruments
        self.writer = SlotWriter.create(name, KEYS, TRADING_STATE.itemsize, replace_stale=True)
        self.records: dict[int, np.void] = {}
        for key in (GLOBAL, *instruments.values()):
            self._write(key, "active", "start")

    def _write(self, key: int, state: str, reason: str) -> None:
        previous = self.records.get(key)
        record = _state_record(key, state, reason, 0 if previous is None else int(previous["sequence"]) + 1)
        self.writer.write(key, record)
        self.records[key] = record[0]

    def set(self, symbol: str | None, state: str, reason: str) -> dict[str, Any]:
        """Sets ``symbol``'s state (the global state if ``None``); the states as they are now."""
        self._write(_key(self.instruments, symbol, state, reason), state, reason)
        return self.snapshot()

    def heartbeat(self) -> None:
        """Says the writer lives (the gate fails closed on a stale heartbeat)."""
        self.writer.heartbeat()

    def snapshot(self) -> dict[str, Any]:
        """``{"global": state, "symbols": {symbol: state}}``, as written."""
        return {
            "global": _STATE_NAMES[int(self.records[GLOBAL]["state"])],
            "symbols": {s: _STATE_NAMES[int(self.records[i]["state"])] for s, i in self.instruments.items()},
        }

    def close(self) -> None:
        """Gives up the writer's role (the supervisor unlinks the segment)."""
        self.writer.close()


def read(name: str, instrument_id: int) -> tuple[str, str, int]:
    """The state, the reason of its last change and the write count of ``instrument_id`` (0:
    global) in segment ``name``, as the gate reads them."""
    raw = SlotReader.open(name).read(instrument_id)
    if raw is None:
        raise TradingStateError(f"{name}: no state for instrument {instrument_id}")
    record = np.frombuffer(raw, dtype=TRADING_STATE)[0]
    state, reason = int(record["state"]), int(record["reason"])
    return (
        _STATE_NAMES.get(state, f"unknown ({state})"),
        _REASON_NAMES.get(reason, f"unknown ({reason})"),
        int(record["sequence"]),
    )


#: How long an operator's order may take to show in the slots before the answer says so.
APPLY_TIMEOUT_S = 1.0


class TradingControl:
    """An operator's side of the trading state: orders go into the risk worker's commands queue
    ``commands``; what is in force is read from the slots ``name``."""

    def __init__(self, name: str, commands: str, instruments: dict[str, int]) -> None:
        self.name = name
        self.instruments = instruments
        self.queue = QueueWriter.attach(commands, max_message_size=TRADING_STATE.itemsize)
        self.reader = SlotReader.open(name)

    def set(self, symbol: str | None, state: str, reason: str) -> dict[str, Any]:
        """Orders ``symbol``'s state (the global state if ``None``) and waits (bounded) for the risk
        worker to apply it (it counts every order it answers in the key's slot, changed or not);
        the states as they are then: a limit still breached keeps its state. Raises if it is not
        applied by then (the order stays queued for the worker)."""
        key = _key(self.instruments, symbol, state, reason)
        before = self._answered(key)
        record = _state_record(key, state, reason, 0)
        if not self.queue.push(record.tobytes(), APPLY_TIMEOUT_S):
            raise TradingStateError(f"{self.queue.name}: the risk worker's commands queue is full")
        deadline = time.monotonic() + APPLY_TIMEOUT_S
        while self._answered(key) == before:
            if time.monotonic() >= deadline:
                raise TradingStateError(
                    f"{state} is queued for the risk worker, which has not applied it within "
                    f"{APPLY_TIMEOUT_S:g} s (is it running?)"
                )
            time.sleep(0.005)
        return self.snapshot()

    def _record(self, key: int) -> np.void | None:
        raw = self.reader.read(key)
        return None if raw is None else np.frombuffer(raw, dtype=TRADING_STATE)[0]

    def _state(self, key: int) -> str:
        """The state in the slot of ``key``."""
        record = self._record(key)
        if record is None:
            return "unknown"
        code = int(record["state"])
        return _STATE_NAMES.get(code, f"unknown ({code})")

    def _answered(self, key: int) -> int:
        """How many operators' orders on ``key`` the risk worker has answered (-1: none yet)."""
        record = self._record(key)
        return -1 if record is None else int(record["orders"])

    def snapshot(self) -> dict[str, Any]:
        """``{"global": state, "symbols": {symbol: state}}``, as the slots hold them."""
        return {
            "global": self._state(GLOBAL),
            "symbols": {s: self._state(i) for s, i in self.instruments.items()},
        }

    def close(self) -> None:
        """Lets go of the queue and the slots."""
        self.queue.close()
        self.reader.close()


def states_of(name: str, instruments: dict[str, int]) -> dict[str, Any] | None:
    """``{"global": state, "symbols": {symbol: state}}`` as the slots ``name`` hold them (a symbol
    never written there is left out); ``None`` if there is no such segment."""
    try:
        reader = SlotReader.open(name)
    except SegmentNotFound:
        return None
    try:

        def state(key: int) -> str | None:
            raw = reader.read(key)
            if raw is None:
                return None
            code = int(np.frombuffer(raw, dtype=TRADING_STATE)[0]["state"])
            return _STATE_NAMES.get(code, f"unknown ({code})")

        held = {s: state(i) for s, i in instruments.items()}
        return {
            "global": state(GLOBAL) or "unknown",
            "symbols": {s: v for s, v in held.items() if v is not None},
        }
    finally:
        reader.close()
