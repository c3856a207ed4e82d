//! The BQX family (37 features per pair).
//!
//! `bqx_return_W(t) = Σ_{i=1..W} (r(t−i) − r(t)) / r(t)`: positive when the price has **fallen**
//! relative to its recent path (the original sign convention).

use crate::window::{MaxMin, ShiftedSums};
use crate::{BarInput, Domain, FeatureSpec, Kernel};

/// The BQX windows.
pub const BQX_WINDOWS: [usize; 5] = [15, 30, 45, 60, 75];
/// The window of the aggregate features.
pub const BQX_AGG_WINDOW: usize = 75;

const PER_WINDOW: [&str; 6] = ["return", "endpoint", "max", "min", "avg", "stdev"];
const AGG: [&str; 7] = [
    "return",
    "max",
    "min",
    "avg",
    "stdev",
    "range",
    "volatility",
];

/// Incremental `bqx_return_W` for one window: the closes of rows `t−W … t−1` (row t excluded).
#[derive(Debug, Clone)]
pub(crate) struct BqxReturn {
    sums: ShiftedSums,
}

impl BqxReturn {
    pub(crate) fn new(w: usize) -> BqxReturn {
        BqxReturn {
            sums: ShiftedSums::new(w, 2),
        }
    }

    /// Consumes close `r(t)` and returns `bqx_return_W(t)` (`NaN` for t < W).
    pub(crate) fn update(&mut self, r: f64) -> f64 {
        let v = if self.sums.is_full() {
            let w = self.sums.w() as f64;
            (self.sums.s[0] + w * (self.sums.c - r)) / r
        } else {
            f64::NAN
        };
        self.sums.push(r);
        v
    }

    pub(crate) fn clear(&mut self) {
        self.sums.clear();
    }
}

#[derive(Debug, Clone)]
struct WindowState {
    sums: ShiftedSums,
    mm: MaxMin,
}

/// The 37 BQX features: per window W ∈ {15,30,45,60,75} return, endpoint, max, min, avg, stdev
/// (relative to r(t)), then the aggregates over 75 rows.
#[derive(Debug, Clone)]
pub struct BqxKernel {
    windows: Vec<WindowState>,
}

impl Default for BqxKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl BqxKernel {
    pub fn new() -> BqxKernel {
        BqxKernel {
            windows: BQX_WINDOWS
                .iter()
                .map(|&w| WindowState {
                    sums: ShiftedSums::new(w, 2),
                    mm: MaxMin::new(w),
                })
                .collect(),
        }
    }
}

fn per_window_formula(stat: &str, w: usize) -> String {
    let win = format!("r(t-{w}..t-1)");
    match stat {
        "return" => {
            format!("sum_{{i=1..{w}}} (r(t-i) - r(t)) / r(t) = {w}*(mean({win}) - r(t))/r(t)")
        }
        "endpoint" => format!("(r(t-{w}) - r(t)) / r(t)"),
        "max" => format!("(max({win}) - r(t)) / r(t)"),
        "min" => format!("(min({win}) - r(t)) / r(t)"),
        "avg" => format!("(mean({win}) - r(t)) / r(t)"),
        "stdev" => format!("std({win}, ddof=1) / r(t)"),
        _ => unreachable!(),
    }
}

fn agg_formula(stat: &str) -> String {
    let w = BQX_AGG_WINDOW;
    let win = format!("r(t-{w}..t-1)");
    match stat {
        "range" => format!("(max({win}) - min({win})) / r(t)"),
        "volatility" => format!("std({win}, ddof=1) / mean({win}) (coefficient of variation)"),
        s => format!(
            "{} (aggregate over the longest window)",
            per_window_formula(s, w)
        ),
    }
}

impl Kernel for BqxKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let mut v = Vec::with_capacity(37);
        for &w in &BQX_WINDOWS {
            for stat in PER_WINDOW {
                v.push(FeatureSpec {
                    name: format!("bqx_{stat}_{w}"),
                    family: "bqx",
                    domain: Domain::Rate,
                    window: Some(w),
                    formula: per_window_formula(stat, w),
                    warmup: w,
                });
            }
        }
        for stat in AGG {
            v.push(FeatureSpec {
                name: format!("bqx_agg_{stat}"),
                family: "bqx",
                domain: Domain::Rate,
                window: Some(BQX_AGG_WINDOW),
                formula: agg_formula(stat),
                warmup: BQX_AGG_WINDOW,
            });
        }
        v
    }

    fn width(&self) -> usize {
        BQX_WINDOWS.len() * PER_WINDOW.len() + AGG.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let r = bar.close;
        let np = PER_WINDOW.len();
        for (k, ws) in self.windows.iter_mut().enumerate() {
            let o = &mut out[k * np..(k + 1) * np];
            if ws.sums.is_full() {
                let w = ws.sums.w() as f64;
                let s1 = ws.sums.s[0];
                let dc = ws.sums.c - r;
                o[0] = (s1 + w * dc) / r;
                o[1] = (ws.sums.ring().get(0) - r) / r;
                o[2] = (ws.mm.max() - r) / r;
                o[3] = (ws.mm.min() - r) / r;
                o[4] = (s1 / w + dc) / r;
                o[5] = ws.sums.var_sample().sqrt() / r;
            } else {
                o.fill(f64::NAN);
            }
        }
        // Aggregates over the longest window (the last one).
        let base = BQX_WINDOWS.len() * np;
        let last = &self.windows[BQX_WINDOWS.len() - 1];
        let a = &mut out[base..base + AGG.len()];
        if last.sums.is_full() {
            let lo = (BQX_WINDOWS.len() - 1) * np;
            let (ret, mx, mn, avg, sd) =
                (out[lo], out[lo + 2], out[lo + 3], out[lo + 4], out[lo + 5]);
            let a = &mut out[base..base + AGG.len()];
            a[0] = ret;
            a[1] = mx;
            a[2] = mn;
            a[3] = avg;
            a[4] = sd;
            a[5] = (last.mm.max() - last.mm.min()) / r;
            a[6] = last.sums.var_sample().sqrt() / last.sums.mean();
        } else {
            a.fill(f64::NAN);
        }
        for ws in &mut self.windows {
            ws.sums.push(r);
            ws.mm.push(r);
        }
    }

    fn reset(&mut self) {
        for ws in &mut self.windows {
            ws.sums.clear();
            ws.mm.clear();
        }
    }
}
