//! The simulated venues, driven from Python.

use protocols::moldudp64::{session, Request, Session};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use venues::matching::Side;
use venues::venue_a::ItchVenue;

use crate::flow_config::{PyFlow, PyMarket};

/// A MoldUDP64 session name: at most 10 bytes.
pub(crate) fn session_of(name: &str) -> PyResult<Session> {
    if name.is_empty() || name.len() > 10 {
        return Err(PyValueError::new_err(format!("session name {name:?} must have 1 to 10 bytes")));
    }
    Ok(session(name))
}

fn packets<'py>(py: Python<'py>, packets: Vec<Vec<u8>>) -> Vec<Bound<'py, PyBytes>> {
    packets.iter().map(|p| PyBytes::new(py, p)).collect()
}

/// Venue A without sockets: seeded order flow through price-time matching engines, market
/// data as ITCH 5.0 in MoldUDP64 packets, and the re-request server.
#[pyclass(module = "tickrail._native", name = "ItchVenue")]
pub(crate) struct PyItchVenue {
    venue: ItchVenue,
}

#[pymethods]
impl PyItchVenue {
    /// A venue trading `market`'s symbols (locate codes are their positions from 1) with
    /// `flow`.
    #[new]
    #[pyo3(signature = (market, flow, *, session_name="TICKRAIL01"))]
    fn new(market: &PyMarket, flow: &PyFlow, session_name: &str) -> PyResult<Self> {
        Ok(Self { venue: ItchVenue::new(market.spec.clone(), flow.spec.clone(), session_of(session_name)?) })
    }

    /// The opening packets: start of messages and the stock directory.
    fn open<'py>(&mut self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        packets(py, self.venue.open())
    }

    /// Runs `actions` steps of order flow; returns the market data packets.
    fn step<'py>(&mut self, py: Python<'py>, actions: usize) -> Vec<Bound<'py, PyBytes>> {
        let venue = &mut self.venue;
        let out = py.detach(|| venue.step(actions));
        packets(py, out)
    }

    /// Answers a MoldUDP64 re-request (20 bytes).
    fn serve<'py>(&self, py: Python<'py>, request: &[u8]) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let request = Request::decode(request).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(packets(py, self.venue.serve(&request)))
    }

    /// A heartbeat packet carrying the next sequence number.
    fn heartbeat<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.venue.heartbeat())
    }

    /// The next sequence number.
    #[getter]
    fn next_sequence(&self) -> u64 {
        self.venue.next_sequence()
    }

    /// The matching engine's levels of `symbol` (its index) on `side` (`"buy"` or `"sell"`),
    /// best first: `(price in 1/10,000, shares)`.
    fn levels(&self, symbol: usize, side: &str) -> PyResult<Vec<(i64, u64)>> {
        let side = match side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => {
                return Err(PyValueError::new_err(format!("side must be 'buy' or 'sell', not {other:?}")))
            }
        };
        if symbol >= self.venue.symbol_count() {
            return Err(PyValueError::new_err(format!("no symbol {symbol}")));
        }
        Ok(self.venue.engine(symbol).levels(side))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyItchVenue>()?;
    Ok(())
}
