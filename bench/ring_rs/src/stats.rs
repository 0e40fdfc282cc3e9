//! Exact latency percentiles from recorded samples.

use crate::json::Object;

/// Round-trip latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

impl Percentiles {
    /// Sorts `samples_ns` and takes nearest-rank percentiles; `None` when there are no samples.
    pub fn from_ns(samples_ns: &mut [u64]) -> Option<Self> {
        if samples_ns.is_empty() {
            return None;
        }
        samples_ns.sort_unstable();
        let us = |ns: u64| ns as f64 / 1_000.0;
        Some(Self {
            p50: us(nearest_rank(samples_ns, 0.5)),
            p99: us(nearest_rank(samples_ns, 0.99)),
            p999: us(nearest_rank(samples_ns, 0.999)),
            max: us(samples_ns[samples_ns.len() - 1]),
        })
    }

    /// The `rtt_us` JSON object.
    pub fn to_json(self) -> Object {
        Object::new()
            .float("p50", self.p50, 3)
            .float("p99", self.p99, 3)
            .float("p999", self.p999, 3)
            .float("max", self.max, 3)
    }
}

/// The smallest sample with at least a fraction `q` of all samples at or below it.
fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::Percentiles;

    #[test]
    fn takes_nearest_rank_percentiles() {
        let mut samples: Vec<u64> = (1..=1000).rev().map(|i| i * 1000).collect();
        let p = Percentiles::from_ns(&mut samples).unwrap();
        assert_eq!(p, Percentiles { p50: 500.0, p99: 990.0, p999: 999.0, max: 1000.0 });
        assert_eq!(Percentiles::from_ns(&mut []), None);
        let one = Percentiles::from_ns(&mut [2500]).unwrap();
        assert_eq!(one, Percentiles { p50: 2.5, p99: 2.5, p999: 2.5, max: 2.5 });
    }
}
