//! Multi-resolution features: returns, ranges and volatility of k-bar aggregated bars,
//! k ∈ {5, 15}. The aggregated bar ending at row t covers rows t−k+1 … t (rolling, so it is
//! available at every row, not only on k-bar boundaries).

use crate::window::{MaxMin, Ring};
use crate::{BarInput, Domain, FeatureSpec, Kernel};

/// Aggregation factors.
pub const MULTIRES_FACTORS: [usize; 2] = [5, 15];
/// Number of non-overlapping aggregated returns in the volatility.
pub const MULTIRES_VOL_BARS: usize = 20;

#[derive(Debug, Clone)]
struct Factor {
    k: usize,
    closes: Ring,
    highs: MaxMin,
    lows: MaxMin,
}

/// `mr_return_k`, `mr_range_k`, `mr_vol_k` for k ∈ {5, 15}. 6 features.
#[derive(Debug, Clone)]
pub struct MultiResKernel {
    factors: Vec<Factor>,
}

impl Default for MultiResKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl MultiResKernel {
    pub fn new() -> MultiResKernel {
        MultiResKernel {
            factors: MULTIRES_FACTORS
                .iter()
                .map(|&k| Factor {
                    k,
                    closes: Ring::new(MULTIRES_VOL_BARS * k + 1),
                    highs: MaxMin::new(k),
                    lows: MaxMin::new(k),
                })
                .collect(),
        }
    }
}

impl Kernel for MultiResKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let mut v = Vec::new();
        for &k in &MULTIRES_FACTORS {
            let m = MULTIRES_VOL_BARS;
            for (stat, f, warm) in [
                ("return", format!("ln(C(t)/C(t-{k}))"), k),
                (
                    "range",
                    format!("(max(H(t-{}..t)) - min(L(t-{}..t))) / C(t)", k - 1, k - 1),
                    k - 1,
                ),
                (
                    "vol",
                    format!(
                        "std(ddof=1) of the {m} non-overlapping {k}-bar log returns ln(C(t-j*{k})/C(t-(j+1)*{k})), j = 0..{}",
                        m - 1
                    ),
                    m * k,
                ),
            ] {
                v.push(FeatureSpec {
                    name: format!("mr_{stat}_{k}"),
                    family: "multires",
                    domain: Domain::Rate,
                    window: Some(k),
                    formula: f,
                    warmup: warm,
                });
            }
        }
        v
    }

    fn width(&self) -> usize {
        3 * MULTIRES_FACTORS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let c = bar.close;
        for (i, f) in self.factors.iter_mut().enumerate() {
            f.closes.push(c);
            f.highs.push(bar.high);
            f.lows.push(bar.low);
            let n = f.closes.len();
            let o = &mut out[3 * i..3 * i + 3];
            o[0] = if n > f.k {
                (c / f.closes.back(f.k)).ln()
            } else {
                f64::NAN
            };
            o[1] = if n >= f.k {
                (f.highs.max() - f.lows.min()) / c
            } else {
                f64::NAN
            };
            o[2] = if f.closes.is_full() {
                let m = MULTIRES_VOL_BARS;
                let r: Vec<f64> = (0..m)
                    .map(|j| (f.closes.back(j * f.k) / f.closes.back((j + 1) * f.k)).ln())
                    .collect();
                let mean = r.iter().sum::<f64>() / m as f64;
                (r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (m - 1) as f64).sqrt()
            } else {
                f64::NAN
            };
        }
    }

    fn reset(&mut self) {
        for f in &mut self.factors {
            f.closes.clear();
            f.highs.clear();
            f.lows.clear();
        }
    }
}
