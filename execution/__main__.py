"""``python -m execution --spec JSON``: runs an instance's execution worker until SIGTERM or
SIGINT, as the supervisor describes it (:mod:`tickrail.execution_plan`): the venues it trades on
at their order-entry addresses, each venue's books from its feed's segment, the trading state,
the limits and the quoting, its journal and its metrics.

It prints one JSON line once it has logged on everywhere (``{"event": "listening", ...}``) and
one when it stops, with its counters and tick-to-trade percentiles.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from execution.api import StrategyRunner, load
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
    c, t, py = report["counters"], report["tick_to_trade_ns"], report["linked_tick_to_trade_ns"]
    line = (
        f"{metrics}: {c['orders']} orders, {c['replaces']} replaces, {c['cancels']} cancels, "
        f"{c['fills']} fills, {c['gate_rejections']} refused by the gate; "
        f"tick-to-trade p50 {t['p50'] / 1e3:.1f} us p99 {t['p99'] / 1e3:.1f} us"
    )
    if py["count"]:
        line += f"; the Python strategy's p50 {py['p50'] / 1e3:.1f} us p99 {py['p99'] / 1e3:.1f} us"
    return line


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
            gate_calls=spec.get("gate_calls"),
            linked=spec.get("linked", []),
            spin=args.spin,
        )
    except (KeyError, TypeError, ValueError, OSError, _native.ShmError) as e:
        log(f"execution: {e!r}" if isinstance(e, KeyError) else f"execution: {e}")
        return 2
    runner = None
    if "python" in spec:
        python = spec["python"]
        try:
            strategy = load(python["strategy"], python["params"])
        except Exception as e:  # whatever the user's module raises on import or construction
            log(f"execution: the strategy {python['strategy']}: {e!r}")
            return 2
        symbols = {int(i): name for i, name in python["symbols"].items()}
        runner = StrategyRunner(worker, strategy, python["venues"], symbols)
    worker.start()
    announce("listening", metrics=worker.metrics, lock_refused=lock_refused)
    while not stop.requested and worker.running:
        if runner is None:
            stop.sleep(args.report_every)
        else:
            # The strategy runs here, on the main thread, between health lines.
            with contextlib.suppress(RuntimeError):  # the engine stopped: the loop ends
                runner.run_for(args.report_every, lambda: stop.requested)
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
