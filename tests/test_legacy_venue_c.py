"""The legacy engine's venue C adapters against a real venue C process: the feed's books, its
recovery from the venue's faults, malformed input, and the order channel's logon, orders,
cancels and refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import uvloop

from bench.legacy.venue import Kind, Report
from bench.legacy.venue_c import (
    Feed,
    Gateway,
    GatewayClosed,
    LogonFailed,
    MalformedMessage,
    UnknownOrder,
    VenueRefused,
    format_decimal,
    parse_decimal,
)
from pipeline import Process, start
from tickrail.execution_plan import SIMULATED_LOGINS
from tickrail.market import listed

KEY, SECRET = SIMULATED_LOGINS["json"]
SYMBOLS = {s.name: s.instrument_id for s in listed("c")}
NANOS = 1_000_000_000
#: Units of 1e-9 in one of the venue's price ticks (1/10,000) in its closing announcement.
TICK_NANOS = 100_000
#: The bound of each wait in these tests (twice this for a venue to close).
TIMEOUT = 5.0

Top = tuple[int, int, int, int]


def address(text: str) -> tuple[str, int]:
    """``host:port`` as a pair."""
    host, port = text.rsplit(":", 1)
    return host, int(port)


def start_venue(*flags: str) -> tuple[Process, dict[str, Any]]:
    """A venue C process at 5,000 actions a second, and what it announced when listening."""
    venue = start("venue C", "venues", "c", "--rate", "5000", "--api-key", f"{KEY}:{SECRET}", *flags)
    try:
        return venue, venue.expect("listening")
    except BaseException:
        venue.stop()
        raise


@pytest.fixture(scope="module")
def venue() -> Iterator[dict[str, Any]]:
    """A venue C process without faults, for the whole module."""
    process, listening = start_venue()
    try:
        yield listening
    finally:
        process.stop()


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Runs an async test on uvloop, as the legacy engine runs."""
    uvloop.run(test())


async def until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Waits (bounded) until ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.01)


async def stop(task: asyncio.Task[None]) -> None:
    """Cancels a feed's run and waits (bounded) for it to end."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)


def following(venue: dict[str, Any]) -> tuple[Feed, dict[int, Top]]:
    """A feed of every listed symbol, and the last top of book it gave for each."""
    tops: dict[int, Top] = {}

    def on_book(instrument: int, bid: int, bid_quantity: int, ask: int, ask_quantity: int, _: int) -> None:
        tops[instrument] = (bid, bid_quantity, ask, ask_quantity)

    return Feed(address(venue["market_data"]), SYMBOLS, on_book), tops


def test_the_feed_sees_every_listed_symbols_book_change_with_the_bid_below_the_ask(
    venue: dict[str, Any],
) -> None:
    async def test() -> None:
        seen: dict[int, set[Top]] = {instrument: set() for instrument in SYMBOLS.values()}
        stamps: list[int] = []

        def on_book(instrument: int, bid: int, bid_size: int, ask: int, ask_size: int, received: int) -> None:
            seen[instrument].add((bid, bid_size, ask, ask_size))
            stamps.append(received)

        feed = Feed(address(venue["market_data"]), SYMBOLS, on_book)
        task = asyncio.create_task(feed.run())

        def two_sided(tops: set[Top]) -> int:
            return sum(1 for bid, _, ask, _ in tops if bid and ask)

        await until(lambda: all(two_sided(tops) > 5 for tops in seen.values()), "two-sided books of all")
        await stop(task)
        for instrument, changes in seen.items():
            for bid, bid_size, ask, ask_size in changes:
                # The venue opens with empty books: a side is empty (0) until its first order.
                assert (bid > 0) == (bid_size > 0) and (ask > 0) == (ask_size > 0), (instrument, bid, ask)
                assert not (bid and ask) or bid < ask, (instrument, bid, ask)
        assert stamps == sorted(stamps) and stamps[-1] <= time.monotonic_ns(), "monotonic read stamps"
        assert (feed.connects, feed.gaps, feed.lost, feed.malformed) == (1, 0, 0, 0)
        assert feed.messages >= len(stamps)

    run(test)


def test_a_malformed_message_is_refused_by_name_and_the_book_built_stays(venue: dict[str, Any]) -> None:
    async def test() -> None:
        feed, tops = following(venue)
        task = asyncio.create_task(feed.run())
        await until(lambda: len(tops) == len(SYMBOLS), "books of every symbol")
        await stop(task)
        before = feed.levels("AAPL"), dict(tops)
        malformed = {
            b"{garbage": "Expecting property name",
            b'{"e":"depthUpdate","E":1,"s":"AAPL","U":9,"u":9,"b":[["19x.5","100"]],"a":[]}': "b: '19x.5'",
            b'{"e":"depthUpdate","E":1,"s":"AAPL","U":9,"u":9,"b":[],"a":[["190.5"]]}': "a: ['190.5']",
            b'{"e":"depthUpdate","E":1,"s":"AAPL","U":9,"u":8,"b":[],"a":[]}': "U 9 and u 8",
            b'{"e":"depthSnapshot","s":"AAPL","bids":[],"asks":[]}': "missing field 'lastUpdateId'",
            b'{"e":"kline","s":"AAPL"}': "unknown message type e = 'kline'",
            b'{"e":"depthSnapshot","s":"AAPL","lastUpdateId":1,"bids":[["0","5"]],"asks":[]}': "price of 0",
        }
        for count, (message, what) in enumerate(malformed.items(), 1):
            feed.on_text(message, time.monotonic_ns())
            assert feed.malformed == count
            assert feed.last_error is not None and what in feed.last_error, (what, feed.last_error)
            assert feed.last_error.startswith("venue C market data: ")
        assert (feed.levels("AAPL"), tops) == before, "the book stays as it was built"
        bids, asks = before[0]
        assert bids and asks and max(bids) < min(asks)
        with pytest.raises(MalformedMessage, match=r"'1\.0000000001' is not a decimal of at most 9 places"):
            parse_decimal("1.0000000001", "p")
        assert parse_decimal(format_decimal(190_010_000_000), "p") == 190_010_000_000

    run(test)


def test_a_symbol_the_venue_does_not_list_ends_the_feed_with_the_venues_refusal(
    venue: dict[str, Any],
) -> None:
    async def test() -> None:
        feed = Feed(address(venue["market_data"]), {"IBM": 99}, lambda *_: None)
        with pytest.raises(VenueRefused, match=r"unknown stream.*IBM@depth"):
            await asyncio.wait_for(feed.run(), TIMEOUT)

    run(test)


def test_an_order_is_accepted_and_cancelled_and_refusals_are_reported(venue: dict[str, Any]) -> None:
    async def test() -> None:
        reports: list[Report] = []
        wrong = Gateway(address(venue["orders"]), KEY, "not the secret", SYMBOLS, reports.append)
        with pytest.raises(LogonFailed, match="-1022"):
            await wrong.connect()
        gateway = Gateway(address(venue["orders"]), KEY, SECRET, SYMBOLS, reports.append)
        await gateway.connect()
        try:
            aapl = SYMBOLS["AAPL"]
            # Far below the market (AAPL trades near 190): the order rests.
            gateway.new(1, aapl, True, 100 * NANOS, 100 * NANOS)
            await until(lambda: len(reports) == 1, "the order's acceptance")
            assert reports == [Report(Kind.ACCEPTED, 1)]
            gateway.cancel(1)
            gateway.cancel(1)  # the second is written before the first is answered
            await until(lambda: len(reports) == 3, "the cancel's report and the second's refusal")
            assert reports[1:] == [Report(Kind.CANCELED, 1), Report(Kind.CANCEL_REJECTED, 1)]
            with pytest.raises(UnknownOrder, match="order 1: not an open order"):
                gateway.cancel(1)
            gateway.new(2, aapl, False, 300 * NANOS, 150 * NANOS)  # not a whole lot of 100
            await until(lambda: len(reports) == 4, "the refusal of an order breaking the lot size")
            assert reports[3] == Report(Kind.REJECTED, 2)
            with pytest.raises(NotImplementedError, match="venue C has no replace"):
                gateway.replace(3, 4, 100 * NANOS, 100 * NANOS)
            with pytest.raises(ValueError, match="instrument 99 is not listed"):
                gateway.new(5, 99, True, 100 * NANOS, 100 * NANOS)
            gateway.close()
            with pytest.raises(GatewayClosed, match="not connected"):
                gateway.new(6, aapl, True, 100 * NANOS, 100 * NANOS)
            # Reports 1 and 2 were the order's acceptance and its cancel: 3 is the next.
            for message, what in {
                b"[1]": "not a JSON object",
                b'{"e":"executionReport","u":3}': "missing field 'c'",
                b'{"e":"executionReport","u":3,"c":"1","x":"AMEND","X":"NEW"}': "x: 'AMEND' is not",
                b'{"e":"executionReport","u":9,"c":"1","x":"NEW","X":"NEW"}': "report 9 came when report 3",
                b'{"e":"executionReport","u":3,"c":"7","x":"TRADE","X":"FILLED","l":"1x","L":"2"}': "l: '1x'",
            }.items():
                with pytest.raises(MalformedMessage, match=r"^venue C order channel: ") as refused:
                    gateway.on_text(message, 0)
                assert what in str(refused.value)
        finally:
            gateway.close()

    run(test)


def test_the_feed_recovers_from_drops_reorders_and_disconnects_to_the_venues_closing_books() -> None:
    flags = ["--drop", "0.01", "--reorder", "0.01", "--duplicate", "0.01", "--disconnect", "0.002"]
    # The venue serves on for a while after its flow stops: quiet books are checked against
    # their snapshots after half a second, and a feed cut off at the close reconnects.
    process, listening = start_venue(*flags, "--fault-seed", "5", "--seconds", "2", "--linger-ms", "2500")

    async def test() -> None:
        feed, tops = following(listening)
        task = asyncio.create_task(feed.run())
        closed = await asyncio.to_thread(process.expect, "closed", 2 * TIMEOUT)
        books = {
            name: (
                {price * TICK_NANOS: quantity * NANOS for price, quantity in bids},
                {price * TICK_NANOS: quantity * NANOS for price, quantity in asks},
            )
            for name, bids, asks in closed["books"]
        }
        assert books.keys() == SYMBOLS.keys()
        await until(lambda: all(feed.levels(name) == book for name, book in books.items()), "closing books")
        await stop(task)
        assert feed.connects >= 2 and feed.gaps > 0 and feed.lost > 0, vars(feed)
        for name, (bids, asks) in books.items():
            bid, ask = max(bids), min(asks)
            assert tops[SYMBOLS[name]] == (bid, bids[bid], ask, asks[ask]), name

    try:
        run(test)
    finally:
        process.stop()
