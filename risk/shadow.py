"""Shadow mode: the reference rules judge the same pre-trade gate calls as the Rust gate, off the
hot path, and every difference in a decision, a reason or a position (what the gate holds of the
call's symbol and venue) is reported with the inputs that led to it.

The execution worker publishes every call it makes on its gate into its gate ring
(``tickrail.<instance>.execution.gate``: ``GATE_CALL`` records with what the gate saw and what it
said; a ``started`` record opens each new gate). ``tickrail shadow`` reads the ring:

* live, it feeds each call to a reference gate (:mod:`risk.reference.gate`) and compares its
  decision with the one the worker's gate made (and its positions with a Rust gate's playing the
  same calls); ``--record FILE`` also keeps the calls;
* ``--replay FILE`` plays a recording through both the Rust gate (``tickrail._native.Gate``) and
  the reference, timing each, and compares both with what was recorded.

Either way it ends with a summary: calls and orders compared, differences (the first ones in
full), and, replaying, each engine's time per call.

For the portfolio risk, ``--risk`` reads the risk worker's events ring
(``tickrail.<instance>.risk.events``: every report and mark it applied, in order, and every
state it wrote right after its cause) and plays it through the Rust risk engine and the
reference (:func:`live_risk`), comparing the states each event changes, the symbol's figures and
the portfolio's totals after it, and, with the worker's one group on its publisher's thread, the
states the worker wrote. ``--journal FILE`` plays the execution reports an execution worker's
journal holds the same way (:func:`replay_reports`); a journal holds no books, so those figures
are at cost.

A recording is one JSON line (the gate's limits) followed by the raw records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, astuple, dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np

from risk.reference import gate as ref
from risk.reference import portfolio
from shm_layout import EXECUTION_REPORT, GATE_CALL, MARK, TRADING_STATE, TYPE_IDS, BroadcastReader
from tickrail import _native

CALLS = _native.GATE_CALLS
REASONS = _native.STATE_REASONS
ACTIVE_CODE = _native.TRADING_STATES["active"]
_CALL_NAMES = {code: name for name, code in CALLS.items()}
#: A sell's side code in records (anything else reads as a buy, as the Rust decoder reads it).
_ASK = 2
#: Differences kept in full for the summary.
KEPT = 20


class ShadowError(ValueError):
    """A recording or a ring that cannot be shadowed; the message says why."""


def limits_from(document: dict[str, Any]) -> ref.Limits:
    """The gate's limits from their JSON form (a recording's first line)."""
    return ref.Limits(
        symbols=tuple(ref.SymbolLimits(**s) for s in document["symbols"]),
        portfolio=ref.PortfolioLimits(**document["portfolio"]),
        venues=document["venues"],
        max_working_per_venue_symbol=document["max_working_per_venue_symbol"],
    )


def outcome_name(code: int) -> str | None:
    """A record's outcome as the engines give it: ``None`` for a pass, else the reason's name."""
    return None if code == 0 else ref.Reject(code - 1).name


@dataclass
class Difference:
    """One call the engines judged differently, with its inputs."""

    sequence: int
    call: str
    outcomes: dict[str, str | None]
    inputs: dict[str, Any]


@dataclass
class Summary:
    """What a shadow session compared and found."""

    #: What was compared: ``gate calls`` or ``execution reports``.
    subject: str = "gate calls"
    calls: int = 0
    orders: int = 0
    gates: int = 0
    lost: int = 0
    differences: int = 0
    first: list[Difference] = field(default_factory=list)
    latency_ns: dict[str, dict[str, float]] = field(default_factory=dict)
    #: What limited the comparison, if anything.
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return asdict(self)


#: The fields of a gate call that are its inputs.
_INPUTS = tuple(n for n in GATE_CALL.names or () if n not in ("reserved", "flags", "length", "msg_type"))


def _inputs(record: np.void) -> dict[str, Any]:
    return {name: int(record[name]) for name in _INPUTS}


def _order(record: np.void) -> ref.NewOrder:
    return ref.NewOrder(
        id=int(record["order_id"]),
        venue=int(record["venue"]),
        instrument=int(record["instrument_id"]),
        side=ref.Side.SELL if record["side"] == _ASK else ref.Side.BUY,
        price=int(record["price"]),
        quantity=int(record["quantity"]),
    )


class Engine:
    """A gate (the reference's or the Rust one through ``_native.Gate``) driven by recorded
    calls; each call gives the gate's decision (``None``: passed, or a call that judges nothing)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make
        self.gate = make()

    def holding(self, venue: int, instrument: int) -> str | None:
        """What the gate holds of ``instrument`` on ``venue`` (position, working buys, working
        sells), as text; ``None`` where it trades no such thing."""
        return _holding(self.gate.venue_holding(venue, instrument))

    def call(self, record: np.void) -> tuple[str | None, int]:
        """Applies one recorded call: the gate's decision and the nanoseconds the gate took (the
        arguments built beforehand; for the Rust gate, their conversion is in the time)."""
        call = int(record["call"])
        if call == CALLS["started"]:
            self.gate = self.make()
            return None, 0
        order = _order(record)
        market = ref.MarketView(
            int(record["reference_price"]), int(record["book_published_ns"]), bool(record["stale"])
        )
        trading = ref.TradingView(
            int(record["global_state"]),
            int(record["symbol_state"]),
            int(record["risk_heartbeat_age_ns"]),
            int(record["symbol_room"]),
            int(record["portfolio_room"]),
        )
        now, original = int(record["now_ns"]), int(record["original_id"])
        venue, instrument = order.venue, order.instrument
        gate = self.gate
        judge: Callable[[], Any]
        if call == CALLS["new"]:
            judge = partial(gate.check_new, order, market, trading, now)
        elif call == CALLS["replace"]:
            replace = ref.Replace(original, order)
            judge = partial(gate.check_replace, replace, market, trading, now)
        elif call == CALLS["cancel-sent"]:
            judge = partial(gate.cancel_sent, venue, instrument, now)
        elif call == CALLS["filled"]:
            judge = partial(gate.filled, venue, instrument, order.id, order.quantity)
        elif call == CALLS["done"]:
            judge = partial(gate.done, venue, instrument, order.id)
        elif call == CALLS["replace-refused"]:
            refused = ref.Replace(original, order)
            judge = partial(gate.replace_refused, refused, order.price, order.quantity)
        elif call == CALLS["restore-working"]:
            judge = partial(gate.restore_working, order)
        elif call == CALLS["restore-replacing"]:
            judge = partial(gate.restore_replacing, original, order)
        elif call == CALLS["restore-position"]:
            judge = partial(gate.restore_position, venue, instrument, order.quantity)
        else:
            raise ShadowError(f"call {call} is not a gate call this shadow knows")
        started = time.perf_counter_ns()
        outcome = judge()
        return _name(outcome), time.perf_counter_ns() - started


def _holding(held: ref.Holding | tuple[int, int, int] | None) -> str | None:
    if isinstance(held, ref.Holding):
        held = (held.position, held.working_buy, held.working_sell)
    return None if held is None else str(held)


def _name(outcome: ref.Reject | str | None) -> str | None:
    return outcome.name if isinstance(outcome, ref.Reject) else outcome


def _percentiles(samples: list[int]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)
    return {
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)],
        "mean": round(sum(ordered) / len(ordered), 1),
    }


def compare(
    records: Iterable[np.void],
    engines: dict[str, Engine],
    summary: Summary,
    timings: dict[str, list[int]] | None,
) -> None:
    """Feeds every record to every engine; a call where their decisions (and the recorded one)
    differ, or after which two engines hold different positions or working quantities for the
    call's symbol and venue, is counted, and the first :data:`KEPT` are kept with their inputs."""
    for record in records:
        call = int(record["call"])
        summary.calls += 1
        summary.gates += call == CALLS["started"]
        judged = call in (CALLS["new"], CALLS["replace"])
        summary.orders += judged
        outcomes: dict[str, str | None] = {"recorded": outcome_name(int(record["outcome"]))}
        for name, engine in engines.items():
            outcomes[name], took = engine.call(record)
            if timings is not None and judged:
                timings[name].append(took)
        name = _CALL_NAMES.get(call, str(call))
        if len(set(outcomes.values())) > 1:
            _differ(summary, record, name, outcomes)
        held = {n: e.holding(int(record["venue"]), int(record["instrument_id"])) for n, e in engines.items()}
        if len(set(held.values())) > 1:
            _differ(summary, record, f"{name} (position, working buys, working sells)", held)


def _differ(summary: Summary, record: np.void, call: str, outcomes: dict[str, Any]) -> None:
    summary.differences += 1
    if len(summary.first) < KEPT:
        summary.first.append(Difference(int(record["sequence"]), call, outcomes, _inputs(record)))


def read_recording(path: Path) -> tuple[ref.Limits, dict[str, Any], np.ndarray]:
    """A recording's limits (and their JSON form) and its records."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ShadowError(f"{path}: {e.strerror}") from None
    head, _, body = data.partition(b"\n")
    try:
        document = json.loads(head)
        limits = limits_from(document)
    except (ValueError, KeyError, TypeError) as e:
        raise ShadowError(f"{path}: the first line is not a gate's limits ({e})") from None
    if len(body) % GATE_CALL.itemsize:
        raise ShadowError(
            f"{path}: {len(body)} bytes of records are not whole {GATE_CALL.itemsize}-byte records"
        )
    return limits, document, np.frombuffer(body, dtype=GATE_CALL)


def replay(path: Path) -> Summary:
    """Plays the recording at ``path`` through the Rust gate and the reference."""
    limits, _, records = read_recording(path)
    if len(records) == 0 or records[0]["call"] != CALLS["started"]:
        raise ShadowError(f"{path}: a recording starts where a gate starts (a 'started' record)")
    engines = {
        "rust": Engine(lambda: _native.Gate(limits, 0)),
        "reference": Engine(lambda: ref.Gate(limits, 0)),
    }
    summary = Summary()
    timings: dict[str, list[int]] = {name: [] for name in engines}
    compare(records, engines, summary, timings)
    summary.latency_ns = {name: _percentiles(samples) for name, samples in timings.items()}
    return summary


def live_records(ring: str, stop: Callable[[], bool], batch: int = 4096) -> Iterator[tuple[np.ndarray, int]]:
    """Batches of the gate ring's records from the oldest it holds, with how many were lost
    before each, until ``stop()``."""
    reader = BroadcastReader.attach(ring, start="oldest")
    buffer = np.zeros(batch, dtype=GATE_CALL)
    try:
        while not stop():
            count, lost = reader.read_records(buffer, GATE_CALL.itemsize)
            if count == 0 and lost == 0:
                reader.wait(0.05)
                continue
            yield buffer[:count].copy(), lost
    finally:
        reader.close()


def live(ring: str, limits: ref.Limits, stop: Callable[[], bool], record: IO[bytes] | None = None) -> Summary:
    """Shadows the gate ring ``ring`` until ``stop()``: the reference judges each call beside the
    recorded decision (and the Rust gate, playing the same calls, holds the positions to compare
    with). Calls are compared from a gate's start on; after lost records, until the next start."""
    summary = Summary()
    engines = {
        "rust": Engine(lambda: _native.Gate(limits, 0)),
        "reference": Engine(lambda: ref.Gate(limits, 0)),
    }
    following = False
    if record is not None:
        record.write(json.dumps(limits_as_dict(limits)).encode() + b"\n")
    for records, lost in live_records(ring, stop):
        summary.lost += lost
        following = following and lost == 0
        if record is not None:
            record.write(records.tobytes())
        starts = np.flatnonzero(records["call"] == CALLS["started"])
        if not following:
            if len(starts) == 0:
                continue
            records = records[starts[0] :]
            following = True
        compare(records, engines, summary, None)
    return summary


def limits_as_dict(limits: ref.Limits) -> dict[str, Any]:
    """The gate's limits in their JSON form."""
    return {
        "symbols": [asdict(s) for s in limits.symbols],
        "portfolio": asdict(limits.portfolio),
        "venues": limits.venues,
        "max_working_per_venue_symbol": limits.max_working_per_venue_symbol,
    }


def describe(summary: Summary) -> str:
    """The summary for people."""
    if summary.subject == "gate calls":
        head = (
            f"{summary.calls:,} gate calls compared ({summary.orders:,} orders judged, {summary.gates} gate "
            f"starts), {summary.lost:,} lost, {summary.differences:,} differences"
        )
        unit = "order judged"
    else:
        head = f"{summary.calls:,} {summary.subject} compared, {summary.differences:,} differences"
        unit = "report" if summary.subject == "execution reports" else "event"
    lines = [head, *(f"  note: {note}" for note in summary.notes)]
    for d in summary.first:
        lines.append(f"  #{d.sequence} {d.call}: {d.outcomes}; inputs {d.inputs}")
    for name, latency in summary.latency_ns.items():
        if latency:
            lines.append(f"  {name}: p50 {latency['p50']:,.0f} ns, p99 {latency['p99']:,.0f} ns per {unit}")
    return "\n".join(lines)


def _facts(record: np.void) -> portfolio.ReportFacts:
    return portfolio.ReportFacts(
        instrument=int(record["instrument_id"]),
        venue=int(record["venue"]),
        side=ref.Side.SELL if record["side"] == _ASK else ref.Side.BUY,
        kind=int(record["kind"]),
        state=int(record["state"]),
        order_id=int(record["order_id"]),
        replacement_id=int(record["replacement_id"]),
        price=int(record["price"]),
        quantity=int(record["quantity"]),
        leaves=int(record["leaves"]),
    )


class RiskPair:
    """The Rust risk engine (``_native.RiskEngine``) and the reference, fed the same events; each
    event's state changes, the symbol's figures and the portfolio's totals are compared, and a
    difference is counted in ``summary`` with the event's inputs."""

    def __init__(
        self,
        symbols: tuple[portfolio.SymbolRiskLimits, ...],
        whole: portfolio.PortfolioRiskLimits,
        venues: int,
        summary: Summary,
    ) -> None:
        self.rust = _native.RiskEngine(list(symbols), whole, venues)
        self.reference = portfolio.RiskEngine.of(symbols, whole, venues)
        self.summary = summary
        self.timings: dict[str, list[int]] = {"rust": [], "reference": []}

    def report(self, record: np.void, at: int) -> list[tuple[int, int]]:
        """Applies an execution report; the changes a limit caused in the reference, as ``(key,
        state after)``."""
        facts = _facts(record)
        return self._judge(
            at, "report", facts.instrument, _fields_of(record, EXECUTION_REPORT), lambda e: e.apply(facts)
        )

    def mark(self, record: np.void, at: int) -> list[tuple[int, int]]:
        """Applies a venue's book; the changes a limit caused in the reference."""
        instrument, venue = int(record["instrument_id"]), int(record["venue"])
        bid, ask = int(record["bid"]), int(record["ask"])
        return self._judge(
            at, "mark", instrument, _fields_of(record, MARK), lambda e: e.mark(instrument, venue, bid, ask)
        )

    def operator(self, key: int, state: int, at: int) -> list[tuple[int, int]]:
        """Applies an operator's order (or a state adopted at a start); the changes a limit caused
        in the reference (one still breached latching again)."""
        return self._judge(
            at, "operator", key, {"key": key, "state": state}, lambda e: e.operator(key, state)
        )

    def _judge(
        self, at: int, what: str, instrument: int, inputs: dict[str, Any], apply: Callable[[Any], Any]
    ) -> list[tuple[int, int]]:
        self.summary.calls += 1
        outcomes: dict[str, Any] = {}
        for name, engine in (("rust", self.rust), ("reference", self.reference)):
            started = time.perf_counter_ns()
            try:
                changes = apply(engine)
            except ValueError as e:
                outcomes[name] = f"refused: {e}"
                continue
            self.timings[name].append(time.perf_counter_ns() - started)
            outcomes[name] = [
                c if isinstance(c, tuple) else (c.key, c.before, c.after, c.cause) for c in changes
            ]
        if outcomes["rust"] != outcomes["reference"]:
            _report_difference(self.summary, at, f"{what} (state changes)", outcomes, inputs)
            return []
        if instrument in self.reference.symbol_limits:
            ours, theirs = self.rust.symbol(instrument), astuple(self.reference.portfolio.symbol(instrument))
            if ours != theirs:
                _report_difference(
                    self.summary, at, f"{what} (symbol figures)", {"rust": ours, "reference": theirs}, inputs
                )
        totals, peak = self.reference.portfolio.totals(), self.reference.risk.peak
        theirs_totals = (totals.pnl, totals.gross, totals.net, totals.open, peak)
        if self.rust.totals() != theirs_totals:
            _report_difference(
                self.summary,
                at,
                f"{what} (portfolio)",
                {"rust": self.rust.totals(), "reference": theirs_totals},
                inputs,
            )
        # What the worker writes with a limit as its reason: the changes a limit caused.
        changes = outcomes["reference"]
        return (
            []
            if isinstance(changes, str)
            else [(k, after) for k, _, after, cause in changes if cause != "operator"]
        )

    def latencies(self) -> dict[str, dict[str, float]]:
        """Each engine's time per event, in nanoseconds."""
        return {name: _percentiles(samples) for name, samples in self.timings.items()}


def _fields_of(record: np.void, dtype: np.dtype[Any]) -> dict[str, int]:
    return {name: int(record[name]) for name in dtype.names or () if name != "reserved"}


def replay_reports(
    records: np.ndarray,
    symbols: tuple[portfolio.SymbolRiskLimits, ...],
    whole: portfolio.PortfolioRiskLimits,
    venues: int,
) -> Summary:
    """Plays execution reports (``EXECUTION_REPORT`` records, as a journal holds them) through
    the Rust risk engine and the reference (:class:`RiskPair`). A report about a symbol neither
    engine holds is refused by both, and that agreement is compared too."""
    summary = Summary(subject="execution reports")
    pair = RiskPair(symbols, whole, venues, summary)
    for at, record in enumerate(records):
        pair.report(record, at)
    summary.latency_ns = pair.latencies()
    return summary


def live_risk(
    ring: str,
    symbols: tuple[portfolio.SymbolRiskLimits, ...],
    whole: portfolio.PortfolioRiskLimits,
    venues: int,
    stop: Callable[[], bool],
    worker_inline: bool,
) -> Summary:
    """Shadows the risk worker's events ring ``ring`` until ``stop()``: every report and mark it
    applied goes through both engines (:class:`RiskPair`), with the states it adopted at its
    start and the operators' orders. With the worker's one group on its publisher's thread
    (``worker_inline``), the states the worker wrote after each event are compared with the
    reference's changes too, until the worker reloads its limits (the engines here keep the ones
    they started with). Events are compared from a worker's start on (a new start, a new pair of
    engines)."""
    summary = Summary(subject="risk events")
    pair: RiskPair | None = None
    expected: list[tuple[int, int]] = []
    starting, at = False, -1
    reader = BroadcastReader.attach(ring, start="oldest")
    try:
        while not stop():
            raw = reader.read()
            if raw is None:
                reader.wait(0.05)
                continue
            at += 1
            kind = int.from_bytes(raw[:2], "little")
            if kind == TYPE_IDS["TradingState"]:
                state = np.frombuffer(raw, dtype=TRADING_STATE)[0]
                key, code, reason = int(state["instrument_id"]), int(state["state"]), int(state["reason"])
                if int(state["flags"]) & _native.TRADING_STATE_RELOADED:
                    # The worker's limits are not the ones these engines judge with any more.
                    if worker_inline:
                        summary.notes.append(
                            f"limits reloaded at event {at}: the worker's states compared until then"
                        )
                    worker_inline, expected = False, []
                    continue
                if int(state["flags"]) & _native.TRADING_STATE_FIRST:
                    pair, expected, starting = RiskPair(symbols, whole, venues, summary), [], True
                    summary.gates += 1
                if pair is None:
                    continue
                if starting:
                    if code != ACTIVE_CODE:  # a state the slots held, adopted
                        pair.operator(key, code, at)
                elif reason == REASONS["limit"]:
                    if worker_inline and (key, code) in expected:
                        expected.remove((key, code))
                    elif worker_inline:
                        _report_difference(
                            summary,
                            at,
                            "the worker's state",
                            {"worker": (key, code), "reference": expected},
                            {},
                        )
                else:  # an operator's order, or the kill on a stale heartbeat
                    expected = pair.operator(key, code, at)
                continue
            starting = False
            if pair is None:
                continue
            if worker_inline and expected:
                _report_difference(
                    summary, at, "the worker's state", {"worker": None, "reference": expected}, {}
                )
            if kind == TYPE_IDS["ExecutionReport"]:
                expected = pair.report(np.frombuffer(raw, dtype=EXECUTION_REPORT)[0], at)
            elif kind == TYPE_IDS["Mark"]:
                expected = pair.mark(np.frombuffer(raw, dtype=MARK)[0], at)
    finally:
        reader.close()
    if pair is not None:
        summary.latency_ns = pair.latencies()
    return summary


def _report_difference(
    summary: Summary, at: int, what: str, outcomes: dict[str, Any], inputs: dict[str, Any]
) -> None:
    summary.differences += 1
    if len(summary.first) < KEPT:
        summary.first.append(Difference(at, what, outcomes, inputs))
