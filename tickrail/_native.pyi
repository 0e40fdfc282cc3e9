"""Type stubs of the tickrail._native extension module (checked with mypy.stubtest)."""

import os
from types import TracebackType
from typing import Any, Final, Literal, NotRequired, Self, TypedDict, final

import numpy as np
from typing_extensions import Buffer

import risk.reference.gate as _ref_gate
import risk.reference.portfolio as _ref_portfolio

__all__ = [
    "FIXED_POINT_SCALE",
    "FLAG_STALE",
    "GATE_CALLS",
    "LAYOUT_VERSION",
    "REPORT_KINDS",
    "STATE_REASONS",
    "TRADING_STATES",
    "TRADING_STATE_FIRST",
    "TRADING_STATE_RELOADED",
    "BroadcastReader",
    "BroadcastWriter",
    "ExecutionWorker",
    "FeedWorker",
    "FixVenueServer",
    "Flow",
    "Gate",
    "ItchVenue",
    "ItchVenueServer",
    "JsonVenueServer",
    "LayoutMismatch",
    "Market",
    "MessageTooLarge",
    "MessageView",
    "QueueReader",
    "QueueWriter",
    "RiskEngine",
    "RiskWorker",
    "RoleTaken",
    "SegmentCorrupt",
    "SegmentExists",
    "SegmentNotFound",
    "SegmentNotReady",
    "SegmentPermissionError",
    "SeqlockContended",
    "ShmError",
    "SlotReader",
    "SlotWriter",
    "create_execution_metrics",
    "create_execution_reports",
    "create_feed_segments",
    "execution_report",
    "feed_report",
    "fix_decode",
    "fix_encode",
    "gate_limits",
    "journal_reports",
    "list_segments",
    "record_layouts",
    "remove_if_stale",
    "replay",
    "segment_info",
    "segment_stats",
    "unlink",
]

LAYOUT_VERSION: Final[int]
GATE_CALLS: Final[dict[str, int]]
TRADING_STATE_FIRST: Final[int]
TRADING_STATE_RELOADED: Final[int]
FIXED_POINT_SCALE: Final[int]
FLAG_STALE: Final[int]
TRADING_STATES: Final[dict[str, int]]
STATE_REASONS: Final[dict[str, int]]
REPORT_KINDS: Final[dict[str, int]]

WaitName = Literal["spin", "yield", "backoff", "futex"] | str
# numpy arrays export the buffer protocol; their stubs say so only from Python 3.12 on.
BufferLike = Buffer | np.ndarray[Any, Any]

class ShmError(Exception): ...
class SegmentNotFound(ShmError): ...
class SegmentExists(ShmError): ...
class SegmentPermissionError(ShmError): ...
class LayoutMismatch(ShmError): ...
class SegmentNotReady(ShmError): ...
class SegmentCorrupt(ShmError): ...
class RoleTaken(ShmError): ...
class MessageTooLarge(ShmError): ...
class SeqlockContended(ShmError): ...

class FieldLayout(TypedDict):
    name: str
    format: str
    offset: int
    count: int

class RecordLayout(TypedDict):
    name: str
    type_id: int | None
    size: int
    fields: list[FieldLayout]

class SegmentInfo(TypedDict):
    name: str
    kind: Literal["broadcast", "queue", "slots", "metrics"]
    layout_version: int
    capacity: int
    max_message_size: int
    max_readers: int
    slot_size: int
    total_size: int
    mode: int
    creator_pid: int
    creator_alive: bool
    created_realtime_ns: int

class ReaderStats(TypedDict):
    index: int
    pid: int
    alive: bool
    cursor: int
    consumed: int
    lag: int
    lost: int
    overruns: int

class SegmentStats(SegmentInfo):
    writer_pid: int
    writer_alive: bool
    writer_attaches: int
    published: int
    heartbeat_ns: int
    heartbeat_age_ns: int
    backpressure_events: int
    seqlock_retries: int
    seqlock_failures: int
    lost: int
    overruns: int
    readers: list[ReaderStats]

def record_layouts() -> list[RecordLayout]: ...
def fix_encode(msg_type: str, fields: list[tuple[int, str]]) -> bytes: ...
def fix_decode(data: bytes) -> tuple[list[tuple[int, bytes]], int] | None: ...
def unlink(name: str) -> None: ...
def remove_if_stale(name: str) -> bool: ...
def list_segments(prefix: str) -> list[str]: ...
def segment_info(name: str) -> SegmentInfo: ...
def segment_stats(name: str) -> SegmentStats: ...

class _Handle:
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

@final
class BroadcastWriter(_Handle):
    @staticmethod
    def create(
        name: str,
        capacity: int,
        max_message_size: int,
        max_readers: int,
        *,
        mode: int = 0o600,
        group: int | None = None,
        replace_stale: bool = False,
    ) -> BroadcastWriter: ...
    @staticmethod
    def attach(
        name: str, *, capacity: int | None = None, max_message_size: int | None = None
    ) -> BroadcastWriter: ...
    def publish(self, data: bytes) -> int: ...
    def publish_records(self, records: BufferLike, record_size: int) -> int: ...
    def heartbeat(self) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def next_seq(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def max_message_size(self) -> int: ...

@final
class BroadcastReader(_Handle):
    @staticmethod
    def attach(
        name: str,
        start: Literal["latest", "oldest"] | str = "latest",
        wait: WaitName = "backoff",
        *,
        capacity: int | None = None,
        max_message_size: int | None = None,
    ) -> BroadcastReader: ...
    @staticmethod
    def resume(name: str, index: int, wait: WaitName = "backoff") -> BroadcastReader: ...
    def read(self) -> bytes | None: ...
    def read_records(self, out: BufferLike, record_size: int) -> tuple[int, int]: ...
    def wait(self, timeout: float) -> bool: ...
    @property
    def last_seq(self) -> int | None: ...
    @property
    def index(self) -> int: ...
    @property
    def cursor(self) -> int: ...
    @property
    def consumed(self) -> int: ...
    @property
    def lost(self) -> int: ...
    @property
    def wait_strategy(self) -> str: ...
    @property
    def max_message_size(self) -> int: ...

@final
class QueueWriter(_Handle):
    @staticmethod
    def create(
        name: str,
        capacity: int,
        max_message_size: int,
        *,
        mode: int = 0o600,
        group: int | None = None,
        replace_stale: bool = False,
        wait: WaitName = "backoff",
    ) -> QueueWriter: ...
    @staticmethod
    def attach(
        name: str,
        wait: WaitName = "backoff",
        *,
        capacity: int | None = None,
        max_message_size: int | None = None,
    ) -> QueueWriter: ...
    def try_push(self, data: bytes) -> bool: ...
    def push(self, data: bytes, timeout: float) -> bool: ...
    def push_records(self, records: BufferLike, record_size: int) -> int: ...
    def wait_for_space(self, timeout: float) -> bool: ...
    def heartbeat(self) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def next_seq(self) -> int: ...
    @property
    def capacity(self) -> int: ...

@final
class QueueReader(_Handle):
    @staticmethod
    def attach(
        name: str,
        wait: WaitName = "backoff",
        *,
        capacity: int | None = None,
        max_message_size: int | None = None,
    ) -> QueueReader: ...
    def pop(self) -> bytes | None: ...
    def pop_records(self, out: BufferLike, record_size: int) -> int: ...
    def wait(self, timeout: float) -> bool: ...
    def peek(self) -> MessageView | None: ...
    def commit(self) -> bool: ...
    @property
    def cursor(self) -> int: ...

@final
class MessageView:
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...
    def __len__(self) -> int: ...
    @property
    def seq(self) -> int: ...

@final
class SlotWriter(_Handle):
    @staticmethod
    def create(
        name: str,
        keys: int,
        record_size: int,
        *,
        mode: int = 0o600,
        group: int | None = None,
        replace_stale: bool = False,
    ) -> SlotWriter: ...
    @staticmethod
    def attach(name: str, *, keys: int | None = None, record_size: int | None = None) -> SlotWriter: ...
    def write(self, key: int, record: BufferLike) -> None: ...
    def heartbeat(self) -> None: ...
    @property
    def keys(self) -> int: ...
    @property
    def record_size(self) -> int: ...

@final
class SlotReader(_Handle):
    @staticmethod
    def open(
        name: str, max_retries: int | None = None, *, keys: int | None = None, record_size: int | None = None
    ) -> SlotReader: ...
    def read(self, key: int) -> bytes | None: ...
    def read_into(self, key: int, out: BufferLike) -> int | None: ...
    @property
    def keys(self) -> int: ...
    @property
    def record_size(self) -> int: ...

@final
class ItchVenue:
    def __new__(cls, market: Market, flow: Flow, *, session_name: str = "TICKRAIL01") -> ItchVenue: ...
    def open(self) -> list[bytes]: ...
    def step(self, actions: int) -> list[bytes]: ...
    def serve(self, request: bytes) -> list[bytes]: ...
    def heartbeat(self) -> bytes: ...
    @property
    def next_sequence(self) -> int: ...
    def levels(self, symbol: int, side: Literal["buy", "sell"] | str) -> list[tuple[int, int]]: ...

SymbolTuple = tuple[str, int, int, int, float, int]

@final
class Market:
    def __new__(
        cls,
        seed: int,
        symbols: list[SymbolTuple],
        *,
        bursts_per_s: float = 0.2,
        burst_ns: int = 200_000_000,
        burst_factor: float = 3.0,
    ) -> Self: ...
    @property
    def symbols(self) -> list[str]: ...

@final
class Flow:
    def __new__(
        cls,
        venue: int,
        *,
        rate_per_s: float = 20_000.0,
        lag_ns: int = 0,
        noise: float = 0.5,
        cancel_share: float = 0.3,
        marketable_share: float = 0.1,
    ) -> Self: ...
    @property
    def rate_per_s(self) -> float: ...

@final
class ItchVenueServer:
    def __new__(
        cls,
        market: Market,
        flow: Flow,
        destination: str,
        *,
        rerequest: str = "127.0.0.1:0",
        session_name: str = "TICKRAIL01",
        heartbeat_ms: int = 1000,
        drop: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        fault_seed: int = 0,
        blackouts: list[tuple[int, int]] = ...,
        linger_ms: int = 1000,
        order_entry: str | None = None,
        users: list[tuple[str, str]] = ...,
    ) -> Self: ...
    @property
    def destination(self) -> str: ...
    @property
    def rerequest_addr(self) -> str: ...
    @property
    def order_entry_addr(self) -> str | None: ...
    @property
    def running(self) -> bool: ...
    def start(self) -> None: ...
    def close(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...

@final
class FixVenueServer:
    def __new__(
        cls,
        market: Market,
        flow: Flow,
        *,
        addr: str = "127.0.0.1:0",
        comp_id: str = "VENUEB",
        drop: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        disconnect_every: int | None = None,
        fault_seed: int = 0,
        linger_ms: int = 1000,
    ) -> Self: ...
    @property
    def addr(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def start(self) -> None: ...
    def close(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...

@final
class JsonVenueServer:
    def __new__(
        cls,
        market: Market,
        flow: Flow,
        *,
        market_data: str = "127.0.0.1:0",
        orders: str = "127.0.0.1:0",
        api_keys: list[tuple[str, str]] = ...,
        drop: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        disconnect: float = 0.0,
        fault_seed: int = 0,
        faults_for_ms: int = ...,
        linger_ms: int = 1000,
    ) -> Self: ...
    @property
    def market_data_addr(self) -> str: ...
    @property
    def order_addr(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def start(self) -> None: ...
    def close(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...

@final
class FeedWorker:
    @staticmethod
    def itch(
        prefix: str,
        listen: str,
        rerequest: str,
        instruments: list[tuple[str, int]],
        *,
        session_name: str = "TICKRAIL01",
        interface: str = "127.0.0.1",
        poll: str = "block",
        retry_ms: int = 20,
        record: str | None = None,
        replace_stale: bool = False,
        attach: bool = False,
        max_pending: int = 4096,
        orders_per_book: int = 4096,
        levels: int = 10,
    ) -> FeedWorker: ...
    @staticmethod
    def fix(
        prefix: str,
        venue: str,
        symbols: list[str],
        instruments: list[tuple[str, int]],
        *,
        sender_comp_id: str = "TICKRAIL",
        target_comp_id: str = "VENUEB",
        heartbeat_s: int = 1,
        record: str | None = None,
        replace_stale: bool = False,
        attach: bool = False,
        levels: int = 10,
    ) -> FeedWorker: ...
    @staticmethod
    def depth(
        prefix: str,
        venue: str,
        symbols: list[str],
        instruments: list[tuple[str, int]],
        *,
        record: str | None = None,
        replace_stale: bool = False,
        attach: bool = False,
        levels: int = 10,
    ) -> FeedWorker: ...
    @property
    def address(self) -> str: ...
    @property
    def segments(self) -> tuple[str, str, str]: ...
    @property
    def running(self) -> bool: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def unlink(self) -> None: ...

class LatencyReport(TypedDict):
    count: int
    mean: float
    p50: int
    p99: int
    p999: int
    max: int
    sum: int
    buckets: list[tuple[int, int]]

class FeedReport(TypedDict):
    counters: dict[str, int]
    latency_ns: LatencyReport

def feed_report(name: str) -> FeedReport: ...

class ExecutionVenue(TypedDict):
    protocol: Literal["ouch", "fix", "json"]
    address: str
    books: str
    symbols: list[tuple[str, int]]
    login: str
    credential: str

class ExecutionSymbol(TypedDict):
    instrument: int
    tick: int
    lot: int
    min_quantity: int
    max_quantity: int
    max_notional: int
    price_band_bps: int
    max_position: int
    max_venue_position: int
    max_working_orders: int
    order_rate_per_s: int
    order_burst: int
    cancel_rate_per_s: int
    cancel_burst: int
    half_spread_ticks: int
    level_spacing_ticks: int
    levels: int
    size: int
    skew_ticks_per_lot: int
    tolerance_ticks: int
    fee_bps: int
    arbitrage_margin_ticks: int
    arbitrage_size: int

class ExecutionPortfolio(TypedDict):
    max_gross_notional: int
    max_net_notional: int
    max_working_orders: int
    max_risk_heartbeat_age_ms: int
    max_book_age_ms: int

@final
class ExecutionWorker:
    def __new__(
        cls,
        venues: list[ExecutionVenue] | list[dict[str, Any]],
        symbols: list[ExecutionSymbol] | list[dict[str, Any]],
        portfolio: ExecutionPortfolio | dict[str, Any],
        *,
        trading: str,
        metrics: str,
        journal: str,
        reports: str | None = None,
        gate_calls: str | None = None,
        linked: list[int] = ...,
        spin: bool = False,
    ) -> ExecutionWorker: ...
    def start(self) -> None: ...
    @property
    def running(self) -> bool: ...
    def stop(self) -> None: ...
    @property
    def metrics(self) -> str: ...
    def strategy_events(self, timeout: float, max: int = 256) -> list[tuple[Any, ...]]: ...
    def strategy_send(self, requests: list[tuple[Any, ...]]) -> None: ...

class TickToTrade(TypedDict):
    count: int
    p50: int
    p99: int
    p999: int
    max: int
    values: NotRequired[list[tuple[int, int]]]

class ExecutionReport(TypedDict):
    counters: dict[str, int]
    rejections: dict[str, int]
    tick_to_trade_ns: TickToTrade
    linked_tick_to_trade_ns: TickToTrade
    stages_ns: dict[str, TickToTrade]

def gate_limits(symbols: list[dict[str, Any]], portfolio: dict[str, Any], venues: int) -> dict[str, Any]: ...
def journal_reports(path: str | os.PathLike[str], instruments: list[int], venues: int) -> bytes: ...
def execution_report(name: str, *, values: bool = False) -> ExecutionReport: ...
def create_execution_metrics(name: str, *, replace_stale: bool = False) -> None: ...
def create_execution_reports(name: str, capacity: int, *, replace_stale: bool = False) -> None: ...
def create_feed_segments(
    prefix: str, *, ring_capacity: int = 65536, replace_stale: bool = False
) -> tuple[str, str, str]: ...
def replay(
    venue: str,
    path: str,
    prefix: str,
    symbols: list[str],
    instruments: list[tuple[str, int]],
    *,
    session_name: str = "TICKRAIL01",
    target_comp_id: str = "VENUEB",
    speed: float | None = None,
    replace_stale: bool = False,
) -> dict[str, Any]: ...

# The Rust risk rules, one call at a time, beside the reference rules (`risk.reference`):
# arguments are the reference's own objects, read by attribute.

@final
class Gate:
    """The Rust pre-trade gate (``risk::Gate``); a rejection is its reason's name."""

    def __new__(cls, limits: _ref_gate.Limits, now_ns: int) -> Gate: ...
    def check_new(
        self,
        order: _ref_gate.NewOrder,
        market: _ref_gate.MarketView,
        trading: _ref_gate.TradingView,
        now_ns: int,
    ) -> str | None: ...
    def check_replace(
        self,
        replace: _ref_gate.Replace,
        market: _ref_gate.MarketView,
        trading: _ref_gate.TradingView,
        now_ns: int,
    ) -> str | None: ...
    def cancel_sent(self, venue: int, instrument: int, now_ns: int) -> None: ...
    def filled(self, venue: int, instrument: int, id: int, quantity: int) -> None: ...
    def done(self, venue: int, instrument: int, id: int) -> None: ...
    def replace_refused(
        self, replace: _ref_gate.Replace, original_price: int, original_open: int
    ) -> None: ...
    def restore_working(self, order: _ref_gate.NewOrder) -> str | None: ...
    def restore_replacing(self, original: int, replacement: _ref_gate.NewOrder) -> str | None: ...
    def restore_position(self, venue: int, instrument: int, quantity: int) -> str | None: ...
    def rejections(self) -> list[int]: ...
    @property
    def passed(self) -> int: ...
    def venue_holding(self, venue: int, instrument: int) -> tuple[int, int, int] | None: ...
    def symbol_holding(self, instrument: int) -> tuple[int, int, int] | None: ...
    def working(self, venue: int, instrument: int) -> list[tuple[int, int, int, int]]: ...

@final
class RiskEngine:
    """The Rust portfolio risk engine (``risk::watch``); a state change is
    ``(key, before, after, cause)``."""

    def __new__(
        cls,
        symbols: list[_ref_portfolio.SymbolRiskLimits],
        portfolio: _ref_portfolio.PortfolioRiskLimits,
        venues: int,
    ) -> RiskEngine: ...
    def apply(self, report: _ref_portfolio.ReportFacts) -> list[tuple[int, int, int, str]]: ...
    def mark(self, instrument: int, venue: int, bid: int, ask: int) -> list[tuple[int, int, int, str]]: ...
    def operator(self, key: int, state: int) -> list[tuple[int, int, int, str]]: ...
    def state(self, key: int) -> int | None: ...
    def symbol(
        self, instrument: int
    ) -> tuple[int, int, int, int, int, int, int, int, int, int, int, int] | None: ...
    def totals(self) -> tuple[int, int, int, int, int]: ...

class RiskChange(TypedDict):
    key: int
    before: int
    after: int
    cause: str
    symbol: dict[str, Any] | None
    portfolio: dict[str, Any]
    visible_after_ns: int | None
    segment: str | None

class RiskView(TypedDict):
    symbols: list[dict[str, Any]]
    portfolio: dict[str, Any]
    reports: int
    refused: int
    forwards_dropped: int

@final
class RiskWorker:
    """The risk worker's threads (``risk::worker``): symbol groups and the publisher."""

    def __new__(
        cls,
        symbols: list[_ref_portfolio.SymbolRiskLimits],
        portfolio: _ref_portfolio.PortfolioRiskLimits,
        *,
        books: list[str | None],
        reports: str,
        commands: str,
        trading: str,
        forward: str | None = None,
        events: str | None = None,
        watched: list[str] = ...,
        max_heartbeat_age_ms: int = 3000,
        threads: int = 1,
        cores: list[int] = ...,
        mark_every_us: int = 1000,
        idle_us: int = 1000,
        spin: bool = False,
        replay: bytes | None = None,
    ) -> RiskWorker: ...
    def set_limits(
        self, symbols: list[_ref_portfolio.SymbolRiskLimits], portfolio: _ref_portfolio.PortfolioRiskLimits
    ) -> None: ...
    def changes(self) -> list[RiskChange]: ...
    def view(self) -> RiskView: ...
    def reports(self) -> tuple[int, int]: ...
    @property
    def running(self) -> bool: ...
    def stop(self) -> None: ...
