//! `tickrail._native.RiskWorker`: the risk worker's threads (`risk::worker`), started and
//! watched from Python, which loads the limits, logs the state changes and answers for the
//! process.

use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use risk::board::PORTFOLIO;
use risk::breach::{PortfolioHeadroom, SymbolHeadroom};
use risk::portfolio::SymbolRisk;
use risk::worker::{Logged, RiskWorker, WorkerConfig, WorkerError};
use shm_layout::records::{ExecutionReportRecord, Layout};

use crate::risk_rules::{cause_name, PortfolioRiskLimitsArg, SymbolRiskLimitsArg};

fn worker_error(e: WorkerError) -> PyErr {
    match e {
        WorkerError::Config(message) => PyValueError::new_err(message),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// A running risk worker.
#[pyclass(module = "tickrail._native", name = "RiskWorker")]
struct PyRiskWorker {
    worker: Option<RiskWorker>,
}

impl PyRiskWorker {
    fn worker(&self) -> PyResult<&RiskWorker> {
        self.worker.as_ref().ok_or_else(|| PyRuntimeError::new_err("the risk worker is stopped"))
    }
}

fn symbol_dict<'py>(
    py: Python<'py>,
    risk: &SymbolRisk,
    headroom: Option<&SymbolHeadroom>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("instrument", risk.instrument)?;
    d.set_item("position", risk.position)?;
    d.set_item("mark", risk.mark)?;
    d.set_item("realized", risk.realized)?;
    d.set_item("unrealized", risk.unrealized)?;
    d.set_item("pnl", risk.pnl)?;
    d.set_item("peak", risk.peak)?;
    d.set_item("drawdown", risk.drawdown)?;
    d.set_item("net", risk.net)?;
    d.set_item("exposure", risk.exposure)?;
    d.set_item("open_buy", risk.open_buy)?;
    d.set_item("open_sell", risk.open_sell)?;
    if let Some(headroom) = headroom {
        let room = PyDict::new(py);
        room.set_item("loss", headroom.loss)?;
        room.set_item("drawdown", headroom.drawdown)?;
        room.set_item("exposure", headroom.exposure)?;
        d.set_item("headroom", room)?;
    }
    Ok(d)
}

fn portfolio_dict<'py>(
    py: Python<'py>,
    risk: &risk::breach::PortfolioRisk,
    headroom: Option<&PortfolioHeadroom>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("pnl", risk.totals.pnl)?;
    d.set_item("peak", risk.peak)?;
    d.set_item("drawdown", risk.drawdown())?;
    d.set_item("gross", risk.totals.gross)?;
    d.set_item("net", risk.totals.net)?;
    d.set_item("open", risk.totals.open)?;
    if let Some(headroom) = headroom {
        let room = PyDict::new(py);
        room.set_item("loss", headroom.loss)?;
        room.set_item("drawdown", headroom.drawdown)?;
        room.set_item("gross", headroom.gross)?;
        room.set_item("net", headroom.net)?;
        d.set_item("headroom", room)?;
    }
    Ok(d)
}

fn logged_dict<'py>(py: Python<'py>, worker: &RiskWorker, logged: &Logged) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("key", logged.change.key)?;
    d.set_item("before", logged.change.from as u8)?;
    d.set_item("after", logged.change.to as u8)?;
    d.set_item("cause", cause_name(logged.change.cause))?;
    let symbol = logged.symbol.filter(|_| logged.change.key != PORTFOLIO);
    d.set_item("symbol", symbol.map(|s| symbol_dict(py, &s, None)).transpose()?)?;
    d.set_item("portfolio", portfolio_dict(py, &logged.portfolio, None)?)?;
    d.set_item("visible_after_ns", logged.visible_after_ns)?;
    d.set_item("segment", logged.segment.and_then(|s| worker.watched(s)))?;
    Ok(d)
}

#[pymethods]
impl PyRiskWorker {
    #[new]
    #[pyo3(signature = (
        symbols, portfolio, *, books, reports, commands, trading, forward=None, events=None,
        watched=Vec::new(),
        max_heartbeat_age_ms=3_000, threads=1, cores=Vec::new(), mark_every_us=1_000, idle_us=1_000,
        spin=false, replay=None
    ))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn new(
        symbols: Vec<SymbolRiskLimitsArg>,
        portfolio: PortfolioRiskLimitsArg,
        books: Vec<Option<String>>,
        reports: String,
        commands: String,
        trading: String,
        forward: Option<String>,
        events: Option<String>,
        watched: Vec<String>,
        max_heartbeat_age_ms: u64,
        threads: usize,
        cores: Vec<usize>,
        mark_every_us: u64,
        idle_us: u64,
        spin: bool,
        replay: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let size = std::mem::size_of::<ExecutionReportRecord>();
        let replay = replay.unwrap_or_default();
        if replay.len() % size != 0 {
            return Err(PyValueError::new_err(format!(
                "replay: {} bytes are not whole ExecutionReport records of {size}",
                replay.len()
            )));
        }
        let config = WorkerConfig {
            symbols: symbols.iter().map(SymbolRiskLimitsArg::limits).collect(),
            portfolio: portfolio.limits(),
            books,
            reports,
            commands,
            forward,
            events,
            trading,
            watched,
            max_heartbeat_age: Duration::from_millis(max_heartbeat_age_ms),
            threads,
            cores,
            mark_every: Duration::from_micros(mark_every_us),
            idle: Duration::from_micros(idle_us),
            spin,
            replay: replay.chunks_exact(size).map(ExecutionReportRecord::from_bytes).collect(),
        };
        Ok(Self { worker: Some(RiskWorker::start(config).map_err(worker_error)?) })
    }

    /// Applies new limits (a reload).
    fn set_limits(
        &self,
        symbols: Vec<SymbolRiskLimitsArg>,
        portfolio: PortfolioRiskLimitsArg,
    ) -> PyResult<()> {
        self.worker()?
            .set_limits(symbols.iter().map(SymbolRiskLimitsArg::limits).collect(), portfolio.limits());
        Ok(())
    }

    /// The state changes since the last call, oldest first, each a dict.
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let worker = self.worker()?;
        worker.changes().iter().map(|l| logged_dict(py, worker, l)).collect()
    }

    /// Every symbol's figures, room and state, and the portfolio's.
    fn view<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let worker = self.worker()?;
        let (symbols, whole) = worker.view();
        let listed = symbols
            .iter()
            .map(|s| {
                let d = symbol_dict(py, &s.risk, Some(&s.headroom))?;
                d.set_item("state", s.state as u8)?;
                Ok(d)
            })
            .collect::<PyResult<Vec<_>>>()?;
        let portfolio = portfolio_dict(py, &whole.risk, Some(&whole.headroom))?;
        portfolio.set_item("state", whole.state.map(|s| s as u8))?;
        let (applied, refused) = worker.reports();
        let d = PyDict::new(py);
        d.set_item("symbols", listed)?;
        d.set_item("portfolio", portfolio)?;
        d.set_item("reports", applied)?;
        d.set_item("refused", refused)?;
        d.set_item("forwards_dropped", worker.forwards_dropped())?;
        Ok(d)
    }

    /// Reports applied and refused so far, by all groups (cheaper than `view`).
    fn reports(&self) -> PyResult<(u64, u64)> {
        Ok(self.worker()?.reports())
    }

    /// Whether every thread still runs.
    #[getter]
    fn running(&self) -> bool {
        self.worker.as_ref().is_some_and(RiskWorker::running)
    }

    /// Stops the threads; raises what one of them failed with.
    fn stop(&mut self) -> PyResult<()> {
        match self.worker.take() {
            Some(worker) => worker.stop().map_err(worker_error),
            None => Ok(()),
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRiskWorker>()
}
