//! How a TCP feed waits before connecting again: in short naps, so a stop request is noticed
//! within a few milliseconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Longest nap between checks of `stop`.
const NAP: Duration = Duration::from_millis(5);

/// Sleeps `delay`, returning early once `stop` is set.
pub(crate) fn pause(delay: Duration, stop: &AtomicBool) {
    let until = Instant::now() + delay;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep(NAP.min(until - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_lasts_its_delay_unless_stop_is_set() {
        let started = Instant::now();
        pause(Duration::from_millis(30), &AtomicBool::new(false));
        assert!(started.elapsed() >= Duration::from_millis(30));
        let started = Instant::now();
        pause(Duration::from_secs(60), &AtomicBool::new(true));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
