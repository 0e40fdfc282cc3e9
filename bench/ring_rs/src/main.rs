//! `ring-bench`: throughput and round-trip latency of the tickrail shared-memory rings between
//! two processes pinned to different cores.
//!
//! The parent creates the segments, starts its own executable again as the child (a hidden
//! subcommand), and prints one JSON object per measured configuration on stdout:
//!
//! ```text
//! {"transport": "tickrail-rust", "wait": "spin", "msg_bytes": 64,
//!  "throughput_msgs_per_s": X, "lost": N, "rtt_us": {"p50": X, "p99": X, "p999": X, "max": X},
//!  ...}
//! ```
//!
//! plus `tickrail-rust-queue` lines (queue throughput, nothing lost) and the `bare-futex` and
//! `bare-spin` baselines (a raw shared 32-bit word ping-ponged between the processes). Run
//! `ring-bench --help` for the flags.

mod affinity;
mod bare;
mod child;
mod cli;
mod json;
mod parent;
mod process;
mod proto;
mod stats;

use std::process::ExitCode;

/// The error type of every fallible step: a message for the user.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The result type of every fallible step.
pub type Result<T> = std::result::Result<T, Error>;

/// Dispatches to the parent (the default) or to one of the hidden child subcommands.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some(child::SUBCOMMAND) => child::main(&args[1..]),
        Some(bare::SUBCOMMAND) => bare::child_main(&args[1..]),
        _ => parent::main(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ring-bench: {err}");
            ExitCode::from(2)
        }
    }
}
