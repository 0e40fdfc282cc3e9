"""Venue A and its feed as processes (``python -m venues``, ``python -m feeds``): the feed's
books in shared memory end equal to the venue's, through injected packet loss, and a recording
replays to the same books."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import TEST_PREFIX
from pipeline import start, top_of_book, venue_levels
from tickrail import _native
from tickrail.market import SYMBOLS, listed

FLAG_STALE = 1
SHARE = 1_000_000_000  # one share in fixed point


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prefix() -> Iterator[str]:
    """A feed's segment prefix; its segments are unlinked after the test."""
    feed = f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}"
    yield feed
    for suffix in ("events", "books", "metrics"):
        with contextlib.suppress(_native.SegmentNotFound):
            _native.unlink(f"{feed}.{suffix}")


def test_a_lossy_venue_and_its_feed_end_with_the_same_books_and_the_recording_replays_them(
    prefix: str, tmp_path: Path
) -> None:
    port = free_udp_port()
    recording = tmp_path / "a.rec"
    rerequest_port = free_udp_port()
    venue = start(
        "venue a", "venues", "a", "--destination", f"127.0.0.1:{port}", "--rerequest",
        f"127.0.0.1:{rerequest_port}", "--rate", "20000", "--drop", "0.02", "--reorder", "0.02",
        "--duplicate", "0.02", "--heartbeat-ms", "50", "--linger-ms", "1500", "--seconds", "1.5",
    )  # fmt: skip
    feed = start(
        "feed a", "feeds", "live", "a", "--prefix", prefix, "--listen", f"127.0.0.1:{port}",
        "--rerequest", f"127.0.0.1:{rerequest_port}", "--record", str(recording), "--keep", "--replace-stale",
    )  # fmt: skip
    try:
        venue.expect("listening")
        feed.expect("listening")
        closed = venue.expect("stopped", timeout=20)
        assert venue.wait() == 0
        assert closed["dropped"] > 0 and closed["rerequests"] > 0
        assert feed.stop() == 0
        report = feed.expect("stopped")
        counters = report["counters"]
        assert counters["messages"] == closed["messages"], "every message arrived, lost ones re-requested"
        assert counters["gaps"] > 0 and counters["recoveries"] == counters["gaps"]
        assert counters["decode_errors"] == counters["book_errors"] == counters["publish_errors"] == 0
        assert report["latency_ns"]["count"] > 0

        ids = {s.name: s.instrument_id for s in SYMBOLS}
        books = f"{prefix}.books"
        for name, bids, asks in closed["books"]:
            top_bids, top_asks, flags = top_of_book(books, ids[name])
            assert flags & FLAG_STALE == 0, f"{name} is not stale at the end"
            assert top_bids == venue_levels(bids, SHARE), f"{name} bids"
            assert top_asks == venue_levels(asks, SHARE), f"{name} asks"
        assert {name for name, _, _ in closed["books"]} == {s.name for s in listed("a")}

        for suffix in ("events", "books", "metrics"):
            _native.unlink(f"{prefix}.{suffix}")
        replay = start("replay a", "feeds", "replay", "a", str(recording), "--prefix", prefix, "--keep")
        replayed = replay.expect("replayed")
        assert replay.wait() == 0
        assert replayed["messages"] == closed["messages"]
        for name, bids, asks in closed["books"]:
            top_bids, top_asks, _ = top_of_book(books, ids[name])
            assert (top_bids, top_asks) == (venue_levels(bids, SHARE), venue_levels(asks, SHARE))
    finally:
        venue.stop()
        feed.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--destination", "nowhere"], 'destination "nowhere" is not an address'),
        (["--drop", "1.5"], "drop=1.5 is not within 0..=1"),
        (["--rate", "0"], "rate_per_s must be positive"),
    ],
)
def test_a_venue_refuses_a_bad_configuration_by_name(args: list[str], message: str) -> None:
    venue = start("venue a", "venues", "a", *args)
    assert venue.popen.wait(timeout=20) == 2
    assert venue.popen.stderr is not None
    assert message in venue.popen.stderr.read()


def test_a_replay_of_a_file_that_is_not_a_recording_is_refused_by_name(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.rec"
    bogus.write_bytes(b"NOTOURS!")
    replay = start("replay a", "feeds", "replay", "a", str(bogus), "--prefix", f"{TEST_PREFIX}bogus")
    assert replay.popen.wait(timeout=20) == 2
    assert replay.popen.stderr is not None
    assert "not a tickrail recording" in replay.popen.stderr.read()
