//! Token buckets for order and cancel rates, in integer arithmetic.

/// Nano-tokens in one token.
const UNIT: i64 = 1_000_000_000;

/// A bucket of `burst` tokens refilled at `rate_per_s`; one token per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    /// Tokens now, in nano-tokens (may go below zero for messages that always pass).
    level: i64,
    /// Most tokens it holds, in nano-tokens.
    capacity: i64,
    /// Tokens added per second, which is nano-tokens per nanosecond.
    rate_per_s: i64,
    /// When it was last refilled.
    refilled_ns: u64,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `rate_per_s` tokens a second.
    pub fn new(rate_per_s: u32, burst: u32, now_ns: u64) -> Self {
        let capacity = i64::from(burst) * UNIT;
        Self { level: capacity, capacity, rate_per_s: i64::from(rate_per_s), refilled_ns: now_ns }
    }

    fn refill(&mut self, now_ns: u64) {
        let elapsed = i128::from(now_ns.saturating_sub(self.refilled_ns));
        let room = i128::from(self.capacity - self.level);
        self.level += (elapsed * i128::from(self.rate_per_s)).min(room) as i64;
        self.refilled_ns = self.refilled_ns.max(now_ns);
    }

    /// Whether a token is there now (without taking it).
    pub fn has_token(&mut self, now_ns: u64) -> bool {
        self.refill(now_ns);
        self.level >= UNIT
    }

    /// Takes a token, if there is one.
    pub fn try_take(&mut self, now_ns: u64) -> bool {
        let ok = self.has_token(now_ns);
        if ok {
            self.level -= UNIT;
        }
        ok
    }

    /// Takes a token whether or not there is one (for messages that always pass), going into
    /// debt down to one burst below empty.
    pub fn take(&mut self, now_ns: u64) {
        self.refill(now_ns);
        self.level = (self.level - UNIT).max(-self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_refills_it() {
        let mut bucket = TokenBucket::new(10, 3, 0);
        assert!((0..3).all(|_| bucket.try_take(0)));
        assert!(!bucket.try_take(0), "the burst is spent");
        assert!(!bucket.try_take(99_999_999), "a tenth of a second, less a nanosecond");
        assert!(bucket.try_take(100_000_000), "one token per tenth of a second");
        assert!(bucket.has_token(10_000_000_000) && (0..3).all(|_| bucket.try_take(10_000_000_000)));
        assert!(!bucket.has_token(10_000_000_000), "never more than the burst");
    }

    #[test]
    fn a_long_idle_refills_the_whole_burst_whatever_the_rate() {
        let mut bucket = TokenBucket::new(1, 5, 0);
        for _ in 0..5 {
            bucket.take(0);
        }
        let minute = 60_000_000_000;
        assert!((0..5).all(|_| bucket.try_take(minute)), "a minute at 1/s refills 5");
        let mut fast = TokenBucket::new(u32::MAX, 2, 0);
        fast.take(0);
        fast.take(0);
        assert!(fast.has_token(u64::MAX), "no overflow at the largest rate and time");
    }

    #[test]
    fn messages_that_always_pass_run_the_bucket_into_debt_that_must_be_repaid() {
        let mut bucket = TokenBucket::new(10, 2, 0);
        for _ in 0..5 {
            bucket.take(0);
        }
        assert!(!bucket.has_token(0));
        assert!(!bucket.has_token(200_000_000), "two tokens of debt repaid, none left");
        assert!(bucket.has_token(300_000_000));
    }
}
