"""The market maker, as the legacy engine runs it: the same rules as tickrail's built-in one
(``execution/src/strategy.rs``), written as the old Python engine would have them.

A fair value from the venues' mids, two-sided quotes on every venue (a spread, a size, a number
of levels) skewed against inventory and replaced only when the fair value moved past a
tolerance, and cross-venue arbitrage when one venue's bid is above another's ask by more than
fees and a margin. :meth:`MarketMaker.on_book` returns the actions; the engine sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from risk.reference.numbers import trunc_div

#: Basis points in one.
BPS = 10_000
#: The most levels a side.
MAX_LEVELS = 8


@dataclass(slots=True)
class Top:
    """One venue's best prices for a symbol (0 where a side is empty), and when its feed
    published them (``time.monotonic_ns()``)."""

    bid: int = 0
    bid_quantity: int = 0
    ask: int = 0
    ask_quantity: int = 0
    published_ns: int = 0

    def mid(self) -> int | None:
        """The mid, if the book has both sides and is not crossed."""
        return (self.bid + self.ask) // 2 if self.bid > 0 and self.ask > self.bid else None


@dataclass(frozen=True, slots=True)
class Config:
    """How the maker quotes and takes one symbol (fixed point, units of 1e-9)."""

    tick: int
    lot: int
    half_spread_ticks: int
    level_spacing_ticks: int
    levels: int
    size: int
    skew_ticks_per_lot: int
    tolerance_ticks: int
    fee_bps: int
    arbitrage_margin_ticks: int
    arbitrage_size: int
    max_position: int
    max_venue_position: int
    no_replace: tuple[bool, ...]

    @classmethod
    def of(cls, symbol: dict[str, Any], no_replace: tuple[bool, ...]) -> Config:
        """From a symbol of the execution worker's spec (``tickrail.execution_plan.symbols``)."""
        keys = [k for k in cls.__dataclass_fields__ if k != "no_replace"]
        return cls(**{k: int(symbol[k]) for k in keys}, no_replace=no_replace)


@dataclass(frozen=True, slots=True)
class New:
    """Send a new order."""

    id: int
    venue: int
    buy: bool
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace working quote ``original`` by ``order``."""

    original: int
    order: New


@dataclass(frozen=True, slots=True)
class Arbitrage:
    """Both legs of an arbitrage, judged together."""

    buy: New
    sell: New


@dataclass(frozen=True, slots=True)
class Cancel:
    """Cancel order ``id`` on ``venue``."""

    id: int
    venue: int


Action = New | Replace | Arbitrage | Cancel


@dataclass(slots=True)
class _Quote:
    id: int
    price: int
    live: bool = False


class Ids:
    """The day's client order ids, issued in increasing order."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        """A fresh id."""
        self.last += 1
        return self.last


class MarketMaker:
    """The market maker for one symbol on ``venues`` venues."""

    def __init__(self, venues: int, config: Config) -> None:
        self.config = config
        self.venues = venues
        # quotes[venue][side][level], side 0 buys, 1 sells.
        self.quotes: list[list[list[_Quote | None]]] = [
            [[None] * MAX_LEVELS for _ in range(2)] for _ in range(venues)
        ]
        self.last_fair: int | None = None
        self.legs: list[int | None] = [None, None]

    @staticmethod
    def fair_value(tops: list[Top]) -> int | None:
        """The mean of the venues' mids."""
        mids = [m for m in (t.mid() for t in tops) if m is not None]
        return sum(mids) // len(mids) if mids else None

    def target(self, fair: int, position: int, buy: bool, level: int, top: Top) -> int:
        """The price of ``level`` on a side: the fair value less (bids) or plus (asks) the
        spread and spacing, skewed against inventory, on the tick, never crossing the venue."""
        c = self.config
        skew = trunc_div(position, c.lot) * c.skew_ticks_per_lot * c.tick
        center = fair - skew
        offset = (c.half_spread_ticks + level * c.level_spacing_ticks) * c.tick
        if buy:
            bid = (center - offset) // c.tick * c.tick
            return min(bid, top.ask - c.tick) if top.ask > 0 else bid
        ask = -((-(center + offset)) // c.tick * c.tick)
        return max(ask, top.bid + c.tick) if top.bid > 0 else ask

    def _fits(self, buy: bool, quantity: int, position: int, venue_position: int) -> bool:
        change = quantity if buy else -quantity
        c = self.config
        return (
            abs(position + change) <= c.max_position and abs(venue_position + change) <= c.max_venue_position
        )

    def on_book(self, tops: list[Top], position: int, venue_positions: list[int], ids: Ids) -> list[Action]:
        """What to do after any venue's book changed, with ``position`` held in all and
        ``venue_positions`` on each venue."""
        actions: list[Action] = []
        self._take_arbitrage(tops, position, venue_positions, ids, actions)
        fair = self.fair_value(tops)
        rising = fair is not None and self.last_fair is not None and fair > self.last_fair
        sides = (False, True) if rising else (True, False)
        if fair is not None:
            self.last_fair = fair
        c = self.config
        tolerance = max(c.tolerance_ticks * c.tick, 1)
        for venue in range(self.venues):
            top = tops[venue]
            quoting = fair is not None and top.mid() is not None
            for buy in sides:
                slots = self.quotes[venue][0 if buy else 1]
                fits = quoting and self._fits(buy, c.size, position, venue_positions[venue])
                # The levels are fixed: no quote is ever placed past them.
                for level in range(c.levels):
                    quote = slots[level]
                    target = (
                        self.target(fair, position, buy, level, top) if fits and fair is not None else None
                    )
                    if (quote is None and target is None) or (quote is not None and not quote.live):
                        continue
                    if quote is not None and target is None:
                        actions.append(Cancel(quote.id, venue))
                        slots[level] = None
                    elif quote is not None and target is not None:
                        if abs(target - quote.price) < tolerance:
                            continue
                        order = New(ids.next(), venue, buy, target, c.size)
                        if c.no_replace[venue]:
                            actions.append(Cancel(quote.id, venue))
                            actions.append(order)
                        else:
                            actions.append(Replace(quote.id, order))
                        slots[level] = _Quote(order.id, target)
                    elif target is not None:
                        order = New(ids.next(), venue, buy, target, c.size)
                        actions.append(order)
                        slots[level] = _Quote(order.id, target)
        return actions

    def _take_arbitrage(
        self, tops: list[Top], position: int, venue_positions: list[int], ids: Ids, actions: list[Action]
    ) -> None:
        if self.legs[0] is not None or self.legs[1] is not None:
            return
        c = self.config
        best: tuple[int, int, int] | None = None
        for buy_at, low in enumerate(tops):
            if low.ask <= 0:
                continue
            for sell_at, high in enumerate(tops):
                if high.bid <= 0 or buy_at == sell_at:
                    continue
                edge = high.bid - low.ask
                needed = c.fee_bps * (high.bid + low.ask) // BPS + c.arbitrage_margin_ticks * c.tick
                if edge > needed and (best is None or edge > best[0]):
                    best = (edge, buy_at, sell_at)
        if best is None:
            return
        _, buy_at, sell_at = best
        available = min(tops[buy_at].ask_quantity, tops[sell_at].bid_quantity, c.arbitrage_size)
        quantity = available // c.lot * c.lot
        if (
            quantity <= 0
            or not self._fits(True, quantity, position, venue_positions[buy_at])
            or not self._fits(False, quantity, position, venue_positions[sell_at])
        ):
            return
        buy = New(ids.next(), buy_at, True, tops[buy_at].ask, quantity)
        sell = New(ids.next(), sell_at, False, tops[sell_at].bid, quantity)
        self.legs = [buy.id, sell.id]
        actions.append(Arbitrage(buy, sell))

    def order_live(self, id: int) -> None:
        """The venue accepted ``id`` (or replaced a quote by it): it may now be moved or pulled."""
        for venue in self.quotes:
            for side in venue:
                for quote in side:
                    if quote is not None and quote.id == id:
                        quote.live = True

    def order_done(self, id: int) -> None:
        """``id`` is no longer working: its quote slot (or arbitrage leg) is free."""
        self.legs = [None if leg == id else leg for leg in self.legs]
        for venue in self.quotes:
            for side in venue:
                for level, quote in enumerate(side):
                    if quote is not None and quote.id == id:
                        side[level] = None
