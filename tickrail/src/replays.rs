//! Reading a feed's metrics back, and replaying a feed's recording through a fresh handler of
//! the same kind into fresh segments.

use std::path::PathBuf;
use std::time::Instant;

use feeds::fix_client::{FixClient, FixClientConfig};
use feeds::itch_feed::ItchFeed;
use feeds::metrics::{Counter, FeedReport};
use feeds::outputs::FeedOutputs;
use feeds::publish::BookPublisher;
use feeds::recording::{Frame, Frames, Pace, Pacer, Replay};
use feeds::ws_client::{DepthClient, DepthClientConfig};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use shm_layout::SegmentOptions;

use crate::errors::IntoPyResult;
use crate::feed_workers::{
    fix_feed_config, instruments, with_ids, BOOK_LEVELS, MAX_PENDING, ORDERS_PER_BOOK,
};
use crate::simulated::session_of;

/// The bounds of the cumulative latency buckets a feed report gives (Prometheus' `le`): 1, 2
/// and 5 times each power of ten from 1 us to 100 ms, in nanoseconds.
const LATENCY_BOUNDS_NS: [u64; 16] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
];

/// A feed's metrics: `{"counters": {name: value}, "latency_ns": {"count", "mean", "p50", "p99",
/// "p999", "max", "sum", "buckets": [(bound, values at most bound), ...]}}`.
#[pyfunction]
fn feed_report<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
    let report = py.detach(|| FeedReport::read(name)).py()?;
    let counters = PyDict::new(py);
    for (counter, value) in &report.counters {
        counters.set_item(counter.name(), value)?;
    }
    let latency = PyDict::new(py);
    // Counted from the buckets, so the cumulative buckets never exceed it in one snapshot.
    latency.set_item("count", report.latency.buckets.iter().sum::<u64>())?;
    latency.set_item("mean", report.latency.mean())?;
    for (key, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999)] {
        latency.set_item(key, report.latency.quantile(q))?;
    }
    latency.set_item("max", report.latency.max)?;
    latency.set_item("sum", report.latency.sum)?;
    let buckets: Vec<(u64, u64)> =
        LATENCY_BOUNDS_NS.iter().map(|&bound| (bound, report.latency.count_at_most(bound))).collect();
    latency.set_item("buckets", buckets)?;
    let out = PyDict::new(py);
    out.set_item("counters", counters)?;
    out.set_item("latency_ns", latency)?;
    Ok(out)
}

/// A fresh handler of one venue's kind, fed recorded frames.
enum Handler {
    Itch(ItchFeed),
    Fix(Box<FixClient>),
    Depth(DepthClient),
}

impl Handler {
    /// Applies one frame; a malformed one is counted by the handler, as live.
    fn apply(&mut self, frame: &Frame, sink: &mut BookPublisher) {
        match self {
            Handler::Itch(feed) => {
                feed.on_packet(&frame.bytes, frame.receive_ts_ns, sink);
            }
            // A frame the session cannot take ends the live session; the replay carries on, as
            // the live feed did after reconnecting (the recording marks that connection).
            Handler::Fix(client) => drop(client.replay_frame(frame, sink)),
            Handler::Depth(client) => drop(client.replay_frame(frame, sink)),
        }
    }

    /// Book messages applied.
    fn messages(&self) -> u64 {
        match self {
            Handler::Itch(feed) => feed.counters().messages,
            Handler::Fix(client) => {
                let counters = client.feed().counters();
                counters.snapshots + counters.refreshes
            }
            Handler::Depth(client) => client.totals_of(Counter::Messages),
        }
    }
}

/// Replays the recording at `path` of venue `venue`'s feed (`"a"`, `"b"` or `"c"`) through a
/// fresh handler into the segments under `prefix`, at the recorded pace times `speed` or
/// (`speed=None`) as fast as possible, the frames read into memory first so only the handler
/// and the publishing are timed. `symbols` are the venue's (B and C). Returns `{"frames",
/// "messages", "seconds", "cut"}` (`cut`: why the recording ended early, if it was cut short
/// mid-frame; the whole frames before the cut are replayed).
#[pyfunction]
#[pyo3(signature = (venue, path, prefix, symbols, instruments, *, session_name="TICKRAIL01",
    target_comp_id="VENUEB", speed=None, replace_stale=false))]
#[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python function")]
fn replay<'py>(
    py: Python<'py>,
    venue: &str,
    path: PathBuf,
    prefix: &str,
    symbols: Vec<String>,
    instruments: Vec<(String, u32)>,
    session_name: &str,
    target_comp_id: &str,
    speed: Option<f64>,
    replace_stale: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let table = self::instruments(instruments)?;
    // Nothing connects: the address only fills the configuration.
    let nowhere = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let mut handler = match venue {
        "a" => Handler::Itch(
            ItchFeed::new(session_of(session_name)?, MAX_PENDING, ORDERS_PER_BOOK, BOOK_LEVELS)
                .with_instruments(table),
        ),
        "b" => {
            let config = fix_feed_config("TICKRAIL", target_comp_id, 1, with_ids(symbols, &table)?);
            Handler::Fix(Box::new(FixClient::new(FixClientConfig::new(nowhere, config))))
        }
        "c" => Handler::Depth(DepthClient::new(DepthClientConfig::new(nowhere, with_ids(symbols, &table)?))),
        other => return Err(PyValueError::new_err(format!("no venue {other:?}: the venues are a, b and c"))),
    };
    let Frames { frames, cut } = Replay::open(&path)
        .and_then(|mut replay| replay.read_all())
        .map_err(|e| PyOSError::new_err(e.to_string()))?;
    let options = SegmentOptions { replace_stale, ..SegmentOptions::default() };
    let (mut publisher, _metrics) = FeedOutputs::named(prefix).create(&options).py()?;
    let mut pacer = Pacer::new(speed.map_or(Pace::AsFastAsPossible, |speed| Pace::Recorded { speed }));
    let seconds = py.detach(|| {
        let started = Instant::now();
        for frame in &frames {
            pacer.wait(frame.receive_ts_ns);
            handler.apply(frame, &mut publisher);
        }
        started.elapsed().as_secs_f64()
    });
    let out = PyDict::new(py);
    out.set_item("frames", frames.len())?;
    out.set_item("messages", handler.messages())?;
    out.set_item("seconds", seconds)?;
    out.set_item("cut", cut)?;
    Ok(out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(feed_report, m)?)?;
    m.add_function(wrap_pyfunction!(replay, m)?)?;
    Ok(())
}
