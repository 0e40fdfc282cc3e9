"""The simulated venues from Python: configuration errors, determinism, re-requests."""

from __future__ import annotations

import struct

import pytest

from tickrail._native import Flow, ItchVenue, Market

AAPL = ("AAPL", 1_900_000, 100, 100, 0.002, 1)


def test_the_same_seed_gives_the_same_packets() -> None:
    def run(seed: int) -> list[bytes]:
        venue = ItchVenue(Market(seed, [AAPL]), Flow(1))
        return venue.open() + venue.step(500)

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_a_rerequest_returns_exactly_the_messages_asked_for() -> None:
    venue = ItchVenue(Market(3, [AAPL]), Flow(1))
    venue.open()
    venue.step(200)
    request = struct.pack(">10sQH", b"TICKRAIL01", 5, 3)
    (packet,) = venue.serve(request)
    _, sequence, count = struct.unpack_from(">10sQH", packet)
    assert (sequence, count) == (5, 3)
    _, next_sequence, heartbeat_count = struct.unpack(">10sQH", venue.heartbeat())
    assert (next_sequence, heartbeat_count) == (venue.next_sequence, 0)


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        ([], "at least one symbol"),
        ([("TOOLONGNAME", 1, 1, 1, 0.0, 1)], 'symbol "TOOLONGNAME": a name of 1 to 8 bytes'),
        ([("ZERO", 0, 100, 100, 0.0, 1)], 'symbol "ZERO": a name of 1 to 8 bytes and a positive price'),
    ],
)
def test_a_bad_configuration_is_refused(
    symbols: list[tuple[str, int, int, int, float, int]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Market(1, symbols)


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        ({"rate_per_s": 0.0}, "rate_per_s must be positive"),
        ({"cancel_share": 1.5}, "cancel_share 1.5 is not within 0..=1"),
    ],
)
def test_a_bad_flow_is_refused_by_name(flow: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Flow(1, **flow)


def test_bad_requests_are_refused_with_their_reason() -> None:
    venue = ItchVenue(Market(1, [AAPL]), Flow(1))
    with pytest.raises(ValueError, match="MoldUDP64: message 'R' is 19 bytes, expected 20"):
        venue.serve(bytes(19))
    with pytest.raises(ValueError, match="side must be 'buy' or 'sell'"):
        venue.levels(0, "bid")
    with pytest.raises(ValueError, match="no symbol 1"):
        venue.levels(1, "buy")
