"""Feed benchmark: decode + book + publish throughput and receive-to-publish latency, per
protocol (ITCH from venue A, FIX from venue B, JSON from venue C).

For each protocol it runs the simulated venue and the feed as processes on loopback:

* **latency**: the venue's flow runs at ``--rate`` actions/s (100k by default) for
  ``--seconds``; the feed (venue A's busy-polling its socket) records, per message, the
  nanoseconds from the read's receive timestamp to its book being written to shared memory, in
  the HDR histogram of its metrics segment; the figures are that histogram's p50, p99 and p99.9.
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
import uuid
from pathlib import Path
from typing import Any

from bench.ring import machine
from tickrail import _native
from tickrail.market import instruments, listed
from tickrail.process import Announcements

#: The venue that speaks each protocol.
VENUES = {"itch": "a", "fix": "b", "json": "c"}


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _event(process: subprocess.Popen[str], event: str, timeout: float) -> dict[str, Any]:
    """The next announcement of ``event`` by ``process``, waiting at most ``timeout`` seconds; a
    process that ends or stays silent fails the benchmark with its stderr."""
    assert process.stdout is not None
    readers = _readers.setdefault(process.pid, Announcements(process.stdout))
    announced = readers.next(event, timeout)
    if announced is not None:
        return announced
    process.kill()
    _, err = process.communicate(timeout=10)
    raise RuntimeError(f"{process.args!r} never announced {event!r}: {err}")


#: Each child's announcement reader, kept so no line read ahead is lost between calls.
_readers: dict[int, Announcements] = {}


def live(protocol: str, rate: float, seconds: float, recording: Path, prefix: str) -> dict[str, Any]:
    """Runs the venue speaking ``protocol`` at ``rate`` for ``seconds`` and its feed (venue A's
    busy-polling), recording; returns the feed's final report and the venue's closing report.
    Both processes are killed if anything fails."""
    venue_letter = VENUES[protocol]
    venue_args = [
        "venues",
        venue_letter,
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--linger-ms",
        "500",
    ]
    feed_args = ["feeds", "live", venue_letter, "--prefix", prefix, "--record", str(recording)]
    feed_args += ["--report-every", "600"]
    started: list[subprocess.Popen[str]] = []
    try:
        if venue_letter == "a":
            port, rerequest = _free_udp_port(), _free_udp_port()
            venue_args += ["--destination", f"127.0.0.1:{port}", "--rerequest", f"127.0.0.1:{rerequest}"]
            feed_args += ["--listen", f"127.0.0.1:{port}", "--rerequest", f"127.0.0.1:{rerequest}"]
            feed = _start(*feed_args, "--poll", "spin")
            started.append(feed)
            _event(feed, "listening", timeout=30)
            venue = _start(*venue_args)
            started.append(venue)
        else:
            venue = _start(*venue_args)
            started.append(venue)
            listening = _event(venue, "listening", timeout=30)
            address = listening["fix"] if venue_letter == "b" else listening["market_data"]
            feed = _start(*feed_args, "--venue-addr", address)
            started.append(feed)
            _event(feed, "listening", timeout=30)
        closed = _event(venue, "closed", timeout=seconds + 30)
        venue.wait(timeout=30)
        feed.send_signal(signal.SIGTERM)
        report = _event(feed, "stopped", timeout=30)
        feed.wait(timeout=30)
        return {"closed": closed, **report}
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def replay(protocol: str, recording: Path, runs: int) -> list[float]:
    """Messages per second of ``runs`` as-fast-as-possible replays of ``recording``."""
    venue = VENUES[protocol]
    symbols = [s.name for s in listed(venue)]
    rates = []
    for _ in range(runs):
        prefix = f"tickrail.bench{os.getpid()}.{uuid.uuid4().hex[:8]}"
        try:
            result = _native.replay(venue, str(recording), prefix, symbols, instruments())
        finally:
            for suffix in ("events", "books", "metrics"):
                _native.unlink(f"{prefix}.{suffix}")
        rates.append(float(result["messages"]) / float(result["seconds"]))
    return rates


def bench(protocol: str, rate: float, seconds: float, runs: int) -> dict[str, Any]:
    """One protocol's row."""
    with tempfile.TemporaryDirectory() as tmp:
        recording = Path(tmp) / f"{protocol}.rec"
        session = live(protocol, rate, seconds, recording, f"tickrail.bench{os.getpid()}.{protocol}")
        rates = replay(protocol, recording, runs)
    latency, counters = session["latency_ns"], session["counters"]
    return {
        "protocol": protocol,
        "throughput_msgs_per_s": round(statistics.median(rates)),
        "throughput_runs": [round(r) for r in rates],
        "rx_to_publish_us": {key: latency[key] / 1e3 for key in ("p50", "p99", "p999")},
        "live": {
            "venue_rate_actions_per_s": rate,
            "seconds": seconds,
            "feed_messages": counters["messages"],
            "gaps": counters["gaps"],
            "latency_samples": latency["count"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark."""
    p = argparse.ArgumentParser(prog="python -m bench.feeds", description=__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--rate", type=float, default=100_000.0, help="live venue's order-flow actions per second")
    p.add_argument("--seconds", type=float, default=5.0, help="live session length")
    p.add_argument("--runs", type=int, default=3, help="replays per protocol (median reported)")
    p.add_argument("--protocol", choices=sorted(VENUES), action="append", help="only these (repeatable)")
    args = p.parse_args(argv)
    protocols = args.protocol or list(VENUES)
    results = [bench(protocol, args.rate, args.seconds, args.runs) for protocol in protocols]
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
