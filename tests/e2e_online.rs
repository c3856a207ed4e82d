//! The online loop (stage 2.19) end to end through the real `bqx` binary: a planted trend switch
//! is detected and the adaptive ensemble beats the frozen member after it; a null market raises
//! no error-drift alert; a loop killed with SIGKILL at random points resumes to exactly the
//! state, rows and alerts of an uninterrupted run.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bqx_domain::Pair;
use bqx_store::Store;
use common::{bqx, json_ok};
use serde_json::Value;

fn synth(store: &Path, bars: &str, seed: &str, plants: &[&str]) {
    let mut args = vec![
        "--json",
        "synth",
        "--bars",
        bars,
        "--timeframe",
        "m1",
        "--seed",
        seed,
        "--into-store",
    ];
    for p in plants {
        args.extend(["--plant", p]);
    }
    json_ok(&bqx(store, &args));
}

fn alerts(store: &Path, session: &str) -> Vec<Value> {
    json_ok(&bqx(
        store,
        &["--json", "alerts", "--session", session, "--limit", "10000"],
    ))
    .as_array()
    .unwrap()
    .clone()
}

fn bar_times(store: &Path, pair: &str) -> Vec<i64> {
    let s = Store::open(store, "e2e_online test").unwrap();
    let key = s
        .series_summaries()
        .unwrap()
        .into_iter()
        .find(|k| k.key.pair.to_string() == pair)
        .unwrap()
        .key;
    s.load_series(key).unwrap().ts
}

fn us(v: &Value) -> i64 {
    chrono_like(v.as_str().unwrap())
}

/// RFC 3339 (`2024-01-18T14:40:00Z`) to UTC microseconds, without a date crate.
fn chrono_like(s: &str) -> i64 {
    let (d, t) = s.trim_end_matches('Z').split_once('T').unwrap();
    let p: Vec<i64> = d.split('-').map(|x| x.parse().unwrap()).collect();
    let q: Vec<i64> = t.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m) = if p[1] <= 2 {
        (p[0] - 1, p[1] + 9)
    } else {
        (p[0], p[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + p[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + q[0]) * 60 + q[1]) * 60_000_000 + q[2] * 1_000_000
}

#[test]
fn a_planted_trend_switch_is_detected_and_the_adaptive_ensemble_wins_after_it() {
    const CHANGE: usize = 20_000;
    let store = tempfile::tempdir().unwrap();
    synth(store.path(), "30000", "22", &["drift:EURUSD:20000:0.00004"]);
    let r = json_ok(&bqx(
        store.path(),
        &[
            "--json",
            "online",
            "--from-store",
            "--pairs",
            "EURUSD",
            "--train-fraction",
            "0.3333",
        ],
    ));
    assert_eq!(r["complete"], true, "{r}");
    let ts = bar_times(store.path(), "EURUSD");
    let change_ts = ts[CHANGE];
    let horizon = 60;

    // An error-drift alert on the frozen member after the change, within two trading days
    // (2,880 M1 bars: 48 of the detector's values, one per non-overlapping label).
    let session = r["session"].as_str().unwrap();
    let all = alerts(store.path(), session);
    let drift: Vec<i64> = all
        .iter()
        .filter(|a| a["detector"] == "adwin" && a["subject"] == "frozen")
        .map(|a| us(&a["time"]))
        .collect();
    let first = drift
        .iter()
        .copied()
        .filter(|&t| t >= change_ts)
        .min()
        .expect("ADWIN confirms the change");
    let delay = ts.partition_point(|&t| t < first) - CHANGE;
    eprintln!("detection delay: {delay} bars (change at {change_ts}, alerts at {drift:?})");
    assert!(delay <= 2880, "detected {delay} bars after the change");
    assert!(
        drift.iter().all(|&t| t >= change_ts),
        "no error-drift alert before the change: {drift:?}"
    );
    let a = all.iter().find(|a| us(&a["time"]) == first).unwrap();
    assert_eq!(a["severity"], "critical");
    assert!(
        a["playbook"]
            .as_str()
            .unwrap()
            .starts_with("docs/playbook.md#")
    );
    assert!(a["evidence"]["after"].as_f64().unwrap() > a["evidence"]["before"].as_f64().unwrap());

    // After the change (labels made from the change on), the adaptive ensemble's error is well
    // below the frozen member's.
    let blocks = r["pairs"][0]["timeline"].as_array().unwrap();
    let after: Vec<&Value> = blocks
        .iter()
        .filter(|b| b["from"].as_i64().unwrap() >= ts[CHANGE + horizon])
        .collect();
    assert!(after.len() >= 5, "{}", blocks.len());
    let sum = |k: usize| -> f64 {
        after
            .iter()
            .map(|b| b["mae"][k].as_f64().unwrap() * b["matured"].as_f64().unwrap())
            .sum()
    };
    // Columns: the members (frozen, rls, tree), then the ensemble.
    let (frozen, ensemble) = (sum(0), sum(3));
    eprintln!("after the change: frozen {frozen:.3}, ensemble {ensemble:.3}");

    // Champion/challenger: the confirmed drift started a challenger, fitted on the labels that
    // followed; it won on paired labels (the interval above 0) and now serves as the frozen
    // member, whose error after the promotion is far below what it was between the change
    // and the promotion.
    let decisions = r["pairs"][0]["decisions"].as_array().unwrap();
    let kinds: Vec<&str> = decisions
        .iter()
        .rev()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["retrain_started", "retrain_requested", "promoted"],
        "{decisions:#?}"
    );
    let started = decisions.last().unwrap();
    assert_eq!(
        started["ts"].as_i64().unwrap(),
        first,
        "started by the ADWIN alert"
    );
    let promoted = &decisions[0];
    let test = &promoted["test"];
    assert!(test["lo"].as_f64().unwrap() > 0.0, "{test}");
    assert_eq!(r["pairs"][0]["champion"], 1);
    assert_eq!(r["pairs"][0]["champions"], serde_json::json!([0, 1]));
    let promoted_ts = promoted["ts"].as_i64().unwrap();
    let frozen_mae = |keep: &dyn Fn(i64) -> bool| -> f64 {
        let (mut e, mut n) = (0.0, 0.0);
        for b in blocks.iter().filter(|b| keep(b["from"].as_i64().unwrap())) {
            e += b["mae"][0].as_f64().unwrap() * b["matured"].as_f64().unwrap();
            n += b["matured"].as_f64().unwrap();
        }
        e / n
    };
    let before = frozen_mae(&|t| t >= ts[CHANGE + horizon] && t < promoted_ts);
    let after = frozen_mae(&|t| t > promoted_ts);
    eprintln!("frozen member MAE: {before:.4} before the promotion, {after:.4} after");
    assert!(after < 0.6 * before, "{after} vs {before}");
    // The decision is in the alerts too, with its playbook entry.
    assert!(
        all.iter().any(
            |a| a["detector"] == "challenger" && a["playbook"] == "docs/playbook.md#challenger"
        )
    );
    // Rolling back makes the offline fit serve again, once.
    let rb = json_ok(&bqx(
        store.path(),
        &[
            "--json",
            "online-rollback",
            "--session",
            session,
            "--pair",
            "EURUSD",
        ],
    ));
    assert_eq!(
        (rb["kind"].as_str(), rb["champion"].as_u64()),
        (Some("rolled_back"), Some(0))
    );
    let again = bqx(
        store.path(),
        &["online-rollback", "--session", session, "--pair", "EURUSD"],
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("nothing to roll back"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        ensemble < 0.7 * frozen,
        "ensemble {ensemble} vs frozen {frozen}"
    );
}

#[test]
fn a_null_market_raises_no_error_drift_alert() {
    let store = tempfile::tempdir().unwrap();
    synth(store.path(), "20000", "4", &[]);
    let r = json_ok(&bqx(
        store.path(),
        &[
            "--json",
            "online",
            "--from-store",
            "--train-fraction",
            "0.5",
        ],
    ));
    assert_eq!(r["live_bars"], 28 * 10_000);
    let all = alerts(store.path(), r["session"].as_str().unwrap());
    let errors: Vec<&Value> = all.iter().filter(|a| a["detector"] != "psi").collect();
    // 280,000 live bars, 56 members: at most 2 error-drift alerts (< 0.1 per 10,000 bars).
    assert!(
        errors.len() <= 2,
        "{} error alerts: {errors:?}",
        errors.len()
    );
    // On this null stream nothing beats the frozen member by much, and the ensemble stays
    // within a few percent of the better member.
    let p = &r["pooled"]["mae"];
    let best = (0..3)
        .map(|k| p[k].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert!(p[3].as_f64().unwrap() < 1.05 * best, "{p}");
}

fn kill_at(store: &Path, after: Duration, args: &[&str]) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bqx"))
        .arg("--store")
        .arg(store)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

/// Everything a session left: the final report's scores, every stored row, the alerts.
fn outcome(store: &Path, r: &Value) -> (Value, Vec<String>, Vec<Value>) {
    let session = r["session"].as_str().unwrap();
    let s = Store::open(store, "e2e_online test").unwrap();
    let mut rows = Vec::new();
    for p in r["pairs"].as_array().unwrap() {
        let pair = Pair::parse(p["pair"].as_str().unwrap()).unwrap();
        for x in s.online_signals(session, pair).unwrap() {
            rows.push(format!("{x:?}"));
        }
        for x in s.online_matured(session, pair).unwrap() {
            rows.push(format!("{x:?}"));
        }
    }
    drop(s);
    let mut a = alerts(store, session);
    for x in &mut a {
        for k in ["id", "run_id", "created_at"] {
            x.as_object_mut().unwrap().remove(k);
        }
    }
    a.sort_by_key(|x| x.to_string());
    let scores = serde_json::json!({ "pooled": r["pooled"], "pairs": r["pairs"] });
    (scores, rows, a)
}

#[test]
fn a_loop_killed_at_random_points_resumes_exactly() {
    let args = [
        "--json",
        "online",
        "--from-store",
        "--train-fraction",
        "0.4",
        "--pairs",
        "EURUSD,GBPUSD,USDJPY,AUDUSD,EURJPY,GBPJPY",
        "--checkpoint-every",
        "997",
    ];
    let whole = tempfile::tempdir().unwrap();
    synth(whole.path(), "16000", "8", &["vol-break:11000:2.5"]);
    let reference = json_ok(&bqx(whole.path(), &args));
    assert_eq!(reference["complete"], true);
    let want = outcome(whole.path(), &reference);
    assert!(
        !want.2.is_empty(),
        "the stream raises alerts, so they are compared too"
    );
    assert!(
        reference["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| !p["decisions"].as_array().unwrap().is_empty()),
        "a challenger is started in this stream, so its decisions are compared too"
    );

    let killed = tempfile::tempdir().unwrap();
    synth(killed.path(), "16000", "8", &["vol-break:11000:2.5"]);
    // Kill points spread over the run from a seed that changes every run.
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut kills = 0;
    for _ in 0..3 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let ms = 150 + (seed >> 33) % 1200;
        if kill_at(killed.path(), Duration::from_millis(ms), &args) {
            kills += 1;
        }
    }
    eprintln!("killed {kills} times");
    let resumed = json_ok(&bqx(killed.path(), &args));
    assert_eq!(resumed["complete"], true);
    let got = outcome(killed.path(), &resumed);
    assert_eq!(got.0, want.0, "scores and timelines");
    assert_eq!(got.1.len(), want.1.len(), "stored rows");
    assert_eq!(got.1, want.1, "stored rows");
    assert_eq!(got.2, want.2, "alerts");
}

#[test]
fn a_watched_folder_feeds_new_bars_into_the_loop() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let inbox = work.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let all = work.path().join("all.csv");
    json_ok(&bqx(
        &store,
        &[
            "--json",
            "synth",
            "--bars",
            "3000",
            "--timeframe",
            "h1",
            "--seed",
            "12",
            "--out",
            all.to_str().unwrap(),
        ],
    ));
    // Two pairs; the first 2,500 bar times are stored now, the last 500 arrive in the folder.
    let text = std::fs::read_to_string(&all).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines
        .filter(|l| l.contains(",EURUSD,") || l.contains(",USDJPY,"))
        .collect();
    let mut times: Vec<&str> = rows.iter().map(|l| l.split(',').next().unwrap()).collect();
    times.dedup();
    assert_eq!(times.len(), 3000);
    let cut = times[2500];
    let (first, later): (Vec<&str>, Vec<&str>) = rows
        .iter()
        .partition(|l| l.split(',').next().unwrap() < cut);
    let write = |path: &Path, rows: &[&str]| {
        std::fs::write(path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    };
    let first_csv = work.path().join("first.csv");
    write(&first_csv, &first);
    json_ok(&bqx(
        &store,
        &["--json", "ingest", first_csv.to_str().unwrap()],
    ));

    // 2 × 500 stored live bars (the last 20 % of 2,500), then 2 × 500 from the folder.
    let report = work.path().join("report.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bqx"))
        .arg("--store")
        .arg(&store)
        .args([
            "--json",
            "online",
            "--watch",
            inbox.to_str().unwrap(),
            "--pairs",
            "EURUSD,USDJPY",
            "--train-fraction",
            "0.8",
            "--max-bars",
            "2000",
            "--poll-seconds",
            "0.2",
        ])
        .stdout(std::fs::File::create(&report).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the loop has planned its session and consumed the stored bars (its first
    // checkpoint), so that the export below arrives while it watches.
    let deadline = Instant::now() + Duration::from_secs(120);
    while bqx_store::RegistryReader::open(&store)
        .ok()
        .flatten()
        .and_then(|r| r.online_sessions().ok())
        .is_none_or(|s| s.is_empty())
    {
        assert!(child.try_wait().unwrap().is_none(), "the loop ended early");
        assert!(Instant::now() < deadline, "no checkpoint within 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The export arrives the way a terminal should write it: under a temporary name, then
    // renamed (a `.tmp` name is never read).
    let tmp = inbox.join("export.csv.tmp");
    write(&tmp, &later);
    std::fs::rename(&tmp, inbox.join("export.csv")).unwrap();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the loop did not reach --max-bars within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["live_bars"], 2000, "{r}");
    assert_eq!(r["live_total"], 2000);
    assert_eq!(r["complete"], true);
    let session = r["session"].as_str().unwrap().to_string();
    let s = Store::open(&store, "e2e_online test").unwrap();
    let eurusd = s
        .online_signals(&session, Pair::parse("EURUSD").unwrap())
        .unwrap();
    let last_new = chrono_like(later.last().unwrap().split(',').next().unwrap());
    assert_eq!(
        eurusd.last().map(|x| x.ts),
        Some(last_new),
        "the folder's last bar was predicted"
    );
    assert_eq!(eurusd.len(), 1000, "one signal per live EURUSD bar");
}
