//! REG by running sums against a direct least-squares fit (modified Gram–Schmidt QR on the
//! design [1, s, s²], s = x/(W−1)), and BQX stdev against a two-pass computation — on random
//! windows and along a 10-million-row series.

mod common;

use bqx_features::{BarInput, BqxKernel, Kernel, REG_WINDOWS, RegBqxKernel, RegRateKernel};
use common::{Rng, random_walk};

/// Direct fit: `[quad_term, lin_term, const_term, prediction, residual, r2, rmse]`, plus the
/// population std of y (the scale used for relative errors).
fn direct_fit(y: &[f64]) -> ([f64; 7], f64) {
    let w = y.len();
    let s: Vec<f64> = (0..w).map(|k| k as f64 / (w - 1) as f64).collect();
    let mut cols: Vec<Vec<f64>> = vec![vec![1.0; w], s.clone(), s.iter().map(|v| v * v).collect()];
    // Modified Gram–Schmidt: A = Q R.
    let mut r = [[0.0f64; 3]; 3];
    for j in 0..3 {
        for i in 0..j {
            let dot: f64 = cols[i].iter().zip(&cols[j]).map(|(a, b)| a * b).sum();
            r[i][j] = dot;
            let qi = cols[i].clone();
            for (v, q) in cols[j].iter_mut().zip(&qi) {
                *v -= dot * q;
            }
        }
        let norm = cols[j].iter().map(|v| v * v).sum::<f64>().sqrt();
        r[j][j] = norm;
        cols[j].iter_mut().for_each(|v| *v /= norm);
    }
    let qty: Vec<f64> = (0..3)
        .map(|i| cols[i].iter().zip(y).map(|(q, v)| q * v).sum())
        .collect();
    let mut c = [0.0; 3];
    for i in (0..3).rev() {
        let mut acc = qty[i];
        for k in i + 1..3 {
            acc -= r[i][k] * c[k];
        }
        c[i] = acc / r[i][i];
    }
    // At s = 1 (x_end = W − 1): quad = c2, lin = c1, const = c0.
    let pred = c[0] + c[1] + c[2];
    let mean = y.iter().sum::<f64>() / w as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let ss_res: f64 = y
        .iter()
        .zip(&s)
        .map(|(v, x)| (v - (c[0] + c[1] * x + c[2] * x * x)).powi(2))
        .sum();
    let r2 = if ss_tot == 0.0 {
        0.0
    } else {
        1.0 - ss_res / ss_tot
    };
    (
        [
            c[2],
            c[1],
            c[0],
            pred,
            y[w - 1] - pred,
            r2,
            (ss_res / w as f64).sqrt(),
        ],
        (ss_tot / w as f64).sqrt(),
    )
}

/// Error of one REG output: absolute for r2, else relative to max(|want|, std of y).
fn reg_err(metric: usize, got: f64, want: f64, sd_y: f64) -> f64 {
    if metric == 5 {
        (got - want).abs()
    } else {
        (got - want).abs() / want.abs().max(sd_y)
    }
}

fn bqx15_direct(r: &[f64], t: usize) -> f64 {
    (1..=15).map(|i| (r[t - i] - r[t]) / r[t]).sum()
}

fn run(kernel: &mut dyn Kernel, closes: &[f64]) -> Vec<Vec<f64>> {
    kernel.reset();
    let mut row = vec![0.0; kernel.width()];
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            kernel.update(&BarInput::close_only(i as i64, c), &mut row);
            row.clone()
        })
        .collect()
}

#[test]
fn direct_solver_recovers_a_known_parabola() {
    let y: Vec<f64> = (0..60)
        .map(|x| 0.5 * (x * x) as f64 - 3.0 * x as f64 + 7.0)
        .collect();
    let (f, _) = direct_fit(&y);
    let xe = 59.0;
    assert!((f[0] - 0.5 * xe * xe).abs() < 1e-9);
    assert!((f[1] + 3.0 * xe).abs() < 1e-9);
    assert!((f[2] - 7.0).abs() < 1e-9);
    assert!(f[4].abs() < 1e-9 && (f[5] - 1.0).abs() < 1e-12 && f[6] < 1e-9);
}

#[test]
fn reg_running_sums_match_direct_fit_on_random_windows() {
    let mut rng = Rng(99);
    for (seed, level) in [(1u64, 1.1f64), (2, 150.0), (3, 0.6)] {
        // A random walk plus a planted parabola, so r2 covers the whole range.
        let n = 3000;
        let mut closes = random_walk(n, seed, level, 0.001);
        for (i, c) in closes.iter_mut().enumerate() {
            let x = i as f64 / n as f64;
            *c *= 1.0 + 0.05 * (x - 0.5).powi(2);
        }
        let rate = run(&mut RegRateKernel::new(), &closes);
        let bqx = run(&mut RegBqxKernel::new(), &closes);
        let idx: Vec<f64> = closes.iter().map(|c| 100.0 * c / closes[0]).collect();
        let b15: Vec<f64> = (0..n)
            .map(|t| {
                if t >= 15 {
                    bqx15_direct(&closes, t)
                } else {
                    f64::NAN
                }
            })
            .collect();
        for _ in 0..200 {
            let k = (rng.next_u64() % 6) as usize;
            let w = REG_WINDOWS[k];
            let t = w + 14 + (rng.next_u64() as usize % (n - w - 14));
            let (want_r, sd_r) = direct_fit(&idx[t - w..t]);
            let (want_b, sd_b) = direct_fit(&b15[t + 1 - w..=t]);
            for m in 0..7 {
                let e = reg_err(m, rate[t][k * 7 + m], want_r[m], sd_r);
                assert!(e < 1e-8, "reg_rate W={w} t={t} metric {m}: err {e:.3e}");
                let e = reg_err(m, bqx[t][k * 7 + m], want_b[m], sd_b);
                assert!(e < 1e-8, "reg_bqx W={w} t={t} metric {m}: err {e:.3e}");
            }
        }
    }
}

/// 10 million rows streamed through the running-sum kernels; at 200 sampled rows the REG outputs
/// and the BQX stdev are compared with direct computations. Prints the worst errors.
#[test]
#[ignore = "10M rows: run with --ignored (about 10 s)"]
fn ten_million_rows_drift() {
    const N: usize = 10_000_000;
    const STEP: usize = 50_000;
    let keep = 630 + 15;
    let mut rng = Rng(2024);
    let mut ring: std::collections::VecDeque<f64> = std::collections::VecDeque::with_capacity(keep);
    let mut lp = 150f64.ln();
    let mut rate = RegRateKernel::new();
    let mut bqx = RegBqxKernel::new();
    let mut bk = BqxKernel::new();
    let mut out_r = vec![0.0; rate.width()];
    let mut out_b = vec![0.0; bqx.width()];
    let mut out_k = vec![0.0; bk.width()];
    let mut anchor = f64::NAN;
    let (mut worst_rate, mut worst_bqx, mut worst_sd) = (0.0f64, 0.0f64, 0.0f64);
    let started = std::time::Instant::now();
    for t in 0..N {
        let c = lp.exp();
        lp += 0.0007 * rng.normal();
        if t == 0 {
            anchor = c;
        }
        if ring.len() == keep {
            ring.pop_front();
        }
        ring.push_back(c);
        let bar = BarInput::close_only(t as i64, c);
        rate.update(&bar, &mut out_r);
        bqx.update(&bar, &mut out_b);
        bk.update(&bar, &mut out_k);
        if t < keep || t % STEP != 0 {
            continue;
        }
        let r: &[f64] = ring.make_contiguous(); // r[keep-1] is row t
        let at = |back: usize| r[keep - 1 - back];
        for (k, &w) in REG_WINDOWS.iter().enumerate() {
            let idx: Vec<f64> = (1..=w).rev().map(|b| 100.0 * at(b) / anchor).collect();
            let (want, sd) = direct_fit(&idx);
            for m in 0..7 {
                worst_rate = worst_rate.max(reg_err(m, out_r[k * 7 + m], want[m], sd));
            }
            let y: Vec<f64> = (0..w)
                .rev()
                .map(|b| bqx15_direct(r, keep - 1 - b))
                .collect();
            let (want, sd) = direct_fit(&y);
            for m in 0..7 {
                worst_bqx = worst_bqx.max(reg_err(m, out_b[k * 7 + m], want[m], sd));
            }
        }
        for (k, &w) in bqx_features::BQX_WINDOWS.iter().enumerate() {
            let win: Vec<f64> = (1..=w).map(at).collect();
            let mean = win.iter().sum::<f64>() / w as f64;
            let sd = (win.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (w - 1) as f64).sqrt();
            let want = sd / c;
            let got = out_k[k * 6 + 5];
            worst_sd = worst_sd.max((got - want).abs() / want);
        }
    }
    println!(
        "10M rows in {:.1?}: worst rel err reg_rate {worst_rate:.3e}, reg_bqx {worst_bqx:.3e}, bqx stdev {worst_sd:.3e}",
        started.elapsed()
    );
    assert!(worst_rate < 1e-8, "reg_rate drift {worst_rate:.3e}");
    assert!(worst_bqx < 1e-8, "reg_bqx drift {worst_bqx:.3e}");
    assert!(worst_sd < 1e-9, "bqx stdev drift {worst_sd:.3e}");
}
