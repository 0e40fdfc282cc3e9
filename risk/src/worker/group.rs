//! A group of symbols on a thread of its own: it takes the reports and operators' orders the
//! publisher routes to it, reads its symbols' books from the venues' slots without locks, keeps
//! their figures ([`SymbolGroup`]), sends every change of a symbol's state to the publisher, and
//! shows its figures to the other threads through a [`Latest`] view.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use shm_layout::records::{Layout, TopOfBook};
use shm_layout::{monotonic_ns, slots, ShmResult};

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
    /// An operator sets a symbol's state.
    Operator { instrument: u32, state: TradingState },
    /// New limits for the group's symbols (a reload).
    Limits(Vec<SymbolRiskLimits>),
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

/// What a group shows the other threads: its symbols and their totals.
#[derive(Debug, Clone, Default)]
pub struct GroupView {
    /// How many times the group has published (a reader that saw this one has nothing new).
    pub generation: u64,
    /// Every symbol of the group.
    pub symbols: Vec<SymbolView>,
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

/// A group's thread and everything it owns.
pub(crate) struct GroupThread {
    pub group: SymbolGroup,
    pub instruments: Vec<u32>,
    /// Each venue's book slots, where it has a feed.
    pub books: Vec<Option<slots::Reader>>,
    pub events: Receiver<GroupEvent>,
    pub changes: Sender<Published>,
    pub view: Arc<Latest<GroupView>>,
    /// How often books are read again.
    pub mark_every: Duration,
    /// How long an idle turn waits for an event.
    pub idle: Duration,
}

impl GroupThread {
    /// Runs until `stop` is set or the publisher is gone.
    pub fn run(mut self, stop: &AtomicBool) -> ShmResult<()> {
        let venues = self.books.len();
        let mut seen = vec![0u64; self.instruments.len() * venues];
        let mut record = [0u8; std::mem::size_of::<TopOfBook>()];
        let mut view = GroupView::default();
        let mut marked_ns = 0;
        while !stop.load(Ordering::Acquire) {
            let mut dirty = false;
            match self.events.recv_timeout(self.idle) {
                Ok(event) => {
                    self.handle(event, &mut view);
                    while let Ok(event) = self.events.try_recv() {
                        self.handle(event, &mut view);
                    }
                    dirty = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = monotonic_ns();
            if now.saturating_sub(marked_ns) >= self.mark_every.as_nanos() as u64 {
                marked_ns = now;
                dirty |= self.read_books(&mut seen, &mut record)?;
            }
            if dirty {
                view.generation += 1;
                self.show(&mut view);
            }
        }
        Ok(())
    }

    fn handle(&mut self, event: GroupEvent, view: &mut GroupView) {
        let mut changes = Vec::new();
        let mut seen_ns = 0;
        match event {
            GroupEvent::Report { facts, seen_ns: at } => {
                seen_ns = at;
                match self.group.apply(&facts) {
                    Ok(change) => {
                        view.reports += 1;
                        changes.extend(change);
                    }
                    Err(PortfolioError::UnknownInstrument(_) | PortfolioError::UnknownVenue(_)) => {
                        view.refused += 1
                    }
                }
            }
            GroupEvent::Operator { instrument, state } => {
                self.group.operator(instrument, state, &mut changes)
            }
            GroupEvent::Limits(limits) => self.group.set_limits(&limits, &mut changes),
        }
        self.send(&changes, seen_ns);
    }

    fn send(&self, changes: &[Change], seen_ns: u64) {
        for change in changes {
            let risk = self.group.portfolio().symbol(change.key).copied().unwrap_or_default();
            // The publisher gone means the worker is stopping: nothing is left to tell.
            let _ = self.changes.send(Published { change: *change, risk, seen_ns });
        }
    }

    /// Marks every symbol whose book changed on a venue; whether one did.
    fn read_books(&mut self, seen: &mut [u64], record: &mut [u8]) -> ShmResult<bool> {
        let venues = self.books.len();
        let mut changed = false;
        for (at, &instrument) in self.instruments.iter().enumerate() {
            for venue in 0..venues {
                let Some(reader) = self.books[venue].as_ref() else { continue };
                let Some(version) = reader.read(u64::from(instrument), record)? else { continue };
                if seen[at * venues + venue] == version {
                    continue;
                }
                seen[at * venues + venue] = version;
                let book = TopOfBook::from_bytes(record);
                let bid = if book.bid_levels > 0 { book.bids[0].price } else { 0 };
                let ask = if book.ask_levels > 0 { book.asks[0].price } else { 0 };
                if let Ok(change) = self.group.mark(instrument, venue, bid, ask) {
                    self.send(change.as_slice(), 0);
                }
                changed = true;
            }
        }
        Ok(changed)
    }

    fn show(&self, view: &mut GroupView) {
        view.symbols.clear();
        view.symbols.extend(self.instruments.iter().filter_map(|&instrument| {
            Some(SymbolView {
                risk: *self.group.portfolio().symbol(instrument)?,
                headroom: self.group.headroom(instrument)?,
                state: self.group.state(instrument)?,
            })
        }));
        view.totals = self.group.portfolio().totals();
        self.view.publish(view.clone());
    }
}
