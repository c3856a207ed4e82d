//! Bollinger bands, lags and moving averages.
//!
//! Scale-free forms: on the rate domain (series = the close `r`) levels are expressed relative to
//! the current value, `(x − r(t)) / r(t)`; on the bqx domain (series = `bqx_return_15`, which
//! crosses zero) they are plain differences `x − v(t)`, since dividing by a value near zero is
//! meaningless.

use crate::source::{Source, SourceState};
use crate::window::{Ring, ShiftedSums};
use crate::{BarInput, Domain, FeatureSpec, Kernel};

/// Bollinger windows (bands at ±2σ).
pub const BOLLINGER_WINDOWS: [usize; 2] = [20, 50];
/// Lags of the lag family.
pub const LAGS: [usize; 9] = [1, 2, 3, 5, 10, 15, 30, 45, 60];
/// SMA and EMA periods.
pub const MA_PERIODS: [usize; 6] = [5, 10, 20, 50, 100, 200];

fn domain_source(domain: Domain) -> Source {
    match domain {
        Domain::Rate => Source::Close,
        Domain::Bqx | Domain::Micro | Domain::Panel => Source::Bqx(15),
    }
}

/// `(x − v)/v` on the rate domain, `x − v` on the bqx domain.
fn rel(domain: Domain, x: f64, v: f64) -> f64 {
    match domain {
        Domain::Rate => (x - v) / v,
        Domain::Bqx | Domain::Micro | Domain::Panel => x - v,
    }
}

fn rel_text(domain: Domain, x: &str) -> String {
    match domain {
        Domain::Rate => format!("({x} - r(t)) / r(t)"),
        Domain::Bqx | Domain::Micro | Domain::Panel => format!("{x} - v(t)"),
    }
}

fn series_text(domain: Domain) -> &'static str {
    match domain {
        Domain::Rate => "series r = close",
        Domain::Bqx | Domain::Micro | Domain::Panel => "series v = bqx_return_15",
    }
}

const BOLL_STATS: [&str; 5] = ["upper", "middle", "lower", "bandwidth", "pctb"];

/// Bollinger bands (20, 50; 2σ, σ = sample std with ddof = 1 over the last W values, row t
/// included) of one domain: upper, middle, lower (relative), bandwidth, %B. 10 features.
#[derive(Debug, Clone)]
pub struct BollingerKernel {
    domain: Domain,
    src: SourceState,
    windows: Vec<ShiftedSums>,
}

impl BollingerKernel {
    pub fn new(domain: Domain) -> BollingerKernel {
        domain.assert_series();
        BollingerKernel {
            domain,
            src: SourceState::new(domain_source(domain)),
            windows: BOLLINGER_WINDOWS
                .iter()
                .map(|&w| ShiftedSums::new(w, 2))
                .collect(),
        }
    }
}

impl Kernel for BollingerKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let d = self.domain;
        let first = domain_source(d).first_row();
        let mut v = Vec::new();
        for &w in &BOLLINGER_WINDOWS {
            let (m, s) = (
                format!("mean(x(t-{}..t))", w - 1),
                format!("std(x(t-{}..t), ddof=1)", w - 1),
            );
            for stat in BOLL_STATS {
                let f = match stat {
                    "upper" => rel_text(d, &format!("({m} + 2*{s})")),
                    "middle" => rel_text(d, &m),
                    "lower" => rel_text(d, &format!("({m} - 2*{s})")),
                    "bandwidth" => match d {
                        Domain::Rate => format!("4*{s} / {m}"),
                        Domain::Bqx | Domain::Micro | Domain::Panel => format!("4*{s}"),
                    },
                    "pctb" => format!("(x(t) - lower) / (upper - lower) (0.5 if {s} = 0)"),
                    _ => unreachable!(),
                };
                v.push(FeatureSpec {
                    name: format!("boll_{}_{stat}_{w}", d.as_str()),
                    family: "bollinger",
                    domain: d,
                    window: Some(w),
                    formula: format!("{}; {f}", series_text(d)),
                    warmup: first + w - 1,
                });
            }
        }
        v
    }

    fn width(&self) -> usize {
        BOLLINGER_WINDOWS.len() * BOLL_STATS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let x = self.src.update(bar.close);
        let ns = BOLL_STATS.len();
        for (k, sums) in self.windows.iter_mut().enumerate() {
            let o = &mut out[k * ns..(k + 1) * ns];
            if !x.is_nan() {
                sums.push(x);
            }
            if !sums.is_full() {
                o.fill(f64::NAN);
                continue;
            }
            let n = sums.w() as f64;
            // mean − x, computed on the shifted values.
            let dm = sums.s[0] / n - (x - sums.c);
            let sd = sums.var_sample().sqrt();
            let (upper, middle, lower) = match self.domain {
                Domain::Rate => ((dm + 2.0 * sd) / x, dm / x, (dm - 2.0 * sd) / x),
                Domain::Bqx | Domain::Micro | Domain::Panel => (dm + 2.0 * sd, dm, dm - 2.0 * sd),
            };
            let bandwidth = match self.domain {
                Domain::Rate => 4.0 * sd / sums.mean(),
                Domain::Bqx | Domain::Micro | Domain::Panel => 4.0 * sd,
            };
            let pctb = if sd > 0.0 {
                (2.0 * sd - dm) / (4.0 * sd)
            } else {
                0.5
            };
            o.copy_from_slice(&[upper, middle, lower, bandwidth, pctb]);
        }
    }

    fn reset(&mut self) {
        self.src.clear();
        self.windows.iter_mut().for_each(ShiftedSums::clear);
    }
}

const LAG_SOURCES: [(Source, &str); 3] = [
    (Source::LogReturn, "logret"),
    (Source::Bqx(15), "bqx_return_15"),
    (Source::Bqx(60), "bqx_return_60"),
];

/// Lags {1,2,3,5,10,15,30,45,60} of the one-bar log return, `bqx_return_15` and
/// `bqx_return_60`. 27 features.
#[derive(Debug, Clone)]
pub struct LagsKernel {
    sources: Vec<(SourceState, Ring)>,
}

impl Default for LagsKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl LagsKernel {
    pub fn new() -> LagsKernel {
        let depth = LAGS[LAGS.len() - 1] + 1;
        LagsKernel {
            sources: LAG_SOURCES
                .iter()
                .map(|&(s, _)| (SourceState::new(s), Ring::new(depth)))
                .collect(),
        }
    }
}

impl Kernel for LagsKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let mut v = Vec::new();
        for &(s, name) in &LAG_SOURCES {
            for &k in &LAGS {
                v.push(FeatureSpec {
                    name: format!("lag_{name}_{k}"),
                    family: "lags",
                    domain: if s == Source::LogReturn {
                        Domain::Rate
                    } else {
                        Domain::Bqx
                    },
                    window: Some(k),
                    formula: format!("{} at row t-{k}", s.text()),
                    warmup: s.first_row() + k,
                });
            }
        }
        v
    }

    fn width(&self) -> usize {
        LAG_SOURCES.len() * LAGS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        for (i, (src, ring)) in self.sources.iter_mut().enumerate() {
            // The ring holds every value from the first row on (NaN before the series starts),
            // so `back(k)` is row t−k.
            ring.push(src.update(bar.close));
            for (j, &k) in LAGS.iter().enumerate() {
                out[i * LAGS.len() + j] = if ring.len() > k {
                    ring.back(k)
                } else {
                    f64::NAN
                };
            }
        }
    }

    fn reset(&mut self) {
        for (src, ring) in &mut self.sources {
            src.clear();
            ring.clear();
        }
    }
}

/// SMA and EMA {5,10,20,50,100,200} as distance from the current value, of one domain.
/// The EMA (α = 2/(N+1)) is seeded with the SMA of the first N values (TA-Lib convention), so it
/// is defined from the same row as the SMA. 12 features.
#[derive(Debug, Clone)]
pub struct MovingAverageKernel {
    domain: Domain,
    src: SourceState,
    smas: Vec<ShiftedSums>,
    emas: Vec<Option<f64>>,
}

impl MovingAverageKernel {
    pub fn new(domain: Domain) -> MovingAverageKernel {
        domain.assert_series();
        MovingAverageKernel {
            domain,
            src: SourceState::new(domain_source(domain)),
            smas: MA_PERIODS.iter().map(|&w| ShiftedSums::new(w, 2)).collect(),
            emas: vec![None; MA_PERIODS.len()],
        }
    }
}

impl Kernel for MovingAverageKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let d = self.domain;
        let first = domain_source(d).first_row();
        let mut v = Vec::new();
        for kind in ["sma", "ema"] {
            for &n in &MA_PERIODS {
                let ma = if kind == "sma" {
                    format!("mean(x(t-{}..t))", n - 1)
                } else {
                    format!(
                        "ema_{n}(t), alpha = 2/{}, seeded with the SMA of the first {n}",
                        n + 1
                    )
                };
                v.push(FeatureSpec {
                    name: format!("{kind}_{}_{n}", d.as_str()),
                    family: "moving_average",
                    domain: d,
                    window: Some(n),
                    formula: format!("{}; {}", series_text(d), rel_text(d, &ma)),
                    warmup: first + n - 1,
                });
            }
        }
        v
    }

    fn width(&self) -> usize {
        2 * MA_PERIODS.len()
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let x = self.src.update(bar.close);
        let np = MA_PERIODS.len();
        for (k, (sums, ema)) in self.smas.iter_mut().zip(&mut self.emas).enumerate() {
            if !x.is_nan() {
                sums.push(x);
                if let Some(e) = ema {
                    let alpha = 2.0 / (MA_PERIODS[k] as f64 + 1.0);
                    *e += alpha * (x - *e);
                } else if sums.is_full() {
                    *ema = Some(sums.mean());
                }
            }
            if sums.is_full() {
                let n = sums.w() as f64;
                let dm = sums.s[0] / n - (x - sums.c);
                out[k] = match self.domain {
                    Domain::Rate => dm / x,
                    Domain::Bqx | Domain::Micro | Domain::Panel => dm,
                };
                out[np + k] = rel(self.domain, ema.expect("seeded when full"), x);
            } else {
                out[k] = f64::NAN;
                out[np + k] = f64::NAN;
            }
        }
    }

    fn reset(&mut self) {
        self.src.clear();
        self.smas.iter_mut().for_each(ShiftedSums::clear);
        self.emas.fill(None);
    }
}
