//! The simulated venues on their sockets, run on a Rust thread for `python -m venues`.
//!
//! A venue's life has three phases: it trades (its flow paced by the wall clock, client
//! orders, market data) until Python closes it; it reports its closing books; it lingers,
//! serving recovery and clients with the flow stopped, so feeds settle on those books; then it
//! stops.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use venues::faults::FaultPlan;
use venues::fix_server::{self, FixVenueConfig, FixVenueServer};
use venues::flow::SymbolSpec;
use venues::itch_server::{ItchServer, ItchServerConfig, ServerError};
use venues::matching::{Engine, OutsideLedger, Side};
use venues::ouch_server::OuchServerConfig;
use venues::venue_c_server::{self, ApiKey, JsonVenueConfig, JsonVenueServer};

use crate::flow_config::{PyFlow, PyMarket};
use crate::simulated::session_of;
use crate::worker::Worker;

/// Parses `addr` (`"host:port"`), naming the `what` it is for when it does not parse.
pub(crate) fn socket_addr(what: &str, addr: &str) -> PyResult<SocketAddr> {
    addr.parse().map_err(|e| PyValueError::new_err(format!("{what} {addr:?} is not an address: {e}")))
}

/// The drops, duplicates and reorders every venue takes from Python; each server checks the
/// plan when it binds.
fn fault_plan(drop: f64, duplicate: f64, reorder: f64, seed: u64) -> FaultPlan {
    FaultPlan { drop, duplicate, reorder, seed, ..FaultPlan::NONE }
}

fn itch_error(err: ServerError) -> PyErr {
    match err {
        ServerError::Config(_) | ServerError::Faults(_) => PyValueError::new_err(err.to_string()),
        ServerError::Io { .. } | ServerError::OrderEntry(_) => PyOSError::new_err(err.to_string()),
    }
}

fn fix_error(err: fix_server::ServerError) -> PyErr {
    match err {
        fix_server::ServerError::Faults(_) => PyValueError::new_err(err.to_string()),
        fix_server::ServerError::Io(_) => PyOSError::new_err(err.to_string()),
    }
}

fn json_venue_error(err: venue_c_server::ServerError) -> PyErr {
    match err {
        venue_c_server::ServerError::Faults(_) => PyValueError::new_err(err.to_string()),
        venue_c_server::ServerError::Bind { .. } | venue_c_server::ServerError::Accept { .. } => {
            PyOSError::new_err(err.to_string())
        }
    }
}

/// A symbol at the close: its levels, best first, `(price in 1/10,000, quantity)`, and what
/// outside clients' orders did in it.
struct ClosingBook {
    name: String,
    bids: Vec<(i64, u64)>,
    asks: Vec<(i64, u64)>,
    outside: OutsideLedger,
}

fn closing_books<'a>(symbols: &[SymbolSpec], engines: impl Iterator<Item = &'a Engine>) -> Vec<ClosingBook> {
    symbols
        .iter()
        .zip(engines)
        .map(|(symbol, engine)| ClosingBook {
            name: symbol.name.clone(),
            bids: engine.levels(Side::Buy),
            asks: engine.levels(Side::Sell),
            outside: engine.outside(),
        })
        .collect()
}

/// An outside ledger as a Python dict, by field name.
fn outside_dict<'py>(py: Python<'py>, ledger: &OutsideLedger) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("orders", ledger.orders)?;
    d.set_item("largest_quantity", ledger.largest_quantity)?;
    d.set_item("largest_notional", ledger.largest_notional)?;
    d.set_item("bought", ledger.bought)?;
    d.set_item("sold", ledger.sold)?;
    d.set_item("bought_value", ledger.bought_value)?;
    d.set_item("sold_value", ledger.sold_value)?;
    d.set_item("open_buys", ledger.open_buys)?;
    d.set_item("open_sells", ledger.open_sells)?;
    d.set_item("worst_long", ledger.worst_long)?;
    d.set_item("worst_short", ledger.worst_short)?;
    Ok(d)
}

/// What a venue server does in each phase of its life.
trait Venue: Send + 'static {
    /// Trades until `close` is set; what it did, by name.
    fn trade(&mut self, close: &AtomicBool) -> Result<Vec<(&'static str, u64)>, String>;
    /// Every symbol's book.
    fn books(&self) -> Vec<ClosingBook>;
    /// Serves with the flow stopped until `deadline`.
    fn linger(&mut self, deadline: Instant) -> Result<(), String>;
}

impl Venue for ItchServer {
    fn trade(&mut self, close: &AtomicBool) -> Result<Vec<(&'static str, u64)>, String> {
        let s = self.run(close).map_err(|e| e.to_string())?;
        Ok(vec![
            ("packets_sent", s.packets_sent),
            ("failed_sends", s.failed_sends),
            ("messages", s.messages),
            ("rerequests", s.rerequests),
            ("bad_rerequests", s.bad_rerequests),
            ("failed_rerequests", s.failed_rerequests),
            ("blacked_out", s.blacked_out),
            ("dropped", s.faults.dropped),
            ("duplicated", s.faults.duplicated),
            ("reordered", s.faults.reordered),
            ("order_entry_logins", s.order_entry.logins),
            ("order_entry_messages_in", s.order_entry.messages_in),
        ])
    }

    fn books(&self) -> Vec<ClosingBook> {
        let venue = self.venue();
        closing_books(venue.symbols(), (0..venue.symbol_count()).map(|i| venue.engine(i)))
    }

    fn linger(&mut self, deadline: Instant) -> Result<(), String> {
        self.serve_until(&AtomicBool::new(false), Some(deadline)).map_err(|e| e.to_string())
    }
}

impl Venue for JsonVenueServer {
    fn trade(&mut self, close: &AtomicBool) -> Result<Vec<(&'static str, u64)>, String> {
        let s = self.trade_until(close).map_err(|e| e.to_string())?;
        Ok(vec![
            ("market_data_clients", s.market_data_clients),
            ("order_clients", s.order_clients),
            ("flow_actions", s.flow_actions),
            ("updates_sent", s.updates_sent),
            ("dropped", s.faults.dropped),
            ("duplicated", s.faults.duplicated),
            ("reordered", s.faults.reordered),
            ("forced_disconnects", s.faults.disconnects),
            ("snapshots", s.snapshots),
            ("orders", s.orders),
            ("logons_refused", s.logons_refused),
            ("handshake_failures", s.handshake_failures),
        ])
    }

    fn books(&self) -> Vec<ClosingBook> {
        let venue = self.venue();
        closing_books(venue.symbols(), (0..venue.symbol_count()).map(|i| venue.engine(i)))
    }

    fn linger(&mut self, deadline: Instant) -> Result<(), String> {
        self.linger_until(deadline).map(drop).map_err(|e| e.to_string())
    }
}

impl Venue for FixVenueServer {
    fn trade(&mut self, close: &AtomicBool) -> Result<Vec<(&'static str, u64)>, String> {
        let s = self.trade_until(close).map_err(|e| e.to_string())?;
        Ok(vec![
            ("connections", s.connections),
            ("logons", s.logons),
            ("flow_actions", s.actions),
            ("refreshes", s.refreshes),
            ("snapshots", s.snapshots),
            ("dropped", s.faults.dropped),
            ("duplicated", s.faults.duplicated),
            ("reordered", s.faults.reordered),
            ("forced_disconnects", s.faults.disconnects),
            ("orders", s.orders),
            ("cancelled_on_disconnect", s.cancelled_on_disconnect),
            ("session_errors", s.session_errors),
        ])
    }

    fn books(&self) -> Vec<ClosingBook> {
        let venue = self.venue();
        closing_books(venue.symbols(), (0..venue.symbol_count()).map(|i| venue.engine(i)))
    }

    fn linger(&mut self, deadline: Instant) -> Result<(), String> {
        self.linger_until(deadline).map(drop).map_err(|e| e.to_string())
    }
}

/// What a venue reports when it closes: what it did, by name, and its books.
type Closing = (Vec<(&'static str, u64)>, Vec<ClosingBook>);

/// A venue on its thread: it trades until closed, reports its closing books, lingers, stops.
struct Runner<V> {
    worker: Worker<V, ()>,
    linger: Duration,
    /// The closing report, once started; a mutex only to make the handle `Sync`, as Python
    /// objects must be.
    closing: Mutex<Option<Receiver<Closing>>>,
}

impl<V: Venue> Runner<V> {
    fn new(venue: V, linger: Duration) -> Self {
        Self { worker: Worker::Ready(venue), linger, closing: Mutex::new(None) }
    }

    fn start(&mut self, name: &str) -> PyResult<()> {
        let (report, closing) = mpsc::channel();
        let linger = self.linger;
        self.worker.start(name, move |mut venue: V, close| {
            let stats = venue.trade(close)?;
            // The receiver is gone if Python stopped without closing: nobody wants the books.
            let _ = report.send((stats, venue.books()));
            venue.linger(Instant::now() + linger)
        })?;
        *self.closing.get_mut().map_err(|_| poisoned())? = Some(closing);
        Ok(())
    }

    /// Stops the flow; returns what the venue did and its books, as it starts lingering.
    fn close<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let closing = self
            .closing
            .get_mut()
            .map_err(|_| poisoned())?
            .take()
            .ok_or_else(|| PyValueError::new_err("the venue is not trading"))?;
        self.worker.signal();
        let Ok((stats, books)) = py.detach(move || closing.recv()) else {
            // The thread ended without reporting: its error says why.
            return Err(match self.worker.stop(py) {
                Err(error) => error,
                Ok(()) => PyRuntimeError::new_err("the venue's thread ended without reporting"),
            });
        };
        let dict = PyDict::new(py);
        for (name, value) in stats {
            dict.set_item(name, value)?;
        }
        let outside = PyDict::new(py);
        for book in &books {
            outside.set_item(&book.name, outside_dict(py, &book.outside)?)?;
        }
        let levels: Vec<_> = books.into_iter().map(|b| (b.name, b.bids, b.asks)).collect();
        dict.set_item("books", levels)?;
        dict.set_item("outside", outside)?;
        Ok(dict)
    }

    /// Waits for the venue to finish lingering (closing it first if it still trades).
    fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
        self.worker.signal();
        self.worker.stop(py)
    }
}

fn poisoned() -> PyErr {
    PyRuntimeError::new_err("the venue's closing report was poisoned")
}

/// The methods every venue class shares: start, running, close, stop.
macro_rules! venue_lifecycle {
    ($class:ty, $thread:literal) => {
        #[pymethods]
        impl $class {
            /// Opens the market and trades on a Rust thread until `close`.
            fn start(&mut self) -> PyResult<()> {
                self.runner.start($thread)
            }

            /// Whether the venue's thread is running (trading or lingering).
            #[getter]
            fn running(&self) -> bool {
                self.runner.worker.is_running()
            }

            /// Stops the flow and returns what the venue did, with `"books"`: each symbol's
            /// `(name, bids, asks)`, best first, `(price in 1/10,000, quantity)`. The venue
            /// then serves recovery and clients for `linger_ms`, with the flow stopped, so
            /// feeds settle on those books.
            fn close<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                self.runner.close(py)
            }

            /// Waits for the venue to finish lingering (closing it first if needed).
            fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
                self.runner.stop(py)
            }
        }
    };
}

venue_lifecycle!(PyItchVenueServer, "venue-a");
venue_lifecycle!(PyFixVenueServer, "venue-b");
venue_lifecycle!(PyJsonVenueServer, "venue-c");

/// Venue A on its sockets: ITCH 5.0 in MoldUDP64 over UDP to `destination`, paced by the
/// wall clock, its re-request server, and OUCH 4.2 order entry if `order_entry` is given.
#[pyclass(module = "tickrail._native", name = "ItchVenueServer")]
pub(crate) struct PyItchVenueServer {
    destination: SocketAddr,
    rerequest: SocketAddr,
    order_entry: Option<SocketAddr>,
    runner: Runner<ItchServer>,
}

#[pymethods]
impl PyItchVenueServer {
    /// Binds the venue's sockets; `start` runs it.
    #[new]
    #[pyo3(signature = (market, flow, destination, *, rerequest="127.0.0.1:0", session_name="TICKRAIL01",
        heartbeat_ms=1000, drop=0.0, duplicate=0.0, reorder=0.0, fault_seed=0, blackouts=Vec::new(),
        linger_ms=1000, order_entry=None, users=Vec::new()))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn new(
        market: &PyMarket,
        flow: &PyFlow,
        destination: &str,
        rerequest: &str,
        session_name: &str,
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
            market: market.spec.clone(),
            venue: flow.spec.clone(),
            session: session_of(session_name)?,
            destination: socket_addr("destination", destination)?,
            rerequest: socket_addr("rerequest", rerequest)?,
            heartbeat_interval: Duration::from_millis(heartbeat_ms),
            faults: fault_plan(drop, duplicate, reorder, fault_seed),
            blackouts: blackouts
                .into_iter()
                .map(|(start, length)| (Duration::from_millis(start), Duration::from_millis(length)))
                .collect(),
            order_entry,
        };
        let server = ItchServer::bind(config).map_err(itch_error)?;
        let os_error = |e: std::io::Error| PyOSError::new_err(e.to_string());
        Ok(Self {
            destination: server.destination(),
            rerequest: server.rerequest_addr().map_err(os_error)?,
            order_entry: server.order_entry_addr().transpose().map_err(os_error)?,
            runner: Runner::new(server, Duration::from_millis(linger_ms)),
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
}

/// Venue C on its sockets: JSON market data and an HMAC-authenticated order channel over
/// WebSocket, paced by the wall clock.
#[pyclass(module = "tickrail._native", name = "JsonVenueServer")]
pub(crate) struct PyJsonVenueServer {
    market_data: SocketAddr,
    orders: SocketAddr,
    runner: Runner<JsonVenueServer>,
}

#[pymethods]
impl PyJsonVenueServer {
    /// Binds the venue's listeners; `start` runs it. `api_keys` are `(key, secret)` pairs.
    #[new]
    #[pyo3(signature = (market, flow, *, market_data="127.0.0.1:0", orders="127.0.0.1:0", api_keys=Vec::new(),
        drop=0.0, duplicate=0.0, reorder=0.0, disconnect=0.0, fault_seed=0, faults_for_ms=u64::MAX,
        linger_ms=1000))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn new(
        market: &PyMarket,
        flow: &PyFlow,
        market_data: &str,
        orders: &str,
        api_keys: Vec<(String, String)>,
        drop: f64,
        duplicate: f64,
        reorder: f64,
        disconnect: f64,
        fault_seed: u64,
        faults_for_ms: u64,
        linger_ms: u64,
    ) -> PyResult<Self> {
        let mut config = JsonVenueConfig::new(
            market.spec.clone(),
            flow.spec.clone(),
            api_keys.into_iter().map(|(key, secret)| ApiKey { key, secret: secret.into_bytes() }).collect(),
        );
        config.faults = FaultPlan {
            disconnect,
            active_for: Some(Duration::from_millis(faults_for_ms)),
            ..fault_plan(drop, duplicate, reorder, fault_seed)
        };
        config.market_data_addr = socket_addr("market_data", market_data)?;
        config.order_addr = socket_addr("orders", orders)?;
        let server = JsonVenueServer::bind(config).map_err(json_venue_error)?;
        let os_error = |e: std::io::Error| PyOSError::new_err(e.to_string());
        Ok(Self {
            market_data: server.market_data_addr().map_err(os_error)?,
            orders: server.order_addr().map_err(os_error)?,
            runner: Runner::new(server, Duration::from_millis(linger_ms)),
        })
    }

    /// Where market-data clients connect, `"host:port"`.
    #[getter]
    fn market_data_addr(&self) -> String {
        self.market_data.to_string()
    }

    /// Where order clients connect, `"host:port"`.
    #[getter]
    fn order_addr(&self) -> String {
        self.orders.to_string()
    }
}

/// Venue B on its socket: FIX 4.4 sessions for market data (V/W/X) and orders (D/F/G, 8/9)
/// over TCP, paced by the wall clock.
#[pyclass(module = "tickrail._native", name = "FixVenueServer")]
pub(crate) struct PyFixVenueServer {
    addr: SocketAddr,
    runner: Runner<FixVenueServer>,
}

#[pymethods]
impl PyFixVenueServer {
    /// Binds the venue's listener; `start` runs it. `disconnect_every` cuts each session after
    /// that many refreshes.
    #[new]
    #[pyo3(signature = (market, flow, *, addr="127.0.0.1:0", comp_id="VENUEB", drop=0.0, duplicate=0.0,
        reorder=0.0, disconnect_every=None, fault_seed=0, linger_ms=1000))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn new(
        market: &PyMarket,
        flow: &PyFlow,
        addr: &str,
        comp_id: &str,
        drop: f64,
        duplicate: f64,
        reorder: f64,
        disconnect_every: Option<u64>,
        fault_seed: u64,
        linger_ms: u64,
    ) -> PyResult<Self> {
        let mut config = FixVenueConfig::new(market.spec.clone(), flow.spec.clone());
        comp_id.clone_into(&mut config.comp_id);
        config.faults = FaultPlan { disconnect_every, ..fault_plan(drop, duplicate, reorder, fault_seed) };
        config.addr = socket_addr("addr", addr)?;
        let server = FixVenueServer::bind(config).map_err(fix_error)?;
        Ok(Self {
            addr: server.local_addr().map_err(|e| PyOSError::new_err(e.to_string()))?,
            runner: Runner::new(server, Duration::from_millis(linger_ms)),
        })
    }

    /// Where FIX sessions connect, `"host:port"`.
    #[getter]
    fn addr(&self) -> String {
        self.addr.to_string()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyItchVenueServer>()?;
    m.add_class::<PyFixVenueServer>()?;
    m.add_class::<PyJsonVenueServer>()?;
    Ok(())
}
