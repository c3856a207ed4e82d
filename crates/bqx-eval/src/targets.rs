//! Targets (labels) and the overlap ceiling.
//!
//! All target functions take a pair's closes `r` in row order and return one value per row,
//! `NaN` where the value is undefined (the last rows, whose future is not in the data, and rows
//! too early for the window). The label of row `t` uses rows `t+1 ..= t+h` (and, for BQX, the
//! rows of the window ending at `t+h`).
//!
//! **Sign convention of BQX (kept from the original project):** `bqx_return_W(t)` is positive
//! when the price has **fallen** relative to its recent path. A positive predicted BQX target is
//! a prediction that the price at `t+h` will be *below* its path, i.e. a bearish call.

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// Default BQX window of the target (bars).
pub const DEFAULT_WINDOW: usize = 60;
/// Default horizon of the target (bars).
pub const DEFAULT_HORIZON: usize = 60;

fn check_positive(name: &'static str, v: usize) -> Result<()> {
    if v == 0 {
        Err(invalid(name, "must be at least 1"))
    } else {
        Ok(())
    }
}

/// `bqx_return_W(t) = W · (mean(r(t−W..t−1)) − r(t)) / r(t)` (features.md), `NaN` for `t < W`.
pub fn bqx_return(r: &[f64], window: usize) -> Result<Vec<f64>> {
    check_positive("window", window)?;
    let n = r.len();
    let mut out = vec![f64::NAN; n];
    for (t, slot) in out.iter_mut().enumerate().skip(window) {
        // Direct sum per row: exact to rounding, no drift of running sums over millions of rows.
        let s: f64 = r[t - window..t].iter().sum();
        *slot = (s - window as f64 * r[t]) / r[t];
    }
    Ok(out)
}

/// The BQX target `y(t) = bqx_return_W(t + h)`; `NaN` where `t + h ≥ n` or `t + h < W`.
/// Default `W = h = 60` ([`DEFAULT_WINDOW`], [`DEFAULT_HORIZON`]).
pub fn bqx_target(r: &[f64], window: usize, horizon: usize) -> Result<Vec<f64>> {
    check_positive("horizon", horizon)?;
    let b = bqx_return(r, window)?;
    let n = r.len();
    Ok((0..n)
        .map(|t| {
            if t + horizon < n {
                b[t + horizon]
            } else {
                f64::NAN
            }
        })
        .collect())
}

/// Future volatility: the sample standard deviation (ddof 1) of the one-bar log returns
/// `ln(r(j)/r(j−1))` over `j = t+1 ..= t+h`; `NaN` where `t + h ≥ n`. Needs `h ≥ 2`.
pub fn future_vol(r: &[f64], horizon: usize) -> Result<Vec<f64>> {
    if horizon < 2 {
        return Err(invalid("horizon", "future_vol needs h ≥ 2 (ddof = 1)"));
    }
    let n = r.len();
    let lr: Vec<f64> = (0..n)
        .map(|j| {
            if j == 0 {
                f64::NAN
            } else {
                (r[j] / r[j - 1]).ln()
            }
        })
        .collect();
    let mut out = vec![f64::NAN; n];
    for (t, slot) in out.iter_mut().enumerate() {
        if t + horizon >= n {
            break;
        }
        let w = &lr[t + 1..=t + horizon];
        *slot = crate::stats::std_dev(w);
    }
    Ok(out)
}

/// Future log return `ln(r(t+h)/r(t))`; `NaN` where `t + h ≥ n`.
pub fn future_log_return(r: &[f64], horizon: usize) -> Result<Vec<f64>> {
    check_positive("horizon", horizon)?;
    let n = r.len();
    Ok((0..n)
        .map(|t| {
            if t + horizon < n {
                (r[t + horizon] / r[t]).ln()
            } else {
                f64::NAN
            }
        })
        .collect())
}

/// Quantile cut-offs of the five regimes of the future price move (features.md, stage 2.18),
/// fitted on the training part of a fold only.
///
/// Classes: `0` strong down (`x < q10`), `1` down (`q10 ≤ x < q30`), `2` flat
/// (`q30 ≤ x ≤ q70`), `3` up (`q70 < x ≤ q90`), `4` strong up (`x > q90`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegimeCuts {
    /// The 10 %, 30 %, 70 % and 90 % quantiles (linear interpolation) of the training future log
    /// returns.
    pub cuts: [f64; 4],
}

impl RegimeCuts {
    /// Quantile levels of the four cuts.
    pub const LEVELS: [f64; 4] = [0.10, 0.30, 0.70, 0.90];
    /// Class returned by [`RegimeCuts::classify`] for a non-finite input.
    pub const UNDEFINED: u8 = u8::MAX;

    /// Fits the cuts on training future log returns (non-finite values are ignored; at least 5
    /// finite values are required).
    pub fn fit(train_future_log_returns: &[f64]) -> Result<RegimeCuts> {
        let finite = train_future_log_returns
            .iter()
            .filter(|v| v.is_finite())
            .count();
        if finite < 5 {
            return Err(crate::EvalError::TooFewObservations {
                what: "RegimeCuts::fit",
                needed: 5,
                got: finite,
            });
        }
        let mut sorted: Vec<f64> = train_future_log_returns
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        sorted.sort_by(f64::total_cmp);
        let cuts = Self::LEVELS.map(|q| crate::stats::quantile_sorted(&sorted, q));
        Ok(RegimeCuts { cuts })
    }

    /// The regime class 0..=4 of `x` (see the type's doc), or [`RegimeCuts::UNDEFINED`] (255)
    /// when `x` is not finite: callers must drop those rows, never train on them.
    pub fn classify(&self, x: f64) -> u8 {
        let [c10, c30, c70, c90] = self.cuts;
        if !x.is_finite() {
            Self::UNDEFINED
        } else if x < c10 {
            0
        } else if x < c30 {
            1
        } else if x <= c70 {
            2
        } else if x <= c90 {
            3
        } else {
            4
        }
    }

    /// [`RegimeCuts::classify`] applied to every value.
    pub fn classify_all(&self, x: &[f64]) -> Vec<u8> {
        x.iter().map(|&v| self.classify(v)).collect()
    }
}

/// `S(n) = n(n+1)(2n+1)/6 = Σ_{k=1..n} k²`.
fn sum_squares(n: usize) -> f64 {
    let n = n as f64;
    n * (n + 1.0) * (2.0 * n + 1.0) / 6.0
}

/// The best R² reachable for the BQX target of window `W` at horizon `h` from what is already
/// observed at `t`: `S(W−h) / S(W)` (0 when `h ≥ W`).
///
/// Derivation: `bqx_W(t) ≈ −Σ_{m=1..W} (W−m+1)·ε(t−m+1)` with i.i.d. one-bar log returns ε, so
/// at `t+h` the returns up to `t` (weights `W−h … 1`) are known and the rest (weights
/// `W … W−h+1`) are not; the known part's share of the variance is `S(W−h)/S(W)`.
pub fn bqx_r2_ceiling(window: usize, horizon: usize) -> f64 {
    if horizon >= window || window == 0 {
        0.0
    } else {
        sum_squares(window - horizon) / sum_squares(window)
    }
}

/// The best R² for a plain `W`-bar return target at horizon `h`: `(W−h)/W` (0 when `h ≥ W`).
pub fn return_r2_ceiling(window: usize, horizon: usize) -> f64 {
    if horizon >= window || window == 0 {
        0.0
    } else {
        (window - horizon) as f64 / window as f64
    }
}

/// Directional accuracy of the best (jointly Gaussian) predictor with the given R²:
/// `½ + asin(√R²)/π` (the orthant probability of a bivariate normal with correlation √R²).
pub fn da_from_r2(r2: f64) -> f64 {
    0.5 + r2.clamp(0.0, 1.0).sqrt().asin() / std::f64::consts::PI
}

/// Which target family an [`OverlapCeiling`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetFamily {
    /// `bqx_return_W(t+h)`.
    Bqx,
    /// A plain `W`-bar return observed `h` bars ahead.
    Return,
}

/// The overlap ceiling shown beside every result: what a predictor reaches from the part of the
/// target already observed at `t`, without any skill. A result at or below it is not skill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OverlapCeiling {
    pub family: TargetFamily,
    pub window: usize,
    pub horizon: usize,
    /// Best out-of-sample R² reachable from the overlap alone.
    pub r2: f64,
    /// Directional accuracy reachable from the overlap alone (`½ + asin(√r2)/π`).
    pub directional_accuracy: f64,
}

impl OverlapCeiling {
    /// The ceiling of the BQX target.
    pub fn bqx(window: usize, horizon: usize) -> OverlapCeiling {
        let r2 = bqx_r2_ceiling(window, horizon);
        OverlapCeiling {
            family: TargetFamily::Bqx,
            window,
            horizon,
            r2,
            directional_accuracy: da_from_r2(r2),
        }
    }

    /// The ceiling of a plain `W`-bar return target.
    pub fn plain_return(window: usize, horizon: usize) -> OverlapCeiling {
        let r2 = return_r2_ceiling(window, horizon);
        OverlapCeiling {
            family: TargetFamily::Return,
            window,
            horizon,
            r2,
            directional_accuracy: da_from_r2(r2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_by_hand() {
        let r = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
        let b = bqx_return(&r, 2).unwrap();
        assert!(b[0].is_nan() && b[1].is_nan());
        // t = 2: (1 + 2 − 2·4)/4 = −1.25
        assert_eq!(b[2], -1.25);
        assert_eq!(b[5], (8.0 + 16.0 - 64.0) / 32.0);
        let y = bqx_target(&r, 2, 1).unwrap();
        assert!(y[0].is_nan());
        assert_eq!(y[1], b[2]);
        assert_eq!(y[4], b[5]);
        assert!(y[5].is_nan());
        let f = future_log_return(&r, 2).unwrap();
        assert!((f[0] - 4f64.ln()).abs() < 1e-15);
        assert!(f[4].is_nan() && f[5].is_nan());
        let v = future_vol(&[1.0, 1.0, 2.0, 2.0, 2.0], 2).unwrap();
        // returns over rows 1..=2: 0, ln 2 → std = ln2/√2
        assert!((v[0] - 2f64.ln() / 2f64.sqrt()).abs() < 1e-15);
        assert!((v[1] - 2f64.ln() / 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(v[2], 0.0);
        assert!(v[3].is_nan());
        assert!(future_vol(&r, 1).is_err());
        assert!(bqx_return(&r, 0).is_err());
    }

    #[test]
    fn regime_cuts_classify() {
        let x: Vec<f64> = (0..=100).map(|i| i as f64).collect();
        let cuts = RegimeCuts::fit(&x).unwrap();
        assert_eq!(cuts.cuts, [10.0, 30.0, 70.0, 90.0]);
        let cls = cuts.classify_all(&[-1.0, 10.0, 29.9, 30.0, 70.0, 70.1, 90.0, 90.1, f64::NAN]);
        assert_eq!(cls, vec![0, 1, 1, 2, 2, 3, 3, 4, RegimeCuts::UNDEFINED]);
        assert!(RegimeCuts::fit(&[1.0, f64::NAN]).is_err());
        let json = serde_json::to_string(&cuts).unwrap();
        assert_eq!(serde_json::from_str::<RegimeCuts>(&json).unwrap(), cuts);
    }

    #[test]
    fn ceiling_formulas() {
        // S(45)/S(60) = 45·46·91 / (60·61·121)
        let want = (45.0 * 46.0 * 91.0) / (60.0 * 61.0 * 121.0);
        assert!((bqx_r2_ceiling(60, 15) - want).abs() < 1e-15);
        assert_eq!(bqx_r2_ceiling(60, 60), 0.0);
        assert_eq!(bqx_r2_ceiling(60, 90), 0.0);
        assert_eq!(return_r2_ceiling(60, 15), 0.75);
        assert_eq!(return_r2_ceiling(10, 10), 0.0);
        assert_eq!(da_from_r2(0.0), 0.5);
        assert_eq!(da_from_r2(1.0), 1.0);
        let c = OverlapCeiling::bqx(60, 60);
        assert_eq!((c.r2, c.directional_accuracy), (0.0, 0.5));
        let c = OverlapCeiling::plain_return(4, 1);
        assert!(
            (c.directional_accuracy - (0.5 + 0.75f64.sqrt().asin() / std::f64::consts::PI)).abs()
                < 1e-15
        );
    }
}
