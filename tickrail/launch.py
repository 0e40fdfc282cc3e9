"""What the supervisor starts for an instance: each worker's command line, in start order
(venues before the feeds that follow them), with every address settled (free loopback ports for
a simulated venue's unset ones) and every segment named under the instance's prefix.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from tickrail.config import ADDRESSES, Feed, Instance, Venue

SEGMENT_SUFFIXES = ("events", "books", "metrics")


@dataclass(frozen=True)
class WorkerSpec:
    """One worker process: ``python -m <argv>``, where to pin it, what it owns."""

    name: str
    kind: str
    argv: tuple[str, ...]
    core: int | None
    after: str | None
    segments: tuple[str, ...]


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


def _venue_argv(instance: Instance, venue: Venue, addresses: dict[str, str]) -> tuple[str, ...]:
    argv = ["venues", _letter(venue), "--seed", str(instance.seed), "--rate", str(venue.rate)]
    if venue.protocol == "itch":
        argv += ["--destination", addresses["market_data"], "--rerequest", addresses["rerequest"]]
        argv += ["--order-entry", addresses["order_entry"]]
    elif venue.protocol == "fix":
        argv += ["--fix", addresses["fix"]]
    else:
        argv += ["--market-data", addresses["market_data"], "--orders", addresses["orders"]]
    return tuple(argv)


def _feed_argv(feed: Feed, venue: Venue, prefix: str, addresses: dict[str, str]) -> tuple[str, ...]:
    # A restarted feed takes over the segments its dead predecessor left (`--replace-stale`).
    argv = [
        "feeds",
        "live",
        _letter(venue),
        "--prefix",
        prefix,
        "--levels",
        str(feed.levels),
        "--replace-stale",
    ]
    if venue.protocol == "itch":
        argv += ["--listen", addresses["market_data"], "--rerequest", addresses["rerequest"]]
        argv += ["--poll", "spin" if feed.wait == "spin" else "block"]
    else:
        argv += ["--venue-addr", addresses["fix" if venue.protocol == "fix" else "market_data"]]
    return tuple(argv)


def _letter(venue: Venue) -> str:
    return {"itch": "a", "fix": "b", "json": "c"}[venue.protocol]


def plan(instance: Instance, port: Callable[[int], int] = free_port) -> list[WorkerSpec]:
    """The workers of ``instance`` in start order."""
    addresses = {name: settled_addresses(venue, port) for name, venue in instance.venues.items()}
    specs = [
        WorkerSpec(f"venue {v.name}", "venue", _venue_argv(instance, v, addresses[v.name]), v.core, None, ())
        for v in instance.venues.values()
        if v.simulated
    ]
    for feed in instance.feeds.values():
        venue = instance.venues[feed.venue]
        prefix = f"tickrail.{instance.name}.{feed.segments}"
        specs.append(
            WorkerSpec(
                name=f"feed {feed.name}",
                kind="feed",
                argv=_feed_argv(feed, venue, prefix, addresses[venue.name]),
                core=feed.core,
                after=f"venue {venue.name}" if venue.simulated else None,
                segments=tuple(f"{prefix}.{suffix}" for suffix in SEGMENT_SUFFIXES),
            )
        )
    return specs
