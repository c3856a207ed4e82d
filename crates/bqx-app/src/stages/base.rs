//! The base stage: the standard feature set of every stored series (and the cross-sectional
//! panel families), skipping series whose bars and feature schema are unchanged.

use std::time::Instant;

use bqx_store::Store;

use super::{Stage, StageCx};
use crate::AppError;
use crate::run::{BaseReport, base_stage, base_summary};

pub(crate) struct BaseStage;

impl Stage for BaseStage {
    fn name(&self) -> &'static str {
        "base"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["panel"]
    }
    fn about(&self) -> &'static str {
        "the causal base features of every series and the panel families"
    }
    fn fingerprint(&self, _: &mut StageCx<'_>, _: &mut Store) -> Result<String, AppError> {
        // Kept per series: bars fingerprint + schema hash in the feature state.
        Ok(String::new())
    }
    fn run(&self, cx: &mut StageCx<'_>, store: &mut Store, run_id: &str) -> Result<(), AppError> {
        let t = Instant::now();
        let (series, panels) = base_stage(store, cx.progress)?;
        let computed = series.iter().filter(|s| s.action == "computed").count();
        cx.base = Some(BaseReport {
            run_id: run_id.to_string(),
            computed,
            current: series.len() - computed,
            series,
            panels,
            seconds: t.elapsed().as_secs_f64(),
        });
        // The stored features changed: anything loaded before is stale.
        cx.loaded = None;
        Ok(())
    }
    fn summary(&self, cx: &StageCx<'_>) -> serde_json::Value {
        match &cx.base {
            Some(b) => base_summary(&(b.series.clone(), b.panels.clone())),
            None => serde_json::Value::Null,
        }
    }
}
