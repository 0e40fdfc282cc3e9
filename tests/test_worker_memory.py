"""The Python side of each worker's lifecycle neither leaks nor balloons: run with ``pytest
--memray`` (``make test`` does), as test_leaks.py is.

Each worker's own entry point runs in this process, with the command line the supervisor gives it
(:func:`tickrail.launch.plan`), against segments created as the supervisor creates them and real
simulated venues: ``main`` of the feeds (venues A, B and C), of the risk worker and of the
execution worker (its market maker beside the example Python strategy), and the supervisor's
control plane (its segments, requests over the control socket, trading states, the drain). A
stand-in for the worker's stop flag ends its loop a moment after it starts, so a lifecycle takes a
fraction of a second. One lifecycle runs untracked first (the caches a first call fills are not
leaks); then ``limit_leaks`` runs many (memray tracks native and Python allocations: whatever a
cycle leaves behind adds up past the limit at its stack), ``limit_memory`` one (its peak, segments
mapped included).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_memray import Stack

from execution import __main__ as execution_main
from feeds import __main__ as feeds_main
from pipeline import Process, start
from risk import __main__ as risk_main
from shm_layout import SegmentNotFound, unlink
from tickrail.config import Instance, Pinning
from tickrail.config import load as load_config
from tickrail.control import ControlServer, ask, socket_path
from tickrail.execution_plan import SIMULATED_LOGINS
from tickrail.launch import WorkerSpec, free_port, plan
from tickrail.supervise import WORKER_PYTHON_ARGS_ENV, Supervisor, worker_command

#: How long a worker's loop runs before its stop flag says stop.
RUN_S = 0.15
#: Lifecycles a leak test runs.
CYCLES = 12
#: Seconds between the health lines the workers log (several a lifecycle).
REPORT_EVERY = ("--report-every", "0.05")
#: The venues' order flow (enough for books to move, little for the machine); no lingering once
#: told to stop.
VENUE_ARGS = ("--rate", "2000", "--linger-ms", "0")


class StopSoon:
    """Stands in for a worker's :class:`tickrail.process.StopFlag`: a stop is asked for
    :data:`RUN_S` after the worker made it (and no signal handler is touched)."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + RUN_S

    @property
    def requested(self) -> bool:
        """Whether the worker is to stop."""
        return time.monotonic() >= self.deadline

    def sleep(self, seconds: float) -> None:
        """Waits ``seconds``, or until the stop."""
        time.sleep(max(min(seconds, self.deadline - time.monotonic()), 0.0))


class Silent:
    """A supervisor observer that keeps nothing."""

    def event(self, event: dict[str, Any]) -> None:
        """Nothing."""

    def tick(self, supervisor: Supervisor) -> None:
        """Nothing."""

    def finished(self, supervisor: Supervisor, status: int) -> None:
        """Nothing."""


@dataclass(frozen=True)
class Pipeline:
    """The instance the workers run in: its workers as the supervisor plans them, by name, and
    a second instance, on the same venues, for the control plane's own segments."""

    instance: Instance
    workers: dict[str, WorkerSpec]
    control: Instance


def _config(tmp: Path, name: str, addresses: dict[str, dict[str, str]], trading: bool) -> Path:
    text = f'[instance]\nname = "{name}"\n'
    for letter, protocol in (("a", "itch"), ("b", "fix"), ("c", "json")):
        text += (
            f'[venues.{letter}]\nprotocol = "{protocol}"\nsimulated = false\n[venues.{letter}.addresses]\n'
        )
        text += "".join(f'{key} = "{value}"\n' for key, value in addresses[letter].items())
        text += f'[feeds.{letter}]\nvenue = "{letter}"\n'
    if trading:
        text += f'[execution]\nvenues = ["a"]\njournal = "{tmp / "journal"}"\n'
        text += '[execution.python]\nstrategy = "execution.examples:Joiner"\nsymbols = ["SPY"]\n'
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Venues A, B and C running; an instance trading on A through its feeds, risk and
    execution workers, every segment created as the supervisor creates them (and unlinked after);
    every worker's loop ending :data:`RUN_S` after it starts (the SIGHUP handler the risk worker
    takes, to reload its limits, given back after); one untracked lifecycle of every worker and
    of the control plane run."""
    tmp = tmp_path_factory.mktemp("memory")
    login, credential = SIMULATED_LOGINS["ouch"]
    api_key, secret = SIMULATED_LOGINS["json"]
    venues: list[Process] = []
    segments: list[str] = []
    hangup = signal.getsignal(signal.SIGHUP)
    try:
        with pytest.MonkeyPatch.context() as patch:
            for module in (feeds_main, risk_main, execution_main):
                patch.setattr(module, "StopFlag", StopSoon)
            market_data = f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
            venues.append(
                start(
                    "venue a",
                    "venues",
                    "a",
                    "--destination",
                    market_data,
                    "--user",
                    f"{login}:{credential}",
                    *VENUE_ARGS,
                )
            )
            venues.append(start("venue b", "venues", "b", *VENUE_ARGS))
            venues.append(start("venue c", "venues", "c", "--api-key", f"{api_key}:{secret}", *VENUE_ARGS))
            a, b, c = (venue.expect("listening", timeout=20) for venue in venues)
            addresses = {
                "a": {key: a[key] for key in ("market_data", "rerequest", "order_entry")},
                "b": {"fix": b["fix"]},
                "c": {key: c[key] for key in ("market_data", "orders")},
            }
            name = f"memory{os.getpid()}"
            instance = load_config(_config(tmp, name, addresses, trading=True))
            control = load_config(_config(tmp, f"{name}ctl", addresses, trading=False))
            specs = plan(instance)
            for spec in specs:
                spec.create_segments()
                segments.extend(spec.segments)
            for spec in specs:
                run_worker(spec)
            control_plane(control)
            yield Pipeline(instance, {spec.name: spec for spec in specs}, control)
    finally:
        signal.signal(signal.SIGHUP, hangup)
        for segment in segments:
            with contextlib.suppress(SegmentNotFound):
                unlink(segment)
        for venue in venues:
            venue.stop()


def run_worker(spec: WorkerSpec) -> None:
    """One lifecycle of ``spec``'s worker: its module's ``main`` with the command line the
    supervisor gives it (a quicker health line added), to a clean exit."""
    mains: dict[str, Callable[[list[str]], int]] = {
        "feeds": feeds_main.main,
        "risk": risk_main.main,
        "execution": execution_main.main,
    }
    module, *argv = spec.argv
    assert mains[module]([*argv, *REPORT_EVERY]) == 0, f"{spec.name} did not exit cleanly"


def _ask_through(server: ControlServer, instance: str, request: dict[str, Any]) -> dict[str, Any]:
    """``request`` over the control socket, answered by ``server`` here."""
    answers: list[dict[str, Any]] = []
    client = threading.Thread(target=lambda: answers.append(ask(instance, request)))
    client.start()
    deadline = time.monotonic() + 5.0
    while client.is_alive() and time.monotonic() < deadline:
        server.serve_one()
        client.join(0.001)
    client.join(5.0)
    assert answers, f"no answer to {request}"
    return answers[0]


def control_plane(instance: Instance) -> None:
    """One lifecycle of the supervisor's control plane, without workers: its segments and
    trading states, requests over its control socket, its drain (the segments unlinked)."""
    supervisor = Supervisor(instance, observer=Silent())
    supervisor.create_segments()
    server = ControlServer(socket_path(instance.name), supervisor.answer)
    try:
        status = _ask_through(server, instance.name, {"command": "status"})
        assert [w["name"] for w in status["workers"]] == ["feed-a", "feed-b", "feed-c"]
        halted = _ask_through(
            server, instance.name, {"command": "trading", "symbol": "SPY", "state": "halted"}
        )
        assert halted["trading"]["symbols"]["SPY"] == "halted"
        refused = _ask_through(server, instance.name, {"command": "start", "worker": "nobody"})
        assert "error" in refused
    finally:
        server.close()
        supervisor.drain(0)


def not_deferred(stack: Stack) -> bool:
    """Whether a leak at ``stack`` counts: not when it is the process's table of mapped segments
    (``shm_layout::registry``), replaced on every open and freed by crossbeam-epoch in batches
    once no thread can be reading it: deferred and bounded (tens of KiB after thousands of
    opens), not leaked."""
    return not any(
        "shm_layout::registry" in frame.function or "crossbeam_epoch" in frame.function
        for frame in stack.frames
    )


#: What one stack may keep after :data:`CYCLES` lifecycles: a leak of 1 KiB a lifecycle fails
#: (checked); what a stack keeps here anyway is under 3 KiB (the reference counts of unmapped
#: segments, which the tables awaiting reclamation still point at, and a few first-call caches).
LEAKS = pytest.mark.limit_leaks("8 KB", filter_fn=not_deferred)
WORKERS = ["feed-a", "feed-b", "feed-c", "risk", "execution"]


@pytest.mark.parametrize("worker", WORKERS)
@LEAKS
def test_a_workers_lifecycle_leaves_nothing_behind_cycle_after_cycle(pipeline: Pipeline, worker: str) -> None:
    for _ in range(CYCLES):
        run_worker(pipeline.workers[worker])
    # What only the cycle collector frees (argparse's parsers hold cycles) is not a leak.
    gc.collect()


# A lifecycle's peak is mostly the segments its worker maps, which memray counts: a feed's three
# (its events ring of 64 Ki 64-byte records is 4 MiB) and the books, about 9 MiB in all; the risk
# worker's about 49 MiB (its events ring of 256 Ki reports is 28 MiB, the reports and forward
# queues 7 MiB each); the execution worker's about 87 MiB (its gate ring of 256 Ki calls is 34
# MiB). The Python side adds a few hundred KiB at most (execution's health line, 190 KiB).
@pytest.mark.parametrize(
    "worker",
    [
        pytest.param("feed-a", marks=pytest.mark.limit_memory("12 MB")),
        pytest.param("feed-b", marks=pytest.mark.limit_memory("12 MB")),
        pytest.param("feed-c", marks=pytest.mark.limit_memory("12 MB")),
        pytest.param("risk", marks=pytest.mark.limit_memory("56 MB")),
        pytest.param("execution", marks=pytest.mark.limit_memory("96 MB")),
    ],
)
def test_one_workers_lifecycle_stays_within_its_segments(pipeline: Pipeline, worker: str) -> None:
    run_worker(pipeline.workers[worker])


@LEAKS
def test_the_control_planes_lifecycle_leaves_nothing_behind_cycle_after_cycle(pipeline: Pipeline) -> None:
    for _ in range(CYCLES):
        control_plane(pipeline.control)
    gc.collect()


# The feeds' segments, which the control plane creates one after the other (about 9 MiB).
@pytest.mark.limit_memory("12 MB")
def test_one_control_plane_lifecycle_stays_small(pipeline: Pipeline) -> None:
    control_plane(pipeline.control)


def test_the_supervisor_puts_the_worker_python_arguments_before_each_workers_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = WorkerSpec("feed-a", "feed", ("feeds", "live", "a"), Pinning(), None, "p", (), "p.metrics")
    monkeypatch.delenv(WORKER_PYTHON_ARGS_ENV, raising=False)
    assert worker_command(spec)[1:] == ["-m", "feeds", "live", "a"]
    out = f"/tmp/memcheck {uuid.uuid4().hex}"
    monkeypatch.setenv(WORKER_PYTHON_ARGS_ENV, f"-m bench.memcheck track '{out}/{{worker}}.bin' --native")
    assert worker_command(spec)[1:] == [
        "-m",
        "bench.memcheck",
        "track",
        f"{out}/feed-a.bin",
        "--native",
        "-m",
        "feeds",
        "live",
        "a",
    ]
