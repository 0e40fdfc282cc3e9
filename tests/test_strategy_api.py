"""The Python strategy API's runner: what the engine's linked end says becomes the strategy's
books, fills and order news in currency and shares; what the strategy asks for becomes the
engine's requests in fixed point; a strategy that fails is named and the rest goes on.

The engine's end is a recording stand-in here: the real one, with the example strategy trading
SPY beside the market maker through the gate on three venues, runs in test_execution.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import pytest

from execution.api import Book, Cancel, Fill, Order, OrderUpdate, Request, Strategy, StrategyRunner
from tickrail._native import REPORT_KINDS, ExecutionWorker

SCALE = 1_000_000_000
SPY = 2


class LinkedEnd:
    """Hands the runner scripted events and keeps what it sends."""

    def __init__(self, events: list[tuple[Any, ...]]) -> None:
        self.events = events
        self.sent: list[tuple[Any, ...]] = []

    def strategy_events(self, timeout: float, max: int = 256) -> list[tuple[Any, ...]]:
        events, self.events = self.events[:max], self.events[max:]
        return events

    def strategy_send(self, requests: list[tuple[Any, ...]]) -> None:
        self.sent.extend(requests)


class Recorder(Strategy):
    """Keeps what it hears; bids on every book, cancels on every fill."""

    def __init__(self) -> None:
        self.heard: list[object] = []

    def on_book(self, book: Book) -> Iterable[Request]:
        self.heard.append(book)
        return [Order(book.symbol, "b", "buy", book.quotes[1].bid, 100)]

    def on_fill(self, fill: Fill) -> Iterable[Request]:
        self.heard.append(fill)
        return [Cancel(fill.order_id)]

    def on_order(self, update: OrderUpdate) -> Iterable[Request]:
        self.heard.append(update)
        return ()


def runner(events: list[tuple[Any, ...]], strategy: Strategy) -> tuple[StrategyRunner, LinkedEnd]:
    end = LinkedEnd(events)
    return StrategyRunner(cast(ExecutionWorker, end), strategy, ["a", "b"], {SPY: "SPY"}), end


def book_event(bid: float) -> tuple[Any, ...]:
    usable = (round(bid * SCALE), 300 * SCALE, round((bid + 0.02) * SCALE), 200 * SCALE, True)
    return ("book", SPY, 123, -100 * SCALE, [(0, 0, 0, 0, False), usable])


def test_books_fills_and_news_reach_the_strategy_and_its_orders_the_engine_in_fixed_point() -> None:
    fill = REPORT_KINDS["fill"]
    events = [
        book_event(412.37),
        ("sent", 1, 901),
        ("refused", 2, "OffTick"),
        ("report", 1, 901, 1, SPY, True, fill, 412_37 * SCALE // 100, 100 * SCALE, 0, 0, 456),
        ("report", 1, 901, 1, SPY, True, REPORT_KINDS["accepted"], 0, 0, 100 * SCALE, 0, 457),
    ]
    strategy = Recorder()
    run, end = runner(events, strategy)
    run.run_for(0.05)
    book, sent, refused, filled, accepted = strategy.heard
    assert isinstance(book, Book) and book.symbol == "SPY" and book.position == -100
    assert (book.quotes[1].venue, book.quotes[1].bid, book.quotes[1].ask_size) == ("b", 412.37, 200)
    assert not book.quotes[0].usable
    assert sent == OrderUpdate(1, 901, "sent")
    assert refused == OrderUpdate(2, 0, "refused", "OffTick")
    assert filled == Fill(901, 1, "SPY", "b", "buy", 412.37, 100.0, 0.0, 0.0)
    assert accepted == OrderUpdate(1, 901, "accepted", leaves=100.0)
    # The bid went out timed from its book's tick, the cancel after the fill.
    assert end.sent == [("new", 1, 1, SPY, True, 412_370_000_000, 100 * SCALE, 123), ("cancel", 901)]


class Faulty(Strategy):
    """Fails on its first book, then asks for a venue that does not exist, then behaves."""

    def __init__(self) -> None:
        self.books = 0

    def on_book(self, book: Book) -> Iterable[Request]:
        self.books += 1
        if self.books == 1:
            raise ZeroDivisionError("a bug")
        venue = "nowhere" if self.books == 2 else "a"
        return [Order("SPY", venue, "sell", 1.0, 100)]


def test_a_strategy_that_fails_is_named_and_the_next_book_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    run, end = runner([book_event(1.0), book_event(1.01), book_event(1.02)], Faulty())
    run.run_for(0.05)
    assert run.errors == 2 and run.handled == 3
    logged = capsys.readouterr().err
    assert "on_book failed" in logged and "ZeroDivisionError('a bug')" in logged
    assert "'nowhere' is not in list" in logged
    assert end.sent == [("new", 1, 0, SPY, False, SCALE, 100 * SCALE, 123)]
