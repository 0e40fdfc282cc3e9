"""The before/after benchmark's arithmetic: coordinated-omission correction as HdrHistogram
does it, a cumulative histogram's window, and how ratios and goals read a rate where an engine
sent nothing."""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

from bench.before_after import corrected, goals, markdown, percentiles_us, ratios, window


def test_the_correction_matches_hdrhistograms_own_record_with_expected_interval() -> None:
    values = [(5_000, 100), (50_000, 10), (2_000_000, 3)]
    reference = HdrHistogram(1, 600_000_000_000, 3)
    for value, count in values:
        reference.record_corrected_value(value, 10_000, count)
    ours = corrected(values, 10_000)
    assert ours.get_total_count() == reference.get_total_count() == 100 + 10 * 5 + 3 * 200
    assert percentiles_us(ours) == percentiles_us(reference)


def test_a_long_stall_is_corrected_within_the_histograms_precision_in_few_records() -> None:
    ours = corrected([(60_000_000_000, 1)], 1_000)  # a minute's stall, an order every microsecond
    assert abs(ours.get_total_count() - 60_000_000) / 60_000_000 < 0.002
    assert abs(ours.get_value_at_percentile(50) - 30_000_000_000) / 30_000_000_000 < 0.002


def test_without_an_interval_nothing_is_added() -> None:
    assert corrected([(2_000_000, 3)], 0).get_total_count() == 3


def test_a_window_is_what_each_bucket_gained_between_two_readings() -> None:
    before = [(100, 5), (1_000, 2)]
    after = [(100, 5), (1_000, 7), (50_000, 1)]
    assert window(before, after) == [(1_000, 5), (50_000, 1)]


def figures(p99: float | None, pss: float = 100.0, lost: int = 0) -> dict[str, Any]:
    latency = {"p50": p99, "p99": p99, "p999": p99, "max": p99}
    return {
        "tick_to_trade_us": latency,
        "uncorrected_us": latency,
        "orders": 0 if p99 is None else 10,
        "lost": lost,
        "cpu_percent": 40.0,
        "rss_peak_mb": pss,
        "pss_steady_mb": pss,
        "longest_pause_us": 1.0,
    }


def rate(msgs: int, tickrail: dict[str, Any], legacy: dict[str, Any]) -> dict[str, Any]:
    entry = {"msgs_per_s": msgs, "tickrail": tickrail, "legacy": legacy}
    entry["ratio"] = ratios(entry)
    return entry


def test_a_rate_where_only_the_legacy_engine_sent_nothing_counts_for_tickrail() -> None:
    rates = [rate(10_000, figures(100.0), figures(5_000.0)), rate(100_000, figures(200.0), figures(None))]
    assert rates[0]["ratio"]["p99"] == 50.0 and rates[1]["ratio"]["p99"] is None
    met = goals(rates)
    assert met["p99_10x_lower"] and met["max_20x_lower"] and met["nothing_lost"]
    assert not met["less_memory"], "as much memory is not less"
    table = markdown(
        {
            "rates": rates,
            "goals": met,
            "seconds": 60.0,
            "machine": {"cpu": "x", "cores_allowed": [0, 1], "kernel": "k", "python": "3.11"},
        }
    )
    assert "| 100,000 | ratio | legacy sent none |" in table
    widths = {line.count("|") for line in table.splitlines() if line.startswith("|")}
    assert len(widths) == 1, "every row has the header's cells"


def test_a_rate_where_tickrail_sent_nothing_or_lost_a_message_fails_the_goals() -> None:
    silent = [rate(10_000, figures(None), figures(5_000.0))]
    assert silent[0]["ratio"]["p99"] == 0.0 and not goals(silent)["p99_10x_lower"]
    lossy = [rate(10_000, figures(100.0, lost=1), figures(5_000.0))]
    assert not goals(lossy)["nothing_lost"]
