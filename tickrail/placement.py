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


def threads(pid: int) -> list[int]:
    """The ids of every thread of process ``pid`` (the hot loop is rarely its main thread)."""
    try:
        return sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        raise ProcessLookupError(f"process {pid} is gone") from None


def place(
    pid: int, core: int | None, fifo_priority: int | None, lock_refused: str | None = None
) -> Placement:
    """Pins every thread of ``pid`` to ``core`` and puts each in SCHED_FIFO at
    ``fifo_priority``, as far as asked and allowed (threads it starts later inherit from the one
    that starts them); returns what the kernel reports its threads have: the cores any of them
    may run on, and a SCHED_FIFO priority only if all of them have it. ``lock_refused`` is the
    worker's own word on a memory lock it asked for and did not get."""
    refused: list[str] = []
    tids = threads(pid)
    for tid in tids:
        if core is not None:
            try:
                os.sched_setaffinity(tid, {core})
            except OSError as e:
                refused.append(f"pin thread {tid} to core {core}: {e.strerror}")
        if fifo_priority is not None:
            try:
                os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(fifo_priority))
            except OSError as e:
                refused.append(f"SCHED_FIFO {fifo_priority} for thread {tid}: {e.strerror}")
    if lock_refused is not None:
        refused.append(lock_refused)
    cores = frozenset().union(*(os.sched_getaffinity(tid) for tid in tids))
    priorities = {
        os.sched_getparam(tid).sched_priority if os.sched_getscheduler(tid) == os.SCHED_FIFO else None
        for tid in tids
    }
    fifo = priorities.pop() if len(priorities) == 1 else None
    return Placement(
        pid=pid,
        cores=cores,
        fifo_priority=fifo,
        memory_locked=memory_locked(pid),
        refused=tuple(refused),
    )
