"""``python -m feeds live VENUE ...`` runs one venue's feed until SIGTERM or SIGINT;
``python -m feeds replay VENUE RECORDING ...`` replays a recording through the same handler.

A live feed prints one JSON line once it listens or connects (``{"event": "listening", ...}``
with its address and segment names), logs its counters to stderr every ``--report-every``
seconds, and prints its final report (``{"event": "stopped", ...}``) when it stops.
"""

from __future__ import annotations

import argparse
import sys

from tickrail import _native
from tickrail.market import instruments, listed
from tickrail.placement import lock_memory
from tickrail.process import StopFlag, announce, follow_supervisor, log

VENUES = {"a": "ITCH 5.0 / MoldUDP64 over UDP", "b": "FIX 4.4 over TCP", "c": "JSON over WebSocket"}


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m feeds", description=__doc__)
    commands = p.add_subparsers(dest="command", required=True)
    live = commands.add_parser("live", help="run a venue's feed on its socket")
    live.add_argument("venue", choices=sorted(VENUES), help="; ".join(f"{v}: {p}" for v, p in VENUES.items()))
    live.add_argument("--prefix", required=True, help="segment name prefix, e.g. /tickrail.a")
    live.add_argument("--record", default=None, help="record what is received to this file")
    live.add_argument("--levels", type=int, default=10, help="levels a side written to the book slots (1-10)")
    live.add_argument("--replace-stale", action="store_true", help="replace segments a dead feed left")
    live.add_argument(
        "--attach",
        action="store_true",
        help="write into segments a supervisor created, carrying on their sequence (they are its to unlink)",
    )
    live.add_argument("--lock-memory", action="store_true", help="lock the process's memory (mlockall)")
    live.add_argument(
        "--keep", action="store_true", help="leave the segments when stopping (default: unlink)"
    )
    live.add_argument(
        "--report-every", type=float, default=5.0, help="seconds between health lines on stderr"
    )
    a = live.add_argument_group("venue A")
    a.add_argument("--listen", default="127.0.0.1:31001", help="unicast address or multicast group")
    a.add_argument("--rerequest", default=None, help="the venue's re-request server (required)")
    a.add_argument("--session", default="TICKRAIL01", help="MoldUDP64 session name")
    a.add_argument("--poll", choices=["block", "spin"], default="block", help="how the loop waits")
    bc = live.add_argument_group("venues B and C")
    bc.add_argument("--venue-addr", default=None, help="the venue's FIX or WebSocket address (required)")
    bc.add_argument("--target-comp-id", default="VENUEB", help="venue B: the venue's CompID")
    replay = commands.add_parser("replay", help="replay a recording through the same handler")
    replay.add_argument("venue", choices=sorted(VENUES))
    replay.add_argument("recording", help="a file written by `live --record`")
    replay.add_argument("--prefix", required=True, help="segment name prefix")
    replay.add_argument("--session", default="TICKRAIL01", help="venue A: MoldUDP64 session name")
    replay.add_argument("--target-comp-id", default="VENUEB", help="venue B: the venue's CompID")
    replay.add_argument(
        "--speed", type=float, default=None, help="times the recorded pace (default: flat out)"
    )
    replay.add_argument("--replace-stale", action="store_true")
    replay.add_argument("--keep", action="store_true", help="leave the segments (default: unlink)")
    return p


def health(metrics: str) -> str:
    """One line of a feed's counters and latency."""
    report = _native.feed_report(metrics)
    c, lat = report["counters"], report["latency_ns"]
    return (
        f"{metrics}: {c['messages']} msgs, {c['gaps']} gaps, {c['recoveries']} recovered, "
        f"{c['decode_errors']} malformed, {c['book_errors']} refused; "
        f"rx->publish p50 {lat['p50'] / 1e3:.1f} us p99 {lat['p99'] / 1e3:.1f} us"
    )


def build(args: argparse.Namespace) -> _native.FeedWorker:
    """The feed's worker."""
    symbols = [s.name for s in listed(args.venue)]
    if args.venue == "a":
        if args.rerequest is None:
            raise ValueError("venue A's feed needs --rerequest")
        return _native.FeedWorker.itch(
            args.prefix,
            args.listen,
            args.rerequest,
            instruments(),
            session_name=args.session,
            poll=args.poll,
            record=args.record,
            replace_stale=args.replace_stale,
            attach=args.attach,
            levels=args.levels,
        )
    if args.venue_addr is None:
        raise ValueError(f"venue {args.venue.upper()}'s feed needs --venue-addr")
    if args.venue == "b":
        return _native.FeedWorker.fix(
            args.prefix,
            args.venue_addr,
            symbols,
            instruments(),
            target_comp_id=args.target_comp_id,
            record=args.record,
            replace_stale=args.replace_stale,
            attach=args.attach,
            levels=args.levels,
        )
    return _native.FeedWorker.depth(
        args.prefix,
        args.venue_addr,
        symbols,
        instruments(),
        record=args.record,
        replace_stale=args.replace_stale,
        attach=args.attach,
        levels=args.levels,
    )


def run_live(args: argparse.Namespace) -> int:
    """Runs a live feed until stopped."""
    stop = StopFlag()
    if not follow_supervisor(stop):
        log(f"feed {args.venue}: its supervisor is gone")
        return 1
    lock_refused = lock_memory() if args.lock_memory else None
    try:
        worker = build(args)
    except (ValueError, OSError, _native.ShmError) as e:
        log(f"feed {args.venue}: {e}")
        return 2
    events, books, metrics = worker.segments
    worker.start()
    announce(
        "listening",
        venue=args.venue,
        address=worker.address,
        events=events,
        books=books,
        metrics=metrics,
        lock_refused=lock_refused,
    )
    while not stop.requested and worker.running:
        stop.sleep(args.report_every)
        log(health(metrics))
    failed = not worker.running
    try:
        worker.stop()
    except RuntimeError as e:
        log(f"feed {args.venue} failed: {e}")
        failed = True
    announce("stopped", venue=args.venue, **_native.feed_report(metrics))
    if not args.keep and not args.attach:
        worker.unlink()
    return 1 if failed else 0


def run_replay(args: argparse.Namespace) -> int:
    """Replays a recording; prints what it did."""
    try:
        result = _native.replay(
            args.venue,
            args.recording,
            args.prefix,
            [s.name for s in listed(args.venue)],
            instruments(),
            session_name=args.session,
            target_comp_id=args.target_comp_id,
            speed=args.speed,
            replace_stale=args.replace_stale,
        )
    except (ValueError, OSError, _native.ShmError) as e:
        log(f"replay {args.venue}: {e}")
        return 2
    if result["cut"] is not None:
        log(f"replay {args.venue}: {result['cut']}; the whole frames before the cut were replayed")
    announce("replayed", venue=args.venue, **result)
    if not args.keep:
        for suffix in ("events", "books", "metrics"):
            _native.unlink(f"{args.prefix}.{suffix}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs the command; returns the exit status."""
    args = parser().parse_args(argv)
    return run_live(args) if args.command == "live" else run_replay(args)


if __name__ == "__main__":
    sys.exit(main())
