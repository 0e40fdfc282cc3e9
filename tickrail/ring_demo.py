"""``tickrail demo``: the ring demo under a minimal supervisor of its own. It creates one
broadcast ring, starts a market-data writer and two readers as separate processes (one keeps
up, one is throttled so the writer laps it), shows the ring's counters live, and at the end
stops the workers, prints a summary and unlinks the segment. A worker that dies stops the run
with a non-zero exit status.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType

from shm_layout import BroadcastWriter, SegmentExists, SegmentNotFound, remove_if_stale, segment_stats, unlink
from shm_layout import stat as shm_stat

#: The demo ring: 64 Ki slots of one 64-byte market event each, up to 4 readers.
DEMO_CAPACITY = 65_536
DEMO_MESSAGE_SIZE = 64
DEMO_READERS = 4
#: How long a stopped worker gets to exit before it is killed.
STOP_GRACE_S = 5.0


@dataclass
class Worker:
    """One supervised process."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts the process."""
        self.process = subprocess.Popen(self.argv)

    def exit_code(self) -> int | None:
        """The exit status if the process has ended."""
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """Asks the process to stop, then kills it if it does not within the grace period."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_GRACE_S)


def prepare_segment(name: str) -> None:
    """Creates the demo ring, removing a leftover whose creator died (after a SIGKILL, say)."""
    try:
        if remove_if_stale(name):
            print(f"removed stale segment {name} left by a dead supervisor", file=sys.stderr)
    except SegmentNotFound:
        pass
    # The supervisor creates the segment; the writer process takes the writer's role.
    BroadcastWriter.create(name, DEMO_CAPACITY, DEMO_MESSAGE_SIZE, DEMO_READERS).close()


def demo_workers(segment: str, rate: float) -> list[Worker]:
    """The writer and the two readers of the demo."""
    demo = [sys.executable, "-m", "tickrail.demo"]
    return [
        Worker("reader-fast", [*demo, "reader", "--segment", segment, "--wait", "backoff"]),
        Worker(
            "reader-throttled",
            [*demo, "reader", "--segment", segment, "--wait", "futex", "--max-rate", str(rate / 2)],
        ),
        Worker("writer", [*demo, "writer", "--segment", segment, "--rate", str(rate)]),
    ]


def summary(segment: str, elapsed_s: float) -> str:
    """One paragraph on what the ring carried."""
    stats = segment_stats(segment)
    lines = [
        f"ran {elapsed_s:.1f} s: {stats['published']} messages published "
        f"({stats['published'] / max(elapsed_s, 1e-9):,.0f}/s), writer attached {stats['writer_attaches']} time(s)"
    ]
    for r in stats["readers"]:
        lines.append(
            f"  reader #{r['index']}: {r['consumed']} read, {r['lost']} lost in {r['overruns']} laps, lag {r['lag']}"
        )
    return "\n".join(lines)


def run(instance: str, duration: float, rate: float) -> int:
    """Supervises the ring demo for ``duration`` seconds (0: until SIGINT/SIGTERM)."""
    segment = shm_stat.segment_name(instance, "md")
    try:
        prepare_segment(segment)
    except SegmentExists as err:
        print(f"tickrail run: instance {instance!r} is already running: {err}", file=sys.stderr)
        return 1
    stop = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    workers = demo_workers(segment, rate)
    status = 0
    start = time.monotonic()
    previous: shm_stat.Snapshot | None = None
    try:
        for worker in workers:
            worker.start()
        while not stop and (duration <= 0 or time.monotonic() - start < duration):
            time.sleep(1.0)
            dead = [(w.name, code) for w in workers if (code := w.exit_code()) is not None]
            if dead:
                for name, code in dead:
                    print(f"tickrail run: worker {name} exited with status {code}", file=sys.stderr)
                status = 1
                break
            snapshot = shm_stat.Snapshot.take(instance)
            clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
            print(clear + shm_stat.render(instance, snapshot, previous), flush=True)
            previous = snapshot
    finally:
        for worker in reversed(workers):
            worker.stop()
        print(summary(segment, time.monotonic() - start))
        unlink(segment)
    return status
