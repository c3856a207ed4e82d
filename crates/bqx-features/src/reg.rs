//! REG — rolling quadratic regressions over x = 0..W−1, evaluated at `x_end = W − 1`, and the
//! rolling covariances of their term series.
//!
//! O(1) per row. The window is kept in **centred** coordinates `u = x − m`, `m = (W−1)/2`, on
//! values shifted by a reference `c` (`d = y − c`), with the running sums
//! `S0 = Σd`, `S1 = Σu·d`, `S2 = Σu²·d`, `Syy = Σd²`. When the window slides by one row the
//! oldest value (at `u = −m`) leaves, every other value moves `u → u − 1`, and the new value
//! enters at `u = +m`:
//!
//! ```text
//! S0 -= d_old;  S1 += m·d_old;  S2 -= m²·d_old;  Syy -= d_old²      (remove at u = −m)
//! S2 = S2 − 2·S1 + S0;  S1 = S1 − S0                                  (u → u − 1)
//! S0 += d_new;  S1 += m·d_new;  S2 += m²·d_new;  Syy += d_new²        (add at u = +m)
//! ```
//!
//! The normal equations are solved in closed form in the orthogonal basis
//! `{1, u, u² − q}` (`q = Σu²/W`, all `Σu^k` constants of W): `b0 = S0/W`, `b1 = S1/Σu²`,
//! `b2 = (S2 − q·S0)/Σ(u²−q)²`, then mapped back to `y = a2·x² + a1·x + a0`. Every `W` rows the
//! reference `c` is reset to the window mean and all sums are recomputed exactly (re-anchoring),
//! which bounds rounding drift.

use crate::bqx::BqxReturn;
use crate::window::Ring;
use crate::{BarInput, Domain, FeatureSpec, Kernel};

/// The REG windows.
pub const REG_WINDOWS: [usize; 6] = [60, 90, 150, 240, 390, 630];

const METRICS: [&str; 7] = [
    "quad_term",
    "lin_term",
    "const_term",
    "prediction",
    "residual",
    "r2",
    "rmse",
];

/// Running-sum quadratic fit over the last `W` pushed values.
#[derive(Debug, Clone)]
pub(crate) struct RegWindow {
    ring: Ring,
    c: f64,
    s0: f64,
    s1: f64,
    s2: f64,
    syy: f64,
    since_anchor: usize,
    m: f64,
    su2: f64,
    q: f64,
    sp22: f64,
}

impl RegWindow {
    pub(crate) fn new(w: usize) -> RegWindow {
        assert!(w >= 3, "a quadratic fit needs at least 3 points");
        let m = (w as f64 - 1.0) / 2.0;
        let (mut su2, mut su4) = (0.0, 0.0);
        for k in 0..w {
            let u = k as f64 - m;
            su2 += u * u;
            su4 += u * u * u * u;
        }
        let q = su2 / w as f64;
        RegWindow {
            ring: Ring::new(w),
            c: 0.0,
            s0: 0.0,
            s1: 0.0,
            s2: 0.0,
            syy: 0.0,
            since_anchor: 0,
            m,
            su2,
            q,
            sp22: su4 - w as f64 * q * q,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    pub(crate) fn push(&mut self, y: f64) {
        if !self.ring.is_full() {
            if self.ring.len() == 0 {
                self.c = y;
            }
            self.ring.push(y);
            if self.ring.is_full() {
                self.reanchor();
            }
            return;
        }
        let m = self.m;
        let m2 = m * m;
        let old = self.ring.push(y).expect("full ring evicts");
        let d = old - self.c;
        self.s0 -= d;
        self.s1 += m * d;
        self.s2 -= m2 * d;
        self.syy -= d * d;
        self.s2 += self.s0 - 2.0 * self.s1;
        self.s1 -= self.s0;
        let d = y - self.c;
        self.s0 += d;
        self.s1 += m * d;
        self.s2 += m2 * d;
        self.syy += d * d;
        self.since_anchor += 1;
        if self.since_anchor >= self.ring.cap() {
            self.reanchor();
        }
    }

    fn reanchor(&mut self) {
        let n = self.ring.len() as f64;
        let c0 = self.c;
        self.c = c0 + self.ring.iter().map(|v| v - c0).sum::<f64>() / n;
        let (mut s0, mut s1, mut s2, mut syy) = (0.0, 0.0, 0.0, 0.0);
        for k in 0..self.ring.len() {
            let u = k as f64 - self.m;
            let d = self.ring.get(k) - self.c;
            s0 += d;
            s1 += u * d;
            s2 += u * u * d;
            syy += d * d;
        }
        (self.s0, self.s1, self.s2, self.syy) = (s0, s1, s2, syy);
        self.since_anchor = 0;
    }

    /// `[quad_term, lin_term, const_term, prediction, residual, r2, rmse]` of the current window.
    pub(crate) fn fit(&self) -> [f64; 7] {
        let w = self.ring.cap() as f64;
        let m = self.m;
        let b0 = self.s0 / w;
        let b1 = self.s1 / self.su2;
        let b2 = (self.s2 - self.q * self.s0) / self.sp22;
        let a2 = b2;
        let a1 = b1 - 2.0 * m * b2;
        let a0 = self.c + (b0 - b1 * m + b2 * (m * m - self.q));
        let xe = w - 1.0;
        let pred_d = b0 + b1 * m + b2 * (m * m - self.q);
        let y_last_d = self.ring.back(0) - self.c;
        let ss_tot = self.syy - self.s0 * self.s0 / w;
        let ss_res = (ss_tot - b1 * self.s1 - b2 * b2 * self.sp22).max(0.0);
        let degenerate = ss_tot <= 1e-12 * self.syy;
        let r2 = if degenerate {
            0.0
        } else {
            1.0 - ss_res / ss_tot
        };
        [
            a2 * xe * xe,
            a1 * xe,
            a0,
            self.c + pred_d,
            y_last_d - pred_d,
            r2,
            (ss_res / w).sqrt(),
        ]
    }

    pub(crate) fn clear(&mut self) {
        self.ring.clear();
        self.c = 0.0;
        (self.s0, self.s1, self.s2, self.syy) = (0.0, 0.0, 0.0, 0.0);
        self.since_anchor = 0;
    }
}

fn reg_catalog(
    family: &'static str,
    domain: Domain,
    fit_rows: &str,
    warm: impl Fn(usize) -> usize,
) -> Vec<FeatureSpec> {
    let mut v = Vec::with_capacity(42);
    for &w in &REG_WINDOWS {
        for metric in METRICS {
            let f = match metric {
                "quad_term" => "a2*x_end^2",
                "lin_term" => "a1*x_end",
                "const_term" => "a0",
                "prediction" => "a2*x_end^2 + a1*x_end + a0",
                "residual" => "y_last - prediction",
                "r2" => "1 - SS_res/SS_tot (0 when SS_tot = 0)",
                "rmse" => "sqrt(SS_res/W)",
                _ => unreachable!(),
            };
            v.push(FeatureSpec {
                name: format!("{family}_{metric}_{w}"),
                family,
                domain,
                window: Some(w),
                formula: format!(
                    "least squares y = a2*x^2 + a1*x + a0 over x = 0..{}, {fit_rows}, x_end = {}: {f}",
                    w - 1,
                    w - 1
                ),
                warmup: warm(w),
            });
        }
    }
    v
}

/// REG on the rate index `y = 100·r/r(anchor)` (anchor = the first bar after a reset), fitted
/// over rows `t−W … t−1` (row t excluded, as in the original). 42 features.
#[derive(Debug, Clone)]
pub struct RegRateKernel {
    anchor: Option<f64>,
    windows: Vec<RegWindow>,
}

impl Default for RegRateKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl RegRateKernel {
    pub fn new() -> RegRateKernel {
        RegRateKernel {
            anchor: None,
            windows: REG_WINDOWS.iter().map(|&w| RegWindow::new(w)).collect(),
        }
    }
}

impl Kernel for RegRateKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        reg_catalog(
            "reg_rate",
            Domain::Rate,
            "y = 100*r/r(anchor) on rows t-W..t-1 (row t excluded)",
            |w| w,
        )
    }

    fn width(&self) -> usize {
        REG_WINDOWS.len() * METRICS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let anchor = *self.anchor.get_or_insert(bar.close);
        let y = 100.0 * bar.close / anchor;
        for (k, rw) in self.windows.iter_mut().enumerate() {
            let o = &mut out[k * METRICS.len()..(k + 1) * METRICS.len()];
            if rw.is_full() {
                o.copy_from_slice(&rw.fit());
            } else {
                o.fill(f64::NAN);
            }
            rw.push(y);
        }
    }

    fn reset(&mut self) {
        self.anchor = None;
        self.windows.iter_mut().for_each(RegWindow::clear);
    }
}

/// REG on the `bqx_return_15` series, fitted over rows `t−W+1 … t` (row t included).
/// 42 features.
#[derive(Debug, Clone)]
pub struct RegBqxKernel {
    b15: BqxReturn,
    windows: Vec<RegWindow>,
}

impl Default for RegBqxKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl RegBqxKernel {
    pub fn new() -> RegBqxKernel {
        RegBqxKernel {
            b15: BqxReturn::new(15),
            windows: REG_WINDOWS.iter().map(|&w| RegWindow::new(w)).collect(),
        }
    }
}

impl Kernel for RegBqxKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        reg_catalog(
            "reg_bqx",
            Domain::Bqx,
            "y = bqx_return_15 on rows t-W+1..t (row t included)",
            |w| w + 14,
        )
    }

    fn width(&self) -> usize {
        REG_WINDOWS.len() * METRICS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let y = self.b15.update(bar.close);
        for (k, rw) in self.windows.iter_mut().enumerate() {
            let o = &mut out[k * METRICS.len()..(k + 1) * METRICS.len()];
            if !y.is_nan() {
                rw.push(y);
            }
            if rw.is_full() {
                o.copy_from_slice(&rw.fit());
            } else {
                o.fill(f64::NAN);
            }
        }
    }

    fn reset(&mut self) {
        self.b15.clear();
        self.windows.iter_mut().for_each(RegWindow::clear);
    }
}

/// The terms whose covariances are taken, and their short names.
const TERMS: [&str; 4] = ["quad", "lin", "const", "residual"];
/// Index of each term in `RegWindow::fit()`'s output.
const TERM_IDX: [usize; 4] = [0, 1, 2, 4];
const COV_PAIRS: [(usize, usize); 6] = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];

/// Rolling sample covariances of 4 series over the last `W` rows (shifted sums, re-anchored
/// every `W` rows).
#[derive(Debug, Clone)]
struct CovWindow {
    rings: [Ring; 4],
    c: [f64; 4],
    s: [f64; 4],
    sx: [f64; 6],
    since_anchor: usize,
}

impl CovWindow {
    fn new(w: usize) -> CovWindow {
        CovWindow {
            rings: std::array::from_fn(|_| Ring::new(w)),
            c: [0.0; 4],
            s: [0.0; 4],
            sx: [0.0; 6],
            since_anchor: 0,
        }
    }

    fn add(&mut self, v: &[f64; 4], sign: f64) {
        let d: [f64; 4] = std::array::from_fn(|i| v[i] - self.c[i]);
        for (s, di) in self.s.iter_mut().zip(d) {
            *s += sign * di;
        }
        for (p, &(i, j)) in COV_PAIRS.iter().enumerate() {
            self.sx[p] += sign * d[i] * d[j];
        }
    }

    fn push(&mut self, v: [f64; 4]) {
        if self.rings[0].len() == 0 {
            self.c = v;
        }
        let mut old = [0.0; 4];
        let mut evicted = false;
        for i in 0..4 {
            if let Some(o) = self.rings[i].push(v[i]) {
                old[i] = o;
                evicted = true;
            }
        }
        if evicted {
            self.add(&old, -1.0);
        }
        self.add(&v, 1.0);
        self.since_anchor += 1;
        let w = self.rings[0].cap();
        if self.rings[0].is_full() && self.since_anchor >= w {
            let n = w as f64;
            for i in 0..4 {
                let c0 = self.c[i];
                self.c[i] = c0 + self.rings[i].iter().map(|x| x - c0).sum::<f64>() / n;
            }
            self.s = [0.0; 4];
            self.sx = [0.0; 6];
            for k in 0..w {
                let row: [f64; 4] = std::array::from_fn(|i| self.rings[i].get(k));
                self.add(&row, 1.0);
            }
            self.since_anchor = 0;
        }
    }

    fn is_full(&self) -> bool {
        self.rings[0].is_full()
    }

    fn covs(&self, out: &mut [f64]) {
        let n = self.rings[0].cap() as f64;
        for (p, &(i, j)) in COV_PAIRS.iter().enumerate() {
            out[p] = (self.sx[p] - self.s[i] * self.s[j] / n) / (n - 1.0);
        }
    }

    fn clear(&mut self) {
        self.rings.iter_mut().for_each(Ring::clear);
        self.c = [0.0; 4];
        self.s = [0.0; 4];
        self.sx = [0.0; 6];
        self.since_anchor = 0;
    }
}

/// Term covariances (stage 2.14): for each REG-bqx window W and each of the 6 unordered pairs of
/// {quad_term, lin_term, const_term, residual}, the rolling sample covariance (ddof = 1) over the
/// last W rows of the two term series. 36 features. Runs its own REG-bqx state so that it is a
/// self-contained kernel.
#[derive(Debug, Clone)]
pub struct TermCovKernel {
    b15: BqxReturn,
    regs: Vec<RegWindow>,
    covs: Vec<CovWindow>,
}

impl Default for TermCovKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl TermCovKernel {
    pub fn new() -> TermCovKernel {
        TermCovKernel {
            b15: BqxReturn::new(15),
            regs: REG_WINDOWS.iter().map(|&w| RegWindow::new(w)).collect(),
            covs: REG_WINDOWS.iter().map(|&w| CovWindow::new(w)).collect(),
        }
    }
}

impl Kernel for TermCovKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let mut v = Vec::with_capacity(36);
        for &w in &REG_WINDOWS {
            for &(i, j) in &COV_PAIRS {
                let (a, b) = (TERMS[i], TERMS[j]);
                let ta = if a == "residual" {
                    a.to_string()
                } else {
                    format!("{a}_term")
                };
                let tb = if b == "residual" {
                    b.to_string()
                } else {
                    format!("{b}_term")
                };
                v.push(FeatureSpec {
                    name: format!("reg_bqx_cov_{a}_{b}_{w}"),
                    family: "reg_bqx_cov",
                    domain: Domain::Bqx,
                    window: Some(w),
                    formula: format!(
                        "sample covariance (ddof=1) of reg_bqx_{ta}_{w} and reg_bqx_{tb}_{w} over rows t-{}..t",
                        w - 1
                    ),
                    warmup: 2 * w + 13,
                });
            }
        }
        v
    }

    fn width(&self) -> usize {
        REG_WINDOWS.len() * COV_PAIRS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let y = self.b15.update(bar.close);
        let np = COV_PAIRS.len();
        for (k, (rw, cw)) in self.regs.iter_mut().zip(self.covs.iter_mut()).enumerate() {
            let o = &mut out[k * np..(k + 1) * np];
            if !y.is_nan() {
                rw.push(y);
                if rw.is_full() {
                    let f = rw.fit();
                    cw.push(TERM_IDX.map(|i| f[i]));
                }
            }
            if cw.is_full() {
                cw.covs(o);
            } else {
                o.fill(f64::NAN);
            }
        }
    }

    fn reset(&mut self) {
        self.b15.clear();
        self.regs.iter_mut().for_each(RegWindow::clear);
        self.covs.iter_mut().for_each(CovWindow::clear);
    }
}
