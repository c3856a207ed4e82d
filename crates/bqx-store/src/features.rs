//! Computed features: one wide FLOAT table per feature schema, and the record of which series
//! were computed from which bars (so a stage can skip what is current).

use std::sync::Arc;

use duckdb::arrow::array::{Array, Float32Array};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use serde::Serialize;

use crate::{Result, SeriesKey, Store, StoreError, now_rfc3339};

/// What is stored for one series of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureState {
    pub schema_hash: String,
    pub table_name: String,
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

/// Rows per appended record batch.
const CHUNK: usize = 1 << 16;

/// Name of the table of a stage and schema: `features_base_1a2b3c4d5e6f`.
pub fn feature_table_name(stage: &str, schema_hash: &str) -> String {
    let clean: String = stage
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    format!(
        "features_{clean}_{}",
        &schema_hash[..12.min(schema_hash.len())]
    )
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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

    /// What a stage stored for a series, if anything.
    pub fn feature_state(&self, stage: &str, key: SeriesKey) -> Result<Option<FeatureState>> {
        let mut st = self.duck.prepare(
            "SELECT schema_hash, table_name, bars_fingerprint, rows, columns FROM feature_series \
             WHERE stage = ? AND pair_id = ? AND side_id = ? AND tf_secs = ?",
        )?;
        let (pair_id, side_id, tf_secs) = key.codes();
        let mut rows = st.query(duckdb::params![stage, pair_id, side_id, tf_secs])?;
        Ok(match rows.next()? {
            Some(r) => Some(FeatureState {
                schema_hash: r.get(0)?,
                table_name: r.get(1)?,
                bars_fingerprint: r.get(2)?,
                rows: r.get::<_, i64>(3)? as u64,
                columns: r.get::<_, i32>(4)? as u32,
            }),
            None => None,
        })
    }

    /// Replaces the stored features of one series in one transaction: creates the schema's
    /// table if needed, deletes the series' previous rows (in any schema's table of the
    /// stage), appends the new ones and records the state.
    pub fn write_features(&mut self, w: FeatureWrite<'_>) -> Result<FeatureState> {
        let n = w.ts.len();
        if w.columns.len() != w.names.len() || w.columns.iter().any(|c| c.len() != n) {
            return Err(StoreError::Invalid(format!(
                "feature write for {}: {} names, {} columns, {} rows do not match",
                w.key.pair,
                w.names.len(),
                w.columns.len(),
                n
            )));
        }
        let table = feature_table_name(w.stage, w.schema_hash);
        let tx = self.duck.transaction()?;
        let cols: Vec<String> = w
            .names
            .iter()
            .map(|n| format!("{} FLOAT", quote_ident(n)))
            .collect();
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (pair_id UTINYINT NOT NULL, side_id UTINYINT NOT NULL, \
             tf_secs UINTEGER NOT NULL, ts TIMESTAMP NOT NULL, {})",
            quote_ident(&table),
            cols.join(", ")
        ))?;
        let (pair_id, side_id, tf_secs) = w.key.codes();
        let key_params = duckdb::params![pair_id, side_id, tf_secs];
        let previous: Vec<String> = {
            let mut st = tx.prepare(
                "SELECT table_name FROM feature_series \
                 WHERE stage = ? AND pair_id = ? AND side_id = ? AND tf_secs = ?",
            )?;
            st.query_map(duckdb::params![w.stage, pair_id, side_id, tf_secs], |r| {
                r.get(0)
            })?
            .collect::<std::result::Result<_, _>>()?
        };
        for t in previous.iter().chain(std::iter::once(&table)) {
            tx.execute(
                &format!(
                    "DELETE FROM {} WHERE pair_id = ? AND side_id = ? AND tf_secs = ?",
                    quote_ident(t)
                ),
                key_params,
            )?;
        }
        let mut fields = crate::bars::key_fields();
        fields.extend(
            w.names
                .iter()
                .map(|n| Field::new(n.as_str(), DataType::Float32, true)),
        );
        let schema = Arc::new(Schema::new(fields));
        {
            let mut app = tx.appender(&table)?;
            let mut start = 0;
            while start < n {
                let end = (start + CHUNK).min(n);
                let mut arrays = crate::bars::key_arrays(w.key, w.ts[start..end].to_vec());
                for c in &w.columns {
                    arrays.push(Arc::new(Float32Array::from_iter(
                        c[start..end]
                            .iter()
                            .map(|&v| (!v.is_nan()).then_some(v as f32)),
                    )));
                }
                let batch = RecordBatch::try_new(schema.clone(), arrays)
                    .map_err(|e| StoreError::Invalid(format!("building a feature batch: {e}")))?;
                app.append_record_batch(batch)?;
                start = end;
            }
            app.flush()?;
        }
        tx.execute(
            "DELETE FROM feature_series WHERE stage = ? AND pair_id = ? AND side_id = ? AND tf_secs = ?",
            duckdb::params![w.stage, pair_id, side_id, tf_secs],
        )?;
        tx.execute(
            "INSERT INTO feature_series VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ))",
            duckdb::params![
                w.stage,
                pair_id,
                side_id,
                tf_secs,
                w.schema_hash,
                table,
                w.bars_fingerprint,
                n as i64,
                w.names.len() as i32,
                now_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(FeatureState {
            schema_hash: w.schema_hash.to_string(),
            table_name: table,
            bars_fingerprint: w.bars_fingerprint.to_string(),
            rows: n as u64,
            columns: w.names.len() as u32,
        })
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
        let names: Vec<String> = {
            let mut st = self.duck.prepare(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? \
                 AND column_name NOT IN ('pair_id', 'side_id', 'tf_secs', 'ts') \
                 ORDER BY column_index",
            )?;
            st.query_map([&state.table_name], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?
        };
        let select: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
        let mut st = self.duck.prepare(&format!(
            "SELECT ts, {} FROM {} WHERE pair_id = ? AND side_id = ? AND tf_secs = ? ORDER BY ts",
            select.join(", "),
            quote_ident(&state.table_name)
        ))?;
        let (pair_id, side_id, tf_secs) = key.codes();
        let mut ts = Vec::with_capacity(state.rows as usize);
        let mut columns: Vec<Vec<f32>> = (0..names.len())
            .map(|_| Vec::with_capacity(state.rows as usize))
            .collect();
        for b in st.query_arrow(duckdb::params![pair_id, side_id, tf_secs])? {
            let t = b
                .column(0)
                .as_any()
                .downcast_ref::<duckdb::arrow::array::TimestampMicrosecondArray>()
                .ok_or_else(|| StoreError::Invalid("features.ts is not a timestamp".into()))?;
            ts.extend(t.values().iter().copied());
            for (j, col) in columns.iter_mut().enumerate() {
                let a = b
                    .column(j + 1)
                    .as_any()
                    .downcast_ref::<Float32Array>()
                    .ok_or_else(|| {
                        StoreError::Invalid(format!("feature column {} is not FLOAT", names[j]))
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
    /// Writes every feature table of `stage` as a Hive-partitioned Parquet dataset under
    /// `dir/<table>/pair=…/year=…/month=…/` (DuckDB's writer; zstd). Existing files of the
    /// same dataset are replaced.
    pub fn export_features_parquet(
        &self,
        stage: &str,
        dir: &std::path::Path,
    ) -> Result<Vec<ExportedTable>> {
        let tables: Vec<(String, String)> = {
            let mut st = self.duck.prepare(
                "SELECT DISTINCT table_name, schema_hash FROM feature_series WHERE stage = ? \
                 ORDER BY 1",
            )?;
            st.query_map([stage], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<std::result::Result<_, _>>()?
        };
        let mut out = Vec::new();
        for (table, schema_hash) in tables {
            let path = dir.join(&table);
            if path.exists() {
                std::fs::remove_dir_all(&path).map_err(|source| StoreError::Io {
                    path: path.clone(),
                    source,
                })?;
            }
            let target = path.to_string_lossy().replace('\'', "''");
            self.duck.execute_batch(&format!(
                "COPY (SELECT p.pair, year(f.ts) AS year, month(f.ts) AS month, s.side, \
                        f.* EXCLUDE (pair_id, side_id) \
                       FROM {t} f JOIN pairs p USING (pair_id) JOIN sides s USING (side_id) \
                       ORDER BY p.pair, f.ts) \
                 TO '{target}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (pair, year, month))",
                t = quote_ident(&table)
            ))?;
            let pair_rows: Vec<(String, u64)> = {
                let mut st = self.duck.prepare(&format!(
                    "SELECT p.pair, count(*) FROM {} f JOIN pairs p USING (pair_id) \
                     GROUP BY p.pair ORDER BY p.pair",
                    quote_ident(&table)
                ))?;
                st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                    .collect::<std::result::Result<_, _>>()?
            };
            let features: Vec<String> = {
                let mut st = self.duck.prepare(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? \
                     AND column_name NOT IN ('pair_id', 'side_id', 'tf_secs', 'ts') \
                     ORDER BY column_index",
                )?;
                st.query_map([&table], |r| r.get(0))?
                    .collect::<std::result::Result<_, _>>()?
            };
            out.push(ExportedTable {
                rows: pair_rows.iter().map(|(_, n)| n).sum(),
                table,
                schema_hash,
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
        assert_eq!(st.table_name, "features_base_0123456789ab");
        assert_eq!(s.feature_state("base", key).unwrap().unwrap(), st);
        write(&mut s, "fp2");
        let (n, nulls_a, sum_b): (i64, i64, f64) = s
            .duck()
            .query_row(
                "SELECT count(*), count(*) - count(a), sum(\"b c\") FROM features_base_0123456789ab",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((n, nulls_a, sum_b), (3, 1, -0.75));
        assert_eq!(
            s.feature_state("base", key)
                .unwrap()
                .unwrap()
                .bars_fingerprint,
            "fp2"
        );
    }
}
