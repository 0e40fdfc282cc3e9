//! Versioned POSIX shared-memory segments for one machine's trading pipeline.
//!
//! Every object lives in its own named segment (`shm_open` + `mmap`) that starts with a
//! [`SegmentHeader`]: magic, layout version, kind, geometry, creator pid and start time, a
//! checksum over all of that, and a ready flag stored last. On top of a segment the crate
//! offers four lock-free structures, each with exactly one writer:
//!
//! * [`broadcast`]: one writer, many readers, the writer never waits. Readers keep their own
//!   cursor in the segment; a reader lapped by the writer learns how many messages it lost.
//! * [`queue`]: one writer, one reader, back-pressure. Nothing is lost or duplicated and the
//!   reader's cursor lives in the segment, so a restarted reader resumes exactly.
//! * [`slots`]: a table of seqlock-protected records, the latest value per key.
//! * [`metrics`]: counter cells one writer keeps, with [`histogram`]s of latencies in them.
//!
//! Readers wait with a [`WaitStrategy`]: busy-spin, yield, back-off or a futex on the shared
//! sequence word. Counters live in the segment and [`stats`] reads them from outside
//! without disturbing anyone.
//!
//! ```
//! use shm_layout::{broadcast, Received, RingGeometry, SegmentOptions};
//!
//! let name = format!("/shm_layout-doc-{}", std::process::id());
//! let geometry = RingGeometry { capacity: 1024, max_message_size: 64, max_readers: 4 };
//! let mut writer = broadcast::Writer::create(&name, geometry, &SegmentOptions::default())?;
//! let mut reader = broadcast::Reader::attach(&name, broadcast::StartAt::Oldest)?;
//!
//! writer.publish(b"hello")?;
//! let mut buf = [0u8; 64];
//! assert_eq!(reader.try_read(&mut buf)?, Received::Message { seq: 0, len: 5 });
//! assert_eq!(&buf[..5], b"hello");
//! shm_layout::unlink(&name)?;
//! # Ok::<(), shm_layout::ShmError>(())
//! ```
// Under loom only the protocol cores and their model tests are built.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

#[cfg(not(target_endian = "little"))]
compile_error!("shm_layout keeps futex words in the low half of 64-bit sequences: little-endian only");

// The protocol cores: plain atomics over word slices, model-checked under `--cfg loom`.
mod error;
mod layout;
mod process;
mod ring;
mod roles;
mod seqlock;
mod sync;
mod words;

// Everything that maps real shared memory or makes system calls, which loom cannot model.
#[cfg(not(loom))]
pub mod broadcast;
#[cfg(not(loom))]
mod handle;
#[cfg(not(loom))]
pub mod histogram;
#[cfg(not(loom))]
pub mod metrics;
#[cfg(not(loom))]
pub mod queue;
#[cfg(not(loom))]
pub mod records;
#[cfg(not(loom))]
mod registry;
#[cfg(not(loom))]
mod segment;
#[cfg(not(loom))]
pub mod slots;
#[cfg(not(loom))]
pub mod stats;
#[cfg(not(loom))]
mod time;
#[cfg(not(loom))]
mod wait;

#[cfg(all(test, loom))]
mod loom_tests;

pub use error::{ShmError, ShmResult};
pub use layout::{SegmentHeader, SegmentKind, LAYOUT_VERSION, MAGIC};
pub use process::ProcessToken;
#[cfg(not(loom))]
pub use segment::{list_segments, remove_if_stale, unlink, Expected, SegmentInfo, SegmentOptions};
#[cfg(not(loom))]
pub use stats::{ReaderStats, SegmentStats, WriterWatch};
#[cfg(not(loom))]
pub use time::{monotonic_ns, realtime_ns};
#[cfg(not(loom))]
pub use wait::WaitStrategy;

/// The outcome of one non-blocking read from a broadcast ring or a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A message was copied into the caller's buffer.
    Message {
        /// The message's sequence number in its ring (0 for the first message ever published).
        seq: u64,
        /// Its length in bytes.
        len: usize,
    },
    /// The writer lapped this reader: `count` messages were overwritten before they were read.
    /// The reader has resynchronised to the oldest message still in the ring.
    Lost {
        /// How many messages this reader will never see.
        count: u64,
    },
    /// Nothing new has been published.
    Empty,
}

/// The geometry of a broadcast ring or a queue, fixed when its segment is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingGeometry {
    /// Number of slots; a power of two.
    pub capacity: u64,
    /// Largest message, in bytes. Every slot holds one message of up to this size.
    pub max_message_size: u32,
    /// Number of reader cursors reserved in the segment (1 for a queue).
    pub max_readers: u32,
}
