//! `bqx run`: the built stages of the pipeline in one registered run. Each stage skips what is
//! current (the base stage by bars fingerprint and feature-schema hash, the backtest unit by
//! unit), so a run killed at any point resumes when it is started again.

use std::path::Path;
use std::time::Instant;

use bqx_panel::PanelHealth;
use serde::Serialize;

use crate::backtest::{BacktestOutcome, BacktestRequest};
use crate::run::BaseReport;
use crate::stage::RunContext;
use crate::stages::{CrossSummary, SelectSummary, StageCx, resolve};
use crate::{AppError, ErrorCode, Progress, open_store};

/// What `bqx run` is asked to do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunRequest {
    /// Stages asked for (empty: every built stage that `bqx run` executes); the stages they
    /// depend on run first.
    pub stages: Vec<String>,
    pub backtest: BacktestRequest,
}

/// One stage's line in the run report.
#[derive(Debug, Clone, Serialize)]
pub struct StageLine {
    pub stage: String,
    pub status: String,
    pub seconds: f64,
    pub summary: serde_json::Value,
}

/// The result of `bqx run`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub stages: Vec<StageLine>,
    pub panels: Option<Vec<PanelHealth>>,
    pub base: Option<BaseReport>,
    /// Stage 2.16's lead-lag in brief (the whole report is the run's `crosspair` artifact).
    pub cross: Option<CrossSummary>,
    /// The feature selection in brief (the whole report is the `selection` artifact).
    pub selection: Option<SelectSummary>,
    /// Stage 2.18's networks in brief (curves: the registry and the `training` artifact).
    pub networks: Option<Vec<crate::stages::NetworkBrief>>,
    pub backtest: Option<BacktestOutcome>,
    pub seconds: f64,
}

/// Runs the requested stages and what they depend on, in pipeline order, as one run of kind
/// `kind`.
pub fn run_pipeline(
    store_dir: &Path,
    req: &RunRequest,
    kind: &str,
    progress: &dyn Progress,
) -> Result<RunReport, AppError> {
    let stages = resolve(req)?;
    // Check the request before anything is recorded.
    req.backtest.check()?;
    if !store_dir.join(bqx_store::DUCKDB_FILE).exists() {
        return Err(AppError::new(
            ErrorCode::InvalidArgument,
            format!(
                "no store at {} (ingest data first, or run `bqx demo`)",
                store_dir.display()
            ),
        ));
    }
    let started = Instant::now();
    let mut store = open_store(store_dir, &format!("bqx {kind}"))?;
    // The folds, laid out on the stored bars before anything is computed or recorded: a store
    // too short for them is refused here, with what it would take.
    if let Some(plan) = fold_plan(&store, req)? {
        progress.event(crate::ProgressEvent::Message { text: plan });
    }
    let args = serde_json::to_value(req).expect("request serializes");
    let mut run = RunContext::begin(&mut store, kind, &args, progress)?;
    let mut cx = StageCx::new(req, progress);
    let mut lines = Vec::new();
    let mut failure = None;
    for stage in stages {
        let t0 = Instant::now();
        let result = run.stage(
            stage.name(),
            |summary: &serde_json::Value| summary.clone(),
            |store, run_id| {
                stage.run(&mut cx, store, run_id)?;
                Ok(stage.summary(&cx))
            },
        );
        match result {
            Ok(summary) => lines.push(StageLine {
                stage: stage.name().into(),
                status: "succeeded".into(),
                seconds: t0.elapsed().as_secs_f64(),
                summary,
            }),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let run_id = run.finish(failure.as_ref())?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(RunReport {
        run_id,
        stages: lines,
        panels: cx.panels,
        base: cx.base,
        cross: cx.cross.as_ref().map(|c| c.brief()),
        selection: cx.select.as_ref().map(|s| s.brief()),
        networks: cx.train.as_ref().map(|t| t.networks.clone()),
        backtest: cx.backtest,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The fold plan of a run that has per-fold stages or the backtest (`None` otherwise), or the
/// refusal of a store too short for it ([`crate::backtest::fold_preview`]).
pub(crate) fn fold_plan(
    store: &bqx_store::Store,
    req: &RunRequest,
) -> Result<Option<String>, AppError> {
    let stages = resolve(req)?;
    if stages
        .iter()
        .any(|s| s.per_fold() || s.name() == "backtest")
    {
        crate::backtest::fold_preview(store, &req.backtest).map(Some)
    } else {
        Ok(None)
    }
}

/// Runs the backtest stage alone (reusing every unit a previous run completed) and returns its
/// outcome: `bqx backtest`.
pub fn backtest(
    store_dir: &Path,
    req: &BacktestRequest,
    progress: &dyn Progress,
) -> Result<BacktestOutcome, AppError> {
    let report = run_pipeline(
        store_dir,
        &RunRequest {
            stages: vec!["backtest".into()],
            backtest: req.clone(),
        },
        "backtest",
        progress,
    )?;
    report
        .backtest
        .ok_or_else(|| AppError::internal("the backtest stage produced no report"))
}
