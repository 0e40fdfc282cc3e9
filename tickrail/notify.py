"""The systemd notify protocol, spoken directly (no libsystemd): datagrams of ``KEY=VALUE``
lines to the unix socket named by ``$NOTIFY_SOCKET``.

Under ``Type=notify`` the supervisor says ``READY=1`` once every worker runs, ``STATUS=...`` with
a one-line summary, ``WATCHDOG=1`` while every heartbeat is fresh (at least twice per
``$WATCHDOG_USEC``), and ``STOPPING=1`` when it shuts down. Outside systemd the notifier does
nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    """Sends notifications to the service manager, or nothing when there is none."""

    def __init__(self, address: str | None, watchdog_usec: int | None) -> None:
        self._address = address
        self._watchdog_usec = watchdog_usec
        self._socket: socket.socket | None = None
        if address is not None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @staticmethod
    def from_env(environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd's environment asks for: ``$NOTIFY_SOCKET`` (a path, or ``@name``
        for an abstract socket) and ``$WATCHDOG_USEC`` when ``$WATCHDOG_PID`` is this process
        (or unset). A value that does not parse is an error naming it."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        if address is not None and not (address.startswith(("/", "@"))):
            raise ValueError(f"NOTIFY_SOCKET {address!r} is neither a path nor an abstract socket (@name)")
        watchdog: int | None = None
        pid = env.get("WATCHDOG_PID")
        if "WATCHDOG_USEC" in env and (pid is None or pid == str(os.getpid())):
            try:
                watchdog = int(env["WATCHDOG_USEC"])
            except ValueError:
                raise ValueError(
                    f"WATCHDOG_USEC {env['WATCHDOG_USEC']!r} is not a number of microseconds"
                ) from None
            if watchdog <= 0:
                raise ValueError(f"WATCHDOG_USEC {watchdog} must be positive")
        return Notifier(address, watchdog)

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens."""
        return self._socket is not None

    @property
    def watchdog_interval(self) -> float | None:
        """How often to send ``WATCHDOG=1``, in seconds (half the manager's timeout), if it
        watches at all."""
        return None if self._watchdog_usec is None else self._watchdog_usec / 2e6

    def send(self, **fields: str) -> None:
        """Sends ``KEY=VALUE`` lines in one datagram (keys upper-cased), if anyone listens.
        A value may not contain a newline."""
        if self._socket is None or self._address is None:
            return
        lines = []
        for key, value in fields.items():
            if "\n" in value:
                raise ValueError(f"notification {key.upper()} holds a newline")
            lines.append(f"{key.upper()}={value}")
        address = "\0" + self._address[1:] if self._address.startswith("@") else self._address
        self._socket.sendto("\n".join(lines).encode(), address)

    def ready(self, status: str) -> None:
        """Every worker runs."""
        self.send(ready="1", status=status)

    def status(self, status: str) -> None:
        """A one-line summary for ``systemctl status``."""
        self.send(status=status)

    def watchdog(self) -> None:
        """Every heartbeat is fresh."""
        self.send(watchdog="1")

    def stopping(self, status: str) -> None:
        """Shutting down."""
        self.send(stopping="1", status=status)

    def close(self) -> None:
        """Closes the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
