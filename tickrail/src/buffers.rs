//! Borrowing Python buffers (numpy arrays, bytearrays, memoryviews) as byte slices.

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyBufferError;
use pyo3::prelude::*;

/// A C-contiguous Python buffer of any item type, seen as bytes. Holding it keeps the exporter
/// alive and its memory in place.
pub(crate) struct Bytes {
    buffer: PyUntypedBuffer,
}

impl Bytes {
    /// Borrows `obj`'s buffer; `writable` asks for one we may write into.
    pub fn get(obj: &Bound<'_, PyAny>, writable: bool) -> PyResult<Self> {
        let buffer = PyUntypedBuffer::get(obj)?;
        if !buffer.is_c_contiguous() {
            return Err(PyBufferError::new_err("the buffer must be C-contiguous"));
        }
        if writable && buffer.readonly() {
            return Err(PyBufferError::new_err("the buffer is read-only"));
        }
        Ok(Self { buffer })
    }

    /// The buffer's bytes.
    pub fn as_slice(&self) -> &[u8] {
        let len = self.buffer.len_bytes();
        if len == 0 {
            return &[];
        }
        // SAFETY: the buffer is C-contiguous, `len_bytes` long from `buf_ptr`, and stays valid
        // while `self.buffer` holds the export. Python code could mutate it concurrently,
        // exactly as for any buffer-protocol consumer; we only copy bytes out.
        unsafe { std::slice::from_raw_parts(self.buffer.buf_ptr().cast::<u8>(), len) }
    }

    /// The buffer's bytes, writable. Only for buffers obtained with `writable`.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        debug_assert!(!self.buffer.readonly());
        let len = self.buffer.len_bytes();
        if len == 0 {
            return &mut [];
        }
        // SAFETY: as in `as_slice`; the export is writable (checked in `get`) and `&mut self`
        // keeps this the only Rust view of it.
        unsafe { std::slice::from_raw_parts_mut(self.buffer.buf_ptr().cast::<u8>(), len) }
    }
}
