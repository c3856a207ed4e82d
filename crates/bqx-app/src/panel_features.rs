//! The cross-sectional part of the base stage: currency strength and triangular consistency
//! on the aligned 28-pair panel, stored per series next to the per-pair features (stage label
//! `base_panel`). The USD factor is fitted per fold, so it is computed by the backtest, not
//! stored here.

use std::collections::BTreeMap;
use std::time::Instant;

use bqx_domain::{Pair, PriceSide, Timeframe};
use bqx_features::{PanelKernel, PanelSet, run_panel_rows};
use bqx_panel::Panel;
use bqx_store::{FeatureFileWriter, SeriesKey, SeriesSummary, Store};

/// Rows per append to a pair's feature file.
const CHUNK: usize = bqx_store::FEATURE_CHUNK_ROWS;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::progress::{task_advanced, task_finished, task_started};
use crate::run::schema_hash;
use crate::status::SIDE_PREFERENCE;
use crate::{AppError, ErrorCode, Progress};

/// Stage label of the stored panel features.
pub const PANEL_STAGE: &str = "base_panel";

/// What happened to one timeframe's panel.
#[derive(Debug, Clone, Serialize)]
pub struct PanelGroupReport {
    pub timeframe: Timeframe,
    /// The series the panel is made of (one side per pair).
    pub series: Vec<SeriesKey>,
    /// `computed` or `current`.
    pub action: String,
    pub rows: usize,
    pub columns: usize,
    pub seconds: f64,
}

/// The series of each timeframe's panel: per pair, the preferred side (mid, bid, fix, ask).
pub(crate) fn panel_series(summaries: &[SeriesSummary]) -> BTreeMap<Timeframe, Vec<SeriesKey>> {
    let rank = |s: PriceSide| SIDE_PREFERENCE.iter().position(|x| *x == s).unwrap_or(9);
    let mut best: BTreeMap<Timeframe, BTreeMap<Pair, SeriesKey>> = BTreeMap::new();
    for s in summaries {
        let e = best.entry(s.key.timeframe).or_default();
        match e.get(&s.key.pair) {
            Some(k) if rank(k.side) <= rank(s.key.side) => {}
            _ => {
                e.insert(s.key.pair, s.key);
            }
        }
    }
    best.into_iter()
        .map(|(tf, m)| (tf, m.into_values().collect()))
        .collect()
}

/// Computes the panel features of every timeframe whose series changed.
pub(crate) fn panel_features_in(
    store: &mut Store,
    progress: &dyn Progress,
) -> Result<Vec<PanelGroupReport>, AppError> {
    let set = PanelSet::standard();
    let catalog = set.catalog();
    let names: Vec<String> = catalog.iter().map(|f| f.name.clone()).collect();
    let hash = schema_hash(&catalog);
    let groups = panel_series(&store.series_summaries()?);
    task_started(progress, "base_panel", groups.len() as u64, "panels");
    let mut out = Vec::new();
    for (tf, keys) in groups {
        let t0 = Instant::now();
        let mut h = Sha256::new();
        for k in &keys {
            h.update(format!(
                "{} {} {}\n",
                k.pair,
                k.side,
                store.bars_fingerprint(*k)?
            ));
        }
        let fingerprint = hex::encode(h.finalize());
        let mut current = true;
        for k in &keys {
            match store.feature_state(PANEL_STAGE, *k)? {
                Some(s) if s.bars_fingerprint == fingerprint && s.schema_hash == hash => {}
                _ => current = false,
            }
        }
        if current {
            out.push(PanelGroupReport {
                timeframe: tf,
                series: keys,
                action: "current".into(),
                rows: 0,
                columns: names.len(),
                seconds: t0.elapsed().as_secs_f64(),
            });
            task_advanced(progress, "base_panel", 1);
            continue;
        }
        let mut loaded = Vec::with_capacity(keys.len());
        for k in &keys {
            loaded.push((k.pair, k.side, store.load_series(*k)?));
        }
        let refs: Vec<_> = loaded.iter().map(|(p, s, b)| (*p, *s, b)).collect();
        let panel = Panel::align(tf, &refs);
        drop(loaded);
        // Streamed: each pair's rows (those where the pair has a price) collect in a reused
        // column-major buffer that is appended to the pair's file when full, so memory stays
        // bounded however long the panel (a year of M1 held 2 GB of f64 in one piece before).
        let width = names.len();
        let mut writers = Vec::with_capacity(keys.len());
        for k in &keys {
            writers.push(FeatureFileWriter::create(
                store.dir(),
                PANEL_STAGE,
                *k,
                &hash,
                &names,
                &fingerprint,
            )?);
        }
        struct Pending {
            pair: usize,
            ts: Vec<i64>,
            cols: Vec<Vec<f64>>,
        }
        let mut pending: Vec<Pending> = keys
            .iter()
            .map(|k| Pending {
                pair: k.pair.index(),
                ts: Vec::with_capacity(CHUNK),
                cols: (0..width).map(|_| Vec::with_capacity(CHUNK)).collect(),
            })
            .collect();
        let flush = |p: &mut Pending, w: &mut FeatureFileWriter| -> Result<(), AppError> {
            let views: Vec<&[f64]> = p.cols.iter().map(Vec::as_slice).collect();
            w.append(&p.ts, &views)?;
            p.ts.clear();
            p.cols.iter_mut().for_each(Vec::clear);
            Ok(())
        };
        let mut failed: Option<AppError> = None;
        let mut kernel = PanelSet::standard();
        run_panel_rows(&mut kernel, &panel.ts, &panel.close, |i, row| {
            if failed.is_some() {
                return;
            }
            for (p, w) in pending.iter_mut().zip(writers.iter_mut()) {
                if panel.close[p.pair][i].is_nan() {
                    continue;
                }
                p.ts.push(panel.ts[i]);
                for (j, c) in p.cols.iter_mut().enumerate() {
                    c.push(row[p.pair * width + j]);
                }
                if p.ts.len() == CHUNK
                    && let Err(e) = flush(p, w)
                {
                    failed = Some(e);
                    return;
                }
            }
        })
        .map_err(|e| AppError::new(ErrorCode::Internal, format!("panel {tf}: {e}")))?;
        if let Some(e) = failed {
            return Err(e);
        }
        for ((p, mut w), k) in pending.iter_mut().zip(writers).zip(&keys) {
            flush(p, &mut w)?;
            let file = w.finish()?;
            store.commit_features(file).map_err(|e| {
                AppError::new(ErrorCode::Internal, format!("{} {}: {e}", k.pair, k.side))
            })?;
        }
        out.push(PanelGroupReport {
            timeframe: tf,
            series: keys,
            action: "computed".into(),
            rows: panel.rows(),
            columns: names.len(),
            seconds: t0.elapsed().as_secs_f64(),
        });
        task_advanced(progress, "base_panel", 1);
    }
    task_finished(progress, "base_panel");
    Ok(out)
}
