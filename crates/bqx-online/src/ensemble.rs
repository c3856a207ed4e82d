//! Ensemble weights from recent errors.
//!
//! Each member keeps its last `n` absolute errors on matured labels ([`ErrorWindow`], n = 100
//! by default). The weights are a softmax of `−MAEᵢ/τ` with `τ = tau_scale · median(MAE)`:
//! scaling τ to the error level makes the weights depend on *relative* differences (with
//! `tau_scale = 0.1` a member 10 % worse than the best gets `e⁻¹ ≈ 0.37` of its weight), where
//! the original's unscaled `exp(−MAE)` stays uniform on BQX-sized errors. Until every member has
//! `min_errors` matured errors the weights are equal.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The last `cap` absolute errors and their mean.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorWindow {
    cap: usize,
    errors: VecDeque<f64>,
}

impl ErrorWindow {
    pub fn new(cap: usize) -> ErrorWindow {
        ErrorWindow {
            cap: cap.max(1),
            errors: VecDeque::with_capacity(cap),
        }
    }

    /// Adds an absolute error.
    pub fn push(&mut self, abs_error: f64) {
        if self.errors.len() == self.cap {
            self.errors.pop_front();
        }
        self.errors.push_back(abs_error);
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Mean absolute error over the window (summed afresh: no running-sum drift), `None` when
    /// empty.
    pub fn mae(&self) -> Option<f64> {
        (!self.errors.is_empty())
            .then(|| self.errors.iter().sum::<f64>() / self.errors.len() as f64)
    }
}

/// Softmax weights of `−mae/τ`, `τ = tau_scale · median(mae)`; equal weights while any member
/// has fewer than `min_errors` errors or the error level is 0.
pub fn softmax_weights(windows: &[&ErrorWindow], tau_scale: f64, min_errors: usize) -> Vec<f64> {
    let n = windows.len();
    if n == 0 {
        return Vec::new();
    }
    let equal = vec![1.0 / n as f64; n];
    if windows.iter().any(|w| w.len() < min_errors.max(1)) {
        return equal;
    }
    let maes: Vec<f64> = windows
        .iter()
        .map(|w| w.mae().expect("non-empty"))
        .collect();
    let mut sorted = maes.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    };
    let tau = tau_scale * median;
    if !(tau > 0.0 && tau.is_finite()) {
        return equal;
    }
    let best = sorted[0];
    let e: Vec<f64> = maes.iter().map(|m| (-(m - best) / tau).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(values: &[f64]) -> ErrorWindow {
        let mut w = ErrorWindow::new(100);
        for &v in values {
            w.push(v);
        }
        w
    }

    #[test]
    fn weights_follow_relative_error_at_any_scale() {
        for scale in [1e-6, 1.0, 1e6] {
            let a = window(&[scale; 50]);
            let b = window(&[1.1 * scale; 50]);
            let w = softmax_weights(&[&a, &b], 0.1, 20);
            // τ = 0.1 · median = 0.105·scale; Δ = 0.1·scale ⇒ ratio e^(−0.1/0.105).
            let want = (-(0.1 / 0.105f64)).exp();
            assert!((w[1] / w[0] - want).abs() < 1e-9, "{w:?} at {scale}");
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn equal_until_every_member_has_enough_errors_and_window_is_bounded() {
        let a = window(&[1.0; 50]);
        let b = window(&[5.0; 10]);
        assert_eq!(softmax_weights(&[&a, &b], 0.1, 20), vec![0.5, 0.5]);
        let mut w = ErrorWindow::new(3);
        for v in [10.0, 1.0, 2.0, 3.0] {
            w.push(v);
        }
        assert_eq!(w.len(), 3);
        assert_eq!(w.mae(), Some(2.0));
    }
}
