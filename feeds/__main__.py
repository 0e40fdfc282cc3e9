"""``python -m feeds live VENUE ...`` runs one venue's feed until SIGTERM or SIGINT;
``python -m feeds replay VENUE RECORDING ...`` replays a recording through the same handler.

A live feed prints one JSON line once it listens (``{"event": "listening", ...}`` with its
address and segment names), logs its counters to stderr every ``--report-every`` seconds, and
prints its final report (``{"event": "stopped", ...}``) when it stops.
"""

from __future__ import annotations

import argparse
import sys

from tickrail import _native
from tickrail.market import instruments, listed
from tickrail.process import StopFlag, announce, log


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m feeds", description=__doc__)
    commands = p.add_subparsers(dest="command", required=True)
    live = commands.add_parser("live", help="run a venue's feed on its socket")
    live.add_argument(
        "venue",
        choices=["a", "b", "c"],
        help="a: ITCH 5.0 / MoldUDP64 over UDP; b: FIX 4.4 over TCP; c: JSON over WebSocket",
    )
    live.add_argument("--prefix", required=True, help="segment name prefix, e.g. /tickrail.a")
    live.add_argument(
        "--listen", default="127.0.0.1:31001", help="venue A: unicast address or multicast group"
    )
    live.add_argument("--rerequest", default=None, help="venue A: its re-request server (required)")
    live.add_argument(
        "--venue-addr", default=None, help="venues B and C: the venue's FIX or WebSocket address (required)"
    )
    live.add_argument("--target-comp-id", default="VENUEB", help="venue B: the venue's CompID")
    live.add_argument("--session", default="TICKRAIL01", help="venue A: MoldUDP64 session name")
    live.add_argument("--poll", choices=["block", "spin"], default="block", help="how the loop waits")
    live.add_argument("--record", default=None, help="record what is received to this file")
    live.add_argument("--replace-stale", action="store_true", help="replace segments a dead feed left")
    live.add_argument(
        "--keep", action="store_true", help="leave the segments when stopping (default: unlink)"
    )
    live.add_argument(
        "--report-every", type=float, default=5.0, help="seconds between health lines on stderr"
    )
    replay = commands.add_parser("replay", help="replay a recording through the same handler")
    replay.add_argument("venue", choices=["a"])
    replay.add_argument("recording", help="a file written by `live --record`")
    replay.add_argument("--prefix", required=True, help="segment name prefix")
    replay.add_argument("--session", default="TICKRAIL01")
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


FeedWorker = _native.ItchFeedWorker | _native.FixFeedWorker | _native.DepthFeedWorker


def build(args: argparse.Namespace) -> tuple[FeedWorker, dict[str, str]]:
    """The feed's worker and what it announces."""
    if args.venue == "a":
        if args.rerequest is None:
            raise ValueError("venue A's feed needs --rerequest")
        a = _native.ItchFeedWorker(
            args.prefix,
            args.listen,
            args.rerequest,
            instruments(),
            session_name=args.session,
            poll=args.poll,
            record=args.record,
            replace_stale=args.replace_stale,
        )
        return a, {"listen": a.listen}
    if args.venue_addr is None:
        raise ValueError(f"venue {args.venue.upper()}'s feed needs --venue-addr")
    if args.record is not None:
        raise ValueError("recording is available for venue A's feed only")
    symbols = [s.name for s in listed(args.venue)]
    if args.venue == "b":
        b = _native.FixFeedWorker(
            args.prefix,
            args.venue_addr,
            symbols,
            instruments(),
            target_comp_id=args.target_comp_id,
            replace_stale=args.replace_stale,
        )
        return b, {"venue_addr": args.venue_addr}
    c = _native.DepthFeedWorker(
        args.prefix, args.venue_addr, symbols, instruments(), replace_stale=args.replace_stale
    )
    return c, {"venue_addr": args.venue_addr}


def run_live(args: argparse.Namespace) -> int:
    """Runs a live feed until stopped."""
    stop = StopFlag()
    try:
        worker, addresses = build(args)
    except (ValueError, OSError, _native.ShmError) as e:
        log(f"feed {args.venue}: {e}")
        return 2
    events, books, metrics = worker.segments
    worker.start()
    announce("listening", venue=args.venue, events=events, books=books, metrics=metrics, **addresses)
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
    if not args.keep:
        worker.unlink()
    return 1 if failed else 0


def run_replay(args: argparse.Namespace) -> int:
    """Replays a recording; prints what it did."""
    try:
        result = _native.replay_itch(
            args.recording,
            args.prefix,
            instruments(),
            session_name=args.session,
            speed=args.speed,
            replace_stale=args.replace_stale,
        )
    except (ValueError, OSError, _native.ShmError) as e:
        log(f"replay {args.venue}: {e}")
        return 2
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
