//! The parent: creates the segments, starts the child, drives every measurement and prints
//! the JSON lines.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use shm_layout::{broadcast, queue, RingGeometry, SegmentOptions};

use crate::bare::{self, Mode};
use crate::cli::{Options, USAGE};
use crate::json::Object;
use crate::process::{ChildGuard, Segments};
use crate::proto::{
    expect_kind, message, per_second, recv_message, set_word, word, Kind, Msg, Stall, ThroughputResult, Wait,
    MSG_BYTES,
};
use crate::stats::Percentiles;
use crate::{affinity, child, Result};

/// Slots of the ping and pong broadcast rings: 64 Ki, the size the supervisor gives a
/// market-data ring (8 MiB of 128-byte slots).
const RING_CAPACITY: u64 = 65536;

/// Slots of the throughput queue, the same as the rings.
const QUEUE_CAPACITY: u64 = 65536;

/// Where the two processes run.
#[derive(Debug, Clone, Copy)]
struct Placement {
    /// The parent's core, when pinned.
    parent: Option<usize>,
    /// The child's core, when pinned.
    child: Option<usize>,
}

impl Placement {
    /// `--cores A,B` if given (both must be allowed), else the first two allowed cores, else
    /// (a single allowed core) no pinning at all.
    fn choose(cores: Option<(usize, usize)>) -> Result<Self> {
        let allowed = affinity::allowed_cores()?;
        match cores {
            Some((a, b)) => {
                if let Some(c) = [a, b].into_iter().find(|c| !allowed.contains(c)) {
                    return Err(format!("core {c} is not in the allowed set {allowed:?}").into());
                }
                Ok(Self { parent: Some(a), child: Some(b) })
            }
            None => match allowed.as_slice() {
                [a, b, ..] => Ok(Self { parent: Some(*a), child: Some(*b) }),
                _ => Ok(Self { parent: None, child: None }),
            },
        }
    }

    /// Appends `"pinned"` and `"cores"` to a result line.
    fn describe(self, line: Object) -> Object {
        match (self.parent, self.child) {
            (Some(a), Some(b)) => line.boolean("pinned", true).ints("cores", &[a as u64, b as u64]),
            _ => line.boolean("pinned", false).null("cores"),
        }
    }
}

/// Everything a run needs from the parent.
#[derive(Debug)]
struct Context {
    /// This executable, started again as the child.
    exe: PathBuf,
    /// The parsed options.
    opts: Options,
    /// Where the two processes run.
    placement: Placement,
}

/// What one ring configuration measured.
#[derive(Debug)]
struct RingReport {
    /// Recorded round-trip times, ns.
    rtt_ns: Vec<u64>,
    /// The child's broadcast throughput result.
    broadcast: ThroughputResult,
    /// Nanoseconds the parent took to publish the broadcast run.
    broadcast_writer_ns: u64,
    /// The child's queue throughput result.
    queue: ThroughputResult,
    /// Nanoseconds the parent took to push the queue run.
    queue_writer_ns: u64,
    /// Times the parent found the queue full.
    queue_full: u64,
}

/// Runs the benchmark: baselines, then every wait strategy; returns failure if any run failed.
pub fn main(args: &[String]) -> Result<ExitCode> {
    let Some(mut opts) = Options::parse(args)? else {
        print!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    };
    let placement = Placement::choose(opts.cores)?;
    if let Some(core) = placement.parent {
        affinity::pin(core)?;
    } else if !opts.waits_given {
        eprintln!("ring-bench: only one core allowed; not pinning, and not measuring busy-spin");
        opts.waits.retain(|&w| w != Wait::Spin);
    } else if opts.waits.contains(&Wait::Spin) {
        eprintln!("ring-bench: only one core allowed; not pinning, and spinning will be slow");
    }
    let ctx = Context { exe: std::env::current_exe()?, opts, placement };
    let started = Instant::now();
    let mut failures = 0;
    let mut p50s: Vec<(String, f64)> = Vec::new();

    if ctx.opts.baselines {
        let mut modes = vec![Mode::Futex];
        if ctx.opts.waits.contains(&Wait::Spin) {
            modes.insert(0, Mode::Spin);
        }
        for mode in modes {
            let wait = if mode == Mode::Futex { Wait::Futex } else { Wait::Spin };
            let (round_trips, warmup) = ctx.opts.round_trips(wait.sleeps());
            let head = Object::new().string("transport", mode.transport()).string("wait", wait.name());
            let run = bare::run(&ctx.exe, mode, round_trips, warmup, ctx.placement.child, ctx.opts.stall);
            match run {
                Ok(mut samples) => {
                    let rtt = Percentiles::from_ns(&mut samples).ok_or("no round trips recorded")?;
                    p50s.push((mode.transport().to_owned(), rtt.p50));
                    let line = head
                        .int("msg_bytes", 4)
                        .null("throughput_msgs_per_s")
                        .int("lost", 0)
                        .object("rtt_us", rtt.to_json())
                        .int("round_trips", samples.len() as u64);
                    emit(ctx.placement.describe(line))?;
                }
                Err(err) => {
                    failures += 1;
                    emit(head.string("error", &err.to_string()))?;
                }
            }
        }
    }

    for &wait in &ctx.opts.waits {
        let (round_trips, warmup) = ctx.opts.round_trips(wait.sleeps());
        match run_ring(&ctx, wait, round_trips, warmup) {
            Ok(mut report) => {
                let rtt = Percentiles::from_ns(&mut report.rtt_ns).ok_or("no round trips recorded")?;
                p50s.push((format!("tickrail-rust/{}", wait.name()), rtt.p50));
                let b = report.broadcast;
                let line = Object::new()
                    .string("transport", "tickrail-rust")
                    .string("wait", wait.name())
                    .int("msg_bytes", MSG_BYTES as u64)
                    .float("throughput_msgs_per_s", b.rate(), 0)
                    .int("lost", b.lost)
                    .object("rtt_us", rtt.to_json())
                    .int("round_trips", report.rtt_ns.len() as u64)
                    .int("messages", ctx.opts.messages)
                    .int("received", b.received)
                    .float("writer_msgs_per_s", per_second(ctx.opts.messages, report.broadcast_writer_ns), 0);
                emit(ctx.placement.describe(line))?;
                let q = report.queue;
                let line = Object::new()
                    .string("transport", "tickrail-rust-queue")
                    .string("wait", wait.name())
                    .int("msg_bytes", MSG_BYTES as u64)
                    .float("throughput_msgs_per_s", q.rate(), 0)
                    .int("lost", q.lost)
                    .null("rtt_us")
                    .int("messages", ctx.opts.messages)
                    .int("received", q.received)
                    .float("writer_msgs_per_s", per_second(ctx.opts.messages, report.queue_writer_ns), 0)
                    .int("writer_full_retries", report.queue_full);
                emit(ctx.placement.describe(line))?;
            }
            Err(err) => {
                failures += 1;
                let line = Object::new()
                    .string("transport", "tickrail-rust")
                    .string("wait", wait.name())
                    .string("error", &err.to_string());
                emit(line)?;
            }
        }
    }

    let summary: Vec<String> = p50s.iter().map(|(name, p50)| format!("{name} {p50:.3}")).collect();
    eprintln!(
        "ring-bench: {} in {:.1} s; rtt p50 us: {}",
        if failures == 0 { "done" } else { "FAILED" },
        started.elapsed().as_secs_f64(),
        summary.join(", ")
    );
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Prints one result line on stdout, flushed so a reader sees it at once.
fn emit(line: Object) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", line.finish())?;
    out.flush()?;
    Ok(())
}

/// Measures one wait strategy: `warmup + round_trips` round trips over the broadcast rings,
/// then a broadcast throughput run and a queue throughput run of `--messages` each.
fn run_ring(ctx: &Context, wait: Wait, round_trips: u64, warmup: u64) -> Result<RingReport> {
    let (messages, limit) = (ctx.opts.messages, ctx.opts.stall);
    // Unlinks the names on any early return; once the child has attached they are unlinked at
    // once, so even a killed run leaves nothing behind.
    let mut segments = Segments::new();
    let base = format!("/tickrail-bench.{}.{}", std::process::id(), wait.name());
    let ping_name = segments.add(format!("{base}.ping"));
    let pong_name = segments.add(format!("{base}.pong"));
    let queue_name = segments.add(format!("{base}.queue"));

    let options = SegmentOptions { replace_stale: true, ..SegmentOptions::default() };
    let geometry =
        RingGeometry { capacity: RING_CAPACITY, max_message_size: MSG_BYTES as u32, max_readers: 1 };
    let mut ping = broadcast::Writer::create(&ping_name, geometry, &options)?;
    let mut pong = {
        // Create the pong ring and attach our reader, then leave the writer's role to the child.
        let creator = broadcast::Writer::create(&pong_name, geometry, &options)?;
        let reader = broadcast::Reader::attach(&pong_name, broadcast::StartAt::Latest)?;
        drop(creator);
        reader
    };
    pong.set_wait_strategy(wait.strategy());
    let mut queue = queue::Writer::create(&queue_name, QUEUE_CAPACITY, MSG_BYTES as u32, &options)?;

    let mut args: Vec<String> = [
        child::SUBCOMMAND,
        "--ping",
        &ping_name,
        "--pong",
        &pong_name,
        "--queue",
        &queue_name,
        "--wait",
        wait.name(),
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(["--messages".to_owned(), messages.to_string()]);
    args.extend(["--timeout-s".to_owned(), limit.as_secs_f64().to_string()]);
    if let Some(core) = ctx.placement.child {
        args.extend(["--core".to_owned(), core.to_string()]);
    }
    let mut child = ChildGuard::spawn(&ctx.exe, &args)?;
    let mut alive = || child.alive();
    let mut msg: Msg = [0; MSG_BYTES];
    recv_message(&mut pong, &mut msg, wait, limit, &mut alive, "waiting for the child to start")?;
    expect_kind(&msg, Kind::Ready)?;
    segments.unlink_all();

    // Round trips: publish a probe, wait for its echo, time the pair.
    let total = warmup + round_trips;
    let mut rtt_ns = Vec::with_capacity(round_trips as usize);
    let mut probe = message(Kind::Ping, 0);
    for seq in 0..total {
        set_word(&mut probe, 0, seq);
        let start = Instant::now();
        ping.publish(&probe)?;
        recv_message(&mut pong, &mut msg, wait, limit, &mut alive, "waiting for an echo")?;
        let elapsed = start.elapsed();
        if word(&msg, 0) != seq {
            return Err(format!("sent probe {seq}, the echo was {}", word(&msg, 0)).into());
        }
        if seq >= warmup {
            rtt_ns.push(elapsed.as_nanos() as u64);
        }
    }
    ping.publish(&message(Kind::EndRtt, total))?;
    recv_message(&mut pong, &mut msg, wait, limit, &mut alive, "ending the round trips")?;
    expect_kind(&msg, Kind::EndRtt)?;

    // Broadcast throughput: the writer never waits; a lapped child reports what it lost.
    let broadcast_writer_ns = publish_run(&mut ping, messages)?;
    recv_message(&mut pong, &mut msg, wait, limit, &mut alive, "waiting for the broadcast result")?;
    let broadcast = ThroughputResult::from_msg(&msg)?;

    // Queue throughput: back-pressure, the writer retries a full queue; nothing is lost.
    let share_core = ctx.placement.parent.is_none();
    let (queue_writer_ns, queue_full) = push_run(&mut queue, messages, share_core, limit, &mut alive)?;
    recv_message(&mut pong, &mut msg, wait, limit, &mut alive, "waiting for the queue result")?;
    let queued = ThroughputResult::from_msg(&msg)?;
    if queued.received != messages || queued.lost != 0 {
        return Err(format!("the queue delivered {} of {messages} messages", queued.received).into());
    }

    child.finish(limit + Duration::from_secs(1))?;
    Ok(RingReport { rtt_ns, broadcast, broadcast_writer_ns, queue: queued, queue_writer_ns, queue_full })
}

/// Publishes `messages` [`Kind::Data`] messages as fast as possible; returns the time taken, ns.
#[inline(never)]
fn publish_run(ping: &mut broadcast::Writer, messages: u64) -> Result<u64> {
    let mut data = message(Kind::Data, 0);
    let start = Instant::now();
    for seq in 0..messages {
        set_word(&mut data, 0, seq);
        ping.publish(&data)?;
    }
    Ok(start.elapsed().as_nanos() as u64)
}

/// Pushes `messages` [`Kind::Data`] messages into the queue, retrying while it is full (spinning,
/// or yielding when both processes `share_core`); returns the time taken (ns) and the number of
/// full retries.
#[inline(never)]
fn push_run(
    queue: &mut queue::Writer,
    messages: u64,
    share_core: bool,
    limit: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
) -> Result<(u64, u64)> {
    let mut data = message(Kind::Data, 0);
    let mut full = 0u64;
    let start = Instant::now();
    for seq in 0..messages {
        set_word(&mut data, 0, seq);
        let mut stall = Stall::new(limit);
        while !queue.try_push(&data)? {
            full += 1;
            if share_core {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
            if stall.tick() {
                stall.check(alive, "pushing into a full queue")?;
            }
        }
    }
    Ok((start.elapsed().as_nanos() as u64, full))
}
