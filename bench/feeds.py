"""Feed benchmark: decode + book + publish throughput and receive-to-publish latency, per
protocol.

For each protocol it runs the simulated venue and the feed as processes on loopback:

* **latency**: the venue sends at ``--rate`` messages/s (100k by default) for ``--seconds``; the
  feed busy-polls its socket and records, per message, the nanoseconds from the packet's receive
  timestamp to its book being written to shared memory into the HDR histogram of its metrics
  segment; the figures are that histogram's p50, p99 and p99.9.
* **throughput**: that live session, recorded by the feed, is replayed through a fresh handler
  into fresh segments as fast as possible (frames read into memory first, so only decode, book
  and publish are timed, on one core); the figure is the median of ``--runs`` replays.

``--json`` prints ``{"machine": ..., "results": [{"protocol", "throughput_msgs_per_s",
"rx_to_publish_us": {"p50", "p99", "p999"}, ...}]}``; otherwise a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.ring import machine
from tickrail import _native
from tickrail.market import instruments

#: Protocols the benchmark knows, with the venue letter that speaks each.
VENUES = {"itch": "a"}


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )


def _last_event(process: subprocess.Popen[str], event: str, timeout: float) -> dict[str, Any]:
    out, _ = process.communicate(timeout=timeout)
    for line in reversed(out.splitlines()):
        announced: dict[str, Any] = json.loads(line)
        if announced.get("event") == event:
            return announced
    raise RuntimeError(f"{process.args!r} never announced {event!r}")


def live_itch(rate: float, seconds: float, recording: Path, prefix: str) -> dict[str, Any]:
    """Runs venue A at ``rate`` and its feed (busy-polling, recording) for ``seconds``; returns
    the feed's final report and the venue's message count."""
    port, rerequest = _free_udp_port(), _free_udp_port()
    feed = _start(
        "feeds", "live", "a", "--prefix", prefix, "--listen", f"127.0.0.1:{port}",
        "--rerequest", f"127.0.0.1:{rerequest}", "--poll", "spin", "--record", str(recording),
        "--report-every", "60",
    )  # fmt: skip
    time.sleep(0.5)
    venue = _start(
        "venues", "a", "--destination", f"127.0.0.1:{port}", "--rerequest", f"127.0.0.1:{rerequest}",
        "--rate", str(rate), "--seconds", str(seconds), "--linger-ms", "500",
    )  # fmt: skip
    closed = _last_event(venue, "stopped", timeout=seconds + 30)
    time.sleep(0.2)
    feed.send_signal(signal.SIGTERM)
    report = _last_event(feed, "stopped", timeout=30)
    return {"venue_messages": closed["messages"], **report}


def replay_itch(recording: Path, runs: int) -> list[float]:
    """Messages per second of ``runs`` as-fast-as-possible replays of ``recording``."""
    rates = []
    for _ in range(runs):
        prefix = f"tickrail.bench{os.getpid()}.{uuid.uuid4().hex[:8]}"
        try:
            result = _native.replay("a", str(recording), prefix, [], instruments())
        finally:
            for suffix in ("events", "books", "metrics"):
                _native.unlink(f"{prefix}.{suffix}")
        rates.append(float(result["messages"]) / float(result["seconds"]))
    return rates


def bench_itch(rate: float, seconds: float, runs: int) -> dict[str, Any]:
    """The ITCH row."""
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / "itch.rec"
        live = live_itch(rate, seconds, recording, f"tickrail.bench{os.getpid()}.live")
        rates = replay_itch(recording, runs)
    latency = live["latency_ns"]
    counters = live["counters"]
    return {
        "protocol": "itch",
        "throughput_msgs_per_s": round(statistics.median(rates)),
        "throughput_runs": [round(r) for r in rates],
        "rx_to_publish_us": {key: latency[key] / 1e3 for key in ("p50", "p99", "p999")},
        "live": {
            "rate_msgs_per_s": rate,
            "seconds": seconds,
            "venue_messages": live["venue_messages"],
            "feed_messages": counters["messages"],
            "gaps": counters["gaps"],
            "samples": latency["count"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark."""
    p = argparse.ArgumentParser(prog="python -m bench.feeds", description=__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--rate", type=float, default=100_000.0, help="live venue rate, messages/s")
    p.add_argument("--seconds", type=float, default=5.0, help="live session length")
    p.add_argument("--runs", type=int, default=3, help="replays per protocol (median reported)")
    p.add_argument("--protocol", choices=sorted(VENUES), action="append", help="only these (repeatable)")
    args = p.parse_args(argv)
    results = [bench_itch(args.rate, args.seconds, args.runs) for _ in (args.protocol or ["itch"])]
    if args.json:
        print(json.dumps({"machine": machine(), "results": results}, indent=2))
        return 0
    print("| protocol | decode+book+publish msgs/s | rx->publish p50 us | p99 us | p99.9 us |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        lat = r["rx_to_publish_us"]
        print(
            f"| {r['protocol']} | {r['throughput_msgs_per_s']:,} | {lat['p50']:.2f} | {lat['p99']:.2f} | "
            f"{lat['p999']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
