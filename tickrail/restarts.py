"""When a dead or hung worker is restarted, and when the supervisor gives up.

Each worker goes STARTING -> RUNNING; when it dies it goes to BACKOFF for an exponentially
growing, jittered delay, then STARTING again. Restarts are also counted across all workers, OTP
style: more than ``intensity`` of them within ``period`` seconds means something is wrong that
restarting will not fix, and the supervisor halts (stops trading, stops everything in order, and
exits non-zero so systemd takes over). A worker that keeps dying on its own is FATAL after
``max_restarts`` in a row without a healthy run of ``healthy_after`` seconds.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from dataclasses import dataclass, field


class State(enum.Enum):
    """A worker's state, as ``tickrail status`` shows it."""

    STARTING = "STARTING"
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"
    FATAL = "FATAL"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"


@dataclass(frozen=True)
class Policy:
    """How restarts back off, and how many are too many."""

    first_delay: float = 0.1
    max_delay: float = 10.0
    jitter: float = 0.2
    max_restarts: int = 10
    healthy_after: float = 30.0
    intensity: int = 5
    period: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.first_delay <= self.max_delay:
            raise ValueError(
                f"restart delays {self.first_delay} .. {self.max_delay} s are not 0 < first <= max"
            )
        if not 0 <= self.jitter < 1:
            raise ValueError(f"restart jitter {self.jitter} is not within 0..1")
        if self.max_restarts < 1 or self.intensity < 1 or self.period <= 0 or self.healthy_after <= 0:
            raise ValueError("max_restarts, intensity, period and healthy_after must be positive")


@dataclass
class Worker:
    """One worker's state and restart history."""

    name: str
    policy: Policy
    state: State = State.STARTING
    restarts: int = 0
    failures_in_a_row: int = 0
    started_at: float = 0.0
    retry_at: float | None = None

    def started(self, now: float) -> None:
        """Its process is up (and its heartbeat fresh): RUNNING."""
        self._expect(State.STARTING)
        self.state, self.started_at, self.retry_at = State.RUNNING, now, None

    def died(self, now: float, rng: random.Random) -> float | None:
        """Its process died or hung: BACKOFF until the returned time, or FATAL (``None``) after
        too many failures in a row. A run longer than ``healthy_after`` forgives the past."""
        self._expect(State.RUNNING, State.STARTING)
        if self.state is State.RUNNING and now - self.started_at >= self.policy.healthy_after:
            self.failures_in_a_row = 0
        self.failures_in_a_row += 1
        if self.failures_in_a_row > self.policy.max_restarts:
            self.state, self.retry_at = State.FATAL, None
            return None
        delay = min(self.policy.max_delay, self.policy.first_delay * 2 ** (self.failures_in_a_row - 1))
        delay *= 1 + self.policy.jitter * (2 * rng.random() - 1)
        self.state, self.retry_at = State.BACKOFF, now + delay
        return self.retry_at

    def held(self, now: float) -> None:
        """It is stopped because a worker it follows went away (a feed whose venue died): BACKOFF
        until that worker runs again, without counting as a failure of its own."""
        self._expect(State.RUNNING, State.STARTING)
        self.state, self.retry_at = State.BACKOFF, now

    def start_again(self) -> None:
        """An operator starts it after it was stopped: STARTING, its failures forgotten."""
        self._expect(State.STOPPED)
        self.state, self.retry_at, self.failures_in_a_row = State.STARTING, None, 0
        self.restarts += 1

    def restarting(self, now: float) -> None:
        """Its back-off is over and it is started again: STARTING."""
        self._expect(State.BACKOFF)
        if self.retry_at is not None and now < self.retry_at:
            raise ValueError(f"worker {self.name}: restarted before its back-off ended")
        self.state, self.retry_at = State.STARTING, None
        self.restarts += 1

    def stopping(self) -> None:
        """It is being stopped on purpose."""
        self.state, self.retry_at = State.STOPPING, None

    def stopped(self) -> None:
        """It has stopped."""
        self._expect(State.STOPPING)
        self.state = State.STOPPED

    def _expect(self, *states: State) -> None:
        if self.state not in states:
            wanted = " or ".join(s.value for s in states)
            raise ValueError(f"worker {self.name} is {self.state.value}, not {wanted}")


@dataclass
class Intensity:
    """Restarts across all workers in the last ``period`` seconds."""

    policy: Policy
    times: deque[float] = field(default_factory=deque)

    def restart(self, now: float) -> bool:
        """Counts a restart at ``now``; whether the limit is now exceeded (time to halt)."""
        self.times.append(now)
        while self.times and now - self.times[0] > self.policy.period:
            self.times.popleft()
        return len(self.times) > self.policy.intensity
