"""Two-process benchmark harness for tickrail and its peer transports.

A :class:`Transport` describes one way of moving fixed-size messages between two
processes. :func:`measure` runs it between two child processes ("ping" and
"pong"), each pinned to its own core when possible, and returns::

    {"transport": NAME, "msg_bytes": 64, "throughput_msgs_per_s": X,
     "rtt_us": {"p50": X, "p99": X, "p999": X, "max": X},
     ...extra keys: messages, lost, out_of_order, round_trips, cores}

Phases (each child walks through them in order, in lock-step via a barrier):

``open``
    each child opens its side with :meth:`Transport.ping_endpoint` /
    :meth:`Transport.pong_endpoint`.
``throughput``
    ping sends ``messages`` messages back to back (:meth:`Endpoint.send_many`),
    pong receives them (:meth:`Endpoint.recv_many`); the rate is measured in
    pong between its first and its last receive.
``rtt``
    ping sends a message stamped with its sequence number, pong echoes it, ping
    times the round trip with :func:`time.perf_counter_ns`; ``warmup`` round
    trips are discarded before ``round_trips`` are recorded.
``close``
    both children close their endpoints.

Children are started with the ``spawn`` start method: every child is a fresh
interpreter that inherits no threads, locks, ZeroMQ contexts or native (Rust)
library state from the parent. ``fork`` is not safe for every peer: the parent
may run threads (numpy's BLAS pool, zmq I/O threads) whose locks a forked child
inherits in an arbitrary state, iceoryx2 identifies nodes by process, and
Python 3.12+ warns about forking threaded processes. The price of ``spawn`` is
that a transport is pickled into the children, so it must keep parent-only
resources out of its pickled state (see :attr:`Transport.parent_only`), and the
main module must be import-safe (``if __name__ == "__main__":``). Start-up
time is outside every measured window.

Every wait is bounded: children time out on their own (``TimeoutError`` from
:meth:`Endpoint.recv`, barrier timeouts), and the parent kills both children
and raises :class:`BenchError` (naming transport and phase) when a child dies,
reports an error, or makes no progress within ``timeout_s`` plus a grace period.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing as mp
import os
import statistics
import struct
import threading
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier as MpBarrier
from typing import Any, ClassVar, Final, Literal, Self

import numpy as np
import numpy.typing as npt

__all__ = [
    "PHASES",
    "SEQ",
    "BenchError",
    "Endpoint",
    "RecvStats",
    "Result",
    "Transport",
    "make_message",
    "measure",
    "measure_median",
    "median_of",
    "rtt_percentiles_us",
    "seq_of",
]

SEQ: Final = struct.Struct("<Q")
"""Layout of the sequence number in the first 8 bytes of every message."""

PHASES: Final = ("setup", "start", "open", "throughput", "rtt", "close", "teardown")
"""Phase names used in :class:`BenchError` and in the child progress reports."""

Role = Literal["ping", "pong"]
"""The two child processes: ping sends first and times round trips, pong echoes."""
Result = dict[str, Any]
"""A result dict as returned by :func:`measure` (see the module docstring)."""

_logger = logging.getLogger(__name__)
_GRACE_S: Final = 5.0
_POLL_S: Final = 0.25


class BenchError(RuntimeError):
    """A benchmark run failed; names the transport and the phase it failed in."""

    def __init__(self, transport: str, phase: str, detail: str) -> None:
        """Build the error from the transport name, phase and a description."""
        super().__init__(f"[{transport}] phase {phase!r}: {detail}")
        self.transport = transport
        self.phase = phase
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RecvStats:
    """What the receiving side of the throughput phase observed.

    Attributes:
        received: messages received (duplicates included).
        out_of_order: messages whose sequence number was not greater than the
            highest one seen before (reordered or duplicated).
        first_ns: ``time.perf_counter_ns()`` right after the first receive.
        last_ns: ``time.perf_counter_ns()`` right after the last receive.
    """

    received: int
    out_of_order: int
    first_ns: int
    last_ns: int


def make_message(seq: int, msg_bytes: int) -> bytes:
    """Return a ``msg_bytes``-long message carrying ``seq`` in its first 8 bytes."""
    if msg_bytes < SEQ.size:
        raise ValueError(f"msg_bytes must be >= {SEQ.size}, got {msg_bytes}")
    return SEQ.pack(seq) + bytes(i & 0xFF for i in range(SEQ.size, msg_bytes))


def seq_of(msg: bytes | bytearray | memoryview) -> int:
    """Return the sequence number stored in the first 8 bytes of ``msg``."""
    return int(SEQ.unpack_from(msg)[0])


class Endpoint(ABC):
    """One process's side of a transport: it sends one way and receives the other.

    Subclasses implement :meth:`send`, :meth:`recv` and :meth:`close`; they may
    override :meth:`send_many` / :meth:`recv_many` with faster batch paths, as
    long as they keep the documented semantics (sequence numbers, timestamps,
    deadlines).
    """

    @abstractmethod
    def send(self, msg: bytes) -> None:
        """Send one message (exactly the bytes given).

        May block while the channel is full. Implementations should bound the
        wait where the transport allows it (raising ``TimeoutError``); the
        harness kills a child stuck here after its phase deadline anyway.
        """

    @abstractmethod
    def recv(self, timeout_s: float) -> bytes:
        """Return the next message, busy-polling or blocking as the transport does.

        Raises:
            TimeoutError: nothing arrived within ``timeout_s`` seconds.
        """

    @abstractmethod
    def close(self) -> None:
        """Release everything the endpoint opened in this process."""

    def send_many(self, count: int, payload: bytes) -> None:
        """Send ``count`` messages as fast as possible, with sequence numbers 0..count-1.

        Each message is ``payload`` with its first 8 bytes replaced by the
        little-endian sequence number (see :data:`SEQ`).
        """
        tail = payload[SEQ.size :]
        pack = SEQ.pack
        send = self.send
        for seq in range(count):
            send(pack(seq) + tail)

    def recv_many(self, count: int, timeout_s: float, idle_s: float = 1.0) -> RecvStats:
        """Receive the messages of :meth:`send_many` and time them.

        Waits up to ``timeout_s`` for the first message, then receives until
        ``count`` messages arrived, the last sequence number (``count - 1``)
        arrived, nothing arrived for ``idle_s`` seconds, or ``timeout_s`` has
        elapsed since the call began. Missing messages are not an error: the
        caller derives losses from :attr:`RecvStats.received`.

        Raises:
            TimeoutError: not even the first message arrived in time.
        """
        clock = time.perf_counter_ns
        deadline_ns = clock() + int(timeout_s * 1e9)
        recv = self.recv
        unpack = SEQ.unpack_from
        msg = recv(timeout_s)
        first_ns = last_ns = clock()
        highest = unpack(msg)[0]
        received = 1
        out_of_order = 0
        final = count - 1
        while received < count and highest != final:
            remaining_s = (deadline_ns - last_ns) / 1e9
            if remaining_s <= 0:
                break
            try:
                msg = recv(min(remaining_s, idle_s))
            except TimeoutError:
                break
            last_ns = clock()
            received += 1
            seq = unpack(msg)[0]
            if seq > highest:
                highest = seq
            else:
                out_of_order += 1
        return RecvStats(received, out_of_order, first_ns, last_ns)

    def __enter__(self) -> Self:
        """Return the endpoint itself; :meth:`close` runs on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the endpoint."""
        self.close()


class Transport(ABC):
    """A way of moving messages between the two benchmark processes.

    Life cycle, as driven by :func:`measure`:

    1. :meth:`setup` runs in the parent (create segments, queues, sockets paths,
       services...). ``self.msg_bytes`` is set before it is called.
    2. The object is pickled into two freshly spawned children; the ping child
       calls :meth:`ping_endpoint`, the pong child :meth:`pong_endpoint`. Ping
       sends on the A->B channel and receives on B->A; pong the reverse.
    3. :meth:`teardown` runs in the parent once both children are gone (also
       after failures, and after children were killed), and must not raise for
       resources that are already gone.

    Attributes listed in :attr:`parent_only` are replaced by ``None`` when the
    transport is pickled into a child (for handles that cannot or must not
    cross process boundaries).
    """

    name: ClassVar[str] = "unnamed"
    """Short identifier reported as ``"transport"`` in results."""

    parent_only: ClassVar[tuple[str, ...]] = ()
    """Instance attributes that are not sent to the child processes."""

    msg_bytes: int = 64
    """Size of every message; set by :func:`measure` before :meth:`setup`."""

    def setup(self) -> None:
        """Create shared resources in the parent before the children start."""
        return  # optional hook: nothing to do by default

    def teardown(self) -> None:
        """Remove what :meth:`setup` created (idempotent, tolerant of leftovers)."""
        return  # optional hook: nothing to do by default

    @abstractmethod
    def ping_endpoint(self) -> Endpoint:
        """Open the ping side (sends A->B, receives B->A) in the ping child."""

    @abstractmethod
    def pong_endpoint(self) -> Endpoint:
        """Open the pong side (receives A->B, sends B->A) in the pong child."""

    def __getstate__(self) -> dict[str, Any]:
        """Return the picklable state, without the :attr:`parent_only` attributes."""
        state = self.__dict__.copy()
        for key in self.parent_only:
            if key in state:
                state[key] = None
        return state

    def __repr__(self) -> str:
        """Return ``<ClassName name>``."""
        return f"<{type(self).__name__} {self.name}>"


def rtt_percentiles_us(
    deltas_ns: Sequence[int] | npt.NDArray[np.integer[Any]],
) -> dict[str, float]:
    """Summarise round-trip times given in nanoseconds.

    Returns:
        ``{"p50", "p99", "p999", "max"}`` in microseconds (floats); percentiles
        use numpy's default linear interpolation.
    """
    arr = np.asarray(deltas_ns, dtype=np.float64) / 1e3  # a new array, in us
    if arr.size == 0:
        raise ValueError("no round trips to summarise")
    p50, p99, p999 = np.percentile(arr, [50.0, 99.0, 99.9])
    return {
        "p50": float(p50),
        "p99": float(p99),
        "p999": float(p999),
        "max": float(arr.max()),
    }


def median_of(runs: Sequence[Result]) -> Result:
    """Combine several results of the same transport into one.

    ``throughput_msgs_per_s`` and every ``rtt_us`` figure are the median over
    the runs (each figure independently); ``lost`` and ``out_of_order`` are the
    worst (maximum) run so a loss in any run stays visible; ``runs`` is added.
    Other keys are taken from the first run.
    """
    if not runs:
        raise ValueError("median_of needs at least one run")
    names = {r["transport"] for r in runs}
    if len(names) != 1:
        raise ValueError(f"runs mix transports: {sorted(names)}")
    out: Result = dict(runs[0])
    # A figure a transport does not measure (``None``: a baseline without throughput, a queue
    # without round trips) stays ``None``.
    if runs[0]["throughput_msgs_per_s"] is not None:
        out["throughput_msgs_per_s"] = float(statistics.median(r["throughput_msgs_per_s"] for r in runs))
    if runs[0]["rtt_us"] is not None:
        out["rtt_us"] = {
            key: float(statistics.median(r["rtt_us"][key] for r in runs)) for key in runs[0]["rtt_us"]
        }
    for key in ("lost", "out_of_order"):
        if all(key in r for r in runs):
            out[key] = max(int(r[key]) for r in runs)
    out["runs"] = len(runs)
    return out


@dataclass(frozen=True, slots=True)
class _ChildConfig:
    """Parameters shared by both children."""

    msg_bytes: int
    messages: int
    round_trips: int
    warmup: int
    timeout_s: float
    idle_s: float
    cores: tuple[int, int] | None


def _ping_rtt(ep: Endpoint, cfg: _ChildConfig, payload: bytes) -> npt.NDArray[np.int64]:
    """Run the ping side of the RTT phase; return the recorded deltas in ns."""
    total = cfg.warmup + cfg.round_trips
    recorded: list[int] = []
    record = recorded.append
    tail = payload[SEQ.size :]
    pack = SEQ.pack
    unpack = SEQ.unpack_from
    send = ep.send
    recv = ep.recv
    clock = time.perf_counter_ns
    timeout_s = cfg.timeout_s
    deadline_ns = clock() + int(timeout_s * 1e9)
    for seq in range(total):
        msg = pack(seq) + tail
        t0 = clock()
        send(msg)
        reply = recv(timeout_s)
        t1 = clock()
        got = unpack(reply)[0]
        if got != seq:
            raise RuntimeError(f"echo of seq {seq} came back as seq {got}")
        if seq >= cfg.warmup:
            record(t1 - t0)
        timeout_s = (deadline_ns - t1) / 1e9
        if timeout_s <= 0:
            raise TimeoutError(f"rtt phase exceeded {cfg.timeout_s}s at seq {seq}")
    return np.asarray(recorded, dtype=np.int64)


def _pong_rtt(ep: Endpoint, cfg: _ChildConfig) -> None:
    """Run the pong side of the RTT phase: echo every message back."""
    total = cfg.warmup + cfg.round_trips
    send = ep.send
    recv = ep.recv
    timeout_s = cfg.timeout_s
    deadline = time.perf_counter() + timeout_s
    for i in range(total):
        send(recv(timeout_s))
        if i & 1023 == 0 and time.perf_counter() > deadline:
            raise TimeoutError(f"rtt phase exceeded {cfg.timeout_s}s at message {i}")


def _sync(barrier: MpBarrier, timeout_s: float, phase: str) -> None:
    """Wait for the peer at the end of ``phase``; ``TimeoutError`` if it never comes."""
    try:
        barrier.wait(timeout_s)
    except threading.BrokenBarrierError:
        msg = f"peer did not finish phase {phase!r} within {timeout_s}s"
        raise TimeoutError(msg) from None


def _child_main(
    role: Role,
    transport: Transport,
    cfg: _ChildConfig,
    reports: Connection,
    barrier: MpBarrier,
) -> None:
    """Body of a child process.

    Reports ``(kind, role, phase, payload)`` tuples on ``reports``; sends are
    synchronous, so the parent knows the phase even if the child dies abruptly.
    """
    phase = "start"

    def enter(new_phase: str) -> None:
        nonlocal phase
        phase = new_phase
        reports.send(("phase", role, phase, None))

    ep: Endpoint | None = None
    try:
        if cfg.cores is not None:
            os.sched_setaffinity(0, {cfg.cores[0 if role == "ping" else 1]})
        payload = make_message(0, cfg.msg_bytes)
        enter("open")
        ep = transport.ping_endpoint() if role == "ping" else transport.pong_endpoint()
        _sync(barrier, cfg.timeout_s, phase)
        gc.collect()
        gc.disable()
        enter("throughput")
        if role == "ping":
            ep.send_many(cfg.messages, payload)
        else:
            stats = ep.recv_many(cfg.messages, cfg.timeout_s, cfg.idle_s)
            reports.send(("result", role, phase, stats))
        _sync(barrier, cfg.timeout_s, phase)
        enter("rtt")
        if role == "ping":
            deltas = _ping_rtt(ep, cfg, payload)
            reports.send(("result", role, phase, rtt_percentiles_us(deltas)))
        else:
            _pong_rtt(ep, cfg)
        _sync(barrier, cfg.timeout_s, phase)  # nobody closes while the peer works
        gc.enable()
        enter("close")
        endpoint, ep = ep, None
        endpoint.close()
        reports.send(("done", role, phase, None))
    except BaseException as exc:  # report everything; the parent kills the peer
        detail = f"{role}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        reports.send(("error", role, phase, detail))
        if ep is not None:
            with contextlib.suppress(Exception):  # the original error matters
                ep.close()
        raise


def _stop(procs: dict[Role, BaseProcess], done: set[Role]) -> None:
    """Reap the children: finished ones get a grace period, the rest are killed."""
    for role, proc in procs.items():
        if role in done:
            proc.join(_GRACE_S)
    for proc in procs.values():
        if proc.is_alive():
            proc.kill()
    for proc in procs.values():
        proc.join(_GRACE_S)


def measure(
    transport: Transport,
    msg_bytes: int = 64,
    messages: int = 1_000_000,
    round_trips: int = 100_000,
    cores: tuple[int, int] = (0, 1),
    timeout_s: float = 60.0,
    *,
    warmup: int = 10_000,
    idle_s: float = 1.0,
) -> Result:
    """Measure throughput and round-trip latency of ``transport`` between two processes.

    Args:
        transport: a fresh transport (its :meth:`Transport.setup` is called here).
        msg_bytes: size of every message (>= 8; the first 8 bytes carry the
            sequence number).
        messages: messages sent in the throughput phase (>= 2).
        round_trips: recorded round trips in the RTT phase (>= 1).
        cores: cores for (ping, pong). Both must be distinct and in
            ``os.sched_getaffinity(0)``, otherwise nobody is pinned and the
            result says so in ``"pin_note"``.
        timeout_s: budget of each phase; also the longest single wait in a
            child. The parent kills the children ``timeout_s`` + 5 s after a
            phase began without finishing.
        warmup: unrecorded round trips before the recorded ones.
        idle_s: in the throughput phase, the receiver stops after this long
            without a message (only matters when messages are lost).

    Returns:
        The result dict described in the module docstring. Extra keys:
        ``messages``, ``lost`` (messages - received), ``out_of_order``,
        ``round_trips``, ``cores`` (``[ping, pong]`` or ``None``) and
        ``pin_note`` when not pinned. Throughput is
        ``(received - 1) / (last_receive - first_receive)``: the number of
        inter-arrival intervals over the time they span.

    Raises:
        BenchError: a child failed, died or hung (both children are killed
            first), or setup/teardown failed.
        ValueError: invalid arguments.
    """
    if msg_bytes < SEQ.size:
        raise ValueError(f"msg_bytes must be >= {SEQ.size}")
    if messages < 2 or round_trips < 1 or warmup < 0 or timeout_s <= 0:
        raise ValueError("need messages >= 2, round_trips >= 1, warmup >= 0")
    name = transport.name
    available = os.sched_getaffinity(0)
    pin: tuple[int, int] | None = None
    pin_note: str | None = None
    if cores[0] != cores[1] and set(cores) <= available:
        pin = (cores[0], cores[1])
    else:
        pin_note = f"not pinned: cores {list(cores)} requested, {sorted(available)} available"
    cfg = _ChildConfig(msg_bytes, messages, round_trips, warmup, timeout_s, idle_s, pin)
    ctx = mp.get_context("spawn")  # see the module docstring
    barrier = ctx.Barrier(2)

    transport.msg_bytes = msg_bytes
    try:
        transport.setup()
    except Exception as exc:
        transport.teardown()
        raise BenchError(name, "setup", f"{type(exc).__name__}: {exc}") from exc

    procs: dict[Role, BaseProcess] = {}
    phase: dict[Role, str] = {"ping": "start", "pong": "start"}
    since: dict[Role, float] = {}
    done: set[Role] = set()
    stats: RecvStats | None = None
    rtt: dict[str, float] | None = None
    failure: BenchError | None = None

    def handle(report: tuple[str, Role, str, Any]) -> BenchError | None:
        """Apply one child report; return the failure it signals, if any."""
        nonlocal stats, rtt
        kind, role, ph, data = report
        if kind == "phase":
            phase[role] = ph
            since[role] = time.monotonic()
        elif kind == "result" and role == "pong":
            stats = data
        elif kind == "result":
            rtt = data
        elif kind == "done":
            done.add(role)
        elif kind == "error":
            return BenchError(name, ph, str(data).rstrip())
        return None

    def check_budgets() -> BenchError | None:
        """Detect a child that exceeded its phase budget."""
        now = time.monotonic()
        for role in procs:
            if role not in done and now - since[role] > timeout_s + _GRACE_S:
                return BenchError(
                    name,
                    phase[role],
                    f"{role} made no progress for {timeout_s + _GRACE_S:.0f}s",
                )
        return None

    def on_eof(role: Role) -> BenchError | None:
        """Handle EOF on the report pipe of ``role``: fine after "done", else it died."""
        if role in done:
            return None
        proc = procs[role]
        proc.join(_POLL_S)
        return BenchError(name, phase[role], f"{role} process died (exit code {proc.exitcode})")

    readers: dict[Connection, Role] = {}
    try:
        for role in ("pong", "ping"):
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=_child_main,
                args=(role, transport, cfg, writer, barrier),
                name=f"bench-{name}-{role}",
                daemon=True,
            )
            since[role] = time.monotonic()
            try:
                proc.start()  # pickles the transport (spawn)
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"
                raise BenchError(name, "start", detail) from exc
            finally:
                writer.close()  # the child holds the only writer: EOF = exit
            procs[role] = proc
            readers[reader] = role
        while failure is None and len(done) < 2:
            for conn in wait(list(readers), timeout=_POLL_S):
                assert isinstance(conn, Connection)
                role = readers[conn]
                try:
                    report = conn.recv()
                except EOFError:
                    del readers[conn]
                    conn.close()
                    failure = on_eof(role)
                else:
                    failure = handle(report)
                if failure is not None:
                    break
            else:
                failure = check_budgets()
    finally:
        _stop(procs, done)
        for conn in readers:
            conn.close()
        try:
            transport.teardown()
        except Exception as exc:
            _logger.exception("teardown of %s failed", name)
            if failure is None:
                detail = f"{type(exc).__name__}: {exc}"
                failure = BenchError(name, "teardown", detail)
    if failure is not None:
        raise failure
    if stats is None or rtt is None:
        raise BenchError(name, "close", "children finished without results")

    span_s = (stats.last_ns - stats.first_ns) / 1e9
    throughput = (stats.received - 1) / span_s if span_s > 0 else float("nan")
    result: Result = {
        "transport": name,
        "msg_bytes": msg_bytes,
        "throughput_msgs_per_s": float(throughput),
        "rtt_us": rtt,
        "messages": messages,
        "lost": max(0, messages - stats.received),
        "out_of_order": stats.out_of_order,
        "round_trips": round_trips,
        "cores": list(pin) if pin is not None else None,
    }
    if pin_note is not None:
        result["pin_note"] = pin_note
    return result


def measure_median(make_transport: Callable[[], Transport], runs: int = 3, **kwargs: Any) -> Result:
    """Run :func:`measure` ``runs`` times on fresh transports; return :func:`median_of`.

    ``kwargs`` are passed to :func:`measure`.
    """
    return median_of([measure(make_transport(), **kwargs) for _ in range(runs)])
