//! Regression and direction metrics of out-of-sample predictions.
//!
//! Every function skips the rows where the prediction, the actual (or the benchmark) is not
//! finite, so callers can pass whole columns with `NaN` warm-up and tail rows.
//!
//! Values that are undefined for the data (a constant prediction has no IC, an all-zero target
//! has no R² against zero) are `None`, never `NaN`, so the reports serialize cleanly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bootstrap::{BootstrapConfig, Interval, block_bootstrap};
use crate::error::{EvalError, Result, same_len};
use crate::stats;

pub(crate) fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Out-of-sample regression metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Rows used (both prediction and actual finite).
    pub n: usize,
    /// `1 − SSE / Σ y²`: skill against the zero forecast.
    pub r2_vs_zero: Option<f64>,
    /// `1 − SSE / Σ (y − ȳ_train)²`: skill against the training mean of the fold.
    pub r2_vs_train_mean: Option<f64>,
    pub mae: f64,
    pub rmse: f64,
    /// Information coefficient: Spearman rank correlation (ties: average ranks).
    pub ic: Option<f64>,
    /// `std(prediction) / std(actual)` (ddof 1): far below 1 = a timid model.
    pub std_ratio: Option<f64>,
    /// `mean(prediction − actual)`: the bias.
    pub mean_error: f64,
}

/// Regression metrics against a single training mean (one fold).
pub fn regression(predicted: &[f64], actual: &[f64], train_mean: f64) -> Result<RegressionMetrics> {
    same_len("regression", predicted.len(), actual.len())?;
    let bench = vec![train_mean; actual.len()];
    regression_with_benchmark(predicted, actual, &bench)
}

/// Regression metrics where row `i`'s "training mean" benchmark is `benchmark[i]`: used when
/// rows of several folds (each with its own training mean) are concatenated.
pub fn regression_with_benchmark(
    predicted: &[f64],
    actual: &[f64],
    benchmark: &[f64],
) -> Result<RegressionMetrics> {
    same_len("regression", predicted.len(), actual.len())?;
    same_len("regression benchmark", benchmark.len(), actual.len())?;
    let mut p = Vec::with_capacity(actual.len());
    let mut y = Vec::with_capacity(actual.len());
    let (mut sse, mut sae, mut syy, mut sbb, mut se) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..actual.len() {
        let (pi, yi, bi) = (predicted[i], actual[i], benchmark[i]);
        if !(pi.is_finite() && yi.is_finite() && bi.is_finite()) {
            continue;
        }
        let e = pi - yi;
        sse += e * e;
        sae += e.abs();
        se += e;
        syy += yi * yi;
        sbb += (yi - bi) * (yi - bi);
        p.push(pi);
        y.push(yi);
    }
    let n = y.len();
    if n < 2 {
        return Err(EvalError::TooFewObservations {
            what: "regression",
            needed: 2,
            got: n,
        });
    }
    let nf = n as f64;
    let r2 = |den: f64| (den > 0.0).then(|| 1.0 - sse / den);
    Ok(RegressionMetrics {
        n,
        r2_vs_zero: r2(syy),
        r2_vs_train_mean: r2(sbb),
        mae: sae / nf,
        rmse: (sse / nf).sqrt(),
        ic: finite(stats::spearman(&p, &y)),
        std_ratio: finite(stats::std_dev(&p) / stats::std_dev(&y)),
        mean_error: se / nf,
    })
}

/// Directional accuracy with a binomial (Wilson) and a block-bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectionMetrics {
    /// Rows with a finite prediction and a finite, non-zero actual.
    pub n: usize,
    /// Rows where `sign(prediction) == sign(actual)`; a zero prediction is a miss.
    pub hits: usize,
    pub accuracy: f64,
    /// Wilson score interval (treats rows as independent: too narrow for overlapping labels).
    pub wilson: Interval,
    /// Block-bootstrap percentile interval (blocks of consecutive time stamps, see
    /// [`direction_grouped`]).
    pub bootstrap: Option<Interval>,
    /// Block length used by the bootstrap (in time stamps / rows).
    pub block_len: usize,
    /// Confidence level of both intervals.
    pub confidence: f64,
}

/// Wilson score interval for `hits` successes out of `n` at the two-sided `confidence`.
pub fn wilson_interval(hits: usize, n: usize, confidence: f64) -> Interval {
    if n == 0 {
        return Interval { lo: 0.0, hi: 1.0 };
    }
    let z = stats::normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let nf = n as f64;
    let p = hits as f64 / nf;
    let z2 = z * z;
    let den = 1.0 + z2 / nf;
    let center = (p + z2 / (2.0 * nf)) / den;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / den;
    Interval {
        lo: (center - half).max(0.0),
        hi: (center + half).min(1.0),
    }
}

/// Directional accuracy of one series in row order; the bootstrap resamples blocks of
/// consecutive rows, at least `horizon` long (overlapping labels are dependent over `h` rows)
/// and longer when the hits' own dependence asks for it
/// ([`crate::bootstrap::BootstrapConfig::block_len_auto`]).
pub fn direction(
    predicted: &[f64],
    actual: &[f64],
    horizon: usize,
    cfg: &BootstrapConfig,
) -> Result<DirectionMetrics> {
    let rows: Vec<i64> = (0..actual.len() as i64).collect();
    direction_grouped(predicted, actual, &rows, horizon, cfg)
}

/// Directional accuracy of rows that carry a time key (`group[i]`, e.g. the bar timestamp):
/// the bootstrap resamples blocks of consecutive **distinct keys**, and all rows that share a key
/// move together. Pooled across pairs this keeps the cross-sectional dependence of the 28 pairs
/// at the same time inside a block, so the interval is not falsely narrow.
pub fn direction_grouped(
    predicted: &[f64],
    actual: &[f64],
    group: &[i64],
    horizon: usize,
    cfg: &BootstrapConfig,
) -> Result<DirectionMetrics> {
    same_len("direction", predicted.len(), actual.len())?;
    same_len("direction groups", group.len(), actual.len())?;
    cfg.validate()?;
    // (hits, count) per key, in key order.
    let mut per_key: BTreeMap<i64, (u32, u32)> = BTreeMap::new();
    let (mut hits, mut n) = (0usize, 0usize);
    for i in 0..actual.len() {
        let (p, y) = (predicted[i], actual[i]);
        if !(p.is_finite() && y.is_finite()) || y == 0.0 {
            continue;
        }
        let hit = (p > 0.0 && y > 0.0) || (p < 0.0 && y < 0.0);
        let e = per_key.entry(group[i]).or_insert((0, 0));
        e.0 += hit as u32;
        e.1 += 1;
        hits += hit as usize;
        n += 1;
    }
    if n == 0 {
        return Err(EvalError::TooFewObservations {
            what: "direction",
            needed: 1,
            got: 0,
        });
    }
    let keys: Vec<(u32, u32)> = per_key.into_values().collect();
    // The block follows the dependence of the hit rate over time: at least the label overlap,
    // longer when the predictions' sign persists (see `block_len_auto`).
    let rate: Vec<f64> = keys.iter().map(|&(h, c)| h as f64 / c as f64).collect();
    let block_len = cfg.block_len_auto(&rate, horizon);
    let [boot] = block_bootstrap(keys.len(), block_len, cfg, |idx| {
        let (mut h, mut c) = (0u64, 0u64);
        for &i in idx {
            h += keys[i].0 as u64;
            c += keys[i].1 as u64;
        }
        [h as f64 / c as f64]
    })?;
    Ok(DirectionMetrics {
        n,
        hits,
        accuracy: hits as f64 / n as f64,
        wilson: wilson_interval(hits, n, cfg.confidence),
        bootstrap: boot,
        block_len,
        confidence: cfg.confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_by_hand() {
        let p = [1.0, 2.0, f64::NAN, 3.0, 0.0];
        let y = [1.5, 1.0, 7.0, 3.0, -1.0];
        let m = regression(&p, &y, 0.5).unwrap();
        // rows 0,1,3,4: e = −0.5, 1, 0, 1 → SSE 2.25, SAE 2.5, Σy² = 2.25+1+9+1 = 13.25
        assert_eq!(m.n, 4);
        assert!((m.r2_vs_zero.unwrap() - (1.0 - 2.25 / 13.25)).abs() < 1e-15);
        // Σ(y−0.5)² = 1 + 0.25 + 6.25 + 2.25 = 9.75
        assert!((m.r2_vs_train_mean.unwrap() - (1.0 - 2.25 / 9.75)).abs() < 1e-15);
        assert_eq!(m.mae, 2.5 / 4.0);
        assert_eq!(m.rmse, (2.25f64 / 4.0).sqrt());
        assert_eq!(m.mean_error, 1.5 / 4.0);
        // ranks p: 2,3,4,1; ranks y: 3,2,4,1 → Pearson of ranks = 0.8
        assert!((m.ic.unwrap() - 0.8).abs() < 1e-15);
        let constant = regression(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], 0.0).unwrap();
        assert_eq!(constant.ic, None);
        assert!(regression(&[1.0], &[1.0], 0.0).is_err());
        assert!(regression(&[1.0, 2.0], &[1.0], 0.0).is_err());
    }

    #[test]
    fn direction_by_hand() {
        let p = [1.0, -1.0, 1.0, 0.0, 2.0, -3.0];
        let y = [2.0, -1.0, -1.0, 1.0, 0.0, -2.0];
        let cfg = BootstrapConfig::default();
        let d = direction(&p, &y, 1, &cfg).unwrap();
        // y = 0 skipped; hits: rows 0, 1, 5; misses: 2, 3 (zero prediction)
        assert_eq!((d.n, d.hits), (5, 3));
        assert_eq!(d.accuracy, 0.6);
        assert!(d.wilson.lo < 0.6 && d.wilson.hi > 0.6);
        let b = d.bootstrap.unwrap();
        assert!(b.lo >= 0.0 && b.hi <= 1.0);
    }

    #[test]
    fn wilson_matches_reference() {
        // Wilson score formula evaluated in Python with scipy.stats.norm.ppf(0.975).
        let w = wilson_interval(60, 100, 0.95);
        assert!((w.lo - 0.502_002_586_791_061_8).abs() < 1e-9, "{w:?}");
        assert!((w.hi - 0.690_598_713_567_541_1).abs() < 1e-9, "{w:?}");
    }
}
