"""numpy structured dtypes of the shared-memory records, built from the Rust definitions.

The layouts come from :func:`tickrail._native.record_layouts`, so the Rust structs stay the only
definition: a field added there appears here without an edit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tickrail import _native

#: Prices and quantities are integers in units of ``1 / FIXED_POINT_SCALE``.
FIXED_POINT_SCALE: int = _native.FIXED_POINT_SCALE

#: A record's ``flags`` bit saying its book is not known to be correct (a gap is open).
FLAG_STALE: int = _native.FLAG_STALE


def _build_dtypes() -> dict[str, np.dtype[Any]]:
    dtypes: dict[str, np.dtype[Any]] = {}
    for layout in _native.record_layouts():
        formats: list[Any] = []
        for field in layout["fields"]:
            base = dtypes.get(field["format"], field["format"])
            formats.append((base, (field["count"],)) if field["count"] > 1 else base)
        dtypes[layout["name"]] = np.dtype(
            {
                "names": [field["name"] for field in layout["fields"]],
                "formats": formats,
                "offsets": [field["offset"] for field in layout["fields"]],
                "itemsize": layout["size"],
            }
        )
    return dtypes


DTYPES: dict[str, np.dtype[Any]] = _build_dtypes()
"""Every layout's dtype by its Rust name (``MarketEvent``, ``TopOfBook``, ``Level``)."""

TYPE_IDS: dict[str, int] = {
    layout["name"]: layout["type_id"] for layout in _native.record_layouts() if layout["type_id"] is not None
}
"""The ``msg_type`` of each message record."""

MARKET_EVENT: np.dtype[Any] = DTYPES["MarketEvent"]
"""One market-data event (64 bytes): the common header, instrument, side, action, price, quantity."""

TOP_OF_BOOK: np.dtype[Any] = DTYPES["TopOfBook"]
"""The best levels of one instrument's book on one venue, a seqlock slot's record."""

TRADING_STATE: np.dtype[Any] = DTYPES["TradingState"]
"""The trading state of one instrument (instrument 0: of everything), a seqlock slot's record."""

EXECUTION_REPORT: np.dtype[Any] = DTYPES["ExecutionReport"]
"""One execution report as the execution worker applied it, with the order's and the position's
state after it: a record of the execution worker's reports queue."""

MARK: np.dtype[Any] = DTYPES["Mark"]
"""A venue's best bid and ask as the risk worker marked with them: a record of its events ring."""

GATE_CALL: np.dtype[Any] = DTYPES["GateCall"]
"""One call the execution worker made on its pre-trade gate, with what the gate saw and said: a
record of the execution worker's gate ring (shadow mode reads it)."""
