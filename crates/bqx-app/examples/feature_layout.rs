//! Storage-layout benchmark of the base feature panel: write speed, bytes on disk and the read
//! speed of a training matrix, for the candidate layouts of issue 3.
//!
//! Workload: the first `PAIRS` series of a store with bars (e.g. `bqx synth --bars 372000
//! --into-store`: one year of M1), their base features computed once with the real kernels
//! (`FeatureSet`, ≈ 357 columns), then written in each layout into a fresh directory:
//! - `duckdb-wide`: one wide FLOAT table for all pairs, the Arrow appender, DuckDB's default
//!   compression (ALP-RD for floats): what `bqx run --stages base` does today;
//! - `duckdb-wide-uncompressed`: the same with `force_compression = 'uncompressed'`;
//! - `duckdb-per-family`: one FLOAT table per feature family (same rows, ~20 narrower tables);
//! - `parquet-per-pair` (CODEC = none | snappy | zstd): one Parquet file per pair written by
//!   arrow-rs, pairs in parallel on rayon (a writer per file needs no shared connection), read
//!   back through DuckDB's `read_parquet`.
//!
//! Reads (through DuckDB, into Arrow, as the backtest loads its matrix): (a) every feature of one
//! pair (in stored order, which is time order); (b) 20 features of every pair.
//! `LAYOUTS='parquet-per-pair;duckdb-wide'` (names or variants, `;`-separated) runs a subset.
//!
//! Run: `cargo run --release --example feature_layout -p bqx-app -- STORE_DIR PAIRS`
//! (the dev profile is what the numbers in BENCHMARKS.md use).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bqx_features::{FeatureSet, SourceCaps, compute_batch};
use bqx_store::Store;
use duckdb::arrow::array::{ArrayRef, Float32Array, TimestampMicrosecondArray, UInt8Array};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::arrow::record_batch::RecordBatch;
use rayon::prelude::*;

const CHUNK: usize = 1 << 16;

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

struct Series {
    pair_id: u8,
    ts: Vec<i64>,
    names: Vec<String>,
    /// Column-major f32 (what is stored), NaN for missing.
    cols: Vec<Vec<f32>>,
}

fn schema(names: &[String], with_pair: bool) -> Arc<Schema> {
    let mut fields = Vec::new();
    if with_pair {
        fields.push(Field::new("pair_id", DataType::UInt8, false));
    }
    fields.push(Field::new(
        "ts",
        DataType::Timestamp(TimeUnit::Microsecond, None),
        false,
    ));
    fields.extend(
        names
            .iter()
            .map(|n| Field::new(n.as_str(), DataType::Float32, true)),
    );
    Arc::new(Schema::new(fields))
}

fn batches(s: &Series, cols: &[usize], with_pair: bool) -> Vec<RecordBatch> {
    let names: Vec<String> = cols.iter().map(|&j| s.names[j].clone()).collect();
    let sch = schema(&names, with_pair);
    let n = s.ts.len();
    (0..n)
        .step_by(CHUNK)
        .map(|a| {
            let b = (a + CHUNK).min(n);
            let mut arrays: Vec<ArrayRef> = Vec::new();
            if with_pair {
                arrays.push(Arc::new(UInt8Array::from(vec![s.pair_id; b - a])));
            }
            arrays.push(Arc::new(TimestampMicrosecondArray::from(
                s.ts[a..b].to_vec(),
            )));
            for &j in cols {
                arrays.push(Arc::new(Float32Array::from_iter(
                    s.cols[j][a..b].iter().map(|&v| (!v.is_nan()).then_some(v)),
                )));
            }
            RecordBatch::try_new(sch.clone(), arrays).expect("batch")
        })
        .collect()
}

fn quote(n: &str) -> String {
    format!("\"{}\"", n.replace('"', "\"\""))
}

fn create_table(db: &duckdb::Connection, table: &str, names: &[String]) {
    let cols: Vec<String> = names
        .iter()
        .map(|n| format!("{} FLOAT", quote(n)))
        .collect();
    db.execute_batch(&format!(
        "CREATE TABLE {table} (pair_id UTINYINT NOT NULL, ts TIMESTAMP NOT NULL, {})",
        cols.join(", ")
    ))
    .expect("create");
}

/// Family of a feature name: the catalog's family when known, else the name's first token.
fn family(name: &str) -> String {
    name.split(['_', '(']).next().unwrap_or(name).to_string()
}

fn write_duckdb(dir: &Path, series: &[Series], by_family: bool, uncompressed: bool) -> f64 {
    let db = duckdb::Connection::open(dir.join("f.duckdb")).expect("open");
    db.execute_batch("SET memory_limit = '4GB'").unwrap();
    if uncompressed {
        db.execute_batch("SET force_compression = 'uncompressed'")
            .unwrap();
    }
    let names = &series[0].names;
    let groups: Vec<(String, Vec<usize>)> = if by_family {
        let mut g: Vec<(String, Vec<usize>)> = Vec::new();
        for (j, n) in names.iter().enumerate() {
            let f = family(n);
            match g.iter_mut().find(|(k, _)| *k == f) {
                Some((_, v)) => v.push(j),
                None => g.push((f, vec![j])),
            }
        }
        g
    } else {
        vec![("all".to_string(), (0..names.len()).collect())]
    };
    let t0 = Instant::now();
    for (g, cols) in &groups {
        let table = format!("f_{g}");
        let gnames: Vec<String> = cols.iter().map(|&j| names[j].clone()).collect();
        create_table(&db, &quote(&table), &gnames);
    }
    for s in series {
        let tx = db.unchecked_transaction().expect("tx");
        for (g, cols) in &groups {
            let mut app = tx.appender(&format!("f_{g}")).expect("appender");
            for b in batches(s, cols, true) {
                app.append_record_batch(b).expect("append");
            }
            app.flush().expect("flush");
        }
        tx.commit().expect("commit");
    }
    db.execute_batch("CHECKPOINT").unwrap();
    let secs = t0.elapsed().as_secs_f64();
    if by_family {
        // Reads join the family tables back on (pair_id, ts): give them one view.
        let mut sel = String::from("SELECT f0.pair_id, f0.ts");
        let mut from = String::new();
        for (i, (g, cols)) in groups.iter().enumerate() {
            for &j in cols {
                sel.push_str(&format!(", f{i}.{}", quote(&names[j])));
            }
            if i == 0 {
                from = format!(" FROM {} f0", quote(&format!("f_{g}")));
            } else {
                from.push_str(&format!(
                    " POSITIONAL JOIN {} f{i}",
                    quote(&format!("f_{g}"))
                ));
            }
        }
        db.execute_batch(&format!("CREATE VIEW features AS {sel}{from}"))
            .unwrap();
    } else {
        db.execute_batch("CREATE VIEW features AS SELECT * FROM f_all")
            .unwrap();
    }
    secs
}

fn write_parquet(dir: &Path, series: &[Series], variant: &str) -> f64 {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, Encoding, ZstdLevel};
    use parquet::file::properties::{EnabledStatistics, WriterProperties};
    use parquet::schema::types::ColumnPath;
    let (codec, split, stats) = match variant {
        "none" => (Compression::UNCOMPRESSED, false, true),
        "snappy" => (Compression::SNAPPY, false, true),
        "snappy, no value statistics" => (Compression::SNAPPY, false, false),
        "zstd" => (
            Compression::ZSTD(ZstdLevel::try_new(1).unwrap()),
            false,
            true,
        ),
        "zstd, byte-stream-split" => (
            Compression::ZSTD(ZstdLevel::try_new(1).unwrap()),
            true,
            true,
        ),
        "zstd, byte-stream-split, no value statistics" => (
            Compression::ZSTD(ZstdLevel::try_new(1).unwrap()),
            true,
            false,
        ),
        other => panic!("variant {other}"),
    };
    let t0 = Instant::now();
    series.par_iter().for_each(|s| {
        let cols: Vec<usize> = (0..s.names.len()).collect();
        let mut b = WriterProperties::builder()
            .set_compression(codec)
            .set_dictionary_enabled(false)
            .set_max_row_group_row_count(Some(2 * CHUNK));
        if split {
            b = b.set_encoding(Encoding::BYTE_STREAM_SPLIT);
        }
        if !stats {
            b = b
                .set_statistics_enabled(EnabledStatistics::None)
                .set_column_statistics_enabled(ColumnPath::from("ts"), EnabledStatistics::Chunk);
        }
        let props = b.build();
        let path = dir.join(format!("pair_id={}.parquet", s.pair_id));
        let file = std::fs::File::create(&path).expect("create");
        let mut w = ArrowWriter::try_new(file, schema(&s.names, true), Some(props)).expect("w");
        for b in batches(s, &cols, true) {
            w.write(&b).expect("write");
        }
        w.close().expect("close");
    });
    let secs = t0.elapsed().as_secs_f64();
    let db = duckdb::Connection::open(dir.join("f.duckdb")).expect("open");
    db.execute_batch(&format!(
        "CREATE VIEW features AS SELECT * FROM read_parquet('{}/*.parquet')",
        dir.display()
    ))
    .unwrap();
    secs
}

/// (seconds, values read) of a query read fully into Arrow.
fn read(db: &duckdb::Connection, sql: &str) -> (f64, usize) {
    let t0 = Instant::now();
    let mut st = db.prepare(sql).expect("prepare");
    let mut values = 0;
    for b in st.query_arrow([]).expect("query") {
        values += b.num_rows() * b.num_columns();
    }
    (t0.elapsed().as_secs_f64(), values)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: feature_layout STORE_DIR PAIRS [OUT_DIR]");
        std::process::exit(2);
    }
    let store_dir = PathBuf::from(&args[1]);
    let pairs: usize = args[2].parse().expect("PAIRS");
    let out = PathBuf::from(args.get(3).cloned().unwrap_or("/tmp/bqx-layout".into()));
    let store = Store::open(&store_dir, "feature_layout").expect("store");
    let summaries = store.series_summaries().expect("series");
    let keys: Vec<_> = summaries.iter().take(pairs).map(|s| s.key).collect();
    let loaded: Vec<_> = keys
        .iter()
        .map(|k| (*k, store.load_series(*k).expect("bars")))
        .collect();
    drop(store);
    let t0 = Instant::now();
    let series: Vec<Series> = loaded
        .par_iter()
        .enumerate()
        .map(|(i, (_, bars))| {
            let close_only =
                bars.open == bars.close && bars.high == bars.close && bars.low == bars.close;
            let mut set = FeatureSet::for_source(SourceCaps::of(bars, close_only));
            let m = compute_batch(&mut set, bars).expect("features");
            Series {
                pair_id: i as u8,
                ts: bars.ts.clone(),
                cols: (0..m.names.len())
                    .map(|j| m.column(j).iter().map(|&v| v as f32).collect())
                    .collect(),
                names: m.names,
            }
        })
        .collect();
    let rows: usize = series.iter().map(|s| s.ts.len()).sum();
    let width = series[0].names.len();
    eprintln!(
        "feature_layout: {} series, {rows} rows x {width} features computed in {:.1} s",
        series.len(),
        t0.elapsed().as_secs_f64()
    );
    let raw = (rows * width * 4) as f64;
    let some: Vec<String> = series[0]
        .names
        .iter()
        .step_by((width / 20).max(1))
        .take(20)
        .map(|n| quote(n))
        .collect();
    println!(
        "| layout | write s | M values/s | bytes on disk | vs raw f32 | read one pair, all features | read 20 features, all pairs |"
    );
    println!("|---|---|---|---|---|---|---|");
    let layouts: &[(&str, &str)] = &[
        ("duckdb-wide", ""),
        ("duckdb-wide-uncompressed", ""),
        ("duckdb-per-family", ""),
        ("parquet-per-pair", "none"),
        ("parquet-per-pair", "snappy"),
        ("parquet-per-pair", "snappy, no value statistics"),
        ("parquet-per-pair", "zstd"),
        ("parquet-per-pair", "zstd, byte-stream-split"),
        (
            "parquet-per-pair",
            "zstd, byte-stream-split, no value statistics",
        ),
    ];
    let only: Option<String> = std::env::var("LAYOUTS").ok();
    for (layout, codec) in layouts {
        if only
            .as_ref()
            .is_some_and(|o| !o.split(';').any(|x| x == *layout || x == *codec))
        {
            continue;
        }
        let dir = out.join(format!("{layout}{}", codec.replace([' ', ','], "")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let secs = match *layout {
            "duckdb-wide" => write_duckdb(&dir, &series, false, false),
            "duckdb-wide-uncompressed" => write_duckdb(&dir, &series, false, true),
            "duckdb-per-family" => write_duckdb(&dir, &series, true, false),
            _ => write_parquet(&dir, &series, codec),
        };
        let bytes = dir_bytes(&dir);
        let db = duckdb::Connection::open(dir.join("f.duckdb")).expect("open");
        let (ra, va) = read(&db, "SELECT * FROM features WHERE pair_id = 0");
        let (rb, vb) = read(
            &db,
            &format!("SELECT pair_id, ts, {} FROM features", some.join(", ")),
        );
        let name = if codec.is_empty() {
            layout.to_string()
        } else {
            format!("{layout} ({codec})")
        };
        println!(
            "| {name} | {secs:.2} | {:.0} | {:.0} MiB | {:.2} | {ra:.2} s ({:.0} M values/s) | {rb:.2} s ({:.0} M values/s) |",
            (rows * width) as f64 / secs / 1e6,
            bytes as f64 / (1 << 20) as f64,
            bytes as f64 / raw,
            va as f64 / ra / 1e6,
            vb as f64 / rb / 1e6,
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
