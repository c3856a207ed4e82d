//! Random forest regressor (smartcore) with a deterministic training-row cap.

use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::model::{FitReport, ModelKind, Regressor, check_fit_inputs, check_predict_cols};

/// Hyper-parameters of [`RandomForest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForestConfig {
    /// Number of trees (default 50).
    pub n_trees: usize,
    /// Maximum tree depth (`None`: unlimited; default 10).
    pub max_depth: Option<u16>,
    /// Minimum number of training rows in a leaf (default 5).
    pub min_samples_leaf: usize,
    /// Minimum number of rows needed to split a node (default 10).
    pub min_samples_split: usize,
    /// Features tried at each split; `None` means `max(1, ⌊√p⌋)` (smartcore's default). The
    /// classic regression choice `p / 3` costs about 6× more at p = 350 (a default forest on
    /// 20 000 × 350 rows took about 2 minutes with `p / 3` and 100 trees on a loaded 2-core
    /// machine); set it explicitly if the budget allows.
    pub max_features: Option<usize>,
    /// Cap on training rows (default 20 000; `None`: no cap). Above it, rows are subsampled
    /// **deterministically and evenly in time**: row `⌊k·n/cap⌋` for `k = 0..cap`, which keeps
    /// the whole training period represented and needs no randomness. smartcore's forest is
    /// single-threaded and its cost grows with rows × trees.
    pub max_train_rows: Option<usize>,
    /// Seed of the bootstrap samples and feature draws (tree `t` uses `seed + t`).
    pub seed: u64,
}

impl Default for ForestConfig {
    fn default() -> Self {
        ForestConfig {
            n_trees: 50,
            max_depth: Some(10),
            min_samples_leaf: 5,
            min_samples_split: 10,
            max_features: None,
            max_train_rows: Some(20_000),
            seed: 0,
        }
    }
}

impl ForestConfig {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidConfig(format!("random forest: {m}")));
        if self.n_trees == 0 {
            return bad("n_trees must be ≥ 1");
        }
        if self.max_depth == Some(0) {
            return bad("max_depth must be ≥ 1");
        }
        if self.min_samples_leaf == 0 || self.min_samples_split < 2 {
            return bad("min_samples_leaf must be ≥ 1 and min_samples_split ≥ 2");
        }
        if self.max_features == Some(0) || self.max_train_rows == Some(0) {
            return bad("max_features and max_train_rows must be ≥ 1 when set");
        }
        Ok(())
    }
}

/// The rows kept by the cap: all of them, or `⌊k·n/cap⌋` for `k = 0..cap` (strictly increasing).
pub(crate) fn subsample_rows(n: usize, cap: Option<usize>) -> Option<Vec<usize>> {
    match cap {
        Some(cap) if n > cap => Some(
            (0..cap)
                .map(|k| ((k as u128 * n as u128) / cap as u128) as usize)
                .collect(),
        ),
        _ => None,
    }
}

type Forest = RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>;

/// Random forest regressor (smartcore, bootstrap, best splits on MSE). Trees are invariant to
/// monotone feature transforms, so no scaler is used. Deterministic given the seed. A random
/// forest has no restorable checkpoint: its card records parameters and feature importances.
#[derive(Debug)]
pub struct RandomForest {
    config: ForestConfig,
    forest: Option<Forest>,
    n_features: Option<usize>,
    importances: Option<Vec<f64>>,
    report: Option<FitReport>,
}

impl RandomForest {
    /// An unfitted forest.
    pub fn new(config: ForestConfig) -> Result<Self> {
        config.validate()?;
        Ok(RandomForest {
            config,
            forest: None,
            n_features: None,
            importances: None,
            report: None,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &ForestConfig {
        &self.config
    }

    /// Impurity-based feature importances of the fitted forest (normalized to sum to 1).
    pub fn feature_importances(&self) -> Option<&[f64]> {
        self.importances.as_deref()
    }
}

fn dense(x: &Matrix) -> Result<DenseMatrix<f64>> {
    Ok(DenseMatrix::new(
        x.rows(),
        x.cols(),
        x.as_slice().to_vec(),
        false,
    )?)
}

impl Regressor for RandomForest {
    fn kind(&self) -> ModelKind {
        ModelKind::RandomForest
    }
    fn name(&self) -> &str {
        "random_forest"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }

    fn fit(
        &mut self,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
    ) -> Result<FitReport> {
        check_fit_inputs(ModelKind::RandomForest, x, y, valid)?;
        let p = x.cols();
        if p == 0 {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::RandomForest,
                reason: "no features".into(),
            });
        }
        self.forest = None;
        self.report = None;
        self.importances = None;
        let (xs, ys) = match subsample_rows(x.rows(), self.config.max_train_rows) {
            Some(rows) => {
                let ys: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
                (x.select_rows(&rows)?, ys)
            }
            None => (x.clone(), y.to_vec()),
        };
        let sqrt_p = (p as f64).sqrt().floor() as usize;
        let m = self.config.max_features.unwrap_or(sqrt_p.max(1)).min(p);
        let mut params = RandomForestRegressorParameters::default()
            .with_n_trees(self.config.n_trees)
            .with_min_samples_leaf(self.config.min_samples_leaf)
            .with_min_samples_split(self.config.min_samples_split)
            .with_m(m)
            .with_seed(self.config.seed);
        if let Some(d) = self.config.max_depth {
            params = params.with_max_depth(d);
        }
        let forest: Forest = RandomForestRegressor::fit(&dense(&xs)?, &ys, params)?;
        let importances = forest.compute_feature_importances()?;
        let n_used = xs.rows();
        self.forest = Some(forest);
        self.n_features = Some(p);
        self.importances = Some(importances);
        let mut report =
            FitReport::basic(ModelKind::RandomForest, x, y, valid, |m| self.predict(m))?;
        report.n_train_used = n_used;
        self.report = Some(report.clone());
        Ok(report)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        let forest = self
            .forest
            .as_ref()
            .ok_or(Error::NotFitted(ModelKind::RandomForest))?;
        check_predict_cols(self.n_features.unwrap_or(0), x)?;
        if x.rows() == 0 {
            return Ok(Vec::new());
        }
        Ok(forest.predict(&dense(x)?)?)
    }

    fn n_features(&self) -> Option<usize> {
        self.n_features
    }

    fn fit_report(&self) -> Option<&FitReport> {
        self.report.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsampling_is_even_and_deterministic() {
        assert_eq!(subsample_rows(10, Some(20)), None);
        assert_eq!(subsample_rows(10, None), None);
        assert_eq!(subsample_rows(10, Some(5)), Some(vec![0, 2, 4, 6, 8]));
        let rows = subsample_rows(1_000_003, Some(20_000)).unwrap();
        assert_eq!(rows.len(), 20_000);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        assert!(*rows.last().unwrap() < 1_000_003);
    }
}
