"""The supervisor of an instance: creates its segments, starts its workers in order, pins them,
watches them by exit and by heartbeat, restarts the dead and the hung with back-off, halts when
restarts come too fast, speaks systemd's notify protocol, answers ``tickrail status``,
``start``, ``stop`` and ``restart`` on its control socket, serves Prometheus metrics if asked,
and drains in order when told to stop.

A feed follows its simulated venue: when the venue goes (dies, or is stopped), the feed is
stopped too and started again once the venue runs again, since a new venue is a new session.
The feed then attaches to the segments it had, so their readers resume. When the instance
stops, the simulated venues close first and every feed's books are checked against their
closing books.

Events (``started``, ``placed``, ``died``, ``held``, ``restarted``, ``fatal``, ``halted``,
``stopped``, ...) go to an observer: JSON lines on stdout by default; workers' own logs go to
stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import selectors
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from risk import limits as risk_limits
from risk.limits import RiskLimitsError
from shm_layout import SegmentExists, SegmentNotFound, ShmError, remove_if_stale, segment_stats, unlink
from tickrail import execution_plan, risk_plan
from tickrail.closing import settle
from tickrail.config import Instance
from tickrail.control import ControlError, ControlServer, InstanceLock, socket_path
from tickrail.execution_plan import journal_path
from tickrail.launch import WorkerSpec, plan
from tickrail.market import instruments
from tickrail.notify import Notifier
from tickrail.placement import Placement, place
from tickrail.positions import ReportsReader, venue_mismatches
from tickrail.process import SUPERVISOR_PID_ENV, Announcements, StopFlag
from tickrail.prometheus import MetricsServer
from tickrail.restarts import Intensity, State, Worker
from tickrail.trading import TradingControl, TradingStateError, TradingStates
from tickrail.trading import segment_name as trading_segment

#: How long a worker may take to say it is listening.
START_TIMEOUT_S = 20.0
#: How long a stopped worker gets to exit before it is killed.
STOP_GRACE_S = 10.0
#: How often the supervisor looks at its workers (at most; requests wake it at once).
TICK_S = 0.1
#: How often systemd hears the one-line summary, and the observer ticks.
STATUS_EVERY_S = 1.0
#: How long the simulated venues told to close may take, together, to announce their books.
CLOSE_TIMEOUT_S = 10.0
#: How long the feeds get, together, to settle on their venues' closing books (the venues serve
#: recovery for :data:`tickrail.launch.VENUE_LINGER_MS` after closing).
SETTLE_TIMEOUT_S = 3.0
#: Set in the supervisor's environment: Python arguments put before every worker's ``-m <module>
#: ...``, split as a shell would, ``{worker}`` standing for the worker's name (``bench.memcheck``
#: runs each worker under memray's tracker with ``-m bench.memcheck track DIR/{worker}.bin``;
#: ``-m memray run -q -o DIR/{worker}.bin`` would do for a whole run).
WORKER_PYTHON_ARGS_ENV = "TICKRAIL_WORKER_PYTHON_ARGS"


def worker_command(spec: WorkerSpec) -> list[str]:
    """The command that starts ``spec``'s worker: ``python -m <argv>``, with the arguments
    :data:`WORKER_PYTHON_ARGS_ENV` holds, if any, between the interpreter and ``-m``."""
    wrapper = os.environ.get(WORKER_PYTHON_ARGS_ENV, "").replace("{worker}", spec.name)
    return [sys.executable, *shlex.split(wrapper), "-m", *spec.argv]


class Observer(Protocol):
    """Who hears what the supervisor does: its events as they happen, a tick every second
    while it runs, and the end of the run (while the segments still exist)."""

    def event(self, event: dict[str, Any]) -> None:
        """One event: ``{"event": name, ...}``."""

    def tick(self, supervisor: Supervisor) -> None:
        """Once a second while the instance runs."""

    def finished(self, supervisor: Supervisor, status: int) -> None:
        """Every worker has stopped; the segments are about to be unlinked."""


class JsonLines:
    """The default observer: each event as one JSON line on stdout."""

    def event(self, event: dict[str, Any]) -> None:
        """Prints ``event``."""
        print(json.dumps(event), flush=True)

    def tick(self, supervisor: Supervisor) -> None:
        """Nothing: the events say it all."""

    def finished(self, supervisor: Supervisor, status: int) -> None:
        """Nothing: ``stopped`` follows."""


@dataclass
class Running:
    """A supervised worker: its spec, its state, its process and where it runs."""

    spec: WorkerSpec
    state: Worker
    process: subprocess.Popen[bytes] | None = None
    announcements: Announcements | None = None
    placement: Placement | None = None
    #: Stopped by an operator, or held for a worker it follows that an operator stopped:
    #: not expected to beat until started again.
    stopped_on_request: bool = False


class Supervisor:
    """Runs one instance."""

    def __init__(
        self,
        instance: Instance,
        notifier: Notifier | None = None,
        observer: Observer | None = None,
        seed: int = 0,
        worker_log: IO[str] | None = None,
    ) -> None:
        self.instance = instance
        #: Where workers' stderr goes (``None``: the supervisor's own).
        self.worker_log = worker_log
        self.policy = instance.supervision.policy
        self.heartbeat_timeout = instance.supervision.heartbeat_timeout
        self.notifier = notifier or Notifier(None, None)
        self.observer: Observer = observer or JsonLines()
        self.rng = random.Random(seed)
        self.intensity = Intensity(self.policy)
        self.workers = [Running(spec, Worker(spec.name, self.policy)) for spec in plan(instance)]
        self.selector = selectors.DefaultSelector()
        self.started_at = self.ended_at = time.monotonic()
        #: Each feed's books against its venue's closing books, once drained.
        self.closing_checks: list[dict[str, Any]] = []
        #: The segments this run created, and so unlinks.
        self.created: list[str] = []
        #: The trading state the gate reads: ordered through the risk worker where there is one.
        self.trading: TradingStates | TradingControl | None = None
        #: The execution worker's reports, as the risk worker copies them on.
        self.reports: ReportsReader | None = None
        #: Our fills and orders on each venue against the venue's own record, once drained.
        self.position_checks: list[dict[str, Any]] = []

    def emit(self, event: str, **fields: Any) -> None:
        """Tells the observer."""
        self.observer.event({"event": event, **fields})

    def run(self, stop: StopFlag, duration: float | None = None) -> int:
        """Starts everything, supervises until ``stop`` (or ``duration``), drains; the exit
        status: 0 after a requested stop, 1 after a halt or when it cannot start."""
        try:
            lock = InstanceLock(self.instance.name)
            control = ControlServer(socket_path(self.instance.name), self.answer)
        except ControlError as e:
            self.emit("refused", reason=str(e))
            return 1
        except OSError as e:
            lock.release()
            self.emit("refused", reason=f"instance {self.instance.name!r}: {e}")
            return 1
        self.selector.register(control, selectors.EVENT_READ, control)
        metrics = None
        status = 1  # unless the run ends as asked
        try:
            if self.instance.metrics_listen is not None:
                metrics = MetricsServer(self.instance.metrics_listen, self)
                self.emit("metrics", listen=metrics.address)
            status = self.supervise(stop, duration)
        except (OSError, ShmError) as e:
            status = self.halt(str(e))
        finally:
            try:
                self.drain(status)
            finally:
                if metrics is not None:
                    metrics.close()
                control.close()
                self.selector.close()
                lock.release()
        return status

    def supervise(self, stop: StopFlag, duration: float | None) -> int:
        """Creates the segments, starts the workers, then watches them until told to stop."""
        self.create_segments()
        self.rotate_journal()
        for worker in self.workers:
            if not self.start(worker):
                return self.halt(f"{worker.spec.name} did not start")
        self.notifier.ready(self.summary())
        self.started_at = time.monotonic()
        last_watchdog = last_status = 0.0
        while not stop.requested and (duration is None or time.monotonic() - self.started_at < duration):
            for key, _ in self.selector.select(TICK_S):
                if isinstance(key.data, ControlServer):
                    key.data.serve_one()
                else:
                    self.drain_output(key.data)
            if (reason := self.watch()) is not None:
                return self.halt(reason)
            if isinstance(self.trading, TradingStates):
                self.trading.heartbeat()
            if self.reports is not None:
                self.reports.poll()
            now = time.monotonic()
            interval = self.notifier.watchdog_interval
            if interval and now - last_watchdog >= interval and self.all_fresh():
                self.notifier.watchdog()
                last_watchdog = now
            if now - last_status >= STATUS_EVERY_S:
                self.notifier.status(self.summary())
                self.observer.tick(self)
                last_status = now
        return 0

    @property
    def elapsed(self) -> float:
        """Seconds the instance has run since every worker started (until it began to drain)."""
        end = self.ended_at if self.ended_at > self.started_at else time.monotonic()
        return end - self.started_at

    def create_segments(self) -> None:
        """Creates every worker's segments, first removing what a killed run left; only the
        segments created here are unlinked when the instance stops."""
        for worker in self.workers:
            for segment in worker.spec.segments:
                with contextlib.suppress(SegmentNotFound):
                    if remove_if_stale(segment):
                        self.emit("cleaned", segment=segment)
            try:
                worker.spec.create_segments()
            except SegmentExists as e:
                raise ShmError(f"{worker.spec.name}: {e}") from None
            self.created.extend(worker.spec.segments)
        name = trading_segment(self.instance.name)
        if self.instance.risk is not None:
            # The risk worker's segments hold the trading state; it writes them.
            self.trading = TradingControl(
                name,
                risk_plan.commands_segment(self.instance.name),
                risk_plan.describe_symbols(self.instance),
            )
            self.reports = ReportsReader(risk_plan.forward_segment(self.instance.name))
            return
        with contextlib.suppress(SegmentNotFound):
            if remove_if_stale(name):
                self.emit("cleaned", segment=name)
        self.trading = TradingStates(name, dict(instruments()))
        self.created.append(name)

    def rotate_journal(self) -> None:
        """Sets an earlier run's journal aside when every venue traded is simulated: they start
        a new session with this run, so its orders are not the earlier run's. (Trading on real
        venues, a restarted instance carries on its day's journal.)"""
        execution = self.instance.execution
        if execution is None or not all(self.instance.venues[v].simulated for v in execution.venues):
            return
        path = journal_path(self.instance)
        if path.exists() and path.stat().st_size > 0:
            aside = path.with_name(f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}")
            path.rename(aside)
            self.emit("journal-rotated", journal=str(path), kept=str(aside))

    def start(self, worker: Running) -> bool:
        """Starts ``worker``, waits (bounded) for it to say it listens, and places it; a worker
        that cannot start, or dies before it is placed, is stopped and ``False`` returned."""
        try:
            process = subprocess.Popen(
                worker_command(worker.spec),
                stdout=subprocess.PIPE,
                stderr=self.worker_log,
                env={**os.environ, SUPERVISOR_PID_ENV: str(os.getpid())},
            )
        except OSError as e:
            self.emit("not-started", worker=worker.spec.name, reason=str(e))
            return False
        worker.process = process
        assert process.stdout is not None
        worker.announcements = Announcements(process.stdout)
        try:
            announced = worker.announcements.next("listening", START_TIMEOUT_S)
            if announced is None:
                raise ProcessLookupError("it did not say it listens")
            pinning = worker.spec.pinning
            placement = place(process.pid, pinning.core, pinning.priority, announced.get("lock_refused"))
        except (OSError, ValueError) as e:
            self.emit("not-started", worker=worker.spec.name, reason=str(e))
            self.stop_process(worker, kill=True)
            return False
        worker.placement = placement
        worker.stopped_on_request = False
        self.selector.register(process.stdout, selectors.EVENT_READ, worker)
        worker.state.started(time.monotonic())
        self.emit("started", worker=worker.spec.name, pid=process.pid)
        self.emit("placed", worker=worker.spec.name, placement=placement.describe())
        return True

    def drain_output(self, worker: Running) -> None:
        """Takes what a worker printed (so none blocks on a full pipe)."""
        stdout = worker.process.stdout if worker.process is not None else None
        if stdout is not None and worker.announcements is not None and not worker.announcements.poll():
            self.selector.unregister(stdout)

    def watch(self) -> str | None:
        """Restarts the dead and the hung; a reason to halt, if restarts come too fast."""
        now = time.monotonic()
        for worker in self.workers:
            state = worker.state.state
            if state is State.RUNNING and (reason := self.failure(worker, now)) is not None:
                self.stop_process(worker, kill=True)
                if (halt := self.failed(worker, now, reason)) is not None:
                    return halt
                self.hold_followers(worker, now, on_request=False)
            elif state is State.BACKOFF and self.may_restart(worker, now):
                worker.state.restarting(now)
                if self.start(worker):
                    self.emit("restarted", worker=worker.spec.name, restarts=worker.state.restarts)
                elif (halt := self.failed(worker, now, "did not start")) is not None:
                    return halt
        return None

    def failed(self, worker: Running, now: float, reason: str) -> str | None:
        """Counts a worker's failure: BACKOFF, or FATAL after too many in a row; a reason to
        halt if it is FATAL or restarts come faster than the intensity allows."""
        self.emit("died", worker=worker.spec.name, reason=reason)
        if worker.state.died(now, self.rng) is None:
            self.emit("fatal", worker=worker.spec.name)
            return f"{worker.spec.name} is fatal"
        if self.intensity.restart(now):
            return (
                f"restart intensity exceeded: more than {self.policy.intensity} restarts "
                f"in {self.policy.period:g} s"
            )
        return None

    def may_restart(self, worker: Running, now: float) -> bool:
        """Whether a worker in BACKOFF is due, and the worker it follows runs."""
        retry_at = worker.state.retry_at
        if retry_at is None or now < retry_at:
            return False
        leader = self.find(worker.spec.after) if worker.spec.after else None
        return leader is None or leader.state.state is State.RUNNING

    def hold_followers(self, worker: Running, now: float, on_request: bool) -> None:
        """Stops the running workers that follow ``worker``, to start again after it (waited
        for like ``worker`` itself when an operator stopped it)."""
        for follower in self.workers:
            if follower.spec.after == worker.spec.name and follower.state.state is State.RUNNING:
                self.stop_process(follower)
                follower.state.held(now)
                follower.stopped_on_request = on_request
                self.emit("held", worker=follower.spec.name, until=worker.spec.name)

    def failure(self, worker: Running, now: float) -> str | None:
        """Why a running worker is no longer healthy, if it is not."""
        assert worker.process is not None
        code = worker.process.poll()
        if code is not None:
            return f"exited with status {code}"
        age = self.heartbeat_age(worker, now)
        if age is not None and age > self.heartbeat_timeout:
            return f"heartbeat {age:.1f} s old"
        return None

    def heartbeat_age(self, worker: Running, now: float | None = None) -> float | None:
        """Seconds since a running worker's last heartbeat (counted from its start at most, so
        a restarted worker is not judged by its predecessor's); ``None`` if it is not running."""
        if worker.state.state is not State.RUNNING:
            return None
        now = time.monotonic() if now is None else now
        try:
            age = segment_stats(worker.spec.heartbeat)["heartbeat_age_ns"] / 1e9
        except ShmError:
            age = float("inf")
        return min(age, now - worker.state.started_at)

    def all_fresh(self) -> bool:
        """Whether every worker that should run runs with a fresh heartbeat."""
        return all(
            w.stopped_on_request
            or (w.state.state is State.RUNNING and (self.heartbeat_age(w) or 0.0) <= self.heartbeat_timeout)
            for w in self.workers
        )

    def summary(self) -> str:
        """One line: how many workers run, and the restarts."""
        running = sum(w.state.state is State.RUNNING for w in self.workers)
        restarts = sum(w.state.restarts for w in self.workers)
        return f"{running}/{len(self.workers)} workers running, {restarts} restarts"

    def find(self, name: str) -> Running | None:
        """The worker called ``name``."""
        return next((w for w in self.workers if w.spec.name == name), None)

    def status(self) -> dict[str, Any]:
        """What ``tickrail status --json`` prints."""
        workers = []
        for w in self.workers:
            # Read once: the metrics thread asks while the loop may be replacing them.
            process, placement = w.process, w.placement
            cores = placement.cores if placement is not None else frozenset()
            age = self.heartbeat_age(w)
            workers.append(
                {
                    "name": w.spec.name,
                    "kind": w.spec.kind,
                    "state": w.state.state.value,
                    "pid": process.pid if process is not None else None,
                    "core": next(iter(cores)) if len(cores) == 1 else None,
                    "restarts": w.state.restarts,
                    "heartbeat_age_ms": None if age is None else round(age * 1e3, 1),
                }
            )
        trading = self.trading.snapshot() if self.trading is not None else None
        return {"instance": self.instance.name, "workers": workers, "trading": trading}

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answers one request from the control socket."""
        command = request.get("command")
        if command == "status":
            return self.status()
        if command == "trading":
            return self.set_trading(request.get("symbol"), request.get("state"))
        if command == "risk-reload":
            return self.reload_risk()
        if command not in ("start", "stop", "restart"):
            return {
                "error": f"unknown command {command!r} (status, start, stop, restart, trading, risk-reload)"
            }
        name = request.get("worker")
        worker = self.find(name) if isinstance(name, str) else None
        if worker is None:
            names = ", ".join(w.spec.name for w in self.workers)
            return {"error": f"no worker {name!r} in instance {self.instance.name!r} (workers: {names})"}
        leader = self.find(worker.spec.after) if worker.spec.after else None
        if command in ("start", "restart") and leader is not None and leader.state.state is not State.RUNNING:
            return {
                "error": f"{worker.spec.name} follows {leader.spec.name}, which is "
                f"{leader.state.state.value}: start {leader.spec.name} first"
            }
        if command == "start" and worker.state.state is not State.STOPPED:
            return {"error": f"{worker.spec.name} is {worker.state.state.value}, not STOPPED"}
        if command in ("stop", "restart"):
            self.stop_on_request(worker)
        if command in ("start", "restart"):
            worker.state.start_again()
            if not self.start(worker):
                worker.state.died(time.monotonic(), self.rng)
                return {"error": f"{worker.spec.name} did not start; it is restarted with back-off"}
            self.emit("restarted", worker=worker.spec.name, restarts=worker.state.restarts, by="operator")
        return {"worker": worker.spec.name, "state": worker.state.state.value}

    def set_trading(self, symbol: Any, state: Any) -> dict[str, Any]:
        """An operator sets the trading state of ``symbol`` (everything, if ``None``)."""
        if self.trading is None:
            return {"error": "the trading state is not set up yet"}
        if not isinstance(state, str) or not (symbol is None or isinstance(symbol, str)):
            return {"error": "a trading request names a state and, optionally, a symbol"}
        try:
            states = self.trading.set(symbol, state, "operator")
        except TradingStateError as e:
            return {"error": str(e)}
        self.emit("trading-state", symbol=symbol, state=state, reason="operator")
        return {"trading": states}

    def reload_risk(self) -> dict[str, Any]:
        """Checks the risk limits file and, if it can be used, has the running risk worker read it
        again (SIGHUP); a file that cannot be used is refused here and the limits in force stay."""
        risk, worker = self.instance.risk, self.find("risk")
        if risk is None or worker is None:
            return {"error": "this instance has no risk worker"}
        if risk.limits is None:
            return {"error": "the risk worker has no limits file to read again ([risk] limits)"}
        try:
            risk_limits.load(Path(risk.limits), risk_plan.describe_symbols(self.instance))
        except RiskLimitsError as e:
            return {"error": f"refused, the limits in force stay: {e}"}
        if worker.process is None or worker.state.state is not State.RUNNING:
            return {"error": f"the risk worker is {worker.state.state.value}"}
        worker.process.send_signal(signal.SIGHUP)
        self.emit("risk-reload", limits=risk.limits)
        return {"limits": risk.limits}

    def stop_on_request(self, worker: Running) -> None:
        """Stops a worker for an operator: it stays STOPPED until started again, and the
        workers following it wait for it."""
        if worker.state.state in (State.STOPPED, State.FATAL):
            return
        if worker.state.state is State.RUNNING:
            self.hold_followers(worker, time.monotonic(), on_request=True)
        worker.state.stopping()
        self.stop_process(worker)
        worker.state.stopped()
        worker.stopped_on_request = True
        self.emit("stopped-worker", worker=worker.spec.name, by="operator")

    def stop_process(self, worker: Running, kill: bool = False) -> None:
        """Stops ``worker``'s process: SIGTERM and a grace period (or SIGKILL at once), then
        SIGKILL; a process that outlives even that (stuck in the kernel) is reported, not
        waited for."""
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
                try:
                    process.wait(STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    self.emit("unkillable", worker=worker.spec.name, pid=process.pid)
        if process.stdout is not None:
            process.stdout.close()
        worker.process = worker.announcements = worker.placement = None

    def halt(self, reason: str) -> int:
        """Gives up: trading is killed first (nothing new goes out, execution cancels what is
        open), then the caller drains; exit status 1 so systemd takes over."""
        self.order_trading("killed")
        self.emit("halted", reason=reason)
        return 1

    def order_trading(self, state: str) -> None:
        """The supervisor's own order for the global state (a halt, a drain); one the risk worker
        cannot put in force (it is down) is reported, and the gate fails closed on its heartbeat."""
        if self.trading is None:
            return
        try:
            self.trading.set(None, state, "supervisor")
        except TradingStateError as e:
            self.emit("trading-state-unset", state=state, reason=str(e))
            return
        self.emit("trading-state", symbol=None, state=state, reason="supervisor")

    def drain(self, status: int) -> None:
        """Halts trading, closes the simulated market and checks every feed's books against it,
        stops every worker (feeds before the venues they follow), tells the observer, and
        unlinks the segments this run created."""
        self.ended_at = time.monotonic()
        self.notifier.stopping("draining")
        # Stop quoting first: cancels only from here on (a halt has killed trading already).
        if self.trading is not None and self.trading.snapshot()["global"] != "killed":
            self.order_trading("halted")
        try:
            closed = self.close_market()
            self.closing_checks = self.check_closing_books(closed)
            self.position_checks = self.check_positions(closed)
        except (OSError, ShmError, KeyError, ValueError) as e:
            self.emit("closing-books-unchecked", reason=str(e))
        for worker in reversed(self.workers):
            if worker.state.state in (State.RUNNING, State.STARTING, State.BACKOFF):
                worker.state.stopping()
            self.stop_process(worker)
            if worker.state.state is State.STOPPING:
                worker.state.stopped()
        self.observer.finished(self, status)
        if self.trading is not None:
            self.trading.close()
        if self.reports is not None:
            self.reports.close()
        for segment in self.created:
            with contextlib.suppress(SegmentNotFound):
                unlink(segment)
        self.emit("stopped", status=status)

    def close_market(self) -> dict[str, dict[str, Any]]:
        """Tells every running simulated venue to close (its flow stops; it serves recovery a
        while longer); what each announced, with its closing books, by venue worker name."""
        closing = [w for w in self.workers if w.spec.kind == "venue" and w.state.state is State.RUNNING]
        for venue in closing:
            if venue.process is not None:
                venue.process.terminate()
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        closed = {}
        for venue in closing:
            left = max(deadline - time.monotonic(), 0.0)
            announced = venue.announcements.next("closed", left) if venue.announcements else None
            if announced is not None:
                closed[venue.spec.name] = announced
        return closed

    def check_positions(self, closed: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Waits (bounded, for all venues together) for our fills on each closed venue, as the
        execution worker reported them, to equal the venue's own record of them, and checks
        that no order the venue took from us broke a limit; one ``positions`` event per venue.
        A venue restarted during the run is a new session with a record of its own: unchecked."""
        execution = self.instance.execution
        if self.reports is None or execution is None:
            return []
        ids = dict(instruments())
        limits = {s["instrument"]: s for s in execution_plan.symbols(self.instance)}
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        checks = []
        for index, venue in enumerate(execution.venues):
            worker = next(
                w for w in self.workers if w.spec.kind == "venue" and w.spec.name.endswith(f"-{venue}")
            )
            announced = closed.get(worker.spec.name)
            if announced is None or worker.state.restarts > 0:
                self.emit(
                    "positions-unchecked", venue=venue, reason="restarted" if announced else "not closed"
                )
                continue
            while True:
                self.reports.poll()
                ours = {i: h for (i, v), h in self.reports.holdings.items() if v == index}
                problems = venue_mismatches(ours, announced["outside"], ids, limits)
                if not problems or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
            fills = sum(h.fills for h in ours.values())
            check = {"venue": venue, "fills": fills, "matches": not problems, "problems": problems[:4]}
            self.emit("positions", **check)
            checks.append(check)
        return checks

    def check_closing_books(self, closed: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Waits (bounded, for all feeds together) for each running feed of a closed venue to
        settle on its closing books; one ``closing-books`` event per feed, saying whether they
        match."""
        ids = dict(instruments())
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        checks = []
        for feed in self.workers:
            venue = closed.get(feed.spec.after or "")
            if feed.spec.kind != "feed" or venue is None or feed.state.state is not State.RUNNING:
                continue
            left = max(deadline - time.monotonic(), 0.0)
            problems = settle(
                feed.spec.segments[1], venue["books"], ids, timeout=left, depth=feed.spec.levels
            )
            check = {
                "feed": feed.spec.name,
                "venue": feed.spec.after,
                "matches": not problems,
                "problems": problems[:4],
            }
            self.emit("closing-books", **check)
            checks.append(check)
        return checks
