//! Seeded circular moving-block bootstrap.
//!
//! Overlapping labels (and serially correlated P&L) make consecutive observations dependent, so
//! the i.i.d. bootstrap would understate the uncertainty. We resample **blocks** of consecutive
//! observations (circular: a block that runs past the end wraps to the start) until `n`
//! observations are drawn, and report percentile intervals.
//!
//! Determinism: resample `b` draws from its own ChaCha8 stream (`seed`, stream `b`), so the
//! result is identical whatever the number of rayon threads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};
use crate::stats::quantile_sorted;

/// Settings of a block bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples (default 1000).
    pub resamples: usize,
    /// Block length in observations; `None`: chosen from the data
    /// ([`BootstrapConfig::block_len_auto`], at least [`default_block_len`]). Callers that know a
    /// dependence length (the label horizon `h` for row-level metrics) raise it to at least that.
    pub block_len: Option<usize>,
    /// RNG seed (default 20240601).
    pub seed: u64,
    /// Two-sided confidence level of the percentile intervals (default 0.95).
    pub confidence: f64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            resamples: 1000,
            block_len: None,
            seed: 20_240_601,
            confidence: 0.95,
        }
    }
}

impl BootstrapConfig {
    /// Checks the ranges of the fields.
    pub fn validate(&self) -> Result<()> {
        if self.resamples == 0 {
            return Err(invalid("resamples", "must be at least 1"));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(invalid("confidence", "must lie in (0, 1)"));
        }
        if self.block_len == Some(0) {
            return Err(invalid("block_len", "must be at least 1"));
        }
        Ok(())
    }

    /// The block length used for `n` observations whose dependence lasts at least `min_len`
    /// observations: `max(block_len or default_block_len(n), min_len)`, capped at `n`.
    pub fn block_len_for(&self, n: usize, min_len: usize) -> usize {
        self.block_len
            .unwrap_or_else(|| default_block_len(n))
            .max(min_len)
            .min(n.max(1))
            .max(1)
    }
}

impl BootstrapConfig {
    /// The block length for the series `x` (in time order) whose dependence lasts at least
    /// `min_len` observations: the configured length, else the larger of `⌈n^(1/3)⌉` and the
    /// series' own automatic length ([`politis_white_block_len`]) — a predictor whose sign
    /// persists for hundreds of bars makes its hits dependent far beyond the label overlap, and
    /// a block shorter than that dependence gives a falsely narrow interval — at least
    /// `min_len`, capped at `n`.
    pub fn block_len_auto(&self, x: &[f64], min_len: usize) -> usize {
        let n = x.len();
        self.block_len
            .unwrap_or_else(|| default_block_len(n).max(politis_white_block_len(x)))
            .max(min_len)
            .min(n.max(1))
            .max(1)
    }
}

/// Politis & White's (2004) automatic block length for the circular block bootstrap of a mean,
/// with Patton, Politis & White's (2009) correction: `b = (2 Ĝ² / D̂)^(1/3) n^(1/3)`, where
/// `Ĝ = Σ λ(k/M) |k| R̂(k)`, `D̂ = (4/3) ĝ(0)²`, `ĝ(0) = Σ λ(k/M) R̂(k)` over `|k| ≤ M`, `λ` the
/// flat-top (trapezoid) window, and `M = 2 m̂` with `m̂` the smallest lag after which
/// `K_n = max(5, ⌈√log₁₀ n⌉)` autocorrelations in a row are inside `±2 √(log₁₀ n / n)`. At
/// least 1, at most `n / 3`; 1 for a constant or too short series.
pub fn politis_white_block_len(x: &[f64]) -> usize {
    let n = x.len();
    if n < 8 {
        return 1;
    }
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let c: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let acov = |k: usize| c[k..].iter().zip(&c).map(|(a, b)| a * b).sum::<f64>() / nf;
    let r0 = acov(0);
    if r0 <= 0.0 || !r0.is_finite() {
        return 1;
    }
    let max_lag = ((nf.sqrt().ceil() as usize) * 2 + 10).min(n - 1);
    let kn = 5usize.max(nf.log10().sqrt().ceil() as usize);
    let bound = 2.0 * (nf.log10() / nf).sqrt();
    let rho: Vec<f64> = (0..=max_lag).map(|k| acov(k) / r0).collect();
    // The first lag after which kn autocorrelations in a row are insignificant.
    let mut m_hat = max_lag.saturating_sub(kn);
    for m in 0..max_lag.saturating_sub(kn) {
        if (1..=kn).all(|j| rho[m + j].abs() < bound) {
            m_hat = m;
            break;
        }
    }
    let big_m = (2 * m_hat).clamp(1, max_lag);
    let lambda = |t: f64| {
        let t = t.abs();
        if t <= 0.5 {
            1.0
        } else if t <= 1.0 {
            2.0 * (1.0 - t)
        } else {
            0.0
        }
    };
    let (mut g, mut g0) = (0.0, r0);
    for k in 1..=big_m {
        let w = lambda(k as f64 / big_m as f64) * acov(k);
        g += 2.0 * k as f64 * w;
        g0 += 2.0 * w;
    }
    let d = 4.0 / 3.0 * g0 * g0;
    if d <= 0.0 || !d.is_finite() {
        return 1;
    }
    let b = (2.0 * g * g / d).cbrt() * nf.cbrt();
    if !b.is_finite() {
        return 1;
    }
    (b.ceil() as usize).clamp(1, (n / 3).max(1))
}

/// Default block length `⌈n^(1/3)⌉` (the classic rate for the block bootstrap of a mean), at
/// least 1.
pub fn default_block_len(n: usize) -> usize {
    ((n as f64).cbrt().ceil() as usize).max(1)
}

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    /// Whether `x` lies in `[lo, hi]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Runs the bootstrap of `K` statistics that are computed together on each resample (so they
/// share the resampled indices). `stat` receives the resampled observation indices (length `n`)
/// and returns the `K` statistics; non-finite values of a statistic are left out of its
/// interval. Returns one interval per statistic (`None` when no resample gave a finite value)
/// or an error for an invalid configuration.
pub fn block_bootstrap<const K: usize, F>(
    n: usize,
    block_len: usize,
    cfg: &BootstrapConfig,
    stat: F,
) -> Result<[Option<Interval>; K]>
where
    F: Fn(&[usize]) -> [f64; K] + Sync,
{
    cfg.validate()?;
    if n == 0 {
        return Ok([None; K]);
    }
    let block_len = block_len.clamp(1, n);
    let draws: Vec<[f64; K]> = (0..cfg.resamples)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(n),
            |idx, b| {
                let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
                rng.set_stream(b as u64);
                idx.clear();
                while idx.len() < n {
                    let start = rng.gen_range(0..n);
                    let take = block_len.min(n - idx.len());
                    for j in 0..take {
                        let i = start + j;
                        idx.push(if i >= n { i - n } else { i });
                    }
                }
                stat(idx)
            },
        )
        .collect();
    let alpha = (1.0 - cfg.confidence) / 2.0;
    let mut out = [None; K];
    for (k, slot) in out.iter_mut().enumerate() {
        let mut v: Vec<f64> = draws
            .iter()
            .map(|d| d[k])
            .filter(|x| x.is_finite())
            .collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(f64::total_cmp);
        *slot = Some(Interval {
            lo: quantile_sorted(&v, alpha),
            hi: quantile_sorted(&v, 1.0 - alpha),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_brackets_the_mean() {
        let x: Vec<f64> = (0..500).map(|i| ((i * 37) % 101) as f64).collect();
        let m = crate::stats::mean(&x);
        let cfg = BootstrapConfig::default();
        let run = || {
            block_bootstrap(x.len(), 10, &cfg, |idx| {
                [idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64]
            })
            .unwrap()[0]
                .unwrap()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.contains(m) && a.lo < a.hi, "{a:?} vs {m}");
        // A different seed gives a different (but still sensible) interval.
        let other = block_bootstrap(x.len(), 10, &BootstrapConfig { seed: 7, ..cfg }, |idx| {
            [idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64]
        })
        .unwrap()[0]
            .unwrap();
        assert_ne!(a, other);
    }

    #[test]
    fn rejects_bad_config_and_handles_empty() {
        let bad = BootstrapConfig {
            confidence: 1.0,
            ..Default::default()
        };
        assert!(block_bootstrap(5, 1, &bad, |_| [0.0]).is_err());
        let ok = BootstrapConfig::default();
        assert_eq!(block_bootstrap(0, 1, &ok, |_| [0.0]).unwrap(), [None]);
        assert_eq!(default_block_len(1000), 10);
        // Automatic length: short for independent values, long for a persistent series, and
        // it grows with the persistence.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let iid: Vec<f64> = (0..5000).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let ar = |phi: f64| {
            let mut v = 0.0;
            iid.iter()
                .map(|e| {
                    v = phi * v + e;
                    v
                })
                .collect::<Vec<f64>>()
        };
        let (b0, b5, b9, b99) = (
            politis_white_block_len(&iid),
            politis_white_block_len(&ar(0.5)),
            politis_white_block_len(&ar(0.9)),
            politis_white_block_len(&ar(0.99)),
        );
        assert!(b0 <= 5, "iid: {b0}");
        assert!(b0 <= b5 && b5 < b9 && b9 < b99, "{b0} {b5} {b9} {b99}");
        assert!(b99 > 100, "{b99}");
        assert_eq!(politis_white_block_len(&[1.0; 100]), 1);
        assert_eq!(ok.block_len_auto(&ar(0.99), 15), b99.max(15));
        assert_eq!(default_block_len(0), 1);
        assert_eq!(ok.block_len_for(1000, 60), 60);
        assert_eq!(ok.block_len_for(20, 60), 20);
    }
}
