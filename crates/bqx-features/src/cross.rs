//! Unfitted cross-sectional families on the 28-pair panel: currency strength and triangular
//! consistency. Layout, windows and NaN rules: see the `panel` module ([`crate::PanelKernel`]).

use bqx_domain::{Currency, Pair, Triangle};

use crate::panel::{N_PAIRS, PanelKernel};
use crate::window::{MaskedCov, Ring, RollingRank};
use crate::{Domain, FeatureSpec};

/// Windows (grid rows) of the currency-strength log returns.
pub const CS_STRENGTH_WINDOWS: [usize; 3] = [15, 60, 240];
/// Window (grid rows) of the strength-difference percentile rank.
pub const CS_PERCENTILE_WINDOW: usize = 60;
/// Window (grid rows) of the triangle-residual z-score.
pub const CS_TRIANGLE_Z_WINDOW: usize = 60;

/// A residual std at most this (log units) is floating-point noise of exactly consistent
/// quotes (e.g. cross rates derived from one numeraire): the z-score is 0 there.
const TRIANGLE_STD_FLOOR: f64 = 1e-10;

const N_CCY: usize = 8;

/// The 7 pairs of each currency with the sign that makes the currency the numerator
/// (`+1` where it is the base, `−1` where it is the quote), in canonical pair order.
fn currency_members() -> [[(usize, f64); 7]; N_CCY] {
    let mut m = [[(0usize, 0.0f64); 7]; N_CCY];
    for c in Currency::ALL {
        for (k, p) in c.pairs().enumerate() {
            m[c.priority()][k] = (p.index(), if p.base() == c { 1.0 } else { -1.0 });
        }
    }
    m
}

/// Currency strength: for each currency `c` and `W ∈ {15, 60, 240}`,
/// `S_c,W(t) = (1/7) Σ_{p ∋ c} s(c,p) · ln(P_p(t) / P_p(t−W))` with `s = +1` when `c` is the
/// base of `p`, `−1` when it is the quote (`t−W` = W grid rows back). `NaN` unless all 7 pairs
/// have a close at both rows.
///
/// Per pair (base `b`, quote `q`), per W: `cs_str_base_W = S_b,W`, `cs_str_quote_W = S_q,W`,
/// `cs_str_diff_W = S_b,W − S_q,W`, and `cs_str_pct_W`, the percentile rank of the difference
/// among its last 60 values (rows t−59..t): `(L + (E − 1)/2) / 59` with `L` the number of
/// values below the current one and `E` the number equal to it (itself included) — the
/// average rank mapped from 1..60 to 0..1 (lowest 0, highest 1, a constant window 0.5).
/// 12 columns per pair.
#[derive(Debug, Clone)]
pub struct CurrencyStrengthKernel {
    members: [[(usize, f64); 7]; N_CCY],
    closes: Vec<Ring>,
    /// `ranks[pair * 3 + w]`.
    ranks: Vec<RollingRank>,
}

impl Default for CurrencyStrengthKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl CurrencyStrengthKernel {
    pub fn new() -> CurrencyStrengthKernel {
        let lag = CS_STRENGTH_WINDOWS.iter().max().copied().unwrap_or(1);
        CurrencyStrengthKernel {
            members: currency_members(),
            closes: (0..N_PAIRS).map(|_| Ring::new(lag + 1)).collect(),
            ranks: (0..N_PAIRS * CS_STRENGTH_WINDOWS.len())
                .map(|_| RollingRank::new(CS_PERCENTILE_WINDOW))
                .collect(),
        }
    }
}

const STR_STATS: [&str; 4] = ["base", "quote", "diff", "pct"];

impl PanelKernel for CurrencyStrengthKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let mut v = Vec::with_capacity(12);
        let pw = CS_PERCENTILE_WINDOW;
        for &w in &CS_STRENGTH_WINDOWS {
            let s = |c: &str| {
                format!(
                    "S_{c},{w}(t) = mean over the 7 pairs p of currency {c} of \
                     sign(c,p) * ln(P_p(t)/P_p(t-{w})), sign +1 where {c} is the base, -1 where \
                     it is the quote; t-{w} = {w} panel rows back; NaN unless all 7 pairs have \
                     both closes"
                )
            };
            for stat in STR_STATS {
                let (formula, warmup) = match stat {
                    "base" => (format!("{} (base currency b)", s("b")), w),
                    "quote" => (format!("{} (quote currency q)", s("q")), w),
                    "diff" => (format!("S_b,{w}(t) - S_q,{w}(t)"), w),
                    "pct" => (
                        format!(
                            "percentile rank of d = cs_str_diff_{w} among d(t-{m}..t): \
                             (#{{d < d(t)}} + (#{{d = d(t)}} - 1)/2) / {m} (average rank of ties \
                             mapped to 0..1; 0.5 on a constant window); NaN while the window \
                             holds a NaN",
                            m = pw - 1
                        ),
                        w + pw - 1,
                    ),
                    _ => unreachable!(),
                };
                v.push(FeatureSpec {
                    name: format!("cs_str_{stat}_{w}"),
                    family: "currency_strength",
                    domain: Domain::Panel,
                    window: Some(if stat == "pct" { pw } else { w }),
                    formula,
                    warmup,
                });
            }
        }
        v
    }

    fn width(&self) -> usize {
        CS_STRENGTH_WINDOWS.len() * STR_STATS.len()
    }

    fn update(&mut self, _ts: i64, closes: &[f64; N_PAIRS], out: &mut [f64]) {
        for (ring, &c) in self.closes.iter_mut().zip(closes) {
            ring.push(c);
        }
        let width = self.width();
        for (wi, &w) in CS_STRENGTH_WINDOWS.iter().enumerate() {
            let mut ret = [f64::NAN; N_PAIRS];
            for (r, ring) in ret.iter_mut().zip(&self.closes) {
                if ring.len() > w {
                    *r = (ring.back(0) / ring.back(w)).ln();
                }
            }
            let mut strength = [0.0f64; N_CCY];
            for (s, members) in strength.iter_mut().zip(&self.members) {
                // NaN propagates: one missing return makes the strength NaN.
                *s = members.iter().map(|&(p, sign)| sign * ret[p]).sum::<f64>() / 7.0;
            }
            for pair in Pair::ALL {
                let p = pair.index();
                let sb = strength[pair.base().priority()];
                let sq = strength[pair.quote().priority()];
                let d = sb - sq;
                let pct = self.ranks[p * CS_STRENGTH_WINDOWS.len() + wi].push(d);
                let o = p * width + wi * STR_STATS.len();
                out[o..o + 4].copy_from_slice(&[sb, sq, d, pct]);
            }
        }
    }

    fn reset(&mut self) {
        self.closes.iter_mut().for_each(Ring::clear);
        self.ranks.iter_mut().for_each(RollingRank::clear);
    }
}

/// The 6 triangles of `pair`, ordered by the priority of their third currency (the one not in
/// the pair; EUR first … JPY last), each with the orientation sign that makes the pair's own
/// log price enter the residual positively: `+1` when the pair is the triangle's `ab` or `bc`
/// leg, `−1` when it is the `ac` leg.
pub fn pair_triangles(pair: Pair) -> Vec<(Triangle, f64)> {
    let mut t: Vec<(Triangle, f64)> = pair
        .triangles()
        .into_iter()
        .map(|t| {
            let sign = if t.pairs()[1] == pair { -1.0 } else { 1.0 };
            (t, sign)
        })
        .collect();
    let third = |t: &Triangle| {
        [t.a, t.b, t.c]
            .into_iter()
            .find(|c| !pair.contains(*c))
            .expect("a triangle of the pair has a third currency")
            .priority()
    };
    t.sort_by_key(|(tri, _)| third(tri));
    t
}

/// Triangular consistency: for each of the pair's 6 triangles `k` (ordered as
/// [`pair_triangles`]), `cs_tri_resid_k = σ · (ln P_ab − ln P_ac + ln P_bc)` with σ the
/// orientation sign — i.e. the log of the pair's price over the price implied by the other two
/// legs (positive: the pair is rich against the cross) — and `cs_tri_z_k`, its z-score over
/// the last 60 rows (ddof = 1; 0 on a constant window or when the window's std is at most
/// 1e-10, the floating-point noise of exactly consistent quotes). `NaN` when a leg has no
/// close. 12 columns per pair.
#[derive(Debug, Clone)]
pub struct TriangularKernel {
    /// `[ab, ac, bc]` pair indices of the 56 triangles.
    legs: Vec<[usize; 3]>,
    /// `slots[pair][k] = (triangle index, sign)`.
    slots: Vec<[(usize, f64); 6]>,
    stats: Vec<MaskedCov>,
}

impl Default for TriangularKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl TriangularKernel {
    pub fn new() -> TriangularKernel {
        let all = Triangle::all();
        let legs = all.iter().map(|t| t.pairs().map(Pair::index)).collect();
        let slots = Pair::ALL
            .iter()
            .map(|&p| {
                let mut s = [(0usize, 0.0f64); 6];
                for (k, (t, sign)) in pair_triangles(p).into_iter().enumerate() {
                    s[k] = (all.iter().position(|x| *x == t).expect("a triangle"), sign);
                }
                s
            })
            .collect();
        TriangularKernel {
            legs,
            slots,
            stats: (0..all.len())
                .map(|_| MaskedCov::new(CS_TRIANGLE_Z_WINDOW))
                .collect(),
        }
    }
}

impl PanelKernel for TriangularKernel {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let w = CS_TRIANGLE_Z_WINDOW;
        let order = "triangle k = 0..5 of the pair (b, q): the triangle with the k-th third \
                     currency x in priority order EUR GBP AUD NZD USD CAD CHF JPY (x not b, q); \
                     currencies sorted a < b < c";
        let mut v = Vec::with_capacity(12);
        for k in 0..6 {
            v.push(FeatureSpec {
                name: format!("cs_tri_resid_{k}"),
                family: "triangle",
                domain: Domain::Panel,
                window: None,
                formula: format!(
                    "{order}: e = sigma * (ln P_ab - ln P_ac + ln P_bc), sigma = -1 if the pair \
                     is ac else +1 = ln(P_pair / P_pair implied by the other two legs); NaN if a \
                     leg has no close"
                ),
                warmup: 0,
            });
        }
        for k in 0..6 {
            v.push(FeatureSpec {
                name: format!("cs_tri_z_{k}"),
                family: "triangle",
                domain: Domain::Panel,
                window: Some(w),
                formula: format!(
                    "e = cs_tri_resid_{k}: (e(t) - mean(e(t-{m}..t))) / std(e(t-{m}..t), ddof=1); \
                     0 on a constant window or when that std <= 1e-10; NaN while the window \
                     holds a NaN",
                    m = w - 1
                ),
                warmup: w - 1,
            });
        }
        v
    }

    fn width(&self) -> usize {
        12
    }

    fn update(&mut self, _ts: i64, closes: &[f64; N_PAIRS], out: &mut [f64]) {
        let mut resid = [f64::NAN; 56];
        let mut z = [f64::NAN; 56];
        for (i, (legs, st)) in self.legs.iter().zip(&mut self.stats).enumerate() {
            let e = Triangle::log_residual(legs.map(|p| closes[p]));
            st.push(e, 0.0);
            resid[i] = e;
            z[i] = st
                .stats()
                .map_or(f64::NAN, |s| s.zscore_x(TRIANGLE_STD_FLOOR));
        }
        for (p, slots) in self.slots.iter().enumerate() {
            let o = &mut out[p * 12..(p + 1) * 12];
            for (k, &(t, sign)) in slots.iter().enumerate() {
                o[k] = sign * resid[t];
                o[6 + k] = sign * z[t];
            }
        }
    }

    fn reset(&mut self) {
        self.stats.iter_mut().for_each(MaskedCov::clear);
    }
}
