//! Computed features: one Parquet file per series and stage under the store directory
//! (`features/<stage>/<schema>/…parquet`), and the record in `bqx.duckdb` of which file holds
//! which series, computed from which bars under which feature schema (so a stage can skip what
//! is current).
//!
//! Why files and not wide DuckDB tables: DuckDB's single appender wrote a year of 28-pair M1
//! features (3.7 G values) at ≈ 9 M values/s and grew the process past 11 GB; Parquet files are
//! written by the computing threads themselves, in parallel, at ≈ 30 M values/s per core, and
//! DuckDB reads them back as fast as its own tables (BENCHMARKS.md § Feature storage layout).
//!
//! A series is replaced atomically: its new file is written under a temporary name, renamed,
//! and only then recorded in one DuckDB transaction; the previous file is deleted after the
//! commit. A crash in between leaves at most an unreferenced file, which the next open removes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use duckdb::arrow::array::{Array, ArrayRef, Float32Array, TimestampMicrosecondArray};
use duckdb::arrow::buffer::NullBuffer;
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::{Result, SeriesKey, Store, StoreError, now_rfc3339};

/// Directory of the feature files, relative to the store directory.
pub const FEATURES_DIR: &str = "features";

/// What is stored for one series of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureState {
    pub schema_hash: String,
    /// The series' Parquet file, relative to the store directory.
    pub file: String,
    pub bars_fingerprint: String,
    pub rows: u64,
    pub columns: u32,
}

/// The computed features of one series, column-major, ready to store.
#[derive(Debug)]
pub struct FeatureWrite<'a> {
    pub stage: &'a str,
    pub key: SeriesKey,
    pub schema_hash: &'a str,
    pub names: &'a [String],
    pub ts: &'a [i64],
    /// `columns[j][i]`: feature `j` at row `i`; NaN is stored as NULL.
    pub columns: Vec<&'a [f64]>,
    pub bars_fingerprint: &'a str,
}

/// Rows per appended record batch (and per Parquet row group, ×2): also the chunk the stages
/// compute and append at a time, so one buffer of this many rows is all they hold per series.
pub const FEATURE_CHUNK_ROWS: usize = 1 << 16;
const CHUNK: usize = FEATURE_CHUNK_ROWS;

/// Name of a stage and schema's dataset (`bqx export` directory, file directory):
/// `features_base_1a2b3c4d5e6f`.
pub fn feature_table_name(stage: &str, schema_hash: &str) -> String {
    format!("features_{}_{}", clean(stage), short(schema_hash))
}

fn clean(stage: &str) -> String {
    stage
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn short(schema_hash: &str) -> &str {
    &schema_hash[..12.min(schema_hash.len())]
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn parquet_err(path: &Path) -> impl FnOnce(parquet::errors::ParquetError) -> StoreError + '_ {
    move |e| StoreError::Invalid(format!("{}: {e}", path.display()))
}

/// Writes one series' features to its Parquet file. Independent of the store connection, so
/// the threads that compute features write them too, in parallel; [`Store::commit_features`]
/// then records the finished file.
pub struct FeatureFileWriter {
    /// What will be recorded; `rows` counts what was appended so far.
    file: FeatureFile,
    path: PathBuf,
    tmp: PathBuf,
    schema: Arc<Schema>,
    writer: Option<ArrowWriter<File>>,
    last_ts: Option<i64>,
}

/// A written, not yet recorded feature file (see [`Store::commit_features`]).
#[derive(Debug, Clone)]
pub struct FeatureFile {
    stage: String,
    key: SeriesKey,
    schema_hash: String,
    bars_fingerprint: String,
    columns: u32,
    rel: String,
    rows: u64,
}

impl FeatureFileWriter {
    /// Starts the file of `key`'s features under `store_dir`.
    pub fn create(
        store_dir: &Path,
        stage: &str,
        key: SeriesKey,
        schema_hash: &str,
        names: &[String],
        bars_fingerprint: &str,
    ) -> Result<FeatureFileWriter> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let (_, _, tf_secs) = key.codes();
        let rel = format!(
            "{FEATURES_DIR}/{}/{}/{}_{}_{tf_secs}_{nanos}.parquet",
            clean(stage),
            short(schema_hash),
            key.pair,
            key.side,
        );
        let path = store_dir.join(&rel);
        let dir = path.parent().expect("a file path has a parent");
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = path.with_extension("parquet.tmp");
        let mut fields = vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        )];
        fields.extend(
            names
                .iter()
                .map(|n| Field::new(n.as_str(), DataType::Float32, true)),
        );
        let schema = Arc::new(Schema::new(fields));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(false)
            .set_max_row_group_row_count(Some(2 * CHUNK))
            .build();
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let writer =
            ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(parquet_err(&tmp))?;
        Ok(FeatureFileWriter {
            file: FeatureFile {
                stage: stage.to_string(),
                key,
                schema_hash: schema_hash.to_string(),
                bars_fingerprint: bars_fingerprint.to_string(),
                columns: names.len() as u32,
                rel,
                rows: 0,
            },
            path,
            tmp,
            schema,
            writer: Some(writer),
            last_ts: None,
        })
    }

    /// Appends rows (in time order): `columns[j][i]` is feature `j` at `ts[i]`; NaN → NULL.
    pub fn append(&mut self, ts: &[i64], columns: &[&[f64]]) -> Result<()> {
        let n = ts.len();
        if columns.len() as u32 != self.file.columns || columns.iter().any(|c| c.len() != n) {
            return Err(StoreError::Invalid(format!(
                "feature write for {}: {} columns of {} rows for {} names and {} stamps",
                self.file.key.pair,
                columns.len(),
                columns.first().map_or(0, |c| c.len()),
                self.file.columns,
                n
            )));
        }
        if ts.windows(2).any(|w| w[0] >= w[1])
            || self.last_ts.zip(ts.first()).is_some_and(|(a, &b)| a >= b)
        {
            return Err(StoreError::Invalid(format!(
                "feature write for {}: time stamps are not increasing",
                self.file.key.pair
            )));
        }
        let writer = self.writer.as_mut().expect("open until finish");
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len() + 1);
            arrays.push(Arc::new(TimestampMicrosecondArray::from(
                ts[start..end].to_vec(),
            )));
            for c in columns {
                arrays.push(Arc::new(f32_array(&c[start..end])));
            }
            let batch = RecordBatch::try_new(self.schema.clone(), arrays)
                .map_err(|e| StoreError::Invalid(format!("building a feature batch: {e}")))?;
            writer.write(&batch).map_err(parquet_err(&self.tmp))?;
            start = end;
        }
        self.file.rows += n as u64;
        if let Some(&t) = ts.last() {
            self.last_ts = Some(t);
        }
        Ok(())
    }

    /// Closes the file and moves it to its final name.
    pub fn finish(mut self) -> Result<FeatureFile> {
        let writer = self.writer.take().expect("open until finish");
        let file = writer.into_inner().map_err(parquet_err(&self.tmp))?;
        // Not fsynced: a killed process loses nothing (the page cache holds the file), and
        // a file damaged by a power loss is derived data that `read_features` reports by name
        // (delete it and the stage computes it again). Syncing every file cost 17 s of
        // the stage's 157 s on a year of 28-pair M1 (2 min 37 s with, 2 min 20 s without).
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(io(&self.path))?;
        Ok(self.file.clone())
    }
}

/// `f64` values as a FLOAT column, NaN as NULL (no validity bitmap when nothing is missing).
fn f32_array(c: &[f64]) -> Float32Array {
    let values: Vec<f32> = c.iter().map(|&v| v as f32).collect();
    if c.iter().any(|v| v.is_nan()) {
        let valid: Vec<bool> = c.iter().map(|v| !v.is_nan()).collect();
        Float32Array::new(values.into(), Some(NullBuffer::from(valid)))
    } else {
        Float32Array::from(values)
    }
}

impl std::fmt::Debug for FeatureFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureFileWriter")
            .field("file", &self.file.rel)
            .field("rows", &self.file.rows)
            .finish()
    }
}

impl Drop for FeatureFileWriter {
    fn drop(&mut self) {
        // Abandoned (an error or a panic before `finish`): leave nothing behind.
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl Store {
    /// A fingerprint of a series' stored bars: count, first and last time, and a hash of the
    /// content. Any change to the bars changes it.
    pub fn bars_fingerprint(&self, key: SeriesKey) -> Result<String> {
        let (pair_id, side_id, tf_secs) = key.codes();
        let (n, first, last, h): (i64, Option<i64>, Option<i64>, Option<i64>) =
            self.duck.query_row(
                "SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)), \
                    (sum(hash(ts, open, high, low, close, volume, spread) % 1000000007))::BIGINT \
             FROM bars WHERE pair_id = ? AND side_id = ? AND tf_secs = ?",
                duckdb::params![pair_id, side_id, tf_secs],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
        Ok(format!(
            "{n}:{}:{}:{}",
            first.unwrap_or(0),
            last.unwrap_or(0),
            h.unwrap_or(0)
        ))
    }

    /// What a stage stored for a series, if anything. A recorded file that is gone (deleted by
    /// hand) counts as nothing stored, so the stage computes the series again.
    pub fn feature_state(&self, stage: &str, key: SeriesKey) -> Result<Option<FeatureState>> {
        let mut st = self.duck.prepare(
            "SELECT schema_hash, file, bars_fingerprint, rows, columns FROM feature_series \
             WHERE stage = ? AND pair_id = ? AND side_id = ? AND tf_secs = ?",
        )?;
        let (pair_id, side_id, tf_secs) = key.codes();
        let mut rows = st.query(duckdb::params![stage, pair_id, side_id, tf_secs])?;
        Ok(match rows.next()? {
            Some(r) => Some(FeatureState {
                schema_hash: r.get(0)?,
                file: r.get(1)?,
                bars_fingerprint: r.get(2)?,
                rows: r.get::<_, i64>(3)? as u64,
                columns: r.get::<_, i32>(4)? as u32,
            })
            .filter(|s: &FeatureState| self.dir.join(&s.file).exists()),
            None => None,
        })
    }

    /// Records a finished feature file as the series' features (one transaction), then deletes
    /// the file it replaces.
    pub fn commit_features(&mut self, f: FeatureFile) -> Result<FeatureState> {
        let previous = self.feature_state(&f.stage, f.key)?;
        let (pair_id, side_id, tf_secs) = f.key.codes();
        let tx = self.duck.transaction()?;
        tx.execute(
            "DELETE FROM feature_series WHERE stage = ? AND pair_id = ? AND side_id = ? AND tf_secs = ?",
            duckdb::params![f.stage, pair_id, side_id, tf_secs],
        )?;
        tx.execute(
            "INSERT INTO feature_series VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ))",
            duckdb::params![
                f.stage,
                pair_id,
                side_id,
                tf_secs,
                f.schema_hash,
                f.rel,
                f.bars_fingerprint,
                f.rows as i64,
                f.columns as i32,
                now_rfc3339()
            ],
        )?;
        tx.commit()?;
        if let Some(p) = previous.filter(|p| p.file != f.rel) {
            let _ = std::fs::remove_file(self.dir.join(&p.file));
        }
        Ok(FeatureState {
            schema_hash: f.schema_hash,
            file: f.rel,
            bars_fingerprint: f.bars_fingerprint,
            rows: f.rows,
            columns: f.columns,
        })
    }

    /// Replaces the stored features of one series: writes its file and records it (see
    /// [`FeatureFileWriter`] and [`Store::commit_features`] to write from other threads).
    pub fn write_features(&mut self, w: FeatureWrite<'_>) -> Result<FeatureState> {
        if w.columns.len() != w.names.len() {
            return Err(StoreError::Invalid(format!(
                "feature write for {}: {} names, {} columns",
                w.key.pair,
                w.names.len(),
                w.columns.len()
            )));
        }
        let mut file = FeatureFileWriter::create(
            &self.dir,
            w.stage,
            w.key,
            w.schema_hash,
            w.names,
            w.bars_fingerprint,
        )?;
        file.append(w.ts, &w.columns)?;
        let file = file.finish()?;
        self.commit_features(file)
    }

    /// Removes what the feature layout leaves behind: feature files no series refers to (a
    /// crash between writing and recording; `.tmp` files of an interrupted write) and the wide
    /// tables of the layout before feature files (see migration 0004).
    pub(crate) fn sweep_features(&mut self) -> Result<()> {
        let legacy: Vec<String> = {
            let mut st = self.duck.prepare(
                "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'features\\_%' ESCAPE '\\'",
            )?;
            st.query_map([], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?
        };
        for t in legacy {
            self.duck
                .execute_batch(&format!("DROP TABLE IF EXISTS {}", quote_ident(&t)))?;
        }
        let root = self.dir.join(FEATURES_DIR);
        if !root.exists() {
            return Ok(());
        }
        let known: std::collections::HashSet<PathBuf> = {
            let mut st = self.duck.prepare("SELECT file FROM feature_series")?;
            st.query_map([], |r| r.get::<_, String>(0))?
                .map(|f| f.map(|f| self.dir.join(f)))
                .collect::<std::result::Result<_, _>>()?
        };
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(io(&d))?.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if !known.contains(&p) {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
        Ok(())
    }
}

/// The stored features of one series, as read back: column-major `f32` (NULL → `NaN`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFeatures {
    pub schema_hash: String,
    pub names: Vec<String>,
    pub ts: Vec<i64>,
    /// `columns[j][i]`: feature `j` at row `i`.
    pub columns: Vec<Vec<f32>>,
}

impl Store {
    /// Reads the features a stage stored for one series (by time), or `None` if it has none.
    /// Arrow batches straight into column vectors: this is the training-matrix read path.
    pub fn read_features(&self, stage: &str, key: SeriesKey) -> Result<Option<StoredFeatures>> {
        let Some(state) = self.feature_state(stage, key)? else {
            return Ok(None);
        };
        let path = self.dir.join(&state.file);
        // The file is written in time order and DuckDB keeps a file's order on read.
        let mut st = self.duck.prepare(&format!(
            "SELECT * FROM read_parquet({})",
            sql_str(&path.to_string_lossy())
        ))?;
        let arrow = st.query_arrow([])?;
        let schema = arrow.get_schema();
        let names: Vec<String> = schema
            .fields()
            .iter()
            .skip(1)
            .map(|f| f.name().clone())
            .collect();
        let mut ts = Vec::with_capacity(state.rows as usize);
        let mut columns: Vec<Vec<f32>> = (0..names.len())
            .map(|_| Vec::with_capacity(state.rows as usize))
            .collect();
        for b in arrow {
            let t = b
                .column(0)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| {
                    StoreError::Invalid(format!("{}: ts is not a timestamp", path.display()))
                })?;
            ts.extend(t.values().iter().copied());
            for (j, col) in columns.iter_mut().enumerate() {
                let a = b
                    .column(j + 1)
                    .as_any()
                    .downcast_ref::<Float32Array>()
                    .ok_or_else(|| {
                        StoreError::Invalid(format!(
                            "{}: feature column {} is not FLOAT",
                            path.display(),
                            names[j]
                        ))
                    })?;
                if a.null_count() == 0 {
                    col.extend(a.values().iter().copied());
                } else {
                    col.extend(
                        (0..a.len()).map(|i| if a.is_null(i) { f32::NAN } else { a.value(i) }),
                    );
                }
            }
        }
        if ts.len() as u64 != state.rows || ts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(StoreError::Invalid(format!(
                "{}: {} rows read ({} recorded) or not in time order",
                path.display(),
                ts.len(),
                state.rows
            )));
        }
        Ok(Some(StoredFeatures {
            schema_hash: state.schema_hash,
            names,
            ts,
            columns,
        }))
    }
}

/// One feature table written as a Hive-partitioned Parquet dataset.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedTable {
    pub table: String,
    pub schema_hash: String,
    /// `DIR/<table>`: holds `pair=…/year=…/month=…/*.parquet`.
    pub path: std::path::PathBuf,
    pub rows: u64,
    /// Rows per pair.
    pub pair_rows: Vec<(String, u64)>,
    /// Feature columns (FLOAT) in order; the files also hold `side`, `tf_secs` and `ts`, and
    /// the partition columns `pair`, `year`, `month` are in the paths.
    pub features: Vec<String>,
}

impl Store {
    /// Writes every feature schema of `stage` as a Hive-partitioned Parquet dataset under
    /// `dir/<features_stage_schema>/pair=…/year=…/month=…/` (DuckDB's writer; zstd). Existing
    /// files of the same dataset are replaced.
    pub fn export_features_parquet(
        &self,
        stage: &str,
        dir: &std::path::Path,
    ) -> Result<Vec<ExportedTable>> {
        // (schema, pair, side, tf_secs, file, rows) of every stored series of the stage.
        type Row = (String, String, String, i64, String, i64);
        let series: Vec<Row> = {
            let mut st = self.duck.prepare(
                "SELECT f.schema_hash, p.pair, s.side, f.tf_secs, f.file, f.rows \
                 FROM feature_series f JOIN pairs p USING (pair_id) JOIN sides s USING (side_id) \
                 WHERE f.stage = ? ORDER BY f.schema_hash, p.pair, s.side, f.tf_secs",
            )?;
            st.query_map([stage], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<std::result::Result<_, _>>()?
        };
        let mut out = Vec::new();
        let mut hashes: Vec<&str> = series.iter().map(|r| r.0.as_str()).collect();
        hashes.dedup();
        for schema_hash in hashes {
            let of_schema: Vec<&Row> = series.iter().filter(|r| r.0 == schema_hash).collect();
            let table = feature_table_name(stage, schema_hash);
            let path = dir.join(&table);
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(io(&path))?;
            }
            let selects: Vec<String> = of_schema
                .iter()
                .map(|(_, pair, side, tf, file, _)| {
                    format!(
                        "SELECT {} AS pair, year(ts) AS year, month(ts) AS month, {} AS side, \
                         {tf}::UINTEGER AS tf_secs, * FROM read_parquet({})",
                        sql_str(pair),
                        sql_str(side),
                        sql_str(&self.dir.join(file).to_string_lossy())
                    )
                })
                .collect();
            self.duck.execute_batch(&format!(
                "COPY ({}) TO {} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (pair, year, month))",
                selects.join(" UNION ALL "),
                sql_str(&path.to_string_lossy())
            ))?;
            let mut pair_rows: Vec<(String, u64)> = Vec::new();
            for (_, pair, _, _, _, rows) in &of_schema {
                match pair_rows.iter_mut().find(|(p, _)| p == pair) {
                    Some((_, n)) => *n += *rows as u64,
                    None => pair_rows.push((pair.clone(), *rows as u64)),
                }
            }
            let features: Vec<String> = {
                let first = self.dir.join(&of_schema[0].4);
                let mut st = self.duck.prepare(&format!(
                    "SELECT name FROM parquet_schema({}) WHERE num_children IS NULL AND name <> 'ts'",
                    sql_str(&first.to_string_lossy())
                ))?;
                st.query_map([], |r| r.get(0))?
                    .collect::<std::result::Result<_, _>>()?
            };
            out.push(ExportedTable {
                rows: pair_rows.iter().map(|(_, n)| n).sum(),
                table,
                schema_hash: schema_hash.to_string(),
                path,
                pair_rows,
                features,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bqx_domain::{Pair, PriceSide, Timeframe};

    #[test]
    fn features_round_trip_with_nan_as_null_and_a_rewrite_replaces_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "test").unwrap();
        let key = SeriesKey {
            pair: Pair::parse("EURUSD").unwrap(),
            side: PriceSide::Fix,
            timeframe: Timeframe::D1,
        };
        let names = vec!["a".to_string(), "b c".to_string()];
        let ts = [0, 86_400_000_000, 2 * 86_400_000_000];
        let a = [f64::NAN, 1.5, 2.5];
        let b = [0.25, f64::NAN, -1.0];
        let write = |s: &mut Store, fp: &str| {
            s.write_features(FeatureWrite {
                stage: "base",
                key,
                schema_hash: "0123456789abcdef",
                names: &names,
                ts: &ts,
                columns: vec![&a, &b],
                bars_fingerprint: fp,
            })
            .unwrap()
        };
        let st = write(&mut s, "fp1");
        assert!(
            st.file.starts_with("features/base/0123456789ab/EURUSD_"),
            "{}",
            st.file
        );
        assert_eq!(s.feature_state("base", key).unwrap().unwrap(), st);
        let first = dir.path().join(&st.file);
        assert!(first.exists());
        let st2 = write(&mut s, "fp2");
        assert!(!first.exists(), "the replaced file is deleted");
        let (n, nulls_a, sum_b): (i64, i64, f64) = s
            .duck()
            .query_row(
                &format!(
                    "SELECT count(*), count(*) - count(a), sum(\"b c\") FROM read_parquet('{}')",
                    dir.path().join(&st2.file).display()
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((n, nulls_a, sum_b), (3, 1, -0.75));
        let back = s.read_features("base", key).unwrap().unwrap();
        assert_eq!(back.names, names);
        assert_eq!(back.ts, ts);
        assert!(back.columns[0][0].is_nan());
        assert_eq!(back.columns[0][1..], [1.5, 2.5]);
        assert_eq!(back.columns[1][0], 0.25);
        assert_eq!(
            s.feature_state("base", key)
                .unwrap()
                .unwrap()
                .bars_fingerprint,
            "fp2"
        );
        // A file deleted by hand counts as not stored (the stage computes it again).
        std::fs::remove_file(dir.path().join(&st2.file)).unwrap();
        assert_eq!(s.feature_state("base", key).unwrap(), None);
        assert_eq!(s.read_features("base", key).unwrap(), None);
    }

    #[test]
    fn open_sweeps_unrecorded_feature_files_and_legacy_tables() {
        let dir = tempfile::tempdir().unwrap();
        let key = SeriesKey {
            pair: Pair::parse("EURUSD").unwrap(),
            side: PriceSide::Fix,
            timeframe: Timeframe::D1,
        };
        let names = vec!["a".to_string()];
        let kept = {
            let mut s = Store::open(dir.path(), "test").unwrap();
            let st = s
                .write_features(FeatureWrite {
                    stage: "base",
                    key,
                    schema_hash: "0123456789abcdef",
                    names: &names,
                    ts: &[0, 1],
                    columns: vec![&[1.0, 2.0]],
                    bars_fingerprint: "fp",
                })
                .unwrap();
            // A file written but never recorded (a crash between the two), a temporary file
            // of an interrupted write, and a wide table of the old layout.
            let w = FeatureFileWriter::create(
                dir.path(),
                "base",
                key,
                "0123456789abcdef",
                &names,
                "fp2",
            )
            .unwrap();
            drop(w);
            let mut w = FeatureFileWriter::create(
                dir.path(),
                "base",
                key,
                "0123456789abcdef",
                &names,
                "fp3",
            )
            .unwrap();
            w.append(&[0], &[&[1.0]]).unwrap();
            w.finish().unwrap();
            s.duck()
                .execute_batch("CREATE TABLE features_base_0123456789ab (x FLOAT)")
                .unwrap();
            st.file
        };
        let files = |d: &std::path::Path| -> Vec<String> {
            let sub = d.join("features/base/0123456789ab");
            let mut v: Vec<String> = std::fs::read_dir(sub)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            files(dir.path()).len(),
            2,
            "the dropped writer left nothing"
        );
        let s = Store::open(dir.path(), "test").unwrap();
        assert_eq!(files(dir.path()), [kept.rsplit('/').next().unwrap()]);
        let legacy: i64 = s
            .duck()
            .query_row(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'features%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(legacy, 0);
        assert!(s.read_features("base", key).unwrap().is_some());
    }
}
