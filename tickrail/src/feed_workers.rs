//! The feed processes' Rust side: a venue's feed on its socket, run on a Rust thread for
//! `python -m feeds`, its metrics read back, and recordings replayed through the same handler.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use feeds::fix_client::{FixClient, FixClientConfig};
use feeds::fix_feed::FixFeedConfig;
use feeds::instruments::Instruments;
use feeds::itch_feed::ItchFeed;
use feeds::itch_net::{ItchReceiver, ItchReceiverConfig, Poll, Rerequests};
use feeds::metrics::{FeedMetrics, FeedReport, Timed};
use feeds::outputs::FeedOutputs;
use feeds::publish::BookPublisher;
use feeds::recording::{Pace, Pacer, Recorder, Replay};
use feeds::ws_client::{DepthClient, DepthClientConfig};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use shm_layout::SegmentOptions;

use crate::errors::IntoPyResult;
use crate::servers::socket_addr;
use crate::simulated::session_of;
use crate::worker::Worker;

/// Price levels a feed keeps per side: far more than it publishes, so a level that comes back
/// to the top after the ones above it go is known.
const BOOK_LEVELS: usize = 4096;

/// Live orders a stock's book has room for before its table grows: a few thousand rest at
/// once on a simulated stock, and a table that fits the cache beats one sized for the worst day
/// (the live worker's `orders_per_book` defaults to the same).
const ORDERS_PER_BOOK: usize = 4096;

fn instruments(pairs: Vec<(String, u32)>) -> PyResult<Instruments> {
    Instruments::new(pairs).map_err(PyValueError::new_err)
}

/// Each symbol with its instrument id; a symbol without one is a bad configuration.
fn with_ids(symbols: Vec<String>, table: &Instruments) -> PyResult<Vec<(String, u32)>> {
    symbols
        .into_iter()
        .map(|symbol| match table.id(&symbol) {
            Some(id) => Ok((symbol, id)),
            None => Err(PyValueError::new_err(format!("symbol {symbol:?} has no instrument id"))),
        })
        .collect()
}

fn poll(name: &str) -> PyResult<Poll> {
    match name {
        "block" => Ok(Poll::Block { timeout: Duration::from_millis(10) }),
        "spin" => Ok(Poll::Spin),
        other => Err(PyValueError::new_err(format!("poll must be 'block' or 'spin', not {other:?}"))),
    }
}

/// Everything venue A's feed loop owns.
struct ItchParts {
    receiver: ItchReceiver,
    rerequests: Rerequests,
    feed: ItchFeed,
    publisher: BookPublisher,
    metrics: FeedMetrics,
    recorder: Option<Recorder>,
}

fn run_itch(parts: ItchParts, stop: &std::sync::atomic::AtomicBool) -> Result<(), String> {
    let ItchParts { mut receiver, rerequests, mut feed, publisher, metrics, mut recorder } = parts;
    let mut sink = Timed::new(publisher, &metrics);
    receiver
        .run(&rerequests, &mut feed, &mut sink, &metrics, recorder.as_mut(), stop)
        .map_err(|e| e.to_string())?;
    recorder.map_or(Ok(()), Recorder::finish).map_err(|e| format!("venue A feed: finish the recording: {e}"))
}

/// Venue A's feed: MoldUDP64 from a UDP socket through the order-level books into the
/// segments `{prefix}.events`, `{prefix}.books` and `{prefix}.metrics`.
#[pyclass(module = "tickrail._native", name = "ItchFeedWorker")]
pub(crate) struct PyItchFeedWorker {
    outputs: FeedOutputs,
    listen: String,
    worker: Worker<ItchParts, ()>,
}

#[pymethods]
impl PyItchFeedWorker {
    /// Creates the segments and binds the socket; `start` runs the loop.
    #[new]
    #[pyo3(signature = (prefix, listen, rerequest, instruments, *, session_name="TICKRAIL01", interface="127.0.0.1",
        poll="block", retry_ms=20, record=None, replace_stale=false, max_pending=4096, orders_per_book=4096))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn new(
        prefix: &str,
        listen: &str,
        rerequest: &str,
        instruments: Vec<(String, u32)>,
        session_name: &str,
        interface: &str,
        poll: &str,
        retry_ms: u64,
        record: Option<PathBuf>,
        replace_stale: bool,
        max_pending: usize,
        orders_per_book: usize,
    ) -> PyResult<Self> {
        let interface: Ipv4Addr = interface.parse().map_err(|e| {
            PyValueError::new_err(format!("interface {interface:?} is not an IPv4 address: {e}"))
        })?;
        let config =
            ItchReceiverConfig { listen: socket_addr("listen", listen)?, interface, poll: self::poll(poll)? };
        let rerequests = Rerequests {
            server: socket_addr("rerequest", rerequest)?,
            retry_after: Duration::from_millis(retry_ms),
        };
        let outputs = FeedOutputs::named(prefix);
        let feed = ItchFeed::new(session_of(session_name)?, max_pending, orders_per_book, BOOK_LEVELS)
            .with_instruments(self::instruments(instruments)?);
        let receiver = ItchReceiver::bind(config).map_err(|e| PyOSError::new_err(e.to_string()))?;
        let listen = receiver.local_addr().map_err(|e| PyOSError::new_err(e.to_string()))?.to_string();
        let recorder = record
            .map(|path| {
                Recorder::create(&path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))
            })
            .transpose()?;
        let options = SegmentOptions { replace_stale, ..SegmentOptions::default() };
        let (publisher, metrics) = outputs.create(&options).py()?;
        let parts = ItchParts { receiver, rerequests, feed, publisher, metrics, recorder };
        Ok(Self { outputs, listen, worker: Worker::Ready(parts) })
    }

    /// The bound market-data address, `"host:port"`.
    #[getter]
    fn listen(&self) -> String {
        self.listen.clone()
    }

    /// The segment names: `(events, books, metrics)`.
    #[getter]
    fn segments(&self) -> (String, String, String) {
        (self.outputs.events.clone(), self.outputs.books.clone(), self.outputs.metrics.clone())
    }

    /// Runs the feed on a Rust thread until `stop`.
    fn start(&mut self) -> PyResult<()> {
        self.worker.start("feed-a", run_itch)
    }

    /// Whether the loop is running (false after `stop`, or if it failed).
    #[getter]
    fn running(&self) -> bool {
        self.worker.is_running()
    }

    /// Stops the loop (and finishes the recording).
    fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
        self.worker.stop(py)
    }

    /// Unlinks the feed's segments.
    fn unlink(&self) {
        self.outputs.unlink();
    }
}

/// Everything venue C's feed loop owns.
struct DepthParts {
    client: DepthClient,
    publisher: BookPublisher,
    metrics: FeedMetrics,
}

fn run_depth(parts: DepthParts, stop: &std::sync::atomic::AtomicBool) -> Result<(), String> {
    let DepthParts { mut client, publisher, metrics } = parts;
    let mut sink = Timed::new(publisher, &metrics);
    client.run(&mut sink, Some(&metrics), stop).map(drop).map_err(|e| e.to_string())
}

/// Venue C's feed: JSON depth over WebSocket, a price-level book per symbol, into the segments
/// `{prefix}.events`, `{prefix}.books` and `{prefix}.metrics`. `symbols` are the venue's
/// symbols to follow; each is published under its id in `instruments`.
#[pyclass(module = "tickrail._native", name = "DepthFeedWorker")]
pub(crate) struct PyDepthFeedWorker {
    outputs: FeedOutputs,
    worker: Worker<DepthParts, ()>,
}

#[pymethods]
impl PyDepthFeedWorker {
    /// Creates the segments; `start` connects and runs the loop.
    #[new]
    #[pyo3(signature = (prefix, venue, symbols, instruments, *, replace_stale=false))]
    fn new(
        prefix: &str,
        venue: &str,
        symbols: Vec<String>,
        instruments: Vec<(String, u32)>,
        replace_stale: bool,
    ) -> PyResult<Self> {
        let symbols = with_ids(symbols, &self::instruments(instruments)?)?;
        let client = DepthClient::new(DepthClientConfig::new(socket_addr("venue", venue)?, symbols));
        let outputs = FeedOutputs::named(prefix);
        let options = SegmentOptions { replace_stale, ..SegmentOptions::default() };
        let (publisher, metrics) = outputs.create(&options).py()?;
        Ok(Self { outputs, worker: Worker::Ready(DepthParts { client, publisher, metrics }) })
    }

    /// The segment names: `(events, books, metrics)`.
    #[getter]
    fn segments(&self) -> (String, String, String) {
        (self.outputs.events.clone(), self.outputs.books.clone(), self.outputs.metrics.clone())
    }

    /// Runs the feed on a Rust thread until `stop`.
    fn start(&mut self) -> PyResult<()> {
        self.worker.start("feed-c", run_depth)
    }

    /// Whether the loop is running (false after `stop`, or if the venue refused us).
    #[getter]
    fn running(&self) -> bool {
        self.worker.is_running()
    }

    /// Stops the loop.
    fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
        self.worker.stop(py)
    }

    /// Unlinks the feed's segments.
    fn unlink(&self) {
        self.outputs.unlink();
    }
}

/// Everything venue B's feed loop owns.
struct FixParts {
    client: FixClient,
    publisher: BookPublisher,
    metrics: FeedMetrics,
}

fn run_fix(parts: FixParts, stop: &std::sync::atomic::AtomicBool) -> Result<(), String> {
    let FixParts { mut client, publisher, metrics } = parts;
    let mut sink = Timed::new(publisher, &metrics);
    client.run(&mut sink, Some(&metrics), stop);
    Ok(())
}

/// Venue B's feed: FIX 4.4 market data over TCP, a price-level book per symbol, into the
/// segments `{prefix}.events`, `{prefix}.books` and `{prefix}.metrics`.
#[pyclass(module = "tickrail._native", name = "FixFeedWorker")]
pub(crate) struct PyFixFeedWorker {
    outputs: FeedOutputs,
    worker: Worker<FixParts, ()>,
}

#[pymethods]
impl PyFixFeedWorker {
    /// Creates the segments; `start` connects, logs on and subscribes to `symbols`.
    #[new]
    #[pyo3(signature = (prefix, venue, symbols, instruments, *, sender_comp_id="TICKRAIL", target_comp_id="VENUEB",
        heartbeat_s=1, replace_stale=false))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn new(
        prefix: &str,
        venue: &str,
        symbols: Vec<String>,
        instruments: Vec<(String, u32)>,
        sender_comp_id: &str,
        target_comp_id: &str,
        heartbeat_s: u32,
        replace_stale: bool,
    ) -> PyResult<Self> {
        let feed = FixFeedConfig {
            sender_comp_id: sender_comp_id.to_owned(),
            target_comp_id: target_comp_id.to_owned(),
            heartbeat_interval_s: heartbeat_s,
            symbols: with_ids(symbols, &self::instruments(instruments)?)?,
            depth: BOOK_LEVELS,
        };
        let client = FixClient::new(FixClientConfig::new(socket_addr("venue", venue)?, feed));
        let outputs = FeedOutputs::named(prefix);
        let options = SegmentOptions { replace_stale, ..SegmentOptions::default() };
        let (publisher, metrics) = outputs.create(&options).py()?;
        Ok(Self { outputs, worker: Worker::Ready(FixParts { client, publisher, metrics }) })
    }

    /// The segment names: `(events, books, metrics)`.
    #[getter]
    fn segments(&self) -> (String, String, String) {
        (self.outputs.events.clone(), self.outputs.books.clone(), self.outputs.metrics.clone())
    }

    /// Runs the feed on a Rust thread until `stop`.
    fn start(&mut self) -> PyResult<()> {
        self.worker.start("feed-b", run_fix)
    }

    /// Whether the loop is running.
    #[getter]
    fn running(&self) -> bool {
        self.worker.is_running()
    }

    /// Stops the loop (logging out).
    fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
        self.worker.stop(py)
    }

    /// Unlinks the feed's segments.
    fn unlink(&self) {
        self.outputs.unlink();
    }
}

/// A feed's metrics: `{"counters": {name: value}, "latency_ns": {"count", "mean", "p50", "p99",
/// "p999", "max"}}`.
#[pyfunction]
fn feed_report<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let report = py.detach(|| FeedReport::read(name)).py()?;
    let counters = PyDict::new(py);
    for (counter, value) in &report.counters {
        counters.set_item(counter.name(), value)?;
    }
    let latency = PyDict::new(py);
    latency.set_item("count", report.latency.count)?;
    latency.set_item("mean", report.latency.mean())?;
    for (key, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        latency.set_item(key, report.latency.quantile(q))?;
    }
    latency.set_item("max", report.latency.max)?;
    let out = PyDict::new(py);
    out.set_item("counters", counters)?;
    out.set_item("latency_ns", latency)?;
    Ok(out)
}

/// Replays a venue A recording through a fresh feed into the segments under `prefix`, at the
/// recorded pace times `speed` or (`speed=None`) as fast as possible, the frames read into
/// memory first. Returns `{"frames", "messages", "seconds", "next_sequence"}`.
#[pyfunction]
#[pyo3(signature = (path, prefix, instruments, *, session_name="TICKRAIL01", speed=None, replace_stale=false))]
fn replay_itch<'py>(
    py: Python<'py>,
    path: PathBuf,
    prefix: &str,
    instruments: Vec<(String, u32)>,
    session_name: &str,
    speed: Option<f64>,
    replace_stale: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let outputs = FeedOutputs::named(prefix);
    let mut feed = ItchFeed::new(session_of(session_name)?, 1 << 16, ORDERS_PER_BOOK, BOOK_LEVELS)
        .with_instruments(self::instruments(instruments)?);
    let frames = Replay::open(&path)
        .and_then(|mut replay| replay.read_all())
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
    let options = SegmentOptions { replace_stale, ..SegmentOptions::default() };
    let (mut publisher, _metrics) = outputs.create(&options).py()?;
    let mut pacer = Pacer::new(speed.map_or(Pace::AsFastAsPossible, |speed| Pace::Recorded { speed }));
    let seconds = py.detach(|| {
        let started = Instant::now();
        for frame in &frames {
            pacer.wait(frame.receive_ts_ns);
            feed.on_packet(&frame.bytes, frame.receive_ts_ns, &mut publisher);
        }
        started.elapsed().as_secs_f64()
    });
    let out = PyDict::new(py);
    out.set_item("frames", frames.len())?;
    out.set_item("messages", feed.counters().messages)?;
    out.set_item("seconds", seconds)?;
    out.set_item("next_sequence", feed.next_sequence())?;
    Ok(out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyItchFeedWorker>()?;
    m.add_class::<PyDepthFeedWorker>()?;
    m.add_class::<PyFixFeedWorker>()?;
    m.add_function(wrap_pyfunction!(feed_report, m)?)?;
    m.add_function(wrap_pyfunction!(replay_itch, m)?)?;
    Ok(())
}
