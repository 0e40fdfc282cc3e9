"""``tickrail stat``: one table (or JSON) of an instance's segments, read from outside, with its
trading states after it (a kill shows)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shm_layout import LAYOUT_VERSION, BroadcastReader, BroadcastWriter, QueueWriter, SlotWriter, unlink
from shm_layout.stat import Snapshot, render, run, segment_name
from tickrail.trading import TradingStates


@pytest.fixture
def instance() -> Iterator[str]:
    """An instance with a ring (one reader, lapped), a queue and a slot table."""
    name = f"stat{uuid.uuid4().hex[:8]}"
    md, orders, books = (segment_name(name, obj) for obj in ("md", "orders", "books"))
    with BroadcastWriter.create(md, 8, 64, 2) as writer, BroadcastReader.attach(md) as reader:
        for i in range(20):
            writer.publish(bytes([i]))
        reader.read()
        with QueueWriter.create(orders, 4, 64) as queue:
            for _ in range(5):
                queue.try_push(b"order")
        SlotWriter.create(books, 2, 64).close()
        yield name
    for segment in (md, orders, books):
        unlink(segment)


def test_json_lists_every_segment_with_its_counters(instance: str) -> None:
    out = io.StringIO()
    assert run(instance, as_json=True, watch=None, count=None, out=out) == 0
    snapshot = json.loads(out.getvalue())
    by_kind = {s["kind"]: s for s in snapshot["segments"]}
    assert set(by_kind) == {"broadcast", "queue", "slots"}
    ring = by_kind["broadcast"]
    assert (ring["published"], ring["lost"], ring["overruns"]) == (20, 12, 1)
    assert ring["readers"][0]["consumed"] == 1 and ring["readers"][0]["lag"] == 7
    assert by_kind["queue"]["backpressure_events"] == 1
    assert snapshot["errors"] == []


def test_watch_prints_one_json_object_per_refresh_with_rates(instance: str) -> None:
    out = io.StringIO()
    run(instance, as_json=True, watch=0.01, count=3, out=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 3
    assert lines[0]["segments"][0]["rate_msgs_per_s"] is None
    assert lines[2]["segments"][0]["rate_msgs_per_s"] == 0.0


def test_the_table_has_a_row_per_segment_and_per_reader(instance: str) -> None:
    text = render(instance, Snapshot.take(instance), None)
    assert f"tickrail.{instance}.md" in text and f"tickrail.{instance}.orders" in text
    assert "#0 pid" in text
    assert len(text.splitlines()) == 1 + 1 + 3 + 1


def test_a_segment_of_another_layout_version_is_reported_not_read(instance: str) -> None:
    with open(f"/dev/shm/{segment_name(instance, 'orders')}", "r+b") as f:
        f.seek(8)
        f.write(struct.pack("<I", LAYOUT_VERSION + 7))
    out = io.StringIO()
    assert run(instance, as_json=False, watch=None, count=None, out=out) == 1
    assert (
        f"ERROR  segment /tickrail.{instance}.orders: layout version {LAYOUT_VERSION + 7}" in out.getvalue()
    )


def test_the_console_script_runs_stat(instance: str) -> None:
    tickrail = Path(sys.executable).with_name("tickrail")
    done = subprocess.run(
        [str(tickrail), "stat", "--instance", instance, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(json.loads(done.stdout)["segments"]) == 3


def test_a_feeds_metrics_show_its_latency_percentiles_and_a_filter_keeps_matching_segments() -> None:
    from tickrail import _native

    name = f"stat{uuid.uuid4().hex[:8]}"
    worker = _native.FeedWorker.depth(segment_name(name, "c"), "127.0.0.1:9", ["AAPL"], [("AAPL", 1)])
    try:
        out = io.StringIO()
        assert run(name, as_json=True, watch=None, count=None, out=out, name_filter=r"\.metrics$") == 0
        (metrics,) = json.loads(out.getvalue())["segments"]
        assert metrics["name"].endswith(".c.metrics") and metrics["kind"] == "metrics"
        assert set(metrics["latency_ns"]) == {"count", "mean", "p50", "p99", "p999", "max", "sum", "buckets"}
        table = io.StringIO()
        run(name, as_json=False, watch=None, count=None, out=table)
        assert "p99 us" in table.getvalue() and "c.events" in table.getvalue()
        assert run(name, as_json=True, watch=None, count=None, out=io.StringIO(), name_filter="(") == 2
    finally:
        worker.unlink()


def test_the_trading_states_follow_the_table_and_a_kill_shows() -> None:
    name = f"stat{uuid.uuid4().hex[:8]}"
    states = TradingStates(segment_name(name, "trading"), {"AAPL": 1, "MSFT": 2})
    try:
        states.set(None, "killed", "operator")
        states.set("MSFT", "reduce-only", "limit")
        tickrail = Path(sys.executable).with_name("tickrail")
        text = subprocess.run(
            [str(tickrail), "stat", "--instance", name],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert "trading: global killed; AAPL active, MSFT reduce-only" in text
        document = json.loads(
            subprocess.run(
                [str(tickrail), "stat", "--instance", name, "--json"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        )
        assert document["trading"] == {
            "global": "killed",
            "symbols": {"AAPL": "active", "MSFT": "reduce-only"},
        }
    finally:
        states.close()
        unlink(segment_name(name, "trading"))
