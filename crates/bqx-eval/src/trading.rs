//! Trading simulation of out-of-sample predictions.
//!
//! # Rules (evaluation.md)
//!
//! - **Non-overlapping decisions every `h` bars**: inside a test block `[a, b)` decisions are
//!   taken at rows `a, a+h, a+2h, …` as long as the holding period ends inside the block
//!   (`t + h ≤ b`) and inside the data (`t + h ≤ n − 1`). Holding periods never overlap, within
//!   a fold or across consecutive folds, so per-decision P&L can be annualized honestly.
//! - **Position.** With [`Signal::Bqx`] (the default target):
//!
//!   > **position = −sign(prediction)**. A **positive predicted BQX** means the price is
//!   > predicted to **fall** relative to its path (BQX is positive when the price is *below* its
//!   > recent average), so the simulator goes **SHORT**; a negative predicted BQX goes long.
//!
//!   With [`Signal::PriceReturn`] (a prediction of the future price move itself) the position
//!   is `+sign(prediction)`. The position is flat when `|prediction| ≤ threshold`, where the
//!   threshold is fitted on the **training** predictions of the fold ([`Threshold::fit`]).
//! - **P&L per decision** `= position × ln(r(t+h)/r(t)) − cost × |Δposition|`, in log-return
//!   units. `cost` is half the pair's spread converted at the decision's price,
//!   `½ · spread_pips · pip / r(t)`: a unit change of position crosses half the spread (mid to
//!   bid or ask), so opening and later closing one unit costs one full spread. The position
//!   starts flat, and the last position of a block is closed at the end of its holding period
//!   (that closing cost is charged to the last decision), so folds are independent.
//! - The default spreads ([`typical_spread_pips`]) are a **typical retail spread, configurable**,
//!   not a broker quote.
//!
//! # Throughput
//!
//! [`Market`] precomputes `ln r` and `1/r` once per pair, so the per-decision work is a few
//! loads, compares and multiply-adds; [`simulate_summary`] streams the statistics without
//! allocating and [`simulate_columns`] runs many columns in parallel (see
//! `examples/sim_throughput.rs`).

use std::ops::Range;

use bqx_domain::Pair;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bootstrap::{BootstrapConfig, Interval, block_bootstrap};
use crate::error::{EvalError, Result, invalid, same_len};
use crate::metrics::finite;
use crate::stats::{self, normal_cdf, normal_quantile};

/// Microseconds in a year of 365.25 days (used to annualize).
pub const MICROS_PER_YEAR: f64 = 365.25 * 86_400.0 * 1e6;

/// Default quantile of |training predictions| used as the threshold.
pub const DEFAULT_THRESHOLD_QUANTILE: f64 = 0.5;

/// What a prediction column predicts; fixes the sign of the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// A BQX target: **positive = price predicted to fall → SHORT** (position = −sign).
    #[default]
    Bqx,
    /// A future price return: positive = price predicted to rise → long (position = +sign).
    PriceReturn,
}

impl Signal {
    /// `−1` for BQX, `+1` for a price return.
    pub fn direction(self) -> f64 {
        match self {
            Signal::Bqx => -1.0,
            Signal::PriceReturn => 1.0,
        }
    }
}

/// The |prediction| threshold below which the position is flat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Quantile of |training predictions| it was fitted at (`None` for a fixed value).
    pub quantile: Option<f64>,
    pub value: f64,
}

impl Threshold {
    /// The `q`-quantile (linear interpolation) of the absolute finite training predictions.
    /// `q = 0` gives a threshold of exactly 0: always in the market (unless a prediction is
    /// exactly 0).
    pub fn fit(train_predictions: &[f64], q: f64) -> Result<Threshold> {
        if !(0.0..=1.0).contains(&q) {
            return Err(invalid("quantile", "must lie in [0, 1]"));
        }
        let abs: Vec<f64> = train_predictions
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| v.abs())
            .collect();
        if abs.is_empty() {
            return Err(EvalError::TooFewObservations {
                what: "Threshold::fit",
                needed: 1,
                got: 0,
            });
        }
        let value = if q == 0.0 {
            0.0
        } else {
            stats::quantile(&abs, q)
        };
        Ok(Threshold {
            quantile: Some(q),
            value,
        })
    }

    /// A fixed threshold.
    pub fn fixed(value: f64) -> Threshold {
        Threshold {
            quantile: None,
            value,
        }
    }
}

/// Typical retail spread of a pair in pips (EURUSD ≈ 0.9, majors 1–2, crosses 2–4, GBPNZD 5).
/// **A typical retail spread, configurable** through [`TradingConfig::spread_pips`]; not a
/// broker quote.
pub fn typical_spread_pips(pair: Pair) -> f64 {
    match pair.name() {
        "EURUSD" => 0.9,
        "USDJPY" => 1.0,
        "GBPUSD" => 1.3,
        "AUDUSD" => 1.2,
        "EURGBP" => 1.4,
        "USDCHF" => 1.5,
        "USDCAD" => 1.6,
        "NZDUSD" => 1.6,
        "EURJPY" => 1.6,
        "EURCHF" => 1.8,
        "AUDJPY" => 1.8,
        "AUDCAD" => 2.2,
        "AUDCHF" => 2.2,
        "CADJPY" => 2.2,
        "NZDJPY" => 2.4,
        "EURAUD" => 2.5,
        "EURCAD" => 2.5,
        "GBPJPY" => 2.5,
        "CADCHF" => 2.5,
        "AUDNZD" => 2.8,
        "CHFJPY" => 2.8,
        "GBPCHF" => 3.0,
        "NZDCAD" => 3.0,
        "NZDCHF" => 3.0,
        "EURNZD" => 3.5,
        "GBPAUD" => 3.5,
        "GBPCAD" => 3.5,
        "GBPNZD" => 5.0,
        _ => 3.0,
    }
}

/// Settings of one simulation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TradingConfig {
    /// Bars between decisions = holding period = label horizon `h`.
    pub horizon: usize,
    pub signal: Signal,
    /// |prediction| must exceed this to take a position (see [`Threshold`]).
    pub threshold: f64,
    /// Full bid–ask spread in pips; half of it is paid per unit of position change.
    pub spread_pips: f64,
    /// Pip size in price units (`Pair::pip`).
    pub pip: f64,
}

impl TradingConfig {
    /// BQX signal, the pair's typical spread and pip.
    pub fn for_pair(pair: Pair, horizon: usize, threshold: Threshold) -> TradingConfig {
        TradingConfig {
            horizon,
            signal: Signal::Bqx,
            threshold: threshold.value,
            spread_pips: typical_spread_pips(pair),
            pip: pair.pip(),
        }
    }

    fn validate(&self) -> Result<()> {
        if self.horizon == 0 {
            return Err(invalid("horizon", "must be at least 1"));
        }
        if self.threshold.is_nan() || self.threshold < 0.0 {
            return Err(invalid("threshold", "must be ≥ 0"));
        }
        if !(self.spread_pips >= 0.0 && self.pip > 0.0) {
            return Err(invalid("spread_pips", "spread must be ≥ 0 and pip > 0"));
        }
        Ok(())
    }
}

/// A pair's prices prepared for simulation (`ln r` and `1/r` computed once, shared by every
/// prediction column of the pair).
#[derive(Debug, Clone)]
pub struct Market<'a> {
    ts: &'a [i64],
    log_close: Vec<f64>,
    inv_close: Vec<f64>,
}

impl<'a> Market<'a> {
    /// `ts` (UTC µs, one per row) and closes `r` (finite, > 0).
    pub fn new(ts: &'a [i64], close: &[f64]) -> Result<Market<'a>> {
        same_len("Market", ts.len(), close.len())?;
        if let Some(i) = close.iter().position(|c| !(c.is_finite() && *c > 0.0)) {
            return Err(invalid(
                "close",
                format!("row {i}: closes must be finite and > 0"),
            ));
        }
        Ok(Market {
            ts,
            log_close: close.iter().map(|c| c.ln()).collect(),
            inv_close: close.iter().map(|c| 1.0 / c).collect(),
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
}

/// The core loop shared by every entry point: calls `sink(row, position, gross, cost)` per
/// decision.
#[inline(always)]
fn run_decisions<F: FnMut(usize, f64, f64, f64)>(
    m: &Market<'_>,
    pred: &[f64],
    test: &Range<usize>,
    cfg: &TradingConfig,
    mut sink: F,
) {
    let n = m.len().min(pred.len());
    let h = cfg.horizon;
    if n == 0 || test.start >= test.end {
        return;
    }
    let limit = test.end.min(n - 1);
    let dir = cfg.signal.direction();
    let thr = cfg.threshold;
    let half = 0.5 * cfg.spread_pips * cfg.pip;
    let (lc, ic) = (&m.log_close[..n], &m.inv_close[..n]);
    let mut prev = 0.0f64;
    let mut t = test.start;
    while t + h <= limit {
        let p = pred[t];
        // NaN predictions compare false both ways: flat.
        let pos = if p > thr {
            dir
        } else if p < -thr {
            -dir
        } else {
            0.0
        };
        let next = t + h;
        let gross = pos * (lc[next] - lc[t]);
        let mut cost = (pos - prev).abs() * half * ic[t];
        if next + h > limit {
            // Last decision of the block: close the position at the end of its holding period.
            cost += pos.abs() * half * ic[next];
        }
        sink(t, pos, gross, cost);
        prev = pos;
        t = next;
    }
}

/// Every decision of one simulated block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionLog {
    pub horizon: usize,
    /// Decision rows (indices into the pair's series).
    pub rows: Vec<usize>,
    /// Decision timestamps.
    pub ts: Vec<i64>,
    /// −1, 0 or +1.
    pub position: Vec<i8>,
    /// `position × ln(r(t+h)/r(t))`.
    pub gross: Vec<f64>,
    /// Transaction cost charged at the decision (log-return units, ≥ 0).
    pub cost: Vec<f64>,
    /// `gross − cost`.
    pub pnl: Vec<f64>,
    /// Time spanned, from the first decision to the end of the last holding period (µs).
    pub span_micros: i64,
}

impl DecisionLog {
    /// Number of decisions.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there is no decision.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The P&L series for [`trading_metrics`].
    pub fn series(&self) -> PnlSeries {
        let mut prev = 0.0;
        let turnover = self
            .position
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let p = p as f64;
                let mut t = (p - prev).abs();
                if i + 1 == self.position.len() {
                    t += p.abs();
                }
                prev = p;
                t
            })
            .collect();
        PnlSeries {
            pnl: self.pnl.clone(),
            exposure: self.position.iter().map(|&p| (p as f64).abs()).collect(),
            turnover,
            cost: self.cost.clone(),
            years: self.span_micros as f64 / MICROS_PER_YEAR,
        }
    }
}

/// Simulates one prediction column over the test rows `test` of a pair (`pred` indexed like the
/// market's rows; rows outside `test` are ignored).
pub fn simulate(
    market: &Market<'_>,
    pred: &[f64],
    test: Range<usize>,
    cfg: &TradingConfig,
) -> Result<DecisionLog> {
    cfg.validate()?;
    same_len("simulate", pred.len(), market.len())?;
    let cap = test.len() / cfg.horizon + 1;
    let mut log = DecisionLog {
        horizon: cfg.horizon,
        rows: Vec::with_capacity(cap),
        ts: Vec::with_capacity(cap),
        position: Vec::with_capacity(cap),
        gross: Vec::with_capacity(cap),
        cost: Vec::with_capacity(cap),
        pnl: Vec::with_capacity(cap),
        span_micros: 0,
    };
    run_decisions(market, pred, &test, cfg, |t, pos, gross, cost| {
        log.rows.push(t);
        log.ts.push(market.ts[t]);
        log.position.push(pos as i8);
        log.gross.push(gross);
        log.cost.push(cost);
        log.pnl.push(gross - cost);
    });
    if let (Some(&first), Some(&last)) = (log.rows.first(), log.rows.last()) {
        log.span_micros = market.ts[last + cfg.horizon] - market.ts[first];
    }
    Ok(log)
}

/// Streaming summary of a simulation (no per-decision storage): what the throughput path
/// returns. [`trading_metrics`] gives the full report with intervals.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PnlSummary {
    pub n_decisions: usize,
    pub n_active: usize,
    pub total_return: f64,
    pub sum_sq: f64,
    pub total_cost: f64,
    pub turnover: f64,
    pub max_drawdown: f64,
    pub first_ts: i64,
    pub end_ts: i64,
    cum: f64,
    peak: f64,
}

impl PnlSummary {
    #[inline(always)]
    fn push(&mut self, pnl: f64, active: bool, cost: f64) {
        self.n_decisions += 1;
        self.n_active += active as usize;
        self.total_return += pnl;
        self.sum_sq += pnl * pnl;
        self.total_cost += cost;
        self.cum += pnl;
        self.peak = self.peak.max(self.cum);
        self.max_drawdown = self.max_drawdown.max(self.peak - self.cum);
    }

    /// Mean P&L per decision.
    pub fn mean_return(&self) -> f64 {
        self.total_return / self.n_decisions as f64
    }

    /// Annualized Sharpe ratio (decisions per year from the time spanned); `None` when
    /// undefined.
    pub fn sharpe(&self) -> Option<f64> {
        let n = self.n_decisions as f64;
        if self.n_decisions < 2 {
            return None;
        }
        let mean = self.total_return / n;
        let var = (self.sum_sq - n * mean * mean) / (n - 1.0);
        let years = (self.end_ts - self.first_ts) as f64 / MICROS_PER_YEAR;
        finite(mean / var.sqrt() * (n / years).sqrt())
    }
}

/// Simulates like [`simulate`] but only accumulates a [`PnlSummary`].
pub fn simulate_summary(
    market: &Market<'_>,
    pred: &[f64],
    test: Range<usize>,
    cfg: &TradingConfig,
) -> Result<PnlSummary> {
    cfg.validate()?;
    same_len("simulate", pred.len(), market.len())?;
    let mut s = PnlSummary::default();
    let mut prev = 0.0f64;
    let mut last = None;
    run_decisions(market, pred, &test, cfg, |t, pos, gross, cost| {
        if s.n_decisions == 0 {
            s.first_ts = market.ts[t];
        }
        s.turnover += (pos - prev).abs();
        prev = pos;
        last = Some(t);
        s.push(gross - cost, pos != 0.0, cost);
    });
    if let Some(t) = last {
        s.turnover += prev.abs();
        s.end_ts = market.ts[t + cfg.horizon];
    }
    Ok(s)
}

/// One column of a batch simulation.
#[derive(Debug, Clone)]
pub struct SimColumn<'a> {
    pub market: &'a Market<'a>,
    pub pred: &'a [f64],
    pub test: Range<usize>,
    pub cfg: TradingConfig,
}

/// Runs [`simulate_summary`] on every column in parallel (rayon); results in column order.
pub fn simulate_columns(columns: &[SimColumn<'_>]) -> Result<Vec<PnlSummary>> {
    columns
        .par_iter()
        .map(|c| simulate_summary(c.market, c.pred, c.test.clone(), &c.cfg))
        .collect()
}

/// A per-decision P&L series with the information the metrics need; several blocks (folds) or
/// a portfolio can be combined before computing metrics.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PnlSeries {
    /// Net P&L per decision (log-return units).
    pub pnl: Vec<f64>,
    /// Gross exposure `|position|` per decision (1 for a single pair in the market).
    pub exposure: Vec<f64>,
    /// `|Δposition|` per decision (including the final close-out).
    pub turnover: Vec<f64>,
    /// Cost per decision.
    pub cost: Vec<f64>,
    /// Calendar time covered, in years of 365.25 days (sum over the combined blocks).
    pub years: f64,
}

impl PnlSeries {
    /// Concatenates blocks in the given order; their years add up.
    pub fn concat<'s>(parts: impl IntoIterator<Item = &'s PnlSeries>) -> PnlSeries {
        let mut out = PnlSeries::default();
        for p in parts {
            out.pnl.extend_from_slice(&p.pnl);
            out.exposure.extend_from_slice(&p.exposure);
            out.turnover.extend_from_slice(&p.turnover);
            out.cost.extend_from_slice(&p.cost);
            out.years += p.years;
        }
        out
    }

    /// Number of decisions.
    pub fn len(&self) -> usize {
        self.pnl.len()
    }

    /// Whether there is no decision.
    pub fn is_empty(&self) -> bool {
        self.pnl.is_empty()
    }
}

/// The multiple-testing context of a Sharpe ratio: how many configurations were tried and how
/// much their (per-decision, not annualized) Sharpe ratios varied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trials {
    pub count: usize,
    pub sharpe_variance: f64,
}

/// The deflated Sharpe ratio (Bailey & López de Prado, 2014).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeflatedSharpe {
    pub n_trials: usize,
    pub trials_sharpe_variance: f64,
    /// Expected maximum per-decision Sharpe ratio of `n_trials` unskilled trials.
    pub expected_max_sharpe: f64,
    /// `PSR(expected_max_sharpe)`: probability that the true Sharpe ratio exceeds what the best
    /// of `n_trials` unskilled trials would show.
    pub dsr: f64,
}

/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Probabilistic Sharpe ratio: `Φ((SR − SR*)·√(T−1) / √(1 − γ₃·SR + (γ₄−1)/4·SR²))` with the
/// per-period (not annualized) Sharpe `sr`, benchmark `sr_star`, sample length `n_obs`,
/// skewness `γ₃` and (non-excess) kurtosis `γ₄` of the returns. `NaN` when undefined.
pub fn probabilistic_sharpe(sr: f64, sr_star: f64, n_obs: usize, skew: f64, kurt: f64) -> f64 {
    let den = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr;
    if n_obs < 2 || den.is_nan() || den <= 0.0 {
        return f64::NAN;
    }
    normal_cdf((sr - sr_star) * ((n_obs - 1) as f64).sqrt() / den.sqrt())
}

/// Expected maximum Sharpe ratio of `n_trials` independent unskilled trials whose Sharpe ratios
/// have variance `variance`: `√V·((1−γ)·Φ⁻¹(1−1/N) + γ·Φ⁻¹(1−1/(N·e)))`; 0 for `N ≤ 1`.
pub fn expected_max_sharpe(n_trials: usize, variance: f64) -> f64 {
    if n_trials <= 1 || variance.is_nan() || variance <= 0.0 {
        return 0.0;
    }
    let n = n_trials as f64;
    variance.sqrt()
        * ((1.0 - EULER_GAMMA) * normal_quantile(1.0 - 1.0 / n)
            + EULER_GAMMA * normal_quantile(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// The deflated Sharpe ratio of a per-decision Sharpe `sr` measured on `n_obs` returns with
/// skewness `skew` and kurtosis `kurt` (non-excess), given the trials.
pub fn deflated_sharpe(
    sr: f64,
    n_obs: usize,
    skew: f64,
    kurt: f64,
    trials: Trials,
) -> DeflatedSharpe {
    let sr0 = expected_max_sharpe(trials.count, trials.sharpe_variance);
    DeflatedSharpe {
        n_trials: trials.count,
        trials_sharpe_variance: trials.sharpe_variance,
        expected_max_sharpe: sr0,
        dsr: probabilistic_sharpe(sr, sr0, n_obs, skew, kurt),
    }
}

/// Trading metrics with block-bootstrap intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradingMetrics {
    pub n_decisions: usize,
    /// Decisions with a non-zero position.
    pub n_active: usize,
    /// Mean gross exposure (fraction of decisions in the market for one pair).
    pub exposure: f64,
    /// Calendar years covered.
    pub years: f64,
    /// `n_decisions / years`: the true decision frequency used to annualize.
    pub decisions_per_year: Option<f64>,
    /// Sum of the log P&L.
    pub total_return: f64,
    /// Mean log P&L per decision.
    pub mean_return: f64,
    pub std_return: Option<f64>,
    /// `mean_return × decisions_per_year`.
    pub annualized_return: Option<f64>,
    /// Annualized Sharpe ratio `mean/std · √(decisions per year)`.
    pub sharpe: Option<f64>,
    /// Per-decision Sharpe ratio (the input of PSR/DSR).
    pub sharpe_per_decision: Option<f64>,
    /// Annualized Sortino ratio `mean / √(mean(min(pnl, 0)²)) · √(decisions per year)`.
    pub sortino: Option<f64>,
    /// Largest fall of the cumulative log P&L from its running peak (the start counts as a peak
    /// at 0), ≥ 0.
    pub max_drawdown: f64,
    /// `annualized_return / max_drawdown`.
    pub calmar: Option<f64>,
    /// Fraction of active decisions with a positive net P&L.
    pub hit_rate: Option<f64>,
    /// `Σ gains / |Σ losses|` over all decisions.
    pub profit_factor: Option<f64>,
    /// Mean `|Δposition|` per decision (incl. the final close-out).
    pub turnover: f64,
    pub total_cost: f64,
    pub skewness: Option<f64>,
    /// Non-excess kurtosis.
    pub kurtosis: Option<f64>,
    /// Probabilistic Sharpe ratio against 0: P(true Sharpe > 0).
    pub psr: Option<f64>,
    /// Deflated Sharpe ratio, when the trials are known.
    pub deflated: Option<DeflatedSharpe>,
    pub sharpe_ci: Option<Interval>,
    pub hit_rate_ci: Option<Interval>,
    pub mean_return_ci: Option<Interval>,
    /// Bootstrap block length in decisions.
    pub block_len: usize,
    pub confidence: f64,
}

/// Annualized Sharpe, hit rate and mean of a subset (`idx`) of a series.
fn boot_stats(s: &PnlSeries, idx: &[usize], per_year: Option<f64>) -> [f64; 3] {
    let n = idx.len() as f64;
    let (mut sum, mut sq, mut active, mut wins) = (0.0, 0.0, 0u32, 0u32);
    for &i in idx {
        let x = s.pnl[i];
        sum += x;
        sq += x * x;
        if s.exposure[i] > 0.0 {
            active += 1;
            wins += (x > 0.0) as u32;
        }
    }
    let mean = sum / n;
    let var = (sq - n * mean * mean) / (n - 1.0);
    let sharpe = per_year.map_or(f64::NAN, |py| mean / var.sqrt() * py.sqrt());
    let hit = if active > 0 {
        wins as f64 / active as f64
    } else {
        f64::NAN
    };
    [sharpe, hit, mean]
}

/// Computes the trading metrics of a P&L series; `trials` adds the deflated Sharpe ratio.
pub fn trading_metrics(
    s: &PnlSeries,
    bootstrap: &BootstrapConfig,
    trials: Option<Trials>,
) -> Result<TradingMetrics> {
    let n = s.len();
    same_len("trading exposure", s.exposure.len(), n)?;
    same_len("trading turnover", s.turnover.len(), n)?;
    same_len("trading cost", s.cost.len(), n)?;
    if n == 0 {
        return Err(EvalError::TooFewObservations {
            what: "trading_metrics",
            needed: 1,
            got: 0,
        });
    }
    let nf = n as f64;
    let per_year = (s.years > 0.0).then(|| nf / s.years);
    let mean = stats::mean(&s.pnl);
    let sd = stats::std_dev(&s.pnl);
    let sr = finite(mean / sd);
    let downside = (s.pnl.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / nf).sqrt();
    let (mut cum, mut peak, mut mdd) = (0.0f64, 0.0f64, 0.0f64);
    let (mut gains, mut losses) = (0.0, 0.0);
    let (mut active, mut wins) = (0usize, 0usize);
    for (i, &x) in s.pnl.iter().enumerate() {
        cum += x;
        peak = peak.max(cum);
        mdd = mdd.max(peak - cum);
        if x > 0.0 {
            gains += x;
        } else {
            losses -= x;
        }
        if s.exposure[i] > 0.0 {
            active += 1;
            wins += (x > 0.0) as usize;
        }
    }
    let annualized_return = per_year.map(|py| mean * py);
    let skew = finite(stats::skewness(&s.pnl));
    let kurt = finite(stats::kurtosis(&s.pnl));
    let psr = match (sr, skew, kurt) {
        (Some(sr), Some(g3), Some(g4)) => finite(probabilistic_sharpe(sr, 0.0, n, g3, g4)),
        _ => None,
    };
    let deflated = match (trials, sr, skew, kurt) {
        (Some(t), Some(sr), Some(g3), Some(g4)) => Some(deflated_sharpe(sr, n, g3, g4, t)),
        _ => None,
    };
    let block_len = bootstrap.block_len_auto(&s.pnl, 1);
    let [sharpe_ci, hit_rate_ci, mean_return_ci] = if n >= 2 {
        block_bootstrap(n, block_len, bootstrap, |idx| boot_stats(s, idx, per_year))?
    } else {
        [None; 3]
    };
    Ok(TradingMetrics {
        n_decisions: n,
        n_active: active,
        exposure: stats::mean(&s.exposure),
        years: s.years,
        decisions_per_year: per_year,
        total_return: s.pnl.iter().sum(),
        mean_return: mean,
        std_return: finite(sd),
        annualized_return,
        sharpe: sr.and_then(|sr| per_year.and_then(|py| finite(sr * py.sqrt()))),
        sharpe_per_decision: sr,
        sortino: per_year.and_then(|py| finite(mean / downside * py.sqrt())),
        max_drawdown: mdd,
        calmar: annualized_return.and_then(|a| (mdd > 0.0).then(|| a / mdd)),
        hit_rate: (active > 0).then(|| wins as f64 / active as f64),
        profit_factor: (losses > 0.0).then(|| gains / losses),
        turnover: stats::mean(&s.turnover),
        total_cost: s.cost.iter().sum(),
        skewness: skew,
        kurtosis: kurt,
        psr,
        deflated,
        sharpe_ci,
        hit_rate_ci,
        mean_return_ci,
        block_len,
        confidence: bootstrap.confidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market_fixture() -> (Vec<i64>, Vec<f64>) {
        let ts: Vec<i64> = (0..11).map(|i| i * 86_400_000_000).collect();
        let close = vec![1.0, 1.01, 1.02, 1.0, 0.99, 0.98, 1.0, 1.03, 1.01, 1.0, 1.02];
        (ts, close)
    }

    #[test]
    fn bqx_signal_goes_short_and_pnl_by_hand() {
        let (ts, close) = market_fixture();
        let m = Market::new(&ts, &close).unwrap();
        // h = 2: decisions at rows 0, 2, 4, 6, 8 (8 + 2 = 10 ≤ 10).
        let mut pred = vec![f64::NAN; 11];
        pred[0] = 0.5; // positive BQX → short
        pred[2] = 0.5; // still short
        pred[4] = -0.5; // long
        pred[6] = 0.05; // below threshold → flat
        pred[8] = -0.5; // long
        let cfg = TradingConfig {
            horizon: 2,
            signal: Signal::Bqx,
            threshold: 0.1,
            spread_pips: 10.0,
            pip: 0.0001,
        };
        let log = simulate(&m, &pred, 0..11, &cfg).unwrap();
        assert_eq!(log.rows, vec![0, 2, 4, 6, 8]);
        assert_eq!(log.position, vec![-1, -1, 1, 0, 1]);
        let half = 0.5 * 10.0 * 0.0001;
        let l = |a: usize, b: usize| (close[b] / close[a]).ln();
        let want_gross = [-l(0, 2), -l(2, 4), l(4, 6), 0.0, l(8, 10)];
        let want_cost = [
            half / close[0],
            0.0,
            2.0 * half / close[4],
            half / close[6],
            half / close[8] + half / close[10],
        ];
        for i in 0..5 {
            assert!((log.gross[i] - want_gross[i]).abs() < 1e-15, "gross {i}");
            assert!((log.cost[i] - want_cost[i]).abs() < 1e-15, "cost {i}");
            assert!((log.pnl[i] - (want_gross[i] - want_cost[i])).abs() < 1e-15);
        }
        assert_eq!(log.span_micros, ts[10] - ts[0]);
        // A PriceReturn signal flips every position.
        let flipped = simulate(
            &m,
            &pred,
            0..11,
            &TradingConfig {
                signal: Signal::PriceReturn,
                ..cfg
            },
        )
        .unwrap();
        assert_eq!(flipped.position, vec![1, 1, -1, 0, -1]);
        // The holding period must end inside the test block.
        let part = simulate(&m, &pred, 0..9, &cfg).unwrap();
        assert_eq!(part.rows, vec![0, 2, 4, 6]);
        // The streaming summary agrees with the log.
        let s = simulate_summary(&m, &pred, 0..11, &cfg).unwrap();
        assert_eq!(s.n_decisions, 5);
        assert_eq!(s.n_active, 4);
        assert!((s.total_return - log.pnl.iter().sum::<f64>()).abs() < 1e-15);
        let series = log.series();
        assert_eq!(series.turnover, vec![1.0, 0.0, 2.0, 1.0, 2.0]);
        assert_eq!(s.turnover, series.turnover.iter().sum::<f64>());
        let tm = trading_metrics(&series, &BootstrapConfig::default(), None).unwrap();
        assert!((tm.max_drawdown - s.max_drawdown).abs() < 1e-15);
        assert!((tm.sharpe.unwrap() - s.sharpe().unwrap()).abs() < 1e-9);
    }

    #[test]
    fn threshold_fit() {
        let t = Threshold::fit(&[1.0, -2.0, 3.0, -4.0, f64::NAN], 0.5).unwrap();
        assert_eq!(t.value, 2.5);
        assert_eq!(Threshold::fit(&[1.0, -2.0], 0.0).unwrap().value, 0.0);
        assert!(Threshold::fit(&[f64::NAN], 0.5).is_err());
        assert!(Threshold::fit(&[1.0], 1.5).is_err());
        let cfg = TradingConfig::for_pair(Pair::parse("GBPNZD").unwrap(), 60, t);
        assert_eq!(
            (cfg.spread_pips, cfg.pip, cfg.threshold),
            (5.0, 0.0001, 2.5)
        );
        // Every pair has a spread in the documented band.
        for p in Pair::ALL {
            let s = typical_spread_pips(p);
            assert!((0.5..=5.0).contains(&s), "{p}: {s}");
        }
    }

    #[test]
    fn metrics_by_hand() {
        let s = PnlSeries {
            pnl: vec![0.01, -0.02, 0.03, 0.0, -0.01],
            exposure: vec![1.0, 1.0, 1.0, 0.0, 1.0],
            turnover: vec![1.0, 0.0, 0.0, 1.0, 2.0],
            cost: vec![0.0; 5],
            years: 0.5,
        };
        let m = trading_metrics(&s, &BootstrapConfig::default(), None).unwrap();
        assert_eq!(m.n_decisions, 5);
        assert_eq!(m.decisions_per_year, Some(10.0));
        assert!((m.mean_return - 0.002).abs() < 1e-15);
        // cum: .01, −.01, .02, .02, .01 → peak .01 then −.01: dd .02
        assert!((m.max_drawdown - 0.02).abs() < 1e-15);
        assert_eq!(m.hit_rate, Some(0.5));
        assert!((m.profit_factor.unwrap() - 0.04 / 0.03).abs() < 1e-12);
        let sd = stats::std_dev(&s.pnl);
        assert!((m.sharpe.unwrap() - 0.002 / sd * 10f64.sqrt()).abs() < 1e-12);
        let dd = ((0.0004 + 0.0001) / 5.0f64).sqrt();
        assert!((m.sortino.unwrap() - 0.002 / dd * 10f64.sqrt()).abs() < 1e-12);
        assert!((m.calmar.unwrap() - 0.02 / 0.02).abs() < 1e-12);
        assert_eq!(m.turnover, 0.8);
        let ci = m.mean_return_ci.unwrap();
        assert!(ci.lo <= ci.hi);
    }

    #[test]
    fn deflated_sharpe_basics() {
        // One trial: nothing to deflate, DSR = PSR(0).
        assert_eq!(expected_max_sharpe(1, 0.5), 0.0);
        let psr = probabilistic_sharpe(0.1, 0.0, 101, 0.0, 3.0);
        // den = 1 + 0.5·0.01 = 1.005 → z = 0.1·10/√1.005
        assert!((psr - normal_cdf(1.0 / 1.005f64.sqrt())).abs() < 1e-15);
        // More trials raise the bar.
        let a = deflated_sharpe(
            0.1,
            500,
            0.0,
            3.0,
            Trials {
                count: 10,
                sharpe_variance: 0.002,
            },
        );
        let b = deflated_sharpe(
            0.1,
            500,
            0.0,
            3.0,
            Trials {
                count: 1000,
                sharpe_variance: 0.002,
            },
        );
        assert!(a.expected_max_sharpe < b.expected_max_sharpe);
        assert!(a.dsr > b.dsr);
    }
}
