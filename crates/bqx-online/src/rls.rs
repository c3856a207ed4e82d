//! Recursive least squares with exponential forgetting.
//!
//! After `n` updates the weights minimise
//! `Σᵢ λ^(n−i)·(yᵢ − wᵀxᵢ)² + λⁿ/δ·‖w‖²` (the prior `P₀ = δ·I` acts as a ridge penalty that
//! fades with the same factor), updated in `O(d²)` per observation:
//! `k = P·x / (λ + xᵀ·P·x)`, `w ← w + k·(y − wᵀx)`, `P ← (P − k·xᵀ·P) / λ`.
//! The last input is an intercept (1). Inputs are expected standardized. The trace of `P` is
//! capped at the prior's `δ·(d+1)` (covariance wind-up: without excitation `P` grows as λ⁻ⁿ).

use serde::{Deserialize, Serialize};

/// RLS parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RlsConfig {
    /// Forgetting factor λ ∈ (0, 1]: the weight of an observation `k` updates old is `λᵏ`
    /// (0.999 ⇒ an effective memory of about 1,000 observations).
    pub forgetting: f64,
    /// Initial `P = δ·I` (large ⇒ a weak prior).
    pub delta: f64,
}

impl Default for RlsConfig {
    fn default() -> Self {
        RlsConfig {
            forgetting: 0.999,
            delta: 100.0,
        }
    }
}

/// The learner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rls {
    cfg: RlsConfig,
    /// `d + 1` weights, the intercept last.
    w: Vec<f64>,
    /// `(d+1)²`, row-major, kept symmetric.
    p: Vec<f64>,
    updates: u64,
    /// Scratch, not state.
    #[serde(skip)]
    px: Vec<f64>,
}

impl Default for Rls {
    /// A learner without inputs (a placeholder).
    fn default() -> Rls {
        Rls::new(0, RlsConfig::default())
    }
}

impl Rls {
    pub fn new(inputs: usize, cfg: RlsConfig) -> Rls {
        let d = inputs + 1;
        let mut p = vec![0.0; d * d];
        for i in 0..d {
            p[i * d + i] = cfg.delta;
        }
        Rls {
            cfg,
            w: vec![0.0; d],
            p,
            updates: 0,
            px: vec![0.0; d],
        }
    }

    /// Number of inputs (without the intercept).
    pub fn inputs(&self) -> usize {
        self.w.len() - 1
    }

    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Weights, the intercept last.
    pub fn weights(&self) -> &[f64] {
        &self.w
    }

    pub fn predict(&self, x: &[f64]) -> f64 {
        let d = self.w.len();
        debug_assert_eq!(x.len() + 1, d);
        x.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>() + self.w[d - 1]
    }

    /// Learns from `(x, y)`; returns the a-priori error `y − ŷ`. A non-finite input or target
    /// is ignored (returns `None`); if the update would make `P` non-finite the prior is
    /// restored and the weights are kept.
    pub fn update(&mut self, x: &[f64], y: f64) -> Option<f64> {
        if !y.is_finite() || x.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let d = self.w.len();
        self.px.resize(d, 0.0);
        let xi = |i: usize| if i + 1 == d { 1.0 } else { x[i] };
        for i in 0..d {
            self.px[i] = (0..d).map(|j| self.p[i * d + j] * xi(j)).sum();
        }
        let denom = self.cfg.forgetting + (0..d).map(|i| xi(i) * self.px[i]).sum::<f64>();
        let err = y - self.predict(x);
        let lambda = self.cfg.forgetting;
        for i in 0..d {
            self.w[i] += self.px[i] / denom * err;
        }
        // P ← (P − Px·Pxᵀ/denom)/λ, symmetric because P is.
        for i in 0..d {
            for j in i..d {
                let v = (self.p[i * d + j] - self.px[i] * self.px[j] / denom) / lambda;
                self.p[i * d + j] = v;
                self.p[j * d + i] = v;
            }
        }
        // Covariance wind-up guard: a direction the inputs stop exciting has its P entries grow
        // by 1/λ per update without bound, and the next excitation then moves the weights by
        // that much. The trace is kept at most the prior's (δ·d).
        let trace: f64 = (0..d).map(|i| self.p[i * d + i]).sum();
        let cap = self.cfg.delta * d as f64;
        if trace > cap {
            let k = cap / trace;
            for v in &mut self.p {
                *v *= k;
            }
        }
        if !denom.is_finite() || self.p.iter().any(|v| !v.is_finite()) {
            let w = std::mem::take(&mut self.w);
            *self = Rls::new(d - 1, self.cfg);
            self.w = w;
        }
        self.updates += 1;
        Some(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Solves the weighted ridge problem RLS tracks, independently (normal equations and
    /// Gaussian elimination).
    #[allow(clippy::needless_range_loop)]
    fn weighted_solution(xs: &[Vec<f64>], ys: &[f64], cfg: RlsConfig) -> Vec<f64> {
        let n = xs.len();
        let d = xs[0].len() + 1;
        let mut a = vec![vec![0.0; d + 1]; d];
        for i in 0..d {
            a[i][i] = cfg.forgetting.powi(n as i32) / cfg.delta;
        }
        for (t, (x, &y)) in xs.iter().zip(ys).enumerate() {
            let w = cfg.forgetting.powi((n - 1 - t) as i32);
            let z: Vec<f64> = x.iter().copied().chain([1.0]).collect();
            for i in 0..d {
                for j in 0..d {
                    a[i][j] += w * z[i] * z[j];
                }
                a[i][d] += w * z[i] * y;
            }
        }
        for c in 0..d {
            let piv = (c..d)
                .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
                .unwrap();
            a.swap(c, piv);
            for r in 0..d {
                if r != c {
                    let f = a[r][c] / a[c][c];
                    for k in c..=d {
                        a[r][k] -= f * a[c][k];
                    }
                }
            }
        }
        (0..d).map(|i| a[i][d] / a[i][i]).collect()
    }

    #[test]
    fn equals_the_weighted_ridge_solution() {
        let cfg = RlsConfig {
            forgetting: 0.98,
            delta: 10.0,
        };
        let mut r = Rls::new(3, cfg);
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for t in 0..300 {
            let t = t as f64;
            let x = vec![
                (t * 0.37).sin(),
                (t * 0.11).cos(),
                ((t * 0.05).sin() * 3.0).tanh(),
            ];
            let y = 0.5 * x[0] - 2.0 * x[1] + 0.3 * x[2] + 1.5 + 0.1 * (t * 1.3).sin();
            r.update(&x, y).unwrap();
            xs.push(x);
            ys.push(y);
        }
        let want = weighted_solution(&xs, &ys, cfg);
        for (a, b) in r.weights().iter().zip(&want) {
            assert!((a - b).abs() < 1e-8, "{:?} vs {want:?}", r.weights());
        }
    }

    #[test]
    fn tracks_a_changed_relation() {
        let mut r = Rls::new(
            1,
            RlsConfig {
                forgetting: 0.99,
                delta: 100.0,
            },
        );
        for t in 0..5000 {
            let x = ((t * 7919) % 101) as f64 / 50.0 - 1.0;
            let y = if t < 2500 { 2.0 * x } else { -3.0 * x + 1.0 };
            r.update(&[x], y);
        }
        assert!((r.weights()[0] + 3.0).abs() < 1e-6, "{:?}", r.weights());
        assert!((r.weights()[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn non_finite_input_is_ignored() {
        let mut r = Rls::new(2, RlsConfig::default());
        assert!(r.update(&[f64::NAN, 1.0], 1.0).is_none());
        assert!(r.update(&[1.0, 1.0], f64::INFINITY).is_none());
        assert_eq!(r.updates(), 0);
    }
}
