"""The control socket: one JSON request, one JSON answer; a bad request gets an error and never
stops the server; a socket left by a killed supervisor is replaced, a live one is not."""

from __future__ import annotations

import os
import selectors
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tickrail.control import AlreadyRunning, ControlServer, InstanceLock, NotRunning, ask, socket_path


def serve(server: ControlServer, requests: int) -> threading.Thread:
    """Answers ``requests`` requests on a thread, as the supervisor's loop would."""

    def loop() -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(server, selectors.EVENT_READ)
            for _ in range(requests):
                if sel.select(10):
                    server.serve_one()

    thread = threading.Thread(target=loop)
    thread.start()
    return thread


def raw(path: Path, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(path))
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        return conn.recv(65536)


@pytest.fixture
def instance(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    return f"control{os.getpid()}"


def test_a_request_is_answered_and_bad_ones_get_an_error(instance: str) -> None:
    def handler(request: dict[str, Any]) -> dict[str, Any]:
        return {"echo": request}

    server = ControlServer(socket_path(instance), handler)
    thread = serve(server, 3)
    try:
        assert ask(instance, {"command": "status"}) == {"echo": {"command": "status"}}
        assert b"bad request" in raw(server.path, b"not json\n")
        assert b"a request is a JSON object" in raw(server.path, b"[1, 2]\n")
    finally:
        thread.join(timeout=30)
        server.close()
    assert not server.path.exists()
    with pytest.raises(NotRunning, match=f"no supervisor of instance '{instance}' answers on"):
        ask(instance, {"command": "status"})


def test_one_supervisor_holds_an_instance_and_a_killed_ones_socket_is_replaced(
    instance: str, tmp_path: Path
) -> None:
    lock = InstanceLock(instance, tmp_path)
    with pytest.raises(
        AlreadyRunning, match=f"instance '{instance}' is already supervised \\(pid {os.getpid()}\\)"
    ):
        InstanceLock(instance, tmp_path)
    path = socket_path(instance)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a killed supervisor's
    server = ControlServer(path, lambda request: {"ok": True})
    thread = serve(server, 1)
    try:
        assert ask(instance, {"command": "status"}) == {"ok": True}
    finally:
        thread.join(timeout=30)
        server.close()
        lock.release()
    InstanceLock(instance, tmp_path).release()


def test_a_client_that_never_finishes_its_line_is_cut_off_in_time(instance: str) -> None:
    server = ControlServer(socket_path(instance), lambda request: {"ok": True})
    thread = serve(server, 1)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            conn.connect(str(server.path))
            conn.sendall(b'{"command"')  # and nothing more
            assert b"no whole line within" in conn.recv(65536)
    finally:
        thread.join(timeout=30)
        server.close()
