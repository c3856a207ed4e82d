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
    /// Block length in observations; `None` = [`default_block_len`]. Callers that know a
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
        assert_eq!(default_block_len(0), 1);
        assert_eq!(ok.block_len_for(1000, 60), 60);
        assert_eq!(ok.block_len_for(20, 60), 20);
    }
}
