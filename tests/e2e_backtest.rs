//! End-to-end tests of the backtest stage through the real `bqx` binary: a run killed with
//! SIGKILL in the middle of the backtest resumes, reusing the complete units, and ends with the
//! same report as an uninterrupted run.

use std::path::Path;
use std::process::{Command, Stdio};

#[path = "common/mod.rs"]
mod common;
use common::{bqx, json_ok};

/// A daily synthetic market (3,000 bars ≈ 11.5 years of weekdays) with its base features.
fn prepared_store(dir: &Path) {
    json_ok(&bqx(
        dir,
        &[
            "--json",
            "synth",
            "--bars",
            "3000",
            "--timeframe",
            "d1",
            "--seed",
            "21",
            "--into-store",
        ],
    ));
    json_ok(&bqx(dir, &["--json", "run", "--stages", "base"]));
}

const MODELS: &str = "zero,ridge";

#[test]
fn a_killed_backtest_resumes_from_its_complete_units_and_ends_with_the_same_report() {
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("reference");
    let killed = work.path().join("killed");
    prepared_store(&reference);
    prepared_store(&killed);

    // Uninterrupted run.
    let full = json_ok(&bqx(
        &reference,
        &["--json", "run", "--stages", "backtest", "--models", MODELS],
    ));
    let bt = &full["backtest"];
    let units = bt["units"].as_u64().unwrap();
    assert!(units >= 2 * 28 * 2, "{units} units: at least two folds");
    assert_eq!(bt["reused_units"], 0);

    // Killed after the first complete batch of units was written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_bqx"))
        .arg("--store")
        .arg(&killed)
        .args([
            "--progress",
            "json",
            "run",
            "--stages",
            "backtest",
            "--models",
            MODELS,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    use std::io::BufRead;
    let mut advanced = 0;
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.contains("\"task_advanced\"") && line.contains("\"backtest\"") {
            advanced += 1;
            // Units are reported after their batch (one model × fold, 28 pairs) is committed.
            if advanced == 60 {
                break;
            }
        }
    }
    assert_eq!(advanced, 60, "the backtest reported unit progress");
    child.kill().unwrap(); // SIGKILL
    assert!(!child.wait().unwrap().success());

    // The registry shows the interrupted run as failed, not running.
    {
        let s = bqx_store::Store::open(&killed, "test").unwrap();
        let runs = s.runs(10).unwrap();
        assert_eq!(runs[0].status, "failed", "{:?}", runs[0]);
    }

    // Resume: the complete units are reused, the rest is fitted, the report is identical.
    let resumed = json_ok(&bqx(
        &killed,
        &["--json", "run", "--stages", "backtest", "--models", MODELS],
    ));
    let rb = &resumed["backtest"];
    assert_eq!(rb["units"], units);
    let reused = rb["reused_units"].as_u64().unwrap();
    assert!(
        (56..units).contains(&reused),
        "{reused} of {units} units reused after the kill"
    );
    let a = std::fs::read(bt["report_path"].as_str().unwrap()).unwrap();
    let b = std::fs::read(rb["report_path"].as_str().unwrap()).unwrap();
    assert!(
        a == b,
        "a resumed backtest gives the same report as an uninterrupted one"
    );

    // `bqx backtest --json` prints that report for the current store, reusing every unit.
    let out = bqx(&killed, &["--json", "backtest", "--models", MODELS]);
    assert!(out.status.success());
    assert_eq!(out.stdout, a);
}
