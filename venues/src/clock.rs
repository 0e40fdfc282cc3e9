//! The wall clock the venue servers stamp their messages with: time since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch (0 if the clock is set before it).
pub fn unix_now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Milliseconds since the Unix epoch (0 if the clock is set before it).
pub fn unix_now_ms() -> u64 {
    unix_now_ns() / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_the_nanoseconds_truncated_and_both_are_after_2024() {
        let (ns, ms) = (unix_now_ns(), unix_now_ms());
        assert!(ns > 1_704_067_200_000_000_000, "after 2024-01-01: {ns}");
        assert!(ms >= ns / 1_000_000 && ms - ns / 1_000_000 < 1_000, "{ms} vs {ns}");
    }
}
