//! Which process holds a role in a segment, and whether it is still alive.
//!
//! A pid alone is not an identity: after a crash the kernel may hand it to an unrelated
//! process. A pid together with its start time (field 22 of `/proc/<pid>/stat`, clock ticks
//! after boot) is.

use std::fs;

/// A process identity that survives pid reuse: pid and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessToken {
    /// The process id.
    pub pid: u32,
    /// Its start time in clock ticks after boot.
    pub start_ticks: u64,
}

impl ProcessToken {
    /// The calling process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Self { pid, start_ticks: start_ticks(pid).unwrap_or(0) }
    }

    /// Whether this exact process (not merely this pid) is still running.
    pub fn is_alive(&self) -> bool {
        self.pid != 0 && start_ticks(self.pid) == Some(self.start_ticks)
    }

    /// The token in one word, so a role in a segment can be claimed with a single
    /// compare-and-swap: the pid in the low half, the low 32 bits of the start time above it
    /// (ticks wrap after 497 days at 100 Hz; a pid reused at exactly that distance is the only
    /// confusion left).
    pub fn packed(&self) -> u64 {
        (self.start_ticks & 0xffff_ffff) << 32 | u64::from(self.pid)
    }

    /// The pid in a packed token.
    pub fn packed_pid(packed: u64) -> u32 {
        packed as u32
    }

    /// Whether the process a packed token names is still running. 0 (no holder) is not.
    pub fn packed_is_alive(packed: u64) -> bool {
        let pid = Self::packed_pid(packed);
        pid != 0 && start_ticks(pid).is_some_and(|ticks| ticks & 0xffff_ffff == packed >> 32)
    }
}

/// Start time of `pid` in clock ticks after boot, or `None` if no such process exists.
/// A zombie counts as dead: it will never touch shared memory again.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past its last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_ascii_whitespace();
    // `rest` starts at field 3 (state); the start time is field 22.
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(22 - 4)?.parse().ok()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_current_process_is_alive() {
        let me = ProcessToken::current();
        assert!(me.start_ticks > 0);
        assert!(me.is_alive());
    }

    #[test]
    fn a_reused_pid_with_another_start_time_is_dead() {
        let me = ProcessToken::current();
        let impostor = ProcessToken { start_ticks: me.start_ticks + 1, ..me };
        assert!(!impostor.is_alive());
    }

    #[test]
    fn a_packed_token_keeps_its_identity() {
        let me = ProcessToken::current();
        assert_eq!(ProcessToken::packed_pid(me.packed()), me.pid);
        assert!(ProcessToken::packed_is_alive(me.packed()));
        assert!(!ProcessToken::packed_is_alive(0));
        let impostor = ProcessToken { start_ticks: me.start_ticks + 1, ..me };
        assert!(!ProcessToken::packed_is_alive(impostor.packed()));
    }

    #[test]
    fn an_exited_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn true");
        let token = ProcessToken { pid: child.id(), start_ticks: start_ticks(child.id()).unwrap_or(0) };
        child.wait().expect("wait");
        assert!(!token.is_alive());
    }
}
