"""The supervisor's Prometheus endpoint (``metrics.listen`` in the configuration): every
worker's state and restarts, and every segment's counters read from shared memory as
``tickrail stat`` reads them, in the text exposition format with names in base units
(``_total`` counters, ``_seconds``, ``_messages``). Only the supervisor serves it, so no worker
spends a cycle on it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from shm_layout.stat import Snapshot
from tickrail._native import TRADING_STATES

if TYPE_CHECKING:
    from tickrail._native import LatencyReport
    from tickrail.supervise import Supervisor

#: The text exposition format's media type.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _number(value: float) -> str:
    """A sample value: integers in full (a counter of 12,345,678 is not ``1.23457e+07``)."""
    if float(value).is_integer() and abs(value) < 2**63:
        return str(int(value))
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class Family:
    """One metric family: its samples, each ``(suffix, labels, value)``."""

    name: str
    kind: str
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def add(self, labels: dict[str, str], value: float, suffix: str = "") -> None:
        """Adds one sample."""
        self.samples.append((suffix, labels, value))

    def lines(self) -> Iterator[str]:
        """The family in the text format."""
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for suffix, labels, value in self.samples:
            rendered = ",".join(f'{key}="{_escape(v)}"' for key, v in labels.items())
            labels_text = f"{{{rendered}}}" if rendered else ""
            yield f"{self.name}{suffix}{labels_text} {_number(value)}"


def _trading(status: dict[str, Any]) -> Iterable[Family]:
    state = Family(
        "tickrail_trading_state",
        "gauge",
        'Trading state code: 0 active, 1 reduce-only, 2 halted, 3 killed (symbol "*" is the global state)',
    )
    trading = status["trading"]
    if trading is not None:
        state.add({"symbol": "*"}, TRADING_STATES[trading["global"]])
        for symbol, value in trading["symbols"].items():
            state.add({"symbol": symbol}, TRADING_STATES[value])
    return (state,)


def _workers(status: dict[str, Any]) -> Iterable[Family]:
    up = Family("tickrail_worker_up", "gauge", "1 while the worker is RUNNING")
    restarts = Family("tickrail_worker_restarts_total", "counter", "Times the worker was started again")
    heartbeat = Family("tickrail_worker_heartbeat_age_seconds", "gauge", "Age of the worker's heartbeat")
    for w in status["workers"]:
        labels = {"worker": w["name"], "kind": w["kind"]}
        up.add(labels, 1.0 if w["state"] == "RUNNING" else 0.0)
        restarts.add(labels, w["restarts"])
        if w["heartbeat_age_ms"] is not None:
            heartbeat.add(labels, w["heartbeat_age_ms"] / 1e3)
    return up, restarts, heartbeat


def _latency(family: Family, labels: dict[str, str], report: LatencyReport) -> None:
    for bound_ns, count in report["buckets"]:
        family.add({**labels, "le": f"{bound_ns / 1e9:g}"}, count, "_bucket")
    family.add({**labels, "le": "+Inf"}, report["count"], "_bucket")
    family.add(labels, report["sum"] / 1e9, "_sum")
    family.add(labels, report["count"], "_count")


def _segments(snapshot: Snapshot, feeds: dict[str, str]) -> Iterable[Family]:
    written = Family("tickrail_ring_messages_written_total", "counter", "Messages a ring's writer published")
    backpressure = Family(
        "tickrail_ring_backpressure_total", "counter", "Times a queue's writer found it full"
    )
    read = Family("tickrail_ring_messages_read_total", "counter", "Messages a ring's reader consumed")
    lag = Family("tickrail_ring_lag_messages", "gauge", "Messages a ring's reader is behind its writer")
    lost = Family(
        "tickrail_ring_lost_messages_total", "counter", "Messages a ring's reader was lapped out of"
    )
    overruns = Family("tickrail_ring_overruns_total", "counter", "Times a ring's reader was lapped")
    retries = Family("tickrail_seqlock_retries_total", "counter", "Seqlock reads retried on a slot table")
    heartbeat = Family(
        "tickrail_segment_heartbeat_age_seconds", "gauge", "Age of a segment writer's heartbeat"
    )
    latency = Family(
        "tickrail_feed_receive_to_publish_latency_seconds",
        "histogram",
        "A feed's time from receiving a message to publishing its effect (an HDR bucket straddling "
        "a bound counts above it: within 1/64 of it)",
    )
    for path, stats in snapshot.segments.items():
        name = path.lstrip("/")
        segment = {"segment": name}
        if stats["heartbeat_age_ns"]:
            heartbeat.add(segment, stats["heartbeat_age_ns"] / 1e9)
        if stats["kind"] in ("broadcast", "queue"):
            ring = {"ring": name}
            written.add(ring, stats["published"])
            backpressure.add(ring, stats["backpressure_events"])
            for r in stats["readers"]:
                labels = {**ring, "reader": str(r["index"])}
                read.add(labels, r["consumed"])
                lag.add(labels, r["lag"])
                lost.add(labels, r["lost"])
                overruns.add(labels, r["overruns"])
        elif stats["kind"] == "slots":
            retries.add(segment, stats["seqlock_retries"])
        if path in snapshot.latencies:
            _latency(latency, {"feed": feeds.get(name, name)}, snapshot.latencies[path])
    return written, backpressure, read, lag, lost, overruns, retries, heartbeat, latency


def exposition(supervisor: Supervisor) -> str:
    """Every metric of the instance, as Prometheus scrapes it."""
    # A feed's latency is labelled with the feed worker's name, not its metrics segment's.
    feeds = {w.spec.heartbeat: w.spec.name for w in supervisor.workers if w.spec.kind == "feed"}
    snapshot = Snapshot.take(supervisor.instance.name)
    status = supervisor.status()
    families = [*_workers(status), *_trading(status), *_segments(snapshot, feeds)]
    return "\n".join(line for family in families for line in family.lines()) + "\n"


class MetricsServer:
    """``/metrics`` over HTTP on a thread of the supervisor."""

    def __init__(self, listen: str, supervisor: Supervisor) -> None:
        host, _, port = listen.rpartition(":")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "only /metrics is served")
                    return
                body = exposition(supervisor).encode()
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Scrapes are not logged."""

        self.server = ThreadingHTTPServer((host, int(port)), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        """Where it listens, ``host:port``."""
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def close(self) -> None:
        """Stops serving."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
