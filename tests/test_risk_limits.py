"""The risk limits file: amounts in currency become fixed point, a symbol's own table overrides
the default, a limit left out is no limit; every mistake is refused naming the file and what is
wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from risk.limits import RiskLimitsError, load, parse, unlimited
from risk.reference.numbers import ONE
from risk.reference.portfolio import PortfolioRiskLimits, SymbolRiskLimits

SYMBOLS = {"AAPL": 1, "MSFT": 2}


def test_amounts_become_fixed_point_and_a_symbols_own_table_overrides_the_default() -> None:
    limits = parse(
        "[portfolio]\nmax_loss = 50000\nmax_net = 2.5\n"
        "[default]\nmax_loss = 1000.0\nmax_exposure = 10000\n"
        "[symbols.AAPL]\nmax_exposure = 500.25\n",
        SYMBOLS,
    )
    assert limits.portfolio == PortfolioRiskLimits(max_loss=50_000 * ONE, max_net=2_500_000_000)
    assert limits.symbols == (
        SymbolRiskLimits(1, max_loss=1_000 * ONE, max_exposure=500_250_000_000),
        SymbolRiskLimits(2, max_loss=1_000 * ONE, max_exposure=10_000 * ONE),
    )
    assert parse("", SYMBOLS) == unlimited(SYMBOLS), "an empty file limits nothing"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[portfolio", "not TOML"),
        ("[limits]\n", "unknown table [limits] (known: portfolio, default, symbols)"),
        ("[portfolio]\nmax_gain = 1\n", "portfolio: unknown key 'max_gain' (known: max_loss, max_drawdown"),
        ("[default]\nmax_loss = -5\n", "default.max_loss must be a positive amount of currency, not -5"),
        ("[default]\nmax_loss = 0\n", "default.max_loss must be a positive amount of currency, not 0"),
        (
            "[portfolio]\nmax_net = true\n",
            "portfolio.max_net must be a positive amount of currency, not True",
        ),
        (
            '[portfolio]\nmax_net = "1e6"\n',
            "portfolio.max_net must be a positive amount of currency, not '1e6'",
        ),
        ("[symbols.TSLA]\nmax_loss = 1\n", "symbols.TSLA: no such symbol (AAPL, MSFT)"),
        ("symbols = 3\n", "symbols is not a table of symbols"),
        ("portfolio = 3\n", "portfolio is not a table"),
        ("[symbols.AAPL]\nmax_gross = 1\n", "symbols.AAPL: unknown key 'max_gross'"),
    ],
)
def test_a_limits_file_that_cannot_be_used_is_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(RiskLimitsError, match=re.escape(message)):
        parse(text, SYMBOLS)


def test_the_file_is_named_in_every_refusal(tmp_path: Path) -> None:
    with pytest.raises(RiskLimitsError, match=re.escape(f"{tmp_path / 'none.toml'}: No such file")):
        load(tmp_path / "none.toml", SYMBOLS)
    bad = tmp_path / "bad.toml"
    bad.write_text("[default]\nmax_loss = -1\n")
    with pytest.raises(RiskLimitsError, match=re.escape(f"{bad}: default.max_loss must be")):
        load(bad, SYMBOLS)
