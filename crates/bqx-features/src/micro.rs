//! Microstructure: spread and tick volume, only for sources that carry them.
//!
//! A column exists only when the source has its input ([`crate::SourceCaps`]): without spread
//! the three spread columns are absent from the schema, without volume the four volume columns
//! are — never zeros. Within a source that has them, a single bar's unknown value (`NaN`) is
//! missing: the level is `NaN` at that row, and every rolling statistic whose window contains
//! the row is `NaN` until it has left the window (nothing is carried forward or skipped).
//!
//! Columns (windows count rows, row t included):
//!
//! | name | definition | warm-up |
//! |---|---|---|
//! | `ms_spread` | `s(t)`, the bar's spread (ask − bid, price units) | 0 |
//! | `ms_spread_rel` | `s(t) / r(t)` | 0 |
//! | `ms_spread_z_60` | `(s(t) − mean(s(t−59..t))) / std(…, ddof=1)`, 0 on a constant window | 59 |
//! | `ms_volume_z_{20,60}` | the same z-score of the tick volume `v` | 19, 59 |
//! | `ms_volbqx_z_60` | `ms_volume_z_60(t) · bqx_return_15(t)` | 59 |
//! | `ms_volbqx_rel_20` | `v(t) / mean(v(t−19..t)) · bqx_return_15(t)` (ratio 1 on a constant window) | 19 |
//!
//! The interactions weigh the BQX move by how unusual the bar's activity is: a BQX move on
//! heavy volume is a different signal from the same move in a quiet market.

use crate::bqx::BqxReturn;
use crate::window::MaskedCov;
use crate::{BarInput, Domain, FeatureSpec, Kernel};

/// Window of the spread z-score.
pub const MS_SPREAD_Z_WINDOW: usize = 60;
/// Windows of the tick-volume z-scores.
pub const MS_VOLUME_Z_WINDOWS: [usize; 2] = [20, 60];
/// Window of the relative volume in `ms_volbqx_rel_20`.
pub const MS_VOLUME_REL_WINDOW: usize = 20;

/// The microstructure family for a source with spread and/or volume (3 spread + 4 volume
/// columns).
#[derive(Debug, Clone)]
pub struct MicrostructureKernel {
    has_spread: bool,
    has_volume: bool,
    spread: MaskedCov,
    volume: Vec<MaskedCov>,
    b15: BqxReturn,
}

impl MicrostructureKernel {
    pub fn new(has_spread: bool, has_volume: bool) -> MicrostructureKernel {
        MicrostructureKernel {
            has_spread,
            has_volume,
            spread: MaskedCov::new(MS_SPREAD_Z_WINDOW),
            volume: MS_VOLUME_Z_WINDOWS
                .iter()
                .map(|&w| MaskedCov::new(w))
                .collect(),
            b15: BqxReturn::new(15),
        }
    }
}

fn spec(name: String, window: Option<usize>, formula: String, warmup: usize) -> FeatureSpec {
    FeatureSpec {
        name,
        family: "microstructure",
        domain: Domain::Micro,
        window,
        formula,
        warmup,
    }
}

fn z_text(x: &str, w: usize) -> String {
    format!(
        "({x}(t) - mean({x}(t-{m}..t))) / std({x}(t-{m}..t), ddof=1); 0 on a constant window; \
         NaN while the window holds an unknown {x}",
        m = w - 1
    )
}

impl Kernel for MicrostructureKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let mut v = Vec::new();
        if self.has_spread {
            let w = MS_SPREAD_Z_WINDOW;
            v.push(spec(
                "ms_spread".into(),
                None,
                "s(t), the bar's spread (ask - bid, price units); NaN when unknown".into(),
                0,
            ));
            v.push(spec("ms_spread_rel".into(), None, "s(t) / r(t)".into(), 0));
            v.push(spec(
                format!("ms_spread_z_{w}"),
                Some(w),
                format!("spread s: {}", z_text("s", w)),
                w - 1,
            ));
        }
        if self.has_volume {
            for &w in &MS_VOLUME_Z_WINDOWS {
                v.push(spec(
                    format!("ms_volume_z_{w}"),
                    Some(w),
                    format!("tick volume v: {}", z_text("v", w)),
                    w - 1,
                ));
            }
            let zw = MS_VOLUME_Z_WINDOWS[1];
            v.push(spec(
                format!("ms_volbqx_z_{zw}"),
                Some(zw),
                format!("ms_volume_z_{zw}(t) * bqx_return_15(t)"),
                (zw - 1).max(15),
            ));
            let rw = MS_VOLUME_REL_WINDOW;
            v.push(spec(
                format!("ms_volbqx_rel_{rw}"),
                Some(rw),
                format!(
                    "v(t) / mean(v(t-{}..t)) * bqx_return_15(t); the ratio is 1 on a constant window (all-zero volumes included)",
                    rw - 1
                ),
                (rw - 1).max(15),
            ));
        }
        v
    }

    fn width(&self) -> usize {
        3 * usize::from(self.has_spread) + 4 * usize::from(self.has_volume)
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let b15 = self.b15.update(bar.close);
        let mut o = 0;
        if self.has_spread {
            let s = bar.spread;
            self.spread.push(s, 0.0);
            out[0] = s;
            out[1] = s / bar.close;
            out[2] = self.spread.stats().map_or(f64::NAN, |st| st.zscore_x(0.0));
            o = 3;
        }
        if self.has_volume {
            let v = bar.volume;
            let mut z = [f64::NAN; 2];
            let mut rel = f64::NAN;
            for (k, (w, mc)) in MS_VOLUME_Z_WINDOWS
                .iter()
                .zip(self.volume.iter_mut())
                .enumerate()
            {
                mc.push(v, 0.0);
                if let Some(st) = mc.stats() {
                    z[k] = st.zscore_x(0.0);
                    if *w == MS_VOLUME_REL_WINDOW {
                        // A constant window (all-zero volumes included): v is its mean.
                        rel = if st.flat_x { 1.0 } else { v / st.mean_x };
                    }
                }
            }
            out[o] = z[0];
            out[o + 1] = z[1];
            out[o + 2] = z[1] * b15;
            out[o + 3] = rel * b15;
        }
    }

    fn reset(&mut self) {
        self.spread.clear();
        self.volume.iter_mut().for_each(MaskedCov::clear);
        self.b15.clear();
    }
}
