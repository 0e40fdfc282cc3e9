//! A group of symbols, on a thread of its own or inline on the publisher's: it takes the
//! reports, marks and operators' orders the publisher routes to it, keeps their figures
//! ([`SymbolGroup`]), sends every change of a symbol's state to the publisher, and shows its
//! figures to the other threads through a [`Latest`] view.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use shm_layout::monotonic_ns;

use super::latest::Latest;
use crate::board::Change;
use crate::breach::{SymbolHeadroom, SymbolRiskLimits};
use crate::portfolio::{PortfolioError, ReportFacts, SymbolRisk, Totals};
use crate::state::TradingState;
use crate::watch::SymbolGroup;

/// What the publisher routes to a group.
#[derive(Debug, Clone)]
pub(crate) enum GroupEvent {
    /// An execution report, read from the queue at `seen_ns` (monotonic).
    Report { facts: ReportFacts, seen_ns: u64 },
    /// A venue's best bid and ask for a symbol (0 for a side with no order).
    Mark { instrument: u32, venue: usize, bid: i64, ask: i64 },
    /// An operator sets a symbol's state.
    Operator { instrument: u32, state: TradingState },
    /// A restarted worker takes a symbol's state from the slots (written there already).
    Adopt { instrument: u32, state: TradingState },
    /// New limits for the group's symbols (a reload).
    Limits(Vec<SymbolRiskLimits>),
}

impl GroupEvent {
    /// The symbol the event is about, if one.
    pub fn instrument(&self) -> Option<u32> {
        match self {
            GroupEvent::Report { facts, .. } => Some(facts.instrument),
            GroupEvent::Mark { instrument, .. }
            | GroupEvent::Operator { instrument, .. }
            | GroupEvent::Adopt { instrument, .. } => Some(*instrument),
            GroupEvent::Limits(_) => None,
        }
    }
}

/// One symbol as its group shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolView {
    /// Its figures.
    pub risk: SymbolRisk,
    /// The room left under its limits.
    pub headroom: SymbolHeadroom,
    /// The state the gate sees for it.
    pub state: TradingState,
}

/// How often a group rebuilds the list of its symbols it shows (its totals are shown after
/// every change).
const SHOW_SYMBOLS_EVERY: Duration = Duration::from_millis(10);

/// What a group shows the other threads: its totals, as of its last change, and its symbols,
/// as of at most 10 ms before.
#[derive(Debug, Clone, Default)]
pub struct GroupView {
    /// How many times the group's figures changed (a reader that saw this one has nothing new).
    pub generation: u64,
    /// Every symbol of the group.
    pub symbols: Arc<Vec<SymbolView>>,
    /// The sums over them.
    pub totals: Totals,
    /// Reports applied so far.
    pub reports: u64,
    /// Reports about symbols or venues the group does not hold (skipped).
    pub refused: u64,
}

/// A change of a symbol's state, for the publisher to write and log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Published {
    pub change: Change,
    pub risk: SymbolRisk,
    /// When the report that caused it was read (monotonic); 0 for a book or an operator.
    pub seen_ns: u64,
}

/// A group's work and everything it owns: run on a thread of its own ([`Group::run`]), or
/// inline on the publisher's (one group: no hop between threads).
pub(crate) struct Group {
    pub group: SymbolGroup,
    pub instruments: Vec<u32>,
    pub changes: Sender<Published>,
    pub view: Arc<Latest<GroupView>>,
    shown: GroupView,
    /// Whether anything changed since the view was last shown.
    dirty: bool,
    /// When the symbols were last listed, and whether they changed since.
    listed_ns: u64,
    listing_behind: bool,
}

/// How a group on its own thread waits for work.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Waiting {
    /// How long an idle turn waits for an event.
    pub idle: Duration,
    /// Whether an idle turn yields and looks again at once rather than waiting.
    pub spin: bool,
}

impl Group {
    /// The work of `group` over `instruments`, answering on `changes` and showing its figures
    /// in `view`.
    pub fn new(
        group: SymbolGroup,
        instruments: Vec<u32>,
        changes: Sender<Published>,
        view: Arc<Latest<GroupView>>,
    ) -> Self {
        Self {
            group,
            instruments,
            changes,
            view,
            shown: GroupView::default(),
            dirty: false,
            listed_ns: 0,
            listing_behind: false,
        }
    }

    /// Runs on a thread of its own until `stop` is set or the publisher is gone.
    pub fn run(mut self, events: &Receiver<GroupEvent>, waiting: Waiting, stop: &AtomicBool) {
        while !stop.load(Ordering::Acquire) {
            let first = if waiting.spin {
                match events.try_recv() {
                    Ok(event) => Some(event),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                }
            } else {
                match events.recv_timeout(waiting.idle) {
                    Ok(event) => Some(event),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            if let Some(event) = first {
                self.handle(event);
                while let Ok(event) = events.try_recv() {
                    self.handle(event);
                }
            }
            if !self.settle() && waiting.spin {
                std::thread::yield_now();
            }
        }
    }

    /// Shows the figures if anything changed (or the list of symbols is behind and due);
    /// whether it showed anything.
    pub fn settle(&mut self) -> bool {
        let now = monotonic_ns();
        let listing_due = now.saturating_sub(self.listed_ns) >= SHOW_SYMBOLS_EVERY.as_nanos() as u64;
        if !(self.dirty || self.listing_behind && listing_due) {
            return false;
        }
        if self.dirty {
            self.shown.generation += 1;
            self.dirty = false;
        }
        if listing_due {
            self.listed_ns = now;
            self.listing_behind = false;
            self.shown.symbols = Arc::new(self.list());
        } else {
            self.listing_behind = true;
        }
        self.shown.totals = self.group.portfolio().totals();
        self.view.publish(self.shown.clone());
        true
    }

    /// The sums over the group's symbols now.
    pub fn totals(&self) -> Totals {
        self.group.portfolio().totals()
    }

    /// Applies one event (its changes go to the publisher at once).
    pub fn handle(&mut self, event: GroupEvent) {
        let mut changes = Vec::new();
        let mut seen_ns = 0;
        match event {
            GroupEvent::Report { facts, seen_ns: at } => {
                seen_ns = at;
                match self.group.apply(&facts) {
                    Ok(change) => {
                        self.shown.reports += 1;
                        changes.extend(change);
                    }
                    Err(PortfolioError::UnknownInstrument(_) | PortfolioError::UnknownVenue(_)) => {
                        self.shown.refused += 1
                    }
                }
            }
            GroupEvent::Mark { instrument, venue, bid, ask } => {
                changes.extend(self.group.mark(instrument, venue, bid, ask).ok().flatten());
            }
            GroupEvent::Operator { instrument, state } => {
                self.group.operator(instrument, state, &mut changes)
            }
            GroupEvent::Adopt { instrument, state } => self.group.adopt(instrument, state),
            GroupEvent::Limits(limits) => self.group.set_limits(&limits, &mut changes),
        }
        self.send(&changes, seen_ns);
        self.dirty = true;
    }

    fn send(&self, changes: &[Change], seen_ns: u64) {
        for change in changes {
            let risk = self.group.portfolio().symbol(change.key).copied().unwrap_or_default();
            // The publisher gone means the worker is stopping: nothing is left to tell.
            let _ = self.changes.send(Published { change: *change, risk, seen_ns });
        }
    }

    fn list(&self) -> Vec<SymbolView> {
        self.instruments
            .iter()
            .filter_map(|&instrument| {
                Some(SymbolView {
                    risk: *self.group.portfolio().symbol(instrument)?,
                    headroom: self.group.headroom(instrument)?,
                    state: self.group.state(instrument)?,
                })
            })
            .collect()
    }
}
