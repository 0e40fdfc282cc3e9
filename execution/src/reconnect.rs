//! Logging on to a venue again off the loop: the gateway goes to a thread of its own for the
//! handshake (which may take up to its logon timeout when the venue is slow to answer) and
//! comes back when it is done, so the loop goes on serving the other venues meanwhile.

use std::thread::JoinHandle;

use crate::gateway::Gateway;

/// A gateway away logging on again.
#[derive(Debug)]
pub struct Reconnection {
    handle: JoinHandle<(Gateway, bool)>,
}

impl Reconnection {
    /// Starts logging `gateway` on again on a thread of its own (the thread inherits the
    /// caller's core and scheduling).
    pub fn start(mut gateway: Gateway) -> std::io::Result<Self> {
        let handle = std::thread::Builder::new().name("reconnect".into()).spawn(move || {
            let ok = gateway.reconnect().is_ok();
            (gateway, ok)
        })?;
        Ok(Self { handle })
    }

    /// Whether the attempt is over.
    pub fn is_done(&self) -> bool {
        self.handle.is_finished()
    }

    /// The gateway back, and whether it logged on; `None` if the thread panicked (the
    /// gateway is lost with it). Waits for the attempt if it is not over.
    pub fn finish(self) -> Option<(Gateway, bool)> {
        self.handle.join().ok()
    }
}
