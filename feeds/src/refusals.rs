//! Input a handler refused (malformed, unknown, or not fitting its book), kept by the handler
//! for the loop that owns it to log with the venue's name: the hot path only counts and keeps
//! the last one (formatting it, on this rare path); the loop prints at most one line a second.

use std::fmt;
use std::time::{Duration, Instant};

/// One refused input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The venue's sequence number of the input, when it was readable.
    pub sequence: Option<u64>,
    /// Which packet or message of the feed it was (1 for the first received), so it can be
    /// found in a recording.
    pub received: u64,
    /// What was wrong.
    pub what: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sequence {
            Some(sequence) => write!(f, "{} (sequence {sequence}, input {})", self.what, self.received),
            None => write!(f, "{} (input {})", self.what, self.received),
        }
    }
}

/// A handler's refusals: how many, and the last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals {
    count: u64,
    last: Option<Refusal>,
}

impl Refusals {
    /// Notes that input number `received` (with the venue's `sequence`, if readable) was
    /// refused because of `what`.
    #[cold]
    pub fn note(&mut self, sequence: Option<u64>, received: u64, what: impl fmt::Display) {
        self.count += 1;
        self.last = Some(Refusal { sequence, received, what: what.to_string() });
    }

    /// How many inputs were refused.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The last one refused.
    pub fn last(&self) -> Option<&Refusal> {
        self.last.as_ref()
    }
}

/// Logs a handler's refusals to stderr, at most one line per `every`.
#[derive(Debug)]
pub struct RefusalLog {
    every: Duration,
    logged: u64,
    at: Option<Instant>,
}

impl RefusalLog {
    /// A log printing at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Self { every, logged: 0, at: None }
    }

    /// The line to print about `refusals` by venue `venue`'s feed now, if any is due: what
    /// was refused since the last line, and the last refusal.
    #[inline]
    pub fn due(&mut self, venue: &str, refusals: &Refusals) -> Option<String> {
        // The count first: a feed that refused nothing new never reads the clock here.
        if refusals.count() == self.logged || self.at.is_some_and(|at| at.elapsed() < self.every) {
            return None;
        }
        self.pending(venue, refusals)
    }

    /// The line about what was refused since the last line, whatever the period (when the
    /// feed stops, say).
    pub fn pending(&mut self, venue: &str, refusals: &Refusals) -> Option<String> {
        let new = refusals.count() - self.logged;
        if new == 0 {
            return None;
        }
        self.logged = refusals.count();
        self.at = Some(Instant::now());
        let last = refusals.last()?;
        Some(format!("venue {venue} feed: refused {new} input(s); the last: {last}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_logged_with_the_venue_and_sequence_at_most_once_per_period() {
        let mut refusals = Refusals::default();
        let mut log = RefusalLog::new(Duration::from_secs(3600));
        assert_eq!(log.due("A", &refusals), None, "nothing refused, nothing logged");
        refusals.note(Some(42), 7, "message: truncated");
        let line = log.due("A", &refusals).expect("the first refusal is logged at once");
        assert_eq!(
            line,
            "venue A feed: refused 1 input(s); the last: message: truncated (sequence 42, input 7)"
        );
        refusals.note(None, 9, "packet of another session");
        assert_eq!(log.due("A", &refusals), None, "the next line waits for the period");
        let last = log.pending("A", &refusals).expect("a stopping feed says what is pending");
        assert!(last.contains("refused 1 input(s); the last: packet of another session (input 9)"), "{last}");
        assert_eq!(log.pending("A", &refusals), None);
    }
}
