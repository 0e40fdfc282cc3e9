//! Claiming the writer's role or a reader cursor in a segment: one live holder at a time, and a
//! dead holder's role is taken over.

use crate::process::ProcessToken;
use crate::sync::{AtomicU64, Ordering};

/// Claims `role` for `me` (a packed [`ProcessToken`]). Fails with the live holder's pid.
pub(crate) fn claim(role: &AtomicU64, me: u64) -> Result<(), u32> {
    let mut holder = role.load(Ordering::Acquire);
    loop {
        if holder != 0 && ProcessToken::packed_is_alive(holder) {
            return Err(ProcessToken::packed_pid(holder));
        }
        // The holder is absent or dead: take over. Losing the race means someone else just
        // claimed it, and the next round sees them alive.
        match role.compare_exchange(holder, me, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(()),
            Err(current) => holder = current,
        }
    }
}

/// Gives `role` back if `me` still holds it.
pub(crate) fn release(role: &AtomicU64, me: u64) {
    let _ = role.compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
}
