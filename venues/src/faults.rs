//! Faults a venue injects into what it sends, so feeds' recovery is tested on real sockets:
//! messages dropped, duplicated or held back and sent after the next one (reordered), from a
//! seeded random source so a failing run can be repeated.

use crate::random::Random;

/// How often each fault happens, per message sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// Probability a message is never sent.
    pub drop: f64,
    /// Probability a message is sent twice.
    pub duplicate: f64,
    /// Probability a message is held back and sent after the next one.
    pub reorder: f64,
    /// Seed of the fault draws.
    pub seed: u64,
}

impl FaultPlan {
    /// No faults.
    pub const NONE: Self = Self { drop: 0.0, duplicate: 0.0, reorder: 0.0, seed: 0 };

    /// Checks every probability is within 0..=1, naming the one that is not.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [("drop", self.drop), ("duplicate", self.duplicate), ("reorder", self.reorder)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("fault probability {name}={p} is not within 0..=1"));
            }
        }
        Ok(())
    }

    /// Whether any fault can happen.
    pub fn is_none(&self) -> bool {
        self.drop == 0.0 && self.duplicate == 0.0 && self.reorder == 0.0
    }
}

/// Counts of the faults injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Messages dropped.
    pub dropped: u64,
    /// Messages sent twice.
    pub duplicated: u64,
    /// Messages sent after their successor.
    pub reordered: u64,
}

/// Applies a [`FaultPlan`] to a stream of messages.
#[derive(Debug, Clone)]
pub struct Faults<T> {
    plan: FaultPlan,
    rng: Random,
    held: Option<T>,
    counts: FaultCounts,
}

impl<T: Clone> Faults<T> {
    /// Faults drawn from `plan`.
    pub fn new(plan: FaultPlan) -> Self {
        Self { rng: Random::new(plan.seed, 0xFA17), plan, held: None, counts: FaultCounts::default() }
    }

    /// What was injected so far.
    pub fn counts(&self) -> FaultCounts {
        self.counts
    }

    /// Passes `message` on to `send` (or not, or twice, or later), then any message held back
    /// for reordering.
    pub fn pass(&mut self, message: T, mut send: impl FnMut(&T)) {
        if self.plan.is_none() {
            send(&message);
            return;
        }
        let roll = self.rng.uniform();
        if roll < self.plan.drop {
            self.counts.dropped += 1;
        } else if roll < self.plan.drop + self.plan.reorder && self.held.is_none() {
            self.counts.reordered += 1;
            self.held = Some(message);
            return;
        } else {
            send(&message);
            if self.rng.chance(self.plan.duplicate) {
                self.counts.duplicated += 1;
                send(&message);
            }
        }
        if let Some(held) = self.held.take() {
            send(&held);
        }
    }

    /// Sends the message held back, if any (before going quiet, so nothing stays held).
    pub fn flush(&mut self, mut send: impl FnMut(&T)) {
        if let Some(held) = self.held.take() {
            send(&held);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(plan: FaultPlan, n: u32) -> (Vec<u32>, FaultCounts) {
        let mut faults = Faults::new(plan);
        let mut sent = Vec::new();
        for m in 0..n {
            faults.pass(m, |&m| sent.push(m));
        }
        faults.flush(|&m| sent.push(m));
        (sent, faults.counts())
    }

    #[test]
    fn without_faults_everything_passes_in_order() {
        assert_eq!(run(FaultPlan::NONE, 100).0, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn faults_happen_at_their_rates_and_the_same_seed_repeats_them() {
        let plan = FaultPlan { drop: 0.05, duplicate: 0.05, reorder: 0.05, seed: 9 };
        let (sent, counts) = run(plan, 20_000);
        for count in [counts.dropped, counts.duplicated, counts.reordered] {
            assert!((700..1300).contains(&count), "{counts:?}");
        }
        assert_eq!(sent.len() as u64, 20_000 - counts.dropped + counts.duplicated);
        assert!(sent.windows(2).any(|w| w[0] > w[1]), "some messages arrive out of order");
        assert_eq!(run(plan, 20_000), (sent, counts));
    }

    #[test]
    fn a_probability_outside_zero_to_one_is_named() {
        let plan = FaultPlan { drop: 1.5, ..FaultPlan::NONE };
        assert!(plan.validate().unwrap_err().contains("drop=1.5"));
    }
}
