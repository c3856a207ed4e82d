//! Champion/challenger for the frozen member.
//!
//! The frozen member is the pair's **champion**: a linear model on the standardized inputs,
//! first the offline fit, frozen between decisions. A confirmed drift of its error (ADWIN at
//! the drift level) starts a **challenger**:
//!
//! 1. *collecting* — the next `retrain_labels` matured `(inputs of t, label of t)` pairs are
//!    kept (only data after the detection: the new regime);
//! 2. *fitting* — they are handed to the app ([`RetrainRequest`]), which fits the challenger
//!    off the loop's thread; the loop goes on and needs the model only `retrain_delay` bars
//!    later, at a fixed row, so a resumed loop makes the same decisions as an uninterrupted one;
//! 3. *shadow* — from that row the challenger predicts beside the champion without being served;
//!    after `challenger_labels` of its predictions matured, the paired differences
//!    `|e_champion| − |e_challenger|` decide: the challenger is promoted only when the lower
//!    bound of their mean's interval (Newey–West, the labels overlap) is above 0.
//!
//! Every step is a [`Decision`] in the pair's log, with its evidence; a promotion can be rolled
//! back to the previous champion ([`crate::OnlineLoop::rollback`]).

use bqx_domain::Pair;
use serde::{Deserialize, Serialize};

use crate::engine::LinearModel;

/// A model that served as the frozen member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Champion {
    /// 0: the offline fit; otherwise the id of the challenger that was promoted.
    pub id: u32,
    pub model: LinearModel,
    /// From when it served (UTC µs; the offline fit: its last training bar).
    pub since_ts: i64,
}

/// A challenger in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Challenger {
    /// Keeping matured pairs after the drift until `needed` are in.
    Collecting {
        id: u32,
        started_ts: i64,
        needed: usize,
        z: Vec<Vec<f64>>,
        y: Vec<f64>,
    },
    /// Handed to the app; the model must be installed before row `due_row`.
    Fitting {
        id: u32,
        due_row: u64,
        z: Vec<Vec<f64>>,
        y: Vec<f64>,
        /// What the app returned (`Err`: why the fit failed).
        fitted: Option<Result<LinearModel, String>>,
    },
    /// Predicting beside the champion from row `since_row` until `needed` labels matured.
    Shadow {
        id: u32,
        model: LinearModel,
        since_ts: i64,
        needed: usize,
        /// |error| of the champion and of the challenger on the same matured labels.
        champion_abs: Vec<f64>,
        challenger_abs: Vec<f64>,
    },
}

impl Challenger {
    pub fn id(&self) -> u32 {
        match self {
            Challenger::Collecting { id, .. }
            | Challenger::Fitting { id, .. }
            | Challenger::Shadow { id, .. } => *id,
        }
    }

    /// Stage name, labels so far and labels needed (for views).
    pub fn progress(&self) -> (&'static str, usize, usize) {
        match self {
            Challenger::Collecting { needed, y, .. } => ("collecting", y.len(), *needed),
            Challenger::Fitting { y, .. } => ("fitting", y.len(), y.len()),
            Challenger::Shadow {
                needed,
                challenger_abs,
                ..
            } => ("shadow", challenger_abs.len(), *needed),
        }
    }
}

/// The training data of a challenger, for the app to fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrainRequest {
    pub pair: Pair,
    pub id: u32,
    /// Standardized inputs (the champion's scaler) and labels, oldest first.
    pub z: Vec<Vec<f64>>,
    pub y: Vec<f64>,
}

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// A confirmed drift of the champion's error: collecting recent labels.
    RetrainStarted,
    /// Enough labels: the challenger is being fitted.
    RetrainRequested,
    /// The fit failed; the champion stays.
    FitFailed,
    /// The challenger beat the champion: it serves from now on.
    Promoted,
    /// The challenger did not beat the champion by a margin whose interval excludes 0.
    Rejected,
    /// The previous champion serves again.
    RolledBack,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::RetrainStarted => "retrain_started",
            DecisionKind::RetrainRequested => "retrain_requested",
            DecisionKind::FitFailed => "fit_failed",
            DecisionKind::Promoted => "promoted",
            DecisionKind::Rejected => "rejected",
            DecisionKind::RolledBack => "rolled_back",
        }
    }
}

/// The paired comparison a promotion is decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// Matured labels both predicted.
    pub labels: usize,
    pub champion_mae: f64,
    pub challenger_mae: f64,
    /// Mean of `|e_champion| − |e_challenger|` (positive: the challenger is better) and its
    /// interval.
    pub mean_diff: f64,
    pub lo: f64,
    pub hi: f64,
    /// Newey–West lags (Bartlett kernel) and the normal quantile of the interval.
    pub hac_lags: usize,
    pub z: f64,
}

/// One entry of a pair's decision log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub pair: Pair,
    /// Bar at which it was decided (UTC µs).
    pub ts: i64,
    pub kind: DecisionKind,
    /// The challenger concerned (a rollback: the champion rolled back).
    pub challenger: u32,
    /// The champion serving after the decision.
    pub champion: u32,
    pub reason: String,
    pub test: Option<PairedTest>,
}

/// Mean of `d` and its interval `mean ± z·se`, with the Newey–West (Bartlett) long-run variance
/// over `lags` lags: consecutive labels of horizon h share h − 1 bars, so their differences are
/// autocorrelated and the iid standard error would be too small.
pub fn hac_interval(d: &[f64], lags: usize, z: f64) -> (f64, f64, f64) {
    let n = d.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let nf = n as f64;
    let mean = d.iter().sum::<f64>() / nf;
    let c: Vec<f64> = d.iter().map(|v| v - mean).collect();
    let gamma = |k: usize| c[k..].iter().zip(&c).map(|(a, b)| a * b).sum::<f64>() / nf;
    let lags = lags.min(n - 1);
    let mut v = gamma(0);
    for k in 1..=lags {
        v += 2.0 * (1.0 - k as f64 / (lags as f64 + 1.0)) * gamma(k);
    }
    let se = (v.max(0.0) / nf).sqrt();
    (mean, mean - z * se, mean + z * se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hac_matches_statsmodels() {
        // statsmodels 0.15: OLS(d, ones).fit(cov_type="HAC", cov_kwds={"maxlags": 3,
        // "use_correction": False}).bse[0] on this series (crates/bqx-online/tests/golden/gen_hac.py).
        let d = [
            0.3, -0.1, 0.4, 0.2, -0.5, 0.9, 0.1, 0.0, -0.2, 0.6, 0.35, -0.05, 0.15, 0.8, -0.4, 0.25,
        ];
        let (mean, lo, hi) = hac_interval(&d, 3, 1.0);
        assert!((mean - 0.175).abs() < 1e-12);
        let se = hi - mean;
        assert!((mean - lo - se).abs() < 1e-12);
        assert!((se - HAC_SE_GOLDEN).abs() < 1e-12, "se {se}");
    }

    const HAC_SE_GOLDEN: f64 = 0.037920815935973795;

    #[test]
    fn hac_without_lags_is_the_iid_standard_error() {
        let d = [1.0, 2.0, 3.0, 4.0];
        let (m, lo, _) = hac_interval(&d, 0, 1.0);
        // Population variance 1.25, n = 4: se = sqrt(1.25 / 4).
        assert_eq!(m, 2.5);
        assert!((m - lo - (1.25f64 / 4.0).sqrt()).abs() < 1e-15);
    }
}
