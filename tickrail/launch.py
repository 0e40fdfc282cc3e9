"""What the supervisor starts for an instance: each worker's command line, in start order
(venues before the feeds that follow them), with every address settled (free loopback ports for
a simulated venue's unset ones), and the segments each worker writes, named under the
instance's prefix and created by the supervisor before the worker starts: a restarted worker
attaches to them and carries on, so their readers resume.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass

from shm_layout import EXECUTION_REPORT, GATE_CALL, TRADING_STATE, BroadcastWriter, QueueWriter, SlotWriter
from tickrail import execution_plan, risk_plan
from tickrail._native import create_execution_metrics, create_execution_reports, create_feed_segments
from tickrail.config import ADDRESSES, Feed, Instance, Pinning, Venue, worker_name
from tickrail.market import instruments
from tickrail.trading import TradingStates

SEGMENT_SUFFIXES = ("events", "books", "metrics")
#: The address each protocol's venue takes orders on.
ORDER_ENTRY = {"itch": "order_entry", "fix": "fix", "json": "orders"}
#: A venue's heartbeat: a one-key slot table whose writer's heartbeat its main loop refreshes.
VENUE_HEARTBEAT_SUFFIX = "heartbeat"
#: How long a closing simulated venue serves recovery, so its feeds settle on its closing books.
VENUE_LINGER_MS = 3000


@dataclass(frozen=True)
class WorkerSpec:
    """One worker process: ``python -m <argv>``, where it runs, the worker it follows, the
    segments it writes (under ``prefix``) and the one whose writer heartbeat shows it alive."""

    name: str
    kind: str
    argv: tuple[str, ...]
    pinning: Pinning
    after: str | None
    prefix: str
    segments: tuple[str, ...]
    heartbeat: str
    ring_capacity: int | None = None
    levels: int = 10

    def create_segments(self) -> None:
        """Creates the worker's segments, replacing any a dead run left behind."""
        if self.kind == "feed":
            create_feed_segments(self.prefix, ring_capacity=self.ring_capacity or 1 << 16, replace_stale=True)
        elif self.kind == "risk":
            commands, forward, events, trading = self.segments
            QueueWriter.create(
                commands, risk_plan.COMMANDS_CAPACITY, TRADING_STATE.itemsize, replace_stale=True
            ).close()
            create_execution_reports(forward, risk_plan.FORWARD_CAPACITY, replace_stale=True)
            BroadcastWriter.create(
                events,
                risk_plan.EVENTS_CAPACITY,
                EXECUTION_REPORT.itemsize,
                risk_plan.EVENTS_READERS,
                replace_stale=True,
            ).close()
            # Every state starts active; the risk worker takes the writer's role from here on.
            TradingStates(trading, dict(instruments())).close()
        elif self.kind == "execution":
            create_execution_metrics(self.heartbeat, replace_stale=True)
            reports = execution_plan.reports_segment(self.prefix)
            create_execution_reports(reports, execution_plan.REPORTS_CAPACITY, replace_stale=True)
            BroadcastWriter.create(
                execution_plan.gate_calls_segment(self.prefix),
                execution_plan.GATE_CALLS_CAPACITY,
                GATE_CALL.itemsize,
                execution_plan.GATE_CALLS_READERS,
                replace_stale=True,
            ).close()
        else:
            SlotWriter.create(self.heartbeat, 1, 8, replace_stale=True).close()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A loopback port free at the time of asking (UDP or TCP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settled_addresses(venue: Venue, port: Callable[[int], int] = free_port) -> dict[str, str]:
    """Every address of ``venue``: the configured ones, free loopback ports for the rest (UDP
    for venue A's market data and re-requests, TCP otherwise)."""
    udp = {"market_data", "rerequest"} if venue.protocol == "itch" else set()
    return {
        key: venue.addresses.get(key)
        or f"127.0.0.1:{port(socket.SOCK_DGRAM if key in udp else socket.SOCK_STREAM)}"
        for key in ADDRESSES[venue.protocol]
    }


def _risk_spec(instance: Instance, books: list[str], feeds: list[str]) -> WorkerSpec:
    assert instance.risk is not None
    described = risk_plan.describe(instance, books, feeds)
    argv = ("risk", "--spec", json.dumps(described), *_lock_memory(instance.risk.pinning))
    segments = (described["commands"], described["forward"], described["events"], described["trading"])
    # Its heartbeat is the trading state's: the gate fails closed on the same one.
    return WorkerSpec(
        "risk",
        "risk",
        argv,
        instance.risk.pinning,
        None,
        risk_plan.prefix(instance.name),
        segments,
        described["trading"],
    )


def _venue_argv(
    instance: Instance, venue: Venue, addresses: dict[str, str], heartbeat: str
) -> tuple[str, ...]:
    argv = ["venues", _letter(venue), "--seed", str(instance.seed), "--rate", str(venue.rate)]
    argv += ["--heartbeat", heartbeat, "--linger-ms", str(VENUE_LINGER_MS), *_lock_memory(venue.pinning)]
    login, credential = execution_plan.SIMULATED_LOGINS[execution_plan.PROTOCOLS[venue.protocol][1]]
    if venue.protocol == "itch":
        argv += ["--destination", addresses["market_data"], "--rerequest", addresses["rerequest"]]
        argv += ["--order-entry", addresses["order_entry"], "--user", f"{login}:{credential}"]
    elif venue.protocol == "fix":
        argv += ["--fix", addresses["fix"]]
    else:
        argv += ["--market-data", addresses["market_data"], "--orders", addresses["orders"]]
        argv += ["--api-key", f"{login}:{credential}"]
    return tuple(argv)


def _feed_argv(feed: Feed, venue: Venue, prefix: str, addresses: dict[str, str]) -> tuple[str, ...]:
    # The supervisor creates the segments; every start of the feed attaches to them.
    argv = ["feeds", "live", _letter(venue), "--prefix", prefix, "--levels", str(feed.levels), "--attach"]
    argv += _lock_memory(feed.pinning)
    if venue.protocol == "itch":
        argv += ["--listen", addresses["market_data"], "--rerequest", addresses["rerequest"]]
        argv += ["--poll", "spin" if feed.wait == "spin" else "block"]
    else:
        argv += ["--venue-addr", addresses["fix" if venue.protocol == "fix" else "market_data"]]
    return tuple(argv)


def _lock_memory(pinning: Pinning) -> list[str]:
    return ["--lock-memory"] if pinning.lock_memory else []


def _letter(venue: Venue) -> str:
    return {"itch": "a", "fix": "b", "json": "c"}[venue.protocol]


def plan(instance: Instance, port: Callable[[int], int] = free_port) -> list[WorkerSpec]:
    """The workers of ``instance`` in start order."""
    addresses = {name: settled_addresses(venue, port) for name, venue in instance.venues.items()}
    specs = []
    for venue in instance.venues.values():
        if not venue.simulated:
            continue
        name = worker_name("venue", venue.name)
        prefix = f"tickrail.{instance.name}.{name}"
        heartbeat = f"{prefix}.{VENUE_HEARTBEAT_SUFFIX}"
        argv = _venue_argv(instance, venue, addresses[venue.name], heartbeat)
        specs.append(WorkerSpec(name, "venue", argv, venue.pinning, None, prefix, (heartbeat,), heartbeat))
    for feed in instance.feeds.values():
        venue = instance.venues[feed.venue]
        prefix = f"tickrail.{instance.name}.{feed.segments}"
        segments = tuple(f"{prefix}.{suffix}" for suffix in SEGMENT_SUFFIXES)
        specs.append(
            WorkerSpec(
                name=worker_name("feed", feed.name),
                kind="feed",
                argv=_feed_argv(feed, venue, prefix, addresses[venue.name]),
                pinning=feed.pinning,
                after=worker_name("venue", venue.name) if venue.simulated else None,
                prefix=prefix,
                segments=segments,
                heartbeat=segments[-1],
                ring_capacity=feed.ring_capacity,
                levels=feed.levels,
            )
        )
    if instance.execution is not None:
        entry = {
            name: addresses[name][ORDER_ENTRY[instance.venues[name].protocol]]
            for name in instance.execution.venues
        }
        spec = execution_plan.describe(instance, entry)
        metrics, reports = spec["metrics"], spec["reports"]
        if instance.risk is not None:
            feeds = [s.heartbeat for s in specs if s.kind == "feed"]
            specs.append(_risk_spec(instance, [venue["books"] for venue in spec["venues"]], feeds))
        spin = ["--spin"] if instance.execution.spin else []
        argv = ("execution", "--spec", json.dumps(spec), *spin, *_lock_memory(instance.execution.pinning))
        prefix = execution_plan.prefix(instance.name)
        specs.append(
            WorkerSpec(
                "execution",
                "execution",
                argv,
                instance.execution.pinning,
                None,
                prefix,
                (metrics, reports, spec["gate_calls"]),
                metrics,
            )
        )
    return specs
