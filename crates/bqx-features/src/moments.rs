//! Rolling statistical moments, windows {20, 50, 120}, on both domains:
//! rate = one-bar log returns `ln(r(t)/r(t−1))`, bqx = the `bqx_return_15` series.
//! The window is the last W values, row t included.
//!
//! skew and kurtosis are the bias-corrected sample estimators (as pandas' `rolling().skew()` and
//! `.kurt()`): `G1 = √(n(n−1))/(n−2) · m3/m2^{3/2}`, excess
//! `G2 = (n−1)/((n−2)(n−3)) · ((n+1)·(m4/m2² − 3) + 6)`, with `m_k` the central moments (÷n).
//! On a constant window (variance at rounding level) std is 0 and skew, kurtosis and z-score are
//! defined as 0.

use crate::bqx::BqxReturn;
use crate::window::{MaxMin, ShiftedSums};
use crate::{BarInput, Domain, FeatureSpec, Kernel};

/// The moment windows.
pub const MOMENT_WINDOWS: [usize; 3] = [20, 50, 120];

const STATS: [&str; 8] = [
    "mean", "std", "skew", "kurt", "min", "max", "range", "zscore",
];

#[derive(Debug, Clone)]
struct MomWindow {
    sums: ShiftedSums,
    mm: MaxMin,
}

/// Rolling moments of one domain (24 features).
#[derive(Debug, Clone)]
pub struct MomentsKernel {
    domain: Domain,
    prev_close: Option<f64>,
    b15: BqxReturn,
    windows: Vec<MomWindow>,
}

impl MomentsKernel {
    pub fn new(domain: Domain) -> MomentsKernel {
        domain.assert_series();
        MomentsKernel {
            domain,
            prev_close: None,
            b15: BqxReturn::new(15),
            windows: MOMENT_WINDOWS
                .iter()
                .map(|&w| MomWindow {
                    sums: ShiftedSums::new(w, 4),
                    mm: MaxMin::new(w),
                })
                .collect(),
        }
    }

    /// Row of the first defined series value.
    fn first_value_row(&self) -> usize {
        match self.domain {
            Domain::Rate => 1,
            Domain::Bqx | Domain::Micro | Domain::Panel => 15,
        }
    }
}

impl Kernel for MomentsKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let d = self.domain.as_str();
        let series = match self.domain {
            Domain::Rate => "v = ln(r(t)/r(t-1))",
            Domain::Bqx | Domain::Micro | Domain::Panel => "v = bqx_return_15",
        };
        let mut out = Vec::with_capacity(24);
        for &w in &MOMENT_WINDOWS {
            for stat in STATS {
                let win = format!("v(t-{}..t)", w - 1);
                let f = match stat {
                    "mean" => format!("mean({win})"),
                    "std" => format!("std({win}, ddof=1)"),
                    "skew" => format!("bias-corrected sample skewness G1 of {win} (0 if constant)"),
                    "kurt" => format!("bias-corrected excess kurtosis G2 of {win} (0 if constant)"),
                    "min" => format!("min({win})"),
                    "max" => format!("max({win})"),
                    "range" => format!("max({win}) - min({win})"),
                    "zscore" => {
                        format!("(v(t) - mean({win})) / std({win}, ddof=1) (0 if constant)")
                    }
                    _ => unreachable!(),
                };
                out.push(FeatureSpec {
                    name: format!("mom_{d}_{stat}_{w}"),
                    family: "moments",
                    domain: self.domain,
                    window: Some(w),
                    formula: format!("{series}; {f}"),
                    warmup: self.first_value_row() + w - 1,
                });
            }
        }
        out
    }

    fn width(&self) -> usize {
        MOMENT_WINDOWS.len() * STATS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let v = match self.domain {
            Domain::Rate => {
                let v = self.prev_close.map_or(f64::NAN, |p| (bar.close / p).ln());
                self.prev_close = Some(bar.close);
                v
            }
            Domain::Bqx | Domain::Micro | Domain::Panel => self.b15.update(bar.close),
        };
        let ns = STATS.len();
        for (k, mw) in self.windows.iter_mut().enumerate() {
            let o = &mut out[k * ns..(k + 1) * ns];
            if !v.is_nan() {
                mw.sums.push(v);
                mw.mm.push(v);
            }
            if !mw.sums.is_full() {
                o.fill(f64::NAN);
                continue;
            }
            let n = mw.sums.w() as f64;
            let (m2, m3, m4, degenerate) = mw.sums.central();
            let mean = mw.sums.mean();
            let (mx, mn) = (mw.mm.max(), mw.mm.min());
            let (std, skew, kurt, z) = if degenerate {
                (0.0, 0.0, 0.0, 0.0)
            } else {
                let std = (m2 * n / (n - 1.0)).sqrt();
                let g1 = (n * (n - 1.0)).sqrt() / (n - 2.0) * m3 / (m2 * m2.sqrt());
                let g2 = (n - 1.0) / ((n - 2.0) * (n - 3.0))
                    * ((n + 1.0) * (m4 / (m2 * m2) - 3.0) + 6.0);
                let z = ((v - mw.sums.c) - mw.sums.s[0] / n) / std;
                (std, g1, g2, z)
            };
            o.copy_from_slice(&[mean, std, skew, kurt, mn, mx, mx - mn, z]);
        }
    }

    fn reset(&mut self) {
        self.prev_close = None;
        self.b15.clear();
        for mw in &mut self.windows {
            mw.sums.clear();
            mw.mm.clear();
        }
    }
}
