"""The market every process agrees on: the symbols, the firm's instrument ids, and which venue
lists which symbol.

Instrument ids are the same on every venue, so a book of AAPL from venue A and one from venue C
sit at the same key of their venues' book slots. Every venue lists AAPL and SPY, so cross-venue
quoting and arbitrage are always possible.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickrail import _native

#: Prices in the venues' flow model are integers of this many units per dollar.
PRICE_UNITS = 10_000


@dataclass(frozen=True)
class Symbol:
    """One instrument: its name on the venues, its id, and its flow parameters."""

    name: str
    instrument_id: int
    start_price: float
    tick: float = 0.01
    lot: int = 100
    volatility: float = 0.002
    half_spread_ticks: int = 1

    def as_tuple(self) -> tuple[str, int, int, int, float, int]:
        """The ``(name, start_price, tick, lot, volatility, half_spread)`` tuple the native
        venues take, prices in 1/10,000 of a dollar."""
        return (
            self.name,
            round(self.start_price * PRICE_UNITS),
            round(self.tick * PRICE_UNITS),
            self.lot,
            self.volatility,
            self.half_spread_ticks,
        )


#: The default market.
SYMBOLS: tuple[Symbol, ...] = (
    Symbol("AAPL", 1, 190.00),
    Symbol("MSFT", 2, 420.00),
    Symbol("SPY", 3, 560.00),
    Symbol("NVDA", 4, 130.00),
)

#: Which symbols each venue lists.
LISTINGS: dict[str, tuple[str, ...]] = {
    "a": ("AAPL", "MSFT", "SPY", "NVDA"),
    "b": ("AAPL", "MSFT", "SPY"),
    "c": ("AAPL", "SPY", "NVDA"),
}


def listed(venue: str) -> list[Symbol]:
    """The symbols ``venue`` lists, in the default market's order."""
    try:
        names = LISTINGS[venue]
    except KeyError:
        raise ValueError(f"no venue {venue!r}: the venues are {', '.join(sorted(LISTINGS))}") from None
    return [s for s in SYMBOLS if s.name in names]


def instruments() -> list[tuple[str, int]]:
    """Every ``(symbol, instrument id)`` pair, as the feeds take them."""
    return [(s.name, s.instrument_id) for s in SYMBOLS]


#: The simulated venue each market-data protocol belongs to (its listings).
LETTERS: dict[str, str] = {"itch": "a", "fix": "b", "json": "c"}

#: Each venue's number, which gives its flow its own random draws.
VENUE_NUMBERS: dict[str, int] = {"a": 1, "b": 2, "c": 3}


def market(seed: int, venue: str) -> _native.Market:
    """The market as ``venue`` lists it, from the session's ``seed`` (shared by all venues, so
    their fair values move together)."""
    return _native.Market(seed, [s.as_tuple() for s in listed(venue)])


def flow(venue: str, rate_per_s: float, lag_ns: int = 0, noise: float = 0.5) -> _native.Flow:
    """``venue``'s order flow."""
    return _native.Flow(VENUE_NUMBERS[venue], rate_per_s=rate_per_s, lag_ns=lag_ns, noise=noise)
