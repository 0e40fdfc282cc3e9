"""The legacy engine's market maker follows the same rules as tickrail's
(``execution/tests/strategy.rs`` checks the same cases there): quotes around the mean of the
mids, replaced only past the tolerance (cancelled and placed anew where a venue has no replace),
quotes not yet accepted left alone, and arbitrage taken only beyond fees and the margin."""

from __future__ import annotations

import dataclasses

from bench.legacy import market_maker as mm

ONE = 1_000_000_000
CENT = ONE // 100

CONFIG = mm.Config(
    tick=CENT,
    lot=100 * ONE,
    half_spread_ticks=2,
    level_spacing_ticks=3,
    levels=2,
    size=100 * ONE,
    skew_ticks_per_lot=1,
    tolerance_ticks=2,
    fee_bps=1,
    arbitrage_margin_ticks=1,
    arbitrage_size=500 * ONE,
    max_position=1_000 * ONE,
    max_venue_position=500 * ONE,
    no_replace=(False, False, True),
)


def top(bid_cents: int, ask_cents: int) -> mm.Top:
    return mm.Top(bid_cents * CENT, 1_000 * ONE, ask_cents * CENT, 1_000 * ONE)


def run(maker: mm.MarketMaker, tops: list[mm.Top], ids: mm.Ids, position: int = 0) -> list[mm.Action]:
    """One book change; every new order and replacement is then accepted by its venue."""
    actions = maker.on_book(tops, position, [position] + [0] * (len(tops) - 1), ids)
    for action in actions:
        if isinstance(action, mm.New):
            maker.order_live(action.id)
        elif isinstance(action, mm.Replace):
            maker.order_live(action.order.id)
        elif isinstance(action, mm.Arbitrage):
            maker.order_live(action.buy.id)
            maker.order_live(action.sell.id)
    return actions


def news(actions: list[mm.Action]) -> list[mm.New]:
    out: list[mm.New] = []
    for a in actions:
        if isinstance(a, mm.New):
            out.append(a)
        elif isinstance(a, mm.Arbitrage):
            out += [a.buy, a.sell]
    return out


def test_quotes_sit_around_the_mean_of_the_mids_on_every_venue_and_level() -> None:
    maker = mm.MarketMaker(2, CONFIG)
    tops = [top(10_000, 10_002), top(10_002, 10_004)]
    assert maker.fair_value(tops) == 10_002 * CENT
    orders = news(run(maker, tops, mm.Ids()))
    assert len(orders) == 2 * 2 * 2

    def prices(venue: int, buy: bool) -> list[int]:
        return [o.price // CENT for o in orders if o.venue == venue and o.buy == buy]

    assert prices(1, True) == [10_000, 9_997]
    assert prices(1, False) == [10_004, 10_007]
    assert prices(0, True) == [10_000, 9_997]
    assert all(o.quantity == 100 * ONE for o in orders)


def test_a_long_inventory_moves_both_sides_down_and_a_bid_never_crosses_the_venues_ask() -> None:
    maker = mm.MarketMaker(1, dataclasses.replace(CONFIG, levels=1))
    flat = maker.target(10_002 * CENT, 0, True, 0, top(10_000, 10_004))
    long = maker.target(10_002 * CENT, 300 * ONE, True, 0, top(10_000, 10_004))
    assert (flat - long) // CENT == 3
    assert maker.target(10_002 * CENT, -300 * ONE, True, 0, top(10_000, 10_004)) // CENT == 10_003


def test_small_moves_leave_quotes_alone_and_big_ones_replace_them_or_cancel_and_place_anew() -> None:
    maker, ids = mm.MarketMaker(3, dataclasses.replace(CONFIG, levels=1)), mm.Ids()
    assert len(news(run(maker, [top(10_000, 10_002)] * 3, ids))) == 6
    assert run(maker, [top(10_001, 10_003)] * 3, ids) == [], "one tick: within tolerance"
    moved = run(maker, [top(10_003, 10_005)] * 3, ids)
    assert sum(isinstance(a, mm.Replace) for a in moved) == 4
    assert [a.venue for a in moved if isinstance(a, mm.Cancel)] == [2, 2]
    assert [o.venue for o in news(moved)] == [2, 2]


def test_a_quote_the_venue_has_not_accepted_is_neither_moved_nor_pulled() -> None:
    maker, ids = mm.MarketMaker(1, dataclasses.replace(CONFIG, levels=1)), mm.Ids()
    assert len(maker.on_book([top(10_000, 10_002)], 0, [0], ids)) == 2
    assert maker.on_book([top(10_010, 10_012)], 0, [0], ids) == []
    maker.order_live(1)
    assert len(maker.on_book([top(10_010, 10_012)], 0, [0], ids)) == 1


def test_when_the_fair_value_rises_the_asks_move_before_the_bids() -> None:
    maker, ids = mm.MarketMaker(1, dataclasses.replace(CONFIG, levels=1)), mm.Ids()
    run(maker, [top(10_000, 10_002)], ids)
    up = run(maker, [top(10_010, 10_012)], ids)
    assert [a.order.buy for a in up if isinstance(a, mm.Replace)] == [False, True]
    down = run(maker, [top(9_990, 9_992)], ids)
    assert [a.order.buy for a in down if isinstance(a, mm.Replace)] == [True, False]


def test_arbitrage_is_taken_only_past_fees_and_the_margin_and_for_what_both_books_show() -> None:
    maker, ids = mm.MarketMaker(3, dataclasses.replace(CONFIG, levels=0)), mm.Ids()
    tops = [top(10_000, 10_002), top(10_005, 10_007), top(10_001, 10_003)]
    assert run(maker, tops, ids) == []
    tops[1] = top(10_006, 10_008)
    tops[0].ask_quantity = 250 * ONE
    legs = news(run(maker, tops, ids))
    assert [(o.venue, o.buy, o.price // CENT, o.quantity) for o in legs] == [
        (0, True, 10_002, 200 * ONE),
        (1, False, 10_006, 200 * ONE),
    ]
    assert news(run(maker, tops, ids)) == [], "one arbitrage at a time"
    maker.order_done(legs[0].id)
    maker.order_done(legs[1].id)
    assert len(news(run(maker, tops, ids))) == 2
    full = mm.MarketMaker(3, dataclasses.replace(CONFIG, levels=0, max_venue_position=100 * ONE))
    assert news(run(full, tops, ids)) == [], "200 would pass the venue's 100 limit"
