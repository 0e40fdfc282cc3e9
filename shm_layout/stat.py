"""``tickrail stat``: one table of every segment of an instance, read from outside.

A metrics segment with a feed's layout also shows the percentiles of its receive-to-publish
latency histogram. ``--filter REGEX`` keeps the segments whose names match. Segments are opened
read-only after their header's magic, layout version and checksum are
checked (in Rust), so the tool never disturbs a writer or a reader and refuses a segment of
another layout version with a row that says so. Rates come from the difference between two
snapshots, so the first table of a ``--watch`` shows none.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from tickrail._native import ShmError, feed_report, list_segments, segment_stats

if TYPE_CHECKING:
    from tickrail._native import LatencyReport, SegmentStats


def instance_prefix(instance: str) -> str:
    """The name prefix of every segment of ``instance``: ``tickrail.<instance>.``."""
    return f"tickrail.{instance}."


def segment_name(instance: str, obj: str) -> str:
    """The segment name of object ``obj`` (``md.A``, ``orders``) in ``instance``."""
    return instance_prefix(instance) + obj


@dataclass(frozen=True)
class Snapshot:
    """The stats of every segment of an instance at one moment."""

    taken_ns: int
    segments: dict[str, SegmentStats]
    errors: dict[str, str]
    latencies: dict[str, LatencyReport]

    @staticmethod
    def take(instance: str, pattern: re.Pattern[str] | None = None) -> Snapshot:
        """Reads every segment of ``instance`` whose name matches ``pattern`` (all if ``None``);
        a segment that cannot be read becomes an error row."""
        segments: dict[str, SegmentStats] = {}
        errors: dict[str, str] = {}
        latencies: dict[str, LatencyReport] = {}
        for name in list_segments(instance_prefix(instance)):
            if pattern is not None and not pattern.search(name):
                continue
            try:
                segments[name] = segment_stats(name)
            except ShmError as err:
                errors[name] = str(err)
                continue
            if segments[name]["kind"] == "metrics":
                # Metrics of another layout than a feed's have no latency histogram to show,
                # and a segment unlinked since it was listed has nothing left.
                with contextlib.suppress(ShmError):
                    latencies[name] = feed_report(name)["latency_ns"]
        return Snapshot(time.monotonic_ns(), segments, errors, latencies)

    def rate(self, name: str, previous: Snapshot | None) -> float | None:
        """Messages per second published on ``name`` since ``previous``."""
        if previous is None or name not in previous.segments or self.taken_ns <= previous.taken_ns:
            return None
        published = self.segments[name]["published"] - previous.segments[name]["published"]
        return published * 1e9 / (self.taken_ns - previous.taken_ns)

    def to_json(self, instance: str, previous: Snapshot | None) -> dict[str, Any]:
        """One JSON object: every segment's stats plus its rate, and every error."""
        return {
            "instance": instance,
            "monotonic_ns": self.taken_ns,
            "segments": [
                {
                    **stats,
                    "rate_msgs_per_s": self.rate(name, previous),
                    **({"latency_ns": self.latencies[name]} if name in self.latencies else {}),
                }
                for name, stats in self.segments.items()
            ],
            "errors": [{"name": name, "error": error} for name, error in self.errors.items()],
        }


def _si(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.0f}"


def _age(ns: int) -> str:
    return "-" if ns == 0 else f"{ns / 1e6:.0f}ms" if ns < 10e9 else f"{ns / 1e9:.0f}s"


COLUMNS = (
    "segment",
    "kind",
    "published",
    "rate/s",
    "writer",
    "hb age",
    "reader",
    "lag",
    "lost",
    "laps",
    "full",
    "retries",
    "p50 us",
    "p99 us",
)


def _us(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1e3:.1f}"


def table_rows(snapshot: Snapshot, previous: Snapshot | None) -> Iterator[tuple[str, ...]]:
    """The table's rows: one per segment, then one per reader cursor under it."""
    for name, s in snapshot.segments.items():
        writer = f"{s['writer_pid']}{'' if s['writer_alive'] else ' dead'}" if s["writer_pid"] else "-"
        max_lag = max((r["lag"] for r in s["readers"]), default=0)
        latency = snapshot.latencies.get(name)
        yield (
            name.lstrip("/"),
            s["kind"],
            str(s["published"]),
            _si(snapshot.rate(name, previous)),
            writer,
            _age(s["heartbeat_age_ns"]),
            str(len([r for r in s["readers"] if r["alive"]])),
            str(max_lag),
            str(s["lost"]),
            str(s["overruns"]),
            str(s["backpressure_events"]),
            str(s["seqlock_retries"]),
            _us(latency["p50"] if latency else None),
            _us(latency["p99"] if latency else None),
        )
        for r in s["readers"]:
            holder = f"#{r['index']} pid {r['pid']}" + ("" if r["alive"] else " dead")
            yield (
                "",
                "",
                str(r["consumed"]),
                "",
                "",
                "",
                holder,
                str(r["lag"]),
                str(r["lost"]),
                str(r["overruns"]),
                "",
                "",
                "",
                "",
            )
    for name, error in snapshot.errors.items():
        yield (name.lstrip("/"), "ERROR", error, *[""] * (len(COLUMNS) - 3))


def render(instance: str, snapshot: Snapshot, previous: Snapshot | None) -> str:
    """The table as text, with a one-line heading."""
    rows = [COLUMNS, *table_rows(snapshot, previous)]
    widths = [max(len(row[i]) for row in rows if row[1] != "ERROR" or i < 2) for i in range(len(COLUMNS))]
    heading = (
        f"{time.strftime('%H:%M:%S')} - tickrail stat, instance {instance}, {len(snapshot.segments)} segments"
    )
    lines = [heading]
    for row in rows:
        if row[1] == "ERROR":
            lines.append(f"{row[0].ljust(widths[0])}  ERROR  {row[2]}")
        else:
            lines.append(
                "  ".join(
                    cell.rjust(w) if i >= 2 else cell.ljust(w)
                    for i, (cell, w) in enumerate(zip(row, widths, strict=True))
                )
            )
    return "\n".join(lines)


def run(
    instance: str,
    as_json: bool,
    watch: float | None,
    count: int | None,
    out: TextIO = sys.stdout,
    name_filter: str | None = None,
    states: Callable[[], dict[str, Any] | None] | None = None,
) -> int:
    """Prints one table (or JSON object) per refresh; returns the exit status.

    With ``watch``, refreshes every ``watch`` seconds, ``count`` times (forever if ``None``);
    JSON is then one object per line. ``name_filter`` (a regular expression) keeps the segments
    whose names match. ``states``, if given, says what the instance's trading states are
    (``{"global": ..., "symbols": {...}}``, ``None`` when it has none): a ``trading`` line after
    the table, a ``trading`` field in JSON. Exit status 1 if any segment could not be read, 2 if the filter is not a
    regular expression.
    """
    try:
        pattern = re.compile(name_filter) if name_filter is not None else None
    except re.error as e:
        print(f"tickrail stat: --filter {name_filter!r} is not a regular expression: {e}", file=sys.stderr)
        return 2
    previous: Snapshot | None = None
    refreshes = 0
    status = 0
    while True:
        snapshot = Snapshot.take(instance, pattern)
        status = 1 if snapshot.errors else 0
        trading = states() if states is not None else None
        if as_json:
            document = snapshot.to_json(instance, previous)
            if trading is not None:
                document["trading"] = trading
            out.write(json.dumps(document) + "\n")
        else:
            clear = "\x1b[H\x1b[2J" if watch is not None and out.isatty() else ""
            table = render(instance, snapshot, previous)
            if trading is not None:
                symbols = ", ".join(f"{name} {state}" for name, state in trading["symbols"].items())
                table += f"\ntrading: global {trading['global']}; {symbols}"
            out.write(clear + table + "\n")
        out.flush()
        refreshes += 1
        if watch is None or (count is not None and refreshes >= count):
            return status
        previous = snapshot
        time.sleep(watch)
