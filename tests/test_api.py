"""The Python API in one process: rings, queues, slots, numpy batches, waits and errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from shm_layout import (
    EXECUTION_REPORT,
    GATE_CALL,
    MARK,
    MARKET_EVENT,
    TOP_OF_BOOK,
    TRADING_STATE,
    TYPE_IDS,
    BroadcastReader,
    BroadcastWriter,
    MessageTooLarge,
    QueueReader,
    QueueWriter,
    RoleTaken,
    SeqlockContended,
    ShmError,
    SlotReader,
    SlotWriter,
    WaitStrategy,
    pop_array,
    publish_array,
    push_array,
    read_array,
    segment_stats,
)


def test_readers_each_get_every_message_in_order(name: str) -> None:
    with BroadcastWriter.create(name, 16, 32, 3) as writer:
        readers = [BroadcastReader.attach(name) for _ in range(3)]
        for i in range(10):
            assert writer.publish(f"message {i}".encode()) == i
        for reader in readers:
            assert [reader.read() for _ in range(10)] == [f"message {i}".encode() for i in range(10)]
            assert reader.read() is None
            assert (reader.consumed, reader.lost, reader.last_seq) == (10, 0, 9)


def test_a_new_reader_starts_at_the_latest_or_the_oldest_message(name: str) -> None:
    with BroadcastWriter.create(name, 4, 8, 2) as writer:
        for i in range(6):
            writer.publish(bytes([i]))
        assert BroadcastReader.attach(name, start="latest").read() is None
        oldest = BroadcastReader.attach(name, start="oldest")
        assert [oldest.read() for _ in range(4)] == [bytes([i]) for i in range(2, 6)]


def test_a_lapped_reader_skips_to_the_oldest_message_and_counts_the_loss(name: str) -> None:
    with BroadcastWriter.create(name, 8, 8, 1) as writer:
        reader = BroadcastReader.attach(name)
        for i in range(20):
            writer.publish(i.to_bytes(8, "little"))
        assert reader.read() == (12).to_bytes(8, "little")
        assert reader.lost == 12
        assert segment_stats(name)["readers"][0]["lost"] == 12
        assert segment_stats(name)["overruns"] == 1


def test_a_message_longer_than_a_slot_is_refused_and_nothing_is_published(name: str) -> None:
    with BroadcastWriter.create(name, 8, 16, 1) as writer:
        with pytest.raises(MessageTooLarge, match="message of 17 bytes exceeds the maximum of 16 bytes"):
            writer.publish(bytes(17))
        assert writer.next_seq == 0


def test_numpy_batches_round_trip_with_one_copy_each_way(name: str) -> None:
    records = np.zeros(100, dtype=MARKET_EVENT)
    records["msg_type"] = TYPE_IDS["MarketEvent"]
    records["sequence"] = np.arange(100)
    records["price"] = np.arange(100) * 1_000_000_000
    with BroadcastWriter.create(name, 128, MARKET_EVENT.itemsize, 1) as writer:
        reader = BroadcastReader.attach(name)
        assert publish_array(writer, records) == 100
        got, lost = read_array(reader, MARKET_EVENT, 64)
        rest, _ = read_array(reader, MARKET_EVENT, 64)
    assert lost == 0
    assert np.array_equal(np.concatenate([got, rest]), records)


def test_a_batch_buffer_must_hold_whole_records(name: str) -> None:
    with BroadcastWriter.create(name, 8, 64, 1) as writer:
        with pytest.raises(ValueError, match="not a whole number of 64-byte records"):
            writer.publish_records(bytes(100), 64)
        reader = BroadcastReader.attach(name)
        with pytest.raises(MessageTooLarge, match="smaller than the 64 bytes needed"):
            reader.read_records(bytearray(32), 32)
        with pytest.raises(BufferError, match="read-only"):
            reader.read_records(bytes(64), 64)


@pytest.mark.parametrize("wait", list(WaitStrategy))
def test_every_wait_strategy_times_out_and_wakes(name: str, wait: WaitStrategy) -> None:
    with BroadcastWriter.create(name, 8, 8, 1) as writer:
        reader = BroadcastReader.attach(name, wait=wait)
        assert reader.wait_strategy == wait
        start = time.monotonic()
        assert not reader.wait(0.02)
        assert time.monotonic() - start >= 0.02
        timer = threading.Timer(0.01, writer.publish, args=(b"wake",))
        timer.start()
        assert reader.wait(5.0)
        timer.join()
        assert reader.read() == b"wake"


def test_bad_waits_are_refused(name: str) -> None:
    with BroadcastWriter.create(name, 8, 8, 1):
        with pytest.raises(ValueError, match='unknown wait strategy "nap"'):
            BroadcastReader.attach(name, wait="nap")
        with pytest.raises(ValueError, match="timeout must be a finite, non-negative"):
            BroadcastReader.attach(name).wait(-1.0)


def test_a_closed_handle_refuses_use_and_gives_its_role_back(name: str) -> None:
    writer = BroadcastWriter.create(name, 8, 8, 1)
    writer.close()
    assert writer.closed
    with pytest.raises(ValueError, match="BroadcastWriter is closed"):
        writer.publish(b"x")
    BroadcastWriter.attach(name).close()


def test_a_full_queue_refuses_counts_backpressure_and_loses_nothing(name: str) -> None:
    with QueueWriter.create(name, 4, 8) as writer, QueueReader.attach(name) as reader:
        assert [writer.try_push(bytes([i])) for i in range(5)] == [True] * 4 + [False]
        assert segment_stats(name)["backpressure_events"] == 1
        assert not writer.push(b"late", timeout=0.01)
        assert reader.pop() == bytes([0])
        assert writer.push(bytes([4]), timeout=1.0)
        assert [reader.pop() for _ in range(5)] == [bytes([i]) for i in range(1, 5)] + [None]


def test_a_queue_has_one_reader_and_it_resumes_at_the_shared_cursor(name: str) -> None:
    with QueueWriter.create(name, 8, 8) as writer:
        for i in range(6):
            writer.try_push(bytes([i]))
        first = QueueReader.attach(name)
        with pytest.raises(RoleTaken, match="reader cursor 0 is held by live pid"):
            QueueReader.attach(name)
        assert [first.pop(), first.pop()] == [b"\x00", b"\x01"]
        first.close()
        second = QueueReader.attach(name)
        assert second.cursor == 2
        assert second.pop() == b"\x02"


def test_queue_batches_push_what_fits_and_pop_in_order(name: str) -> None:
    records = np.zeros(10, dtype=MARKET_EVENT)
    records["sequence"] = np.arange(10)
    with QueueWriter.create(name, 8, 64) as writer, QueueReader.attach(name) as reader:
        assert push_array(writer, records) == 8
        assert np.array_equal(pop_array(reader, MARKET_EVENT, 16)["sequence"], np.arange(8))
        assert push_array(writer, records[8:]) == 2
        assert np.array_equal(pop_array(reader, MARKET_EVENT, 16)["sequence"], [8, 9])


def test_a_queue_writer_waits_for_room(name: str) -> None:
    with QueueWriter.create(name, 2, 8, wait="futex") as writer, QueueReader.attach(name) as reader:
        writer.try_push(b"a")
        writer.try_push(b"b")
        assert not writer.wait_for_space(0.01)
        timer = threading.Timer(0.01, reader.pop)
        timer.start()
        assert writer.wait_for_space(5.0)
        timer.join()


def test_slots_keep_the_latest_record_per_key(name: str) -> None:
    with SlotWriter.create(name, 3, TOP_OF_BOOK.itemsize) as writer:
        reader = SlotReader.open(name)
        assert reader.read(0) is None
        book = np.zeros(1, dtype=TOP_OF_BOOK)
        for price in (100, 101):
            book["bids"]["price"][0, 0] = price
            writer.write(1, book)
        out = np.zeros(1, dtype=TOP_OF_BOOK)
        assert reader.read_into(1, out) == 4, "two updates: versions 2 then 4"
        assert out["bids"]["price"][0, 0] == 101
        assert reader.read(1) == book.tobytes()


def test_slot_keys_and_sizes_are_checked(name: str) -> None:
    with SlotWriter.create(name, 2, 16) as writer:
        with pytest.raises(ShmError, match="key 2 out of range"):
            writer.write(2, bytes(16))
        with pytest.raises(ShmError, match="record_size is 16, expected 8"):
            writer.write(0, bytes(8))


def test_a_slot_left_mid_update_makes_readers_give_up_and_count_it(name: str) -> None:
    with SlotWriter.create(name, 1, 8) as writer:
        writer.write(0, bytes(8))
    # Data starts after the header, writer, counter blocks and no reader blocks: offset 384.
    with open(f"/dev/shm/{name}", "r+b") as f:
        f.seek(384)
        f.write((3).to_bytes(8, "little"))
    reader = SlotReader.open(name, max_retries=10)
    with pytest.raises(SeqlockContended, match="key 0 still being written after 10 retries"):
        reader.read(0)
    stats = segment_stats(name)
    assert (stats["seqlock_retries"], stats["seqlock_failures"]) == (10, 1)
    with SlotWriter.attach(name) as heir:
        heir.write(0, b"resumed!")
    assert reader.read(0) == b"resumed!"


def test_dtypes_mirror_the_rust_records() -> None:
    assert MARKET_EVENT.itemsize == 64
    assert MARKET_EVENT.fields is not None
    assert [MARKET_EVENT.fields[f][1] for f in ("sequence", "publish_ts_ns", "instrument_id", "price")] == [
        8,
        32,
        40,
        48,
    ]
    assert TOP_OF_BOOK.itemsize == 48 + 2 * 10 * 16
    assert TOP_OF_BOOK["bids"].shape == (10,)
    assert {k: TYPE_IDS[k] for k in ("MarketEvent", "TopOfBook", "TradingState")} == {
        "MarketEvent": 1,
        "TopOfBook": 2,
        "TradingState": 3,
    }
    assert TRADING_STATE.itemsize == 80 and TRADING_STATE.fields is not None
    fields = ("instrument_id", "state", "reason", "orders", "loss_room", "net_room")
    assert [TRADING_STATE.fields[f][1] for f in fields] == [40, 44, 45, 46, 48, 72]
    assert TYPE_IDS["ExecutionReport"] == 4
    assert EXECUTION_REPORT.itemsize == 112 and EXECUTION_REPORT.fields is not None
    offsets = [EXECUTION_REPORT.fields[f][1] for f in ("instrument_id", "kind", "order_id", "realized_pnl")]
    assert offsets == [40, 46, 48, 104]
    assert (TYPE_IDS["GateCall"], TYPE_IDS["Mark"]) == (5, 6)
    assert (GATE_CALL.itemsize, MARK.itemsize) == (136, 64)


def test_a_queue_message_can_be_viewed_in_place_until_it_is_committed(name: str) -> None:
    records = np.zeros(2, dtype=MARKET_EVENT)
    records["sequence"] = [41, 42]
    with QueueWriter.create(name, 4, 64) as writer, QueueReader.attach(name) as reader:
        assert reader.peek() is None
        push_array(writer, records)
        view = reader.peek()
        assert view is not None and (view.seq, len(view)) == (0, 64)
        event = np.frombuffer(view, dtype=MARKET_EVENT)
        assert event["sequence"][0] == 41
        assert not event.flags.owndata and not event.flags.writeable, "a read-only view, not a copy"
        with pytest.raises(BufferError, match="message 0 is still viewed in place by 1 buffer"):
            reader.commit()
        with pytest.raises(BufferError, match="still viewed"):
            reader.pop()
        del event
        assert reader.commit()
        assert reader.pop() == records[1:].tobytes()
        assert not reader.commit(), "nothing left to commit"


def test_a_message_view_outlives_its_reader_without_dangling(name: str) -> None:
    with QueueWriter.create(name, 4, 8) as writer:
        writer.try_push(b"kept")
        reader = QueueReader.attach(name)
        view = reader.peek()
        reader.close()
        del reader
        assert view is not None and bytes(memoryview(view)) == b"kept"
