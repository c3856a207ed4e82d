//! `bqx export --parquet DIR`: the stored feature panel as Hive-partitioned Parquet with a
//! metadata JSON, readable as is by DuckDB, Polars or Spark.

use std::path::{Path, PathBuf};
use std::time::Instant;

use bqx_store::ExportedTable;
use serde::Serialize;

use crate::{AppError, ErrorCode, open_store};

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub dir: PathBuf,
    /// `DIR/metadata.json`.
    pub metadata: PathBuf,
    pub datasets: Vec<ExportedDataset>,
    pub seconds: f64,
}

/// One dataset (one feature schema) of the export, as described in `metadata.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedDataset {
    pub stage: String,
    pub path: PathBuf,
    pub layout: String,
    pub schema_hash: String,
    pub rows: u64,
    pub pair_rows: Vec<(String, u64)>,
    /// Every column with its Parquet type, in file order, then the partition columns.
    pub columns: Vec<(String, String)>,
}

/// The stages whose feature tables are exported: per-pair families, then the panel families.
const STAGES: [&str; 2] = ["base", crate::panel_features::PANEL_STAGE];

impl ExportedDataset {
    fn from_table(stage: &str, t: ExportedTable) -> ExportedDataset {
        let mut columns = vec![
            ("side".to_string(), "string".to_string()),
            ("tf_secs".to_string(), "uint32".to_string()),
            (
                "ts".to_string(),
                "timestamp[us] (UTC, bar open)".to_string(),
            ),
        ];
        columns.extend(t.features.into_iter().map(|f| (f, "float32".to_string())));
        columns.extend([
            ("pair".to_string(), "string (partition)".to_string()),
            ("year".to_string(), "int64 (partition)".to_string()),
            ("month".to_string(), "int64 (partition)".to_string()),
        ]);
        ExportedDataset {
            stage: stage.into(),
            layout: "hive: pair=…/year=…/month=…/data_0.parquet".into(),
            path: t.path,
            schema_hash: t.schema_hash,
            rows: t.rows,
            pair_rows: t.pair_rows,
            columns,
        }
    }
}

/// Exports the base feature tables of the store (per-pair and panel families) under `dir` and writes `dir/metadata.json`.
pub fn export_parquet(store_dir: &Path, dir: &Path) -> Result<ExportReport, AppError> {
    let started = Instant::now();
    if !store_dir.join(bqx_store::DUCKDB_FILE).exists() {
        return Err(AppError::new(
            ErrorCode::InvalidArgument,
            format!("no store at {}", store_dir.display()),
        ));
    }
    let store = open_store(store_dir, "bqx export")?;
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::internal(format!("{}: {e}", dir.display())))?;
    let mut datasets = Vec::new();
    for stage in STAGES {
        for t in store.export_features_parquet(stage, dir)? {
            datasets.push(ExportedDataset::from_table(stage, t));
        }
    }
    if datasets.is_empty() {
        return Err(AppError::new(
            ErrorCode::InvalidArgument,
            "the store has no features yet: run `bqx run --stages base` first",
        ));
    }
    let metadata = dir.join("metadata.json");
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "producer": format!("bqx {}", env!("CARGO_PKG_VERSION")),
        "datasets": datasets,
    }))
    .map_err(|e| AppError::internal(e.to_string()))?;
    std::fs::write(&metadata, text)
        .map_err(|e| AppError::internal(format!("{}: {e}", metadata.display())))?;
    Ok(ExportReport {
        dir: dir.to_path_buf(),
        metadata,
        datasets,
        seconds: started.elapsed().as_secs_f64(),
    })
}
