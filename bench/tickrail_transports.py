"""tickrail's own transports for the two-process harness: the Python API one message at a time,
and the same rings driven with numpy batches.

Each direction is a broadcast ring sized to hold a whole throughput run, so the writer (which never
waits) cannot lap the reader and every message is counted; the reader busy-polls, as a hot reader
on an isolated core would.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from bench.harness import SEQ, Endpoint, RecvStats, Transport
from shm_layout import BroadcastReader, BroadcastWriter, SegmentNotFound, unlink

#: Checks between two looks at the clock while busy-polling.
POLLS_PER_CLOCK = 256
#: Records per batch in the batch transport.
BATCH = 4096


def _ring_capacity(messages: int) -> int:
    """A power of two that holds ``messages`` (and the RTT phase) without wrapping."""
    return 1 << max(16, int(messages * 1.1).bit_length())


class _PythonEndpoint(Endpoint):
    """Publishes on one ring and busy-polls the other, one message per call."""

    def __init__(self, tx: str, rx: str) -> None:
        self.reader = BroadcastReader.attach(rx, start="oldest", wait="spin")
        self.writer = BroadcastWriter.attach(tx)

    def send(self, msg: bytes) -> None:
        self.writer.publish(msg)

    def recv(self, timeout_s: float) -> bytes:
        read = self.reader.read
        msg = read()
        if msg is not None:
            return msg
        deadline = time.perf_counter() + timeout_s
        while True:
            for _ in range(POLLS_PER_CLOCK):
                msg = read()
                if msg is not None:
                    return msg
            if time.perf_counter() > deadline:
                raise TimeoutError(f"nothing on {self.reader.cursor} within {timeout_s} s")

    def close(self) -> None:
        self.writer.close()
        self.reader.close()


class _BatchEndpoint(_PythonEndpoint):
    """The same rings, with the throughput phase in numpy batches (one copy each way)."""

    def __init__(self, tx: str, rx: str, msg_bytes: int) -> None:
        super().__init__(tx, rx)
        self.dtype = np.dtype([("seq", "<u8"), ("body", "u1", (msg_bytes - SEQ.size,))])

    def send_many(self, count: int, payload: bytes) -> None:
        batch: npt.NDArray[Any] = np.frombuffer(payload * BATCH, dtype=self.dtype).copy()
        base = np.arange(BATCH, dtype=np.uint64)
        for start in range(0, count, BATCH):
            n = min(BATCH, count - start)
            batch["seq"][:n] = base[:n] + np.uint64(start)
            self.writer.publish_records(batch[:n], self.dtype.itemsize)

    def recv_many(self, count: int, timeout_s: float, idle_s: float = 1.0) -> RecvStats:
        out: npt.NDArray[Any] = np.zeros(BATCH, dtype=self.dtype)
        clock = time.perf_counter_ns
        deadline = clock() + int(timeout_s * 1e9)
        received = out_of_order = 0
        highest = -1
        first_ns = last_ns = 0
        idle_since = clock()
        while received < count and highest != count - 1:
            n, _lost = self.reader.read_records(out, self.dtype.itemsize)
            now = clock()
            if n == 0:
                if now > deadline or (first_ns and now - idle_since > idle_s * 1e9):
                    break
                continue
            idle_since = last_ns = now
            first_ns = first_ns or now
            seqs = out["seq"][:n].astype(np.int64)
            out_of_order += int(np.count_nonzero(np.diff(seqs) <= 0)) + int(seqs[0] <= highest)
            highest = max(highest, int(seqs[-1]))
            received += n
        if received == 0:
            raise TimeoutError(f"no message within {timeout_s} s")
        return RecvStats(received, out_of_order, first_ns, last_ns)


class TickrailPython(Transport):
    """Two broadcast rings, one message per Python call."""

    name: ClassVar[str] = "tickrail-python"

    def __init__(self, messages: int) -> None:
        self.capacity = _ring_capacity(messages)
        base = f"tickrail-bench.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        self.rings = (f"{base}.a2b", f"{base}.b2a")

    def setup(self) -> None:
        for ring in self.rings:
            BroadcastWriter.create(ring, self.capacity, self.msg_bytes, 2).close()

    def teardown(self) -> None:
        for ring in self.rings:
            with contextlib.suppress(SegmentNotFound):
                unlink(ring)

    def ping_endpoint(self) -> Endpoint:
        return _PythonEndpoint(tx=self.rings[0], rx=self.rings[1])

    def pong_endpoint(self) -> Endpoint:
        return _PythonEndpoint(tx=self.rings[1], rx=self.rings[0])


class TickrailPythonBatch(TickrailPython):
    """The same rings, the throughput phase in numpy batches of 4096 records."""

    name: ClassVar[str] = "tickrail-python-batch"

    def ping_endpoint(self) -> Endpoint:
        return _BatchEndpoint(tx=self.rings[0], rx=self.rings[1], msg_bytes=self.msg_bytes)

    def pong_endpoint(self) -> Endpoint:
        return _BatchEndpoint(tx=self.rings[1], rx=self.rings[0], msg_bytes=self.msg_bytes)
