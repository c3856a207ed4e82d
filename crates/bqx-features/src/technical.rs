//! Technical indicators on both domains. The rate domain reads the bar's high, low and close;
//! the bqx domain uses its series (`bqx_return_15`) as close with high = low = close.
//!
//! Conventions (TA-Lib / Wilder): averages are seeded with the simple mean of their first N
//! inputs, then smoothed (`EMA: e += α(x − e), α = 2/(N+1)`; Wilder: `a = (a·(N−1) + x)/N`).
//! Scale-free forms on the rate domain: MACD values are divided by the current close, ROC is a
//! percentage; on the bqx domain MACD is raw, ROC is a difference and ATR % is omitted (the
//! series crosses zero).

use crate::source::{Source, SourceState};
use crate::window::{MaxMin, Ring};
use crate::{BarInput, Domain, FeatureSpec, Kernel};

/// Simple mean of the first `n` inputs, then a recursive average.
#[derive(Debug, Clone)]
struct Seeded {
    n: usize,
    wilder: bool,
    count: usize,
    sum: f64,
    value: f64,
}

impl Seeded {
    fn new(n: usize, wilder: bool) -> Seeded {
        Seeded {
            n,
            wilder,
            count: 0,
            sum: 0.0,
            value: f64::NAN,
        }
    }

    /// Feeds `x`; returns the average (`NaN` until `n` inputs were seen).
    fn push(&mut self, x: f64) -> f64 {
        self.count += 1;
        let n = self.n as f64;
        if self.count < self.n {
            self.sum += x;
        } else if self.count == self.n {
            self.sum += x;
            self.value = self.sum / n;
        } else if self.wilder {
            self.value = (self.value * (n - 1.0) + x) / n;
        } else {
            self.value += 2.0 / (n + 1.0) * (x - self.value);
        }
        self.value
    }
}

const RATE_NAMES: [&str; 15] = [
    "rsi_14",
    "rsi_21",
    "macd_line",
    "macd_signal",
    "macd_hist",
    "stoch_k_14",
    "stoch_d_3",
    "cci_20",
    "willr_14",
    "roc_12",
    "adx_14",
    "plus_di_14",
    "minus_di_14",
    "atr_14",
    "atr_pct_14",
];

/// RSI 14/21, MACD 12/26/9, stochastic %K14/%D3, CCI 20, Williams %R 14, ROC 12, ADX 14,
/// +DI 14, −DI 14, ATR 14 and (rate domain only) ATR %. 15 features (rate) or 14 (bqx).
#[derive(Debug, Clone)]
pub struct TechnicalKernel {
    domain: Domain,
    src: SourceState,
    k: usize,
    prev: Option<(f64, f64, f64)>,
    rsi: [(Seeded, Seeded); 2],
    ema12: Seeded,
    ema26: Seeded,
    signal: Seeded,
    hh: MaxMin,
    ll: MaxMin,
    stoch_k: Ring,
    tp: Ring,
    roc: Ring,
    atr: Seeded,
    str_: Seeded,
    sp: Seeded,
    sm: Seeded,
    adx: Seeded,
}

impl TechnicalKernel {
    pub fn new(domain: Domain) -> TechnicalKernel {
        domain.assert_series();
        TechnicalKernel {
            domain,
            src: SourceState::new(match domain {
                Domain::Rate => Source::Close,
                Domain::Bqx | Domain::Micro | Domain::Panel => Source::Bqx(15),
            }),
            k: 0,
            prev: None,
            rsi: [
                (Seeded::new(14, true), Seeded::new(14, true)),
                (Seeded::new(21, true), Seeded::new(21, true)),
            ],
            ema12: Seeded::new(12, false),
            ema26: Seeded::new(26, false),
            signal: Seeded::new(9, false),
            hh: MaxMin::new(14),
            ll: MaxMin::new(14),
            stoch_k: Ring::new(3),
            tp: Ring::new(20),
            roc: Ring::new(13),
            atr: Seeded::new(14, true),
            str_: Seeded::new(14, true),
            sp: Seeded::new(14, true),
            sm: Seeded::new(14, true),
            adx: Seeded::new(14, true),
        }
    }

    fn first(&self) -> usize {
        match self.domain {
            Domain::Rate => 0,
            Domain::Bqx | Domain::Micro | Domain::Panel => 15,
        }
    }
}

fn formula(name: &str, rate: bool) -> (String, usize, usize) {
    // (formula, window, warm-up rows after the series' first row)
    let s = |x: &str| x.to_string();
    match name {
        "rsi_14" | "rsi_21" => {
            let n: usize = name[4..].parse().expect("period");
            (
                format!(
                    "100 - 100/(1 + AG/AL), Wilder averages (seeded with the mean of the first {n}) \
                     of gains/losses of x(t)-x(t-1); 100 if AL = 0 < AG, 50 if both 0"
                ),
                n,
                n,
            )
        }
        "macd_line" => (
            if rate {
                s("(ema_12(x) - ema_26(x)) / x(t)")
            } else {
                s("ema_12(x) - ema_26(x)")
            },
            26,
            25,
        ),
        "macd_signal" => (
            s("ema_9 of the MACD line (seeded with its first 9 values)"),
            26,
            33,
        ),
        "macd_hist" => (s("macd_line - macd_signal"), 26, 33),
        "stoch_k_14" => (
            s(
                "100*(x(t) - LL14)/(HH14 - LL14), HH/LL = max high/min low of rows t-13..t; 50 if HH = LL",
            ),
            14,
            13,
        ),
        "stoch_d_3" => (s("mean of stoch_k_14 over rows t-2..t"), 3, 15),
        "cci_20" => (
            s(
                "(TP - mean20(TP)) / (0.015 * mean20(|TP - mean20(TP)|)), TP = (H+L+C)/3; 0 if the deviation is 0",
            ),
            20,
            19,
        ),
        "willr_14" => (
            s("-100*(HH14 - x(t))/(HH14 - LL14); -50 if HH = LL"),
            14,
            13,
        ),
        "roc_12" => (
            if rate {
                s("100*(x(t)/x(t-12) - 1)")
            } else {
                s("x(t) - x(t-12)")
            },
            12,
            12,
        ),
        "adx_14" => (
            s(
                "Wilder average (seeded with the mean of the first 14) of DX = 100*|+DI - -DI|/(+DI + -DI) (0 if the sum is 0)",
            ),
            14,
            27,
        ),
        "plus_di_14" => (
            s(
                "100 * W14(+DM)/W14(TR), +DM = up if up > down and up > 0, up = H(t)-H(t-1), down = L(t-1)-L(t); Wilder averages; 0 if W14(TR) = 0",
            ),
            14,
            14,
        ),
        "minus_di_14" => (
            s(
                "100 * W14(-DM)/W14(TR), -DM = down if down > up and down > 0; Wilder averages; 0 if W14(TR) = 0",
            ),
            14,
            14,
        ),
        "atr_14" => (
            s(
                "Wilder average (seeded with the mean of the first 14) of TR = max(H-L, |H-C(t-1)|, |L-C(t-1)|), in price units",
            ),
            14,
            14,
        ),
        "atr_pct_14" => (s("100 * atr_14 / x(t)"), 14, 14),
        _ => unreachable!(),
    }
}

impl Kernel for TechnicalKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let rate = self.domain == Domain::Rate;
        let series = if rate {
            "x = close, H/L = the bar's high/low"
        } else {
            "x = bqx_return_15, H = L = x"
        };
        RATE_NAMES[..self.width()]
            .iter()
            .map(|name| {
                let (f, w, warm) = formula(name, rate);
                FeatureSpec {
                    name: format!("ta_{}_{name}", self.domain.as_str()),
                    family: "technical",
                    domain: self.domain,
                    window: Some(w),
                    formula: format!("{series}; {f}"),
                    warmup: self.first() + warm,
                }
            })
            .collect()
    }

    fn width(&self) -> usize {
        match self.domain {
            Domain::Rate => 15,
            Domain::Bqx | Domain::Micro | Domain::Panel => 14,
        }
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        let nan = f64::NAN;
        let x = self.src.update(bar.close);
        if x.is_nan() {
            out.fill(nan);
            return;
        }
        let rate = self.domain == Domain::Rate;
        let (h, l) = if rate { (bar.high, bar.low) } else { (x, x) };
        let k = self.k;
        self.k += 1;

        // RSI.
        let mut rsi = [nan; 2];
        if let Some((px, _, _)) = self.prev {
            let d = x - px;
            for (i, (g, lo)) in self.rsi.iter_mut().enumerate() {
                let ag = g.push(d.max(0.0));
                let al = lo.push((-d).max(0.0));
                rsi[i] = if al > 0.0 {
                    100.0 - 100.0 / (1.0 + ag / al)
                } else if ag > 0.0 {
                    100.0
                } else if ag == 0.0 {
                    50.0
                } else {
                    nan
                };
            }
        }

        // MACD.
        let e12 = self.ema12.push(x);
        let e26 = self.ema26.push(x);
        let (mut line, mut sig) = (nan, nan);
        if !e26.is_nan() {
            line = e12 - e26;
            sig = self.signal.push(line);
        }
        let scale = if rate { x } else { 1.0 };

        // Stochastic, Williams %R.
        self.hh.push(h);
        self.ll.push(l);
        let (mut sk, mut sd, mut wr) = (nan, nan, nan);
        if k >= 13 {
            let (hh, ll) = (self.hh.max(), self.ll.min());
            let span = hh - ll;
            sk = if span > 0.0 {
                100.0 * (x - ll) / span
            } else {
                50.0
            };
            wr = if span > 0.0 {
                -100.0 * (hh - x) / span
            } else {
                -50.0
            };
            self.stoch_k.push(sk);
            if self.stoch_k.is_full() {
                sd = self.stoch_k.iter().sum::<f64>() / 3.0;
            }
        }

        // CCI.
        self.tp.push((h + l + x) / 3.0);
        let mut cci = nan;
        if self.tp.is_full() {
            let n = self.tp.cap() as f64;
            let mean = self.tp.iter().sum::<f64>() / n;
            let md = self.tp.iter().map(|v| (v - mean).abs()).sum::<f64>() / n;
            let tp = self.tp.back(0);
            cci = if md > 0.0 {
                (tp - mean) / (0.015 * md)
            } else {
                0.0
            };
        }

        // ROC.
        self.roc.push(x);
        let mut roc = nan;
        if self.roc.is_full() {
            let old = self.roc.get(0);
            roc = if rate {
                100.0 * (x / old - 1.0)
            } else {
                x - old
            };
        }

        // ATR, DI, ADX.
        let (mut atr, mut pdi, mut mdi, mut adx) = (nan, nan, nan, nan);
        if let Some((pc, ph, pl)) = self.prev {
            let tr = (h - l).max((h - pc).abs()).max((l - pc).abs());
            let up = h - ph;
            let down = pl - l;
            let pdm = if up > down && up > 0.0 { up } else { 0.0 };
            let mdm = if down > up && down > 0.0 { down } else { 0.0 };
            atr = self.atr.push(tr);
            let s_tr = self.str_.push(tr);
            let s_p = self.sp.push(pdm);
            let s_m = self.sm.push(mdm);
            if !s_tr.is_nan() {
                (pdi, mdi) = if s_tr > 0.0 {
                    (100.0 * s_p / s_tr, 100.0 * s_m / s_tr)
                } else {
                    (0.0, 0.0)
                };
                let sum = pdi + mdi;
                let dx = if sum > 0.0 {
                    100.0 * (pdi - mdi).abs() / sum
                } else {
                    0.0
                };
                adx = self.adx.push(dx);
            }
        }
        self.prev = Some((x, h, l));

        let vals = [
            rsi[0],
            rsi[1],
            line / scale,
            sig / scale,
            (line - sig) / scale,
            sk,
            sd,
            cci,
            wr,
            roc,
            adx,
            pdi,
            mdi,
            atr,
            100.0 * atr / x,
        ];
        let w = self.width();
        out.copy_from_slice(&vals[..w]);
    }

    fn reset(&mut self) {
        *self = TechnicalKernel::new(self.domain);
    }
}
