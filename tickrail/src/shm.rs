//! Python classes over the broadcast ring, the queue and the seqlock slots.
//!
//! Each class owns one `shm_layout` handle; `close()` (or leaving a `with` block) releases it,
//! after which every method raises `ValueError`. Waits and batch copies release the GIL.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use shm_layout::{broadcast, queue, slots, Expected, Received, RingGeometry, SegmentOptions, WaitStrategy};

use crate::buffers::Bytes;
use crate::errors::IntoPyResult;
use crate::waits;

fn options(mode: u32, group: Option<u32>, replace_stale: bool) -> SegmentOptions {
    SegmentOptions { mode, group, replace_stale }
}

fn closed(what: &str) -> PyErr {
    PyValueError::new_err(format!("{what} is closed"))
}

/// Implements `close`, `__enter__`, `__exit__` and `closed` for a class with `inner: Option<_>`.
macro_rules! closable {
    ($class:ident, $what:literal) => {
        impl $class {
            fn get(&self) -> PyResult<&<Self as Handle>::Inner> {
                self.inner.as_ref().ok_or_else(|| closed($what))
            }

            #[allow(dead_code, reason = "not every class has a mutating method")]
            fn get_mut(&mut self) -> PyResult<&mut <Self as Handle>::Inner> {
                self.inner.as_mut().ok_or_else(|| closed($what))
            }
        }

        #[pymethods]
        impl $class {
            /// Releases the handle (and its role in the segment). Idempotent.
            fn close(&mut self) {
                self.inner = None;
            }

            /// Whether `close()` was called.
            #[getter]
            fn closed(&self) -> bool {
                self.inner.is_none()
            }

            fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
                slf
            }

            fn __exit__(
                &mut self,
                _exc_type: &Bound<'_, PyAny>,
                _exc: &Bound<'_, PyAny>,
                _tb: &Bound<'_, PyAny>,
            ) -> bool {
                self.inner = None;
                false
            }
        }
    };
}

/// Implements what the broadcast writer and the queue writer share: heartbeat, name, next
/// sequence and capacity.
macro_rules! writer_methods {
    ($class:ident) => {
        #[pymethods]
        impl $class {
            /// Records a sign of life.
            fn heartbeat(&self) -> PyResult<()> {
                self.get()?.heartbeat();
                Ok(())
            }

            /// The segment's name.
            #[getter]
            fn name(&self) -> PyResult<String> {
                Ok(self.get()?.name().to_owned())
            }

            /// The sequence the next message gets.
            #[getter]
            fn next_seq(&self) -> PyResult<u64> {
                Ok(self.get()?.next_seq())
            }

            /// Slots in the ring or queue.
            #[getter]
            fn capacity(&self) -> PyResult<u64> {
                Ok(self.get()?.geometry().capacity)
            }
        }
    };
}

/// The Rust handle a Python class wraps.
trait Handle {
    type Inner;
}

/// The single writer of a broadcast ring.
#[pyclass(module = "tickrail._native", name = "BroadcastWriter")]
pub(crate) struct PyBroadcastWriter {
    inner: Option<broadcast::Writer>,
}

impl Handle for PyBroadcastWriter {
    type Inner = broadcast::Writer;
}
closable!(PyBroadcastWriter, "BroadcastWriter");
writer_methods!(PyBroadcastWriter);

#[pymethods]
impl PyBroadcastWriter {
    /// Creates a ring and attaches as its writer.
    #[staticmethod]
    #[pyo3(signature = (name, capacity, max_message_size, max_readers, *, mode=0o600, group=None, replace_stale=false))]
    fn create(
        name: &str,
        capacity: u64,
        max_message_size: u32,
        max_readers: u32,
        mode: u32,
        group: Option<u32>,
        replace_stale: bool,
    ) -> PyResult<Self> {
        let geometry = RingGeometry { capacity, max_message_size, max_readers };
        let writer = broadcast::Writer::create(name, geometry, &options(mode, group, replace_stale)).py()?;
        Ok(Self { inner: Some(writer) })
    }

    /// Attaches as the writer of an existing ring, continuing its sequence; `capacity` and
    /// `max_message_size`, when given, must match the ring's.
    #[staticmethod]
    #[pyo3(signature = (name, *, capacity=None, max_message_size=None))]
    fn attach(name: &str, capacity: Option<u64>, max_message_size: Option<u32>) -> PyResult<Self> {
        let expected = Expected { capacity, max_message_size };
        Ok(Self { inner: Some(broadcast::Writer::attach(name).and_then(|w| w.expect(&expected)).py()?) })
    }

    /// Publishes one message; returns its sequence.
    fn publish(&mut self, data: &[u8]) -> PyResult<u64> {
        self.get_mut()?.publish(data).py()
    }

    /// Publishes every `record_size`-byte record of a C-contiguous buffer; returns how many.
    fn publish_records(
        &mut self,
        py: Python<'_>,
        records: &Bound<'_, PyAny>,
        record_size: usize,
    ) -> PyResult<u64> {
        let bytes = Bytes::get(records, false)?;
        let writer = self.get_mut()?;
        py.detach(|| writer.publish_records(bytes.as_slice(), record_size)).py()
    }

    /// Largest message in bytes.
    #[getter]
    fn max_message_size(&self) -> PyResult<u32> {
        Ok(self.get()?.geometry().max_message_size)
    }
}

/// One reader of a broadcast ring.
#[pyclass(module = "tickrail._native", name = "BroadcastReader")]
pub(crate) struct PyBroadcastReader {
    inner: Option<broadcast::Reader>,
    buf: Vec<u8>,
    last_seq: Option<u64>,
}

impl Handle for PyBroadcastReader {
    type Inner = broadcast::Reader;
}
closable!(PyBroadcastReader, "BroadcastReader");

impl PyBroadcastReader {
    fn wrap(mut reader: broadcast::Reader, wait: WaitStrategy) -> PyResult<Self> {
        reader.set_wait_strategy(wait);
        let buf = vec![0; reader.geometry().max_message_size as usize];
        Ok(Self { inner: Some(reader), buf, last_seq: None })
    }
}

#[pymethods]
impl PyBroadcastReader {
    /// Attaches a new reader on a free cursor, starting at `"latest"` or `"oldest"`;
    /// `capacity` and `max_message_size`, when given, must match the ring's.
    #[staticmethod]
    #[pyo3(signature = (name, start="latest", wait="backoff", *, capacity=None, max_message_size=None))]
    fn attach(
        name: &str,
        start: &str,
        wait: &str,
        capacity: Option<u64>,
        max_message_size: Option<u32>,
    ) -> PyResult<Self> {
        let start = match start {
            "latest" => broadcast::StartAt::Latest,
            "oldest" => broadcast::StartAt::Oldest,
            other => {
                return Err(PyValueError::new_err(format!(
                    "start must be 'latest' or 'oldest', not {other:?}"
                )))
            }
        };
        let wait = waits::parse(wait)?;
        let expected = Expected { capacity, max_message_size };
        Self::wrap(broadcast::Reader::attach(name, start).and_then(|r| r.expect(&expected)).py()?, wait)
    }

    /// Resumes cursor `index` where its last holder stopped.
    #[staticmethod]
    #[pyo3(signature = (name, index, wait="backoff"))]
    fn resume(name: &str, index: u32, wait: &str) -> PyResult<Self> {
        let wait = waits::parse(wait)?;
        Self::wrap(broadcast::Reader::resume(name, index).py()?, wait)
    }

    /// The next message, or `None` if nothing new was published. Messages overwritten before
    /// they were read are skipped and counted in `lost`.
    fn read<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let Self { inner, buf, last_seq } = self;
        let reader = inner.as_mut().ok_or_else(|| closed("BroadcastReader"))?;
        loop {
            match reader.try_read(buf).py()? {
                Received::Message { seq, len } => {
                    *last_seq = Some(seq);
                    return Ok(Some(PyBytes::new(py, &buf[..len])));
                }
                Received::Lost { .. } => continue,
                Received::Empty => return Ok(None),
            }
        }
    }

    /// Fills consecutive `record_size`-byte records of a writable C-contiguous buffer; returns
    /// `(records filled, messages lost meanwhile)`.
    fn read_records(
        &mut self,
        py: Python<'_>,
        out: &Bound<'_, PyAny>,
        record_size: usize,
    ) -> PyResult<(usize, u64)> {
        let mut bytes = Bytes::get(out, true)?;
        let reader = self.get_mut()?;
        py.detach(|| reader.read_records(bytes.as_mut_slice(), record_size)).py()
    }

    /// Waits up to `timeout` seconds for a message; returns whether one is pending.
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = waits::timeout(timeout)?;
        let reader = self.get()?;
        Ok(py.detach(|| reader.wait(timeout)))
    }

    /// The sequence of the last message `read()` returned.
    #[getter]
    fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// This reader's cursor index (for `resume`).
    #[getter]
    fn index(&self) -> PyResult<u32> {
        Ok(self.get()?.index())
    }

    /// The next sequence this reader reads.
    #[getter]
    fn cursor(&self) -> PyResult<u64> {
        Ok(self.get()?.cursor())
    }

    /// Messages read.
    #[getter]
    fn consumed(&self) -> PyResult<u64> {
        Ok(self.get()?.consumed())
    }

    /// Messages lost to laps.
    #[getter]
    fn lost(&self) -> PyResult<u64> {
        Ok(self.get()?.lost())
    }

    /// The wait strategy's name.
    #[getter]
    fn wait_strategy(&self) -> PyResult<&'static str> {
        Ok(waits::name(self.get()?.wait_strategy()))
    }

    /// Largest message in bytes.
    #[getter]
    fn max_message_size(&self) -> PyResult<u32> {
        Ok(self.get()?.geometry().max_message_size)
    }
}

/// The single writer of a queue.
#[pyclass(module = "tickrail._native", name = "QueueWriter")]
pub(crate) struct PyQueueWriter {
    inner: Option<queue::Writer>,
}

impl Handle for PyQueueWriter {
    type Inner = queue::Writer;
}
closable!(PyQueueWriter, "QueueWriter");
writer_methods!(PyQueueWriter);

#[pymethods]
impl PyQueueWriter {
    /// Creates a queue and attaches as its writer.
    #[staticmethod]
    #[pyo3(signature = (name, capacity, max_message_size, *, mode=0o600, group=None, replace_stale=false, wait="backoff"))]
    fn create(
        name: &str,
        capacity: u64,
        max_message_size: u32,
        mode: u32,
        group: Option<u32>,
        replace_stale: bool,
        wait: &str,
    ) -> PyResult<Self> {
        let strategy = waits::parse(wait)?;
        let mut writer =
            queue::Writer::create(name, capacity, max_message_size, &options(mode, group, replace_stale))
                .py()?;
        writer.set_wait_strategy(strategy);
        Ok(Self { inner: Some(writer) })
    }

    /// Attaches as the writer of an existing queue, continuing its sequence; `capacity` and
    /// `max_message_size`, when given, must match the queue's.
    #[staticmethod]
    #[pyo3(signature = (name, wait="backoff", *, capacity=None, max_message_size=None))]
    fn attach(
        name: &str,
        wait: &str,
        capacity: Option<u64>,
        max_message_size: Option<u32>,
    ) -> PyResult<Self> {
        let strategy = waits::parse(wait)?;
        let expected = Expected { capacity, max_message_size };
        let mut writer = queue::Writer::attach(name).and_then(|w| w.expect(&expected)).py()?;
        writer.set_wait_strategy(strategy);
        Ok(Self { inner: Some(writer) })
    }

    /// Pushes one message; `False` when the queue is full.
    fn try_push(&mut self, data: &[u8]) -> PyResult<bool> {
        self.get_mut()?.try_push(data).py()
    }

    /// Pushes one message, waiting up to `timeout` seconds for room; returns whether it was pushed.
    fn push(&mut self, py: Python<'_>, data: &[u8], timeout: f64) -> PyResult<bool> {
        let timeout = waits::timeout(timeout)?;
        let writer = self.get_mut()?;
        if writer.try_push(data).py()? {
            return Ok(true);
        }
        if !py.detach(|| writer.wait_for_space(timeout)) {
            return Ok(false);
        }
        writer.try_push(data).py()
    }

    /// Pushes as many `record_size`-byte records of a C-contiguous buffer as fit; returns how many.
    fn push_records(
        &mut self,
        py: Python<'_>,
        records: &Bound<'_, PyAny>,
        record_size: usize,
    ) -> PyResult<usize> {
        let bytes = Bytes::get(records, false)?;
        let writer = self.get_mut()?;
        py.detach(|| writer.push_records(bytes.as_slice(), record_size)).py()
    }

    /// Waits up to `timeout` seconds for room; returns whether there is.
    fn wait_for_space(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = waits::timeout(timeout)?;
        let writer = self.get()?;
        Ok(py.detach(|| writer.wait_for_space(timeout)))
    }
}

/// The single reader of a queue; resumes at the cursor the last reader left.
#[pyclass(module = "tickrail._native", name = "QueueReader")]
pub(crate) struct PyQueueReader {
    inner: Option<queue::Reader>,
    buf: Vec<u8>,
    /// Views handed out by `peek()` of the message at the cursor.
    views: Vec<Py<PyMessageView>>,
}

impl PyQueueReader {
    /// Refuses to free the slot at the cursor while a buffer still views it in place.
    fn ensure_unviewed(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(view) = self.views.iter().find(|v| v.get().exports.load(Ordering::Acquire) > 0) {
            let view = view.bind(py).get();
            return Err(PyBufferError::new_err(format!(
                "message {} is still viewed in place by {} buffer(s) (memoryview or numpy array): \
                 release them before the queue moves past it",
                view.peeked.seq(),
                view.exports.load(Ordering::Acquire)
            )));
        }
        self.views.clear();
        Ok(())
    }
}

impl Handle for PyQueueReader {
    type Inner = queue::Reader;
}
closable!(PyQueueReader, "QueueReader");

#[pymethods]
impl PyQueueReader {
    /// Attaches as the queue's reader; `capacity` and `max_message_size`, when given, must
    /// match the queue's.
    #[staticmethod]
    #[pyo3(signature = (name, wait="backoff", *, capacity=None, max_message_size=None))]
    fn attach(
        name: &str,
        wait: &str,
        capacity: Option<u64>,
        max_message_size: Option<u32>,
    ) -> PyResult<Self> {
        let strategy = waits::parse(wait)?;
        let expected = Expected { capacity, max_message_size };
        let mut reader = queue::Reader::attach(name).and_then(|r| r.expect(&expected)).py()?;
        reader.set_wait_strategy(strategy);
        let buf = vec![0; reader.geometry().max_message_size as usize];
        Ok(Self { inner: Some(reader), buf, views: Vec::new() })
    }

    /// The next message, or `None` if the queue is empty.
    fn pop<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.ensure_unviewed(py)?;
        let Self { inner, buf, .. } = self;
        let reader = inner.as_mut().ok_or_else(|| closed("QueueReader"))?;
        match reader.try_pop(buf).py()? {
            Received::Message { len, .. } => Ok(Some(PyBytes::new(py, &buf[..len]))),
            _ => Ok(None),
        }
    }

    /// Pops into consecutive `record_size`-byte records of a writable C-contiguous buffer;
    /// returns how many.
    fn pop_records(&mut self, py: Python<'_>, out: &Bound<'_, PyAny>, record_size: usize) -> PyResult<usize> {
        self.ensure_unviewed(py)?;
        let mut bytes = Bytes::get(out, true)?;
        let reader = self.get_mut()?;
        py.detach(|| reader.pop_records(bytes.as_mut_slice(), record_size)).py()
    }

    /// Waits up to `timeout` seconds for a message; returns whether one is waiting.
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = waits::timeout(timeout)?;
        let reader = self.get()?;
        Ok(py.detach(|| reader.wait(timeout)))
    }

    /// The next message viewed in place, without a copy (wrap it in `memoryview` or
    /// `numpy.frombuffer`), or `None` if the queue is empty. The message stays in the queue until
    /// `commit()`, which refuses while a buffer still views it.
    fn peek(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyMessageView>>> {
        let Some(peeked) = self.get()?.peek() else {
            return Ok(None);
        };
        let view = Py::new(py, PyMessageView { peeked, exports: AtomicUsize::new(0) })?;
        self.views.push(view.clone_ref(py));
        Ok(Some(view))
    }

    /// Removes the message `peek()` showed; returns whether there was one.
    fn commit(&mut self, py: Python<'_>) -> PyResult<bool> {
        self.ensure_unviewed(py)?;
        Ok(self.get_mut()?.consume())
    }

    /// The next sequence this reader reads.
    #[getter]
    fn cursor(&self) -> PyResult<u64> {
        Ok(self.get()?.cursor())
    }
}

/// A queue message seen in place in shared memory: a read-only buffer (`memoryview(view)`,
/// `numpy.frombuffer(view, dtype)`) that keeps the segment mapped while it lives.
#[pyclass(module = "tickrail._native", name = "MessageView", frozen)]
pub(crate) struct PyMessageView {
    peeked: queue::Peeked,
    /// Buffers currently exported; the queue may not move past the message while non-zero.
    exports: AtomicUsize,
}

#[pymethods]
impl PyMessageView {
    /// Exports the message's bytes, read-only, in place.
    ///
    /// # Safety
    /// Called by CPython with a valid `Py_buffer` to fill, as the buffer protocol requires.
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        if flags & ffi::PyBUF_WRITABLE != 0 {
            return Err(PyBufferError::new_err("a queue message view is read-only"));
        }
        let this = slf.get();
        // SAFETY: `view` is CPython's buffer to fill; the bytes live in a mapping that
        // `this.peeked` keeps alive, and `PyBuffer_FillInfo` takes a reference to `slf`, which
        // owns `peeked`, until the buffer is released. The slot is not reused while `exports`
        // is non-zero (the reader refuses to move past it).
        let status = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                this.peeked.as_ptr().cast_mut().cast::<c_void>(),
                this.peeked.len() as ffi::Py_ssize_t,
                1,
                flags,
            )
        };
        if status != 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        this.exports.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Counts a released export.
    ///
    /// # Safety
    /// Called by CPython once per successful `__getbuffer__`.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.exports.fetch_sub(1, Ordering::AcqRel);
    }

    /// The message's sequence number.
    #[getter]
    fn seq(&self) -> u64 {
        self.peeked.seq()
    }

    fn __len__(&self) -> usize {
        self.peeked.len()
    }

    fn __repr__(&self) -> String {
        format!("<MessageView seq={} len={}>", self.peeked.seq(), self.peeked.len())
    }
}

/// The single writer of a table of seqlock slots.
#[pyclass(module = "tickrail._native", name = "SlotWriter")]
pub(crate) struct PySlotWriter {
    inner: Option<slots::Writer>,
}

impl Handle for PySlotWriter {
    type Inner = slots::Writer;
}
closable!(PySlotWriter, "SlotWriter");

#[pymethods]
impl PySlotWriter {
    /// Creates a table of `keys` records of `record_size` bytes and attaches as its writer.
    #[staticmethod]
    #[pyo3(signature = (name, keys, record_size, *, mode=0o600, group=None, replace_stale=false))]
    fn create(
        name: &str,
        keys: u64,
        record_size: u32,
        mode: u32,
        group: Option<u32>,
        replace_stale: bool,
    ) -> PyResult<Self> {
        let writer =
            slots::Writer::create(name, keys, record_size, &options(mode, group, replace_stale)).py()?;
        Ok(Self { inner: Some(writer) })
    }

    /// Attaches as the writer of an existing table; `keys` and `record_size`, when given, must
    /// match the table's.
    #[staticmethod]
    #[pyo3(signature = (name, *, keys=None, record_size=None))]
    fn attach(name: &str, keys: Option<u64>, record_size: Option<u32>) -> PyResult<Self> {
        let expected = Expected { capacity: keys, max_message_size: record_size };
        Ok(Self { inner: Some(slots::Writer::attach(name).and_then(|w| w.expect(&expected)).py()?) })
    }

    /// Replaces the record of `key` with `record` (a bytes-like object of exactly `record_size` bytes).
    fn write(&mut self, key: u64, record: &Bound<'_, PyAny>) -> PyResult<()> {
        let bytes = Bytes::get(record, false)?;
        self.get_mut()?.write(key, bytes.as_slice()).py()
    }

    /// Records a sign of life.
    fn heartbeat(&self) -> PyResult<()> {
        self.get()?.heartbeat();
        Ok(())
    }

    /// Number of keys.
    #[getter]
    fn keys(&self) -> PyResult<u64> {
        Ok(self.get()?.keys())
    }

    /// Bytes per record.
    #[getter]
    fn record_size(&self) -> PyResult<usize> {
        Ok(self.get()?.record_size())
    }
}

/// A reader of a table of seqlock slots.
#[pyclass(module = "tickrail._native", name = "SlotReader")]
pub(crate) struct PySlotReader {
    inner: Option<slots::Reader>,
}

impl Handle for PySlotReader {
    type Inner = slots::Reader;
}
closable!(PySlotReader, "SlotReader");

#[pymethods]
impl PySlotReader {
    /// Opens a table for reading; a read retries at most `max_retries` times (default 1000);
    /// `keys` and `record_size`, when given, must match the table's.
    #[staticmethod]
    #[pyo3(signature = (name, max_retries=None, *, keys=None, record_size=None))]
    fn open(
        name: &str,
        max_retries: Option<u32>,
        keys: Option<u64>,
        record_size: Option<u32>,
    ) -> PyResult<Self> {
        let expected = Expected { capacity: keys, max_message_size: record_size };
        let mut reader = slots::Reader::open(name).and_then(|r| r.expect(&expected)).py()?;
        reader.set_max_retries(max_retries.unwrap_or(slots::DEFAULT_MAX_RETRIES));
        Ok(Self { inner: Some(reader) })
    }

    /// A consistent copy of the record of `key`, or `None` if it was never written.
    fn read<'py>(&self, py: Python<'py>, key: u64) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let reader = self.get()?;
        let mut written = None;
        // The record is copied straight into the new bytes object: no intermediate buffer.
        let record = PyBytes::new_with(py, reader.record_size(), |buf| {
            written = reader.read(key, buf).py()?;
            Ok(())
        })?;
        Ok(written.map(|_| record))
    }

    /// Copies the record of `key` into a writable buffer of exactly `record_size` bytes;
    /// returns its version, or `None` if it was never written.
    fn read_into(&self, key: u64, out: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
        let mut bytes = Bytes::get(out, true)?;
        self.get()?.read(key, bytes.as_mut_slice()).py()
    }

    /// Number of keys.
    #[getter]
    fn keys(&self) -> PyResult<u64> {
        Ok(self.get()?.keys())
    }

    /// Bytes per record.
    #[getter]
    fn record_size(&self) -> PyResult<usize> {
        Ok(self.get()?.record_size())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMessageView>()?;
    m.add_class::<PyBroadcastWriter>()?;
    m.add_class::<PyBroadcastReader>()?;
    m.add_class::<PyQueueWriter>()?;
    m.add_class::<PyQueueReader>()?;
    m.add_class::<PySlotWriter>()?;
    m.add_class::<PySlotReader>()?;
    Ok(())
}
