//! Bars: the atomic write of an ingest call (merge against what is stored, append, quarantine)
//! and the reads the panel and data health need.

use std::sync::Arc;

use bqx_domain::{BarColumns, Pair, PriceSide, Timeframe};
use duckdb::arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, TimestampMicrosecondArray, UInt8Array, UInt32Array,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use serde::Serialize;

use crate::{Result, Store, StoreError, now_rfc3339};

/// A series: one pair, one price side, one timeframe.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
pub struct SeriesKey {
    pub pair: Pair,
    pub side: PriceSide,
    pub timeframe: Timeframe,
}

/// Bars of one series to write, sorted by strictly increasing `ts`, with the source line of each
/// bar's first record and the number of source records it consumed.
#[derive(Debug)]
pub struct SeriesWrite {
    pub key: SeriesKey,
    pub bars: BarColumns,
    pub first_line: Vec<u64>,
    pub records: Vec<u32>,
}

/// A row for the quarantine table.
#[derive(Debug, Clone)]
pub struct QuarantineRow {
    pub line: u64,
    pub kind: String,
    pub reason: String,
    pub raw: String,
}

/// Everything ingest learned about one file, to be written atomically with its bars.
#[derive(Debug)]
pub struct FileWrite<'a> {
    pub source: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: String,
    pub source_tz: String,
    pub read: u64,
    pub accepted: u64,
    pub skipped: u64,
    pub rejected: Vec<QuarantineRow>,
    pub series: Vec<SeriesWrite>,
    /// The decoded source text, to quote the raw line of a bar that conflicts with the store.
    pub text: &'a str,
}

/// One ingest call: all files are written in one transaction or not at all.
#[derive(Debug)]
pub struct BarsWrite<'a> {
    pub run_id: String,
    pub files: Vec<FileWrite<'a>>,
}

/// A bar that has the same series and time as a stored one but different values.
#[derive(Debug, Clone, Serialize)]
pub struct StoredConflict {
    pub line: u64,
    pub ts: i64,
    pub reason: String,
}

/// What the store did with one file's accepted records.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileOutcome {
    /// Records written as new bars.
    pub accepted: u64,
    /// Records whose bar was already stored with identical values.
    pub skipped_stored: u64,
    /// Records whose bar conflicts with a stored bar (quarantined, not overwritten).
    pub rejected_stored: u64,
    pub bars_written: u64,
    pub conflicts: Vec<StoredConflict>,
    pub file_id: i32,
}

/// Count and time range of one stored series.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesSummary {
    pub key: SeriesKey,
    pub bars: u64,
    pub first_ts: i64,
    pub last_ts: i64,
}

impl SeriesKey {
    /// The storage codes `(pair_id, side_id, tf_secs)`.
    pub fn codes(self) -> (u8, u8, u32) {
        (
            self.pair.index() as u8,
            self.side.code(),
            self.timeframe.secs(),
        )
    }
}

/// The leading columns of every per-series table (`bars`, feature tables): the series key and
/// the bar's open time.
pub(crate) fn key_fields() -> Vec<Field> {
    vec![
        Field::new("pair_id", DataType::UInt8, false),
        Field::new("side_id", DataType::UInt8, false),
        Field::new("tf_secs", DataType::UInt32, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]
}

/// The arrays of [`key_fields`] for `ts.len()` rows of one series.
pub(crate) fn key_arrays(key: SeriesKey, ts: Vec<i64>) -> Vec<ArrayRef> {
    let n = ts.len();
    let (pair, side, tf) = key.codes();
    vec![
        Arc::new(UInt8Array::from(vec![pair; n])),
        Arc::new(UInt8Array::from(vec![side; n])),
        Arc::new(UInt32Array::from(vec![tf; n])),
        Arc::new(TimestampMicrosecondArray::from(ts)),
    ]
}

fn bars_schema() -> Arc<Schema> {
    let mut fields = key_fields();
    fields.extend([
        Field::new("open", DataType::Float64, false),
        Field::new("high", DataType::Float64, false),
        Field::new("low", DataType::Float64, false),
        Field::new("close", DataType::Float64, false),
        Field::new("volume", DataType::Float64, true),
        Field::new("spread", DataType::Float64, true),
        Field::new("file_id", DataType::Int32, false),
    ]);
    Arc::new(Schema::new(fields))
}

fn opt_column(values: Option<Vec<f64>>, n: usize) -> ArrayRef {
    match values {
        Some(v) => Arc::new(Float64Array::from(v)),
        None => Arc::new(Float64Array::from(vec![None::<f64>; n])),
    }
}

fn record_batch(key: SeriesKey, file_id: i32, bars: BarColumns) -> Result<RecordBatch> {
    let n = bars.len();
    let mut cols = key_arrays(key, bars.ts);
    cols.extend::<[ArrayRef; 7]>([
        Arc::new(Float64Array::from(bars.open)),
        Arc::new(Float64Array::from(bars.high)),
        Arc::new(Float64Array::from(bars.low)),
        Arc::new(Float64Array::from(bars.close)),
        opt_column(bars.volume, n),
        opt_column(bars.spread, n),
        Arc::new(Int32Array::from(vec![file_id; n])),
    ]);
    RecordBatch::try_new(bars_schema(), cols)
        .map_err(|e| StoreError::Invalid(format!("building the bar batch: {e}")))
}

/// Rows per appended record batch (bounded memory for the Arrow copy).
const APPEND_CHUNK: usize = 1 << 20;

/// An open ingest transaction: files are written one by one (so parsing the next file can
/// overlap writing this one) and become visible together at [`BarsWriter::commit`]. Dropping
/// the writer without committing rolls everything back.
pub struct BarsWriter<'a> {
    tx: duckdb::Transaction<'a>,
    run_id: String,
    now: String,
}

impl std::fmt::Debug for BarsWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarsWriter")
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl Store {
    /// Writes one ingest call atomically: for every series, bars identical to stored ones are
    /// skipped, bars that conflict with stored ones are quarantined (never overwritten), the
    /// rest are appended; the source files and quarantine rows are recorded. Either all of it
    /// is committed or nothing is.
    pub fn write_bars(
        &mut self,
        write: BarsWrite<'_>,
        mut progress: impl FnMut(u64),
    ) -> Result<Vec<FileOutcome>> {
        let mut writer = self.bars_writer(&write.run_id)?;
        let mut outcomes = Vec::with_capacity(write.files.len());
        for file in write.files {
            outcomes.push(writer.write_file(file, &mut progress)?);
        }
        writer.commit()?;
        Ok(outcomes)
    }

    /// Opens the transaction of one ingest call.
    pub fn bars_writer(&mut self, run_id: &str) -> Result<BarsWriter<'_>> {
        Ok(BarsWriter {
            tx: self.duck.transaction()?,
            run_id: run_id.to_string(),
            now: now_rfc3339(),
        })
    }
}

impl BarsWriter<'_> {
    /// Merges and appends one file's series and records the file and its quarantine rows
    /// (visible to later files of the same call, committed with them).
    pub fn write_file(
        &mut self,
        file: FileWrite<'_>,
        mut progress: impl FnMut(u64),
    ) -> Result<FileOutcome> {
        let tx = &self.tx;
        let mut outcome = FileOutcome::default();
        let mut conflict_rows: Vec<(u64, String)> = Vec::new();
        // Register the file first so bars and quarantine rows can reference it; the counts
        // are updated once the merge is known.
        let file_id: i32 = tx.query_row(
            "INSERT INTO source_files (source, sha256, bytes, format, source_tz, run_id, \
             ingested_at, read, accepted, rejected, skipped) \
             VALUES (?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ), 0, 0, 0, 0) RETURNING file_id",
            duckdb::params![
                file.source,
                file.sha256,
                file.bytes as i64,
                file.format,
                file.source_tz,
                self.run_id,
                self.now
            ],
            |r| r.get(0),
        )?;
        outcome.file_id = file_id;
        for series in file.series {
            let n = series.bars.len();
            if n == 0 {
                continue;
            }
            let (lo, hi) = (series.bars.ts[0], series.bars.ts[n - 1]);
            let stored = load_range(tx, series.key, lo, hi)?;
            let (keep, skipped, conflicts) = merge(&series, &stored);
            outcome.skipped_stored += skipped;
            for (i, reason) in conflicts {
                outcome.rejected_stored += series.records[i] as u64;
                outcome.conflicts.push(StoredConflict {
                    line: series.first_line[i],
                    ts: series.bars.ts[i],
                    reason: reason.clone(),
                });
                conflict_rows.push((series.first_line[i], reason));
            }
            outcome.accepted += keep.iter().map(|&i| series.records[i] as u64).sum::<u64>();
            let new_bars = if keep.len() == n {
                series.bars
            } else {
                series.bars.take(&keep)
            };
            outcome.bars_written += new_bars.len() as u64;
            let mut app = tx.appender("bars")?;
            let total = new_bars.len();
            if total <= APPEND_CHUNK {
                app.append_record_batch(record_batch(series.key, file_id, new_bars)?)?;
                progress(total as u64);
            } else {
                let mut start = 0;
                while start < total {
                    let end = (start + APPEND_CHUNK).min(total);
                    let chunk = new_bars.take(&(start..end).collect::<Vec<_>>());
                    app.append_record_batch(record_batch(series.key, file_id, chunk)?)?;
                    progress((end - start) as u64);
                    start = end;
                }
            }
            app.flush()?;
        }
        // Quarantine: the parser's rejects and the conflicts with stored bars.
        let raws = raw_lines(file.text, conflict_rows.iter().map(|(l, _)| *l));
        {
            let mut app = tx.appender("quarantine")?;
            for q in &file.rejected {
                app.append_row(duckdb::params![
                    file_id,
                    q.line as i64,
                    q.kind,
                    q.reason,
                    q.raw
                ])?;
            }
            for ((line, reason), raw) in conflict_rows.iter().zip(raws) {
                app.append_row(duckdb::params![
                    file_id,
                    *line as i64,
                    "stored_conflict",
                    reason,
                    raw
                ])?;
            }
            app.flush()?;
        }
        let accepted = outcome.accepted;
        let rejected = file.rejected.len() as u64 + outcome.rejected_stored;
        let skipped = file.skipped + outcome.skipped_stored;
        debug_assert_eq!(
            file.read,
            accepted + rejected + skipped,
            "accounting identity for {}",
            file.source
        );
        debug_assert_eq!(
            file.accepted,
            outcome.accepted + outcome.skipped_stored + outcome.rejected_stored
        );
        tx.execute(
            "UPDATE source_files SET read = ?, accepted = ?, rejected = ?, skipped = ? \
             WHERE file_id = ?",
            duckdb::params![
                file.read as i64,
                accepted as i64,
                rejected as i64,
                skipped as i64,
                file_id
            ],
        )?;
        Ok(outcome)
    }

    /// Reads a Parquet bar file inside this transaction (see [`Store::read_parquet_bars`]).
    pub fn read_parquet_bars(&self, path: &std::path::Path) -> Result<ParquetBars, String> {
        read_parquet_bars(&self.tx, path)
    }

    /// Makes everything written visible at once.
    pub fn commit(self) -> Result<()> {
        self.tx.commit()?;
        Ok(())
    }
}

impl Store {
    /// Count and time range of every stored series.
    pub fn series_summaries(&self) -> Result<Vec<SeriesSummary>> {
        let mut st = self.duck.prepare(
            "SELECT pair_id, side_id, tf_secs, count(*), epoch_us(min(ts)), epoch_us(max(ts)) \
             FROM bars GROUP BY ALL ORDER BY ALL",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, u8>(0)?,
                r.get::<_, u8>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (p, s, tf, n, first, last) = row?;
            out.push(SeriesSummary {
                key: key_from_codes(p, s, tf)?,
                bars: n as u64,
                first_ts: first,
                last_ts: last,
            });
        }
        Ok(out)
    }

    /// All bars of one series, by time.
    pub fn load_series(&self, key: SeriesKey) -> Result<BarColumns> {
        load_range(&self.duck, key, i64::MIN, i64::MAX)
    }

    /// Bars per series per calendar month (UTC), for coverage views: `(series, "YYYY-MM", bars)`
    /// ordered by series and month.
    pub fn monthly_coverage(&self) -> Result<Vec<(SeriesKey, String, u64)>> {
        let mut st = self.duck.prepare(
            "SELECT pair_id, side_id, tf_secs, strftime(ts, '%Y-%m') AS month, count(*) \
             FROM bars GROUP BY ALL ORDER BY ALL",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, u8>(0)?,
                r.get::<_, u8>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (p, s, tf, month, n) = row?;
            out.push((key_from_codes(p, s, tf)?, month, n as u64));
        }
        Ok(out)
    }

    /// Total stored bars and quarantined rows.
    pub fn counts(&self) -> Result<(u64, u64)> {
        let bars: i64 = self
            .duck
            .query_row("SELECT count(*) FROM bars", [], |r| r.get(0))?;
        let q: i64 = self
            .duck
            .query_row("SELECT count(*) FROM quarantine", [], |r| r.get(0))?;
        Ok((bars as u64, q as u64))
    }

    /// Quarantined rows by kind, most frequent first, and the number of source files.
    pub fn quarantine_summary(&self) -> Result<(Vec<(String, u64)>, u64)> {
        let mut st = self
            .duck
            .prepare("SELECT kind, count(*) FROM quarantine GROUP BY kind ORDER BY 2 DESC, 1")?;
        let kinds = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let files: i64 = self
            .duck
            .query_row("SELECT count(*) FROM source_files", [], |r| r.get(0))?;
        Ok((kinds, files as u64))
    }

    /// Reads a Parquet file in the generic bar layout (`timestamp, [pair,] open, high, low,
    /// close, [volume], [spread]`, names case-insensitive) with DuckDB. The timestamp may be a
    /// TIMESTAMP (with or without time zone, taken as UTC), an int64 of epoch milliseconds, or
    /// an ISO-8601 string. Values that do not convert come back as `None`, for the parser to
    /// reject row by row. Errors name what is missing.
    pub fn read_parquet_bars(&self, path: &std::path::Path) -> Result<ParquetBars, String> {
        read_parquet_bars(&self.duck, path)
    }
}

fn read_parquet_bars(
    conn: &duckdb::Connection,
    path: &std::path::Path,
) -> Result<ParquetBars, String> {
    let p = path.to_string_lossy().replace('\'', "''");
    let src = format!("read_parquet('{p}')");
    let mut st = conn
        .prepare(&format!("DESCRIBE SELECT * FROM {src}"))
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let cols: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the Parquet schema: {e}"))?;
    let find = |name: &str| cols.iter().find(|(c, _)| c.eq_ignore_ascii_case(name));
    let quote = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
    let (ts_name, ts_type) = find("timestamp").ok_or(
        "missing column 'timestamp' (expected timestamp, pair, open, high, low, close, volume)",
    )?;
    let ts_expr = if ts_type.starts_with("TIMESTAMP") {
        format!("epoch_us(CAST({} AS TIMESTAMP))", quote(ts_name))
    } else if matches!(
        ts_type.as_str(),
        "BIGINT" | "INTEGER" | "UBIGINT" | "HUGEINT"
    ) {
        format!("CAST({} AS BIGINT) * 1000", quote(ts_name))
    } else {
        format!(
            "epoch_us(CAST(TRY_CAST({} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP))",
            quote(ts_name)
        )
    };
    let mut select = vec![ts_expr];
    for name in ["open", "high", "low", "close"] {
        let (c, _) = find(name).ok_or_else(|| format!("missing column '{name}'"))?;
        select.push(format!("TRY_CAST({} AS DOUBLE)", quote(c)));
    }
    let optional = |name: &str, cast: &str| match find(name) {
        Some((c, _)) => format!("TRY_CAST({} AS {cast})", quote(c)),
        None => format!("CAST(NULL AS {cast})"),
    };
    select.push(optional("volume", "DOUBLE"));
    select.push(optional("spread", "DOUBLE"));
    select.push(optional("pair", "VARCHAR"));
    let sql = format!("SELECT {} FROM {src}", select.join(", "));
    let mut st = conn
        .prepare(&sql)
        .map_err(|e| format!("cannot read the Parquet columns: {e}"))?;
    let mut out = ParquetBars {
        has_volume: find("volume").is_some(),
        has_spread: find("spread").is_some(),
        has_pair: find("pair").is_some(),
        ..Default::default()
    };
    let mut rows = st.query([]).map_err(|e| e.to_string())?;
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let g = |i: usize| r.get::<_, Option<f64>>(i).ok().flatten();
        out.ts_micros
            .push(r.get::<_, Option<i64>>(0).ok().flatten());
        out.open.push(g(1));
        out.high.push(g(2));
        out.low.push(g(3));
        out.close.push(g(4));
        out.volume.push(g(5));
        out.spread.push(g(6));
        out.pair.push(r.get::<_, Option<String>>(7).ok().flatten());
    }
    Ok(out)
}

/// Columns of a Parquet bar file, row-aligned; `None` where a value is missing or does not
/// convert.
#[derive(Debug, Clone, Default)]
pub struct ParquetBars {
    pub ts_micros: Vec<Option<i64>>,
    pub open: Vec<Option<f64>>,
    pub high: Vec<Option<f64>>,
    pub low: Vec<Option<f64>>,
    pub close: Vec<Option<f64>>,
    pub volume: Vec<Option<f64>>,
    pub spread: Vec<Option<f64>>,
    pub pair: Vec<Option<String>>,
    pub has_volume: bool,
    pub has_spread: bool,
    pub has_pair: bool,
}

fn key_from_codes(p: u8, s: u8, tf: u32) -> Result<SeriesKey> {
    Ok(SeriesKey {
        pair: Pair::from_index(p as usize)
            .ok_or_else(|| StoreError::Invalid(format!("unknown pair id {p}")))?,
        side: PriceSide::from_code(s)
            .ok_or_else(|| StoreError::Invalid(format!("unknown side id {s}")))?,
        timeframe: Timeframe::from_secs(tf),
    })
}

/// Stored bars of `key` with `lo <= ts <= hi`, by time.
fn load_range(conn: &duckdb::Connection, key: SeriesKey, lo: i64, hi: i64) -> Result<BarColumns> {
    let mut st = conn.prepare(
        "SELECT ts, open, high, low, close, volume, spread FROM bars \
         WHERE pair_id = ? AND side_id = ? AND tf_secs = ? \
           AND ts BETWEEN make_timestamp(?) AND make_timestamp(?) ORDER BY ts",
    )?;
    let lo = lo.max(-62_135_596_800_000_000); // year 1: DuckDB's make_timestamp range
    let hi = hi.min(253_402_300_799_000_000); // year 9999
    let (pair_id, side_id, tf_secs) = key.codes();
    let batches: Vec<RecordBatch> = st
        .query_arrow(duckdb::params![pair_id, side_id, tf_secs, lo, hi])?
        .collect();
    let mut out = BarColumns::with_capacity(0, false, false);
    let mut has_volume = false;
    let mut has_spread = false;
    let mut volume = Vec::new();
    let mut spread = Vec::new();
    for b in &batches {
        let ts = b
            .column(0)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| StoreError::Invalid("bars.ts is not a microsecond timestamp".into()))?;
        out.ts.extend(ts.values().iter().copied());
        let f = |i: usize| -> Result<&Float64Array> {
            b.column(i)
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(|| StoreError::Invalid(format!("bars column {i} is not DOUBLE")))
        };
        out.open.extend(f(1)?.values().iter().copied());
        out.high.extend(f(2)?.values().iter().copied());
        out.low.extend(f(3)?.values().iter().copied());
        out.close.extend(f(4)?.values().iter().copied());
        let v = f(5)?;
        let s = f(6)?;
        has_volume |= v.null_count() < v.len();
        has_spread |= s.null_count() < s.len();
        volume.extend((0..v.len()).map(|i| if v.is_null(i) { f64::NAN } else { v.value(i) }));
        spread.extend((0..s.len()).map(|i| if s.is_null(i) { f64::NAN } else { s.value(i) }));
    }
    out.volume = has_volume.then_some(volume);
    out.spread = has_spread.then_some(spread);
    Ok(out)
}

/// Merges new bars against stored bars of the same series (both sorted by time).
/// Returns the indices of new bars to append, the records skipped as identical, and the
/// conflicting bars with a reason.
fn merge(new: &SeriesWrite, stored: &BarColumns) -> (Vec<usize>, u64, Vec<(usize, String)>) {
    let bars = &new.bars;
    if stored.is_empty() {
        return ((0..bars.len()).collect(), 0, Vec::new());
    }
    let mut keep = Vec::with_capacity(bars.len());
    let mut skipped = 0u64;
    let mut conflicts = Vec::new();
    let mut j = 0;
    for i in 0..bars.len() {
        while j < stored.len() && stored.ts[j] < bars.ts[i] {
            j += 1;
        }
        if j < stored.len() && stored.ts[j] == bars.ts[i] {
            if same_bar(bars, i, stored, j) {
                skipped += new.records[i] as u64;
            } else {
                conflicts.push((
                    i,
                    format!(
                        "conflicts with the stored {} {} bar at {}: stored O/H/L/C {}/{}/{}/{}, \
                         new {}/{}/{}/{} (kept the stored bar)",
                        new.key.pair,
                        new.key.side,
                        bqx_domain::format_utc_micros(bars.ts[i]),
                        stored.open[j],
                        stored.high[j],
                        stored.low[j],
                        stored.close[j],
                        bars.open[i],
                        bars.high[i],
                        bars.low[i],
                        bars.close[i]
                    ),
                ));
            }
        } else {
            keep.push(i);
        }
    }
    (keep, skipped, conflicts)
}

/// Same prices, and same volume / spread where both sides know them.
fn same_bar(a: &BarColumns, i: usize, b: &BarColumns, j: usize) -> bool {
    let opt = |x: &Option<Vec<f64>>, y: &Option<Vec<f64>>| match (x, y) {
        (Some(x), Some(y)) => x[i] == y[j] || (x[i].is_nan() && y[j].is_nan()),
        _ => true,
    };
    a.open[i] == b.open[j]
        && a.high[i] == b.high[j]
        && a.low[i] == b.low[j]
        && a.close[i] == b.close[j]
        && opt(&a.volume, &b.volume)
        && opt(&a.spread, &b.spread)
}

/// The raw text of the given 1-based lines of `text` (in the order given).
fn raw_lines(text: &str, lines: impl Iterator<Item = u64>) -> Vec<String> {
    let wanted: Vec<u64> = lines.collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<u64> = wanted.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let mut found = std::collections::HashMap::with_capacity(sorted.len());
    let mut next = 0;
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        while next < sorted.len() && sorted[next] < n {
            next += 1;
        }
        if next == sorted.len() {
            break;
        }
        if sorted[next] == n {
            found.insert(n, line.trim_end_matches('\r').to_string());
        }
    }
    wanted
        .iter()
        .map(|l| found.get(l).cloned().unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        SeriesKey {
            pair: Pair::parse("EURUSD").unwrap(),
            side: PriceSide::Bid,
            timeframe: Timeframe::M1,
        }
    }

    fn series(ts: &[i64], close: &[f64]) -> SeriesWrite {
        let mut bars = BarColumns::with_capacity(ts.len(), true, false);
        for (t, c) in ts.iter().zip(close) {
            bars.push(*t, *c, *c + 0.001, *c - 0.001, *c, 10.0, f64::NAN);
        }
        SeriesWrite {
            key: key(),
            first_line: (1..=ts.len() as u64).collect(),
            records: vec![1; ts.len()],
            bars,
        }
    }

    fn file<'a>(s: SeriesWrite, text: &'a str) -> FileWrite<'a> {
        let n = s.bars.len() as u64;
        FileWrite {
            source: "test.csv".into(),
            sha256: "00".into(),
            bytes: 0,
            format: "test".into(),
            source_tz: "UTC".into(),
            read: n,
            accepted: n,
            skipped: 0,
            rejected: vec![],
            series: vec![s],
            text,
        }
    }

    #[test]
    fn rewrites_are_idempotent_and_conflicts_are_quarantined_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "test").unwrap();
        let m = 60_000_000;
        let text = "a\nb\nc\n";
        let w = |s| BarsWrite {
            run_id: "r".into(),
            files: vec![file(s, text)],
        };
        let out = store
            .write_bars(w(series(&[0, m, 2 * m], &[1.1, 1.2, 1.3])), |_| {})
            .unwrap();
        assert_eq!((out[0].accepted, out[0].bars_written), (3, 3));
        // Same bars again: nothing added.
        let out = store
            .write_bars(w(series(&[0, m, 2 * m], &[1.1, 1.2, 1.3])), |_| {})
            .unwrap();
        assert_eq!((out[0].accepted, out[0].skipped_stored), (0, 3));
        assert_eq!(store.counts().unwrap(), (3, 0));
        // One new bar, one conflicting bar (line 2), one identical.
        let out = store
            .write_bars(w(series(&[m, 2 * m, 3 * m], &[1.2, 1.35, 1.4])), |_| {})
            .unwrap();
        assert_eq!(out[0].accepted, 1);
        assert_eq!(out[0].skipped_stored, 1);
        assert_eq!(out[0].rejected_stored, 1);
        assert_eq!(out[0].conflicts[0].line, 2);
        assert_eq!(store.counts().unwrap(), (4, 1));
        let stored = store.load_series(key()).unwrap();
        assert_eq!(stored.ts, vec![0, m, 2 * m, 3 * m]);
        assert_eq!(stored.close, vec![1.1, 1.2, 1.3, 1.4], "stored bar kept");
        assert!(stored.spread.is_none(), "unknown spread stays unknown");
        let (raw, kind): (String, String) = store
            .duck()
            .query_row("SELECT raw, kind FROM quarantine", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((raw.as_str(), kind.as_str()), ("b", "stored_conflict"));
    }

    #[test]
    fn a_failed_write_leaves_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), "test").unwrap();
        let good = series(&[0, 60_000_000], &[1.1, 1.2]);
        // A second file whose batch cannot be built (columns of different lengths).
        let mut bad = series(&[120_000_000], &[1.3]);
        bad.bars.close.push(9.9);
        let err = store.write_bars(
            BarsWrite {
                run_id: "r".into(),
                files: vec![file(good, ""), file(bad, "")],
            },
            |_| {},
        );
        assert!(err.is_err());
        assert_eq!(store.counts().unwrap(), (0, 0));
        let files: i64 = store
            .duck()
            .query_row("SELECT count(*) FROM source_files", [], |r| r.get(0))
            .unwrap();
        assert_eq!(files, 0);
    }
}
