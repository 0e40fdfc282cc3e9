"""Venue A's ITCH 5.0, read by an independent parser: the ``itchfeed`` package from PyPI.

Our venue and our feed share one codec, so a misreading of the specification would pass our own
round trips. Here every packet is unpacked with a MoldUDP64 reader written from the
specification, every message is parsed by itchfeed's pure-Python parser, and the order book those
messages imply is rebuilt in Python and compared with the venue's matching engines.
"""

from __future__ import annotations

import os
import struct
from collections import defaultdict
from collections.abc import Iterator

os.environ["ITCH_NO_CPP"] = "1"  # keep itchfeed independent of itchcpp's C++ code

from itch.parser import MessageParser

from tickrail._native import Flow, ItchVenue, Market

SYMBOLS = [
    ("AAPL", 1_900_000, 100, 100, 0.002, 1),
    ("MSFT", 4_200_000, 100, 100, 0.002, 2),
    ("SPY", 5_600_000, 100, 100, 0.001, 1),
    ("QQQ", 4_800_000, 100, 100, 0.001, 1),
]


def mold_messages(packet: bytes) -> Iterator[tuple[int, bytes]]:
    """MoldUDP64 from the specification: session(10) sequence(8) count(2), then len(2)+data."""
    session, sequence, count = struct.unpack_from(">10sQH", packet)
    assert session == b"TICKRAIL01"
    offset = 20
    for i in range(0 if count == 0xFFFF else count):
        (length,) = struct.unpack_from(">H", packet, offset)
        yield sequence + i, packet[offset + 2 : offset + 2 + length]
        offset += 2 + length
    assert offset == len(packet), "no bytes after the last message"


def test_itchfeed_parses_every_message_and_implies_the_venues_books() -> None:
    venue = ItchVenue(Market(2026, SYMBOLS), Flow(1, rate_per_s=50_000.0))
    packets = venue.open() + venue.step(40_000)
    parser = MessageParser()
    orders: dict[int, tuple[int, bytes, int, int]] = {}  # ref -> (locate, side, price, shares)
    symbols: dict[int, bytes] = {}
    seen: defaultdict[bytes, int] = defaultdict(int)
    expected_sequence = 1
    for packet in packets:
        for sequence, raw in mold_messages(packet):
            assert sequence == expected_sequence
            expected_sequence += 1
            message = parser.get_message_type(raw)
            kind = raw[:1]
            seen[kind] += 1
            if kind == b"R":
                symbols[message.stock_locate] = message.stock
                assert message.round_lot_size == 100
            elif kind == b"A":
                assert message.stock == symbols[message.stock_locate]
                orders[message.order_reference_number] = (
                    message.stock_locate,
                    message.buy_sell_indicator,
                    message.price,
                    message.shares,
                )
            elif kind in (b"E", b"X"):
                ref = message.order_reference_number
                taken = message.executed_shares if kind == b"E" else message.cancelled_shares
                locate, side, price, shares = orders[ref]
                assert taken <= shares
                orders[ref] = (locate, side, price, shares - taken)
                if shares == taken:
                    del orders[ref]
            elif kind == b"D":
                del orders[message.order_reference_number]
            elif kind == b"U":
                locate, side, _, _ = orders.pop(message.order_reference_number)
                orders[message.new_order_reference_number] = (locate, side, message.price, message.shares)
    assert expected_sequence == venue.next_sequence
    assert {b"S", b"R", b"A", b"E", b"D"} <= set(seen), f"message types seen: {dict(seen)}"
    assert symbols == {i + 1: name.encode().ljust(8) for i, (name, *_) in enumerate(SYMBOLS)}, "space-padded"
    for index in range(len(SYMBOLS)):
        for side, indicator, best_first in (("buy", b"B", True), ("sell", b"S", False)):
            levels: defaultdict[int, int] = defaultdict(int)
            for locate, order_side, price, shares in orders.values():
                if locate == index + 1 and order_side == indicator:
                    levels[price] += shares
            implied = sorted(levels.items(), reverse=best_first)
            assert implied == venue.levels(index, side), f"{SYMBOLS[index][0]} {side}"
