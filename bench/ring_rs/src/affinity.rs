//! Which cores this process may run on, and pinning to one of them.

use crate::Result;

/// The cores this process is allowed to run on (`sched_getaffinity`), in increasing order.
pub fn allowed_cores() -> Result<Vec<usize>> {
    // SAFETY: an all-zero `cpu_set_t` is the valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable `cpu_set_t` of the size passed; pid 0 is this thread.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(format!("sched_getaffinity: {}", std::io::Error::last_os_error()).into());
    }
    let cores = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `core` is below CPU_SETSIZE, inside `set`.
        .filter(|&core| unsafe { libc::CPU_ISSET(core, &set) })
        .collect();
    Ok(cores)
}

/// Pins the calling thread (the whole process: the benchmark is single-threaded) to `core`.
pub fn pin(core: usize) -> Result<()> {
    if core >= libc::CPU_SETSIZE as usize {
        return Err(format!("core {core} is out of range").into());
    }
    // SAFETY: an all-zero `cpu_set_t` is the valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `core` was checked to be below CPU_SETSIZE, inside `set`.
    unsafe { libc::CPU_SET(core, &mut set) };
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed; pid 0 is this thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(format!("sched_setaffinity to core {core}: {}", std::io::Error::last_os_error()).into());
    }
    Ok(())
}
