"""Segment lifecycle and every way a header can be wrong, each with a clear error."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable

import posix_ipc
import pytest

from conftest import finish, spawn
from shm_layout import (
    LAYOUT_VERSION,
    BroadcastReader,
    BroadcastWriter,
    LayoutMismatch,
    QueueReader,
    QueueWriter,
    RoleTaken,
    SegmentCorrupt,
    SegmentExists,
    SegmentNotFound,
    SegmentNotReady,
    ShmError,
    SlotReader,
    SlotWriter,
    remove_if_stale,
    segment_info,
    unlink,
)

# Offsets of the header fields (shm_layout/src/layout.rs, SegmentHeader).
VERSION_AT = 8
KIND_AT = 12
CAPACITY_AT = 16
CHECKSUM_AT = 72
READY_AT = 80


def path(name: str) -> str:
    return f"/dev/shm/{name}"


def patch(name: str, offset: int, data: bytes) -> None:
    """Overwrites bytes of a segment from outside, as a crash or another build would."""
    with open(path(name), "r+b") as f:
        f.seek(offset)
        f.write(data)


def make_ring(name: str) -> None:
    BroadcastWriter.create(name, 64, 64, 2).close()


def test_a_created_segment_describes_itself(name: str) -> None:
    make_ring(name)
    info = segment_info(name)
    assert info["name"] == f"/{name}"
    assert (info["kind"], info["layout_version"]) == ("broadcast", LAYOUT_VERSION)
    assert (info["capacity"], info["max_message_size"], info["max_readers"]) == (64, 64, 2)
    assert info["creator_pid"] == os.getpid() and info["creator_alive"]
    assert info["mode"] == 0o600
    assert os.stat(path(name)).st_mode & 0o777 == 0o600
    assert os.stat(path(name)).st_size == info["total_size"]


def test_opening_a_missing_segment_names_it(name: str) -> None:
    with pytest.raises(SegmentNotFound, match=f"segment /{name}: not found"):
        BroadcastReader.attach(name)


def test_creating_over_a_live_segment_is_refused(name: str) -> None:
    make_ring(name)
    with pytest.raises(SegmentExists, match=f"created by pid {os.getpid()}, still alive"):
        make_ring(name)


def test_a_layout_version_mismatch_is_refused_with_both_versions(name: str) -> None:
    make_ring(name)
    patch(name, VERSION_AT, struct.pack("<I", LAYOUT_VERSION + 1))
    with pytest.raises(
        LayoutMismatch,
        match=f"layout version {LAYOUT_VERSION + 1}, this build reads version {LAYOUT_VERSION}",
    ):
        BroadcastReader.attach(name)


@pytest.mark.parametrize(
    ("opener", "message"),
    [
        (lambda n: QueueReader.attach(n), "is a broadcast, not a queue"),
        (lambda n: QueueWriter.attach(n), "is a broadcast, not a queue"),
        (lambda n: SlotReader.open(n), "is a broadcast, not a slots"),
    ],
)
def test_a_segment_of_another_kind_is_refused(
    name: str, opener: Callable[[str], object], message: str
) -> None:
    make_ring(name)
    with pytest.raises(LayoutMismatch, match=message):
        opener(name)


def test_a_segment_whose_header_is_not_ready_is_refused(name: str) -> None:
    make_ring(name)
    patch(name, READY_AT, b"\0\0\0\0")
    with pytest.raises(SegmentNotReady, match=f"segment /{name}: not ready"):
        BroadcastReader.attach(name)


def test_a_corrupted_header_fails_its_checksum(name: str) -> None:
    make_ring(name)
    patch(name, CAPACITY_AT, struct.pack("<Q", 1 << 20))
    with pytest.raises(SegmentCorrupt, match="corrupted header: checksum"):
        BroadcastReader.attach(name)


def test_an_unknown_kind_with_a_valid_checksum_is_still_corrupt(name: str) -> None:
    make_ring(name)
    with open(path(name), "r+b") as f:
        header = bytearray(f.read(CHECKSUM_AT))
    header[KIND_AT : KIND_AT + 4] = struct.pack("<I", 99)
    checksum = 0xCBF29CE484222325
    for byte in header:
        checksum = ((checksum ^ byte) * 0x100000001B3) % (1 << 64)
    patch(name, KIND_AT, struct.pack("<I", 99))
    patch(name, CHECKSUM_AT, struct.pack("<Q", checksum))
    with pytest.raises(SegmentCorrupt, match="unknown segment kind 99"):
        segment_info(name)


@pytest.mark.parametrize("size", [0, 100, 4096])
def test_a_truncated_segment_is_refused_with_its_size(name: str, size: int) -> None:
    make_ring(name)
    os.truncate(path(name), size)
    with pytest.raises(SegmentCorrupt, match=f"truncated: {size} bytes"):
        BroadcastReader.attach(name)


def test_a_foreign_segment_is_not_mistaken_for_ours(name: str) -> None:
    foreign = posix_ipc.SharedMemory(f"/{name}", posix_ipc.O_CREX, size=4096)
    os.write(foreign.fd, b"NOTOURS!" + bytes(4088))
    foreign.close_fd()
    with pytest.raises(LayoutMismatch, match="not a tickrail segment"):
        BroadcastReader.attach(name)


def test_an_empty_segment_reads_as_not_ready(name: str) -> None:
    foreign = posix_ipc.SharedMemory(f"/{name}", posix_ipc.O_CREX, size=4096)
    foreign.close_fd()
    with pytest.raises(SegmentNotReady):
        segment_info(name)


def test_a_segment_whose_creator_died_is_detected_and_removed(name: str) -> None:
    creator = json.loads(finish(spawn("create-and-exit", name)))
    info = segment_info(name)
    assert info["creator_pid"] == creator["pid"]
    assert not info["creator_alive"]
    assert remove_if_stale(name)
    with pytest.raises(SegmentNotFound):
        segment_info(name)


def test_a_segment_whose_creator_lives_is_kept(name: str) -> None:
    make_ring(name)
    assert not remove_if_stale(name)
    assert segment_info(name)["creator_alive"]


def test_a_stale_segment_may_be_replaced_on_create(name: str) -> None:
    finish(spawn("create-and-exit", name))
    BroadcastWriter.create(name, 128, 64, 2, replace_stale=True).close()
    assert segment_info(name)["capacity"] == 128


def test_unlink_is_explicit_and_mappings_outlive_it(name: str) -> None:
    writer = BroadcastWriter.create(name, 64, 64, 2)
    reader = BroadcastReader.attach(name)
    unlink(name)
    with pytest.raises(SegmentNotFound):
        segment_info(name)
    writer.publish(b"still mapped")
    assert reader.read() == b"still mapped"
    with pytest.raises(SegmentNotFound):
        unlink(name)


def test_one_live_writer_per_segment(name: str) -> None:
    with (
        BroadcastWriter.create(name, 64, 64, 2),
        pytest.raises(RoleTaken, match=f"already has a live writer \\(pid {os.getpid()}\\)"),
    ):
        BroadcastWriter.attach(name)
    BroadcastWriter.attach(name).close()


def test_reader_cursors_run_out_and_come_back(name: str) -> None:
    make_ring(name)
    first, second = BroadcastReader.attach(name), BroadcastReader.attach(name)
    with pytest.raises(RoleTaken, match="all 2 reader cursors are held"):
        BroadcastReader.attach(name)
    first.close()
    assert BroadcastReader.attach(name).index == 0
    second.close()


@pytest.mark.parametrize(
    ("create", "message"),
    [
        (lambda n: BroadcastWriter.create(n, 1000, 64, 2), "capacity 1000 is not a power of two"),
        (lambda n: BroadcastWriter.create(n, 64, 0, 2), "max_message_size must be at least 1 byte"),
        (lambda n: BroadcastWriter.create(n, 64, 64, 0), "max_readers 0 invalid"),
        (lambda n: BroadcastWriter.create(n, 64, 64, 2, mode=0o644), "mode 0644"),
        (lambda n: BroadcastWriter.create(n + "/x", 64, 64, 2), "without '/'"),
    ],
)
def test_impossible_configurations_are_refused_before_anything_is_created(
    name: str, create: Callable[[str], object], message: str
) -> None:
    with pytest.raises(ShmError, match=message):
        create(name)
    assert not os.path.exists(path(name))


@pytest.mark.parametrize(
    ("opener", "message"),
    [
        (lambda n: BroadcastReader.attach(n, max_message_size=128), "max_message_size is 64, expected 128"),
        (lambda n: BroadcastReader.attach(n, capacity=64, max_message_size=64), None),
        (lambda n: BroadcastWriter.attach(n, capacity=1024), "capacity is 64, expected 1024"),
    ],
)
def test_a_segment_of_another_geometry_is_refused(
    name: str, opener: Callable[[str], object], message: str | None
) -> None:
    make_ring(name)
    if message is None:
        opener(name)
        return
    with pytest.raises(LayoutMismatch, match=f"segment /{name}: {message}"):
        opener(name)


def test_queues_and_tables_check_their_geometry_too(name: str) -> None:
    QueueWriter.create(name, 8, 32).close()
    with pytest.raises(LayoutMismatch, match="max_message_size is 32, expected 64"):
        QueueReader.attach(name, max_message_size=64)
    unlink(name)
    SlotWriter.create(name, 4, 16).close()
    with pytest.raises(LayoutMismatch, match="capacity is 4, expected 8"):
        SlotReader.open(name, keys=8)
    SlotReader.open(name, keys=4, record_size=16).close()
