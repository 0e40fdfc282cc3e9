//! What the two processes say to each other over the rings, and how either side waits for
//! the next message with a bounded stall.

use std::time::{Duration, Instant};

use shm_layout::{broadcast, queue, Received, ShmResult, WaitStrategy};

use crate::Result;

/// Size of every message.
pub const MSG_BYTES: usize = 64;

/// One message: little-endian 64-bit words, word 0 the sequence number, word 1 the [`Kind`].
pub type Msg = [u8; MSG_BYTES];

/// Longest single `Reader::wait` call; the stall deadline is checked between calls.
const WAIT_SLICE: Duration = Duration::from_millis(20);

/// Idle polls between two looks at the clock (and at the other process) while spinning.
const POLLS_PER_CHECK: u32 = 1 << 14;

/// The wait strategies the benchmark measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// `try_read` in a loop with `spin_loop` between empty polls.
    Spin,
    /// `Reader::wait` with [`WaitStrategy::Yield`].
    Yield,
    /// `Reader::wait` with [`WaitStrategy::Futex`].
    Futex,
    /// `Reader::wait` with the default [`WaitStrategy::Backoff`].
    Backoff,
}

impl Wait {
    /// Every strategy, in the default order.
    pub const ALL: [Wait; 4] = [Wait::Spin, Wait::Yield, Wait::Futex, Wait::Backoff];

    /// Parses a name as printed by [`Wait::name`].
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| format!("unknown wait {name:?} (spin, yield, futex or backoff)").into())
    }

    /// The name used on the command line and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Wait::Spin => "spin",
            Wait::Yield => "yield",
            Wait::Futex => "futex",
            Wait::Backoff => "backoff",
        }
    }

    /// The ring's strategy for `Reader::wait` (busy-spin is done here, not through `wait`).
    pub fn strategy(self) -> WaitStrategy {
        match self {
            Wait::Spin => WaitStrategy::BusySpin,
            Wait::Yield => WaitStrategy::Yield,
            Wait::Futex => WaitStrategy::Futex,
            Wait::Backoff => WaitStrategy::default(),
        }
    }

    /// Whether this strategy sleeps in the kernel (so a round trip costs tens of µs).
    pub fn sleeps(self) -> bool {
        matches!(self, Wait::Futex | Wait::Backoff)
    }
}

/// What a message is for (word 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Kind {
    /// Child to parent: attached to every segment, ready to echo.
    Ready = 1,
    /// A round-trip probe; the child echoes it.
    Ping = 2,
    /// The last round-trip message; the child echoes it and starts the throughput phase.
    EndRtt = 3,
    /// A throughput message (word 0 counts from 0).
    Data = 4,
    /// Child to parent: a throughput result (see [`ThroughputResult`]).
    Result = 5,
}

/// Word `i` of `msg`.
#[inline]
pub fn word(msg: &Msg, i: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&msg[8 * i..8 * i + 8]);
    u64::from_le_bytes(bytes)
}

/// Sets word `i` of `msg`.
#[inline]
pub fn set_word(msg: &mut Msg, i: usize, value: u64) {
    msg[8 * i..8 * i + 8].copy_from_slice(&value.to_le_bytes());
}

/// A message of `kind` with sequence `seq`, the rest zero.
pub fn message(kind: Kind, seq: u64) -> Msg {
    let mut msg = [0u8; MSG_BYTES];
    set_word(&mut msg, 0, seq);
    set_word(&mut msg, 1, kind as u64);
    msg
}

/// Checks `msg` is of `kind`.
pub fn expect_kind(msg: &Msg, kind: Kind) -> Result<()> {
    if word(msg, 1) != kind as u64 {
        return Err(format!("expected a {kind:?} message, got kind {}", word(msg, 1)).into());
    }
    Ok(())
}

/// What the child measured in one throughput run, sent back as a [`Kind::Result`] message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputResult {
    /// Messages received.
    pub received: u64,
    /// Messages lost to laps (broadcast) or received out of order (queue: must be 0).
    pub lost: u64,
    /// Nanoseconds from the first to the last receive.
    pub elapsed_ns: u64,
}

impl ThroughputResult {
    /// Encodes the result as a message.
    pub fn to_msg(self) -> Msg {
        let mut msg = message(Kind::Result, 0);
        set_word(&mut msg, 2, self.received);
        set_word(&mut msg, 3, self.lost);
        set_word(&mut msg, 4, self.elapsed_ns);
        msg
    }

    /// Decodes a [`Kind::Result`] message.
    pub fn from_msg(msg: &Msg) -> Result<Self> {
        expect_kind(msg, Kind::Result)?;
        Ok(Self { received: word(msg, 2), lost: word(msg, 3), elapsed_ns: word(msg, 4) })
    }

    /// Messages received per second, first to last receive.
    pub fn rate(self) -> f64 {
        per_second(self.received.saturating_sub(1), self.elapsed_ns)
    }
}

/// `count` events over `ns` nanoseconds, per second.
pub fn per_second(count: u64, ns: u64) -> f64 {
    if ns == 0 {
        return f64::NAN;
    }
    count as f64 * 1e9 / ns as f64
}

/// Something to receive messages from: a broadcast ring reader or a queue reader.
pub trait Source {
    /// Reads the next message without waiting.
    fn try_recv(&mut self, out: &mut Msg) -> ShmResult<Received>;
    /// Waits with the reader's strategy for up to `timeout`; returns whether one is pending.
    fn wait_for(&self, timeout: Duration) -> bool;
}

impl Source for broadcast::Reader {
    #[inline(always)]
    fn try_recv(&mut self, out: &mut Msg) -> ShmResult<Received> {
        self.try_read(out)
    }

    fn wait_for(&self, timeout: Duration) -> bool {
        self.wait(timeout)
    }
}

impl Source for queue::Reader {
    #[inline(always)]
    fn try_recv(&mut self, out: &mut Msg) -> ShmResult<Received> {
        self.try_pop(out)
    }

    fn wait_for(&self, timeout: Duration) -> bool {
        self.wait(timeout)
    }
}

/// Bounds how long a loop may make no progress, looking at the clock only now and then.
#[derive(Debug)]
pub struct Stall {
    /// The longest allowed time without progress.
    limit: Duration,
    /// When the first check saw no progress (the clock is not read before that).
    since: Option<Instant>,
    /// Idle polls so far.
    polls: u32,
}

impl Stall {
    /// A fresh bound: create one per awaited event, so progress needs no bookkeeping.
    pub const fn new(limit: Duration) -> Self {
        Self { limit, since: None, polls: 0 }
    }

    /// Counts one idle poll; true every [`POLLS_PER_CHECK`]-th, when the caller should check.
    #[inline]
    pub fn tick(&mut self) -> bool {
        self.polls = self.polls.wrapping_add(1);
        self.polls % POLLS_PER_CHECK == 0
    }

    /// Whether the limit has passed since the first check (which starts the clock).
    pub fn expired(&mut self) -> bool {
        let now = Instant::now();
        match self.since {
            None => {
                self.since = Some(now);
                false
            }
            Some(since) => now.duration_since(since) >= self.limit,
        }
    }

    /// The slow-path check: `alive` (is the other process still there?), then the deadline.
    pub fn check(&mut self, alive: &mut dyn FnMut() -> Result<()>, what: &str) -> Result<()> {
        alive()?;
        if self.expired() {
            return Err(format!("no progress for {:?} while {what}", self.limit).into());
        }
        Ok(())
    }
}

/// Receives the next message or loss report from `src`, waiting with `wait` between empty
/// polls; fails if nothing arrives for `limit` or `alive` fails. The first poll is inlined into
/// the caller; waiting is out of line.
#[inline(always)]
pub fn recv<S: Source>(
    src: &mut S,
    out: &mut Msg,
    wait: Wait,
    limit: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
    what: &str,
) -> Result<Received> {
    match src.try_recv(out)? {
        Received::Empty => recv_waiting(src, out, wait, limit, alive, what),
        other => Ok(other),
    }
}

/// The waiting part of [`recv`], after an empty poll.
#[inline(never)]
fn recv_waiting<S: Source>(
    src: &mut S,
    out: &mut Msg,
    wait: Wait,
    limit: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
    what: &str,
) -> Result<Received> {
    let mut stall = Stall::new(limit);
    loop {
        let check = match wait {
            Wait::Spin => {
                std::hint::spin_loop();
                stall.tick()
            }
            _ => !src.wait_for(WAIT_SLICE) || stall.tick(),
        };
        if check {
            stall.check(alive, what)?;
        }
        match src.try_recv(out)? {
            Received::Empty => {}
            other => return Ok(other),
        }
    }
}

/// Receives the next message from `src` like [`recv`], treating a loss as an error.
pub fn recv_message<S: Source>(
    src: &mut S,
    out: &mut Msg,
    wait: Wait,
    limit: Duration,
    alive: &mut dyn FnMut() -> Result<()>,
    what: &str,
) -> Result<()> {
    match recv(src, out, wait, limit, alive, what)? {
        Received::Message { .. } => Ok(()),
        Received::Lost { count } => Err(format!("lost {count} messages while {what}").into()),
        Received::Empty => unreachable!("recv never returns Empty"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_results_round_trip() {
        let msg = message(Kind::Ping, 42);
        assert_eq!(word(&msg, 0), 42);
        assert!(expect_kind(&msg, Kind::Ping).is_ok());
        assert!(expect_kind(&msg, Kind::Data).is_err());
        let r = ThroughputResult { received: 10, lost: 2, elapsed_ns: 9 };
        assert_eq!(ThroughputResult::from_msg(&r.to_msg()).unwrap(), r);
        assert_eq!(r.rate(), 1e9);
        for w in Wait::ALL {
            assert_eq!(Wait::parse(w.name()).unwrap(), w);
        }
    }

    #[test]
    fn a_stall_expires_only_after_its_limit() {
        let mut stall = Stall::new(Duration::from_millis(30));
        assert!(!stall.expired());
        assert!(!stall.expired());
        std::thread::sleep(Duration::from_millis(40));
        assert!(stall.expired());
        assert!(stall.check(&mut || Ok(()), "testing").is_err());
    }
}
