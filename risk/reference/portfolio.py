"""The portfolio risk rules, written to be read: positions, P&L marked to the books, exposure and
open orders per symbol and venue, the day's peak and drawdown, the limits and what a breach of
each does to the trading state, and the board that latches those states. The Rust engine
(``risk::portfolio``, ``risk::breach``, ``risk::board``) must agree with this module exactly.

The rules:

* A fill moves the venue's position at average cost; a sale past flat opens the other way at the
  fill's price. Selling what was bought realizes the difference on what was closed.
* An order is open while its last report leaves quantity open and its state is a working one; a
  replace done carries it on under the replacement's id. It is valued at its limit price (a
  fill's price is the trade's: what is left keeps the price the order had).
* A symbol's mark is the mean (rounded down) of the mids of the venues whose book has both sides;
  every venue's position in it is marked there. A symbol with no mark has no unrealized P&L.
* A symbol's P&L is the sum over its venues of realized plus unrealized; its exposure is its
  position across venues at the mark (signed: net; in size: exposure); its open-order exposure is
  its open orders at their limit prices, per side.
* A symbol's peak is the highest P&L it has had today (from zero), taken after every report and
  every mark; the drawdown is the peak less the P&L. The portfolio's peak is taken likewise from
  the sum of the symbols' P&L.
* Limits, checked in this order (the first breached is the breach): loss (P&L below minus the
  limit) halts; drawdown, a symbol's exposure, the portfolio's gross and net exposure (above the
  limit) make it reduce-only. A limit left out (``None``) is no limit.
* The board keeps, per key (0: the portfolio, else an instrument), an operator's state and a
  latched one; the gate sees the stricter. A latched state only gets stricter until an operator
  sets the key active, which clears it. An operator's order is always answered with a change,
  even one that leaves the state as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from risk.reference.gate import ACTIVE, HALTED, REDUCE_ONLY, Side
from risk.reference.numbers import notional, trunc_div

# Report kinds and order states, as the execution worker's records carry them.
FILL, REPLACED = 3, 6
WORKING_STATES = frozenset(
    {1, 2, 3, 5, 7}
)  # pending new, new, partially filled, pending cancel, pending replace

PORTFOLIO = 0
"""The board's key of the whole portfolio."""


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What the portfolio reads of one execution report."""

    instrument: int
    venue: int
    side: Side
    kind: int
    state: int
    order_id: int
    replacement_id: int
    price: int
    quantity: int
    leaves: int

    def leaves_open(self) -> bool:
        """Whether the order (or its replacement) is still open after the report."""
        return self.leaves > 0 and (self.state in WORKING_STATES or self.kind == REPLACED)


class PortfolioError(ValueError):
    """A report or a book about an instrument or venue the portfolio does not hold."""


@dataclass(slots=True)
class Position:
    """A position on one venue: quantity (long above zero), average price, realized P&L."""

    quantity: int = 0
    average_price: int = 0
    realized: int = 0

    def fill(self, side: Side, quantity: int, price: int) -> None:
        """A fill of ``quantity`` at ``price`` on ``side``."""
        signed = side.sign * quantity
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            cost = self.average_price * abs(self.quantity) + price * quantity
            self.quantity += signed
            self.average_price = trunc_div(cost, abs(self.quantity))
            return
        closed = min(quantity, abs(self.quantity))
        direction = 1 if self.quantity > 0 else -1
        self.realized += notional(price - self.average_price, closed) * direction
        self.quantity += signed
        if self.quantity == 0:
            self.average_price = 0
        elif (self.quantity > 0) != (direction > 0):
            self.average_price = price

    def unrealized(self, mark: int) -> int:
        """P&L of the open quantity at ``mark``."""
        return notional(mark - self.average_price, self.quantity)


@dataclass(frozen=True, slots=True)
class SymbolRisk:
    """One symbol's figures across venues (currency in units of 1e-9)."""

    instrument: int
    position: int = 0
    mark: int = 0
    realized: int = 0
    unrealized: int = 0
    pnl: int = 0
    peak: int = 0
    drawdown: int = 0
    net: int = 0
    exposure: int = 0
    open_buy: int = 0
    open_sell: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    """The sums over a portfolio's symbols."""

    pnl: int = 0
    gross: int = 0
    net: int = 0
    open: int = 0


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """One of our orders working at a venue."""

    instrument: int
    side: Side
    price: int
    leaves: int


@dataclass(slots=True)
class Portfolio:
    """The risk of a set of symbols on ``venues`` venues."""

    instruments: tuple[int, ...]
    venues: int
    positions: dict[tuple[int, int], Position] = field(default_factory=dict)
    mids: dict[tuple[int, int], int] = field(default_factory=dict)
    open: dict[int, OpenOrder] = field(default_factory=dict)
    peaks: dict[int, int] = field(default_factory=dict)
    figures: dict[int, SymbolRisk] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for instrument in self.instruments:
            self.figures[instrument] = SymbolRisk(instrument)
            self.peaks[instrument] = 0
            for venue in range(self.venues):
                self.positions[instrument, venue] = Position()

    def _check(self, instrument: int, venue: int) -> None:
        if venue >= self.venues:
            raise PortfolioError(f"venue {venue} is not in this portfolio")
        if instrument not in self.figures:
            raise PortfolioError(f"instrument {instrument} is not in this portfolio")

    def apply(self, report: ReportFacts) -> SymbolRisk:
        """Applies one report; the symbol's figures after it."""
        self._check(report.instrument, report.venue)
        if report.kind == FILL:
            self.positions[report.instrument, report.venue].fill(report.side, report.quantity, report.price)
        gone = self.open.pop(report.order_id, None)
        if report.leaves_open():
            key = report.replacement_id if report.kind == REPLACED else report.order_id
            # A fill's price is the trade's: what is left works on at the order's limit price.
            price = gone.price if gone is not None and report.kind == FILL else report.price
            self.open[key] = OpenOrder(report.instrument, report.side, price, report.leaves)
        return self._refresh(report.instrument)

    def mark(self, instrument: int, venue: int, bid: int, ask: int) -> SymbolRisk:
        """Sets ``venue``'s book for ``instrument``; a book without both sides leaves its mid."""
        self._check(instrument, venue)
        if bid > 0 and ask > 0:
            self.mids[instrument, venue] = (bid + ask) // 2
        return self._refresh(instrument)

    def _refresh(self, instrument: int) -> SymbolRisk:
        mids = [self.mids[instrument, v] for v in range(self.venues) if (instrument, v) in self.mids]
        mark = sum(mids) // len(mids) if mids else 0
        held = [self.positions[instrument, v] for v in range(self.venues)]
        position = sum(p.quantity for p in held)
        realized = sum(p.realized for p in held)
        unrealized = sum(p.unrealized(mark) for p in held) if mark > 0 else 0
        pnl = realized + unrealized
        self.peaks[instrument] = max(self.peaks[instrument], pnl)
        net = notional(mark, position)
        mine = [o for o in self.open.values() if o.instrument == instrument]
        figures = SymbolRisk(
            instrument=instrument,
            position=position,
            mark=mark,
            realized=realized,
            unrealized=unrealized,
            pnl=pnl,
            peak=self.peaks[instrument],
            drawdown=self.peaks[instrument] - pnl,
            net=net,
            exposure=abs(net),
            open_buy=sum(notional(o.price, o.leaves) for o in mine if o.side is Side.BUY),
            open_sell=sum(notional(o.price, o.leaves) for o in mine if o.side is Side.SELL),
        )
        self.figures[instrument] = figures
        return figures

    def symbol(self, instrument: int) -> SymbolRisk:
        """The figures of ``instrument``."""
        return self.figures[instrument]

    def totals(self) -> Totals:
        """The sums over the symbols."""
        every = self.figures.values()
        return Totals(
            pnl=sum(s.pnl for s in every),
            gross=sum(s.exposure for s in every),
            net=sum(s.net for s in every),
            open=sum(s.open_buy + s.open_sell for s in every),
        )


class Breach(Enum):
    """A limit breached; its value is its code."""

    LOSS = 1
    DRAWDOWN = 2
    EXPOSURE = 3
    GROSS_EXPOSURE = 4
    NET_EXPOSURE = 5

    @property
    def label(self) -> str:
        """Its name in logs: ``loss``, ``drawdown``, ``exposure``, ``gross-exposure``, ``net-exposure``."""
        return self.name.lower().replace("_", "-")

    @property
    def state(self) -> int:
        """The trading state the breach moves its key to."""
        return HALTED if self is Breach.LOSS else REDUCE_ONLY


@dataclass(frozen=True, slots=True)
class SymbolRiskLimits:
    """One symbol's limits (``None``: no limit)."""

    instrument: int
    max_loss: int | None = None
    max_drawdown: int | None = None
    max_exposure: int | None = None


@dataclass(frozen=True, slots=True)
class PortfolioRiskLimits:
    """The portfolio's limits (``None``: no limit)."""

    max_loss: int | None = None
    max_drawdown: int | None = None
    max_gross: int | None = None
    max_net: int | None = None


def _room(limit: int | None, used: int) -> int | None:
    return None if limit is None else limit - used


def _first_breach(rooms: list[tuple[int | None, Breach]]) -> Breach | None:
    return next((breach for room, breach in rooms if room is not None and room < 0), None)


def symbol_headroom(risk: SymbolRisk, limits: SymbolRiskLimits) -> tuple[int | None, int | None, int | None]:
    """The room left under the symbol's loss, drawdown and exposure limits."""
    return (
        _room(limits.max_loss, -risk.pnl),
        _room(limits.max_drawdown, risk.drawdown),
        _room(limits.max_exposure, risk.exposure),
    )


def symbol_breach(risk: SymbolRisk, limits: SymbolRiskLimits) -> Breach | None:
    """The symbol's first limit breached."""
    loss, drawdown, exposure = symbol_headroom(risk, limits)
    return _first_breach([(loss, Breach.LOSS), (drawdown, Breach.DRAWDOWN), (exposure, Breach.EXPOSURE)])


@dataclass(frozen=True, slots=True)
class PortfolioRisk:
    """The portfolio's totals with the day's peak P&L."""

    totals: Totals = Totals()
    peak: int = 0

    def next(self, totals: Totals) -> PortfolioRisk:
        """The figures after ``totals``, the peak carried on."""
        return PortfolioRisk(totals, max(self.peak, totals.pnl))

    @property
    def drawdown(self) -> int:
        """The peak less the P&L."""
        return self.peak - self.totals.pnl


def portfolio_headroom(
    risk: PortfolioRisk, limits: PortfolioRiskLimits
) -> tuple[int | None, int | None, int | None, int | None]:
    """The room left under the portfolio's loss, drawdown, gross and net limits."""
    return (
        _room(limits.max_loss, -risk.totals.pnl),
        _room(limits.max_drawdown, risk.drawdown),
        _room(limits.max_gross, risk.totals.gross),
        _room(limits.max_net, abs(risk.totals.net)),
    )


def portfolio_breach(risk: PortfolioRisk, limits: PortfolioRiskLimits) -> Breach | None:
    """The portfolio's first limit breached."""
    loss, drawdown, gross, net = portfolio_headroom(risk, limits)
    return _first_breach(
        [
            (loss, Breach.LOSS),
            (drawdown, Breach.DRAWDOWN),
            (gross, Breach.GROSS_EXPOSURE),
            (net, Breach.NET_EXPOSURE),
        ]
    )


@dataclass(frozen=True, slots=True)
class Change:
    """A key's state changed: from, to, and why (``operator``, ``stale-heartbeat`` or a breach)."""

    key: int
    before: int
    after: int
    cause: str


@dataclass(slots=True)
class Board:
    """Each key's operator state and latched state."""

    operator: dict[int, int] = field(default_factory=dict)
    latched: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, instruments: tuple[int, ...]) -> Board:
        """Every key of ``instruments``, and the portfolio's, active."""
        keys = (PORTFOLIO, *instruments)
        return cls({k: ACTIVE for k in keys}, {k: ACTIVE for k in keys})

    def state(self, key: int) -> int:
        """The state the gate sees for ``key``."""
        return max(self.operator[key], self.latched[key])

    def latch(self, key: int, state: int, cause: str) -> Change | None:
        """Latches ``state`` on ``key`` (it only gets stricter); the change, if any."""
        if key not in self.latched:
            return None
        before = self.state(key)
        self.latched[key] = max(self.latched[key], state)
        return _changed(key, before, self.state(key), cause)

    def set_by_operator(self, key: int, state: int) -> Change | None:
        """An operator sets ``key``; setting it active clears its latch. The order is always
        answered (``None``: no such key), even when it leaves the state as it was."""
        if key not in self.operator:
            return None
        before = self.state(key)
        self.operator[key] = state
        if state == ACTIVE:
            self.latched[key] = ACTIVE
        return Change(key, before, self.state(key), "operator")


@dataclass(slots=True)
class RiskEngine:
    """The rules run one event at a time: each report or book moves its symbol's figures, then
    the symbol's limits are judged, then the portfolio's totals and limits; a breach latches its
    state on the board."""

    portfolio: Portfolio
    symbol_limits: dict[int, SymbolRiskLimits]
    portfolio_limits: PortfolioRiskLimits
    board: Board
    risk: PortfolioRisk = PortfolioRisk()

    @classmethod
    def of(cls, symbols: tuple[SymbolRiskLimits, ...], whole: PortfolioRiskLimits, venues: int) -> RiskEngine:
        """Flat, for the symbols ``symbols`` names, under these limits."""
        instruments = tuple(s.instrument for s in symbols)
        return cls(
            Portfolio(instruments, venues), {s.instrument: s for s in symbols}, whole, Board.of(instruments)
        )

    def apply(self, report: ReportFacts) -> list[Change]:
        """Applies one report; the states it changed."""
        return self._judge(self.portfolio.apply(report))

    def mark(self, instrument: int, venue: int, bid: int, ask: int) -> list[Change]:
        """Sets a venue's book for a symbol; the states it changed."""
        return self._judge(self.portfolio.mark(instrument, venue, bid, ask))

    def _judge(self, figures: SymbolRisk) -> list[Change]:
        changes = [self._judge_symbol(figures)]
        self.risk = self.risk.next(self.portfolio.totals())
        changes.append(self._judge_portfolio())
        return [c for c in changes if c is not None]

    def _judge_symbol(self, figures: SymbolRisk) -> Change | None:
        breach = symbol_breach(figures, self.symbol_limits[figures.instrument])
        return None if breach is None else self.board.latch(figures.instrument, breach.state, breach.label)

    def _judge_portfolio(self) -> Change | None:
        breach = portfolio_breach(self.risk, self.portfolio_limits)
        return None if breach is None else self.board.latch(PORTFOLIO, breach.state, breach.label)

    def operator(self, key: int, state: int) -> list[Change]:
        """An operator sets ``key``'s state; a breach still standing latches again at once."""
        changes = [self.board.set_by_operator(key, state)]
        if key == PORTFOLIO:
            changes.append(self._judge_portfolio())
        elif key in self.symbol_limits:
            changes.append(self._judge_symbol(self.portfolio.symbol(key)))
        return [c for c in changes if c is not None]


def _changed(key: int, before: int, after: int, cause: str) -> Change | None:
    return None if before == after else Change(key, before, after, cause)


__all__ = [
    "PORTFOLIO",
    "Board",
    "Breach",
    "Change",
    "OpenOrder",
    "Portfolio",
    "PortfolioError",
    "PortfolioRisk",
    "PortfolioRiskLimits",
    "Position",
    "ReportFacts",
    "RiskEngine",
    "SymbolRisk",
    "SymbolRiskLimits",
    "Totals",
    "portfolio_breach",
    "portfolio_headroom",
    "symbol_breach",
    "symbol_headroom",
]
