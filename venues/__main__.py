"""``python -m venues VENUE``: runs one simulated venue until SIGTERM or SIGINT (or ``--seconds``).

It prints one JSON line when its sockets are bound (``{"event": "listening", ...}`` with the
addresses clients need), one when it closes (``{"event": "closed", ...}``: its flow has stopped;
what it did and every symbol's book), and one when it stops (``{"event": "stopped"}``) after
lingering ``--linger-ms`` with the flow stopped, so feeds settle on the closing books.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tickrail import _native
from tickrail.market import flow, market
from tickrail.placement import lock_memory
from tickrail.process import StopFlag, announce, follow_supervisor, log

PROTOCOLS = {"a": "itch", "b": "fix", "c": "json"}

#: How late each venue sees the shared fair value by default, in milliseconds: the venues
#: briefly disagree, and cross-venue arbitrage appears.
LAGS_MS = {"a": 0.0, "b": 3.0, "c": 8.0}


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m venues", description=__doc__)
    p.add_argument(
        "venue", choices=sorted(PROTOCOLS), help="a: ITCH / MoldUDP64 + OUCH; b: FIX 4.4; c: JSON / WebSocket"
    )
    p.add_argument("--seed", type=int, default=7, help="market seed, shared by all venues (default 7)")
    p.add_argument("--rate", type=float, default=20_000.0, help="order-flow actions per second (1k to 200k+)")
    p.add_argument(
        "--lag-ms", type=float, default=None, help="how late the venue sees the fair value (A 0, B 3, C 8)"
    )
    p.add_argument("--noise", type=float, default=0.5, help="the venue's noise on the fair value, in ticks")
    p.add_argument("--drop", type=float, default=0.0, help="probability a market-data message is dropped")
    p.add_argument("--duplicate", type=float, default=0.0, help="probability a message is sent twice")
    p.add_argument("--reorder", type=float, default=0.0, help="probability a message is sent after the next")
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the injected faults")
    p.add_argument(
        "--linger-ms", type=int, default=1000, help="serve with the flow stopped this long after closing"
    )
    p.add_argument("--seconds", type=float, default=None, help="close after this long (default: on a signal)")
    p.add_argument(
        "--heartbeat",
        default=None,
        metavar="SEGMENT",
        help="refresh the writer heartbeat of this slot segment",
    )
    p.add_argument("--lock-memory", action="store_true", help="lock the process's memory (mlockall)")
    a = p.add_argument_group("venue A")
    a.add_argument("--destination", default="127.0.0.1:31001", help="market data to this address or group")
    a.add_argument("--rerequest", default="127.0.0.1:0", help="re-request server address (port 0: any)")
    a.add_argument("--order-entry", default="127.0.0.1:0", help="OUCH 4.2 / SoupBinTCP listen address")
    a.add_argument(
        "--user", action="append", default=[], metavar="NAME:PASSWORD", help="an OUCH login (repeatable)"
    )
    a.add_argument("--session", default="TICKRAIL01", help="MoldUDP64 / SoupBinTCP session name")
    a.add_argument("--heartbeat-ms", type=int, default=1000, help="heartbeat after this much silence")
    b = p.add_argument_group("venue B")
    b.add_argument("--fix", default="127.0.0.1:0", help="FIX 4.4 listen address")
    b.add_argument("--comp-id", default="VENUEB", help="the venue's SenderCompID")
    b.add_argument("--disconnect-every", type=int, default=None, help="cut each session after N refreshes")
    c = p.add_argument_group("venue C")
    c.add_argument("--market-data", default="127.0.0.1:0", help="WebSocket market-data listen address")
    c.add_argument("--orders", default="127.0.0.1:0", help="WebSocket order-channel listen address")
    c.add_argument(
        "--api-key", action="append", default=[], metavar="KEY:SECRET", help="an API key (repeatable)"
    )
    c.add_argument(
        "--disconnect", type=float, default=0.0, help="probability an update disconnects its client"
    )
    return p


def pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    """``A:B`` arguments as pairs; a value without a colon is a bad configuration."""
    split = [value.split(":", 1) for value in values]
    if any(len(pair) != 2 for pair in split):
        raise ValueError(f"{flag} takes NAME:SECRET")
    return [(name, secret) for name, secret in split]


def build(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The venue's server and the addresses it announces."""
    faults = {
        "drop": args.drop,
        "duplicate": args.duplicate,
        "reorder": args.reorder,
        "fault_seed": args.fault_seed,
    }
    lag_ms = LAGS_MS[args.venue] if args.lag_ms is None else args.lag_ms
    if lag_ms < 0:
        raise ValueError(f"--lag-ms {lag_ms} is negative")
    session = market(args.seed, args.venue)
    orders = flow(args.venue, args.rate, lag_ns=round(lag_ms * 1e6), noise=args.noise)
    if args.venue == "a":
        a = _native.ItchVenueServer(
            session,
            orders,
            args.destination,
            rerequest=args.rerequest,
            session_name=args.session,
            heartbeat_ms=args.heartbeat_ms,
            linger_ms=args.linger_ms,
            order_entry=args.order_entry,
            users=pairs(args.user, "--user"),
            **faults,
        )
        addresses = {
            "market_data": a.destination,
            "rerequest": a.rerequest_addr,
            "order_entry": a.order_entry_addr,
        }
        return a, {**addresses, "session": args.session}
    if args.venue == "b":
        b = _native.FixVenueServer(
            session,
            orders,
            addr=args.fix,
            comp_id=args.comp_id,
            disconnect_every=args.disconnect_every,
            linger_ms=args.linger_ms,
            **faults,
        )
        return b, {"fix": b.addr, "comp_id": args.comp_id}
    c = _native.JsonVenueServer(
        session,
        orders,
        market_data=args.market_data,
        orders=args.orders,
        api_keys=pairs(args.api_key, "--api-key"),
        disconnect=args.disconnect,
        linger_ms=args.linger_ms,
        **faults,
    )
    return c, {"market_data": c.market_data_addr, "orders": c.order_addr}


def main(argv: list[str] | None = None) -> int:
    """Runs the venue; returns the exit status."""
    args = parser().parse_args(argv)
    stop = StopFlag()
    if not follow_supervisor(stop):
        log(f"venue {args.venue}: its supervisor is gone")
        return 1
    lock_refused = lock_memory() if args.lock_memory else None
    try:
        heartbeat = _native.SlotWriter.attach(args.heartbeat) if args.heartbeat else None
        server, addresses = build(args)
    except (ValueError, OSError, _native.ShmError) as e:
        log(f"venue {args.venue}: {e}")
        return 2
    server.start()
    announce(
        "listening", venue=args.venue, protocol=PROTOCOLS[args.venue], lock_refused=lock_refused, **addresses
    )
    waited = 0.0
    # The heartbeat says this loop runs and the venue's threads have not stopped.
    while not stop.requested and server.running and (args.seconds is None or waited < args.seconds):
        if heartbeat is not None:
            heartbeat.heartbeat()
        stop.sleep(0.1)
        waited += 0.1
    if heartbeat is not None:
        heartbeat.close()
    try:
        closed = server.close()
        announce("closed", venue=args.venue, **closed)
        server.stop()
    except RuntimeError as e:
        log(f"venue {args.venue} failed: {e}")
        return 1
    announce("stopped", venue=args.venue)
    return 0


if __name__ == "__main__":
    sys.exit(main())
