//! The backtest stage: the purged walk-forward evaluation of every model on the features the
//! request names (base, base + cross-pair, or the selected ones), with the per-fold fits of the
//! cross and select stages; units are kept in the store so a killed run resumes.

use bqx_store::Store;

use super::{Stage, StageCx};
use crate::AppError;
use crate::backtest::backtest_with;

pub(crate) struct BacktestStage;

/// The keys of the per-fold stages whose fits the units read (select, else cross; and embed):
/// part of the units' key, shared by the train stage and the backtest.
pub(crate) fn upstream_key(cx: &StageCx<'_>) -> Option<String> {
    let base = cx
        .select
        .as_ref()
        .map(|s| s.key.clone())
        .or_else(|| cx.cross.as_ref().map(|c| c.key.clone()));
    match (&base, &cx.embed) {
        (_, Some(e)) => Some(format!("{} embed {}", base.unwrap_or_default(), e.key)),
        _ => base,
    }
}

impl Stage for BacktestStage {
    fn name(&self) -> &'static str {
        "backtest"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["select", "embed", "train"]
    }
    fn about(&self) -> &'static str {
        "purged walk-forward backtest of every model beside the baselines"
    }
    fn fingerprint(&self, cx: &mut StageCx<'_>, store: &mut Store) -> Result<String, AppError> {
        let upstream = upstream_key(cx);
        let l = cx.loaded(store)?;
        Ok(crate::backtest::eval_key(
            &l.cfg,
            &l.inputs.fingerprint,
            upstream.as_deref(),
        ))
    }
    fn run(&self, cx: &mut StageCx<'_>, store: &mut Store, run_id: &str) -> Result<(), AppError> {
        let key = self.fingerprint(cx, store)?;
        let fits = cx.fold_fits();
        let progress = cx.progress;
        let l = cx.loaded(store)?;
        let outcome = backtest_with(store, run_id, l, &fits, key, progress)?;
        cx.backtest = Some(outcome);
        Ok(())
    }
    fn summary(&self, cx: &StageCx<'_>) -> serde_json::Value {
        match &cx.backtest {
            Some(o) => serde_json::json!({
                "units": o.units,
                "reused_units": o.reused_units,
                "eval_key": o.eval_key,
                "series": o.series,
                "report": o.report_path,
                "features": o.report.features.len(),
            }),
            None => serde_json::Value::Null,
        }
    }
}
