"""Checking a feed's books against its venue's closing books: the end-to-end proof that what the
feed published in shared memory is the venue's market, level for level.

A simulated venue told to close stops its flow and announces every symbol's book (``closed``),
then keeps serving recovery for a while; the feed settles on those books, or the difference is
reported.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from shm_layout import FIXED_POINT_SCALE, FLAG_STALE, TOP_OF_BOOK, SlotReader
from tickrail.market import PRICE_UNITS

#: Units of a venue's prices (1/10,000) in shared memory's fixed point.
PRICE_TO_FIXED = FIXED_POINT_SCALE // PRICE_UNITS

#: A side's levels, best first: ``(price, quantity)``.
Levels = list[tuple[int, int]]


def top_of_book(books: str, instrument_id: int) -> tuple[Levels, Levels, int]:
    """The bids, asks (``(price, quantity)`` in shared memory's fixed point) and flags of an
    instrument's slot."""
    raw = SlotReader.open(books).read(instrument_id)
    if raw is None:
        return [], [], FLAG_STALE
    top = np.frombuffer(raw, dtype=TOP_OF_BOOK)[0]
    bids = [(int(p), int(q)) for p, q in top["bids"][: top["bid_levels"]]]
    asks = [(int(p), int(q)) for p, q in top["asks"][: top["ask_levels"]]]
    return bids, asks, int(top["flags"])


def venue_levels(levels: Levels, depth: int = 10) -> Levels:
    """A venue's levels (price in 1/10,000, quantity in shares) in shared memory's units."""
    return [(p * PRICE_TO_FIXED, q * FIXED_POINT_SCALE) for p, q in levels[:depth]]


def book_mismatches(books: str, closing: list[list[Any]], ids: dict[str, int], depth: int = 10) -> list[str]:
    """How the feed's books in ``books`` differ from a venue's closing books (``(name, bids,
    asks)``) in their top ``depth`` levels, stale flags included; empty when they match."""
    problems = []
    for name, bids, asks in closing:
        if name not in ids:
            problems.append(f"{name} has no instrument id")
            continue
        top_bids, top_asks, flags = top_of_book(books, ids[name])
        if flags & FLAG_STALE:
            problems.append(f"{name} is stale")
        if top_bids != venue_levels(bids, depth):
            problems.append(f"{name} bids {top_bids} != venue {venue_levels(bids, depth)}")
        if top_asks != venue_levels(asks, depth):
            problems.append(f"{name} asks {top_asks} != venue {venue_levels(asks, depth)}")
    return problems


def settle(
    books: str, closing: list[list[Any]], ids: dict[str, int], timeout: float = 5.0, depth: int = 10
) -> list[str]:
    """Waits (bounded) for the feed's books to match the venue's closing books; what still
    differs at the deadline (empty: they match)."""
    deadline = time.monotonic() + timeout
    while (problems := book_mismatches(books, closing, ids, depth)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return problems
