"""Worker processes for the multi-process tests, started as ``python tests/ring_workers.py ROLE ...``.

Every message is 64 bytes: its sequence number and seven words derived from it, so a reader can
check each message is whole (never torn) and in its place. Readers and writers print one JSON
line of results on stdout; a reader prints ``ready`` first, once it is attached.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from shm_layout import (
    BroadcastReader,
    BroadcastWriter,
    QueueReader,
    QueueWriter,
    SeqlockContended,
    ShmError,
    SlotReader,
    SlotWriter,
    segment_stats,
)

MESSAGE = np.dtype([("seq", "<u8"), ("body", "<u8", (7,))])
DEADLINE_S = 120.0


def bodies(seqs: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The seven check words of each sequence number (a splitmix64-style mix)."""
    x = seqs[:, None] * np.uint64(0x9E3779B97F4A7C15) + np.arange(1, 8, dtype=np.uint64) * np.uint64(
        0xBF58476D1CE4E5B9
    )
    x ^= x >> np.uint64(31)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(29))


def messages(start: int, count: int) -> npt.NDArray[Any]:
    """Messages ``start .. start + count``."""
    out = np.zeros(count, dtype=MESSAGE)
    out["seq"] = np.arange(start, start + count, dtype=np.uint64)
    out["body"] = bodies(out["seq"])
    return out


def torn(batch: npt.NDArray[Any]) -> int:
    """How many messages of ``batch`` are not whole."""
    return int(np.count_nonzero((batch["body"] != bodies(batch["seq"])).any(axis=1)))


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def broadcast_writer(args: argparse.Namespace) -> None:
    """Publishes ``count`` messages in batches; with ``--pace`` never laps a live reader."""
    with BroadcastWriter.attach(args.name) as writer:
        first = writer.next_seq
        capacity = writer.capacity
        deadline = time.monotonic() + DEADLINE_S
        sent = 0
        while sent < args.count:
            n = min(args.batch, args.count - sent)
            if args.pace:
                while time.monotonic() < deadline:
                    cursors = [r["cursor"] for r in segment_stats(args.name)["readers"] if r["alive"]]
                    if min(cursors, default=writer.next_seq) + capacity >= writer.next_seq + n:
                        break
                    time.sleep(0.0002)
            writer.publish_records(messages(first + sent, n), MESSAGE.itemsize)
            sent += n
        emit({"first": first, "published": sent})


def broadcast_reader(args: argparse.Namespace) -> None:
    """Reads until it has seen sequence ``until - 1``; checks every message and every gap."""
    reader = BroadcastReader.attach(args.name, start=args.start, wait=args.wait)
    print("ready", flush=True)
    out = np.zeros(args.batch, dtype=MESSAGE)
    received = bad = disorder = gaps = 0
    checksum = 0
    expected = reader.cursor
    first: int | None = None
    deadline = time.monotonic() + DEADLINE_S
    while expected < args.until and time.monotonic() < deadline:
        if not reader.wait(0.05):
            continue
        n, _lost = reader.read_records(out, MESSAGE.itemsize)
        batch = out[:n]
        if n == 0:
            continue
        seqs = batch["seq"].astype(np.int64)
        first = int(seqs[0]) if first is None else first
        bad += torn(batch)
        disorder += int(np.count_nonzero(np.diff(seqs) <= 0))
        starts = np.concatenate(([expected], seqs[:-1] + 1))
        gaps += int(np.sum(np.maximum(seqs - starts, 0)))
        expected = int(seqs[-1]) + 1
        received += n
        checksum = (checksum + int(batch["body"][:, 0].sum(dtype=np.uint64))) % (1 << 64)
        if args.slow_us:
            time.sleep(args.slow_us / 1e6)
    emit(
        {
            "received": received,
            "lost": reader.lost,
            "gaps": gaps,
            "torn": bad,
            "disorder": disorder,
            "first": first,
            "next": expected,
            "checksum": checksum,
            "index": reader.index,
        }
    )


def broadcast_flood(args: argparse.Namespace) -> None:
    """Publishes one message at a time, forever, until killed."""
    with BroadcastWriter.attach(args.name) as writer:
        one = messages(writer.next_seq, 1)
        print("started", writer.next_seq, flush=True)
        while True:
            seq = writer.next_seq
            one["seq"][0] = seq
            one["body"][0] = bodies(one["seq"])[0]
            writer.publish(one.tobytes())


def queue_writer(args: argparse.Namespace) -> None:
    """Pushes ``count`` messages, waiting for room when the queue is full."""
    with QueueWriter.attach(args.name, wait="futex") as writer:
        first = writer.next_seq
        sent = 0
        deadline = time.monotonic() + DEADLINE_S
        while sent < args.count and time.monotonic() < deadline:
            n = writer.push_records(
                messages(first + sent, min(args.batch, args.count - sent)), MESSAGE.itemsize
            )
            sent += n
            if n == 0:
                writer.wait_for_space(0.1)
        emit({"first": first, "pushed": sent})


def queue_reader(args: argparse.Namespace) -> None:
    """Pops messages, logging each batch's sequences to a file; kills itself with SIGKILL after
    ``--die-after`` messages, or stops at ``--until``."""
    reader = QueueReader.attach(args.name, wait="futex")
    print("ready", reader.cursor, flush=True)
    out = np.zeros(args.batch, dtype=MESSAGE)
    total = bad = 0
    deadline = time.monotonic() + DEADLINE_S
    with open(args.log, "ab") as log:
        while time.monotonic() < deadline:
            if args.until is not None and reader.cursor >= args.until:
                break
            if not reader.wait(0.05):
                continue
            limit = args.batch if args.die_after is None else min(args.batch, args.die_after - total)
            n = reader.pop_records(out[:limit], MESSAGE.itemsize)
            bad += torn(out[:n])
            log.write(out["seq"][:n].tobytes())
            log.flush()
            total += n
            if args.die_after is not None and total >= args.die_after:
                os.kill(os.getpid(), signal.SIGKILL)
    emit({"popped": total, "torn": bad, "cursor": reader.cursor})


def slot_writer(args: argparse.Namespace) -> None:
    """Rewrites key 0 with message ``i`` for ``i`` in ``0 .. count``."""
    with SlotWriter.attach(args.name) as writer:
        record = messages(0, 1)
        for i in range(args.count):
            record["seq"][0] = i
            record["body"][0] = bodies(record["seq"])[0]
            writer.write(0, record)
        emit({"written": args.count})


def slot_reader(args: argparse.Namespace) -> None:
    """Reads key 0 until it holds message ``count - 1``; counts torn copies and values going back."""
    reader = SlotReader.open(args.name)
    print("ready", flush=True)
    record = np.zeros(1, dtype=MESSAGE)
    bad = backwards = stable = contended = 0
    last = -1
    deadline = time.monotonic() + DEADLINE_S
    while last < args.count - 1 and time.monotonic() < deadline:
        try:
            version = reader.read_into(0, record)
        except SeqlockContended:
            # The writer was preempted mid-update for longer than the retry bound: counted, retried.
            contended += 1
            continue
        if version is None:
            continue
        stable += 1
        bad += torn(record)
        seq = int(record["seq"][0])
        backwards += seq < last
        last = seq
    emit({"reads": stable, "torn": bad, "backwards": backwards, "contended": contended, "last": last})


def open_as_nobody(args: argparse.Namespace) -> None:
    """Drops to user nobody, then tries to open the segment as a reader."""
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    try:
        BroadcastReader.attach(args.name)
    except ShmError as err:
        emit({"error": type(err).__name__, "message": str(err)})
        return
    emit({"error": None})


def create_and_exit(args: argparse.Namespace) -> None:
    """Creates a ring and exits without unlinking it, as a crashed creator would."""
    BroadcastWriter.create(args.name, 64, 64, 2).close()
    emit({"pid": os.getpid()})


def main() -> None:
    parser = argparse.ArgumentParser()
    roles = parser.add_subparsers(dest="role", required=True)
    p = roles.add_parser("broadcast-writer")
    p.add_argument("name")
    p.add_argument("count", type=int)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--pace", action="store_true")
    p.set_defaults(run=broadcast_writer)
    p = roles.add_parser("broadcast-reader")
    p.add_argument("name")
    p.add_argument("until", type=int)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--start", default="latest")
    p.add_argument("--wait", default="backoff")
    p.add_argument("--slow-us", type=int, default=0)
    p.set_defaults(run=broadcast_reader)
    p = roles.add_parser("broadcast-flood")
    p.add_argument("name")
    p.set_defaults(run=broadcast_flood)
    p = roles.add_parser("queue-writer")
    p.add_argument("name")
    p.add_argument("count", type=int)
    p.add_argument("--batch", type=int, default=256)
    p.set_defaults(run=queue_writer)
    p = roles.add_parser("queue-reader")
    p.add_argument("name")
    p.add_argument("--log", required=True)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--die-after", type=int)
    p.add_argument("--until", type=int)
    p.set_defaults(run=queue_reader)
    p = roles.add_parser("slot-writer")
    p.add_argument("name")
    p.add_argument("count", type=int)
    p.set_defaults(run=slot_writer)
    p = roles.add_parser("slot-reader")
    p.add_argument("name")
    p.add_argument("count", type=int)
    p.set_defaults(run=slot_reader)
    p = roles.add_parser("open-as-nobody")
    p.add_argument("name")
    p.set_defaults(run=open_as_nobody)
    p = roles.add_parser("create-and-exit")
    p.add_argument("name")
    p.set_defaults(run=create_and_exit)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
