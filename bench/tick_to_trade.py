"""Tick-to-trade benchmark: venues, feeds and the execution worker under the supervisor; for
every order, the time from the feed's receive timestamp of the tick that caused it to the moment
its bytes were handed to the socket (the execution worker's HDR histogram), in two scenarios:

* ``intrinsic``: venue A alone at about 10k ITCH messages/s, its feed pinned to one core at
  SCHED_FIFO 20 and blocking on its socket (the venue and everything else run there while it
  waits, and it takes the core back the moment a packet comes), the execution worker pinned to
  the other at SCHED_FIFO 10, yielding between turns (where the priorities are refused, the
  supervisor's ``placed`` events say so and the workers run unprioritised);
* ``load``: the three venues at 100k actions/s each, their feeds and the execution worker on
  whatever cores the kernel gives them;
* ``python``: as ``intrinsic``, but SPY is left to the example Python strategy
  (:class:`execution.examples.Joiner`, on the worker's main thread, which shares the loop's
  core): the Python path's tick-to-trade (``python``) beside the Rust market maker's in the
  same run, for the Python path's extra cost.

It also runs ``exec-bench`` (``bench/exec_rs``) for the gate's own cost per order and the OUCH
gateway's throughput. ``--json`` prints::

    {"scenarios": {"intrinsic": {"orders": N, "tick_to_trade_us": {"p50", "p99", "p999", "max"}},
                   "load": {...}},
     "gate_ns": {"p50", "p99"}, "gateway_orders_per_s": X, "machine": ...}

Each scenario also has ``"stages_us"``: the built-in strategy's tick-to-trade split into the
feed (receive to publish), the hand-off (publish to the loop's read), the decision (read to the
turn's writes) and the write (until the bytes are handed to the socket); the ``python``
scenario adds ``"python": {"orders", "tick_to_trade_us"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ring import machine
from tickrail import _native
from tickrail.process import Announcements

ROOT = Path(__file__).resolve().parents[1]


def _config(scenario: str, name: str, journal: Path) -> str:
    cores = sorted(os.sched_getaffinity(0))
    if scenario in ("intrinsic", "python"):
        feed_core, execution_core = cores[0], cores[-1]
        text = (
            f'[instance]\nname = "{name}"\n[venues.a]\nprotocol = "itch"\nrate = 9000\n'
            f'[feeds.a]\nvenue = "a"\ncore = {feed_core}\nwait = "yield"\npriority = 20\n'
            f'[execution]\ncore = {execution_core}\nspin = false\npriority = 10\njournal = "{journal}"\n'
        )
        if scenario == "python":
            text += '[execution.python]\nstrategy = "execution.examples:Joiner"\nsymbols = ["SPY"]\n'
        return text
    text = f'[instance]\nname = "{name}"\n'
    for letter, protocol in (("a", "itch"), ("b", "fix"), ("c", "json")):
        text += f'[venues.{letter}]\nprotocol = "{protocol}"\nrate = 100000\n[feeds.{letter}]\nvenue = "{letter}"\n'
    return text + f'[execution]\njournal = "{journal}"\n'


def scenario(name: str, seconds: float) -> dict[str, Any]:
    """Runs one scenario for ``seconds`` after every worker started; its tick-to-trade."""
    instance = f"t2t{name}{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instance.toml"
        path.write_text(_config(name, instance, Path(tmp) / "journal"))
        env = {**os.environ, "RUNTIME_DIRECTORY": tmp}
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "run", "--config", str(path), "--view", "events"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert supervisor.stdout is not None
        events = Announcements(supervisor.stdout)
        try:
            workers = 7 if name == "load" else 3
            for _ in range(workers):
                if events.next("started", 60) is None:
                    raise RuntimeError(f"{name}: the instance did not start")
            time.sleep(seconds)
            report = _native.execution_report(f"tickrail.{instance}.execution.metrics")
        finally:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(120)
    result = {
        **_latency(report["tick_to_trade_ns"]),
        "stages_us": {stage: _latency(h)["tick_to_trade_us"] for stage, h in report["stages_ns"].items()},
        "counters": report["counters"],
        "rejections": report["rejections"],
    }
    if name == "python":
        result["python"] = _latency(report["linked_tick_to_trade_ns"])
    return result


def _latency(histogram: Any) -> dict[str, Any]:
    """Orders and their tick-to-trade percentiles in microseconds."""
    return {
        "orders": histogram["count"],
        "tick_to_trade_us": {k: histogram[k] / 1e3 for k in ("p50", "p99", "p999", "max")},
    }


def exec_bench() -> dict[str, Any]:
    """The gate's cost and the gateway's throughput, from ``exec-bench``."""
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-q", "-p", "exec-bench"], check=True, cwd=ROOT
    )
    out = subprocess.run(
        [str(ROOT / "target/release/exec-bench")], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    """Runs both scenarios and the micro-benchmarks; prints JSON or a summary."""
    p = argparse.ArgumentParser(prog="python -m bench.tick_to_trade", description=__doc__)
    p.add_argument("--seconds", type=float, default=5.0, help="seconds of trading per scenario")
    p.add_argument("--json", action="store_true", help="one JSON object")
    args = p.parse_args(argv)
    scenarios = {name: scenario(name, args.seconds) for name in ("intrinsic", "load", "python")}
    micro = exec_bench()
    batched = max(micro["gateway"], key=lambda g: g["per_write"])
    result = {
        "scenarios": scenarios,
        "gate_ns": {"p50": micro["gate_ns"]["p50"], "p99": micro["gate_ns"]["p99"]},
        "gateway_orders_per_s": batched["orders_per_s"],
        "gateway": micro["gateway"],
        "machine": machine(),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    for name, s in scenarios.items():
        t = s["tick_to_trade_us"]
        print(f"{name}: {s['orders']} orders, tick-to-trade p50 {t['p50']:.1f} us, p99 {t['p99']:.1f} us")
        for stage, st in s["stages_us"].items():
            print(f"  {stage}: p50 {st['p50']:.1f} us, p99 {st['p99']:.1f} us")
        if "python" in s:
            py = s["python"]["tick_to_trade_us"]
            print(
                f"  the Python strategy's {s['python']['orders']} orders: p50 {py['p50']:.1f} us, p99 {py['p99']:.1f} us"
            )
    print(f"gate p50 {result['gate_ns']['p50']} ns, p99 {result['gate_ns']['p99']} ns")
    print(f"gateway {result['gateway_orders_per_s']:,.0f} orders/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
