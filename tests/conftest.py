"""Shared fixtures: unique segment names cleaned up after each test, a runtime directory of the
session's own (control sockets, logs, journals), and worker processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shm_layout import SegmentNotFound, list_segments, unlink


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--long``: the property tests at ten times their size (a million random orders)."""
    parser.addoption("--long", action="store_true", help="property tests at ten times their size")


WORKERS = Path(__file__).with_name("ring_workers.py")
TEST_PREFIX = f"tickrail.test{os.getpid()}."


@pytest.fixture
def name() -> Iterator[str]:
    """A fresh segment name, unlinked after the test if it still exists."""
    segment = f"{TEST_PREFIX}{uuid.uuid4().hex[:12]}"
    yield segment
    with contextlib.suppress(SegmentNotFound):
        unlink(segment)


@pytest.fixture(scope="session", autouse=True)
def runtime_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Supervisors started by the tests (and the commands that ask them) keep their sockets,
    logs and journals in a directory of this session's, not the user's runtime directory."""
    path = tmp_path_factory.mktemp("runtime")
    before = os.environ.get("RUNTIME_DIRECTORY")
    os.environ["RUNTIME_DIRECTORY"] = str(path)
    yield path
    if before is None:
        del os.environ["RUNTIME_DIRECTORY"]
    else:
        os.environ["RUNTIME_DIRECTORY"] = before


@pytest.fixture(scope="session", autouse=True)
def no_leftover_segments() -> Iterator[None]:
    """Every test cleans up after itself: no segment of this run survives the session."""
    yield
    leftovers = list_segments(TEST_PREFIX)
    for segment in leftovers:
        unlink(segment)
    assert not leftovers, f"tests left segments behind: {leftovers}"


def spawn(*args: str, stdout: int | None = subprocess.PIPE) -> subprocess.Popen[str]:
    """Starts ``tests/ring_workers.py`` with ``args`` in a new process."""
    return subprocess.Popen(
        [sys.executable, str(WORKERS), *args], stdout=stdout, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str], timeout: float = 120.0) -> str:
    """Waits for a worker (bounded), asserts it succeeded, and returns its stdout."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"worker {process.args} timed out; stderr: {err}") from None
    assert process.returncode == 0, f"worker {process.args} failed ({process.returncode}): {err}"
    return out
