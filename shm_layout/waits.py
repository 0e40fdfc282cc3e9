"""Wait strategies, chosen per reader (and per queue writer)."""

from enum import StrEnum


class WaitStrategy(StrEnum):
    """How a reader waits for the writer; every wait also takes a timeout.

    ``SPIN`` has the lowest latency and burns its core (isolated cores only); ``YIELD`` gives the
    core to other threads between checks; ``BACKOFF`` spins, then yields, then sleeps on the futex
    for growing periods; ``FUTEX`` sleeps until the writer signals (~30 us to wake on a VM).
    """

    SPIN = "spin"
    YIELD = "yield"
    BACKOFF = "backoff"
    FUTEX = "futex"
