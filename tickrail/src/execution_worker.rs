//! The execution worker's Rust side for `python -m execution`: the engine (strategy, gate,
//! gateways, OMS, journal) on a Rust thread, built from plain Python values: prices,
//! quantities and notionals are already in fixed point (units of 1e-9).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use execution::engine::{Engine, SymbolBook, Wiring};
use execution::gate_tap::GateTap;
use execution::gateway::fix::{FixGateway, FixLogin};
use execution::gateway::json::JsonGateway;
use execution::gateway::ouch::OuchGateway;
use execution::gateway::Gateway;
use execution::journal::{self, Writer};
use execution::metrics::{Counter, EngineMetrics, EngineReport};
use execution::oms::Report;
use execution::reports_out::{applied_record, kind_code};
use execution::strategy::{MarketMaker, MarketMakerConfig, MAX_VENUES};
use execution::strategy_link::{self, LinkError, StrategyEnd, StrategyEvent, StrategyRequest};
use execution::Oms;
use protocols::ouch_client::ClientConfig;
use protocols::soupbintcp_session::Timing;
use pyo3::exceptions::{PyBufferError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use risk::{Gate, Limits, PortfolioLimits, Side, SymbolLimits};
use shm_layout::histogram::Snapshot;
use shm_layout::records::{ExecutionReportRecord, Layout};
use shm_layout::{broadcast, queue, realtime_ns, slots, Expected, SegmentOptions};

use crate::errors::IntoPyResult;
use crate::servers::socket_addr;
use crate::worker::Worker;

/// How long connecting and logging on to a venue may take.
const LOGON_TIMEOUT: Duration = Duration::from_secs(5);
/// An execution report record's size: the reports queue's largest message.
const REPORT_SIZE: u32 = std::mem::size_of::<ExecutionReportRecord>() as u32;
/// How much the journal file grows at a time (about 250,000 entries).
const JOURNAL_GROWTH: usize = 16 << 20;
/// Orders the OMS has room for before its table grows.
const OMS_CAPACITY: usize = 1 << 16;

/// One venue, as Python describes it.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
struct VenueArgs {
    /// `ouch`, `fix` or `json`.
    protocol: String,
    /// Its order-entry address.
    address: String,
    /// Its feed's book segment.
    books: String,
    /// The symbols it lists, with their instrument ids.
    symbols: Vec<(String, u32)>,
    /// Who logs on: the OUCH user, our FIX SenderCompID, the JSON API key.
    login: String,
    /// What proves it (or names the other end): the OUCH password, the venue's FIX CompID,
    /// the JSON API secret.
    credential: String,
}

/// One symbol: its limits and its market maker.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
struct SymbolArgs {
    instrument: u32,
    tick: i64,
    lot: i64,
    min_quantity: i64,
    max_quantity: i64,
    max_notional: i64,
    price_band_bps: u32,
    max_position: i64,
    max_venue_position: i64,
    max_working_orders: u32,
    order_rate_per_s: u32,
    order_burst: u32,
    cancel_rate_per_s: u32,
    cancel_burst: u32,
    half_spread_ticks: i64,
    level_spacing_ticks: i64,
    levels: usize,
    size: i64,
    skew_ticks_per_lot: i64,
    tolerance_ticks: i64,
    fee_bps: i64,
    arbitrage_margin_ticks: i64,
    arbitrage_size: i64,
}

/// The portfolio's limits.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
struct PortfolioArgs {
    max_gross_notional: i64,
    max_net_notional: i64,
    max_working_orders: u32,
    max_risk_heartbeat_age_ms: u64,
    max_book_age_ms: u64,
}

/// Venue `index`'s gateway, logging on from the sequence `delivered` the journal at
/// `journal` says the venue had delivered (FIX keeps its own outgoing number beside it).
fn gateway(index: usize, venue: &VenueArgs, delivered: u64, journal: &Path) -> PyResult<Gateway> {
    let addr = socket_addr("order entry", &venue.address)?;
    let symbols: Vec<(&str, u32)> = venue.symbols.iter().map(|(s, id)| (s.as_str(), *id)).collect();
    let failed = |e: String| PyOSError::new_err(format!("venue {index} ({}): {e}", venue.protocol));
    Ok(match venue.protocol.as_str() {
        "ouch" => {
            let config = ClientConfig {
                username: venue.login.clone(),
                password: venue.credential.clone(),
                session: String::new(),
                timing: Timing { heartbeat_interval: Duration::from_secs(1), timeout: LOGON_TIMEOUT },
            };
            // From where the journal says the session had delivered: nothing twice, nothing missed.
            let gateway = OuchGateway::connect(addr, &config, delivered, index, &symbols, "TRKR")
                .map_err(|e| failed(e.to_string()))?;
            Gateway::Ouch(gateway)
        }
        "fix" => {
            let login = FixLogin {
                sender_comp_id: venue.login.clone(),
                target_comp_id: venue.credential.clone(),
                store: journal.with_extension(format!("venue{index}.fixseq")),
                timeout: LOGON_TIMEOUT,
            };
            Gateway::Fix(
                FixGateway::connect(addr, &login, delivered, index, &symbols)
                    .map_err(|e| failed(e.to_string()))?,
            )
        }
        "json" => Gateway::Json(
            JsonGateway::connect(
                addr,
                &venue.login,
                venue.credential.as_bytes(),
                delivered,
                index,
                &symbols,
                LOGON_TIMEOUT,
            )
            .map_err(|e| failed(e.to_string()))?,
        ),
        other => {
            return Err(PyValueError::new_err(format!(
                "venue {index}: protocol {other:?} is not ouch, fix or json"
            )))
        }
    })
}

/// Most working orders the gate holds per symbol and venue.
const MAX_WORKING_PER_VENUE_SYMBOL: usize = 16;

fn limits(symbols: &[SymbolArgs], portfolio: &PortfolioArgs, venues: usize) -> Limits {
    Limits {
        symbols: symbols
            .iter()
            .map(|s| SymbolLimits {
                instrument: s.instrument,
                tick: s.tick,
                lot: s.lot,
                min_quantity: s.min_quantity,
                max_quantity: s.max_quantity,
                max_notional: i128::from(s.max_notional),
                price_band_bps: s.price_band_bps,
                max_position: s.max_position,
                max_venue_position: s.max_venue_position,
                max_working_orders: s.max_working_orders,
                order_rate_per_s: s.order_rate_per_s,
                order_burst: s.order_burst,
                cancel_rate_per_s: s.cancel_rate_per_s,
                cancel_burst: s.cancel_burst,
                max_book_age_ns: portfolio.max_book_age_ms * 1_000_000,
            })
            .collect(),
        portfolio: PortfolioLimits {
            max_gross_notional: i128::from(portfolio.max_gross_notional),
            max_net_notional: i128::from(portfolio.max_net_notional),
            max_working_orders: portfolio.max_working_orders,
            max_risk_heartbeat_age_ns: portfolio.max_risk_heartbeat_age_ms * 1_000_000,
        },
        venues,
        max_working_per_venue_symbol: MAX_WORKING_PER_VENUE_SYMBOL,
    }
}

/// The reports queue `name`, as its writer; it must carry execution report records.
fn attach_reports(name: &str) -> PyResult<queue::Writer> {
    let expected = Expected { max_message_size: Some(REPORT_SIZE), ..Expected::default() };
    queue::Writer::attach(name).and_then(|q| q.expect(&expected)).py()
}

/// Gives a new gate what the journal says is working and held, so a restarted worker's limits
/// count what it had.
fn restore(gate: &mut GateTap, oms: &Oms, instruments: &[u32], venues: usize) -> PyResult<()> {
    let refused =
        |what: String, reason: risk::Reject| PyValueError::new_err(format!("the journal's {what}: {reason}"));
    for order in oms.open_orders() {
        let working = risk::NewOrder {
            id: order.id,
            venue: order.venue,
            instrument: order.instrument,
            side: order.side,
            price: order.price,
            quantity: order.open(),
        };
        let restored = match order.replacement {
            // A replace was pending: held as the replacement, as the gate held it.
            Some(r) => gate.restore_replacing(
                order.id,
                &risk::NewOrder { id: r.id, price: r.price, quantity: r.quantity - order.filled, ..working },
            ),
            None => gate.restore_working(&working),
        };
        restored.map_err(|r| refused(format!("order {}", order.id), r))?;
    }
    for (symbol, &instrument) in instruments.iter().enumerate() {
        for venue in 0..venues {
            let held = oms.positions().venue(symbol, venue).quantity;
            if held != 0 {
                gate.restore_position(venue, instrument, held)
                    .map_err(|r| refused(format!("position in {instrument} on venue {venue}"), r))?;
            }
        }
    }
    Ok(())
}

/// The execution worker: the engine on a Rust thread, trading on the venues given, reading
/// their feeds' books and the trading state, journalling to `journal` and counting into
/// `metrics` (attached to if it exists: the supervisor creates it).
#[pyclass(module = "tickrail._native", name = "ExecutionWorker")]
pub(crate) struct PyExecutionWorker {
    metrics: String,
    spin: bool,
    worker: Worker<Engine, ()>,
    /// The linked strategy's end, if some symbols are left to it.
    strategy: Option<StrategyEnd>,
}

#[pymethods]
impl PyExecutionWorker {
    #[new]
    #[pyo3(signature = (
        venues, symbols, portfolio, *, trading, metrics, journal, reports=None, gate_calls=None,
        linked=Vec::new(), spin=false
    ))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        venues: Vec<VenueArgs>,
        symbols: Vec<SymbolArgs>,
        portfolio: PortfolioArgs,
        trading: &str,
        metrics: &str,
        journal: PathBuf,
        reports: Option<&str>,
        gate_calls: Option<&str>,
        linked: Vec<u32>,
        spin: bool,
    ) -> PyResult<Self> {
        let journal_path = journal;
        if let Some(unknown) = linked.iter().find(|i| !symbols.iter().any(|s| s.instrument == **i)) {
            return Err(PyValueError::new_err(format!("linked instrument {unknown} is not traded")));
        }
        if venues.is_empty() || venues.len() > MAX_VENUES {
            return Err(PyValueError::new_err(format!("1 to {MAX_VENUES} venues, not {}", venues.len())));
        }
        let gate = Gate::new(limits(&symbols, &portfolio, venues.len()), realtime_ns())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let ring = gate_calls.map(broadcast::Writer::attach).transpose().py()?;
        let mut gate = GateTap::new(gate, ring);
        let instruments: Vec<u32> = symbols.iter().map(|s| s.instrument).collect();
        let mut oms = Oms::new(&instruments, venues.len(), OMS_CAPACITY);
        let (journal, contents) =
            Writer::open(&journal_path, JOURNAL_GROWTH).map_err(|e| PyOSError::new_err(e.to_string()))?;
        let reports_queue = reports.map(attach_reports).transpose()?;
        // The queue holds every report the journal holds: what it never got (a worker that
        // died between the two, or a queue new to a day that carries on) goes first.
        let published = reports_queue.as_ref().map_or(u64::MAX, queue::Writer::next_seq);
        let mut missed = Vec::new();
        let mut count = 0u64;
        journal::rebuild_seeing_reports(&mut oms, &contents.entries, |oms, report, id, before| {
            if count >= published {
                missed.extend(applied_record(oms, report, id, before, 0));
            }
            count += 1;
        })
        .map_err(|e| PyValueError::new_err(format!("the journal: {e}")))?;
        restore(&mut gate, &oms, &instruments, venues.len())?;
        let last_id = journal::last_id(&contents.entries);
        let books = venues
            .iter()
            .map(|v| slots::Reader::open(&v.books).map(Some))
            .collect::<Result<Vec<_>, _>>()
            .py()?;
        let makers = symbols
            .iter()
            .map(|s| {
                let mut listed = [false; MAX_VENUES];
                for (at, venue) in venues.iter().enumerate() {
                    listed[at] = venue.symbols.iter().any(|(_, id)| *id == s.instrument);
                }
                let mut no_replace = [false; MAX_VENUES];
                for (at, venue) in venues.iter().enumerate() {
                    no_replace[at] = venue.protocol == "json";
                }
                let config = MarketMakerConfig {
                    tick: s.tick,
                    lot: s.lot,
                    half_spread_ticks: s.half_spread_ticks,
                    level_spacing_ticks: s.level_spacing_ticks,
                    levels: s.levels,
                    size: s.size,
                    skew_ticks_per_lot: s.skew_ticks_per_lot,
                    tolerance_ticks: s.tolerance_ticks,
                    fee_bps: s.fee_bps,
                    arbitrage_margin_ticks: s.arbitrage_margin_ticks,
                    arbitrage_size: s.arbitrage_size,
                    no_replace,
                    max_position: s.max_position,
                    max_venue_position: s.max_venue_position,
                };
                // A symbol left to the linked strategy has no market maker.
                let maker = (!linked.contains(&s.instrument))
                    .then(|| MarketMaker::new(s.instrument, venues.len(), config));
                SymbolBook { instrument: s.instrument, listed, maker }
            })
            .collect();
        let gateways = venues
            .iter()
            .enumerate()
            .map(|(at, v)| gateway(at, v, journal::delivered(&contents.entries, at), &journal_path).map(Some))
            .collect::<PyResult<Vec<_>>>()?;
        let engine_metrics = match EngineMetrics::attach(metrics) {
            Ok(m) => m,
            Err(_) => EngineMetrics::create(
                metrics,
                &SegmentOptions { replace_stale: true, ..SegmentOptions::default() },
            )
            .py()?,
        };
        let wiring = Wiring {
            gateways,
            books,
            trading: slots::Reader::open(trading).py()?,
            reports: reports_queue,
            strategy: None,
            symbols: makers,
            max_book_age_ns: portfolio.max_book_age_ms * 1_000_000,
        };
        let (loop_end, strategy) = if linked.is_empty() {
            (None, None)
        } else {
            let (loop_end, strategy) = strategy_link::link(strategy_link::DEFAULT_CAPACITY);
            (Some(loop_end), Some(strategy))
        };
        let wiring = Wiring { strategy: loop_end, ..wiring };
        let mut engine = Engine::new(wiring, gate, oms, journal, engine_metrics, last_id);
        engine.report_missed(missed);
        // A venue that cancels on disconnect ended our orders there when the last worker went.
        engine.take_over().map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self { metrics: metrics.to_owned(), spin, worker: Worker::Ready(engine), strategy })
    }

    /// Runs the engine on a Rust thread until `stop` (spinning between idle turns if built
    /// with `spin`, else yielding the core).
    fn start(&mut self) -> PyResult<()> {
        let spin = self.spin;
        self.worker.start("execution", move |mut engine: Engine, stop: &AtomicBool| {
            engine.run(stop, spin).map_err(|e| e.to_string())
        })
    }

    /// Whether the engine runs.
    #[getter]
    fn running(&self) -> bool {
        self.worker.is_running()
    }

    /// Stops the engine; an engine that failed raises `RuntimeError` naming why.
    fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
        self.worker.stop(py)
    }

    /// The metrics segment's name.
    #[getter]
    fn metrics(&self) -> String {
        self.metrics.clone()
    }

    /// What the linked strategy hears, waiting up to `timeout` seconds for the first (the GIL
    /// released meanwhile), then up to `max` in all, as tuples: `("book", instrument,
    /// receive_ns, position, [(bid, bid_quantity, ask, ask_quantity, usable) per venue])`,
    /// `("sent", tag, id)`, `("refused", tag, reason)`, `("report", tag, id, venue,
    /// instrument, is_buy, kind code, price, quantity, leaves, position, receive_ns)` (a
    /// fill's own price and quantity; 0 otherwise). Raises `RuntimeError` once the engine has
    /// stopped and nothing is left.
    #[pyo3(signature = (timeout, max=256))]
    fn strategy_events<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
        max: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let end = self.strategy_end()?;
        let wait = Duration::try_from_secs_f64(timeout.max(0.0))
            .map_err(|e| PyValueError::new_err(format!("timeout {timeout}: {e}")))?;
        let mut events = Vec::with_capacity(max.min(4096));
        py.detach(|| end.take(wait, max.max(1), &mut events)).map_err(linked_error)?;
        let out = PyList::empty(py);
        for event in events {
            out.append(event_tuple(py, &event)?)?;
        }
        Ok(out)
    }

    /// Hands the engine the linked strategy's requests, in order: `("new", tag, venue,
    /// instrument, is_buy, price, quantity, tick_ns)` or `("cancel", id)`. Raises
    /// `RuntimeError` if the engine has stopped, `BufferError` if it has not taken the
    /// earlier ones yet.
    fn strategy_send(&self, requests: Vec<Bound<'_, PyTuple>>) -> PyResult<()> {
        let end = self.strategy_end()?;
        for request in requests {
            end.send(strategy_request(&request)?).map_err(linked_error)?;
        }
        Ok(())
    }
}

impl PyExecutionWorker {
    fn strategy_end(&self) -> PyResult<&StrategyEnd> {
        self.strategy.as_ref().ok_or_else(|| PyValueError::new_err("no symbol is left to a linked strategy"))
    }
}

fn linked_error(error: LinkError) -> PyErr {
    match error {
        LinkError::LoopGone => PyRuntimeError::new_err(error.to_string()),
        LinkError::Full { .. } => PyBufferError::new_err(error.to_string()),
    }
}

/// One event as the tuple `strategy_events` documents.
fn event_tuple<'py>(py: Python<'py>, event: &StrategyEvent) -> PyResult<Bound<'py, PyTuple>> {
    Ok(match *event {
        StrategyEvent::Book(book) => {
            let tops: Vec<(i64, i64, i64, i64, bool)> =
                book.tops.iter().map(|t| (t.bid, t.bid_quantity, t.ask, t.ask_quantity, t.usable)).collect();
            ("book", book.instrument, book.receive_ns, book.position, tops).into_pyobject(py)?
        }
        StrategyEvent::Sent { tag, id } => ("sent", tag, id).into_pyobject(py)?,
        StrategyEvent::Refused { tag, reason } => {
            ("refused", tag, format!("{reason:?}")).into_pyobject(py)?
        }
        StrategyEvent::Report { tag, id, venue, instrument, side, report, leaves, position, receive_ns } => {
            let (price, quantity) = match report {
                Report::Fill { price, quantity } => (price, quantity),
                _ => (0, 0),
            };
            let head = ("report", tag, id, venue, instrument, side == Side::Buy, kind_code(report));
            let tail = (price, quantity, leaves, position, receive_ns);
            let mut items: Vec<Bound<'py, PyAny>> = head.into_pyobject(py)?.iter().collect();
            items.extend(tail.into_pyobject(py)?.iter());
            PyTuple::new(py, items)?
        }
    })
}

/// One request from the tuple `strategy_send` documents.
fn strategy_request(request: &Bound<'_, PyTuple>) -> PyResult<StrategyRequest> {
    let what: String = request.get_item(0)?.extract()?;
    match what.as_str() {
        "new" => {
            let (_, tag, venue, instrument, is_buy, price, quantity, tick_ns): (
                String,
                u64,
                usize,
                u32,
                bool,
                i64,
                i64,
                u64,
            ) = request.extract()?;
            let side = if is_buy { Side::Buy } else { Side::Sell };
            Ok(StrategyRequest::New { tag, venue, instrument, side, price, quantity, tick_ns })
        }
        "cancel" => {
            let (_, id): (String, u64) = request.extract()?;
            Ok(StrategyRequest::Cancel { id })
        }
        other => Err(PyValueError::new_err(format!("a request is \"new\" or \"cancel\", not {other:?}"))),
    }
}

/// The execution worker's metrics: `{"counters": {name: value}, "rejections": {reason: count}
/// (reasons counted at least once), "tick_to_trade_ns": {"count", "p50", "p99", "p999", "max"},
/// "linked_tick_to_trade_ns": the same for the linked (Python) strategy's orders,
/// "stages_ns": {"feed", "handoff", "decide", "write"}: the built-in strategy's tick-to-trade by
/// stage}`. With `values`, each histogram also has its filled buckets (`"values"`).
#[pyfunction]
#[pyo3(name = "execution_report", signature = (name, *, values=false))]
fn py_execution_report<'py>(py: Python<'py>, name: &str, values: bool) -> PyResult<Bound<'py, PyDict>> {
    let report = py.detach(|| EngineReport::read(name)).py()?;
    let counters = PyDict::new(py);
    for counter in Counter::ALL {
        counters.set_item(counter.name(), report.get(counter))?;
    }

    let rejections = PyDict::new(py);
    for (reason, count) in &report.rejections {
        if *count > 0 {
            rejections.set_item(format!("{reason:?}"), count)?;
        }
    }
    let out = PyDict::new(py);
    out.set_item("counters", counters)?;
    out.set_item("rejections", rejections)?;
    out.set_item("tick_to_trade_ns", percentiles(py, &report.tick_to_trade, values)?)?;
    out.set_item("linked_tick_to_trade_ns", percentiles(py, &report.linked_tick_to_trade, values)?)?;
    let stages = PyDict::new(py);
    for (stage, histogram) in &report.stages {
        stages.set_item(stage.name(), percentiles(py, histogram, values)?)?;
    }
    out.set_item("stages_ns", stages)?;
    Ok(out)
}

/// `{"count", "p50", "p99", "p999", "max"}` of a latency histogram, nanoseconds; with
/// `values`, also `"values": [(value, count), ...]`, each filled bucket's highest value and its
/// count.
fn percentiles<'py>(py: Python<'py>, histogram: &Snapshot, values: bool) -> PyResult<Bound<'py, PyDict>> {
    let latency = PyDict::new(py);
    latency.set_item("count", histogram.buckets.iter().sum::<u64>())?;
    for (key, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        latency.set_item(key, histogram.quantile(q))?;
    }
    latency.set_item("max", histogram.max)?;
    if values {
        latency.set_item("values", histogram.values().collect::<Vec<_>>())?;
    }
    Ok(latency)
}

/// Creates the execution worker's reports queue `name` with room for `capacity` reports, for
/// a supervisor that owns it.
#[pyfunction]
#[pyo3(name = "create_execution_reports", signature = (name, capacity, *, replace_stale=false))]
fn py_create_execution_reports(name: &str, capacity: u64, replace_stale: bool) -> PyResult<()> {
    let options = SegmentOptions { replace_stale, ..SegmentOptions::default() };
    drop(queue::Writer::create(name, capacity, REPORT_SIZE, &options).py()?);
    Ok(())
}

/// Creates the execution worker's metrics segment `name`, for a supervisor that owns it.
#[pyfunction]
#[pyo3(name = "create_execution_metrics", signature = (name, *, replace_stale=false))]
fn py_create_execution_metrics(name: &str, replace_stale: bool) -> PyResult<()> {
    drop(EngineMetrics::create(name, &SegmentOptions { replace_stale, ..SegmentOptions::default() }).py()?);
    Ok(())
}

/// The limits the gate of an execution worker given `symbols` and `portfolio` on `venues`
/// venues enforces, built as the worker builds them, as plain values (`{"symbols": [...],
/// "portfolio": {...}, "venues", "max_working_per_venue_symbol"}`, field names as the Rust
/// structs'): what shadow mode gives the reference rules.
#[pyfunction]
#[pyo3(name = "gate_limits")]
fn py_gate_limits<'py>(
    py: Python<'py>,
    symbols: Vec<SymbolArgs>,
    portfolio: PortfolioArgs,
    venues: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let built = limits(&symbols, &portfolio, venues);
    let listed = PyList::empty(py);
    for s in &built.symbols {
        let d = PyDict::new(py);
        d.set_item("instrument", s.instrument)?;
        d.set_item("tick", s.tick)?;
        d.set_item("lot", s.lot)?;
        d.set_item("min_quantity", s.min_quantity)?;
        d.set_item("max_quantity", s.max_quantity)?;
        d.set_item("max_notional", s.max_notional)?;
        d.set_item("price_band_bps", s.price_band_bps)?;
        d.set_item("max_position", s.max_position)?;
        d.set_item("max_venue_position", s.max_venue_position)?;
        d.set_item("max_working_orders", s.max_working_orders)?;
        d.set_item("order_rate_per_s", s.order_rate_per_s)?;
        d.set_item("order_burst", s.order_burst)?;
        d.set_item("cancel_rate_per_s", s.cancel_rate_per_s)?;
        d.set_item("cancel_burst", s.cancel_burst)?;
        d.set_item("max_book_age_ns", s.max_book_age_ns)?;
        listed.append(d)?;
    }
    let p = &built.portfolio;
    let whole = PyDict::new(py);
    whole.set_item("max_gross_notional", p.max_gross_notional)?;
    whole.set_item("max_net_notional", p.max_net_notional)?;
    whole.set_item("max_working_orders", p.max_working_orders)?;
    whole.set_item("max_risk_heartbeat_age_ns", p.max_risk_heartbeat_age_ns)?;
    let out = PyDict::new(py);
    out.set_item("symbols", listed)?;
    out.set_item("portfolio", whole)?;
    out.set_item("venues", built.venues)?;
    out.set_item("max_working_per_venue_symbol", built.max_working_per_venue_symbol)?;
    Ok(out)
}

/// Every report the journal at `path` holds (of an execution worker trading `instruments` on
/// `venues` venues), in the order they were applied, as the `ExecutionReport` records the
/// worker sent for them (their receive times zero): what a restarted risk worker replays up to
/// where its queue had been read.
#[pyfunction]
#[pyo3(name = "journal_reports")]
fn py_journal_reports<'py>(
    py: Python<'py>,
    path: PathBuf,
    instruments: Vec<u32>,
    venues: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let contents = journal::read(&path).map_err(|e| PyOSError::new_err(e.to_string()))?;
    let mut oms = Oms::new(&instruments, venues, OMS_CAPACITY);
    let mut records = Vec::new();
    journal::rebuild_seeing_reports(&mut oms, &contents.entries, |oms, report, id, before| {
        if let Some(record) = applied_record(oms, report, id, before, 0) {
            records.extend_from_slice(record.as_bytes());
        }
    })
    .map_err(|e| PyValueError::new_err(format!("{}: {e}", path.display())))?;
    Ok(PyBytes::new(py, &records))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyExecutionWorker>()?;
    m.add_function(wrap_pyfunction!(py_gate_limits, m)?)?;
    m.add_function(wrap_pyfunction!(py_create_execution_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(py_create_execution_reports, m)?)?;
    m.add_function(wrap_pyfunction!(py_execution_report, m)?)?;
    m.add_function(wrap_pyfunction!(py_journal_reports, m)?)?;
    Ok(())
}
