//! The wire codecs, for Python tools and tests: FIX 4.4 framing.

use protocols::fix;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// Encodes a FIX 4.4 message of `msg_type` with `fields` (tag, value) in order, adding
/// BeginString, BodyLength and CheckSum.
#[pyfunction]
#[pyo3(name = "fix_encode")]
fn py_fix_encode<'py>(
    py: Python<'py>,
    msg_type: &str,
    fields: Vec<(u32, String)>,
) -> PyResult<Bound<'py, PyBytes>> {
    if let Some((tag, _)) = fields.iter().find(|(_, v)| v.is_empty() || v.contains('\x01')) {
        return Err(PyValueError::new_err(format!("the value of tag {tag} is empty or contains SOH")));
    }
    let mut writer = fix::Writer::new();
    writer.begin(msg_type);
    for (tag, value) in &fields {
        writer.str(*tag, value);
    }
    Ok(PyBytes::new(py, writer.finish()))
}

/// A decoded message's fields and the bytes it took.
type Decoded<'py> = (Vec<(u32, Bound<'py, PyBytes>)>, usize);

/// Decodes the FIX 4.4 message at the start of `data`: `(fields, bytes used)`, with every
/// field from BeginString to CheckSum, or `None` while the message is incomplete. A malformed
/// message raises `ValueError` naming what is wrong.
#[pyfunction]
#[pyo3(name = "fix_decode")]
fn py_fix_decode<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Option<Decoded<'py>>> {
    let decoded = fix::decode(data).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(decoded.map(|(message, used)| {
        let fields = message.fields().iter().map(|(tag, value)| (*tag, PyBytes::new(py, value))).collect();
        (fields, used)
    }))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(py_fix_encode, m)?)?;
    m.add_function(wrap_pyfunction!(py_fix_decode, m)?)?;
    Ok(())
}
