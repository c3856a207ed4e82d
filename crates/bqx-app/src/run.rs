//! `bqx run --stages …`: the stages of the pipeline that exist so far, skipping what is current.

use std::path::Path;
use std::time::Instant;

use bqx_domain::BarColumns;
use bqx_features::{FeatureSet, FeatureSpec, Kernel, compute_batch};
use bqx_store::{FeatureWrite, SeriesKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::progress::{task_advanced, task_finished, task_started};
use crate::stage::run_single_stage;
use crate::{AppError, ErrorCode, Progress, open_store};

/// The stages of product.md, in order, and whether this build has them.
pub const STAGES: [(&str, bool); 10] = [
    ("ingest", true),
    ("panel", true),
    ("base", true),
    ("cross", false),
    ("embed", false),
    ("select", false),
    ("train", false),
    ("backtest", false),
    ("online", false),
    ("export", true),
];

/// What happened to one series in the base stage.
#[derive(Debug, Clone, Serialize)]
pub struct BaseSeriesReport {
    pub key: SeriesKey,
    /// `computed` or `current` (skipped: same bars and same feature schema as stored).
    pub action: String,
    pub close_only: bool,
    pub rows: u64,
    pub columns: u32,
    pub table: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaseReport {
    pub run_id: String,
    pub series: Vec<BaseSeriesReport>,
    pub computed: usize,
    pub current: usize,
    pub seconds: f64,
}

/// The hash of a feature schema: crate version, and every column's name and formula in order.
pub fn schema_hash(catalog: &[FeatureSpec]) -> String {
    let mut h = Sha256::new();
    h.update(format!("bqx-features {}\n", env!("CARGO_PKG_VERSION")));
    for f in catalog {
        h.update(format!("{}\t{}\t{}\n", f.name, f.formula, f.warmup));
    }
    hex::encode(h.finalize())
}

/// A close-only series: open = high = low = close on every bar (e.g. the ECB's fixes).
fn is_close_only(b: &BarColumns) -> bool {
    (0..b.len())
        .all(|i| b.open[i] == b.close[i] && b.high[i] == b.close[i] && b.low[i] == b.close[i])
}

/// Runs the requested stages. Only built stages are accepted; the others are named as not
/// built yet, never faked.
pub fn run_stages(
    store_dir: &Path,
    stages: &[String],
    progress: &dyn Progress,
) -> Result<BaseReport, AppError> {
    for s in stages {
        match STAGES.iter().find(|(name, _)| name == s) {
            Some((_, true)) if s == "base" => {}
            Some((_, true)) => {
                return Err(AppError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "stage '{s}' runs through its own command (`bqx ingest`, `bqx status`, `bqx export`)"
                    ),
                ));
            }
            Some((_, false)) => {
                return Err(AppError::new(
                    ErrorCode::InvalidArgument,
                    format!("stage '{s}' is not built yet (built: ingest, panel, base, export)"),
                ));
            }
            None => {
                return Err(AppError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "unknown stage '{s}' (stages: {})",
                        STAGES
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
    }
    if !store_dir.join(bqx_store::DUCKDB_FILE).exists() {
        return Err(AppError::new(
            ErrorCode::InvalidArgument,
            format!("no store at {} (ingest data first)", store_dir.display()),
        ));
    }
    run_base(store_dir, progress)
}

/// The base stage: the standard feature set for every stored series whose bars or feature
/// schema changed since it was last computed.
pub fn run_base(store_dir: &Path, progress: &dyn Progress) -> Result<BaseReport, AppError> {
    let started = Instant::now();
    let mut store = open_store(store_dir, "bqx run --stages base")?;
    let (run_id, series) = run_single_stage(
        &mut store,
        "run",
        &serde_json::json!({ "stages": ["base"] }),
        "base",
        progress,
        |series: &Vec<BaseSeriesReport>| {
            serde_json::json!({
                "computed": series.iter().filter(|s| s.action == "computed").count(),
                "current": series.iter().filter(|s| s.action == "current").count(),
            })
        },
        |store, _| base_in(store, progress),
    )?;
    Ok(BaseReport {
        run_id,
        computed: series.iter().filter(|s| s.action == "computed").count(),
        current: series.iter().filter(|s| s.action == "current").count(),
        series,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The two schemas of the standard set (OHLC and close-only sources) with their hashes,
/// computed once per stage run.
struct BaseSchema {
    close_only: bool,
    names: Vec<String>,
    hash: String,
}

impl BaseSchema {
    fn new(close_only: bool) -> BaseSchema {
        let catalog = FeatureSet::standard_for_source(close_only).catalog();
        BaseSchema {
            close_only,
            hash: schema_hash(&catalog),
            names: catalog.into_iter().map(|f| f.name).collect(),
        }
    }
}

impl BaseSeriesReport {
    fn new(
        key: SeriesKey,
        action: &str,
        close_only: bool,
        state: bqx_store::FeatureState,
        t0: Instant,
    ) -> BaseSeriesReport {
        BaseSeriesReport {
            key,
            action: action.into(),
            close_only,
            rows: state.rows,
            columns: state.columns,
            table: state.table_name,
            seconds: t0.elapsed().as_secs_f64(),
        }
    }
}

fn base_in(
    store: &mut bqx_store::Store,
    progress: &dyn Progress,
) -> Result<Vec<BaseSeriesReport>, AppError> {
    let schemas = [BaseSchema::new(false), BaseSchema::new(true)];
    let summaries = store.series_summaries()?;
    task_started(progress, "base", summaries.len() as u64, "series");
    let mut out = Vec::with_capacity(summaries.len());
    for s in summaries {
        let t0 = Instant::now();
        // Current when the bars are unchanged and the stored schema is one of today's: whether
        // a series is close-only is a function of its bars, so an unchanged fingerprint keeps
        // the schema choice, and nothing has to be loaded.
        let fingerprint = store.bars_fingerprint(s.key)?;
        if let Some(state) = store.feature_state("base", s.key)?
            && state.bars_fingerprint == fingerprint
            && let Some(schema) = schemas.iter().find(|x| x.hash == state.schema_hash)
        {
            out.push(BaseSeriesReport::new(
                s.key,
                "current",
                schema.close_only,
                state,
                t0,
            ));
            task_advanced(progress, "base", 1);
            continue;
        }
        let bars = store.load_series(s.key)?;
        let schema = &schemas[usize::from(is_close_only(&bars))];
        let mut set = FeatureSet::standard_for_source(schema.close_only);
        let m = compute_batch(&mut set, &bars).map_err(|e| {
            AppError::new(
                ErrorCode::Internal,
                format!("{} {}: {e}", s.key.pair, s.key.side),
            )
        })?;
        let state = store.write_features(FeatureWrite {
            stage: "base",
            key: s.key,
            schema_hash: &schema.hash,
            names: &schema.names,
            ts: &bars.ts,
            columns: (0..schema.names.len()).map(|j| m.column(j)).collect(),
            bars_fingerprint: &fingerprint,
        })?;
        out.push(BaseSeriesReport::new(
            s.key,
            "computed",
            schema.close_only,
            state,
            t0,
        ));
        task_advanced(progress, "base", 1);
    }
    task_finished(progress, "base");
    Ok(out)
}
