"""Our positions as the execution worker's reports say, and their check against the venues' own
record of our orders and fills.

The execution worker writes every report it applies into its reports queue in shared memory,
as an ``ExecutionReport`` record carrying the order's and the position's state after it. The
queue has one reader: the risk worker, once it exists; until then the supervisor reads it
(:class:`ReportsReader`), to show positions and P&L in the live view and, when the simulated
market closes, to prove end to end that every fill a venue reports is in our positions and
that no order of ours that reached a venue broke a limit (:func:`venue_mismatches`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from shm_layout import EXECUTION_REPORT, FIXED_POINT_SCALE, QueueReader
from tickrail._native import REPORT_KINDS
from tickrail.market import PRICE_UNITS

#: Records taken from the queue per read.
BATCH = 1024
#: Reads per poll at most, so one poll is bounded.
MAX_BATCHES = 64
#: A venue's price (1/10,000) in fixed point.
PRICE_TO_FIXED = FIXED_POINT_SCALE // PRICE_UNITS

_FILL = REPORT_KINDS["fill"]


@dataclass
class Holding:
    """One symbol on one venue: the position after the latest report, and the fills behind it
    (quantities and prices in fixed point; values are sums of price times quantity, both in
    fixed point)."""

    position: int = 0
    average_price: int = 0
    realized: int = 0
    fills: int = 0
    bought: int = 0
    sold: int = 0
    bought_value: int = 0
    sold_value: int = 0


class ReportsReader:
    """The reader of the execution worker's reports queue ``name``: every record taken in order,
    kept as a :class:`Holding` per ``(instrument id, venue index)``."""

    def __init__(self, name: str) -> None:
        self.queue = QueueReader.attach(name, max_message_size=EXECUTION_REPORT.itemsize)
        self.buffer = np.zeros(BATCH, dtype=EXECUTION_REPORT)
        #: By ``(instrument id, venue index)``.
        self.holdings: dict[tuple[int, int], Holding] = {}
        #: Records read.
        self.reports = 0

    def poll(self) -> int:
        """Takes what the queue holds (at most ``BATCH * MAX_BATCHES`` records); how many."""
        taken = 0
        for _ in range(MAX_BATCHES):
            n = self.queue.pop_records(self.buffer, EXECUTION_REPORT.itemsize)
            for record in self.buffer[:n]:
                self.take(record)
            taken += n
            if n < BATCH:
                break
        self.reports += taken
        return taken

    def take(self, record: np.void) -> None:
        """Applies one record."""
        holding = self.holdings.setdefault((int(record["instrument_id"]), int(record["venue"])), Holding())
        holding.position = int(record["position"])
        holding.average_price = int(record["average_price"])
        holding.realized = int(record["realized_pnl"])
        if record["kind"] == _FILL:
            quantity, price = int(record["quantity"]), int(record["price"])
            holding.fills += 1
            if record["side"] == 1:  # a buy order
                holding.bought += quantity
                holding.bought_value += price * quantity
            else:
                holding.sold += quantity
                holding.sold_value += price * quantity

    def close(self) -> None:
        """Lets go of the queue."""
        self.queue.close()


def venue_mismatches(
    holdings: dict[int, Holding],
    outside: dict[str, dict[str, Any]],
    ids: dict[str, int],
    limits: dict[int, dict[str, int]],
) -> list[str]:
    """How our holdings on one venue (by instrument id) differ from the venue's record of our
    orders there (``outside``: its closing announcement's, by symbol), and which of the orders
    it took broke one of ``limits`` (by instrument id, fixed point: ``max_quantity``,
    ``max_notional``, ``max_venue_position``); empty when everything agrees."""
    problems = []
    for name, ledger in outside.items():
        instrument = ids.get(name)
        if instrument is None:
            problems.append(f"{name} has no instrument id")
            continue
        ours = holdings.get(instrument, Holding())
        theirs = {
            "bought": ledger["bought"] * FIXED_POINT_SCALE,
            "sold": ledger["sold"] * FIXED_POINT_SCALE,
            "bought_value": ledger["bought_value"] * PRICE_TO_FIXED * FIXED_POINT_SCALE,
            "sold_value": ledger["sold_value"] * PRICE_TO_FIXED * FIXED_POINT_SCALE,
        }
        for field, value in theirs.items():
            if getattr(ours, field) != value:
                problems.append(f"{name} {field}: ours {getattr(ours, field)}, the venue's {value}")
        if ours.position != theirs["bought"] - theirs["sold"]:
            problems.append(
                f"{name} position: ours {ours.position}, the venue's {theirs['bought'] - theirs['sold']}"
            )
        limit = limits.get(instrument)
        if limit is None or ledger["orders"] == 0:
            continue
        if ledger["largest_quantity"] * FIXED_POINT_SCALE > limit["max_quantity"]:
            problems.append(
                f"{name}: an order of {ledger['largest_quantity']} reached the venue, over max_quantity"
            )
        if ledger["largest_notional"] * PRICE_TO_FIXED > limit["max_notional"]:
            problems.append(f"{name}: an order over max_notional reached the venue")
        worst = max(ledger["worst_long"], ledger["worst_short"]) * FIXED_POINT_SCALE
        if worst > limit["max_venue_position"]:
            problems.append(f"{name}: open orders could have taken the position past max_venue_position")
    return problems
