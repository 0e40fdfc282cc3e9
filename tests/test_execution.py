"""The execution worker under the supervisor, end to end: venues, feeds, risk and execution run
with the market maker quoting on all three venues through the gate; its orders reach the venues and
fill; the kill switch cancels everything; every order is timed from its tick; SIGTERM drains, and
every fill the venues record for us is in our positions, with no order over a limit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipeline import start
from shm_layout import list_segments
from tickrail import _native

TICKRAIL = str(Path(sys.executable).with_name("tickrail"))


def config(tmp_path: Path, name: str) -> Path:
    text = f'[instance]\nname = "{name}"\n'
    for letter, protocol in (("a", "itch"), ("b", "fix"), ("c", "json")):
        text += (
            f'[venues.{letter}]\nprotocol = "{protocol}"\nrate = 5000\n[feeds.{letter}]\nvenue = "{letter}"\n'
        )
    text += f'[execution]\njournal = "{tmp_path / "execution.journal"}"\n[execution.quoting]\nhalf_spread_ticks = 1\n'
    # SPY is left to the example Python strategy, on the slower path beside the market maker.
    text += '[execution.python]\nstrategy = "execution.examples:Joiner"\nsymbols = ["SPY"]\n'
    text += "[execution.python.params]\nbehind_ticks = 1\n"
    # The kill switch on a stale execution heartbeat is tested apart (test_risk_worker): here the
    # SIGKILLed worker trades on once restarted.
    text += "[risk]\nmax_heartbeat_ms = 30000\n"
    path = tmp_path / "instance.toml"
    path.write_text(text)
    return path


def report(name: str) -> dict[str, Any]:
    return dict(_native.execution_report(f"tickrail.{name}.execution.metrics"))


def wait_for(what: str, check: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_the_market_maker_quotes_fills_survives_a_sigkill_and_the_kill_switch_cancels_everything(
    tmp_path: Path,
) -> None:
    name = f"exec{os.getpid()}"
    supervisor = start(
        "supervisor", "supervisor", "run", "--config", str(config(tmp_path, name)), "--view", "events"
    )
    try:
        started = {supervisor.expect("started", timeout=60)["worker"] for _ in range(8)}
        assert "execution" in started
        wait_for("orders reach the venues", lambda: report(name)["counters"]["orders"] >= 12)
        wait_for("the flow trades with our quotes", lambda: report(name)["counters"]["fills"] > 0)
        wait_for(
            "the Python strategy's orders go out, timed apart",
            lambda: report(name)["linked_tick_to_trade_ns"]["count"] > 0,
        )
        counters = report(name)["counters"]
        assert counters["send_failures"] == 0 and counters["reports_refused"] == 0, counters
        latency = report(name)["tick_to_trade_ns"]
        assert latency["count"] > 0 and 0 < latency["p50"] <= latency["p99"], (
            "orders are timed from their ticks"
        )

        status = json.loads(
            subprocess.run(
                [TICKRAIL, "status", "--json", "--instance", name], capture_output=True, text=True, timeout=60
            ).stdout
        )
        execution = next(w for w in status["workers"] if w["name"] == "execution")
        assert execution["state"] == "RUNNING" and execution["heartbeat_age_ms"] < 3000

        # A SIGKILLed worker is restarted: its OMS and its gate come back from the journal, it
        # logs on again (from where venue A's session had delivered) and trades on.
        # Twice: the second start reads what the first one journalled after the first crash.
        pid = execution["pid"]
        for _ in range(2):
            os.kill(pid, signal.SIGKILL)
            restarted = supervisor.expect("started", timeout=60)
            assert restarted["worker"] == "execution"
            pid = restarted["pid"]
            sent = report(name)["counters"]["orders"]
            wait_for(
                "the restarted worker trades on",
                lambda sent=sent: report(name)["counters"]["orders"] > sent + 6,
            )
        assert report(name)["counters"]["reports_refused"] == 0, "nothing applied twice after the restarts"

        killed = subprocess.run(
            [TICKRAIL, "kill", "--instance", name], capture_output=True, text=True, timeout=60
        )
        assert killed.returncode == 0, killed.stderr
        wait_for("the kill switch cancels every open order", lambda: report(name)["counters"]["kills"] == 1)
        before = report(name)["counters"]["orders"]
        time.sleep(1.0)
        assert report(name)["counters"]["orders"] == before, "nothing new is sent while killed"
    finally:
        supervisor.popen.send_signal(signal.SIGTERM)
    checks = [supervisor.expect("closing-books", timeout=60) for _ in range(3)]
    assert all(c["matches"] for c in checks), checks
    # Every fill each venue records for us is in our positions (as the reports queue carried
    # them), and no order the venues took from us broke a limit.
    positions = [supervisor.expect("positions", timeout=60) for _ in range(3)]
    assert all(p["matches"] for p in positions), [p["problems"] for p in positions]
    assert sum(p["fills"] for p in positions) > 0, positions
    assert supervisor.expect("stopped", timeout=60)["status"] == 0
    assert supervisor.wait(30) == 0
    assert list_segments(f"tickrail.{name}.") == []
    assert (tmp_path / "execution.journal").stat().st_size > 8, "every order and report is journalled"
