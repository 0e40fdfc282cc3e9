"""What every tickrail process entry point shares: a stop flag set by SIGTERM or SIGINT, dying
with the supervisor that started it, and one-line JSON announcements on stdout that supervisors
and tests read."""

from __future__ import annotations

import ctypes
import json
import os
import selectors
import signal
import sys
import time
from types import FrameType
from typing import IO, Any


class StopFlag:
    """Set by SIGTERM or SIGINT, so a process ends its loop cleanly and releases its roles."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._request)
        signal.signal(signal.SIGINT, self._request)

    def _request(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def sleep(self, seconds: float) -> None:
        """Sleeps up to ``seconds``, waking early (within 50 ms) once a stop is requested."""
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))


#: Set by a supervisor, in the environment of each worker it starts, to its own pid.
SUPERVISOR_PID_ENV = "TICKRAIL_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1


def follow_supervisor(stop: StopFlag) -> bool:
    """In a worker a supervisor started: asks the kernel for SIGTERM (which sets ``stop``) when
    the supervisor dies, however it dies, so a killed supervisor leaves no worker holding cores
    and ports. Whether the supervisor is still there (it may have died before the request)."""
    supervisor = os.environ.get(SUPERVISOR_PID_ENV)
    if supervisor is None:
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    return os.getppid() == int(supervisor) and not stop.requested


def announce(event: str, **fields: Any) -> None:
    """Prints ``{"event": event, **fields}`` as one JSON line on stdout and flushes it. If no one
    reads stdout any more (a killed supervisor), the line and those after it go nowhere."""
    try:
        print(json.dumps({"event": event, **fields}), flush=True)
    except BrokenPipeError:
        # Python's own flush at exit would fail again on the same pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def log(message: str) -> None:
    """Writes one line of health or diagnostics to stderr."""
    print(message, file=sys.stderr, flush=True)


class Announcements:
    """Reads a child process's one-line JSON announcements from its stdout, waiting at most a
    deadline. It reads the pipe's bytes itself: a buffered ``readline`` after ``select`` would
    hide lines that arrived together."""

    def __init__(self, stdout: IO[str] | IO[bytes]) -> None:
        self._fd = stdout.fileno()
        self._pending = bytearray()
        self.seen: list[dict[str, Any]] = []

    def next(self, event: str, timeout: float) -> dict[str, Any] | None:
        """The next announcement of ``event``, or ``None`` if the child ends or stays silent."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._fd, selectors.EVENT_READ)
            while True:
                while b"\n" in self._pending:
                    line, _, rest = bytes(self._pending).partition(b"\n")
                    self._pending = bytearray(rest)
                    announced: dict[str, Any] = json.loads(line)
                    self.seen.append(announced)
                    if announced.get("event") == event:
                        return announced
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return None
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    return None
                self._pending += chunk

    def poll(self) -> bool:
        """Takes what the child has written so far, without waiting, for ``next`` to read;
        ``False`` once its end of the pipe is closed."""
        with selectors.DefaultSelector() as sel:
            sel.register(self._fd, selectors.EVENT_READ)
            if not sel.select(0):
                return True
        chunk = os.read(self._fd, 65536)
        self._pending += chunk
        return bool(chunk)
