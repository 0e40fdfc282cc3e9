"""Fixed-point integer arithmetic as Rust does it: prices and quantities are integers in units of
1e-9, and a division truncates toward zero (Python's ``//`` floors, which differs for negative
values)."""

from typing import Final

ONE: Final = 1_000_000_000
"""One unit (a share, a dollar) in fixed point."""

I64_MAX: Final = 2**63 - 1
"""Rust's ``i64::MAX``."""


def trunc_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded toward zero, as Rust's integer division rounds."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator < 0) == (denominator < 0) else -quotient


def notional(price: int, quantity: int) -> int:
    """The notional of ``quantity`` at ``price`` (both units of 1e-9), in units of 1e-9 of
    currency, truncated toward zero (Rust's ``i128`` division)."""
    return trunc_div(price * quantity, ONE)


def saturating_sub(minuend: int, subtrahend: int) -> int:
    """``minuend - subtrahend`` for unsigned integers, zero instead of below it (Rust's
    ``u64::saturating_sub``)."""
    return max(minuend - subtrahend, 0)
