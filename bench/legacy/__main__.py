"""``python -m bench.legacy --spec JSON --addresses JSON --out FILE``: runs the legacy engine
until SIGTERM or SIGINT, then writes what it measured (JSON) to ``--out``.

``--spec`` is the execution worker's spec (``tickrail.execution_plan.describe``): the same
venues, symbols, quoting and limits as tickrail's. ``--addresses`` lists each venue's addresses
(``tickrail.launch.settled_addresses``) in the spec's order, for the feed handlers. It prints
``{"event": "ready"}`` once every gateway has logged on and every feed handler has started.
SIGUSR1 starts the measured window: what was measured before it is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import uvloop
import zmq

from bench.legacy import venue_a, venue_b, venue_c
from bench.legacy.engine import BOOKS_ENDPOINT, HIGH_WATER_MARK, Engine, Publisher, install_gc_callback
from bench.legacy.venue import Feed, Gateway, OnBook, OnReport

log = logging.getLogger("bench.legacy")


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def gateway(venue: dict[str, Any], on_report: OnReport) -> Gateway:
    """The order-entry session of one venue of the spec."""
    symbols = {name: instrument for name, instrument in venue["symbols"]}
    address = _host_port(venue["address"])
    login, credential = venue["login"], venue["credential"]
    if venue["protocol"] == "ouch":
        return venue_a.Gateway(address, login, credential, symbols, on_report)
    if venue["protocol"] == "fix":
        return venue_b.Gateway(address, login, credential, symbols, on_report)
    return venue_c.Gateway(address, login, credential, symbols, on_report)


def feed(venue: dict[str, Any], addresses: dict[str, str], on_book: OnBook) -> Feed:
    """The market-data handler of one venue of the spec."""
    symbols = {name: instrument for name, instrument in venue["symbols"]}
    if venue["protocol"] == "ouch":
        listen, rerequest = _host_port(addresses["market_data"]), _host_port(addresses["rerequest"])
        return venue_a.Feed(listen, rerequest, symbols, on_book)
    if venue["protocol"] == "fix":
        return venue_b.Feed(_host_port(addresses["fix"]), symbols, on_book)
    return venue_c.Feed(_host_port(addresses["market_data"]), symbols, on_book)


#: How often a venue that is down is tried again, seconds.
RECONNECT_EVERY_S = 0.5
#: How long one logon may take, seconds.
LOGON_TIMEOUT_S = 2.0


async def reconnect(engine: Engine, spec: dict[str, Any]) -> None:
    """Logs on again, afresh, to every venue whose session was lost."""
    while True:
        await asyncio.sleep(RECONNECT_EVERY_S)
        for at, down in enumerate(engine.down):
            if not down:
                continue
            fresh = gateway(spec["venues"][at], functools.partial(engine.on_report, at))
            lost = engine.gateways[at]
            if isinstance(fresh, venue_a.Gateway) and isinstance(lost, venue_a.Gateway):
                fresh.carry_on(lost)
            try:
                await asyncio.wait_for(fresh.connect(), LOGON_TIMEOUT_S)
            except Exception as error:  # whatever the logon raised, the venue is tried again
                log.warning("venue %d: logon failed again: %r", at, error)
                fresh.close()
                continue
            engine.gateways[at].close()
            engine.venue_up(at, fresh)
            log.warning("venue %d is up again", at)


async def run(spec: dict[str, Any], addresses: list[dict[str, str]], out: Path) -> None:
    """Runs the engine until a signal, then writes its results to ``out``."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    lost_before = messages_before = 0
    engine = Engine(spec)
    gateways = [gateway(v, functools.partial(engine.on_report, at)) for at, v in enumerate(spec["venues"])]
    engine.gateways = gateways
    for g in gateways:
        await g.connect()
    context = zmq.Context()
    books = context.socket(zmq.SUB)
    books.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
    books.setsockopt(zmq.SUBSCRIBE, b"")
    books.bind(BOOKS_ENDPOINT)

    def take_up() -> None:
        if not stop.is_set() and engine.take_up(books):
            loop.call_soon(take_up)

    descriptor = books.get(zmq.FD)
    assert isinstance(descriptor, int)
    loop.add_reader(descriptor, take_up)
    feeds: list[Feed] = []
    for at, v in enumerate(spec["venues"]):
        publisher = context.socket(zmq.PUB)
        publisher.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
        publisher.connect(BOOKS_ENDPOINT)
        feeds.append(feed(v, addresses[at], Publisher(publisher, at)))
    tasks = [asyncio.create_task(f.run()) for f in feeds]
    tasks.append(asyncio.create_task(reconnect(engine, spec)))
    # What start-up built stays: the collector need not scan it again (a tuning the old
    # system's engineers would have made); the thresholds are Python's own.
    gc.freeze()
    install_gc_callback(engine)

    def start_window() -> None:
        nonlocal lost_before, messages_before
        engine.start_window()
        lost_before = sum(f.lost for f in feeds)
        messages_before = sum(f.messages for f in feeds)

    loop.add_signal_handler(signal.SIGUSR1, start_window)
    print(json.dumps({"event": "ready"}), flush=True)
    await stop.wait()
    # The window ends here: nothing taken up while closing counts.
    results = engine.results()
    results["feeds_lost"] = sum(f.lost for f in feeds) - lost_before
    results["feeds_messages"] = sum(f.messages for f in feeds) - messages_before
    gc.callbacks.remove(engine.gc)
    loop.remove_reader(descriptor)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for g in engine.gateways:
        g.close()
    out.write_text(json.dumps(results))
    context.destroy(linger=0)


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.legacy", description=__doc__)
    p.add_argument("--spec", required=True, help="the execution worker's spec, JSON")
    p.add_argument(
        "--addresses", required=True, help="each venue's addresses, a JSON list in the spec's order"
    )
    p.add_argument("--out", required=True, type=Path, help="where the results go (JSON)")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="the event loop")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    spec, addresses = json.loads(args.spec), json.loads(args.addresses)
    if len(addresses) != len(spec["venues"]):
        p.error(f"--addresses lists {len(addresses)} venues, the spec {len(spec['venues'])}")
    coroutine = run(spec, addresses, args.out)
    if args.loop == "uvloop":
        uvloop.run(coroutine)
    else:
        asyncio.run(coroutine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
