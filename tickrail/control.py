"""The supervisor's control socket: a unix stream socket in the runtime directory, named after
the instance, where ``tickrail status``, ``start``, ``stop`` and ``restart`` ask the running
supervisor. A request is one JSON object on one line; so is the answer.

The socket also keeps one instance to one supervisor: a second supervisor of the same instance
finds the first one answering and refuses to start (before it touches any segment), while a
socket file left by a killed supervisor is refused by the kernel and is replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Longest request or answer, in bytes.
MAX_MESSAGE = 1 << 20
#: How long the supervisor gives a client to send its request.
REQUEST_TIMEOUT_S = 1.0


class ControlError(Exception):
    """The control socket cannot be served or reached; the message says which and why."""


class AlreadyRunning(ControlError):
    """Another supervisor of the instance answers on its socket."""


class NotRunning(ControlError):
    """No supervisor of the instance answers on its socket."""


def runtime_dir() -> Path:
    """Where control sockets live: systemd's ``RuntimeDirectory`` (``$RUNTIME_DIRECTORY``),
    else ``$XDG_RUNTIME_DIR/tickrail``, else ``/tmp/tickrail-UID``; created private."""
    given = os.environ.get("RUNTIME_DIRECTORY")
    if given:
        return Path(given.split(":")[0])
    base = os.environ.get("XDG_RUNTIME_DIR")
    path = Path(base) / "tickrail" if base else Path(f"/tmp/tickrail-{os.getuid()}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def socket_path(instance: str) -> Path:
    """The control socket of ``instance``."""
    return runtime_dir() / f"{instance}.sock"


def _read_line(conn: socket.socket) -> bytes:
    data = bytearray()
    while b"\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ControlError(f"a message longer than {MAX_MESSAGE} bytes")
    return bytes(data).split(b"\n", 1)[0]


class ControlServer:
    """The supervisor's end: a listening socket its event loop polls, answering each request
    with ``handler``."""

    def __init__(self, path: Path, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.path = path
        self.handler = handler
        if path.exists():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(path))
                except OSError:
                    path.unlink()  # left by a supervisor that was killed
                else:
                    raise AlreadyRunning(f"another supervisor answers on {path}")
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.socket.bind(str(path))
        except OSError as e:
            self.socket.close()
            raise ControlError(f"cannot listen on {path}: {e.strerror}") from None
        os.chmod(path, 0o600)
        self.socket.listen(8)
        self.socket.setblocking(False)

    def fileno(self) -> int:
        """The listening socket, for a selector."""
        return self.socket.fileno()

    def serve_one(self) -> None:
        """Accepts one waiting client and answers its request; a client that sends nothing
        valid in time gets an error, and never stops the supervisor."""
        try:
            conn, _ = self.socket.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(REQUEST_TIMEOUT_S)
            try:
                request = json.loads(_read_line(conn))
                if not isinstance(request, dict):
                    raise ValueError("a request is a JSON object")
                answer = self.handler(request)
            except (OSError, ValueError, ControlError) as e:
                answer = {"error": f"bad request: {e}"}
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps(answer).encode() + b"\n")

    def close(self) -> None:
        """Stops listening and removes the socket file."""
        self.socket.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def ask(instance: str, request: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Sends ``request`` to the supervisor of ``instance`` and returns its answer."""
    path = socket_path(instance)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotRunning(f"no supervisor of instance {instance!r} answers on {path}") from None
        try:
            conn.sendall(json.dumps(request).encode() + b"\n")
            line = _read_line(conn)
        except TimeoutError:
            raise ControlError(f"the supervisor on {path} did not answer within {timeout} s") from None
    if not line:
        raise ControlError(f"the supervisor on {path} closed without answering")
    answer: dict[str, Any] = json.loads(line)
    return answer
