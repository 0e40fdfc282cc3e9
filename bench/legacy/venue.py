"""What each venue's adapters give the legacy engine: a market-data :class:`Feed` that calls
back on every book change, and an order-entry :class:`Gateway` that writes orders at once and
calls back with the venue's reports.

Prices and quantities are fixed point in units of 1e-9, as everywhere in tickrail; order ids are
the engine's integers (each adapter turns them into its protocol's client order ids and back).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

#: ``on_book(instrument, bid, bid_quantity, ask, ask_quantity, received_ns)``: a listed
#: symbol's book changed; its best prices (0 where a side is empty) after the change, and the
#: ``time.monotonic_ns()`` taken when the bytes carrying the change were read from the socket.
OnBook = Callable[[int, int, int, int, int, int], None]


class Kind(enum.Enum):
    """What a venue said about one of our orders."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    FILL = "fill"
    CANCELED = "canceled"
    CANCEL_REJECTED = "cancel rejected"
    REPLACED = "replaced"
    REPLACE_REJECTED = "replace rejected"
    EXPIRED = "expired"


@dataclass(slots=True, frozen=True)
class Report:
    """One report: ``id`` is the order it is about (for ``REPLACED`` and ``REPLACE_REJECTED``,
    the replacement's id, with the replaced order's id in ``original``); a ``FILL`` carries
    its ``quantity`` and ``price``."""

    kind: Kind
    id: int
    original: int = 0
    quantity: int = 0
    price: int = 0


#: ``on_report(report)``: called for every report, in the order the venue sent them.
OnReport = Callable[[Report], None]


class Feed(Protocol):
    """A venue's market-data handler."""

    #: Market-data messages decoded.
    messages: int
    #: Messages the venue sent that the handler never applied (sequence gaps not recovered).
    lost: int

    async def run(self) -> None:
        """Connects (or binds), then reads and applies until cancelled."""


class Gateway(Protocol):
    """A venue's order-entry session."""

    async def connect(self) -> None:
        """Connects and logs on; returns once the venue has accepted the logon."""

    def new(self, id: int, instrument: int, buy: bool, price: int, quantity: int) -> None:
        """Writes a new limit order (day, not IOC)."""

    def replace(self, original: int, id: int, price: int, quantity: int) -> None:
        """Writes a cancel-replace of working order ``original`` by ``id``."""

    def cancel(self, id: int) -> None:
        """Writes a cancel of working order ``id``."""

    def close(self) -> None:
        """Closes the session's socket."""
