"""The FFI boundary neither leaks nor balloons: run with ``pytest --memray`` (``make test`` does).

memray tracks native (Rust) allocations as well as Python's. Each test loops many times so a
per-cycle leak stands out from one-off caches.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from conftest import TEST_PREFIX
from shm_layout import (
    MARKET_EVENT,
    BroadcastReader,
    BroadcastWriter,
    QueueReader,
    QueueWriter,
    ShmError,
    SlotReader,
    SlotWriter,
    publish_array,
    read_array,
    segment_stats,
    unlink,
)

CYCLES = 300


def one_cycle(name: str, batch: np.ndarray) -> None:
    with (
        BroadcastWriter.create(name, 256, MARKET_EVENT.itemsize, 2) as writer,
        BroadcastReader.attach(name) as reader,
    ):
        writer.publish(b"x" * 64)
        assert reader.read() == b"x" * 64
        publish_array(writer, batch)
        records, _ = read_array(reader, MARKET_EVENT, len(batch))
        assert len(records) == len(batch)
        segment_stats(name)
    unlink(name)
    with QueueWriter.create(name, 64, 64) as qw, QueueReader.attach(name) as qr:
        qw.try_push(b"y" * 64)
        assert qr.pop() == b"y" * 64
    unlink(name)
    with SlotWriter.create(name, 4, 64) as sw, SlotReader.open(name) as sr:
        sw.write(1, b"z" * 64)
        assert sr.read(1) == b"z" * 64
    unlink(name)
    with pytest.raises(ShmError):
        BroadcastReader.attach(name)


@pytest.mark.limit_leaks("16 KB")
def test_create_publish_read_close_cycles_leak_nothing() -> None:
    name = f"{TEST_PREFIX}leak{uuid.uuid4().hex[:8]}"
    batch = np.zeros(100, dtype=MARKET_EVENT)
    for _ in range(CYCLES):
        one_cycle(name, batch)


@pytest.mark.limit_memory("8 MB")
def test_reading_a_large_batch_costs_the_batch_and_not_much_more() -> None:
    name = f"{TEST_PREFIX}mem{uuid.uuid4().hex[:8]}"
    batch = np.zeros(16_384, dtype=MARKET_EVENT)  # 1 MiB
    try:
        with BroadcastWriter.create(name, 32_768, MARKET_EVENT.itemsize, 1) as writer:
            reader = BroadcastReader.attach(name)
            for _ in range(20):
                publish_array(writer, batch)
                records, _ = read_array(reader, MARKET_EVENT, len(batch))
                assert len(records) == len(batch)
    finally:
        unlink(name)
