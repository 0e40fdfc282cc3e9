"""The pre-trade gate's rules, in plain Python: the specification ``risk/src/gate.rs`` must match.

Given the same calls, a :class:`Gate` here and the Rust ``Gate`` return the same decision and
the same :class:`Reject` reason (the first check that fails, in the order of :meth:`Gate._judge`),
and keep the same positions, working orders, throttles and counters. The code is written to be
read next to the Rust: the same tables, the same steps in the same order, the same integer
arithmetic (see :mod:`risk.reference.numbers`). Integer fields take the values their Rust types
hold (ids, counts, rates and times are unsigned); prices and quantities are units of 1e-9, and
notionals units of 1e-9 of currency.

A check passes with ``None`` and fails with a :class:`Reject`; every :class:`Reject` is true, so
``if reason:`` reads as "if refused".
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, NamedTuple

from risk.reference.numbers import I64_MAX, ONE, notional, saturating_sub

__all__ = [
    "ACTIVE",
    "HALTED",
    "KILLED",
    "REDUCE_ONLY",
    "Gate",
    "Holding",
    "Limits",
    "LimitsError",
    "MarketView",
    "NewOrder",
    "PortfolioLimits",
    "Reject",
    "Replace",
    "Side",
    "SymbolLimits",
    "TradingView",
]

ACTIVE: Final = 0
"""Trading state code: any order the limits allow."""
REDUCE_ONLY: Final = 1
"""Trading state code: only orders that reduce the position."""
HALTED: Final = 2
"""Trading state code: cancels only."""
KILLED: Final = 3
"""Trading state code: cancels only, and execution cancels every open order (the kill switch)."""

_TRADING_STATES: Final = frozenset({ACTIVE, REDUCE_ONLY, HALTED, KILLED})
"""The codes the gate knows; codes grow with strictness, so the stricter of two is the larger."""

_BPS: Final = 10_000
"""Basis points in one."""


class Side(enum.Enum):
    """Which way an order trades."""

    #: Buys: adds to the position.
    BUY = "buy"
    #: Sells: takes from the position.
    SELL = "sell"

    @property
    def sign(self) -> int:
        """``+1`` for a buy, ``-1`` for a sell: the sign of the position change a fill makes."""
        return 1 if self is Side.BUY else -1


class Reject(enum.IntEnum):
    """Why the gate refused an order; the value is the reason's code in counters and logs."""

    #: The price is zero or negative.
    NonPositivePrice = 0
    #: The price is not a multiple of the symbol's tick.
    OffTick = 1
    #: The quantity is zero or negative.
    NonPositiveQuantity = 2
    #: The quantity is not a multiple of the symbol's lot.
    OddLot = 3
    #: The quantity is below the symbol's minimum.
    BelowMinQuantity = 4
    #: The quantity is above the symbol's maximum per order.
    AboveMaxQuantity = 5
    #: The notional is above the maximum per order.
    AboveMaxNotional = 6
    #: The price is further from the reference price than the band allows.
    OutsidePriceBand = 7
    #: Filled in full, the order (with every working order on its side) would take the
    #: symbol's position past its limit.
    SymbolPositionLimit = 8
    #: As ``SymbolPositionLimit``, on the order's venue alone.
    VenuePositionLimit = 9
    #: The portfolio's gross exposure would exceed its limit.
    GrossExposureLimit = 10
    #: The portfolio's net exposure would exceed its limit.
    NetExposureLimit = 11
    #: Too many working orders (on the symbol and venue, the symbol, or the portfolio).
    TooManyWorkingOrders = 12
    #: The venue and symbol's order-rate throttle is empty.
    OrderRateThrottled = 13
    #: The venue and symbol's cancel-rate throttle is empty: it cancelled too fast.
    CancelRateThrottled = 14
    #: The client order id was used before today (ids only grow).
    DuplicateOrderId = 15
    #: The order would trade against one of our own resting orders.
    SelfTrade = 16
    #: The venue's book is flagged stale by its feed.
    StaleBook = 17
    #: The venue's book is older than allowed.
    OldBook = 18
    #: The book has no reference price to check against.
    NoReferencePrice = 19
    #: Trading is halted (or the kill switch is on), globally or for the symbol.
    Halted = 20
    #: Only orders that reduce the position are allowed, and this one does not.
    ReduceOnly = 21
    #: The risk worker's heartbeat is stale: the gate fails closed.
    RiskHeartbeatStale = 22
    #: The trading state is not one the gate knows: it fails closed.
    UnknownTradingState = 23
    #: The instrument or venue is not one the gate was built for.
    UnknownInstrument = 24
    #: A replace names an order that is not working (or one on the other side).
    UnknownOrder = 25
    #: The order adds more exposure than the risk worker's limits leave room for (the symbol's,
    #: or the portfolio's gross).
    RiskHeadroom = 26

    def __bool__(self) -> bool:
        """Always true, ``NonPositivePrice`` (code 0) too: a reason is a refusal."""
        return True


@dataclass(frozen=True, slots=True)
class SymbolLimits:
    """One symbol's limits (the same on every venue, but for the venue position limit)."""

    instrument: int
    """The instrument's id in the instance's symbol table."""
    tick: int
    """Prices are multiples of this."""
    lot: int
    """Quantities are multiples of this."""
    min_quantity: int
    """Smallest quantity per order."""
    max_quantity: int
    """Largest quantity per order."""
    max_notional: int
    """Largest notional per order."""
    price_band_bps: int
    """Furthest a limit price may be from the reference price, in basis points of it."""
    max_position: int
    """Largest position, long or short, across venues, counting working orders in the worst case."""
    max_venue_position: int
    """As ``max_position``, on each venue alone."""
    max_working_orders: int
    """Most working orders on the symbol, all venues together."""
    order_rate_per_s: int
    """Orders (new and replace) a second on each venue."""
    order_burst: int
    """The order bucket's size."""
    cancel_rate_per_s: int
    """Cancels (and replaces) a second on each venue."""
    cancel_burst: int
    """The cancel bucket's size."""
    max_book_age_ns: int
    """Oldest book (since its feed published it) an order may be priced on."""


@dataclass(frozen=True, slots=True)
class PortfolioLimits:
    """The portfolio's limits, across symbols and venues."""

    max_gross_notional: int
    """Largest gross exposure: the sum over symbols of the worse of all working buys filled or
    all working sells filled, at the mark price."""
    max_net_notional: int
    """Largest net exposure: the larger in size of all working buys filled, or all working
    sells filled, summed over symbols at their mark prices."""
    max_working_orders: int
    """Most working orders in all."""
    max_risk_heartbeat_age_ns: int
    """Oldest heartbeat of the risk worker the gate trusts."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Everything the gate enforces."""

    symbols: tuple[SymbolLimits, ...]
    """Each tradable symbol's limits."""
    portfolio: PortfolioLimits
    """The portfolio's."""
    venues: int
    """Venues orders may go to (indices ``0 .. venues - 1``)."""
    max_working_per_venue_symbol: int
    """Most working orders on one venue and symbol."""


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A new limit order on the way to a venue."""

    id: int
    """Our client order id: unique for the day, issued in increasing order."""
    venue: int
    """The venue's index in the gate."""
    instrument: int
    """The instrument's id in the instance's symbol table."""
    side: Side
    """Buy or sell."""
    price: int
    """Limit price."""
    quantity: int
    """Quantity."""


@dataclass(frozen=True, slots=True)
class Replace:
    """A cancel-replace of one of our working orders."""

    original: int
    """The working order's client order id."""
    order: NewOrder
    """The order as it will be: its new id, price and quantity (venue, instrument and side are
    the original's)."""


@dataclass(frozen=True, slots=True)
class MarketView:
    """The venue's book for the order's symbol, as execution read it."""

    reference_price: int
    """The book's reference price (its mid, or the last trade); 0 if none."""
    published_ns: int
    """When the feed published the book, on the clock ``now_ns`` is read from."""
    stale: bool
    """Whether the feed flagged the book stale."""


@dataclass(frozen=True, slots=True)
class TradingView:
    """What the gate reads of the trading state for one order (Rust's field ``global`` is
    ``global_state`` here)."""

    global_state: int
    """The global trading state's code."""
    symbol: int
    """The order's symbol's trading state's code."""
    risk_heartbeat_age_ns: int
    """Nanoseconds since the risk worker's last heartbeat."""
    symbol_room: int = I64_MAX
    """Room the risk worker leaves under the symbol's exposure limit (``I64_MAX``: no limit)."""
    portfolio_room: int = I64_MAX
    """Room it leaves under the portfolio's gross exposure limit, likewise."""


@dataclass(slots=True)
class Holding:
    """A position and the quantities working on each side."""

    position: int = 0
    """Signed position: long above zero."""
    working_buy: int = 0
    """Open quantity of working buys."""
    working_sell: int = 0
    """Open quantity of working sells."""

    def worst_long(self) -> int:
        """The position if every working buy filled."""
        return self.position + self.working_buy

    def worst_short(self) -> int:
        """The position if every working sell filled."""
        return self.position - self.working_sell

    def with_working(self, side: Side, quantity: int) -> Holding:
        """A copy of this holding with ``quantity`` more working on ``side``."""
        if side is Side.BUY:
            return dataclasses.replace(self, working_buy=self.working_buy + quantity)
        return dataclasses.replace(self, working_sell=self.working_sell + quantity)


class LimitsError(ValueError):
    """Limits the gate cannot be built with; the message names the problem as Rust's
    ``LimitsError`` displays it."""


@dataclass(frozen=True, slots=True)
class _Working:
    """One of our working orders on a venue and symbol."""

    id: int
    """Client order id."""
    previous: int | None
    """The id it had before a replace the venue has not yet acted on (a fill may still come
    under it)."""
    side: Side
    """Buy or sell."""
    price: int
    """Limit price."""
    open: int
    """Quantity still open."""

    def answers_to(self, id: int) -> bool:
        """Whether ``id`` is this order's id or the one it had before a replace."""
        return self.id == id or self.previous == id


class _OwnOrders:
    """The working orders of one venue and symbol, in a table of fixed capacity kept in the
    order Rust's ``Vec`` keeps them (``reduce`` removes with ``swap_remove``), so that a search
    by id finds the same order when two answer to it."""

    def __init__(self, capacity: int) -> None:
        self._orders: list[_Working] = []
        self._capacity = capacity

    def __iter__(self) -> Iterator[_Working]:
        """The working orders, in the table's order."""
        return iter(self._orders)

    def has_room(self) -> bool:
        """Whether another order fits."""
        return len(self._orders) < self._capacity

    def add(self, order: _Working) -> None:
        """Adds a working order (the caller has made sure there is room)."""
        self._orders.append(order)

    def _find(self, id: int) -> int | None:
        """Where the first order answering to ``id`` is."""
        return next((at for at, order in enumerate(self._orders) if order.answers_to(id)), None)

    def get(self, id: int) -> _Working | None:
        """The working order ``id`` (by its id, or the id it had before a replace)."""
        at = self._find(id)
        return None if at is None else self._orders[at]

    def replace(self, id: int, new_id: int, price: int, open: int) -> None:
        """Gives working order ``id`` a new id, price and open quantity (a replace, or a replace
        undone); the id it had is kept as its previous one."""
        at = self._find(id)
        if at is not None:
            order = self._orders[at]
            self._orders[at] = _Working(new_id, order.id, order.side, price, open)

    def reduce(self, id: int, quantity: int) -> _Working | None:
        """Takes ``quantity`` off order ``id``, removing it when nothing is left open; what it
        was before, if it was working."""
        at = self._find(id)
        if at is None:
            return None
        before = self._orders[at]
        if quantity >= before.open:
            last = self._orders.pop()  # Rust's swap_remove: the last order takes its place.
            if at < len(self._orders):
                self._orders[at] = last
        else:
            self._orders[at] = dataclasses.replace(before, open=before.open - quantity)
        return before

    def would_cross(self, side: Side, price: int, leaving_out: int | None) -> bool:
        """Whether an order on ``side`` at ``price`` would trade against one of ours on the other
        side, leaving out any answering to ``leaving_out`` (the one being replaced)."""
        for order in self._orders:
            if leaving_out is not None and order.answers_to(leaving_out):
                continue
            if side is Side.BUY and order.side is Side.SELL and price >= order.price:
                return True
            if side is Side.SELL and order.side is Side.BUY and price <= order.price:
                return True
        return False


class _Exposure:
    """Every symbol's holdings, per venue and in all, with each symbol's mark price (0 until
    the gate first judges an order in it against a fresh book)."""

    def __init__(self, symbols: int, venues: int) -> None:
        self._venues = venues
        self._per_venue = [Holding() for _ in range(symbols * venues)]
        self._per_symbol = [Holding() for _ in range(symbols)]
        self._marks = [0] * symbols

    def venue(self, symbol: int, venue: int) -> Holding:
        """The holding of symbol (index) ``symbol`` on ``venue``."""
        return self._per_venue[symbol * self._venues + venue]

    def symbol(self, symbol: int) -> Holding:
        """The holding of ``symbol`` across venues."""
        return self._per_symbol[symbol]

    def mark(self, symbol: int, price: int) -> None:
        """Sets the price ``symbol``'s exposure is valued at."""
        self._marks[symbol] = price

    def _both(self, symbol: int, venue: int, change: Callable[[Holding], Holding]) -> None:
        """Changes the holding on ``venue`` and the symbol's holding across venues alike."""
        at = symbol * self._venues + venue
        self._per_venue[at] = change(self._per_venue[at])
        self._per_symbol[symbol] = change(self._per_symbol[symbol])

    def add_working(self, symbol: int, venue: int, side: Side, quantity: int) -> None:
        """``quantity`` more working on ``side``."""
        self._both(symbol, venue, lambda held: held.with_working(side, quantity))

    def remove_working(self, symbol: int, venue: int, side: Side, quantity: int) -> None:
        """``quantity`` less working on ``side`` (cancelled, rejected or expired)."""
        self._both(symbol, venue, lambda held: held.with_working(side, -quantity))

    def fill(self, symbol: int, venue: int, side: Side, quantity: int) -> None:
        """A fill of ``quantity`` of a working order on ``side``: it moves from working to the
        position."""

        def filled(held: Holding) -> Holding:
            moved = held.with_working(side, -quantity)
            moved.position += side.sign * quantity
            return moved

        self._both(symbol, venue, filled)

    def gross_and_net_with(self, symbol: int, side: Side, quantity: int) -> tuple[int, int]:
        """The portfolio's worst-case gross exposure and its worst net exposure (the larger in
        size of all working buys filled, or all working sells filled), with ``quantity`` more
        working on ``side`` of ``symbol``."""
        gross = long = short = 0
        for index, (holding, mark) in enumerate(zip(self._per_symbol, self._marks, strict=True)):
            held = holding.with_working(side, quantity) if index == symbol else holding
            worst_long = notional(mark, held.worst_long())
            worst_short = notional(mark, held.worst_short())
            gross += max(abs(worst_long), abs(worst_short))
            long += worst_long
            short += worst_short
        return gross, max(abs(long), abs(short))


class _TokenBucket:
    """A bucket of ``burst`` tokens refilled at ``rate_per_s``; one token per message. Levels
    are in nano-tokens, so a rate per second is nano-tokens per nanosecond."""

    def __init__(self, rate_per_s: int, burst: int, now_ns: int) -> None:
        self._capacity = burst * ONE
        self._level = self._capacity
        self._rate_per_s = rate_per_s
        self._refilled_ns = now_ns

    def _refill(self, now_ns: int) -> None:
        """Adds the tokens earned since the last refill, up to the capacity; a clock that went
        back earns nothing and does not move the refill time back."""
        elapsed = saturating_sub(now_ns, self._refilled_ns)
        room = self._capacity - self._level
        self._level += min(elapsed * self._rate_per_s, room)
        self._refilled_ns = max(self._refilled_ns, now_ns)

    def has_token(self, now_ns: int) -> bool:
        """Whether a token is there now (without taking it; the refill happens all the same)."""
        self._refill(now_ns)
        return self._level >= ONE

    def take(self, now_ns: int) -> None:
        """Takes a token whether or not there is one, going into debt down to one burst below
        empty."""
        self._refill(now_ns)
        self._level = max(self._level - ONE, -self._capacity)


class _Slot(NamedTuple):
    """Where an order's symbol and venue live in the gate's tables."""

    symbol: int
    """The symbol's index in the limits."""
    table: int
    """``symbol * venues + venue``: the own-order table and buckets of the venue and symbol."""


def _check_symbol(limits: SymbolLimits) -> None:
    """Raises :class:`LimitsError` if one of the symbol's limits is not a usable number."""
    if limits.tick <= 0:
        what = "tick must be positive"
    elif limits.lot <= 0:
        what = "lot must be positive"
    elif limits.min_quantity <= 0 or limits.min_quantity > limits.max_quantity:
        what = "quantities must be 0 < min <= max"
    elif limits.max_notional <= 0 or limits.max_position < 0 or limits.max_venue_position < 0:
        what = "notional and position limits must not be negative"
    elif limits.order_burst == 0 or limits.cancel_burst == 0:
        what = "throttle bursts must be positive"
    else:
        return
    raise LimitsError(f"instrument {limits.instrument}: {what}")


def _validate(limits: SymbolLimits, order: NewOrder) -> Reject | None:
    """Price and quantity validity, and the per-order size limits."""
    if order.price <= 0:
        return Reject.NonPositivePrice
    # Python's % floors and Rust's truncates, but on a positive price and tick they agree.
    if order.price % limits.tick != 0:
        return Reject.OffTick
    if order.quantity <= 0:
        return Reject.NonPositiveQuantity
    if order.quantity % limits.lot != 0:
        return Reject.OddLot
    if order.quantity < limits.min_quantity:
        return Reject.BelowMinQuantity
    if order.quantity > limits.max_quantity:
        return Reject.AboveMaxQuantity
    if notional(order.price, order.quantity) > limits.max_notional:
        return Reject.AboveMaxNotional
    return None


def _unfit_book(limits: SymbolLimits, market: MarketView, now_ns: int) -> Reject | None:
    """Why the book is not fresh enough to price an order on, if it is not."""
    if market.stale:
        return Reject.StaleBook
    if saturating_sub(now_ns, market.published_ns) > limits.max_book_age_ns:
        return Reject.OldBook
    if market.reference_price <= 0:
        return Reject.NoReferencePrice
    return None


def _reduces(side: Side, after: Holding) -> bool:
    """Whether the holding ``after`` (with the order working) still only reduces the position:
    no fill of its side's working orders can take the position past flat."""
    if side is Side.BUY:
        return after.position < 0 and after.worst_long() <= 0
    return after.position > 0 and after.worst_short() >= 0


class Gate:
    """The pre-trade gate: every new and replace order is checked here before it is sent;
    cancels always pass. What execution learns from the venues (fills, cancels, rejects,
    replaces acknowledged or refused) it tells the gate, so the worst-case positions and our
    own resting orders are known at the next check."""

    def __init__(self, limits: Limits, now_ns: int) -> None:
        """A gate enforcing ``limits``, its buckets full at ``now_ns``, nothing working; raises
        :class:`LimitsError` for limits it cannot work with."""
        if limits.venues == 0:
            raise LimitsError("there must be a venue")
        if limits.max_working_per_venue_symbol == 0:
            raise LimitsError("there must be room for a working order")
        self._index: dict[int, int] = {}  # symbol index by instrument id
        for at, symbol in enumerate(limits.symbols):
            _check_symbol(symbol)
            if symbol.instrument in self._index:
                raise LimitsError(f"instrument {symbol.instrument} is configured twice")
            self._index[symbol.instrument] = at
        self._limits = limits
        # One own-order table and two buckets per symbol and venue, at ``symbol * venues + venue``.
        tables = [
            limits.symbols[table // limits.venues] for table in range(len(limits.symbols) * limits.venues)
        ]
        self._own = [_OwnOrders(limits.max_working_per_venue_symbol) for _ in tables]
        self._exposure = _Exposure(len(limits.symbols), limits.venues)
        self._order_buckets = [_TokenBucket(s.order_rate_per_s, s.order_burst, now_ns) for s in tables]
        self._cancel_buckets = [_TokenBucket(s.cancel_rate_per_s, s.cancel_burst, now_ns) for s in tables]
        self._working_per_symbol = [0] * len(limits.symbols)
        self._working_total = 0
        self._last_id = 0
        self._rejections = [0] * len(Reject)
        self._passed = 0

    def check_new(
        self, order: NewOrder, market: MarketView, trading: TradingView, now_ns: int
    ) -> Reject | None:
        """Checks a new order; on a pass it counts as working from now on (its bytes go out
        next)."""
        slot = self._slot(order.venue, order.instrument)
        if slot is None:
            return self._count(Reject.UnknownInstrument)
        reason = self._judge(slot, order, None, market, trading, now_ns)
        if reason is None:
            self._order_buckets[slot.table].take(now_ns)
            self._last_id = order.id
            self._add_working(slot, order)
        return self._count(reason)

    def check_replace(
        self, replace: Replace, market: MarketView, trading: TradingView, now_ns: int
    ) -> Reject | None:
        """Checks a cancel-replace of a working order: the order as it will be is judged as a
        new one in place of the original. On a pass the original is replaced in the gate's
        tables (a fill of the original before the venue acts still finds it, by either id)."""
        order = replace.order
        slot = self._slot(order.venue, order.instrument)
        if slot is None:
            return self._count(Reject.UnknownInstrument)
        original = self._own[slot.table].get(replace.original)
        if original is None or original.side is not order.side:
            return self._count(Reject.UnknownOrder)
        reason = self._judge(slot, order, original, market, trading, now_ns)
        if reason is None:
            self._cancel_buckets[slot.table].take(now_ns)
            self._order_buckets[slot.table].take(now_ns)
            self._last_id = order.id
            self._exposure.remove_working(slot.symbol, order.venue, order.side, original.open)
            self._exposure.add_working(slot.symbol, order.venue, order.side, order.quantity)
            self._own[slot.table].replace(replace.original, order.id, order.price, order.quantity)
        return self._count(reason)

    def cancel_sent(self, venue: int, instrument: int, now_ns: int) -> None:
        """A cancel is on its way: it always passes, and counts against the cancel rate."""
        slot = self._slot(venue, instrument)
        if slot is not None:
            self._cancel_buckets[slot.table].take(now_ns)

    def filled(self, venue: int, instrument: int, id: int, quantity: int) -> None:
        """``quantity`` of working order ``id`` filled."""
        slot = self._slot(venue, instrument)
        if slot is None:
            return
        before = self._own[slot.table].reduce(id, quantity)
        if before is not None:
            filled = min(quantity, before.open)
            self._exposure.fill(slot.symbol, venue, before.side, filled)
            self._forget_if_done(slot, before.open - filled)

    def done(self, venue: int, instrument: int, id: int) -> None:
        """Working order ``id`` is done without more fills (cancelled, rejected, expired, or
        cancelled by the venue when our session dropped)."""
        slot = self._slot(venue, instrument)
        if slot is None:
            return
        before = self._own[slot.table].reduce(id, I64_MAX)
        if before is not None:
            self._exposure.remove_working(slot.symbol, venue, before.side, before.open)
            self._forget_if_done(slot, 0)

    def replace_refused(self, replace: Replace, original_price: int, original_open: int) -> None:
        """The venue refused a replace the gate passed: the original order works on as it was."""
        order = replace.order
        slot = self._slot(order.venue, order.instrument)
        if slot is None:
            return
        now = self._own[slot.table].get(order.id)
        if now is not None:
            self._exposure.remove_working(slot.symbol, order.venue, now.side, now.open)
            self._exposure.add_working(slot.symbol, order.venue, now.side, original_open)
            self._own[slot.table].replace(order.id, replace.original, original_price, original_open)

    def restore_working(self, order: NewOrder) -> Reject | None:
        """Takes on a working order without judging it (a restarted worker restoring what its
        journal holds): it counts from now on, like any order the gate passed. Not counted as
        passed or rejected."""
        slot = self._slot(order.venue, order.instrument)
        if slot is None:
            return Reject.UnknownInstrument
        if not self._own[slot.table].has_room():
            return Reject.TooManyWorkingOrders
        self._last_id = max(self._last_id, order.id)
        self._add_working(slot, order)
        return None

    def restore_replacing(self, original: int, replacement: NewOrder) -> Reject | None:
        """Takes on a working order whose replace was pending when the journal ended, as the
        gate holds a replace it passed: as the ``replacement`` (its open quantity), answering to
        the ``original`` id too, so a fill, the venue's replace or its refusal finds it either
        way."""
        reason = self.restore_working(dataclasses.replace(replacement, id=original))
        if reason is not None:
            return reason
        slot = self._slot(replacement.venue, replacement.instrument)
        assert slot is not None, "restore_working found it"
        self._own[slot.table].replace(original, replacement.id, replacement.price, replacement.quantity)
        self._last_id = max(self._last_id, replacement.id)
        return None

    def restore_position(self, venue: int, instrument: int, quantity: int) -> Reject | None:
        """Takes on a position held on ``venue`` in ``instrument`` (signed; a restarted worker
        restoring what its journal holds)."""
        slot = self._slot(venue, instrument)
        if slot is None:
            return Reject.UnknownInstrument
        side = Side.BUY if quantity >= 0 else Side.SELL
        self._exposure.add_working(slot.symbol, venue, side, abs(quantity))
        self._exposure.fill(slot.symbol, venue, side, abs(quantity))
        return None

    def rejections(self) -> list[int]:
        """How many checks failed for each reason, indexed by the reason's code."""
        return list(self._rejections)

    @property
    def passed(self) -> int:
        """How many checks passed."""
        return self._passed

    def venue_holding(self, venue: int, instrument: int) -> Holding | None:
        """A copy of the holding on ``venue`` in ``instrument``, if both are configured."""
        slot = self._slot(venue, instrument)
        return None if slot is None else dataclasses.replace(self._exposure.venue(slot.symbol, venue))

    def symbol_holding(self, instrument: int) -> Holding | None:
        """A copy of the holding in ``instrument`` across venues, if it is configured."""
        symbol = self._index.get(instrument)
        return None if symbol is None else dataclasses.replace(self._exposure.symbol(symbol))

    def working(self, venue: int, instrument: int) -> list[tuple[int, int, int, int]]:
        """The working orders on ``venue`` in ``instrument`` as ``(id, side sign, price, open)``,
        sorted by id (none if the venue or instrument is not configured)."""
        slot = self._slot(venue, instrument)
        if slot is None:
            return []
        return sorted((o.id, o.side.sign, o.price, o.open) for o in self._own[slot.table])

    def _slot(self, venue: int, instrument: int) -> _Slot | None:
        """Where ``venue`` and ``instrument`` live in the tables, if both are configured."""
        symbol = self._index.get(instrument)
        if symbol is None or not 0 <= venue < self._limits.venues:
            return None
        return _Slot(symbol, symbol * self._limits.venues + venue)

    def _count(self, outcome: Reject | None) -> Reject | None:
        """Counts a check's outcome and returns it."""
        if outcome is None:
            self._passed += 1
        else:
            self._rejections[outcome] += 1
        return outcome

    def _forget_if_done(self, slot: _Slot, left_open: int) -> None:
        """Stops counting an order as working once nothing of it is left open."""
        if left_open <= 0:
            self._working_per_symbol[slot.symbol] -= 1
            self._working_total -= 1

    def _add_working(self, slot: _Slot, order: NewOrder) -> None:
        """``order`` works from now on: in the own-order table, the exposure and the counts."""
        self._own[slot.table].add(_Working(order.id, None, order.side, order.price, order.quantity))
        self._exposure.add_working(slot.symbol, order.venue, order.side, order.quantity)
        self._working_per_symbol[slot.symbol] += 1
        self._working_total += 1

    def _judge(
        self,
        slot: _Slot,
        order: NewOrder,
        original: _Working | None,
        market: MarketView,
        trading: TradingView,
        now_ns: int,
    ) -> Reject | None:
        """Every check, in Rust's order (cheapest first); the first that fails is the reason.
        ``original`` is the order a replace takes the place of. Side effects, as in Rust: the
        symbol is marked at the reference price once the book is found fresh, and the buckets
        are refilled when asked for a token, whatever a later check decides."""
        limits = self._limits.symbols[slot.symbol]
        portfolio = self._limits.portfolio
        if trading.risk_heartbeat_age_ns > portfolio.max_risk_heartbeat_age_ns:
            return Reject.RiskHeartbeatStale
        if trading.global_state not in _TRADING_STATES or trading.symbol not in _TRADING_STATES:
            return Reject.UnknownTradingState
        state = max(trading.global_state, trading.symbol)
        if state >= HALTED:
            return Reject.Halted
        if order.id <= self._last_id:
            return Reject.DuplicateOrderId
        if (reason := _validate(limits, order)) is not None:
            return reason
        if (reason := _unfit_book(limits, market, now_ns)) is not None:
            return reason
        reference = market.reference_price
        self._exposure.mark(slot.symbol, reference)
        if abs(order.price - reference) * _BPS > limits.price_band_bps * reference:
            return Reject.OutsidePriceBand
        # A replace takes the original's open quantity off its side first.
        added = order.quantity - (0 if original is None else original.open)
        symbol = self._exposure.symbol(slot.symbol).with_working(order.side, added)
        venue = self._exposure.venue(slot.symbol, order.venue).with_working(order.side, added)
        if state == REDUCE_ONLY and not _reduces(order.side, symbol):
            return Reject.ReduceOnly
        own = self._own[slot.table]
        if own.would_cross(order.side, order.price, None if original is None else original.id):
            return Reject.SelfTrade
        if original is None and (
            not own.has_room()
            or self._working_per_symbol[slot.symbol] >= limits.max_working_orders
            or self._working_total >= portfolio.max_working_orders
        ):
            return Reject.TooManyWorkingOrders

        # Only the order's own side can take a position further: an order that reduces one
        # already past its limit passes.
        def beyond(held: Holding, limit: int) -> bool:
            if order.side is Side.BUY:
                return held.worst_long() > limit
            return held.worst_short() < -limit

        if beyond(symbol, limits.max_position):
            return Reject.SymbolPositionLimit
        if beyond(venue, limits.max_venue_position):
            return Reject.VenuePositionLimit
        gross, net = self._exposure.gross_and_net_with(slot.symbol, order.side, added)
        if gross > portfolio.max_gross_notional:
            return Reject.GrossExposureLimit
        if net > portfolio.max_net_notional:
            return Reject.NetExposureLimit
        # The risk worker's room under its exposure limits: what an order that does not only
        # reduce the position adds must fit in it.
        if not _reduces(order.side, symbol):
            adds = notional(order.price, max(added, 0))
            if adds > 0 and (adds > trading.symbol_room or adds > trading.portfolio_room):
                return Reject.RiskHeadroom
        if not self._order_buckets[slot.table].has_token(now_ns):
            return Reject.OrderRateThrottled
        if not self._cancel_buckets[slot.table].has_token(now_ns):
            return Reject.CancelRateThrottled
        return None
