//! The risk worker: its symbols spread over a pool of group threads, and a publisher thread
//! that feeds them and writes what they decide where the gate reads it.
//!
//! With one group thread asked for, the group runs on the publisher's thread instead (no hop
//! between threads on the way from a report to its breach), and the portfolio is judged after
//! every event, as the reference rules judge it. With several groups, it is judged on the sum of
//! the groups' latest totals each time the publisher looks (its peak taken then): a loss that
//! comes and goes between two looks is not seen.
//!
//! The publisher reads the execution worker's reports queue and the operators' commands queue,
//! routes each report to the group of its symbol, and watches the whole portfolio: it reads
//! every group's latest figures through crossbeam-epoch ([`Latest`]: the groups never wait for
//! it, nor it for them), sums them, and judges the portfolio's limits. Every change of a
//! trading state (a group's, the portfolio's, an operator's, a stale heartbeat's) it writes to
//! the trading state slots with its reason, and passes on to be logged. It refreshes the slots'
//! heartbeat every turn; if a feed's or execution's heartbeat goes stale, it kills trading.
//!
//! A restarted worker takes the states the slots hold as the operators' (a kill survives it),
//! with the reasons they give.

mod group;
mod latest;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use shm_layout::records::{
    state_reason, trading_state_flags, ExecutionReportRecord, Layout, MarkRecord, Record, RecordHeader,
    TopOfBook, TradingStateRecord, NO_LIMIT,
};
use shm_layout::slots::SlotRead;
use shm_layout::{broadcast, monotonic_ns, queue, realtime_ns, slots, Received, ShmError, WriterWatch};

pub use group::{GroupView, SymbolView};
pub use latest::Latest;

use crate::board::{Cause, Change, PORTFOLIO};
use crate::breach::{
    PortfolioHeadroom, PortfolioRisk, PortfolioRiskLimits, SymbolHeadroom, SymbolRiskLimits,
};
use crate::portfolio::ReportFacts;
use crate::state::TradingState;
use crate::watch::{PortfolioWatch, SymbolGroup};
use group::{Group, GroupEvent, Published, Waiting};

/// Events waiting for a group before the publisher waits for it.
const GROUP_BACKLOG: usize = 4096;
/// Reports taken from the queue at a time.
const BATCH: usize = 64;
/// How often heartbeats are checked.
const HEARTBEAT_CHECK: Duration = Duration::from_millis(10);
/// How often the rooms of symbols on group threads are written again.
const ROOMS_EVERY: Duration = Duration::from_millis(10);
/// How long after routing work the publisher waits only briefly (groups may answer with
/// changes it does not wake for).
const SETTLING: Duration = Duration::from_millis(2);
/// Its waits meanwhile.
const SETTLING_WAIT: Duration = Duration::from_micros(20);

/// Everything a risk worker is started with.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Each symbol's limits (the worker's symbols are these).
    pub symbols: Vec<SymbolRiskLimits>,
    /// The portfolio's limits.
    pub portfolio: PortfolioRiskLimits,
    /// Each venue's book slots (by index, as the execution worker numbers venues), where it
    /// has a feed.
    pub books: Vec<Option<String>>,
    /// The execution worker's reports queue.
    pub reports: String,
    /// The operators' commands queue (trading state records: key and state).
    pub commands: String,
    /// Where every report taken is copied on to, for the supervisor's views and checks (a
    /// copy that does not fit is dropped and counted, never waited for).
    pub forward: Option<String>,
    /// Where every event the worker applies (each report and each venue's book as it marks
    /// with it) is published, in the order it routes them, for shadow mode, with every state it
    /// writes after the event that caused it (a run opens with each key's state, the
    /// portfolio's first, reason `START` or the one the slots held).
    pub events: Option<String>,
    /// The trading state slots the gate reads.
    pub trading: String,
    /// Segments whose writers must stay alive (the feeds' books, execution's metrics).
    pub watched: Vec<String>,
    /// Oldest heartbeat of a watched segment before trading is killed.
    pub max_heartbeat_age: Duration,
    /// Group threads.
    pub threads: usize,
    /// The cores to pin the threads to (none: not pinned): the publisher to the first, the
    /// group threads to the others in turn (to the first too, when it is the only one).
    pub cores: Vec<usize>,
    /// How often books are read for marks.
    pub mark_every: Duration,
    /// How long an idle thread waits before looking again.
    pub idle: Duration,
    /// Whether idle threads yield and look again at once instead (on cores of their own: the
    /// lowest latency from a breach to the gate).
    pub spin: bool,
    /// Every report applied before, in the order the reports queue carried them (from the
    /// execution worker's journal): a restarted worker applies those its queue had been read
    /// past, then carries on from the queue, so its figures miss nothing.
    pub replay: Vec<ExecutionReportRecord>,
}

/// Why the worker could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A segment could not be opened, read or written.
    #[error("{what}: {source}")]
    Shm {
        /// Which segment, and what was being done.
        what: String,
        /// Why.
        source: ShmError,
    },
    /// A thread could not be started.
    #[error("a thread could not be started: {0}")]
    Spawn(#[from] std::io::Error),
    /// A thread panicked.
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
    /// The configuration cannot be run.
    #[error("{0}")]
    Config(String),
}

/// How long after its last beat a watched writer that has not beaten since the worker began
/// watching it counts as alive: one still starting (slowly, on a loaded machine) has this long
/// from the beat its supervisor gave the segment when creating it.
pub const STARTING_GRACE: Duration = Duration::from_secs(10);

/// A segment whose writer must stay alive, and the heartbeat it had when watching began.
#[derive(Debug)]
struct Watched {
    watch: WriterWatch,
    first_beat_ns: u64,
}

impl Watched {
    fn new(watch: WriterWatch) -> Self {
        let first_beat_ns = watch.heartbeat_ns();
        Self { watch, first_beat_ns }
    }

    /// Whether the writer has stopped beating: its last beat older than `max_age_ns`, or, if
    /// it has not beaten since watching began, older than [`STARTING_GRACE`] too (the beat of
    /// a segment just created starts the writer's clock; a beat already old kills at once). A
    /// writer that never beat is not judged.
    fn stale(&self, now_ns: u64, max_age_ns: u64) -> bool {
        let beat = self.watch.heartbeat_ns();
        let age = now_ns.saturating_sub(beat);
        if beat == 0 {
            false
        } else if beat == self.first_beat_ns {
            age > max_age_ns.max(STARTING_GRACE.as_nanos() as u64)
        } else {
            age > max_age_ns
        }
    }
}

/// The error of a shared-memory call about `what`: named only if the call fails (the loop's
/// calls pass a `&'static str` and allocate nothing when they succeed).
fn shm(what: impl Into<String>) -> impl FnOnce(ShmError) -> WorkerError {
    move |source| WorkerError::Shm { what: what.into(), source }
}

/// A state change, for the worker's log: the change, and the figures behind it.
#[derive(Debug, Clone, Copy)]
pub struct Logged {
    /// What changed and why.
    pub change: Change,
    /// The symbol's figures (for a symbol's change).
    pub symbol: Option<crate::portfolio::SymbolRisk>,
    /// The portfolio's figures.
    pub portfolio: PortfolioRisk,
    /// For a change a report caused: nanoseconds from reading the report to the state written.
    pub visible_after_ns: Option<u64>,
    /// For a stale heartbeat: which watched segment.
    pub segment: Option<usize>,
}

/// What the publisher shows of the whole portfolio.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortfolioView {
    /// Its figures.
    pub risk: PortfolioRisk,
    /// The room left under its limits.
    pub headroom: PortfolioHeadroom,
    /// The state the gate sees for it.
    pub state: Option<TradingState>,
}

/// New limits for a running worker.
#[derive(Debug, Clone)]
struct Reload {
    symbols: Vec<SymbolRiskLimits>,
    portfolio: PortfolioRiskLimits,
}

/// A running risk worker.
#[derive(Debug)]
pub struct RiskWorker {
    stop: Arc<AtomicBool>,
    threads: Vec<(&'static str, JoinHandle<Result<(), WorkerError>>)>,
    groups: Vec<Arc<Latest<GroupView>>>,
    portfolio: Arc<Latest<PortfolioView>>,
    reloads: Sender<Reload>,
    log: Receiver<Logged>,
    watched: Vec<String>,
    forwards_dropped: Arc<AtomicU64>,
}

impl RiskWorker {
    /// Opens every segment (an error names the one that failed), takes the states the slots
    /// hold, and starts the threads.
    pub fn start(config: WorkerConfig) -> Result<Self, WorkerError> {
        if config.threads == 0 {
            return Err(WorkerError::Config("there must be at least one group thread".into()));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let reports = queue::Reader::attach(&config.reports)
            .map_err(shm(format!("reports queue {}", config.reports)))?;
        let commands = queue::Reader::attach(&config.commands)
            .map_err(shm(format!("commands queue {}", config.commands)))?;
        let forward = config
            .forward
            .as_ref()
            .map(|name| queue::Writer::attach(name).map_err(shm(format!("forward queue {name}"))))
            .transpose()?;
        let held = held_states(&config)?;
        let trading = slots::Writer::attach(&config.trading)
            .map_err(shm(format!("trading slots {}", config.trading)))?;
        let watched = config
            .watched
            .iter()
            .map(|name| WriterWatch::open(name).map_err(shm(format!("watched segment {name}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let (changes_tx, changes_rx) = unbounded();
        let (log_tx, log) = unbounded();
        let (reloads, reloads_rx) = unbounded();
        let mut route = HashMap::new();
        let mut senders = Vec::new();
        let mut groups = Vec::new();
        let mut threads = Vec::new();
        let venues = config.books.len();
        let count = config.threads.min(config.symbols.len().max(1));
        let mut inline = None;
        for index in 0..count {
            let limits: Vec<SymbolRiskLimits> =
                config.symbols.iter().skip(index).step_by(count).copied().collect();
            for l in &limits {
                route.insert(l.instrument, groups.len());
            }
            let view = Arc::new(Latest::new(GroupView::default()));
            groups.push(view.clone());
            let group = Group::new(
                SymbolGroup::new(&limits, venues, 1024),
                limits.iter().map(|l| l.instrument).collect(),
                changes_tx.clone(),
                view,
            );
            if count == 1 {
                // One group runs on the publisher's thread: no hop between threads.
                inline = Some(group);
                break;
            }
            let (events_tx, events) = bounded(GROUP_BACKLOG);
            let waiting = Waiting { idle: config.idle, spin: config.spin };
            let core = group_core(&config.cores, index);
            let stop = stop.clone();
            let handle =
                std::thread::Builder::new().name(format!("risk-group-{index}")).spawn(move || {
                    if let Some(core) = core {
                        pin_to(core);
                    }
                    group.run(&events, waiting, &stop);
                    Ok(())
                })?;
            threads.push(("group", handle));
            senders.push(events_tx);
        }
        let books = config
            .books
            .iter()
            .map(|name| {
                name.as_ref()
                    .map(|n| slots::Reader::open(n).map_err(shm(format!("book slots {n}"))))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let events = config
            .events
            .as_ref()
            .map(|name| broadcast::Writer::attach(name).map_err(shm(format!("events ring {name}"))))
            .transpose()?;
        let instruments: Vec<u32> = config.symbols.iter().map(|s| s.instrument).collect();
        let portfolio = Arc::new(Latest::new(PortfolioView::default()));
        let forwards_dropped = Arc::new(AtomicU64::new(0));
        let mut publisher = Publisher {
            reports,
            commands,
            forward,
            forwards_dropped: forwards_dropped.clone(),
            trading,
            keys: HashMap::new(),
            moved: Vec::with_capacity(BATCH),
            marks: Marks {
                seen: vec![0; instruments.len() * books.len()],
                instruments,
                books,
                every_ns: config.mark_every.as_nanos() as u64,
                marked_ns: 0,
                record: [0; std::mem::size_of::<TopOfBook>()],
            },
            events,
            watch: PortfolioWatch::new(config.portfolio),
            route,
            senders,
            inline,
            changes: changes_rx,
            log: log_tx,
            reloads: reloads_rx,
            groups: groups.clone(),
            generations: vec![0; groups.len()],
            portfolio: portfolio.clone(),
            watched: watched.into_iter().map(Watched::new).collect(),
            max_heartbeat_age_ns: config.max_heartbeat_age.as_nanos() as u64,
            idle: config.idle,
            spin: config.spin,
        };
        publisher.adopt(&held)?;
        let read = (publisher.reports.cursor() as usize).min(config.replay.len());
        for record in &config.replay[..read] {
            publisher.take(record, 0)?;
        }
        let stop_publisher = stop.clone();
        let core = config.cores.first().copied();
        let handle = std::thread::Builder::new().name("risk-publisher".into()).spawn(move || {
            if let Some(core) = core {
                pin_to(core);
            }
            publisher.run(&stop_publisher)
        })?;
        threads.push(("publisher", handle));
        Ok(Self { stop, threads, groups, portfolio, reloads, log, watched: config.watched, forwards_dropped })
    }

    /// Applies new limits (a reload): each group and the portfolio judge their figures again.
    pub fn set_limits(&self, symbols: Vec<SymbolRiskLimits>, portfolio: PortfolioRiskLimits) {
        // The publisher gone means the worker stopped: `running` says so.
        let _ = self.reloads.send(Reload { symbols, portfolio });
    }

    /// The state changes since the last call, oldest first.
    pub fn changes(&self) -> Vec<Logged> {
        self.log.try_iter().collect()
    }

    /// Every symbol as its group shows it now, and the portfolio.
    pub fn view(&self) -> (Vec<SymbolView>, PortfolioView) {
        let symbols = self.groups.iter().flat_map(|g| g.read(|v| v.symbols.to_vec())).collect();
        (symbols, self.portfolio.read(|v| *v))
    }

    /// Reports applied, and refused, by all groups.
    pub fn reports(&self) -> (u64, u64) {
        self.groups
            .iter()
            .map(|g| g.read(|v| (v.reports, v.refused)))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    /// Reports not copied on because the forward queue was full.
    pub fn forwards_dropped(&self) -> u64 {
        self.forwards_dropped.load(Ordering::Relaxed)
    }

    /// The watched segment at `index` (as [`Logged::segment`] names it).
    pub fn watched(&self, index: usize) -> Option<&str> {
        self.watched.get(index).map(String::as_str)
    }

    /// Whether every thread still runs.
    pub fn running(&self) -> bool {
        self.threads.iter().all(|(_, t)| !t.is_finished())
    }

    /// Stops every thread and waits for them; the first error one stopped with.
    pub fn stop(mut self) -> Result<(), WorkerError> {
        self.stop.store(true, Ordering::Release);
        let mut outcome = Ok(());
        for (name, thread) in std::mem::take(&mut self.threads) {
            let result = thread.join().unwrap_or(Err(WorkerError::Panicked(name)));
            if outcome.is_ok() {
                outcome = result;
            }
        }
        outcome
    }
}

impl Drop for RiskWorker {
    /// A worker dropped without [`RiskWorker::stop`] stops its threads all the same (without
    /// waiting for them): no thread goes on heartbeating the slots for a worker nobody runs.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// A state the trading slots held when the worker started, and its record's sequence.
#[derive(Debug, Clone, Copy)]
struct Held {
    key: u32,
    state: TradingState,
    reason: u8,
    sequence: u64,
}

/// The states the trading slots hold now (a worker before this one wrote them).
fn held_states(config: &WorkerConfig) -> Result<Vec<Held>, WorkerError> {
    let reader =
        slots::Reader::open(&config.trading).map_err(shm(format!("trading slots {}", config.trading)))?;
    let mut record = [0u8; std::mem::size_of::<TradingStateRecord>()];
    let mut held = Vec::new();
    for key in std::iter::once(PORTFOLIO).chain(config.symbols.iter().map(|s| s.instrument)) {
        let read = reader.read(u64::from(key), &mut record).map_err(shm("trading slots"))?;
        if read.is_some() {
            let record = TradingStateRecord::from_bytes(&record);
            // A state the gate does not know fails closed there; here it is taken as halted.
            let state = TradingState::from_code(record.state).unwrap_or(TradingState::Halted);
            held.push(Held { key, state, reason: record.reason, sequence: record.header.sequence });
        }
    }
    Ok(held)
}

/// A room as a slot holds it: no limit as [`NO_LIMIT`], saturated to `i64`.
fn room(room: Option<i128>) -> i64 {
    room.map_or(NO_LIMIT, |r| r.clamp(i128::from(i64::MIN), i128::from(NO_LIMIT)) as i64)
}

/// A symbol's rooms as its slot holds them (no net limit of its own).
fn symbol_rooms(headroom: Option<SymbolHeadroom>) -> [i64; 4] {
    let h = headroom.unwrap_or_default();
    [room(h.loss), room(h.drawdown), room(h.exposure), NO_LIMIT]
}

/// The core group thread `index` is pinned to: the cores after the publisher's, in turn.
fn group_core(cores: &[usize], index: usize) -> Option<usize> {
    match cores {
        [] => None,
        [only] => Some(*only),
        [_, rest @ ..] => Some(rest[index % rest.len()]),
    }
}

/// Pins the calling thread to `core` (where the kernel refuses, it runs unpinned).
fn pin_to(core: usize) {
    // SAFETY: `set` is a zeroed `cpu_set_t` on our stack; CPU_SET writes inside it and
    // `sched_setaffinity(0, ...)` reads it for the calling thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A key's state as its slot holds it.
#[derive(Debug, Clone, Copy)]
struct KeyState {
    state: TradingState,
    reason: u8,
    /// Operators' orders answered.
    orders: u16,
    /// The sequence the next record written takes.
    next_sequence: u64,
}

impl KeyState {
    /// A key never written by this worker (`next_sequence`: where the slot's left off).
    fn new(state: TradingState, reason: u8, next_sequence: u64) -> Self {
        Self { state, reason, orders: 0, next_sequence }
    }
}

/// The venues' books, as the publisher reads them for marks.
struct Marks {
    instruments: Vec<u32>,
    /// Each venue's book slots, where it has a feed.
    books: Vec<Option<slots::Reader>>,
    /// The book versions seen, per instrument and venue.
    seen: Vec<u64>,
    every_ns: u64,
    marked_ns: u64,
    record: [u8; std::mem::size_of::<TopOfBook>()],
}

/// The publisher thread's state.
struct Publisher {
    reports: queue::Reader,
    commands: queue::Reader,
    forward: Option<queue::Writer>,
    forwards_dropped: Arc<AtomicU64>,
    trading: slots::Writer,
    /// What each key's slot holds.
    keys: HashMap<u32, KeyState>,
    /// The symbols whose rooms this turn's events moved (one group on this thread).
    moved: Vec<u32>,
    marks: Marks,
    events: Option<broadcast::Writer>,
    watch: PortfolioWatch,
    /// Group index by instrument.
    route: HashMap<u32, usize>,
    senders: Vec<Sender<GroupEvent>>,
    /// The one group, when it runs on this thread.
    inline: Option<Group>,
    changes: Receiver<Published>,
    log: Sender<Logged>,
    reloads: Receiver<Reload>,
    groups: Vec<Arc<Latest<GroupView>>>,
    generations: Vec<u64>,
    portfolio: Arc<Latest<PortfolioView>>,
    watched: Vec<Watched>,
    max_heartbeat_age_ns: u64,
    idle: Duration,
    spin: bool,
}

impl Publisher {
    /// Takes the states a worker before this one left (other than active) as the operators',
    /// and carries on each slot's sequence.
    fn adopt(&mut self, held: &[Held]) -> Result<(), WorkerError> {
        for h in held {
            self.keys.insert(h.key, KeyState::new(h.state, h.reason, h.sequence + 1));
            if h.key == PORTFOLIO {
                self.watch.adopt(h.state);
            } else if let Some(&group) = self.route.get(&h.key) {
                self.route_to(group, GroupEvent::Adopt { instrument: h.key, state: h.state })?;
            }
        }
        // Every key's state as it stands now: what the slots held, with the reason they gave,
        // and active for a key they did not hold.
        for key in std::iter::once(PORTFOLIO).chain(self.route.keys().copied().collect::<Vec<_>>()) {
            let (state, reason) = held
                .iter()
                .find(|h| h.key == key)
                .map_or((TradingState::Active, state_reason::START), |h| (h.state, h.reason));
            let flags = if key == PORTFOLIO { trading_state_flags::FIRST } else { 0 };
            self.write_flagged(key, state, reason, flags)?;
        }
        self.show();
        Ok(())
    }

    fn run(&mut self, stop: &AtomicBool) -> Result<(), WorkerError> {
        let mut records = vec![0u8; BATCH * std::mem::size_of::<ExecutionReportRecord>()];
        let mut command = [0u8; std::mem::size_of::<TradingStateRecord>()];
        let (mut checked_ns, mut busy_ns, mut refreshed_ns) = (0, 0, 0);
        while !stop.load(Ordering::Acquire) {
            let mut busy = self.take_reports(&mut records)?;
            busy |= self.take_commands(&mut command)?;
            while let Ok(reload) = self.reloads.try_recv() {
                self.reload(reload)?;
                busy = true;
            }
            busy |= self.publish_changes()?;
            if let Some(inline) = self.inline.as_mut() {
                busy |= inline.settle();
            }
            busy |= self.read_books()?;
            busy |= self.judge_portfolio()?;
            self.refresh_moved()?;
            let now = monotonic_ns();
            if self.inline.is_none() && now.saturating_sub(refreshed_ns) >= ROOMS_EVERY.as_nanos() as u64 {
                // Groups on their own threads: their rooms, as last listed, every 10 ms.
                refreshed_ns = now;
                self.refresh_listed()?;
            }
            if now.saturating_sub(checked_ns) >= HEARTBEAT_CHECK.as_nanos() as u64 {
                checked_ns = now;
                self.check_heartbeats(now)?;
            }
            self.trading.heartbeat();
            if busy {
                busy_ns = now;
            } else if self.spin {
                std::thread::yield_now();
            } else {
                // Waiting on the queue, a change a group thread sends is seen when the wait ends:
                // for a while after work was routed to one, the waits are short.
                let recent =
                    self.inline.is_none() && now.saturating_sub(busy_ns) < SETTLING.as_nanos() as u64;
                self.reports.wait(if recent { SETTLING_WAIT.min(self.idle) } else { self.idle });
            }
        }
        Ok(())
    }

    fn take_reports(&mut self, records: &mut [u8]) -> Result<bool, WorkerError> {
        let size = std::mem::size_of::<ExecutionReportRecord>();
        let taken = self.reports.pop_records(records, size).map_err(shm("the reports queue"))?;
        let seen_ns = monotonic_ns();
        if let Some(forward) = self.forward.as_mut() {
            let copied =
                forward.push_records(&records[..taken * size], size).map_err(shm("the forward queue"))?;
            self.forwards_dropped.fetch_add((taken - copied) as u64, Ordering::Relaxed);
        }
        for record in records[..taken * size].chunks_exact(size) {
            self.take(&ExecutionReportRecord::from_bytes(record), seen_ns)?;
        }
        Ok(taken > 0)
    }

    /// Routes one report, read at `seen_ns` (0: replayed), to its symbol's group.
    fn take(&mut self, record: &ExecutionReportRecord, seen_ns: u64) -> Result<(), WorkerError> {
        self.event(record.as_bytes())?;
        let facts = ReportFacts::from_record(record);
        // A report about a symbol no group holds is the group's to refuse: the first.
        let group = self.route.get(&facts.instrument).copied().unwrap_or(0);
        self.route_to(group, GroupEvent::Report { facts, seen_ns })
    }

    /// Publishes one event into the events ring (if any).
    fn event(&mut self, bytes: &[u8]) -> Result<(), WorkerError> {
        if let Some(events) = self.events.as_mut() {
            events.publish(bytes).map_err(shm("the events ring"))?;
        }
        Ok(())
    }

    /// Routes a mark for every symbol whose book changed on a venue, if it is time to look;
    /// whether there was one. A book's version is read first, and only a new one is copied.
    fn read_books(&mut self) -> Result<bool, WorkerError> {
        let now = monotonic_ns();
        if now.saturating_sub(self.marks.marked_ns) < self.marks.every_ns {
            return Ok(false);
        }
        self.marks.marked_ns = now;
        let venues = self.marks.books.len();
        let mut any = false;
        for at in 0..self.marks.instruments.len() {
            let instrument = self.marks.instruments[at];
            for venue in 0..venues {
                let m = &mut self.marks;
                let Some(reader) = m.books[venue].as_ref() else { continue };
                let key = u64::from(instrument);
                let version = reader.version(key).map_err(shm("a venue's book slots"))?;
                if version == m.seen[at * venues + venue] || version % 2 == 1 {
                    continue;
                }
                // A book its feed is caught writing is marked on a later turn.
                let SlotRead::Read(version) =
                    reader.read_unless_busy(key, &mut m.record).map_err(shm("a venue's book slots"))?
                else {
                    continue;
                };
                m.seen[at * venues + venue] = version;
                let book = TopOfBook::from_bytes(&m.record);
                let mark = MarkRecord {
                    header: RecordHeader {
                        msg_type: MarkRecord::TYPE_ID,
                        length: std::mem::size_of::<MarkRecord>() as u32,
                        publish_ts_ns: book.header.publish_ts_ns,
                        ..RecordHeader::default()
                    },
                    instrument_id: instrument,
                    venue: venue as u8,
                    reserved: [0; 3],
                    bid: if book.bid_levels > 0 { book.bids[0].price } else { 0 },
                    ask: if book.ask_levels > 0 { book.asks[0].price } else { 0 },
                };
                self.event(mark.as_bytes())?;
                let group = self.route.get(&instrument).copied().unwrap_or(0);
                let event = GroupEvent::Mark { instrument, venue, bid: mark.bid, ask: mark.ask };
                self.route_to(group, event)?;
                any = true;
            }
        }
        Ok(any)
    }

    fn take_commands(&mut self, command: &mut [u8]) -> Result<bool, WorkerError> {
        let mut busy = false;
        while let Received::Message { .. } =
            self.commands.try_pop(command).map_err(shm("the commands queue"))?
        {
            busy = true;
            let record = TradingStateRecord::from_bytes(command);
            let Ok(state) = TradingState::from_code(record.state) else { continue };
            let key = record.instrument_id;
            if key == PORTFOLIO {
                let mut changes = Vec::new();
                self.watch.operator(state, &mut changes);
                for change in changes {
                    self.publish(change, None, 0, None)?;
                }
            } else if let Some(&group) = self.route.get(&key) {
                self.route_to(group, GroupEvent::Operator { instrument: key, state })?;
            }
        }
        Ok(busy)
    }

    fn reload(&mut self, reload: Reload) -> Result<(), WorkerError> {
        let mark = TradingStateRecord {
            header: RecordHeader {
                msg_type: TradingStateRecord::TYPE_ID,
                flags: trading_state_flags::RELOADED,
                length: std::mem::size_of::<TradingStateRecord>() as u32,
                publish_ts_ns: realtime_ns(),
                ..RecordHeader::default()
            },
            instrument_id: PORTFOLIO,
            state: self.watch.state() as u8,
            reason: state_reason::OPERATOR,
            ..TradingStateRecord::default()
        };
        self.event(mark.as_bytes())?;
        for group in 0..self.groups.len() {
            let mine: Vec<_> = reload
                .symbols
                .iter()
                .filter(|s| self.route.get(&s.instrument) == Some(&group))
                .copied()
                .collect();
            self.route_to(group, GroupEvent::Limits(mine))?;
        }
        if let Some(change) = self.watch.set_limits(reload.portfolio) {
            self.publish(change, None, 0, None)?;
        }
        Ok(())
    }

    fn route_to(&mut self, group: usize, event: GroupEvent) -> Result<(), WorkerError> {
        let Some(inline) = self.inline.as_mut() else {
            // A group that stopped has failed: `RiskWorker::running` says so.
            let _ = self.senders[group].send(event);
            return Ok(());
        };
        let instrument = event.instrument();
        inline.handle(event);
        // One group, on this thread: the portfolio is judged after every event, the symbol's
        // change first, as the reference rules judge them.
        let totals = inline.totals();
        self.publish_changes()?;
        if let Some(change) = self.watch.update(totals) {
            self.publish(change, None, 0, None)?;
        }
        // The rooms the event moved are written at the turn's end, once per key.
        if let Some(instrument) = instrument.filter(|i| !self.moved.contains(i)) {
            self.moved.push(instrument);
        }
        Ok(())
    }

    /// Writes the changes the groups have sent.
    fn publish_changes(&mut self) -> Result<bool, WorkerError> {
        let mut any = false;
        while let Ok(published) = self.changes.try_recv() {
            self.publish(published.change, Some(published.risk), published.seen_ns, None)?;
            any = true;
        }
        Ok(any)
    }

    /// Sums the groups' figures if any group published, and judges the portfolio's limits.
    fn judge_portfolio(&mut self) -> Result<bool, WorkerError> {
        let mut fresh = false;
        let mut totals = crate::portfolio::Totals::default();
        for (at, group) in self.groups.iter().enumerate() {
            let (generation, t) = group.read(|v| (v.generation, v.totals));
            fresh |= generation != self.generations[at];
            self.generations[at] = generation;
            totals.pnl += t.pnl;
            totals.gross += t.gross;
            totals.net += t.net;
            totals.open += t.open;
        }
        if !fresh {
            return Ok(false);
        }
        if let Some(change) = self.watch.update(totals) {
            self.publish(change, None, 0, None)?;
        }
        self.show();
        Ok(true)
    }

    fn check_heartbeats(&mut self, now: u64) -> Result<(), WorkerError> {
        let max_age = self.max_heartbeat_age_ns;
        let stale = self.watched.iter().position(|w| w.stale(now, max_age));
        if let Some(segment) = stale {
            if let Some(change) = self.watch.latch(TradingState::Killed, Cause::StaleHeartbeat) {
                self.publish(change, None, 0, Some(segment))?;
            }
        }
        Ok(())
    }

    /// Writes `change` to the slots and passes it on to be logged.
    fn publish(
        &mut self,
        change: Change,
        symbol: Option<crate::portfolio::SymbolRisk>,
        seen_ns: u64,
        segment: Option<usize>,
    ) -> Result<(), WorkerError> {
        let reason = match change.cause {
            Cause::Operator => state_reason::OPERATOR,
            Cause::Limit(_) => state_reason::LIMIT,
            Cause::StaleHeartbeat => state_reason::STALE_HEARTBEAT,
        };
        if change.cause == Cause::Operator {
            // Answered: the operator waiting on this key's count sees it move.
            let held = self.keys.entry(change.key).or_insert(KeyState::new(change.to, reason, 0));
            held.orders = held.orders.wrapping_add(1);
        }
        self.write(change.key, change.to, reason)?;
        let visible_after_ns = (seen_ns > 0).then(|| monotonic_ns().saturating_sub(seen_ns));
        let logged = Logged { change, symbol, portfolio: self.watch.risk(), visible_after_ns, segment };
        // Nobody listening means the worker is stopping.
        let _ = self.log.send(logged);
        if change.key == PORTFOLIO {
            self.show();
        }
        Ok(())
    }

    fn write(&mut self, key: u32, state: TradingState, reason: u8) -> Result<(), WorkerError> {
        self.write_flagged(key, state, reason, 0)
    }

    /// Writes `key`'s state (with `flags` in the record's header) and its rooms into the slots,
    /// and into the events right after the event that caused it.
    fn write_flagged(
        &mut self,
        key: u32,
        state: TradingState,
        reason: u8,
        flags: u16,
    ) -> Result<(), WorkerError> {
        let held = self.keys.entry(key).or_insert(KeyState::new(state, reason, 0));
        held.state = state;
        held.reason = reason;
        let rooms = self.rooms(key);
        let record = self.record(key, flags, rooms);
        self.trading.write(u64::from(key), record.as_bytes()).map_err(shm("the trading slots"))?;
        self.event(record.as_bytes())
    }

    /// Writes the rooms of the symbols this turn's events moved, and the portfolio's, where the
    /// gate reads them.
    fn refresh_moved(&mut self) -> Result<(), WorkerError> {
        if self.moved.is_empty() {
            return Ok(());
        }
        for at in 0..self.moved.len() {
            self.refresh(self.moved[at])?;
        }
        self.moved.clear();
        self.refresh(PORTFOLIO)
    }

    /// Writes `key`'s rooms as they are now, its state as it was (not an event: the events
    /// ring does not carry it).
    fn refresh(&mut self, key: u32) -> Result<(), WorkerError> {
        let rooms = self.rooms(key);
        self.refresh_with(key, rooms)
    }

    /// [`Publisher::refresh`], with the rooms given.
    fn refresh_with(&mut self, key: u32, rooms: [i64; 4]) -> Result<(), WorkerError> {
        if !self.keys.contains_key(&key) {
            return Ok(());
        }
        let record = self.record(key, 0, rooms);
        self.trading.write(u64::from(key), record.as_bytes()).map_err(shm("the trading slots"))
    }

    /// Writes every symbol's rooms as its group last listed them, and the portfolio's.
    fn refresh_listed(&mut self) -> Result<(), WorkerError> {
        for g in 0..self.groups.len() {
            let listed: Vec<(u32, SymbolHeadroom)> =
                self.groups[g].read(|v| v.symbols.iter().map(|s| (s.risk.instrument, s.headroom)).collect());
            for (key, headroom) in listed {
                self.refresh_with(key, symbol_rooms(Some(headroom)))?;
            }
        }
        self.refresh(PORTFOLIO)
    }

    /// The record of `key` now: its state, its reason, the orders answered and its rooms.
    fn record(&mut self, key: u32, flags: u16, rooms: [i64; 4]) -> TradingStateRecord {
        let held = self.keys.get_mut(&key).expect("a key is held before its record is written");
        let sequence = held.next_sequence;
        held.next_sequence += 1;
        let held = *held;
        let [loss_room, drawdown_room, exposure_room, net_room] = rooms;
        TradingStateRecord {
            header: RecordHeader {
                msg_type: TradingStateRecord::TYPE_ID,
                flags,
                length: std::mem::size_of::<TradingStateRecord>() as u32,
                sequence,
                publish_ts_ns: realtime_ns(),
                ..RecordHeader::default()
            },
            instrument_id: key,
            state: held.state as u8,
            reason: held.reason,
            orders: held.orders,
            loss_room,
            drawdown_room,
            exposure_room,
            net_room,
        }
    }

    /// `key`'s room under its loss, drawdown, exposure (the portfolio's: gross) and net limits.
    /// A symbol's on its own thread are as its group last listed them (at most 10 ms old).
    fn rooms(&self, key: u32) -> [i64; 4] {
        if key == PORTFOLIO {
            let h = self.watch.headroom();
            return [room(h.loss), room(h.drawdown), room(h.gross), room(h.net)];
        }
        symbol_rooms(match self.inline.as_ref() {
            Some(inline) => inline.group.headroom(key),
            None => self.route.get(&key).and_then(|&g| {
                self.groups[g]
                    .read(|v| v.symbols.iter().find(|s| s.risk.instrument == key).map(|s| s.headroom))
            }),
        })
    }

    fn show(&self) {
        let risk = self.watch.risk();
        self.portfolio.publish(PortfolioView {
            risk,
            headroom: self.watch.headroom(),
            state: Some(self.watch.state()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::group_core;

    #[test]
    fn the_publisher_takes_the_first_core_and_the_groups_the_others_in_turn() {
        assert_eq!(group_core(&[], 0), None);
        assert_eq!((group_core(&[3], 0), group_core(&[3], 1)), (Some(3), Some(3)), "one core: all on it");
        let cores = [2, 4, 5];
        assert_eq!((0..3).map(|i| group_core(&cores, i)).collect::<Vec<_>>(), [Some(4), Some(5), Some(4)]);
    }
}
