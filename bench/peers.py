"""Peer transports: what a user would pick instead of tickrail.

Each transport is a :class:`bench.harness.Transport` implemented the way its
documentation recommends, without artificial slowness:

``pyzmq-ipc``
    one ZeroMQ ``PAIR`` socket pair over ``ipc://`` (bidirectional), blocking
    sockets; ``recv`` tries a non-blocking receive first and falls back to
    ``poll(timeout)``.
``mp-pipe``
    two ``multiprocessing.Pipe(duplex=False)`` pairs, ``send_bytes`` /
    ``poll(timeout)`` + ``recv_bytes``.
``posix-mq``
    two ``posix_ipc.MessageQueue`` with ``mq_timedsend`` / ``mq_timedreceive``.
    Depth is ``/proc/sys/fs/mqueue/msg_max`` (10 by default), the most an
    unprivileged user may ask for.
``iceoryx2``
    the official PyO3 bindings, two ipc publish-subscribe services with a
    fixed 64-byte ctypes payload, busy-polling ``Subscriber.receive()``.

Third-party modules are imported when a transport is used, so this module
imports without them. Run ``python -m bench.peers`` for a quick smoke run.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

from bench.harness import BenchError, Endpoint, Result, Transport, measure

__all__ = [
    "PEERS",
    "IceoryxTransport",
    "MpPipeTransport",
    "PosixMqTransport",
    "ZmqIpcTransport",
    "main",
]

SEND_TIMEOUT_S = 30.0
"""Bound on a single blocking send where the transport supports one."""

CONNECT_TIMEOUT_S = 10.0
"""Bound on waiting for the peer process while opening an endpoint."""


def _posix_ipc() -> Any:
    """Import ``posix_ipc`` (a C extension without type stubs)."""
    import posix_ipc  # type: ignore[import-not-found,unused-ignore]

    return posix_ipc


def _iceoryx2() -> Any:
    """Import ``iceoryx2`` (PyO3 bindings without a ``py.typed`` marker)."""
    import iceoryx2  # type: ignore[import-untyped,unused-ignore]

    return iceoryx2


def _unique(prefix: str) -> str:
    """Return ``prefix`` plus the pid and a random suffix (unique per run)."""
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------- pyzmq


class _ZmqEndpoint(Endpoint):
    """One side of a ZeroMQ PAIR connection."""

    def __init__(self, address: str, bind: bool) -> None:
        """Create a context and a PAIR socket, bound or connected to ``address``."""
        import zmq

        self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.PAIR)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDTIMEO, int(SEND_TIMEOUT_S * 1000))
        sock.setsockopt(zmq.RECONNECT_IVL, 10)
        if bind:
            sock.bind(address)
        else:
            sock.connect(address)
        self._sock = sock
        self._again = zmq.Again
        self._noblock = zmq.NOBLOCK

    def send(self, msg: bytes) -> None:
        """Send one message (blocks up to ``SEND_TIMEOUT_S`` at the high-water mark)."""
        try:
            self._sock.send(msg)
        except self._again:
            raise TimeoutError(f"zmq send blocked for {SEND_TIMEOUT_S}s") from None

    def recv(self, timeout_s: float) -> bytes:
        """Return the next message, waiting in ``poll`` up to ``timeout_s``."""
        sock = self._sock
        try:
            return sock.recv(self._noblock)
        except self._again:
            pass
        deadline = time.monotonic() + timeout_s
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000) + 1
            if remaining_ms <= 0 or not sock.poll(remaining_ms):
                raise TimeoutError(f"no zmq message within {timeout_s}s")
            try:
                return sock.recv(self._noblock)
            except self._again:
                continue

    def close(self) -> None:
        """Close the socket and terminate the context."""
        self._sock.close(linger=0)
        self._ctx.term()


class ZmqIpcTransport(Transport):
    """pyzmq ``PAIR`` sockets over ``ipc://`` in a private temporary directory."""

    name: ClassVar[str] = "pyzmq-ipc"

    def __init__(self) -> None:
        """Prepare an unconfigured transport; :meth:`setup` picks the path."""
        self.tmpdir: str | None = None
        self.address = ""

    def setup(self) -> None:
        """Create the temporary directory holding the ipc socket file."""
        self.tmpdir = tempfile.mkdtemp(prefix="tickrail-bench-zmq-")
        self.address = f"ipc://{self.tmpdir}/pair"

    def teardown(self) -> None:
        """Remove the temporary directory."""
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def ping_endpoint(self) -> Endpoint:
        """Bind the PAIR socket."""
        return _ZmqEndpoint(self.address, bind=True)

    def pong_endpoint(self) -> Endpoint:
        """Connect the PAIR socket."""
        return _ZmqEndpoint(self.address, bind=False)


# ------------------------------------------------------------------- mp.Pipe


class _PipeEndpoint(Endpoint):
    """Sends on one one-way pipe, receives on the other."""

    def __init__(self, tx: Connection, rx: Connection) -> None:
        """Use ``tx`` for sending and ``rx`` for receiving."""
        self._tx = tx
        self._rx = rx

    def send(self, msg: bytes) -> None:
        """Send one message with ``send_bytes`` (blocks while the pipe is full)."""
        self._tx.send_bytes(msg)

    def recv(self, timeout_s: float) -> bytes:
        """Return the next message once ``poll(timeout_s)`` reports one."""
        if not self._rx.poll(timeout_s):
            raise TimeoutError(f"no pipe message within {timeout_s}s")
        return self._rx.recv_bytes()

    def close(self) -> None:
        """Close both connections."""
        self._tx.close()
        self._rx.close()


class MpPipeTransport(Transport):
    """Two ``multiprocessing.Pipe(duplex=False)`` pairs, one per direction."""

    name: ClassVar[str] = "mp-pipe"

    def __init__(self) -> None:
        """Prepare an unconfigured transport; :meth:`setup` creates the pipes."""
        self.a2b: tuple[Connection, Connection] | None = None
        self.b2a: tuple[Connection, Connection] | None = None

    def setup(self) -> None:
        """Create the pipes; the children inherit them when spawned."""
        from multiprocessing import Pipe

        self.a2b = Pipe(duplex=False)  # (reader, writer)
        self.b2a = Pipe(duplex=False)

    def teardown(self) -> None:
        """Close the parent's copies of the pipe ends."""
        for pair in (self.a2b, self.b2a):
            if pair is not None:
                for conn in pair:
                    conn.close()
        self.a2b = self.b2a = None

    def ping_endpoint(self) -> Endpoint:
        """Write A->B, read B->A."""
        assert self.a2b is not None and self.b2a is not None, "setup() not run"
        return _PipeEndpoint(tx=self.a2b[1], rx=self.b2a[0])

    def pong_endpoint(self) -> Endpoint:
        """Read A->B, write B->A."""
        assert self.a2b is not None and self.b2a is not None, "setup() not run"
        return _PipeEndpoint(tx=self.b2a[1], rx=self.a2b[0])


# ------------------------------------------------------------------ posix-mq


def mq_msg_max(default: int = 10) -> int:
    """Return the unprivileged POSIX message-queue depth limit of this system."""
    try:
        return int(Path("/proc/sys/fs/mqueue/msg_max").read_text().strip())
    except (OSError, ValueError):
        return default


class _MqEndpoint(Endpoint):
    """Sends on one POSIX message queue, receives on the other."""

    def __init__(self, tx_name: str, rx_name: str) -> None:
        """Open both existing queues by name."""
        posix_ipc = _posix_ipc()

        self._busy = posix_ipc.BusyError
        self._tx = posix_ipc.MessageQueue(tx_name)
        self._rx = posix_ipc.MessageQueue(rx_name)

    def send(self, msg: bytes) -> None:
        """Send one message, blocking up to ``SEND_TIMEOUT_S`` while the queue is full."""
        try:
            self._tx.send(msg, SEND_TIMEOUT_S)
        except self._busy:
            raise TimeoutError(f"mq send blocked for {SEND_TIMEOUT_S}s") from None

    def recv(self, timeout_s: float) -> bytes:
        """Return the next message (``mq_timedreceive`` with ``timeout_s``)."""
        msg: bytes
        try:
            msg, _priority = self._rx.receive(max(timeout_s, 0.0))
        except self._busy:
            raise TimeoutError(f"no mq message within {timeout_s}s") from None
        return msg

    def close(self) -> None:
        """Close both queue descriptors (the parent unlinks the queues)."""
        self._tx.close()
        self._rx.close()


class PosixMqTransport(Transport):
    """Two ``posix_ipc.MessageQueue``, one per direction."""

    name: ClassVar[str] = "posix-mq"

    def __init__(self, max_messages: int | None = None) -> None:
        """Use queues ``max_messages`` deep (default: the system's ``msg_max``)."""
        self.max_messages = max_messages if max_messages else mq_msg_max()
        self.names: tuple[str, str] | None = None

    def setup(self) -> None:
        """Create both queues with room for ``max_messages`` of ``msg_bytes``."""
        posix_ipc = _posix_ipc()

        base = "/" + _unique("tickrail-bench-mq")
        names = (f"{base}-a2b", f"{base}-b2a")
        self.names = names
        for qname in names:
            mq = posix_ipc.MessageQueue(
                qname,
                posix_ipc.O_CREX,
                max_messages=self.max_messages,
                max_message_size=self.msg_bytes,
            )
            mq.close()

    def teardown(self) -> None:
        """Unlink both queues (ignoring queues that are already gone)."""
        posix_ipc = _posix_ipc()

        for qname in self.names or ():
            with contextlib.suppress(posix_ipc.ExistentialError):  # already gone
                posix_ipc.unlink_message_queue(qname)
        self.names = None

    def ping_endpoint(self) -> Endpoint:
        """Send on A->B, receive on B->A."""
        assert self.names is not None, "setup() not run"
        return _MqEndpoint(tx_name=self.names[0], rx_name=self.names[1])

    def pong_endpoint(self) -> Endpoint:
        """Send on B->A, receive on A->B."""
        assert self.names is not None, "setup() not run"
        return _MqEndpoint(tx_name=self.names[1], rx_name=self.names[0])


# ------------------------------------------------------------------ iceoryx2


@cache
def _iox_payload_type(msg_bytes: int) -> type[ctypes.Structure]:
    """Return the fixed-size ctypes payload type for ``msg_bytes``-byte messages.

    Uses 64-bit words when the size allows it (8-byte alignment), bytes otherwise.
    Both processes derive the same type name, so they can open each other's
    services.
    """
    field: type[ctypes.Array[Any]] = (
        ctypes.c_uint64 * (msg_bytes // 8) if msg_bytes % 8 == 0 else ctypes.c_uint8 * msg_bytes
    )
    type_name = f"tickrail_bench_payload_{msg_bytes}"

    class Payload(ctypes.Structure):
        _fields_ = [("data", field)]

        @staticmethod
        def type_name() -> str:
            """Return the type name iceoryx2 compares between processes."""
            return type_name

    return Payload


def _iox_setup_logging(iox2: Any) -> None:
    """Silence iceoryx2's informational log unless ``IOX2_LOG_LEVEL`` says otherwise."""
    iox2.set_log_level_from_env_or(iox2.LogLevel.Error)


def _iox_service(node: Any, iox2: Any, name: str, msg_bytes: int, create: bool) -> Any:
    """Create or open one publish-subscribe service with the bench settings.

    One publisher and one subscriber, no history, no overflow (the publisher
    waits for room instead of overwriting: no losses) and a subscriber buffer
    of 1024 samples, about the queue depth of zmq's default high-water mark.
    """
    builder = (
        node.service_builder(iox2.ServiceName.new(name))
        .publish_subscribe(_iox_payload_type(msg_bytes))
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(IceoryxTransport.buffer_size)
        .enable_safe_overflow(False)
    )
    return builder.create() if create else builder.open()


class _IceoryxEndpoint(Endpoint):
    """A publisher on one service and a subscriber on the other."""

    def __init__(self, tx_service: str, rx_service: str, msg_bytes: int) -> None:
        """Open both services (created by the parent) and the two ports."""
        iox2 = _iceoryx2()

        _iox_setup_logging(iox2)
        self._size = msg_bytes
        self._node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
        self._tx_service = _iox_service(self._node, iox2, tx_service, msg_bytes, create=False)
        self._rx_service = _iox_service(self._node, iox2, rx_service, msg_bytes, create=False)
        self._sub = self._rx_service.subscriber_builder().buffer_size(IceoryxTransport.buffer_size).create()
        self._pub = (
            self._tx_service.publisher_builder()
            .backpressure_strategy(iox2.BackpressureStrategy.RetryUntilDelivered)
            .create()
        )
        self._connect(time.monotonic() + CONNECT_TIMEOUT_S)

    def _connect(self, deadline: float) -> None:
        """Wait for the peer's ports, then attach to them on both services.

        A subscriber attaches to a publisher only when it polls (``receive`` /
        ``has_samples``) while that publisher exists. Until then a full buffer
        makes the publisher silently drop samples (``send`` returns 0) even with
        ``RetryUntilDelivered``, so we attach before the measured phases.
        """
        while (
            self._rx_service.dynamic_config.number_of_publishers < 1
            or self._tx_service.dynamic_config.number_of_subscribers < 1
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"iceoryx2 peer ports not there within {CONNECT_TIMEOUT_S}s")
            time.sleep(0.001)
        self._pub.update_connections()
        self._sub.has_samples()

    def send(self, msg: bytes) -> None:
        """Loan a sample, copy ``msg`` into it and send it."""
        sample = self._pub.loan_uninit()
        ctypes.memmove(sample.payload_ptr, msg, self._size)
        sample.assume_init().send()

    def recv(self, timeout_s: float) -> bytes:
        """Busy-poll ``receive()`` until a sample arrives or ``timeout_s`` passes."""
        receive = self._sub.receive
        sample = receive()
        if sample is None:
            clock = time.perf_counter
            deadline = clock() + timeout_s
            while (sample := receive()) is None:
                if clock() > deadline:
                    raise TimeoutError(f"no iceoryx2 sample within {timeout_s}s")
        return ctypes.string_at(sample.payload_ptr, self._size)

    def close(self) -> None:
        """Release the ports, then the services and the node."""
        self._pub.delete()
        self._sub.delete()
        del self._tx_service, self._rx_service, self._node


class IceoryxTransport(Transport):
    """iceoryx2 publish-subscribe (ipc service type), one service per direction.

    The parent creates both services in :meth:`setup` and holds them until
    :meth:`teardown`, so the children only open them (no creation race) and the
    shared memory lives exactly as long as the run.
    """

    name: ClassVar[str] = "iceoryx2"
    parent_only: ClassVar[tuple[str, ...]] = ("_node", "_services")
    buffer_size: ClassVar[int] = 1024
    """Subscriber buffer (samples) per direction."""

    def __init__(self) -> None:
        """Prepare an unconfigured transport; :meth:`setup` names the services."""
        self.service_names: tuple[str, str] | None = None
        self._node: Any = None
        self._services: list[Any] | None = None

    def setup(self) -> None:
        """Create a node and both services with unique names."""
        iox2 = _iceoryx2()

        _iox_setup_logging(iox2)
        base = "tickrail/bench/" + _unique("iox")
        names = (f"{base}/a2b", f"{base}/b2a")
        self._node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
        self._services = [_iox_service(self._node, iox2, n, self.msg_bytes, create=True) for n in names]
        self.service_names = names

    def teardown(self) -> None:
        """Drop the services (removing them) and clean up after killed children."""
        node = self._node
        self._services = None
        self._node = None
        if node is not None:
            node.try_cleanup_dead_nodes()

    def ping_endpoint(self) -> Endpoint:
        """Publish on A->B, subscribe to B->A."""
        assert self.service_names is not None, "setup() not run"
        a2b, b2a = self.service_names
        return _IceoryxEndpoint(a2b, b2a, self.msg_bytes)

    def pong_endpoint(self) -> Endpoint:
        """Publish on B->A, subscribe to A->B."""
        assert self.service_names is not None, "setup() not run"
        a2b, b2a = self.service_names
        return _IceoryxEndpoint(b2a, a2b, self.msg_bytes)


# ---------------------------------------------------------------- registry

PEERS: dict[str, Callable[[], Transport]] = {
    ZmqIpcTransport.name: ZmqIpcTransport,
    MpPipeTransport.name: MpPipeTransport,
    PosixMqTransport.name: PosixMqTransport,
    IceoryxTransport.name: IceoryxTransport,
}
"""Peer transport factories by name; call one to get a fresh transport."""


def main(argv: list[str] | None = None) -> int:
    """Smoke-run the peers with small counts and print ``{"results": [...]}``.

    A transport that fails is reported as ``{"transport": NAME, "error": ...}``
    and the exit status is 1.
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("peers", nargs="*", help=f"subset of {', '.join(PEERS)}")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--round-trips", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {list(PEERS)}")
    results: list[Result | dict[str, str]] = []
    for peer in args.peers or list(PEERS):
        try:
            results.append(
                measure(
                    PEERS[peer](),
                    messages=args.messages,
                    round_trips=args.round_trips,
                    timeout_s=args.timeout,
                    warmup=args.warmup,
                )
            )
        except BenchError as exc:
            results.append({"transport": peer, "error": str(exc)})
    json.dump({"results": results}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
