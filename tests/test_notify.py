"""The systemd notify protocol against a real datagram socket, as systemd listens on it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tickrail.notify import Notifier


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A listening datagram socket standing in for systemd, and its path."""
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(5)
    yield path, listener
    listener.close()


def received(listener: socket.socket) -> list[str]:
    return listener.recv(4096).decode().split("\n")


def test_ready_status_watchdog_and_stopping_arrive_as_systemd_reads_them(
    manager: tuple[str, socket.socket],
) -> None:
    path, listener = manager
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
    assert notifier.enabled and notifier.watchdog_interval == 1.0
    notifier.ready("6 workers running")
    assert received(listener) == ["READY=1", "STATUS=6 workers running"]
    notifier.watchdog()
    assert received(listener) == ["WATCHDOG=1"]
    notifier.stopping("draining")
    assert received(listener) == ["STOPPING=1", "STATUS=draining"]
    notifier.close()


def test_an_abstract_socket_is_reached_by_its_at_name() -> None:
    name = f"tickrail-test-notify-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name)
    listener.settimeout(5)
    try:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": "@" + name})
        notifier.status("up")
        notifier.close()
        assert received(listener) == ["STATUS=up"]
    finally:
        listener.close()


def test_outside_systemd_nothing_is_sent_and_a_watchdog_for_another_process_is_ignored() -> None:
    assert not Notifier.from_env({}).enabled
    Notifier.from_env({}).ready("no one listens")  # does nothing
    other = Notifier.from_env({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_interval is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"NOTIFY_SOCKET": "relative/path"}, "NOTIFY_SOCKET 'relative/path' is neither a path"),
        ({"WATCHDOG_USEC": "soon"}, "WATCHDOG_USEC 'soon' is not a number"),
        ({"WATCHDOG_USEC": "0"}, "WATCHDOG_USEC 0 must be positive"),
    ],
)
def test_a_bad_environment_is_refused_by_name(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Notifier.from_env(environ)


def test_a_status_with_a_newline_is_refused_because_it_would_forge_another_key(
    manager: tuple[str, socket.socket],
) -> None:
    path, _ = manager
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    with pytest.raises(ValueError, match="STATUS holds a newline"):
        notifier.status("ok\nREADY=1")
    notifier.close()
