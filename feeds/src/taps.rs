//! What a feed's transport loop reports to besides its book sink: the feed's metrics segment
//! (counters mirrored after every read), the log (refused input, with the venue's name, at most
//! once a second) and, if asked, a recording of what it received.
//!
//! A recording that fails (a full disk, say) stops recording, never the feed: the books matter
//! more than their record. The failure is kept for the caller to report when the loop ends.

use std::io;
use std::time::{Duration, Instant};

use crate::metrics::{Counter, FeedMetrics, Mirror, Totals};
use crate::recording::Recorder;
use crate::refusals::{RefusalLog, Refusals};
use crate::sink::BookSink;

/// How often a loop shows it is alive, in its metrics and on its sink's segments.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(100);
/// Busy loops look at the clock for a heartbeat once per this many reads.
const READS_PER_CLOCK_CHECK: u32 = 64;

/// The metrics, log and recorder of one feed loop.
#[derive(Debug)]
pub struct Taps<'a> {
    venue: &'a str,
    metrics: Option<&'a FeedMetrics>,
    recorder: Option<&'a mut Recorder>,
    mirror: Mirror,
    log: RefusalLog,
    recording_error: Option<io::Error>,
    reads: u32,
    last_heartbeat: Option<Instant>,
}

impl Default for Taps<'_> {
    /// No metrics, no recording; refusals logged as an unnamed venue's.
    fn default() -> Self {
        Self::new("?", None, None)
    }
}

impl<'a> Taps<'a> {
    /// Taps of venue `venue`'s feed into `metrics` and `recorder`, either of which may be
    /// absent.
    pub fn new(venue: &'a str, metrics: Option<&'a FeedMetrics>, recorder: Option<&'a mut Recorder>) -> Self {
        Self {
            venue,
            metrics,
            recorder,
            mirror: Mirror::default(),
            log: RefusalLog::new(Duration::from_secs(1)),
            recording_error: None,
            reads: 0,
            last_heartbeat: None,
        }
    }

    /// Logs the handler's refusals to stderr, if a line is due.
    #[inline]
    pub fn log(&mut self, refusals: &Refusals) {
        if let Some(line) = self.log.due(self.venue, refusals) {
            eprintln!("{line}");
        }
    }

    /// Logs what the handler refused since the last line, whatever the period: for a loop
    /// that is ending.
    pub fn log_pending(&mut self, refusals: &Refusals) {
        if let Some(line) = self.log.pending(self.venue, refusals) {
            eprintln!("{line}");
        }
    }

    /// Records `bytes` received at `receive_ts_ns`; an empty frame marks a new connection.
    #[inline]
    pub fn record(&mut self, receive_ts_ns: u64, bytes: &[u8]) {
        if let Some(recorder) = self.recorder.as_deref_mut() {
            if let Err(error) = recorder.record(receive_ts_ns, bytes) {
                self.recorder = None;
                self.recording_error = Some(error);
            }
        }
    }

    /// Mirrors the handler's `totals` into the metrics segment.
    #[inline]
    pub fn mirror(&mut self, totals: impl FnOnce() -> Totals) {
        if let Some(metrics) = self.metrics {
            self.mirror.update(&totals(), metrics);
        }
    }

    /// Adds `by` to a counter the loop itself keeps (recovery requests, connects).
    pub fn add(&self, counter: Counter, by: u64) {
        if let Some(metrics) = self.metrics {
            metrics.add(counter, by);
        }
    }

    /// Shows the loop is alive, in the metrics segment and through `sink`, every 100 ms: call
    /// it after every read, and when a wait for input times out (`idle`), so a quiet feed still
    /// shows it is alive and a hung one does not.
    #[inline]
    pub fn pulse(&mut self, sink: &mut impl BookSink, idle: bool) {
        self.reads = self.reads.wrapping_add(1);
        if !idle && self.reads % READS_PER_CLOCK_CHECK != 0 {
            return;
        }
        let now = Instant::now();
        if self.last_heartbeat.is_some_and(|at| now.duration_since(at) < HEARTBEAT_EVERY) {
            return;
        }
        self.last_heartbeat = Some(now);
        if let Some(metrics) = self.metrics {
            metrics.heartbeat();
        }
        sink.heartbeat();
    }

    /// Why recording stopped, if it failed.
    pub fn take_recording_error(&mut self) -> Option<io::Error> {
        self.recording_error.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::Replay;

    #[test]
    fn a_loop_pulses_its_sink_once_per_period_whether_idle_or_busy() {
        #[derive(Default)]
        struct Beats(u32);
        impl BookSink for Beats {
            fn level(
                &mut self,
                _: u32,
                _: &crate::book::LevelChange,
                _: &crate::sink::Stamps,
            ) -> shm_layout::ShmResult<()> {
                Ok(())
            }
            fn book(
                &mut self,
                _: u32,
                _: &crate::book::Book,
                _: bool,
                _: &crate::sink::Stamps,
            ) -> shm_layout::ShmResult<()> {
                Ok(())
            }
            fn heartbeat(&mut self) {
                self.0 += 1;
            }
        }
        let (mut taps, mut sink) = (Taps::default(), Beats::default());
        taps.pulse(&mut sink, true);
        assert_eq!(sink.0, 1, "the first idle wait shows life at once");
        for _ in 0..10_000 {
            taps.pulse(&mut sink, false);
        }
        assert_eq!(sink.0, 1, "at most once per period");
        std::thread::sleep(HEARTBEAT_EVERY);
        for _ in 0..READS_PER_CLOCK_CHECK {
            taps.pulse(&mut sink, false);
        }
        assert_eq!(sink.0, 2, "a busy loop shows life too");
    }

    #[test]
    fn a_recording_that_fails_stops_recording_and_keeps_the_error_for_later() {
        let path = std::env::temp_dir().join(format!("feeds-taps-{}.rec", std::process::id()));
        let mut recorder = Recorder::create(&path).unwrap();
        let mut taps = Taps::new("A", None, Some(&mut recorder));
        taps.record(1, b"kept");
        taps.record(2, &vec![0u8; 2 << 20]); // over the largest frame a recording takes
        taps.record(3, b"not recorded: recording has stopped");
        let error = taps.take_recording_error().expect("the failure is kept");
        assert!(error.to_string().contains("bytes"), "{error}");
        recorder.finish().unwrap();
        let frames = Replay::open(&path).unwrap().read_all().unwrap();
        assert_eq!(frames.frames.len(), 1);
        std::fs::remove_file(path).unwrap();
    }
}
