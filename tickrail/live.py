"""``tickrail run``'s live view and its closing summary: the workers and their states, cores and
restarts; the rings with their rates, lag and losses (``tickrail stat``'s table); each symbol's
top of book on every venue; the latest supervisor events. Redrawn every second in place on a
terminal, printed every ``every`` seconds otherwise.
"""

from __future__ import annotations

import collections
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from shm_layout import FIXED_POINT_SCALE, FLAG_STALE, TOP_OF_BOOK, ShmError, SlotReader
from shm_layout import stat as shm_stat
from tickrail._native import execution_report, feed_report
from tickrail.market import instruments

if TYPE_CHECKING:
    from tickrail.supervise import Supervisor

#: Moves the cursor home and clears a terminal.
CLEAR = "\x1b[H\x1b[2J"
#: Supervisor events kept on screen.
RECENT_EVENTS = 6


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def workers_table(supervisor: Supervisor) -> list[str]:
    """One row per worker: state, pid, core, restarts, heartbeat age."""
    rows: list[tuple[str, ...]] = [("WORKER", "KIND", "STATE", "PID", "CORE", "RESTARTS", "HEARTBEAT")]
    for w in supervisor.status()["workers"]:
        age = w["heartbeat_age_ms"]
        rows.append(
            (
                w["name"],
                w["kind"],
                w["state"],
                str(w["pid"] or "-"),
                "-" if w["core"] is None else str(w["core"]),
                str(w["restarts"]),
                "-" if age is None else f"{age:.0f} ms",
            )
        )
    return _table(rows)


def trading_line(supervisor: Supervisor) -> str:
    """The trading state: global, and each symbol's."""
    trading = supervisor.status()["trading"]
    if trading is None:
        return "trading: -"
    symbols = ", ".join(f"{name} {state}" for name, state in trading["symbols"].items())
    return f"trading: global {trading['global']}; {symbols}"


def _quote(books: str, instrument_id: int) -> str:
    try:
        raw = SlotReader.open(books).read(instrument_id)
    except ShmError:
        return "-"
    if raw is None:
        return "-"
    top = np.frombuffer(raw, dtype=TOP_OF_BOOK)[0]
    if not top["bid_levels"] and not top["ask_levels"]:
        return "-"
    bid = top["bids"][0]["price"] / FIXED_POINT_SCALE if top["bid_levels"] else None
    ask = top["asks"][0]["price"] / FIXED_POINT_SCALE if top["ask_levels"] else None
    quote = f"{bid or 0:.2f} x {ask or 0:.2f}"
    return quote + (" stale" if int(top["flags"]) & FLAG_STALE else "")


def books_table(supervisor: Supervisor) -> list[str]:
    """Each symbol's best bid x ask on every feed."""
    feeds = [w.spec for w in supervisor.workers if w.spec.kind == "feed"]
    rows: list[tuple[str, ...]] = [("SYMBOL", *(spec.name for spec in feeds))]
    for symbol, instrument_id in instruments():
        rows.append((symbol, *(_quote(spec.segments[1], instrument_id) for spec in feeds)))
    return _table(rows)


class LiveView:
    """The observer behind ``tickrail run`` with a view: draws the instance every second (or
    every ``every`` seconds when ``out`` is no terminal) and prints a summary at the end."""

    def __init__(self, out: TextIO = sys.stdout, every: float = 5.0, worker_log: str | None = None) -> None:
        self.out = out
        self.worker_log = worker_log
        self.terminal = out.isatty()
        self.every = 1.0 if self.terminal else every
        self.recent: collections.deque[str] = collections.deque(maxlen=RECENT_EVENTS)
        self.previous: shm_stat.Snapshot | None = None
        self.last_drawn = 0.0

    def event(self, event: dict[str, Any]) -> None:
        """Keeps the event for the view; a halt or a refusal is printed at once."""
        fields = " ".join(f"{k}={v}" for k, v in event.items() if k != "event")
        line = f"{time.strftime('%H:%M:%S')} {event['event']} {fields}"
        self.recent.append(line)
        if event["event"] in ("halted", "refused"):
            print(line, file=sys.stderr, flush=True)

    def tick(self, supervisor: Supervisor) -> None:
        """Redraws when it is time."""
        now = time.monotonic()
        if now - self.last_drawn < self.every:
            return
        self.last_drawn = now
        self.out.write((CLEAR if self.terminal else "") + self.render(supervisor) + "\n")
        self.out.flush()

    def render(self, supervisor: Supervisor) -> str:
        """The whole view."""
        name = supervisor.instance.name
        snapshot = shm_stat.Snapshot.take(name)
        lines = [
            f"tickrail {name}: {supervisor.elapsed:.0f} s, {supervisor.summary()}",
            "",
            *workers_table(supervisor),
            "",
            trading_line(supervisor),
            "",
            shm_stat.render(name, snapshot, self.previous),
            "",
            *books_table(supervisor),
            "",
            *execution_lines(supervisor),
            "",
            "recent events:",
            *(f"  {line}" for line in self.recent),
        ]
        self.previous = snapshot
        return "\n".join(lines)

    def finished(self, supervisor: Supervisor, status: int) -> None:
        """Prints the summary of the run."""
        self.out.write(summary(supervisor, status) + "\n")
        if self.worker_log is not None:
            self.out.write(f"  the workers' logs: {self.worker_log}\n")
        self.out.flush()


def execution_lines(supervisor: Supervisor) -> list[str]:
    """The execution worker's orders, fills, refusals by reason and tick-to-trade, if it runs."""
    worker = next((w for w in supervisor.workers if w.spec.kind == "execution"), None)
    if worker is None:
        return []
    try:
        report = execution_report(worker.spec.heartbeat)
    except ShmError as e:
        return [f"execution: no metrics ({e})"]
    c, t = report["counters"], report["tick_to_trade_ns"]
    refused = ", ".join(f"{reason} {n:,}" for reason, n in report["rejections"].items()) or "none"
    return [
        f"execution: {c['orders']:,} orders, {c['replaces']:,} replaces, {c['cancels']:,} cancels, "
        f"{c['fills']:,} fills; tick-to-trade p50 {t['p50'] / 1e3:.1f} us, p99 {t['p99'] / 1e3:.1f} us",
        f"execution: refused by the gate: {refused}",
        positions_line(supervisor),
    ]


def positions_line(supervisor: Supervisor) -> str:
    """Each symbol's position and realized P&L per venue traded, from the execution reports."""
    reports, execution = supervisor.reports, supervisor.instance.execution
    if reports is None or execution is None:
        return "positions: -"
    names = {i: name for name, i in instruments()}
    held = [
        f"{names.get(i, i)}@{execution.venues[v]} {h.position / FIXED_POINT_SCALE:+,.0f} "
        f"(realized {h.realized / FIXED_POINT_SCALE:+,.2f})"
        for (i, v), h in sorted(reports.holdings.items())
        if h.fills and v < len(execution.venues)
    ]
    realized = sum(h.realized for h in reports.holdings.values()) / FIXED_POINT_SCALE
    return f"positions: {'; '.join(held) or 'flat'}; realized P&L {realized:+,.2f} from {reports.reports:,} reports"


def summary(supervisor: Supervisor, status: int) -> str:
    """What the run did: per feed its messages, rate, gaps recovered and latency; restarts; the
    execution worker's orders, fills and refusals; and whether each feed's books matched its
    venue's closing books."""
    elapsed = max(supervisor.elapsed, 1e-9)
    outcome = "stopped on request" if status == 0 else "halted"
    restarts = sum(w.state.restarts for w in supervisor.workers)
    lines = [
        f"tickrail {supervisor.instance.name}: ran {elapsed:.1f} s, {outcome}; "
        f"{len(supervisor.workers)} workers, {restarts} restarts"
    ]
    for worker in supervisor.workers:
        if worker.spec.kind != "feed":
            continue
        try:
            report = feed_report(worker.spec.heartbeat)
        except ShmError as e:
            lines.append(f"  {worker.spec.name}: no metrics ({e})")
            continue
        c, latency = report["counters"], report["latency_ns"]
        lines.append(
            f"  {worker.spec.name}: {c['messages']:,} messages ({c['messages'] / elapsed:,.0f}/s), "
            f"{c['gaps']} gaps, {c['recoveries']} recovered, {c['decode_errors']} malformed; "
            f"receive->publish p50 {latency['p50'] / 1e3:.1f} us, p99 {latency['p99'] / 1e3:.1f} us"
        )
    lines.extend(f"  {line}" for line in execution_lines(supervisor))
    for check in supervisor.closing_checks:
        verdict = "match" if check["matches"] else f"differ: {'; '.join(check['problems'])}"
        lines.append(f"  {check['feed']}'s books and {check['venue']}'s closing books {verdict}")
    for check in supervisor.position_checks:
        verdict = "match" if check["matches"] else f"differ: {'; '.join(check['problems'])}"
        lines.append(
            f"  our {check['fills']} fills on venue {check['venue']} and the venue's record of our orders {verdict}"
        )
    return "\n".join(lines)
