//! The backtest stage over the store: the stored base features of each timeframe's panel, the
//! walk-forward evaluation of `bqx-eval`, units kept in the store so a killed run resumes, the
//! report as a JSON artifact and its metrics in the registry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bqx_domain::{Pair, Timeframe};
use bqx_eval::backtest::{
    BacktestConfig, BacktestEvent, BacktestReport, FoldFits, PanelInput, SeriesInput, UnitCache,
    UnitFit, UnitId, UnitResult, render_backtest, run_backtest,
};
use bqx_eval::folds::{FoldPlan, Span};
use bqx_eval::report::MetricSet;
use bqx_eval::{EvalError, Interval};
use bqx_panel::Panel;
use bqx_store::{ArtifactRow, EvalUnit, EvalUnitKey, LogLevel, MetricRow, SeriesKey, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::panel_features::{PANEL_STAGE, panel_series};
use crate::progress::{task_advanced, task_finished, task_started};
use crate::{AppError, ErrorCode, Progress};

/// What the backtest stage is asked to do (the CLI's flags; defaults per evaluation.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BacktestRequest {
    /// BQX window W of the target (default 60).
    pub window: Option<usize>,
    /// Horizon h in rows (default 60).
    pub horizon: Option<usize>,
    /// Models to evaluate (default: zero, ridge, random_forest, mlp).
    pub models: Option<Vec<String>>,
    /// Seed (default 42).
    pub seed: Option<u64>,
    /// Timeframe to evaluate when the store holds several (default: the one with most bars).
    pub timeframe: Option<Timeframe>,
    /// Which features the models see (default: `selected`).
    #[serde(default)]
    pub features: Option<FeatureScope>,
    /// Features kept by the selection (default 280).
    #[serde(default)]
    pub select_k: Option<usize>,
    /// The stage-2.18 networks: a profile of `models/multitask.json` (`quick`, `full`),
    /// `off`, or a JSON file holding one profile (default `quick`).
    #[serde(default)]
    pub networks: Option<String>,
    /// Stage 2.17's autoencoder: a profile of `models/autoencoder.json` (`quick`, `full`) or
    /// `off` (default `quick`); its embeddings feed the networks.
    #[serde(default)]
    pub embeddings: Option<String>,
    /// The first fold's training span: bars (`2000`), days (`90d`), months (`6mo`) or years
    /// (`5y`). Default: 5 years on daily bars, 6 months intraday (evaluation.md).
    #[serde(default)]
    pub train: Option<String>,
    /// Each test block (default: 1 year on daily bars, 1 month intraday).
    #[serde(default)]
    pub test: Option<String>,
    /// From one test block's start to the next (default: the test span).
    #[serde(default)]
    pub step: Option<String>,
    /// Train on a rolling window of this span before each test block instead of everything
    /// before it (expanding, the default).
    #[serde(default)]
    pub rolling: Option<String>,
}

/// Parses a fold span: a number of bars (`2000`, `2000bars`), days (`90d`), months (`6mo`) or
/// years (`5y`).
pub fn parse_span(what: &str, s: &str) -> Result<Span, AppError> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        AppError::new(
            ErrorCode::InvalidArgument,
            format!(
                "--{what} {s:?}: give a positive number of bars (2000), days (90d), months (6mo) \
                 or years (5y)"
            ),
        )
    };
    let n: u32 = num.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    Ok(match unit.trim() {
        "" | "b" | "bar" | "bars" => Span::Bars(n as usize),
        "d" | "day" | "days" => Span::Days(n),
        "mo" | "month" | "months" => Span::Months(n),
        "y" | "year" | "years" => Span::Years(n),
        _ => return Err(bad()),
    })
}

/// A span as the user writes it.
pub fn span_text(s: Span) -> String {
    match s {
        Span::Bars(n) => format!("{n} bars"),
        Span::Days(n) => format!("{n}d"),
        Span::Months(n) => format!("{n}mo"),
        Span::Years(n) => format!("{n}y"),
    }
}

/// The features a backtest feeds its models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureScope {
    /// The stored base and panel features and the USD factor.
    Base,
    /// Those and the 72 cross-pair columns of stage 2.16.
    Cross,
    /// The features the select stage kept per fold from all of those.
    #[default]
    Selected,
}

impl FeatureScope {
    pub fn cross(self) -> bool {
        self != FeatureScope::Base
    }
    pub fn select(self) -> bool {
        self == FeatureScope::Selected
    }
    pub fn parse(s: &str) -> Result<FeatureScope, AppError> {
        match s {
            "base" => Ok(FeatureScope::Base),
            "cross" => Ok(FeatureScope::Cross),
            "selected" => Ok(FeatureScope::Selected),
            _ => Err(AppError::new(
                ErrorCode::InvalidArgument,
                format!("unknown feature scope '{s}' (base, cross, selected)"),
            )),
        }
    }
}

/// The stage's result: the report and where it was written.
#[derive(Debug, Clone, Serialize)]
pub struct BacktestOutcome {
    pub report: BacktestReport,
    /// `<store>/reports/<run_id>/backtest.json`.
    pub report_path: PathBuf,
    /// Hash of everything the units depend on; units with this key are reused.
    pub eval_key: String,
    /// The evaluated series (their predictions are stored under `eval_key`).
    pub series: Vec<SeriesKey>,
    /// Stored features left out because some pair has no value for them (see
    /// [`AbsentFeature`]).
    pub absent_features: Vec<AbsentFeature>,
    pub units: usize,
    pub reused_units: usize,
}

impl BacktestRequest {
    /// The feature scope (default `selected`).
    pub fn scope(&self) -> FeatureScope {
        self.features.unwrap_or_default()
    }

    /// The network profile (or file) the run uses.
    pub fn networks_profile(&self) -> &str {
        self.networks
            .as_deref()
            .unwrap_or(crate::networks::DEFAULT_PROFILE)
    }

    /// The autoencoder profile the run uses (`off`: no embeddings).
    pub fn embeddings_profile(&self) -> &str {
        self.embeddings
            .as_deref()
            .unwrap_or(crate::networks::DEFAULT_PROFILE)
    }

    /// Whether the run trains the stage-2.18 networks.
    pub fn trains_networks(&self) -> bool {
        let off = self.networks_profile() == "off";
        match &self.models {
            Some(m) => !off && m.iter().any(|n| n == "multitask" || n == "singletask"),
            None => !off,
        }
    }

    /// The fold spans asked for: train, test, step, rolling window.
    fn spans(&self) -> Result<[Option<Span>; 4], AppError> {
        let p =
            |what: &str, v: &Option<String>| v.as_deref().map(|s| parse_span(what, s)).transpose();
        Ok([
            p("train", &self.train)?,
            p("test", &self.test)?,
            p("step", &self.step)?,
            p("rolling", &self.rolling)?,
        ])
    }

    /// Checks what can be checked before the data is known.
    pub fn check(&self) -> Result<(), AppError> {
        self.spans()?;
        if self.select_k == Some(0) {
            return Err(AppError::new(
                ErrorCode::InvalidArgument,
                "--select-k must be at least 1",
            ));
        }
        if self.select_k.is_some() && !self.scope().select() {
            return Err(AppError::new(
                ErrorCode::InvalidArgument,
                "--select-k needs the selected feature scope",
            ));
        }
        Ok(())
    }

    pub(crate) fn config(&self, timeframe: Timeframe) -> Result<BacktestConfig, AppError> {
        let mut cfg = BacktestConfig::default_for(timeframe);
        let scope = self.scope();
        if scope.cross() {
            cfg.cross_pair = Some(bqx_features::CrossFitConfig::default());
        }
        if scope.select() {
            let mut sel = bqx_eval::select::SelectConfig::default();
            if let Some(k) = self.select_k {
                sel.k = k;
            }
            cfg.selection = Some(sel);
        }
        self.check()?;
        if let Some(w) = self.window {
            cfg.window = w;
        }
        if let Some(h) = self.horizon {
            cfg.horizon = h;
            cfg.folds.horizon = h;
        }
        if let Some(seed) = self.seed {
            cfg.seed = seed;
        }
        let [train, test, step, rolling] = self.spans()?;
        let f = &mut cfg.folds;
        if let Some(t) = train {
            f.min_train = t;
        }
        if let Some(t) = test {
            f.test = t;
            f.step = t;
        }
        if let Some(t) = step {
            f.step = t;
        }
        if let Some(t) = rolling {
            f.train_window = bqx_eval::folds::TrainWindow::Rolling(t);
        }
        // Test blocks start on calendar boundaries only when every span is a calendar one.
        if [train, test, step, rolling]
            .iter()
            .flatten()
            .any(|s| matches!(s, Span::Bars(_)))
        {
            f.align_to_calendar = false;
        }
        let mut all = BacktestConfig::baseline_models();
        all.extend(crate::networks::network_specs(self.networks_profile())?);
        if let Some(models) = &self.models {
            let mut chosen = Vec::new();
            for m in models {
                let spec = all
                    .iter()
                    .find(|s| bqx_eval::backtest::model_name(s) == *m)
                    .ok_or_else(|| {
                        AppError::new(
                            ErrorCode::InvalidArgument,
                            format!(
                                "unknown model '{m}' (models: {})",
                                all.iter()
                                    .map(bqx_eval::backtest::model_name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?;
                chosen.push(spec.clone());
            }
            cfg.models = chosen;
        } else {
            cfg.models = all;
        }
        if self.trains_networks() && self.embeddings_profile() != "off" {
            cfg.embeddings = Some(crate::networks::autoencoder_config(
                self.embeddings_profile(),
            )?);
        }
        cfg.validate()
            .map_err(|e| AppError::new(ErrorCode::InvalidArgument, e.to_string()))?;
        Ok(cfg)
    }
}

fn eval_err(e: EvalError) -> AppError {
    AppError::new(ErrorCode::Internal, format!("backtest: {e}"))
}

/// The store as the backtest's unit cache.
struct StoreCache<'a> {
    store: &'a mut Store,
    eval_key: String,
    keys: BTreeMap<Pair, SeriesKey>,
    reused: usize,
}

impl StoreCache<'_> {
    fn key(&self, id: &UnitId) -> EvalUnitKey {
        EvalUnitKey {
            model: id.model.clone(),
            fold: id.fold,
            series: self.keys[&id.pair],
        }
    }
}

impl UnitCache for StoreCache<'_> {
    fn load(&mut self, id: &UnitId) -> bqx_eval::Result<Option<UnitResult>> {
        let key = self.key(id);
        let stored = self
            .store
            .read_eval_unit(&self.eval_key, &key)
            .map_err(|e| EvalError::Serialization(format!("reading a unit: {e}")))?;
        let Some((rows, fit)) = stored else {
            return Ok(None);
        };
        let fit: UnitFit = serde_json::from_value(fit)
            .map_err(|e| EvalError::Serialization(format!("a stored unit's fit: {e}")))?;
        self.reused += 1;
        Ok(Some(UnitResult {
            ts: rows.iter().map(|r| r.ts).collect(),
            actual: rows.iter().map(|r| r.actual).collect(),
            predicted: rows.iter().map(|r| r.predicted).collect(),
            fit,
        }))
    }

    fn save(&mut self, units: &[(UnitId, UnitResult)]) -> bqx_eval::Result<()> {
        let keys: Vec<EvalUnitKey> = units.iter().map(|(id, _)| self.key(id)).collect();
        let fits: Vec<serde_json::Value> = units
            .iter()
            .map(|(_, r)| serde_json::to_value(&r.fit))
            .collect::<Result<_, _>>()
            .map_err(|e| EvalError::Serialization(e.to_string()))?;
        let rows: Vec<EvalUnit<'_>> = units
            .iter()
            .zip(&keys)
            .zip(&fits)
            .map(|(((_, r), key), fit)| EvalUnit {
                eval_key: &self.eval_key,
                unit: key,
                ts: &r.ts,
                actual: &r.actual,
                predicted: &r.predicted,
                fit,
            })
            .collect();
        self.store
            .write_eval_units(&rows)
            .map_err(|e| EvalError::Serialization(format!("writing units: {e}")))
    }
}

/// A stored feature that cannot enter the evaluation: it has no value at all on some pair
/// (a cross-sectional family whose other pairs the store lacks, or the USD factor without the
/// seven USD pairs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbsentFeature {
    pub name: String,
    /// The evaluated pairs on which it has no value (for the USD factor: the USD pairs missing).
    pub missing_for: Vec<Pair>,
}

/// The evaluated timeframe's data.
pub(crate) struct Inputs {
    pub timeframe: Timeframe,
    pub keys: Vec<SeriesKey>,
    pub series: Vec<SeriesInput>,
    pub panel: PanelInput,
    /// Hash of the bars and feature schemas the units depend on.
    pub fingerprint: String,
    /// Features left out because some pair has no value for them, and the USD factor when the
    /// seven USD pairs are not all present.
    pub absent: Vec<AbsentFeature>,
}

/// Loads the evaluated timeframe's series (closes and stored base + panel features) and the
/// aligned panel.
pub(crate) fn load_inputs(store: &Store, timeframe: Option<Timeframe>) -> Result<Inputs, AppError> {
    let (tf, keys) = evaluated_series(store, timeframe)?;
    load_keys(store, tf, keys)
}

/// The evaluated timeframe (the one asked for, else the one with the most bars) and its
/// series.
fn evaluated_series(
    store: &Store,
    timeframe: Option<Timeframe>,
) -> Result<(Timeframe, Vec<SeriesKey>), AppError> {
    let summaries = store.series_summaries()?;
    let groups = panel_series(&summaries);
    let tf = match timeframe {
        Some(tf) => tf,
        None => *groups
            .iter()
            .max_by_key(|(_, keys)| {
                keys.iter()
                    .map(|k| summaries.iter().find(|s| s.key == *k).map_or(0, |s| s.bars))
                    .sum::<u64>()
            })
            .map(|(tf, _)| tf)
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::InvalidArgument,
                    "the store holds no bars (ingest data first)",
                )
            })?,
    };
    let keys = groups.get(&tf).cloned().ok_or_else(|| {
        AppError::new(
            ErrorCode::InvalidArgument,
            format!("the store holds no {tf} bars"),
        )
    })?;
    Ok((tf, keys))
}

/// The folds a run of `req` will use, laid out on the stored bars' times before any work is
/// done (the feature warm-up estimated as the longest feature window): a one-paragraph plan,
/// or an `invalid_argument` error that says how much data the folds need, how much each pair
/// has, and what to change.
pub(crate) fn fold_preview(store: &Store, req: &BacktestRequest) -> Result<String, AppError> {
    let (tf, keys) = evaluated_series(store, req.timeframe)?;
    let cfg = req.config(tf)?;
    let mut axis: Vec<i64> = Vec::new();
    let mut per_pair: Vec<(String, usize)> = Vec::new();
    let mut warmup = 0;
    for k in &keys {
        let bars = store.load_series(*k)?;
        let caps = bqx_features::SourceCaps::of(&bars, crate::run::is_close_only(&bars));
        let w = bqx_features::Kernel::catalog(&bqx_features::FeatureSet::for_source(caps))
            .iter()
            .map(|s| s.warmup)
            .max()
            .unwrap_or(0);
        warmup = warmup.max(w);
        per_pair.push((k.pair.to_string(), bars.len()));
        axis.extend(bars.ts.iter().skip(w));
    }
    axis.sort_unstable();
    axis.dedup();
    let f = &cfg.folds;
    let window = match f.train_window {
        bqx_eval::folds::TrainWindow::Expanding => "expanding".to_string(),
        bqx_eval::folds::TrainWindow::Rolling(s) => format!("rolling {}", span_text(s)),
    };
    let wanted = format!(
        "training {} ({window}), test blocks of {}, step {}, horizon h = {} and window W = {}",
        span_text(f.min_train),
        span_text(f.test),
        span_text(f.step),
        cfg.horizon,
        cfg.window
    );
    let date = |t: i64| {
        chrono::DateTime::from_timestamp_micros(t)
            .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let too_short = |why: String| {
        let have: Vec<String> = per_pair.iter().map(|(p, n)| format!("{p} {n}")).collect();
        AppError::new(
            ErrorCode::InvalidArgument,
            format!(
                "too little {tf} data for the folds: {why}. The folds need {wanted}: the \
                 training span plus one test block after the features' warm-up of {warmup} \
                 bars. Bars stored per pair: {}. Shorten the folds (e.g. `--train 2y --test \
                 6mo` on daily bars, `--train 2000 --test 500` in bars) or store more history. \
                 Nothing was run.",
                have.join(", ")
            ),
        )
    };
    if axis.len() < 2 {
        return Err(too_short(format!(
            "{} bar times after the warm-up",
            axis.len()
        )));
    }
    let plan = FoldPlan::build(&axis, f).map_err(|e| match e {
        EvalError::NoFolds(_) => too_short(format!(
            "{} bar times from {} to {} after the warm-up",
            axis.len(),
            date(axis[0]),
            date(axis[axis.len() - 1])
        )),
        e => eval_err(e),
    })?;
    let rows = |a: i64, b: i64| axis.partition_point(|&t| t < b) - axis.partition_point(|&t| t < a);
    let first = &plan.folds[0];
    let last = plan.folds.last().expect("a plan has folds");
    Ok(format!(
        "folds: {} on {tf} ({wanted}); first test block from {} ({} training and {} test bar \
         times), last test block ending {} ({} test bar times)",
        plan.folds.len(),
        date(first.test_start),
        rows(first.train_start, first.test_start),
        rows(first.test_start, first.test_end),
        date(last.test_end - 1),
        rows(last.test_start, last.test_end)
    ))
}

fn load_keys(store: &Store, tf: Timeframe, keys: Vec<SeriesKey>) -> Result<Inputs, AppError> {
    let mut fingerprint = Sha256::new();
    let mut inputs: Vec<SeriesInput> = Vec::with_capacity(keys.len());
    let mut loaded = Vec::with_capacity(keys.len());
    for k in &keys {
        let missing = |stage: &str| {
            AppError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "{} {} has no {stage} features: run the base stage first (`bqx run --stages base`)",
                    k.pair, k.side
                ),
            )
        };
        let bars = store.load_series(*k)?;
        let base = store
            .read_features("base", *k)?
            .ok_or_else(|| missing("base"))?;
        let panel = store
            .read_features(PANEL_STAGE, *k)?
            .ok_or_else(|| missing("panel"))?;
        let bars_fp = store.bars_fingerprint(*k)?;
        for (stage, f) in [("base", &base), (PANEL_STAGE, &panel)] {
            let state = store
                .feature_state(stage, *k)?
                .ok_or_else(|| missing(stage))?;
            if f.ts != bars.ts || (stage == "base" && state.bars_fingerprint != bars_fp) {
                return Err(AppError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "{} {}: the stored {stage} features are stale (the bars changed): run the base stage first",
                        k.pair, k.side
                    ),
                ));
            }
        }
        fingerprint.update(format!(
            "{} {} {} {} {}\n",
            k.pair, k.side, bars_fp, base.schema_hash, panel.schema_hash
        ));
        let mut names = base.names;
        names.extend(panel.names);
        let mut columns = base.columns;
        columns.extend(panel.columns);
        inputs.push(SeriesInput {
            pair: k.pair,
            ts: bars.ts.clone(),
            close: bars.close.clone(),
            names,
            columns,
        });
        loaded.push((k.pair, k.side, bars));
    }
    // Pairs whose schemas differ (e.g. one pair with spread, the others without) cannot share
    // one model input.
    if let Some(odd) = inputs.iter().find(|s| s.names != inputs[0].names) {
        return Err(AppError::new(
            ErrorCode::InvalidArgument,
            format!(
                "{} and {} of the {tf} panel have different feature schemas ({} vs {} features): ingest the same kind of source for every pair",
                inputs[0].pair,
                odd.pair,
                inputs[0].names.len(),
                odd.names.len()
            ),
        ));
    }
    // Feature availability follows the data: a column without a single value on some pair (a
    // currency-strength or triangle feature whose pairs the store lacks) would drop every row
    // of that pair; it is left out of the evaluation and reported instead.
    let mut absent: Vec<AbsentFeature> = Vec::new();
    let mut keep = vec![true; inputs.first().map_or(0, |s| s.names.len())];
    for (j, k) in keep.iter_mut().enumerate() {
        let missing_for: Vec<Pair> = inputs
            .iter()
            .filter(|s| !s.columns[j].iter().any(|v| v.is_finite()))
            .map(|s| s.pair)
            .collect();
        if !missing_for.is_empty() {
            *k = false;
            absent.push(AbsentFeature {
                name: inputs[0].names[j].clone(),
                missing_for,
            });
        }
    }
    if !absent.is_empty() {
        for s in &mut inputs {
            let mut j = 0;
            s.names.retain(|_| {
                j += 1;
                keep[j - 1]
            });
            let mut j = 0;
            s.columns.retain(|_| {
                j += 1;
                keep[j - 1]
            });
        }
    }
    let present: Vec<Pair> = inputs.iter().map(|s| s.pair).collect();
    let usd_missing: Vec<Pair> = bqx_features::usd_pairs()
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !present.contains(p))
        .collect();
    if !usd_missing.is_empty() {
        absent.extend(
            bqx_features::usd_factor_catalog()
                .into_iter()
                .map(|f| AbsentFeature {
                    name: f.name,
                    missing_for: usd_missing.clone(),
                }),
        );
    }
    let refs: Vec<_> = loaded.iter().map(|(p, s, b)| (*p, *s, b)).collect();
    let panel = Panel::align(tf, &refs);
    Ok(Inputs {
        timeframe: tf,
        keys,
        series: inputs,
        panel: PanelInput {
            ts: panel.ts,
            close: panel.close,
        },
        fingerprint: hex::encode(fingerprint.finalize()),
        absent,
    })
}

/// Writes `<store>/reports/<run_id>/<name>` and records it as an artifact of stage `stage`.
pub(crate) fn write_artifact(
    store: &mut Store,
    run_id: &str,
    stage: &str,
    kind: &str,
    name: &str,
    text: &str,
) -> Result<PathBuf, AppError> {
    let rel = PathBuf::from("reports").join(run_id).join(name);
    let path = store.dir().join(&rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| AppError::internal(format!("{}: {e}", parent.display())))?;
    }
    std::fs::write(&path, text)
        .map_err(|e| AppError::internal(format!("{}: {e}", path.display())))?;
    store.record_artifact(
        run_id,
        &ArtifactRow {
            stage: stage.into(),
            kind: kind.into(),
            path: rel.to_string_lossy().into_owned(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            bytes: text.len() as u64,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
    )?;
    Ok(path)
}

/// The key of a backtest's units: the build, the configuration, the data and the key of the
/// per-fold stage whose fits it reads (select, else cross).
pub(crate) fn eval_key(cfg: &BacktestConfig, data_fp: &str, upstream: Option<&str>) -> String {
    let mut h = Sha256::new();
    // The workspace shares one version: it stands for bqx-eval and bqx-models too.
    h.update(format!("bqx {}\n", env!("CARGO_PKG_VERSION")));
    h.update(serde_json::to_string(cfg).expect("config serializes"));
    h.update(data_fp);
    if let Some(u) = upstream {
        h.update(format!("\nupstream {u}"));
    }
    hex::encode(h.finalize())
}

/// Fits the units of the models `only` accepts into the store under `eval_key` (the train
/// stage fits the networks' units this way; the backtest then reuses them), reporting progress
/// as task `task`. Returns the units and how many were reused.
pub(crate) fn fit_units_into(
    store: &mut Store,
    loaded: &crate::stages::Loaded,
    fits: &FoldFits,
    eval_key: &str,
    only: &dyn Fn(&bqx_models::ModelSpec) -> bool,
    task: &str,
    progress: &dyn Progress,
) -> Result<(BTreeMap<UnitId, UnitResult>, usize), AppError> {
    let Inputs {
        keys,
        series: inputs,
        panel,
        ..
    } = &loaded.inputs;
    let mut cache = StoreCache {
        store,
        eval_key: eval_key.to_string(),
        keys: keys.iter().map(|k| (k.pair, *k)).collect(),
        reused: 0,
    };
    let units = bqx_eval::backtest::fit_units(
        inputs,
        Some(panel),
        &loaded.cfg,
        fits,
        only,
        &mut cache,
        &mut |e| match e {
            BacktestEvent::Planned { units: n } => task_started(progress, task, n as u64, "units"),
            BacktestEvent::Unit { .. } => task_advanced(progress, task, 1),
        },
    )
    .map_err(eval_err)?;
    task_finished(progress, task);
    Ok((units, cache.reused))
}

/// Runs the backtest inside run `run_id` on the loaded data with the per-fold fits.
pub(crate) fn backtest_with(
    store: &mut Store,
    run_id: &str,
    loaded: &crate::stages::Loaded,
    fits: &FoldFits,
    eval_key: String,
    progress: &dyn Progress,
) -> Result<BacktestOutcome, AppError> {
    let Inputs {
        timeframe: tf,
        keys,
        series: inputs,
        panel,
        ..
    } = &loaded.inputs;
    let (tf, cfg) = (*tf, &loaded.cfg);
    store.log(
        run_id,
        "backtest",
        LogLevel::Info,
        &format!(
            "{} series of {tf}, {} features, models {}, eval key {}",
            inputs.len(),
            inputs.first().map_or(0, |s| s.names.len()),
            cfg.models
                .iter()
                .map(bqx_eval::backtest::model_name)
                .collect::<Vec<_>>()
                .join(", "),
            &eval_key[..12]
        ),
    )?;
    let mut cache = StoreCache {
        store,
        eval_key: eval_key.clone(),
        keys: keys.iter().map(|k| (k.pair, *k)).collect(),
        reused: 0,
    };
    let mut units = 0usize;
    let report = run_backtest(
        inputs,
        Some(panel),
        cfg,
        fits,
        &mut cache,
        &mut |e| match e {
            BacktestEvent::Planned { units: n } => {
                units = n;
                task_started(progress, "backtest", n as u64, "units");
            }
            BacktestEvent::Unit { .. } => task_advanced(progress, "backtest", 1),
        },
    )
    .map_err(eval_err)?;
    task_finished(progress, "backtest");
    let reused_units = cache.reused;

    // The report and the P&L paths as artifacts, and the metrics.
    let json = render_backtest(&report).map_err(eval_err)?;
    let path = write_artifact(store, run_id, "backtest", "report", "backtest.json", &json)?;
    let equity = serde_json::to_string(&report.equity)
        .map_err(|e| AppError::internal(format!("equity paths: {e}")))?;
    write_artifact(store, run_id, "backtest", "equity", "equity.json", &equity)?;
    store.record_metrics(run_id, &metric_rows(&report))?;
    for m in &report.models {
        if m.skipped_units > 0 {
            store.log(
                run_id,
                "backtest",
                LogLevel::Warn,
                &format!(
                    "{}: {} of {} units had too few usable rows and were skipped",
                    m.name, m.skipped_units, m.units
                ),
            )?;
        }
    }
    Ok(BacktestOutcome {
        report,
        report_path: path,
        eval_key,
        series: keys.clone(),
        absent_features: loaded.inputs.absent.clone(),
        units,
        reused_units,
    })
}

fn push_set(
    out: &mut Vec<MetricRow>,
    model: &str,
    scope: &str,
    pair: Option<&str>,
    fold: Option<u32>,
    m: &MetricSet,
) {
    let mut push = |metric: &str, value: Option<f64>, ci: Option<Interval>| {
        out.push(MetricRow {
            stage: "backtest".into(),
            model: model.into(),
            scope: scope.into(),
            pair: pair.map(str::to_string),
            fold,
            metric: metric.into(),
            value,
            lo: ci.map(|c| c.lo),
            hi: ci.map(|c| c.hi),
        });
    };
    push("rows", Some(m.n_rows as f64), None);
    if let Some(r) = &m.regression {
        push("r2_vs_zero", r.r2_vs_zero, None);
        push("r2_vs_train_mean", r.r2_vs_train_mean, None);
        push("mae", Some(r.mae), None);
        push("rmse", Some(r.rmse), None);
        push("ic", r.ic, None);
        push("std_ratio", r.std_ratio, None);
        push("mean_error", Some(r.mean_error), None);
    }
    if let Some(d) = &m.direction {
        push(
            "directional_accuracy",
            Some(d.accuracy),
            d.bootstrap.or(Some(d.wilson)),
        );
    }
    if let Some(t) = &m.trading {
        push("decisions", Some(t.n_decisions as f64), None);
        push("sharpe", t.sharpe, t.sharpe_ci);
        push("sortino", t.sortino, None);
        push("max_drawdown", Some(t.max_drawdown), None);
        push("calmar", t.calmar, None);
        push("hit_rate", t.hit_rate, t.hit_rate_ci);
        push("profit_factor", t.profit_factor, None);
        push("turnover", Some(t.turnover), None);
        push("total_return", Some(t.total_return), None);
        push("psr", t.psr, None);
        push("deflated_sharpe", t.deflated.as_ref().map(|d| d.dsr), None);
    }
}

/// The report flattened into registry rows: pooled, per pair, and pooled per fold.
pub fn metric_rows(report: &BacktestReport) -> Vec<MetricRow> {
    let mut out = Vec::new();
    out.push(MetricRow {
        stage: "backtest".into(),
        model: "ceiling".into(),
        scope: "pooled".into(),
        pair: None,
        fold: None,
        metric: "r2".into(),
        value: Some(report.ceiling.r2),
        lo: None,
        hi: None,
    });
    out.push(MetricRow {
        stage: "backtest".into(),
        model: "ceiling".into(),
        scope: "pooled".into(),
        pair: None,
        fold: None,
        metric: "directional_accuracy".into(),
        value: Some(report.ceiling.directional_accuracy),
        lo: None,
        hi: None,
    });
    for m in &report.models {
        push_set(&mut out, &m.name, "pooled", None, None, &m.report.pooled);
        for p in &m.report.pairs {
            push_set(
                &mut out,
                &m.name,
                "pair",
                Some(p.pair.name()),
                None,
                &p.all_folds,
            );
        }
        for f in &m.report.pooled_by_fold {
            push_set(&mut out, &m.name, "fold", None, Some(f.fold), &f.metrics);
        }
    }
    out
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn spans_parse_in_bars_days_months_and_years() {
        assert_eq!(parse_span("train", "2000").unwrap(), Span::Bars(2000));
        assert_eq!(parse_span("train", "2000bars").unwrap(), Span::Bars(2000));
        assert_eq!(parse_span("test", "90d").unwrap(), Span::Days(90));
        assert_eq!(parse_span("test", "6mo").unwrap(), Span::Months(6));
        assert_eq!(parse_span("test", "6 Months").unwrap(), Span::Months(6));
        assert_eq!(parse_span("train", "5Y").unwrap(), Span::Years(5));
        for bad in ["", "0", "6m", "y5", "-3d", "2 weeks", "1.5y"] {
            let e = parse_span("train", bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidArgument, "{bad}");
            assert!(e.message.contains("--train"), "{}", e.message);
        }
        for s in [
            Span::Bars(7),
            Span::Days(3),
            Span::Months(6),
            Span::Years(2),
        ] {
            let text = span_text(s);
            let text = text.trim_end_matches(" bars");
            assert_eq!(parse_span("x", text).unwrap(), s);
        }
    }
}
