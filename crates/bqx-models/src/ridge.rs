//! Ridge regression (smartcore) on standardized features.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::model::{FitReport, ModelKind, Regressor, check_fit_inputs, check_predict_cols};
use crate::scaler::StandardScaler;

/// Hyper-parameters of [`Ridge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RidgeConfig {
    /// L2 penalty on the coefficients of the **standardized** features (≥ 0; must be > 0
    /// when a feature is constant on the training rows). Default 1.0. Used as is when
    /// `alphas` is empty or no validation rows are given.
    pub alpha: f64,
    /// Candidate penalties: with validation rows, the one with the lowest validation MSE is
    /// chosen (the normal equations are formed once and solved per candidate). Default
    /// 1, 10, …, 10⁵.
    pub alphas: Vec<f64>,
}

impl Default for RidgeConfig {
    fn default() -> Self {
        RidgeConfig {
            alpha: 1.0,
            alphas: vec![1.0, 10.0, 100.0, 1e3, 1e4, 1e5],
        }
    }
}

impl RidgeConfig {
    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        for &a in std::iter::once(&self.alpha).chain(&self.alphas) {
            if !(a.is_finite() && a >= 0.0) {
                return Err(Error::InvalidConfig(format!(
                    "ridge alpha must be finite and ≥ 0, got {a}"
                )));
            }
        }
        Ok(())
    }
}

/// The fitted state of a ridge model: everything needed to predict, serializable into its card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeState {
    /// Scaler fitted on the training rows.
    pub scaler: StandardScaler,
    /// Coefficients on the standardized features.
    pub coefficients: Vec<f64>,
    /// Intercept (the training mean of the target).
    pub intercept: f64,
    /// The penalty used (chosen on the validation rows when candidates were given).
    #[serde(default)]
    pub alpha: f64,
}

impl RidgeState {
    /// Coefficients and intercept expressed on the **raw** features:
    /// `y = intercept + Σ β_j x_j` with `β_j = w_j / std_j`, `intercept = b − Σ β_j mean_j`.
    pub fn raw_coefficients(&self) -> (Vec<f64>, f64) {
        let beta: Vec<f64> = self
            .coefficients
            .iter()
            .zip(self.scaler.std())
            .map(|(w, s)| w / s)
            .collect();
        let shift: f64 = beta
            .iter()
            .zip(self.scaler.mean())
            .map(|(b, m)| b * m)
            .sum();
        (beta, self.intercept - shift)
    }

    pub(crate) fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        check_predict_cols(self.coefficients.len(), x)?;
        let z = self.scaler.transform(x)?;
        Ok((0..z.rows())
            .map(|i| {
                let dot: f64 = z
                    .row(i)
                    .iter()
                    .zip(&self.coefficients)
                    .map(|(a, b)| a * b)
                    .sum();
                self.intercept + dot
            })
            .collect())
    }

    pub(crate) fn validate(&self) -> Result<()> {
        self.scaler.validate()?;
        if self.scaler.n_features() != self.coefficients.len()
            || self.coefficients.iter().any(|c| !c.is_finite())
            || !self.intercept.is_finite()
        {
            return Err(Error::InvalidConfig("inconsistent ridge state".into()));
        }
        Ok(())
    }
}

/// Solves `(ZᵀZ + αI) w = Zᵀy` for row-major `z` (n × p): the Gram matrix and `Zᵀy` are
/// accumulated row by row (upper triangle, then mirrored), the system is solved by smartcore's
/// Cholesky decomposition.
fn normal_equations(z: &Matrix, y: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
    // ZᵀZ and Zᵀy by candle's CPU matrix multiply (f64, gemm): cache-blocked and
    // multi-threaded over output tiles, so the sums of each entry run in a fixed order and the
    // result does not depend on the thread count.
    let (n, p) = z.shape();
    let backend = Error::from;
    let dev = candle_core::Device::Cpu;
    let zt = candle_core::Tensor::from_slice(z.as_slice(), (n, p), &dev).map_err(backend)?;
    let yt = candle_core::Tensor::from_slice(y, (n, 1), &dev).map_err(backend)?;
    let ztt = zt.t().map_err(backend)?;
    let gram = ztt
        .matmul(&zt)
        .and_then(|g| g.flatten_all())
        .and_then(|g| g.to_vec1::<f64>())
        .map_err(backend)?;
    let xty = ztt
        .matmul(&yt)
        .and_then(|g| g.flatten_all())
        .and_then(|g| g.to_vec1::<f64>())
        .map_err(backend)?;
    Ok((gram, xty))
}

/// Solves the normal equations `(gram + αI) w = xty` by a Cholesky factorization on a flat
/// row-major buffer (p³/6 multiply-adds; the backtest solves it once per candidate alpha, so
/// smartcore's element-accessor Cholesky was the bottleneck). A unit test checks the
/// coefficients against smartcore's own `RidgeRegression`.
fn solve_normal_equations(gram: &[f64], xty: &[f64], alpha: f64) -> Result<Vec<f64>> {
    let p = xty.len();
    let mut l = gram.to_vec();
    for j in 0..p {
        l[j * p + j] += alpha;
    }
    let not_pd = || Error::InvalidTrainingData {
        kind: ModelKind::Ridge,
        reason: "the ridge system is not positive definite; increase alpha".into(),
    };
    // In place: the lower triangle of `l` becomes L with L·Lᵀ = gram + αI.
    for j in 0..p {
        let (done, rest) = l.split_at_mut(j * p);
        let row_j = &mut rest[..p];
        for k in 0..j {
            let row_k = &done[k * p..k * p + k + 1];
            let dot: f64 = row_j[..k].iter().zip(&row_k[..k]).map(|(a, b)| a * b).sum();
            row_j[k] = (row_j[k] - dot) / row_k[k];
        }
        let d = row_j[j] - row_j[..j].iter().map(|a| a * a).sum::<f64>();
        if !(d > 0.0 && d.is_finite()) {
            return Err(not_pd());
        }
        row_j[j] = d.sqrt();
    }
    // L·z = xty, then Lᵀ·w = z.
    let mut w = xty.to_vec();
    for j in 0..p {
        let row = &l[j * p..j * p + j];
        let dot: f64 = row.iter().zip(&w[..j]).map(|(a, b)| a * b).sum();
        w[j] = (w[j] - dot) / l[j * p + j];
    }
    for j in (0..p).rev() {
        let mut v = w[j];
        for k in j + 1..p {
            v -= l[k * p + j] * w[k];
        }
        w[j] = v / l[j * p + j];
    }
    Ok(w)
}

/// Ridge regression.
///
/// The features are standardized with a [`StandardScaler`] fitted on the training rows (`Z`)
/// and the target is centred on its training mean ȳ; the coefficients solve
/// `(ZᵀZ + αI) w = Zᵀ(y − ȳ)` and the intercept is ȳ (not penalized). This is exactly what
/// smartcore's `RidgeRegression::fit` computes with `normalize = false` and its Cholesky
/// solver — a unit test checks that both give the same coefficients — but assembled and solved
/// here: smartcore forms `ZᵀZ` with a naive triple loop that did not finish in 4 minutes on
/// 100 000 × 350 rows, and its accessor-based Cholesky dominated the walk-forward backtest
/// (one solve per candidate alpha per fold and pair). `ZᵀZ` comes from candle's gemm (output
/// tiles in parallel, each sum in a fixed order: deterministic whatever the thread count).
///
/// Predictions are computed from the coefficients, so a model restored from its JSON card
/// predicts bit-identically. Fitting needs more training rows than features (as smartcore);
/// the validation set is only reported.
#[derive(Debug, Clone)]
pub struct Ridge {
    config: RidgeConfig,
    state: Option<RidgeState>,
    report: Option<FitReport>,
}

impl Ridge {
    /// An unfitted ridge model.
    pub fn new(config: RidgeConfig) -> Result<Self> {
        config.validate()?;
        Ok(Ridge {
            config,
            state: None,
            report: None,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &RidgeConfig {
        &self.config
    }

    /// The fitted state (scaler, coefficients, intercept).
    pub fn state(&self) -> Option<&RidgeState> {
        self.state.as_ref()
    }

    pub(crate) fn restored(
        config: RidgeConfig,
        state: RidgeState,
        report: Option<FitReport>,
    ) -> Result<Self> {
        config.validate()?;
        state.validate()?;
        Ok(Ridge {
            config,
            state: Some(state),
            report,
        })
    }
}

impl Regressor for Ridge {
    fn kind(&self) -> ModelKind {
        ModelKind::Ridge
    }
    fn name(&self) -> &str {
        "ridge"
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
        check_fit_inputs(ModelKind::Ridge, x, y, valid)?;
        let (n, p) = x.shape();
        if p == 0 || n <= p {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Ridge,
                reason: format!("needs more rows than features (≥ 1 feature); got {n} × {p}"),
            });
        }
        self.state = None;
        self.report = None;
        let (scaler, z) = StandardScaler::fit_transform(x)?;
        let y_mean = y.iter().sum::<f64>() / n as f64;
        let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
        let (gram, xty) = normal_equations(&z, &yc)?;
        let (coefficients, alpha) = match valid {
            Some((vx, vy)) if !self.config.alphas.is_empty() && vx.rows() > 0 => {
                // The candidate with the lowest validation MSE (ties: the smaller alpha).
                let vz = scaler.transform(vx)?;
                let mut best: Option<(f64, Vec<f64>, f64)> = None;
                for &a in &self.config.alphas {
                    let Ok(w) = solve_normal_equations(&gram, &xty, a) else {
                        continue;
                    };
                    let mse = (0..vz.rows())
                        .map(|i| {
                            let pred =
                                y_mean + vz.row(i).iter().zip(&w).map(|(x, c)| x * c).sum::<f64>();
                            (pred - vy[i]).powi(2)
                        })
                        .sum::<f64>()
                        / vz.rows() as f64;
                    if mse.is_finite() && best.as_ref().is_none_or(|b| mse < b.0) {
                        best = Some((mse, w, a));
                    }
                }
                let (_, w, a) = best.ok_or_else(|| Error::InvalidTrainingData {
                    kind: ModelKind::Ridge,
                    reason: "no candidate alpha gives a solvable system".into(),
                })?;
                (w, a)
            }
            _ => (
                solve_normal_equations(&gram, &xty, self.config.alpha)?,
                self.config.alpha,
            ),
        };
        let intercept = y_mean;
        if coefficients.iter().any(|c| !c.is_finite()) {
            return Err(Error::InvalidTrainingData {
                kind: ModelKind::Ridge,
                reason: "non-finite coefficients (singular system; increase alpha)".into(),
            });
        }
        let state = RidgeState {
            scaler,
            coefficients,
            intercept,
            alpha,
        };
        let report = FitReport::basic(ModelKind::Ridge, x, y, valid, |m| state.predict(m))?;
        self.state = Some(state);
        self.report = Some(report.clone());
        Ok(report)
    }

    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.state
            .as_ref()
            .ok_or(Error::NotFitted(ModelKind::Ridge))?
            .predict(x)
    }

    fn n_features(&self) -> Option<usize> {
        self.state.as_ref().map(|s| s.coefficients.len())
    }

    fn fit_report(&self) -> Option<&FitReport> {
        self.report.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use smartcore::linear::ridge_regression::{
        RidgeRegression, RidgeRegressionParameters, RidgeRegressionSolverName,
    };

    use super::*;

    #[test]
    fn same_coefficients_as_smartcore_ridge_regression() {
        // A small correlated design, standardized as in `fit`.
        let n = 120;
        let p = 6;
        let data: Vec<f64> = (0..n * p)
            .map(|k| {
                let (i, j) = ((k / p) as f64, (k % p) as f64);
                (0.37 * i * (j + 1.0)).sin() + 0.1 * (1.3 * i + j).cos() * j
            })
            .collect();
        let y: Vec<f64> = (0..n).map(|i| (0.11 * i as f64).cos() + 0.5).collect();
        let x = Matrix::from_row_major(n, p, data).unwrap();
        let (_, z) = StandardScaler::fit_transform(&x).unwrap();
        let y_mean = y.iter().sum::<f64>() / n as f64;
        let yc: Vec<f64> = y.iter().map(|v| v - y_mean).collect();
        for alpha in [1e-3, 1.0, 50.0] {
            let (g, b) = normal_equations(&z, &yc).unwrap();
            let ours = solve_normal_equations(&g, &b, alpha).unwrap();
            use smartcore::linalg::basic::arrays::Array;
            use smartcore::linalg::basic::matrix::DenseMatrix;
            let zm = DenseMatrix::new(n, p, z.as_slice().to_vec(), false).unwrap();
            let params = RidgeRegressionParameters::default()
                .with_alpha(alpha)
                .with_solver(RidgeRegressionSolverName::Cholesky)
                .with_normalize(false);
            let theirs: RidgeRegression<f64, f64, DenseMatrix<f64>, Vec<f64>> =
                RidgeRegression::fit(&zm, &yc, params).unwrap();
            assert_eq!(*theirs.intercept(), 0.0);
            for (j, w) in ours.iter().enumerate() {
                let t = *theirs.coefficients().get((j, 0));
                assert!(
                    (w - t).abs() <= 1e-9 * (1.0 + t.abs()),
                    "alpha {alpha}, w{j}: {w} vs {t}"
                );
            }
        }
    }
}
