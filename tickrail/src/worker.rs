//! A Rust thread running a venue or a feed loop for Python, which keeps its own thread free to
//! handle signals and report health. The loop gets a stop flag; stopping joins the thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

type Outcome<T> = Result<T, String>;

/// A loop on its own thread, or the part waiting to be started.
#[derive(Debug)]
pub(crate) enum Worker<P, T> {
    /// Built, not started: holds what the loop will own.
    Ready(P),
    /// Running.
    Running { stop: Arc<AtomicBool>, handle: JoinHandle<Outcome<T>> },
    /// Stopped (or failed to start).
    Done,
}

impl<P: Send + 'static, T: Send + 'static> Worker<P, T> {
    /// Starts `run` on a thread named `name` with what was prepared.
    pub(crate) fn start(
        &mut self,
        name: &str,
        run: impl FnOnce(P, &AtomicBool) -> Outcome<T> + Send + 'static,
    ) -> PyResult<()> {
        let Worker::Ready(_) = self else {
            return Err(PyRuntimeError::new_err(format!("{name} was already started")));
        };
        let Worker::Ready(parts) = std::mem::replace(self, Worker::Done) else { unreachable!() };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(parts, &flag))
            .map_err(|e| PyRuntimeError::new_err(format!("cannot start {name}: {e}")))?;
        *self = Worker::Running { stop, handle };
        Ok(())
    }

    /// Asks the loop to stop without waiting for it.
    pub(crate) fn signal(&self) {
        if let Worker::Running { stop, .. } = self {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the loop is running (false once it returned, even on its own).
    pub(crate) fn is_running(&self) -> bool {
        matches!(self, Worker::Running { handle, .. } if !handle.is_finished())
    }

    /// Stops the loop and waits for it (without holding the GIL); its result, or the error
    /// that ended it as a `RuntimeError`.
    pub(crate) fn stop(&mut self, py: Python<'_>) -> PyResult<T> {
        let Worker::Running { stop, handle } = std::mem::replace(self, Worker::Done) else {
            return Err(PyValueError::new_err("the loop is not running"));
        };
        stop.store(true, Ordering::Relaxed);
        match py.detach(|| handle.join()) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(message)) => Err(PyRuntimeError::new_err(message)),
            Err(_) => Err(PyRuntimeError::new_err("the loop panicked")),
        }
    }
}
