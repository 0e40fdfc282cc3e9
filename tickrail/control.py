"""The supervisor's control socket: a unix stream socket in the runtime directory, named after
the instance, where ``tickrail status``, ``start``, ``stop`` and ``restart`` ask the running
supervisor. A request is one JSON object on one line; so is the answer.

One supervisor per instance is kept by :class:`InstanceLock`, an ``flock`` on a file beside the
instance's segments in ``/dev/shm`` (so it holds whatever runtime directory a supervisor was
given): a second supervisor of the instance refuses to start before it touches anything, and
the kernel drops a killed supervisor's lock with it. A socket file a killed supervisor left is
then simply replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Longest request or answer, in bytes.
MAX_MESSAGE = 1 << 16
#: How long the supervisor gives a client to send its whole request.
REQUEST_TIMEOUT_S = 1.0
#: How long a client waits for an answer: a restart may stop and start two workers.
ANSWER_TIMEOUT_S = 120.0
#: Where the instance locks live: beside the segments, whatever the environment says.
LOCK_DIR = Path("/dev/shm")


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


class InstanceLock:
    """Holds the instance: an exclusive ``flock`` on ``/dev/shm/.tickrail.<instance>.lock``,
    released by the kernel when this process ends, however it ends. The file itself stays (a
    lock on a file that is unlinked and created again would let two holders in)."""

    def __init__(self, instance: str, directory: Path = LOCK_DIR) -> None:
        self.path = directory / f".tickrail.{instance}.lock"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise AlreadyRunning(f"instance {instance!r} is already supervised (pid {holder})") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Lets the instance go."""
        os.close(self.fd)


def _read_line(conn: socket.socket, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = bytearray()
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ControlError(f"no whole line within {timeout} s")
        conn.settimeout(left)
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            raise ControlError(f"no whole line within {timeout} s") from None
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_MESSAGE:
            raise ControlError(f"a message longer than {MAX_MESSAGE} bytes")
    return bytes(data).split(b"\n", 1)[0]


class ControlServer:
    """The supervisor's end: a listening socket its event loop polls, answering each request
    with ``handler``. Its caller holds the :class:`InstanceLock`, so a socket file already at
    ``path`` was left by a supervisor that was killed."""

    def __init__(self, path: Path, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.path = path
        self.handler = handler
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
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
            try:
                request = json.loads(_read_line(conn, REQUEST_TIMEOUT_S))
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


def ask(instance: str, request: dict[str, Any], timeout: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
    """Sends ``request`` to the supervisor of ``instance`` and returns its answer."""
    path = socket_path(instance)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        try:
            conn.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotRunning(f"no supervisor of instance {instance!r} answers on {path}") from None
        except OSError as e:
            raise ControlError(f"cannot reach the supervisor on {path}: {e.strerror}") from None
        try:
            conn.sendall(json.dumps(request).encode() + b"\n")
            line = _read_line(conn, timeout)
        except (TimeoutError, ControlError):
            raise ControlError(f"the supervisor on {path} did not answer within {timeout} s") from None
        except OSError as e:
            raise ControlError(f"the supervisor on {path} failed to answer: {e.strerror}") from None
    try:
        answer: dict[str, Any] = json.loads(line)
    except ValueError:
        raise ControlError(f"the supervisor on {path} answered {line[:80]!r}, not JSON") from None
    return answer
