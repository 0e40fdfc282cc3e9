"""The supervisor running real instances: systemd hears READY, WATCHDOG (only while every
heartbeat is fresh) and STOPPING; a worker killed with SIGKILL or hung with SIGSTOP is restarted,
its rings resume and its books are good again; restarts coming too fast halt it; operators ask
it over its control socket; SIGTERM, or a SIGKILL and the next start, leave no segment."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline import Process, start
from shm_layout import FLAG_STALE, TOP_OF_BOOK, BroadcastReader, SlotReader, list_segments
from tickrail import _native
from tickrail.market import instruments
from tickrail.trading import read as read_trading

AAPL = dict(instruments())["AAPL"]
TICKRAIL = str(Path(sys.executable).with_name("tickrail"))


def config(tmp_path: Path, name: str, venues: str = "a", extra: str = "", feed_extra: str = "") -> Path:
    """An instance of the given venues (letters) and their feeds (with ``feed_extra`` keys), at
    a gentle rate."""
    protocols = {"a": "itch", "b": "fix", "c": "json"}
    text = f'[instance]\nname = "{name}"\n{extra}\n'
    for v in venues:
        text += f'[venues.{v}]\nprotocol = "{protocols[v]}"\nrate = 5000\n[feeds.{v}]\nvenue = "{v}"\n{feed_extra}'
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def supervise(path: Path, *args: str, env: dict[str, str] | None = None) -> Process:
    return start("supervisor", "supervisor", "run", "--config", str(path), "--view", "events", *args, env=env)


def started(supervisor: Process, count: int) -> dict[str, int]:
    """Waits for ``count`` workers to start; their pids by name."""
    pids = {}
    for _ in range(count):
        event = supervisor.expect("started", timeout=30)
        pids[event["worker"]] = event["pid"]
    return pids


def tickrail(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TICKRAIL, *args], capture_output=True, text=True, timeout=60)


def good_book(books: str, deadline_s: float = 20.0) -> np.void:
    """Waits (bounded) for AAPL's book in ``books`` to be fresh, two-sided and uncrossed."""
    deadline = time.monotonic() + deadline_s
    while True:
        raw = SlotReader.open(books).read(AAPL)
        if raw is not None:
            top = np.frombuffer(raw, dtype=TOP_OF_BOOK)[0]
            two_sided = top["bid_levels"] > 0 and top["ask_levels"] > 0
            if (
                not int(top["flags"]) & FLAG_STALE
                and two_sided
                and top["bids"][0]["price"] < top["asks"][0]["price"]
            ):
                return top
        assert time.monotonic() < deadline, f"{books}: AAPL's book is good again"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, or a process reaped while looking, does not)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def stop(supervisor: Process, name: str, feeds: int = 0) -> list[dict[str, object]]:
    """SIGTERM: the supervisor drains, exits 0 and leaves no segment; the first ``feeds``
    checks of a feed's books against its venue's closing books."""
    supervisor.popen.send_signal(signal.SIGTERM)
    checks = [supervisor.expect("closing-books", timeout=30) for _ in range(feeds)]
    assert supervisor.expect("stopped", timeout=60)["status"] == 0
    assert supervisor.wait(30) == 0
    assert list_segments(f"tickrail.{name}.") == [], "SIGTERM leaves no segment behind"
    return checks


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A datagram socket standing in for systemd's notify socket."""
    path = str(tmp_path / "notify.sock")
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(path)
    yield path, manager
    manager.close()


def notifications(manager: socket.socket, seconds: float) -> list[str]:
    """Every message systemd would get within ``seconds``."""
    got, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        manager.settimeout(left)
        try:
            got.append(manager.recv(4096).decode())
        except TimeoutError:
            break
    return got


def test_sigkilled_workers_of_each_kind_are_restarted_their_rings_resume_and_their_books_recover(
    tmp_path: Path, notify: tuple[str, socket.socket]
) -> None:
    name = f"kill{os.getpid()}"
    path, manager = notify
    supervisor = supervise(config(tmp_path, name, "abc"), env={"NOTIFY_SOCKET": path})
    try:
        pids = started(supervisor, 6)
        told = notifications(manager, 2.5)
        assert told[0].startswith("READY=1\nSTATUS=6/6 workers running, 0 restarts"), told
        assert "STATUS=6/6 workers running, 0 restarts" in told[1:], "the status every second"
        events = f"tickrail.{name}.a.events"
        reader = BroadcastReader.attach(events, wait="yield")
        assert reader.wait(10) and reader.read() is not None

        os.kill(pids["feed-a"], signal.SIGKILL)
        assert supervisor.expect("died")["worker"] == "feed-a"
        while reader.read() is not None:  # to the last event the killed feed wrote
            pass
        last = reader.last_seq
        assert supervisor.expect("restarted", timeout=30) == {
            "event": "restarted",
            "worker": "feed-a",
            "restarts": 1,
        }
        assert reader.wait(10) and reader.read() is not None
        assert (reader.last_seq, reader.lost) == (last + 1, 0), "the ring resumed: the next sequence, no gap"
        good_book(f"tickrail.{name}.a.books")

        for venue in ("venue-a", "venue-b", "venue-c"):
            os.kill(pids[venue], signal.SIGKILL)
            assert supervisor.expect("died")["worker"] == venue
            follower = "feed-" + venue[-1]
            assert supervisor.expect("held")["worker"] == follower, "a new venue is a new session"
            assert supervisor.expect("restarted", timeout=30)["worker"] == venue
            assert supervisor.expect("restarted", timeout=30)["worker"] == follower
            good_book(f"tickrail.{name}.{venue[-1]}.books")
            metrics = _native.feed_report(f"tickrail.{name}.{venue[-1]}.metrics")["counters"]
            assert metrics["book_errors"] == 0, f"{follower} rebuilt its books from the new session"
        reader.close()
    finally:
        checks = stop(supervisor, name, feeds=3)
    # The venues close first: every restarted feed's books are the venue's, level for level.
    assert {(c["feed"], c["matches"]) for c in checks} == {
        ("feed-a", True),
        ("feed-b", True),
        ("feed-c", True),
    }
    assert any(m.startswith("STOPPING=1") for m in notifications(manager, 2))


def test_a_hung_feed_stops_the_watchdog_until_it_is_restarted(
    tmp_path: Path, notify: tuple[str, socket.socket]
) -> None:
    name = f"hang{os.getpid()}"
    path, manager = notify
    # A slow restart keeps the feed down long enough to hear the watchdog's silence.
    extra = "[supervisor]\nheartbeat_timeout_s = 1.5\nrestart_delay_s = 4\n"
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "500000"}
    supervisor = supervise(config(tmp_path, name, extra=extra), env=env)
    try:
        pids = started(supervisor, 2)
        assert "WATCHDOG=1" in notifications(manager, 1.5), "fresh heartbeats: the watchdog is fed"
        os.kill(pids["feed-a"], signal.SIGSTOP)
        died = supervisor.expect("died", timeout=10)
        assert died["worker"] == "feed-a" and "heartbeat" in died["reason"]
        notifications(manager, 0.1)  # what was sent before the hang was noticed
        assert "WATCHDOG=1" not in notifications(manager, 1.5), "no WATCHDOG while a worker is down"
        assert supervisor.expect("restarted", timeout=30)["worker"] == "feed-a"
        good_book(f"tickrail.{name}.a.books")
        assert "WATCHDOG=1" in notifications(manager, 2), "fed again once every heartbeat is fresh"
    finally:
        stop(supervisor, name)


def test_restarts_faster_than_the_intensity_halt_and_exit_non_zero(tmp_path: Path) -> None:
    name = f"halt{os.getpid()}"
    extra = "[supervisor]\nintensity = 1\nperiod_s = 60\nrestart_delay_s = 0.05\n"
    supervisor = supervise(config(tmp_path, name, extra=extra))
    pid = started(supervisor, 2)["feed-a"]
    os.kill(pid, signal.SIGKILL)
    pid = supervisor.expect("started", timeout=30)["pid"]
    os.kill(pid, signal.SIGKILL)
    killed = supervisor.expect("trading-state", timeout=30)
    assert (killed["symbol"], killed["state"], killed["reason"]) == (None, "killed", "supervisor"), (
        "trading first"
    )
    halted = supervisor.expect("halted", timeout=30)
    assert halted["reason"] == "restart intensity exceeded: more than 1 restarts in 60 s"
    assert supervisor.expect("stopped", timeout=60)["status"] == 1
    assert supervisor.wait(30) == 1, "systemd takes over"
    assert list_segments(f"tickrail.{name}.") == []


def test_operators_ask_for_status_and_stop_start_and_restart_workers_while_metrics_are_served(
    tmp_path: Path,
) -> None:
    name = f"ops{os.getpid()}"
    core = max(os.sched_getaffinity(0))
    feed_extra = f"core = {core}\npriority = 10\nlock_memory = true\n"
    supervisor = supervise(
        config(tmp_path, name, extra='[metrics]\nlisten = "127.0.0.1:0"\n', feed_extra=feed_extra)
    )
    try:
        listen = supervisor.expect("metrics")["listen"]
        pids = started(supervisor, 2)
        placed = supervisor.expect("placed")
        assert placed["worker"] == "feed-a"
        placement = placed["placement"]
        # Pinned; SCHED_FIFO and locked memory granted, or their refusals said (a container).
        assert placement.startswith(f"pid {pids['feed-a']}: cores {core}, ")
        assert "SCHED_FIFO 10," in placement or "SCHED_FIFO 10 for thread" in placement, placement
        assert "memory locked" in placement or "mlockall: " in placement, placement
        done = tickrail("status", "--instance", name, "--json")
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        assert status["instance"] == name
        assert [(w["name"], w["kind"], w["state"], w["pid"], w["restarts"]) for w in status["workers"]] == [
            ("venue-a", "venue", "RUNNING", pids["venue-a"], 0),
            ("feed-a", "feed", "RUNNING", pids["feed-a"], 0),
        ]
        assert all(0 <= w["heartbeat_age_ms"] < 3000 for w in status["workers"])
        assert [w["core"] for w in status["workers"]] == [None, core], "the feed is pinned, the venue is not"

        assert tickrail("stop", "feed-a", "--instance", name).stdout == "feed-a: STOPPED\n"
        done = tickrail("status", "--instance", name)
        assert done.returncode == 1 and "STOPPED" in done.stdout, "not every worker runs"
        refused = tickrail("start", "venue-a", "--instance", name)
        assert refused.returncode == 1 and "venue-a is RUNNING, not STOPPED" in refused.stderr
        assert tickrail("start", "feed-a", "--instance", name).stdout == "feed-a: RUNNING\n"
        assert tickrail("stop", "venue-a", "--instance", name).stdout == "venue-a: STOPPED\n"
        assert supervisor.expect("held")["worker"] == "feed-a", "a feed waits for its venue"
        refused = tickrail("start", "feed-a", "--instance", name)
        assert refused.returncode == 1 and "feed-a follows venue-a, which is STOPPED" in refused.stderr
        assert tickrail("restart", "venue-a", "--instance", name).stdout == "venue-a: RUNNING\n"
        assert supervisor.expect("restarted", timeout=30)["worker"] == "venue-a"
        assert supervisor.expect("restarted", timeout=30)["worker"] == "feed-a", "and starts after it"
        refused = tickrail("restart", "feed-z", "--instance", name)
        assert refused.returncode == 1 and "no worker 'feed-z'" in refused.stderr
        assert "workers: venue-a, feed-a" in refused.stderr

        good_book(f"tickrail.{name}.a.books")
        trading = f"tickrail.{name}.trading"
        assert read_trading(trading, 0) == ("active", "start", 0)
        assert tickrail("state", "AAPL", "reduce-only", "--instance", name).returncode == 0
        assert read_trading(trading, AAPL) == ("reduce-only", "operator", 1)
        killed = tickrail("kill", "--instance", name)
        assert killed.returncode == 0 and killed.stdout.startswith("trading: global killed; AAPL reduce-only")
        assert read_trading(trading, 0) == ("killed", "operator", 1)
        refused = tickrail("state", "TSLA", "halted", "--instance", name)
        assert refused.returncode == 1 and "no symbol 'TSLA'" in refused.stderr
        assert (
            json.loads(tickrail("status", "--json", "--instance", name).stdout)["trading"]["global"]
            == "killed"
        )
        assert tickrail("resume", "--instance", name).returncode == 0
        assert read_trading(trading, 0) == ("active", "operator", 2)
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=10) as response:
            text = response.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        restarts = {s.labels["worker"]: s.value for s in families["tickrail_worker_restarts"].samples}
        assert restarts == {"venue-a": 1, "feed-a": 2}
        written = families["tickrail_ring_messages_written"].samples
        assert [s.labels["ring"] for s in written] == [f"tickrail.{name}.a.events"] and written[0].value > 0
        latency = families["tickrail_feed_receive_to_publish_latency_seconds"]
        buckets = [s for s in latency.samples if s.name.endswith("_bucket")]
        assert buckets[-1].labels["le"] == "+Inf" and buckets[-1].value > 0
        assert [s.value for s in buckets] == sorted(s.value for s in buckets), "cumulative buckets"
        states = {s.labels["symbol"]: s.value for s in families["tickrail_trading_state"].samples}
        assert (states["*"], states["AAPL"], states["MSFT"]) == (0, 1, 0)
    finally:
        stop(supervisor, name)
    missing = tickrail("status", "--instance", name)
    assert missing.returncode == 2 and f"no supervisor of instance '{name}'" in missing.stderr


def test_two_instances_run_side_by_side_and_one_name_runs_once(tmp_path: Path) -> None:
    name = f"twin{os.getpid()}"
    path = config(tmp_path, name)
    first = supervise(path)
    second = supervise(path, "--instance", f"{name}b")
    try:
        started(first, 2)
        started(second, 2)
        again = supervise(path)
        assert again.wait(30) == 1
        refused = again.expect("refused")["reason"]
        assert refused == f"instance '{name}' is already supervised (pid {first.popen.pid})"
        good_book(f"tickrail.{name}.a.books")
        good_book(f"tickrail.{name}b.a.books")
    finally:
        stop(second, f"{name}b")
        stop(first, name)


def test_a_killed_supervisors_workers_stop_and_its_leftovers_are_cleaned_at_the_next_start(
    tmp_path: Path,
) -> None:
    name = f"orphan{os.getpid()}"
    path = config(tmp_path, name)
    supervisor = supervise(path)
    pids = started(supervisor, 2)
    os.kill(supervisor.popen.pid, signal.SIGKILL)
    supervisor.wait()
    deadline = time.monotonic() + 20
    for pid in pids.values():
        while alive(pid):
            assert time.monotonic() < deadline, f"worker {pid} outlived its supervisor"
            time.sleep(0.05)
    left = list_segments(f"tickrail.{name}.")
    assert len(left) == 5, (
        "a SIGKILLed supervisor unlinks nothing (books, events, metrics, heartbeat, trading)"
    )

    again = supervise(path)
    cleaned = {again.expect("cleaned")["segment"] for _ in left}
    assert cleaned == {segment.lstrip("/") for segment in left}
    started(again, 2)
    good_book(f"tickrail.{name}.a.books")
    stop(again, name)


def test_a_bad_configuration_is_refused_before_anything_starts(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[instance]\nname = "bad"\n[venues.b]\nprotocol = "fix"\n[feeds.a]\nvenue = "a"\n')
    supervisor = start("supervisor", "supervisor", "run", "--config", str(path))
    assert supervisor.popen.wait(timeout=20) == 2
    assert supervisor.popen.stderr is not None
    assert "feed-a: venue 'a' is not configured" in supervisor.popen.stderr.read()


def test_the_service_units_command_line_is_one_the_supervisor_takes(tmp_path: Path) -> None:
    unit = (Path(__file__).parents[1] / "deploy" / "tickrail.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = exec_start.removeprefix("ExecStart=").split()[1:]
    assert argv[:2] == ["run", "--config"] and "Type=notify" in unit
    argv[2] = str(tmp_path / "missing.toml")  # the unit's config path, here a missing file
    supervisor = start("supervisor", "supervisor", *argv)
    assert supervisor.popen.wait(timeout=20) == 2, "the options parse; only the missing file is refused"
    assert supervisor.popen.stderr is not None
    assert "missing.toml" in supervisor.popen.stderr.read()


def test_run_shows_the_live_view_and_ends_with_a_summary(tmp_path: Path) -> None:
    name = f"view{os.getpid()}"
    done = subprocess.run(
        [TICKRAIL, "run", "--config", str(config(tmp_path, name)), "--view", "live", "--duration", "6"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "WORKER" in done.stdout and "feed-a" in done.stdout and "RUNNING" in done.stdout
    assert f"tickrail.{name}.a.events" in done.stdout, "the rings, as tickrail stat shows them"
    assert "AAPL" in done.stdout and " x " in done.stdout, "top of book per symbol"
    *_, heading, feed, books, logs = done.stdout.strip().splitlines()
    assert books == "  feed-a's books and venue-a's closing books match"
    assert (
        heading.startswith(f"tickrail {name}: ran ")
        and "stopped on request; 2 workers, 0 restarts" in heading
    )
    assert feed.startswith("  feed-a: ") and "messages" in feed and "p99" in feed
    assert logs.startswith("  the workers' logs: ") and Path(logs.split(": ", 1)[1]).exists()
    assert list_segments(f"tickrail.{name}.") == []
