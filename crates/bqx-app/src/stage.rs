//! The bookkeeping every stage shares: a run in the registry, the stage's row with its status
//! and summary, and the stage progress events.

use std::time::Instant;

use bqx_store::{RunStatus, Store};

use crate::{AppError, Progress, ProgressEvent};

/// Runs `body` as stage `stage` of a new run of kind `kind`, recording start, end, status and
/// `summary(result)` (or the error) in the registry and reporting the stage to `progress`.
/// Returns the run id with the body's result; the body's error is returned after it was
/// recorded.
pub(crate) fn run_single_stage<T>(
    store: &mut Store,
    kind: &str,
    args: &serde_json::Value,
    stage: &str,
    progress: &dyn Progress,
    summary: impl FnOnce(&T) -> serde_json::Value,
    body: impl FnOnce(&mut Store, &str) -> Result<T, AppError>,
) -> Result<(String, T), AppError> {
    let started = Instant::now();
    let run_id = store.begin_run(kind, args)?;
    store.begin_stage(&run_id, stage, None)?;
    progress.event(ProgressEvent::StageStarted {
        stage: stage.into(),
    });
    let result = body(store, &run_id);
    let status = if result.is_ok() {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    let recorded = match &result {
        Ok(value) => summary(value),
        Err(e) => serde_json::json!({ "error": e }),
    };
    store.finish_stage(&run_id, stage, status, &recorded)?;
    store.finish_run(
        &run_id,
        status,
        result.as_ref().err().map(|e| e.message.as_str()),
    )?;
    progress.event(ProgressEvent::StageFinished {
        stage: stage.into(),
        status: status.as_str().into(),
        secs: started.elapsed().as_secs_f64(),
    });
    Ok((run_id, result?))
}
