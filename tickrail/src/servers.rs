//! The simulated venues on their sockets, run on a Rust thread for `python -m venues`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use venues::faults::FaultPlan;
use venues::itch_server::{ItchServer, ItchServerConfig, ServerError, ServerStats};
use venues::matching::Side;
use venues::ouch_server::OuchServerConfig;

use crate::simulated::{market_spec, session_of, venue_spec, SymbolTuple};
use crate::worker::Worker;

/// Parses `addr` (`"host:port"`), naming the `what` it is for when it does not parse.
pub(crate) fn socket_addr(what: &str, addr: &str) -> PyResult<SocketAddr> {
    addr.parse().map_err(|e| PyValueError::new_err(format!("{what} {addr:?} is not an address: {e}")))
}

/// The faults a venue injects, checked.
pub(crate) fn fault_plan(drop: f64, duplicate: f64, reorder: f64, seed: u64) -> PyResult<FaultPlan> {
    let plan = FaultPlan { drop, duplicate, reorder, seed };
    plan.validate().map_err(PyValueError::new_err)?;
    Ok(plan)
}

fn server_error(err: ServerError) -> PyErr {
    match err {
        ServerError::Config(_) => PyValueError::new_err(err.to_string()),
        ServerError::Io { .. } | ServerError::OrderEntry(_) => PyOSError::new_err(err.to_string()),
    }
}

/// A symbol's levels at the close: `(name, bids, asks)`, best first, `(price in 1/10,000,
/// quantity)`.
type ClosingBook = (String, Vec<(i64, u64)>, Vec<(i64, u64)>);

/// What a venue did, and its books when it closed.
struct Closed {
    stats: ServerStats,
    books: Vec<ClosingBook>,
}

/// Venue A on its sockets: ITCH 5.0 in MoldUDP64 over UDP to `destination`, paced by the
/// wall clock, and its re-request server.
#[pyclass(module = "tickrail._native", name = "ItchVenueServer")]
pub(crate) struct PyItchVenueServer {
    destination: SocketAddr,
    rerequest: SocketAddr,
    order_entry: Option<SocketAddr>,
    linger: Duration,
    worker: Worker<ItchServer, Closed>,
}

#[pymethods]
impl PyItchVenueServer {
    /// Binds the venue's sockets; `start` runs it.
    #[new]
    #[pyo3(signature = (seed, symbols, destination, *, rerequest="127.0.0.1:0", session_name="TICKRAIL01",
        rate_per_s=20_000.0, venue=1, lag_ns=0, noise=0.5, cancel_share=0.3, marketable_share=0.1,
        bursts_per_s=0.2, burst_ns=200_000_000, burst_factor=3.0, heartbeat_ms=1000, drop=0.0, duplicate=0.0,
        reorder=0.0, fault_seed=0, blackouts=Vec::new(), linger_ms=1000, order_entry=None, users=Vec::new()))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn new(
        seed: u64,
        symbols: Vec<SymbolTuple>,
        destination: &str,
        rerequest: &str,
        session_name: &str,
        rate_per_s: f64,
        venue: u64,
        lag_ns: u64,
        noise: f64,
        cancel_share: f64,
        marketable_share: f64,
        bursts_per_s: f64,
        burst_ns: u64,
        burst_factor: f64,
        heartbeat_ms: u64,
        drop: f64,
        duplicate: f64,
        reorder: f64,
        fault_seed: u64,
        blackouts: Vec<(u64, u64)>,
        linger_ms: u64,
        order_entry: Option<&str>,
        users: Vec<(String, String)>,
    ) -> PyResult<Self> {
        let order_entry = order_entry
            .map(|addr| -> PyResult<OuchServerConfig> {
                let pairs: Vec<(&str, &str)> = users.iter().map(|(u, p)| (u.as_str(), p.as_str())).collect();
                let mut config = OuchServerConfig::loopback(session_name, &pairs);
                config.addr = socket_addr("order_entry", addr)?;
                Ok(config)
            })
            .transpose()?;
        let config = ItchServerConfig {
            market: market_spec(seed, symbols, bursts_per_s, burst_ns, burst_factor)?,
            venue: venue_spec(venue, rate_per_s, lag_ns, noise, cancel_share, marketable_share)?,
            session: session_of(session_name)?,
            destination: socket_addr("destination", destination)?,
            rerequest: socket_addr("rerequest", rerequest)?,
            heartbeat_interval: Duration::from_millis(heartbeat_ms),
            faults: fault_plan(drop, duplicate, reorder, fault_seed)?,
            blackouts: blackouts
                .into_iter()
                .map(|(start, length)| (Duration::from_millis(start), Duration::from_millis(length)))
                .collect(),
            order_entry,
        };
        let server = ItchServer::bind(config).map_err(server_error)?;
        let rerequest = server.rerequest_addr().map_err(|e| PyOSError::new_err(e.to_string()))?;
        let order_entry =
            server.order_entry_addr().transpose().map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(Self {
            destination: server.destination(),
            rerequest,
            order_entry,
            linger: Duration::from_millis(linger_ms),
            worker: Worker::Ready(server),
        })
    }

    /// Where market data goes, `"host:port"`.
    #[getter]
    fn destination(&self) -> String {
        self.destination.to_string()
    }

    /// Where the re-request server listens, `"host:port"`.
    #[getter]
    fn rerequest_addr(&self) -> String {
        self.rerequest.to_string()
    }

    /// Where the OUCH order-entry server listens, `"host:port"`, if the venue takes orders.
    #[getter]
    fn order_entry_addr(&self) -> Option<String> {
        self.order_entry.map(|a| a.to_string())
    }

    /// Opens the session and trades on a Rust thread until `stop`, then serves re-requests
    /// for `linger_ms` more so feeds can fill the session's tail.
    fn start(&mut self) -> PyResult<()> {
        let linger = self.linger;
        self.worker.start("venue-a", move |mut server, stop| {
            let stats = server.run(stop).map_err(|e| e.to_string())?;
            let never = std::sync::atomic::AtomicBool::new(false);
            server.serve_until(&never, Some(Instant::now() + linger)).map_err(|e| e.to_string())?;
            let venue = server.venue();
            let books = (0..venue.symbol_count())
                .map(|i| {
                    let engine = venue.engine(i);
                    (venue.symbols()[i].name.clone(), engine.levels(Side::Buy), engine.levels(Side::Sell))
                })
                .collect();
            Ok(Closed { stats, books })
        })
    }

    /// Whether the venue is running (false after `stop`, or if it failed).
    #[getter]
    fn running(&self) -> bool {
        self.worker.is_running()
    }

    /// Closes the session, lingers, and returns what the venue did, with `"books"`: each
    /// symbol's `(name, bids, asks)` at the close, best first, `(price in 1/10,000, quantity)`.
    fn stop<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let Closed { stats, books } = self.worker.stop(py)?;
        let dict = PyDict::new(py);
        dict.set_item("books", books)?;
        dict.set_item("packets_sent", stats.packets_sent)?;
        dict.set_item("messages", stats.messages)?;
        dict.set_item("rerequests", stats.rerequests)?;
        dict.set_item("bad_rerequests", stats.bad_rerequests)?;
        dict.set_item("blacked_out", stats.blacked_out)?;
        dict.set_item("dropped", stats.faults.dropped)?;
        dict.set_item("duplicated", stats.faults.duplicated)?;
        dict.set_item("reordered", stats.faults.reordered)?;
        dict.set_item("order_entry_logins", stats.order_entry.logins)?;
        dict.set_item("order_entry_messages_in", stats.order_entry.messages_in)?;
        Ok(dict)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyItchVenueServer>()?;
    Ok(())
}
