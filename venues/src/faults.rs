//! Faults a venue injects into the market data it sends, so feeds' recovery is tested on real
//! sockets: messages dropped, sent twice, held back and sent after the next one (reordered),
//! and connections cut, at random or every so many messages, from a seeded source so a failing
//! run can be repeated.
//!
//! Every fault decision of every venue is made here. [`FaultPlan`] says how often each fault
//! happens and is checked by [`FaultPlan::validate`]; [`FaultDraws`], one per venue, draws a
//! [`Fault`] per message while the plan is active; [`StreamFaults`], one per outgoing stream (a
//! client's connection, or a multicast feed), applies the draws to that stream and holds back
//! the message being reordered. The servers keep only what depends on their protocol: how a
//! message and its duplicate are written (FIX marks the copy PossDupFlag=Y) and how a
//! connection is cut.

use std::borrow::Borrow;
use std::fmt;
use std::time::Duration;

use crate::random::Random;

/// How often each fault happens, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// Probability a message is never sent.
    pub drop: f64,
    /// Probability a message is sent twice.
    pub duplicate: f64,
    /// Probability a message is held back and sent after the next one.
    pub reorder: f64,
    /// Probability a message cuts its connection instead of being sent.
    pub disconnect: f64,
    /// Cut each connection when this many messages have passed on it, and again every as many.
    pub disconnect_every: Option<u64>,
    /// Faults happen during this long after the venue opens and none after it (so a test can
    /// see feeds recover, then check them against a quiet tail); `None`: while it trades.
    pub active_for: Option<Duration>,
    /// Seed of the fault draws.
    pub seed: u64,
}

impl FaultPlan {
    /// No faults.
    pub const NONE: Self = Self {
        drop: 0.0,
        duplicate: 0.0,
        reorder: 0.0,
        disconnect: 0.0,
        disconnect_every: None,
        active_for: None,
        seed: 0,
    };

    /// Checks every probability is within 0..=1 and they add up to at most 1 (one draw picks
    /// at most one fault per message), and that connections are not cut every 0 messages.
    pub fn validate(&self) -> Result<(), FaultPlanError> {
        let probabilities = [
            ("drop", self.drop),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("disconnect", self.disconnect),
        ];
        for (field, value) in probabilities {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultPlanError::Probability { field, value });
            }
        }
        let sum = self.total_probability();
        if sum > 1.0 {
            return Err(FaultPlanError::ProbabilitySum { sum });
        }
        if self.disconnect_every == Some(0) {
            return Err(FaultPlanError::DisconnectEveryZero);
        }
        Ok(())
    }

    /// Whether no fault can ever happen.
    pub fn is_none(&self) -> bool {
        self.total_probability() == 0.0 && self.disconnect_every.is_none()
    }

    /// Whether the plan can cut connections.
    pub fn disconnects(&self) -> bool {
        self.disconnect > 0.0 || self.disconnect_every.is_some()
    }

    fn total_probability(&self) -> f64 {
        self.drop + self.duplicate + self.reorder + self.disconnect
    }
}

/// Why a [`FaultPlan`] is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultPlanError {
    /// A probability is outside 0..=1 (or not a number).
    #[error("fault probability {field}={value} is not within 0..=1")]
    Probability {
        /// The plan's field.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// The probabilities add up to more than 1.
    #[error("fault probabilities drop+duplicate+reorder+disconnect={sum} add up to more than 1")]
    ProbabilitySum {
        /// Their sum.
        sum: f64,
    },
    /// `disconnect_every` is 0.
    #[error("disconnect_every must be at least 1 message")]
    DisconnectEveryZero,
}

/// What happens to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Sent as it is.
    Deliver,
    /// Never sent.
    Drop,
    /// Sent twice.
    Duplicate,
    /// Held back and sent after the next message.
    HoldBack,
    /// Not sent: the connection is cut instead.
    Disconnect,
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
    /// Connections cut.
    pub disconnects: u64,
}

/// A venue's seeded source of fault decisions, shared by all its streams, with the venue's
/// clock that says whether the plan is active.
#[derive(Debug, Clone)]
pub struct FaultDraws {
    plan: FaultPlan,
    rng: Random,
    active: bool,
    counts: FaultCounts,
}

impl FaultDraws {
    /// Draws from `plan`, active from the venue's opening.
    pub fn new(plan: FaultPlan) -> Self {
        let mut draws =
            Self { rng: Random::new(plan.seed, 0xFA17), plan, active: false, counts: FaultCounts::default() };
        draws.set_clock(Some(Duration::ZERO));
        draws
    }

    /// Sets the venue's clock: `Some(time since it opened)` while it trades, `None` once it has
    /// closed. Faults happen only while trading, within the plan's `active_for`.
    pub fn set_clock(&mut self, since_open: Option<Duration>) {
        self.active = !self.plan.is_none()
            && since_open.is_some_and(|t| self.plan.active_for.map_or(true, |window| t < window));
    }

    /// The fault for the `ordinal`-th message (counted from 1) of a stream that is `holding` a
    /// message back already (a reorder draw then delivers: one message is held at a time).
    pub fn draw(&mut self, ordinal: u64, holding: bool) -> Fault {
        if !self.active {
            return Fault::Deliver;
        }
        let plan = &self.plan;
        let roll = self.rng.uniform();
        let disconnect = plan.disconnect;
        let drop = disconnect + plan.drop;
        let duplicate = drop + plan.duplicate;
        let reorder = duplicate + plan.reorder;
        let fault = if plan.disconnect_every.is_some_and(|n| ordinal % n == 0) || roll < disconnect {
            Fault::Disconnect
        } else if roll < drop {
            Fault::Drop
        } else if roll < duplicate {
            Fault::Duplicate
        } else if roll < reorder && !holding {
            Fault::HoldBack
        } else {
            Fault::Deliver
        };
        let counter = match fault {
            Fault::Deliver => return fault,
            Fault::Drop => &mut self.counts.dropped,
            Fault::Duplicate => &mut self.counts.duplicated,
            Fault::HoldBack => &mut self.counts.reordered,
            Fault::Disconnect => &mut self.counts.disconnects,
        };
        *counter += 1;
        fault
    }

    /// What was injected so far.
    pub fn counts(&self) -> FaultCounts {
        self.counts
    }
}

/// Which copy of a message a stream sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The message, in its turn.
    Original,
    /// The message again, right after the original.
    Duplicate,
    /// A message held back, after its successor.
    Late,
}

/// What a stream's connection does after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a cut connection must be closed by the server"]
pub enum Connection {
    /// Stays up.
    Keep,
    /// Is to be cut now; the message and any held back are lost with it.
    Cut,
}

/// The faults of one outgoing stream: how many messages it passed (for
/// [`FaultPlan::disconnect_every`]) and the message it holds back for reordering, an owned copy
/// of an `M` (made only for the messages held back).
pub struct StreamFaults<M: ?Sized + ToOwned> {
    passed: u64,
    held: Option<M::Owned>,
}

impl<M: ?Sized + ToOwned> StreamFaults<M> {
    /// A stream that has passed nothing yet.
    pub fn new() -> Self {
        Self { passed: 0, held: None }
    }

    /// Passes `message` on to `send` as `draws` decide: once, twice, not at all, or after the
    /// next message; then the message held back, if any (unless the connection is cut).
    pub fn pass(
        &mut self,
        draws: &mut FaultDraws,
        message: &M,
        mut send: impl FnMut(&M, Delivery),
    ) -> Connection {
        self.passed += 1;
        match draws.draw(self.passed, self.held.is_some()) {
            Fault::Disconnect => {
                self.held = None;
                return Connection::Cut;
            }
            Fault::HoldBack => {
                self.held = Some(message.to_owned());
                return Connection::Keep;
            }
            Fault::Drop => {}
            Fault::Deliver => send(message, Delivery::Original),
            Fault::Duplicate => {
                send(message, Delivery::Original);
                send(message, Delivery::Duplicate);
            }
        }
        self.flush(send);
        Connection::Keep
    }

    /// Sends the message held back, if any (before the stream goes quiet, so nothing stays held).
    pub fn flush(&mut self, mut send: impl FnMut(&M, Delivery)) {
        if let Some(held) = self.held.take() {
            send(held.borrow(), Delivery::Late);
        }
    }
}

impl<M: ?Sized + ToOwned> Default for StreamFaults<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: ?Sized + ToOwned> fmt::Debug for StreamFaults<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamFaults")
            .field("passed", &self.passed)
            .field("holding", &self.held.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `plan` makes of messages 0..n on one stream, flushed at the end; `None` marks a cut.
    fn run(plan: FaultPlan, n: u32) -> (Vec<Option<(u32, Delivery)>>, FaultCounts) {
        let mut draws = FaultDraws::new(plan);
        let mut stream = StreamFaults::<u32>::new();
        let mut sent = Vec::new();
        for m in 0..n {
            if stream.pass(&mut draws, &m, |&m, delivery| sent.push(Some((m, delivery)))) == Connection::Cut {
                sent.push(None);
            }
        }
        stream.flush(|&m, delivery| sent.push(Some((m, delivery))));
        (sent, draws.counts())
    }

    fn messages(sent: &[Option<(u32, Delivery)>]) -> Vec<u32> {
        sent.iter().flatten().map(|&(m, _)| m).collect()
    }

    #[test]
    fn without_faults_everything_passes_in_order() {
        let (sent, counts) = run(FaultPlan::NONE, 100);
        assert_eq!(messages(&sent), (0..100).collect::<Vec<_>>());
        assert!(sent.iter().all(|s| matches!(s, Some((_, Delivery::Original)))));
        assert_eq!(counts, FaultCounts::default());
    }

    #[test]
    fn faults_happen_at_their_rates_and_the_same_seed_repeats_them() {
        let plan = FaultPlan {
            drop: 0.05,
            duplicate: 0.05,
            reorder: 0.05,
            disconnect: 0.05,
            seed: 9,
            ..FaultPlan::NONE
        };
        let (sent, counts) = run(plan, 20_000);
        for count in [counts.dropped, counts.duplicated, counts.reordered, counts.disconnects] {
            assert!((800..1200).contains(&count), "{counts:?}");
        }
        assert_eq!(sent.iter().filter(|s| s.is_none()).count() as u64, counts.disconnects);
        let duplicates = sent.iter().filter(|s| matches!(s, Some((_, Delivery::Duplicate)))).count() as u64;
        let late = sent.iter().filter(|s| matches!(s, Some((_, Delivery::Late)))).count() as u64;
        assert_eq!(duplicates, counts.duplicated);
        let sent_messages = messages(&sent);
        assert!(sent_messages.windows(2).any(|w| w[0] > w[1]), "some messages arrive out of order");
        assert!(late > 0 && late <= counts.reordered, "held messages go out late unless a cut loses them");
        assert_eq!(run(plan, 20_000), (sent, counts));
    }

    #[test]
    fn a_held_message_goes_out_in_its_successors_turn_unless_a_cut_loses_it() {
        let plan = FaultPlan {
            drop: 0.2,
            duplicate: 0.2,
            reorder: 0.3,
            disconnect: 0.1,
            seed: 4,
            ..FaultPlan::NONE
        };
        let mut draws = FaultDraws::new(plan);
        let mut stream = StreamFaults::<u32>::new();
        let (mut held, mut late, mut cut_while_holding) = (None, 0, 0);
        for turn in 0..5_000 {
            let mut sent_late = None;
            let connection = stream.pass(&mut draws, &turn, |&m, delivery| {
                if delivery == Delivery::Late {
                    sent_late = Some(m);
                }
            });
            match (connection, held) {
                (Connection::Cut, Some(_)) => cut_while_holding += 1,
                (Connection::Cut, None) => {}
                (Connection::Keep, Some(m)) => {
                    assert_eq!(sent_late, Some(m), "message {m} went out late in turn {turn}");
                    late += 1;
                }
                (Connection::Keep, None) => assert_eq!(sent_late, None),
            }
            held = stream.held.is_some().then_some(turn);
        }
        assert!(late > 100 && cut_while_holding > 0, "{late} {cut_while_holding}");
        assert_eq!(late + cut_while_holding + u64::from(held.is_some()), draws.counts().reordered);
    }

    #[test]
    fn a_stream_is_cut_every_n_messages() {
        let plan = FaultPlan { disconnect_every: Some(10), ..FaultPlan::NONE };
        let (sent, counts) = run(plan, 35);
        assert_eq!(counts.disconnects, 3);
        let cuts: Vec<usize> = sent.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| i).collect();
        assert_eq!(cuts, [9, 19, 29], "messages 9, 19 and 29 (the 10th, 20th, 30th) cut the connection");
        assert_eq!(messages(&sent).len(), 32);
    }

    #[test]
    fn faults_stop_when_the_active_window_ends_and_when_the_venue_closes() {
        let plan = FaultPlan { drop: 1.0, active_for: Some(Duration::from_secs(2)), ..FaultPlan::NONE };
        let mut draws = FaultDraws::new(plan);
        assert_eq!(draws.draw(1, false), Fault::Drop);
        draws.set_clock(Some(Duration::from_millis(1_999)));
        assert_eq!(draws.draw(2, false), Fault::Drop);
        draws.set_clock(Some(Duration::from_secs(2)));
        assert_eq!(draws.draw(3, false), Fault::Deliver);
        let mut always = FaultDraws::new(FaultPlan { active_for: None, ..plan });
        always.set_clock(Some(Duration::from_secs(3_600)));
        assert_eq!(always.draw(1, false), Fault::Drop);
        always.set_clock(None);
        assert_eq!(always.draw(2, false), Fault::Deliver);
        assert_eq!(always.counts().dropped, 1);
    }

    #[test]
    fn a_reorder_draw_delivers_while_a_message_is_already_held() {
        let mut draws = FaultDraws::new(FaultPlan { reorder: 1.0, ..FaultPlan::NONE });
        assert_eq!(draws.draw(1, false), Fault::HoldBack);
        assert_eq!(draws.draw(2, true), Fault::Deliver);
        assert_eq!(draws.counts().reordered, 1);
    }

    #[test]
    fn a_bad_plan_is_refused_naming_what_is_wrong() {
        let bad = |plan: FaultPlan| plan.validate().unwrap_err().to_string();
        assert!(bad(FaultPlan { drop: 1.5, ..FaultPlan::NONE }).contains("drop=1.5 is not within 0..=1"));
        assert!(bad(FaultPlan { duplicate: -0.1, ..FaultPlan::NONE }).contains("duplicate=-0.1"));
        assert!(bad(FaultPlan { reorder: f64::NAN, ..FaultPlan::NONE }).contains("reorder=NaN"));
        assert!(bad(FaultPlan { disconnect: 2.0, ..FaultPlan::NONE }).contains("disconnect=2 is not within"));
        assert!(
            bad(FaultPlan { drop: 0.6, reorder: 0.6, ..FaultPlan::NONE }).contains("add up to more than 1")
        );
        assert!(bad(FaultPlan { disconnect_every: Some(0), ..FaultPlan::NONE })
            .contains("disconnect_every must be at least 1"));
        let fine = FaultPlan { drop: 0.5, duplicate: 0.5, disconnect_every: Some(1), ..FaultPlan::NONE };
        assert_eq!(fine.validate(), Ok(()));
    }
}
