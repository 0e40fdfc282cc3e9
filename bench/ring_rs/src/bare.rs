//! Baselines without any ring: two raw 32-bit words in a shared segment, ping-ponged between
//! the processes either with `FUTEX_WAIT`/`FUTEX_WAKE` (shared, not `FUTEX_PRIVATE_FLAG`) or by
//! spinning. They show what a wake-up (or a cache-line transfer) costs on this machine, so the
//! ring's figures can be compared with them.

use std::ffi::CString;
use std::path::Path;
use std::process::ExitCode;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::child::{die_with_parent, parent_alive};
use crate::cli::Flags;
use crate::process::ChildGuard;
use crate::proto::Stall;
use crate::{affinity, Result};

/// The hidden subcommand of the baseline's child.
pub const SUBCOMMAND: &str = "bare-pong";

/// Size of the shared segment.
const SEGMENT_BYTES: usize = 4096;

/// Byte offset of the pong word: a cache-line pair away from the ping word at 0.
const PONG_OFFSET: usize = 128;

/// Longest single futex sleep; the stall deadline is checked between sleeps.
const FUTEX_SLICE: Duration = Duration::from_millis(20);

/// How a baseline waits for the other side's word to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sleep in `FUTEX_WAIT`; the other side always calls `FUTEX_WAKE` after storing.
    Futex,
    /// Spin on the word with `spin_loop`.
    Spin,
}

impl Mode {
    /// The transport name reported in the JSON output.
    pub fn transport(self) -> &'static str {
        match self {
            Mode::Futex => "bare-futex",
            Mode::Spin => "bare-spin",
        }
    }

    /// The name used on the command line.
    fn name(self) -> &'static str {
        match self {
            Mode::Futex => "futex",
            Mode::Spin => "spin",
        }
    }

    /// Parses [`Mode::name`].
    fn parse(name: &str) -> Result<Self> {
        match name {
            "futex" => Ok(Mode::Futex),
            "spin" => Ok(Mode::Spin),
            _ => Err(format!("unknown bare mode {name:?}").into()),
        }
    }
}

/// A mapped POSIX shared-memory segment holding the two words; unmapped on drop, and unlinked
/// too by the process that created it.
#[derive(Debug)]
struct SharedWords {
    /// The segment's name.
    name: CString,
    /// The start of the mapping (`SEGMENT_BYTES` long, page-aligned).
    base: NonNull<u8>,
    /// Whether this process created the segment (and so unlinks it).
    owner: bool,
}

impl SharedWords {
    /// Creates (`create`) or opens the segment `name` and maps it.
    fn map(name: &str, create: bool) -> Result<Self> {
        let cname = CString::new(name)?;
        let flags = libc::O_RDWR | libc::O_CLOEXEC | if create { libc::O_CREAT | libc::O_EXCL } else { 0 };
        // SAFETY: `cname` is a valid NUL-terminated string.
        let fd = unsafe { libc::shm_open(cname.as_ptr(), flags, 0o600) };
        if fd < 0 {
            return Err(format!("shm_open {name}: {}", std::io::Error::last_os_error()).into());
        }
        // A segment we created is unlinked again if it cannot be sized or mapped.
        let mapped = Self::map_fd(fd, create);
        // SAFETY: `fd` is open and owned here; the mapping (if any) outlives the descriptor.
        unsafe { libc::close(fd) };
        match mapped {
            Ok(base) => Ok(Self { name: cname, base, owner: create }),
            Err(err) => {
                if create {
                    // SAFETY: `cname` is a valid NUL-terminated string.
                    unsafe { libc::shm_unlink(cname.as_ptr()) };
                }
                Err(err)
            }
        }
    }

    /// Sizes (when creating) and maps the open descriptor `fd`.
    fn map_fd(fd: libc::c_int, create: bool) -> Result<NonNull<u8>> {
        // SAFETY: `fd` is an open shared-memory descriptor.
        if create && unsafe { libc::ftruncate(fd, SEGMENT_BYTES as libc::off_t) } != 0 {
            return Err(format!("ftruncate: {}", std::io::Error::last_os_error()).into());
        }
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a fresh shared mapping of an open descriptor at least SEGMENT_BYTES long (the
        // creator sized it before the child is started); the kernel picks the address.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), SEGMENT_BYTES, prot, libc::MAP_SHARED, fd, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()).into());
        }
        NonNull::new(ptr.cast()).ok_or_else(|| "mmap returned null".into())
    }

    /// The word at byte `offset`.
    fn word(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset + 4 <= SEGMENT_BYTES && offset % 4 == 0);
        // SAFETY: the offset is inside the live, page-aligned mapping and 4-byte aligned; the
        // memory is shared zero-initialised bytes only ever accessed atomically, valid as any
        // u32; the reference borrows `self`, so it cannot outlive the mapping.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The word the parent writes.
    fn ping(&self) -> &AtomicU32 {
        self.word(0)
    }

    /// The word the child writes.
    fn pong(&self) -> &AtomicU32 {
        self.word(PONG_OFFSET)
    }

    /// Unlinks the segment now if this process created it (the mappings stay valid).
    fn unlink(&mut self) {
        if self.owner {
            self.owner = false;
            // SAFETY: `name` is a valid NUL-terminated string.
            unsafe { libc::shm_unlink(self.name.as_ptr()) };
        }
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        // SAFETY: `base` is the start of a SEGMENT_BYTES mapping made in `map`, unmapped only
        // here; no reference into it outlives `self`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), SEGMENT_BYTES) };
        self.unlink();
    }
}

/// `FUTEX_WAIT` on `word` while it holds `expected`, for at most `timeout`; returns whether it
/// timed out.
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> bool {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned 32-bit word in a shared mapping (hence no
    // FUTEX_PRIVATE_FLAG: the waker is another process); the kernel only reads it and `ts`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT)
}

/// `FUTEX_WAKE` one sleeper on `word`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: as in `futex_wait`; FUTEX_WAKE only looks up sleepers on the address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            1i32,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

/// Stores `value` into `word` and, with a futex, wakes the other side.
#[inline]
fn signal(word: &AtomicU32, value: u32, mode: Mode) {
    word.store(value, Ordering::SeqCst);
    if mode == Mode::Futex {
        futex_wake(word);
    }
}

/// Waits until `word` holds something other than `old`; returns the new value.
#[inline]
fn await_change(
    word: &AtomicU32,
    old: u32,
    mode: Mode,
    limit: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
) -> Result<u32> {
    let mut stall = Stall::new(limit);
    loop {
        let value = word.load(Ordering::SeqCst);
        if value != old {
            return Ok(value);
        }
        let check = match mode {
            Mode::Spin => {
                std::hint::spin_loop();
                stall.tick()
            }
            Mode::Futex => futex_wait(word, old, FUTEX_SLICE) || stall.tick(),
        };
        if check {
            stall.check(alive, "waiting for the other side's word")?;
        }
    }
}

/// Runs one baseline from the parent: `warmup + round_trips` round trips, the child on
/// `child_core`; returns the recorded round-trip times in ns.
pub fn run(
    exe: &Path,
    mode: Mode,
    round_trips: u64,
    warmup: u64,
    child_core: Option<usize>,
    limit: Duration,
) -> Result<Vec<u64>> {
    let total = round_trips + warmup;
    if total >= u64::from(u32::MAX) {
        return Err("too many round trips for a 32-bit word".into());
    }
    let name = format!("/tickrail-bench.{}.bare-{}", std::process::id(), mode.name());
    let mut words = SharedWords::map(&name, true)?;
    let mut args = vec![
        SUBCOMMAND.to_owned(),
        "--shm".to_owned(),
        name,
        "--mode".to_owned(),
        mode.name().to_owned(),
        "--count".to_owned(),
        total.to_string(),
        "--timeout-s".to_owned(),
        limit.as_secs_f64().to_string(),
    ];
    if let Some(core) = child_core {
        args.extend(["--core".to_owned(), core.to_string()]);
    }
    let mut child = ChildGuard::spawn(exe, &args)?;
    let mut samples = Vec::with_capacity(round_trips as usize);
    for i in 1..=total as u32 {
        let start = Instant::now();
        signal(words.ping(), i, mode);
        let echoed = await_change(words.pong(), i - 1, mode, limit, &mut || child.alive())?;
        let elapsed = start.elapsed();
        if echoed != i {
            return Err(format!("sent {i}, the child answered {echoed}").into());
        }
        if u64::from(i) > warmup {
            samples.push(elapsed.as_nanos() as u64);
        }
        if i == 1 {
            // The child has mapped the segment: its name is no longer needed.
            words.unlink();
        }
    }
    child.finish(limit)?;
    Ok(samples)
}

/// Runs the baseline's child: `bare-pong --shm NAME --mode futex|spin --count N --timeout-s S
/// [--core C]`, echoing every ping value into the pong word.
pub fn child_main(args: &[String]) -> Result<ExitCode> {
    die_with_parent();
    let flags = Flags::parse(args, &["--shm", "--mode", "--count", "--timeout-s", "--core"], &[])?;
    if let Some(core) = flags.number::<usize>("--core")? {
        affinity::pin(core)?;
    }
    let mode = Mode::parse(flags.required("--mode")?)?;
    let count: u32 = flags.number("--count")?.ok_or("missing --count")?;
    let limit = flags.seconds("--timeout-s")?.ok_or("missing --timeout-s")?;
    let words = SharedWords::map(flags.required("--shm")?, false)?;
    let mut alive = parent_alive();
    let mut last = 0;
    while last != count {
        last = await_change(words.ping(), last, mode, limit, &mut alive)?;
        signal(words.pong(), last, mode);
    }
    Ok(ExitCode::SUCCESS)
}
