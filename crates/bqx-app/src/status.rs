//! `bqx status`: per-series data health and the aligned panel's health.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bqx_domain::{BarColumns, Pair, PriceSide, Timeframe};
use bqx_panel::{Panel, PanelHealth, SeriesHealth, panel_health, series_health};
use rayon::prelude::*;
use serde::Serialize;

use crate::{AppError, ErrorCode, open_store};

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub store: PathBuf,
    pub schema_versions: (u32, u32),
    pub source_files: u64,
    pub bars: u64,
    pub quarantined: u64,
    pub quarantine_by_kind: Vec<(String, u64)>,
    pub series: Vec<SeriesHealth>,
    /// One aligned panel per timeframe present, with the side chosen per pair
    /// (mid, else bid, else fix, else ask).
    pub panels: Vec<PanelHealth>,
}

/// Preference of price sides for the panel.
pub(crate) const SIDE_PREFERENCE: [PriceSide; 4] = [
    PriceSide::Mid,
    PriceSide::Bid,
    PriceSide::Fix,
    PriceSide::Ask,
];

pub fn status(store_dir: &Path) -> Result<StatusReport, AppError> {
    if !store_dir.join(bqx_store::DUCKDB_FILE).exists() {
        return Err(AppError::new(
            ErrorCode::InvalidArgument,
            format!(
                "no store at {} (run `bqx ingest FILE…` or `bqx demo` first, or pass --store DIR)",
                store_dir.display()
            ),
        ));
    }
    let store = open_store(store_dir, "bqx status")?;
    status_in(&store)
}

/// The status of an open store.
pub(crate) fn status_in(store: &bqx_store::Store) -> Result<StatusReport, AppError> {
    let store_dir = store.dir();
    let summaries = store.series_summaries()?;
    let mut loaded: Vec<(bqx_store::SeriesKey, BarColumns)> = Vec::with_capacity(summaries.len());
    for s in &summaries {
        loaded.push((s.key, store.load_series(s.key)?));
    }
    let (bars, quarantined) = store.counts()?;
    let (quarantine_by_kind, source_files) = store.quarantine_summary()?;
    let schema_versions = store.schema_versions()?;

    let series: Vec<SeriesHealth> = loaded
        .par_iter()
        .map(|(k, b)| series_health(k.pair, k.side, k.timeframe, b))
        .collect();

    // Panels: per timeframe, one side per pair.
    let mut by_tf: BTreeMap<Timeframe, BTreeMap<Pair, (PriceSide, &BarColumns)>> = BTreeMap::new();
    for (k, b) in &loaded {
        let entry = by_tf.entry(k.timeframe).or_default();
        let rank = |s: PriceSide| SIDE_PREFERENCE.iter().position(|x| *x == s).unwrap_or(9);
        match entry.get(&k.pair) {
            Some((s, _)) if rank(*s) <= rank(k.side) => {}
            _ => {
                entry.insert(k.pair, (k.side, b));
            }
        }
    }
    let panels = by_tf
        .into_iter()
        .map(|(tf, pairs)| {
            let series: Vec<(Pair, PriceSide, &BarColumns)> =
                pairs.into_iter().map(|(p, (s, b))| (p, s, b)).collect();
            panel_health(&Panel::align(tf, &series))
        })
        .collect();
    Ok(StatusReport {
        store: store_dir.to_path_buf(),
        schema_versions,
        source_files,
        bars,
        quarantined,
        quarantine_by_kind,
        series,
        panels,
    })
}
