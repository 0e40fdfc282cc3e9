"""``python -m risk --spec JSON``: runs an instance's risk worker until SIGTERM or SIGINT, as the
supervisor describes it (:mod:`tickrail.risk_plan`): the symbols and their limits file, the
execution worker's reports queue, the operators' commands queue, each venue's books, the trading
state slots it writes, and the segments whose heartbeats it watches.

The work is done by the Rust threads (``tickrail._native.RiskWorker``); this process loads the
limits and the reports the execution worker's journal holds (a restarted worker applies again
those its queue had been read past, so its figures miss nothing), logs every change of a trading state with its reason, reloads the limits on SIGHUP (a
file that cannot be used is refused, and the limits in force stay), and prints one JSON line
once it runs (``{"event": "listening"}``) and one when it stops, with its figures.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from risk.limits import RiskLimits, RiskLimitsError, load, unlimited
from risk.reference.numbers import ONE
from tickrail import _native
from tickrail.placement import lock_memory
from tickrail.process import StopFlag, announce, follow_supervisor, log

#: How often state changes are taken from the threads and logged.
LOG_EVERY_S = 0.02
_STATE_NAMES = {code: name for name, code in _native.TRADING_STATES.items()}


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m risk", description=__doc__)
    p.add_argument("--spec", required=True, help="the worker's description, as JSON (tickrail.risk_plan)")
    p.add_argument("--lock-memory", action="store_true", help="lock the process's memory (mlockall)")
    p.add_argument("--report-every", type=float, default=5.0, help="seconds between health lines on stderr")
    return p


class ReloadFlag:
    """Set by SIGHUP: the limits file is to be read again."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGHUP, self._request)

    def _request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def limits_of(spec: dict[str, Any]) -> RiskLimits:
    """The limits the spec's file holds (none at all without a file)."""
    instruments: dict[str, int] = spec["symbols"]
    path = spec.get("limits")
    return unlimited(instruments) if path is None else load(Path(path), instruments)


def applied_before(spec: dict[str, Any]) -> bytes | None:
    """The reports the execution worker's journal holds, as records (a restarted worker applies
    again those its queue had been read past); none without a journal."""
    journal = spec.get("journal")
    if journal is None or not Path(journal).exists():
        return None
    return _native.journal_reports(journal, list(spec["symbols"].values()), len(spec["books"]))


def _money(amount: int) -> str:
    return f"{amount / ONE:,.2f}"


def describe(change: _native.RiskChange, names: dict[int, str]) -> str:
    """One log line for a change of a trading state, with its reason and the figures behind it."""
    key = change["key"]
    what = "the portfolio" if key == 0 else names.get(key, f"instrument {key}")
    line = (
        f"risk: {what} {_STATE_NAMES[change['after']]} (was {_STATE_NAMES[change['before']]}): "
        f"{change['cause']}"
    )
    if change["cause"] not in ("operator", "stale-heartbeat"):
        line += " limit breached"
    figures = change["symbol"] if change["symbol"] is not None else change["portfolio"]
    line += f"; P&L {_money(figures['pnl'])}, drawdown {_money(figures['drawdown'])}"
    if change["segment"] is not None:
        line += f"; {change['segment']} stopped beating"
    if change["visible_after_ns"] is not None:
        line += f"; visible {change['visible_after_ns'] / 1e3:.1f} us after its report"
    return line


def main(argv: list[str] | None = None) -> int:
    """Runs the worker; the exit status."""
    args = parser().parse_args(argv)
    stop = StopFlag()
    reload = ReloadFlag()
    if not follow_supervisor(stop):
        log("risk: its supervisor is gone")
        return 1
    lock_refused = lock_memory() if args.lock_memory else None
    spec = json.loads(args.spec)
    try:
        limits = limits_of(spec)
        replay = applied_before(spec)
        worker = _native.RiskWorker(
            list(limits.symbols),
            limits.portfolio,
            books=spec["books"],
            reports=spec["reports"],
            commands=spec["commands"],
            trading=spec["trading"],
            forward=spec.get("forward"),
            events=spec.get("events"),
            watched=spec.get("watched", []),
            max_heartbeat_age_ms=spec["max_heartbeat_ms"],
            threads=spec["threads"],
            cores=spec.get("cores", []),
            spin=spec.get("spin", False),
            replay=replay,
        )
    except (RiskLimitsError, KeyError, TypeError, ValueError, RuntimeError, OSError, _native.ShmError) as e:
        log(f"risk: {e!r}" if isinstance(e, KeyError) else f"risk: {e}")
        return 2
    names = {i: name for name, i in spec["symbols"].items()}
    announce("listening", lock_refused=lock_refused)
    reported = time.monotonic()
    while not stop.requested and worker.running:
        stop.sleep(LOG_EVERY_S)
        for change in worker.changes():
            log(describe(change, names))
        if reload.requested:
            reload.requested = False
            try:
                limits = limits_of(spec)
            except RiskLimitsError as e:
                log(f"risk: reload refused, the limits in force stay: {e}")
            else:
                worker.set_limits(list(limits.symbols), limits.portfolio)
                log(f"risk: limits reloaded from {spec.get('limits')}")
        if time.monotonic() - reported >= args.report_every:
            reported = time.monotonic()
            view = worker.view()
            whole = view["portfolio"]
            log(
                f"risk: {view['reports']} reports; P&L {_money(whole['pnl'])}, gross {_money(whole['gross'])}, "
                f"net {_money(whole['net'])}, open orders {_money(whole['open'])}"
            )
    failed = not worker.running
    view = worker.view()
    for change in worker.changes():
        log(describe(change, names))
    try:
        worker.stop()
    except RuntimeError as e:
        log(f"risk failed: {e}")
        failed = True
    announce("stopped", reports=view["reports"], portfolio=view["portfolio"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
