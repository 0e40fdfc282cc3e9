//! The link between the execution loop and a strategy that runs on a slower path in the same
//! process (a Python strategy, on the worker's main thread): books of the symbols it trades and
//! what happens to its orders go one way, its orders and cancels the other, each through a
//! bounded channel the loop only ever tries (never waits on).
//!
//! The loop never blocks on the strategy (though handing an event to a strategy that sleeps
//! waiting for one wakes it, a system call the built-in market maker's path never makes): a book the strategy is too slow to take is dropped
//! (and counted; a newer one follows with the next change), and what happens to its orders
//! waits in a backlog the loop offers again each turn, so the strategy hears of every fill.
//! The strategy's orders go through the same gate, OMS, journal and gateways as the built-in
//! market maker's; the loop gives them their client order ids.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

use risk::{Reject, Side};

use crate::oms::Report;
use crate::strategy::{Top, MAX_VENUES};

/// The books of one symbol the strategy trades, after one of them changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookUpdate {
    /// The instrument.
    pub instrument: u32,
    /// Each venue's best bid and ask (`usable` false where it may not be traded on).
    pub tops: [Top; MAX_VENUES],
    /// Our position in the symbol across venues, units of 1e-9.
    pub position: i64,
    /// When the feed received the tick behind the change, realtime nanoseconds: the strategy
    /// gives it back with the orders it places on this book, to time them.
    pub receive_ns: u64,
}

/// Something the strategy hears of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyEvent {
    /// A symbol's books changed.
    Book(BookUpdate),
    /// An order of the strategy's passed the gate and went out under client order id `id`.
    Sent {
        /// The strategy's tag for it.
        tag: u64,
        /// Its client order id.
        id: u64,
    },
    /// An order of the strategy's was refused before it left (by the gate, or because
    /// trading is halted).
    Refused {
        /// The strategy's tag for it.
        tag: u64,
        /// Why.
        reason: Reject,
    },
    /// A venue's report on an order of the strategy's.
    Report {
        /// The strategy's tag for the order.
        tag: u64,
        /// Its client order id.
        id: u64,
        /// The venue.
        venue: usize,
        /// The instrument.
        instrument: u32,
        /// The order's side.
        side: Side,
        /// What happened (a fill carries its price and quantity).
        report: Report,
        /// The order's open quantity after it, units of 1e-9.
        leaves: i64,
        /// Our position in the symbol across venues after it, units of 1e-9.
        position: i64,
        /// When the report came in, realtime nanoseconds.
        receive_ns: u64,
    },
}

/// What the strategy asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyRequest {
    /// A new limit order; the loop gives it its id.
    New {
        /// The strategy's tag for it, returned in what it hears of the order.
        tag: u64,
        /// The venue's index.
        venue: usize,
        /// The instrument.
        instrument: u32,
        /// Buy or sell.
        side: Side,
        /// Limit price, units of 1e-9.
        price: i64,
        /// Quantity, units of 1e-9.
        quantity: i64,
        /// The receive time of the tick it answers, realtime nanoseconds (0: none).
        tick_ns: u64,
    },
    /// Cancels order `id` (one of the strategy's).
    Cancel {
        /// The client order id.
        id: u64,
    },
}

/// The loop's end of the link.
#[derive(Debug)]
pub struct LoopEnd {
    events: Sender<StrategyEvent>,
    requests: Receiver<StrategyRequest>,
    backlog: VecDeque<StrategyEvent>,
    /// The strategy's working orders: client order id to tag.
    owned: HashMap<u64, u64>,
}

/// The strategy's end of the link.
#[derive(Debug)]
pub struct StrategyEnd {
    events: Receiver<StrategyEvent>,
    requests: Sender<StrategyRequest>,
    capacity: usize,
}

/// The strategy could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The execution loop has stopped.
    #[error("the execution loop has stopped")]
    LoopGone,
    /// The loop has not taken the strategy's earlier requests yet (`capacity` of them wait).
    #[error("the execution loop is behind: {capacity} requests wait already")]
    Full {
        /// The channel's capacity.
        capacity: usize,
    },
}

/// A link whose channels hold `capacity` messages each way.
pub fn link(capacity: usize) -> (LoopEnd, StrategyEnd) {
    let (events_in, events_out) = bounded(capacity);
    let (requests_in, requests_out) = bounded(capacity);
    let end = LoopEnd {
        events: events_in,
        requests: requests_out,
        backlog: VecDeque::with_capacity(capacity),
        owned: HashMap::with_capacity(capacity),
    };
    (end, StrategyEnd { events: events_out, requests: requests_in, capacity })
}

impl LoopEnd {
    /// Offers a book; whether the strategy took it (a slow strategy misses it).
    pub fn book(&mut self, update: BookUpdate) -> bool {
        self.events.try_send(StrategyEvent::Book(update)).is_ok()
    }

    /// Tells the strategy of one of its orders, behind what waits already.
    pub fn tell(&mut self, event: StrategyEvent) {
        self.backlog.push_back(event);
        self.flush();
    }

    /// Offers what waits again, oldest first.
    pub fn flush(&mut self) {
        while let Some(event) = self.backlog.front() {
            match self.events.try_send(*event) {
                Ok(()) => {
                    self.backlog.pop_front();
                }
                // Full: next turn. Gone: nobody will hear it.
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) => {
                    self.backlog.clear();
                    break;
                }
            }
        }
    }

    /// The strategy's next request, if it made one.
    pub fn next_request(&mut self) -> Option<StrategyRequest> {
        self.requests.try_recv().ok()
    }

    /// Takes order `id` as the strategy's, under `tag`.
    pub fn own(&mut self, id: u64, tag: u64) {
        self.owned.insert(id, tag);
    }

    /// The tag of order `id` if it is the strategy's.
    pub fn tag_of(&self, id: u64) -> Option<u64> {
        self.owned.get(&id).copied()
    }

    /// Order `id` is over: no more reports for it.
    pub fn done(&mut self, id: u64) {
        self.owned.remove(&id);
    }
}

impl StrategyEnd {
    /// Waits up to `timeout` for events, then takes (without waiting) up to `max` in all into
    /// `out`; `Err` once the loop has stopped and nothing is left.
    pub fn take(&self, timeout: Duration, max: usize, out: &mut Vec<StrategyEvent>) -> Result<(), LinkError> {
        match self.events.recv_timeout(timeout) {
            Ok(event) => out.push(event),
            Err(RecvTimeoutError::Timeout) => return Ok(()),
            Err(RecvTimeoutError::Disconnected) => return Err(LinkError::LoopGone),
        }
        while out.len() < max {
            match self.events.try_recv() {
                Ok(event) => out.push(event),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        Ok(())
    }

    /// Hands the loop a request; refused when the loop is gone or behind.
    pub fn send(&self, request: StrategyRequest) -> Result<(), LinkError> {
        self.requests.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => LinkError::Full { capacity: self.capacity },
            TrySendError::Disconnected(_) => LinkError::LoopGone,
        })
    }
}

/// The capacity each way the execution worker gives the link.
pub const DEFAULT_CAPACITY: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    fn book(instrument: u32) -> BookUpdate {
        BookUpdate { instrument, tops: [Top::default(); MAX_VENUES], position: 0, receive_ns: 1 }
    }

    #[test]
    fn a_slow_strategy_misses_books_but_hears_of_every_order() {
        let (mut looped, strategy) = link(2);
        assert!(looped.book(book(1)) && looped.book(book(2)));
        assert!(!looped.book(book(3)), "full: the book is dropped");
        looped.tell(StrategyEvent::Sent { tag: 7, id: 100 });
        let mut got = Vec::new();
        strategy.take(Duration::from_millis(10), 16, &mut got).unwrap();
        assert_eq!(got.len(), 2, "the two books");
        looped.flush();
        got.clear();
        strategy.take(Duration::from_millis(10), 16, &mut got).unwrap();
        assert_eq!(got, [StrategyEvent::Sent { tag: 7, id: 100 }], "the order's news waited, and came");
    }

    #[test]
    fn requests_reach_the_loop_and_a_stopped_loop_is_named() {
        let (mut looped, strategy) = link(4);
        strategy.send(StrategyRequest::Cancel { id: 5 }).unwrap();
        assert_eq!(looped.next_request(), Some(StrategyRequest::Cancel { id: 5 }));
        assert_eq!(looped.next_request(), None);
        drop(looped);
        assert_eq!(strategy.send(StrategyRequest::Cancel { id: 6 }), Err(LinkError::LoopGone));
        assert_eq!(strategy.take(Duration::from_millis(1), 1, &mut Vec::new()), Err(LinkError::LoopGone));
    }
}
