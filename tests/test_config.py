"""An instance's TOML configuration: the shipped one loads; every mistake is refused by name."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from tickrail import risk_plan
from tickrail.config import DEFAULT, ConfigError, Machine, Pinning, load, parse
from tickrail.execution_plan import describe
from tickrail.market import instruments

FOUR_CORES = Machine(frozenset({0, 1, 2, 3}), frozenset({2, 3}), lambda core: frozenset({core ^ 2}))
TWO_CORES = Machine(frozenset({0, 1}), frozenset(), lambda core: frozenset())

BASE = """
[instance]
name = "t"
[venues.a]
protocol = "itch"
[venues.c]
protocol = "json"
[feeds.a]
venue = "a"
"""


def test_the_shipped_configuration_runs_everything_on_any_machine() -> None:
    instance = load(DEFAULT, TWO_CORES)
    assert set(instance.venues) == {"a", "b", "c"} == set(instance.feeds)
    assert all(feed.wait == "yield" for feed in instance.feeds.values()), "six workers on two cores yield"
    assert any("share 2 cores" in w for w in instance.warnings)


def test_a_pinned_core_the_kernel_does_not_isolate_is_a_warning_and_waits_spin_with_cores_enough() -> None:
    instance = parse(BASE + "core = 1\n", FOUR_CORES)
    assert instance.feeds["a"].wait == "spin"
    assert instance.warnings == ["feed-a: core 1 is not isolated (isolcpus): other tasks may run on it"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("core = 7\n", "feed-a: core 7 is not one this process may use (allowed: 0, 1, 2, 3)"),
        ('[feeds.c]\nvenue = "c"\ncore = 1\n[venues.a.x]\n', "venue-a: unknown key 'x'"),
        ('colour = "red"\n', "feed-a: unknown key 'colour'"),
        ('[feeds.b]\nvenue = "b"\n', "feed-b: venue 'b' is not configured"),
        ('[feeds.c]\nvenue = "c"\nsegments = "a"\n', "feed-c: segments 'a' are already feed-a's"),
        ('segments = "a.b"\n', "feed-a: segments 'a.b' is not a plain name"),
        ('[venues.b]\nprotocol = "fix"\nsimulated = false\n', "venue-b addresses: fix is missing"),
        (
            '[venues.b]\nprotocol = "fix"\n[venues.b.addresses]\nfix = "nowhere"\n',
            "venue-b addresses: fix 'nowhere' is not host:port",
        ),
        (
            '[venues.b]\nprotocol = "fix"\n[venues.b.addresses]\nmarket_data = "127.0.0.1:1"\n',
            "venue-b addresses: unknown key 'market_data'",
        ),
        ('core = 1\n[feeds.c]\nvenue = "c"\ncore = 1\n', "feed-c: core 1 is already feed-a's"),
        (
            'core = 0\n[feeds.c]\nvenue = "c"\ncore = 2\n',
            "feed-c: core 2 is an SMT sibling of core 0, feed-a's",
        ),
        ("ring_capacity = 1000\n", "feed-a: ring_capacity 1000 is not a power of two"),
        ('wait = "nap"\n', "feed-a: wait 'nap' is not one of auto, backoff, futex, spin, yield"),
        ("levels = 11\n", "feed-a: levels 11 is not within 1..=10"),
        ('core = "one"\n', "feed-a: core must be a int, not 'one'"),
        ("core = true\n", "feed-a: core must be a int, not True"),
        ("[instance.extra]\n", "instance: unknown key 'extra'"),
        ("priority = 0\n", "feed-a: priority 0 is not a SCHED_FIFO priority (1..=99)"),
        ('lock_memory = "yes"\n', "feed-a: lock_memory must be a bool, not 'yes'"),
        ("[supervisor]\nintensity = 0\n", "supervisor: intensity 0 must be positive"),
        (
            "[supervisor]\nrestart_delay_s = 5\nrestart_delay_max_s = 1\n",
            "supervisor: restart delays 5.0 .. 1.0 s are not 0 < first <= max",
        ),
        ("[supervisor]\nnap_s = 1\n", "supervisor: unknown key 'nap_s'"),
        ('[metrics]\nlisten = "9464"\n', "metrics: listen '9464' is not host:port"),
        ("[execution.quoting]\nlevels = 9\n", "execution quoting: levels must be within 1..=8"),
        ('[execution]\nvenues = ["z"]\n', "execution: venue 'z' is not configured"),
        (
            '[execution.python]\nstrategy = "execution.examples"\nsymbols = ["SPY"]\n',
            "execution python: strategy must be 'module:Class', not 'execution.examples'",
        ),
        (
            '[execution.python]\nstrategy = "no_such_module:Thing"\nsymbols = ["SPY"]\n',
            "execution python: no module 'no_such_module' to import the strategy from",
        ),
        (
            '[execution.python]\nstrategy = "execution.examples:Joiner"\nsymbols = ["ZZZ"]\n',
            "execution python: symbol 'ZZZ' is not listed on a venue traded",
        ),
        (
            '[execution.python]\nstrategy = "execution.examples:Joiner"\n',
            "execution python: symbols must name at least one symbol",
        ),
        ("[risk]\nthreads = 2\n", "risk: there is no [execution] table for a risk worker to watch"),
        ("[execution]\n[risk]\nthreads = -1\n", "risk: threads -1 must not be negative"),
        ("[execution]\n[risk]\nmax_heartbeat_ms = 0\n", "risk: max_heartbeat_ms 0 must be positive"),
        ("[execution]\n[risk]\nnap = 1\n", "risk: unknown key 'nap'"),
        ("[execution]\n[risk]\ncores = [1, -1]\n", "risk: cores [1, -1] are not all core numbers"),
        ("[execution]\n[risk]\ncores = [1]\ncore = 2\n", "risk: give core (the whole process) or cores"),
        ("[execution]\n[risk]\ncores = [9]\n", "risk: core 9 is not one this process may use"),
        ("core = 1\n[execution]\n[risk]\ncores = [1]\n", "risk: core 1 is already feed-a's"),
        ("[", "not TOML"),
    ],
)
def test_a_configuration_that_cannot_run_is_refused_naming_the_worker_and_the_problem(
    extra: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(BASE + extra, FOUR_CORES)


def test_placement_supervision_and_metrics_are_read_from_their_tables() -> None:
    instance = parse(
        BASE.replace('venue = "a"\n', 'venue = "a"\ncore = 2\npriority = 50\nlock_memory = true\n')
        + '[supervisor]\nintensity = 3\nperiod_s = 10\nheartbeat_timeout_s = 1.5\n[metrics]\nlisten = "127.0.0.1:9464"\n',
        FOUR_CORES,
    )
    assert instance.feeds["a"].pinning == Pinning(core=2, priority=50, lock_memory=True)
    assert (instance.supervision.policy.intensity, instance.supervision.policy.period) == (3, 10.0)
    assert instance.supervision.heartbeat_timeout == 1.5 and instance.metrics_listen == "127.0.0.1:9464"


def test_a_missing_file_is_named() -> None:
    with pytest.raises(ConfigError, match=re.escape("nowhere.toml")):
        load(DEFAULT.with_name("nowhere.toml"), TWO_CORES)


def test_a_real_venue_is_known_by_its_addresses_and_a_simulated_one_may_be_given_some() -> None:
    instance = parse(
        BASE
        + '[venues.b]\nprotocol = "fix"\nsimulated = false\n[venues.b.addresses]\nfix = "10.0.0.5:9878"\n'
        + '[venues.a.addresses]\nmarket_data = "239.192.0.1:31001"\n',
        FOUR_CORES,
    )
    assert instance.venues["b"].addresses == {"fix": "10.0.0.5:9878"} and not instance.venues["b"].simulated
    assert instance.venues["a"].addresses == {"market_data": "239.192.0.1:31001"}
    assert [w for w, _ in instance.workers()] == ["venue-a", "venue-c", "feed-a"], "a real venue is no worker"


def test_a_python_strategy_takes_its_symbols_from_the_market_maker() -> None:
    instance = parse(
        BASE + '[execution.python]\nstrategy = "execution.examples:Joiner"\nsymbols = ["SPY"]\n'
        "[execution.python.params]\nlots = 2\n",
        FOUR_CORES,
    )
    spec = describe(instance, {"a": "127.0.0.1:1"})
    spy = dict(instruments())["SPY"]
    assert spec["linked"] == [spy]
    assert spec["python"] == {
        "strategy": "execution.examples:Joiner",
        "params": {"lots": 2},
        "venues": ["a"],
        "symbols": {str(spy): "SPY"},
    }


def test_the_risk_worker_runs_with_execution_and_finds_its_limits_file_beside_the_configuration(
    tmp_path: Path,
) -> None:
    assert parse(BASE, TWO_CORES).risk is None, "no execution: nothing for risk to watch"
    path = tmp_path / "instance.toml"
    path.write_text(BASE + '[execution]\n[risk]\nlimits = "limits/risk.toml"\nthreads = 2\ncores = [0, 1]\n')
    risk = load(path, TWO_CORES).risk
    assert risk is not None and (risk.limits, risk.threads) == (str(tmp_path / "limits/risk.toml"), 2)
    assert risk.cores == (0, 1), "the publisher on core 0, the group threads on the others"
    instance = load(path, TWO_CORES)
    assert risk_plan.threads(replace(instance, risk=replace(risk, threads=0))) == 1, (
        "one core left for groups"
    )
    assert [w for w, _ in load(path, TWO_CORES).workers()][-2:] == ["risk", "execution"]
