"""Placing a worker: pinned where asked, and what the kernel refused said, never hidden."""

from __future__ import annotations

import os
import subprocess
import sys

from tickrail.placement import memory_locked, place, threads


def sleeper() -> subprocess.Popen[bytes]:
    """A process whose main thread and a second thread both sleep, like a worker whose hot loop
    runs on a thread of its own."""
    code = (
        "import sys, threading, time; threading.Thread(target=time.sleep, args=(30,)).start(); "
        "print(flush=True); time.sleep(30)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline() == b"\n", "its thread runs"
    return process


def test_a_worker_is_pinned_to_its_core_and_the_kernel_says_so() -> None:
    core = max(os.sched_getaffinity(0))
    worker = sleeper()
    try:
        placement = place(worker.pid, core, None)
        assert len(threads(worker.pid)) == 2
        assert placement.cores == {core}
        assert all(os.sched_getaffinity(tid) == {core} for tid in threads(worker.pid)), "every thread"
        assert placement.fifo_priority is None and placement.refused == ()
        assert f"cores {core}, SCHED_OTHER" in placement.describe()
    finally:
        worker.kill()
        worker.wait(timeout=10)


def test_a_core_out_of_reach_and_real_time_scheduling_are_granted_or_reported_never_hidden() -> None:
    worker = sleeper()
    try:
        placement = place(worker.pid, 4096, 10, "mlockall: Operation not permitted")
        assert sum("to core 4096" in r for r in placement.refused) == 2, "both threads refused"
        assert "mlockall: Operation not permitted" in placement.refused and not placement.memory_locked
        fifo_refused = any("SCHED_FIFO 10 for thread" in r for r in placement.refused)
        # Either the kernel granted SCHED_FIFO (and says so), or the refusal is reported.
        assert (placement.fifo_priority == 10) != fifo_refused
        assert "refused:" in placement.describe()
    finally:
        worker.kill()
        worker.wait(timeout=10)


def test_a_process_that_locks_its_memory_is_seen_locked_or_says_why_not() -> None:
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tickrail.placement import lock_memory; "
            "print(lock_memory(), flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert locker.stdout is not None
        refused = locker.stdout.readline().strip()
        # Locking is granted (and visible in the kernel's VmLck) or refused with the reason.
        assert memory_locked(locker.pid) == (refused == "None")
        assert refused == "None" or refused.startswith("mlockall: ")
        assert not memory_locked(os.getpid())
    finally:
        locker.kill()
        locker.wait(timeout=10)
