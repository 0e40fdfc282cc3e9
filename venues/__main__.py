"""``python -m venues VENUE``: runs one simulated venue until SIGTERM or SIGINT (or ``--seconds``).

It prints one JSON line when its sockets are bound (``{"event": "listening", ...}`` with the
addresses clients need) and one when it stops (``{"event": "stopped", ...}`` with what it did).
"""

from __future__ import annotations

import argparse
import sys

from tickrail import _native
from tickrail.market import listed
from tickrail.process import StopFlag, announce, log


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m venues", description=__doc__)
    p.add_argument("venue", choices=["a"], help="a: ITCH 5.0 / MoldUDP64 over UDP")
    p.add_argument("--seed", type=int, default=7, help="market seed, shared by all venues (default 7)")
    p.add_argument("--rate", type=float, default=20_000.0, help="order-flow actions per second (1k to 200k+)")
    p.add_argument(
        "--destination", default="127.0.0.1:31001", help="venue A: market data to this address or group"
    )
    p.add_argument(
        "--rerequest", default="127.0.0.1:0", help="venue A: re-request server address (port 0: any)"
    )
    p.add_argument(
        "--order-entry", default="127.0.0.1:0", help="venue A: OUCH 4.2 / SoupBinTCP listen address"
    )
    p.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="an order-entry login (repeatable)",
    )
    p.add_argument("--session", default="TICKRAIL01", help="venue A: MoldUDP64 session name")
    p.add_argument("--heartbeat-ms", type=int, default=1000, help="heartbeat after this much silence")
    p.add_argument("--drop", type=float, default=0.0, help="probability a market-data packet is dropped")
    p.add_argument("--duplicate", type=float, default=0.0, help="probability a packet is sent twice")
    p.add_argument("--reorder", type=float, default=0.0, help="probability a packet is sent after the next")
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the injected faults")
    p.add_argument("--linger-ms", type=int, default=1000, help="serve recovery this long after closing")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: on a signal)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Runs the venue; returns the exit status."""
    args = parser().parse_args(argv)
    stop = StopFlag()
    symbols = [s.as_tuple() for s in listed(args.venue)]
    try:
        users = [tuple(user.split(":", 1)) for user in args.user]
        if any(len(user) != 2 for user in users):
            raise ValueError("--user takes NAME:PASSWORD")
        server = _native.ItchVenueServer(
            args.seed,
            symbols,
            args.destination,
            rerequest=args.rerequest,
            session_name=args.session,
            rate_per_s=args.rate,
            venue=1,
            heartbeat_ms=args.heartbeat_ms,
            drop=args.drop,
            duplicate=args.duplicate,
            reorder=args.reorder,
            fault_seed=args.fault_seed,
            linger_ms=args.linger_ms,
            order_entry=args.order_entry,
            users=[(name, password) for name, password in users],
        )
    except (ValueError, OSError) as e:
        log(f"venue {args.venue}: {e}")
        return 2
    server.start()
    announce(
        "listening",
        venue=args.venue,
        protocol="itch",
        market_data=server.destination,
        rerequest=server.rerequest_addr,
        order_entry=server.order_entry_addr,
        session=args.session,
    )
    waited = 0.0
    while not stop.requested and server.running and (args.seconds is None or waited < args.seconds):
        stop.sleep(0.1)
        waited += 0.1
    failed = not server.running
    try:
        stats = server.stop()
    except RuntimeError as e:
        log(f"venue {args.venue} failed: {e}")
        return 1
    announce("stopped", venue=args.venue, **stats)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
