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

from tickrail.control import AlreadyRunning, ControlServer, NotRunning, ask, socket_path


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


def test_a_dead_supervisors_socket_is_replaced_and_a_live_ones_is_not(instance: str) -> None:
    path = socket_path(instance)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a killed supervisor's
    server = ControlServer(path, lambda request: {})
    try:
        with pytest.raises(AlreadyRunning, match=f"another supervisor answers on {path}"):
            ControlServer(path, lambda request: {})
    finally:
        server.close()
