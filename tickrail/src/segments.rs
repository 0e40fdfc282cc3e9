//! Segment lifecycle and inspection: unlink, stale removal, listing, info and stats as dicts.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use shm_layout::{SegmentInfo, SegmentStats};

use crate::errors::IntoPyResult;

/// Removes a segment's name; processes that mapped it keep their mapping.
#[pyfunction]
#[pyo3(name = "unlink")]
fn py_unlink(name: &str) -> PyResult<()> {
    shm_layout::unlink(name).py()
}

/// Unlinks `name` if its creator is dead; returns whether it did.
#[pyfunction]
#[pyo3(name = "remove_if_stale")]
fn py_remove_if_stale(name: &str) -> PyResult<bool> {
    shm_layout::remove_if_stale(name).py()
}

/// Names of the segments starting with `prefix`, sorted.
#[pyfunction]
#[pyo3(name = "list_segments")]
fn py_list_segments(prefix: &str) -> PyResult<Vec<String>> {
    shm_layout::list_segments(prefix).py()
}

fn info_dict<'py>(py: Python<'py>, info: &SegmentInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &info.name)?;
    d.set_item("kind", info.kind.as_str())?;
    d.set_item("layout_version", info.layout_version)?;
    d.set_item("capacity", info.capacity)?;
    d.set_item("max_message_size", info.max_message_size)?;
    d.set_item("max_readers", info.max_readers)?;
    d.set_item("slot_size", info.slot_size)?;
    d.set_item("total_size", info.total_size)?;
    d.set_item("mode", info.mode)?;
    d.set_item("creator_pid", info.creator.pid)?;
    d.set_item("creator_alive", info.creator_alive)?;
    d.set_item("created_realtime_ns", info.created_realtime_ns)?;
    Ok(d)
}

/// What a segment's header says, opened read-only.
#[pyfunction]
#[pyo3(name = "segment_info")]
fn py_segment_info<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let info = py.detach(|| SegmentInfo::read(name)).py()?;
    info_dict(py, &info)
}

/// A snapshot of a segment's counters, opened read-only: the info fields plus writer and
/// reader counters.
#[pyfunction]
#[pyo3(name = "segment_stats")]
fn py_segment_stats<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let stats = py.detach(|| SegmentStats::read(name)).py()?;
    let d = info_dict(py, &stats.info)?;
    d.set_item("writer_pid", stats.writer_pid)?;
    d.set_item("writer_alive", stats.writer_alive)?;
    d.set_item("writer_attaches", stats.writer_attaches)?;
    d.set_item("published", stats.published)?;
    d.set_item("heartbeat_ns", stats.heartbeat_ns)?;
    d.set_item("heartbeat_age_ns", stats.heartbeat_age_ns)?;
    d.set_item("backpressure_events", stats.backpressure_events)?;
    d.set_item("seqlock_retries", stats.seqlock_retries)?;
    d.set_item("seqlock_failures", stats.seqlock_failures)?;
    d.set_item("lost", stats.lost())?;
    d.set_item("overruns", stats.overruns())?;
    let readers = PyList::empty(py);
    for r in &stats.readers {
        let rd = PyDict::new(py);
        rd.set_item("index", r.index)?;
        rd.set_item("pid", r.pid)?;
        rd.set_item("alive", r.alive)?;
        rd.set_item("cursor", r.cursor)?;
        rd.set_item("consumed", r.consumed)?;
        rd.set_item("lag", r.lag)?;
        rd.set_item("lost", r.lost)?;
        rd.set_item("overruns", r.overruns)?;
        readers.append(rd)?;
    }
    d.set_item("readers", readers)?;
    Ok(d)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(py_unlink, m)?)?;
    m.add_function(wrap_pyfunction!(py_remove_if_stale, m)?)?;
    m.add_function(wrap_pyfunction!(py_list_segments, m)?)?;
    m.add_function(wrap_pyfunction!(py_segment_info, m)?)?;
    m.add_function(wrap_pyfunction!(py_segment_stats, m)?)?;
    Ok(())
}
