//! The BQX ML API boundary: one function per use case, serializable requests and responses, and
//! progress events. The CLI, the HTTP server and the desktop shell are thin layers over this
//! crate, so the three surfaces cannot drift apart.

mod backtest;
mod catalog;
mod decimate;
mod demo;
mod error;
mod export;
mod ingest;
mod networks;
mod online;
mod panel_features;
mod pipeline;
mod predict;
mod progress;
mod run;
mod service;
mod stage;
mod stages;
mod status;
mod synth;

use std::path::{Path, PathBuf};

pub use backtest::{AbsentFeature, BacktestOutcome, BacktestRequest, FeatureScope, metric_rows};
pub use bqx_models::configure_cpu_threads;
pub use catalog::{FeatureCatalog, feature_catalog};
pub use decimate::{decimate_minmax, drawdown};
pub use demo::{DemoReport, demo, embedded_ecb_zip};
pub use error::{AppError, ErrorCode};
pub use export::{ExportReport, ExportedDataset, export_parquet};
pub use ingest::{
    FileReport, IngestRequest, IngestResponse, IngestTotals, RejectionSummary, ingest,
};
pub use networks::{DEFAULT_PROFILE, autoencoder_config, network_specs, profile_names};
pub use online::{
    AlertView, BarsAccepted, BarsRequest, ChallengerView, INBOX, MAX_POSTED_BARS, MIN_TRAIN_ROWS,
    OnlineBlock, OnlineEvent, OnlinePair, OnlineReport, OnlineRequest, OnlineScore,
    OnlineSessionSummary, OnlineSessionView, OnlineStats, PairStats, PostedBar, alerts, online,
    online_rollback, online_session, online_sessions, post_bars,
};
pub use panel_features::{PANEL_STAGE, PanelGroupReport};
pub use pipeline::{RunReport, RunRequest, StageLine, backtest, run_pipeline};
pub use predict::{
    LoadedChampion, PredictRequest, PredictResponse, RegimeProbabilities, load_champion, parse_at,
    predict,
};
pub use progress::{NoProgress, Progress, ProgressEvent};
pub use run::{BaseReport, BaseSeriesReport, run_base, schema_hash};
pub use service::{
    Coverage, CoverageRow, Equity, JobSnapshot, JobStage, JobTask, MAX_POINTS, MetricFilter,
    Pipeline, PipelineStage, Predictions, PriceSeries, RunDetail, RunStage, RunSummary, Service,
    ServiceEvent,
};
pub use stages::{
    CrossSummary, FollowerLeadLag, NetworkBrief, SelectSummary, StageInfo, check_stages,
    stage_table,
};
pub use status::{StatusReport, status};
pub use synth::{SynthFormat, SynthRequest, SynthResponse, synth};

pub use bqx_eval::Interval;
pub use bqx_eval::report::{SkillVerdict, Verdict};
pub use bqx_ingest::{FormatChoice, SourceTz};
pub use bqx_online::{
    Alert, Decision, DecisionKind, MEMBERS as ONLINE_MEMBERS, OnlineConfig, PairedTest, Severity,
    Signal,
};
pub use bqx_store::{AlertRow, ArtifactRow, LogRow, MetricRow};

/// The store directory: `--store DIR`, else `$BQX_HOME`, else the platform's data directory
/// (`~/.local/share/bqx` on Linux).
pub fn resolve_store_dir(flag: Option<&Path>) -> Result<PathBuf, AppError> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    if let Some(home) = std::env::var_os("BQX_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    directories::ProjectDirs::from("", "", "bqx")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| {
            AppError::new(
                ErrorCode::InvalidArgument,
                "cannot find a data directory for this user; pass --store DIR or set BQX_HOME",
            )
        })
}

/// The store to show (`bqx serve`, the desktop app): `--store DIR`, else `$BQX_HOME`, else the
/// data directory when it holds a store, else its `demo` store when only that exists (where
/// `bqx demo` writes by default), else the data directory.
pub fn resolve_view_store_dir(flag: Option<&Path>) -> Result<PathBuf, AppError> {
    let explicit = flag.is_some() || std::env::var_os("BQX_HOME").is_some_and(|v| !v.is_empty());
    let dir = resolve_store_dir(flag)?;
    if explicit || dir.join(bqx_store::DUCKDB_FILE).exists() {
        return Ok(dir);
    }
    let demo = dir.join("demo");
    if demo.join(bqx_store::DUCKDB_FILE).exists() {
        return Ok(demo);
    }
    Ok(dir)
}

/// Opens the store at `dir` for this process, describing it as `holder` to anyone else.
pub(crate) fn open_store(dir: &Path, holder: &str) -> Result<bqx_store::Store, AppError> {
    bqx_store::Store::open(dir, holder).map_err(AppError::from)
}
