"""Example strategies for the Python strategy API (:mod:`execution.api`).

:class:`Joiner` quotes one order a side on each venue a fixed number of ticks behind the best
bid and ask, and moves a quote (cancel, then place anew) once the book has moved past a
tolerance. It is a small, complete strategy: it tracks its orders through ``on_order`` and
``on_fill`` and never has more than one order per venue and side in flight.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from execution.api import Book, Cancel, Fill, Order, OrderUpdate, Request, Side, Strategy


@dataclass
class _Quote:
    """One of our quotes: where and at what price; its id once sent; whether it is being pulled."""

    venue: str
    side: Side
    price: float
    order_id: int = 0
    pulling: bool = False


class Joiner(Strategy):
    """Quotes ``lots`` lots of ``lot`` shares per side and venue, ``behind_ticks`` ticks of
    ``tick`` behind the best price, re-quoting past ``tolerance_ticks``."""

    def __init__(
        self,
        tick: float = 0.01,
        lot: int = 100,
        lots: int = 1,
        behind_ticks: int = 2,
        tolerance_ticks: int = 2,
    ) -> None:
        self.tick, self.size = tick, float(lot * lots)
        self.behind, self.tolerance = behind_ticks * tick, tolerance_ticks * tick
        #: By tag.
        self.quotes: dict[int, _Quote] = {}
        self.next_tag = 0

    def on_book(self, book: Book) -> Iterable[Request]:
        requests: list[Request] = []
        for quote in book.quotes:
            if not quote.usable or quote.bid <= 0 or quote.ask <= quote.bid:
                continue
            sides: tuple[tuple[Side, float], ...] = (("buy", quote.bid), ("sell", quote.ask))
            for side, best in sides:
                target = (
                    round((best - self.behind if side == "buy" else best + self.behind) / self.tick)
                    * self.tick
                )
                mine = next(
                    (q for q in self.quotes.values() if q.venue == quote.venue and q.side == side), None
                )
                if mine is None:
                    self.next_tag += 1
                    self.quotes[self.next_tag] = _Quote(quote.venue, side, target)
                    requests.append(Order(book.symbol, quote.venue, side, target, self.size, self.next_tag))
                elif mine.order_id and not mine.pulling and abs(mine.price - target) > self.tolerance:
                    mine.pulling = True
                    requests.append(Cancel(mine.order_id))
        return requests

    def on_order(self, update: OrderUpdate) -> Iterable[Request]:
        quote = self.quotes.get(update.tag)
        if quote is not None:
            if update.status == "sent":
                quote.order_id = update.order_id
            elif update.status in ("refused", "rejected", "canceled", "expired"):
                del self.quotes[update.tag]
        return ()

    def on_fill(self, fill: Fill) -> Iterable[Request]:
        if fill.leaves == 0:
            self.quotes.pop(fill.tag, None)
        return ()
