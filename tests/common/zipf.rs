//! A deterministic Zipf sampler over user ranks (shared with `#[path]` by tests and benches):
//! a few users make most decisions, as on a real site.
#![allow(dead_code)]

pub struct Zipf {
    cdf: Vec<f64>,
    state: u64,
}

impl Zipf {
    /// Ranks 0..`n` with weight 1 / (rank + 1)^`s`, from a fixed `seed`.
    pub fn new(n: usize, s: f64, seed: u64) -> Zipf {
        let weights: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(s)).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights.iter().map(|w| {
            acc += w / total;
            acc
        }).collect();
        Zipf { cdf, state: seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1 }
    }

    /// A uniform number in [0, 1) (xorshift).
    pub fn uniform(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next rank.
    pub fn next_rank(&mut self) -> usize {
        let u = self.uniform();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}
