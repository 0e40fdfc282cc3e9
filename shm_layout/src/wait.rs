//! How a reader (or a queue writer) waits for the other side, chosen per handle.
//!
//! Every wait takes a deadline. The futex is the low half of the shared sequence word the
//! other side advances, so a sleeper needs no extra store on the fast path: it counts itself
//! in a `waiters` word and the other side makes the `FUTEX_WAKE` system call only when that
//! word is non-zero.
//!
//! That is a Dekker pattern: the side that advances stores the sequence then loads `waiters`;
//! the sleeper increments `waiters` then loads the sequence; at least one must see the other.
//! A full barrier between the store and the load on every message would drain the store buffer
//! each time (the largest single cost of a publish). Instead the barrier is asymmetric: the
//! advancing process registers for `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)` and keeps only
//! a compiler barrier, and a sleeper, which is about to pay a system call anyway, issues that
//! membarrier, which runs a full barrier on every CPU running a registered process. Where the
//! kernel refuses the registration, the advancing side falls back to a full barrier per store.
//! A back-off's parks are short and bounded (`max_park`), so they skip the membarrier (an
//! interrupt of the writer's core) and accept that, in a rare race, a park ends at its timeout
//! rather than at the wake-up.

use std::sync::atomic::compiler_fence;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::sync::{AtomicU32, AtomicU64, Ordering};
/// A strategy for waiting until a ring has something to read (or a queue has room).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin on the sequence word: the lowest latency; burns the core. For isolated cores.
    BusySpin,
    /// Call `sched_yield` between checks: lets other threads on the core run.
    Yield,
    /// Spin `spins` times, yield `yields` times, then sleep on the futex for growing periods
    /// of up to `max_park`, waking early when the other side signals.
    Backoff {
        /// Checks made spinning before yielding.
        spins: u32,
        /// Checks made yielding before parking.
        yields: u32,
        /// Longest single sleep.
        max_park: Duration,
    },
    /// Sleep on the futex until the other side signals: no CPU while idle, ~30 µs to wake on a VM.
    Futex,
}

impl Default for WaitStrategy {
    /// Back-off with Aeron's driver defaults: 20 spins, 50 yields, parks of up to 100 µs.
    fn default() -> Self {
        Self::Backoff { spins: 20, yields: 50, max_park: Duration::from_micros(100) }
    }
}

/// How the advancing side orders its store of the sequence before its look at `waiters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeFence {
    /// A full barrier on every advance (a `SeqCst` store): correct on any kernel.
    Full,
    /// A compiler barrier only: sleepers issue `membarrier(GLOBAL_EXPEDITED)` before sleeping,
    /// and this process is registered for it.
    Asymmetric,
}

const MEMBARRIER_CMD_GLOBAL_EXPEDITED: libc::c_int = 1 << 1;
const MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED: libc::c_int = 1 << 2;

fn membarrier(cmd: libc::c_int) -> bool {
    // SAFETY: membarrier takes two integer arguments and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
}

impl WakeFence {
    /// The cheapest fence this process may use; registers the process for expedited global
    /// membarriers the first time it is asked.
    pub fn for_this_process() -> Self {
        static FENCE: OnceLock<WakeFence> = OnceLock::new();
        *FENCE.get_or_init(|| {
            if membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) {
                Self::Asymmetric
            } else {
                Self::Full
            }
        })
    }
}

/// Longest single sleep when the sleeper's membarrier fails: a wake-up the writer might then
/// miss costs at most this long.
const UNFENCED_PARK: Duration = Duration::from_millis(1);

/// The shared words a wait watches: the sequence the other side advances, and the count of
/// sleepers the other side checks before waking anyone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signal<'a> {
    pub word: &'a AtomicU64,
    pub waiters: &'a AtomicU32,
}

impl Signal<'_> {
    /// Called by the side that owns `word`: publishes `value` (release) and wakes sleepers if
    /// there are any.
    #[inline]
    pub fn advance(&self, value: u64, fence: WakeFence) {
        match fence {
            WakeFence::Asymmetric => {
                self.word.store(value, Ordering::Release);
                // Keeps the load below after the store in program order; the sleeper's
                // membarrier supplies the hardware barrier (see the module docs).
                compiler_fence(Ordering::SeqCst);
                if self.waiters.load(Ordering::Relaxed) != 0 {
                    futex_wake(self.word);
                }
            }
            WakeFence::Full => {
                self.word.store(value, Ordering::SeqCst);
                if self.waiters.load(Ordering::SeqCst) != 0 {
                    futex_wake(self.word);
                }
            }
        }
    }

    /// Sleeps until `word` moves, `ready` holds, or `timeout` passes. A `fenced` park first
    /// issues the membarrier that makes a missed wake-up impossible; an unfenced one (a
    /// back-off's short park, already bounded) spares the writer's core that interrupt and, in
    /// the rare race, wakes at its timeout instead.
    fn park(&self, timeout: Duration, fenced: bool, ready: &mut impl FnMut() -> bool) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let timeout = if !fenced || membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) {
            timeout
        } else {
            timeout.min(UNFENCED_PARK)
        };
        let observed = self.word.load(Ordering::SeqCst);
        if !ready() {
            futex_wait(self.word, observed as u32, timeout);
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits with `strategy` until `ready()` holds or `timeout` passes; returns whether it holds.
pub(crate) fn wait_until(
    strategy: WaitStrategy,
    signal: Signal<'_>,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> bool {
    if ready() {
        return true;
    }
    let deadline = Instant::now() + timeout;
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let mut checks: u64 = 0;
    loop {
        checks += 1;
        match strategy {
            WaitStrategy::BusySpin => std::hint::spin_loop(),
            WaitStrategy::Yield => std::thread::yield_now(),
            WaitStrategy::Backoff { spins, yields, max_park } => {
                if checks <= u64::from(spins) {
                    std::hint::spin_loop();
                } else if checks <= u64::from(spins) + u64::from(yields) {
                    std::thread::yield_now();
                } else {
                    let parks = checks - u64::from(spins) - u64::from(yields);
                    let park = Duration::from_micros(1 << parks.min(20)).min(max_park);
                    signal.park(park.min(remaining()), false, &mut ready);
                }
            }
            WaitStrategy::Futex => signal.park(remaining(), true, &mut ready),
        }
        if ready() {
            return true;
        }
        // Reading the clock costs ~20 ns: a spinning wait looks at it every 64 checks.
        if (strategy != WaitStrategy::BusySpin || checks % 64 == 0) && remaining().is_zero() {
            return ready();
        }
    }
}

/// The address of the low 32 bits of `word` (the futex word; little-endian only).
fn futex_addr(word: &AtomicU64) -> *const u32 {
    word.as_ptr().cast::<u32>().cast_const()
}

fn futex_wait(word: &AtomicU64, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: the address is a live, 4-byte aligned word in a shared mapping (not
    // FUTEX_PRIVATE: sleepers and wakers are different processes); the kernel only reads it.
    // EAGAIN (value already changed), EINTR and ETIMEDOUT all just return to the caller's loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            futex_addr(word),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

fn futex_wake(word: &AtomicU64) {
    // SAFETY: as in `futex_wait`; FUTEX_WAKE only looks up sleepers on the address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            futex_addr(word),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Shared {
        word: AtomicU64,
        waiters: AtomicU32,
    }

    fn shared() -> Arc<Shared> {
        Arc::new(Shared { word: AtomicU64::new(0), waiters: AtomicU32::new(0) })
    }

    fn strategies() -> [WaitStrategy; 4] {
        [WaitStrategy::BusySpin, WaitStrategy::Yield, WaitStrategy::default(), WaitStrategy::Futex]
    }

    #[test]
    fn every_strategy_times_out_when_nothing_happens() {
        let s = shared();
        for strategy in strategies() {
            let start = Instant::now();
            let signal = Signal { word: &s.word, waiters: &s.waiters };
            let got = wait_until(strategy, signal, Duration::from_millis(20), || false);
            assert!(!got, "{strategy:?}");
            assert!(start.elapsed() >= Duration::from_millis(20), "{strategy:?} returned early");
            assert_eq!(s.waiters.load(Ordering::SeqCst), 0);
        }
    }

    #[test]
    fn this_kernel_allows_the_asymmetric_fence() {
        assert_eq!(WakeFence::for_this_process(), WakeFence::Asymmetric);
    }

    #[test]
    fn every_strategy_wakes_when_the_other_side_signals() {
        for strategy in strategies() {
            let s = shared();
            let writer = {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    let signal = Signal { word: &s.word, waiters: &s.waiters };
                    signal.advance(1, WakeFence::for_this_process());
                })
            };
            let signal = Signal { word: &s.word, waiters: &s.waiters };
            let start = Instant::now();
            let got =
                wait_until(strategy, signal, Duration::from_secs(5), || s.word.load(Ordering::Acquire) == 1);
            writer.join().unwrap();
            assert!(got, "{strategy:?}");
            assert!(start.elapsed() < Duration::from_secs(2), "{strategy:?} slept through the wake");
        }
    }
}
