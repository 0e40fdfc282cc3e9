"""What every tickrail process entry point shares: a stop flag set by SIGTERM or SIGINT, and
one-line JSON announcements on stdout that supervisors and tests read."""

from __future__ import annotations

import json
import signal
import sys
import time
from types import FrameType
from typing import Any


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


def announce(event: str, **fields: Any) -> None:
    """Prints ``{"event": event, **fields}`` as one JSON line on stdout and flushes it."""
    print(json.dumps({"event": event, **fields}), flush=True)


def log(message: str) -> None:
    """Writes one line of health or diagnostics to stderr."""
    print(message, file=sys.stderr, flush=True)
