//! Record layouts for building numpy dtypes on the Python side.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use shm_layout::records::{
    gate_call, report_kind, state_reason, trading_state, trading_state_flags, FIXED_POINT_SCALE, FLAG_STALE,
    LAYOUTS,
};

/// Every layout: `[{"name", "type_id", "size", "fields": [{"name", "format", "offset",
/// "count"}]}]`, nested structs first; a field whose format names a layout is that struct.
#[pyfunction]
#[pyo3(name = "record_layouts")]
fn py_record_layouts(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let layouts = PyList::empty(py);
    for layout in LAYOUTS {
        let fields = PyList::empty(py);
        for field in layout.fields {
            let f = PyDict::new(py);
            f.set_item("name", field.name)?;
            f.set_item("format", field.format)?;
            f.set_item("offset", field.offset)?;
            f.set_item("count", field.count)?;
            fields.append(f)?;
        }
        let d = PyDict::new(py);
        d.set_item("name", layout.name)?;
        d.set_item("type_id", layout.type_id)?;
        d.set_item("size", layout.size)?;
        d.set_item("fields", fields)?;
        layouts.append(d)?;
    }
    Ok(layouts)
}

/// `{name: code}` as a Python dict.
fn codes<'py>(py: Python<'py>, pairs: &[(&str, u8)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for &(name, code) in pairs {
        d.set_item(name, code)?;
    }
    Ok(d)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FIXED_POINT_SCALE", FIXED_POINT_SCALE)?;
    m.add("FLAG_STALE", FLAG_STALE)?;
    let states = [
        ("active", trading_state::ACTIVE),
        ("reduce-only", trading_state::REDUCE_ONLY),
        ("halted", trading_state::HALTED),
        ("killed", trading_state::KILLED),
    ];
    m.add("TRADING_STATES", codes(py, &states)?)?;
    let reasons = [
        ("start", state_reason::START),
        ("operator", state_reason::OPERATOR),
        ("limit", state_reason::LIMIT),
        ("stale-heartbeat", state_reason::STALE_HEARTBEAT),
        ("supervisor", state_reason::SUPERVISOR),
    ];
    m.add("STATE_REASONS", codes(py, &reasons)?)?;
    m.add("TRADING_STATE_FIRST", trading_state_flags::FIRST)?;
    m.add("TRADING_STATE_RELOADED", trading_state_flags::RELOADED)?;
    let kinds = [
        ("accepted", report_kind::ACCEPTED),
        ("rejected", report_kind::REJECTED),
        ("fill", report_kind::FILL),
        ("canceled", report_kind::CANCELED),
        ("cancel-rejected", report_kind::CANCEL_REJECTED),
        ("replaced", report_kind::REPLACED),
        ("replace-rejected", report_kind::REPLACE_REJECTED),
        ("expired", report_kind::EXPIRED),
    ];
    m.add("REPORT_KINDS", codes(py, &kinds)?)?;
    let calls = [
        ("new", gate_call::NEW),
        ("replace", gate_call::REPLACE),
        ("cancel-sent", gate_call::CANCEL_SENT),
        ("filled", gate_call::FILLED),
        ("done", gate_call::DONE),
        ("replace-refused", gate_call::REPLACE_REFUSED),
        ("restore-working", gate_call::RESTORE_WORKING),
        ("restore-replacing", gate_call::RESTORE_REPLACING),
        ("restore-position", gate_call::RESTORE_POSITION),
        ("started", gate_call::STARTED),
    ];
    m.add("GATE_CALLS", codes(py, &calls)?)?;
    m.add_function(wrap_pyfunction!(py_record_layouts, m)?)?;
    Ok(())
}
