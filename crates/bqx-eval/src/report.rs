//! Report types (per fold, per pair, pooled) and their canonical JSON.
//!
//! # Pooling across pairs (documented choice)
//!
//! - **Regression and direction**: the per-pair out-of-sample rows are concatenated (pairs in
//!   canonical order, folds in id order) and the metrics recomputed on the concatenation. R²
//!   against the training mean uses, row by row, the training mean of the row's own (pair, fold).
//!   The direction bootstrap resamples blocks of consecutive **timestamps**, every pair's rows at
//!   a timestamp moving together, so the cross-pair dependence at the same time does not make
//!   the interval falsely narrow.
//! - **Trading**: an **equal-weight portfolio** of the per-pair strategies. Decision `k` of fold
//!   `f` of every pair is one portfolio decision (the folds are the same calendar blocks for all
//!   pairs, and each pair decides every `h` of its own bars from the block start, so the k-th
//!   decisions coincide up to missing bars). The portfolio's P&L, exposure, turnover and cost at
//!   that decision are the **means over the pairs that have it** (weight 1/N each, gross exposure
//!   ≤ 1). Its time span per fold is the longest pair span of that fold, and the annualized
//!   Sharpe uses the portfolio's own decisions per year. This is one strategy, so its Sharpe is
//!   not inflated by counting 28 correlated streams as independent observations.
//!
//! # Determinism
//!
//! Inputs are sorted by (pair, fold) before use, all maps are `BTreeMap`s, bootstraps are
//! seeded per resample: identical inputs give a byte-identical [`render_json`] whatever the
//! input order or thread count.

use std::collections::BTreeMap;

use bqx_domain::Pair;
use serde::{Deserialize, Serialize};

use crate::bootstrap::BootstrapConfig;
use crate::error::{EvalError, Result, same_len};
use crate::metrics::{
    DirectionMetrics, RegressionMetrics, direction_grouped, regression_with_benchmark,
};
use crate::targets::OverlapCeiling;
use crate::trading::{DecisionLog, PnlSeries, TradingMetrics, Trials, trading_metrics};

/// Version of the report layout; bump on any change of the serialized shape.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

/// One pair's out-of-sample result on one fold, as supplied by the orchestration.
#[derive(Debug, Clone, Copy)]
pub struct FoldOutcome<'a> {
    pub pair: Pair,
    pub fold: u32,
    /// Timestamps (UTC µs) of the fold's test rows.
    pub ts: &'a [i64],
    /// Predictions on the test rows (`NaN` rows are skipped).
    pub predicted: &'a [f64],
    /// Targets on the test rows (`NaN` rows are skipped).
    pub actual: &'a [f64],
    /// Mean target over the fold's training rows (benchmark of `r2_vs_train_mean`).
    pub train_mean: f64,
    /// The fold's trading simulation ([`crate::trading::simulate`]), if any.
    pub trades: Option<&'a DecisionLog>,
}

/// Settings echoed into the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReportConfig {
    /// Label horizon `h` (rows): the direction bootstrap uses blocks of at least `h`.
    pub horizon: usize,
    /// The overlap ceiling shown beside every metric set.
    pub ceiling: OverlapCeiling,
    pub bootstrap: BootstrapConfig,
    /// Number and Sharpe variance of the configurations tried, for the deflated Sharpe ratio.
    pub trials: Option<Trials>,
}

/// The verdict on a slice of results (evaluation.md § Verdict rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The lower bound of the directional-accuracy interval exceeds both the overlap ceiling's
    /// DA and the drift baseline's DA on the same rows, and R² against the training mean is
    /// positive.
    Skill,
    /// Anything else; the reasons say which condition failed.
    NotSkill,
}

/// The verdict with what it was judged against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillVerdict {
    /// The lower bound of the DA interval (block bootstrap, else Wilson).
    pub directional_accuracy_lower: f64,
    /// The drift baseline's DA on the same rows: the share of rows whose actual has the sign
    /// of the row's training mean (`None` when no row has a non-zero training mean).
    pub drift_directional_accuracy: Option<f64>,
    /// What the lower bound must exceed: the higher of the ceiling's DA and the drift's.
    pub directional_accuracy_bar: f64,
    pub r2_vs_train_mean: Option<f64>,
    pub verdict: Verdict,
    /// Why it is not skill (empty for skill).
    pub reasons: Vec<String>,
}

/// The drift baseline's directional accuracy: `sign(train mean) == sign(actual)` over rows
/// with a finite, non-zero actual and a non-zero training mean.
fn drift_accuracy(bench: &[f64], actual: &[f64]) -> Option<f64> {
    let (mut n, mut hits) = (0usize, 0usize);
    for (b, a) in bench.iter().zip(actual) {
        if a.is_finite() && *a != 0.0 && b.is_finite() && *b != 0.0 {
            n += 1;
            if (*a > 0.0) == (*b > 0.0) {
                hits += 1;
            }
        }
    }
    (n > 0).then(|| hits as f64 / n as f64)
}

/// Judges a metric set (`None` without direction metrics, e.g. the zero forecast, which has
/// no direction).
pub fn judge(
    regression: Option<&RegressionMetrics>,
    direction: Option<&DirectionMetrics>,
    drift_da: Option<f64>,
    ceiling: &OverlapCeiling,
) -> Option<SkillVerdict> {
    let d = direction?;
    let lower = d.bootstrap.unwrap_or(d.wilson).lo;
    let bar = drift_da.map_or(ceiling.directional_accuracy, |x| {
        x.max(ceiling.directional_accuracy)
    });
    let r2 = regression.and_then(|r| r.r2_vs_train_mean);
    let mut reasons = Vec::new();
    if lower.is_nan() || lower <= bar {
        reasons.push(format!(
            "DA lower bound {:.1}% does not exceed {:.1}% (ceiling {:.1}%, drift {})",
            100.0 * lower,
            100.0 * bar,
            100.0 * ceiling.directional_accuracy,
            drift_da.map_or("n/a".to_string(), |x| format!("{:.1}%", 100.0 * x))
        ));
    }
    match r2 {
        Some(v) if v > 0.0 => {}
        Some(v) => reasons.push(format!("R² vs the training mean {v:.4} is not positive")),
        None => reasons.push("no R² vs the training mean".into()),
    }
    Some(SkillVerdict {
        directional_accuracy_lower: lower,
        drift_directional_accuracy: drift_da,
        directional_accuracy_bar: bar,
        r2_vs_train_mean: r2,
        verdict: if reasons.is_empty() {
            Verdict::Skill
        } else {
            Verdict::NotSkill
        },
        reasons,
    })
}

/// How many per-pair and per-fold labels say skill, and how many would by chance: under no
/// skill, a slice's DA lower bound exceeds the bar with probability at most `(1 − level) / 2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCounts {
    pub pairs: usize,
    pub pairs_skill: usize,
    pub pair_folds: usize,
    pub pair_folds_skill: usize,
    pub pooled_folds: usize,
    pub pooled_folds_skill: usize,
    /// At most this share of labels says skill by chance.
    pub chance_share: f64,
}

/// Every metric of one slice of results (a pair's fold, a pair, a pooled fold, the pool).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSet {
    /// Rows supplied (before skipping `NaN`s).
    pub n_rows: usize,
    pub regression: Option<RegressionMetrics>,
    pub direction: Option<DirectionMetrics>,
    pub trading: Option<TradingMetrics>,
    /// Skill or not (evaluation.md's verdict rule), judged against the overlap ceiling and the
    /// drift baseline on the same rows.
    pub verdict: Option<SkillVerdict>,
}

/// Metrics of one fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldMetrics {
    pub fold: u32,
    /// First and last test timestamp of the slice.
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub metrics: MetricSet,
}

/// One pair: all its folds together and each fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairReport {
    pub pair: Pair,
    pub all_folds: MetricSet,
    pub folds: Vec<FoldMetrics>,
}

/// The evaluation report of one model (or configuration) over pairs and folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub schema_version: u32,
    /// Free label (model / configuration name).
    pub label: String,
    pub horizon: usize,
    /// Shown beside every result: metric sets at or below it are not skill.
    pub ceiling: OverlapCeiling,
    pub bootstrap: BootstrapConfig,
    pub trials: Option<Trials>,
    /// How pooling is done (see the module doc).
    pub pooling: String,
    /// All pairs and folds.
    pub pooled: MetricSet,
    /// All pairs, per fold.
    pub pooled_by_fold: Vec<FoldMetrics>,
    /// Per pair, in canonical pair order.
    pub pairs: Vec<PairReport>,
    /// The per-pair and per-fold labels, against what chance alone would give.
    pub labels: LabelCounts,
}

const POOLING: &str = "regression/direction: concatenated per-pair out-of-sample rows \
(direction bootstrap in blocks of timestamps); trading: equal-weight portfolio of the pairs \
per (fold, decision index), annualized with the portfolio's own decisions per year";

/// Builds the metric set of a slice made of `parts` (in order) and an optional P&L series.
fn metric_set(parts: &[&FoldOutcome<'_>], pnl: Option<PnlSeries>, cfg: &ReportConfig) -> MetricSet {
    let n_rows: usize = parts.iter().map(|p| p.actual.len()).sum();
    let mut pred = Vec::with_capacity(n_rows);
    let mut actual = Vec::with_capacity(n_rows);
    let mut bench = Vec::with_capacity(n_rows);
    let mut ts = Vec::with_capacity(n_rows);
    for p in parts {
        pred.extend_from_slice(p.predicted);
        actual.extend_from_slice(p.actual);
        bench.extend(std::iter::repeat_n(p.train_mean, p.actual.len()));
        ts.extend_from_slice(p.ts);
    }
    let regression = regression_with_benchmark(&pred, &actual, &bench).ok();
    // A forecast that never predicts a direction (the zero forecast) has no directional
    // accuracy: reporting 0 % would read as a perfectly wrong forecast.
    let direction = if pred.iter().all(|p| *p == 0.0) {
        None
    } else {
        direction_grouped(&pred, &actual, &ts, cfg.horizon, &cfg.bootstrap).ok()
    };
    let trading = pnl
        .filter(|s| !s.is_empty())
        .and_then(|s| trading_metrics(&s, &cfg.bootstrap, cfg.trials).ok());
    let verdict = judge(
        regression.as_ref(),
        direction.as_ref(),
        drift_accuracy(&bench, &actual),
        &cfg.ceiling,
    );
    MetricSet {
        n_rows,
        regression,
        direction,
        trading,
        verdict,
    }
}

fn time_bounds(parts: &[&FoldOutcome<'_>]) -> (Option<i64>, Option<i64>) {
    let first = parts.iter().filter_map(|p| p.ts.first().copied()).min();
    let last = parts.iter().filter_map(|p| p.ts.last().copied()).max();
    (first, last)
}

/// The P&L series of a single pair over the given folds (concatenated in order).
fn pair_pnl(parts: &[&FoldOutcome<'_>]) -> Option<PnlSeries> {
    let series: Vec<PnlSeries> = parts
        .iter()
        .filter_map(|p| p.trades.map(DecisionLog::series))
        .collect();
    (!series.is_empty()).then(|| PnlSeries::concat(&series))
}

/// The equal-weight portfolio of the pairs' trades in `parts` (see the module doc).
pub fn portfolio(logs: &[(u32, &DecisionLog)]) -> PnlSeries {
    // (fold, decision index) → (Σ pnl, Σ exposure, Σ turnover, Σ cost, count)
    let mut slots: BTreeMap<(u32, usize), [f64; 5]> = BTreeMap::new();
    let mut fold_years: BTreeMap<u32, f64> = BTreeMap::new();
    for &(fold, log) in logs {
        let s = log.series();
        for k in 0..s.len() {
            let e = slots.entry((fold, k)).or_insert([0.0; 5]);
            e[0] += s.pnl[k];
            e[1] += s.exposure[k];
            e[2] += s.turnover[k];
            e[3] += s.cost[k];
            e[4] += 1.0;
        }
        let y = fold_years.entry(fold).or_insert(0.0);
        *y = y.max(s.years);
    }
    let mut out = PnlSeries {
        years: fold_years.values().sum(),
        ..PnlSeries::default()
    };
    for v in slots.values() {
        let c = v[4];
        out.pnl.push(v[0] / c);
        out.exposure.push(v[1] / c);
        out.turnover.push(v[2] / c);
        out.cost.push(v[3] / c);
    }
    out
}

fn portfolio_of(parts: &[&FoldOutcome<'_>]) -> Option<PnlSeries> {
    let logs: Vec<(u32, &DecisionLog)> = parts
        .iter()
        .filter_map(|p| p.trades.map(|t| (p.fold, t)))
        .collect();
    (!logs.is_empty()).then(|| portfolio(&logs))
}

/// Builds the report. Every outcome must have equally long `ts`, `predicted` and `actual`, and
/// each (pair, fold) may appear once. Slices whose metrics cannot be computed (too few rows)
/// carry `None` for those metrics rather than failing the report.
pub fn build_report(
    label: &str,
    outcomes: &[FoldOutcome<'_>],
    cfg: &ReportConfig,
) -> Result<EvalReport> {
    cfg.bootstrap.validate()?;
    for o in outcomes {
        same_len("outcome predicted", o.predicted.len(), o.actual.len())?;
        same_len("outcome ts", o.ts.len(), o.actual.len())?;
    }
    let mut sorted: Vec<&FoldOutcome<'_>> = outcomes.iter().collect();
    sorted.sort_by_key(|o| (o.pair, o.fold));
    if let Some(w) = sorted
        .windows(2)
        .find(|w| (w[0].pair, w[0].fold) == (w[1].pair, w[1].fold))
    {
        return Err(EvalError::InvalidParameter {
            name: "outcomes",
            reason: format!("{} fold {} appears twice", w[0].pair, w[0].fold),
        });
    }

    let mut pairs = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let pair = sorted[i].pair;
        let j = i + sorted[i..].iter().take_while(|o| o.pair == pair).count();
        let group = &sorted[i..j];
        let folds = group
            .iter()
            .map(|o| {
                let one = [*o];
                let (first_ts, last_ts) = time_bounds(&one);
                FoldMetrics {
                    fold: o.fold,
                    first_ts,
                    last_ts,
                    metrics: metric_set(&one, pair_pnl(&one), cfg),
                }
            })
            .collect();
        pairs.push(PairReport {
            pair,
            all_folds: metric_set(group, pair_pnl(group), cfg),
            folds,
        });
        i = j;
    }

    let fold_ids: Vec<u32> = {
        let mut f: Vec<u32> = sorted.iter().map(|o| o.fold).collect();
        f.sort_unstable();
        f.dedup();
        f
    };
    let pooled_by_fold: Vec<FoldMetrics> = fold_ids
        .iter()
        .map(|&fold| {
            let parts: Vec<&FoldOutcome<'_>> =
                sorted.iter().copied().filter(|o| o.fold == fold).collect();
            let (first_ts, last_ts) = time_bounds(&parts);
            FoldMetrics {
                fold,
                first_ts,
                last_ts,
                metrics: metric_set(&parts, portfolio_of(&parts), cfg),
            }
        })
        .collect();

    let skill = |m: &MetricSet| {
        m.verdict
            .as_ref()
            .is_some_and(|v| v.verdict == Verdict::Skill)
    };
    let judged = |m: &MetricSet| m.verdict.is_some();
    let labels = LabelCounts {
        pairs: pairs.iter().filter(|p| judged(&p.all_folds)).count(),
        pairs_skill: pairs.iter().filter(|p| skill(&p.all_folds)).count(),
        pair_folds: pairs
            .iter()
            .flat_map(|p| &p.folds)
            .filter(|f| judged(&f.metrics))
            .count(),
        pair_folds_skill: pairs
            .iter()
            .flat_map(|p| &p.folds)
            .filter(|f| skill(&f.metrics))
            .count(),
        pooled_folds: pooled_by_fold.iter().filter(|f| judged(&f.metrics)).count(),
        pooled_folds_skill: pooled_by_fold.iter().filter(|f| skill(&f.metrics)).count(),
        chance_share: (1.0 - cfg.bootstrap.confidence) / 2.0,
    };
    Ok(EvalReport {
        schema_version: REPORT_SCHEMA_VERSION,
        label: label.to_string(),
        horizon: cfg.horizon,
        ceiling: cfg.ceiling,
        bootstrap: cfg.bootstrap,
        trials: cfg.trials,
        pooling: POOLING.to_string(),
        pooled: metric_set(&sorted, portfolio_of(&sorted), cfg),
        pooled_by_fold,
        pairs,
        labels,
    })
}

/// Canonical JSON of a report (pretty-printed, fields in declaration order, trailing newline):
/// byte-identical for identical reports.
pub fn render_json(report: &EvalReport) -> Result<String> {
    let mut s = serde_json::to_string_pretty(report)
        .map_err(|e| EvalError::Serialization(e.to_string()))?;
    s.push('\n');
    Ok(s)
}
