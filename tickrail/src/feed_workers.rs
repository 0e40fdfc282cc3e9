//! The feed processes' Rust side: each venue's feed on its socket, run on a Rust thread for
//! `python -m feeds`, publishing into its segments, keeping its metrics and, if asked,
//! recording what it receives.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use feeds::fix_client::{FixClient, FixClientConfig};
use feeds::fix_feed::FixFeedConfig;
use feeds::instruments::Instruments;
use feeds::itch_feed::ItchFeed;
use feeds::itch_net::{ItchReceiver, ItchReceiverConfig, Poll, Rerequests};
use feeds::metrics::{FeedMetrics, Timed};
use feeds::outputs::FeedOutputs;
use feeds::publish::BookPublisher;
use feeds::recording::Recorder;
use feeds::taps::Taps;
use feeds::ws_client::{DepthClient, DepthClientConfig};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use shm_layout::SegmentOptions;

use crate::errors::IntoPyResult;
use crate::servers::socket_addr;
use crate::simulated::session_of;
use crate::worker::Worker;

/// Price levels a feed keeps per side: far more than it publishes, so a level that comes back
/// to the top after the ones above it go is known.
pub(crate) const BOOK_LEVELS: usize = 4096;

/// Live orders a stock's book has room for before its table grows: a few thousand rest at
/// once on a simulated stock, and a table that fits the cache beats one sized for the worst day
/// (the live worker's `orders_per_book` defaults to the same).
pub(crate) const ORDERS_PER_BOOK: usize = 4096;

/// Early packets a venue A feed keeps while a gap is open (the live worker's `max_pending`
/// defaults to the same, so a replay keeps what the live run kept).
pub(crate) const MAX_PENDING: usize = 4096;

/// The firm's instrument table from Python's `(symbol, id)` pairs.
pub(crate) fn instruments(pairs: Vec<(String, u32)>) -> PyResult<Instruments> {
    Instruments::new(pairs).map_err(PyValueError::new_err)
}

/// Each symbol with its instrument id; a symbol without one is a bad configuration.
pub(crate) fn with_ids(symbols: Vec<String>, table: &Instruments) -> PyResult<Vec<(String, u32)>> {
    symbols
        .into_iter()
        .map(|symbol| match table.id(&symbol) {
            Some(id) => Ok((symbol, id)),
            None => Err(PyValueError::new_err(format!("symbol {symbol:?} has no instrument id"))),
        })
        .collect()
}

/// Venue B's feed configuration: our CompID, the venue's, and the symbols with their ids.
pub(crate) fn fix_feed_config(
    sender_comp_id: &str,
    target_comp_id: &str,
    heartbeat_s: u32,
    symbols: Vec<(String, u32)>,
) -> FixFeedConfig {
    FixFeedConfig {
        sender_comp_id: sender_comp_id.to_owned(),
        target_comp_id: target_comp_id.to_owned(),
        heartbeat_interval_s: heartbeat_s,
        symbols,
        depth: BOOK_LEVELS,
    }
}

fn poll(name: &str) -> PyResult<Poll> {
    match name {
        "block" => Ok(Poll::Block { timeout: Duration::from_millis(10) }),
        "spin" => Ok(Poll::Spin),
        other => Err(PyValueError::new_err(format!("poll must be 'block' or 'spin', not {other:?}"))),
    }
}

/// What every feed loop writes to: its segments, its metrics, and an optional recording.
struct Outputs {
    publisher: BookPublisher,
    metrics: FeedMetrics,
    recorder: Option<Recorder>,
}

impl Outputs {
    /// Creates the segments under `outputs`' names (or, with `attach`, attaches to the ones a
    /// supervisor created) and the recording at `record`, if any.
    fn open(
        outputs: &FeedOutputs,
        record: Option<&Path>,
        replace_stale: bool,
        attach: bool,
    ) -> PyResult<Self> {
        if attach && replace_stale {
            return Err(PyValueError::new_err("attach and replace_stale exclude each other"));
        }
        let recorder = record
            .map(|path| {
                Recorder::create(path).map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))
            })
            .transpose()?;
        let (publisher, metrics) = if attach {
            outputs.attach().py()?
        } else {
            outputs.create(&SegmentOptions { replace_stale, ..SegmentOptions::default() }).py()?
        };
        Ok(Self { publisher, metrics, recorder })
    }

    /// Runs `feed` with a timed sink into the segments and taps into the metrics and the
    /// recording; then finishes the recording, reporting a recording that failed.
    fn run(
        self,
        venue: &str,
        feed: impl FnOnce(&mut Timed<'_, BookPublisher>, &mut Taps<'_>) -> Result<(), String>,
    ) -> Result<(), String> {
        let Outputs { publisher, metrics, mut recorder } = self;
        let mut sink = Timed::new(publisher, &metrics);
        let mut taps = Taps::new(venue, Some(&metrics), recorder.as_mut());
        let ran = feed(&mut sink, &mut taps);
        let stopped_recording = taps.take_recording_error();
        // The recording is finished whatever ended the loop: what it holds is what came.
        let finished = recorder.map_or(Ok(()), Recorder::finish);
        ran?;
        if let Some(error) = stopped_recording {
            return Err(format!("venue {venue} feed: recording stopped: {error}"));
        }
        finished.map_err(|e| format!("venue {venue} feed: finish the recording: {e}"))
    }
}

/// Venue A's loop.
struct ItchLoop {
    receiver: ItchReceiver,
    rerequests: Rerequests,
    feed: ItchFeed,
    outputs: Outputs,
}

/// Venue B's loop.
struct FixLoop {
    client: FixClient,
    outputs: Outputs,
}

/// Venue C's loop.
struct DepthLoop {
    client: DepthClient,
    outputs: Outputs,
}

/// One venue's feed loop, ready to run (boxed: built once, moved to its thread).
enum FeedLoop {
    Itch(Box<ItchLoop>),
    Fix(Box<FixLoop>),
    Depth(Box<DepthLoop>),
}

impl FeedLoop {
    fn run(self, stop: &AtomicBool) -> Result<(), String> {
        match self {
            FeedLoop::Itch(itch) => {
                let ItchLoop { mut receiver, rerequests, mut feed, outputs } = *itch;
                outputs.run("A", |sink, taps| {
                    let ran = receiver.run(&rerequests, &mut feed, sink, taps, stop);
                    taps.log_pending(feed.refusals());
                    ran.map_err(|e| e.to_string())
                })
            }
            FeedLoop::Fix(fix) => {
                let FixLoop { mut client, outputs } = *fix;
                outputs.run("B", |sink, taps| {
                    client.run(sink, taps, stop);
                    taps.log_pending(client.feed().refusals());
                    Ok(())
                })
            }
            FeedLoop::Depth(depth) => {
                let DepthLoop { mut client, outputs } = *depth;
                outputs
                    .run("C", |sink, taps| client.run(sink, taps, stop).map(drop).map_err(|e| e.to_string()))
            }
        }
    }
}

/// A venue's feed: its loop on a Rust thread, writing the segments `{prefix}.events`,
/// `{prefix}.books` (the top `levels` levels a side, 1 to 10) and `{prefix}.metrics`. Built by
/// `itch`, `fix` or `depth`.
#[pyclass(module = "tickrail._native", name = "FeedWorker")]
pub(crate) struct PyFeedWorker {
    outputs: FeedOutputs,
    address: String,
    worker: Worker<FeedLoop, ()>,
}

impl PyFeedWorker {
    fn ready(outputs: FeedOutputs, address: String, feed: FeedLoop) -> Self {
        Self { outputs, address, worker: Worker::Ready(feed) }
    }
}

#[pymethods]
impl PyFeedWorker {
    /// Venue A's feed: MoldUDP64 from a UDP socket (`listen`: unicast, or a multicast group)
    /// through order-level books; gaps re-requested from `rerequest`.
    #[staticmethod]
    #[pyo3(signature = (prefix, listen, rerequest, instruments, *, session_name="TICKRAIL01", interface="127.0.0.1",
        poll="block", retry_ms=20, record=None, replace_stale=false, attach=false, max_pending=4096, orders_per_book=4096, levels=10))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn itch(
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
        attach: bool,
        max_pending: usize,
        orders_per_book: usize,
        levels: usize,
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
        let feed = ItchFeed::new(session_of(session_name)?, max_pending, orders_per_book, BOOK_LEVELS)
            .with_instruments(self::instruments(instruments)?);
        let receiver = ItchReceiver::bind(config).map_err(|e| PyOSError::new_err(e.to_string()))?;
        let address = receiver.local_addr().map_err(|e| PyOSError::new_err(e.to_string()))?.to_string();
        let names = FeedOutputs { levels, ..FeedOutputs::named(prefix) };
        let outputs = Outputs::open(&names, record.as_deref(), replace_stale, attach)?;
        Ok(Self::ready(
            names,
            address,
            FeedLoop::Itch(Box::new(ItchLoop { receiver, rerequests, feed, outputs })),
        ))
    }

    /// Venue B's feed: FIX 4.4 market data over TCP from `venue`, a price-level book per
    /// symbol in `symbols`, published under its id in `instruments`.
    #[staticmethod]
    #[pyo3(signature = (prefix, venue, symbols, instruments, *, sender_comp_id="TICKRAIL", target_comp_id="VENUEB",
        heartbeat_s=1, record=None, replace_stale=false, attach=false, levels=10))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn fix(
        prefix: &str,
        venue: &str,
        symbols: Vec<String>,
        instruments: Vec<(String, u32)>,
        sender_comp_id: &str,
        target_comp_id: &str,
        heartbeat_s: u32,
        record: Option<PathBuf>,
        replace_stale: bool,
        attach: bool,
        levels: usize,
    ) -> PyResult<Self> {
        let symbols = with_ids(symbols, &self::instruments(instruments)?)?;
        let config = fix_feed_config(sender_comp_id, target_comp_id, heartbeat_s, symbols);
        let client = FixClient::new(FixClientConfig::new(socket_addr("venue", venue)?, config));
        let names = FeedOutputs { levels, ..FeedOutputs::named(prefix) };
        let outputs = Outputs::open(&names, record.as_deref(), replace_stale, attach)?;
        Ok(Self::ready(names, venue.to_owned(), FeedLoop::Fix(Box::new(FixLoop { client, outputs }))))
    }

    /// Venue C's feed: JSON depth over WebSocket from `venue`, a price-level book per symbol in
    /// `symbols`, published under its id in `instruments`.
    #[staticmethod]
    #[pyo3(signature = (prefix, venue, symbols, instruments, *, record=None, replace_stale=false, attach=false, levels=10))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn depth(
        prefix: &str,
        venue: &str,
        symbols: Vec<String>,
        instruments: Vec<(String, u32)>,
        record: Option<PathBuf>,
        replace_stale: bool,
        attach: bool,
        levels: usize,
    ) -> PyResult<Self> {
        let symbols = with_ids(symbols, &self::instruments(instruments)?)?;
        let client = DepthClient::new(DepthClientConfig::new(socket_addr("venue", venue)?, symbols));
        let names = FeedOutputs { levels, ..FeedOutputs::named(prefix) };
        let outputs = Outputs::open(&names, record.as_deref(), replace_stale, attach)?;
        Ok(Self::ready(names, venue.to_owned(), FeedLoop::Depth(Box::new(DepthLoop { client, outputs }))))
    }

    /// Where the feed listens (venue A) or connects (venues B and C), `"host:port"`.
    #[getter]
    fn address(&self) -> String {
        self.address.clone()
    }

    /// The segment names: `(events, books, metrics)`.
    #[getter]
    fn segments(&self) -> (String, String, String) {
        (self.outputs.events.clone(), self.outputs.books.clone(), self.outputs.metrics.clone())
    }

    /// Runs the feed on a Rust thread until `stop`.
    fn start(&mut self) -> PyResult<()> {
        self.worker.start("feed", FeedLoop::run)
    }

    /// Whether the loop is running (false after `stop`, or if it failed).
    #[getter]
    fn running(&self) -> bool {
        self.worker.is_running()
    }

    /// Stops the loop and finishes the recording; a loop or a recording that failed raises
    /// `RuntimeError` naming what went wrong.
    fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
        self.worker.stop(py)
    }

    /// Unlinks the feed's segments.
    fn unlink(&self) {
        self.outputs.unlink();
    }
}

/// Creates a feed's three segments under `prefix` (`{prefix}.events`, `.books`, `.metrics`)
/// with `ring_capacity` events in its ring, for a supervisor that owns them and starts the feed
/// with `attach=True`; returns their names.
#[pyfunction]
#[pyo3(name = "create_feed_segments", signature = (prefix, *, ring_capacity=65536, replace_stale=false))]
fn py_create_feed_segments(
    prefix: &str,
    ring_capacity: u64,
    replace_stale: bool,
) -> PyResult<(String, String, String)> {
    let outputs = FeedOutputs { ring_capacity, ..FeedOutputs::named(prefix) };
    drop(outputs.create(&SegmentOptions { replace_stale, ..SegmentOptions::default() }).py()?);
    let FeedOutputs { events, books, metrics, .. } = outputs;
    Ok((events, books, metrics))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFeedWorker>()?;
    m.add_function(wrap_pyfunction!(py_create_feed_segments, m)?)?;
    Ok(())
}
