"""Putting a worker process where the configuration asks: pinned to its core, in SCHED_FIFO at a
priority (both set by the supervisor), with its memory locked (by the worker itself, since
``mlockall`` acts only on the calling process and does not survive ``exec``); each only if
asked, each read back, and each refusal (a container without CAP_SYS_NICE, say) reported
rather than fatal.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from pathlib import Path

_MCL_CURRENT, _MCL_FUTURE = 1, 2


@dataclass(frozen=True)
class Placement:
    """What a worker asked for and what it really got."""

    pid: int
    cores: frozenset[int]
    fifo_priority: int | None
    memory_locked: bool
    refused: tuple[str, ...]

    def describe(self) -> str:
        """One line for logs and ``tickrail status``."""
        cores = ",".join(map(str, sorted(self.cores)))
        policy = f"SCHED_FIFO {self.fifo_priority}" if self.fifo_priority is not None else "SCHED_OTHER"
        locked = "memory locked" if self.memory_locked else "memory not locked"
        refused = f" (refused: {'; '.join(self.refused)})" if self.refused else ""
        return f"pid {self.pid}: cores {cores}, {policy}, {locked}{refused}"


def lock_memory() -> str | None:
    """Locks this process's memory, present and future (``mlockall``); why not, if refused."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) == 0:
        return None
    return f"mlockall: {os.strerror(ctypes.get_errno())}"


def memory_locked(pid: int) -> bool:
    """Whether ``pid`` has locked its memory (``VmLck`` in its status is not zero)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    locked = next((line.split()[1] for line in status.splitlines() if line.startswith("VmLck:")), "0")
    return locked != "0"


def place(
    pid: int, core: int | None, fifo_priority: int | None, lock_refused: str | None = None
) -> Placement:
    """Pins ``pid`` to ``core`` and puts it in SCHED_FIFO at ``fifo_priority``, as far as asked
    and allowed; returns what the kernel reports it has. ``lock_refused`` is the worker's own
    word on a memory lock it asked for and did not get."""
    refused: list[str] = []
    if core is not None:
        try:
            os.sched_setaffinity(pid, {core})
        except OSError as e:
            refused.append(f"pin to core {core}: {e.strerror}")
    if fifo_priority is not None:
        try:
            os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(fifo_priority))
        except OSError as e:
            refused.append(f"SCHED_FIFO {fifo_priority}: {e.strerror}")
    if lock_refused is not None:
        refused.append(lock_refused)
    fifo = os.sched_getscheduler(pid) == os.SCHED_FIFO
    return Placement(
        pid=pid,
        cores=frozenset(os.sched_getaffinity(pid)),
        fifo_priority=os.sched_getparam(pid).sched_priority if fifo else None,
        memory_locked=memory_locked(pid),
        refused=tuple(refused),
    )
