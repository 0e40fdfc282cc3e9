"""The Python strategy API: a strategy written in Python trades some symbols inside the execution
worker, on a slower path beside the Rust hot loop.

A strategy subclasses :class:`Strategy` and answers three callbacks, each returning the orders
and cancels it wants (any iterable; nothing is fine):

* ``on_book(book)``: a symbol's books changed (:class:`Book`: every venue's best bid and ask,
  our position);
* ``on_fill(fill)``: one of its orders traded (:class:`Fill`);
* ``on_order(update)``: one of its orders was sent (with its client order id), refused before
  it left (with the gate's reason), accepted, cancelled or rejected (:class:`OrderUpdate`).

Its orders go through the same pre-trade gate, OMS, journal and gateways as the built-in market
maker's; the Rust loop gives them their client order ids and never waits for Python: a book the
strategy is too slow for is dropped (a newer one follows), what happens to its orders is never
dropped. Prices are in currency and quantities in shares, as floats; they are turned into the
pipeline's fixed point (units of 1e-9) exactly at the boundary.

:class:`StrategyRunner` drives a strategy from an :class:`~tickrail._native.ExecutionWorker`'s
linked end; ``python -m execution`` runs it on the worker's main thread.
"""

from __future__ import annotations

import importlib
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from tickrail._native import REPORT_KINDS, ExecutionWorker
from tickrail.process import log

#: The pipeline's fixed point: units of 1e-9.
SCALE = 1_000_000_000
#: Events taken from the worker per wait.
BATCH = 256

_KIND_NAMES = {code: name for name, code in REPORT_KINDS.items()}

Side = Literal["buy", "sell"]


@dataclass(frozen=True)
class Quote:
    """One venue's best bid and ask for a symbol (0.0 where a side is empty)."""

    venue: str
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    #: Whether the book may be traded on (fresh, not marked stale by its feed, listed there).
    usable: bool


@dataclass(frozen=True)
class Book:
    """A symbol's books on every venue, after one changed."""

    symbol: str
    quotes: tuple[Quote, ...]
    #: Our position in the symbol across venues, in shares.
    position: float
    #: When the feed received the tick behind the change (realtime ns): orders placed on this
    #: book are timed from it.
    receive_ns: int


@dataclass(frozen=True)
class Fill:
    """Part or all of one of the strategy's orders traded."""

    order_id: int
    tag: int
    symbol: str
    venue: str
    side: Side
    price: float
    quantity: float
    #: The order's open quantity after the fill.
    leaves: float
    #: Our position in the symbol across venues after it.
    position: float


@dataclass(frozen=True)
class OrderUpdate:
    """News of one of the strategy's orders other than a fill."""

    tag: int
    #: Its client order id (0 if it was refused before it left).
    order_id: int
    #: ``sent``, ``refused``, or a venue's report: ``accepted``, ``rejected``, ``canceled``,
    #: ``cancel-rejected``, ``expired``.
    status: str
    #: Why it was refused (the gate's reason), if it was.
    reason: str | None = None
    #: Its open quantity now.
    leaves: float = 0.0


@dataclass(frozen=True)
class Order:
    """A new limit order. ``tag`` (0: one is chosen) comes back in what the strategy hears of it."""

    symbol: str
    venue: str
    side: Side
    price: float
    quantity: float
    tag: int = 0


@dataclass(frozen=True)
class Cancel:
    """Cancels one of the strategy's orders."""

    order_id: int


Request = Order | Cancel


class Strategy:
    """A strategy: override the callbacks it needs; each returns the orders and cancels to make."""

    def on_book(self, book: Book) -> Iterable[Request]:
        """A symbol's books changed."""
        return ()

    def on_fill(self, fill: Fill) -> Iterable[Request]:
        """One of the strategy's orders traded."""
        return ()

    def on_order(self, update: OrderUpdate) -> Iterable[Request]:
        """One of the strategy's orders was sent, refused, accepted, cancelled or rejected."""
        return ()


def load(path: str, params: dict[str, Any]) -> Strategy:
    """The strategy ``module:Class``, built with ``params``."""
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    strategy = cls(**params)
    if not isinstance(strategy, Strategy):
        raise TypeError(f"{path} is not an execution.api.Strategy")
    return strategy


class StrategyRunner:
    """Drives ``strategy`` from ``worker``'s linked end: ``venues`` names the worker's venues by
    index, ``symbols`` the linked instruments by id."""

    def __init__(
        self, worker: ExecutionWorker, strategy: Strategy, venues: list[str], symbols: dict[int, str]
    ) -> None:
        self.worker = worker
        self.strategy = strategy
        self.venues = venues
        self.symbols = symbols
        self.instruments = {name: i for i, name in symbols.items()}
        self.tags = itertools.count(1)
        #: Events handled.
        self.handled = 0
        #: Callbacks that raised.
        self.errors = 0

    def run_for(self, seconds: float, stopped: Callable[[], bool] = lambda: False) -> None:
        """Handles events for ``seconds`` or until ``stopped()``; raises ``RuntimeError`` once
        the engine has stopped."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not stopped():
            for event in self.worker.strategy_events(min(left, 0.1), BATCH):
                self.handle(event)

    def handle(self, event: tuple[Any, ...]) -> None:
        """Hands one event to the strategy and its answer to the engine."""
        self.handled += 1
        what = event[0]
        if what == "book":
            _, instrument, receive_ns, position, tops = event
            book = Book(
                self.symbols.get(instrument, str(instrument)),
                tuple(
                    Quote(venue, bid / SCALE, bq / SCALE, ask / SCALE, aq / SCALE, usable)
                    for venue, (bid, bq, ask, aq, usable) in zip(self.venues, tops, strict=False)
                ),
                position / SCALE,
                receive_ns,
            )
            self.ask(self.strategy.on_book, book, receive_ns)
        elif what == "sent":
            self.ask(self.strategy.on_order, OrderUpdate(event[1], event[2], "sent"), 0)
        elif what == "refused":
            self.ask(self.strategy.on_order, OrderUpdate(event[1], 0, "refused", event[2]), 0)
        else:
            _, tag, order_id, venue, instrument, is_buy, kind, price, quantity, leaves, position, received = (
                event
            )
            if _KIND_NAMES.get(kind) == "fill":
                fill = Fill(
                    order_id,
                    tag,
                    self.symbols.get(instrument, str(instrument)),
                    self.venues[venue],
                    "buy" if is_buy else "sell",
                    price / SCALE,
                    quantity / SCALE,
                    leaves / SCALE,
                    position / SCALE,
                )
                self.ask(self.strategy.on_fill, fill, received)
            else:
                status = _KIND_NAMES.get(kind, str(kind))
                self.ask(self.strategy.on_order, OrderUpdate(tag, order_id, status, leaves=leaves / SCALE), 0)

    def ask(self, callback: Callable[[Any], Iterable[Request] | None], news: Any, tick_ns: int) -> None:
        """Calls ``callback`` with ``news`` and sends what it asks for. A strategy that raises,
        or asks for what cannot be (an unknown venue or symbol), is logged, and its requests of
        that call are dropped: the engine and the other symbols go on."""
        try:
            self.send(callback(news), tick_ns)
        except (BufferError, RuntimeError):
            raise
        except Exception as e:  # a user strategy's bug must not stop trading elsewhere
            self.errors += 1
            log(f"execution: the strategy's {callback.__name__} failed on {news!r}: {e!r}")

    def send(self, requests: Iterable[Request] | None, tick_ns: int) -> None:
        """Hands the strategy's requests to the engine, timed from ``tick_ns``."""
        batch: list[tuple[Any, ...]] = []
        for request in requests or ():
            if isinstance(request, Cancel):
                batch.append(("cancel", request.order_id))
                continue
            venue, instrument = self.venues.index(request.venue), self.instruments[request.symbol]
            batch.append(
                (
                    "new",
                    request.tag or next(self.tags),
                    venue,
                    instrument,
                    request.side == "buy",
                    round(request.price * SCALE),
                    round(request.quantity * SCALE),
                    tick_ns,
                )
            )
        if batch:
            self.worker.strategy_send(batch)
