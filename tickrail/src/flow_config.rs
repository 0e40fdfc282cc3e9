//! The configuration every simulated venue takes from Python: the market they share and each
//! one's order flow, as two small frozen classes rather than the same keyword arguments on
//! every venue's constructor.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use venues::flow::{MarketSpec, SymbolSpec, VenueSpec};

/// A symbol as Python gives it: `(name, start_price, tick, lot, volatility, half_spread)`,
/// prices in 1/10,000.
pub(crate) type SymbolTuple = (String, i64, i64, u64, f64, i64);

/// The market every venue shares: its symbols, and the seed and bursts of the fair-value
/// model.
#[pyclass(module = "tickrail._native", name = "Market", frozen)]
pub(crate) struct PyMarket {
    pub(crate) spec: MarketSpec,
}

#[pymethods]
impl PyMarket {
    /// A market of `symbols`; bursts start `bursts_per_s` times a second on average, last
    /// `burst_ns` and multiply volatility and rates by `burst_factor`.
    #[new]
    #[pyo3(signature = (seed, symbols, *, bursts_per_s=0.2, burst_ns=200_000_000, burst_factor=3.0))]
    fn new(
        seed: u64,
        symbols: Vec<SymbolTuple>,
        bursts_per_s: f64,
        burst_ns: u64,
        burst_factor: f64,
    ) -> PyResult<Self> {
        if symbols.is_empty() {
            return Err(PyValueError::new_err("a market needs at least one symbol"));
        }
        if !(bursts_per_s >= 0.0 && burst_factor >= 1.0) {
            return Err(PyValueError::new_err(format!(
                "bursts_per_s {bursts_per_s} must not be negative and burst_factor {burst_factor} not below 1"
            )));
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
        Ok(Self { spec: MarketSpec { seed, symbols, bursts_per_s, burst_ns, burst_factor } })
    }

    /// The symbols' names, in order.
    #[getter]
    fn symbols(&self) -> Vec<String> {
        self.spec.symbols.iter().map(|s| s.name.clone()).collect()
    }
}

/// One venue's order flow: its own randomness, rate, lag behind the fair value, noise, and mix
/// of cancels and marketable orders.
#[pyclass(module = "tickrail._native", name = "Flow", frozen)]
pub(crate) struct PyFlow {
    pub(crate) spec: VenueSpec,
}

#[pymethods]
impl PyFlow {
    /// The flow of venue number `venue` (which draws its own random numbers).
    #[new]
    #[pyo3(signature = (venue, *, rate_per_s=20_000.0, lag_ns=0, noise=0.5, cancel_share=0.3, marketable_share=0.1))]
    fn new(
        venue: u64,
        rate_per_s: f64,
        lag_ns: u64,
        noise: f64,
        cancel_share: f64,
        marketable_share: f64,
    ) -> PyResult<Self> {
        if !(rate_per_s > 0.0 && rate_per_s.is_finite()) {
            return Err(PyValueError::new_err(format!("rate_per_s must be positive, not {rate_per_s}")));
        }
        for (name, share) in [("cancel_share", cancel_share), ("marketable_share", marketable_share)] {
            if !(0.0..=1.0).contains(&share) {
                return Err(PyValueError::new_err(format!("{name} {share} is not within 0..=1")));
            }
        }
        Ok(Self { spec: VenueSpec { venue, rate_per_s, lag_ns, noise, cancel_share, marketable_share } })
    }

    /// Actions per second outside bursts.
    #[getter]
    fn rate_per_s(&self) -> f64 {
        self.spec.rate_per_s
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMarket>()?;
    m.add_class::<PyFlow>()?;
    Ok(())
}
