//! The hidden `pong` subcommand: the child side of a ring run.
//!
//! It attaches to the parent's segments (ping: broadcast reader; pong: broadcast writer;
//! queue: queue reader), says [`Kind::Ready`], echoes pings until [`Kind::EndRtt`], then reads
//! one broadcast throughput run and one queue throughput run, reporting each as a
//! [`ThroughputResult`] on the pong ring.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use shm_layout::{broadcast, queue, Received};

use crate::cli::Flags;
use crate::proto::{message, recv, recv_message, word, Kind, Msg, Source, ThroughputResult, Wait, MSG_BYTES};
use crate::{affinity, Result};

/// The subcommand's name.
pub const SUBCOMMAND: &str = "pong";

/// Asks the kernel to kill this process when the parent dies, so a child never outlives it.
pub fn die_with_parent() {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and has no memory effects.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
}

/// A check that the parent (which started us) is still our parent.
pub fn parent_alive() -> impl FnMut() -> Result<()> {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    move || {
        // SAFETY: as above.
        if unsafe { libc::getppid() } == parent {
            Ok(())
        } else {
            Err("the parent died".into())
        }
    }
}

/// Runs the child side: `pong --ping NAME --pong NAME --queue NAME --wait W --messages N
/// --timeout-s S [--core C]`.
pub fn main(args: &[String]) -> Result<ExitCode> {
    die_with_parent();
    let flags = Flags::parse(
        args,
        &["--ping", "--pong", "--queue", "--wait", "--messages", "--timeout-s", "--core"],
        &[],
    )?;
    if let Some(core) = flags.number::<usize>("--core")? {
        affinity::pin(core)?;
    }
    let wait = Wait::parse(flags.required("--wait")?)?;
    let messages: u64 = flags.number("--messages")?.ok_or("missing --messages")?;
    let limit = flags.seconds("--timeout-s")?.ok_or("missing --timeout-s")?;
    let mut alive = parent_alive();

    let mut ping = broadcast::Reader::attach(flags.required("--ping")?, broadcast::StartAt::Oldest)?;
    ping.set_wait_strategy(wait.strategy());
    let mut pong = broadcast::Writer::attach(flags.required("--pong")?)?;
    let mut queue = queue::Reader::attach(flags.required("--queue")?)?;
    queue.set_wait_strategy(wait.strategy());
    pong.publish(&message(Kind::Ready, 0))?;

    // Round trips: echo every message as it is, until the end marker (echoed too).
    let mut msg: Msg = [0; MSG_BYTES];
    loop {
        recv_message(&mut ping, &mut msg, wait, limit, &mut alive, "waiting for a ping")?;
        pong.publish(&msg)?;
        if word(&msg, 1) == Kind::EndRtt as u64 {
            break;
        }
    }

    let broadcast = read_run(&mut ping, wait, messages, limit, &mut alive)?;
    pong.publish(&broadcast.to_msg())?;
    let queued = read_run(&mut queue, wait, messages, limit, &mut alive)?;
    pong.publish(&queued.to_msg())?;
    Ok(ExitCode::SUCCESS)
}

/// Reads one throughput run of `messages` [`Kind::Data`] messages numbered from 0 until the
/// last one, timing the first to the last receive. A gap in the numbering that the ring did not
/// report as a loss (impossible unless the ring is broken) fails the run.
fn read_run<S: Source>(
    src: &mut S,
    wait: Wait,
    messages: u64,
    limit: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
) -> Result<ThroughputResult> {
    let last = messages - 1;
    let mut msg: Msg = [0; MSG_BYTES];
    let (mut received, mut lost, mut expected) = (0u64, 0u64, 0u64);
    let mut first: Option<Instant> = None;
    loop {
        match recv(src, &mut msg, wait, limit, alive, "reading a throughput run")? {
            Received::Message { .. } => {
                let seq = word(&msg, 0);
                if received == 0 {
                    first = Some(Instant::now());
                    if word(&msg, 1) != Kind::Data as u64 {
                        return Err(format!("expected Data, got kind {}", word(&msg, 1)).into());
                    }
                }
                if seq != expected {
                    return Err(format!("expected message {expected}, got {seq} (lost {lost})").into());
                }
                received += 1;
                expected = seq + 1;
                if seq == last {
                    break;
                }
            }
            Received::Lost { count } => {
                lost += count;
                expected += count;
            }
            Received::Empty => unreachable!("recv never returns Empty"),
        }
    }
    let elapsed_ns = first.map_or(0, |t| t.elapsed().as_nanos() as u64);
    Ok(ThroughputResult { received, lost, elapsed_ns })
}
