//! End-to-end tests of `bqx ingest`, `bqx synth` and `bqx status`, driving the real binary
//! against real stores in temporary directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

#[path = "common/mod.rs"]
mod common;
use common::{bqx, json_ok};

/// Writes a seeded synthetic market straight into the store.
fn synth_into_store(store: &Path, bars: &str, seed: &str) {
    json_ok(&bqx(
        store,
        &[
            "--json",
            "synth",
            "--bars",
            bars,
            "--seed",
            seed,
            "--into-store",
        ],
    ));
}

fn fixture(name: &str) -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A fingerprint of everything stored: bar content, quarantine and per-file accounting.
fn store_fingerprint(store: &Path) -> (i64, i64, i64, i64) {
    let s = bqx_store::Store::open(store, "test fingerprint").expect("open store");
    s.duck()
        .query_row(
            "SELECT (SELECT count(*) FROM bars), \
                    (SELECT coalesce(sum(hash(pair_id, side_id, tf_secs, ts, open, high, low, close, volume, spread) % 1000000007), 0)::BIGINT FROM bars), \
                    (SELECT count(*) FROM quarantine), \
                    (SELECT coalesce(sum(accepted), 0)::BIGINT FROM source_files)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .expect("fingerprint query")
}

#[test]
fn every_layout_maps_the_same_three_minutes_to_the_same_utc_instants() {
    let cases: &[(&str, &[&str])] = &[
        ("DAT_ASCII_EURUSD_M1_202403.csv", &[]),
        ("EURUSD_Candlestick_1_M_BID_05.03.2024-05.03.2024.csv", &[]),
        ("EURUSD_Candlestick_1_M_BID_local.csv", &[]),
        ("EURUSD1.csv", &["--tz", "ny-close"]),
        ("EURUSD_M1_mt5.csv", &["--tz", "ny-close"]),
        ("EURUSD-2024-03.csv", &[]),
        ("bars.csv", &[]),
    ];
    for (file, extra) in cases {
        let store = tempfile::tempdir().unwrap();
        let path = fixture(file);
        let mut args = vec!["--json", "ingest", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let v = json_ok(&bqx(store.path(), &args));
        let f = &v["files"][0];
        assert_eq!(f["pairs"], serde_json::json!(["EURUSD"]), "{file}");
        assert_eq!(f["first_utc"], "2024-03-05T22:00:00Z", "{file}: {f}");
        assert_eq!(f["last_utc"], "2024-03-05T22:02:00Z", "{file}: {f}");
        assert_eq!(f["rejected"], 0, "{file}: {f}");
        assert_eq!(
            f["read"].as_u64().unwrap(),
            f["accepted"].as_u64().unwrap(),
            "{file}"
        );
        // The bar at 22:01 UTC closes at 1.08533 (bid) in every bar layout.
        if *file != "EURUSD-2024-03.csv" {
            let s = bqx_store::Store::open(store.path(), "test").unwrap();
            let close: f64 = s
                .duck()
                .query_row(
                    "SELECT close FROM bars_v WHERE ts = TIMESTAMP '2024-03-05 22:01:00'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(close, 1.08533, "{file}");
        }
    }
}

#[test]
fn reingest_adds_nothing_and_a_conflicting_row_is_reported_not_overwritten() {
    let store = tempfile::tempdir().unwrap();
    let file = fixture("DAT_ASCII_EURUSD_M1_202403.csv");
    let first = json_ok(&bqx(
        store.path(),
        &["--json", "ingest", file.to_str().unwrap()],
    ));
    assert_eq!(first["totals"]["bars_written"], 3);
    let before = store_fingerprint(store.path());

    let again = json_ok(&bqx(
        store.path(),
        &["--json", "ingest", file.to_str().unwrap()],
    ));
    let f = &again["files"][0];
    assert_eq!(
        (f["read"].as_u64(), f["accepted"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(f["skipped_stored"], 3);
    assert_eq!(again["totals"]["bars_written"], 0);
    let after = store_fingerprint(store.path());
    assert_eq!((before.0, before.1, before.2), (after.0, after.1, after.2));

    // Same minute 17:01 EST, a different close, plus one new minute.
    let dir = tempfile::tempdir().unwrap();
    let changed = dir.path().join("DAT_ASCII_EURUSD_M1_202403.csv");
    std::fs::write(
        &changed,
        "20240305 170100;1.085470;1.085490;1.085310;1.085350;0\n\
         20240305 170300;1.085380;1.085420;1.085300;1.085400;0\n",
    )
    .unwrap();
    let v = json_ok(&bqx(
        store.path(),
        &["--json", "ingest", changed.to_str().unwrap()],
    ));
    let f = &v["files"][0];
    assert_eq!(f["read"], 2);
    assert_eq!(f["accepted"], 1);
    assert_eq!(f["rejected"], 1);
    assert_eq!(
        f["rejections"]["stored_conflict"]["example_lines"],
        serde_json::json!([1])
    );
    let s = bqx_store::Store::open(store.path(), "test").unwrap();
    let (close, raw): (f64, String) = s
        .duck()
        .query_row(
            "SELECT b.close, q.raw FROM bars_v b, quarantine q \
             WHERE b.ts = TIMESTAMP '2024-03-05 22:01:00' AND q.kind = 'stored_conflict'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(close, 1.08533, "the stored bar is kept");
    assert_eq!(raw, "20240305 170100;1.085470;1.085490;1.085310;1.085350;0");
}

#[test]
fn bad_rows_are_quarantined_with_exact_accounting_and_exit_zero() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("DAT_ASCII_GBPUSD_M1_2024.csv");
    std::fs::write(
        &file,
        "20240305 170200;1.26000;1.26010;1.25990;1.26005;0\n\
         20240305 170000;1.26000;1.26010;1.25990;1.26005;0\n\
         20240305 170100;-1.26000;1.26010;1.25990;1.26005;0\n\
         20240305 170300;1.26000;1.25000;1.25990;1.26005;0\n\
         20240305 1704;1.26000;1.26010;1.25990;1.26005;0\n\
         20240305 170000;1.26000;1.26010;1.25990;1.26005;0\n\
         20240305 170500;1.26000;abc;1.25990;1.26005;0\n",
    )
    .unwrap();
    let out = bqx(store.path(), &["--json", "ingest", file.to_str().unwrap()]);
    let v = json_ok(&out);
    let f = &v["files"][0];
    let n = |k: &str| f[k].as_u64().unwrap();
    assert_eq!(n("read"), 7);
    assert_eq!(n("read"), n("accepted") + n("rejected") + n("skipped"));
    assert_eq!((n("accepted"), n("rejected"), n("skipped")), (2, 4, 1));
    assert_eq!(
        f["first_utc"], "2024-03-05T22:00:00Z",
        "rows may come in any order"
    );
    let kinds: Vec<&str> = f["rejections"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for k in [
        "non_positive_price",
        "ohlc_violation",
        "bad_timestamp",
        "bad_number",
    ] {
        assert!(kinds.contains(&k), "missing {k} in {kinds:?}");
    }
    assert_eq!(
        f["rejections"]["ohlc_violation"]["example_lines"],
        serde_json::json!([4])
    );
    let (_, _, quarantined, _) = store_fingerprint(store.path());
    assert_eq!(quarantined, 4);
}

#[test]
fn an_unusable_input_fails_with_exit_2_and_writes_nothing() {
    let store = tempfile::tempdir().unwrap();
    let good = fixture("DAT_ASCII_EURUSD_M1_202403.csv");
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.csv");
    std::fs::write(&junk, "hello world\nthis is not a bar file\n").unwrap();
    let out = bqx(
        store.path(),
        &["ingest", good.to_str().unwrap(), junk.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.csv"), "{err}");
    assert!(err.contains("nothing from this call was written"), "{err}");
    assert_eq!(
        store_fingerprint(store.path()).0,
        0,
        "the good file was not written either"
    );

    // A truncated zip archive.
    let zip = dir.path().join("HISTDATA_COM_ASCII_EURUSD_M1_2024.zip");
    let mut bytes = std::fs::read(
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("../../data/ecb/eurofxref-hist.zip"),
    )
    .unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&zip, bytes).unwrap();
    let out = bqx(store.path(), &["ingest", zip.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(store_fingerprint(store.path()).0, 0);

    // MetaTrader files are in broker time: without --tz the input is unusable.
    let out = bqx(
        store.path(),
        &["ingest", fixture("EURUSD1.csv").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tz"));
}

#[test]
fn a_second_process_gets_a_clear_store_in_use_error() {
    let store = tempfile::tempdir().unwrap();
    let holder = bqx_store::Store::open(store.path(), "bqx ingest (test holder)").unwrap();
    let file = fixture("bars.csv");
    let out = bqx(store.path(), &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use"), "{err}");
    assert!(err.contains("bqx ingest (test holder)"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    drop(holder);
    json_ok(&bqx(
        store.path(),
        &["--json", "ingest", file.to_str().unwrap()],
    ));
}

#[test]
fn a_killed_ingest_leaves_a_consistent_store_and_a_rerun_matches_an_uninterrupted_one() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("histdata");
    let out = Command::new(env!("CARGO_BIN_EXE_bqx"))
        .args([
            "synth", "--bars", "60000", "--seed", "7", "--format", "histdata", "--out",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 28);

    // Uninterrupted reference.
    let reference = work.path().join("reference");
    let mut args: Vec<&str> = vec!["--json", "ingest"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let v = json_ok(&bqx(&reference, &args));
    assert_eq!(v["totals"]["bars_written"], 28 * 60000);

    // Killed in the middle of the write: wait for the first "write" progress event, then
    // SIGKILL.
    let killed = work.path().join("killed");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bqx"))
        .arg("--store")
        .arg(&killed)
        .args(["--progress", "json", "ingest"])
        .args(&files)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    use std::io::BufRead;
    let mut saw_write = false;
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.contains("\"task_advanced\"") && line.contains("\"write\"") {
            saw_write = true;
            break;
        }
    }
    assert!(saw_write, "the ingest reported write progress");
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());

    // Reopen: consistent (the transaction is all or nothing) and usable.
    let (bars, _, quarantined, accepted) = store_fingerprint(&killed);
    assert_eq!(
        (bars, quarantined, accepted),
        (0, 0, 0),
        "no partial write survives"
    );
    let st = json_ok(&bqx(&killed, &["--json", "status"]));
    assert_eq!(st["bars"], 0);
    {
        let s = bqx_store::Store::open(&killed, "test").unwrap();
        let runs = s.runs(10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            runs[0].status, "failed",
            "the killed run is not left 'running'"
        );
        assert!(runs[0].error.as_deref().unwrap().starts_with("interrupted"));
    }

    // Rerun: the same result as the uninterrupted run.
    json_ok(&bqx(&killed, &args));
    assert_eq!(store_fingerprint(&killed), store_fingerprint(&reference));
}

#[test]
fn synth_into_store_then_status_reports_a_consistent_panel() {
    let store = tempfile::tempdir().unwrap();
    synth_into_store(store.path(), "3000", "3");
    let st = json_ok(&bqx(store.path(), &["--json", "status"]));
    assert_eq!(st["bars"], 28 * 3000);
    let series = st["series"].as_array().unwrap();
    assert_eq!(series.len(), 28);
    for s in series {
        assert_eq!(s["ohlc_violations"], 0);
        assert_eq!(s["gaps"], 0, "{s}");
    }
    let panel = &st["panels"][0];
    assert_eq!(panel["complete_rows"], 3000);
    assert_eq!(panel["triangles"].as_array().unwrap().len(), 56);
    // The reported worst residual is the bid-quote residual at that time; on mid quotes
    // (bid + spread / 2) the same triangle closes to the rounding of the quotes.
    let worst = &panel["triangles"][0];
    let at = worst["max_at"].as_i64().unwrap();
    let cur: Vec<bqx_domain::Currency> = worst["triangle"]
        .as_str()
        .unwrap()
        .split('-')
        .map(|c| c.parse().unwrap())
        .collect();
    let tri = bqx_domain::Triangle {
        a: cur[0],
        b: cur[1],
        c: cur[2],
    };
    let s = bqx_store::Store::open(store.path(), "test").unwrap();
    let quote = |p: bqx_domain::Pair| -> (f64, f64) {
        s.duck()
            .query_row(
                &format!(
                    "SELECT close, spread FROM bars_v WHERE pair = '{}' AND epoch_us(ts) = {at}",
                    p.name()
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    let q = tri.pairs().map(quote);
    let bid = bqx_domain::Triangle::log_residual(q.map(|(c, _)| c)).abs();
    let mid = bqx_domain::Triangle::log_residual(q.map(|(c, s)| c + s / 2.0)).abs();
    assert!((bid - worst["max_abs"].as_f64().unwrap()).abs() < 1e-15);
    assert!(mid < 2e-5, "mid residual {mid} (bid {bid})");
}

#[test]
fn parquet_in_the_generic_layout_ingests_like_csv() {
    let work = tempfile::tempdir().unwrap();
    let parquet = work.path().join("bars.parquet");
    {
        // Write the Parquet file with DuckDB: epoch-ms int64 timestamps (one of the layouts
        // formats.md allows), a pair column, one row with low > close.
        let scratch = bqx_store::Store::open(&work.path().join("scratch"), "test").unwrap();
        scratch
            .duck()
            .execute_batch(&format!(
                "COPY (SELECT * FROM (VALUES
                    (1709676000000, 'EURUSD', 1.08542, 1.08551, 1.08539, 1.08547, 57.0),
                    (1709676060000, 'EURUSD', 1.08547, 1.08549, 1.08531, 1.08533, 41.0),
                    (1709676120000, 'EURUSD', 1.08533, 1.08540, 1.08529, 1.08538, 38.0),
                    (1709676120000, 'GBPUSD', 1.26000, 1.26010, 1.26001, 1.26000, 12.0))
                  AS t(timestamp, pair, open, high, low, close, volume))
                 TO '{}' (FORMAT parquet)",
                parquet.display()
            ))
            .unwrap();
    }
    let store = work.path().join("store");
    let v = json_ok(&bqx(
        &store,
        &["--json", "ingest", parquet.to_str().unwrap()],
    ));
    let f = &v["files"][0];
    assert_eq!(f["format"], "parquet");
    assert_eq!(f["first_utc"], "2024-03-05T22:00:00Z");
    assert_eq!(f["last_utc"], "2024-03-05T22:02:00Z");
    assert_eq!(
        (f["read"].as_u64(), f["accepted"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(
        f["rejections"]["ohlc_violation"]["example_lines"],
        serde_json::json!([4])
    );
    let s = bqx_store::Store::open(&store, "test").unwrap();
    let (n, vol): (i64, f64) = s
        .duck()
        .query_row(
            "SELECT count(*), sum(volume) FROM bars_v WHERE pair = 'EURUSD'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((n, vol), (3, 136.0));
}

#[test]
fn the_base_stage_recomputes_only_series_whose_bars_changed() {
    let store = tempfile::tempdir().unwrap();
    synth_into_store(store.path(), "3000", "9");
    let first = json_ok(&bqx(store.path(), &["--json", "run", "--stages", "base"]));
    assert_eq!(
        (
            first["base"]["computed"].as_u64(),
            first["base"]["current"].as_u64()
        ),
        (Some(28), Some(0))
    );
    for s in first["base"]["series"].as_array().unwrap() {
        assert_eq!(s["close_only"], false);
        assert_eq!(
            s["columns"],
            352 + 7,
            "OHLC sources with spread and volume get every per-pair feature"
        );
        assert_eq!(s["rows"], 3000);
    }
    let again = json_ok(&bqx(store.path(), &["--json", "run", "--stages", "base"]));
    assert_eq!(
        (
            again["base"]["computed"].as_u64(),
            again["base"]["current"].as_u64()
        ),
        (Some(0), Some(28))
    );

    // One more EURUSD bid bar: only that series is recomputed.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("more.csv");
    std::fs::write(
        &csv,
        "timestamp,pair,open,high,low,close\n2024-01-03T02:00:00Z,EURUSD,1.1,1.1002,1.0999,1.1001\n",
    )
    .unwrap();
    let v = json_ok(&bqx(
        store.path(),
        &["--json", "ingest", csv.to_str().unwrap(), "--side", "bid"],
    ));
    assert_eq!(v["totals"]["bars_written"], 1, "{v}");
    let after = json_ok(&bqx(store.path(), &["--json", "run", "--stages", "base"]));
    assert_eq!(
        (
            after["base"]["computed"].as_u64(),
            after["base"]["current"].as_u64()
        ),
        (Some(1), Some(27))
    );
    let eur = after["base"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "computed")
        .unwrap();
    assert_eq!(eur["key"]["pair"], "EURUSD");
    assert_eq!(eur["rows"], 3001);

    // The panel families are recomputed for the whole panel (every pair depends on EURUSD).
    assert_eq!(after["base"]["panels"][0]["action"], "computed");
    assert_eq!(again["base"]["panels"][0]["action"], "current");

    let out = bqx(store.path(), &["run", "--stages", "online"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("runs through its own command (`bqx online`)")
    );
}

#[test]
fn export_writes_hive_partitioned_parquet_that_duckdb_reads_back() {
    let store = tempfile::tempdir().unwrap();
    synth_into_store(store.path(), "2000", "4");
    json_ok(&bqx(store.path(), &["--json", "run", "--stages", "base"]));
    let out = tempfile::tempdir().unwrap();
    let v = json_ok(&bqx(
        store.path(),
        &[
            "--json",
            "export",
            "--parquet",
            out.path().to_str().unwrap(),
        ],
    ));
    let d = &v["datasets"][0];
    assert_eq!(d["rows"], 28 * 2000);
    let meta: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("metadata.json")).unwrap()).unwrap();
    assert_eq!(meta["datasets"][0]["schema_hash"], d["schema_hash"]);
    assert_eq!(
        meta["datasets"][0]["pair_rows"].as_array().unwrap().len(),
        28
    );
    // 352 features + side, tf_secs, ts + the partition columns pair, year, month.
    assert_eq!(
        meta["datasets"][0]["columns"].as_array().unwrap().len(),
        352 + 7 + 6,
        "352 standard + 7 microstructure features, side/tf_secs/ts and 3 partition columns"
    );
    assert_eq!(meta["datasets"][1]["stage"], "base_panel");
    assert_eq!(meta["datasets"][1]["rows"], 28 * 2000);
    let dataset = d["path"].as_str().unwrap();
    assert!(
        Path::new(dataset)
            .join("pair=EURUSD/year=2024/month=1")
            .is_dir()
    );

    let reader = bqx_store::Store::open(&out.path().join("reader"), "test").unwrap();
    let (rows, pairs, nulls, eur): (i64, i64, i64, f64) = reader
        .duck()
        .query_row(
            &format!(
                "SELECT count(*), count(DISTINCT pair), count(*) - count(bqx_return_60), \
                        sum(bqx_return_60) FILTER (WHERE pair = 'EURUSD') \
                 FROM read_parquet('{dataset}/*/*/*/*.parquet', hive_partitioning = true)"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((rows, pairs), (28 * 2000, 28));
    assert_eq!(nulls, 28 * 60, "warm-up rows stay missing");
    // The stored values: EURUSD's feature file, as the store records it.
    let s = bqx_store::Store::open(store.path(), "test").unwrap();
    let file: String = s
        .duck()
        .query_row(
            "SELECT file FROM feature_series f JOIN pairs p USING (pair_id) \
             WHERE f.stage = 'base' AND p.pair = 'EURUSD'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let stored: f64 = s
        .duck()
        .query_row(
            &format!(
                "SELECT sum(bqx_return_60) FROM read_parquet('{}')",
                store.path().join(file).display()
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Same FLOAT values; the two sums may add in a different order.
    assert!(
        (eur - stored).abs() <= 1e-9 * stored.abs().max(1.0),
        "the export carries the stored values: {eur} vs {stored}"
    );
}
