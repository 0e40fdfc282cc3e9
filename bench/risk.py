"""Risk benchmark: portfolio risk updates per second, and the time from a breach to the trading
state the gate reads.

* **throughput**: a day of execution reports over 1,000 symbols on three venues (orders accepted,
  filled in parts, cancelled) is put in a reports queue in shared memory, then a risk worker is
  started on it (``tickrail._native.RiskWorker``: the publisher routing reports to the symbol
  groups, each group applying them and judging its symbols' limits, the publisher judging the
  portfolio's) and timed until every report is applied; with 1, 2 and all the cores' worth of
  group threads, the median of ``--runs``. The reference rules (``risk.reference``) apply a
  prefix of the same reports one by one in this process, for the comparison.
* **breach to visible**: for each of ``--breaches`` symbols, a position is opened, then a fill
  that realizes a loss past the symbol's limit is pushed into the queue. The breach happens when
  the worker applies that report: the figure is the time from the worker's reading it to the
  halted state written in the slot the gate reads (the worker's own clock, p50 and p99), with
  its one group on its publisher's thread, spinning (its waits yield), and waiting on the queue
  instead. Beside it, ``push_to_read_us``: the whole way from this process's push into the queue
  to its reading ``halted`` in a loop on the slot, which adds the queue's hand-off and this
  process's own scheduling (a Python poller sharing the cores with the worker).

``--json`` prints ``{"threads": {"1": X, "2": X, "all": X}, "reference_updates_per_s": X,
"breach_to_visible_us": {"p50": X, "p99": X}, ...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

import numpy as np

from bench.ring import machine
from risk.reference import portfolio as reference
from risk.reference.gate import Side
from risk.reference.numbers import ONE
from shm_layout import EXECUTION_REPORT, TRADING_STATE, TYPE_IDS, QueueWriter, SlotReader, unlink
from tickrail import _native
from tickrail.trading import TradingStates

SYMBOLS = 1000
VENUES = 3
ACCEPTED, FILL, CANCELED = 1, 3, 4
NEW, PARTIALLY_FILLED, FILLED, STATE_CANCELED = 2, 3, 4, 6
BID, ASK = 1, 2
HALTED = _native.TRADING_STATES["halted"]


def day(orders: int, seed: int) -> np.ndarray:
    """Execution reports of ``orders`` orders: each accepted, half of it filled, then either
    filled in full or the rest cancelled; orders interleaved, each order's reports in order."""
    rng = np.random.default_rng(seed)
    records = np.zeros(orders * 3, dtype=EXECUTION_REPORT)
    ids = np.arange(1, orders + 1, dtype=np.uint64)
    instrument = rng.integers(1, SYMBOLS + 1, orders).astype(np.uint32)
    venue = rng.integers(0, VENUES, orders).astype(np.uint8)
    side = rng.choice([BID, ASK], orders).astype(np.uint8)
    price = (rng.integers(9_000, 11_000, orders) * (ONE // 100)).astype(np.int64)
    quantity = (rng.integers(1, 10, orders) * 2 * ONE).astype(np.int64)
    filled_in_full = rng.random(orders) < 0.5
    # Order i's three reports sit at i, orders + i and 2 * orders + i: interleaved, in order.
    for stage, (kind, state, qty, leaves) in enumerate(
        [
            (ACCEPTED, NEW, quantity, quantity),
            (FILL, PARTIALLY_FILLED, quantity // 2, quantity - quantity // 2),
            (
                np.where(filled_in_full, FILL, CANCELED),
                np.where(filled_in_full, FILLED, STATE_CANCELED),
                np.where(filled_in_full, quantity - quantity // 2, quantity),
                0,
            ),
        ]
    ):
        at = slice(stage * orders, (stage + 1) * orders)
        records["msg_type"][at] = TYPE_IDS["ExecutionReport"]
        records["length"][at] = EXECUTION_REPORT.itemsize
        records["instrument_id"][at] = instrument
        records["venue"][at] = venue
        records["side"][at] = side
        records["kind"][at] = kind
        records["state"][at] = state
        records["order_id"][at] = ids
        records["price"][at] = price
        records["quantity"][at] = qty
        records["leaves"][at] = leaves
    return records


#: A limit the day never reaches: every update judges every limit, and none is breached.
BIG = 10**12 * ONE


#: The portfolio's limits, every one set.
WHOLE = reference.PortfolioRiskLimits(BIG, BIG, BIG, BIG)


def limits() -> list[reference.SymbolRiskLimits]:
    """Every symbol's limits set, none breached by the day."""
    return [reference.SymbolRiskLimits(i, BIG, BIG, BIG) for i in range(1, SYMBOLS + 1)]


class Segments:
    """A reports queue, a commands queue and trading slots for one worker; removed on close."""

    def __init__(self, capacity: int) -> None:
        prefix = f"tickrail.bench{os.getpid()}{uuid.uuid4().hex[:6]}"
        self.reports, self.commands, self.trading = (
            f"{prefix}.{n}" for n in ("reports", "commands", "trading")
        )
        _native.create_execution_reports(self.reports, capacity, replace_stale=True)
        QueueWriter.create(self.commands, 16, TRADING_STATE.itemsize, replace_stale=True).close()
        TradingStates(self.trading, {f"S{i}": i for i in range(1, SYMBOLS + 1)}).close()
        self.queue = QueueWriter.attach(self.reports, max_message_size=EXECUTION_REPORT.itemsize)

    def worker(
        self, symbols: list[reference.SymbolRiskLimits], threads: int, spin: bool
    ) -> _native.RiskWorker:
        """A risk worker on these segments, under ``symbols``' limits and :data:`WHOLE`."""
        return _native.RiskWorker(
            symbols,
            WHOLE,
            books=[None] * VENUES,
            reports=self.reports,
            commands=self.commands,
            trading=self.trading,
            threads=threads,
            spin=spin,
        )

    def close(self) -> None:
        self.queue.close()
        for name in (self.reports, self.commands, self.trading):
            unlink(name)


def throughput(records: np.ndarray, threads: int) -> float:
    """Reports applied per second by a worker with ``threads`` group threads."""
    segments = Segments(1 << (len(records) - 1).bit_length())
    try:
        assert segments.queue.push_records(records, EXECUTION_REPORT.itemsize) == len(records)
        started = time.perf_counter()
        worker = segments.worker(limits(), threads, spin=False)
        try:
            while worker.reports()[0] < len(records):
                time.sleep(0.002)
            elapsed = time.perf_counter() - started
        finally:
            worker.stop()
    finally:
        segments.close()
    return len(records) / elapsed


def reference_throughput(records: np.ndarray) -> float:
    """Reports applied per second by the reference rules, one by one."""
    engine = reference.RiskEngine.of(tuple(limits()), WHOLE, VENUES)
    facts = [
        reference.ReportFacts(
            instrument=int(r["instrument_id"]),
            venue=int(r["venue"]),
            side=Side.BUY if r["side"] == BID else Side.SELL,
            kind=int(r["kind"]),
            state=int(r["state"]),
            order_id=int(r["order_id"]),
            replacement_id=0,
            price=int(r["price"]),
            quantity=int(r["quantity"]),
            leaves=int(r["leaves"]),
        )
        for r in records
    ]
    started = time.perf_counter()
    for f in facts:
        engine.apply(f)
    return len(facts) / (time.perf_counter() - started)


def fill(instrument: int, order_id: int, side: int, price: int) -> bytes:
    """A fill of 10 shares at ``price`` (whole currency), filling the order."""
    record = np.zeros(1, dtype=EXECUTION_REPORT)
    record["msg_type"], record["length"] = TYPE_IDS["ExecutionReport"], EXECUTION_REPORT.itemsize
    record["instrument_id"], record["side"], record["order_id"] = instrument, side, order_id
    record["kind"], record["state"] = FILL, FILLED
    record["price"], record["quantity"] = price * ONE, 10 * ONE
    return record.tobytes()


def breach_to_visible(breaches: int, spin: bool) -> tuple[list[float], list[float]]:
    """For each of ``breaches`` symbols, microseconds from pushing a breaching fill to reading
    the halted state in its slot, and the worker's own figure for the same breach (from reading
    the report to writing the state); one group, on the publisher's thread, spinning or not."""
    segments = Segments(1 << 12)
    tight = [reference.SymbolRiskLimits(s.instrument, max_loss=50 * ONE) for s in limits()]
    fields = TRADING_STATE.fields
    assert fields is not None
    state_at: int = fields["state"][1]
    seen: list[float] = []
    own: list[float] = []
    try:
        worker = segments.worker(tight, threads=1, spin=spin)
        slots = SlotReader.open(segments.trading)
        try:
            for instrument in range(1, breaches + 1):
                assert segments.queue.try_push(fill(instrument, 2 * instrument, BID, 100))
                time.sleep(0.002)
                breaching = fill(instrument, 2 * instrument + 1, ASK, 90)  # realizes -100
                pushed = time.perf_counter_ns()
                assert segments.queue.try_push(breaching)
                while True:
                    raw = slots.read(instrument)
                    if raw is not None and raw[state_at] == HALTED:
                        break
                    os.sched_yield()  # the worker's threads share these cores
                seen.append((time.perf_counter_ns() - pushed) / 1e3)
            time.sleep(0.05)
            own = [c["visible_after_ns"] / 1e3 for c in worker.changes() if c["visible_after_ns"] is not None]
        finally:
            slots.close()
            worker.stop()
    finally:
        segments.close()
    return seen, own


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p99 and max of ``samples``."""
    ordered = sorted(samples)
    return {
        "p50": round(ordered[len(ordered) // 2], 2),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max": round(ordered[-1], 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; prints JSON or a summary."""
    p = argparse.ArgumentParser(prog="python -m bench.risk", description=__doc__)
    p.add_argument("--orders", type=int, default=400_000, help="orders in the day (three reports each)")
    p.add_argument("--reference-orders", type=int, default=5_000, help="orders the reference applies")
    p.add_argument("--runs", type=int, default=3, help="runs per thread count (the median is taken)")
    p.add_argument("--breaches", type=int, default=500, help="breaches timed")
    p.add_argument("--json", action="store_true", help="one JSON object")
    args = p.parse_args(argv)
    records = day(args.orders, seed=7)
    cores = len(os.sched_getaffinity(0))
    counts = {"1": 1, "2": 2, "all": cores}
    rust = {
        label: statistics.median(throughput(records, threads) for _ in range(args.runs))
        for label, threads in counts.items()
    }
    prefix = day(args.reference_orders, seed=7)
    python = reference_throughput(prefix)
    pushed_spinning, spinning = breach_to_visible(args.breaches, spin=True)
    pushed_blocking, blocking = breach_to_visible(args.breaches, spin=False)
    result: dict[str, Any] = {
        "threads": {label: round(value) for label, value in rust.items()},
        "reference_updates_per_s": round(python),
        "ratio_to_reference": {label: round(value / python, 1) for label, value in rust.items()},
        "breach_to_visible_us": percentiles(spinning),
        "breach_to_visible_blocking_us": percentiles(blocking),
        "push_to_read_us": {
            "spinning": percentiles(pushed_spinning),
            "blocking": percentiles(pushed_blocking),
        },
        "symbols": SYMBOLS,
        "reports": len(records),
        "reference_reports": len(prefix),
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    for label, value in rust.items():
        print(f"{label} thread(s): {value:,.0f} updates/s ({value / python:,.0f}x the reference)")
    print(f"reference: {python:,.0f} updates/s")
    b = result["breach_to_visible_us"]
    print(f"breach to visible: p50 {b['p50']} us, p99 {b['p99']} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
