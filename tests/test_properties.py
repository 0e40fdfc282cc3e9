"""Property tests: random operation sequences on the Python API agree with simple models."""

from __future__ import annotations

import uuid

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from conftest import TEST_PREFIX
from shm_layout import (
    BroadcastReader,
    BroadcastWriter,
    QueueReader,
    QueueWriter,
    SlotReader,
    SlotWriter,
    read_array,
    segment_stats,
    unlink,
)

CAPACITY = 8
MAX_MESSAGE = 24
READERS = 3

messages = st.binary(min_size=0, max_size=MAX_MESSAGE)


def fresh_name() -> str:
    return f"{TEST_PREFIX}prop{uuid.uuid4().hex[:10]}"


class BroadcastModel(RuleBasedStateMachine):
    """A ring read by several readers at their own pace: each gets the messages still in the
    ring, in order, and counts exactly those overwritten before it read them."""

    @initialize()
    def create(self) -> None:
        self.name = fresh_name()
        self.writer = BroadcastWriter.create(self.name, CAPACITY, MAX_MESSAGE, READERS)
        self.readers = [BroadcastReader.attach(self.name) for _ in range(READERS)]
        self.published: list[bytes] = []
        self.cursors = [0] * READERS
        self.lost = [0] * READERS

    @rule(msg=messages)
    def publish(self, msg: bytes) -> None:
        assert self.writer.publish(msg) == len(self.published)
        self.published.append(msg)

    @rule(i=st.integers(0, READERS - 1))
    def read(self, i: int) -> None:
        oldest = max(0, len(self.published) - CAPACITY)
        if self.cursors[i] < oldest:
            self.lost[i] += oldest - self.cursors[i]
            self.cursors[i] = oldest
        expected = self.published[self.cursors[i]] if self.cursors[i] < len(self.published) else None
        assert self.readers[i].read() == expected
        if expected is not None:
            self.cursors[i] += 1

    @invariant()
    def counters_match(self) -> None:
        if not hasattr(self, "readers"):
            return
        for reader, lost, cursor in zip(self.readers, self.lost, self.cursors, strict=True):
            assert (reader.lost, reader.cursor) == (lost, cursor)
        stats = segment_stats(self.name)
        assert stats["published"] == len(self.published)
        assert [r["lag"] for r in stats["readers"]] == [len(self.published) - c for c in self.cursors]

    def teardown(self) -> None:
        if hasattr(self, "name"):
            unlink(self.name)


class QueueModel(RuleBasedStateMachine):
    """A bounded FIFO: pushes beyond capacity are refused, pops come in order, nothing is lost."""

    @initialize()
    def create(self) -> None:
        self.name = fresh_name()
        self.writer = QueueWriter.create(self.name, CAPACITY, MAX_MESSAGE)
        self.reader = QueueReader.attach(self.name)
        self.pending: list[bytes] = []
        self.refused = 0

    @rule(msg=messages)
    def push(self, msg: bytes) -> None:
        accepted = self.writer.try_push(msg)
        assert accepted == (len(self.pending) < CAPACITY)
        if accepted:
            self.pending.append(msg)
        else:
            self.refused += 1

    @rule()
    def pop(self) -> None:
        assert self.reader.pop() == (self.pending.pop(0) if self.pending else None)

    @precondition(lambda self: hasattr(self, "reader"))
    @rule()
    def restart_reader(self) -> None:
        self.reader.close()
        self.reader = QueueReader.attach(self.name)

    @invariant()
    def backpressure_is_counted(self) -> None:
        if hasattr(self, "name"):
            assert segment_stats(self.name)["backpressure_events"] == self.refused

    def teardown(self) -> None:
        if hasattr(self, "name"):
            unlink(self.name)


class SlotsModel(RuleBasedStateMachine):
    """A table keeps the last record written per key."""

    KEYS = 4
    SIZE = 16

    @initialize()
    def create(self) -> None:
        self.name = fresh_name()
        self.writer = SlotWriter.create(self.name, self.KEYS, self.SIZE)
        self.reader = SlotReader.open(self.name)
        self.latest: dict[int, bytes] = {}

    @rule(key=st.integers(0, KEYS - 1), record=st.binary(min_size=SIZE, max_size=SIZE))
    def write(self, key: int, record: bytes) -> None:
        self.writer.write(key, record)
        self.latest[key] = record

    @rule(key=st.integers(0, KEYS - 1))
    def read(self, key: int) -> None:
        assert self.reader.read(key) == self.latest.get(key)

    def teardown(self) -> None:
        if hasattr(self, "name"):
            unlink(self.name)


TestBroadcastModel = BroadcastModel.TestCase
TestQueueModel = QueueModel.TestCase
TestSlotsModel = SlotsModel.TestCase
for case in (TestBroadcastModel, TestQueueModel, TestSlotsModel):
    case.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


@settings(max_examples=50, deadline=None)
@given(
    batches=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    read_size=st.integers(1, 50),
)
def test_record_batches_arrive_whole_or_counted_lost(batches: list[int], read_size: int) -> None:
    dtype = np.dtype([("seq", "<u8"), ("payload", "<u8", (3,))])
    name = fresh_name()
    try:
        with BroadcastWriter.create(name, 16, dtype.itemsize, 1) as writer:
            reader = BroadcastReader.attach(name)
            sent = 0
            got: list[np.ndarray] = []
            lost = 0
            for size in batches:
                batch = np.zeros(size, dtype)
                batch["seq"] = np.arange(sent, sent + size)
                batch["payload"] = batch["seq"][:, None] * 3
                writer.publish_records(batch, dtype.itemsize)
                sent += size
                records, lost_now = read_array(reader, dtype, read_size)
                got.append(records)
                lost += lost_now
            while len(records := read_array(reader, dtype, read_size)[0]):
                got.append(records)
            seqs = np.concatenate(got)["seq"]
            assert len(seqs) + lost == sent
            assert np.all(np.diff(seqs.astype(np.int64)) > 0)
            assert np.all(np.concatenate(got)["payload"] == seqs[:, None] * 3)
    finally:
        unlink(name)
