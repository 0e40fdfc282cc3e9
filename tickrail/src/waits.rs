//! Wait strategies by name, as Python passes them.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use shm_layout::WaitStrategy;

/// Parses `"spin"`, `"yield"`, `"backoff"` or `"futex"`.
pub(crate) fn parse(name: &str) -> PyResult<WaitStrategy> {
    match name {
        "spin" => Ok(WaitStrategy::BusySpin),
        "yield" => Ok(WaitStrategy::Yield),
        "backoff" => Ok(WaitStrategy::default()),
        "futex" => Ok(WaitStrategy::Futex),
        other => Err(PyValueError::new_err(format!(
            "unknown wait strategy {other:?}: expected 'spin', 'yield', 'backoff' or 'futex'"
        ))),
    }
}

/// The name [`parse`] takes for `strategy`.
pub(crate) fn name(strategy: WaitStrategy) -> &'static str {
    match strategy {
        WaitStrategy::BusySpin => "spin",
        WaitStrategy::Yield => "yield",
        WaitStrategy::Backoff { .. } => "backoff",
        WaitStrategy::Futex => "futex",
    }
}

/// A timeout in seconds from Python, checked.
pub(crate) fn timeout(seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        PyValueError::new_err(format!(
            "timeout must be a finite, non-negative number of seconds, not {seconds}"
        ))
    })
}
