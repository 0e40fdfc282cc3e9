//! A small seeded random source: xoshiro256** seeded through SplitMix64, with the few
//! distributions the flow model needs. Ours rather than a crate's, so a seed gives the same
//! session on every build, whatever version of a random crate is around.

/// A deterministic pseudo-random generator.
#[derive(Debug, Clone)]
pub struct Random {
    state: [u64; 4],
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Random {
    /// A generator for `seed` and `stream` (independent streams from one seed).
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Self { state: [splitmix(&mut x), splitmix(&mut x), splitmix(&mut x), splitmix(&mut x)] }
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Exponential with mean `mean`.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Geometric number of failures before a success of probability `p`: 0, 1, 2, ...
    pub fn geometric(&mut self, p: f64) -> u64 {
        ((1.0 - self.uniform()).ln() / (1.0 - p).ln()).floor() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_numbers_and_streams_differ() {
        let a: Vec<u64> = (0..5).scan(Random::new(7, 0), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..5).scan(Random::new(7, 0), |r, _| Some(r.next_u64())).collect();
        let c: Vec<u64> = (0..5).scan(Random::new(7, 1), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn distributions_have_their_means() {
        let mut r = Random::new(1, 0);
        let n = 200_000;
        let uniform: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / f64::from(n);
        let exponential: f64 = (0..n).map(|_| r.exponential(3.0)).sum::<f64>() / f64::from(n);
        let normal: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = normal.iter().sum::<f64>() / f64::from(n);
        let var = normal.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
        assert!((uniform - 0.5).abs() < 0.01);
        assert!((exponential - 3.0).abs() < 0.05);
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.02);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }
}
