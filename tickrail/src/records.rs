//! Record layouts for building numpy dtypes on the Python side.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use shm_layout::records::{FIXED_POINT_SCALE, FLAG_STALE, LAYOUTS};

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

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FIXED_POINT_SCALE", FIXED_POINT_SCALE)?;
    m.add("FLAG_STALE", FLAG_STALE)?;
    m.add_function(wrap_pyfunction!(py_record_layouts, m)?)?;
    Ok(())
}
