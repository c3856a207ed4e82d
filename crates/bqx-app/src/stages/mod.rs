//! The stage graph: one module per stage implementing [`Stage`], and one table,
//! [`STAGE_TABLE`], from which `bqx run --stages`, the CLI's listing, `/api/v1/pipeline` and
//! the UI's pipeline graph are all derived. Asking for a stage runs the stages it depends on
//! first (each skips what is current), in table order.
//!
//! Adding a stage is one module here and one line in the table.

mod backtest;
mod base;
mod cross;
mod embed;
mod panel;
mod select;
mod train;

pub use train::NetworkBrief;

use std::collections::BTreeMap;

use bqx_eval::backtest::{BacktestConfig, FoldFits};
use bqx_eval::select::{SelectionFold, SelectionStability};
use bqx_features::{CrossPanel, CrossParams, FittedParams};
use bqx_panel::PanelHealth;
use bqx_store::Store;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::backtest::{BacktestOutcome, Inputs, load_inputs};
use crate::pipeline::RunRequest;
use crate::run::BaseReport;
use crate::{AppError, ErrorCode, Progress};

/// One stage of the pipeline.
pub(crate) trait Stage: Sync {
    /// The stage's name (`bqx run --stages NAME`).
    fn name(&self) -> &'static str;
    /// The stages whose outputs it reads.
    fn depends_on(&self) -> &'static [&'static str];
    /// One line for the listing.
    fn about(&self) -> &'static str;
    /// Built in this version (a planned stage is listed, and refused when asked for).
    fn built(&self) -> bool {
        true
    }
    /// Run by `bqx run` (ingest and export have their own commands).
    fn runnable(&self) -> bool {
        self.built()
    }
    /// Fitted per fold, its artifacts keyed by fold and input fingerprint.
    fn per_fold(&self) -> bool {
        false
    }
    /// Whether a run of `req` needs it when it was not asked for by name (a dependency the
    /// request switched off, e.g. the cross stage under `--features base`).
    fn needed_by(&self, _req: &RunRequest) -> bool {
        true
    }
    /// The fingerprint of the stage's inputs: equal fingerprints mean the stage's stored
    /// results are current and are reused.
    fn fingerprint(&self, cx: &mut StageCx<'_>, store: &mut Store) -> Result<String, AppError>;
    /// Runs the stage (skipping what is current), leaving its output in `cx`.
    fn run(&self, cx: &mut StageCx<'_>, store: &mut Store, run_id: &str) -> Result<(), AppError>;
    /// The summary recorded in the registry and shown in the run report.
    fn summary(&self, cx: &StageCx<'_>) -> serde_json::Value;
}

/// A stage run through its own command (`bqx ingest`, `bqx export`).
struct Command {
    name: &'static str,
    depends_on: &'static [&'static str],
    about: &'static str,
}

macro_rules! not_run {
    ($t:ty, $built:expr) => {
        impl Stage for $t {
            fn name(&self) -> &'static str {
                self.name
            }
            fn depends_on(&self) -> &'static [&'static str] {
                self.depends_on
            }
            fn about(&self) -> &'static str {
                self.about
            }
            fn built(&self) -> bool {
                $built
            }
            fn runnable(&self) -> bool {
                false
            }
            fn fingerprint(&self, _: &mut StageCx<'_>, _: &mut Store) -> Result<String, AppError> {
                Err(refused(self.name, $built))
            }
            fn run(&self, _: &mut StageCx<'_>, _: &mut Store, _: &str) -> Result<(), AppError> {
                Err(refused(self.name, $built))
            }
            fn summary(&self, _: &StageCx<'_>) -> serde_json::Value {
                serde_json::Value::Null
            }
        }
    };
}
not_run!(Command, true);

fn refused(name: &str, built: bool) -> AppError {
    let msg = if built {
        format!("stage '{name}' runs through its own command (`bqx {name}`)")
    } else {
        format!(
            "stage '{name}' is not built yet (built: {})",
            built_names().join(", ")
        )
    };
    AppError::new(ErrorCode::InvalidArgument, msg)
}

/// The pipeline, in order (product.md). One line per stage.
pub(crate) static STAGE_TABLE: &[&dyn Stage] = &[
    &Command {
        name: "ingest",
        depends_on: &[],
        about: "vendor files → validated bars in the DuckDB store (`bqx ingest`)",
    },
    &panel::PanelStage,
    &base::BaseStage,
    &cross::CrossStage,
    &embed::EmbedStage,
    &select::SelectStage,
    &train::TrainStage,
    &backtest::BacktestStage,
    &Command {
        name: "online",
        depends_on: &["ingest"],
        about: "2.19 online loop: bars replayed one at a time, frozen ridge + online RLS weighted \
                by recent error, ADWIN / Page–Hinkley / PSI drift alerts (`bqx online`)",
    },
    &Command {
        name: "export",
        depends_on: &["base"],
        about: "features → Parquet (`bqx export`)",
    },
];

/// A stage as the CLI, the API and the UI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageInfo {
    pub name: &'static str,
    pub built: bool,
    /// Run by `bqx run --stages`.
    pub runnable: bool,
    pub per_fold: bool,
    pub depends_on: Vec<&'static str>,
    pub about: &'static str,
}

/// The stage table.
pub fn stage_table() -> Vec<StageInfo> {
    STAGE_TABLE
        .iter()
        .map(|s| StageInfo {
            name: s.name(),
            built: s.built(),
            runnable: s.runnable(),
            per_fold: s.per_fold(),
            depends_on: s.depends_on().to_vec(),
            about: s.about(),
        })
        .collect()
}

fn built_names() -> Vec<&'static str> {
    STAGE_TABLE
        .iter()
        .filter(|s| s.built())
        .map(|s| s.name())
        .collect()
}

fn find(name: &str) -> Option<&'static dyn Stage> {
    STAGE_TABLE.iter().copied().find(|s| s.name() == name)
}

/// The stages a run of `req` executes, in table order: the ones asked for (every runnable
/// stage when none is) and, transitively, the runnable stages they depend on that the request
/// needs.
pub(crate) fn resolve(req: &RunRequest) -> Result<Vec<&'static dyn Stage>, AppError> {
    let mut wanted: Vec<&'static str> = Vec::new();
    for s in &req.stages {
        let stage = find(s).ok_or_else(|| {
            AppError::new(
                ErrorCode::InvalidArgument,
                format!(
                    "unknown stage '{s}' (stages: {})",
                    STAGE_TABLE
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if !stage.runnable() {
            return Err(refused(stage.name(), stage.built()));
        }
        wanted.push(stage.name());
    }
    if req.stages.is_empty() {
        wanted = STAGE_TABLE
            .iter()
            .filter(|s| s.runnable() && s.needed_by(req))
            .map(|s| s.name())
            .collect();
    }
    // Close over the dependencies (only runnable ones: ingest has its own command).
    let mut stack = wanted.clone();
    while let Some(n) = stack.pop() {
        for d in find(n).expect("known stage").depends_on() {
            let dep = find(d).expect("the table's dependencies are stages");
            if dep.runnable() && dep.needed_by(req) && !wanted.contains(d) {
                wanted.push(d);
                stack.push(d);
            }
        }
    }
    Ok(STAGE_TABLE
        .iter()
        .copied()
        .filter(|s| wanted.contains(&s.name()))
        .collect())
}

/// The names a run of `req` executes (checks the request).
pub fn check_stages(req: &RunRequest) -> Result<Vec<&'static str>, AppError> {
    Ok(resolve(req)?.iter().map(|s| s.name()).collect())
}

/// The cross stage's output: the discovery of every fold.
pub(crate) struct CrossDone {
    pub key: String,
    pub fits: BTreeMap<u32, FittedParams<CrossParams>>,
    pub reused: usize,
}

/// The select stage's output.
pub(crate) struct SelectDone {
    pub key: String,
    /// The configured number of features to keep.
    pub k: usize,
    pub folds: Vec<SelectionFold>,
    pub stability: SelectionStability,
    pub candidates: usize,
    pub reused: usize,
}

/// The evaluated data and its configuration, loaded once per run for the per-fold stages.
pub(crate) struct Loaded {
    pub inputs: Inputs,
    pub cfg: BacktestConfig,
    pub cross_panel: Option<CrossPanel>,
}

/// What the stages of one run share: the request, and each stage's output.
pub(crate) struct StageCx<'a> {
    pub req: &'a RunRequest,
    pub progress: &'a dyn Progress,
    pub panels: Option<Vec<PanelHealth>>,
    pub base: Option<BaseReport>,
    pub loaded: Option<Loaded>,
    pub cross: Option<CrossDone>,
    pub select: Option<SelectDone>,
    pub embed: Option<embed::EmbedDone>,
    pub train: Option<train::TrainDone>,
    pub backtest: Option<BacktestOutcome>,
}

impl<'a> StageCx<'a> {
    pub fn new(req: &'a RunRequest, progress: &'a dyn Progress) -> StageCx<'a> {
        StageCx {
            req,
            progress,
            panels: None,
            base: None,
            loaded: None,
            cross: None,
            select: None,
            embed: None,
            train: None,
            backtest: None,
        }
    }

    /// The evaluated timeframe's series and the backtest configuration (loaded on first use,
    /// after the base stage has brought the stored features up to date).
    pub fn loaded(&mut self, store: &Store) -> Result<&Loaded, AppError> {
        if self.loaded.is_none() {
            let inputs = load_inputs(store, self.req.backtest.timeframe)?;
            let mut cfg = self.req.backtest.config(inputs.timeframe)?;
            // The USD factor needs the seven USD pairs (listed as absent otherwise).
            if inputs.absent.iter().any(|a| a.name == "cs_usd_factor") {
                cfg.usd_factor = false;
            }
            let cross_panel = match cfg.cross_pair {
                Some(_) => Some(
                    bqx_eval::backtest::cross_panel(&inputs.series)
                        .map_err(|e| AppError::new(ErrorCode::InvalidArgument, e.to_string()))?,
                ),
                None => None,
            };
            self.loaded = Some(Loaded {
                inputs,
                cfg,
                cross_panel,
            });
        }
        Ok(self.loaded.as_ref().expect("just loaded"))
    }

    /// The per-fold fits the backtest reads.
    pub fn fold_fits(&self) -> FoldFits {
        FoldFits {
            cross: self
                .cross
                .as_ref()
                .map(|c| c.fits.clone())
                .unwrap_or_default(),
            selected: self
                .select
                .as_ref()
                .map(|s| {
                    s.folds
                        .iter()
                        .map(|f| (f.fold, f.selected.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            embeddings: self
                .embed
                .as_ref()
                .map(|e| e.columns.clone())
                .unwrap_or_default(),
        }
    }
}

/// SHA-256 of the lines, hex.
pub(crate) fn hash_lines(lines: &[String]) -> String {
    let mut h = Sha256::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// What every per-fold stage's key starts from: the build, the data, the targets and folds.
pub(crate) fn fold_basis(l: &Loaded) -> Vec<String> {
    vec![
        format!("bqx {}", env!("CARGO_PKG_VERSION")),
        l.inputs.fingerprint.clone(),
        format!("target W={} h={}", l.cfg.window, l.cfg.horizon),
        serde_json::to_string(&l.cfg.folds).expect("fold config serializes"),
    ]
}

/// One follower's lead-lag in brief: its most frequent strongest relation across folds.
#[derive(Debug, Clone, Serialize)]
pub struct FollowerLeadLag {
    pub pair: bqx_domain::Pair,
    pub leader: Option<bqx_domain::Pair>,
    pub lag: Option<usize>,
    /// Folds in which this (leader, lag) was the strongest relation.
    pub folds_strongest: usize,
    /// The largest q of this relation over those folds.
    pub q_max: Option<f64>,
    /// Significant kept relations per fold, on average.
    pub significant_per_fold: f64,
}

/// The cross stage in brief (run report, tear-sheet).
#[derive(Debug, Clone, Serialize)]
pub struct CrossSummary {
    pub folds: usize,
    pub reused_folds: usize,
    pub fdr_level: f64,
    pub followers: Vec<FollowerLeadLag>,
}

/// The select stage in brief.
#[derive(Debug, Clone, Serialize)]
pub struct SelectSummary {
    /// The configured number of features to keep (a fold keeps fewer when fewer survive the
    /// constant and correlation filters).
    pub k: usize,
    /// The fewest and the most features a fold kept.
    pub selected_min: usize,
    pub selected_max: usize,
    pub candidates: usize,
    pub folds: usize,
    pub reused_folds: usize,
    pub jaccard_mean: Option<f64>,
    pub kuncheva_mean: Option<f64>,
    /// The features selected in the most folds (at most 15).
    pub most_stable: Vec<bqx_eval::select::FeatureStability>,
}

impl CrossDone {
    pub(crate) fn brief(&self) -> CrossSummary {
        let mut by_pair: BTreeMap<bqx_domain::Pair, Vec<&bqx_features::PairCross>> =
            BTreeMap::new();
        let mut fdr = 0.05;
        for f in self.fits.values() {
            fdr = f.params.config.fdr_level;
            for p in &f.params.pairs {
                by_pair.entry(p.pair).or_default().push(p);
            }
        }
        let followers = by_pair
            .into_iter()
            .map(|(pair, fits)| {
                let mut count: BTreeMap<(bqx_domain::Pair, usize), (usize, f64)> = BTreeMap::new();
                for f in &fits {
                    if let Some(k) = f.kept.first() {
                        let e = count.entry((k.leader, k.lag)).or_insert((0, 0.0));
                        e.0 += 1;
                        e.1 = e.1.max(k.q.unwrap_or(f64::NAN));
                    }
                }
                let best = count
                    .iter()
                    .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)))
                    .map(|(k, v)| (*k, *v));
                let significant = fits
                    .iter()
                    .map(|f| f.kept.iter().filter(|k| k.significant).count())
                    .sum::<usize>() as f64
                    / fits.len().max(1) as f64;
                FollowerLeadLag {
                    pair,
                    leader: best.map(|b| b.0.0),
                    lag: best.map(|b| b.0.1),
                    folds_strongest: best.map_or(0, |b| b.1.0),
                    q_max: best.and_then(|b| b.1.1.is_finite().then_some(b.1.1)),
                    significant_per_fold: significant,
                }
            })
            .collect();
        CrossSummary {
            folds: self.fits.len(),
            reused_folds: self.reused,
            fdr_level: fdr,
            followers,
        }
    }
}

impl SelectDone {
    pub(crate) fn brief(&self) -> SelectSummary {
        SelectSummary {
            k: self.k,
            selected_min: self
                .folds
                .iter()
                .map(|f| f.selected.len())
                .min()
                .unwrap_or(0),
            selected_max: self
                .folds
                .iter()
                .map(|f| f.selected.len())
                .max()
                .unwrap_or(0),
            candidates: self.candidates,
            folds: self.folds.len(),
            reused_folds: self.reused,
            jaccard_mean: self.stability.jaccard_mean,
            kuncheva_mean: self.stability.kuncheva_mean,
            most_stable: self
                .stability
                .per_feature
                .iter()
                .take(15)
                .cloned()
                .collect(),
        }
    }
}
