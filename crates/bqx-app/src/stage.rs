//! The bookkeeping every stage shares: a run in the registry, each stage's row with its status
//! and summary, and the stage progress events.

use std::time::Instant;

use bqx_store::{RunStatus, Store};

use crate::{AppError, Progress, ProgressEvent};

/// One run in the registry, holding the store while its stages execute in order.
pub(crate) struct RunContext<'a> {
    pub store: &'a mut Store,
    pub run_id: String,
    progress: &'a dyn Progress,
    failed: bool,
}

impl<'a> RunContext<'a> {
    /// Records a new run of kind `kind` with its arguments.
    pub fn begin(
        store: &'a mut Store,
        kind: &str,
        args: &serde_json::Value,
        progress: &'a dyn Progress,
    ) -> Result<RunContext<'a>, AppError> {
        let run_id = store.begin_run(kind, args)?;
        progress.event(ProgressEvent::RunStarted {
            run_id: run_id.clone(),
            kind: kind.into(),
        });
        Ok(RunContext {
            store,
            run_id,
            progress,
            failed: false,
        })
    }

    /// Runs `body` as stage `stage`, recording start, end, status and `summary(result)` (or
    /// the error) in the registry and reporting the stage to the progress sink. The body's
    /// error is returned after it was recorded.
    pub fn stage<T>(
        &mut self,
        stage: &str,
        summary: impl FnOnce(&T) -> serde_json::Value,
        body: impl FnOnce(&mut Store, &str) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let started = Instant::now();
        self.store.begin_stage(&self.run_id, stage, None)?;
        self.progress.event(ProgressEvent::StageStarted {
            stage: stage.into(),
        });
        let result = body(self.store, &self.run_id);
        let status = if result.is_ok() {
            RunStatus::Succeeded
        } else {
            self.failed = true;
            RunStatus::Failed
        };
        let recorded = match &result {
            Ok(value) => summary(value),
            Err(e) => serde_json::json!({ "error": e }),
        };
        self.store
            .finish_stage(&self.run_id, stage, status, &recorded)?;
        self.progress.event(ProgressEvent::StageFinished {
            stage: stage.into(),
            status: status.as_str().into(),
            secs: started.elapsed().as_secs_f64(),
        });
        result
    }

    /// Closes the run: succeeded unless a stage failed or `error` is given.
    pub fn finish(self, error: Option<&AppError>) -> Result<String, AppError> {
        let status = if self.failed || error.is_some() {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        self.store
            .finish_run(&self.run_id, status, error.map(|e| e.message.as_str()))?;
        Ok(self.run_id)
    }
}

/// Runs `body` as the one stage `stage` of a new run of kind `kind`. Returns the run id with the
/// body's result; the body's error is returned after it was recorded.
pub(crate) fn run_single_stage<T>(
    store: &mut Store,
    kind: &str,
    args: &serde_json::Value,
    stage: &str,
    progress: &dyn Progress,
    summary: impl FnOnce(&T) -> serde_json::Value,
    body: impl FnOnce(&mut Store, &str) -> Result<T, AppError>,
) -> Result<(String, T), AppError> {
    let mut run = RunContext::begin(store, kind, args, progress)?;
    let result = run.stage(stage, summary, body);
    let run_id = run.finish(result.as_ref().err())?;
    Ok((run_id, result?))
}
