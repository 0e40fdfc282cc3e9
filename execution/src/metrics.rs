//! The execution worker's counters and its tick-to-trade histogram, in a metrics segment the
//! supervisor, `tickrail stat` and the benchmark read live.
//!
//! The layout is [`Counter::ALL`] cells in that order, then one cell per gate rejection reason
//! ([`Reject::ALL`], by code), then one HDR histogram
//! ([`histogram::CELLS`]) of nanoseconds from the receive timestamp of the tick an order acts
//! on to the moment its bytes were handed to the socket.

use std::sync::atomic::Ordering;

use risk::Reject;
use shm_layout::histogram::{self, Recorder, Snapshot};
use shm_layout::{metrics, Expected, SegmentOptions, ShmResult};

/// One of the execution worker's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// New orders sent.
    Orders,
    /// Replaces sent.
    Replaces,
    /// Cancels sent.
    Cancels,
    /// Orders and replaces the gate refused.
    GateRejections,
    /// Reports received from the venues.
    Reports,
    /// Reports the OMS refused (illegal for the order's state, unknown orders).
    ReportsRefused,
    /// Fills.
    Fills,
    /// Requests a gateway could not send.
    SendFailures,
    /// Connections to a venue lost.
    Disconnects,
    /// Times the kill switch cancelled everything.
    Kills,
    /// Turns that ended with reports waiting for room in the risk worker's queue.
    ReportsHeldBack,
    /// Books the linked (Python) strategy was too slow to take.
    StrategyBooksMissed,
    /// Our orders not yet over, as the OMS holds them now (a gauge, set each turn).
    OpenOrders,
}

impl Counter {
    /// Every counter, in cell order.
    pub const ALL: [Counter; 13] = [
        Counter::Orders,
        Counter::Replaces,
        Counter::Cancels,
        Counter::GateRejections,
        Counter::Reports,
        Counter::ReportsRefused,
        Counter::Fills,
        Counter::SendFailures,
        Counter::Disconnects,
        Counter::Kills,
        Counter::ReportsHeldBack,
        Counter::StrategyBooksMissed,
        Counter::OpenOrders,
    ];

    /// The counter's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Counter::Orders => "orders",
            Counter::Replaces => "replaces",
            Counter::Cancels => "cancels",
            Counter::GateRejections => "gate_rejections",
            Counter::Reports => "reports",
            Counter::ReportsRefused => "reports_refused",
            Counter::Fills => "fills",
            Counter::SendFailures => "send_failures",
            Counter::Disconnects => "disconnects",
            Counter::Kills => "kills",
            Counter::ReportsHeldBack => "reports_held_back",
            Counter::StrategyBooksMissed => "strategy_books_missed",
            Counter::OpenOrders => "open_orders",
        }
    }
}

const REASONS_AT: usize = Counter::ALL.len();
const HISTOGRAM_AT: usize = REASONS_AT + Reject::ALL.len();
const LINKED_HISTOGRAM_AT: usize = HISTOGRAM_AT + histogram::CELLS;
const STAGES_AT: usize = LINKED_HISTOGRAM_AT + histogram::CELLS;
/// Cells in an execution metrics segment.
pub const CELLS: usize = STAGES_AT + Stage::ALL.len() * histogram::CELLS;

/// A stage of the built-in strategy's tick-to-trade, timed apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The feed: from receiving the tick to publishing the book.
    Feed,
    /// Shared memory: from the feed's publishing to the loop's reading the book.
    Handoff,
    /// The loop's decision: from reading the book to the start of the turn's writes
    /// (strategy, gate, OMS, journal, and the rest of the turn's books).
    Decide,
    /// The turn's writes: until the order's bytes are handed to the socket.
    Write,
}

impl Stage {
    /// Every stage, in cell order.
    pub const ALL: [Stage; 4] = [Stage::Feed, Stage::Handoff, Stage::Decide, Stage::Write];

    /// The stage's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Feed => "feed",
            Stage::Handoff => "handoff",
            Stage::Decide => "decide",
            Stage::Write => "write",
        }
    }

    fn cells(self) -> std::ops::Range<usize> {
        let at = STAGES_AT + self as usize * histogram::CELLS;
        at..at + histogram::CELLS
    }
}

fn expected() -> Expected {
    Expected { capacity: Some(CELLS as u64), max_message_size: None }
}

/// The writer of the execution worker's metrics.
#[derive(Debug)]
pub struct EngineMetrics {
    segment: metrics::Writer,
}

impl EngineMetrics {
    /// Creates the segment `name`.
    pub fn create(name: &str, options: &SegmentOptions) -> ShmResult<Self> {
        Ok(Self { segment: metrics::Writer::create(name, CELLS as u64, options)? })
    }

    /// Attaches to the segment a supervisor created (or a dead worker left), carrying on.
    pub fn attach(name: &str) -> ShmResult<Self> {
        Ok(Self { segment: metrics::Writer::attach(name)?.expect(&expected())? })
    }

    /// Adds `by` to `counter`.
    #[inline]
    pub fn add(&self, counter: Counter, by: u64) {
        let cell = &self.segment.cells()[counter as usize];
        cell.store(cell.load(Ordering::Relaxed) + by, Ordering::Relaxed);
    }

    /// Sets the gauge `counter` to `value`.
    #[inline]
    pub fn set(&self, counter: Counter, value: u64) {
        self.segment.cells()[counter as usize].store(value, Ordering::Relaxed);
    }

    /// Counts a gate rejection under its reason.
    #[inline]
    pub fn rejected(&self, reason: Reject) {
        let cell = &self.segment.cells()[REASONS_AT + usize::from(reason.code())];
        cell.store(cell.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Records one order's tick-to-trade time, nanoseconds, apart for an order of the linked
    /// (Python) strategy's.
    #[inline]
    pub fn tick_to_trade(&self, ns: u64, linked: bool) {
        let at = if linked { LINKED_HISTOGRAM_AT } else { HISTOGRAM_AT };
        Recorder::new(&self.segment.cells()[at..at + histogram::CELLS]).record(ns);
    }

    /// Records `ns` spent in `stage` by one order of the built-in strategy.
    #[inline]
    pub fn stage(&self, stage: Stage, ns: u64) {
        Recorder::new(&self.segment.cells()[stage.cells()]).record(ns);
    }

    /// Records a sign of life.
    pub fn heartbeat(&self) {
        self.segment.heartbeat();
    }
}

/// A snapshot of the execution worker's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineReport {
    /// Every counter with its value, in [`Counter::ALL`] order.
    pub counters: Vec<(Counter, u64)>,
    /// Gate rejections by reason, in [`Reject::ALL`] order.
    pub rejections: Vec<(Reject, u64)>,
    /// Tick-to-trade of the built-in strategy's orders, nanoseconds.
    pub tick_to_trade: Snapshot,
    /// Tick-to-trade of the linked (Python) strategy's orders, nanoseconds.
    pub linked_tick_to_trade: Snapshot,
    /// The built-in strategy's tick-to-trade by stage, in [`Stage::ALL`] order, nanoseconds.
    pub stages: Vec<(Stage, Snapshot)>,
}

impl EngineReport {
    /// Reads the segment `name` without disturbing its writer.
    pub fn read(name: &str) -> ShmResult<Self> {
        let reader = metrics::Reader::open(name)?.expect(&expected())?;
        let cells = reader.cells();
        Ok(Self {
            counters: Counter::ALL.iter().map(|&c| (c, cells[c as usize].load(Ordering::Relaxed))).collect(),
            rejections: Reject::ALL
                .iter()
                .map(|&r| (r, cells[REASONS_AT + usize::from(r.code())].load(Ordering::Relaxed)))
                .collect(),
            tick_to_trade: Snapshot::read(&cells[HISTOGRAM_AT..LINKED_HISTOGRAM_AT]),
            linked_tick_to_trade: Snapshot::read(&cells[LINKED_HISTOGRAM_AT..STAGES_AT]),
            stages: Stage::ALL.iter().map(|&s| (s, Snapshot::read(&cells[s.cells()]))).collect(),
        })
    }

    /// The value of `counter`.
    pub fn get(&self, counter: Counter) -> u64 {
        self.counters[counter as usize].1
    }
}
