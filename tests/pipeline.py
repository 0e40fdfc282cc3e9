"""Starting venue and feed processes for tests, and reading what they announce."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from shm_layout import FIXED_POINT_SCALE, FLAG_STALE, TOP_OF_BOOK, SlotReader
from tickrail.process import Announcements

#: Units of a venue's prices (1/10,000) in shared memory's fixed point.
PRICE_TO_FIXED = FIXED_POINT_SCALE // 10_000


@dataclass
class Process:
    """A child process whose stdout carries one JSON object per line."""

    name: str
    popen: subprocess.Popen[str]
    announcements: Announcements | None = None

    def expect(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        """Waits (bounded) for the next announcement of ``event``; fails with the process's
        stderr if it exits or stays silent."""
        if self.announcements is None:
            assert self.popen.stdout is not None
            self.announcements = Announcements(self.popen.stdout)
        announced = self.announcements.next(event, timeout)
        if announced is not None:
            return announced
        self.popen.kill()
        _, err = self.popen.communicate(timeout=5)
        raise AssertionError(f"{self.name} never announced {event!r}; stderr:\n{err}")

    def wait(self, timeout: float = 10.0) -> int:
        """Waits (bounded) for the process to exit on its own; its status."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)
            raise AssertionError(f"{self.name} did not exit within {timeout} s") from None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then a bounded wait; SIGKILL if it hangs."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)
            raise AssertionError(f"{self.name} did not stop within {timeout} s") from None


def start(name: str, module: str, *args: str, env: dict[str, str] | None = None) -> Process:
    """Starts ``python -m module args...``, with ``env`` added to the environment."""
    popen = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    return Process(name, popen)


def top_of_book(books: str, instrument_id: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """The bids, asks (``(price, quantity)`` in shared memory's fixed point) and flags of an
    instrument's slot."""
    reader = SlotReader.open(books)
    raw = reader.read(instrument_id)
    assert raw is not None, f"{books} has no book for instrument {instrument_id}"
    top = np.frombuffer(raw, dtype=TOP_OF_BOOK)[0]
    bids = [(int(p), int(q)) for p, q in top["bids"][: top["bid_levels"]]]
    asks = [(int(p), int(q)) for p, q in top["asks"][: top["ask_levels"]]]
    return bids, asks, int(top["flags"])


def venue_levels(levels: list[tuple[int, int]], depth: int = 10) -> list[tuple[int, int]]:
    """A venue's levels (price in 1/10,000, quantity in shares) in shared memory's units."""
    return [(p * PRICE_TO_FIXED, q * FIXED_POINT_SCALE) for p, q in levels[:depth]]


def book_mismatches(books: str, closing: list[list[Any]], ids: dict[str, int]) -> list[str]:
    """How the feed's books in ``books`` differ from a venue's closing books (``(name, bids,
    asks)``), stale flags included; empty when they match."""
    problems = []
    for name, bids, asks in closing:
        top_bids, top_asks, flags = top_of_book(books, ids[name])
        if flags & FLAG_STALE:
            problems.append(f"{name} is stale")
        if top_bids != venue_levels(bids):
            problems.append(f"{name} bids {top_bids} != venue {venue_levels(bids)}")
        if top_asks != venue_levels(asks):
            problems.append(f"{name} asks {top_asks} != venue {venue_levels(asks)}")
    return problems


def settle(books: str, closing: list[list[Any]], ids: dict[str, int], timeout: float = 5.0) -> list[str]:
    """Waits (bounded) for the feed's books to match the venue's closing books; what still
    differs at the deadline (empty: they match)."""
    deadline = time.monotonic() + timeout
    while (problems := book_mismatches(books, closing, ids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return problems
