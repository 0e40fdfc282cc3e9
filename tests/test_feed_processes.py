"""Venues and their feeds as processes (``python -m venues``, ``python -m feeds``): through
injected loss, reordering, duplicates and disconnects, every book in shared memory ends equal to
its venue's; a recording replays to the same books; bad configurations are refused by name."""

from __future__ import annotations

import contextlib
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import TEST_PREFIX
from pipeline import Process, start
from tickrail import _native
from tickrail.closing import settle
from tickrail.market import SYMBOLS, listed

IDS = {s.name: s.instrument_id for s in SYMBOLS}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prefixes() -> Iterator[dict[str, str]]:
    """A segment prefix per venue's feed; their segments are unlinked after the test."""
    run = f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}"
    feeds = {venue: f"{run}.{venue}" for venue in ("a", "b", "c")}
    yield feeds
    for prefix in feeds.values():
        for suffix in ("events", "books", "metrics"):
            with contextlib.suppress(_native.SegmentNotFound):
                _native.unlink(f"{prefix}.{suffix}")


def start_a(prefix: str, recording: Path) -> tuple[Process, Process]:
    """Venue A (lossy UDP) and its recording feed."""
    port, rerequest = free_udp_port(), free_udp_port()
    venue = start(
        "venue a", "venues", "a", "--destination", f"127.0.0.1:{port}", "--rerequest", f"127.0.0.1:{rerequest}",
        "--rate", "20000", "--drop", "0.02", "--reorder", "0.02", "--duplicate", "0.02", "--heartbeat-ms", "50",
        "--linger-ms", "3000",
    )  # fmt: skip
    feed = start(
        "feed a", "feeds", "live", "a", "--prefix", prefix, "--listen", f"127.0.0.1:{port}",
        "--rerequest", f"127.0.0.1:{rerequest}", "--record", str(recording), "--keep",
    )  # fmt: skip
    venue.expect("listening")
    feed.expect("listening")
    return venue, feed


def start_b(prefix: str, recording: Path) -> tuple[Process, Process]:
    """Venue B (FIX, dropping, reordering and duplicating refreshes, cutting sessions) and its
    feed."""
    venue = start(
        "venue b", "venues", "b", "--rate", "20000", "--drop", "0.01", "--reorder", "0.01", "--duplicate", "0.01",
        "--disconnect-every", "15000", "--linger-ms", "3000",
    )  # fmt: skip
    listening = venue.expect("listening")
    feed = start(
        "feed b", "feeds", "live", "b", "--prefix", prefix, "--venue-addr", listening["fix"], "--keep",
        "--record", str(recording),
    )  # fmt: skip
    feed.expect("listening")
    return venue, feed


def start_c(prefix: str, recording: Path) -> tuple[Process, Process]:
    """Venue C (WebSocket, dropping, reordering, duplicating and disconnecting) and its feed."""
    venue = start(
        "venue c", "venues", "c", "--rate", "20000", "--drop", "0.01", "--reorder", "0.01", "--duplicate", "0.01",
        "--disconnect", "0.0005", "--linger-ms", "3000",
    )  # fmt: skip
    listening = venue.expect("listening")
    feed = start(
        "feed c", "feeds", "live", "c", "--prefix", prefix, "--venue-addr", listening["market_data"], "--keep",
        "--record", str(recording),
    )  # fmt: skip
    feed.expect("listening")
    return venue, feed


def until_faults_seen(
    conditions: dict[str, Callable[[dict[str, int]], bool]], prefixes: dict[str, str]
) -> None:
    """Waits at least two seconds, and until each feed's counters meet its condition (at most
    30 seconds)."""
    started = time.monotonic()
    deadline = started + 30.0
    while True:
        counters = {v: _native.feed_report(f"{prefixes[v]}.metrics")["counters"] for v in conditions}
        if time.monotonic() - started >= 2.0 and all(conditions[v](counters[v]) for v in conditions):
            return
        assert time.monotonic() < deadline, f"the feeds never went through the faults: {counters}"
        time.sleep(0.1)


def test_every_feeds_books_end_equal_to_their_venues_through_injected_faults(
    prefixes: dict[str, str], tmp_path: Path
) -> None:
    processes: list[Process] = []
    try:
        venue_a, feed_a = start_a(prefixes["a"], tmp_path / "a.rec")
        processes += [venue_a, feed_a]
        venue_b, feed_b = start_b(prefixes["b"], tmp_path / "b.rec")
        processes += [venue_b, feed_b]
        venue_c, feed_c = start_c(prefixes["c"], tmp_path / "c.rec")
        processes += [venue_c, feed_c]
        pairs = {"a": (venue_a, feed_a), "b": (venue_b, feed_b), "c": (venue_c, feed_c)}
        # Trade, with faults, until every feed has been through them (bounded).
        until_faults_seen(
            {
                "a": lambda c: c["gaps"] > 0,
                "b": lambda c: c["gaps"] > 0 and c["connects"] > 1,
                "c": lambda c: c["gaps"] > 0 and c["recovery_requests"] > 0,
            },
            prefixes,
        )
        for venue, _ in pairs.values():
            venue.popen.send_signal(signal.SIGINT)  # close: the flow stops, the venue lingers
        closed = {name: venue.expect("closed", timeout=20) for name, (venue, _) in pairs.items()}
        for name in pairs:
            problems = settle(f"{prefixes[name]}.books", closed[name]["books"], IDS)
            assert not problems, f"venue {name}: {problems}"
            assert {book[0] for book in closed[name]["books"]} == {s.name for s in listed(name)}
        for venue, feed in pairs.values():
            venue.expect("stopped")
            assert venue.wait() == 0
            assert feed.stop() == 0
        reports = {name: feed.expect("stopped") for name, (_, feed) in pairs.items()}

        a = reports["a"]["counters"]
        assert a["messages"] == closed["a"]["messages"], "every message arrived, lost ones re-requested"
        assert a["gaps"] > 0 and a["recoveries"] == a["gaps"] and closed["a"]["rerequests"] > 0
        b = reports["b"]["counters"]
        assert b["gaps"] > 0 and b["recovery_requests"] > 0, "venue B's gaps were filled by ResendRequest"
        assert closed["b"]["forced_disconnects"] > 0 and b["connects"] > 1, "the FIX feed logged on again"
        c = reports["c"]["counters"]
        assert c["gaps"] > 0 and c["recovery_requests"] > 0, "venue C's gaps were resynced from snapshots"
        for report in reports.values():
            counters = report["counters"]
            assert counters["decode_errors"] == counters["publish_errors"] == 0
            assert report["latency_ns"]["count"] > 0

        # Each feed's recording replays, through a fresh handler, to the same books.
        for name in pairs:
            for suffix in ("events", "books", "metrics"):
                _native.unlink(f"{prefixes[name]}.{suffix}")
            recording = str(tmp_path / f"{name}.rec")
            replay = start(
                f"replay {name}", "feeds", "replay", name, recording, "--prefix", prefixes[name], "--keep"
            )
            replayed = replay.expect("replayed")
            assert replay.wait() == 0
            assert replayed["messages"] == reports[name]["counters"]["messages"], f"venue {name}"
            problems = settle(f"{prefixes[name]}.books", closed[name]["books"], IDS, timeout=0)
            assert not problems, f"replay of venue {name}: {problems}"
    finally:
        for process in processes:
            process.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a", "--destination", "nowhere"], 'destination "nowhere" is not an address'),
        (["a", "--drop", "1.5"], "drop=1.5 is not within 0..=1"),
        (["a", "--rate", "0"], "rate_per_s must be positive"),
        (["a", "--user", "nocolon"], "--user takes NAME:SECRET"),
        (["b", "--disconnect-every", "0"], "disconnect_every must be at least 1"),
        (["c", "--disconnect", "2"], "disconnect=2 is not within 0..=1"),
        (["c", "--market-data", "127.0.0.1:99999"], 'market_data "127.0.0.1:99999" is not an address'),
    ],
)
def test_a_venue_refuses_a_bad_configuration_by_name(args: list[str], message: str) -> None:
    venue = start("venue", "venues", *args)
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


def test_a_feed_without_its_venues_address_is_refused_by_name() -> None:
    feed = start("feed c", "feeds", "live", "c", "--prefix", f"{TEST_PREFIX}noaddr")
    assert feed.popen.wait(timeout=20) == 2
    assert feed.popen.stderr is not None
    assert "needs --venue-addr" in feed.popen.stderr.read()


def test_a_feed_counts_and_logs_malformed_input_with_the_venue_and_sequence_and_carries_on(
    prefixes: dict[str, str],
) -> None:
    port = free_udp_port()
    feed = start(
        "feed a", "feeds", "live", "a", "--prefix", prefixes["a"], "--listen", f"127.0.0.1:{port}",
        "--rerequest", "127.0.0.1:9",
    )  # fmt: skip
    feed.expect("listening")
    header = b"TICKRAIL01" + (1).to_bytes(8, "big") + (1).to_bytes(2, "big")
    unknown_type = (5).to_bytes(2, "big") + b"Z\x00\x01\x00\x00"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\x00\x01garbage", ("127.0.0.1", port))
        s.sendto(header + unknown_type, ("127.0.0.1", port))
    deadline = time.monotonic() + 10.0
    while _native.feed_report(f"{prefixes['a']}.metrics")["counters"]["decode_errors"] < 2:
        assert time.monotonic() < deadline, "the feed counts both"
        time.sleep(0.02)
    assert feed.stop() == 0, "malformed input never stops the feed"
    report = feed.expect("stopped")
    assert report["counters"]["decode_errors"] == 2
    assert feed.popen.stderr is not None
    log = feed.popen.stderr.read()
    assert "venue A feed: refused 1 input(s); the last: malformed packet" in log
    assert "malformed message" in log and "(sequence 1, input 2)" in log, log


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["venue", "a", "--drop", "1.5"], "drop=1.5 is not within 0..=1"),
        (["feed", "live", "b", "--prefix", f"{TEST_PREFIX}cli"], "needs --venue-addr"),
        (
            [
                "feed",
                "live",
                "c",
                "--prefix",
                f"{TEST_PREFIX}cli",
                "--venue-addr",
                "127.0.0.1:9",
                "--levels",
                "11",
            ],
            "11 levels: 1 to 10 are written",
        ),
        (["venue", "b", "--lag-ms", "-1"], "--lag-ms -1.0 is negative"),
    ],
)
def test_the_tickrail_command_hands_venue_and_feed_to_their_command_lines(
    command: list[str], message: str
) -> None:
    process = start("tickrail", "supervisor", *command)
    assert process.popen.wait(timeout=20) == 2
    assert process.popen.stderr is not None
    assert message in process.popen.stderr.read()


@pytest.mark.parametrize("venue", ["b", "c"])
def test_a_feed_whose_venue_is_unreachable_keeps_trying_and_counts_it(
    venue: str, prefixes: dict[str, str]
) -> None:
    closed_port = free_tcp_port()
    feed = start(
        f"feed {venue}", "feeds", "live", venue, "--prefix", prefixes[venue], "--venue-addr",
        f"127.0.0.1:{closed_port}",
    )  # fmt: skip
    feed.expect("listening")
    deadline = time.monotonic() + 10.0
    while _native.feed_report(f"{prefixes[venue]}.metrics")["counters"]["disconnects"] < 2:
        assert time.monotonic() < deadline, "failed attempts are counted"
        time.sleep(0.02)
    assert feed.stop() == 0, "an unreachable venue never stops the feed"
    report = feed.expect("stopped")
    assert report["counters"]["connects"] == 0


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
