"""What the execution worker is told to do, worked out from the instance's configuration when
the supervisor plans the instance: the venues it trades on (with their order-entry addresses,
logins, book segments and listings), each symbol's limits and quoting in fixed point, the
portfolio's limits, and its segments and journal. The worker takes it as one JSON argument.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from risk.reference import gate as ref
from risk.shadow import limits_from
from tickrail import _native
from tickrail.config import ConfigError, Execution, Instance
from tickrail.control import runtime_dir
from tickrail.market import LETTERS, instruments, listed
from tickrail.trading import segment_name as trading_segment

#: Fixed point: units of 1e-9.
SCALE = 1_000_000_000
#: Each protocol's venue letter (its listings) and order-entry protocol.
PROTOCOLS = {
    protocol: (LETTERS[protocol], entry)
    for protocol, entry in (("itch", "ouch"), ("fix", "fix"), ("json", "json"))
}
#: How the execution worker logs on to a simulated venue: (login, credential).
SIMULATED_LOGINS = {
    "ouch": ("TRKR", "tickrail"),
    "fix": ("TRKREXEC", "VENUEB"),
    "json": ("tickrail", "tickrail-secret"),
}


#: Reports the reports queue holds before the execution worker keeps them back.
REPORTS_CAPACITY = 1 << 16


def prefix(instance: str) -> str:
    """The prefix of the execution worker's segments."""
    return f"tickrail.{instance}.execution"


def metrics_segment(instance: str) -> str:
    """The execution worker's metrics segment."""
    return f"{prefix(instance)}.metrics"


def reports_segment(segments_prefix: str) -> str:
    """The execution worker's reports queue, for the risk worker, under ``segments_prefix``."""
    return f"{segments_prefix}.reports"


def gate_calls_segment(segments_prefix: str) -> str:
    """The execution worker's gate ring (every call on its pre-trade gate, for shadow mode)."""
    return f"{segments_prefix}.gate"


#: Gate calls the gate ring holds before a reader that lags loses the oldest.
GATE_CALLS_CAPACITY = 1 << 18
#: Readers the gate ring has room for (shadow sessions).
GATE_CALLS_READERS = 4


def journal_path(instance: Instance) -> Path:
    """Where the execution worker's journal is."""
    assert instance.execution is not None
    if instance.execution.journal:
        return Path(instance.execution.journal)
    return runtime_dir() / f"{instance.name}.journal"


def venues(instance: Instance, addresses: dict[str, str]) -> list[dict[str, Any]]:
    """The binding's description of each venue traded."""
    assert instance.execution is not None
    described = []
    for name in instance.execution.venues:
        venue = instance.venues[name]
        letter, protocol = PROTOCOLS[venue.protocol]
        feed = next(f for f in instance.feeds.values() if f.venue == name)
        if name not in addresses:
            raise ConfigError(f"execution: no --address for venue {name!r}")
        login, credential = SIMULATED_LOGINS[protocol]
        described.append(
            {
                "protocol": protocol,
                "address": addresses[name],
                "books": f"tickrail.{instance.name}.{feed.segments}.books",
                "symbols": [(s.name, s.instrument_id) for s in listed(letter)],
                "login": login,
                "credential": credential,
            }
        )
    return described


def symbols(instance: Instance) -> list[dict[str, Any]]:
    """Each symbol traded, with its limits and quoting, in fixed point."""
    execution: Execution | None = instance.execution
    assert execution is not None
    q, lim = execution.quoting, execution.limits
    names = {
        s.name: s for name in execution.venues for s in listed(PROTOCOLS[instance.venues[name].protocol][0])
    }
    described = []
    for symbol in sorted(names.values(), key=lambda s: s.instrument_id):
        lot = symbol.lot * SCALE
        described.append(
            {
                "instrument": symbol.instrument_id,
                "tick": round(symbol.tick * SCALE),
                "lot": lot,
                "min_quantity": lot,
                "max_quantity": lim.max_order_lots * lot,
                "max_notional": round(lim.max_order_notional * SCALE),
                "price_band_bps": lim.price_band_bps,
                "max_position": lim.max_position_lots * lot,
                "max_venue_position": lim.max_venue_position_lots * lot,
                "max_working_orders": lim.max_working_orders,
                "order_rate_per_s": lim.order_rate_per_s,
                "order_burst": lim.order_burst,
                "cancel_rate_per_s": lim.cancel_rate_per_s,
                "cancel_burst": lim.cancel_burst,
                "half_spread_ticks": q.half_spread_ticks,
                "level_spacing_ticks": q.level_spacing_ticks,
                "levels": q.levels,
                "size": q.size_lots * lot,
                "skew_ticks_per_lot": q.skew_ticks_per_lot,
                "tolerance_ticks": q.tolerance_ticks,
                "fee_bps": q.fee_bps,
                "arbitrage_margin_ticks": q.arbitrage_margin_ticks,
                "arbitrage_size": q.arbitrage_lots * lot,
            }
        )
    return described


def portfolio(execution: Execution) -> dict[str, Any]:
    """The portfolio's limits, in fixed point."""
    lim = execution.limits
    return {
        "max_gross_notional": round(lim.max_gross_notional * SCALE),
        "max_net_notional": round(lim.max_net_notional * SCALE),
        "max_working_orders": lim.max_portfolio_working_orders,
        "max_risk_heartbeat_age_ms": lim.max_risk_heartbeat_ms,
        "max_book_age_ms": lim.max_book_age_ms,
    }


def describe(instance: Instance, addresses: dict[str, str]) -> dict[str, Any]:
    """Everything the worker needs, with each traded venue's order-entry address from
    ``addresses`` (by venue name)."""
    if instance.execution is None:
        raise ConfigError("the instance has no [execution] table")
    return {
        "venues": venues(instance, addresses),
        "symbols": symbols(instance),
        "portfolio": portfolio(instance.execution),
        "trading": trading_segment(instance.name),
        "metrics": metrics_segment(instance.name),
        "reports": reports_segment(prefix(instance.name)),
        "gate_calls": gate_calls_segment(prefix(instance.name)),
        "journal": str(journal_path(instance)),
        **python_strategy(instance.execution),
    }


def gate_limits(instance: Instance) -> ref.Limits:
    """The limits the execution worker's gate enforces, built by the binding as the worker
    builds them from :func:`symbols` and :func:`portfolio`, for the reference rules in shadow
    mode."""
    assert instance.execution is not None
    built = _native.gate_limits(
        symbols(instance), portfolio(instance.execution), len(instance.execution.venues)
    )
    return limits_from(built)


def python_strategy(execution: Execution) -> dict[str, Any]:
    """The Python strategy, if any: ``linked`` (the instrument ids it trades instead of the
    built-in market maker) and ``python`` (``strategy``, ``params``, and the names of the
    ``venues`` by index and ``symbols`` by instrument id that it sees)."""
    if execution.python is None:
        return {}
    ids = dict(instruments())
    return {
        "linked": [ids[name] for name in execution.python.symbols],
        "python": {
            "strategy": execution.python.strategy,
            "params": execution.python.params,
            "venues": list(execution.venues),
            "symbols": {str(ids[name]): name for name in execution.python.symbols},
        },
    }
