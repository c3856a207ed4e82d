//! The USD factor — a fitted cross-sectional feature.
//!
//! **Fit** ([`fit_usd_factor`], on a training range of panel rows `[start, end)` only): for the
//! 7 USD pairs (EURUSD, GBPUSD, AUDUSD, NZDUSD, USDCAD, USDCHF, USDJPY) the sign-adjusted
//! one-bar log returns `x_i(t) = s_i · ln(P_i(t)/P_i(t−1))`, `s_i = +1` where USD is the base and
//! `−1` where it is the quote, so every `x_i` is "USD up". Rows entering the fit: `t` with
//! `start < t < end` (both endpoints of the return inside the range) and all 7 returns defined.
//! The parameters are the training means `μ` and the first principal component `v` of the
//! sample covariance (ddof = 1; cyclic Jacobi, [`symmetric_eigen`]), unit length, with the sign
//! convention `Σ v_i > 0` (the factor rises when USD strengthens; if the sum is 0, the first
//! non-zero loading is positive).
//!
//! **Apply** ([`UsdFactorKernel`], unchanged on any range, causal): the factor
//! `f(t) = Σ v_i (x_i(t) − μ_i)` (`NaN` unless all 7 returns exist), and per pair, with
//! `y(t) = ln(P(t)/P(t−1))` of the pair in its market orientation, over the last W ∈ {60, 240}
//! rows: `beta = cov(y, f) / var(f)` and `corr = cov(y, f) / (std(y) std(f))` (ddof = 1; 0 on
//! a constant window; `NaN` while the window holds a `NaN` y or f). 5 columns per pair:
//! `cs_usd_factor` (the same for every pair), `cs_usd_{beta,corr}_{60,240}`.

use std::ops::Range;

use bqx_domain::{Currency, Pair};
use serde::{Deserialize, Serialize};

use crate::fitted::{FitRange, FittedParams};
use crate::panel::{N_PAIRS, PanelKernel, validate_panel};
use crate::window::MaskedCov;
use crate::{Domain, FeatureError, FeatureSpec};

/// `kind` of the USD-factor parameters.
pub const USD_FACTOR_KIND: &str = "usd_factor";
/// Version of the USD-factor parameters and fit definition.
pub const USD_FACTOR_VERSION: u32 = 1;
/// Windows (grid rows) of the rolling beta and correlation.
pub const USD_FACTOR_WINDOWS: [usize; 2] = [60, 240];
/// Fewest complete return rows a fit accepts.
const MIN_FIT_ROWS: usize = 20;

/// The 7 USD pairs in canonical order with their sign (`+1` USD base, `−1` USD quote).
pub fn usd_pairs() -> [(Pair, f64); 7] {
    let mut out = [(Pair::ALL[0], 0.0); 7];
    for (k, p) in Currency::USD.pairs().enumerate() {
        out[k] = (p, if p.base() == Currency::USD { 1.0 } else { -1.0 });
    }
    out
}

/// The fitted parameters of the USD factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsdFactorParams {
    /// The 7 USD pairs, canonical order.
    pub pairs: [Pair; 7],
    /// `+1` where USD is the base, `−1` where it is the quote.
    pub signs: [f64; 7],
    /// Training means of the sign-adjusted returns.
    pub mean: [f64; 7],
    /// The first principal component (unit length, `Σ > 0`).
    pub loadings: [f64; 7],
    /// All eigenvalues of the training covariance, descending.
    pub eigenvalues: [f64; 7],
    /// Share of the total variance explained by the first component.
    pub explained: f64,
}

/// The sign-adjusted returns of the USD pairs at row `t` (needs rows t−1 and t).
fn usd_returns(cols: &[&[f64]], t: usize, pairs: &[(Pair, f64); 7]) -> [f64; 7] {
    pairs.map(|(p, s)| s * (cols[p.index()][t] / cols[p.index()][t - 1]).ln())
}

/// Fits the USD factor on panel rows `rows` (see the module docs). Only rows inside `rows` are
/// read.
#[allow(clippy::needless_range_loop)] // matrix code: indices are the clearest form
pub fn fit_usd_factor<C: AsRef<[f64]>>(
    ts: &[i64],
    close: &[C],
    rows: Range<usize>,
) -> Result<FittedParams<UsdFactorParams>, FeatureError> {
    validate_panel(ts, close)?;
    let fail = |reason: String| FeatureError::Fit {
        kind: USD_FACTOR_KIND,
        reason,
    };
    if rows.start >= rows.end || rows.end > ts.len() {
        return Err(fail(format!(
            "range {}..{} is empty or outside the panel's {} rows",
            rows.start,
            rows.end,
            ts.len()
        )));
    }
    let cols: Vec<&[f64]> = close.iter().map(AsRef::as_ref).collect();
    let pairs = usd_pairs();
    let xs: Vec<[f64; 7]> = (rows.start + 1..rows.end)
        .map(|t| usd_returns(&cols, t, &pairs))
        .filter(|x| x.iter().all(|v| !v.is_nan()))
        .collect();
    let n = xs.len();
    if n < MIN_FIT_ROWS {
        return Err(fail(format!(
            "{n} rows with all 7 USD-pair returns in the range, at least {MIN_FIT_ROWS} needed"
        )));
    }
    let mut mean = [0.0; 7];
    for x in &xs {
        for (m, v) in mean.iter_mut().zip(x) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = [[0.0; 7]; 7];
    for x in &xs {
        for i in 0..7 {
            for j in 0..=i {
                cov[i][j] += (x[i] - mean[i]) * (x[j] - mean[j]);
            }
        }
    }
    for i in 0..7 {
        for j in 0..=i {
            cov[i][j] /= (n - 1) as f64;
            cov[j][i] = cov[i][j];
        }
    }
    let (values, vectors) = symmetric_eigen(cov);
    let total: f64 = values.iter().sum();
    if !(values[0] > 0.0 && total > 0.0) {
        return Err(fail(
            "the USD-pair returns have no variance in the range".into(),
        ));
    }
    let mut v = vectors[0];
    let sum: f64 = v.iter().sum();
    let flip = if sum != 0.0 {
        sum < 0.0
    } else {
        v.iter().find(|x| **x != 0.0).is_some_and(|x| *x < 0.0)
    };
    if flip {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    Ok(FittedParams {
        kind: USD_FACTOR_KIND.into(),
        version: USD_FACTOR_VERSION,
        fit_range: FitRange {
            start_row: rows.start,
            end_row: rows.end,
            start_ts: ts[rows.start],
            end_ts: ts[rows.end - 1],
            rows_used: n,
        },
        params: UsdFactorParams {
            pairs: pairs.map(|(p, _)| p),
            signs: pairs.map(|(_, s)| s),
            mean,
            loadings: v,
            eigenvalues: values,
            explained: values[0] / total,
        },
    })
}

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: the eigenvalues in
/// descending order and the matching unit eigenvectors (`vectors[k]` belongs to
/// `values[k]`). Deterministic; signs of the eigenvectors are whatever the rotations give
/// (callers fix their own convention).
#[allow(clippy::needless_range_loop)] // matrix code: indices are the clearest form
pub fn symmetric_eigen<const N: usize>(a: [[f64; N]; N]) -> ([f64; N], [[f64; N]; N]) {
    let mut a = a;
    let mut v = [[0.0; N]; N];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let norm2: f64 = a.iter().flatten().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let mut off = 0.0;
        for p in 0..N {
            for q in p + 1..N {
                off += a[p][q] * a[p][q];
            }
        }
        if off <= 1e-34 * norm2 || off == 0.0 {
            break;
        }
        for p in 0..N {
            for q in p + 1..N {
                let apq = a[p][q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * apq);
                let t = if theta >= 0.0 {
                    1.0 / (theta + (theta * theta + 1.0).sqrt())
                } else {
                    -1.0 / (-theta + (theta * theta + 1.0).sqrt())
                };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (kp, kq) = (row[p], row[q]);
                    row[p] = c * kp - s * kq;
                    row[q] = s * kp + c * kq;
                }
                for k in 0..N {
                    let (pk, qk) = (a[p][k], a[q][k]);
                    a[p][k] = c * pk - s * qk;
                    a[q][k] = s * pk + c * qk;
                }
                for row in v.iter_mut() {
                    let (kp, kq) = (row[p], row[q]);
                    row[p] = c * kp - s * kq;
                    row[q] = s * kp + c * kq;
                }
            }
        }
    }
    let mut order: [usize; N] = std::array::from_fn(|i| i);
    order.sort_by(|&i, &j| a[j][j].total_cmp(&a[i][i]).then(i.cmp(&j)));
    let values = order.map(|i| a[i][i]);
    let vectors = order.map(|k| std::array::from_fn(|i| v[i][k]));
    (values, vectors)
}

/// Applies fitted USD-factor parameters (see the module docs): 5 columns per pair.
#[derive(Debug, Clone)]
pub struct UsdFactorKernel {
    params: UsdFactorParams,
    usd: [(usize, f64); 7],
    prev: [f64; N_PAIRS],
    /// `stats[pair * 2 + w]`: (y, f) over window w.
    stats: Vec<MaskedCov>,
}

impl UsdFactorKernel {
    /// Checks the envelope (kind, version, pairs, finite values) and builds the kernel.
    pub fn new(fitted: &FittedParams<UsdFactorParams>) -> Result<UsdFactorKernel, FeatureError> {
        fitted.check(USD_FACTOR_KIND, USD_FACTOR_VERSION)?;
        let p = &fitted.params;
        let expected = usd_pairs();
        if p.pairs != expected.map(|(q, _)| q) || p.signs != expected.map(|(_, s)| s) {
            return Err(FeatureError::Params(
                "USD-factor parameters list other pairs or signs than the 7 USD pairs".into(),
            ));
        }
        if !p.loadings.iter().chain(&p.mean).all(|x| x.is_finite()) {
            return Err(FeatureError::Params(
                "USD-factor parameters are not finite".into(),
            ));
        }
        Ok(UsdFactorKernel {
            params: p.clone(),
            usd: expected.map(|(q, s)| (q.index(), s)),
            prev: [f64::NAN; N_PAIRS],
            stats: (0..N_PAIRS)
                .flat_map(|_| USD_FACTOR_WINDOWS.map(MaskedCov::new))
                .collect(),
        })
    }

    pub fn params(&self) -> &UsdFactorParams {
        &self.params
    }
}

/// The catalog of the USD-factor columns (fitted per fold; the names and formulas do not depend
/// on the fitted values).
pub fn usd_factor_catalog() -> Vec<FeatureSpec> {
    let fac = "f(t) = sum_i v_i * (x_i(t) - mu_i), x_i = s_i * ln(P_i(t)/P_i(t-1)) over the 7 USD \
               pairs (s_i = +1 USD base, -1 USD quote), v = first principal component of \
               cov(x) (ddof=1) and mu = means fitted on the training range only (unit \
               length, sum(v) > 0); NaN unless all 7 returns exist";
    let mut v = vec![FeatureSpec {
        name: "cs_usd_factor".into(),
        family: "usd_factor",
        domain: Domain::Panel,
        window: None,
        formula: format!("{fac}; the same value for every pair"),
        warmup: 1,
    }];
    for &w in &USD_FACTOR_WINDOWS {
        let win = format!(
            "over rows t-{}..t, y = ln(P(t)/P(t-1)) of the pair (market orientation), f = \
             cs_usd_factor; ddof=1; NaN while the window holds a NaN y or f",
            w - 1
        );
        v.push(FeatureSpec {
            name: format!("cs_usd_beta_{w}"),
            family: "usd_factor",
            domain: Domain::Panel,
            window: Some(w),
            formula: format!("cov(y, f) / var(f) {win}; 0 if f is constant"),
            warmup: w,
        });
        v.push(FeatureSpec {
            name: format!("cs_usd_corr_{w}"),
            family: "usd_factor",
            domain: Domain::Panel,
            window: Some(w),
            formula: format!(
                "cov(y, f) / (std(y) * std(f)) {win}; 0 if y or f is constant; clamped to [-1, 1]"
            ),
            warmup: w,
        });
    }
    v
}

impl PanelKernel for UsdFactorKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        usd_factor_catalog()
    }

    fn width(&self) -> usize {
        1 + 2 * USD_FACTOR_WINDOWS.len()
    }

    fn update(&mut self, _ts: i64, closes: &[f64; N_PAIRS], out: &mut [f64]) {
        let mut y = [f64::NAN; N_PAIRS];
        for ((y, &c), p) in y.iter_mut().zip(closes).zip(&mut self.prev) {
            *y = (c / *p).ln();
            *p = c;
        }
        let mut f = 0.0;
        for (k, &(p, s)) in self.usd.iter().enumerate() {
            f += self.params.loadings[k] * (s * y[p] - self.params.mean[k]);
        }
        let width = self.width();
        let nw = USD_FACTOR_WINDOWS.len();
        for (p, &yp) in y.iter().enumerate() {
            let o = &mut out[p * width..(p + 1) * width];
            o[0] = f;
            for k in 0..nw {
                let mc = &mut self.stats[p * nw + k];
                mc.push(yp, f);
                let (beta, corr) = match mc.stats() {
                    None => (f64::NAN, f64::NAN),
                    Some(st) => {
                        let beta = if st.flat_y { 0.0 } else { st.cov / st.var_y };
                        let corr = if st.flat_x || st.flat_y {
                            0.0
                        } else {
                            (st.cov / (st.var_x * st.var_y).sqrt()).clamp(-1.0, 1.0)
                        };
                        (beta, corr)
                    }
                };
                o[1 + 2 * k] = beta;
                o[2 + 2 * k] = corr;
            }
        }
    }

    fn reset(&mut self) {
        self.prev = [f64::NAN; N_PAIRS];
        self.stats.iter_mut().for_each(MaskedCov::clear);
    }
}
