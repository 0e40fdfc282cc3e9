"""Ring benchmark: tickrail's shared-memory rings against the transports users would pick instead.

Between two processes pinned to different cores, with 64-byte messages, it measures throughput
and round-trip latency (p50, p99, p99.9, max) of:

* ``tickrail-rust``: the Rust writer and reader (``target/release/ring-bench``), busy-spin, and the
  same rings with yield, back-off and futex waits; ``tickrail-rust-queue`` (back-pressure); and
  ``bare-futex``, a bare futex ping-pong, the floor for a sleeping reader;
* ``tickrail-python``: one message per call through the Python API, and ``tickrail-python-batch``:
  numpy batches;
* the peers: ``pyzmq-ipc`` (the old stack), ``mp-pipe``, ``posix-mq`` and ``iceoryx2``'s Python
  bindings.

Each figure is the median of ``--runs`` runs (3 by default) taken in this one run, so the rows
compare side by side. ``--json`` prints ``{"machine": ..., "results": [...]}``; otherwise a
Markdown table. ``--quick`` runs one short round of everything (under two minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Result, Transport, measure, median_of
from bench.peers import PEERS
from bench.tickrail_transports import TickrailPython, TickrailPythonBatch

ROOT = Path(__file__).resolve().parents[1]
RING_BENCH = ROOT / "target" / "release" / "ring-bench"


def machine() -> dict[str, Any]:
    """What the figures were taken on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores_allowed": sorted(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def run_rust(quick: bool, runs: int, cores: tuple[int, int]) -> list[Result]:
    """Runs ``ring-bench`` ``runs`` times; returns the median of each (transport, wait) row."""
    if not RING_BENCH.exists():
        raise SystemExit(f"{RING_BENCH} is missing: build it with `cargo build --release -p ring-bench`")
    argv = [str(RING_BENCH), "--cores", f"{cores[0]},{cores[1]}", *(["--quick"] if quick else [])]
    rows: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for _ in range(runs):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=True)
        for line in done.stdout.splitlines():
            row = json.loads(line)
            rows[(row["transport"], row.get("wait", ""))].append(row)
    return [median_of(group) for group in rows.values()]


def python_transports(messages: int) -> dict[str, Callable[[], Transport]]:
    """Every Python-driven transport by name: ours first, then the peers."""
    return {
        TickrailPython.name: lambda: TickrailPython(messages),
        TickrailPythonBatch.name: lambda: TickrailPythonBatch(messages),
        **PEERS,
    }


def run_python(
    names: list[str], messages: int, round_trips: int, runs: int, cores: tuple[int, int]
) -> list[Result]:
    """Measures each named Python transport ``runs`` times; returns the medians."""
    factories = python_transports(messages)
    results = []
    for name in names:
        runs_of_one = [
            measure(
                factories[name](), messages=messages, round_trips=round_trips, cores=cores, timeout_s=120.0
            )
            for _ in range(runs)
        ]
        results.append(median_of(runs_of_one))
    return results


def markdown(results: list[Result], info: dict[str, Any]) -> str:
    """The results as a Markdown table, with the machine in a caption line."""
    lines = [
        f"Machine: {info['cpu']}, cores {info['cores_allowed']}, Linux {info['kernel']}, Python {info['python']}.",
        "",
        "| transport | wait | throughput msgs/s | lost | RTT p50 us | RTT p99 us | RTT p99.9 us | RTT max us |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rtt = r["rtt_us"]
        throughput = r.get("throughput_msgs_per_s")
        wait = r.get("wait", "spin" if r["transport"].startswith("tickrail") else "-")
        figures = (
            "| - | - | - | - |"
            if rtt is None
            else (f"| {rtt['p50']:.2f} | {rtt['p99']:.2f} | {rtt['p999']:.2f} | {rtt['max']:.1f} |")
        )
        lines.append(
            f"| {r['transport']} | {wait} | {'-' if throughput is None else f'{throughput / 1e6:.2f} M'} "
            f"| {r.get('lost', '-') if throughput is not None else '-'} {figures}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints JSON or Markdown."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="one short run of everything (< 2 minutes)")
    parser.add_argument("--runs", type=int, help="runs per transport (default 3, 1 with --quick)")
    parser.add_argument("--cores", default="0,1", help="cores for the two processes")
    parser.add_argument(
        "--only", nargs="*", help="Python transports to run (default: all); 'rust' for ring-bench"
    )
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    messages, round_trips = (200_000, 100_000) if args.quick else (1_000_000, 100_000)
    core_a, core_b = (int(c) for c in args.cores.split(","))
    names = list(python_transports(messages)) if not args.only else [n for n in args.only if n != "rust"]
    results: list[Result] = []
    if not args.only or "rust" in args.only:
        results += run_rust(args.quick, runs, (core_a, core_b))
    results += run_python(names, messages, round_trips, runs, (core_a, core_b))
    info = machine()
    table = markdown(results, info)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    if args.json:
        print(json.dumps({"machine": info, "runs": runs, "results": results}))
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
