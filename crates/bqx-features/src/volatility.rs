//! Range-based volatility estimators (windows 20, 60), per bar (not annualized), rate domain.
//!
//! With `o = ln(O/C(t−1))`, `u = ln(H/O)`, `d = ln(L/O)`, `c = ln(C/O)`:
//! close-to-close = std(ln(C/C(t−1)), ddof=1); Parkinson = √(mean(ln(H/L)²)/(4 ln 2));
//! Garman–Klass = √mean(½·ln(H/L)² − (2 ln 2 − 1)·c²); Rogers–Satchell = √mean(u(u−c) + d(d−c));
//! Yang–Zhang = √(var(o) + k·var(c) + (1−k)·RS²), `k = 0.34/(1.34 + (W+1)/(W−1))`, variances with
//! ddof = 1. On close-only bars (open = high = low = close) Parkinson, Garman–Klass and
//! Rogers–Satchell would be 0 and Yang–Zhang a disguised close-to-close figure, so close-only
//! sources drop these columns ([`crate::FeatureSet::standard_for_source`]). Means of negative
//! Garman–Klass sums are clamped at 0.

use crate::window::ShiftedSums;
use crate::{BarInput, Domain, FeatureSpec, Kernel};

/// The estimator windows.
pub const VOL_WINDOWS: [usize; 2] = [20, 60];
const ESTIMATORS: [&str; 5] = [
    "close_to_close",
    "parkinson",
    "garman_klass",
    "rogers_satchell",
    "yang_zhang",
];

#[derive(Debug, Clone)]
struct VolWindow {
    cc: ShiftedSums,
    park: ShiftedSums,
    gk: ShiftedSums,
    rs: ShiftedSums,
    over: ShiftedSums,
    oc: ShiftedSums,
}

impl VolWindow {
    fn new(w: usize) -> VolWindow {
        let s = || ShiftedSums::new(w, 2);
        VolWindow {
            cc: s(),
            park: s(),
            gk: s(),
            rs: s(),
            over: s(),
            oc: s(),
        }
    }

    fn clear(&mut self) {
        for s in [
            &mut self.cc,
            &mut self.park,
            &mut self.gk,
            &mut self.rs,
            &mut self.over,
            &mut self.oc,
        ] {
            s.clear();
        }
    }
}

/// Close-to-close, Parkinson, Garman–Klass, Rogers–Satchell and Yang–Zhang volatility over
/// 20 and 60 rows. 10 features.
#[derive(Debug, Clone)]
pub struct VolatilityKernel {
    prev_close: Option<f64>,
    windows: Vec<VolWindow>,
}

impl Default for VolatilityKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl VolatilityKernel {
    pub fn new() -> VolatilityKernel {
        VolatilityKernel {
            prev_close: None,
            windows: VOL_WINDOWS.iter().map(|&w| VolWindow::new(w)).collect(),
        }
    }
}

impl Kernel for VolatilityKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let mut v = Vec::new();
        for &w in &VOL_WINDOWS {
            for e in ESTIMATORS {
                let (f, warm) = match e {
                    "close_to_close" => ("std(ln(C/C(t-1)), ddof=1)", w),
                    "parkinson" => ("sqrt(mean(ln(H/L)^2) / (4 ln 2))", w - 1),
                    "garman_klass" => ("sqrt(mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2))", w - 1),
                    "rogers_satchell" => ("sqrt(mean(ln(H/C) ln(H/O) + ln(L/C) ln(L/O)))", w - 1),
                    "yang_zhang" => (
                        "sqrt(var(ln(O/C(t-1))) + k var(ln(C/O)) + (1-k) RS^2), k = 0.34/(1.34 + (W+1)/(W-1)), ddof=1",
                        w,
                    ),
                    _ => unreachable!(),
                };
                v.push(FeatureSpec {
                    name: format!("vol_{e}_{w}"),
                    family: "volatility",
                    domain: Domain::Rate,
                    window: Some(w),
                    formula: format!("over rows t-{}..t, per bar: {f}", w - 1),
                    warmup: warm,
                });
            }
        }
        v
    }

    fn width(&self) -> usize {
        VOL_WINDOWS.len() * ESTIMATORS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let (o, h, l, c) = (bar.open, bar.high, bar.low, bar.close);
        let hl = (h / l).ln();
        let co = (c / o).ln();
        let (u, d) = ((h / o).ln(), (l / o).ln());
        let rs = u * (u - co) + d * (d - co);
        let gk = 0.5 * hl * hl - (2.0 * std::f64::consts::LN_2 - 1.0) * co * co;
        let prev = self.prev_close.replace(c);
        let ne = ESTIMATORS.len();
        for (k, vw) in self.windows.iter_mut().enumerate() {
            vw.park.push(hl * hl);
            vw.gk.push(gk);
            vw.rs.push(rs);
            vw.oc.push(co);
            if let Some(p) = prev {
                vw.cc.push((c / p).ln());
                vw.over.push((o / p).ln());
            }
            let out = &mut out[k * ne..(k + 1) * ne];
            let mean_sqrt = |s: &ShiftedSums| s.mean().max(0.0).sqrt();
            if vw.park.is_full() {
                out[1] = (vw.park.mean().max(0.0) / (4.0 * std::f64::consts::LN_2)).sqrt();
                out[2] = mean_sqrt(&vw.gk);
                out[3] = mean_sqrt(&vw.rs);
            } else {
                out[1..4].fill(f64::NAN);
            }
            if vw.cc.is_full() {
                let w = vw.cc.w() as f64;
                let kk = 0.34 / (1.34 + (w + 1.0) / (w - 1.0));
                out[0] = vw.cc.var_sample().sqrt();
                let var = vw.over.var_sample()
                    + kk * vw.oc.var_sample()
                    + (1.0 - kk) * vw.rs.mean().max(0.0);
                out[4] = var.sqrt();
            } else {
                out[0] = f64::NAN;
                out[4] = f64::NAN;
            }
        }
    }

    fn reset(&mut self) {
        self.prev_close = None;
        self.windows.iter_mut().for_each(VolWindow::clear);
    }
}
