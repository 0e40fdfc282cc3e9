//! HDR (high dynamic range) histograms kept in metrics cells: one writer records, anyone reads
//! a snapshot and asks for percentiles.
//!
//! Buckets are log-linear: values below `2^SUB_BUCKET_BITS` get a bucket each; every power of
//! two above is split into `2^(SUB_BUCKET_BITS - 1)` equal buckets. So a bucket's width is at
//! most 1/64 of its values, whatever their magnitude, and recording is a few shifts and one
//! store. Values beyond [`MAX_TRACKABLE`] are counted in the last bucket (and in `max`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of the exact range and of the precision: values below 128 are exact, above that
/// buckets are within 1/64.
pub const SUB_BUCKET_BITS: u32 = 7;
const HALF: u64 = 1 << (SUB_BUCKET_BITS - 1);
/// Largest value with its own bucket: about 68.7 s when recording nanoseconds.
pub const MAX_TRACKABLE: u64 = (1 << 36) - 1;
/// Number of buckets.
pub const BUCKETS: usize = bucket_of(MAX_TRACKABLE) + 1;
/// Cells a histogram takes: count, sum, max, then the buckets.
pub const CELLS: usize = HEADER_CELLS + BUCKETS;
const HEADER_CELLS: usize = 3;
const COUNT: usize = 0;
const SUM: usize = 1;
const MAX: usize = 2;

/// The bucket `value` falls in.
pub const fn bucket_of(value: u64) -> usize {
    if value < 2 * HALF {
        return value as usize;
    }
    let value = if value > MAX_TRACKABLE { MAX_TRACKABLE } else { value };
    let shift = 63 - value.leading_zeros() - (SUB_BUCKET_BITS - 1);
    (HALF * shift as u64 + (value >> shift)) as usize
}

/// The smallest value in `bucket`.
pub const fn bucket_low(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < 2 * HALF {
        return bucket;
    }
    let shift = bucket / HALF - 1;
    (bucket - shift * HALF) << shift
}

/// The largest value in `bucket`.
pub const fn bucket_high(bucket: usize) -> u64 {
    bucket_low(bucket + 1) - 1
}

/// The recording side of a histogram over [`CELLS`] cells that only this writer stores.
#[derive(Debug)]
pub struct Recorder<'a> {
    cells: &'a [AtomicU64],
}

impl<'a> Recorder<'a> {
    /// A recorder over `cells`, which must be exactly [`CELLS`] long.
    ///
    /// # Panics
    /// If `cells` has another length: the caller's layout is wrong.
    pub fn new(cells: &'a [AtomicU64]) -> Self {
        assert_eq!(cells.len(), CELLS, "a histogram takes exactly CELLS cells");
        Self { cells }
    }

    /// Counts one `value`. Single writer: plain load and store, no read-modify-write.
    #[inline]
    pub fn record(&self, value: u64) {
        bump(&self.cells[COUNT], 1);
        bump(&self.cells[SUM], value);
        if value > self.cells[MAX].load(Ordering::Relaxed) {
            self.cells[MAX].store(value, Ordering::Relaxed);
        }
        bump(&self.cells[HEADER_CELLS + bucket_of(value)], 1);
    }
}

#[inline]
fn bump(cell: &AtomicU64, by: u64) {
    cell.store(cell.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

/// A copy of a histogram's cells, taken without stopping its writer (each cell is read once;
/// the copy may be a few records behind in places, never torn within a cell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: u64,
    /// The largest.
    pub max: u64,
    /// Counts per bucket.
    pub buckets: Vec<u64>,
}

impl Snapshot {
    /// Reads the [`CELLS`] cells of a histogram.
    pub fn read(cells: &[AtomicU64]) -> Self {
        let load = |i: usize| cells[i].load(Ordering::Relaxed);
        Self {
            count: load(COUNT),
            sum: load(SUM),
            max: load(MAX),
            buckets: cells[HEADER_CELLS..HEADER_CELLS + BUCKETS]
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
        }
    }

    /// The value at quantile `q` (0..=1): the highest value of the bucket holding the rank
    /// `ceil(q * n)` sample, capped by the maximum; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_high(bucket).min(self.max);
            }
        }
        self.max
    }

    /// How many values are at most `bound`, counting the buckets that lie wholly at or below
    /// it (the values of a bucket straddling `bound` are within 1/64 of it and left out): a
    /// Prometheus histogram's cumulative `le` bucket.
    pub fn count_at_most(&self, bound: u64) -> u64 {
        self.buckets
            .iter()
            .enumerate()
            .take_while(|&(bucket, _)| bucket_high(bucket) <= bound)
            .map(|(_, &n)| n)
            .sum()
    }

    /// Each bucket holding values, as its highest value and its count, lowest first: what a
    /// reader needs to rebuild the histogram elsewhere (for instance to correct it for
    /// coordinated omission). A bucket's value does not depend on what else was recorded, so
    /// two readings of a growing histogram subtract bucket by bucket.
    pub fn values(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.buckets.iter().enumerate().filter(|&(_, &n)| n > 0).map(|(bucket, &n)| (bucket_high(bucket), n))
    }

    /// The mean, 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cells() -> Vec<AtomicU64> {
        (0..CELLS).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn small_values_are_exact_and_buckets_tile_the_range_without_holes() {
        for v in 0..128 {
            assert_eq!(bucket_of(v), v as usize);
        }
        for bucket in 0..BUCKETS - 1 {
            assert_eq!(bucket_high(bucket) + 1, bucket_low(bucket + 1), "bucket {bucket}");
            assert_eq!(bucket_of(bucket_low(bucket)), bucket);
            assert_eq!(bucket_of(bucket_high(bucket)), bucket);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn values_are_the_filled_buckets_highest_values_with_their_counts() {
        let cells = cells();
        let recorder = Recorder::new(&cells);
        for value in [5, 5, 1_000, 1_000_000] {
            recorder.record(value);
        }
        let snapshot = Snapshot::read(&cells);
        let values: Vec<(u64, u64)> = snapshot.values().collect();
        let (thousand, million) = (bucket_high(bucket_of(1_000)), bucket_high(bucket_of(1_000_000)));
        assert_eq!(values, [(5, 2), (thousand, 1), (million, 1)]);
        assert!(thousand - 1_000 <= 1_000 / 64 && million - 1_000_000 <= 1_000_000 / 64);
        // A larger value later leaves the earlier buckets' values as they were.
        recorder.record(5_000_000);
        let later: Vec<(u64, u64)> = Snapshot::read(&cells).values().collect();
        assert_eq!(later[..3], values[..]);
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let cells = cells();
        let recorder = Recorder::new(&cells);
        for v in 1..=10_000u64 {
            recorder.record(v);
        }
        let snapshot = Snapshot::read(&cells);
        assert_eq!((snapshot.count, snapshot.max), (10_000, 10_000));
        assert_eq!(snapshot.mean(), 5000.5);
        for (q, exact) in [(0.5, 5_000u64), (0.99, 9_900), (0.999, 9_990), (1.0, 10_000)] {
            let got = snapshot.quantile(q);
            assert!(got >= exact && got - exact <= exact / 64, "q{q}: {got} vs {exact}");
        }
        assert_eq!(Snapshot::read(&self::cells()).quantile(0.5), 0);
    }

    proptest! {
        #[test]
        fn every_value_lies_in_its_bucket_within_a_sixty_fourth(value in 0u64..=MAX_TRACKABLE) {
            let bucket = bucket_of(value);
            prop_assert!(bucket_low(bucket) <= value && value <= bucket_high(bucket));
            prop_assert!(bucket_high(bucket) - bucket_low(bucket) <= value / 64);
        }
    }

    #[test]
    fn counts_at_most_a_bound_take_the_buckets_below_it_whole() {
        let cells = cells();
        let recorder = Recorder::new(&cells);
        for value in [5, 100, 1_000, 1_000_000] {
            recorder.record(value);
        }
        let snapshot = Snapshot::read(&cells);
        assert_eq!(snapshot.count_at_most(4), 0);
        assert_eq!(snapshot.count_at_most(5), 1);
        assert_eq!(snapshot.count_at_most(127), 2);
        assert_eq!(snapshot.count_at_most(bucket_high(bucket_of(1_000))), 3);
        assert_eq!(snapshot.count_at_most(bucket_low(bucket_of(1_000))), 2, "a straddled bucket is left out");
        assert_eq!(snapshot.count_at_most(u64::MAX), 4);
    }
}
