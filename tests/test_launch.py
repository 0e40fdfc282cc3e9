"""The launch plan: every worker's command line, in start order, addresses agreed between each
venue and its feed (and execution), the risk worker reading what execution writes and watching
every feed's and execution's heartbeat, segments under the instance's prefix; and the plan
actually runs."""

from __future__ import annotations

import json
from collections.abc import Callable

from pipeline import start
from shm_layout import unlink
from tickrail.config import DEFAULT, Machine, load, parse
from tickrail.launch import plan

TWO_CORES = Machine(frozenset({0, 1}), frozenset(), lambda core: frozenset())


def counting_ports() -> Callable[[int], int]:
    """Ports 40000, 40001, ... in turn, so plans are predictable."""
    ports = iter(range(40000, 41000))
    return lambda kind: next(ports)


def test_venues_start_before_their_feeds_and_both_sides_agree_on_every_address() -> None:
    specs = plan(load(DEFAULT, TWO_CORES), counting_ports())
    assert [s.name for s in specs] == [
        "venue-a",
        "venue-b",
        "venue-c",
        "feed-a",
        "feed-b",
        "feed-c",
        "risk",
        "execution",
    ]
    execution = json.loads(specs[7].argv[specs[7].argv.index("--spec") + 1])
    risk = json.loads(specs[6].argv[specs[6].argv.index("--spec") + 1])
    assert risk["books"] == [v["books"] for v in execution["venues"]], (
        "risk marks the books execution trades on"
    )
    assert risk["reports"] == execution["reports"] and risk["trading"] == execution["trading"]
    assert risk["watched"] == [*(f"tickrail.default.{v}.metrics" for v in "abc"), execution["metrics"]]
    order_entry = specs[0].argv[specs[0].argv.index("--order-entry") + 1]
    fix_orders = specs[1].argv[specs[1].argv.index("--fix") + 1]
    json_orders = specs[2].argv[specs[2].argv.index("--orders") + 1]
    assert [v["address"] for v in execution["venues"]] == [order_entry, fix_orders, json_orders]
    assert [v["books"] for v in execution["venues"]] == [f"tickrail.default.{v}.books" for v in "abc"]
    user = specs[0].argv[specs[0].argv.index("--user") + 1]
    assert user == f"{execution['venues'][0]['login']}:{execution['venues'][0]['credential']}", (
        "venue A knows us"
    )
    venue_a, feed_a = specs[0], specs[3]
    destination = venue_a.argv[venue_a.argv.index("--destination") + 1]
    assert feed_a.argv[feed_a.argv.index("--listen") + 1] == destination
    rerequest = venue_a.argv[venue_a.argv.index("--rerequest") + 1]
    assert feed_a.argv[feed_a.argv.index("--rerequest") + 1] == rerequest
    fix = specs[1].argv[specs[1].argv.index("--fix") + 1]
    assert specs[4].argv[specs[4].argv.index("--venue-addr") + 1] == fix and specs[4].after == "venue-b"
    assert specs[5].segments == (
        "tickrail.default.c.events",
        "tickrail.default.c.books",
        "tickrail.default.c.metrics",
    )


def test_a_real_venue_is_not_started_and_its_feed_uses_the_configured_address() -> None:
    instance = parse(
        '[instance]\nname = "t"\n[venues.b]\nprotocol = "fix"\nsimulated = false\n'
        '[venues.b.addresses]\nfix = "10.0.0.5:9878"\n[feeds.b]\nvenue = "b"\n',
        TWO_CORES,
    )
    (feed,) = plan(instance)
    assert feed.after is None and feed.argv[-2:] == ("--venue-addr", "10.0.0.5:9878")


def test_a_planned_venue_and_feed_run_as_planned() -> None:
    instance = parse(
        '[instance]\nname = "plan"\n[venues.a]\nprotocol = "itch"\n[feeds.a]\nvenue = "a"\n', TWO_CORES
    )
    venue_spec, feed_spec = plan(instance)
    for spec in (venue_spec, feed_spec):
        spec.create_segments()
    venue = start("venue-a", *venue_spec.argv)
    feed = start("feed-a", *feed_spec.argv)
    try:
        assert (
            venue.expect("listening")["rerequest"]
            == venue_spec.argv[venue_spec.argv.index("--rerequest") + 1]
        )
        assert feed.expect("listening")["events"] == feed_spec.segments[0]
    finally:
        feed.stop()
        venue.stop()
        for segment in (*venue_spec.segments, *feed_spec.segments):
            unlink(segment)
