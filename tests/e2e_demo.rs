//! End-to-end test of `bqx demo`, the README's main command, on the embedded ECB data.

use std::process::Command;

use serde_json::Value;

#[path = "common/serve.rs"]
mod serve;

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

    // Base features: 28 close-only series, range-based features absent.
    let base = &v["run"]["base"];
    assert_eq!(base["computed"], 28);
    // EURUSD's feature file (relative to the store), read back below through DuckDB.
    let eurusd = base["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"]["pair"] == "EURUSD")
        .expect("EURUSD has base features");
    let table = format!(
        "read_parquet('{}')",
        store
            .path()
            .join(eurusd["file"].as_str().unwrap())
            .display()
    );
    for s in base["series"].as_array().unwrap() {
        assert_eq!(s["rows"], 7126);
        assert_eq!(s["close_only"], true);
        assert_eq!(s["columns"], 352 - 19);
    }
    {
        let s = bqx_store::Store::open(store.path(), "test").unwrap();
        // bqx_return_15 of EURUSD (pair 3) recomputed from the stored closes:
        // 15 · (mean(r(t−15..t−1)) − r(t)) / r(t); warm-up rows are NULL.
        let closes: Vec<f64> = {
            let mut st = s
                .duck()
                .prepare("SELECT close FROM bars_v WHERE pair = 'EURUSD' ORDER BY ts")
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        let stored: Vec<Option<f32>> = {
            let mut st = s
                .duck()
                .prepare(&format!("SELECT bqx_return_15 FROM {table} ORDER BY ts"))
                .unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(|r| r.unwrap())
                .collect()
        };
        assert_eq!(stored.len(), 7126);
        assert!(
            stored[..15].iter().all(|v| v.is_none()),
            "warm-up rows are missing"
        );
        for t in [15usize, 100, 3000, 7125] {
            let mean = closes[t - 15..t].iter().sum::<f64>() / 15.0;
            let want = 15.0 * (mean - closes[t]) / closes[t];
            let got = stored[t].unwrap() as f64;
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1e-3),
                "t={t}: {got} vs {want}"
            );
        }
        let range_based: i64 = s
            .duck()
            .query_row(
                &format!(
                    "SELECT count(*) FROM (DESCRIBE SELECT * FROM {table}) WHERE column_name LIKE 'vol_parkinson%'"
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            range_based, 0,
            "no range-based columns for a close-only source"
        );
    }

    // A second demo adds nothing and recomputes nothing.
    let again = run();
    assert_eq!(again["ingest"]["totals"]["bars_written"], 0);
    assert_eq!(again["ingest"]["totals"]["skipped"], 7126 * 28);
    assert_eq!(again["status"]["bars"], 7126 * 28);
    assert_eq!(again["run"]["base"]["computed"], 0);
    assert_eq!(again["run"]["base"]["current"], 28);
    // The stage graph ran in order, and the per-fold stages reuse every fold's stored artifact.
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["run"]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stage"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&again),
        [
            "panel", "base", "cross", "embed", "select", "train", "backtest"
        ]
    );
    // The online loop replayed the last 30 % of every pair once; the second demo resumes the
    // finished session and replays nothing.
    let on = &v["online"];
    assert_eq!(on["complete"], true, "{on}");
    assert_eq!(on["pairs"].as_array().unwrap().len(), 28);
    assert_eq!(on["resumed_at"], 0);
    let live = on["live_bars"].as_u64().unwrap();
    let per_pair = 7126 - (7126.0 * 0.7) as u64;
    assert_eq!(live, 28 * per_pair);
    assert!(on["pooled"]["matured"].as_u64().unwrap() > 28 * (per_pair - 200));
    assert_eq!(again["online"]["session"], on["session"]);
    assert_eq!(again["online"]["resumed_at"].as_u64(), Some(live));
    assert_eq!(again["online"]["pooled"], on["pooled"]);
    let (cross, sel) = (&again["run"]["cross"], &again["run"]["selection"]);
    assert!(cross["folds"].as_u64().unwrap() > 0);
    assert_eq!(cross["reused_folds"], cross["folds"]);
    assert_eq!(sel["reused_folds"], sel["folds"]);
    assert_eq!(sel["k"], 280);
    assert_eq!(cross["followers"].as_array().unwrap().len(), 28);

    // The backtest: every model beside the zero forecast and the overlap ceiling, with real
    // numbers; the second demo reuses every unit and writes a byte-identical report.
    let bt = &v["run"]["backtest"];
    let report = &bt["report"];
    assert_eq!(report["target"], "bqx_return_60(t + 60)");
    assert_eq!(report["ceiling"]["r2"], 0.0, "h = W: no mechanical overlap");
    assert_eq!(report["ceiling"]["directional_accuracy"], 0.5);
    let folds = report["folds"].as_array().unwrap();
    assert!(folds.len() >= 15, "{} yearly folds", folds.len());
    let models: Vec<&str> = report["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        models,
        [
            "zero",
            "drift",
            "ridge",
            "random_forest",
            "mlp",
            "multitask",
            "singletask"
        ]
    );
    // The networks (quick profile) trained on the last 3 folds only; the report puts every
    // model on those units, and judges the multi-task network's extra heads.
    let same = &report["same_units"];
    let last3: Vec<&serde_json::Value> =
        folds[folds.len() - 3..].iter().map(|f| &f["id"]).collect();
    assert_eq!(
        same["folds"].as_array().unwrap().iter().collect::<Vec<_>>(),
        last3
    );
    for m in same["models"].as_array().unwrap() {
        assert_eq!(m["units"], 28 * 3, "{}", m["name"]);
    }
    let by = |n: &str| {
        report["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == n)
            .unwrap()
    };
    let heads = &by("multitask")["heads"];
    assert!(heads["vol"]["r2_vs_no_change"].is_number());
    assert!(heads["regime"]["accuracy"].is_number());
    let confusion: u64 = heads["regime"]["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()))
        .sum();
    assert_eq!(confusion, heads["regime"]["n"].as_u64().unwrap());
    assert!(by("singletask")["heads"].is_null());
    let nets = v["run"]["networks"].as_array().unwrap();
    assert_eq!(nets.len(), 2);
    for n in nets {
        assert_eq!(n["units"], 28 * 3);
        assert_eq!(n["seeds"], 3);
    }
    // The embed stage: one autoencoder per network fold, its report and model in the store.
    let embed = v["run"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "embed")
        .unwrap();
    assert_eq!(embed["summary"]["folds"].as_array().unwrap().len(), 3);
    let again_embed = again["run"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "embed")
        .unwrap();
    assert_eq!(
        again_embed["summary"]["reused_folds"], 3,
        "models reloaded, not retrained"
    );
    let models_dir = store.path().join("models").join("embed");
    let cards = walk_json(&models_dir);
    assert_eq!(
        cards,
        3,
        "one network card per embedded fold in {}",
        models_dir.display()
    );
    for m in report["models"].as_array().unwrap() {
        let pooled = &m["report"]["pooled"];
        let networks = m["name"] == "multitask" || m["name"] == "singletask";
        assert!(
            pooled["n_rows"].as_u64().unwrap() > if networks { 28 * 200 } else { 28 * 3000 },
            "{}",
            m["name"]
        );
        assert_eq!(m["report"]["pairs"].as_array().unwrap().len(), 28);
        if m["name"] == "zero" {
            // The zero forecast is R² = 0 against zero by definition and never trades; it
            // predicts no direction, so no directional accuracy is reported (not 0 %).
            assert_eq!(pooled["regression"]["r2_vs_zero"], 0.0);
            assert!(pooled["direction"].is_null());
            assert!(pooled["verdict"].is_null());
            continue;
        }
        let da = pooled["direction"]["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&da));
        if m["name"] == "drift" {
            // The drift forecast is the baseline its own verdict is judged against: its DA is
            // the drift DA of the rule, and it cannot be skill.
            let v = &pooled["verdict"];
            assert_eq!(v["drift_directional_accuracy"].as_f64().unwrap(), da);
            assert_eq!(v["verdict"], "not_skill");
        } else {
            // Decisions every 60 fixing days: about 4 a year (the networks: 3 folds of a year).
            assert!(
                pooled["trading"]["n_decisions"].as_u64().unwrap() > if networks { 8 } else { 50 }
            );
            assert!(pooled["trading"]["sharpe_ci"]["lo"].is_number());
        }
    }
    let again_bt = &again["run"]["backtest"];
    assert_eq!(again_bt["reused_units"], again_bt["units"]);
    let first_json = std::fs::read(bt["report_path"].as_str().unwrap()).unwrap();
    let second_json = std::fs::read(again_bt["report_path"].as_str().unwrap()).unwrap();
    assert_ne!(
        bt["report_path"], again_bt["report_path"],
        "one report per run"
    );
    assert!(
        first_json == second_json,
        "the same data, configuration and seed give a byte-identical report"
    );

    // The champion answers: `bqx predict` (one shot) and `POST /api/v1/predict` (the real
    // server, the champion loaded once), the same numbers.
    let predict = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bqx"))
            .arg("--store")
            .arg(store.path())
            .args(["--json", "predict"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = predict(&["--pair", "EURUSD"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        p["feature_time"], "2026-10-30T13:15:00Z",
        "the latest bar by default"
    );
    assert_eq!(p["available_to"], "2026-10-30T13:15:00Z");
    assert_eq!(
        p["run_id"], again["run"]["run_id"],
        "the newest run's champion"
    );
    let probs: f64 = ["strong_down", "down", "flat", "up", "strong_up"]
        .iter()
        .map(|k| p["regime"][k].as_f64().unwrap())
        .sum();
    assert!(
        (probs - 1.0).abs() < 1e-9,
        "regime probabilities sum to {probs}"
    );
    assert!(p["bqx"].as_f64().unwrap().is_finite());
    assert!(p["volatility"].as_f64().unwrap().is_finite());
    let card = store.path().join(p["model_card"].as_str().unwrap());
    let card_json: Value = serde_json::from_slice(&std::fs::read(&card).unwrap()).unwrap();
    assert_eq!(card_json["name"], "multitask");
    assert_eq!(card_json["pair"], "EURUSD");
    assert_eq!(card_json["weights"]["sha256"], p["model_sha256"]);
    let older = predict(&["--pair", "EURUSD", "--at", "2026-06-01"]);
    assert!(
        older.status.success(),
        "{}",
        String::from_utf8_lossy(&older.stderr)
    );
    let older: Value = serde_json::from_slice(&older.stdout).unwrap();
    let ft = older["feature_time"].as_str().unwrap().to_string();
    assert!(
        ft.as_str() < "2026-06-01T00:00:01Z" && ft.as_str() > "2026-05-20",
        "{ft}"
    );
    let early = predict(&["--pair", "EURUSD", "--at", "2001-01-01"]);
    assert_eq!(
        early.status.code(),
        Some(2),
        "a time before the stored rows is a usage error"
    );
    assert!(String::from_utf8_lossy(&early.stdout).contains("earlier"));

    let server = serve::start(store.path(), &[]);
    let (status, body) = serve::http(
        &server.addr,
        "POST",
        "/api/v1/predict",
        &[("Content-Type", "application/json")],
        r#"{"pair": "EURUSD"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let h: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        h["bqx"], p["bqx"],
        "the server's champion gives the CLI's forecast"
    );
    assert_eq!(h["regime"], p["regime"]);
    // Answered from memory: the same answer again.
    let (_, again_body) = serve::http(
        &server.addr,
        "POST",
        "/api/v1/predict",
        &[("Content-Type", "application/json")],
        r#"{"pair": "EURUSD", "at": "2026-06-01"}"#,
    );
    let h2: Value = serde_json::from_str(&again_body).unwrap();
    assert_eq!(h2["feature_time"].as_str().unwrap(), ft);
    assert_eq!(h2["bqx"], older["bqx"]);
    let (status, _) = serve::http(
        &server.addr,
        "POST",
        "/api/v1/predict",
        &[("Content-Type", "application/json")],
        r#"{"pair": "XXXYYY"}"#,
    );
    assert_eq!(status, 400);
}

/// The `.json` files under `dir` (recursively).
fn walk_json(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += walk_json(&p);
        } else if p.extension().is_some_and(|x| x == "json") {
            n += 1;
        }
    }
    n
}
