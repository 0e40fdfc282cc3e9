"""shm_layout: lock-free shared-memory rings, queues and seqlock slots for one machine.

Every object is a named POSIX shared-memory segment with a versioned header. Three structures
sit on top, each with exactly one writer:

* :class:`BroadcastWriter` / :class:`BroadcastReader`: one writer, many readers, the writer never
  waits; a lapped reader skips what it lost and counts it.
* :class:`QueueWriter` / :class:`QueueReader`: one writer, one reader, back-pressure; the reader's
  cursor is in the segment, so a restarted reader resumes exactly. ``QueueReader.peek()`` shows
  the next message in place (a :class:`MessageView`, zero-copy) until ``commit()``.
* :class:`SlotWriter` / :class:`SlotReader`: seqlock slots, the latest record per key.

The protocol lives in the Rust crate of the same name; this package re-exports its PyO3
bindings (:mod:`tickrail._native`) with numpy helpers and dtypes.
"""

from shm_layout.arrays import pop_array, publish_array, push_array, read_array
from shm_layout.records import (
    DTYPES,
    EXECUTION_REPORT,
    FIXED_POINT_SCALE,
    FLAG_STALE,
    GATE_CALL,
    MARK,
    MARKET_EVENT,
    TOP_OF_BOOK,
    TRADING_STATE,
    TYPE_IDS,
)
from shm_layout.waits import WaitStrategy
from tickrail._native import (
    LAYOUT_VERSION,
    BroadcastReader,
    BroadcastWriter,
    LayoutMismatch,
    MessageTooLarge,
    MessageView,
    QueueReader,
    QueueWriter,
    RoleTaken,
    SegmentCorrupt,
    SegmentExists,
    SegmentNotFound,
    SegmentNotReady,
    SegmentPermissionError,
    SeqlockContended,
    ShmError,
    SlotReader,
    SlotWriter,
    list_segments,
    remove_if_stale,
    segment_info,
    segment_stats,
    unlink,
)

__all__ = [
    "DTYPES",
    "EXECUTION_REPORT",
    "FIXED_POINT_SCALE",
    "FLAG_STALE",
    "GATE_CALL",
    "LAYOUT_VERSION",
    "MARK",
    "MARKET_EVENT",
    "TOP_OF_BOOK",
    "TRADING_STATE",
    "TYPE_IDS",
    "BroadcastReader",
    "BroadcastWriter",
    "LayoutMismatch",
    "MessageTooLarge",
    "MessageView",
    "QueueReader",
    "QueueWriter",
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
    "WaitStrategy",
    "list_segments",
    "pop_array",
    "publish_array",
    "push_array",
    "read_array",
    "remove_if_stale",
    "segment_info",
    "segment_stats",
    "unlink",
]
