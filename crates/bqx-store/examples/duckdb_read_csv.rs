//! Benchmark peer for `bqx ingest`: DuckDB's own CSV reader loading HistData-layout files into
//! a table of a fresh database file, with typed columns, parsed timestamps and the pair taken
//! from the file name.
//!
//! Workload: the 28 files written by `bqx synth --bars 372000 --format histdata --out DIR`
//! (one year of 28-pair M1, ≈ 10.4 M rows).
//!
//! Run: `cargo run --example duckdb_read_csv -p bqx-store -- DIR OUT.duckdb`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: duckdb_read_csv DIR OUT.duckdb")?;
    let out = args.next().ok_or("usage: duckdb_read_csv DIR OUT.duckdb")?;
    let _ = std::fs::remove_file(&out);
    let conn = duckdb::Connection::open(&out)?;
    let glob = format!("{}/*.csv", dir.trim_end_matches('/')).replace('\'', "''");
    let started = std::time::Instant::now();
    conn.execute_batch(&format!(
        "CREATE TABLE bars AS
         SELECT regexp_extract(filename, 'DAT_ASCII_([A-Z]{{6}})_', 1) AS pair,
                ts + INTERVAL 5 HOUR AS ts, open, high, low, close, volume
         FROM read_csv('{glob}', delim = ';', header = false, filename = true,
                       timestampformat = '%Y%m%d %H%M%S',
                       columns = {{'ts': 'TIMESTAMP', 'open': 'DOUBLE', 'high': 'DOUBLE',
                                  'low': 'DOUBLE', 'close': 'DOUBLE', 'volume': 'DOUBLE'}})"
    ))?;
    let n: i64 = conn.query_row("SELECT count(*) FROM bars", [], |r| r.get(0))?;
    eprintln!(
        "duckdb read_csv: {n} rows in {:.2} s ({:.2} M rows/s)",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64() / 1e6
    );
    Ok(())
}
