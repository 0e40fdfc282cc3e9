//! Where a feed's book updates go: shared memory in production ([`crate::publish`]), nowhere in
//! tests and counting replays.

use shm_layout::ShmResult;

use crate::book::{Book, LevelChange};

/// Where an update came from and when: the venue's sequence and timestamps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamps {
    /// The venue's sequence number of the message.
    pub sequence: u64,
    /// When the venue stamped it, nanoseconds since the Unix epoch.
    pub exchange_ts_ns: u64,
    /// When we received it, nanoseconds since the Unix epoch.
    pub receive_ts_ns: u64,
}

/// Receives a feed's book updates.
pub trait BookSink {
    /// A level of `instrument`'s book changed.
    fn level(&mut self, instrument: u32, change: &LevelChange, stamps: &Stamps) -> ShmResult<()>;

    /// `instrument`'s book after a message, and whether it is not known to be correct.
    fn book(&mut self, instrument: u32, book: &Book, stale: bool, stamps: &Stamps) -> ShmResult<()>;

    /// A sign that the feed is alive, for whoever watches the sink's output (nothing by
    /// default).
    fn heartbeat(&mut self) {}
}

/// Discards every update.
impl BookSink for () {
    fn level(&mut self, _: u32, _: &LevelChange, _: &Stamps) -> ShmResult<()> {
        Ok(())
    }

    fn book(&mut self, _: u32, _: &Book, _: bool, _: &Stamps) -> ShmResult<()> {
        Ok(())
    }
}
