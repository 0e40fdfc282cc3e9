"""Venue A's adapters for the legacy engine (bench/legacy/venue_a.py): the ITCH / MoldUDP64 feed
on the venue's own packets and against a running venue, and the OUCH / SoupBinTCP gateway
against a running venue and a scripted server."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
import uvloop

from bench.legacy.venue import Kind, Report
from bench.legacy.venue_a import (
    Feed,
    Gateway,
    InexactOrder,
    LogonRejected,
    MalformedMessage,
    MalformedPacket,
    check_packet,
)
from pipeline import Process, start
from tickrail import _native
from tickrail.launch import free_port
from tickrail.market import flow, listed, market

SYMBOLS = {s.name: s.instrument_id for s in listed("a")}
AAPL = SYMBOLS["AAPL"]
TICK = 10_000_000  # $0.01 in units of 1e-9
SHARE = 1_000_000_000
DOLLAR = 1_000_000_000
HEADER = struct.Struct(">10sQH")
SESSION = b"TICKRAIL01"
T = TypeVar("T")


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs ``main`` on uvloop, as the legacy engine does."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


async def until(condition: Callable[[], bool], what: str) -> None:
    """Waits (at most 5 s) for ``condition``."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within 5 s"
        await asyncio.sleep(0.002)


def ignore_books(*_: int) -> None:
    """An ``on_book`` for tests that look at the books themselves."""


def venue_packets(actions: int) -> tuple[Any, list[bytes]]:
    """The native venue A (no sockets) and the packets of its opening and ``actions`` steps."""
    venue = _native.ItchVenue(market(7, "a"), flow("a", 50_000.0))
    packets = list(venue.open())
    for _ in range(actions // 50):
        packets += venue.step(50)
    return venue, packets


def levels(feed: Feed, instrument: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The feed's price levels of ``instrument`` (ITCH units), best first."""
    book = feed.book(instrument)
    assert book is not None, f"no book for instrument {instrument}"
    return sorted(book.bids.items(), reverse=True), sorted(book.asks.items())


def packet(sequence: int, *messages: bytes, session: bytes = SESSION) -> bytes:
    """A MoldUDP64 packet of ``messages`` from ``sequence``."""
    blocks = b"".join(struct.pack(">H", len(m)) + m for m in messages)
    return HEADER.pack(session, sequence, len(messages)) + blocks


def directory(locate: int, stock: str) -> bytes:
    """An ITCH stock directory entry."""
    return struct.pack(">cHH6s8s", b"R", locate, 0, bytes(6), stock.encode().ljust(8)) + b"QN" + bytes(18)


def add(locate: int, order_ref: int, side: bytes, shares: int, price: int) -> bytes:
    """An ITCH add order (``A``)."""
    return struct.pack(">cHH6sQcI8sI", b"A", locate, 0, bytes(6), order_ref, side, shares, b"AAPL    ", price)


def delete(locate: int, order_ref: int) -> bytes:
    """An ITCH order delete (``D``)."""
    return struct.pack(">cHH6sQ", b"D", locate, 0, bytes(6), order_ref)


# --- the feed on the venue's packets -------------------------------------------------------------


def test_the_feed_holds_every_book_the_venue_holds_even_with_packets_reordered_and_repeated() -> None:
    venue, packets = venue_packets(20_000)
    shuffled: list[bytes] = []
    for i in range(0, len(packets) - 1, 2):
        # Each pair swapped (a gap, filled by the next packet) and each packet twice.
        shuffled += [packets[i + 1], packets[i], packets[i]]
    shuffled += packets[len(shuffled) // 3 * 2 :]
    changes: list[tuple[int, ...]] = []
    feed = Feed(("127.0.0.1", 0), ("127.0.0.1", 9), SYMBOLS, lambda *change: changes.append(change))
    for data in shuffled:
        feed.on_packet(data, 42)
    assert feed.next_sequence == venue.next_sequence
    assert (feed.lost, feed.malformed, feed.book_errors) == (0, 0, 0)
    assert feed.duplicates > 0 and feed.gaps > 0
    for index, symbol in enumerate(listed("a")):
        bids, asks = levels(feed, symbol.instrument_id)
        assert (bids, asks) == (venue.levels(index, "buy"), venue.levels(index, "sell")), symbol.name
    assert {instrument for instrument, *_ in changes} == set(SYMBOLS.values())
    assert all(received_ns == 42 for *_, received_ns in changes)


def test_a_malformed_packet_is_refused_whole_with_its_reason_and_the_books_go_on() -> None:
    venue, packets = venue_packets(2_000)
    feed = Feed(("127.0.0.1", 0), ("127.0.0.1", 9), SYMBOLS, ignore_books)
    half = len(packets) // 2
    for data in packets[:half]:
        feed.on_packet(data, 0)
    before = (levels(feed, AAPL), feed.next_sequence)
    broken = [
        (packets[half][:-1], "claims .* bytes, .* remain"),
        (packets[half][:12], "shorter than its 20-byte header"),
        (packets[half] + b"\0", "1 bytes after its"),
        (b"OTHERSESS " + packets[half][10:], "of session 'OTHERSESS ', not 'TICKRAIL01'"),
        (HEADER.pack(SESSION, feed.next_sequence + (1 << 25), 0), "beyond the books"),
    ]
    for count, (data, reason) in enumerate(broken, start=1):
        feed.on_packet(data, 0)
        assert feed.malformed == count
        assert isinstance(feed.last_error, MalformedPacket)
        assert re.search(reason, str(feed.last_error)), str(feed.last_error)
        assert (levels(feed, AAPL), feed.next_sequence) == before, "nothing of a refused packet is applied"
    for data in packets[half:]:
        feed.on_packet(data, 0)
    assert (feed.lost, feed.gaps, feed.book_errors) == (0, 0, 0)
    assert levels(feed, AAPL) == (venue.levels(0, "buy"), venue.levels(0, "sell"))
    with pytest.raises(
        MalformedPacket, match="packet 5 claims 2 messages but ends before the length of message 1"
    ):
        check_packet(HEADER.pack(SESSION, 5, 2) + b"\0\1x")
    assert check_packet(HEADER.pack(SESSION, 9, 0xFFFF)) == (SESSION, 9, 0xFFFF), "the end of the session"


def test_a_malformed_or_unfitting_message_is_refused_alone() -> None:
    feed = Feed(("127.0.0.1", 0), ("127.0.0.1", 9), {"AAPL": AAPL}, ignore_books)
    feed.on_packet(packet(1, directory(1, "AAPL"), add(1, 7, b"B", 100, 1_899_900)), 0)
    unknown_type = b"Z" + add(1, 8, b"B", 100, 1_899_900)[1:]
    bad_side = add(1, 9, b"Q", 100, 1_899_900)
    short = add(1, 10, b"S", 100, 1_900_100)[:-1]
    cases = [
        (unknown_type, MalformedMessage, "message 3 has unknown type 'Z'"),
        (bad_side, MalformedMessage, "message 5 has side 'Q', not 'B' or 'S'"),
        (short, MalformedMessage, "message 7 of type 'A' is 35 bytes, expected 36"),
        (delete(1, 99), ValueError, "AAPL: order 99 is not in the book"),
        (add(1, 7, b"S", 5, 1_900_100), ValueError, "AAPL: order 7 is already in the book"),
    ]
    sequence = 3
    for message, error, reason in cases:
        feed.on_packet(packet(sequence, message, add(1, 100 + sequence, b"S", 10, 1_900_100)), 0)
        assert isinstance(feed.last_error, error)
        assert reason in str(feed.last_error)
        sequence += 2
    assert (feed.malformed, feed.book_errors) == (3, 2)
    bids, asks = levels(feed, AAPL)
    assert bids == [(1_899_900, 100)], "the good order is untouched"
    assert asks == [(1_900_100, 50)], "the good message after each bad one is applied"


def test_a_gap_is_kept_aside_until_given_up_and_counted_as_lost() -> None:
    feed = Feed(("127.0.0.1", 0), ("127.0.0.1", 9), {"AAPL": AAPL}, ignore_books)
    feed.on_packet(packet(1, directory(1, "AAPL")), 0)
    feed.on_packet(packet(4, add(1, 4, b"B", 100, 1_899_900)), 0)
    feed.on_packet(HEADER.pack(SESSION, 7, 0), 0)  # a heartbeat: the venue is at 7
    assert levels(feed, AAPL) == ([], []), "the early packet waits for the gap"
    feed.give_up_gap()
    assert (feed.lost, feed.next_sequence) == (2, 5)
    assert levels(feed, AAPL) == ([(1_899_900, 100)], [])
    feed.give_up_gap()
    assert (feed.lost, feed.next_sequence) == (4, 7)
    feed.on_packet(packet(7, add(1, 7, b"S", 100, 1_900_100)), 0)
    assert levels(feed, AAPL) == ([(1_899_900, 100)], [(1_900_100, 100)])
    assert feed.gaps == 1


def test_an_unanswered_rerequest_is_sent_again_then_the_gap_given_up_after_100_ms() -> None:
    async def main() -> None:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        silent.settimeout(0.5)
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listen = ("127.0.0.1", free_port(socket.SOCK_DGRAM))
        feed = Feed(listen, silent.getsockname(), {"AAPL": AAPL}, ignore_books)
        task = asyncio.create_task(feed.run())
        try:
            await until(lambda: feed.granted_receive_buffer > 0, "bound socket")
            assert feed.granted_receive_buffer > 212_992, "asks for more than the default"
            sender.sendto(packet(1, directory(1, "AAPL")), listen)
            sender.sendto(packet(3, add(1, 3, b"B", 100, 1_899_900)), listen)
            opened = time.monotonic()
            while feed.lost == 0 and time.monotonic() - opened < 2:
                await asyncio.sleep(0.005)
            waited = time.monotonic() - opened
            assert feed.lost == 1 and 0.09 < waited < 1, waited
            assert levels(feed, AAPL) == ([(1_899_900, 100)], [])
            requests = []
            silent.setblocking(False)
            while True:
                try:
                    requests.append(silent.recv(64))
                except BlockingIOError:
                    break
            assert len(requests) >= 3, "sent again every 20 ms while unanswered"
            assert set(requests) == {HEADER.pack(SESSION, 2, 1)}
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            silent.close()
            sender.close()

    run(main)


# --- against a running venue ---------------------------------------------------------------------


@contextmanager
def venue_a(*args: str) -> Iterator[tuple[Process, tuple[str, int]]]:
    """A venue A process sending market data to a free loopback port; stopped at the end."""
    port = free_port(socket.SOCK_DGRAM)
    process = start(
        "venue a",
        "venues",
        "a",
        "--rate",
        "5000",
        "--destination",
        f"127.0.0.1:{port}",
        "--user",
        "TRKR:tickrail",
        "--linger-ms",
        "300",
        *args,
    )
    try:
        yield process, ("127.0.0.1", port)
    finally:
        process.stop()


def address(text: str) -> tuple[str, int]:
    """``host:port`` as a pair."""
    host, port = text.rsplit(":", 1)
    return host, int(port)


async def expect(process: Process, event: str) -> dict[str, Any]:
    """The venue's next announcement of ``event``, waited for off the loop."""
    return await asyncio.to_thread(process.expect, event, 15.0)


@pytest.mark.parametrize("drop", ["0", "0.02"])
def test_the_feed_follows_a_running_venue_to_its_closing_books(drop: str) -> None:
    changes: dict[int, list[tuple[int, int, int, int]]] = {i: [] for i in SYMBOLS.values()}

    def on_book(instrument: int, bid: int, bid_qty: int, ask: int, ask_qty: int, received_ns: int) -> None:
        changes[instrument].append((bid, bid_qty, ask, ask_qty))

    async def main() -> None:
        with venue_a("--seconds", "1.5", "--drop", drop, "--linger-ms", "1500") as (process, listen):
            listening = await expect(process, "listening")
            # Gaps are given up after three seconds, not 100 ms (tested above), so a loaded
            # machine cannot fail a test of recovery.
            feed = Feed(listen, address(listening["rerequest"]), SYMBOLS, on_book, give_up_after=3.0)
            task = asyncio.create_task(feed.run())
            try:
                await asyncio.sleep(0.3)
                # A stray datagram on the feed's port is refused; the feed goes on.
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
                    stray.sendto(b"not MoldUDP64", listen)
                closed = await expect(process, "closed")
                await expect(process, "stopped")
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        assert feed.malformed == 1 and "shorter than its 20-byte header" in str(feed.last_error)
        assert (feed.lost, feed.book_errors) == (0, 0)
        assert feed.next_sequence == closed["messages"] + 1
        if drop != "0":
            assert closed["dropped"] > 0 and feed.gaps > 0 and feed.rerequests > 0
        for name, bids, asks in closed["books"]:
            assert levels(feed, SYMBOLS[name]) == ([tuple(b) for b in bids], [tuple(a) for a in asks]), name
        for instrument, seen in changes.items():
            assert len(seen) > 50, f"instrument {instrument} changed {len(seen)} times"
            for bid, bid_qty, ask, ask_qty in seen:
                assert bid % TICK == 0 and ask % TICK == 0
                assert bid_qty % SHARE == 0 and ask_qty % SHARE == 0
                assert (bid == 0) == (bid_qty == 0) and (ask == 0) == (ask_qty == 0)
                assert not (bid and ask) or bid < ask, (bid, ask)
                assert all(50 * DOLLAR < price < 1000 * DOLLAR for price in (bid, ask) if price)
            assert sum(1 for bid, _, ask, _ in seen if bid and ask) > len(seen) // 2, "mostly two-sided"

    run(main)


def test_orders_through_the_gateway_are_accepted_replaced_filled_and_canceled() -> None:
    reports: list[Report] = []

    async def next_report() -> Report:
        deadline = time.monotonic() + 5
        while not reports and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        assert reports, "no report within 5 s"
        return reports.pop(0)

    async def main() -> None:
        with venue_a() as (process, _):
            listening = await expect(process, "listening")
            order_entry = address(listening["order_entry"])
            intruder = Gateway(order_entry, "TRKR", "wrong", SYMBOLS, reports.append, timeout=2)
            with pytest.raises(LogonRejected, match="not authorized"):
                await intruder.connect()
            gateway = Gateway(order_entry, "TRKR", "tickrail", SYMBOLS, reports.append, timeout=5)
            await gateway.connect()
            try:
                # Well inside the book: $100 on a $190 stock.
                gateway.new(1, AAPL, True, 100 * DOLLAR, 100 * SHARE)
                assert await next_report() == Report(Kind.ACCEPTED, 1)
                gateway.replace(1, 2, 101 * DOLLAR, 200 * SHARE)
                assert await next_report() == Report(Kind.REPLACED, 2, original=1)
                gateway.cancel(2)
                assert await next_report() == Report(Kind.CANCELED, 2)
                gateway.cancel(2)
                assert await next_report() == Report(Kind.CANCEL_REJECTED, 2)
                gateway.replace(2, 3, 102 * DOLLAR, 100 * SHARE)
                assert await next_report() == Report(Kind.REPLACE_REJECTED, 3, original=2)
                gateway.new(4, AAPL, False, 100 * DOLLAR + TICK // 2, 100 * SHARE)
                # Off the venue's tick: said exactly in OUCH's four decimals, refused by the venue.
                assert await next_report() == Report(Kind.REJECTED, 4)
                gateway.new(5, AAPL, True, 400 * DOLLAR, 1 * SHARE)  # crosses: fills at the best ask
                assert await next_report() == Report(Kind.ACCEPTED, 5)
                fill = await next_report()
                assert (fill.kind, fill.id, fill.quantity) == (Kind.FILL, 5, SHARE)
                assert 150 * DOLLAR < fill.price < 250 * DOLLAR and fill.price % TICK == 0
                with pytest.raises(InexactOrder, match="cannot be said exactly"):
                    gateway.new(6, AAPL, True, 100 * DOLLAR + 1, SHARE)
                with pytest.raises(InexactOrder, match="instrument 99 is not listed"):
                    gateway.new(6, 99, True, 100 * DOLLAR, SHARE)
                assert (gateway.malformed, reports) == (0, [])
            finally:
                gateway.close()

    run(main)


# --- the gateway against a scripted SoupBinTCP server --------------------------------------------


def soup(kind: bytes, payload: bytes = b"") -> bytes:
    """A SoupBinTCP packet."""
    return struct.pack(">H", len(payload) + 1) + kind + payload


def frames(stream: bytes | bytearray) -> list[bytes]:
    """The SoupBinTCP packets of ``stream``."""
    out = []
    while stream:
        end = 2 + int.from_bytes(stream[:2], "big")
        out.append(bytes(stream[:end]))
        stream = stream[end:]
    return out


def order_view(kind: bytes, token: int, shares: int, tail: bytes) -> bytes:
    """An OUCH accepted (``A``) or replaced (``U``) message for ``token``."""
    return (
        kind
        + bytes(8)
        + b"%014d" % token
        + b"B"
        + struct.pack(">I", shares)
        + b"AAPL    "
        + struct.pack(">II", 1_000_000, 99_998)
        + b"TRKRY"
        + bytes(8)
        + b"PN"
        + bytes(4)
        + b"NL"
        + tail
    )


def test_a_gateway_carrying_on_a_lost_session_logs_in_from_its_next_message_with_its_orders() -> None:
    received = bytearray()

    async def main() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while chunk := await reader.read(4096):
                received.extend(chunk)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        address = ("127.0.0.1", server.sockets[0].getsockname()[1])
        lost = Gateway(address, "TRKR", "tickrail", SYMBOLS, lambda report: None)
        lost.next_sequence = 1234
        lost._working[42] = [300 * SHARE, 100 * SHARE]
        fresh = Gateway(address, "TRKR", "tickrail", SYMBOLS, lambda report: None, timeout=0.3)
        fresh.carry_on(lost)
        with contextlib.suppress(ConnectionError, TimeoutError):
            await fresh.connect()
        fresh.close()
        server.close()
        assert bytes(received[:49]) == b"\x00\x2fL" + b"TRKR  " + b"tickrail  " + b" " * 10 + b"1234".rjust(
            20
        )
        assert fresh.next_sequence == 1234 and fresh._working == {42: [300 * SHARE, 100 * SHARE]}

    run(main)


def test_the_gateway_speaks_soupbintcp_and_ouch_as_the_production_gateway_does() -> None:
    received = bytearray()
    reports: list[Report] = []

    async def main() -> None:
        writers: list[asyncio.StreamWriter] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            while chunk := await reader.read(4096):
                received.extend(chunk)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        gateway = Gateway(
            ("127.0.0.1", port), "TRKR", "tickrail", SYMBOLS, reports.append, heartbeat_interval=0.1
        )
        connecting = asyncio.create_task(gateway.connect())
        await until(lambda: bool(received), "login")
        login = bytes(received)
        assert login == b"\x00\x2fL" + b"TRKR  " + b"tickrail  " + b" " * 10 + b"1".rjust(20)
        writers[0].write(soup(b"A", b"TICKRAIL01" + b"%20d" % 1))
        await asyncio.wait_for(connecting, 2)
        received.clear()
        await asyncio.sleep(0.35)
        assert frames(received).count(soup(b"R")) >= 2, "heartbeats while idle"
        received.clear()

        gateway.new(42, AAPL, True, 18951 * DOLLAR // 100, 300 * SHARE)
        gateway.replace(42, 43, 190 * DOLLAR, 200 * SHARE)
        gateway.cancel(43)
        sent: list[bytes] = []

        def sent_requests(count: int) -> bool:
            sent[:] = [frame for frame in frames(received) if frame != soup(b"R")]
            return len(sent) >= count

        await until(lambda: sent_requests(3), "requests")
        enter = (
            b"O00000000000042B" + struct.pack(">I", 300) + b"AAPL    " + struct.pack(">II", 1_895_100, 99_998)
        )
        enter += b"TRKRYPN" + bytes(4) + b"N "
        replace = (
            b"U00000000000042"
            + b"00000000000043"
            + struct.pack(">III", 200, 1_900_000, 99_998)
            + b"YN"
            + bytes(4)
        )
        cancel = b"X00000000000043" + bytes(4)
        assert sent == [soup(b"U", enter), soup(b"U", replace), soup(b"U", cancel)]

        accepted = order_view(b"A", 42, 300, b" ")
        executed = b"E" + bytes(8) + b"%014d" % 42 + struct.pack(">II", 100, 1_895_100) + b"A" + bytes(8)
        replaced = order_view(b"U", 43, 200, b"%014d" % 42 + b" ")
        rejected = b"J" + bytes(8) + b"%014d" % 44 + b"O"
        canceled = b"C" + bytes(8) + b"%014d" % 43 + struct.pack(">I", 100) + b"U"
        foreign = b"I" + bytes(8) + b"ABC00000000001"
        first = b"".join(soup(b"S", m) for m in (accepted, executed, replaced)) + soup(b"H")
        writers[0].write(first[:7])  # a packet cut across reads
        await asyncio.sleep(0.01)
        writers[0].write(first[7:])
        await until(lambda: len(reports) == 3, "replaced")
        gateway.replace(43, 44, 190 * DOLLAR, 300 * SHARE)  # 100 filled: 200 open
        rest = soup(b"S", b"Q" + bytes(5)) + soup(b"S", foreign) + soup(b"S", rejected) + soup(b"S", canceled)
        writers[0].write(rest)
        await until(lambda: len(reports) == 5 and sent_requests(4), "reports")
        assert reports == [
            Report(Kind.ACCEPTED, 42),
            Report(Kind.FILL, 42, quantity=100 * SHARE, price=18951 * DOLLAR // 100),
            Report(Kind.REPLACED, 43, original=42),
            Report(Kind.REPLACE_REJECTED, 44, original=43),
            Report(Kind.CANCELED, 43),
        ]
        assert gateway.malformed == 2
        assert "not ours" in str(gateway.last_error)
        assert sent[3] == soup(
            b"U", b"U00000000000043" + b"00000000000044" + struct.pack(">I", 200) + replace[33:]
        )
        gateway.close()
        await until(lambda: received.endswith(soup(b"O")), "logout")
        server.close()
        await server.wait_closed()

    run(main)
