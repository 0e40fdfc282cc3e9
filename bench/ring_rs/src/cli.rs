//! Command-line parsing: a small `--flag value` parser shared by the parent and the hidden
//! child subcommands, and the parent's options.

use std::str::FromStr;
use std::time::Duration;

use crate::proto::Wait;
use crate::Result;

/// The parent's usage text.
pub const USAGE: &str = "\
usage: ring-bench [--quick] [--cores A,B] [--round-trips N] [--warmup N] [--messages N]
                  [--waits spin,yield,futex,backoff] [--timeout-s S] [--no-baselines]

Measures 64-byte messages between two processes pinned to two cores: round-trip latency
(broadcast ping ring -> broadcast pong ring) and throughput (broadcast ring, then queue),
one JSON object per line on stdout, plus bare-futex / bare-spin baselines.

  --quick            smaller counts for a smoke test (a few seconds)
  --cores A,B        parent on core A, child on core B (default: first two allowed cores)
  --round-trips N    recorded round trips per configuration (default 100000)
  --warmup N         round trips before recording (default 10000)
  --messages N       messages per throughput run (default 10000000)
  --waits LIST       wait strategies to measure (default spin,yield,futex,backoff;
                     without spin when only one core is allowed)
  --timeout-s S      longest time any single wait may make no progress (default 10)
  --no-baselines     skip the bare-futex and bare-spin baselines
";

/// Parsed `--flag value` pairs and `--switch`es.
#[derive(Debug, Default)]
pub struct Flags {
    /// Flags given with a value, in order.
    values: Vec<(String, String)>,
    /// Switches given.
    switches: Vec<String>,
}

impl Flags {
    /// Parses `args` (`--flag value` or `--flag=value` for `valued`, bare `switches`), refusing
    /// anything else.
    pub fn parse(args: &[String], valued: &[&str], switches: &[&str]) -> Result<Self> {
        let mut flags = Self::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            if switches.contains(&name) && inline.is_none() {
                flags.switches.push(name.to_owned());
            } else if valued.contains(&name) {
                let value = match inline {
                    Some(value) => value,
                    None => iter.next().ok_or_else(|| format!("{name} needs a value"))?.clone(),
                };
                flags.values.push((name.to_owned(), value));
            } else {
                return Err(format!("unknown argument {arg:?}\n\n{USAGE}").into());
            }
        }
        Ok(flags)
    }

    /// Whether `switch` was given.
    pub fn has(&self, switch: &str) -> bool {
        self.switches.iter().any(|s| s == switch)
    }

    /// The last value given for `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of `name`, which must be given.
    pub fn required(&self, name: &str) -> Result<&str> {
        self.value(name).ok_or_else(|| format!("missing {name}").into())
    }

    /// The value of `name` parsed as a number (underscores allowed), if given.
    pub fn number<T: FromStr>(&self, name: &str) -> Result<Option<T>> {
        self.value(name)
            .map(|v| {
                v.replace('_', "")
                    .parse::<T>()
                    .map_err(|_| format!("{name}: {v:?} is not a valid number").into())
            })
            .transpose()
    }

    /// The value of `name` as a number of seconds, if given.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>> {
        match self.number::<f64>(name)? {
            Some(s) if s.is_finite() && s > 0.0 && s < 1e6 => Ok(Some(Duration::from_secs_f64(s))),
            Some(_) => Err(format!("{name} must be a positive number of seconds").into()),
            None => Ok(None),
        }
    }
}

/// What the parent measures, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--cores A,B`: the parent's and the child's core.
    pub cores: Option<(usize, usize)>,
    /// `--round-trips N`, overriding the per-strategy defaults.
    pub round_trips: Option<u64>,
    /// `--warmup N`, overriding the per-strategy defaults.
    pub warmup: Option<u64>,
    /// Messages per throughput run.
    pub messages: u64,
    /// The wait strategies to measure, in order.
    pub waits: Vec<Wait>,
    /// Whether `--waits` was given (otherwise busy-spin is dropped when only one core is
    /// allowed: two spinners sharing a core make a round trip last a scheduler time slice).
    pub waits_given: bool,
    /// `--quick`: smaller default counts.
    pub quick: bool,
    /// Longest time any single wait may make no progress before the run is abandoned.
    pub stall: Duration,
    /// Whether to measure the bare-futex / bare-spin baselines.
    pub baselines: bool,
}

impl Options {
    /// Parses the parent's arguments; `None` when `--help` was asked for.
    pub fn parse(args: &[String]) -> Result<Option<Self>> {
        let flags = Flags::parse(
            args,
            &["--cores", "--round-trips", "--warmup", "--messages", "--waits", "--timeout-s"],
            &["--quick", "--no-baselines", "--help", "-h"],
        )?;
        if flags.has("--help") || flags.has("-h") {
            return Ok(None);
        }
        let quick = flags.has("--quick");
        let cores = flags.value("--cores").map(parse_cores).transpose()?;
        let waits = match flags.value("--waits") {
            Some(list) => list.split(',').map(|w| Wait::parse(w.trim())).collect::<Result<Vec<_>>>()?,
            None => Wait::ALL.to_vec(),
        };
        if waits.is_empty() {
            return Err("--waits is empty".into());
        }
        let messages = flags.number("--messages")?.unwrap_or(if quick { 1_000_000 } else { 10_000_000 });
        if messages < 2 {
            return Err("--messages must be at least 2".into());
        }
        let round_trips = flags.number("--round-trips")?;
        if round_trips == Some(0) {
            return Err("--round-trips must be at least 1".into());
        }
        Ok(Some(Self {
            cores,
            round_trips,
            warmup: flags.number("--warmup")?,
            messages,
            waits,
            waits_given: flags.value("--waits").is_some(),
            quick,
            stall: flags.seconds("--timeout-s")?.unwrap_or(Duration::from_secs(10)),
            baselines: !flags.has("--no-baselines"),
        }))
    }

    /// Recorded round trips and warm-up round trips for a wait that sleeps (`sleeps`) or not.
    /// Sleeping waits cost ~60 µs a round trip here, so `--quick` measures fewer of them.
    pub fn round_trips(&self, sleeps: bool) -> (u64, u64) {
        let (recorded, warmup) = match (self.quick, sleeps) {
            (false, _) => (100_000, 10_000),
            (true, false) => (20_000, 2_000),
            (true, true) => (3_000, 300),
        };
        (self.round_trips.unwrap_or(recorded), self.warmup.unwrap_or(warmup))
    }
}

/// Parses `A,B` into two distinct core numbers.
fn parse_cores(value: &str) -> Result<(usize, usize)> {
    let parsed: Option<(usize, usize)> =
        value.split_once(',').and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((a, b)) if a != b => Ok((a, b)),
        Some(_) => Err("--cores needs two different cores".into()),
        None => Err(format!("--cores: {value:?} is not A,B").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_values_switches_and_numbers_with_underscores() {
        let flags =
            Flags::parse(&args(&["--n", "10_000", "--x=a", "--q"]), &["--n", "--x"], &["--q"]).unwrap();
        assert_eq!(flags.number::<u64>("--n").unwrap(), Some(10_000));
        assert_eq!(flags.value("--x"), Some("a"));
        assert!(flags.has("--q"));
        assert!(Flags::parse(&args(&["--bogus"]), &["--n"], &[]).is_err());
        assert!(Flags::parse(&args(&["--n"]), &["--n"], &[]).is_err());
    }

    #[test]
    fn parses_the_parent_options() {
        let o =
            Options::parse(&args(&["--quick", "--cores", "1,0", "--waits", "spin,futex"])).unwrap().unwrap();
        assert_eq!(o.cores, Some((1, 0)));
        assert_eq!(o.waits, vec![Wait::Spin, Wait::Futex]);
        assert_eq!(o.round_trips(true), (3_000, 300));
        assert!(Options::parse(&args(&["--cores", "1,1"])).is_err());
        assert!(Options::parse(&args(&["--help"])).unwrap().is_none());
        let d = Options::parse(&[]).unwrap().unwrap();
        assert_eq!((d.messages, d.round_trips(false)), (10_000_000, (100_000, 10_000)));
    }
}
