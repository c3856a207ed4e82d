//! Stage 2.16: cross-pair interaction features, 72 per pair, fitted per fold (features.md
//! § Stage 2.16).
//!
//! Everything discovered — the sisters' correlations, the 24 momentum products, the lead-lag
//! relations — is discovered by [`fit_cross`] on the grid rows of a fold's training part only,
//! kept as a [`FittedParams<CrossParams>`] artifact, and applied unchanged by
//! [`cross_columns`] to any rows. The applied columns are causal: the value at grid row `t`
//! reads rows `≤ t` of the panel only.
//!
//! The panel ([`CrossPanel`]) aligns every pair on the union of their bar times, each pair's
//! values carried forward from its last bar (as of `t`) and missing before its first one. A
//! slot that has no sister or leader to fill it (a user's data with few pairs) is the constant
//! 0 and is reported as unfilled; feature selection drops such constant columns.

use std::ops::Range;

use bqx_domain::Pair;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::batch::FeatureMatrix;
use crate::granger::{SeriesLags, bh_qvalues, granger_min_rows, granger_pair};
use crate::reg::REG_WINDOWS;
use crate::window::{MaskedCov, ShiftedSums};
use crate::{Domain, FeatureError, FeatureSpec, FitRange, FittedParams};

/// The fitted kind and format version of [`CrossParams`].
pub const CROSS_KIND: &str = "cross_pair";
pub const CROSS_VERSION: u32 = 1;

/// Slots per family (features.md): 24 momentum products, 6 sisters (× 2 vol windows, × 2
/// drift columns), 12 lead-lag relations (× 2 leader columns).
pub const CROSS_MOMENTUM_SLOTS: usize = 24;
pub const CROSS_SISTER_SLOTS: usize = 6;
pub const CROSS_LEADLAG_SLOTS: usize = 12;
/// Windows of the volatility ratios and of the correlation (and its drift lag).
pub const CROSS_VOL_WINDOWS: [usize; 2] = [30, 60];
pub const CROSS_CORR_WINDOW: usize = 60;

/// The two reg_bqx terms of the momentum candidates.
const TERMS: [&str; 2] = ["quad_term", "lin_term"];

/// How discovery is done; part of the fitted artifact's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CrossFitConfig {
    /// Granger lag orders `1 ..= max_lag`.
    pub max_lag: usize,
    /// Benjamini–Hochberg level below which a relation is significant.
    pub fdr_level: f64,
    /// At most this many evenly spaced training rows enter the momentum Spearman ranking.
    pub spearman_rows: usize,
}

impl Default for CrossFitConfig {
    fn default() -> Self {
        CrossFitConfig {
            max_lag: 15,
            fdr_level: 0.05,
            spearman_rows: 20_000,
        }
    }
}

/// The stored base columns the stage reads, in this order: `reg_bqx_quad_term_W` for the six
/// REG windows, `reg_bqx_lin_term_W` likewise, `bqx_return_15`, `bqx_return_60`.
pub fn cross_inputs() -> Vec<String> {
    let mut v = Vec::with_capacity(14);
    for t in TERMS {
        for w in REG_WINDOWS {
            v.push(format!("reg_bqx_{t}_{w}"));
        }
    }
    v.push("bqx_return_15".into());
    v.push("bqx_return_60".into());
    v
}
const IN_BQX15: usize = 12;
const IN_BQX60: usize = 13;
const IN_QUAD60: usize = 0;

/// One pair's data for [`CrossPanel::build`]: its bar times, closes and the [`cross_inputs`]
/// columns on its own rows.
#[derive(Debug, Clone)]
pub struct CrossInput<'a> {
    pub pair: Pair,
    pub ts: &'a [i64],
    pub close: &'a [f64],
    pub columns: Vec<&'a [f32]>,
}

#[derive(Debug, Clone)]
struct CrossSeries {
    /// One-bar log return on the grid (`NaN` before the second bar).
    logret: Vec<f64>,
    /// The [`cross_inputs`] as of each grid row.
    inputs: Vec<Vec<f32>>,
}

/// Every pair on the union of their bar times, values carried forward from the last bar.
#[derive(Debug, Clone)]
pub struct CrossPanel {
    pub ts: Vec<i64>,
    series: Vec<Option<CrossSeries>>,
}

impl CrossPanel {
    pub fn build(inputs: &[CrossInput<'_>]) -> Result<CrossPanel, FeatureError> {
        let width = cross_inputs().len();
        let mut ts: Vec<i64> = inputs.iter().flat_map(|s| s.ts.iter().copied()).collect();
        ts.sort_unstable();
        ts.dedup();
        let mut series: Vec<Option<CrossSeries>> = vec![None; Pair::ALL.len()];
        for s in inputs {
            if s.columns.len() != width
                || s.close.len() != s.ts.len()
                || s.columns.iter().any(|c| c.len() != s.ts.len())
            {
                return Err(FeatureError::RaggedColumns);
            }
            if series[s.pair.index()].is_some() {
                return Err(FeatureError::Params(format!("{} appears twice", s.pair)));
            }
            let n = ts.len();
            let mut logret = vec![f64::NAN; n];
            let mut cols = vec![vec![f32::NAN; n]; width];
            let mut k = 0usize; // next own row
            let mut last: Option<usize> = None;
            let mut prev_close = f64::NAN;
            for (g, &t) in ts.iter().enumerate() {
                while k < s.ts.len() && s.ts[k] <= t {
                    last = Some(k);
                    k += 1;
                }
                let Some(r) = last else { continue };
                let c = s.close[r];
                if c.is_finite() && c > 0.0 && prev_close.is_finite() {
                    logret[g] = (c / prev_close).ln();
                }
                if c.is_finite() && c > 0.0 {
                    prev_close = c;
                }
                for (j, col) in cols.iter_mut().enumerate() {
                    col[g] = s.columns[j][r];
                }
            }
            series[s.pair.index()] = Some(CrossSeries {
                logret,
                inputs: cols,
            });
        }
        Ok(CrossPanel { ts, series })
    }

    /// The pairs present, in canonical order.
    pub fn pairs(&self) -> Vec<Pair> {
        Pair::ALL
            .into_iter()
            .filter(|p| self.series[p.index()].is_some())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The grid rows of bar times `ts` (each must be on the grid).
    pub fn rows_of(&self, ts: &[i64]) -> Result<Vec<usize>, FeatureError> {
        ts.iter()
            .map(|t| {
                self.ts
                    .binary_search(t)
                    .map_err(|_| FeatureError::Params(format!("bar time {t} is not on the grid")))
            })
            .collect()
    }

    fn get(&self, p: Pair) -> Option<&CrossSeries> {
        self.series[p.index()].as_ref()
    }
}

/// A sister's correlation of one-bar returns with the pair on the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SisterCorr {
    pub pair: Pair,
    pub corr: Option<f64>,
    /// One of the [`CROSS_SISTER_SLOTS`] most correlated (vol ratios, correlation drift).
    pub chosen: bool,
}

/// A chosen momentum product `term_W(pair) · term_W(sister)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MomentumSlot {
    pub slot: usize,
    pub term: String,
    pub window: usize,
    pub sister: Pair,
    /// Spearman correlation with the target on the training rows.
    pub spearman: Option<f64>,
}

/// A candidate leader's best lag (the smallest p over lags `1..=max_lag`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderTest {
    pub leader: Pair,
    pub lag: usize,
    pub f: Option<f64>,
    pub p: Option<f64>,
    /// Benjamini–Hochberg q over all of the follower's (leader, lag) tests.
    pub q: Option<f64>,
}

/// A lead-lag relation turned into two features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptRelation {
    pub slot: usize,
    pub leader: Pair,
    pub lag: usize,
    pub q: Option<f64>,
    /// `q < fdr_level`; a kept relation that is not significant fills its slot only.
    pub significant: bool,
}

/// What stage 2.16 discovered for one follower pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairCross {
    pub pair: Pair,
    /// The sisters present in the data, by |corr| descending.
    pub sisters: Vec<SisterCorr>,
    pub momentum: Vec<MomentumSlot>,
    /// Every candidate leader at its best lag, by p ascending.
    pub leaders: Vec<LeaderTest>,
    pub kept: Vec<KeptRelation>,
    /// Granger tests run (leaders × lags), the BH family size.
    pub tests: usize,
}

impl PairCross {
    /// The chosen sisters, in slot order.
    pub fn chosen(&self) -> Vec<Pair> {
        self.sisters
            .iter()
            .filter(|s| s.chosen)
            .map(|s| s.pair)
            .collect()
    }
}

/// The fitted artifact of one fold: the discovery of every follower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossParams {
    pub config: CrossFitConfig,
    pub pairs: Vec<PairCross>,
}

impl CrossParams {
    pub fn pair(&self, p: Pair) -> Option<&PairCross> {
        self.pairs.iter().find(|x| x.pair == p)
    }
}

fn some(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Pearson correlation over the rows where both are finite (`NaN` below 3 rows or constant).
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    pearson_pairwise(x, y).0
}

/// Pearson correlation over the rows where both values are finite, with the number of those
/// rows; the correlation is `NaN` below 3 rows or when either side is constant on them.
pub fn pearson_pairwise(x: &[f64], y: &[f64]) -> (f64, usize) {
    let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        if a.is_finite() && b.is_finite() {
            n += 1;
            sx += a;
            sy += b;
        }
    }
    if n < 3 {
        return (f64::NAN, n);
    }
    let (mx, my) = (sx / n as f64, sy / n as f64);
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        if a.is_finite() && b.is_finite() {
            sxx += (a - mx) * (a - mx);
            syy += (b - my) * (b - my);
            sxy += (a - mx) * (b - my);
        }
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return (f64::NAN, n);
    }
    (sxy / (sxx * syy).sqrt(), n)
}

/// Average ranks (ties share their mean rank), 1-based.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && v[idx[j]] == v[idx[i]] {
            j += 1;
        }
        let mean = (i + j + 1) as f64 / 2.0;
        for &k in &idx[i..j] {
            r[k] = mean;
        }
        i = j;
    }
    r
}

/// Spearman correlation of complete pairs (Pearson of average ranks). bqx-eval's `stats` has
/// the same statistic; this crate sits below it and keeps its own.
pub(crate) fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (a, b): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    if a.len() < 3 {
        return f64::NAN;
    }
    pearson(&ranks(&a), &ranks(&b))
}

/// Discovers every follower's sisters, momentum products and lead-lag relations on the grid
/// rows `range` (the training part of a fold). `targets` holds each pair's target on the grid,
/// `NaN` wherever the row is not a (purged) training row of the fold: only those rows rank the
/// momentum products. Rows after `range` are never read.
pub fn fit_cross(
    panel: &CrossPanel,
    range: Range<usize>,
    targets: &[(Pair, Vec<f64>)],
    cfg: &CrossFitConfig,
) -> Result<FittedParams<CrossParams>, FeatureError> {
    let fail = |reason: String| FeatureError::Fit {
        kind: CROSS_KIND,
        reason,
    };
    if range.end > panel.len() || range.is_empty() {
        return Err(fail(format!(
            "training rows {range:?} outside the grid of {} rows",
            panel.len()
        )));
    }
    if cfg.max_lag == 0 || !(0.0..1.0).contains(&cfg.fdr_level) || cfg.spearman_rows < 3 {
        return Err(fail(format!("bad configuration {cfg:?}")));
    }
    if range.len() < granger_min_rows(cfg.max_lag) {
        return Err(fail(format!(
            "{} training rows; Granger tests to lag {} need at least {}",
            range.len(),
            cfg.max_lag,
            granger_min_rows(cfg.max_lag)
        )));
    }
    let pairs = panel.pairs();
    // The one-bar returns of the training rows (a pair that did not move: 0), and each
    // pair's lag block, shared by all the tests it takes part in.
    let lags: Vec<(Pair, SeriesLags)> = pairs
        .par_iter()
        .map(|&p| {
            let r: Vec<f64> = panel.get(p).expect("present").logret[range.clone()]
                .iter()
                .map(|v| if v.is_finite() { *v } else { 0.0 })
                .collect();
            (p, SeriesLags::new(&r, cfg.max_lag))
        })
        .collect();
    let fitted: Vec<PairCross> = pairs
        .par_iter()
        .map(|&pair| {
            let target = targets
                .iter()
                .find(|(p, _)| *p == pair)
                .map(|(_, t)| t.as_slice());
            fit_pair(panel, pair, range.clone(), target, &lags, cfg)
        })
        .collect();
    Ok(FittedParams {
        kind: CROSS_KIND.into(),
        version: CROSS_VERSION,
        fit_range: FitRange {
            start_row: range.start,
            end_row: range.end,
            start_ts: panel.ts[range.start],
            end_ts: panel.ts[range.end - 1],
            rows_used: range.len(),
        },
        params: CrossParams {
            config: *cfg,
            pairs: fitted,
        },
    })
}

fn fit_pair(
    panel: &CrossPanel,
    pair: Pair,
    range: Range<usize>,
    target: Option<&[f64]>,
    lags: &[(Pair, SeriesLags)],
    cfg: &CrossFitConfig,
) -> PairCross {
    let me = panel.get(pair).expect("present");
    let own = &me.logret[range.clone()];
    // Sisters by |corr| of one-bar returns.
    let mut sisters: Vec<SisterCorr> = pair
        .sisters()
        .into_iter()
        .filter_map(|s| panel.get(s).map(|x| (s, x)))
        .map(|(s, x)| SisterCorr {
            pair: s,
            corr: some(pearson(own, &x.logret[range.clone()])),
            chosen: false,
        })
        .collect();
    sisters.sort_by(|a, b| {
        let key = |c: &SisterCorr| c.corr.map_or(-1.0, f64::abs);
        key(b).total_cmp(&key(a)).then(a.pair.cmp(&b.pair))
    });
    for s in sisters.iter_mut().take(CROSS_SISTER_SLOTS) {
        s.chosen = s.corr.is_some();
    }

    // Momentum products ranked by |Spearman| with the target on the training rows.
    let rows: Vec<usize> = match target {
        Some(t) => {
            let all: Vec<usize> = range.clone().filter(|&i| t[i].is_finite()).collect();
            let m = all.len();
            if m > cfg.spearman_rows {
                (0..cfg.spearman_rows)
                    .map(|k| all[k * m / cfg.spearman_rows])
                    .collect()
            } else {
                all
            }
        }
        None => Vec::new(),
    };
    let mut momentum = Vec::new();
    if let Some(t) = target {
        let y: Vec<f64> = rows.iter().map(|&i| t[i]).collect();
        // The target's ranks serve every candidate defined on all the rows (the usual case
        // past the warm-up); a candidate with a missing value is ranked on its own rows.
        let y_ranks = ranks(&y);
        let mut cands: Vec<(usize, usize, Pair, f64)> = Vec::new();
        for s in pair.sisters() {
            let Some(sx) = panel.get(s) else { continue };
            for (ti, _) in TERMS.iter().enumerate() {
                for (wi, _) in REG_WINDOWS.iter().enumerate() {
                    let c = ti * REG_WINDOWS.len() + wi;
                    let x: Vec<f64> = rows
                        .iter()
                        .map(|&i| f64::from(me.inputs[c][i]) * f64::from(sx.inputs[c][i]))
                        .collect();
                    let rho = if x.iter().all(|v| v.is_finite()) {
                        if y.len() < 3 {
                            f64::NAN
                        } else {
                            pearson(&ranks(&x), &y_ranks)
                        }
                    } else {
                        spearman(&x, &y)
                    };
                    cands.push((ti, wi, s, rho));
                }
            }
        }
        cands.retain(|c| c.3.is_finite());
        cands.sort_by(|a, b| {
            b.3.abs()
                .total_cmp(&a.3.abs())
                .then((a.2, a.0, a.1).cmp(&(b.2, b.0, b.1)))
        });
        momentum = cands
            .into_iter()
            .take(CROSS_MOMENTUM_SLOTS)
            .enumerate()
            .map(|(k, (ti, wi, s, rho))| MomentumSlot {
                slot: k + 1,
                term: TERMS[ti].into(),
                window: REG_WINDOWS[wi],
                sister: s,
                spearman: some(rho),
            })
            .collect();
    }

    // Granger tests of every other pair on this one, lags 1..=K, BH over all of them.
    let y = &lags.iter().find(|(p, _)| *p == pair).expect("present").1;
    let tests: Vec<(Pair, Vec<crate::GrangerTest>)> = lags
        .iter()
        .filter(|(p, _)| *p != pair)
        .map(|(p, x)| (*p, granger_pair(y, x, cfg.max_lag)))
        .collect();
    let flat_p: Vec<f64> = tests
        .iter()
        .flat_map(|(_, t)| t.iter().map(|g| g.p))
        .collect();
    let q = bh_qvalues(&flat_p);
    let k = cfg.max_lag;
    let mut leaders: Vec<LeaderTest> = tests
        .iter()
        .enumerate()
        .map(|(li, (leader, t))| {
            // Best lag: the smallest p (ties: the larger F, then the shorter lag).
            let best = (0..t.len())
                .min_by(|&a, &b| {
                    let pa = if t[a].p.is_finite() { t[a].p } else { 2.0 };
                    let pb = if t[b].p.is_finite() { t[b].p } else { 2.0 };
                    pa.total_cmp(&pb)
                        .then(t[b].f.total_cmp(&t[a].f))
                        .then(a.cmp(&b))
                })
                .expect("max_lag >= 1");
            LeaderTest {
                leader: *leader,
                lag: t[best].lag,
                f: some(t[best].f),
                p: some(t[best].p),
                q: some(q[li * k + best]),
            }
        })
        .collect();
    leaders.sort_by(|a, b| {
        let pa = a.p.unwrap_or(2.0);
        let pb = b.p.unwrap_or(2.0);
        pa.total_cmp(&pb)
            .then(b.f.unwrap_or(0.0).total_cmp(&a.f.unwrap_or(0.0)))
            .then(a.leader.cmp(&b.leader))
    });
    let kept = leaders
        .iter()
        .take(CROSS_LEADLAG_SLOTS)
        .enumerate()
        .map(|(s, l)| KeptRelation {
            slot: s + 1,
            leader: l.leader,
            lag: l.lag,
            q: l.q,
            significant: l.q.is_some_and(|q| q < cfg.fdr_level),
        })
        .collect();
    PairCross {
        pair,
        sisters,
        momentum,
        leaders,
        kept,
        tests: flat_p.len(),
    }
}

fn slot(k: usize) -> String {
    format!("{k:02}")
}

/// The 72 column specs, in output order (names and formulas do not depend on the fit).
pub fn cross_pair_catalog() -> Vec<FeatureSpec> {
    let spec = |name: String, window: Option<usize>, formula: String, warmup: usize| FeatureSpec {
        name,
        family: "cross_pair",
        domain: Domain::Panel,
        window,
        formula,
        warmup,
    };
    let mut v = Vec::with_capacity(72);
    for k in 1..=CROSS_MOMENTUM_SLOTS {
        v.push(spec(
            format!("xp_mom_{}", slot(k)),
            None,
            format!(
                "reg_bqx_T_W(pair) * reg_bqx_T_W(sister) for the fold's momentum product #{k}: of the 144 (term T in quad_term/lin_term, W in the 6 REG windows, 12 sisters) the {k}-th highest |Spearman| with the target on the fold's training rows; sister values as of t; 0 if unfilled"
            ),
            REG_WINDOWS[REG_WINDOWS.len() - 1],
        ));
    }
    for s in 1..=CROSS_SISTER_SLOTS {
        for w in CROSS_VOL_WINDOWS {
            v.push(spec(
                format!("xp_volratio_{}_{w}", slot(s)),
                Some(w),
                format!(
                    "std(r, {w} rows, ddof=1) of the pair / the same of sister #{s} (sisters by |corr| of one-bar log returns r on the fold's training rows); NaN if the sister's std is 0; 0 if unfilled"
                ),
                w + 1,
            ));
        }
    }
    for s in 1..=CROSS_SISTER_SLOTS {
        v.push(spec(
            format!("xp_corrdrift_{}", slot(s)),
            Some(2 * CROSS_CORR_WINDOW),
            format!(
                "c(t) - c(t-60), c = rolling 60-row Pearson corr of bqx_return_15 of pair and sister #{s} (0 on a constant window); 0 if unfilled"
            ),
            2 * CROSS_CORR_WINDOW,
        ));
    }
    for s in 1..=CROSS_SISTER_SLOTS {
        v.push(spec(
            format!("xp_corrdrift_abs_{}", slot(s)),
            Some(2 * CROSS_CORR_WINDOW),
            format!("|c(t) - c(t-60)| for sister #{s}; 0 if unfilled"),
            2 * CROSS_CORR_WINDOW,
        ));
    }
    for col in ["bqx_return_60", "reg_bqx_quad_term_60"] {
        for k in 1..=CROSS_LEADLAG_SLOTS {
            v.push(spec(
                format!("xp_ll{}_{col}", slot(k)),
                None,
                format!(
                    "{col} of leader #{k} at t-lag: the fold's {k}-th strongest (leader, lag) Granger relation (lags 1..15, smallest p, BH-corrected q reported); 0 if unfilled"
                ),
                CROSS_MAX_WARMUP_LAG,
            ));
        }
    }
    debug_assert_eq!(v.len(), 72);
    v
}
const CROSS_MAX_WARMUP_LAG: usize = 15;

/// Rolling sample std of `r` over `w` rows (`NaN` while the window holds a `NaN`).
fn rolling_std(r: &[f64], w: usize, end: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; end];
    let mut sums = ShiftedSums::new(w, 2);
    let mut since_nan = 0usize;
    for i in 0..end {
        let v = r[i];
        if v.is_finite() {
            since_nan += 1;
            sums.push(v);
        } else {
            since_nan = 0;
            sums.clear();
        }
        if since_nan >= w && sums.is_full() {
            out[i] = sums.var_sample().max(0.0).sqrt();
        }
    }
    out
}

/// Rolling 60-row correlation of two series (0 on a constant window, `NaN` until defined).
fn rolling_corr(x: &[f32], y: &[f32], end: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; end];
    let mut cov = MaskedCov::new(CROSS_CORR_WINDOW);
    for i in 0..end {
        cov.push(f64::from(x[i]), f64::from(y[i]));
        if let Some(s) = cov.stats() {
            out[i] = if s.flat_x || s.flat_y || s.var_x <= 0.0 || s.var_y <= 0.0 {
                0.0
            } else {
                (s.cov / (s.var_x * s.var_y).sqrt()).clamp(-1.0, 1.0)
            };
        }
    }
    out
}

/// The 72 columns of `pair` (see [`cross_pair_catalog`]) at grid rows `rows`, from the fitted
/// discovery `fit` of the pair. Causal: row `t`'s values read grid rows `≤ t` only.
pub fn cross_columns(
    panel: &CrossPanel,
    fit: &PairCross,
    rows: &[usize],
) -> Result<FeatureMatrix, FeatureError> {
    let me = panel
        .get(fit.pair)
        .ok_or_else(|| FeatureError::Params(format!("{} is not in the panel", fit.pair)))?;
    let end = rows.iter().max().map_or(0, |m| m + 1);
    if end > panel.len() {
        return Err(FeatureError::Params("row outside the grid".into()));
    }
    let n = rows.len();
    let names: Vec<String> = cross_pair_catalog().into_iter().map(|f| f.name).collect();
    let mut data = vec![0.0f64; names.len() * n];
    let sister_of = |p: Pair| {
        panel
            .get(p)
            .ok_or_else(|| FeatureError::Params(format!("{p} is not in the panel")))
    };
    let mut col = 0usize;
    // Momentum products.
    for k in 0..CROSS_MOMENTUM_SLOTS {
        if let Some(m) = fit.momentum.get(k) {
            let ti = TERMS
                .iter()
                .position(|t| *t == m.term)
                .ok_or_else(|| FeatureError::Params(format!("unknown term {}", m.term)))?;
            let wi = REG_WINDOWS
                .iter()
                .position(|w| *w == m.window)
                .ok_or_else(|| FeatureError::Params(format!("unknown window {}", m.window)))?;
            let c = ti * REG_WINDOWS.len() + wi;
            let s = sister_of(m.sister)?;
            for (o, &i) in rows.iter().enumerate() {
                data[col * n + o] = f64::from(me.inputs[c][i]) * f64::from(s.inputs[c][i]);
            }
        }
        col += 1;
    }
    let chosen = fit.chosen();
    // Volatility ratios.
    let own_vol: Vec<Vec<f64>> = CROSS_VOL_WINDOWS
        .iter()
        .map(|&w| rolling_std(&me.logret, w, end))
        .collect();
    for k in 0..CROSS_SISTER_SLOTS {
        if let Some(&sp) = chosen.get(k) {
            let s = sister_of(sp)?;
            for (wi, &w) in CROSS_VOL_WINDOWS.iter().enumerate() {
                let sv = rolling_std(&s.logret, w, end);
                for (o, &i) in rows.iter().enumerate() {
                    let den = sv[i];
                    data[(col + wi) * n + o] = if den > 0.0 {
                        own_vol[wi][i] / den
                    } else {
                        f64::NAN
                    };
                }
            }
        }
        col += CROSS_VOL_WINDOWS.len();
    }
    // Correlation drift, then its absolute value.
    let drift_start = col;
    for k in 0..CROSS_SISTER_SLOTS {
        if let Some(&sp) = chosen.get(k) {
            let s = sister_of(sp)?;
            let c = rolling_corr(&me.inputs[IN_BQX15], &s.inputs[IN_BQX15], end);
            for (o, &i) in rows.iter().enumerate() {
                let d = if i >= CROSS_CORR_WINDOW {
                    c[i] - c[i - CROSS_CORR_WINDOW]
                } else {
                    f64::NAN
                };
                data[(drift_start + k) * n + o] = d;
                data[(drift_start + CROSS_SISTER_SLOTS + k) * n + o] = d.abs();
            }
        }
    }
    col += 2 * CROSS_SISTER_SLOTS;
    // Lead-lag: the leader's columns at t − lag.
    for input in [IN_BQX60, IN_QUAD60] {
        for k in 0..CROSS_LEADLAG_SLOTS {
            if let Some(rel) = fit.kept.get(k) {
                let l = sister_of(rel.leader)?;
                for (o, &i) in rows.iter().enumerate() {
                    data[col * n + o] = if i >= rel.lag {
                        f64::from(l.inputs[input][i - rel.lag])
                    } else {
                        f64::NAN
                    };
                }
            }
            col += 1;
        }
    }
    debug_assert_eq!(col, names.len());
    Ok(FeatureMatrix {
        names,
        n_rows: n,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(s: &str) -> Pair {
        Pair::parse(s).unwrap()
    }

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    }

    /// Bar times, closes per pair, input columns per pair.
    type Market = (Vec<i64>, Vec<Vec<f64>>, Vec<Vec<Vec<f32>>>);

    /// A panel of `pairs` with random walks; `lead` plants follower(t) += 0.8·leader(t−lag).
    fn market(pairs: &[Pair], n: usize, lead: Option<(Pair, Pair, usize)>) -> Market {
        let mut seed = 7u64;
        let mut rets: Vec<Vec<f64>> = pairs
            .iter()
            .map(|_| (0..n).map(|_| 0.001 * lcg(&mut seed)).collect())
            .collect();
        if let Some((f, l, lag)) = lead {
            let fi = pairs.iter().position(|p| *p == f).unwrap();
            let li = pairs.iter().position(|p| *p == l).unwrap();
            for t in lag..n {
                rets[fi][t] += 0.8 * rets[li][t - lag];
            }
        }
        let ts: Vec<i64> = (0..n as i64).map(|i| i * 60_000_000).collect();
        let closes: Vec<Vec<f64>> = rets
            .iter()
            .map(|r| {
                let mut c = 1.0;
                r.iter()
                    .map(|x| {
                        c *= x.exp();
                        c
                    })
                    .collect()
            })
            .collect();
        let cols: Vec<Vec<Vec<f32>>> = rets
            .iter()
            .map(|r| {
                (0..14)
                    .map(|j| {
                        (0..n)
                            .map(|i| (r[i] * (j + 1) as f64 + 0.0001 * (i % 7) as f64) as f32)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        (ts, closes, cols)
    }

    fn panel_of(pairs: &[Pair], ts: &[i64], c: &[Vec<f64>], cols: &[Vec<Vec<f32>>]) -> CrossPanel {
        let inputs: Vec<CrossInput<'_>> = pairs
            .iter()
            .enumerate()
            .map(|(k, &p)| CrossInput {
                pair: p,
                ts,
                close: &c[k],
                columns: cols[k].iter().map(|v| v.as_slice()).collect(),
            })
            .collect();
        CrossPanel::build(&inputs).unwrap()
    }

    #[test]
    fn catalog_has_72_unique_columns() {
        let c = cross_pair_catalog();
        assert_eq!(c.len(), 72);
        let mut names: Vec<_> = c.iter().map(|f| f.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 72);
    }

    #[test]
    fn planted_lead_is_the_strongest_relation() {
        let pairs = [px("EURUSD"), px("GBPUSD"), px("USDJPY"), px("EURGBP")];
        let (ts, c, cols) = market(&pairs, 3000, Some((px("EURUSD"), px("GBPUSD"), 5)));
        let panel = panel_of(&pairs, &ts, &c, &cols);
        let fit = fit_cross(&panel, 0..2000, &[], &CrossFitConfig::default()).unwrap();
        let eur = fit.params.pair(px("EURUSD")).unwrap();
        assert_eq!(eur.leaders[0].leader, px("GBPUSD"));
        assert_eq!(eur.leaders[0].lag, 5);
        assert!(eur.kept[0].significant);
        assert!(eur.kept[0].q.unwrap() < 1e-6);
        assert_eq!(eur.tests, 3 * 15);
        // Only three leaders exist: the other 9 slots are unfilled (constant 0).
        assert_eq!(eur.kept.len(), 3);
        let m = cross_columns(&panel, eur, &(0..3000).collect::<Vec<_>>()).unwrap();
        let j = m
            .names
            .iter()
            .position(|n| n == "xp_ll01_bqx_return_60")
            .unwrap();
        assert_eq!(m.get(100, j), f64::from(cols[1][IN_BQX60][95]));
        let j = m
            .names
            .iter()
            .position(|n| n == "xp_ll12_bqx_return_60")
            .unwrap();
        assert!((0..3000).all(|i| m.get(i, j) == 0.0));
    }

    #[test]
    fn fit_reads_no_row_after_its_range() {
        let pairs = [px("EURUSD"), px("GBPUSD"), px("EURGBP")];
        let (ts, c, cols) = market(&pairs, 1500, None);
        let target: Vec<f64> = (0..1500).map(|i| ((i * 37) % 101) as f64).collect();
        let masked: Vec<f64> = (0..1500)
            .map(|i| if i < 900 { target[i] } else { f64::NAN })
            .collect();
        let a = fit_cross(
            &panel_of(&pairs, &ts, &c, &cols),
            0..1000,
            &[(px("EURUSD"), masked.clone())],
            &CrossFitConfig::default(),
        )
        .unwrap();
        let mut c2 = c.clone();
        let mut cols2 = cols.clone();
        for i in 1000..1500 {
            c2[1][i] *= 1.5;
            cols2[0][0][i] = 9.0;
        }
        let b = fit_cross(
            &panel_of(&pairs, &ts, &c2, &cols2),
            0..1000,
            &[(px("EURUSD"), masked)],
            &CrossFitConfig::default(),
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn spearman_matches_hand_values() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // Ties: ranks [1.5, 1.5, 3] vs [1, 2, 3] → scipy.stats.spearmanr = 0.8660254037844387.
        assert!(
            (spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]) - 0.866_025_403_784_438_7).abs() < 1e-12
        );
    }
}
