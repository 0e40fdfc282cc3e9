"""``tickrail demo``: the ring demo under its own small supervisor, end to end."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from shm_layout import list_segments
from shm_layout.stat import instance_prefix


def test_the_demo_runs_a_writer_and_two_readers_and_cleans_up() -> None:
    instance = f"demo{uuid.uuid4().hex[:8]}"
    tickrail = Path(sys.executable).with_name("tickrail")
    done = subprocess.run(
        [str(tickrail), "demo", "--instance", instance, "--duration", "3", "--rate", "50000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"tickrail.{instance}.md" in done.stdout, "the live table names the ring"
    summary = done.stdout.splitlines()[-3:]
    assert summary[0].startswith("ran ") and "messages published" in summary[0]
    fast, throttled = summary[1], summary[2]
    assert "reader #" in fast and "reader #" in throttled
    assert not list_segments(instance_prefix(instance)), "the supervisor unlinks its segment"
