"""Starting venue and feed processes for tests, and reading what they announce."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from tickrail.process import Announcements


@dataclass
class Process:
    """A child process whose stdout carries one JSON object per line."""

    name: str
    popen: subprocess.Popen[str]
    announcements: Announcements | None = None

    def expect(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        """Waits (bounded) for the next announcement of ``event``; fails with the process's
        stderr if it exits or stays silent."""
        if self.announcements is None:
            assert self.popen.stdout is not None
            self.announcements = Announcements(self.popen.stdout)
        announced = self.announcements.next(event, timeout)
        if announced is not None:
            return announced
        self.popen.kill()
        _, err = self.popen.communicate(timeout=5)
        raise AssertionError(f"{self.name} never announced {event!r}; stderr:\n{err}")

    def wait(self, timeout: float = 10.0) -> int:
        """Waits (bounded) for the process to exit on its own; its status."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)
            raise AssertionError(f"{self.name} did not exit within {timeout} s") from None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then a bounded wait; SIGKILL if it hangs."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)
            raise AssertionError(f"{self.name} did not stop within {timeout} s") from None


def start(name: str, module: str, *args: str, env: dict[str, str] | None = None) -> Process:
    """Starts ``python -m module args...``, with ``env`` added to the environment."""
    popen = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    return Process(name, popen)
