"""Random trading days for the risk rules: a portfolio, its limits, and a stream of orders,
venue answers and books, drawn from one seed, and fed call for call to the Rust engines
(``tickrail._native.Gate``, ``RiskEngine``) and the reference rules (``risk.reference``) side by
side. Every decision, reason, holding, working order, figure and state change is compared as it
happens; the first difference fails with the step and the inputs that led to it.

The draws lean towards the edges: prices a tick off the grid or just outside the band, lots and
limits a unit either side, books that are stale, old or one-sided, trading states and heartbeats
the gate must refuse, ids used twice, and loss, drawdown and exposure limits that the day's
fills and marks cross.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

from risk.reference import gate as ref
from risk.reference import portfolio as pref
from risk.reference.numbers import I64_MAX, ONE
from tickrail import _native

ACCEPTED, REJECTED, FILL, CANCELED, REPLACED = 1, 2, 3, 4, 6
NEW, PARTIALLY_FILLED, FILLED, STATE_CANCELED, STATE_REPLACED, STATE_REJECTED = 2, 3, 4, 6, 8, 9


class Mismatch(AssertionError):
    """The engines disagreed."""


@dataclass
class Day:
    """One trading day: its limits and how many steps were compared."""

    seed: int
    limits: ref.Limits
    symbol_risk: tuple[pref.SymbolRiskLimits, ...]
    portfolio_risk: pref.PortfolioRiskLimits
    orders: int = 0
    steps: list[str] = field(default_factory=list)


def _limits(
    rng: random.Random,
) -> tuple[ref.Limits, tuple[pref.SymbolRiskLimits, ...], pref.PortfolioRiskLimits]:
    venues = rng.randint(1, 3)
    symbols = []
    risk_limits = []
    for instrument in rng.sample(range(1, 40), rng.randint(1, 4)):
        tick = rng.choice([ONE // 100, ONE // 20, ONE])
        lot = rng.choice([ONE, 10 * ONE])
        max_quantity = lot * rng.randint(5, 50)
        symbols.append(
            ref.SymbolLimits(
                instrument=instrument,
                tick=tick,
                lot=lot,
                min_quantity=lot * rng.randint(1, 2),
                max_quantity=max_quantity,
                max_notional=max_quantity * rng.randint(150, 600),
                price_band_bps=rng.choice([50, 200, 1000]),
                max_position=lot * rng.randint(5, 80),
                max_venue_position=lot * rng.randint(3, 60),
                max_working_orders=rng.randint(1, 10),
                order_rate_per_s=rng.choice([1, 50, 1000]),
                order_burst=rng.randint(1, 20),
                cancel_rate_per_s=rng.choice([1, 50, 1000]),
                cancel_burst=rng.randint(1, 20),
                max_book_age_ns=rng.choice([20_000_000, 200_000_000]),
            )
        )
        cash = ONE * rng.choice([50, 500, 5_000])
        risk_limits.append(
            pref.SymbolRiskLimits(
                instrument=instrument,
                max_loss=rng.choice([None, cash]),
                max_drawdown=rng.choice([None, cash]),
                max_exposure=rng.choice([None, cash * 20]),
            )
        )
    limits = ref.Limits(
        symbols=tuple(symbols),
        portfolio=ref.PortfolioLimits(
            max_gross_notional=ONE * rng.choice([10_000, 100_000, 10**7]),
            max_net_notional=ONE * rng.choice([5_000, 100_000, 10**7]),
            max_working_orders=rng.randint(2, 30),
            max_risk_heartbeat_age_ns=500_000_000,
        ),
        venues=venues,
        max_working_per_venue_symbol=rng.randint(1, 8),
    )
    cash = ONE * rng.choice([200, 2_000, 20_000])
    whole = pref.PortfolioRiskLimits(
        max_loss=rng.choice([None, cash]),
        max_drawdown=rng.choice([None, cash]),
        max_gross=rng.choice([None, cash * 50]),
        max_net=rng.choice([None, cash * 30]),
    )
    return limits, tuple(risk_limits), whole


@dataclass
class _Working:
    venue: int
    instrument: int
    side: ref.Side
    price: int
    open: int


class _Pair:
    """The Rust engines and the reference, fed the same calls, compared after each."""

    def __init__(self, day: Day, now_ns: int) -> None:
        self.day = day
        self.rust_gate = _native.Gate(day.limits, now_ns)
        self.ref_gate = ref.Gate(day.limits, now_ns)
        venues = day.limits.venues
        self.rust_risk = _native.RiskEngine(list(day.symbol_risk), day.portfolio_risk, venues)
        self.ref_risk = pref.RiskEngine.of(day.symbol_risk, day.portfolio_risk, venues)

    def same(self, what: str, rust: Any, reference: Any) -> None:
        if rust != reference:
            trail = "\n  ".join(self.day.steps[-8:])
            raise Mismatch(
                f"seed {self.day.seed}, step {len(self.day.steps)}: {what}: Rust {rust!r}, reference "
                f"{reference!r}\n  limits {self.day.limits}\n  last steps:\n  {trail}"
            )

    def gate(self, call: str, *args: Any) -> str | None:
        rust = getattr(self.rust_gate, call)(*args)
        reference = getattr(self.ref_gate, call)(*args)
        self.same(call, rust, None if reference is None else reference.name)
        return rust

    def risk(self, call: str, *args: Any) -> None:
        rust = getattr(self.rust_risk, call)(*args)
        reference = [(c.key, c.before, c.after, c.cause) for c in getattr(self.ref_risk, call)(*args)]
        self.same(f"risk {call} changes", rust, reference)

    def holdings(self, venue: int, instrument: int) -> None:
        held = self.ref_gate.venue_holding(venue, instrument)
        self.same(
            "venue holding",
            self.rust_gate.venue_holding(venue, instrument),
            None if held is None else (held.position, held.working_buy, held.working_sell),
        )
        self.same(
            "working", self.rust_gate.working(venue, instrument), self.ref_gate.working(venue, instrument)
        )
        figures = self.ref_risk.portfolio.symbol(instrument)
        self.same("symbol figures", self.rust_risk.symbol(instrument), dataclasses.astuple(figures))
        totals, peak = self.ref_risk.portfolio.totals(), self.ref_risk.risk.peak
        self.same(
            "totals", self.rust_risk.totals(), (totals.pnl, totals.gross, totals.net, totals.open, peak)
        )
        for key in (pref.PORTFOLIO, instrument):
            self.same(f"state of {key}", self.rust_risk.state(key), self.ref_risk.board.state(key))


def _report(
    order_id: int,
    w: _Working,
    kind: int,
    state: int,
    price: int,
    quantity: int,
    leaves: int,
    replacement: int = 0,
) -> pref.ReportFacts:
    return pref.ReportFacts(
        instrument=w.instrument,
        venue=w.venue,
        side=w.side,
        kind=kind,
        state=state,
        order_id=order_id,
        replacement_id=replacement,
        price=price,
        quantity=quantity,
        leaves=leaves,
    )


def run_day(seed: int, orders: int) -> Day:
    """Plays ``orders`` orders (and what follows from them) of the day drawn from ``seed``
    through both engines; raises :class:`Mismatch` at the first difference."""
    rng = random.Random(seed)
    limits, symbol_risk, whole = _limits(rng)
    day = Day(seed, limits, symbol_risk, whole)
    now = 1_000_000_000_000
    pair = _Pair(day, now)
    symbols = {s.instrument: s for s in limits.symbols}
    centre = {i: ONE * rng.randint(50, 200) for i in symbols}
    books: dict[tuple[int, int], ref.MarketView] = {}
    working: dict[int, _Working] = {}
    next_id = 1
    # Half the days start as a restarted worker's: orders, a pending replace and positions the
    # journal held, taken on without judging.
    if rng.random() < 0.5:
        for instrument in symbols:
            lot = symbols[instrument].lot
            venue = rng.randrange(limits.venues)
            pair.gate("restore_position", venue, instrument, lot * rng.randint(-5, 5))
            for _ in range(rng.randint(0, 3)):
                side = rng.choice([ref.Side.BUY, ref.Side.SELL])
                price = centre[instrument] + symbols[instrument].tick * rng.randint(-30, 30) * (
                    1 if side is ref.Side.SELL else -1
                )
                order = ref.NewOrder(next_id, venue, instrument, side, price, lot * rng.randint(1, 3))
                day.steps.append(f"restore {order}")
                if rng.random() < 0.3:
                    replacement = ref.NewOrder(next_id + 1, venue, instrument, side, price, order.quantity)
                    restored = pair.gate("restore_replacing", next_id, replacement) is None
                    next_id += 1
                    order = replacement
                else:
                    restored = pair.gate("restore_working", order) is None
                if restored:
                    working[order.id] = _Working(venue, instrument, side, price, order.quantity)
                next_id += 1
    while day.orders < orders:
        now += rng.choice([0, 1_000, 100_000, 2_000_000, 60_000_000])
        instrument = rng.choice(list(symbols))
        venue = rng.randrange(limits.venues + (1 if rng.random() < 0.01 else 0))
        limit = symbols[instrument]
        roll = rng.random()
        if roll < 0.15 or (instrument, venue) not in books:
            centre[instrument] += limit.tick * rng.randint(-20, 20)
            mid = max(centre[instrument], limit.tick)
            half = limit.tick * rng.randint(0, 3)
            bid, ask = (mid - half, mid + half) if rng.random() < 0.9 else (0, mid + half)
            reference = rng.choices([mid, 0], [97, 3])[0]
            books[instrument, venue] = ref.MarketView(reference, now, rng.random() < 0.03)
            day.steps.append(f"book {instrument}@{venue}: {books[instrument, venue]}, bid {bid}, ask {ask}")
            if venue < limits.venues:
                pair.risk("mark", instrument, venue, bid, ask)
            continue
        # Books move all the time: most orders see one just published, some one at the age limit
        # or just past it.
        age = rng.choices([0, limit.max_book_age_ns, limit.max_book_age_ns + 1, 10**10], [90, 4, 3, 3])[0]
        market = dataclasses.replace(books[instrument, venue], published_ns=max(now - age, 0))
        trading = ref.TradingView(
            global_state=rng.choices([0, 1, 2, 3, 9], [95, 2, 1, 1, 1])[0],
            symbol=rng.choices([0, 1, 2], [96, 3, 1])[0],
            risk_heartbeat_age_ns=rng.choices([0, 500_000_000, 500_000_001], [97, 2, 1])[0],
            symbol_room=rng.choices([I64_MAX, ONE * rng.randint(-10, 5_000)], [90, 10])[0],
            portfolio_room=rng.choices([I64_MAX, ONE * rng.randint(-10, 50_000)], [95, 5])[0],
        )
        mine = [i for i, w in working.items() if w.instrument == instrument and w.venue == venue]
        if roll < 0.65 or not mine:
            day.orders += 1
            reference = market.reference_price or centre[instrument]
            side = rng.choice([ref.Side.BUY, ref.Side.SELL])
            price = reference + limit.tick * rng.randint(-8, 8) * (1 if rng.random() < 0.95 else 40)
            price += rng.choice([0] * 30 + [1, -price])
            quantity = limit.lot * rng.randint(0, limit.max_quantity // limit.lot + 1) + rng.choice(
                [0] * 30 + [1]
            )
            order_id = next_id if rng.random() < 0.98 else max(next_id - rng.randint(1, 3), 1)
            next_id = max(next_id, order_id + 1)
            order = ref.NewOrder(order_id, venue, instrument, side, price, quantity)
            day.steps.append(f"new {order} on {market} {trading} at {now}")
            if pair.gate("check_new", order, market, trading, now) is None:
                w = _Working(venue, instrument, side, price, quantity)
                if rng.random() < 0.05:
                    day.steps.append(f"the venue rejects {order_id}")
                    pair.gate("done", venue, instrument, order_id)
                    pair.risk("apply", _report(order_id, w, REJECTED, STATE_REJECTED, price, quantity, 0))
                else:
                    working[order_id] = w
                    pair.risk("apply", _report(order_id, w, ACCEPTED, NEW, price, quantity, quantity))
        else:
            order_id = rng.choice(mine)
            w = working[order_id]
            action = rng.random()
            if action < 0.35:
                day.orders += 1
                price = w.price + limit.tick * rng.randint(-3, 3)
                quantity = max(limit.lot * rng.randint(0, 4), 0) + w.open
                replacement = ref.NewOrder(next_id, venue, instrument, w.side, price, quantity)
                next_id += 1
                # Now and then a replace of an order that is not working.
                change = ref.Replace(order_id if rng.random() < 0.98 else next_id + 7, replacement)
                day.steps.append(f"replace {change} on {market} {trading} at {now}")
                if pair.gate("check_replace", change, market, trading, now) is None:
                    if rng.random() < 0.1:
                        day.steps.append(f"replace of {order_id} refused by the venue")
                        pair.gate("replace_refused", change, w.price, w.open)
                    else:
                        del working[order_id]
                        new = _Working(venue, instrument, w.side, price, quantity)
                        working[replacement.id] = new
                        report = _report(
                            order_id, new, REPLACED, STATE_REPLACED, price, quantity, quantity, replacement.id
                        )
                        pair.risk("apply", report)
            elif action < 0.75:
                filled = min(w.open, limit.lot * rng.randint(1, 5))
                price = max(w.price - w.side.sign * limit.tick * rng.randint(0, 2), limit.tick)
                w.open -= filled
                day.steps.append(f"fill {filled} of {order_id} at {price}")
                pair.gate("filled", venue, instrument, order_id, filled)
                state = FILLED if w.open == 0 else PARTIALLY_FILLED
                pair.risk("apply", _report(order_id, w, FILL, state, price, filled, w.open))
                if w.open == 0:
                    del working[order_id]
            else:
                day.steps.append(f"cancel {order_id}")
                pair.gate("cancel_sent", venue, instrument, now)
                pair.gate("done", venue, instrument, order_id)
                pair.risk("apply", _report(order_id, w, CANCELED, STATE_CANCELED, w.price, w.open, 0))
                del working[order_id]
        if rng.random() < 0.01:
            key = rng.choice([pref.PORTFOLIO, instrument])
            state = rng.choice([ref.ACTIVE, ref.ACTIVE, ref.REDUCE_ONLY, ref.HALTED, ref.KILLED])
            day.steps.append(f"operator sets {key} to {state}")
            pair.risk("operator", key, state)
        if venue < limits.venues:
            pair.holdings(venue, instrument)
    pair.same("rejections", pair.rust_gate.rejections(), pair.ref_gate.rejections())
    pair.same("passed", pair.rust_gate.passed, pair.ref_gate.passed)
    return day
