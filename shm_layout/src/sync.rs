//! The atomics the protocols use: `std`'s in a real build, loom's under `--cfg loom` so the
//! model checker can explore every interleaving of the protocol cores.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64};
pub(crate) use std::sync::atomic::Ordering;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64};

/// Retries spin this many times before they start yielding the core.
const SPINS_BEFORE_YIELD: u32 = 64;

/// Pauses before retry number `retry` of a wait on a value another thread writes: a CPU spin
/// hint at first, then `sched_yield`, so a writer preempted on this core gets to finish (under
/// loom: a yield to the model's scheduler).
#[inline]
pub(crate) fn retry_pause(retry: u32) {
    #[cfg(loom)]
    {
        let _ = retry;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    if retry < SPINS_BEFORE_YIELD {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}
