"""The legacy engine's loop on its own: book changes from the feed handlers become orders that
pass the same pre-trade gate and reach the venues' gateways, each with its tick-to-trade
recorded; reports move the orders, the positions and the market maker; what ZeroMQ dropped is
counted as lost; and the measured window starts afresh on request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import zmq

from bench.legacy.engine import BOOK_CHANGE, Engine
from bench.legacy.venue import Kind, Report
from tickrail import config, execution_plan
from tickrail.market import SYMBOLS

ONE = 1_000_000_000
#: A feed handler's socket and the engine's.
Wire = tuple[zmq.Socket[bytes], zmq.Socket[bytes]]
AAPL = next(s.instrument_id for s in SYMBOLS if s.name == "AAPL")


@dataclass
class Gateway:
    """A venue's order entry as the engine sees it, keeping what it was asked to write."""

    written: list[tuple[Any, ...]] = field(default_factory=list)

    async def connect(self) -> None:
        """Nothing to log on to."""

    def new(self, id: int, instrument: int, buy: bool, price: int, quantity: int) -> None:
        self.written.append(("new", id, instrument, buy, price, quantity))

    def replace(self, original: int, id: int, price: int, quantity: int) -> None:
        self.written.append(("replace", original, id, price, quantity))

    def cancel(self, id: int) -> None:
        self.written.append(("cancel", id))

    def close(self) -> None:
        """Nothing to close."""


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


def build(**aapl: int) -> Engine:
    """An engine on the shipped instance's spec (AAPL's figures changed by ``aapl``), writing
    to :class:`Gateway`s, on a :class:`Clock`."""
    instance = config.parse(config.DEFAULT.read_text())
    spec = execution_plan.describe(instance, {name: "127.0.0.1:1" for name in instance.venues})
    for symbol in spec["symbols"]:
        if symbol["instrument"] == AAPL:
            symbol.update(aapl)
    built = Engine(spec, clock=Clock())
    built.gateways = [Gateway() for _ in spec["venues"]]
    return built


@pytest.fixture
def engine() -> Engine:
    return build()


@pytest.fixture
def wire() -> Iterator[Wire]:
    """A feed handler's socket and the engine's, joined in-process."""
    context = zmq.Context()
    engine_side, feed_side = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    engine_side.bind("inproc://test-books")
    feed_side.connect("inproc://test-books")
    yield feed_side, engine_side
    context.destroy(linger=0)


def book(
    engine: Engine,
    wire: Wire,
    venue: int,
    bid_cents: int,
    ask_cents: int,
    sequence: int,
) -> None:
    """One book change of AAPL on ``venue``, published and taken up."""
    now = engine.clock()
    bid, ask, quantity = bid_cents * ONE // 100, ask_cents * ONE // 100, 500 * ONE
    wire[0].send(BOOK_CHANGE.pack(venue, AAPL, bid, quantity, ask, quantity, now, now, sequence))
    assert wire[1].poll(5_000), "the change went through"
    assert engine.take_up(wire[1]) is False


def written(engine: Engine, kind: str) -> list[tuple[Any, ...]]:
    return [w for g in engine.gateways for w in g.written if w[0] == kind]  # type: ignore[attr-defined]


def test_book_changes_become_orders_on_every_venue_listing_the_symbol_each_timed(
    engine: Engine, wire: Wire
) -> None:
    for venue in range(3):
        book(engine, wire, venue, 19_000, 19_002, 1)
    news = written(engine, "new")
    assert {id for _, id, *_ in news} == set(range(1, len(news) + 1))
    assert {w[2] for w in news} == {AAPL}
    assert len(news) == 2 * 3, "one level a side on each of the three venues"
    assert engine.sent == len(news) == engine.latency.get_total_count()
    assert engine.book_changes == 3 and engine.lost == 0


def test_reports_move_orders_positions_and_quotes(engine: Engine, wire: Wire) -> None:
    book(engine, wire, 0, 19_000, 19_002, 1)
    bid = next(w for w in written(engine, "new") if w[3])
    engine.on_report(0, Report(Kind.ACCEPTED, bid[1]))
    engine.on_report(0, Report(Kind.FILL, bid[1], quantity=bid[5], price=bid[4]))
    assert engine.positions[AAPL, 0] == bid[5]
    assert bid[1] not in engine.orders, "a filled order is forgotten"
    book(engine, wire, 0, 19_000, 19_004, 2)
    assert len([w for w in written(engine, "new") if w[3]]) == 2, "the filled bid is quoted again"


def test_a_quote_moves_by_replace_once_accepted(engine: Engine, wire: Wire) -> None:
    book(engine, wire, 0, 19_000, 19_002, 1)
    for _, id, *_ in written(engine, "new"):
        engine.on_report(0, Report(Kind.ACCEPTED, id))
    book(engine, wire, 0, 19_100, 19_102, 2)
    replaces = written(engine, "replace")
    assert len(replaces) == 2
    original, new = replaces[0][1], replaces[0][2]
    engine.on_report(0, Report(Kind.REPLACED, new, original=original))
    assert original not in engine.orders and engine.orders[new].open == engine.orders[new].quantity


def test_what_zeromq_dropped_is_counted_as_lost(engine: Engine, wire: Wire) -> None:
    book(engine, wire, 0, 19_000, 19_002, 1)
    book(engine, wire, 0, 19_000, 19_004, 5)
    assert engine.lost == 3


def test_the_window_starts_afresh_and_trading_carries_on(engine: Engine, wire: Wire) -> None:
    book(engine, wire, 0, 19_000, 19_002, 1)
    working = dict(engine.orders)
    engine.start_window()
    assert (engine.sent, engine.book_changes, engine.latency.get_total_count()) == (0, 0, 0)
    assert engine.orders == working


class LostSession(Gateway):
    """A gateway whose session the venue has closed."""

    def new(self, id: int, instrument: int, buy: bool, price: int, quantity: int) -> None:
        raise ConnectionError("venue A order entry: not connected")


def test_a_lost_session_takes_its_venue_down_until_it_logs_on_again(engine: Engine, wire: Wire) -> None:
    engine.gateways[0] = LostSession()
    book(engine, wire, 0, 19_000, 19_002, 1)
    assert engine.down == [True, False, False] and engine.disconnects == 1
    assert not engine.orders and engine.sent == 0, "nothing went, nothing is kept"
    book(engine, wire, 1, 19_000, 19_002, 1)
    assert {w[0] for w in written(engine, "new")} == {"new"}
    assert all(order.venue == 1 for order in engine.orders.values()), "venue 0 is not quoted"
    engine.venue_up(0, Gateway())
    book(engine, wire, 0, 19_000, 19_004, 2)
    assert any(order.venue == 0 for order in engine.orders.values())


class Refusing(Gateway):
    """A gateway that cannot say an order in its protocol."""

    def new(self, id: int, instrument: int, buy: bool, price: int, quantity: int) -> None:
        raise ValueError(f"order {id}: the price {price} cannot be said exactly")


def test_an_order_the_gateway_cannot_say_is_counted_and_forgotten(engine: Engine, wire: Wire) -> None:
    engine.gateways[0] = Refusing()
    book(engine, wire, 0, 19_000, 19_002, 1)
    assert engine.refused_by_gateway == 2 and not engine.orders and engine.down == [False] * 3


def test_a_refused_replace_leaves_the_original_working_as_it_was(engine: Engine, wire: Wire) -> None:
    book(engine, wire, 0, 19_000, 19_002, 1)
    for _, id, *_ in written(engine, "new"):
        engine.on_report(0, Report(Kind.ACCEPTED, id))
    book(engine, wire, 0, 19_100, 19_102, 2)
    _, original, new, *_ = written(engine, "replace")[0]
    engine.on_report(0, Report(Kind.REPLACE_REJECTED, new, original=original))
    assert new not in engine.orders and engine.orders[original].state == 2  # NEW: working
    assert not written(engine, "cancel"), "as in execution, the original is not pulled"


class RefusingReplaces(Gateway):
    """A gateway that cannot say a replace (a quantity its protocol cannot carry)."""

    def replace(self, original: int, id: int, price: int, quantity: int) -> None:
        raise ValueError(f"order {id}: {quantity} does not exceed what order {original} has filled")


def test_a_replace_the_gateway_cannot_say_leaves_the_original_working(engine: Engine, wire: Wire) -> None:
    engine.gateways[0] = RefusingReplaces()
    book(engine, wire, 0, 19_000, 19_002, 1)
    quotes = [id for _, id, *_ in written(engine, "new")]
    for id in quotes:
        engine.on_report(0, Report(Kind.ACCEPTED, id))
    book(engine, wire, 0, 19_003, 19_005, 2)  # three ticks up: both quotes move, neither crosses the other
    assert engine.refused_by_gateway == 2
    assert sorted(engine.orders) == quotes and all(engine.orders[id].state == 2 for id in quotes)


def test_when_the_gate_refuses_an_arbitrage_leg_neither_goes_and_the_next_one_is_taken(wire: Wire) -> None:
    # No quotes, and one order a second on each venue: the second arbitrage's buy is refused.
    engine = build(levels=0, order_burst=1, order_rate_per_s=1)
    clock = engine.clock
    assert isinstance(clock, Clock)
    book(engine, wire, 0, 19_000, 19_002, 1)
    book(engine, wire, 1, 19_010, 19_012, 1)
    legs = written(engine, "new")
    assert [(w[3], w[4]) for w in legs] == [(True, 19_002 * ONE // 100), (False, 19_010 * ONE // 100)]
    for venue, (_, id, _, _, price, quantity) in enumerate(legs):
        engine.on_report(venue, Report(Kind.FILL, id, quantity=quantity, price=price))
    book(engine, wire, 1, 19_011, 19_013, 2)
    assert len(written(engine, "new")) == 2 and engine.refused == 1, (
        "the buy leg is refused, the sell not sent"
    )
    assert engine.makers[AAPL].legs == [None, None], "both legs are free again"
    clock.now += 2_000_000_000  # the buckets refill; the books are published again
    book(engine, wire, 0, 19_000, 19_002, 2)
    book(engine, wire, 1, 19_012, 19_014, 3)
    taken = sorted(w[1:4] for w in written(engine, "new") if w[1] > 2)
    assert [buy for _, _, buy in taken] == [True, False], "the next arbitrage, both legs"
