"""Putting a worker process where the configuration asks: pinned to its core, in SCHED_FIFO at a
priority, with its memory locked; each only if asked, each read back from the kernel, and each
refusal (a container without CAP_SYS_NICE, say) reported rather than fatal.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass

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


def place(pid: int, core: int | None, fifo_priority: int | None, lock_memory: bool) -> Placement:
    """Pins ``pid`` to ``core``, puts it in SCHED_FIFO at ``fifo_priority`` and locks this
    process's memory, as far as asked and allowed; returns what the kernel reports it has."""
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
    locked = False
    if lock_memory:
        if pid != os.getpid():
            refused.append("mlockall: only a process can lock its own memory")
        else:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) == 0:
                locked = True
            else:
                refused.append(f"mlockall: {os.strerror(ctypes.get_errno())}")
    fifo = os.sched_getscheduler(pid) == os.SCHED_FIFO
    return Placement(
        pid=pid,
        cores=frozenset(os.sched_getaffinity(pid)),
        fifo_priority=os.sched_getparam(pid).sched_priority if fifo else None,
        memory_locked=locked,
        refused=tuple(refused),
    )
