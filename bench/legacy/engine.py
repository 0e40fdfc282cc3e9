"""The legacy engine's event loop: feed handlers publish book changes over ZeroMQ, the engine
takes them up, runs the market maker, judges each order with the pre-trade rules
(:mod:`risk.reference.gate`), keeps its orders and positions and writes orders to the venues'
gateways, all on one asyncio loop, as the old system did.

The portfolio rules (tickrail's risk worker, in a process of its own) are left out of this loop:
the reference computes its sums afresh on every event, and charging that to the old engine
would make it slower than a competent one; leaving them out only flatters it.

What it measures, for ``bench/before_after.py``: each order's tick-to-trade (from the feed
handler's read of the bytes that changed the book to the order's bytes handed to the socket) in
an HDR histogram, the longest time a published book change waited before the engine took it up,
the garbage collector's pauses (``gc.callbacks``), and the messages lost between the feed
handlers and the engine (ZeroMQ drops past its high-water mark, seen as sequence gaps).
"""

from __future__ import annotations

import gc
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq
from hdrh.histogram import HdrHistogram

from bench.legacy import market_maker as mm
from bench.legacy.venue import Gateway, Kind, Report
from risk.reference import gate as ref
from risk.shadow import limits_from
from tickrail import _native

#: What the market maker sees of a venue it may not use (down, or its book too old): no book.
EMPTY = mm.Top()
#: One book change on the wire between a feed handler and the engine: venue, instrument, bid,
#: bid quantity, ask, ask quantity, received_ns, published_ns, the feed's sequence number.
BOOK_CHANGE = struct.Struct("<BIqqqqQQQ")
log = logging.getLogger(__name__)

#: Where the feed handlers publish (in-process transport).
BOOKS_ENDPOINT = "inproc://books"
#: ZeroMQ's high-water mark on both sides: book changes queued before the publisher drops.
HIGH_WATER_MARK = 100_000
#: Book changes the engine takes up in one go before letting the loop serve its sockets.
DRAIN_BATCH = 256
#: Slowest and fastest tick-to-trade the histogram holds, nanoseconds, and its precision.
LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS = 1, 600_000_000_000, 3

# Order states, as the execution worker's records number them (8, replaced, is never kept: a
# replaced order is forgotten).
PENDING_NEW, NEW, PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED, PENDING_REPLACE = 1, 2, 3, 4, 5, 6, 7
REJECTED, EXPIRED = 9, 10


class Publisher:
    """A feed handler's side of the ZeroMQ hop: each book change packed and published."""

    def __init__(self, socket: zmq.Socket[bytes], venue: int) -> None:
        self.socket = socket
        self.venue = venue
        self.sequence = 0

    def __call__(
        self, instrument: int, bid: int, bid_qty: int, ask: int, ask_qty: int, received_ns: int
    ) -> None:
        """Publishes one book change (a PUB socket drops it, silently, past the high-water mark)."""
        self.sequence += 1
        frame = BOOK_CHANGE.pack(
            self.venue,
            instrument,
            bid,
            bid_qty,
            ask,
            ask_qty,
            received_ns,
            time.monotonic_ns(),
            self.sequence,
        )
        self.socket.send(frame, zmq.NOBLOCK)


@dataclass(slots=True)
class Order:
    """One of our orders, as the engine keeps it."""

    venue: int
    instrument: int
    buy: bool
    price: int
    quantity: int
    open: int
    state: int
    #: For a replacement not yet done: the order it replaces.
    replacing: int = 0


class GcPauses:
    """The garbage collector's pauses, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self._started = 0
        self.reset()

    def reset(self) -> None:
        """Forgets the pauses so far."""
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        """A collection started or stopped."""
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        pause = time.perf_counter_ns() - self._started
        self.count += 1
        self.total_ns += pause
        self.max_ns = max(self.max_ns, pause)

    def summary(self) -> dict[str, float]:
        """Collections, and their total and longest pause in microseconds."""
        return {"count": self.count, "total_us": self.total_ns / 1e3, "max_us": self.max_ns / 1e3}


class Engine:
    """The market maker, the pre-trade gate and the orders of every symbol
    in ``spec`` (the execution worker's spec: ``tickrail.execution_plan.describe``), sending
    through :attr:`gateways` (one per venue, in the spec's order; set before trading)."""

    def __init__(self, spec: dict[str, Any], clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.clock = clock
        self.gateways: list[Gateway] = []
        venues = spec["venues"]
        count = len(venues)
        no_replace = tuple(v["protocol"] == "json" for v in venues)
        #: Which venues cancel a lost session's orders (all but OUCH's).
        self.cancels_on_disconnect = [v["protocol"] != "ouch" for v in venues]
        #: A book published longer ago than this is not used (the gate refuses it too).
        self.max_book_age_ns = int(spec["portfolio"]["max_book_age_ms"]) * 1_000_000
        self.makers = {
            s["instrument"]: mm.MarketMaker(count, mm.Config.of(s, no_replace)) for s in spec["symbols"]
        }
        self.tops = {instrument: [mm.Top() for _ in venues] for instrument in self.makers}
        self.positions = {(i, v): 0 for i in self.makers for v in range(count)}
        self.ids = mm.Ids()
        limits = limits_from(_native.gate_limits(spec["symbols"], spec["portfolio"], count))
        self.gate = ref.Gate(limits, clock())
        self.orders: dict[int, Order] = {}
        self.latency = HdrHistogram(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
        self.gc = GcPauses()
        self.sent = 0
        self.refused = 0
        self.book_changes = 0
        self.lost = 0
        self.longest_wait_ns = 0
        self.reports = 0
        self.unknown_reports = 0
        self._sequences = [0] * count
        self.down = [False] * count
        self.disconnects = 0
        self.refused_by_gateway = 0
        self._tick_ns = 0

    def start_window(self) -> None:
        """Starts the measured window: what was measured until now (start-up, warm-up) is
        dropped; the orders, positions and books carry on."""
        self.latency = HdrHistogram(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
        self.gc.reset()
        self.sent = self.refused = self.book_changes = self.lost = self.reports = self.unknown_reports = 0
        self.disconnects = self.refused_by_gateway = 0
        self.longest_wait_ns = 0

    # --- market data -----------------------------------------------------------------------

    def take_up(self, socket: zmq.Socket[bytes]) -> bool:
        """Takes up to :data:`DRAIN_BATCH` book changes from ``socket``, applies the newest of
        each venue's book, and runs the market maker once for each symbol whose books changed
        (changes queued behind one another coalesce, as a competent engine under load would
        have them, and as execution reads only the newest books); whether more wait."""
        newest: dict[tuple[int, int], tuple[int, ...]] = {}
        more = True
        for _ in range(DRAIN_BATCH):
            try:
                frame = socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                more = False
                break
            change = BOOK_CHANGE.unpack(frame)
            taken_ns = self.clock()
            self._count(change)
            self.longest_wait_ns = max(self.longest_wait_ns, taken_ns - change[7])
            newest[change[0], change[1]] = change
        # Per symbol, the newest tick among its changed books.
        moved: dict[int, int] = {}
        for change in newest.values():
            if self._apply(change):
                instrument, received_ns = change[1], change[6]
                moved[instrument] = max(received_ns, moved.get(instrument, 0))
        for instrument, received_ns in moved.items():
            self.act_on_book(instrument, received_ns)
        return more

    def _count(self, change: tuple[int, ...]) -> None:
        venue, sequence = change[0], change[8]
        self.book_changes += 1
        expected = self._sequences[venue] + 1
        if sequence != expected:
            self.lost += sequence - expected
        self._sequences[venue] = sequence

    def _apply(self, change: tuple[int, ...]) -> bool:
        """Sets one venue's best prices of one symbol from ``(venue, instrument, bid, bid
        quantity, ask, ask quantity, received_ns, published_ns, sequence)``; whether they moved."""
        venue, instrument, bid, bid_qty, ask, ask_qty, _, published_ns, _ = change
        tops = self.tops.get(instrument)
        if tops is None:
            return False
        top = tops[venue]
        top.published_ns = published_ns
        if top.bid == bid and top.ask == ask and top.bid_quantity == bid_qty and top.ask_quantity == ask_qty:
            return False
        top.bid, top.bid_quantity, top.ask, top.ask_quantity = bid, bid_qty, ask, ask_qty
        return True

    def act_on_book(self, instrument: int, received_ns: int) -> None:
        """The market maker acts on ``instrument``'s books, changed by the tick read at
        ``received_ns``. A venue that is down, or whose book is older than the limit, is left
        out, as execution leaves out a book it may not use."""
        self._tick_ns = received_ns
        tops = self.tops[instrument]
        now = self.clock()
        seen = [
            EMPTY if self.down[v] or now - t.published_ns > self.max_book_age_ns else t
            for v, t in enumerate(tops)
        ]
        venue_positions = [self.positions[instrument, v] for v in range(len(tops))]
        actions = self.makers[instrument].on_book(seen, sum(venue_positions), venue_positions, self.ids)
        for action in actions:
            self.act(instrument, action, now)

    # --- orders ------------------------------------------------------------------------------

    def act(self, instrument: int, action: mm.Action, now: int) -> None:
        """Judges one action of the market maker and sends what passes."""
        if isinstance(action, mm.New):
            if self._check_new(instrument, action, now):
                self._send_new(instrument, action)
        elif isinstance(action, mm.Replace):
            self._replace(instrument, action, now)
        elif isinstance(action, mm.Cancel):
            self._cancel(instrument, action.id, now)
        else:
            if not self._check_new(instrument, action.buy, now):
                self.makers[instrument].order_done(action.sell.id)
                return
            if not self._check_new(instrument, action.sell, now):
                # Neither leg goes out unless both pass.
                self.gate.done(action.buy.venue, instrument, action.buy.id)
                self.makers[instrument].order_done(action.buy.id)
                return
            self._send_new(instrument, action.buy)
            self._send_new(instrument, action.sell)

    def _market(self, instrument: int, venue: int) -> ref.MarketView:
        top = self.tops[instrument][venue]
        return ref.MarketView(reference_price=top.mid() or 0, published_ns=top.published_ns, stale=False)

    def _trading(self) -> ref.TradingView:
        # The old engine had no risk worker to halt it: trading is always active, and the
        # heartbeat the gate checks is the loop's own.
        return ref.TradingView(ref.ACTIVE, ref.ACTIVE, 0)

    def _order(self, instrument: int, order: mm.New) -> ref.NewOrder:
        side = ref.Side.BUY if order.buy else ref.Side.SELL
        return ref.NewOrder(order.id, order.venue, instrument, side, order.price, order.quantity)

    def _check_new(self, instrument: int, order: mm.New, now: int) -> bool:
        reason = self.gate.check_new(
            self._order(instrument, order),
            self._market(instrument, order.venue),
            self._trading(),
            now,
        )
        if reason is not None:
            self.refused += 1
            self.makers[instrument].order_done(order.id)
            return False
        return True

    def _send_new(self, instrument: int, order: mm.New) -> None:
        self.orders[order.id] = Order(
            order.venue, instrument, order.buy, order.price, order.quantity, order.quantity, PENDING_NEW
        )
        gateway = self.gateways[order.venue]
        if self._written(
            order.venue, order.id, gateway.new, order.id, instrument, order.buy, order.price, order.quantity
        ):
            self._sent()
        elif order.id in self.orders:
            # Never sent: the gate and the maker forget it.
            self.gate.done(order.venue, instrument, order.id)
            self._forget(order.id, self.makers[instrument])

    def _replace(self, instrument: int, action: mm.Replace, now: int) -> None:
        order = action.order
        replace = ref.Replace(action.original, self._order(instrument, order))
        reason = self.gate.check_replace(replace, self._market(instrument, order.venue), self._trading(), now)
        original = self.orders.get(action.original)
        if reason is not None or original is None:
            self.refused += 1
            self.makers[instrument].order_done(order.id)
            # The quote the maker gave up on is pulled rather than left working untracked.
            if original is not None:
                self._cancel(instrument, action.original, now)
            return
        original.state = PENDING_REPLACE
        self.orders[order.id] = Order(
            order.venue,
            instrument,
            order.buy,
            order.price,
            order.quantity,
            order.quantity,
            PENDING_REPLACE,
            replacing=action.original,
        )
        gateway = self.gateways[order.venue]
        if self._written(
            order.venue, order.id, gateway.replace, action.original, order.id, order.price, order.quantity
        ):
            self._sent()
        elif order.id in self.orders:
            # Never sent: as if the venue had refused it, the original works on as it was.
            self._replace_refused(self.orders[order.id], order.id, self.makers[instrument])

    def _cancel(self, instrument: int, id: int, now: int) -> None:
        order = self.orders.get(id)
        if order is None or order.state in (PENDING_CANCEL, PENDING_NEW):
            return
        self.gate.cancel_sent(order.venue, instrument, now)
        if self._written(order.venue, id, self.gateways[order.venue].cancel, id):
            order.state = PENDING_CANCEL

    def _written(self, venue: int, id: int, write: Callable[..., None], *args: Any) -> bool:
        """Writes one request about order ``id`` through ``venue``'s gateway; whether it went.
        A lost session takes the venue down (:meth:`venue_down`); a request the gateway cannot
        say is counted."""
        try:
            write(*args)
            return True
        except ConnectionError as error:
            self.venue_down(venue, error)
        except ValueError as error:
            self.refused_by_gateway += 1
            log.warning("venue %d: request for order %d refused: %s", venue, id, error)
        return False

    def venue_down(self, venue: int, error: Exception) -> None:
        """``venue``'s order session is lost: it is not quoted until :meth:`venue_up`. Where
        the venue cancels a lost session's orders (FIX and JSON) they are forgotten; venue A
        keeps them, and its next session carries on from the last report seen."""
        if self.down[venue]:
            return
        log.error("venue %d is down: %s", venue, error)
        self.down[venue] = True
        self.disconnects += 1
        if not self.cancels_on_disconnect[venue]:
            return
        for id, order in list(self.orders.items()):
            if order.venue == venue:
                self.gate.done(venue, order.instrument, id)
                self._forget(id, self.makers[order.instrument])

    def venue_up(self, venue: int, gateway: Gateway) -> None:
        """``venue`` trades again, through ``gateway`` (logged on afresh)."""
        self.gateways[venue] = gateway
        self.down[venue] = False

    def _sent(self) -> None:
        self.sent += 1
        self.latency.record_value(max(self.clock() - self._tick_ns, LOWEST_NS))

    # --- reports -----------------------------------------------------------------------------

    def on_report(self, venue: int, report: Report) -> None:
        """One execution report from ``venue``'s gateway."""
        self.reports += 1
        order = self.orders.get(report.id)
        if order is None or order.venue != venue:
            self.unknown_reports += 1
            return
        maker = self.makers[order.instrument]
        kind = report.kind
        if kind is Kind.ACCEPTED:
            order.state = NEW
            maker.order_live(report.id)
        elif kind is Kind.FILL:
            filled = min(report.quantity, order.open)
            order.open -= filled
            self.positions[order.instrument, venue] += filled if order.buy else -filled
            self.gate.filled(venue, order.instrument, report.id, filled)
            order.state = FILLED if order.open == 0 else PARTIALLY_FILLED
            if order.open == 0:
                self._forget(report.id, maker)
        elif kind in (Kind.CANCELED, Kind.EXPIRED, Kind.REJECTED):
            order.state = {Kind.CANCELED: CANCELED, Kind.EXPIRED: EXPIRED, Kind.REJECTED: REJECTED}[kind]
            self.gate.done(venue, order.instrument, report.id)
            self._forget(report.id, maker)
        elif kind is Kind.REPLACED:
            original = self.orders.pop(order.replacing, None)
            if original is not None:
                # The replacement's quantity is the order's whole size: what already filled
                # stays filled.
                order.open = max(order.quantity - (original.quantity - original.open), 0)
            order.replacing, order.state = 0, NEW
            maker.order_live(report.id)
        elif kind is Kind.REPLACE_REJECTED:
            self._replace_refused(order, report.id, maker)

    def _replace_refused(self, order: Order, id: int, maker: mm.MarketMaker) -> None:
        """Replacement ``id`` was refused: the original works on as it was (as execution has
        it, the maker no longer tracks it)."""
        original = self.orders.get(order.replacing)
        replacement = ref.NewOrder(
            id,
            order.venue,
            order.instrument,
            ref.Side.BUY if order.buy else ref.Side.SELL,
            order.price,
            order.quantity,
        )
        if original is not None:
            self.gate.replace_refused(
                ref.Replace(order.replacing, replacement), original.price, original.open
            )
            original.state = NEW
        self.orders.pop(id, None)
        maker.order_done(id)

    def _forget(self, id: int, maker: mm.MarketMaker) -> None:
        self.orders.pop(id, None)
        maker.order_done(id)

    # --- results -----------------------------------------------------------------------------

    def results(self) -> dict[str, Any]:
        """What the run measured (the histogram HDR-encoded, for the benchmark to correct)."""
        return {
            "tick_to_trade": self.latency.encode().decode(),
            "orders": self.sent,
            "refused": self.refused,
            "book_changes": self.book_changes,
            "lost": self.lost,
            "longest_wait_us": self.longest_wait_ns / 1e3,
            "gc": self.gc.summary(),
            "reports": self.reports,
            "unknown_reports": self.unknown_reports,
            "refused_by_gateway": self.refused_by_gateway,
            "disconnects": self.disconnects,
        }


def install_gc_callback(engine: Engine) -> None:
    """Records the collector's pauses on ``engine``."""
    gc.callbacks.append(engine.gc)
