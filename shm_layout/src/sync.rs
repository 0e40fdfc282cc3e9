//! The atomics the protocols use: `std`'s in a real build, loom's under `--cfg loom` so the
//! model checker can explore every interleaving of the protocol cores.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64};
pub(crate) use std::sync::atomic::Ordering;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64};

/// Tells the CPU (or loom's scheduler) that this thread is spinning on a value another one writes.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}
