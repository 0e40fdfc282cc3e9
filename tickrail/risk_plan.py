"""What the risk worker is told to do, worked out from the instance's configuration when the
supervisor plans the instance: the symbols and the limits file, the execution worker's reports
queue, the operators' commands queue, each traded venue's book slots (by the execution worker's
venue index), the trading state slots it writes, the forward queue it copies reports on to for
the supervisor, the segments whose heartbeats it watches (every feed's, execution's), and the
execution worker's journal (a restarted risk worker replays from it the reports it had read).
The worker takes it as one JSON argument.
"""

from __future__ import annotations

import os
from typing import Any

from tickrail import execution_plan
from tickrail.config import ConfigError, Instance
from tickrail.market import instruments
from tickrail.trading import segment_name as trading_segment

#: Commands the queue holds (operators' orders are few).
COMMANDS_CAPACITY = 1 << 8
#: Reports the forward queue holds for the supervisor.
FORWARD_CAPACITY = 1 << 16


def prefix(instance: str) -> str:
    """The prefix of the risk worker's segments."""
    return f"tickrail.{instance}.risk"


def commands_segment(instance: str) -> str:
    """The operators' commands queue: trading state records (key and state) for the worker."""
    return f"{prefix(instance)}.commands"


def forward_segment(instance: str) -> str:
    """The reports the risk worker has taken, copied on for the supervisor's views and checks."""
    return f"{prefix(instance)}.reports"


def threads(instance: Instance) -> int:
    """The risk worker's group threads: as configured, else one per core it has (the cores listed
    after the publisher's; one for a process pinned to one core, or on a machine with fewer cores
    than workers, where the group is best on the publisher's thread; else one per core)."""
    risk = instance.risk
    assert risk is not None
    if risk.threads:
        return risk.threads
    if risk.cores:
        return max(len(risk.cores) - 1, 1)
    cores = len(os.sched_getaffinity(0))
    return 1 if risk.pinning.core is not None or cores < len(instance.workers()) else cores


def events_segment(instance: str) -> str:
    """Every event the risk worker applies (reports, and books as it marks with them), in order,
    for shadow mode."""
    return f"{prefix(instance)}.events"


#: Events the events ring holds before a reader that lags loses the oldest.
EVENTS_CAPACITY = 1 << 18
#: Readers the events ring has room for (shadow sessions).
EVENTS_READERS = 4


def describe_symbols(instance: Instance) -> dict[str, int]:
    """The symbols the instance trades, by name, with their instrument ids."""
    traded = {s["instrument"] for s in execution_plan.symbols(instance)}
    return {name: id for name, id in instruments() if id in traded}


def describe(instance: Instance, books: list[str], feeds: list[str]) -> dict[str, Any]:
    """Everything the worker needs, with the book slots of each venue traded, in the execution
    worker's order (``books``), and the feeds' heartbeat segments (``feeds``)."""
    if instance.execution is None or instance.risk is None:
        raise ConfigError("the instance has no [execution] table: there is nothing for risk to watch")
    return {
        "symbols": describe_symbols(instance),
        "limits": instance.risk.limits,
        "books": books,
        "reports": execution_plan.reports_segment(execution_plan.prefix(instance.name)),
        "commands": commands_segment(instance.name),
        "trading": trading_segment(instance.name),
        "forward": forward_segment(instance.name),
        "events": events_segment(instance.name),
        "watched": [*feeds, execution_plan.metrics_segment(instance.name)],
        "max_heartbeat_ms": instance.risk.max_heartbeat_ms,
        "journal": str(execution_plan.journal_path(instance)),
        "threads": threads(instance),
        "spin": instance.risk.spin,
        "cores": list(instance.risk.cores),
    }
