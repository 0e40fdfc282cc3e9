"""The supervisor of an instance: starts its workers in order, pins them, watches them by exit
and by heartbeat, restarts the dead and the hung with back-off, halts when restarts come too
fast, speaks systemd's notify protocol, and drains in order when told to stop.

Events go to stdout as JSON lines (``started``, ``placed``, ``died``, ``restarted``, ``fatal``,
``halted``, ``stopped``), for engineers and tests; workers' own logs go to stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import random
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from shm_layout import SegmentNotFound, ShmError, remove_if_stale, segment_stats, unlink
from tickrail.config import Instance
from tickrail.launch import WorkerSpec, plan
from tickrail.notify import Notifier
from tickrail.placement import place
from tickrail.process import Announcements, StopFlag
from tickrail.restarts import Intensity, Policy, State, Worker

#: How long a worker may take to say it is listening.
START_TIMEOUT_S = 20.0
#: How long a stopped worker gets to exit before it is killed.
STOP_GRACE_S = 10.0
#: A feed whose heartbeat is older than this is hung.
HEARTBEAT_TIMEOUT_S = 3.0
#: How often the supervisor looks at its workers.
TICK_S = 0.1
#: How often systemd hears the one-line summary.
STATUS_EVERY_S = 1.0


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In a worker about to start: SIGTERM when the supervisor dies, however it dies (a
    SIGKILLed supervisor would otherwise leave its workers running, holding cores and ports)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


@dataclass
class Running:
    """A supervised worker: its spec, its state, and its process."""

    spec: WorkerSpec
    state: Worker
    process: subprocess.Popen[str] | None = None
    announced: dict[str, Any] = field(default_factory=dict)


class Supervisor:
    """Runs one instance."""

    def __init__(
        self,
        instance: Instance,
        policy: Policy | None = None,
        notifier: Notifier | None = None,
        out: TextIO = sys.stdout,
        seed: int = 0,
    ) -> None:
        self.instance = instance
        self.policy = policy or Policy()
        self.notifier = notifier or Notifier(None, None)
        self.out = out
        self.rng = random.Random(seed)
        self.intensity = Intensity(self.policy)
        self.workers = [Running(spec, Worker(spec.name, self.policy)) for spec in plan(instance)]
        self.selector = selectors.DefaultSelector()

    def event(self, event: str, **fields: Any) -> None:
        """One JSON line on stdout."""
        self.out.write(json.dumps({"event": event, **fields}) + "\n")
        self.out.flush()

    def run(self, stop: StopFlag, duration: float | None = None) -> int:
        """Starts everything, supervises until ``stop`` (or ``duration``), drains; the exit
        status: 0 after a requested stop, 1 after a halt."""
        for worker in self.workers:
            for segment in worker.spec.segments:
                with contextlib.suppress(SegmentNotFound):
                    remove_if_stale(segment)  # a leftover of a killed run
        status = 0
        try:
            for worker in self.workers:
                if not self.start(worker):
                    status = self.halt(f"{worker.spec.name} did not start")
                    return status
            self.notifier.ready(self.summary())
            started = time.monotonic()
            last_watchdog = last_status = 0.0
            while not stop.requested and (duration is None or time.monotonic() - started < duration):
                stop.sleep(TICK_S)
                self.drain_output()
                if (reason := self.watch()) is not None:
                    status = self.halt(reason)
                    return status
                now = time.monotonic()
                interval = self.notifier.watchdog_interval
                if interval and now - last_watchdog >= interval and self.all_fresh():
                    self.notifier.watchdog()
                    last_watchdog = now
                if now - last_status >= STATUS_EVERY_S:
                    self.notifier.status(self.summary())
                    last_status = now
            return status
        finally:
            self.drain(status)

    def start(self, worker: Running) -> bool:
        """Starts ``worker`` and waits (bounded) for it to say it listens; pins it."""
        process = subprocess.Popen(
            [sys.executable, "-m", *worker.spec.argv],
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            preexec_fn=_die_with_parent,
        )
        worker.process = process
        assert process.stdout is not None
        announced = Announcements(process.stdout).next("listening", START_TIMEOUT_S)
        if announced is None:
            process.kill()
            process.wait(STOP_GRACE_S)
            return False
        worker.announced = announced
        self.selector.register(process.stdout, selectors.EVENT_READ, worker)
        worker.state.started(time.monotonic())
        placement = place(process.pid, worker.spec.core, None, False)
        self.event("started", worker=worker.spec.name, pid=process.pid)
        self.event("placed", worker=worker.spec.name, placement=placement.describe())
        return True

    def drain_output(self) -> None:
        """Reads what workers printed (so none blocks on a full pipe)."""
        for key, _ in self.selector.select(0):
            worker: Running = key.data
            stdout = worker.process.stdout if worker.process is not None else None
            if stdout is None or not stdout.readline():
                self.selector.unregister(key.fileobj)

    def watch(self) -> str | None:
        """Restarts the dead and the hung; a reason to halt, if restarts come too fast."""
        now = time.monotonic()
        for worker in self.workers:
            state = worker.state.state
            if state is State.RUNNING and (reason := self.failure(worker)) is not None:
                self.event("died", worker=worker.spec.name, reason=reason)
                self.stop_process(worker, kill=True)
                if worker.state.died(now, self.rng) is None:
                    self.event("fatal", worker=worker.spec.name)
                    return f"{worker.spec.name} is fatal"
            elif (
                state is State.BACKOFF and worker.state.retry_at is not None and now >= worker.state.retry_at
            ):
                worker.state.restarting(now)
                if self.intensity.restart(now):
                    return "restart intensity exceeded"
                if self.start(worker):
                    self.event("restarted", worker=worker.spec.name, restarts=worker.state.restarts)
                elif worker.state.died(now, self.rng) is None:
                    return f"{worker.spec.name} is fatal"
        return None

    def failure(self, worker: Running) -> str | None:
        """Why a running worker is no longer healthy, if it is not."""
        assert worker.process is not None
        code = worker.process.poll()
        if code is not None:
            return f"exited with status {code}"
        age = self.heartbeat_age(worker)
        if age is not None and age > HEARTBEAT_TIMEOUT_S:
            return f"heartbeat {age:.1f} s old"
        return None

    @staticmethod
    def heartbeat_age(worker: Running) -> float | None:
        """The age of a feed's heartbeat in its metrics segment, in seconds."""
        metrics = [s for s in worker.spec.segments if s.endswith(".metrics")]
        if not metrics:
            return None
        try:
            return segment_stats(metrics[0])["heartbeat_age_ns"] / 1e9
        except ShmError:
            return None

    def all_fresh(self) -> bool:
        """Whether every worker runs with a fresh heartbeat."""
        return all(
            w.state.state is State.RUNNING and (self.heartbeat_age(w) or 0.0) <= HEARTBEAT_TIMEOUT_S
            for w in self.workers
        )

    def summary(self) -> str:
        """One line: how many workers run, and the restarts."""
        running = sum(w.state.state is State.RUNNING for w in self.workers)
        restarts = sum(w.state.restarts for w in self.workers)
        return f"{running}/{len(self.workers)} workers running, {restarts} restarts"

    def stop_process(self, worker: Running, kill: bool = False) -> None:
        """Stops ``worker``'s process: SIGTERM and a grace period (or SIGKILL at once)."""
        process = worker.process
        if process is None:
            return
        if process.stdout is not None and process.stdout in self.selector.get_map():
            self.selector.unregister(process.stdout)
        if process.poll() is None:
            if kill:
                process.kill()
            else:
                process.terminate()
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_GRACE_S)
        if process.stdout is not None:
            process.stdout.close()
        worker.process = None

    def halt(self, reason: str) -> int:
        """Gives up: the caller drains; exit status 1 so systemd takes over."""
        self.event("halted", reason=reason)
        return 1

    def drain(self, status: int) -> None:
        """Stops every worker, feeds before venues, and unlinks what they left."""
        self.notifier.stopping("draining")
        for worker in reversed(self.workers):
            if worker.state.state in (State.RUNNING, State.STARTING, State.BACKOFF):
                worker.state.stopping()
            self.stop_process(worker)
            if worker.state.state is State.STOPPING:
                worker.state.stopped()
            for segment in worker.spec.segments:
                with contextlib.suppress(SegmentNotFound):
                    unlink(segment)
        self.event("stopped", status=status)
