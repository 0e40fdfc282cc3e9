"""tickrail's supervisor and its command line, ``tickrail``.

Until the pipeline exists (feeds, risk and execution workers), ``tickrail run`` supervises the
ring demo: it creates one broadcast ring, starts a market-data writer and two readers as separate
processes (one keeps up, one is throttled so the writer laps it), shows the ring's counters live,
and at the end stops the workers, prints a summary and unlinks the segment. A worker that dies
stops the run with a non-zero exit status.

``tickrail stat`` prints the counters of every segment of an instance, read from outside.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from feeds import __main__ as feeds_main
from shm_layout import BroadcastWriter, SegmentExists, SegmentNotFound, remove_if_stale, segment_stats, unlink
from shm_layout import stat as shm_stat
from tickrail.config import ConfigError
from tickrail.config import load as load_config
from tickrail.notify import Notifier
from tickrail.process import StopFlag
from tickrail.supervise import Supervisor
from venues import __main__ as venues_main

#: The demo ring: 64 Ki slots of one 64-byte market event each, up to 4 readers.
DEMO_CAPACITY = 65_536
DEMO_MESSAGE_SIZE = 64
DEMO_READERS = 4
#: How long a stopped worker gets to exit before it is killed.
STOP_GRACE_S = 5.0


@dataclass
class Worker:
    """One supervised process."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts the process."""
        self.process = subprocess.Popen(self.argv)

    def exit_code(self) -> int | None:
        """The exit status if the process has ended."""
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """Asks the process to stop, then kills it if it does not within the grace period."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_GRACE_S)


def prepare_segment(name: str) -> None:
    """Creates the demo ring, removing a leftover whose creator died (after a SIGKILL, say)."""
    try:
        if remove_if_stale(name):
            print(f"removed stale segment {name} left by a dead supervisor", file=sys.stderr)
    except SegmentNotFound:
        pass
    # The supervisor creates the segment; the writer process takes the writer's role.
    BroadcastWriter.create(name, DEMO_CAPACITY, DEMO_MESSAGE_SIZE, DEMO_READERS).close()


def demo_workers(segment: str, rate: float) -> list[Worker]:
    """The writer and the two readers of the demo."""
    demo = [sys.executable, "-m", "tickrail.demo"]
    return [
        Worker("reader-fast", [*demo, "reader", "--segment", segment, "--wait", "backoff"]),
        Worker(
            "reader-throttled",
            [*demo, "reader", "--segment", segment, "--wait", "futex", "--max-rate", str(rate / 2)],
        ),
        Worker("writer", [*demo, "writer", "--segment", segment, "--rate", str(rate)]),
    ]


def summary(segment: str, elapsed_s: float) -> str:
    """One paragraph on what the ring carried."""
    stats = segment_stats(segment)
    lines = [
        f"ran {elapsed_s:.1f} s: {stats['published']} messages published "
        f"({stats['published'] / max(elapsed_s, 1e-9):,.0f}/s), writer attached {stats['writer_attaches']} time(s)"
    ]
    for r in stats["readers"]:
        lines.append(
            f"  reader #{r['index']}: {r['consumed']} read, {r['lost']} lost in {r['overruns']} laps, lag {r['lag']}"
        )
    return "\n".join(lines)


def run(instance: str, duration: float, rate: float) -> int:
    """Supervises the ring demo for ``duration`` seconds (0: until SIGINT/SIGTERM)."""
    segment = shm_stat.segment_name(instance, "md")
    try:
        prepare_segment(segment)
    except SegmentExists as err:
        print(f"tickrail run: instance {instance!r} is already running: {err}", file=sys.stderr)
        return 1
    stop = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    workers = demo_workers(segment, rate)
    status = 0
    start = time.monotonic()
    previous: shm_stat.Snapshot | None = None
    try:
        for worker in workers:
            worker.start()
        while not stop and (duration <= 0 or time.monotonic() - start < duration):
            time.sleep(1.0)
            dead = [(w.name, code) for w in workers if (code := w.exit_code()) is not None]
            if dead:
                for name, code in dead:
                    print(f"tickrail run: worker {name} exited with status {code}", file=sys.stderr)
                status = 1
                break
            snapshot = shm_stat.Snapshot.take(instance)
            clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
            print(clear + shm_stat.render(instance, snapshot, previous), flush=True)
            previous = snapshot
    finally:
        for worker in reversed(workers):
            worker.stop()
        print(summary(segment, time.monotonic() - start))
        unlink(segment)
    return status


def run_instance(config: Path, duration: float) -> int:
    """Supervises the instance described by ``config`` for ``duration`` seconds (0: until
    SIGINT/SIGTERM); the exit status."""
    try:
        instance = load_config(config)
        notifier = Notifier.from_env()
    except (ConfigError, ValueError) as err:
        print(f"tickrail run: {err}", file=sys.stderr)
        return 2
    for warning in instance.warnings:
        print(f"tickrail run: warning: {warning}", file=sys.stderr)
    stop = StopFlag()
    return Supervisor(instance, notifier=notifier).run(stop, duration if duration > 0 else None)


def main(argv: list[str] | None = None) -> int:
    """The ``tickrail`` command."""
    argv = sys.argv[1:] if argv is None else argv
    # `venue` and `feed` hand every argument (--help included) to their own command lines.
    forwarded = {"venue": venues_main.main, "feed": feeds_main.main}
    if argv and argv[0] in forwarded:
        return forwarded[argv[0]](argv[1:])
    parser = argparse.ArgumentParser(
        prog="tickrail", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run the ring demo under the supervisor")
    run_cmd.add_argument("--instance", default="demo", help="instance name (segment prefix tickrail.NAME.)")
    run_cmd.add_argument(
        "--duration", type=float, default=15.0, help="seconds to run; 0 runs until interrupted"
    )
    run_cmd.add_argument("--rate", type=float, default=200_000.0, help="market events per second")
    run_cmd.add_argument(
        "--config", type=Path, default=None, help="run this instance (TOML) instead of the ring demo"
    )
    stat_cmd = commands.add_parser("stat", help="print the counters of every segment of an instance")
    stat_cmd.add_argument("--instance", default="demo")
    stat_cmd.add_argument("--json", action="store_true", help="one JSON object per refresh")
    stat_cmd.add_argument("--watch", type=float, metavar="SECONDS", help="refresh every SECONDS")
    stat_cmd.add_argument("--count", type=int, help="with --watch: stop after COUNT refreshes")
    stat_cmd.add_argument("--filter", metavar="REGEX", help="only the segments whose names match")
    venue_cmd = commands.add_parser(
        "venue", help="run one simulated venue (python -m venues)", add_help=False
    )
    venue_cmd.add_argument("args", nargs=argparse.REMAINDER)
    feed_cmd = commands.add_parser(
        "feed", help="run or replay one venue's feed (python -m feeds)", add_help=False
    )
    feed_cmd.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "venue":
        return venues_main.main(args.args)
    if args.command == "feed":
        return feeds_main.main(args.args)
    if args.command == "run" and args.config is not None:
        return run_instance(args.config, args.duration)
    if args.command == "run":
        return run(args.instance, args.duration, args.rate)
    return shm_stat.run(args.instance, args.json, args.watch, args.count, name_filter=args.filter)


if __name__ == "__main__":
    sys.exit(main())
