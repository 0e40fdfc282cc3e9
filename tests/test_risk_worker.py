"""The risk worker under the supervisor, end to end, with venues, feeds and execution running and
the market maker quoting on all three venues:

* ``tickrail kill`` leaves no open order on any venue within a bounded time, and no new order is
  sent; the kill is in the supervisor's status;
* ``tickrail shadow`` has the reference rules judge every call the session made on the gate with
  no difference, and its recording replays through both engines;
* a risk worker stopped with SIGSTOP leaves a stale heartbeat, on which the gate fails closed;
* ``tickrail risk reload`` refuses a bad limits file by name and keeps the limits in force, and
  applies a good one at once (a limit the portfolio already breaks moves its state);
* a feed whose heartbeat goes stale kills trading, and the kill is logged as such;
* every event the risk worker applied plays through both risk engines alike, live, and the states
  it wrote are the reference's; so do the day's execution reports, from the journal.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import Process, start
from tickrail import _native

TICKRAIL = str(Path(sys.executable).with_name("tickrail"))
INSTANCES = itertools.count()


def config(tmp_path: Path, name: str, risk: str) -> Path:
    text = f'[instance]\nname = "{name}"\n'
    for letter, protocol in (("a", "itch"), ("b", "fix"), ("c", "json")):
        text += (
            f'[venues.{letter}]\nprotocol = "{protocol}"\nrate = 5000\n[feeds.{letter}]\nvenue = "{letter}"\n'
        )
    text += f'[execution]\njournal = "{tmp_path / "execution.journal"}"\n'
    # The gate trusts the risk worker's heartbeat for 400 ms.
    text += "[execution.limits]\nmax_risk_heartbeat_ms = 400\n"
    path = tmp_path / "instance.toml"
    path.write_text(text + risk)
    return path


def counters(name: str) -> dict[str, int]:
    return dict(_native.execution_report(f"tickrail.{name}.execution.metrics")["counters"])


def stale_refusals(name: str) -> int:
    """Orders the gate refused on a stale risk heartbeat."""
    return int(
        _native.execution_report(f"tickrail.{name}.execution.metrics")["rejections"].get(
            "RiskHeartbeatStale", 0
        )
    )


def sent(name: str) -> int:
    c = counters(name)
    return c["orders"] + c["replaces"]


def wait_for(what: str, check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def tickrail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TICKRAIL, *args], capture_output=True, text=True, timeout=60)


def status(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(tickrail("status", "--json", "--instance", name).stdout)
    return result


def pid_of(name: str, worker: str) -> int:
    return int(next(w["pid"] for w in status(name)["workers"] if w["name"] == worker))


@pytest.fixture
def instance(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Process, Path]]:
    """A running instance (its ``[risk]`` table the test's parameter; ``risk.toml`` beside its
    configuration, with no limits), drained at the end; yields its name, its supervisor and
    its directory."""
    name = f"risk{os.getpid()}x{next(INSTANCES)}"
    risk = getattr(request, "param", "")
    (tmp_path / "risk.toml").write_text("# no limits yet\n")
    supervisor = start("supervisor", "supervisor", "run", "--config", str(config(tmp_path, name, risk)))
    try:
        started = {supervisor.expect("started", timeout=60)["worker"] for _ in range(8)}
        assert {"risk", "execution"} <= started
        wait_for("orders reach the venues", lambda: counters(name)["orders"] >= 12)
        yield name, supervisor, tmp_path
    finally:
        supervisor.popen.send_signal(signal.SIGTERM)
    positions = [supervisor.expect("positions", timeout=60) for _ in range(3)]
    assert all(p["matches"] for p in positions), [p["problems"] for p in positions]
    assert supervisor.wait(60) == 0


@pytest.mark.parametrize("instance", ["[risk]\nmax_heartbeat_ms = 30000\n"], indirect=True)
def test_the_gate_fails_closed_on_a_stopped_risk_worker_and_the_kill_switch_cancels_everything(
    instance: tuple[str, Process, Path],
) -> None:
    name, _, directory = instance
    risk = pid_of(name, "risk")
    refused_before = stale_refusals(name)
    os.kill(risk, signal.SIGSTOP)
    try:
        wait_for(
            "the gate refuses orders on the stale heartbeat",
            lambda: stale_refusals(name) > refused_before,
            seconds=10,
        )
        before = sent(name)
        time.sleep(0.5)
        assert sent(name) == before, "no order goes out while the risk worker is stopped"
    finally:
        os.kill(risk, signal.SIGCONT)
    wait_for("trading goes on once it beats again", lambda: sent(name) > before + 3)

    killed = tickrail("kill", "--instance", name)
    assert killed.returncode == 0, killed.stderr
    assert "global killed" in killed.stdout
    wait_for("no order of ours is open on any venue", lambda: counters(name)["open_orders"] == 0, seconds=10)
    before = sent(name)
    time.sleep(1.0)
    assert sent(name) == before, "nothing new is sent while killed"
    assert status(name)["trading"]["global"] == "killed"

    # The reference rules judge every call the session made on the gate, beside the Rust gate.
    recorded = directory / "gate.bin"
    shadowed = tickrail(
        "shadow",
        "--config",
        str(directory / "instance.toml"),
        "--duration",
        "1",
        "--record",
        str(recorded),
        "--json",
    )
    assert shadowed.returncode == 0, shadowed.stdout + shadowed.stderr
    summary = json.loads(shadowed.stdout)
    assert summary["orders"] > 100 and (summary["differences"], summary["lost"]) == (0, 0), summary
    replayed = tickrail("shadow", "--replay", str(recorded), "--json")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert json.loads(replayed.stdout)["calls"] == summary["calls"], "the recording holds every call compared"


@pytest.mark.parametrize(
    "instance", ['[risk]\nlimits = "risk.toml"\nmax_heartbeat_ms = 1000\n'], indirect=True
)
def test_limits_reload_refuses_a_bad_file_applies_a_good_one_and_a_stale_feed_kills_trading(
    instance: tuple[str, Process, Path],
) -> None:
    name, _, directory = instance
    limits = directory / "risk.toml"
    wait_for("the flow trades with our quotes", lambda: counters(name)["fills"] > 0)

    limits.write_text("[portfolio]\nmax_loss = -5\n")
    refused = tickrail("risk", "reload", "--instance", name)
    assert refused.returncode == 1
    assert "portfolio.max_loss must be a positive amount" in refused.stderr + refused.stdout
    assert status(name)["trading"]["global"] == "active", "the limits in force stay"

    limits.write_text("[portfolio]\nmax_gross = 0.01\n")
    reloaded = tickrail("risk", "reload", "--instance", name)
    assert reloaded.returncode == 0, reloaded.stderr
    wait_for(
        "a gross exposure past the new limit makes the portfolio reduce-only",
        lambda: status(name)["trading"]["global"] == "reduce-only",
    )

    limits.write_text("")
    assert tickrail("risk", "reload", "--instance", name).returncode == 0
    resumed = tickrail("resume", "--instance", name)
    assert resumed.returncode == 0 and "global active" in resumed.stdout, resumed

    feed = pid_of(name, "feed-b")
    os.kill(feed, signal.SIGSTOP)
    try:
        wait_for(
            "a stale feed kills trading", lambda: status(name)["trading"]["global"] == "killed", seconds=10
        )
    finally:
        os.kill(feed, signal.SIGCONT)
    wait_for("every order is cancelled", lambda: counters(name)["open_orders"] == 0, seconds=10)
    resumed = tickrail("resume", "--instance", name)
    assert resumed.returncode == 0 and "global active" in resumed.stdout, resumed
    before = sent(name)
    wait_for("trading goes on once resumed", lambda: sent(name) > before)

    # Every event the risk worker applied, live, through both risk engines, and the states it
    # wrote compared with the reference's.
    shadowed = tickrail(
        "shadow", "--config", str(directory / "instance.toml"), "--risk", "--duration", "1", "--json"
    )
    assert shadowed.returncode == 0, shadowed.stdout + shadowed.stderr
    summary = json.loads(shadowed.stdout)
    assert summary["calls"] > 0 and summary["gates"] == 1 and summary["differences"] == 0, summary

    # The day's execution reports, from the journal, through both risk engines.
    journal = directory / "execution.journal"
    shadowed = tickrail(
        "shadow", "--config", str(directory / "instance.toml"), "--journal", str(journal), "--json"
    )
    assert shadowed.returncode == 0, shadowed.stdout + shadowed.stderr
    summary = json.loads(shadowed.stdout)
    assert summary["calls"] > 0 and summary["differences"] == 0, summary
