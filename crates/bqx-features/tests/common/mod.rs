//! Shared test helpers: deterministic series without a random-number dependency.
#![allow(dead_code)]

use bqx_domain::BarColumns;

/// SplitMix64: a small, well-mixed deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// A geometric random walk of `n` closes starting at `level`.
pub fn random_walk(n: usize, seed: u64, level: f64, sigma: f64) -> Vec<f64> {
    let mut rng = Rng(seed);
    let mut lp = level.ln();
    (0..n)
        .map(|_| {
            let v = lp.exp();
            lp += sigma * rng.normal();
            v
        })
        .collect()
}

/// Close-only bars (open = high = low = close), hourly time stamps.
pub fn close_bars(closes: &[f64]) -> BarColumns {
    let mut b = BarColumns::with_capacity(closes.len(), false, false);
    for (i, &c) in closes.iter().enumerate() {
        b.push(i as i64 * 3_600_000_000, c, c, c, c, 0.0, 0.0);
    }
    b
}

/// OHLC bars around `closes`: open = previous close, high/low beyond the body by a random
/// fraction of up to `wick`.
pub fn ohlc_bars(closes: &[f64], seed: u64, wick: f64) -> BarColumns {
    let mut rng = Rng(seed);
    let mut b = BarColumns::with_capacity(closes.len(), false, false);
    for (i, &c) in closes.iter().enumerate() {
        let o = if i == 0 { c } else { closes[i - 1] };
        let h = o.max(c) * (1.0 + wick * rng.uniform());
        let l = o.min(c) * (1.0 - wick * rng.uniform());
        b.push(i as i64 * 3_600_000_000, o, h, l, c, 0.0, 0.0);
    }
    b
}
