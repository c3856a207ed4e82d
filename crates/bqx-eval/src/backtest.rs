//! The walk-forward backtest: targets, folds, per-fold fitted features, models, out-of-sample
//! predictions, trading simulation and the reports of every model side by side.
//!
//! A **unit** is one (model, fold, pair) fit: the model is fitted on the fold's purged training
//! rows (early stopping on its purged validation tail), the trading threshold on the model's
//! training predictions, and the fold's test rows are predicted. Everything fitted — the USD
//! factor, the scaler inside each model, the model, the threshold — sees the training part of
//! its fold only. Units are independent, run in parallel across pairs, and go through a
//! [`UnitCache`] so that a run killed half-way resumes where it stopped (the app backs the cache
//! with the store).
//!
//! The same inputs, configuration and seed give byte-identical reports ([`render_backtest`]):
//! every unit has its own seed derived from (seed, model, fold, pair), units are collected in a
//! fixed order, and no timing enters the report.

use std::collections::BTreeMap;
use std::ops::Range;

use bqx_domain::Pair;
use bqx_features::{
    CrossFitConfig, CrossPanel, CrossParams, FeatureMatrix, FittedParams, PanelKernel,
    UsdFactorKernel, UsdFactorParams, compute_panel_batch, fit_usd_factor,
};
use bqx_models::{FitReport, Matrix, Model, ModelSpec, Regressor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::bootstrap::BootstrapConfig;
use crate::error::{EvalError, Result, invalid};
use crate::folds::{FoldConfig, FoldPlan, FoldRows, PlannedFold};
use crate::report::{EvalReport, FoldOutcome, ReportConfig, build_report};
use crate::targets::{OverlapCeiling, bqx_target};
use crate::trading::{DecisionLog, Market, Threshold, TradingConfig, Trials, simulate};

/// Version of the backtest report layout; bump on any change of the serialized shape.
pub const BACKTEST_SCHEMA_VERSION: u32 = 2;

/// One pair's series: closes and stored features on the same rows.
#[derive(Debug, Clone)]
pub struct SeriesInput {
    pub pair: Pair,
    /// Bar open times, UTC µs, increasing.
    pub ts: Vec<i64>,
    pub close: Vec<f64>,
    pub names: Vec<String>,
    /// `columns[j][i]`: feature `j` at row `i` (`NaN` = missing, e.g. warm-up).
    pub columns: Vec<Vec<f32>>,
}

/// The aligned panel of closes (for the fitted USD factor): `close[pair.index()][row]`.
#[derive(Debug, Clone)]
pub struct PanelInput {
    pub ts: Vec<i64>,
    pub close: Vec<Vec<f64>>,
}

/// Everything a backtest depends on besides the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestConfig {
    /// BQX window W of the target `bqx_return_W(t + h)`.
    pub window: usize,
    /// Horizon h (rows).
    pub horizon: usize,
    pub folds: FoldConfig,
    /// Models in report order; the zero forecast should be first.
    pub models: Vec<ModelSpec>,
    /// Seed of every unit (each derives its own from it).
    pub seed: u64,
    /// Quantile of |training predictions| above which a position is taken.
    pub threshold_quantile: f64,
    pub bootstrap: BootstrapConfig,
    /// Add the USD-factor features (fitted per fold) when a panel is given.
    pub usd_factor: bool,
    /// Add the 72 stage-2.16 cross-pair columns, discovered per fold ([`FoldFits::cross`]).
    #[serde(default)]
    pub cross_pair: Option<CrossFitConfig>,
    /// Feed the models only the features selected per fold ([`FoldFits::selected`]).
    #[serde(default)]
    pub selection: Option<crate::select::SelectConfig>,
    /// Stage 2.17: the autoencoder whose embeddings ([`FoldFits::embeddings`]) the stage-2.18
    /// networks also see (the baselines do not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<bqx_models::net::AutoencoderConfig>,
}

impl BacktestConfig {
    /// evaluation.md's defaults for a timeframe: W = h = 60, its fold sizes, and the four
    /// models sized for a walk-forward of 28 pairs × many folds on a laptop (see
    /// [`BacktestConfig::baseline_models`]).
    pub fn default_for(timeframe: bqx_domain::Timeframe) -> BacktestConfig {
        BacktestConfig {
            window: 60,
            horizon: 60,
            folds: FoldConfig::default_for(timeframe, 60),
            models: BacktestConfig::baseline_models(),
            seed: 42,
            threshold_quantile: 0.5,
            bootstrap: BootstrapConfig::default(),
            usd_factor: true,
            cross_pair: None,
            selection: None,
            embeddings: None,
        }
    }

    /// The baselines of every backtest: the zero forecast; ridge with its penalty chosen on
    /// the validation tail; a random forest of 20 trees of depth ≤ 6 with ≥ 20 rows per leaf,
    /// on at most 1,500 evenly spaced training rows (neighbouring rows share most of their
    /// h-bar label, so more rows or deeper trees mostly memorize); an MLP 32 → 16 with
    /// dropout 0.1 and early stopping (patience 4, ≤ 20 epochs), read from `models/mlp.json`.
    pub fn baseline_models() -> Vec<ModelSpec> {
        vec![
            ModelSpec::Zero,
            ModelSpec::Drift,
            ModelSpec::Ridge(bqx_models::RidgeConfig::default()),
            ModelSpec::RandomForest(bqx_models::ForestConfig {
                n_trees: 20,
                max_depth: Some(6),
                min_samples_leaf: 20,
                min_samples_split: 40,
                max_train_rows: Some(1_500),
                ..bqx_models::ForestConfig::default()
            }),
            ModelSpec::Mlp(mlp_baseline()),
        ]
    }

    pub fn validate(&self) -> Result<()> {
        if self.window < 2 {
            return Err(invalid("window", "must be at least 2"));
        }
        if self.folds.horizon != self.horizon {
            return Err(invalid(
                "folds.horizon",
                "must equal the target horizon (purging uses it)",
            ));
        }
        if !(0.0..1.0).contains(&self.threshold_quantile) {
            return Err(invalid("threshold_quantile", "must lie in [0, 1)"));
        }
        if self.models.is_empty() {
            return Err(invalid("models", "at least one model is needed"));
        }
        let mut names: Vec<String> = self.models.iter().map(model_name).collect();
        names.sort();
        names.dedup();
        if names.len() != self.models.len() {
            return Err(invalid("models", "each model kind may appear once"));
        }
        for m in &self.models {
            m.validate()
                .map_err(|e| invalid("models", format!("{}: {e}", model_name(m))))?;
        }
        self.folds.validate()?;
        if let Some(s) = &self.selection {
            s.validate()?;
        }
        self.bootstrap.validate()
    }
}

/// The MLP baseline's configuration, from the top-level `models/mlp.json`.
pub fn mlp_baseline() -> bqx_models::MlpConfig {
    #[derive(Deserialize)]
    struct MlpFile {
        config: bqx_models::MlpConfig,
    }
    let f: MlpFile = serde_json::from_str(include_str!("../../../models/mlp.json"))
        .expect("models/mlp.json parses (tested)");
    f.config
}

/// The name a model has in reports and in the store (`zero`, `ridge`, `random_forest`, `mlp`).
pub fn model_name(spec: &ModelSpec) -> String {
    spec.kind().as_str().to_string()
}

/// Identifies a unit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnitId {
    pub model: String,
    pub fold: u32,
    pub pair: Pair,
}

/// A unit's outcome: its test rows' predictions and what was fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitResult {
    /// Test rows (timestamps) with a prediction and a known target.
    pub ts: Vec<i64>,
    pub actual: Vec<f64>,
    pub predicted: Vec<f64>,
    /// Fit summary: rows used, threshold, training mean, model fit report.
    pub fit: UnitFit,
}

/// What a unit fitted (stored with it, so a resumed run rebuilds the same report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitFit {
    pub n_train: usize,
    pub n_valid: usize,
    pub n_test: usize,
    /// Mean target over the training rows (benchmark of R² vs the training mean).
    pub train_mean: f64,
    /// The fitted trading threshold on |prediction|.
    pub threshold: f64,
    /// Why the unit has no predictions, if it has none.
    pub skipped: Option<String>,
    pub model: Option<FitReport>,
    /// A stage-2.18 network's seeds, curves and extra heads' test outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::networks::NetUnitFit>,
}

/// Where complete units are kept between runs.
pub trait UnitCache {
    /// A complete unit from an earlier (possibly killed) run of the same backtest.
    fn load(&mut self, unit: &UnitId) -> Result<Option<UnitResult>>;
    /// Keeps complete units (atomically: each unit all or nothing).
    fn save(&mut self, units: &[(UnitId, UnitResult)]) -> Result<()>;
}

/// A cache that keeps nothing (tests, one-off runs).
#[derive(Debug, Default)]
pub struct NoCache;

impl UnitCache for NoCache {
    fn load(&mut self, _: &UnitId) -> Result<Option<UnitResult>> {
        Ok(None)
    }
    fn save(&mut self, _: &[(UnitId, UnitResult)]) -> Result<()> {
        Ok(())
    }
}

/// Progress of a backtest, one event per unit.
#[derive(Debug, Clone, PartialEq)]
pub enum BacktestEvent {
    /// The number of units is known.
    Planned { units: usize },
    /// A unit finished (`reused`: loaded from the cache).
    Unit { id: UnitId, reused: bool },
}

/// One pair's data in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    pub pair: Pair,
    pub rows: usize,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// First row where every stored feature is defined.
    pub first_complete_ts: Option<i64>,
}

/// One model's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    pub name: String,
    pub spec: ModelSpec,
    pub units: usize,
    pub skipped_units: usize,
    pub report: EvalReport,
    /// A multi-task network's volatility and regime heads, judged against the no-change
    /// forecast and the majority class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<crate::networks::HeadReport>,
}

/// Every model on the units the networks trained on (when a network covers only the last
/// folds, its results sit beside the baselines' on the same pairs and folds here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SameUnits {
    pub folds: Vec<u32>,
    pub models: Vec<SameUnitsModel>,
}

/// One model's pooled metrics on [`SameUnits::folds`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SameUnitsModel {
    pub name: String,
    pub units: usize,
    pub pooled: crate::report::MetricSet,
}

/// The whole backtest report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    pub schema_version: u32,
    /// `bqx_return_{W}(t + {h})`.
    pub target: String,
    pub config: BacktestConfig,
    /// Shown beside every result.
    pub ceiling: OverlapCeiling,
    pub features: Vec<String>,
    pub series: Vec<SeriesSummary>,
    pub folds: Vec<PlannedFold>,
    pub models: Vec<ModelResult>,
    /// Per fold, what the per-fold stages fitted on its training part: stage 2.16's lead-lag
    /// report and sister map (every candidate leader's F, p, q at its best lag, the kept
    /// relations, the chosen sisters and momentum products) and the selected features. Empty
    /// when the backtest used neither.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fold_fits: Vec<FoldFitReport>,
    /// Present when some network trained on fewer folds than the other models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_units: Option<SameUnits>,
    /// Decisions made where the specification leaves room, stated in the report itself.
    pub notes: Vec<String>,
    /// Per-decision P&L paths behind the trading metrics (not part of the canonical JSON:
    /// callers store them beside it, for equity and drawdown charts).
    #[serde(skip)]
    pub equity: Vec<ModelEquity>,
}

/// One fold's fitted cross-pair discovery and selection, as the backtest used them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldFitReport {
    pub fold: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_pair: Option<Vec<bqx_features::PairCross>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<Vec<String>>,
}

/// Net P&L per trading decision (log-return units, costs included) at the decision times.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PnlPath {
    pub ts: Vec<i64>,
    pub pnl: Vec<f64>,
}

/// A model's decision P&L: per pair (folds in order) and for the equal-weight portfolio, whose
/// decision `k` of fold `f` is the mean over the pairs that have it (as in the pooled trading
/// metrics; its time is the earliest of those pairs' decision times).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelEquity {
    pub model: String,
    pub pooled: PnlPath,
    pub pairs: Vec<(Pair, PnlPath)>,
}

/// The P&L paths of `model` from the per-unit decision logs.
fn model_equity(model: &str, logs: &BTreeMap<&UnitId, DecisionLog>) -> ModelEquity {
    let mine: Vec<(&UnitId, &DecisionLog)> = logs
        .iter()
        .filter(|(id, _)| id.model == model)
        .map(|(id, l)| (*id, l))
        .collect();
    let mut pairs: BTreeMap<Pair, Vec<(u32, &DecisionLog)>> = BTreeMap::new();
    let mut folds: BTreeMap<u32, Vec<&DecisionLog>> = BTreeMap::new();
    for (id, l) in &mine {
        pairs.entry(id.pair).or_default().push((id.fold, l));
        folds.entry(id.fold).or_default().push(l);
    }
    let pairs = pairs
        .into_iter()
        .map(|(pair, mut logs)| {
            logs.sort_by_key(|(f, _)| *f);
            let mut path = PnlPath::default();
            for (_, l) in logs {
                path.ts.extend_from_slice(&l.ts);
                path.pnl.extend_from_slice(&l.pnl);
            }
            (pair, path)
        })
        .collect();
    let mut pooled = PnlPath::default();
    for logs in folds.values() {
        let longest = logs.iter().map(|l| l.len()).max().unwrap_or(0);
        for k in 0..longest {
            let have: Vec<&&DecisionLog> = logs.iter().filter(|l| l.len() > k).collect();
            let ts = have.iter().map(|l| l.ts[k]).min().expect("k < longest");
            let pnl = have.iter().map(|l| l.pnl[k]).sum::<f64>() / have.len() as f64;
            pooled.ts.push(ts);
            pooled.pnl.push(pnl);
        }
    }
    ModelEquity {
        model: model.to_string(),
        pooled,
        pairs,
    }
}

/// Canonical JSON of a backtest report (pretty, trailing newline): byte-identical for
/// identical reports.
pub fn render_backtest(report: &BacktestReport) -> Result<String> {
    let mut s = serde_json::to_string_pretty(report)
        .map_err(|e| EvalError::Serialization(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// SplitMix64: the per-unit seed from the run seed and the unit's identity.
fn unit_seed(seed: u64, model: &str, fold: u32, pair: Pair) -> u64 {
    let mut z = seed ^ 0x9E37_79B9_7F4A_7C15;
    for b in model
        .bytes()
        .chain(fold.to_le_bytes())
        .chain([pair.index() as u8])
    {
        z = z
            .wrapping_add(u64::from(b))
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// Per series, prepared once: the target and which rows have every stored feature.
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    pub(crate) input: &'a SeriesInput,
    pub(crate) target: Vec<f64>,
    pub(crate) complete: Vec<bool>,
    pub(crate) rows: Vec<FoldRows>,
}

/// Columns added to one pair's stored features in one fold (USD factor, cross-pair), on the
/// pair's rows `offset .. offset + m.n_rows` (the fold's training start to its test end).
#[derive(Debug, Clone)]
pub struct FoldColumns {
    pub offset: usize,
    pub m: FeatureMatrix,
}

impl FoldColumns {
    fn get(&self, i: usize, j: usize) -> f64 {
        self.m.get(i - self.offset, j)
    }
    fn n_cols(&self) -> usize {
        self.m.n_cols()
    }
}

/// Per fold, the added columns of every pair (in [`FoldSetup`] order).
pub type FoldExtra = Vec<Option<FoldColumns>>;

/// What the per-fold stages fitted for each fold (keyed by fold id): the cross-pair discovery
/// and the selected feature names. Each is fitted on the fold's training part only.
#[derive(Debug, Clone, Default)]
pub struct FoldFits {
    pub cross: BTreeMap<u32, FittedParams<CrossParams>>,
    pub selected: BTreeMap<u32, Vec<String>>,
    /// Stage 2.17's embedding columns per fold and pair ([`crate::embed::fold_embeddings`]).
    pub embeddings: BTreeMap<u32, std::sync::Arc<FoldExtra>>,
}

/// The series checked, their targets, the fold plan and each series' fold rows: what every
/// per-fold stage (cross, select, backtest) starts from, so that they all see the same folds.
#[derive(Debug)]
pub struct FoldSetup<'a> {
    pub(crate) prepared: Vec<Prepared<'a>>,
    pub plan: FoldPlan,
}

impl<'a> FoldSetup<'a> {
    /// The pairs, in setup order (canonical).
    pub fn pairs(&self) -> Vec<Pair> {
        self.prepared.iter().map(|p| p.input.pair).collect()
    }

    /// Each series' rows of fold `fi` (index into `plan.folds`), in setup order.
    pub fn fold_rows(&self, fi: usize) -> Vec<(Pair, &FoldRows)> {
        self.prepared
            .iter()
            .map(|p| (p.input.pair, &p.rows[fi]))
            .collect()
    }

    /// The stored feature names (the same for every series).
    pub fn stored_names(&self) -> &[String] {
        &self.prepared[0].input.names
    }

    /// Stored names, then the USD-factor and cross-pair names when `cfg` adds them: every
    /// candidate column a model or the selection can see, in catalog order.
    pub fn candidate_names(&self, cfg: &BacktestConfig, usd: bool) -> Vec<String> {
        let mut v = self.stored_names().to_vec();
        if usd {
            v.extend(
                bqx_features::usd_factor_catalog()
                    .into_iter()
                    .map(|f| f.name),
            );
        }
        if cfg.cross_pair.is_some() {
            v.extend(
                bqx_features::cross_pair_catalog()
                    .into_iter()
                    .map(|f| f.name),
            );
        }
        v
    }
}

/// Checks the series and plans the folds (see [`run_backtest`]).
pub fn prepare_folds<'a>(series: &'a [SeriesInput], cfg: &BacktestConfig) -> Result<FoldSetup<'a>> {
    cfg.validate()?;
    if series.is_empty() {
        return Err(invalid("series", "no series to evaluate"));
    }
    let names = &series[0].names;
    for s in series {
        if &s.names != names {
            return Err(invalid(
                "series",
                format!(
                    "{} has a different feature schema than {}",
                    s.pair, series[0].pair
                ),
            ));
        }
        if s.columns.len() != names.len()
            || s.close.len() != s.ts.len()
            || s.columns.iter().any(|c| c.len() != s.ts.len())
        {
            return Err(invalid("series", format!("{}: ragged columns", s.pair)));
        }
    }
    let mut pairs: Vec<Pair> = series.iter().map(|s| s.pair).collect();
    pairs.sort();
    pairs.dedup();
    if pairs.len() != series.len() {
        return Err(invalid("series", "each pair may appear once"));
    }

    // Targets and complete rows.
    let mut prepared: Vec<Prepared<'_>> = series
        .par_iter()
        .map(|s| {
            let target = bqx_target(&s.close, cfg.window, cfg.horizon)?;
            let complete = (0..s.ts.len())
                .map(|i| s.columns.iter().all(|c| c[i].is_finite()))
                .collect();
            Ok(Prepared {
                input: s,
                target,
                complete,
                rows: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    prepared.sort_by_key(|p| p.input.pair);

    // Folds planned on the time axis from the first row where any pair has every feature (the
    // warm-up of the longest window is not training data).
    let start = prepared
        .iter()
        .filter_map(|p| first_complete(p).map(|i| p.input.ts[i]))
        .min()
        .ok_or_else(|| invalid("series", "no row has every feature defined"))?;
    let mut axis: Vec<i64> = prepared
        .iter()
        .flat_map(|p| p.input.ts.iter().copied().filter(|&t| t >= start))
        .collect();
    axis.sort_unstable();
    axis.dedup();
    let plan = FoldPlan::build(&axis, &cfg.folds)?;
    if plan.folds.is_empty() {
        return Err(invalid(
            "folds",
            format!(
                "the data ({} rows from the first complete one) is too short for one fold of this configuration",
                axis.len()
            ),
        ));
    }
    for p in prepared.iter_mut() {
        p.rows = plan.map(&p.input.ts)?;
    }
    Ok(FoldSetup { prepared, plan })
}

/// The cross-pair panel of the series (their stored [`bqx_features::cross_inputs`] columns).
pub fn cross_panel(series: &[SeriesInput]) -> Result<CrossPanel> {
    let wanted = bqx_features::cross_inputs();
    let inputs = series
        .iter()
        .map(|s| {
            let columns = wanted
                .iter()
                .map(|w| {
                    s.names
                        .iter()
                        .position(|n| n == w)
                        .map(|j| s.columns[j].as_slice())
                        .ok_or_else(|| {
                            invalid(
                                "cross_pair",
                                format!("{}: the stored features lack {w}", s.pair),
                            )
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(bqx_features::CrossInput {
                pair: s.pair,
                ts: &s.ts,
                close: &s.close,
                columns,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    CrossPanel::build(&inputs).map_err(|e| invalid("cross_pair", e.to_string()))
}

/// Stage 2.16's discovery for fold `fi`: on the grid rows of `[train_start, test_start)`, with
/// each pair's target known on its purged training and validation rows only.
pub fn fit_fold_cross(
    setup: &FoldSetup<'_>,
    panel: &CrossPanel,
    fi: usize,
    cfg: &CrossFitConfig,
) -> Result<FittedParams<CrossParams>> {
    let fold = &setup.plan.folds[fi];
    let lo = panel.ts.partition_point(|&t| t < fold.train_start);
    let hi = panel.ts.partition_point(|&t| t < fold.test_start);
    let targets: Vec<(Pair, Vec<f64>)> = setup
        .prepared
        .iter()
        .map(|p| {
            let mut t = vec![f64::NAN; panel.len()];
            let r = &p.rows[fi];
            for i in r.train.clone().chain(r.valid.clone()) {
                if p.target[i].is_finite() {
                    let g = panel.ts.binary_search(&p.input.ts[i]).map_err(|_| {
                        invalid(
                            "cross_pair",
                            format!("{}: a bar is off the grid", p.input.pair),
                        )
                    })?;
                    t[g] = p.target[i];
                }
            }
            Ok((p.input.pair, t))
        })
        .collect::<Result<_>>()?;
    bqx_features::fit_cross(panel, lo..hi, &targets, cfg)
        .map_err(|e| invalid("cross_pair", format!("fold {}: {e}", fold.id)))
}

/// The added columns of every pair for fold `fi`: the USD factor (fitted here on the fold's
/// training part of `usd`) and the cross-pair columns of the fitted discovery `cross`, each on
/// the pair's rows from the fold's training start to its test end.
pub fn fold_extra(
    setup: &FoldSetup<'_>,
    usd: Option<&PanelInput>,
    cross: Option<(&CrossPanel, &FittedParams<CrossParams>)>,
    fi: usize,
) -> Result<FoldExtra> {
    let fold = &setup.plan.folds[fi];
    let usd_cols = match usd {
        Some(panel) => Some(usd_extra(panel, fold, setup, fi)?),
        None => None,
    };
    setup
        .prepared
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let r = &p.rows[fi];
            let (lo, hi) = (r.train.start, r.test.end.max(r.train.start));
            let mut parts: Vec<FeatureMatrix> = Vec::new();
            if let Some(u) = &usd_cols {
                parts.push(u[pi].clone());
            }
            if let Some((panel, fitted)) = cross {
                let fit = fitted.params.pair(p.input.pair).ok_or_else(|| {
                    invalid(
                        "cross_pair",
                        format!("fold {}: no discovery for {}", fold.id, p.input.pair),
                    )
                })?;
                let grid = panel
                    .rows_of(&p.input.ts[lo..hi])
                    .map_err(|e| invalid("cross_pair", e.to_string()))?;
                parts.push(
                    bqx_features::cross_columns(panel, fit, &grid)
                        .map_err(|e| invalid("cross_pair", e.to_string()))?,
                );
            }
            if parts.is_empty() {
                return Ok(None);
            }
            let mut m = parts.remove(0);
            for q in parts {
                m.names.extend(q.names);
                m.data.extend(q.data);
            }
            Ok(Some(FoldColumns { offset: lo, m }))
        })
        .collect()
}

fn first_complete(p: &Prepared<'_>) -> Option<usize> {
    p.complete.iter().position(|&c| c)
}

/// Fits the units of the models `only` accepts (reusing what `cache` holds) and returns them;
/// the train stage fits the networks' units this way before the backtest reports every model.
pub fn fit_units(
    series: &[SeriesInput],
    panel: Option<&PanelInput>,
    cfg: &BacktestConfig,
    fits: &FoldFits,
    only: &dyn Fn(&ModelSpec) -> bool,
    cache: &mut dyn UnitCache,
    on_event: &mut dyn FnMut(BacktestEvent),
) -> Result<BTreeMap<UnitId, UnitResult>> {
    cfg.validate()?;
    let setup = prepare_folds(series, cfg)?;
    fit_units_in(&setup, series, panel, cfg, fits, only, cache, on_event)
}

/// The folds (indices into the plan) on which `spec` is evaluated.
fn model_folds(spec: &ModelSpec, n_folds: usize) -> std::ops::Range<usize> {
    match spec {
        ModelSpec::MultiTask(n) => crate::networks::network_folds(n, n_folds),
        _ => 0..n_folds,
    }
}

#[allow(clippy::too_many_arguments)]
fn fit_units_in(
    setup: &FoldSetup<'_>,
    series: &[SeriesInput],
    panel: Option<&PanelInput>,
    cfg: &BacktestConfig,
    fits: &FoldFits,
    only: &dyn Fn(&ModelSpec) -> bool,
    cache: &mut dyn UnitCache,
    on_event: &mut dyn FnMut(BacktestEvent),
) -> Result<BTreeMap<UnitId, UnitResult>> {
    let FoldSetup { prepared, plan } = setup;
    let cross = match &cfg.cross_pair {
        Some(_) => Some(cross_panel(series)?),
        None => None,
    };
    let use_usd = cfg.usd_factor && panel.is_some();
    let feature_names = setup.candidate_names(cfg, use_usd);
    // Per fold, the columns the models see: every candidate, or the selected ones.
    let mut columns: Vec<Option<Vec<usize>>> = Vec::with_capacity(plan.folds.len());
    for fold in &plan.folds {
        if cfg.cross_pair.is_some() && !fits.cross.contains_key(&fold.id) {
            return Err(invalid(
                "cross_pair",
                format!("fold {}: the cross stage has not run", fold.id),
            ));
        }
        if cfg.selection.is_none() {
            columns.push(None);
            continue;
        }
        let names = fits.selected.get(&fold.id).ok_or_else(|| {
            invalid(
                "selection",
                format!("fold {}: the select stage has not run", fold.id),
            )
        })?;
        let idx = names
            .iter()
            .map(|n| {
                feature_names.iter().position(|c| c == n).ok_or_else(|| {
                    invalid(
                        "selection",
                        format!("fold {}: selected feature {n} is not a candidate", fold.id),
                    )
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        columns.push(Some(idx));
    }

    let n_folds = plan.folds.len();
    let models: Vec<(&ModelSpec, String)> = cfg
        .models
        .iter()
        .filter(|m| only(m))
        .map(|m| (m, model_name(m)))
        .collect();
    let total: usize = models
        .iter()
        .map(|(m, _)| model_folds(m, n_folds).len() * prepared.len())
        .sum();
    on_event(BacktestEvent::Planned { units: total });

    let mut results: BTreeMap<UnitId, UnitResult> = BTreeMap::new();
    for (fi, fold) in plan.folds.iter().enumerate() {
        let mut extra: Option<FoldExtra> = None;
        for (spec, mname) in &models {
            if !model_folds(spec, n_folds).contains(&fi) {
                continue;
            }
            // Reuse what an earlier run completed; fit the rest in parallel across pairs.
            let mut todo = Vec::new();
            for (pi, p) in prepared.iter().enumerate() {
                let id = UnitId {
                    model: mname.clone(),
                    fold: fold.id,
                    pair: p.input.pair,
                };
                match cache.load(&id)? {
                    Some(r) => {
                        on_event(BacktestEvent::Unit {
                            id: id.clone(),
                            reused: true,
                        });
                        results.insert(id, r);
                    }
                    None => todo.push((pi, id)),
                }
            }
            if todo.is_empty() {
                continue;
            }
            if (use_usd || cross.is_some()) && extra.is_none() {
                let fitted = cross.as_ref().map(|c| (c, &fits.cross[&fold.id]));
                extra = Some(fold_extra(
                    setup,
                    if use_usd { panel } else { None },
                    fitted,
                    fi,
                )?);
            }
            let (net_extra, net_cols) = network_inputs(
                setup,
                cfg,
                fits,
                fi,
                spec,
                extra.as_ref(),
                columns[fi].as_deref(),
            )?;
            let with_emb = net_extra.is_some();
            let extra_ref = if with_emb {
                net_extra.as_ref()
            } else {
                extra.as_ref()
            };
            let cols = if with_emb {
                net_cols.as_deref()
            } else {
                columns[fi].as_deref()
            };
            let fitted: Vec<(UnitId, UnitResult)> = todo
                .into_par_iter()
                .map(|(pi, id)| {
                    let p = &prepared[pi];
                    let e = extra_ref.and_then(|x| x[pi].as_ref());
                    let seed = unit_seed(cfg.seed, &id.model, id.fold, id.pair);
                    let r = match spec {
                        ModelSpec::MultiTask(n) => crate::networks::run_net_unit(
                            p,
                            &p.rows[fi],
                            e,
                            cols,
                            n,
                            seed,
                            cfg.horizon,
                            cfg.threshold_quantile,
                        )?,
                        _ => run_unit(p, &p.rows[fi], e, cols, spec, seed, cfg)?,
                    };
                    Ok((id, r))
                })
                .collect::<Result<_>>()?;
            cache.save(&fitted)?;
            for (id, r) in fitted {
                on_event(BacktestEvent::Unit {
                    id: id.clone(),
                    reused: false,
                });
                results.insert(id, r);
            }
        }
    }
    Ok(results)
}

/// The inputs of a stage-2.18 network on fold `fi` when the run has embeddings: the fold's
/// extra columns with the embedding columns appended, and the selected columns plus the
/// embeddings' (`(None, None)` for every other model, or without embeddings).
fn network_inputs(
    setup: &FoldSetup<'_>,
    cfg: &BacktestConfig,
    fits: &FoldFits,
    fi: usize,
    spec: &ModelSpec,
    extra: Option<&FoldExtra>,
    selected: Option<&[usize]>,
) -> Result<(Option<FoldExtra>, Option<Vec<usize>>)> {
    if !(matches!(spec, ModelSpec::MultiTask(_)) && cfg.embeddings.is_some()) {
        return Ok((None, None));
    }
    let fold = &setup.plan.folds[fi];
    let emb = fits.embeddings.get(&fold.id).ok_or_else(|| {
        invalid(
            "embeddings",
            format!("fold {}: the embed stage has not run", fold.id),
        )
    })?;
    let joined: FoldExtra = (0..setup.prepared.len())
        .map(|pi| {
            crate::embed::join_columns(
                extra.and_then(|x| x[pi].as_ref()),
                emb.get(pi).and_then(Option::as_ref),
            )
        })
        .collect();
    let stored = setup.prepared.first().map_or(0, |p| p.input.columns.len());
    let n_extra = extra
        .and_then(|x| x.iter().flatten().next())
        .map_or(0, |e| e.m.n_cols());
    let n_emb = emb.iter().flatten().next().map_or(0, |e| e.m.n_cols());
    let cols = selected.map(|c| {
        let mut c = c.to_vec();
        c.extend(stored + n_extra..stored + n_extra + n_emb);
        c
    });
    Ok((Some(joined), cols))
}

/// What [`train_champions`] returns.
#[derive(Debug)]
pub struct Champions {
    /// The fold whose units they are.
    pub fold: u32,
    /// The networks' input columns, in order.
    pub input_names: Vec<String>,
    pub by_pair: Vec<(Pair, crate::networks::Champion)>,
}

/// The champions of a multi-task network spec: per pair, its first seed trained as the unit
/// of the spec's last fold trains it (same rows, inputs and seed, so the same weights), with
/// the inputs of the pair's `recent` most recent rows of that fold. Returns the fold id and
/// the input column names too.
pub fn train_champions(
    series: &[SeriesInput],
    panel: Option<&PanelInput>,
    cfg: &BacktestConfig,
    fits: &FoldFits,
    spec: &ModelSpec,
    recent: usize,
) -> Result<Champions> {
    let ModelSpec::MultiTask(net) = spec else {
        return Err(invalid("model", "champions are multi-task networks"));
    };
    let setup = prepare_folds(series, cfg)?;
    let n_folds = setup.plan.folds.len();
    let fi = model_folds(spec, n_folds)
        .last()
        .ok_or_else(|| invalid("folds", "no fold"))?;
    let fold = setup.plan.folds[fi];
    let use_usd = cfg.usd_factor && panel.is_some();
    let mut names = setup.candidate_names(cfg, use_usd);
    let cross = match &cfg.cross_pair {
        Some(_) => Some(cross_panel(series)?),
        None => None,
    };
    let extra = if use_usd || cross.is_some() {
        let fitted = match &cross {
            Some(c) => Some((
                c,
                fits.cross.get(&fold.id).ok_or_else(|| {
                    invalid(
                        "cross_pair",
                        format!("fold {}: the cross stage has not run", fold.id),
                    )
                })?,
            )),
            None => None,
        };
        Some(fold_extra(
            &setup,
            if use_usd { panel } else { None },
            fitted,
            fi,
        )?)
    } else {
        None
    };
    let selected: Option<Vec<usize>> = match &cfg.selection {
        Some(_) => {
            let chosen = fits.selected.get(&fold.id).ok_or_else(|| {
                invalid(
                    "selection",
                    format!("fold {}: the select stage has not run", fold.id),
                )
            })?;
            Some(
                chosen
                    .iter()
                    .map(|n| {
                        names.iter().position(|c| c == n).ok_or_else(|| {
                            invalid(
                                "selection",
                                format!("selected feature {n} is not a candidate"),
                            )
                        })
                    })
                    .collect::<Result<_>>()?,
            )
        }
        None => None,
    };
    let (net_extra, net_cols) = network_inputs(
        &setup,
        cfg,
        fits,
        fi,
        spec,
        extra.as_ref(),
        selected.as_deref(),
    )?;
    let (extra, cols) = match net_extra {
        Some(e) => (Some(e), net_cols),
        None => (extra, selected),
    };
    if let Some(e) = extra.as_ref().and_then(|x| x.iter().flatten().next()) {
        let have = names.len();
        names.extend(
            e.m.names
                .iter()
                .skip(have - setup.stored_names().len())
                .cloned(),
        );
    }
    let input_names: Vec<String> = match &cols {
        Some(c) => c.iter().map(|&j| names[j].clone()).collect(),
        None => names.clone(),
    };
    let out = setup
        .prepared
        .par_iter()
        .enumerate()
        .map(|(pi, p)| {
            let seed = unit_seed(cfg.seed, &model_name(spec), fold.id, p.input.pair);
            let e = extra.as_ref().and_then(|x| x[pi].as_ref());
            let c = crate::networks::champion_of(
                p,
                &p.rows[fi],
                e,
                cols.as_deref(),
                net,
                seed,
                cfg.horizon,
                recent,
            )?;
            Ok(c.map(|c| (p.input.pair, c)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Champions {
        fold: fold.id,
        input_names,
        by_pair: out.into_iter().flatten().collect(),
    })
}

/// Runs the backtest. `panel` is needed for the USD factor (skipped without it).
pub fn run_backtest(
    series: &[SeriesInput],
    panel: Option<&PanelInput>,
    cfg: &BacktestConfig,
    fits: &FoldFits,
    cache: &mut dyn UnitCache,
    on_event: &mut dyn FnMut(BacktestEvent),
) -> Result<BacktestReport> {
    let setup = prepare_folds(series, cfg)?;
    let FoldSetup { prepared, plan } = &setup;
    let use_usd = cfg.usd_factor && panel.is_some();
    let feature_names = setup.candidate_names(cfg, use_usd);
    let model_names: Vec<String> = cfg.models.iter().map(model_name).collect();
    let results = fit_units_in(&setup, series, panel, cfg, fits, &|_| true, cache, on_event)?;

    // Trading simulation per unit (cheap) and the reports, twice: the deflated Sharpe ratio
    // needs the variance of the Sharpe ratios of every model tried.
    let markets: Vec<Market<'_>> = prepared
        .iter()
        .map(|p| Market::new(&p.input.ts, &p.input.close))
        .collect::<Result<_>>()?;
    let mut logs: BTreeMap<&UnitId, DecisionLog> = BTreeMap::new();
    for (id, r) in &results {
        let pi = prepared
            .iter()
            .position(|p| p.input.pair == id.pair)
            .expect("unit of a known pair");
        let p = &prepared[pi];
        let fold_idx = plan
            .folds
            .iter()
            .position(|f| f.id == id.fold)
            .expect("unit of a planned fold");
        let test = p.rows[fold_idx].test.clone();
        let mut pred = vec![f64::NAN; p.input.ts.len()];
        let mut k = 0;
        for i in test.clone() {
            if k < r.ts.len() && p.input.ts[i] == r.ts[k] {
                pred[i] = r.predicted[k];
                k += 1;
            }
        }
        let tcfg = TradingConfig::for_pair(id.pair, cfg.horizon, Threshold::fixed(r.fit.threshold));
        logs.insert(id, simulate(&markets[pi], &pred, test, &tcfg)?);
    }
    let ceiling = OverlapCeiling::bqx(cfg.window, cfg.horizon);
    // The multi-task networks' extra heads, pooled over their units.
    let mut heads: BTreeMap<&str, crate::networks::HeadReport> = BTreeMap::new();
    for name in &model_names {
        let fits: Vec<&crate::networks::NetUnitFit> = results
            .iter()
            .filter(|(id, r)| &id.model == name && r.fit.skipped.is_none())
            .filter_map(|(_, r)| r.fit.network.as_ref())
            .collect();
        if let Some(h) = crate::networks::head_report(&fits, cfg.horizon, &cfg.bootstrap)? {
            heads.insert(name, h);
        }
    }
    let outcomes_of = |name: &str, folds: Option<&[u32]>| -> Vec<FoldOutcome<'_>> {
        results
            .iter()
            .filter(|(id, r)| {
                id.model == name
                    && r.fit.skipped.is_none()
                    && folds.is_none_or(|f| f.contains(&id.fold))
            })
            .map(|(id, r)| FoldOutcome {
                pair: id.pair,
                fold: id.fold,
                ts: &r.ts,
                predicted: &r.predicted,
                actual: &r.actual,
                train_mean: r.fit.train_mean,
                trades: logs.get(id),
            })
            .collect()
    };
    let report_cfg = |trials| ReportConfig {
        horizon: cfg.horizon,
        ceiling,
        bootstrap: cfg.bootstrap,
        trials,
    };
    let build = |trials: Option<Trials>| -> Result<Vec<ModelResult>> {
        cfg.models
            .iter()
            .zip(&model_names)
            .map(|(spec, name)| {
                let outcomes = outcomes_of(name, None);
                let units = results.keys().filter(|id| &id.model == name).count();
                let report = build_report(name, &outcomes, &report_cfg(trials))?;
                Ok(ModelResult {
                    name: name.clone(),
                    spec: spec.clone(),
                    units,
                    skipped_units: units - outcomes.len(),
                    report,
                    heads: heads.get(name.as_str()).cloned(),
                })
            })
            .collect()
    };
    let first = build(None)?;
    // The zero and drift forecasts are baselines, not configurations tried (the zero forecast
    // never trades; the drift forecast's constant prediction never clears its threshold).
    let sharpes: Vec<f64> = first
        .iter()
        .filter(|m| m.name != "zero" && m.name != "drift")
        .filter_map(|m| m.report.pooled.trading.as_ref())
        .filter_map(|t| t.sharpe_per_decision)
        .filter(|s| s.is_finite())
        .collect();
    let models = if sharpes.len() >= 2 {
        let mean = sharpes.iter().sum::<f64>() / sharpes.len() as f64;
        let var =
            sharpes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (sharpes.len() - 1) as f64;
        build(Some(Trials {
            count: sharpes.len(),
            sharpe_variance: var,
        }))?
    } else {
        first
    };
    // When a network covers fewer folds than the rest, every model again on its folds.
    let n_folds = plan.folds.len();
    let covered = cfg
        .models
        .iter()
        .map(|m| model_folds(m, n_folds))
        .min_by_key(|r| r.len())
        .unwrap_or(0..n_folds);
    let same_units = if covered.len() < n_folds {
        let folds: Vec<u32> = plan.folds[covered].iter().map(|f| f.id).collect();
        let models = model_names
            .iter()
            .map(|name| {
                let outcomes = outcomes_of(name, Some(&folds));
                let report = build_report(name, &outcomes, &report_cfg(None))?;
                Ok(SameUnitsModel {
                    name: name.clone(),
                    units: outcomes.len(),
                    pooled: report.pooled,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Some(SameUnits { folds, models })
    } else {
        None
    };

    Ok(BacktestReport {
        schema_version: BACKTEST_SCHEMA_VERSION,
        target: format!("bqx_return_{}(t + {})", cfg.window, cfg.horizon),
        config: cfg.clone(),
        ceiling,
        features: feature_names,
        series: prepared
            .iter()
            .map(|p| SeriesSummary {
                pair: p.input.pair,
                rows: p.input.ts.len(),
                first_ts: p.input.ts.first().copied(),
                last_ts: p.input.ts.last().copied(),
                first_complete_ts: first_complete(p).map(|i| p.input.ts[i]),
            })
            .collect(),
        folds: plan.folds.clone(),
        fold_fits: if cfg.cross_pair.is_some() || cfg.selection.is_some() {
            plan.folds
                .iter()
                .map(|f| FoldFitReport {
                    fold: f.id,
                    cross_pair: cfg
                        .cross_pair
                        .and(fits.cross.get(&f.id))
                        .map(|c| c.params.pairs.clone()),
                    selected: cfg
                        .selection
                        .as_ref()
                        .and(fits.selected.get(&f.id))
                        .cloned(),
                })
                .collect()
        } else {
            Vec::new()
        },
        same_units,
        models,
        notes: vec![
            "Rows with any missing feature (warm-up) are not used; folds start at the first row where some pair has every feature.".into(),
            "Each model fits its own scaler on its training rows; the trading threshold is the configured quantile of |prediction| on the training rows.".into(),
            format!(
                "Trading: a decision every {} rows, short when the predicted BQX is positive (positive BQX = the price is predicted to fall below its recent path), long when negative, flat inside the threshold; costs are typical retail spreads per pair.",
                cfg.horizon
            ),
            "The deflated Sharpe ratio counts the trading models tried (the zero and drift baselines are not counted).".into(),
            "Verdict: skill only when the lower bound of the DA interval exceeds both the overlap ceiling's DA and the drift baseline's DA on the same rows (the training mean's sign), and R² vs the training mean is positive; labels.chance_share is the share of per-pair or per-fold labels that chance alone could turn to skill.".into(),
        ],
        equity: model_names.iter().map(|m| model_equity(m, &logs)).collect(),
    })
}

/// The USD-factor columns of every pair for one fold: fitted on the panel rows of the fold's
/// training part (`[train_start, test_start)`), applied unchanged to the whole panel (the
/// kernel is causal), then taken at each pair's own rows.
fn usd_extra(
    panel: &PanelInput,
    fold: &PlannedFold,
    setup: &FoldSetup<'_>,
    fi: usize,
) -> Result<Vec<FeatureMatrix>> {
    let lo = panel.ts.partition_point(|&t| t < fold.train_start);
    let hi = panel.ts.partition_point(|&t| t < fold.test_start);
    let fitted: FittedParams<UsdFactorParams> = fit_usd_factor(&panel.ts, &panel.close, lo..hi)
        .map_err(|e| invalid("usd_factor", format!("fold {}: {e}", fold.id)))?;
    let mut kernel = UsdFactorKernel::new(&fitted)
        .map_err(|e| invalid("usd_factor", format!("fold {}: {e}", fold.id)))?;
    let per_pair = compute_panel_batch(&mut kernel, &panel.ts, &panel.close)
        .map_err(|e| invalid("usd_factor", format!("fold {}: {e}", fold.id)))?;
    debug_assert_eq!(kernel.width(), bqx_features::usd_factor_catalog().len());
    setup
        .prepared
        .iter()
        .map(|p| {
            let r = &p.rows[fi];
            let rows: Vec<usize> = p.input.ts[r.train.start..r.test.end.max(r.train.start)]
                .iter()
                .map(|t| {
                    panel.ts.binary_search(t).map_err(|_| {
                        invalid(
                            "panel",
                            format!("{}: a bar time is missing from the panel", p.input.pair),
                        )
                    })
                })
                .collect::<Result<_>>()?;
            Ok(per_pair[p.input.pair.index()].take_rows(&rows))
        })
        .collect()
}

/// Rows of `range` usable for fitting: every feature defined and a known target.
pub(crate) fn usable(
    p: &Prepared<'_>,
    extra: Option<&FoldColumns>,
    range: Range<usize>,
) -> Vec<usize> {
    range
        .filter(|&i| p.target[i].is_finite() && inputs_defined(p, extra, i))
        .collect()
}

/// Whether every input of row `i` is defined: the stored features and the fold's extra columns
/// (the target need not be known).
pub(crate) fn inputs_defined(p: &Prepared<'_>, extra: Option<&FoldColumns>, i: usize) -> bool {
    p.complete[i] && extra.is_none_or(|e| (0..e.n_cols()).all(|j| e.get(i, j).is_finite()))
}

/// The row-major model input of `rows`: stored features then the fold's extra columns, or
/// only the columns `cols` of that sequence.
pub(crate) fn gather(
    p: &Prepared<'_>,
    extra: Option<&FoldColumns>,
    cols: Option<&[usize]>,
    rows: &[usize],
) -> Result<Matrix> {
    let stored = p.input.columns.len();
    let all = stored + extra.map_or(0, |e| e.n_cols());
    let k = cols.map_or(all, <[usize]>::len);
    let value = |i: usize, j: usize| -> f64 {
        if j < stored {
            f64::from(p.input.columns[j][i])
        } else {
            extra.map_or(f64::NAN, |e| e.get(i, j - stored))
        }
    };
    let mut data = Vec::with_capacity(rows.len() * k);
    for &i in rows {
        match cols {
            Some(c) => data.extend(c.iter().map(|&j| value(i, j))),
            None => data.extend((0..all).map(|j| value(i, j))),
        }
    }
    Matrix::from_row_major(rows.len(), k, data)
        .map_err(|e| invalid("features", format!("{}: {e}", p.input.pair)))
}

fn run_unit(
    p: &Prepared<'_>,
    rows: &FoldRows,
    extra: Option<&FoldColumns>,
    cols: Option<&[usize]>,
    spec: &ModelSpec,
    seed: u64,
    cfg: &BacktestConfig,
) -> Result<UnitResult> {
    let train = usable(p, extra, rows.train.clone());
    let valid = usable(p, extra, rows.valid.clone());
    let test = usable(p, extra, rows.test.clone());
    let n_features = cols.map_or(
        p.input.columns.len() + extra.map_or(0, |e| e.n_cols()),
        <[usize]>::len,
    );
    let y_train: Vec<f64> = train.iter().map(|&i| p.target[i]).collect();
    let train_mean = if y_train.is_empty() {
        f64::NAN
    } else {
        y_train.iter().sum::<f64>() / y_train.len() as f64
    };
    let skip = |reason: String| UnitResult {
        ts: Vec::new(),
        actual: Vec::new(),
        predicted: Vec::new(),
        fit: UnitFit {
            n_train: train.len(),
            n_valid: valid.len(),
            n_test: test.len(),
            train_mean,
            threshold: 0.0,
            skipped: Some(reason),
            model: None,
            network: None,
        },
    };
    // Ridge solves the normal equations and needs more rows than features; the same floor for
    // every model keeps the models on the same units.
    if train.len() <= n_features + 1 {
        return Ok(skip(format!(
            "{} usable training rows for {} features",
            train.len(),
            n_features
        )));
    }
    if test.is_empty() {
        return Ok(skip("no usable test rows".into()));
    }
    let x_train = gather(p, extra, cols, &train)?;
    let x_valid = gather(p, extra, cols, &valid)?;
    let y_valid: Vec<f64> = valid.iter().map(|&i| p.target[i]).collect();
    let x_test = gather(p, extra, cols, &test)?;
    let mut model =
        Model::new(spec.clone().with_seed(seed)).map_err(|e| invalid("model", e.to_string()))?;
    let report = model
        .fit(
            &x_train,
            &y_train,
            (!valid.is_empty()).then_some((&x_valid, y_valid.as_slice())),
        )
        .map_err(|e| invalid("model", format!("{} fold {}: {e}", p.input.pair, rows.id)))?;
    let train_pred = model
        .predict(&x_train)
        .map_err(|e| invalid("model", e.to_string()))?;
    let threshold = Threshold::fit(&train_pred, cfg.threshold_quantile)?;
    let predicted = model
        .predict(&x_test)
        .map_err(|e| invalid("model", e.to_string()))?;
    Ok(UnitResult {
        ts: test.iter().map(|&i| p.input.ts[i]).collect(),
        actual: test.iter().map(|&i| p.target[i]).collect(),
        predicted,
        fit: UnitFit {
            n_train: train.len(),
            n_valid: valid.len(),
            n_test: test.len(),
            train_mean,
            threshold: threshold.value,
            skipped: None,
            model: Some(report),
            network: None,
        },
    })
}

#[cfg(test)]
mod mlp_file_tests {
    #[test]
    fn the_mlp_baseline_comes_from_the_models_folder() {
        let c = super::mlp_baseline();
        assert_eq!(c.hidden, vec![32, 16]);
        assert_eq!((c.dropout, c.max_epochs, c.patience), (0.1, 20, 4));
        c.validate().unwrap();
    }
}
