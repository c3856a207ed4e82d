//! A trader's own data, end to end through the real `bqx` binary: one pair of intraday bars
//! (a synthetic EURUSD H1 series, written as a generic CSV and ingested alone) goes through
//! every stage of `bqx run` to a backtest report. The cross-sectional families that need the
//! other pairs are absent and listed as such, not NaN on every row; the USD factor is off
//! without the seven USD pairs; the cross-pair slots have no sister or leader to fill them.

#[path = "common/mod.rs"]
mod common;
use common::{bqx, json_ok};

#[test]
fn one_pair_of_intraday_bars_reaches_a_backtest_report() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let csv = work.path().join("all.csv");
    json_ok(&bqx(
        &store,
        &[
            "--json",
            "synth",
            "--bars",
            "6000",
            "--timeframe",
            "h1",
            "--seed",
            "5",
            "--out",
            csv.to_str().unwrap(),
        ],
    ));
    // Keep the header and EURUSD's rows only.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let mut one = String::from(lines.next().unwrap());
    one.push('\n');
    for l in lines.filter(|l| l.contains("EURUSD")) {
        one.push_str(l);
        one.push('\n');
    }
    let eurusd = work.path().join("eurusd_h1.csv");
    std::fs::write(&eurusd, one).unwrap();
    let ingest = json_ok(&bqx(
        &store,
        &["--json", "ingest", eurusd.to_str().unwrap()],
    ));
    assert_eq!(ingest["totals"]["bars_written"], 6000, "{ingest}");

    // A year of H1 is too short for two years of training: refused before any work (exit 2,
    // no run recorded), saying what the folds need and what the store has.
    let runs = || {
        bqx_store::RegistryReader::open(&store)
            .unwrap()
            .unwrap()
            .runs(1000)
            .unwrap()
            .len()
    };
    let before = runs();
    let out = bqx(&store, &["run", "--train", "2y"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "too little h1 data",
        "training 2y",
        "EURUSD 6000",
        "Nothing was run",
    ] {
        assert!(err.contains(want), "{want:?} in: {err}");
    }
    assert_eq!(runs(), before, "the refused run recorded nothing");
    let out = bqx(&store, &["run", "--train", "2 weeks"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--train \"2 weeks\""));

    let run = json_ok(&bqx(
        &store,
        &["--json", "run", "--models", "zero,drift,ridge"],
    ));
    let stages: Vec<&str> = run["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["panel", "base", "cross", "select", "backtest"]);
    let bt = &run["backtest"];
    let report = &bt["report"];
    assert_eq!(report["series"].as_array().unwrap().len(), 1);
    assert!(
        report["folds"].as_array().unwrap().len() >= 2,
        "{}",
        report["folds"]
    );
    assert_eq!(
        report["config"]["usd_factor"], false,
        "no USD factor without the 7 USD pairs"
    );
    let ridge = report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "ridge")
        .unwrap();
    assert!(ridge["report"]["pooled"]["n_rows"].as_u64().unwrap() > 1000);
    assert!(ridge["report"]["pooled"]["direction"]["accuracy"].is_number());
    // What could not be computed is listed, with the pairs it lacked.
    let absent = bt["absent_features"].as_array().unwrap();
    let names: Vec<&str> = absent.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(names.iter().any(|n| n.starts_with("cs_str_")), "{names:?}");
    assert!(names.contains(&"cs_usd_factor"), "{names:?}");
    assert!(absent.iter().all(|a| a["missing_for"].as_array().is_some()));
    let features: Vec<&str> = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        features.iter().all(|f| !names.contains(f)),
        "absent features are not model inputs"
    );
    // No sister or leader: every lead-lag slot is unfilled.
    let cross = &run["cross"];
    assert_eq!(cross["followers"].as_array().unwrap().len(), 1);
    assert!(cross["followers"][0]["leader"].is_null());

    // Folds of the user's choosing, in bars, rolling: the plan is printed before the work and
    // the report has the folds it announced.
    let args = [
        "backtest",
        "--models",
        "zero,ridge",
        "--features",
        "base",
        "--train",
        "2500",
        "--test",
        "1000",
        "--rolling",
        "2000",
    ];
    let out = bqx(&store, &args);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    // The same request again, as JSON (every unit is reused).
    let out = bqx(&store, &[&["--json"][..], &args[..]].concat());
    // `bqx backtest --json` prints the report as stored.
    let report = json_ok(&out);
    let folds = report["folds"].as_array().unwrap();
    let plan = err
        .lines()
        .find(|l| l.starts_with("folds: "))
        .unwrap_or_else(|| panic!("no plan in: {err}"));
    assert!(
        plan.starts_with(&format!(
            "folds: {} on h1 (training 2500 bars (rolling 2000 bars), test blocks of 1000 bars",
            folds.len()
        )),
        "{plan}"
    );
    assert!(folds.len() >= 2, "{folds:?}");
    let cfg = &report["config"]["folds"];
    assert_eq!(cfg["min_train"], serde_json::json!({"bars": 2500}), "{cfg}");
    assert_eq!(
        cfg["train_window"],
        serde_json::json!({"rolling": {"bars": 2000}}),
        "{cfg}"
    );
}

/// `bqx … | head` ends quietly when the reader goes away, as Unix tools do, instead of
/// panicking on the closed pipe.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_bqx"))
        .args(["features", "--catalog"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    // The reader is gone (the pipe was dropped with it): the rest cannot be written.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}
