//! Per-column standardization fitted on training rows only.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// Per-column standardization `z = (x − mean) / std`.
///
/// * Fitted on the rows it is given — pass the **training rows of a fold only**; transforming
///   validation or test rows never changes it.
/// * `std` is the population standard deviation (**ddof = 0**, as scikit-learn's
///   `StandardScaler`), computed in two passes in `f64` in row order, so the result is
///   deterministic.
/// * A column that is constant on the training rows (max = min) gets `mean` = that value and
///   `std` = 1, so it maps exactly to 0 on those rows (and to `x − value` elsewhere).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    mean: Vec<f64>,
    std: Vec<f64>,
    n_samples: usize,
}

impl StandardScaler {
    /// Fits the scaler on every row of `x` (at least one row).
    pub fn fit(x: &Matrix) -> Result<Self> {
        let (n, p) = x.shape();
        if n == 0 {
            return Err(Error::Shape("cannot fit a scaler on zero rows".into()));
        }
        let data = x.as_slice();
        let mut sum = vec![0.0; p];
        let mut min = vec![f64::INFINITY; p];
        let mut max = vec![f64::NEG_INFINITY; p];
        for row in data.chunks_exact(p.max(1)).take(n) {
            for (j, &v) in row.iter().enumerate() {
                sum[j] += v;
                min[j] = min[j].min(v);
                max[j] = max[j].max(v);
            }
        }
        let mut mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
        let mut ss = vec![0.0; p];
        for row in data.chunks_exact(p.max(1)).take(n) {
            for (j, &v) in row.iter().enumerate() {
                let d = v - mean[j];
                ss[j] += d * d;
            }
        }
        let mut std = vec![1.0; p];
        for j in 0..p {
            if max[j] == min[j] {
                mean[j] = min[j];
            } else {
                let s = (ss[j] / n as f64).sqrt();
                // s > 0 whenever max > min, barring underflow of tiny spreads.
                std[j] = if s > 0.0 && s.is_finite() { s } else { 1.0 };
            }
        }
        Ok(StandardScaler {
            mean,
            std,
            n_samples: n,
        })
    }

    /// Fits on `x` and returns the scaler with the transformed `x`.
    pub fn fit_transform(x: &Matrix) -> Result<(Self, Matrix)> {
        let s = Self::fit(x)?;
        let z = s.transform(x)?;
        Ok((s, z))
    }

    /// Rebuilds a scaler from saved parameters (checked: equal lengths, finite, std > 0).
    pub fn from_parts(mean: Vec<f64>, std: Vec<f64>, n_samples: usize) -> Result<Self> {
        let s = StandardScaler {
            mean,
            std,
            n_samples,
        };
        s.validate()?;
        Ok(s)
    }

    /// Checks the invariants of a (possibly deserialized) scaler.
    pub fn validate(&self) -> Result<()> {
        if self.mean.len() != self.std.len() {
            return Err(Error::Shape(format!(
                "scaler has {} means but {} standard deviations",
                self.mean.len(),
                self.std.len()
            )));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(Error::InvalidConfig(
                "scaler parameters must be finite with std > 0".into(),
            ));
        }
        Ok(())
    }

    /// Standardizes `x` (which must have as many columns as the fitted data).
    pub fn transform(&self, x: &Matrix) -> Result<Matrix> {
        let p = self.mean.len();
        if x.cols() != p {
            return Err(Error::Shape(format!(
                "scaler was fitted on {p} columns, input has {}",
                x.cols()
            )));
        }
        let mut out = x.as_slice().to_vec();
        for row in out.chunks_exact_mut(p.max(1)) {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (*v - self.mean[j]) / self.std[j];
            }
        }
        // Finite in, finite out: std > 0 and both finite (overflow would need |x| ~ 1e308).
        if let Some(k) = out.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteInput {
                row: k / p,
                col: k % p,
                value: out[k],
            });
        }
        Ok(Matrix::from_parts_unchecked(x.rows(), p, out))
    }

    /// Standardizes rows `rows` of `x` straight into `f32` (the networks' dtype), without an
    /// intermediate `f64` matrix. The caller has checked the column count.
    pub(crate) fn transform_rows_f32(&self, x: &Matrix, rows: std::ops::Range<usize>) -> Vec<f32> {
        let p = self.mean.len();
        let src = &x.as_slice()[rows.start * p..rows.end * p];
        let mut out = Vec::with_capacity(src.len());
        for row in src.chunks_exact(p.max(1)) {
            out.extend(
                row.iter()
                    .zip(self.mean.iter().zip(&self.std))
                    .map(|(v, (m, s))| ((v - m) / s) as f32),
            );
        }
        out
    }

    /// Per-column means of the training rows.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-column standard deviations (ddof 0; 1 for constant columns).
    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Number of rows the scaler was fitted on.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardizes_with_population_std() {
        let x = Matrix::from_columns(&[&[1.0, 2.0, 3.0, 4.0], &[5.0, 5.0, 5.0, 5.0]]).unwrap();
        let (s, z) = StandardScaler::fit_transform(&x).unwrap();
        assert_eq!(s.mean(), &[2.5, 5.0]);
        assert!((s.std()[0] - 1.25f64.sqrt()).abs() < 1e-15);
        assert_eq!(s.std()[1], 1.0, "constant column gets std 1");
        assert!(
            z.column(1).iter().all(|&v| v == 0.0),
            "constant column maps to 0"
        );
        let c0 = z.column(0);
        let mean: f64 = c0.iter().sum::<f64>() / 4.0;
        let var: f64 = c0.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        assert!(mean.abs() < 1e-15 && (var - 1.0).abs() < 1e-12);
    }

    #[test]
    fn constant_column_with_inexact_mean_maps_to_exact_zero() {
        // 0.1 summed three times and divided by 3 is not exactly 0.1.
        let x = Matrix::from_columns(&[&[0.1, 0.1, 0.1]]).unwrap();
        let (_, z) = StandardScaler::fit_transform(&x).unwrap();
        assert_eq!(z.as_slice(), &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn fitted_on_train_rows_only() {
        let all = Matrix::from_columns(&[&[1.0, 2.0, 3.0, 100.0, -50.0]]).unwrap();
        let train = all.slice_rows(0..3).unwrap();
        let test = all.slice_rows(3..5).unwrap();
        let s = StandardScaler::fit(&train).unwrap();
        let before = s.clone();
        let z_test = s.transform(&test).unwrap();
        assert_eq!(
            s, before,
            "transforming test rows does not change the scaler"
        );
        assert_eq!(s.mean(), &[2.0]);
        assert_eq!(s.n_samples(), 3);
        // Test rows are mapped with the train statistics, not their own.
        let sd = (2.0f64 / 3.0).sqrt();
        assert!((z_test.get(0, 0) - 98.0 / sd).abs() < 1e-9);
        // A scaler fitted on all rows differs: the test rows would have leaked into it.
        assert_ne!(StandardScaler::fit(&all).unwrap().mean(), s.mean());
    }

    #[test]
    fn serde_round_trip_and_checks() {
        let x = Matrix::from_columns(&[&[1.0, 3.0], &[2.0, 2.0]]).unwrap();
        let s = StandardScaler::fit(&x).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: StandardScaler = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert!(
            s.transform(&Matrix::from_columns(&[&[1.0]]).unwrap())
                .is_err()
        );
        assert!(StandardScaler::from_parts(vec![0.0], vec![0.0], 1).is_err());
        assert!(StandardScaler::fit(&Matrix::from_row_major(0, 2, vec![]).unwrap()).is_err());
    }
}
