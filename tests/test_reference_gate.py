"""The reference gate's rules: every check with orders that pass and orders that fail at its edges
(the cases of ``risk/tests/gate.rs``, ported so that the same inputs give the same outcomes), the
order the checks are made in, throttles over time, replaces, trading states that fail closed and
the fixed-point arithmetic."""

from __future__ import annotations

import dataclasses

import pytest

from risk.reference.gate import (
    ACTIVE,
    HALTED,
    KILLED,
    REDUCE_ONLY,
    Gate,
    Holding,
    Limits,
    LimitsError,
    MarketView,
    NewOrder,
    PortfolioLimits,
    Reject,
    Replace,
    Side,
    SymbolLimits,
    TradingView,
)
from risk.reference.numbers import I64_MAX, ONE, notional, trunc_div

AAPL = 1
MSFT = 2
NOW = 1_000_000_000_000
TICK = ONE // 100
"""A cent."""
UNLIMITED = 2**127 - 1
"""Rust's ``i128::MAX``: no limit on a notional."""
EVERYTHING_ACTIVE = TradingView(global_state=ACTIVE, symbol=ACTIVE, risk_heartbeat_age_ns=0)
BUY, SELL = Side.BUY, Side.SELL


def symbol(instrument: int) -> SymbolLimits:
    """The limits of the Rust tests' symbols."""
    return SymbolLimits(
        instrument=instrument,
        tick=TICK,
        lot=ONE,
        min_quantity=ONE,
        max_quantity=1_000 * ONE,
        max_notional=50_000 * ONE,
        price_band_bps=500,
        max_position=2_000 * ONE,
        max_venue_position=1_000 * ONE,
        max_working_orders=8,
        order_rate_per_s=100,
        order_burst=50,
        cancel_rate_per_s=100,
        cancel_burst=50,
        max_book_age_ns=1_000_000_000,
    )


PORTFOLIO = PortfolioLimits(
    max_gross_notional=500_000 * ONE,
    max_net_notional=300_000 * ONE,
    max_working_orders=12,
    max_risk_heartbeat_age_ns=2_000_000_000,
)


def limits(*, portfolio: PortfolioLimits = PORTFOLIO, per_venue_symbol: int = 4, **aapl: int) -> Limits:
    """AAPL and MSFT on three venues, as in the Rust tests, with ``aapl``'s limits changed."""
    return Limits(
        symbols=(dataclasses.replace(symbol(AAPL), **aapl), symbol(MSFT)),
        portfolio=portfolio,
        venues=3,
        max_working_per_venue_symbol=per_venue_symbol,
    )


def market(reference_price: int = 100 * ONE, *, stale: bool = False) -> MarketView:
    """A book (at 100.00 unless told) published just now."""
    return MarketView(reference_price=reference_price, published_ns=NOW, stale=stale)


def trading(global_state: int = ACTIVE, symbol: int = ACTIVE, age_ns: int = 0) -> TradingView:
    """The trading states the gate reads, and how old the risk worker's heartbeat is."""
    return TradingView(global_state=global_state, symbol=symbol, risk_heartbeat_age_ns=age_ns)


class Orders:
    """A gate and AAPL orders for it, each with the next id (the first is 2, as in Rust)."""

    def __init__(self, limits: Limits) -> None:
        self.gate = Gate(limits, NOW)
        self.next_id = 1

    def order(self, venue: int, side: Side, price: int, quantity: int) -> NewOrder:
        """The next AAPL order (not sent)."""
        self.next_id += 1
        return NewOrder(
            id=self.next_id, venue=venue, instrument=AAPL, side=side, price=price, quantity=quantity
        )

    def send(
        self,
        venue: int,
        side: Side,
        price: int,
        quantity: int,
        *,
        view: TradingView = EVERYTHING_ACTIVE,
        now_ns: int = NOW,
    ) -> Reject | None:
        """Checks the next AAPL order against a fresh book: ``None`` if it passes."""
        order = self.order(venue, side, price, quantity)
        return self.gate.check_new(order, market(), view, now_ns)

    def place(self, venue: int, side: Side, price: int, quantity: int) -> int:
        """Sends the next AAPL order, which must pass; its id."""
        assert self.send(venue, side, price, quantity) is None
        return self.next_id

    def replace(self, original: int, price: int, quantity: int) -> tuple[Replace, Reject | None]:
        """Checks a replace of AAPL buy ``original`` on venue 0 with the next id."""
        replace = Replace(original=original, order=self.order(0, BUY, price, quantity))
        return replace, self.gate.check_replace(replace, market(), EVERYTHING_ACTIVE, NOW)

    def holding(self, venue: int = 0) -> Holding:
        """The AAPL holding on ``venue``."""
        holding = self.gate.venue_holding(venue, AAPL)
        assert holding is not None
        return holding


def gate(**aapl: int) -> Orders:
    """A gate with the Rust tests' limits, ``aapl``'s changed."""
    return Orders(limits(portfolio=PORTFOLIO, **aapl))


# The checks, each at its edges (risk/tests/gate.rs).


def test_a_plain_order_passes_and_is_counted_as_working() -> None:
    orders = gate()
    order_id = orders.place(0, BUY, 100 * ONE, 10 * ONE)
    assert orders.gate.passed == 1
    assert orders.gate.working(0, AAPL) == [(order_id, 1, 100 * ONE, 10 * ONE)]
    assert orders.gate.symbol_holding(AAPL) == Holding(position=0, working_buy=10 * ONE, working_sell=0)


def test_prices_and_quantities_must_be_positive_on_the_tick_and_in_whole_lots() -> None:
    orders = gate()
    assert orders.send(0, BUY, 0, ONE) is Reject.NonPositivePrice
    assert orders.send(0, BUY, -TICK, ONE) is Reject.NonPositivePrice
    assert orders.send(0, BUY, 100 * ONE + TICK // 2, ONE) is Reject.OffTick
    assert orders.send(0, BUY, 100 * ONE + TICK, ONE) is None, "one tick up"
    assert orders.send(0, BUY, 100 * ONE, 0) is Reject.NonPositiveQuantity
    assert orders.send(0, BUY, 100 * ONE, ONE + ONE // 2) is Reject.OddLot


def test_quantity_and_notional_per_order_are_bounded_inclusively() -> None:
    orders = gate(min_quantity=2 * ONE)
    assert orders.send(0, BUY, 100 * ONE, ONE) is Reject.BelowMinQuantity
    assert orders.send(0, BUY, 100 * ONE, 2 * ONE) is None, "the minimum itself"
    # 500 at 100.00 is the 50,000 maximum notional exactly; 501 is over (and under 1,000 max).
    assert orders.send(1, BUY, 100 * ONE, 500 * ONE) is None
    assert orders.send(2, BUY, 100 * ONE, 501 * ONE) is Reject.AboveMaxNotional
    orders = gate(max_quantity=10 * ONE)
    assert orders.send(0, BUY, 100 * ONE, 10 * ONE) is None
    assert orders.send(0, BUY, 100 * ONE, 11 * ONE) is Reject.AboveMaxQuantity


def test_a_fat_finger_outside_the_band_around_the_reference_never_leaves() -> None:
    orders = gate()
    # 5% of 100.00 either way is inside; a cent beyond is not.
    assert orders.send(0, BUY, 105 * ONE, ONE) is None
    assert orders.send(1, SELL, 95 * ONE, ONE) is None
    assert orders.send(2, BUY, 105 * ONE + TICK, ONE) is Reject.OutsidePriceBand
    assert orders.send(2, SELL, 95 * ONE - TICK, ONE) is Reject.OutsidePriceBand
    assert orders.send(2, BUY, 1_000 * ONE, ONE) is Reject.OutsidePriceBand


def test_position_limits_count_every_working_order_on_the_side_in_the_worst_case() -> None:
    orders = gate()
    # 1,000 a venue: working buys of 500, 400 and 100 reach it; one more share does not fit.
    assert orders.send(0, BUY, 100 * ONE, 500 * ONE) is None
    assert orders.send(0, BUY, 99 * ONE, 400 * ONE) is None
    assert orders.send(0, BUY, 99 * ONE, 100 * ONE) is None
    assert orders.send(0, BUY, 98 * ONE, ONE) is Reject.VenuePositionLimit
    assert orders.send(0, SELL, 101 * ONE, 400 * ONE) is None, "the other side is its own worst case"
    # 2,000 across venues: venue 1 takes 1,000 more, then the symbol is full.
    assert orders.send(1, BUY, 100 * ONE, 500 * ONE) is None
    assert orders.send(1, BUY, 100 * ONE, 500 * ONE) is None
    assert orders.send(2, BUY, 100 * ONE, ONE) is Reject.SymbolPositionLimit


def test_fills_and_cancels_move_the_worst_case() -> None:
    orders = gate()
    order_id = orders.place(0, BUY, 100 * ONE, 500 * ONE)
    orders.gate.filled(0, AAPL, order_id, 200 * ONE)
    assert orders.holding() == Holding(position=200 * ONE, working_buy=300 * ONE, working_sell=0)
    orders.gate.done(0, AAPL, order_id)
    assert orders.holding().working_buy == 0
    assert orders.gate.working(0, AAPL) == []
    # 801 at 100.00 is past the 50,000 notional per order before any position limit.
    assert orders.send(0, BUY, 100 * ONE, 801 * ONE) is Reject.AboveMaxNotional
    big = gate(max_notional=UNLIMITED)
    order_id = big.place(0, BUY, 100 * ONE, 200 * ONE)
    big.gate.filled(0, AAPL, order_id, 200 * ONE)
    assert big.send(0, BUY, 100 * ONE, 800 * ONE) is None
    assert big.send(0, BUY, 100 * ONE, ONE) is Reject.VenuePositionLimit


def test_a_fill_larger_than_the_open_quantity_fills_only_what_is_open() -> None:
    orders = gate()
    order_id = orders.place(0, BUY, 100 * ONE, 10 * ONE)
    orders.gate.filled(0, AAPL, order_id, 15 * ONE)
    assert orders.holding() == Holding(position=10 * ONE, working_buy=0, working_sell=0)
    assert orders.gate.working(0, AAPL) == []
    orders.gate.filled(0, AAPL, order_id, ONE)
    assert orders.holding().position == 10 * ONE, "a fill of an order no longer working is ignored"


def test_gross_and_net_exposure_are_limited_across_symbols_and_venues() -> None:
    portfolio = dataclasses.replace(
        PORTFOLIO, max_gross_notional=100_000 * ONE, max_net_notional=60_000 * ONE
    )
    orders = Orders(limits(portfolio=portfolio))
    # 400 AAPL at 100 = 40,000 long, filled; then MSFT short 400 at 100 working: gross 80,000.
    order_id = orders.place(0, BUY, 100 * ONE, 400 * ONE)
    orders.gate.filled(0, AAPL, order_id, 400 * ONE)
    msft = NewOrder(id=100, venue=1, instrument=MSFT, side=SELL, price=100 * ONE, quantity=400 * ONE)
    assert orders.gate.check_new(msft, market(), EVERYTHING_ACTIVE, NOW) is None
    orders.next_id = 100
    # 200 more AAPL long working: net 60,000 (at the limit), gross 100,000 (at the limit).
    assert orders.send(1, BUY, 100 * ONE, 200 * ONE) is None
    assert orders.send(2, BUY, 100 * ONE, ONE) is Reject.GrossExposureLimit
    orders = Orders(limits(portfolio=dataclasses.replace(PORTFOLIO, max_net_notional=60_000 * ONE)))
    assert orders.send(0, BUY, 100 * ONE, 500 * ONE) is None
    assert orders.send(1, BUY, 100 * ONE, 100 * ONE) is None
    assert orders.send(2, BUY, 100 * ONE, ONE) is Reject.NetExposureLimit


def test_net_exposure_is_the_worse_of_all_buys_or_all_sells_filled() -> None:
    orders = Orders(limits(portfolio=dataclasses.replace(PORTFOLIO, max_net_notional=60_000 * ONE)))
    assert orders.send(0, BUY, 100 * ONE, 100 * ONE) is None
    assert orders.send(1, SELL, 100 * ONE, 500 * ONE) is None, "all sells filled: short 50,000"
    assert orders.send(2, SELL, 100 * ONE, 100 * ONE) is None, "short 60,000: at the limit"
    assert orders.send(2, SELL, 100 * ONE, ONE) is Reject.NetExposureLimit


def test_working_orders_are_limited_per_venue_and_symbol_per_symbol_and_in_all() -> None:
    orders = gate()
    for _ in range(4):
        assert orders.send(0, BUY, 96 * ONE, ONE) is None
    assert orders.send(0, BUY, 96 * ONE, ONE) is Reject.TooManyWorkingOrders, "4 a venue"
    for _ in range(4):
        assert orders.send(1, BUY, 96 * ONE, ONE) is None
    assert orders.send(2, BUY, 96 * ONE, ONE) is Reject.TooManyWorkingOrders, "8 a symbol"
    orders.gate.done(0, AAPL, 2)
    assert orders.send(2, BUY, 96 * ONE, ONE) is None, "one done, one more"


def test_the_portfolio_limits_working_orders_across_symbols() -> None:
    orders = Orders(limits(portfolio=dataclasses.replace(PORTFOLIO, max_working_orders=2)))
    assert orders.send(0, BUY, 96 * ONE, ONE) is None
    msft = NewOrder(id=50, venue=0, instrument=MSFT, side=BUY, price=96 * ONE, quantity=ONE)
    assert orders.gate.check_new(msft, market(), EVERYTHING_ACTIVE, NOW) is None
    orders.next_id = 50
    assert orders.send(1, BUY, 96 * ONE, ONE) is Reject.TooManyWorkingOrders, "2 in all"


def test_order_and_cancel_rates_are_throttled_per_venue_and_symbol_while_cancels_always_pass() -> None:
    orders = Orders(limits(per_venue_symbol=8, order_burst=2, cancel_burst=1))
    assert orders.send(0, BUY, 99 * ONE, ONE) is None
    assert orders.send(0, BUY, 99 * ONE, ONE) is None
    assert orders.send(0, BUY, 99 * ONE, ONE) is Reject.OrderRateThrottled
    assert orders.send(1, BUY, 99 * ONE, ONE) is None, "another venue has its own bucket"
    orders.gate.cancel_sent(1, AAPL, NOW)
    orders.gate.cancel_sent(1, AAPL, NOW)
    assert orders.send(1, BUY, 99 * ONE, ONE) is Reject.CancelRateThrottled
    # 100 a second: 20 ms repays two cancels' worth (one of debt, one token).
    assert orders.send(1, BUY, 99 * ONE, ONE, now_ns=NOW + 20_000_000) is None


def test_a_spent_burst_refills_at_the_rate_and_never_beyond_the_burst() -> None:
    orders = Orders(limits(per_venue_symbol=8, order_burst=2))
    assert orders.send(0, BUY, 99 * ONE, ONE) is None
    assert orders.send(0, BUY, 99 * ONE, ONE) is None
    assert orders.send(0, BUY, 99 * ONE, ONE) is Reject.OrderRateThrottled, "the burst is spent"
    # 100 a second: a token every 10 ms.
    late = orders.send(0, BUY, 99 * ONE, ONE, now_ns=NOW + 9_999_999)
    assert late is Reject.OrderRateThrottled, "10 ms less a nanosecond"
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=NOW + 10_000_000) is None
    second = NOW + 1_000_000_000  # the book's age limit
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=second) is None
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=second) is None
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=second) is Reject.OrderRateThrottled, (
        "a second at 100/s refills only the burst of 2"
    )


def test_a_clock_that_goes_back_earns_no_tokens_and_loses_none() -> None:
    orders = Orders(limits(per_venue_symbol=8, order_burst=1))
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=NOW + 10_000_000) is None, "the bucket was full"
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=NOW) is Reject.OrderRateThrottled
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=NOW + 19_999_999) is Reject.OrderRateThrottled
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=NOW + 20_000_000) is None


def test_cancels_run_the_bucket_into_debt_of_at_most_one_burst() -> None:
    orders = gate(cancel_burst=1)
    for _ in range(10):
        orders.gate.cancel_sent(0, AAPL, NOW)
    # Ten cancels on a burst of one: one token spent and one of debt, not nine.
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=NOW + 19_999_999) is Reject.CancelRateThrottled
    assert orders.send(0, BUY, 99 * ONE, ONE, now_ns=NOW + 20_000_000) is None


def test_a_client_order_id_is_used_once_and_ids_only_grow() -> None:
    orders = gate()
    order = orders.order(0, BUY, 99 * ONE, ONE)
    assert orders.gate.check_new(order, market(), EVERYTHING_ACTIVE, NOW) is None
    assert orders.gate.check_new(order, market(), EVERYTHING_ACTIVE, NOW) is Reject.DuplicateOrderId
    older = dataclasses.replace(order, id=order.id - 1)
    assert orders.gate.check_new(older, market(), EVERYTHING_ACTIVE, NOW) is Reject.DuplicateOrderId


def test_an_order_that_would_trade_against_our_own_resting_order_is_stopped() -> None:
    orders = gate()
    assert orders.send(0, SELL, 101 * ONE, ONE) is None
    assert orders.send(0, BUY, 101 * ONE - TICK, ONE) is None, "one tick below our offer"
    assert orders.send(0, BUY, 101 * ONE, ONE) is Reject.SelfTrade
    assert orders.send(0, SELL, 101 * ONE - TICK, ONE) is Reject.SelfTrade
    assert orders.send(1, BUY, 101 * ONE, ONE) is None, "another venue's book is another book"


def test_a_stale_old_or_empty_book_blocks_new_orders() -> None:
    orders = gate()
    order = orders.order(0, BUY, 100 * ONE, ONE)
    stale = market(stale=True)
    assert orders.gate.check_new(order, stale, EVERYTHING_ACTIVE, NOW) is Reject.StaleBook
    age = 1_000_000_000
    assert orders.gate.check_new(order, market(), EVERYTHING_ACTIVE, NOW + age + 1) is Reject.OldBook
    assert orders.gate.check_new(order, market(), EVERYTHING_ACTIVE, NOW + age) is None, "at the age limit"
    empty = market(reference_price=0)
    following = orders.order(0, BUY, 100 * ONE, ONE)
    assert orders.gate.check_new(following, empty, EVERYTHING_ACTIVE, NOW) is Reject.NoReferencePrice


def test_a_book_published_after_now_is_not_old() -> None:
    orders = gate()
    order = orders.order(0, BUY, 100 * ONE, ONE)
    future = MarketView(reference_price=100 * ONE, published_ns=NOW + 5_000_000_000, stale=False)
    assert orders.gate.check_new(order, future, EVERYTHING_ACTIVE, NOW) is None


def test_halted_killed_reduce_only_unknown_and_unheard_trading_states_fail_closed() -> None:
    orders = gate()
    long = orders.place(0, BUY, 100 * ONE, 10 * ONE)
    orders.gate.filled(0, AAPL, long, 10 * ONE)

    def check(view: TradingView, side: Side, quantity: int) -> Reject | None:
        return orders.send(0, side, 100 * ONE, quantity, view=view)

    assert check(trading(HALTED, ACTIVE), SELL, ONE) is Reject.Halted, "halted globally"
    assert check(trading(ACTIVE, KILLED), SELL, ONE) is Reject.Halted, "the symbol is killed"
    assert check(trading(REDUCE_ONLY, ACTIVE), BUY, ONE) is Reject.ReduceOnly, "a buy adds to a long"
    assert check(trading(ACTIVE, REDUCE_ONLY), SELL, 6 * ONE) is None, "a sell reduces the long of 10"
    assert check(trading(ACTIVE, REDUCE_ONLY), SELL, 5 * ONE) is Reject.ReduceOnly, "6 + 5 would go short"
    assert check(trading(ACTIVE, REDUCE_ONLY), SELL, 4 * ONE) is None, "6 + 4 reach flat exactly"
    assert check(trading(9, ACTIVE), SELL, ONE) is Reject.UnknownTradingState
    assert check(trading(ACTIVE, 0, 2_000_000_001), SELL, ONE) is Reject.RiskHeartbeatStale
    assert check(trading(ACTIVE, 0, 2_000_000_000), SELL, ONE) is None, "at the heartbeat limit"


def test_reduce_only_passes_a_buy_only_while_short_and_never_past_flat() -> None:
    orders = gate()
    assert orders.gate.restore_position(0, AAPL, -5 * ONE) is None
    reduce_only = trading(REDUCE_ONLY, ACTIVE)
    assert orders.send(0, BUY, 100 * ONE, 6 * ONE, view=reduce_only) is Reject.ReduceOnly
    assert orders.send(0, BUY, 100 * ONE, 5 * ONE, view=reduce_only) is None, "to flat exactly"
    flat = gate()
    assert flat.send(0, SELL, 100 * ONE, ONE, view=reduce_only) is Reject.ReduceOnly, "flat: nothing reduces"


def test_reduce_only_looks_at_the_position_across_venues() -> None:
    orders = gate()
    assert orders.gate.restore_position(1, AAPL, 10 * ONE) is None
    reduce_only = trading(ACTIVE, REDUCE_ONLY)
    assert orders.send(0, SELL, 100 * ONE, 10 * ONE, view=reduce_only) is None, "flat on venue 0, long in all"


def test_an_unknown_trading_state_fails_closed_whichever_state_it_is() -> None:
    orders = gate()
    assert orders.send(0, BUY, 100 * ONE, ONE, view=trading(ACTIVE, 4)) is Reject.UnknownTradingState
    assert orders.send(0, BUY, 100 * ONE, ONE, view=trading(255, HALTED)) is Reject.UnknownTradingState
    assert orders.send(0, BUY, 100 * ONE, ONE, view=trading(HALTED, 7)) is Reject.UnknownTradingState


def test_a_replace_is_judged_in_place_of_the_order_it_replaces_and_can_be_undone() -> None:
    orders = gate(max_notional=UNLIMITED)
    order_id = orders.place(0, BUY, 99 * ONE, 600 * ONE)
    sell = orders.place(0, SELL, 101 * ONE, ONE)
    # 900 in place of 600 fits the 1,000 venue limit (as a new order of 900 would not).
    assert orders.send(0, BUY, 99 * ONE, 900 * ONE) is Reject.VenuePositionLimit
    moved, outcome = orders.replace(order_id, 99 * ONE + TICK, 900 * ONE)
    assert outcome is None
    assert orders.holding().working_buy == 900 * ONE
    assert orders.replace(moved.order.id, 99 * ONE, 1_001 * ONE)[1] is Reject.AboveMaxQuantity
    assert orders.replace(moved.order.id, 101 * ONE, 900 * ONE)[1] is Reject.SelfTrade
    assert orders.replace(999, 99 * ONE, ONE)[1] is Reject.UnknownOrder
    assert orders.replace(sell, 99 * ONE, ONE)[1] is Reject.UnknownOrder, "a replace keeps its side"
    # A fill of the original before the venue acts is still found.
    orders.gate.filled(0, AAPL, order_id, 100 * ONE)
    assert orders.holding().position == 100 * ONE
    orders.gate.replace_refused(moved, 99 * ONE, 500 * ONE)
    assert (order_id, 1, 99 * ONE, 500 * ONE) in orders.gate.working(0, AAPL)
    assert orders.holding().working_buy == 500 * ONE
    # Long 100: in place of the 500, 900 reach the 1,000 venue limit exactly; 901 do not.
    assert orders.replace(order_id, 99 * ONE, 901 * ONE)[1] is Reject.VenuePositionLimit
    assert orders.replace(order_id, 99 * ONE, 900 * ONE)[1] is None


def test_a_replace_is_checked_for_self_trade_against_where_our_orders_are_now() -> None:
    orders = gate()
    sell = orders.place(0, SELL, 101 * ONE, ONE)
    buy = orders.place(0, BUY, 99 * ONE, ONE)
    moved = Replace(original=sell, order=orders.order(0, SELL, 99 * ONE + TICK, ONE))
    assert orders.gate.check_replace(moved, market(), EVERYTHING_ACTIVE, NOW) is None
    assert orders.replace(buy, 99 * ONE + TICK, ONE)[1] is Reject.SelfTrade, "our offer is there now"


def test_a_replace_spends_an_order_and_a_cancel_token() -> None:
    orders = gate(cancel_burst=1)
    order_id = orders.place(0, BUY, 99 * ONE, ONE)
    moved, outcome = orders.replace(order_id, 98 * ONE, ONE)
    assert outcome is None
    assert orders.replace(moved.order.id, 97 * ONE, ONE)[1] is Reject.CancelRateThrottled


def test_a_replace_in_a_full_table_is_not_one_more_working_order() -> None:
    orders = gate()
    ids = [orders.place(0, BUY, 96 * ONE, ONE) for _ in range(4)]
    assert orders.send(0, BUY, 96 * ONE, ONE) is Reject.TooManyWorkingOrders
    assert orders.replace(ids[0], 97 * ONE, 2 * ONE)[1] is None


def test_a_replace_in_an_unconfigured_place_is_unknown_before_the_order_is_looked_for() -> None:
    orders = gate()
    replace = Replace(original=5, order=dataclasses.replace(orders.order(0, BUY, ONE, ONE), venue=3))
    assert orders.gate.check_replace(replace, market(), EVERYTHING_ACTIVE, NOW) is Reject.UnknownInstrument


def test_every_rejection_is_counted_under_its_reason() -> None:
    orders = gate()
    orders.send(0, BUY, 0, ONE)
    orders.send(0, BUY, 0, ONE)
    orders.send(0, BUY, 100 * ONE, 0)
    rejections = orders.gate.rejections()
    assert len(rejections) == len(Reject) == 27
    assert rejections[Reject.NonPositivePrice] == 2
    assert rejections[Reject.NonPositiveQuantity] == 1
    assert sum(rejections) == 3
    unknown = dataclasses.replace(orders.order(0, BUY, 100 * ONE, ONE), instrument=77)
    assert orders.gate.check_new(unknown, market(), EVERYTHING_ACTIVE, NOW) is Reject.UnknownInstrument
    far = dataclasses.replace(orders.order(0, BUY, 100 * ONE, ONE), venue=3)
    assert orders.gate.check_new(far, market(), EVERYTHING_ACTIVE, NOW) is Reject.UnknownInstrument
    assert orders.gate.rejections()[Reject.UnknownInstrument] == 2
    assert orders.gate.passed == 0


def test_a_restarted_gate_restores_working_orders_and_positions_and_judges_new_orders_against_them() -> None:
    orders = gate()
    assert orders.gate.restore_position(0, AAPL, 600 * ONE) is None
    working = orders.order(0, BUY, 99 * ONE, 300 * ONE)
    assert orders.gate.restore_working(working) is None
    assert orders.holding().worst_long() == 900 * ONE
    assert orders.send(0, BUY, 99 * ONE, 101 * ONE) is Reject.VenuePositionLimit
    assert orders.send(0, BUY, 98 * ONE, 100 * ONE) is None, "exactly to the 1,000 limit"
    old = dataclasses.replace(orders.order(0, BUY, 98 * ONE, ONE), id=1)
    assert orders.gate.check_new(old, market(), EVERYTHING_ACTIVE, NOW) is Reject.DuplicateOrderId
    assert orders.gate.restore_position(0, 77, ONE) is Reject.UnknownInstrument


def test_a_restored_order_s_id_is_never_used_again() -> None:
    orders = gate()
    restored = NewOrder(id=50, venue=0, instrument=AAPL, side=BUY, price=99 * ONE, quantity=ONE)
    assert orders.gate.restore_working(restored) is None
    reused = dataclasses.replace(restored, id=49, price=98 * ONE)
    assert orders.gate.check_new(reused, market(), EVERYTHING_ACTIVE, NOW) is Reject.DuplicateOrderId


def test_restoring_more_working_orders_than_a_table_holds_is_refused() -> None:
    orders = gate()
    for _ in range(4):
        assert orders.gate.restore_working(orders.order(0, BUY, 99 * ONE, ONE)) is None
    assert orders.gate.restore_working(orders.order(0, BUY, 99 * ONE, ONE)) is Reject.TooManyWorkingOrders
    assert orders.gate.passed == 0 and sum(orders.gate.rejections()) == 0, "restoring is not judging"


def test_an_order_that_reduces_a_position_already_past_its_limit_passes() -> None:
    orders = gate()
    assert orders.gate.restore_position(0, AAPL, 1_200 * ONE) is None  # past the 1,000 venue limit
    assert orders.send(0, BUY, 100 * ONE, ONE) is Reject.VenuePositionLimit
    assert orders.send(0, SELL, 100 * ONE, 10 * ONE) is None, "a sell brings it back"


def test_a_replace_pending_over_a_restart_is_restored_as_the_replacement_answering_to_both_ids() -> None:
    orders = gate()
    original = orders.order(0, BUY, 99 * ONE, 300 * ONE)
    replacement = dataclasses.replace(original, id=original.id + 1, price=98 * ONE, quantity=200 * ONE)
    assert orders.gate.restore_replacing(original.id, replacement) is None
    orders.next_id = replacement.id
    assert orders.holding().worst_long() == 200 * ONE, "counted as the replacement"
    orders.gate.filled(0, AAPL, original.id, 50 * ONE)  # a fill of the original before the venue acted
    assert orders.holding().worst_long() == 200 * ONE, "filled, still open in the worst case"
    orders.gate.done(0, AAPL, replacement.id)
    assert orders.holding().worst_long() == 50 * ONE, "only the fill is left"
    reused = dataclasses.replace(orders.order(0, BUY, 98 * ONE, 100 * ONE), id=replacement.id)
    assert orders.gate.check_new(reused, market(), EVERYTHING_ACTIVE, NOW) is Reject.DuplicateOrderId


def test_with_an_id_restored_twice_the_first_order_in_rusts_table_order_answers() -> None:
    # Rust's table removes by moving its last order into the gap (swap_remove), and a search by
    # id finds the first order answering to it: a journal holding an id twice shows the order.
    orders = gate()
    for order_id, price in ((5, 99 * ONE), (7, 98 * ONE), (7, 97 * ONE)):
        restored = NewOrder(id=order_id, venue=0, instrument=AAPL, side=BUY, price=price, quantity=10 * ONE)
        assert orders.gate.restore_working(restored) is None
    orders.gate.done(0, AAPL, 5)  # the order at 97.00 moves into the first place
    orders.gate.filled(0, AAPL, 7, 4 * ONE)
    assert orders.gate.working(0, AAPL) == [(7, 1, 97 * ONE, 6 * ONE), (7, 1, 98 * ONE, 10 * ONE)]


def test_a_replace_leaves_out_of_the_self_trade_check_every_order_answering_to_the_original() -> None:
    orders = gate()
    offer = NewOrder(id=5, venue=0, instrument=AAPL, side=SELL, price=101 * ONE, quantity=ONE)
    assert orders.gate.restore_working(offer) is None
    assert orders.gate.restore_working(dataclasses.replace(offer, side=BUY, price=99 * ONE)) is None
    orders.next_id = 5
    lower = Replace(original=5, order=orders.order(0, SELL, 99 * ONE, ONE))
    assert orders.gate.check_replace(lower, market(), EVERYTHING_ACTIVE, NOW) is None, "the bid is id 5 too"


def test_holdings_and_working_orders_of_unconfigured_places_are_none() -> None:
    orders = gate()
    assert orders.gate.venue_holding(3, AAPL) is None
    assert orders.gate.venue_holding(0, 77) is None
    assert orders.gate.symbol_holding(77) is None
    assert orders.gate.symbol_holding(MSFT) == Holding()
    assert orders.gate.working(-1, AAPL) == []


# The order of the checks: an order failing two gets the first.


def test_an_order_failing_two_checks_is_refused_for_the_first() -> None:
    orders = gate()
    bad = orders.order(0, BUY, 0, 0)
    unknown = dataclasses.replace(bad, instrument=77)
    halted = trading(HALTED, HALTED, age_ns=2_000_000_001)
    assert orders.gate.check_new(unknown, market(stale=True), halted, NOW) is Reject.UnknownInstrument
    assert orders.gate.check_new(bad, market(), halted, NOW) is Reject.RiskHeartbeatStale
    unheard = trading(9, ACTIVE, age_ns=2_000_000_001)
    assert orders.gate.check_new(bad, market(), unheard, NOW) is Reject.RiskHeartbeatStale
    assert orders.gate.check_new(bad, market(), trading(9, HALTED), NOW) is Reject.UnknownTradingState
    assert orders.gate.check_new(bad, market(), trading(REDUCE_ONLY, KILLED), NOW) is Reject.Halted
    assert orders.send(0, BUY, 100 * ONE, ONE) is None
    reused = dataclasses.replace(bad, id=orders.next_id)
    assert orders.gate.check_new(reused, market(), EVERYTHING_ACTIVE, NOW) is Reject.DuplicateOrderId
    assert orders.send(0, BUY, 0, 0) is Reject.NonPositivePrice
    assert orders.send(0, BUY, TICK // 2, ONE // 2) is Reject.OffTick
    # The order itself before the book, the book before the band.
    odd_lot = orders.order(0, BUY, 100 * ONE, ONE // 2)
    assert orders.gate.check_new(odd_lot, market(stale=True), EVERYTHING_ACTIVE, NOW) is Reject.OddLot
    far = orders.order(0, BUY, 200 * ONE, ONE)
    assert orders.gate.check_new(far, market(stale=True), EVERYTHING_ACTIVE, NOW) is Reject.StaleBook
    assert orders.gate.check_new(far, market(0), EVERYTHING_ACTIVE, NOW + 2 * ONE) is Reject.OldBook
    # The band before reduce-only, reduce-only before self-trade.
    assert orders.send(0, BUY, 200 * ONE, ONE, view=trading(REDUCE_ONLY)) is Reject.OutsidePriceBand
    assert orders.send(0, SELL, 100 * ONE, ONE, view=trading(REDUCE_ONLY)) is Reject.ReduceOnly


def test_self_trade_comes_before_the_working_order_count_which_comes_before_position_limits() -> None:
    orders = gate()
    for _ in range(4):
        assert orders.send(0, BUY, 99 * ONE, 250 * ONE) is None
    assert orders.send(0, SELL, 99 * ONE, ONE) is Reject.SelfTrade, "full, and crossing our bid"
    assert orders.send(0, BUY, 99 * ONE, ONE) is Reject.TooManyWorkingOrders, "full, and at the venue limit"


def test_position_limits_come_before_exposure_limits_which_come_before_the_throttles() -> None:
    portfolio = dataclasses.replace(PORTFOLIO, max_gross_notional=50_000 * ONE, max_net_notional=50_000 * ONE)
    orders = Orders(limits(portfolio=portfolio, order_burst=1, cancel_burst=1))
    assert orders.send(0, BUY, 100 * ONE, 500 * ONE) is None
    orders.gate.cancel_sent(1, AAPL, NOW)
    # Venue 0's order bucket and venue 1's cancel bucket are empty; the portfolio is at its limit.
    assert orders.send(0, BUY, 100 * ONE, 501 * ONE) is Reject.AboveMaxNotional
    assert orders.gate.restore_position(0, AAPL, 500 * ONE) is None
    assert orders.send(0, BUY, 100 * ONE, ONE) is Reject.VenuePositionLimit, "1,000 long in the worst case"
    assert orders.send(1, BUY, 100 * ONE, ONE) is Reject.GrossExposureLimit, "gross before net"
    tight_net = dataclasses.replace(PORTFOLIO, max_net_notional=50_000 * ONE)
    orders = Orders(limits(portfolio=tight_net, order_burst=1))
    assert orders.send(0, BUY, 100 * ONE, 500 * ONE) is None
    assert orders.send(0, BUY, 100 * ONE, ONE) is Reject.NetExposureLimit, "net before the order rate"
    assert orders.send(0, SELL, 101 * ONE, ONE) is Reject.OrderRateThrottled


def test_the_order_rate_comes_before_the_cancel_rate() -> None:
    orders = gate(order_burst=1, cancel_burst=1)
    assert orders.send(0, BUY, 99 * ONE, ONE) is None
    orders.gate.cancel_sent(0, AAPL, NOW)
    assert orders.send(0, BUY, 99 * ONE, ONE) is Reject.OrderRateThrottled


def test_a_replace_of_an_order_that_is_not_working_is_unknown_before_it_is_judged() -> None:
    orders = gate()
    replace = Replace(original=12_345, order=orders.order(0, BUY, 0, 0))
    halted = trading(HALTED, HALTED)
    assert orders.gate.check_replace(replace, market(stale=True), halted, NOW) is Reject.UnknownOrder


# Exposure is valued at the last reference price the gate saw in a fresh book.


def test_a_symbol_is_marked_at_the_reference_even_when_a_later_check_refuses_the_order() -> None:
    orders = Orders(limits(portfolio=dataclasses.replace(PORTFOLIO, max_gross_notional=50_000 * ONE)))
    assert orders.gate.restore_position(0, AAPL, 1_000 * ONE) is None
    msft = NewOrder(id=10, venue=1, instrument=MSFT, side=BUY, price=100 * ONE, quantity=ONE)
    assert orders.gate.check_new(msft, market(), EVERYTHING_ACTIVE, NOW) is None, "AAPL is not marked yet"
    orders.next_id = 10
    assert orders.send(1, SELL, 200 * ONE, ONE) is Reject.OutsidePriceBand
    more = dataclasses.replace(msft, id=20)
    assert orders.gate.check_new(more, market(), EVERYTHING_ACTIVE, NOW) is Reject.GrossExposureLimit, (
        "AAPL is marked at 100.00 now: 100,000 long"
    )


def test_a_stale_book_does_not_mark_the_symbol() -> None:
    orders = Orders(limits(portfolio=dataclasses.replace(PORTFOLIO, max_gross_notional=50_000 * ONE)))
    assert orders.gate.restore_position(0, AAPL, 1_000 * ONE) is None
    refused = orders.order(1, SELL, 200 * ONE, ONE)
    assert orders.gate.check_new(refused, market(stale=True), EVERYTHING_ACTIVE, NOW) is Reject.StaleBook
    msft = NewOrder(id=10, venue=1, instrument=MSFT, side=BUY, price=100 * ONE, quantity=ONE)
    assert orders.gate.check_new(msft, market(), EVERYTHING_ACTIVE, NOW) is None


# Fixed-point arithmetic as Rust does it.


def test_division_truncates_toward_zero_as_rust_does() -> None:
    assert trunc_div(7, 2) == 3
    assert trunc_div(-7, 2) == -3
    assert trunc_div(7, -2) == -3
    assert trunc_div(-7, -2) == 3
    assert notional(-1, 1) == 0, "Python's // would give -1"
    assert notional(ONE + 1, -(ONE - 1)) == -(ONE - 1)
    assert notional(100 * ONE, -3 * ONE) == -300 * ONE


def test_a_short_worst_case_is_valued_truncated_toward_zero() -> None:
    # A sell of 0.999999999 at a mark of 1.000000001 is worth -0.999999999999999999, which Rust
    # counts as -0.999999999; flooring would make it -1.000000000 and break the gross limit.
    portfolio = dataclasses.replace(PORTFOLIO, max_gross_notional=ONE - 1)
    orders = Orders(limits(portfolio=portfolio, tick=1, lot=1, min_quantity=1))
    order = orders.order(0, SELL, ONE, ONE - 1)
    assert orders.gate.check_new(order, market(ONE + 1), EVERYTHING_ACTIVE, NOW) is None
    over = orders.order(0, SELL, ONE, ONE)
    assert orders.gate.check_new(over, market(ONE + 1), EVERYTHING_ACTIVE, NOW) is Reject.GrossExposureLimit


# Limits the gate cannot be built with.


def symbol_with(**changes: int) -> Limits:
    """The Rust tests' limits with MSFT's changed."""
    base = limits()
    return dataclasses.replace(base, symbols=(base.symbols[0], dataclasses.replace(symbol(MSFT), **changes)))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (symbol_with(tick=0), "instrument 2: tick must be positive"),
        (symbol_with(lot=-1), "instrument 2: lot must be positive"),
        (symbol_with(min_quantity=0), "instrument 2: quantities must be 0 < min <= max"),
        (symbol_with(min_quantity=2_000 * ONE), "instrument 2: quantities must be 0 < min <= max"),
        (symbol_with(max_notional=0), "instrument 2: notional and position limits must not be negative"),
        (symbol_with(max_position=-1), "instrument 2: notional and position limits must not be negative"),
        (
            symbol_with(max_venue_position=-1),
            "instrument 2: notional and position limits must not be negative",
        ),
        (symbol_with(order_burst=0), "instrument 2: throttle bursts must be positive"),
        (symbol_with(cancel_burst=0), "instrument 2: throttle bursts must be positive"),
        (symbol_with(instrument=AAPL), "instrument 1 is configured twice"),
        (symbol_with(instrument=AAPL, tick=0), "instrument 1: tick must be positive"),
        (dataclasses.replace(limits(), venues=0), "there must be a venue"),
        (dataclasses.replace(limits(), venues=0, symbols=()), "there must be a venue"),
        (
            dataclasses.replace(limits(), max_working_per_venue_symbol=0),
            "there must be room for a working order",
        ),
        (limits(tick=0, per_venue_symbol=0), "there must be room for a working order"),
    ],
)
def test_limits_that_cannot_work_are_refused_by_name(bad: Limits, message: str) -> None:
    with pytest.raises(LimitsError) as refused:
        Gate(bad, 0)
    assert str(refused.value) == message


def test_limits_with_zero_positions_and_rates_are_usable() -> None:
    orders = gate(max_position=0, max_venue_position=0, order_rate_per_s=0, cancel_rate_per_s=0)
    assert orders.send(0, BUY, 100 * ONE, ONE) is Reject.SymbolPositionLimit


# The names a Rust binding mirrors.


def test_reasons_have_the_rust_codes_and_are_all_true() -> None:
    assert [reason.value for reason in Reject] == list(range(27))
    assert (Reject.NonPositivePrice, Reject.SelfTrade, Reject.UnknownOrder, Reject.RiskHeadroom) == (
        0,
        16,
        25,
        26,
    )
    assert all(bool(reason) for reason in Reject), "NonPositivePrice is 0 but still a refusal"
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    assert (ACTIVE, REDUCE_ONLY, HALTED, KILLED) == (0, 1, 2, 3)


def test_an_order_must_fit_in_the_room_the_risk_worker_leaves_unless_it_only_reduces() -> None:
    orders = gate()
    long = orders.place(0, BUY, 100 * ONE, 10 * ONE)
    orders.gate.filled(0, AAPL, long, 10 * ONE)
    thousand = 1_000 * ONE  # the notional of 10 at 100

    def room(symbol: int, whole: int) -> TradingView:
        return dataclasses.replace(EVERYTHING_ACTIVE, symbol_room=symbol, portfolio_room=whole)

    def check(view: TradingView, side: Side, price: int) -> Reject | None:
        return orders.gate.check_new(orders.order(0, side, price, 10 * ONE), market(), view, NOW)

    assert check(room(thousand - 1, I64_MAX), BUY, 100 * ONE) is Reject.RiskHeadroom
    assert check(room(I64_MAX, thousand - 1), BUY, 100 * ONE) is Reject.RiskHeadroom
    assert check(room(thousand, thousand), BUY, 100 * ONE) is None, "exactly the room left"
    assert check(room(-1, -1), SELL, 101 * ONE) is None, "a sale that only reduces the long needs no room"
