"""tickrail's supervisor and its command line, ``tickrail``.

``tickrail run`` supervises an instance (the shipped configuration by default: the whole
pipeline against the simulated venues), with a live view on a terminal and a summary at the
end, or JSON events on stdout for machines. While it runs, ``tickrail status``, ``start``,
``stop`` and ``restart`` ask it over its control socket, and ``tickrail stat`` reads every
segment of the instance from outside; ``kill``, ``resume`` and ``state`` order the trading
state, ``risk reload`` has the risk worker read its limits again, and ``shadow`` has the
reference rules judge the gate's calls beside it. ``tickrail demo`` runs the ring demo.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from feeds import __main__ as feeds_main
from risk import limits as risk_limits
from risk import shadow as risk_shadow
from risk.limits import RiskLimitsError
from shm_layout import EXECUTION_REPORT, ShmError
from shm_layout import stat as shm_stat
from tickrail import _native, execution_plan, ring_demo, risk_plan
from tickrail.config import DEFAULT, ConfigError, Instance
from tickrail.config import load as load_config
from tickrail.control import ControlError, NotRunning, ask, runtime_dir
from tickrail.live import LiveView
from tickrail.market import instruments
from tickrail.notify import Notifier
from tickrail.process import StopFlag
from tickrail.supervise import Supervisor
from tickrail.trading import segment_name as trading_segment
from tickrail.trading import states_of
from venues import __main__ as venues_main

#: The instance the commands look at when none is named: the shipped configuration's.
DEFAULT_INSTANCE = "default"


def run_instance(config: Path, instance_name: str | None, duration: float, view: str) -> int:
    """Supervises the instance described by ``config`` (renamed ``instance_name`` if given) for
    ``duration`` seconds (0: until SIGINT/SIGTERM); the exit status."""
    try:
        instance = load_config(config)
        if instance_name is not None:
            instance = replace(instance, name=instance_name)
        notifier = Notifier.from_env()
    except (ConfigError, ValueError) as err:
        print(f"tickrail run: {err}", file=sys.stderr)
        return 2
    for warning in instance.warnings:
        print(f"tickrail run: warning: {warning}", file=sys.stderr)
    stop = StopFlag()
    until = duration if duration > 0 else None
    if not (view == "live" or (view == "auto" and sys.stdout.isatty())):
        return Supervisor(instance, notifier=notifier).run(stop, until)
    # The workers' logs would scroll the view away: they go to a file beside the control socket.
    log_path = runtime_dir() / f"{instance.name}.log"
    with log_path.open("a") as log:
        live = LiveView(worker_log=str(log_path))
        return Supervisor(instance, notifier=notifier, observer=live, worker_log=log).run(stop, until)


def print_status(instance: str, as_json: bool) -> int:
    """``tickrail status``: 0 if every worker is RUNNING, 1 if not, 2 if no supervisor answers."""
    try:
        status = ask(instance, {"command": "status"})
    except ControlError as err:
        print(f"tickrail status: {err}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(status))
    else:
        print(f"instance {status['instance']}")
        for w in status["workers"]:
            age = w["heartbeat_age_ms"]
            core = "-" if w["core"] is None else w["core"]
            print(
                f"  {w['name']:<10} {w['kind']:<6} {w['state']:<9} pid {w['pid'] or '-':<8} core {core:<3} "
                f"restarts {w['restarts']:<3} heartbeat {'-' if age is None else f'{age:.0f} ms'}"
            )
    return 0 if all(w["state"] == "RUNNING" for w in status["workers"]) else 1


def request(instance: str, command: str, message: dict[str, Any]) -> dict[str, Any] | int:
    """Asks the supervisor of ``instance``; its answer, or the exit status of a command that
    failed (2: no supervisor answers; 1: it could not be asked, or refused), said on stderr."""
    try:
        answer = ask(instance, message)
    except NotRunning as err:
        print(f"tickrail {command}: {err}", file=sys.stderr)
        return 2
    except ControlError as err:
        print(f"tickrail {command}: {err}", file=sys.stderr)
        return 1
    if "error" in answer:
        print(f"tickrail {command}: {answer['error']}", file=sys.stderr)
        return 1
    return answer


def control_worker(instance: str, command: str, worker: str) -> int:
    """``tickrail start|stop|restart WORKER``: 0 when done, 1 when refused, 2 when no supervisor
    answers."""
    answer = request(instance, command, {"command": command, "worker": worker})
    if isinstance(answer, int):
        return answer
    print(f"{answer['worker']}: {answer['state']}")
    return 0


def set_trading(instance: str, command: str, symbol: str | None, state: str) -> int:
    """``tickrail kill|resume|state``: 0 when set, 1 when refused, 2 when no supervisor answers."""
    answer = request(instance, command, {"command": "trading", "symbol": symbol, "state": state})
    if isinstance(answer, int):
        return answer
    trading = answer["trading"]
    symbols = ", ".join(f"{name} {value}" for name, value in trading["symbols"].items())
    print(f"trading: global {trading['global']}; {symbols}")
    return 0


def reload_risk(instance: str) -> int:
    """``tickrail risk reload``: 0 when the risk worker was told to read its limits file again, 1
    when the file is refused (the limits in force stay), 2 when no supervisor answers."""
    answer = request(instance, "risk reload", {"command": "risk-reload"})
    if isinstance(answer, int):
        return answer
    print(f"risk: limits from {answer['limits']} sent to the risk worker")
    return 0


def shadow(args: argparse.Namespace) -> int:
    """``tickrail shadow``: the reference rules judge the gate's calls beside it, live (from the
    running instance's gate ring) or from a recording, or the execution reports of a journal
    beside the Rust risk engine; 0 when they agree on everything, 1 when they differ, 2 when it
    cannot start."""
    try:
        if args.replay is not None:
            summary = risk_shadow.replay(args.replay)
        else:
            instance = load_config(args.config)
            if instance.execution is None:
                raise ConfigError(f"{args.config}: the instance does not trade: there is nothing to shadow")
            if args.journal:
                summary = _shadow_journal(instance, args.journal)
            elif args.risk:
                summary = _shadow_risk(instance, args)
            else:
                summary = _shadow_live(instance, args)
    except (ConfigError, RiskLimitsError, risk_shadow.ShadowError, OSError, ValueError, ShmError) as err:
        print(f"tickrail shadow: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary.as_dict()) if args.json else risk_shadow.describe(summary))
    return 0 if summary.differences == 0 else 1


def _until(duration: float) -> Callable[[], bool]:
    """Whether to stop: SIGINT or SIGTERM came, or ``duration`` seconds passed (0: never)."""
    stop = StopFlag()
    deadline = time.monotonic() + duration if duration > 0 else None
    return lambda: stop.requested or (deadline is not None and time.monotonic() >= deadline)


def _risk_limits(instance: Instance) -> risk_limits.RiskLimits:
    assert instance.risk is not None
    symbols = risk_plan.describe_symbols(instance)
    path = instance.risk.limits
    return risk_limits.unlimited(symbols) if path is None else risk_limits.load(Path(path), symbols)


def _shadow_risk(instance: Instance, args: argparse.Namespace) -> risk_shadow.Summary:
    assert instance.execution is not None
    ring = risk_plan.events_segment(args.instance or instance.name)
    limits = _risk_limits(instance)
    venues = len(instance.execution.venues)
    inline = risk_plan.threads(instance) == 1
    return risk_shadow.live_risk(
        ring, limits.symbols, limits.portfolio, venues, _until(args.duration), inline
    )


def _shadow_live(instance: Instance, args: argparse.Namespace) -> risk_shadow.Summary:
    ring = execution_plan.gate_calls_segment(execution_plan.prefix(args.instance or instance.name))
    done = _until(args.duration)
    limits = execution_plan.gate_limits(instance)
    with contextlib.ExitStack() as files:
        out = files.enter_context(args.record.open("wb")) if args.record is not None else None
        return risk_shadow.live(ring, limits, done, out)


def _shadow_journal(instance: Instance, journal: Path) -> risk_shadow.Summary:
    assert instance.execution is not None
    limits = _risk_limits(instance)
    venues = len(instance.execution.venues)
    raw = _native.journal_reports(journal, [s.instrument for s in limits.symbols], venues)
    records = np.frombuffer(raw, dtype=EXECUTION_REPORT)
    return risk_shadow.replay_reports(records, limits.symbols, limits.portfolio, venues)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="tickrail", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = p.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="supervise an instance (what `make run` does)")
    run_cmd.add_argument(
        "--config", type=Path, default=DEFAULT, help="the instance's TOML (default: shipped)"
    )
    run_cmd.add_argument("--instance", default=None, help="run it under this name instead of the config's")
    run_cmd.add_argument("--duration", type=float, default=0.0, help="seconds to run; 0 runs until stopped")
    run_cmd.add_argument(
        "--view",
        choices=["auto", "live", "events"],
        default="auto",
        help="live view and summary, or JSON events on stdout (auto: live on a terminal)",
    )
    status_cmd = commands.add_parser(
        "status", help="the workers of a running instance (exit 1 unless all run)"
    )
    status_cmd.add_argument("--instance", default=DEFAULT_INSTANCE)
    status_cmd.add_argument("--json", action="store_true", help="one JSON object")
    for verb in ("start", "stop", "restart"):
        verb_cmd = commands.add_parser(verb, help=f"{verb} one worker of a running instance")
        verb_cmd.add_argument("worker", help="e.g. feed-a or venue-b (see `tickrail status`)")
        verb_cmd.add_argument("--instance", default=DEFAULT_INSTANCE)
    kill_cmd = commands.add_parser("kill", help="kill switch: no new orders, every open order cancelled")
    kill_cmd.add_argument("--symbol", default=None, help="only this symbol (default: everything)")
    kill_cmd.add_argument("--instance", default=DEFAULT_INSTANCE)
    resume_cmd = commands.add_parser("resume", help="trade again (the global state, or one symbol's)")
    resume_cmd.add_argument("--symbol", default=None, help="only this symbol (default: the global state)")
    resume_cmd.add_argument("--instance", default=DEFAULT_INSTANCE)
    state_cmd = commands.add_parser("state", help="set one symbol's trading state")
    state_cmd.add_argument("symbol", help="e.g. AAPL")
    state_cmd.add_argument("state", choices=["active", "reduce-only", "halted"])
    state_cmd.add_argument("--instance", default=DEFAULT_INSTANCE)
    risk_cmd = commands.add_parser(
        "risk", help="the risk worker: `risk reload` applies a changed limits file"
    )
    risk_cmd.add_argument("action", choices=["reload"])
    risk_cmd.add_argument("--instance", default=DEFAULT_INSTANCE)
    shadow_cmd = commands.add_parser(
        "shadow", help="the reference rules judge the gate's calls beside it, live or from a recording"
    )
    shadow_cmd.add_argument("--config", type=Path, default=DEFAULT, help="the running instance's TOML")
    shadow_cmd.add_argument("--instance", default=None, help="the instance's name, if not the config's")
    shadow_cmd.add_argument("--duration", type=float, default=0.0, help="seconds to shadow; 0 until stopped")
    shadow_cmd.add_argument("--record", type=Path, default=None, help="also keep the calls in FILE")
    shadow_cmd.add_argument("--replay", type=Path, default=None, help="play a recording through both engines")
    shadow_cmd.add_argument(
        "--journal",
        type=Path,
        default=None,
        help="play an execution journal's reports through both risk engines",
    )
    shadow_cmd.add_argument(
        "--risk", action="store_true", help="live, the risk worker's events through both risk engines"
    )
    shadow_cmd.add_argument("--json", action="store_true", help="the summary as one JSON object")
    stat_cmd = commands.add_parser("stat", help="print the counters of every segment of an instance")
    stat_cmd.add_argument("--instance", default=DEFAULT_INSTANCE)
    stat_cmd.add_argument("--json", action="store_true", help="one JSON object per refresh")
    stat_cmd.add_argument("--watch", type=float, metavar="SECONDS", help="refresh every SECONDS")
    stat_cmd.add_argument("--count", type=int, help="with --watch: stop after COUNT refreshes")
    stat_cmd.add_argument("--filter", metavar="REGEX", help="only the segments whose names match")
    demo_cmd = commands.add_parser("demo", help="run the ring demo: one writer, two readers, live counters")
    demo_cmd.add_argument("--instance", default="demo", help="instance name (segment prefix tickrail.NAME.)")
    demo_cmd.add_argument(
        "--duration", type=float, default=15.0, help="seconds to run; 0 runs until interrupted"
    )
    demo_cmd.add_argument("--rate", type=float, default=200_000.0, help="market events per second")
    commands.add_parser("venue", help="run one simulated venue (python -m venues)", add_help=False)
    commands.add_parser("feed", help="run or replay one venue's feed (python -m feeds)", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    """The ``tickrail`` command."""
    argv = sys.argv[1:] if argv is None else argv
    # `venue` and `feed` hand every argument (--help included) to their own command lines.
    forwarded = {"venue": venues_main.main, "feed": feeds_main.main}
    if argv and argv[0] in forwarded:
        return forwarded[argv[0]](argv[1:])
    args = parser().parse_args(argv)
    if args.command == "run":
        return run_instance(args.config, args.instance, args.duration, args.view)
    if args.command == "status":
        return print_status(args.instance, args.json)
    if args.command in ("start", "stop", "restart"):
        return control_worker(args.instance, args.command, args.worker)
    if args.command == "kill":
        return set_trading(args.instance, "kill", args.symbol, "killed")
    if args.command == "resume":
        return set_trading(args.instance, "resume", args.symbol, "active")
    if args.command == "state":
        return set_trading(args.instance, "state", args.symbol, args.state)
    if args.command == "risk":
        return reload_risk(args.instance)
    if args.command == "shadow":
        return shadow(args)
    if args.command == "demo":
        return ring_demo.run(args.instance, args.duration, args.rate)
    trading = trading_segment(args.instance)
    return shm_stat.run(
        args.instance,
        args.json,
        args.watch,
        args.count,
        name_filter=args.filter,
        states=lambda: states_of(trading, dict(instruments())),
    )


if __name__ == "__main__":
    sys.exit(main())
