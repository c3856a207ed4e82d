//! The overlap-ceiling formulas against a Monte-Carlo simulation.
//!
//! i.i.d. Gaussian one-bar log returns (σ = 1e-3) → prices; the target is `bqx_W(t+h)` computed
//! exactly from the prices; the predictor is its conditional expectation given the prices up to
//! `t` (exact for log-normal prices: the unseen part contributes only constants). Its measured
//! out-of-sample R² and directional accuracy must match `S(W−h)/S(W)` and `½ + asin(√R²)/π`.
//!
//! Tolerances: 1 000 000 rows. The rows overlap by up to `W + h` bars, so the effective sample
//! is ~1e6 / (W+h) ≥ 13 000 for the largest case; the standard error of R² (≈ (1−R²)·√(2/n_eff))
//! is then ≤ 0.007 and that of the accuracy ≈ 0.004, so 0.02 for R² and 0.012 for the accuracy
//! are about 3 standard errors.

use bqx_eval::metrics::regression;
use bqx_eval::targets::{bqx_r2_ceiling, bqx_return, bqx_target, da_from_r2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const N: usize = 1_000_000;
const SIGMA: f64 = 1e-3;

fn prices(seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, SIGMA).unwrap();
    let mut lp = 0.0f64;
    (0..N)
        .map(|_| {
            lp += normal.sample(&mut rng);
            1.2 * lp.exp()
        })
        .collect()
}

/// `E[bqx_W(t+h) | r(0..=t)] = Σ_{i=1..W} E[r(t+h−i)/r(t+h)] − W` with
/// `E[r(t+h−i)/r(t+h)] = exp(iσ²/2)` for `i < h` and `r(t+h−i)/r(t)·exp(hσ²/2)` for `i ≥ h`.
fn conditional_expectation(r: &[f64], w: usize, h: usize) -> Vec<f64> {
    let s2 = SIGMA * SIGMA;
    let unseen: f64 = (1..h.min(w + 1)).map(|i| (i as f64 * s2 / 2.0).exp()).sum();
    let grow = (h as f64 * s2 / 2.0).exp();
    (0..r.len())
        .map(|t| {
            if t + h >= r.len() || t + h < w {
                return f64::NAN;
            }
            let seen: f64 = if h <= w {
                r[t + h - w..=t].iter().sum::<f64>() / r[t] * grow
            } else {
                0.0
            };
            unseen + seen - w as f64
        })
        .collect()
}

fn directional_accuracy(pred: &[f64], y: &[f64]) -> f64 {
    let (mut hits, mut n) = (0usize, 0usize);
    for (&p, &a) in pred.iter().zip(y) {
        if p.is_finite() && a.is_finite() && a != 0.0 {
            n += 1;
            hits += (p.signum() == a.signum()) as usize;
        }
    }
    hits as f64 / n as f64
}

#[test]
fn ceiling_matches_simulation_for_h_below_w() {
    let r = prices(1);
    for (w, h) in [(60, 15), (60, 30), (30, 10), (15, 5), (60, 50)] {
        let y = bqx_target(&r, w, h).unwrap();
        let pred = conditional_expectation(&r, w, h);
        let m = regression(&pred, &y, 0.0).unwrap();
        let r2 = m.r2_vs_zero.unwrap();
        let da = directional_accuracy(&pred, &y);
        let (r2_max, da_max) = (bqx_r2_ceiling(w, h), da_from_r2(bqx_r2_ceiling(w, h)));
        assert!(
            (r2 - r2_max).abs() < 0.02,
            "W={w} h={h}: measured R² {r2:.4}, formula {r2_max:.4}"
        );
        assert!(
            (da - da_max).abs() < 0.012,
            "W={w} h={h}: measured DA {da:.4}, formula {da_max:.4}"
        );
    }
}

#[test]
fn nothing_observed_at_t_predicts_the_target_when_h_reaches_w() {
    let r = prices(2);
    for (w, h) in [(60, 60), (30, 45)] {
        assert_eq!(bqx_r2_ceiling(w, h), 0.0);
        assert_eq!(da_from_r2(bqx_r2_ceiling(w, h)), 0.5);
        let y = bqx_target(&r, w, h).unwrap();
        // The conditional expectation is a constant: no skill against zero beyond the mean.
        let pred = conditional_expectation(&r, w, h);
        let finite: Vec<f64> = pred.iter().copied().filter(|v| v.is_finite()).collect();
        assert!(finite.windows(2).all(|p| (p[0] - p[1]).abs() < 1e-12));
        // Anything observed at t — here the current BQX and the last return — is useless.
        let now = bqx_return(&r, w).unwrap();
        let last: Vec<f64> = (0..r.len())
            .map(|t| {
                if t == 0 {
                    f64::NAN
                } else {
                    (r[t - 1] / r[t]).ln()
                }
            })
            .collect();
        for (name, x) in [("bqx now", &now), ("last return", &last)] {
            let (xs, ys): (Vec<f64>, Vec<f64>) = x
                .iter()
                .zip(&y)
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(a, b)| (*a, *b))
                .unzip();
            let rho = bqx_eval::stats::pearson(&xs, &ys);
            assert!(rho * rho < 0.003, "W={w} h={h} {name}: ρ² = {}", rho * rho);
            let da = directional_accuracy(x, &y);
            assert!((da - 0.5).abs() < 0.02, "W={w} h={h} {name}: DA {da}");
        }
    }
}
