"""An instance's configuration: one TOML file naming its venues and feeds, where each worker runs
(its core, SCHED_FIFO priority, locked memory), its rings, how the supervisor restarts workers,
and where it serves metrics; read and checked as a whole before anything starts.

Every refusal is a :class:`ConfigError` naming the worker (or the key) and the problem; what is
allowed but unwise (a pinned core the kernel does not isolate, workers sharing too few cores) is
a warning on the loaded :class:`Instance`.
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tickrail.market import LETTERS, listed
from tickrail.restarts import Policy

#: The configuration the project ships: the whole pipeline against the simulated venues.
DEFAULT = Path(__file__).with_name("default.toml")

PROTOCOLS = {"itch", "fix", "json"}
#: The addresses each protocol's venue has: where market data comes from (or goes to, for
#: ITCH's UDP) and where orders and recovery go.
ADDRESSES = {
    "itch": ("market_data", "rerequest", "order_entry"),
    "fix": ("fix",),
    "json": ("market_data", "orders"),
}
WAITS = {"spin", "yield", "backoff", "futex"}
#: The most levels a side the market maker quotes (its tables are fixed).
MAX_QUOTE_LEVELS = 8
_SYSFS_CPU = Path("/sys/devices/system/cpu")


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the worker or key and the problem."""


def worker_name(kind: str, name: str) -> str:
    """A worker's name, as logs, ``tickrail status`` and ``tickrail restart`` know it: ``feed-a``."""
    return f"{kind}-{name}"


@dataclass(frozen=True)
class Pinning:
    """Where a worker runs: pinned to ``core`` (or where the kernel likes), in SCHED_FIFO at
    ``priority`` (or the normal policy), with its memory locked or not."""

    core: int | None = None
    priority: int | None = None
    lock_memory: bool = False


@dataclass(frozen=True)
class Supervision:
    """How the supervisor watches and restarts workers."""

    policy: Policy = field(default_factory=Policy)
    #: A worker whose heartbeat is older than this is hung.
    heartbeat_timeout: float = 3.0


@dataclass(frozen=True)
class Venue:
    """A venue: simulated (started by the supervisor, on the given addresses or free ones) or
    real (only its addresses, all of which are then required)."""

    name: str
    protocol: str
    simulated: bool
    rate: float
    pinning: Pinning
    addresses: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Feed:
    """A feed worker: which venue it follows, the name (within the instance) of the segments it
    publishes to, how it waits."""

    name: str
    venue: str
    segments: str
    ring_capacity: int
    levels: int
    wait: str
    pinning: Pinning


@dataclass(frozen=True)
class Quoting:
    """The built-in market maker's parameters (prices in ticks, sizes in lots of each symbol)."""

    half_spread_ticks: int = 2
    level_spacing_ticks: int = 2
    levels: int = 1
    size_lots: int = 1
    skew_ticks_per_lot: int = 1
    tolerance_ticks: int = 2
    fee_bps: int = 1
    arbitrage_margin_ticks: int = 1
    arbitrage_lots: int = 1


@dataclass(frozen=True)
class RiskLimits:
    """The pre-trade gate's limits (per symbol in lots and currency, and for the portfolio)."""

    max_order_lots: int = 10
    max_order_notional: float = 250_000.0
    price_band_bps: int = 200
    max_position_lots: int = 20
    max_venue_position_lots: int = 10
    max_working_orders: int = 16
    order_rate_per_s: int = 500
    order_burst: int = 100
    cancel_rate_per_s: int = 500
    cancel_burst: int = 100
    max_gross_notional: float = 5_000_000.0
    max_net_notional: float = 2_500_000.0
    max_portfolio_working_orders: int = 96
    max_book_age_ms: int = 2_000
    max_risk_heartbeat_ms: int = 3_000


@dataclass(frozen=True)
class PythonStrategy:
    """A strategy in Python (``module:Class``) run in the execution worker on a slower path, with
    the symbols it trades instead of the built-in market maker and its constructor's keyword
    arguments."""

    strategy: str
    symbols: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Execution:
    """The execution worker: which venues it trades on, how it quotes, its limits, its journal."""

    venues: tuple[str, ...]
    quoting: Quoting
    limits: RiskLimits
    pinning: Pinning
    #: The audit journal's path (default: the instance's, in the runtime directory).
    journal: str | None = None
    #: Whether the loop spins between idle turns (on a core of its own) rather than yielding.
    spin: bool = False
    #: The Python strategy, if some symbols are left to one.
    python: PythonStrategy | None = None


@dataclass(frozen=True)
class Risk:
    """The risk worker (it runs wherever the execution worker does): its limits file, its group
    threads, and how stale a feed's or execution's heartbeat may get before it kills trading."""

    pinning: Pinning
    #: The risk limits file (:mod:`risk.limits`); none: no portfolio risk limits.
    limits: str | None = None
    #: Group threads (0: one per core this process may use).
    threads: int = 0
    max_heartbeat_ms: int = 3_000
    #: Whether idle threads yield and look again at once (cores of their own) rather than wait.
    spin: bool = False
    #: Cores its threads are pinned to, instead of pinning the whole process to ``core``: the
    #: publisher to the first, the group threads to the others in turn.
    cores: tuple[int, ...] = ()


@dataclass(frozen=True)
class Instance:
    """A whole instance, checked."""

    name: str
    seed: int
    venues: dict[str, Venue]
    feeds: dict[str, Feed]
    supervision: Supervision = field(default_factory=Supervision)
    #: The execution worker, if the instance trades.
    execution: Execution | None = None
    #: Where the supervisor serves Prometheus metrics (``host:port``), if anywhere.
    metrics_listen: str | None = None
    #: The risk worker (when the instance trades).
    risk: Risk | None = None
    warnings: list[str] = field(default_factory=list)

    def workers(self) -> list[tuple[str, Pinning]]:
        """Every worker as ``("venue-a", pinning)``, in the order they start."""
        workers = [(worker_name("venue", v.name), v.pinning) for v in self.venues.values() if v.simulated] + [
            (worker_name("feed", f.name), f.pinning) for f in self.feeds.values()
        ]
        if self.risk is not None:
            workers.append(("risk", self.risk.pinning))
        if self.execution is not None:
            workers.append(("execution", self.execution.pinning))
        return workers


@dataclass(frozen=True)
class Machine:
    """What the checks need to know of this machine (the real one by default)."""

    allowed_cores: frozenset[int]
    isolated_cores: frozenset[int]
    siblings: Callable[[int], frozenset[int]]

    @staticmethod
    def this() -> Machine:
        """This machine, as this process sees it."""
        return Machine(frozenset(os.sched_getaffinity(0)), _cpu_list(_SYSFS_CPU / "isolated"), _siblings)


def _parse_cpu_list(text: str) -> frozenset[int]:
    cores: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cores.update(range(int(low), int(high or low) + 1))
    return frozenset(cores)


def _cpu_list(path: Path) -> frozenset[int]:
    try:
        return _parse_cpu_list(path.read_text())
    except OSError:
        return frozenset()


def _siblings(core: int) -> frozenset[int]:
    return _cpu_list(_SYSFS_CPU / f"cpu{core}" / "topology" / "thread_siblings_list") - {core}


class _Table:
    """One TOML table being read: every key must be taken, and each is checked as it is."""

    def __init__(self, where: str, table: Any) -> None:
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: expected a table, not {table!r}")
        self.where, self.table, self.taken = where, table, set[str]()

    def get(
        self, key: str, kind: type, default: Any = ..., check: Callable[[Any], str | None] | None = None
    ) -> Any:
        self.taken.add(key)
        if key not in self.table:
            if default is ...:
                raise ConfigError(f"{self.where}: {key} is missing")
            return default
        value = self.table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            raise ConfigError(f"{self.where}: {key} must be a {kind.__name__}, not {value!r}")
        problem = check(value) if check else None
        if problem:
            raise ConfigError(f"{self.where}: {key} {value!r} {problem}")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.table) - self.taken)
        if unknown:
            raise ConfigError(f"{self.where}: unknown key {unknown[0]!r}")


def _one_of(options: set[str]) -> Callable[[Any], str | None]:
    return lambda v: None if v in options else f"is not one of {', '.join(sorted(options))}"


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be positive"


def _core(v: Any) -> str | None:
    return None if v >= 0 else "is not a core number"


def _plain_name(v: Any) -> str | None:
    return None if v and all(c.isalnum() or c in "_-" for c in v) else "is not a plain name"


def _priority(v: Any) -> str | None:
    return None if 1 <= v <= 99 else "is not a SCHED_FIFO priority (1..=99)"


def _pinning(t: _Table) -> Pinning:
    return Pinning(
        core=t.get("core", int, None, check=_core),
        priority=t.get("priority", int, None, check=_priority),
        lock_memory=t.get("lock_memory", bool, False),
    )


def _supervision(t: _Table) -> Supervision:
    defaults = Policy()
    try:
        policy = Policy(
            first_delay=t.get("restart_delay_s", float, defaults.first_delay, check=_positive),
            max_delay=t.get("restart_delay_max_s", float, defaults.max_delay, check=_positive),
            max_restarts=t.get("max_restarts", int, defaults.max_restarts, check=_positive),
            healthy_after=t.get("healthy_after_s", float, defaults.healthy_after, check=_positive),
            intensity=t.get("intensity", int, defaults.intensity, check=_positive),
            period=t.get("period_s", float, defaults.period, check=_positive),
        )
    except ValueError as e:
        raise ConfigError(f"{t.where}: {e}") from None
    timeout = t.get("heartbeat_timeout_s", float, Supervision().heartbeat_timeout, check=_positive)
    t.done()
    return Supervision(policy, timeout)


def _fields(t: _Table, defaults: Any) -> dict[str, Any]:
    """Every field of the dataclass instance `defaults`, read from `t` (positive numbers)."""
    values = {}
    for name, default in vars(defaults).items():
        kind = float if isinstance(default, float) else int
        values[name] = t.get(name, kind, default, check=_positive if kind is float else _not_negative)
    t.done()
    return values


def _not_negative(v: Any) -> str | None:
    return None if v >= 0 else "must not be negative"


def _execution(t: _Table, venues: dict[str, Venue], feeds: dict[str, Feed]) -> Execution:
    fed = {f.venue for f in feeds.values()}
    default = tuple(name for name in venues if name in fed)
    traded = tuple(t.get("venues", list, list(default)))
    for name in traded:
        if not isinstance(name, str) or name not in venues:
            raise ConfigError(f"execution: venue {name!r} is not configured")
        if name not in fed:
            raise ConfigError(f"execution: venue {name!r} has no feed to read its book from")
    quoting = Quoting(**_fields(_Table("execution quoting", t.get("quoting", dict, {})), Quoting()))
    limits = RiskLimits(**_fields(_Table("execution limits", t.get("limits", dict, {})), RiskLimits()))
    if not 1 <= quoting.levels <= MAX_QUOTE_LEVELS or quoting.size_lots < 1:
        raise ConfigError(
            f"execution quoting: levels must be within 1..={MAX_QUOTE_LEVELS} and size_lots at least 1"
        )
    python = t.get("python", dict, None)
    execution = Execution(
        traded,
        quoting,
        limits,
        _pinning(t),
        t.get("journal", str, None),
        t.get("spin", bool, False),
        None if python is None else _python_strategy(_Table("execution python", python), traded, venues),
    )
    t.done()
    return execution


def _risk(t: _Table) -> Risk:
    risk = Risk(
        _pinning(t),
        limits=t.get("limits", str, None),
        threads=t.get("threads", int, 0, check=_not_negative),
        max_heartbeat_ms=t.get("max_heartbeat_ms", int, 3_000, check=_positive),
        spin=t.get("spin", bool, False),
        cores=tuple(t.get("cores", list, [])),
    )
    if any(not isinstance(c, int) or isinstance(c, bool) or c < 0 for c in risk.cores):
        raise ConfigError(f"risk: cores {list(risk.cores)} are not all core numbers")
    if risk.cores and risk.pinning.core is not None:
        raise ConfigError("risk: give core (the whole process) or cores (its group threads), not both")
    t.done()
    return risk


def _python_strategy(t: _Table, traded: tuple[str, ...], venues: dict[str, Venue]) -> PythonStrategy:
    """The ``[execution.python]`` table: the strategy must be importable as ``module:Class`` and
    its symbols listed on a venue traded."""
    strategy = t.get("strategy", str, None)
    module, _, name = (strategy or "").partition(":")
    if not module or not name.isidentifier():
        raise ConfigError(f"execution python: strategy must be 'module:Class', not {strategy!r}")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise ConfigError(f"execution python: no module {module!r} to import the strategy from")
    listed_there = {s.name for v in traded for s in listed(LETTERS[venues[v].protocol])}
    symbols = t.get("symbols", list, [])
    if not symbols:
        raise ConfigError("execution python: symbols must name at least one symbol")
    for symbol in symbols:
        if symbol not in listed_there:
            raise ConfigError(f"execution python: symbol {symbol!r} is not listed on a venue traded")
    params = t.get("params", dict, {})
    t.done()
    return PythonStrategy(strategy or "", tuple(symbols), dict(params))


def _address(v: Any) -> str | None:
    host, _, port = v.rpartition(":")
    return None if host and port.isdigit() and int(port) < 65536 else "is not host:port"


def parse(text: str, machine: Machine | None = None) -> Instance:
    """Reads and checks an instance from TOML ``text``."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not TOML: {e}") from None
    root = _Table("config", document)
    instance = _Table("instance", root.get("instance", dict))
    name = instance.get("name", str, check=lambda v: None if v.isidentifier() else "is not a plain name")
    seed = instance.get("seed", int, 7)
    instance.done()
    supervision = _supervision(_Table("supervisor", root.get("supervisor", dict, {})))
    metrics = _Table("metrics", root.get("metrics", dict, {}))
    metrics_listen = metrics.get("listen", str, None, check=_address)
    metrics.done()
    venues = {}
    for venue_name, table in root.get("venues", dict).items():
        where = worker_name("venue", venue_name)
        t = _Table(where, table)
        protocol = t.get("protocol", str, check=_one_of(PROTOCOLS))
        simulated = t.get("simulated", bool, True)
        given = _Table(f"{where} addresses", t.get("addresses", dict, {}))
        required = None if simulated else ...
        addresses = {key: given.get(key, str, required, check=_address) for key in ADDRESSES[protocol]}
        given.done()
        venues[venue_name] = Venue(
            name=venue_name,
            protocol=protocol,
            simulated=simulated,
            rate=t.get("rate", float, 20_000.0, check=_positive),
            pinning=_pinning(t),
            addresses={key: value for key, value in addresses.items() if value is not None},
        )
        t.done()
    feeds = {}
    for feed_name, table in root.get("feeds", dict, {}).items():
        t = _Table(worker_name("feed", feed_name), table)
        feeds[feed_name] = Feed(
            name=feed_name,
            venue=t.get("venue", str),
            segments=t.get("segments", str, feed_name, check=_plain_name),
            ring_capacity=t.get(
                "ring_capacity",
                int,
                1 << 16,
                check=lambda v: None if v > 0 and v & (v - 1) == 0 else "is not a power of two",
            ),
            levels=t.get("levels", int, 10, check=lambda v: None if 1 <= v <= 10 else "is not within 1..=10"),
            wait=t.get("wait", str, "auto", check=_one_of(WAITS | {"auto"})),
            pinning=_pinning(t),
        )
        t.done()
    execution = None
    if "execution" in root.table:
        execution = _execution(_Table("execution", root.get("execution", dict)), venues, feeds)
    risk_table = _Table("risk", root.get("risk", dict, {}))
    risk = _risk(risk_table) if execution is not None else None
    if execution is None and risk_table.table:
        raise ConfigError("risk: there is no [execution] table for a risk worker to watch")
    root.done()
    whole = Instance(
        name,
        seed,
        venues,
        feeds,
        supervision=supervision,
        metrics_listen=metrics_listen,
        execution=execution,
        risk=risk,
    )
    return check(whole, machine or Machine.this())


def load(path: Path, machine: Machine | None = None) -> Instance:
    """Reads and checks the instance in the TOML file at ``path``."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror}") from None
    try:
        instance = parse(text, machine)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    risk = instance.risk
    if risk is not None and risk.limits is not None and not Path(risk.limits).is_absolute():
        # A limits file is found beside the configuration that names it.
        return replace(instance, risk=replace(risk, limits=str(path.parent / risk.limits)))
    return instance


def check(instance: Instance, machine: Machine) -> Instance:
    """Refuses what cannot run, warns of what runs badly, and picks the waits left to ``auto``."""
    warnings: list[str] = []
    segments: dict[str, str] = {}
    for feed in instance.feeds.values():
        worker = worker_name("feed", feed.name)
        if feed.venue not in instance.venues:
            raise ConfigError(f"{worker}: venue {feed.venue!r} is not configured")
        if feed.segments in segments:
            raise ConfigError(f"{worker}: segments {feed.segments!r} are already {segments[feed.segments]}'s")
        segments[feed.segments] = worker
    pinned: dict[int, str] = {}
    allowed = ", ".join(map(str, sorted(machine.allowed_cores)))
    for worker, pinning in instance.workers():
        core = pinning.core
        if core is None:
            continue
        if core not in machine.allowed_cores:
            raise ConfigError(f"{worker}: core {core} is not one this process may use (allowed: {allowed})")
        if core in pinned:
            raise ConfigError(f"{worker}: core {core} is already {pinned[core]}'s")
        for sibling in machine.siblings(core) & set(pinned):
            raise ConfigError(
                f"{worker}: core {core} is an SMT sibling of core {sibling}, {pinned[sibling]}'s"
            )
        pinned[core] = worker
        if core not in machine.isolated_cores:
            warnings.append(f"{worker}: core {core} is not isolated (isolcpus): other tasks may run on it")
    risk_cores = set(instance.risk.cores) if instance.risk is not None else set()
    for core in sorted(risk_cores):
        if core not in machine.allowed_cores:
            raise ConfigError(f"risk: core {core} is not one this process may use (allowed: {allowed})")
        if core in pinned:
            raise ConfigError(f"risk: core {core} is already {pinned[core]}'s")
    few_cores = len(machine.allowed_cores) < len(instance.workers())
    if few_cores:
        warnings.append(
            f"{len(instance.workers())} workers share {len(machine.allowed_cores)} cores: pinning is shared "
            "and waits left to 'auto' yield instead of spinning"
        )
    auto = "yield" if few_cores else "spin"
    feeds = {name: replace(f, wait=auto) if f.wait == "auto" else f for name, f in instance.feeds.items()}
    return replace(instance, feeds=feeds, warnings=warnings)
