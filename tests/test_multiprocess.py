"""Writers and readers in separate processes: volume, laps, crashes and restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import finish, spawn
from ring_workers import MESSAGE, bodies, torn
from shm_layout import BroadcastReader, BroadcastWriter, QueueWriter, SlotWriter, segment_stats

MILLION = 1_000_000


def wait_ready(process: subprocess.Popen[str]) -> str:
    """Reads the worker's first line (bounded by the worker's own deadline)."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, (
        f"worker {process.args} died before it was ready: {process.stderr.read() if process.stderr else ''}"
    )
    return line


def result(process: subprocess.Popen[str]) -> dict[str, int]:
    return json.loads(finish(process).strip().splitlines()[-1])


def expected_checksum(count: int) -> int:
    seqs = np.arange(count, dtype=np.uint64)
    return int(
        sum(int(bodies(seqs[i : i + 100_000])[:, 0].sum(dtype=np.uint64)) for i in range(0, count, 100_000))
        % (1 << 64)
    )


def test_a_million_messages_reach_three_readers_whole_once_and_in_order(name: str) -> None:
    BroadcastWriter.create(name, 65_536, 64, 4).close()
    readers = [
        spawn("broadcast-reader", name, str(MILLION), "--wait", wait)
        for wait in ("backoff", "yield", "futex")
    ]
    for reader in readers:
        assert wait_ready(reader).strip() == "ready"
    writer = spawn("broadcast-writer", name, str(MILLION), "--pace")
    assert result(writer) == {"first": 0, "published": MILLION}
    checksum = expected_checksum(MILLION)
    for reader in readers:
        got = result(reader)
        assert got["received"] == MILLION
        assert (got["lost"], got["gaps"], got["torn"], got["disorder"]) == (0, 0, 0, 0)
        assert (got["first"], got["next"]) == (0, MILLION)
        assert got["checksum"] == checksum
    stats = segment_stats(name)
    assert stats["published"] == MILLION
    assert stats["lost"] == 0


def test_a_slow_reader_is_lapped_and_told_exactly_how_many_it_lost(name: str) -> None:
    total = 200_000
    BroadcastWriter.create(name, 1024, 64, 2).close()
    slow = spawn("broadcast-reader", name, str(total), "--batch", "256", "--slow-us", "2000")
    assert wait_ready(slow).strip() == "ready"
    assert result(spawn("broadcast-writer", name, str(total), "--batch", "512"))["published"] == total
    got = result(slow)
    assert got["lost"] > 0, "the writer should have lapped a reader that sleeps 2 ms per 256 messages"
    assert got["received"] + got["lost"] == total
    assert got["gaps"] == got["lost"], "every skipped sequence is counted, and nothing else"
    assert (got["torn"], got["disorder"]) == (0, 0)
    reader_stats = segment_stats(name)["readers"][got["index"]]
    assert reader_stats["lost"] == got["lost"]
    assert reader_stats["consumed"] == got["received"]


def test_killing_the_writer_mid_publish_never_tears_a_message_and_a_new_writer_continues(name: str) -> None:
    BroadcastWriter.create(name, 4096, 64, 2).close()
    reader = BroadcastReader.attach(name, start="oldest")
    out = np.zeros(4096, dtype=MESSAGE)
    seen: list[np.ndarray] = []
    lost = 0
    for _round in range(5):
        flood = spawn("broadcast-flood", name)
        wait_ready(flood)
        deadline = time.monotonic() + 0.2 + np.random.default_rng().random() * 0.2
        while time.monotonic() < deadline:
            n, lost_now = reader.read_records(out, 64)
            lost += lost_now
            assert torn(out[:n]) == 0
            seen.append(out["seq"][:n].copy())
        flood.send_signal(signal.SIGKILL)
        flood.wait(10)
    stats = segment_stats(name)
    assert stats["writer_attaches"] == 6, "the creator and five flooding writers attached"
    assert not stats["writer_alive"]
    # Drain what the last writer left, then check the sequence has no holes but laps.
    for _ in range(100):
        n, lost_now = reader.read_records(out, 64)
        lost += lost_now
        assert torn(out[:n]) == 0
        seen.append(out["seq"][:n].copy())
        if n == 0:
            break
    seqs = np.concatenate(seen).astype(np.int64)
    assert np.all(np.diff(seqs) > 0), "each takeover continued the sequence: no duplicate, no reordering"
    assert len(seqs) + lost == stats["published"] - int(seqs[0])
    # A new writer takes over the dead one's role and continues exactly where it stopped.
    with BroadcastWriter.attach(name) as writer:
        assert writer.next_seq == stats["published"]


def test_killing_a_reader_disturbs_neither_the_writer_nor_the_other_readers(name: str) -> None:
    total = 300_000
    BroadcastWriter.create(name, 65_536, 64, 3).close()
    survivor = spawn("broadcast-reader", name, str(total))
    victim = spawn("broadcast-reader", name, str(total), "--slow-us", "500")
    for reader in (survivor, victim):
        wait_ready(reader)
    # The writer paces itself to the live readers only, so the survivor loses nothing.
    writer = spawn("broadcast-writer", name, str(total), "--batch", "1024", "--pace")
    time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert result(writer)["published"] == total
    got = result(survivor)
    assert (got["received"], got["lost"], got["gaps"], got["torn"]) == (total, 0, 0, 0)
    stats = segment_stats(name)
    dead = [r for r in stats["readers"] if not r["alive"]]
    assert len(dead) == 2, "the killed reader's cursor and the finished one's are no longer held"
    # The dead reader's cursor can be taken over where it stopped.
    victim_cursor = next(r for r in stats["readers"] if r["pid"] == victim.pid)
    with BroadcastReader.resume(name, victim_cursor["index"]) as heir:
        assert heir.cursor == victim_cursor["cursor"]


def test_a_restarted_queue_reader_resumes_exactly_where_the_killed_one_stopped(
    name: str, tmp_path: Path
) -> None:
    total = 100_000
    QueueWriter.create(name, 1024, 64).close()
    writer = spawn("queue-writer", name, str(total))
    first_log, second_log = tmp_path / "first.bin", tmp_path / "second.bin"
    doomed = spawn("queue-reader", name, "--log", str(first_log), "--die-after", "37123")
    doomed.wait(60)
    assert doomed.returncode == -signal.SIGKILL
    heir = spawn("queue-reader", name, "--log", str(second_log), "--until", str(total))
    assert wait_ready(heir).split() == ["ready", "37123"]
    got = result(heir)
    assert result(writer) == {"first": 0, "pushed": total}
    assert got["torn"] == 0
    first = np.fromfile(first_log, dtype="<u8")
    second = np.fromfile(second_log, dtype="<u8")
    assert len(first) == 37_123
    assert np.array_equal(np.concatenate([first, second]), np.arange(total, dtype=np.uint64))
    assert segment_stats(name)["backpressure_events"] > 0, "a 1024-slot queue pushed 100k messages"


def test_seqlock_readers_in_another_process_never_see_a_torn_record(name: str) -> None:
    SlotWriter.create(name, 4, 64).close()
    readers = [spawn("slot-reader", name, "300000") for _ in range(2)]
    for reader in readers:
        wait_ready(reader)
    writer = spawn("slot-writer", name, "300000")
    assert result(writer) == {"written": 300_000}
    for reader in readers:
        got = result(reader)
        assert (got["torn"], got["backwards"]) == (0, 0)
        assert got["reads"] > 0 and got["last"] == 299_999


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
def test_another_user_cannot_open_a_0600_segment(name: str) -> None:
    BroadcastWriter.create(name, 64, 64, 2).close()
    assert os.stat(f"/dev/shm/{name}").st_mode & 0o777 == 0o600
    got = json.loads(finish(spawn("open-as-nobody", name)))
    assert got["error"] == "SegmentPermissionError"
    assert name in got["message"]
    assert "mode 0600" in got["message"] and "uid 65534" in got["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")
def test_a_group_may_be_allowed(name: str) -> None:
    BroadcastWriter.create(name, 64, 64, 2, mode=0o660, group=65534).close()
    st = os.stat(f"/dev/shm/{name}")
    assert (st.st_mode & 0o777, st.st_gid) == (0o660, 65534)
    assert json.loads(finish(spawn("open-as-nobody", name)))["error"] is None
