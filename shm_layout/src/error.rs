//! Every way opening or using a segment can fail, each naming the segment and what was wrong.

use std::io;

use crate::SegmentKind;

/// A result whose error is a [`ShmError`].
pub type ShmResult<T> = Result<T, ShmError>;

/// An error from this crate. Every variant names the segment it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// No segment of that name exists.
    #[error("segment {name}: not found")]
    NotFound {
        /// The segment's name.
        name: String,
    },
    /// A segment of that name already exists and its creator is alive.
    #[error("segment {name}: already exists (created by pid {creator_pid}, still alive)")]
    AlreadyExists {
        /// The segment's name.
        name: String,
        /// The process that created it.
        creator_pid: u32,
    },
    /// The operating system refused access.
    #[error("segment {name}: permission denied ({detail})")]
    PermissionDenied {
        /// The segment's name.
        name: String,
        /// The segment's owner and mode, when they could be read.
        detail: String,
    },
    /// The segment is shorter than its header or its geometry says it must be.
    #[error("segment {name}: truncated: {size} bytes, at least {expected} expected")]
    Truncated {
        /// The segment's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The size its header (or the smallest header) requires.
        expected: u64,
    },
    /// The segment does not start with this crate's magic number.
    #[error("segment {name}: not a tickrail segment (magic {found:#018x}, expected {expected:#018x})")]
    BadMagic {
        /// The segment's name.
        name: String,
        /// The magic number found.
        found: u64,
        /// The magic number expected.
        expected: u64,
    },
    /// The segment was written by another version of the layout.
    #[error("segment {name}: layout version {found}, this build reads version {expected}")]
    VersionMismatch {
        /// The segment's name.
        name: String,
        /// The version in the segment.
        found: u32,
        /// The version this build understands.
        expected: u32,
    },
    /// The segment holds another kind of structure.
    #[error("segment {name}: is a {found}, not a {expected}")]
    KindMismatch {
        /// The segment's name.
        name: String,
        /// The kind found (or its raw number if unknown).
        found: String,
        /// The kind asked for.
        expected: SegmentKind,
    },
    /// The segment's geometry differs from the one the caller expects.
    #[error("segment {name}: {field} is {found}, expected {expected}")]
    GeometryMismatch {
        /// The segment's name.
        name: String,
        /// The geometry field that differs.
        field: &'static str,
        /// Its value in the segment.
        found: u64,
        /// The value expected.
        expected: u64,
    },
    /// The creator has not finished initialising the segment (or died while doing so).
    #[error("segment {name}: not ready (its creator has not finished writing the header)")]
    NotReady {
        /// The segment's name.
        name: String,
    },
    /// The header fails its checksum or describes an impossible geometry.
    #[error("segment {name}: corrupted header: {detail}")]
    Corrupt {
        /// The segment's name.
        name: String,
        /// What is inconsistent.
        detail: String,
    },
    /// Another live process is the segment's writer.
    #[error("segment {name}: already has a live writer (pid {pid})")]
    WriterActive {
        /// The segment's name.
        name: String,
        /// The live writer's pid.
        pid: u32,
    },
    /// Every reader cursor of the segment is held by a live process.
    #[error("segment {name}: all {max_readers} reader cursors are held by live processes")]
    NoFreeReader {
        /// The segment's name.
        name: String,
        /// The number of reader cursors in the segment.
        max_readers: u32,
    },
    /// The requested reader cursor is held by another live process.
    #[error("segment {name}: reader cursor {index} is held by live pid {pid}")]
    ReaderActive {
        /// The segment's name.
        name: String,
        /// The cursor's index.
        index: u32,
        /// The live holder's pid.
        pid: u32,
    },
    /// A reader index outside the segment's reader table.
    #[error("segment {name}: reader index {index} out of range (segment has {max_readers} readers)")]
    ReaderOutOfRange {
        /// The segment's name.
        name: String,
        /// The index asked for.
        index: u32,
        /// The number of reader cursors.
        max_readers: u32,
    },
    /// A message longer than the segment's slots.
    #[error("segment {name}: message of {len} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// The segment's name.
        name: String,
        /// The message's length.
        len: usize,
        /// The largest message the segment holds.
        max: usize,
    },
    /// A caller's buffer too small for the segment's messages or records.
    #[error("segment {name}: buffer of {len} bytes is smaller than the {needed} bytes needed")]
    BufferTooSmall {
        /// The segment's name.
        name: String,
        /// The buffer's length.
        len: usize,
        /// The length required.
        needed: usize,
    },
    /// A batch buffer that is not a whole number of records.
    #[error("segment {name}: a batch of {len} bytes is not a whole number of {record_size}-byte records")]
    BadBatch {
        /// The segment's name.
        name: String,
        /// The buffer's length.
        len: usize,
        /// The record size given.
        record_size: usize,
    },
    /// A key outside a slot table.
    #[error("segment {name}: key {key} out of range (table has {capacity} slots)")]
    KeyOutOfRange {
        /// The segment's name.
        name: String,
        /// The key asked for.
        key: u64,
        /// The number of slots.
        capacity: u64,
    },
    /// A seqlock read that kept colliding with the writer.
    #[error("segment {name}: key {key} still being written after {retries} retries")]
    Contended {
        /// The segment's name.
        name: String,
        /// The key read.
        key: u64,
        /// How many times the read was retried.
        retries: u32,
    },
    /// A geometry or option that cannot make a segment.
    #[error("segment {name}: invalid configuration: {detail}")]
    InvalidConfig {
        /// The segment's name.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A system call failed.
    #[error("segment {name}: {op} failed: {source}")]
    Os {
        /// The segment's name.
        name: String,
        /// The operation that failed.
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl ShmError {
    /// Builds an [`ShmError::Os`] from `errno`.
    pub(crate) fn last_os(name: &str, op: &'static str) -> Self {
        Self::Os { name: name.to_owned(), op, source: io::Error::last_os_error() }
    }
}
