//! `bqx run --stages …`: the stages of the pipeline that exist so far, skipping what is current.

use std::path::Path;
use std::time::Instant;

use bqx_domain::BarColumns;
use bqx_features::{FeatureSet, FeatureSpec, Kernel, SourceCaps, compute_chunks};
use bqx_store::SeriesKey;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::progress::{task_advanced, task_finished, task_started};
use crate::stage::run_single_stage;
use crate::{AppError, Progress, open_store};

/// What happened to one series in the base stage.
#[derive(Debug, Clone, Serialize)]
pub struct BaseSeriesReport {
    pub key: SeriesKey,
    /// `computed` or `current` (skipped: same bars and same feature schema as stored).
    pub action: String,
    pub close_only: bool,
    pub rows: u64,
    pub columns: u32,
    /// The series' feature file, relative to the store directory.
    pub file: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BaseReport {
    pub run_id: String,
    pub series: Vec<BaseSeriesReport>,
    /// The cross-sectional families per timeframe panel.
    pub panels: Vec<crate::panel_features::PanelGroupReport>,
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
pub(crate) fn is_close_only(b: &BarColumns) -> bool {
    (0..b.len())
        .all(|i| b.open[i] == b.close[i] && b.high[i] == b.close[i] && b.low[i] == b.close[i])
}

/// The base stage: the standard feature set for every stored series whose bars or feature
/// schema changed since it was last computed.
pub fn run_base(store_dir: &Path, progress: &dyn Progress) -> Result<BaseReport, AppError> {
    let started = Instant::now();
    let mut store = open_store(store_dir, "bqx run --stages base")?;
    let (run_id, (series, panels)) = run_single_stage(
        &mut store,
        "run",
        &serde_json::json!({ "stages": ["base"] }),
        "base",
        progress,
        base_summary,
        |store, _| base_stage(store, progress),
    )?;
    Ok(BaseReport {
        run_id,
        panels,
        computed: series.iter().filter(|s| s.action == "computed").count(),
        current: series.iter().filter(|s| s.action == "current").count(),
        series,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The schema of the standard set for one kind of source, with its hash.
struct BaseSchema {
    caps: SourceCaps,
    names: Vec<String>,
    hash: String,
}

impl BaseSchema {
    fn new(caps: SourceCaps) -> BaseSchema {
        let catalog = FeatureSet::for_source(caps).catalog();
        BaseSchema {
            caps,
            hash: schema_hash(&catalog),
            names: catalog.into_iter().map(|f| f.name).collect(),
        }
    }

    /// Every schema today's build can produce (close-only × spread × volume).
    fn all() -> Vec<BaseSchema> {
        let mut v = Vec::new();
        for close_only in [false, true] {
            for has_spread in [false, true] {
                for has_volume in [false, true] {
                    v.push(BaseSchema::new(SourceCaps {
                        close_only,
                        has_spread,
                        has_volume,
                    }));
                }
            }
        }
        v
    }

    fn for_bars(all: &[BaseSchema], bars: &BarColumns) -> usize {
        let caps = SourceCaps::of(bars, is_close_only(bars));
        all.iter()
            .position(|s| s.caps == caps)
            .expect("every combination of source capabilities has a schema")
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
            file: state.file,
            seconds: t0.elapsed().as_secs_f64(),
        }
    }
}

type BaseOutcome = (
    Vec<BaseSeriesReport>,
    Vec<crate::panel_features::PanelGroupReport>,
);

pub(crate) fn base_summary(o: &BaseOutcome) -> serde_json::Value {
    serde_json::json!({
        "computed": o.0.iter().filter(|s| s.action == "computed").count(),
        "current": o.0.iter().filter(|s| s.action == "current").count(),
        "panels_computed": o.1.iter().filter(|s| s.action == "computed").count(),
        "panels_current": o.1.iter().filter(|s| s.action == "current").count(),
    })
}

/// The whole base stage: per-series families, then the cross-sectional ones per panel.
pub(crate) fn base_stage(
    store: &mut bqx_store::Store,
    progress: &dyn Progress,
) -> Result<BaseOutcome, AppError> {
    let series = base_in(store, progress)?;
    let panels = crate::panel_features::panel_features_in(store, progress)?;
    Ok((series, panels))
}

fn base_in(
    store: &mut bqx_store::Store,
    progress: &dyn Progress,
) -> Result<Vec<BaseSeriesReport>, AppError> {
    let schemas = BaseSchema::all();
    let summaries = store.series_summaries()?;
    task_started(progress, "base", summaries.len() as u64, "series");
    let mut out = Vec::with_capacity(summaries.len());
    // Current when the bars are unchanged and the stored schema is one of today's: whether
    // a series is close-only is a function of its bars, so an unchanged fingerprint keeps
    // the schema choice, and nothing has to be loaded.
    let mut stale = Vec::new();
    for s in summaries {
        let t0 = Instant::now();
        let fingerprint = store.bars_fingerprint(s.key)?;
        if let Some(state) = store.feature_state("base", s.key)?
            && state.bars_fingerprint == fingerprint
            && let Some(schema) = schemas.iter().find(|x| x.hash == state.schema_hash)
        {
            out.push(BaseSeriesReport::new(
                s.key,
                "current",
                schema.caps.close_only,
                state,
                t0,
            ));
            task_advanced(progress, "base", 1);
            continue;
        }
        stale.push((s.key, fingerprint));
    }

    // A pipeline: this thread loads the stale series one by one (the store's connection is
    // not shared) and records each finished file as it arrives, so a killed run keeps every
    // series recorded before the kill; the rayon threads compute each series in chunks and
    // stream them into its Parquet file (no connection needed), in parallel.
    let store_dir = store.dir().to_path_buf();
    let computed = std::thread::scope(|scope| -> Result<Vec<BaseSeriesReport>, AppError> {
        type Done = (
            SeriesKey,
            bool,
            Result<bqx_store::FeatureFile, AppError>,
            Instant,
        );
        let (work_tx, work_rx) =
            std::sync::mpsc::sync_channel::<(SeriesKey, &String, BarColumns)>(1);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Done>();
        let schemas = &schemas;
        let store_dir = &store_dir;
        scope.spawn(move || {
            work_rx.into_iter().par_bridge().for_each_with(
                done_tx,
                |tx, (key, fingerprint, bars)| {
                    let t0 = Instant::now();
                    let schema = &schemas[BaseSchema::for_bars(schemas, &bars)];
                    let written = (|| -> Result<bqx_store::FeatureFile, AppError> {
                        let mut set = FeatureSet::for_source(schema.caps);
                        let mut file = bqx_store::FeatureFileWriter::create(
                            store_dir,
                            "base",
                            key,
                            &schema.hash,
                            &schema.names,
                            fingerprint,
                        )?;
                        // Streamed: a chunk of rows is computed, then written, in one buffer.
                        compute_chunks(
                            &mut set,
                            &bars,
                            bqx_store::FEATURE_CHUNK_ROWS,
                            |first, columns: &[&[f64]]| {
                                let rows = columns.first().map_or(0, |c| c.len());
                                file.append(&bars.ts[first..first + rows], columns)
                                    .map_err(AppError::from)
                            },
                        )
                        .map_err(|e| {
                            AppError::new(
                                e.code,
                                format!("{} {}: {}", key.pair, key.side, e.message),
                            )
                        })?;
                        Ok(file.finish()?)
                    })();
                    // The receiver is gone only when it stopped on an error.
                    let _ = tx.send((key, schema.caps.close_only, written, t0));
                },
            );
        });
        let mut written = Vec::with_capacity(stale.len());
        let mut record = |(key, close_only, file, t0): Done,
                          store: &mut bqx_store::Store|
         -> Result<(), AppError> {
            let state = store.commit_features(file?)?;
            written.push(BaseSeriesReport::new(
                key, "computed", close_only, state, t0,
            ));
            task_advanced(progress, "base", 1);
            Ok(())
        };
        for (key, fingerprint) in &stale {
            let bars = store.load_series(*key)?;
            if work_tx.send((*key, fingerprint, bars)).is_err() {
                break;
            }
            while let Ok(done) = done_rx.try_recv() {
                record(done, store)?;
            }
        }
        drop(work_tx);
        for done in done_rx {
            record(done, store)?;
        }
        Ok(written)
    })?;
    out.extend(computed);
    out.sort_by_key(|r| r.key);
    task_finished(progress, "base");
    Ok(out)
}
