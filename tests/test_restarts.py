"""Restarting workers: back-off with jitter, FATAL after too many failures in a row, a healthy
run forgiving the past, and the restart intensity that makes the supervisor halt."""

from __future__ import annotations

import random

import pytest

from tickrail.restarts import Intensity, Policy, State, Worker


def test_a_dying_worker_backs_off_exponentially_with_bounded_jitter_then_is_fatal() -> None:
    policy = Policy(first_delay=0.1, max_delay=1.0, jitter=0.2, max_restarts=5)
    worker, rng, now = Worker("feed a", policy), random.Random(1), 0.0
    delays = []
    worker.started(now)
    for _ in range(5):
        retry = worker.died(now, rng)
        assert retry is not None and worker.state is State.BACKOFF
        delays.append(retry - now)
        now = retry
        worker.restarting(now)
        worker.started(now)
    for delay, nominal in zip(delays, [0.1, 0.2, 0.4, 0.8, 1.0], strict=True):
        assert nominal * 0.8 <= delay <= nominal * 1.2
    assert worker.died(now, rng) is None and worker.state is State.FATAL
    assert worker.restarts == 5


def test_a_long_healthy_run_forgives_earlier_failures() -> None:
    worker, rng = Worker("venue b", Policy(max_restarts=1, healthy_after=30.0)), random.Random(2)
    worker.started(0.0)
    retry = worker.died(1.0, rng)
    assert retry is not None
    worker.restarting(retry)
    worker.started(retry)
    assert worker.died(retry + 31.0, rng) is not None, "30 s of health: not fatal"


def test_restarting_before_the_back_off_ends_or_from_the_wrong_state_is_refused_by_name() -> None:
    worker = Worker("feed c", Policy())
    worker.started(0.0)
    retry = worker.died(0.0, random.Random(3))
    assert retry is not None
    with pytest.raises(ValueError, match="feed c: restarted before its back-off ended"):
        worker.restarting(retry - 0.05)
    with pytest.raises(ValueError, match="worker feed c is BACKOFF, not STARTING"):
        worker.started(retry)


def test_a_feed_held_for_its_venue_backs_off_without_a_failure_and_an_operator_start_forgives() -> None:
    worker, rng = Worker("feed-a", Policy(max_restarts=1)), random.Random(4)
    worker.started(0.0)
    worker.held(1.0)
    assert (worker.state, worker.retry_at, worker.failures_in_a_row) == (State.BACKOFF, 1.0, 0)
    worker.restarting(1.0)
    worker.started(1.0)
    retry = worker.died(2.0, rng)
    assert retry is not None, "being held was no failure"
    worker.restarting(retry)
    worker.started(retry)
    assert worker.died(retry, rng) is None and worker.state is State.FATAL
    with pytest.raises(ValueError, match="worker feed-a is FATAL, not STOPPED"):
        worker.start_again()
    worker.stopping()
    worker.stopped()
    worker.start_again()
    assert (worker.state, worker.failures_in_a_row, worker.restarts) == (State.STARTING, 0, 3)


def test_more_restarts_than_the_intensity_within_the_period_halts() -> None:
    intensity = Intensity(Policy(intensity=3, period=10.0))
    assert [intensity.restart(t) for t in (0.0, 1.0, 2.0)] == [False, False, False]
    assert intensity.restart(3.0), "a fourth within 10 s"
    assert not Intensity(Policy(intensity=3, period=10.0)).restart(0.0)
    spread = Intensity(Policy(intensity=3, period=10.0))
    assert not any(spread.restart(t) for t in (0.0, 11.0, 22.0, 33.0, 44.0)), "spread out: never"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"first_delay": 0.0}, "restart delays 0.0"),
        ({"first_delay": 5.0, "max_delay": 1.0}, "restart delays 5.0"),
        ({"jitter": 1.0}, "restart jitter 1.0"),
        ({"intensity": 0}, "must be positive"),
    ],
)
def test_a_bad_policy_is_refused_by_name(policy: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Policy(**policy)  # type: ignore[arg-type]
