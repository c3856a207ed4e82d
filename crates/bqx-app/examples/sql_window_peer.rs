//! Benchmark peer for the base stage: the BQX (37) and REG-rate (42) families written as DuckDB
//! SQL window functions, against our kernels on the same series.
//!
//! Workload: every series of a store (e.g. `bqx synth --bars 372000 --into-store`, one year of
//! 28-pair M1, ≈ 10.4 M bars). Both sides start from the stored bars and end with the 79
//! feature columns materialized on disk (the peer in a DuckDB table of the same database, ours
//! in the store's feature files):
//! - peer: one `CREATE TABLE … AS SELECT` with window aggregates (DuckDB's segment trees; the
//!   quadratic REG fit from windowed sums Σy, Σn·y, Σn²·y, Σy² and the constant (XᵀX)⁻¹ of
//!   each window, which is how one writes it in SQL);
//! - ours: read bars (Arrow), run `BqxKernel` + `RegRateKernel` per series in parallel (rayon),
//!   write each series' FLOAT columns to its feature file (the store's layout).
//!
//! It also prints the largest difference between the two results on a few columns, so that the
//! comparison is known to be like for like.
//!
//! Run: `cargo run --example sql_window_peer -p bqx-app -- STORE_DIR`

use std::time::Instant;

use bqx_features::{BqxKernel, Kernel, REG_WINDOWS, RegRateKernel, compute_batch};
use bqx_store::{FeatureWrite, Store};
use rayon::prelude::*;

const BQX_W: [usize; 5] = [15, 30, 45, 60, 75];

/// (XᵀX)⁻¹ for x = 0..W−1 and columns [1, x, x²].
fn xtx_inverse(w: usize) -> [[f64; 3]; 3] {
    let mut m = [[0.0f64; 3]; 3];
    for x in 0..w {
        let x = x as f64;
        let p = [1.0, x, x * x];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += p[i] * p[j];
            }
        }
    }
    // Gauss–Jordan on a 3×3 symmetric positive-definite matrix.
    let mut a = m;
    let mut inv = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for c in 0..3 {
        let piv = a[c][c];
        for j in 0..3 {
            a[c][j] /= piv;
            inv[c][j] /= piv;
        }
        for r in 0..3 {
            if r != c {
                let f = a[r][c];
                for j in 0..3 {
                    a[r][j] -= f * a[c][j];
                    inv[r][j] -= f * inv[c][j];
                }
            }
        }
    }
    inv
}

fn peer_sql() -> String {
    let part = "PARTITION BY pair_id, side_id, tf_secs ORDER BY ts";
    let mut cols = Vec::new();
    let mut windows = Vec::new();
    for w in BQX_W {
        windows.push(format!(
            "b{w} AS ({part} ROWS BETWEEN {w} PRECEDING AND 1 PRECEDING)"
        ));
        let full = format!("count(close) OVER b{w} = {w}");
        cols.push(format!(
            "CASE WHEN {full} THEN {w} * (avg(close) OVER b{w} - close) / close END AS bqx_return_{w}"
        ));
        cols.push(format!(
            "(lag(close, {w}) OVER ({part}) - close) / close AS bqx_endpoint_{w}"
        ));
        cols.push(format!(
            "CASE WHEN {full} THEN (max(close) OVER b{w} - close) / close END AS bqx_max_{w}"
        ));
        cols.push(format!(
            "CASE WHEN {full} THEN (min(close) OVER b{w} - close) / close END AS bqx_min_{w}"
        ));
        cols.push(format!(
            "CASE WHEN {full} THEN (avg(close) OVER b{w} - close) / close END AS bqx_avg_{w}"
        ));
        cols.push(format!(
            "CASE WHEN {full} THEN stddev_samp(close) OVER b{w} / close END AS bqx_stdev_{w}"
        ));
    }
    let full = "count(close) OVER b75 = 75";
    for (name, e) in [
        ("return", "75 * (avg(close) OVER b75 - close) / close"),
        ("max", "(max(close) OVER b75 - close) / close"),
        ("min", "(min(close) OVER b75 - close) / close"),
        ("avg", "(avg(close) OVER b75 - close) / close"),
        ("stdev", "stddev_samp(close) OVER b75 / close"),
        (
            "range",
            "(max(close) OVER b75 - min(close) OVER b75) / close",
        ),
        (
            "volatility",
            "stddev_samp(close) OVER b75 / avg(close) OVER b75",
        ),
    ] {
        cols.push(format!("CASE WHEN {full} THEN {e} END AS bqx_agg_{name}"));
    }
    // REG on the rate index over rows t−W..t−1, x = 0..W−1: T0 = Σy, T1 = Σx·y, T2 = Σx²·y
    // from windowed sums of y, n·y, n²·y with k = n(t) − W the row of x = 0.
    let mut reg_cols = Vec::new();
    for w in REG_WINDOWS {
        windows.push(format!(
            "r{w} AS ({part} ROWS BETWEEN {w} PRECEDING AND 1 PRECEDING)"
        ));
        let inv = xtx_inverse(w);
        let k = format!("(n - {w})");
        let t0 = format!("sum(y) OVER r{w}");
        let s1 = format!("sum(n * y) OVER r{w}");
        let s2 = format!("sum(n * n * y) OVER r{w}");
        let syy = format!("sum(y * y) OVER r{w}");
        let t1 = format!("({s1} - {k} * {t0})");
        let t2 = format!("({s2} - 2 * {k} * {s1} + {k} * {k} * {t0})");
        let a = |i: usize| {
            format!(
                "({:e} * {t0} + {:e} * {t1} + {:e} * {t2})",
                inv[i][0], inv[i][1], inv[i][2]
            )
        };
        let xe = (w - 1) as f64;
        reg_cols.push(format!(
            "CASE WHEN count(y) OVER r{w} = {w} THEN struct_pack(a0 := {a0}, a1 := {a1}, a2 := {a2}, \
             t0 := {t0}, t1 := {t1}, t2 := {t2}, syy := {syy}, ylast := lag(y) OVER ({part})) END AS f{w}",
            a0 = a(0),
            a1 = a(1),
            a2 = a(2),
        ));
        let ss_res = format!(
            "greatest(f{w}.syy - (f{w}.a0 * f{w}.t0 + f{w}.a1 * f{w}.t1 + f{w}.a2 * f{w}.t2), 0)"
        );
        let ss_tot = format!("(f{w}.syy - f{w}.t0 * f{w}.t0 / {w})");
        let pred = format!(
            "(f{w}.a2 * {xe2:e} + f{w}.a1 * {xe:e} + f{w}.a0)",
            xe2 = xe * xe
        );
        cols.push(format!("f{w}.a2 * {:e} AS reg_rate_quad_term_{w}", xe * xe));
        cols.push(format!("f{w}.a1 * {xe:e} AS reg_rate_lin_term_{w}"));
        cols.push(format!("f{w}.a0 AS reg_rate_const_term_{w}"));
        cols.push(format!("{pred} AS reg_rate_prediction_{w}"));
        cols.push(format!("f{w}.ylast - {pred} AS reg_rate_residual_{w}"));
        cols.push(format!(
            "CASE WHEN {ss_tot} <= 1e-12 * f{w}.syy THEN 0 ELSE 1 - {ss_res} / {ss_tot} END AS reg_rate_r2_{w}"
        ));
        cols.push(format!("sqrt({ss_res} / {w}) AS reg_rate_rmse_{w}"));
    }
    let bqx_cols: Vec<&String> = cols.iter().take(37).collect();
    let reg_out: Vec<&String> = cols.iter().skip(37).collect();
    format!(
        "CREATE OR REPLACE TABLE peer_sql AS \
         WITH src AS ( \
           SELECT pair_id, side_id, tf_secs, ts, close, \
                  (row_number() OVER ({part}) - 1)::DOUBLE AS n, \
                  100 * close / first_value(close) OVER ({part}) AS y \
           FROM bars), \
         fits AS ( \
           SELECT pair_id, side_id, tf_secs, ts, close, {bqx}, {regs} FROM src \
           WINDOW {wins}) \
         SELECT pair_id, side_id, tf_secs, ts, {bqx_names}, {reg_out} FROM fits",
        bqx = bqx_cols
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        regs = reg_cols.join(", "),
        wins = windows.join(", "),
        bqx_names = names_of(&bqx_cols).join(", "),
        reg_out = reg_out
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn names_of(cols: &[&String]) -> Vec<String> {
    cols.iter()
        .map(|c| c.rsplit(" AS ").next().unwrap().to_string())
        .collect()
}

/// BQX + REG-rate as one kernel list.
fn our_kernels() -> Vec<Box<dyn Kernel>> {
    vec![Box::new(BqxKernel::new()), Box::new(RegRateKernel::new())]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: sql_window_peer STORE_DIR")?;
    let mut store = Store::open(std::path::Path::new(&dir), "sql_window_peer")?;
    let bars: i64 = store
        .duck()
        .query_row("SELECT count(*) FROM bars", [], |r| r.get(0))?;

    let sql = peer_sql();
    let t = Instant::now();
    store.duck().execute_batch(&sql)?;
    let peer_s = t.elapsed().as_secs_f64();
    eprintln!(
        "peer (DuckDB SQL windows): {bars} bars × 79 features in {peer_s:.2} s ({:.1} M rows×features/s)",
        bars as f64 * 79.0 / peer_s / 1e6
    );

    let t = Instant::now();
    let summaries = store.series_summaries()?;
    let loaded: Vec<_> = summaries
        .iter()
        .map(|s| Ok((s.key, store.load_series(s.key)?)))
        .collect::<Result<_, bqx_store::StoreError>>()?;
    let load_s = t.elapsed().as_secs_f64();
    let computed: Vec<_> = loaded
        .par_iter()
        .map(|(key, b)| {
            let mut set = bqx_features::FeatureSet::new(our_kernels());
            (*key, compute_batch(&mut set, b).expect("valid bars"))
        })
        .collect();
    let compute_s = t.elapsed().as_secs_f64() - load_s;
    let names = computed[0].1.names.clone();
    for ((key, m), (_, b)) in computed.iter().zip(&loaded) {
        store.write_features(FeatureWrite {
            stage: "peer_bench",
            key: *key,
            schema_hash: "peer_bench_bqx_reg_rate",
            names: &names,
            ts: &b.ts,
            columns: (0..names.len()).map(|j| m.column(j)).collect(),
            bars_fingerprint: "bench",
        })?;
    }
    let ours_s = t.elapsed().as_secs_f64();
    eprintln!(
        "ours (kernels): {bars} bars × {} features in {ours_s:.2} s (load {load_s:.2} s, compute {compute_s:.2} s, write {:.2} s) → {:.1}× the peer",
        names.len(),
        ours_s - load_s - compute_s,
        peer_s / ours_s
    );

    // Like for like: the largest relative difference per checked column (our values are read
    // back from the feature files just written).
    let mut parts = Vec::new();
    for (key, _) in &computed {
        let state = store
            .feature_state("peer_bench", *key)?
            .ok_or("a written series has no state")?;
        let (pair_id, side_id, tf_secs) = key.codes();
        parts.push(format!(
            "SELECT {pair_id}::UTINYINT AS pair_id, {side_id}::UTINYINT AS side_id, \
             {tf_secs}::UINTEGER AS tf_secs, * FROM read_parquet('{}')",
            store.dir().join(&state.file).display()
        ));
    }
    store.duck().execute_batch(&format!(
        "CREATE TEMP VIEW ours AS {}",
        parts.join(" UNION ALL ")
    ))?;
    let table = "ours";
    for col in [
        "bqx_return_60",
        "bqx_stdev_15",
        "bqx_agg_volatility",
        "reg_rate_lin_term_60",
        "reg_rate_quad_term_240",
        "reg_rate_r2_630",
    ] {
        let (n, worst): (i64, Option<f64>) = store.duck().query_row(
            &format!(
                "SELECT count(*), max(abs(p.{col} - o.{col}) / greatest(abs(p.{col}), 1e-9)) \
                 FROM peer_sql p JOIN {table} o USING (pair_id, side_id, tf_secs, ts) \
                 WHERE p.{col} IS NOT NULL AND o.{col} IS NOT NULL"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        eprintln!(
            "  {col}: {n} rows compared, largest relative difference {worst:?} (ours stored as f32)"
        );
    }
    store.duck().execute_batch(
        "DROP TABLE peer_sql; DROP VIEW ours; DELETE FROM feature_series WHERE stage = 'peer_bench'",
    )?;
    let _ = std::fs::remove_dir_all(store.dir().join(bqx_store::FEATURES_DIR).join("peer_bench"));
    Ok(())
}
