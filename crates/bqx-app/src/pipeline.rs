//! `bqx run`: the built stages of the pipeline in one registered run. Each stage skips what is
//! current (the base stage by bars fingerprint and feature-schema hash, the backtest unit by
//! unit), so a run killed at any point resumes when it is started again.

use std::path::Path;
use std::time::Instant;

use bqx_panel::PanelHealth;
use serde::Serialize;

use crate::backtest::{BacktestOutcome, BacktestRequest, backtest_in};
use crate::run::{BaseReport, base_stage, base_summary, check_stages};
use crate::stage::RunContext;
use crate::{AppError, ErrorCode, Progress, open_store, status};

/// What `bqx run` is asked to do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunRequest {
    /// Stages to run (empty: every built stage that `bqx run` executes).
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
    pub backtest: Option<BacktestOutcome>,
    pub seconds: f64,
}

/// Runs the requested stages (in pipeline order) as one run of kind `kind`.
pub fn run_pipeline(
    store_dir: &Path,
    req: &RunRequest,
    kind: &str,
    progress: &dyn Progress,
) -> Result<RunReport, AppError> {
    let stages = check_stages(&req.stages)?;
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
    // The panel's health report reads the store on its own (it opens and closes it).
    let panels = if stages.contains(&"panel") {
        Some(status(store_dir)?.panels)
    } else {
        None
    };
    let mut store = open_store(store_dir, &format!("bqx {kind}"))?;
    let args = serde_json::to_value(req).expect("request serializes");
    let mut run = RunContext::begin(&mut store, kind, &args, progress)?;
    let mut lines = Vec::new();
    let mut base = None;
    let mut backtest = None;
    let mut failure = None;
    for stage in stages {
        let t0 = Instant::now();
        let result: Result<serde_json::Value, AppError> = match stage {
            "panel" => {
                let p = panels.clone().unwrap_or_default();
                run.stage(
                    "panel",
                    |p: &Vec<PanelHealth>| {
                        serde_json::json!(
                            p.iter()
                                .map(|x| serde_json::json!({
                                    "timeframe": x.timeframe.to_string(),
                                    "rows": x.rows,
                                    "complete_rows": x.complete_rows,
                                    "pairs_present": x.pairs_present,
                                }))
                                .collect::<Vec<_>>()
                        )
                    },
                    |_, _| Ok(p),
                )
                .map(|p| serde_json::json!({ "panels": p.len() }))
            }
            "base" => {
                let t = Instant::now();
                let run_id = run.run_id.clone();
                run.stage("base", base_summary, |store, _| base_stage(store, progress))
                    .map(|(series, panels)| {
                        let summary = base_summary(&(series.clone(), panels.clone()));
                        let computed = series.iter().filter(|s| s.action == "computed").count();
                        base = Some(BaseReport {
                            run_id,
                            computed,
                            current: series.len() - computed,
                            series,
                            panels,
                            seconds: t.elapsed().as_secs_f64(),
                        });
                        summary
                    })
            }
            "backtest" => run
                .stage(
                    "backtest",
                    |o: &BacktestOutcome| {
                        serde_json::json!({
                            "units": o.units,
                            "reused_units": o.reused_units,
                            "eval_key": o.eval_key,
                            "series": o.series,
                            "report": o.report_path,
                        })
                    },
                    |store, run_id| backtest_in(store, run_id, &req.backtest, progress),
                )
                .map(|o| {
                    let s = serde_json::json!({ "units": o.units, "reused_units": o.reused_units });
                    backtest = Some(o);
                    s
                }),
            _ => unreachable!("check_stages returns runnable stages only"),
        };
        match result {
            Ok(summary) => lines.push(StageLine {
                stage: stage.into(),
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
        panels,
        base,
        backtest,
        seconds: started.elapsed().as_secs_f64(),
    })
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
