//! The simulated venues, driven from Python.

use protocols::moldudp64::{session, Request, Session};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use venues::flow::{MarketSpec, SymbolSpec, VenueSpec};
use venues::matching::Side;
use venues::venue_a::ItchVenue;

/// A symbol as Python gives it: `(name, start_price, tick, lot, volatility, half_spread)`,
/// prices in 1/10,000.
pub(crate) type SymbolTuple = (String, i64, i64, u64, f64, i64);

/// The market every venue shares: symbols and the fair-value model's seed and bursts.
pub(crate) fn market_spec(
    seed: u64,
    symbols: Vec<SymbolTuple>,
    bursts_per_s: f64,
    burst_ns: u64,
    burst_factor: f64,
) -> PyResult<MarketSpec> {
    if symbols.is_empty() {
        return Err(PyValueError::new_err("a venue needs at least one symbol"));
    }
    let symbols = symbols
        .into_iter()
        .map(|(name, start_price, tick, lot, volatility, half_spread)| {
            if name.is_empty() || name.len() > 8 || start_price <= 0 || tick <= 0 || lot == 0 {
                return Err(PyValueError::new_err(format!(
                    "symbol {name:?}: a name of 1 to 8 bytes and a positive price, tick and lot are needed"
                )));
            }
            Ok(SymbolSpec { name, start_price, tick, lot, volatility, half_spread })
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(MarketSpec { seed, symbols, bursts_per_s, burst_ns, burst_factor })
}

/// One venue's flow parameters.
pub(crate) fn venue_spec(
    venue: u64,
    rate_per_s: f64,
    lag_ns: u64,
    noise: f64,
    cancel_share: f64,
    marketable_share: f64,
) -> PyResult<VenueSpec> {
    if !(rate_per_s > 0.0 && rate_per_s.is_finite()) {
        return Err(PyValueError::new_err(format!("rate_per_s must be positive, not {rate_per_s}")));
    }
    Ok(VenueSpec { venue, rate_per_s, lag_ns, noise, cancel_share, marketable_share })
}

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
    /// A venue over `symbols`; locate codes are their positions from 1.
    #[new]
    #[pyo3(signature = (seed, symbols, *, session_name="TICKRAIL01", rate_per_s=20_000.0, venue=1, lag_ns=0, noise=0.5,
        cancel_share=0.3, marketable_share=0.1, bursts_per_s=0.2, burst_ns=200_000_000, burst_factor=3.0))]
    #[allow(clippy::too_many_arguments, reason = "keyword arguments of a Python constructor")]
    fn new(
        seed: u64,
        symbols: Vec<SymbolTuple>,
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
    ) -> PyResult<Self> {
        let market = market_spec(seed, symbols, bursts_per_s, burst_ns, burst_factor)?;
        let flow = venue_spec(venue, rate_per_s, lag_ns, noise, cancel_share, marketable_share)?;
        let session = session_of(session_name)?;
        Ok(Self { venue: ItchVenue::new(market, flow, session) })
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
