"""Moving numpy record arrays through rings and queues with at most one copy each way.

The native methods take any C-contiguous buffer and a record size; these helpers pass the
array's own memory (no intermediate copy) and release the GIL while the records are copied.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tickrail._native import BroadcastReader, BroadcastWriter, QueueReader, QueueWriter


def _contiguous(records: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if records.ndim != 1:
        raise ValueError(f"expected a 1-D record array, got shape {records.shape}")
    return np.ascontiguousarray(records)


def publish_array(writer: BroadcastWriter, records: npt.NDArray[Any]) -> int:
    """Publishes every record of a 1-D structured array; returns how many."""
    records = _contiguous(records)
    return writer.publish_records(records, records.dtype.itemsize)


def read_array(
    reader: BroadcastReader, dtype: np.dtype[Any], max_records: int
) -> tuple[npt.NDArray[Any], int]:
    """Reads up to ``max_records`` records; returns them and the number of messages lost meanwhile."""
    out = np.zeros(max_records, dtype=dtype)
    filled, lost = reader.read_records(out, dtype.itemsize)
    return out[:filled], lost


def push_array(writer: QueueWriter, records: npt.NDArray[Any]) -> int:
    """Pushes as many records of a 1-D structured array as the queue has room for; returns how many."""
    records = _contiguous(records)
    return writer.push_records(records, records.dtype.itemsize)


def pop_array(reader: QueueReader, dtype: np.dtype[Any], max_records: int) -> npt.NDArray[Any]:
    """Pops up to ``max_records`` records."""
    out = np.zeros(max_records, dtype=dtype)
    return out[: reader.pop_records(out, dtype.itemsize)]
