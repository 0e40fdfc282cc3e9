"""``python -m execution --spec JSON``: runs an instance's execution worker until SIGTERM or
SIGINT, as the supervisor describes it (:mod:`tickrail.execution_plan`): the venues it trades on
at their order-entry addresses, each venue's books from its feed's segment, the trading state,
the limits and the quoting, its journal and its metrics.

It prints one JSON line once it has logged on everywhere (``{"event": "listening", ...}``) and
one when it stops, with its counters and tick-to-trade percentiles.
"""

from __future__ import annotations

import argparse
import json
import sys

from tickrail import _native
from tickrail.placement import lock_memory
from tickrail.process import StopFlag, announce, follow_supervisor, log


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m execution", description=__doc__)
    p.add_argument(
        "--spec", required=True, help="the worker's description, as JSON (tickrail.execution_plan)"
    )
    p.add_argument("--lock-memory", action="store_true", help="lock the process's memory (mlockall)")
    p.add_argument("--spin", action="store_true", help="spin between idle turns instead of yielding")
    p.add_argument("--report-every", type=float, default=5.0, help="seconds between health lines on stderr")
    return p


def health(metrics: str) -> str:
    """One line of the worker's counters and tick-to-trade."""
    report = _native.execution_report(metrics)
    c, t = report["counters"], report["tick_to_trade_ns"]
    return (
        f"{metrics}: {c['orders']} orders, {c['replaces']} replaces, {c['cancels']} cancels, "
        f"{c['fills']} fills, {c['gate_rejections']} refused by the gate; "
        f"tick-to-trade p50 {t['p50'] / 1e3:.1f} us p99 {t['p99'] / 1e3:.1f} us"
    )


def main(argv: list[str] | None = None) -> int:
    """Runs the worker; the exit status."""
    args = parser().parse_args(argv)
    stop = StopFlag()
    if not follow_supervisor(stop):
        log("execution: its supervisor is gone")
        return 1
    lock_refused = lock_memory() if args.lock_memory else None
    try:
        spec = json.loads(args.spec)
        for venue in spec["venues"]:
            venue["symbols"] = [tuple(pair) for pair in venue["symbols"]]  # JSON made them lists
        worker = _native.ExecutionWorker(
            spec["venues"],
            spec["symbols"],
            spec["portfolio"],
            trading=spec["trading"],
            metrics=spec["metrics"],
            journal=spec["journal"],
            reports=spec.get("reports"),
            spin=args.spin,
        )
    except (KeyError, TypeError, ValueError, OSError, _native.ShmError) as e:
        log(f"execution: {e!r}" if isinstance(e, KeyError) else f"execution: {e}")
        return 2
    worker.start()
    announce("listening", metrics=worker.metrics, lock_refused=lock_refused)
    while not stop.requested and worker.running:
        stop.sleep(args.report_every)
        log(health(worker.metrics))
    failed = not worker.running
    try:
        worker.stop()
    except RuntimeError as e:
        log(f"execution failed: {e}")
        failed = True
    announce("stopped", **_native.execution_report(worker.metrics))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
