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

/// A deterministic 28-pair panel of `n` hourly rows: 8 currency values (random walks, USD also
/// driven by a common factor), pair closes `value(base)/value(quote)` times independent pair
/// noise (so triangles do not close exactly). With `holes`, about 1 % of the closes are
/// missing (`NaN`). Returns `(ts, close[pair][row])`.
pub fn synthetic_panel(n: usize, seed: u64, holes: bool) -> (Vec<i64>, Vec<Vec<f64>>) {
    let mut rng = Rng(seed);
    let mut lv = [1.08f64, 1.27, 0.66, 0.61, 1.0, 0.73, 1.13, 0.0067].map(f64::ln);
    let mut close: Vec<Vec<f64>> = (0..28).map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n {
        let common = 0.0004 * rng.normal();
        for (c, v) in lv.iter_mut().enumerate() {
            *v += 0.0006 * rng.normal() + if c == 4 { -common } else { common };
        }
        let mut p = 0;
        for a in 0..8 {
            for b in a + 1..8 {
                let mut x = (lv[a] - lv[b] + 0.00002 * rng.normal()).exp();
                if holes && rng.uniform() < 0.01 {
                    x = f64::NAN;
                }
                close[p].push(x);
                p += 1;
            }
        }
    }
    let ts = (0..n as i64).map(|i| i * 3_600_000_000).collect();
    (ts, close)
}

/// `bars` with a tick volume (random, a no-tick stretch at rows 500..=540) and a spread
/// (random, a fixed stretch at rows 300..=400); with `unknown`, about 0.5 % of each are
/// unknown (`NaN`).
pub fn with_micro(mut b: BarColumns, seed: u64, unknown: bool) -> BarColumns {
    let mut rng = Rng(seed ^ 0x5EED);
    let n = b.len();
    let p = if unknown { 0.005 } else { 0.0 };
    let spread: Vec<f64> = (0..n)
        .map(|i| match i {
            _ if rng.uniform() < p => f64::NAN,
            300..=400 => 0.00015,
            _ => 0.0001 + 0.0001 * rng.uniform(),
        })
        .collect();
    let volume: Vec<f64> = (0..n)
        .map(|i| match i {
            _ if rng.uniform() < p => f64::NAN,
            500..=540 => 0.0,
            _ => (100.0 + 30.0 * rng.normal()).max(0.0).round(),
        })
        .collect();
    b.spread = Some(spread);
    b.volume = Some(volume);
    b
}
