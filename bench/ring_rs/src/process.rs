//! The parent's handles on what it must clean up: the child process and the segment names.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Result;

/// The child process, killed and reaped on drop unless it was waited for.
#[derive(Debug)]
pub struct ChildGuard {
    /// The child, until it has been reaped.
    child: Option<Child>,
}

impl ChildGuard {
    /// Starts `exe` with `args`, stdin and stdout closed, stderr shared with ours.
    pub fn spawn(exe: &Path, args: &[String]) -> Result<Self> {
        let child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        Ok(Self { child: Some(child) })
    }

    /// Fails if the child has exited (it should only exit when told the run is over).
    pub fn alive(&mut self) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            return Err("the child was already reaped".into());
        };
        match child.try_wait()? {
            None => Ok(()),
            Some(status) => {
                self.child = None;
                Err(format!("the child exited early ({status})").into())
            }
        }
    }

    /// Waits up to `limit` for the child to exit and checks it succeeded; a child still running
    /// then is killed (by drop) and reported.
    pub fn finish(mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let Some(child) = self.child.as_mut() else {
            return Err("the child was already reaped".into());
        };
        loop {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                if !status.success() {
                    return Err(format!("the child failed ({status})").into());
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("the child did not exit within {limit:?}; killed").into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Shared-memory segment names to unlink on drop (which also runs on errors and panics).
#[derive(Debug, Default)]
pub struct Segments {
    /// Every name handed out, whether or not its segment got created.
    names: Vec<String>,
}

impl Segments {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name` for unlinking before anything is created under it, and returns it.
    pub fn add(&mut self, name: String) -> String {
        self.names.push(name.clone());
        name
    }

    /// Unlinks every name now. Called once the child has attached: both processes keep their
    /// mappings, and nothing is left behind even if this process is killed later on.
    pub fn unlink_all(&self) {
        for name in &self.names {
            // Not found is fine: the segment was never created or is already gone.
            let _ = shm_layout::unlink(name);
        }
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        self.unlink_all();
    }
}
