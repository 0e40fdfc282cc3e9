"""Venue B's adapters for the legacy engine (``bench/legacy/venue_b.py``): the FIX codec checked
against an independent one (simplefix), the session and malformed input on a scripted venue,
and the feed and gateway against a real venue B process."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import simplefix  # type: ignore[import-untyped]
import uvloop
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.legacy.venue import Kind, Report
from bench.legacy.venue_b import (
    Feed,
    FixSession,
    FramingError,
    Gateway,
    InvalidMessage,
    format_decimal,
    frame,
    parse_decimal,
)
from pipeline import Process, start
from tickrail.execution_plan import SIMULATED_LOGINS
from tickrail.launch import free_port
from tickrail.market import listed

NANOS = 1_000_000_000
SYMBOLS = {s.name: s.instrument_id for s in listed("b")}
AAPL = SYMBOLS["AAPL"]
SENDER, TARGET = SIMULATED_LOGINS["fix"]
#: Engine ticks (1e-4) to our fixed point, as the venue's closing books give prices.
TICKS = 100_000
SENDING_TIME = "20250102-13:14:15.016"

# FIX "data" fields are length-prefixed binary; neither codec carries any. 35 is the header's.
RAW_DATA_TAGS = frozenset(simplefix.FixParser().raw_len_tags) | frozenset(simplefix.FixParser().raw_data_tags)
tags = st.integers(11, 99_999).filter(lambda tag: tag not in RAW_DATA_TAGS and tag != 35)
values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30)
bodies = st.lists(st.tuples(tags, values), max_size=15)
msg_types = st.sampled_from(["0", "A", "D", "F", "G", "V", "8", "X"])


class Wire(asyncio.Transport):
    """A transport that keeps what is written, for a venue played by the test."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Keeps ``data``."""
        self.written += data

    def close(self) -> None:
        """Marks the transport closed."""
        self.closed = True

    def abort(self) -> None:
        """Marks the transport aborted."""
        self.aborted = True

    def is_closing(self) -> bool:
        """Whether it was closed or aborted."""
        return self.closed or self.aborted

    def messages(self) -> list[dict[int, bytes]]:
        """What was written since the last call, read by simplefix (fields by tag, the first
        value of each)."""
        parser = simplefix.FixParser()
        parser.append_buffer(bytes(self.written))
        self.written.clear()
        read = []
        while (message := parser.get_message()) is not None:
            fields: dict[int, bytes] = {}
            for tag, value in message.pairs:
                fields.setdefault(int(tag), value)
            read.append(fields)
        return read


def venue_message(msg_type: str, seq: int, *fields: tuple[int, Any], poss_dup: bool = False) -> bytes:
    """A message from venue B to the feed (``TICKRAIL``), encoded by simplefix."""
    message = simplefix.FixMessage()
    message.append_pair(8, "FIX.4.4")
    message.append_pair(35, msg_type)
    message.append_pair(49, "VENUEB")
    message.append_pair(56, "TICKRAIL")
    message.append_pair(34, seq)
    message.append_pair(52, SENDING_TIME)
    if poss_dup:
        message.append_pair(43, "Y")
        message.append_pair(122, SENDING_TIME)
    for tag, value in fields:
        message.append_pair(tag, value)
    return bytes(message.encode())


def to_gateway(message: bytes) -> bytes:
    """A venue message readdressed to the gateway (``TRKREXEC``), re-framed by simplefix."""
    parser = simplefix.FixParser()
    parser.append_buffer(message)
    decoded = parser.get_message()
    again = simplefix.FixMessage()
    for tag, value in decoded.pairs:
        if tag == b"56":
            value = SENDER.encode()
        if tag not in (b"9", b"10"):
            again.append_pair(tag, value)
    return bytes(again.encode())


def bad_checksum(message: bytes) -> bytes:
    """``message`` with its CheckSum off by one."""
    declared = int(message[-4:-1])
    return message[:-4] + b"%03d\x01" % ((declared + 1) % 256)


def with_body_length(message: bytes, change: int) -> bytes:
    """``message`` with its BodyLength changed by ``change`` (CheckSum recomputed, so only the
    length is wrong)."""
    length = int(re.search(rb"\x019=(\d+)\x01", message).group(1))  # type: ignore[union-attr]
    text = message.replace(b"\x019=%d\x01" % length, b"\x019=%d\x01" % (length + change), 1)[:-7]
    return text + b"10=%03d\x01" % (sum(text) & 0xFF)


def logon() -> bytes:
    """Venue B's answer to a Logon that starts afresh."""
    return venue_message("A", 1, (98, 0), (108, 1), (141, "Y"))


def snapshot(seq: int, *levels: tuple[int, str, str]) -> bytes:
    """An AAPL snapshot of ``(MDEntryType, price, size)`` levels."""
    fields: list[tuple[int, Any]] = [(262, 1), (55, "AAPL"), (268, len(levels))]
    for entry_type, price, size in levels:
        fields += [(269, entry_type), (270, price), (271, size)]
    return venue_message("W", seq, *fields)


def refresh(seq: int, *entries: tuple[int, int, str, str], poss_dup: bool = False) -> bytes:
    """An AAPL refresh of ``(MDUpdateAction, MDEntryType, price, size)`` entries."""
    fields: list[tuple[int, Any]] = [(262, 1), (268, len(entries))]
    for action, entry_type, price, size in entries:
        fields += [(279, action), (269, entry_type), (55, "AAPL"), (270, price), (271, size)]
    return venue_message("X", seq, *fields, poss_dup=poss_dup)


Books = list[tuple[int, int, int, int, int]]


def scripted_feed() -> tuple[Feed, Wire, Books]:
    """A feed of AAPL on a scripted connection, logged on, subscribed and given a snapshot: bid
    190.01 x 300, ask 190.02 x 100."""
    books: Books = []
    feed = Feed(("127.0.0.1", 1), {"AAPL": AAPL}, lambda i, b, bq, a, aq, _: books.append((i, b, bq, a, aq)))
    wire = Wire()
    feed.connection_made(wire)
    [ours] = wire.messages()
    assert (ours[35], ours[49], ours[56], ours[34], ours[108], ours[141]) == (
        b"A",
        b"TICKRAIL",
        b"VENUEB",
        b"1",
        b"1",
        b"Y",
    )
    feed.data_received(logon())
    [subscription] = wire.messages()
    assert (subscription[35], subscription[263], subscription[146], subscription[55]) == (
        b"V",
        b"1",
        b"1",
        b"AAPL",
    )
    feed.data_received(snapshot(2, (0, "190.01", "300"), (1, "190.02", "100")))
    assert books == [(AAPL, 19001 * 10**7, 300 * NANOS, 19002 * 10**7, 100 * NANOS)]
    return feed, wire, books


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Runs ``main`` on uvloop, as the legacy engine does."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


Venue = tuple[Process, tuple[str, int]]


@pytest.fixture
def venue_b() -> Iterator[Callable[..., Venue]]:
    """Starts a venue B process (rate 5000, with the extra arguments given) on a free loopback
    port once it listens; every one started is stopped after the test."""
    started: list[Process] = []

    def launch(*extra: str) -> Venue:
        port = free_port()
        venue = start("venue b", "venues", "b", "--fix", f"127.0.0.1:{port}", "--rate", "5000", *extra)
        started.append(venue)
        venue.expect("listening")
        return venue, ("127.0.0.1", port)

    try:
        yield launch
    finally:
        for venue in started:
            venue.stop()


# The codec.


@settings(max_examples=150, deadline=None)
@given(msg_type=msg_types, body=bodies)
def test_simplefix_reads_what_we_write_with_the_same_length_and_checksum(
    msg_type: str, body: list[tuple[int, str]]
) -> None:
    written: list[bytes] = []
    session = FixSession("TRKREXEC", "VENUEB", 1, written.append, 0)
    session.send(msg_type.encode(), b"".join(b"%d=%s\x01" % (tag, value.encode()) for tag, value in body), 0)
    ours = written[-1]
    parser = simplefix.FixParser()
    parser.append_buffer(ours)
    message = parser.get_message()
    again = simplefix.FixMessage()
    for tag, value in message.pairs:
        if tag not in (b"9", b"10"):
            again.append_pair(tag, value)
    assert again.encode() == ours, "simplefix computes the same BodyLength and CheckSum"
    fields, used = frame(ours, 0) or ([], 0)
    assert used == len(ours)
    assert fields[0] == (b"35", msg_type.encode())
    assert fields[5:] == [(b"%d" % tag, value.encode()) for tag, value in body]


@settings(max_examples=150, deadline=None)
@given(msg_type=msg_types, body=bodies)
def test_we_read_what_simplefix_writes_and_wait_for_the_rest(
    msg_type: str, body: list[tuple[int, str]]
) -> None:
    theirs = simplefix.FixMessage()
    theirs.append_pair(8, "FIX.4.4")
    theirs.append_pair(35, msg_type)
    for tag, value in body:
        theirs.append_pair(tag, value)
    data = bytes(theirs.encode())
    framed = frame(data + b"8=FIX", 0)
    assert framed is not None
    fields, used = framed
    assert used == len(data)
    assert fields == [(b"35", msg_type.encode())] + [(b"%d" % tag, value.encode()) for tag, value in body]
    cuts = [*range(0, len(data), 5), len(data) - 1]
    assert all(frame(data[:cut], 0) is None for cut in cuts), "a prefix waits for the rest"


@given(st.integers(-(10**15), 10**15))
def test_decimals_are_exact(value: int) -> None:
    assert parse_decimal(format_decimal(value)) == value
    assert format_decimal(189_500_000_000) == b"189.5"
    assert format_decimal(300 * NANOS) == b"300"
    assert (parse_decimal(b"1.0000000001"), parse_decimal(b"1e5"), parse_decimal(b"")) == (None, None, None)


def test_malformed_framing_is_named() -> None:
    good = venue_message("0", 2)
    with pytest.raises(FramingError, match=r"CheckSum \(10\) is \d{3}, but the bytes sum to \d{3}"):
        frame(bad_checksum(good), 0)
    with pytest.raises(FramingError, match=r"no CheckSum \(10\) after a body of \d+ bytes: BodyLength \(9\)"):
        frame(with_body_length(good, -3), 0)
    with pytest.raises(FramingError, match=r"no CheckSum \(10\)"):
        frame(with_body_length(good, +3) + good, 0)
    assert frame(with_body_length(good, +3), 0) is None, "a longer body may still be coming"
    with pytest.raises(FramingError, match=r"8=FIX\.4\.4"):
        frame(b"8=FIX.4.2\x019=5\x01", 0)
    with pytest.raises(FramingError, match=r"BodyLength \(9\) b'x' is not a length"):
        frame(b"8=FIX.4.4\x019=x\x0135=0\x0110=000\x01", 0)
    body = b"35=0\x0149=\x01"
    empty = b"8=FIX.4.4\x019=%d\x01%s" % (len(body), body)
    empty += b"10=%03d\x01" % (sum(empty) & 0xFF)
    with pytest.raises(FramingError, match="tag 49 has an empty value"):
        frame(empty, 0)


# The session and malformed input, on a scripted venue.


def test_the_feed_applies_refreshes_answers_test_requests_and_recovers_gaps() -> None:
    feed, wire, books = scripted_feed()
    feed.data_received(refresh(3, (1, 0, "190.01", "500"), (0, 2, "190.02", "50"), (2, 1, "190.02", "0")))
    assert books[-1] == (AAPL, 19001 * 10**7, 500 * NANOS, 0, 0), "a change and a delete; a trade is no level"
    feed.data_received(venue_message("1", 4, (112, "probe")))
    [heartbeat] = wire.messages()
    assert (heartbeat[35], heartbeat[112]) == (b"0", b"probe")

    # Number 5 is lost: 6 waits for the replay, which brings 5 and 6 again.
    seen = len(books)
    feed.data_received(refresh(6, (0, 1, "190.05", "100")))
    [resend] = wire.messages()
    assert (resend[35], resend[7], resend[16]) == (b"2", b"5", b"0")
    assert len(books) == seen, "nothing beyond the gap is applied"
    feed.data_received(refresh(5, (0, 1, "190.04", "200"), poss_dup=True))
    feed.data_received(refresh(6, (0, 1, "190.05", "100"), poss_dup=True))
    feed.data_received(refresh(6, (1, 1, "190.05", "999"), poss_dup=True))
    assert books[seen:] == [
        (AAPL, 19001 * 10**7, 500 * NANOS, 19004 * 10**7, 200 * NANOS),
        (AAPL, 19001 * 10**7, 500 * NANOS, 19004 * 10**7, 200 * NANOS),
    ], "the replay in order, the duplicate skipped"
    assert (feed.messages, feed.lost, feed.invalid) == (4, 0, 0)


def test_a_refresh_missing_a_tag_is_refused_by_name_and_what_was_applied_stays() -> None:
    feed, wire, books = scripted_feed()
    good = refresh(3, (1, 0, "190.01", "400"))
    missing_price = venue_message("X", 4, (262, 1), (268, 1), (279, 1), (269, 0), (55, "AAPL"), (271, "999"))
    feed.data_received(good + missing_price)
    assert books[-1] == (AAPL, 19001 * 10**7, 400 * NANOS, 19002 * 10**7, 100 * NANOS), "the good one applied"
    assert len(books) == 2, "the refused one touched no book"
    assert isinstance(feed.last_error, InvalidMessage)
    assert str(feed.last_error) == "MarketDataIncrementalRefresh (X) 4: missing MDEntryPx (270)"
    reject, again = wire.messages()
    assert (reject[35], reject[45]) == (b"3", b"4")
    assert b"missing MDEntryPx (270)" in reject[58]
    assert (again[35], again[55]) == (b"V", b"AAPL"), "the books are asked for afresh"
    assert (feed.lost, feed.invalid, wire.is_closing()) == (1, 1, False), "the session goes on"
    feed.data_received(snapshot(5, (0, "190.00", "100")))
    assert books[-1] == (AAPL, 19000 * 10**7, 100 * NANOS, 0, 0)


@pytest.mark.parametrize(
    ("corrupt", "named"),
    [
        (bad_checksum, r"CheckSum \(10\) is \d{3}, but the bytes sum to \d{3}"),
        (lambda message: with_body_length(message, -4), r"BodyLength \(9\) is wrong"),
    ],
)
def test_a_message_that_does_not_frame_ends_the_connection_and_what_was_applied_stays(
    corrupt: Callable[[bytes], bytes], named: str
) -> None:
    feed, wire, books = scripted_feed()
    good = refresh(3, (1, 0, "190.01", "400"))
    bad = corrupt(refresh(4, (1, 0, "190.01", "1")))
    after = refresh(5, (1, 0, "190.01", "2"))
    feed.data_received(good + bad + after)
    assert books[-1] == (AAPL, 19001 * 10**7, 400 * NANOS, 19002 * 10**7, 100 * NANOS)
    assert len(books) == 2, "nothing from the bad message on"
    assert isinstance(feed.last_error, FramingError)
    assert re.search(named, str(feed.last_error)), feed.last_error
    assert wire.aborted, "the stream cannot be cut past it: the connection is dropped"
    assert (feed.lost, feed.invalid) == (1, 1)


def test_the_gateway_writes_ids_as_the_production_gateway_and_refuses_a_report_missing_a_tag() -> None:
    reports: list[Report] = []
    gateway = Gateway(("127.0.0.1", 1), SENDER, TARGET, SYMBOLS, reports.append)
    wire = Wire()
    gateway.connection_made(wire)
    [ours] = wire.messages()
    assert (ours[35], ours[49], ours[56], ours[141]) == (b"A", b"TRKREXEC", b"VENUEB", b"Y")
    gateway.data_received(to_gateway(logon()))
    gateway.new(41, AAPL, True, 19001 * 10**7, 300 * NANOS)
    gateway.replace(41, 42, 18950 * 10**7, 500 * NANOS)
    gateway.cancel(42)
    new, replace, cancel = wire.messages()
    assert [new[t] for t in (35, 11, 55, 54, 38, 40, 44)] == [
        b"D",
        b"41",
        b"AAPL",
        b"1",
        b"300",
        b"2",
        b"190.01",
    ]
    assert 59 not in new, "a day order"
    assert [replace[t] for t in (35, 41, 11, 55, 54, 38, 40, 44)] == [
        b"G",
        b"41",
        b"42",
        b"AAPL",
        b"1",
        b"500",
        b"2",
        b"189.5",
    ]
    assert [cancel[t] for t in (35, 41, 11, 55, 54)] == [b"F", b"42", b"42C", b"AAPL", b"1"]

    fields: list[tuple[int, Any]] = [(37, 9), (11, 42), (17, 1), (150, "0"), (39, "0"), (55, "AAPL"), (54, 1)]
    fields += [(38, 500), (44, "189.5"), (151, 500), (14, 0), (6, 0)]
    without_exec_type = [field for field in fields if field[0] != 150]
    gateway.data_received(to_gateway(venue_message("8", 2, *without_exec_type)))
    assert reports == []
    assert isinstance(gateway.last_error, InvalidMessage)
    assert str(gateway.last_error) == "ExecutionReport (8) 2: missing ExecType (150)"
    [reject] = wire.messages()
    assert (reject[35], reject[45]) == (b"3", b"2")
    gateway.data_received(to_gateway(venue_message("8", 3, *fields)))
    assert reports == [Report(Kind.ACCEPTED, 42)], "the session goes on"


# Against a real venue B.


def closing_tops(closed: dict[str, Any]) -> dict[int, tuple[int, int, int, int]]:
    """Each symbol's best bid and ask (with sizes) in the venue's closing books, in our units."""
    tops = {}
    for name, bids, asks in closed["books"]:
        bid = (bids[0][0] * TICKS, bids[0][1] * NANOS) if bids else (0, 0)
        ask = (asks[0][0] * TICKS, asks[0][1] * NANOS) if asks else (0, 0)
        tops[SYMBOLS[name]] = (*bid, *ask)
    return tops


async def follow_until_closed(venue: Process, feed: Feed) -> dict[str, Any]:
    """Runs ``feed`` until ``venue`` has closed and its feed has settled; the closing event."""
    task = asyncio.create_task(feed.run())
    try:
        closed = await asyncio.to_thread(venue.expect, "closed", 10.0)
        await asyncio.sleep(0.4)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    return closed


def test_the_feed_follows_every_listed_book_to_the_venues_closing_books(
    venue_b: Callable[..., Venue],
) -> None:
    venue, address = venue_b("--seconds", "1.5", "--linger-ms", "1000")
    last: dict[int, tuple[int, int, int, int]] = {}
    crossed: list[tuple[int, int, int]] = []

    def on_book(instrument: int, bid: int, bid_size: int, ask: int, ask_size: int, received_ns: int) -> None:
        last[instrument] = (bid, bid_size, ask, ask_size)
        if bid and ask and bid >= ask:
            crossed.append((instrument, bid, ask))

    feed = Feed(address, SYMBOLS, on_book)

    async def main() -> None:
        closed = await follow_until_closed(venue, feed)
        assert last == closing_tops(closed)

    run(main)
    assert set(last) == set(SYMBOLS.values())
    assert all(0 < bid < ask for bid, _, ask, _ in last.values()), last
    assert crossed == [], "a venue book is never crossed"
    assert feed.messages > 2_000
    assert (feed.lost, feed.invalid, feed.book_errors, feed.connections) == (0, 0, 0, 1)


def test_the_feed_recovers_gaps_and_reconnects_when_the_venue_cuts_it(
    venue_b: Callable[..., Venue],
) -> None:
    faults = ("--drop", "0.02", "--duplicate", "0.02", "--reorder", "0.02", "--disconnect-every", "1500")
    venue, address = venue_b("--seconds", "1.5", "--linger-ms", "1000", *faults)
    last: dict[int, tuple[int, int, int, int]] = {}

    def on_book(instrument: int, bid: int, bid_size: int, ask: int, ask_size: int, received_ns: int) -> None:
        last[instrument] = (bid, bid_size, ask, ask_size)

    feed = Feed(address, SYMBOLS, on_book)

    async def main() -> None:
        closed = await follow_until_closed(venue, feed)
        assert closed["dropped"] > 0 and closed["forced_disconnects"] > 0
        assert last == closing_tops(closed), "recovered to the venue's closing books"

    run(main)
    assert feed.connections > 1
    assert feed.gaps > 0 and feed.recoveries > 0
    assert (feed.invalid, feed.book_errors) == (0, 0)


def test_orders_are_accepted_replaced_cancelled_filled_and_refused(venue_b: Callable[..., Venue]) -> None:
    _, address = venue_b("--linger-ms", "0")
    reports: list[Report] = []
    tops: dict[int, tuple[int, int]] = {}
    feed = Feed(address, SYMBOLS, lambda i, b, _bq, a, _aq, _ns: tops.__setitem__(i, (b, a)))
    gateway = Gateway(address, SENDER, TARGET, SYMBOLS, reports.append)
    cent = NANOS // 100

    async def expect(count: int) -> list[Report]:
        async with asyncio.timeout(5):
            while len(reports) < count:
                await asyncio.sleep(0.005)
        return reports[count - 1 :]

    async def main() -> None:
        follow = asyncio.create_task(feed.run())
        await gateway.connect()
        try:
            gateway.new(1, AAPL, True, 100 * NANOS, 100 * NANOS)
            assert await expect(1) == [Report(Kind.ACCEPTED, 1)]
            gateway.replace(1, 2, 100 * NANOS + cent, 200 * NANOS)
            assert await expect(2) == [Report(Kind.REPLACED, 2, 1)]
            gateway.replace(2, 3, 100 * NANOS + cent // 2, 200 * NANOS)
            assert await expect(3) == [Report(Kind.REPLACE_REJECTED, 3, 2)], "off the tick"
            gateway.cancel(2)
            assert await expect(4) == [Report(Kind.CANCELED, 2)]
            with pytest.raises(ValueError, match="order 2 is not working"):
                gateway.cancel(2)
            gateway.new(4, AAPL, False, 100 * NANOS, NANOS // 2)
            assert await expect(5) == [Report(Kind.REJECTED, 4)], "half a share"

            async with asyncio.timeout(5):
                while tops.get(AAPL, (0, 0))[1] == 0:
                    await asyncio.sleep(0.01)
            gateway.new(5, AAPL, True, tops[AAPL][1] + 50 * cent, 100 * NANOS)
            async with asyncio.timeout(5):
                while sum(r.quantity for r in reports if r.kind is Kind.FILL) < 100 * NANOS:
                    await asyncio.sleep(0.005)
            fills = [r for r in reports[5:] if r.kind is Kind.FILL]
            assert reports[5] == Report(Kind.ACCEPTED, 5)
            assert all(r.id == 5 and 0 < r.price <= tops[AAPL][1] + 50 * cent for r in fills), fills
        finally:
            gateway.close()
            follow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await follow

    run(main)
    assert gateway.invalid == 0
