"""The ring demo's worker processes: a market-data writer and its readers.

``tickrail demo`` starts one writer and two readers under a small supervisor of its own: the
writer publishes :data:`shm_layout.MARKET_EVENT` records from a random walk at a
steady rate in batches; a fast reader keeps up, a throttled one is lapped and counts its losses,
and the demo shows the segment's counters live.

Run one by hand with ``python -m tickrail.demo writer|reader --segment NAME``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from shm_layout import MARKET_EVENT, TYPE_IDS, BroadcastReader, BroadcastWriter, publish_array, read_array
from tickrail.process import StopFlag

#: Records per batch the writer publishes.
BATCH = 512


def write(segment: str, rate: float, seed: int) -> None:
    """Publishes ``rate`` market events per second (in batches) until stopped."""
    stop = StopFlag()
    rng = np.random.default_rng(seed)
    mid = np.full(4, 100.0)
    batch = np.zeros(BATCH, dtype=MARKET_EVENT)
    batch["msg_type"] = TYPE_IDS["MarketEvent"]
    batch["length"] = MARKET_EVENT.itemsize
    period = BATCH / rate
    with BroadcastWriter.attach(segment) as writer:
        next_batch = time.monotonic()
        while not stop.requested:
            instruments = rng.integers(0, len(mid), BATCH)
            mid += rng.normal(0.0, 0.01, len(mid))
            now = time.time_ns()
            batch["sequence"] = np.arange(writer.next_seq, writer.next_seq + BATCH)
            batch["exchange_ts_ns"] = now
            batch["receive_ts_ns"] = now
            batch["publish_ts_ns"] = now
            batch["instrument_id"] = instruments
            batch["side"] = rng.integers(1, 3, BATCH)
            batch["action"] = rng.integers(1, 5, BATCH)
            batch["price"] = np.round(mid[instruments] * 100) * 10_000_000
            batch["quantity"] = rng.integers(1, 100, BATCH) * 1_000_000_000
            publish_array(writer, batch)
            next_batch += period
            time.sleep(max(0.0, next_batch - time.monotonic()))


def read(segment: str, max_rate: float | None, wait: str) -> None:
    """Reads batches until stopped; with ``max_rate`` it reads no faster, so the writer laps it."""
    stop = StopFlag()
    with BroadcastReader.attach(segment, start="latest", wait=wait) as reader:
        while not stop.requested:
            if not reader.wait(0.1):
                continue
            records, _lost = read_array(reader, MARKET_EVENT, BATCH)
            if max_rate is not None:
                time.sleep(len(records) / max_rate)


def main(argv: list[str] | None = None) -> None:
    """Entry point: ``writer`` or ``reader``."""
    parser = argparse.ArgumentParser(prog="python -m tickrail.demo", description=__doc__)
    roles = parser.add_subparsers(dest="role", required=True)
    w = roles.add_parser("writer", help="publish market events")
    w.add_argument("--segment", required=True)
    w.add_argument("--rate", type=float, default=200_000.0, help="events per second")
    w.add_argument("--seed", type=int, default=7)
    r = roles.add_parser("reader", help="read market events")
    r.add_argument("--segment", required=True)
    r.add_argument("--max-rate", type=float, default=None, help="read no faster than this")
    r.add_argument("--wait", default="backoff", choices=["spin", "yield", "backoff", "futex"])
    args = parser.parse_args(argv)
    if args.role == "writer":
        write(args.segment, args.rate, args.seed)
    else:
        read(args.segment, args.max_rate, args.wait)


if __name__ == "__main__":
    main()
