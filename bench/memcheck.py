"""Memory evidence for tickrail's own workers: the shipped instance (``tickrail/default.toml``,
under a name of its own, its runtime directory a temporary one) runs under the supervisor for
``--seconds`` with every worker started under memray's tracker, the simulated venues too (marked
as the simulated exchange); for each worker, the allocations of its steady state per message it
handled.

Each worker is started as ``python -m bench.memcheck track FILE -m <module> ...`` (the supervisor
puts ``TICKRAIL_WORKER_PYTHON_ARGS`` before every worker's ``-m <module>``; see
:func:`tickrail.supervise.worker_command`): the worker runs as ``python -m`` would run it, and a
:class:`memray.Tracker` (what ``memray run`` uses) records into FILE from SIGUSR1 to SIGUSR2. The
first ``--warmup`` seconds after every worker started are start-up; the steady window is the rest
of the run, and the bench signals every worker at its two ends. (memray stamps its memory
snapshots with times, not its allocations, so a whole-run file cannot be cut at a moment without
its debugging dump, ``memray parse``, which writes one line per record and took minutes for a
one-minute run; tracking only the window also leaves start-up at full speed.) The counts are
divided by the messages the worker handled in the same window, from its own metrics read at the
window's two ends:

* a feed: the messages it decoded (``feed_report(metrics)["counters"]["messages"]``);
* risk: the events it applied, reports and book marks (its events ring's ``published``);
* execution: its order decisions (orders, replaces, cancels, those the gate refused) and the
  execution reports it took (``execution_report(metrics)["counters"]``);
* a simulated venue: the messages its feed took from it.

Python-heap allocations are what pymalloc / ``PyMem_*`` hand out (memray's ``PYMALLOC_MALLOC``,
``_CALLOC`` and ``_REALLOC``): a worker's Python code allocating per message would show there.
They are recorded with ``trace_python_allocators`` (``--trace-python-allocators``): without it
memray sees pymalloc only when it maps a new 256 KiB arena, so the small objects a Python loop
makes per message (ints, tuples, bound methods, up to 512 bytes) would go unseen as long as they
fit in arenas already mapped. Everything else memray sees (``malloc``, ``mmap``, ... from any
thread, the Rust threads included) is reported beside them as ``native``; ``--native`` also
records native stacks, so the native top sites name Rust functions (memray unwinds on every
allocation then: slower).

``--json`` prints one object::

    {"instance", "seconds", "window_s", "tracker", "workers": {name: {"kind",
     "simulated_exchange", "allocations", "bytes", "messages", "allocations_per_message",
     "bytes_per_message", "allocations_per_s", "threads": {thread: allocations},
     "top_sites": [{"site", "from", "thread", "allocations", "bytes"}],
     "native": {"allocations", "bytes", "allocations_per_message", "threads", "top_sites"}}},
     "problems": [...], "machine"}

``site`` is the innermost frame of the allocation, ``from`` the innermost frame in this
repository's code. Without ``--json`` a table. The exit status is 1 when a worker died during the
run (its figures are left out) or the instance did not start.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import runpy
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from memray import AllocationRecord, AllocatorType, FileFormat, FileReader, Tracker

from bench.ring import machine
from tickrail import _native, risk_plan
from tickrail.config import DEFAULT, Instance
from tickrail.config import load as load_config
from tickrail.launch import WorkerSpec, plan
from tickrail.process import Announcements
from tickrail.supervise import WORKER_PYTHON_ARGS_ENV

ROOT = Path(__file__).resolve().parents[1]
#: The signals that start and stop a worker's tracker.
START_TRACKING, STOP_TRACKING = signal.SIGUSR1, signal.SIGUSR2
#: What pymalloc / ``PyMem_*`` hand out: the Python heap.
PYTHON_HEAP = frozenset(
    {AllocatorType.PYMALLOC_MALLOC, AllocatorType.PYMALLOC_CALLOC, AllocatorType.PYMALLOC_REALLOC}
)
#: Records of memory given back, not allocated.
RELEASES = frozenset({AllocatorType.PYMALLOC_FREE, AllocatorType.FREE, AllocatorType.MUNMAP})
#: The execution worker's counters that count the messages it handles.
EXECUTION_MESSAGES = ("orders", "replaces", "cancels", "gate_rejections", "reports")
#: The Python strategy ``--python-strategy`` adds (as ``bench.tick_to_trade``'s python scenario).
PYTHON_STRATEGY = '\n[execution.python]\nstrategy = "execution.examples:Joiner"\nsymbols = ["SPY"]\n'
#: Sites reported per worker and heap.
TOP_SITES = 5
#: How long the instance may take to start, worker by worker, and to stop.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 120.0
#: How long a worker's tracker may take to stop and write its file out.
TRACKER_STOP_S = 2.0
#: The site of an allocation made where no Python code runs (a Rust thread, without --native).
NO_PYTHON_FRAMES = "(no Python frames: native code)"


class MemcheckError(RuntimeError):
    """The instance could not be run or measured."""


@dataclass
class Tally:
    """Allocations of one kind (Python-heap or native) in the window, by site and by thread."""

    allocations: int = 0
    bytes: int = 0
    sites: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    site_bytes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)

    def add(self, site: tuple[str, str, str], allocations: int, size: int) -> None:
        """Counts ``allocations`` allocations of ``size`` bytes in all at ``site`` (where, from,
        thread)."""
        self.allocations += allocations
        self.bytes += size
        self.sites[site] += allocations
        self.site_bytes[site] += size
        self.threads[site[2]] += allocations

    def top_sites(self) -> list[dict[str, Any]]:
        """The sites that allocated most, most first."""
        return [
            {"site": where, "from": caller, "thread": thread, "allocations": n, "bytes": self.site_bytes[key]}
            for key, n in self.sites.most_common(TOP_SITES)
            for where, caller, thread in (key,)
        ]


@dataclass(frozen=True)
class Run:
    """What a run left: the workers, their memray files, how long the window was and the
    messages each worker handled in it, and why the workers that died did, with what their logs
    said of failures."""

    instance: str
    specs: list[WorkerSpec]
    files: dict[str, Path]
    window_s: float
    messages: dict[str, int]
    died: dict[str, str]
    failures: list[str]


def _track_window(file: Path, native: bool, signals: queue.SimpleQueue[int]) -> None:
    """Tracks this process into ``file`` from :data:`START_TRACKING` to :data:`STOP_TRACKING`.
    Started here, on a thread of its own, memray records the main thread's whole stack; started
    on the main thread in a signal handler, it would miss the frames already running there."""
    while signals.get() != START_TRACKING:
        pass
    tracker = Tracker(
        file, native_traces=native, trace_python_allocators=True, file_format=FileFormat.ALL_ALLOCATIONS
    )
    tracker.__enter__()
    while signals.get() != STOP_TRACKING:
        pass
    tracker.__exit__(None, None, None)


def track(argv: list[str]) -> None:
    """``python -m bench.memcheck track FILE [--native] -m MODULE ARGS...``: runs MODULE as
    ``python -m MODULE ARGS...`` would, tracked by memray into FILE from :data:`START_TRACKING`
    to :data:`STOP_TRACKING` (their handlers, which Python runs on the main thread, only hand
    them to the tracking thread)."""
    if "-m" not in argv or argv.index("-m") + 1 >= len(argv):
        raise SystemExit("usage: python -m bench.memcheck track FILE [--native] -m MODULE [ARGS...]")
    at = argv.index("-m")
    options, module, args = argv[:at], argv[at + 1], argv[at + 2 :]
    p = argparse.ArgumentParser(prog="python -m bench.memcheck track")
    p.add_argument("file", type=Path, help="where the tracker writes")
    p.add_argument("--native", action="store_true", help="record native stacks too")
    parsed = p.parse_args(options)
    signals: queue.SimpleQueue[int] = queue.SimpleQueue()
    for signum in (START_TRACKING, STOP_TRACKING):
        signal.signal(signum, lambda number, frame: signals.put(number))
    threading.Thread(target=_track_window, args=(parsed.file, parsed.native, signals), daemon=True).start()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def messages(instance: Instance, specs: list[WorkerSpec]) -> dict[str, int]:
    """Every worker's messages so far, from its own metrics (a venue's: its feed's)."""
    counts: dict[str, int] = {}
    for spec in specs:
        if spec.kind == "feed":
            counts[spec.name] = _native.feed_report(spec.heartbeat)["counters"]["messages"]
        elif spec.kind == "risk":
            counts[spec.name] = _native.segment_stats(risk_plan.events_segment(instance.name))["published"]
        elif spec.kind == "execution":
            counters = _native.execution_report(spec.heartbeat)["counters"]
            counts[spec.name] = sum(counters[name] for name in EXECUTION_MESSAGES)
    for spec in specs:
        if spec.kind == "feed" and spec.after is not None:
            counts[spec.after] = counts[spec.name]
    return counts


def _tail(log: IO[str], lines: int = 20) -> str:
    log.flush()
    return "".join(Path(log.name).read_text().splitlines(keepends=True)[-lines:])


def _signal(pids: dict[str, int], signum: int) -> None:
    """Sends ``signum`` to every worker still there (one that died is reported with its reason)."""
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def run(tmp: Path, seconds: float, warmup: float, native: bool, python_strategy: bool) -> Run:
    """Runs the instance under the supervisor for ``seconds`` once every worker started, every
    worker tracked from ``warmup`` seconds in to the end."""
    name = f"memcheck{os.getpid()}"
    config = tmp / "instance.toml"
    config.write_text(DEFAULT.read_text() + (PYTHON_STRATEGY if python_strategy else ""))
    instance = replace(load_config(config), name=name)
    # Only the names matter here: no port is taken.
    specs = plan(instance, port=lambda kind: 0)
    out = tmp / "memray"
    out.mkdir()
    wrapper = ["-m", "bench.memcheck", "track", str(out / "{worker}.bin"), *(["--native"] if native else [])]
    env = {**os.environ, "RUNTIME_DIRECTORY": str(tmp), WORKER_PYTHON_ARGS_ENV: shlex.join(wrapper)}
    argv = [sys.executable, "-m", "supervisor", "run", "--config", str(config), "--instance", name]
    with (tmp / "workers.log").open("w+") as log:
        supervisor = subprocess.Popen(
            [*argv, "--view", "events"], stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=ROOT
        )
        assert supervisor.stdout is not None
        events = Announcements(supervisor.stdout)
        pids: dict[str, int] = {}
        try:
            for _ in specs:
                started = events.next("started", START_TIMEOUT_S)
                if started is None:
                    raise MemcheckError(f"the instance did not start; its log ends:\n{_tail(log)}")
                pids[started["worker"]] = started["pid"]
            time.sleep(warmup)
            _signal(pids, START_TRACKING)
            start, before = time.monotonic(), messages(instance, specs)
            time.sleep(seconds - warmup)
            end, after = time.monotonic(), messages(instance, specs)
            _signal(pids, STOP_TRACKING)
            time.sleep(TRACKER_STOP_S)
        finally:
            supervisor.send_signal(signal.SIGTERM)
            stopped = events.next("stopped", STOP_TIMEOUT_S)
            try:
                supervisor.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                supervisor.kill()
                supervisor.wait()
        if stopped is None:
            raise MemcheckError(f"the instance did not stop cleanly; its log ends:\n{_tail(log)}")
        log.seek(0)
        failures = [line.strip() for line in log if " failed" in line]
    died = {e["worker"]: e["reason"] for e in events.seen if e["event"] in ("died", "not-started")}
    return Run(
        name,
        specs,
        {spec.name: out / f"{spec.name}.bin" for spec in specs},
        end - start,
        {worker: after[worker] - before[worker] for worker in after},
        died,
        failures,
    )


def _frame(frame: tuple[str, str, int]) -> str:
    function, filename, line = frame
    path = Path(filename)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else Path(*path.parts[-2:])
    return f"{function} ({shown}:{line})"


LAUNCHER = Path(__file__).resolve()


def _ours(filename: str) -> bool:
    """Whether ``filename`` is the workers' code: this repository's, but not this launcher's."""
    path = Path(filename)
    return path.is_relative_to(ROOT) and not path.is_relative_to(ROOT / ".venv") and path != LAUNCHER


#: How memray shows the characters of a Rust symbol that symbols cannot hold.
RUST_ESCAPES = {
    "$LT$": "<",
    "$GT$": ">",
    "$u20$": " ",
    "$RF$": "&",
    "$C$": ",",
    "$u5b$": "[",
    "$u5d$": "]",
    "$u7b$": "{",
    "$u7d$": "}",
}


def _rust(frame: tuple[str, str, int]) -> str:
    """A native frame of this repository's Rust code, its symbol readable (no hash, no escapes)."""
    function, filename, line = frame
    function = re.sub(r"::h[0-9a-f]{16}$", "", function).replace("_$LT$", "$LT$").replace("..", "::")
    for escape, character in RUST_ESCAPES.items():
        function = function.replace(escape, character)
    return f"{function} ({filename}:{line})"


def _ours_native(filename: str) -> bool:
    """Whether a native frame is in this repository's Rust code (rustc names it relative to
    the workspace)."""
    path = Path(filename)
    return not path.is_absolute() and (ROOT / path).is_file() and path.parts[0] != ".venv"


@dataclass(frozen=True)
class Site:
    """Where allocations come from: the innermost frame, and the innermost frame of the workers'
    code below it (with native stacks, for an allocation out of Python: the innermost frame of
    this repository's Rust code, and its caller's); whether the stack runs from :func:`track`
    (the worker's main thread's does); whether the launcher itself allocated (its signal
    handlers)."""

    where: str
    caller: str
    main: bool
    launcher: bool

    @staticmethod
    def of(record: AllocationRecord, native: bool) -> Site:
        """The site of ``record``."""
        python = record.stack_trace()
        main = any(f[0] == track.__name__ and Path(f[1]) == LAUNCHER for f in python)
        launcher = bool(python) and Path(python[0][1]) == LAUNCHER
        if native and not python:
            rust = [_rust(f) for f in record.native_stack_trace() if _ours_native(f[1])]
            if rust:
                return Site(rust[0], rust[1] if len(rust) > 1 else "-", main, launcher)
        where = _frame(python[0]) if python else NO_PYTHON_FRAMES
        caller = next((_frame(f) for f in python if _ours(f[1])), "-")
        return Site(where, caller, main, launcher)


def tally(path: Path, native: bool) -> tuple[Tally, Tally]:
    """The Python-heap and the native allocations ``path`` holds, but the launcher's own."""
    try:
        reader = FileReader(path, report_progress=False)
    except OSError as e:
        raise MemcheckError(f"{path}: {e} (did the worker take the signals?)") from None
    with reader:
        # memray's "main" thread is the one that started the tracker: the launcher's own.
        tracker_tid = reader.metadata.main_thread_id
        # By (Python heap?, Python stack, native stack, thread): how many, how many bytes, and
        # the first record (for its stacks).
        counts: Counter[tuple[bool, int, int, int]] = Counter()
        sizes: Counter[tuple[bool, int, int, int]] = Counter()
        first: dict[tuple[bool, int, int, int], AllocationRecord] = {}
        for record in reader.get_allocation_records():
            if record.allocator in RELEASES or record.tid == tracker_tid:
                continue
            key = (record.allocator in PYTHON_HEAP, record.stack_id, record.native_stack_id, record.tid)
            counts[key] += 1
            sizes[key] += record.size
            first.setdefault(key, record)
        sites = {key: Site.of(record, native and not key[0]) for key, record in first.items()}
    main_tids = {key[3] for key, site in sites.items() if site.main}
    python, other = Tally(), Tally()
    for key, n in counts.items():
        site = sites[key]
        if site.launcher:
            continue
        thread = "main thread" if key[3] in main_tids else f"thread {key[3]}"
        (python if key[0] else other).add((site.where, site.caller, thread), n, sizes[key])
    return python, other


def _per(count: int, messages: int) -> float | None:
    return count / messages if messages else None


def report(result: Run, native: bool) -> dict[str, Any]:
    """The figures of every worker that ran the whole time."""
    window_s = result.window_s
    workers: dict[str, Any] = {}
    for spec in result.specs:
        if spec.name in result.died:
            continue
        python, other = tally(result.files[spec.name], native)
        handled = result.messages[spec.name]
        workers[spec.name] = {
            "kind": spec.kind,
            "simulated_exchange": spec.kind == "venue",
            "allocations": python.allocations,
            "bytes": python.bytes,
            "messages": handled,
            "allocations_per_message": _per(python.allocations, handled),
            "bytes_per_message": _per(python.bytes, handled),
            "allocations_per_s": python.allocations / window_s,
            "threads": dict(python.threads),
            "top_sites": python.top_sites(),
            "native": {
                "allocations": other.allocations,
                "bytes": other.bytes,
                "allocations_per_message": _per(other.allocations, handled),
                "threads": dict(other.threads),
                "top_sites": other.top_sites(),
            },
        }
    problems = [
        f"{name} died during the run ({reason}): its figures are left out"
        for name, reason in sorted(result.died.items())
    ]
    problems += [f"a worker's log: {line}" for line in result.failures] if result.died else []
    return {"instance": result.instance, "window_s": window_s, "workers": workers, "problems": problems}


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}" if value < 10 else f"{value:.1f}"


def table(summary: dict[str, Any]) -> str:
    """The figures as text: one row per worker, then each worker's top Python site."""
    heading = (
        "worker",
        "kind",
        "messages",
        "py allocs",
        "py/msg",
        "py bytes/msg",
        "native allocs",
        "native/msg",
    )
    rows = [heading]
    for name, w in summary["workers"].items():
        kind = "venue (simulated exchange)" if w["simulated_exchange"] else w["kind"]
        rows.append(
            (
                name,
                kind,
                str(w["messages"]),
                str(w["allocations"]),
                _ratio(w["allocations_per_message"]),
                _ratio(w["bytes_per_message"]),
                str(w["native"]["allocations"]),
                _ratio(w["native"]["allocations_per_message"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(heading))]
    lines = [f"Python-heap and native allocations per message, steady window of {summary['window_s']:.0f} s"]
    lines += [
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.append("Where most allocations were made (window totals):")
    for name, w in summary["workers"].items():
        for heap, sites in (("python", w["top_sites"]), ("native", w["native"]["top_sites"])):
            for site in sites[:1]:
                caller = "" if site["from"] in ("-", site["site"]) else f" from {site['from']}"
                lines.append(
                    f"  {name} {heap}: {site['allocations']} at {site['site']}{caller} ({site['thread']})"
                )
    lines += summary["problems"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the instance under memray and prints the figures (or, as ``track``, runs one worker
    under a tracker)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["track"]:
        track(argv[1:])
        return 0
    p = argparse.ArgumentParser(
        prog="python -m bench.memcheck",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seconds", type=float, default=60.0, help="how long the instance runs once started")
    p.add_argument("--warmup", type=float, default=10.0, help="start-up seconds left out of the window")
    p.add_argument("--native", action="store_true", help="record native stacks too (names Rust sites)")
    p.add_argument(
        "--python-strategy",
        action="store_true",
        help="add the example Python strategy (execution.examples:Joiner on SPY) to the execution worker",
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    args = p.parse_args(argv)
    if not 0 <= args.warmup < args.seconds:
        p.error("--warmup must be at least 0 and less than --seconds")
    with tempfile.TemporaryDirectory(prefix="memcheck") as tmp:
        try:
            result = run(Path(tmp), args.seconds, args.warmup, args.native, args.python_strategy)
            summary = report(result, args.native)
        except MemcheckError as e:
            print(f"bench.memcheck: {e}", file=sys.stderr)
            return 1
    summary = {
        **summary,
        "seconds": args.seconds,
        "tracker": {"trace_python_allocators": True, "native_traces": args.native},
        "machine": machine(),
    }
    print(json.dumps(summary) if args.json else table(summary))
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
