"""The risk limits file: the portfolio risk limits the risk worker enforces, in TOML, in currency.

::

    [portfolio]              # the whole portfolio
    max_loss = 50000.0       # P&L below minus this halts it
    max_drawdown = 25000.0   # P&L this far below the day's peak: reduce-only
    max_gross = 5000000.0    # the sum of the symbols' exposures: reduce-only
    max_net = 2500000.0      # the signed sum's size: reduce-only

    [default]                # every symbol, unless its own table says otherwise
    max_loss = 10000.0
    max_drawdown = 5000.0
    max_exposure = 1000000.0 # the position's notional at the mark

    [symbols.AAPL]
    max_exposure = 500000.0

A limit left out is no limit. Every value is a positive number; an unknown table, key or symbol
is refused by name, and the file as a whole with it (``tickrail risk reload`` keeps the limits in
force when the new file is refused).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from risk.reference.numbers import ONE
from risk.reference.portfolio import PortfolioRiskLimits, SymbolRiskLimits

_PORTFOLIO_KEYS = ("max_loss", "max_drawdown", "max_gross", "max_net")
_SYMBOL_KEYS = ("max_loss", "max_drawdown", "max_exposure")


class RiskLimitsError(ValueError):
    """A limits file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class RiskLimits:
    """Every symbol's limits and the portfolio's, in fixed point (units of 1e-9 of currency)."""

    symbols: tuple[SymbolRiskLimits, ...]
    portfolio: PortfolioRiskLimits


def _amounts(table: Any, where: str, keys: tuple[str, ...]) -> dict[str, int]:
    if not isinstance(table, dict):
        raise RiskLimitsError(f"{where} is not a table")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise RiskLimitsError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(keys)})")
    amounts = {}
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise RiskLimitsError(f"{where}.{key} must be a positive amount of currency, not {value!r}")
        amounts[key] = round(value * ONE)
    return amounts


def parse(text: str, instruments: dict[str, int]) -> RiskLimits:
    """The limits in TOML ``text`` for the symbols ``instruments`` names (name to id)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RiskLimitsError(f"not TOML: {e}") from None
    unknown = sorted(set(document) - {"portfolio", "default", "symbols"})
    if unknown:
        raise RiskLimitsError(f"unknown table [{unknown[0]}] (known: portfolio, default, symbols)")
    portfolio = PortfolioRiskLimits(**_amounts(document.get("portfolio", {}), "portfolio", _PORTFOLIO_KEYS))
    default = _amounts(document.get("default", {}), "default", _SYMBOL_KEYS)
    own = document.get("symbols", {})
    if not isinstance(own, dict):
        raise RiskLimitsError("symbols is not a table of symbols")
    strangers = sorted(set(own) - set(instruments))
    if strangers:
        raise RiskLimitsError(f"symbols.{strangers[0]}: no such symbol ({', '.join(instruments)})")
    symbols = tuple(
        SymbolRiskLimits(
            instrument=instrument,
            **{**default, **_amounts(own.get(name, {}), f"symbols.{name}", _SYMBOL_KEYS)},
        )
        for name, instrument in instruments.items()
    )
    return RiskLimits(symbols, portfolio)


def load(path: Path, instruments: dict[str, int]) -> RiskLimits:
    """The limits in the file at ``path``; an error names the file."""
    try:
        text = path.read_text()
    except OSError as e:
        raise RiskLimitsError(f"{path}: {e.strerror}") from None
    try:
        return parse(text, instruments)
    except RiskLimitsError as e:
        raise RiskLimitsError(f"{path}: {e}") from None


def unlimited(instruments: dict[str, int]) -> RiskLimits:
    """No limit at all (an instance without a limits file)."""
    return RiskLimits(tuple(SymbolRiskLimits(i) for i in instruments.values()), PortfolioRiskLimits())
