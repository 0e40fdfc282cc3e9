"""Before and after: the legacy Python engine (``bench/legacy``) and tickrail, one after the
other in the same run, against the same simulated venues with the same seed, at each market-data
rate (messages per second per venue, on all three venues).

For each engine and rate, after a warm-up, over a fixed window:

* ``tick_to_trade_us``: p50, p99, p99.9 and max of every order's time from the read of the
  market data that caused it to its bytes handed to the socket, from HDR histograms corrected
  for coordinated omission the HdrHistogram way: each value ``v`` also stands for
  ``v - i, v - 2i, ...`` down to ``i``, the expected interval between orders, the same for both
  engines (the window over the most orders either sent; ``co_interval_us``);
  ``uncorrected_us`` is the same without the correction;
* ``orders``: new orders and replaces sent; ``refused_by_gate``: orders the pre-trade gate
  refused;
* ``lost``: market data lost on the way to the engine (tickrail: gaps its feeds never
  recovered; legacy: messages its feed handlers never recovered, and book changes ZeroMQ
  dropped); ``messages``: market-data messages the feeds decoded;
* ``cpu_percent``: CPU time of the pipeline's processes over the window, as a share of the
  machine (tickrail: its feeds, risk and execution workers; legacy: its one process; the
  simulated venues are the exchanges and count for neither, and tickrail's supervisor is
  reported apart, as ``supervisor_cpu_percent``);
* ``rss_peak_mb``, ``rss_steady_mb``: the pipeline's resident memory (the sum over its
  processes), its peak and its median over the window; ``pss_*`` the same counting each shared
  page once (proportional set size);
* ``longest_pause_us``: the longest time a book change, once its feed had published it, waited
  before the engine's decision loop took it up (tickrail: the execution loop's hand-off stage of
  the ticks behind its orders, the loop reading the newest books every turn; legacy: every book
  change's ZeroMQ hop), and for the legacy engine the longest garbage-collector pause
  (``gc.callbacks``) when longer; ``gc`` gives the collector's pauses.

The legacy engine's RESULT also has its ``book_changes`` taken up, ``disconnects`` (order
sessions lost), ``unknown_reports`` and ``refused_by_gateway``; tickrail's has
``supervisor_cpu_percent`` and ``workers_died``.

``--json`` prints ``{"rates": [{"msgs_per_s": R, "co_interval_us", "tickrail": RESULT, "legacy":
RESULT, "ratio": {"p50", "p99", "p999", "max"}}, ...], "goals", "machine", "seconds", "seed"}``. The run also writes a Markdown table and a PNG plot (the latency percentiles
of both engines at each rate, log scale) to ``--out`` (default ``bench/results``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.legacy.engine import HIGHEST_NS, LOWEST_NS, SIGNIFICANT_DIGITS
from bench.ring import machine
from tickrail import _native, config, execution_plan
from tickrail.launch import ORDER_ENTRY, settled_addresses
from tickrail.process import Announcements

ROOT = Path(__file__).resolve().parents[1]
RATES = (10_000, 50_000, 100_000)
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
#: Workers tickrail's supervisor starts: three venues, three feeds, risk and execution.
TICKRAIL_WORKERS = 8
PERCENTILES = (("p50", 50.0), ("p99", 99.0), ("p999", 99.9))
#: A latency histogram's content: ``(value in nanoseconds, count)`` pairs.
Values = list[tuple[int, int]]


#: The three venues, by letter, and their protocols.
VENUES = (("a", "itch"), ("b", "fix"), ("c", "json"))


def venue_addresses() -> dict[str, dict[str, str]]:
    """Free loopback addresses for the three venues, by venue letter, as the supervisor settles
    a simulated venue's addresses (:func:`tickrail.launch.settled_addresses`)."""
    text = "".join(f'[venues.{letter}]\nprotocol = "{protocol}"\n' for letter, protocol in VENUES)
    venues = config.parse('[instance]\nname = "addresses"\n' + text).venues
    return {letter: settled_addresses(venue) for letter, venue in venues.items()}


def instance_toml(
    name: str, seed: int, rate: int, addresses: dict[str, dict[str, str]], journal: Path, *, trading: bool
) -> str:
    """The instance: the three simulated venues at ``rate`` on ``addresses``, and with
    ``trading`` tickrail's feeds and execution worker (the risk worker comes with it)."""
    text = f'[instance]\nname = "{name}"\nseed = {seed}\n'
    for letter, protocol in VENUES:
        text += f'[venues.{letter}]\nprotocol = "{protocol}"\nrate = {rate}\n[venues.{letter}.addresses]\n'
        text += "".join(f'{key} = "{address}"\n' for key, address in addresses[letter].items())
        if trading:
            text += f'[feeds.{letter}]\nvenue = "{letter}"\n'
    if trading:
        text += f'[execution]\njournal = "{journal}"\n'
    return text


# --- process figures ------------------------------------------------------------------------


def _cpu_ticks(pid: int) -> int | None:
    """User and system CPU time of ``pid`` in clock ticks; ``None`` once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[11]) + int(fields[12])


def _rss_kb(pid: int) -> int:
    """Resident set size of ``pid``, kB (``statm``: no walk of its page tables); 0 once gone."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE // 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0


def _pss_kb(pid: int) -> int:
    """Proportional set size of ``pid``, kB; 0 once gone. The kernel walks the process's page
    tables for it, holding its memory map's lock: taken seldom, not to disturb what is measured."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), 0)


@dataclass
class Sampler:
    """CPU time and memory of a set of processes over a window. A process that ends in the
    window keeps the CPU time it was last seen with; one that joins (a restarted worker) counts
    from when it joined."""

    pids: list[int]
    rss_kb: list[int] = field(default_factory=list)
    pss_kb: list[int] = field(default_factory=list)
    started: float = 0.0
    cpu_percent: float = 0.0
    _first: dict[int, int] = field(default_factory=dict)
    _last: dict[int, int] = field(default_factory=dict)

    def start(self) -> None:
        """Starts the window."""
        self.started = time.monotonic()
        for pid in self.pids:
            self.join(pid)

    def join(self, pid: int) -> None:
        """Counts ``pid`` from now on."""
        if pid not in self.pids:
            self.pids.append(pid)
        ticks = _cpu_ticks(pid)
        if ticks is not None:
            self._first[pid] = self._last[pid] = ticks

    def sample(self, proportional: bool = False) -> None:
        """Takes one memory sample, with the proportional set sizes if ``proportional`` (and
        notes each process's CPU time)."""
        for pid in self.pids:
            ticks = _cpu_ticks(pid)
            if ticks is not None and pid in self._first:
                self._last[pid] = ticks
        self.rss_kb.append(sum(_rss_kb(pid) for pid in self.pids))
        if proportional:
            self.pss_kb.append(sum(_pss_kb(pid) for pid in self.pids))

    def finish(self) -> None:
        """Ends the window: :attr:`cpu_percent` is the CPU time the processes used in it, as a
        share of the machine."""
        self.sample(proportional=True)
        used = sum(self._last[pid] - first for pid, first in self._first.items()) / TICKS
        self.cpu_percent = 100.0 * used / ((time.monotonic() - self.started) * (os.cpu_count() or 1))

    def memory(self) -> dict[str, float]:
        """Peak and median of the samples, MB."""
        mb = 1024.0
        return {
            "rss_peak_mb": max(self.rss_kb) / mb,
            "rss_steady_mb": statistics.median(self.rss_kb) / mb,
            "pss_peak_mb": max(self.pss_kb) / mb,
            "pss_steady_mb": statistics.median(self.pss_kb) / mb,
        }


def watch(
    samplers: Iterable[Sampler],
    seconds: float,
    events: Announcements | None = None,
    joining: Sampler | None = None,
    every: float = 0.5,
    proportional_every: int = 10,
) -> None:
    """Starts ``samplers``' window and samples them every ``every`` s for ``seconds`` (the
    proportional set sizes every ``proportional_every`` samples); a worker the supervisor
    restarts meanwhile (its ``started`` in ``events``) joins ``joining``."""
    samplers = list(samplers)
    for s in samplers:
        s.start()
    deadline = time.monotonic() + seconds
    taken = 0
    while (left := deadline - time.monotonic()) > 0:
        if events is not None and joining is not None:
            while (started := events.next("started", 0)) is not None:
                if not started["worker"].startswith("venue"):
                    joining.join(started["pid"])
        for s in samplers:
            s.sample(proportional=taken % proportional_every == 0)
        taken += 1
        time.sleep(min(every, left))
    for s in samplers:
        s.finish()


# --- latency -----------------------------------------------------------------------------------


def corrected(values: Iterable[tuple[int, int]], interval_ns: int) -> HdrHistogram:
    """An HDR histogram of ``(value, count)`` pairs corrected for coordinated omission as
    HdrHistogram's ``recordValueWithExpectedInterval`` does: a value ``v`` above the expected
    interval ``i`` also stands for ``v - i, v - 2i, ...`` down to ``i``. Where several of those
    fall within the histogram's precision (3 significant digits) they are recorded at once, so a
    long stall costs a few thousand records rather than one per interval."""
    histogram = HdrHistogram(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
    for value, count in values:
        histogram.record_value(min(max(value, LOWEST_NS), HIGHEST_NS), count)
        missed = value - interval_ns
        while interval_ns > 0 and missed >= interval_ns:
            together = max(1, missed // 2048 // interval_ns)
            histogram.record_value(min(missed, HIGHEST_NS), count * together)
            missed -= together * interval_ns
    return histogram


def recorded(histogram: HdrHistogram) -> Iterator[tuple[int, int]]:
    """The ``(value, count)`` pairs an HDR histogram holds."""
    for item in histogram.get_recorded_iterator():
        yield item.value_iterated_to, item.count_at_value_iterated_to


def percentiles_us(histogram: HdrHistogram) -> dict[str, float | None]:
    """p50, p99, p99.9 and max, microseconds (``None`` when no order was sent)."""
    if histogram.get_total_count() == 0:
        return {key: None for key in ("p50", "p99", "p999", "max")}
    out: dict[str, float | None] = {key: histogram.get_value_at_percentile(p) / 1e3 for key, p in PERCENTILES}
    out["max"] = histogram.get_max_value() / 1e3
    return out


def window(before: list[tuple[int, int]], after: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """What a cumulative histogram's ``values`` gained between two readings."""
    counts = dict(before)
    gained = [(value, count - counts.get(value, 0)) for value, count in after]
    return [(value, count) for value, count in gained if count > 0]


# --- the runs ----------------------------------------------------------------------------------


@contextmanager
def supervisor(path: Path, runtime: str) -> Iterator[tuple[subprocess.Popen[str], Announcements]]:
    """The supervisor running the instance at ``path``, its workers' logs in
    ``runtime/supervisor.log``; stopped on leaving."""
    with (Path(runtime) / "supervisor.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "run", "--config", str(path), "--view", "events"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "RUNTIME_DIRECTORY": runtime},
            cwd=ROOT,
        )
        assert process.stdout is not None
        try:
            yield process, Announcements(process.stdout)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _started(events: Announcements, count: int, what: str) -> dict[str, int]:
    pids = {}
    for _ in range(count):
        started = events.next("started", 60)
        if started is None:
            raise RuntimeError(f"{what}: the instance did not start ({events.seen[-3:]})")
        pids[started["worker"]] = started["pid"]
    return pids


def _gained(counter: str, before: list[Any], after: list[Any]) -> int:
    """How much ``counter`` grew over the feeds between two readings."""
    return sum(a["counters"][counter] - b["counters"][counter] for a, b in zip(after, before, strict=True))


def _unrecovered(feeds: list[str], before: list[Any], after: list[Any], settle_s: float = 2.0) -> int:
    """Gaps the feeds opened between the two readings and never recovered: a gap still being
    recovered when the window closed is given up to ``settle_s`` to be."""
    opened = _gained("gaps", before, after)
    deadline = time.monotonic() + settle_s
    while True:
        recovered = _gained("recoveries", before, [_native.feed_report(f) for f in feeds])
        if recovered >= opened or time.monotonic() > deadline:
            return max(opened - recovered, 0)
        time.sleep(0.05)


def run_tickrail(rate: int, seed: int, warmup: float, seconds: float) -> tuple[dict[str, Any], Values]:
    """tickrail at ``rate``: its figures over the window, and its tick-to-trade as ``(value,
    count)`` pairs."""
    name = f"ba{os.getpid()}t"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instance.toml"
        path.write_text(
            instance_toml(name, seed, rate, venue_addresses(), Path(tmp) / "journal", trading=True)
        )
        instance = config.load(path)
        with supervisor(path, tmp) as (process, events):
            pids = _started(events, TICKRAIL_WORKERS, "tickrail")
            time.sleep(warmup)
            metrics = execution_plan.metrics_segment(name)
            feeds = [f"tickrail.{name}.{feed.segments}.metrics" for feed in instance.feeds.values()]
            before, feeds_before = (
                _native.execution_report(metrics, values=True),
                [_native.feed_report(f) for f in feeds],
            )
            pipeline = Sampler([pid for worker, pid in pids.items() if not worker.startswith("venue")])
            control = Sampler([process.pid])
            seen = len(events.seen)
            watch([pipeline, control], seconds, events, pipeline)
            died = [e["worker"] for e in events.seen[seen:] if e.get("event") == "died"]
            if died:
                log = (Path(tmp) / "supervisor.log").read_text().splitlines()
                print(
                    f"tickrail at {rate}/s: {died} died; the log ends:", *log[-20:], sep="\n", file=sys.stderr
                )
            after, feeds_after = (
                _native.execution_report(metrics, values=True),
                [_native.feed_report(f) for f in feeds],
            )
            unrecovered = _unrecovered(feeds, feeds_before, feeds_after)
    latency = window(before["tick_to_trade_ns"]["values"], after["tick_to_trade_ns"]["values"])
    handoff = window(before["stages_ns"]["handoff"]["values"], after["stages_ns"]["handoff"]["values"])

    return {
        "orders": sum(count for _, count in latency),
        "refused_by_gate": after["counters"]["gate_rejections"] - before["counters"]["gate_rejections"],
        "lost": unrecovered,
        "gaps": _gained("gaps", feeds_before, feeds_after),
        "messages": _gained("messages", feeds_before, feeds_after),
        "cpu_percent": pipeline.cpu_percent,
        "supervisor_cpu_percent": control.cpu_percent,
        **pipeline.memory(),
        "supervisor_rss_mb": max(control.rss_kb) / 1024.0,
        "longest_pause_us": max((value for value, _ in handoff), default=0) / 1e3,
        "workers_died": died,
    }, latency


def run_legacy(rate: int, seed: int, warmup: float, seconds: float) -> tuple[dict[str, Any], Values]:
    """The legacy engine at ``rate``: its figures over the window, and its tick-to-trade as
    ``(value, count)`` pairs."""
    name = f"ba{os.getpid()}l"
    with tempfile.TemporaryDirectory() as tmp:
        addresses = venue_addresses()
        journal = Path(tmp) / "journal"
        instance = config.parse(instance_toml(name, seed, rate, addresses, journal, trading=True))
        entry = {v.name: addresses[v.name][ORDER_ENTRY[v.protocol]] for v in instance.venues.values()}
        spec = execution_plan.describe(instance, entry)
        path = Path(tmp) / "venues.toml"
        # The same venues on the same addresses, without tickrail's workers.
        path.write_text(instance_toml(name, seed, rate, addresses, journal, trading=False))
        out = Path(tmp) / "legacy.json"
        with supervisor(path, tmp) as (_, events):
            _started(events, 3, "the venues")
            engine = subprocess.Popen(
                [
                    *(sys.executable, "-m", "bench.legacy", "--spec", json.dumps(spec)),
                    *("--addresses", json.dumps([addresses[v] for v in instance.venues]), "--out", str(out)),
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            assert engine.stdout is not None
            try:
                if Announcements(engine.stdout).next("ready", 60) is None:
                    raise RuntimeError("the legacy engine did not start")
                time.sleep(warmup)
                engine.send_signal(signal.SIGUSR1)
                pipeline = Sampler([engine.pid])
                watch([pipeline], seconds)
            finally:
                engine.send_signal(signal.SIGTERM)
                engine.wait(60)
            results = json.loads(out.read_text())
    values = list(recorded(HdrHistogram.decode(results["tick_to_trade"])))
    gc_pauses = results["gc"]
    return {
        "orders": results["orders"],
        "refused_by_gate": results["refused"],
        "refused_by_gateway": results["refused_by_gateway"],
        "lost": results["lost"] + results["feeds_lost"],
        "messages": results["feeds_messages"],
        "book_changes": results["book_changes"],
        "disconnects": results["disconnects"],
        "unknown_reports": results["unknown_reports"],
        "cpu_percent": pipeline.cpu_percent,
        **pipeline.memory(),
        "longest_pause_us": max(results["longest_wait_us"], gc_pauses["max_us"]),
        "gc": gc_pauses,
    }, values


# --- the report --------------------------------------------------------------------------------


def ratios(rate: dict[str, Any]) -> dict[str, float | None]:
    """How many times tickrail's latency percentiles are lower than the legacy engine's at one
    rate: 0 where tickrail sent no order; ``None`` where only the legacy engine sent none (it
    never acted on the ticks: no finite ratio)."""
    old, new = rate["legacy"]["tick_to_trade_us"], rate["tickrail"]["tick_to_trade_us"]
    out: dict[str, float | None] = {}
    for key in ("p50", "p99", "p999", "max"):
        before, after = old[key], new[key]
        out[key] = 0.0 if not after else None if before is None else before / after
    return out


def goals(rates: list[dict[str, Any]]) -> dict[str, bool]:
    """The run's goals: tickrail's p99 at least 10 times and its max at least 20 times lower than
    the legacy engine's at every rate (met where the legacy engine sent no order at all),
    nothing lost, and less memory (proportional, steady)."""

    def lower(key: str, times: float) -> bool:
        return all(r["ratio"][key] is None or r["ratio"][key] >= times for r in rates)

    return {
        "p99_10x_lower": lower("p99", 10),
        "max_20x_lower": lower("max", 20),
        "nothing_lost": all(r["tickrail"]["lost"] == 0 for r in rates),
        "less_memory": all(r["tickrail"]["pss_steady_mb"] < r["legacy"]["pss_steady_mb"] for r in rates),
    }


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def markdown(result: dict[str, Any]) -> str:
    """The table the README shows."""
    rows = [
        "| rate (msgs/s per venue) | engine | p50 us | p99 us | p99.9 us | max us | p99 uncorrected us "
        "| orders | lost | CPU % | RSS peak MB | PSS steady MB | longest pause us | GC pauses (longest us) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rates"]:
        for engine in ("legacy", "tickrail"):
            e = r[engine]
            t = e["tick_to_trade_us"]
            gc = f"{e['gc']['count']:,} ({e['gc']['max_us']:,.0f})" if "gc" in e else "none (no collector)"
            rows.append(
                f"| {r['msgs_per_s']:,} | {engine} | {_us(t['p50'])} | {_us(t['p99'])} | {_us(t['p999'])} "
                f"| {_us(t['max'])} | {_us(e['uncorrected_us']['p99'])} | {e['orders']:,} | {e['lost']:,} "
                f"| {e['cpu_percent']:.1f} "
                f"| {e['rss_peak_mb']:.0f} | {e['pss_steady_mb']:.0f} | {e['longest_pause_us']:,.0f} | {gc} |"
            )
        cells = ["legacy sent none" if x is None else f"{x:,.1f}x" for x in r["ratio"].values()]
        rows.append(f"| {r['msgs_per_s']:,} | ratio | {' | '.join(cells)} |" + " |" * 8)
    m = result["machine"]
    rows.append("")
    rows.append(
        f"Taken on {m['cpu']}, {len(m['cores_allowed'])} cores, Linux {m['kernel']}, Python {m['python']}; "
        f"{result['seconds']:g} s measured at each rate."
    )
    rows.append(
        "Goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in result["goals"].items()) + "."
    )
    return "\n".join(rows) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    """The latency percentiles of both engines at each rate, log scale, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = result["rates"]
    figure, axes = plt.subplots(1, len(rates), figsize=(4.2 * len(rates), 4), sharey=True, squeeze=False)
    labels = ["p50", "p99", "p99.9", "max"]
    for ax, r in zip(axes[0], rates, strict=True):
        for engine, style, color in (("legacy", "o-", "tab:blue"), ("tickrail", "s-", "tab:orange")):
            t = r[engine]["tick_to_trade_us"]
            values = [t[key] for key in ("p50", "p99", "p999", "max")]
            if all(v is None for v in values):
                ax.text(0.5, 0.5, f"{engine}: no order sent", transform=ax.transAxes, ha="center")
                continue
            ax.plot(labels, [math.nan if v is None else v for v in values], style, color=color, label=engine)
        ax.set_yscale("log")
        ax.set_title(f"{r['msgs_per_s']:,} msgs/s per venue")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("tick-to-trade, us (log)")
    axes[0][0].legend()
    m = result["machine"]
    figure.suptitle(
        f"tick-to-trade, coordinated omission corrected; {m['cpu']}, {len(m['cores_allowed'])} cores"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Runs both engines at each rate; prints JSON or the table, and writes the table and plot."""
    p = argparse.ArgumentParser(prog="python -m bench.before_after", description=__doc__)
    p.add_argument("--rates", type=int, nargs="+", default=list(RATES), help="messages/s per venue")
    p.add_argument("--seconds", type=float, default=60.0, help="the measured window at each rate")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of trading before the window")
    p.add_argument("--seed", type=int, default=7, help="the market's seed, the same for both engines")
    p.add_argument("--quick", action="store_true", help="one short rate (10k/s, 8 s), a smoke check")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where the table and plot go")
    args = p.parse_args(argv)
    if args.quick:
        args.rates, args.seconds, args.warmup = [RATES[0]], 8.0, 3.0
    rates = []
    for rate in args.rates:
        legacy, legacy_values = run_legacy(rate, args.seed, args.warmup, args.seconds)
        tickrail, tickrail_values = run_tickrail(rate, args.seed, args.warmup, args.seconds)
        # The expected interval between orders, the same for both: the window over the most
        # orders either engine sent (the fewer synthetic values of the two choices).
        interval = int(args.seconds * 1e9 / max(tickrail["orders"], legacy["orders"], 1))
        for figures, values in ((legacy, legacy_values), (tickrail, tickrail_values)):
            figures["tick_to_trade_us"] = percentiles_us(corrected(values, interval))
            figures["uncorrected_us"] = percentiles_us(corrected(values, 0))
        entry = {"msgs_per_s": rate, "co_interval_us": interval / 1e3, "tickrail": tickrail, "legacy": legacy}
        entry["ratio"] = ratios(entry)
        rates.append(entry)
        print(f"{rate:,}/s done", file=sys.stderr)
    result: dict[str, Any] = {
        "rates": rates,
        "machine": machine(),
        "seconds": args.seconds,
        "seed": args.seed,
    }
    result["goals"] = goals(rates)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"before-after-{datetime.date.today().isoformat()}{'-quick' if args.quick else ''}"
    table = markdown(result)
    (args.out / f"{stem}.md").write_text(table)
    plot(result, args.out / f"{stem}.png")
    print(json.dumps(result) if args.json else table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
