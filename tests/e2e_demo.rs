//! End-to-end test of `bqx demo`, the README's main command, on the embedded ECB data.

use std::process::Command;

use serde_json::Value;

#[test]
fn demo_ingests_the_ecb_history_into_28_consistent_daily_series_and_is_idempotent() {
    let store = tempfile::tempdir().unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_bqx"))
            .arg("--store")
            .arg(store.path())
            .args(["--json", "demo"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let v = run();
    // 7,126 daily fixes (1999-01-04 … 2026-10-30) for each of the 28 pairs.
    let t = &v["ingest"]["totals"];
    assert_eq!(t["read"], 7126 * 28);
    assert_eq!(t["accepted"], 7126 * 28);
    assert_eq!(t["rejected"], 0);
    assert_eq!(t["bars_written"], 7126 * 28);
    let f = &v["ingest"]["files"][0];
    assert_eq!(f["format"], "ecb");
    assert_eq!(
        f["first_utc"].as_str().unwrap().get(..10),
        Some("1999-01-04")
    );
    assert_eq!(
        f["last_utc"].as_str().unwrap().get(..10),
        Some("2026-10-30")
    );

    let st = &v["status"];
    let series = st["series"].as_array().unwrap();
    assert_eq!(series.len(), 28);
    for s in series {
        assert_eq!(s["bars"], 7126);
        assert_eq!(s["side"], "fix");
        assert_eq!(s["timeframe"], "d1");
        assert_eq!(s["close_only"], true);
        assert_eq!(s["ohlc_violations"], 0);
    }
    let panel = &st["panels"][0];
    assert_eq!(panel["rows"], 7126);
    assert_eq!(panel["complete_rows"], 7126);
    // Cross rates are derived exactly from the EUR rates, so every triangle closes to rounding.
    let worst = panel["triangles"][0]["max_abs"].as_f64().unwrap();
    assert!(worst < 1e-12, "worst triangle residual {worst}");

    // A second demo adds nothing.
    let again = run();
    assert_eq!(again["ingest"]["totals"]["bars_written"], 0);
    assert_eq!(again["ingest"]["totals"]["skipped"], 7126 * 28);
    assert_eq!(again["status"]["bars"], 7126 * 28);
}
