//! The Python exception hierarchy for [`shm_layout::ShmError`].

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use shm_layout::ShmError as CrateError;

create_exception!(tickrail._native, ShmError, PyException, "A shared-memory segment could not be used.");
create_exception!(tickrail._native, SegmentNotFound, ShmError, "No segment of that name exists.");
create_exception!(tickrail._native, SegmentExists, ShmError, "A live segment of that name already exists.");
create_exception!(
    tickrail._native,
    SegmentPermissionError,
    ShmError,
    "The OS refused access to the segment."
);
create_exception!(
    tickrail._native,
    LayoutMismatch,
    ShmError,
    "The segment has another magic, layout version, kind or geometry than expected."
);
create_exception!(
    tickrail._native,
    SegmentNotReady,
    ShmError,
    "The segment's creator has not finished its header."
);
create_exception!(
    tickrail._native,
    SegmentCorrupt,
    ShmError,
    "The segment is truncated or its header is damaged."
);
create_exception!(
    tickrail._native,
    RoleTaken,
    ShmError,
    "The writer's role or the reader cursor is held by a live process."
);
create_exception!(
    tickrail._native,
    MessageTooLarge,
    ShmError,
    "A message or buffer does not fit the segment's slots."
);
create_exception!(
    tickrail._native,
    SeqlockContended,
    ShmError,
    "A seqlock read kept colliding with the writer."
);

/// Converts a crate error into the matching Python exception, keeping its message.
pub(crate) fn to_py(err: CrateError) -> PyErr {
    let message = err.to_string();
    match err {
        CrateError::NotFound { .. } => SegmentNotFound::new_err(message),
        CrateError::AlreadyExists { .. } => SegmentExists::new_err(message),
        CrateError::PermissionDenied { .. } => SegmentPermissionError::new_err(message),
        CrateError::BadMagic { .. }
        | CrateError::VersionMismatch { .. }
        | CrateError::KindMismatch { .. }
        | CrateError::GeometryMismatch { .. } => LayoutMismatch::new_err(message),
        CrateError::NotReady { .. } => SegmentNotReady::new_err(message),
        CrateError::Truncated { .. } | CrateError::Corrupt { .. } => SegmentCorrupt::new_err(message),
        CrateError::WriterActive { .. }
        | CrateError::ReaderActive { .. }
        | CrateError::NoFreeReader { .. } => RoleTaken::new_err(message),
        CrateError::MessageTooLarge { .. } | CrateError::BufferTooSmall { .. } => {
            MessageTooLarge::new_err(message)
        }
        CrateError::Contended { .. } => SeqlockContended::new_err(message),
        CrateError::BadBatch { .. } => PyValueError::new_err(message),
        _ => ShmError::new_err(message),
    }
}

/// `Result<T, shm_layout::ShmError>` into a `PyResult<T>`.
pub(crate) trait IntoPyResult<T> {
    /// Converts the error, if any, with [`to_py`].
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, CrateError> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ShmError", py.get_type::<ShmError>())?;
    m.add("SegmentNotFound", py.get_type::<SegmentNotFound>())?;
    m.add("SegmentExists", py.get_type::<SegmentExists>())?;
    m.add("SegmentPermissionError", py.get_type::<SegmentPermissionError>())?;
    m.add("LayoutMismatch", py.get_type::<LayoutMismatch>())?;
    m.add("SegmentNotReady", py.get_type::<SegmentNotReady>())?;
    m.add("SegmentCorrupt", py.get_type::<SegmentCorrupt>())?;
    m.add("RoleTaken", py.get_type::<RoleTaken>())?;
    m.add("MessageTooLarge", py.get_type::<MessageTooLarge>())?;
    m.add("SeqlockContended", py.get_type::<SeqlockContended>())?;
    Ok(())
}
