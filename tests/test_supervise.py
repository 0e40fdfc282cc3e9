"""The supervisor running a real instance: systemd is told READY and STOPPING, a worker killed
with SIGKILL is restarted and its books are good again, and SIGTERM drains leaving no segment."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

import numpy as np

from pipeline import start
from shm_layout import FLAG_STALE, TOP_OF_BOOK, SlotReader, list_segments
from tickrail import _native


def config(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "instance.toml"
    path.write_text(
        f'[instance]\nname = "{name}"\n[venues.a]\nprotocol = "itch"\nrate = 5000\n[feeds.a]\nvenue = "a"\n'
    )
    return path


def test_a_killed_feed_is_restarted_its_books_recover_and_sigterm_drains_everything(tmp_path: Path) -> None:
    name = f"sup{os.getpid()}"
    notify_path = str(tmp_path / "notify.sock")
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(notify_path)
    manager.settimeout(20)
    os.environ["NOTIFY_SOCKET"] = notify_path
    try:
        supervisor = start(
            "supervisor", "supervisor", "run", "--config", str(config(tmp_path, name)), "--duration", "0"
        )
    finally:
        del os.environ["NOTIFY_SOCKET"]
    try:
        feed = supervisor.expect("started")
        feed = supervisor.expect("started")
        assert feed["worker"] == "feed a"
        assert manager.recv(4096).decode().startswith("READY=1")

        os.kill(feed["pid"], signal.SIGKILL)
        died = supervisor.expect("died")
        assert died["worker"] == "feed a" and "exited" in died["reason"]
        restarted = supervisor.expect("restarted", timeout=30)
        assert restarted == {"event": "restarted", "worker": "feed a", "restarts": 1}

        # The new feed re-requests the session from its start: its books are good again.
        books = f"tickrail.{name}.a.books"
        deadline = time.monotonic() + 20
        while True:
            raw = SlotReader.open(books).read(1)
            top = np.frombuffer(raw, dtype=TOP_OF_BOOK)[0] if raw is not None else None
            if top is not None and not int(top["flags"]) & FLAG_STALE and top["bid_levels"] > 0:
                break
            assert time.monotonic() < deadline, "the restarted feed's AAPL book is good again"
            time.sleep(0.1)
        assert _native.feed_report(f"tickrail.{name}.a.metrics")["counters"]["messages"] > 0
    finally:
        supervisor.popen.send_signal(signal.SIGTERM)
    stopped = supervisor.expect("stopped", timeout=30)
    assert stopped["status"] == 0 and supervisor.wait() == 0
    messages = []
    while True:
        try:
            messages.append(manager.recv(4096).decode())
        except TimeoutError:
            break
        if messages[-1].startswith("STOPPING=1"):
            break
    manager.close()
    assert messages and messages[-1].startswith("STOPPING=1")
    assert list_segments(f"tickrail.{name}.") == [], "SIGTERM leaves no segment behind"


def test_a_bad_configuration_is_refused_before_anything_starts(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[instance]\nname = "bad"\n[venues.b]\nprotocol = "fix"\n[feeds.a]\nvenue = "a"\n')
    supervisor = start("supervisor", "supervisor", "run", "--config", str(path))
    assert supervisor.popen.wait(timeout=20) == 2
    assert supervisor.popen.stderr is not None
    assert "feed a: venue 'a' is not configured" in supervisor.popen.stderr.read()


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


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    supervisor = start(
        "supervisor", "supervisor", "run", "--config", str(config(tmp_path, f"orphan{os.getpid()}"))
    )
    venue = supervisor.expect("started")
    feed = supervisor.expect("started")
    os.kill(supervisor.popen.pid, signal.SIGKILL)
    supervisor.wait()
    deadline = time.monotonic() + 20
    for pid in (venue["pid"], feed["pid"]):
        while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/status").read_text().find("zombie") < 0:
            assert time.monotonic() < deadline, f"worker {pid} outlived its supervisor"
            time.sleep(0.05)
    for suffix in ("events", "books", "metrics"):
        with contextlib.suppress(_native.SegmentNotFound):
            _native.unlink(f"tickrail.orphan{os.getpid()}.a.{suffix}")
