//! The panel stage: the aligned 28-pair panel of each timeframe and its data-health report.

use bqx_store::Store;

use super::{Stage, StageCx};
use crate::AppError;

pub(crate) struct PanelStage;

impl Stage for PanelStage {
    fn name(&self) -> &'static str {
        "panel"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["ingest"]
    }
    fn about(&self) -> &'static str {
        "bars of every pair aligned per timeframe, with the data-health report"
    }
    fn fingerprint(&self, _: &mut StageCx<'_>, _: &mut Store) -> Result<String, AppError> {
        // Cheap to recompute; never cached.
        Ok(String::new())
    }
    fn run(&self, cx: &mut StageCx<'_>, store: &mut Store, _: &str) -> Result<(), AppError> {
        cx.panels = Some(crate::status::status_in(store)?.panels);
        Ok(())
    }
    fn summary(&self, cx: &StageCx<'_>) -> serde_json::Value {
        serde_json::json!(
            cx.panels
                .iter()
                .flatten()
                .map(|x| serde_json::json!({
                    "timeframe": x.timeframe.to_string(),
                    "rows": x.rows,
                    "complete_rows": x.complete_rows,
                    "pairs_present": x.pairs_present,
                }))
                .collect::<Vec<_>>()
        )
    }
}
