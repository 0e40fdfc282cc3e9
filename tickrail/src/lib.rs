//! `tickrail._native`: the one PyO3 extension module of tickrail.
//!
//! The wrappers here are thin: every behaviour lives in the Rust crates, which are tested
//! without Python. Python-visible names are set with `#[pyo3(name = ...)]`; the typed Python
//! API (`shm_layout`, `tickrail`) re-exports them and `tickrail/_native.pyi` describes them.

use pyo3::prelude::*;

mod buffers;
mod codecs;
mod errors;
mod execution_worker;
mod feed_workers;
mod flow_config;
mod records;
mod replays;
mod risk_rules;
mod risk_worker;
mod segments;
mod servers;
mod shm;
mod simulated;
mod waits;
mod worker;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LAYOUT_VERSION", shm_layout::LAYOUT_VERSION)?;
    codecs::register(m)?;
    errors::register(m)?;
    feed_workers::register(m)?;
    execution_worker::register(m)?;
    flow_config::register(m)?;
    records::register(m)?;
    replays::register(m)?;
    risk_rules::register(m)?;
    risk_worker::register(m)?;
    segments::register(m)?;
    servers::register(m)?;
    shm::register(m)?;
    simulated::register(m)?;
    Ok(())
}
