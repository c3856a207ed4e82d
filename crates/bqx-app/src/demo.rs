//! `bqx demo`: the whole pipeline that exists so far, on the embedded ECB reference rates.

use std::path::Path;

use serde::Serialize;

use crate::{
    AppError, IngestRequest, IngestResponse, OnlineReport, OnlineRequest, Progress, RunReport,
    RunRequest, StatusReport, ingest, online, run_pipeline, status,
};

/// The ECB euro foreign-exchange reference rates, 1999-01-04 … 2026-10-30 (source: European
/// Central Bank), shipped inside the binary.
pub fn embedded_ecb_zip() -> &'static [u8] {
    include_bytes!("../../../data/ecb/eurofxref-hist.zip")
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub ingest: IngestResponse,
    pub status: StatusReport,
    /// The pipeline run: panel, base features, cross-pair, selection, walk-forward backtest.
    pub run: RunReport,
    /// The online loop (stage 2.19) over the last 30 % of the stored bars.
    pub online: OnlineReport,
}

/// Ingests the embedded ECB history into the store at `store_dir` (idempotent: a second run
/// adds nothing), reports the data health of the resulting panel, computes the base features
/// and runs the walk-forward backtest of the baselines (each skipped or resumed where current),
/// then the online loop over the last 30 % of each pair's bars (resumed where it stopped).
pub fn demo(store_dir: &Path, progress: &dyn Progress) -> Result<DemoReport, AppError> {
    let inputs = store_dir.join("inputs");
    std::fs::create_dir_all(&inputs)
        .map_err(|e| AppError::internal(format!("{}: {e}", inputs.display())))?;
    let zip = inputs.join("eurofxref-hist.zip");
    let bytes = embedded_ecb_zip();
    if std::fs::read(&zip).ok().as_deref() != Some(bytes) {
        std::fs::write(&zip, bytes)
            .map_err(|e| AppError::internal(format!("{}: {e}", zip.display())))?;
    }
    let ingest = ingest(store_dir, &IngestRequest::files(vec![zip]), progress)?;
    let status = status(store_dir)?;
    let run = run_pipeline(store_dir, &RunRequest::default(), "demo", progress)?;
    // A second demo resumes the finished session (nothing left to replay) instead of redoing it.
    let online = online(
        store_dir,
        &OnlineRequest::default(),
        progress,
        0,
        &std::sync::atomic::AtomicBool::new(false),
        &mut |_| {},
    )?;
    Ok(DemoReport {
        ingest,
        status,
        run,
        online,
    })
}
