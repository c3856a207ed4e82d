//! Golden values for the Granger statistics, computed independently by
//! tests/golden/gen_granger_golden.py: statsmodels' `grangercausalitytests` (`ssr_ftest`),
//! `multipletests(p, method="fdr_bh")` and scipy's `stats.f.sf` (versions in the JSON).
//!
//! Tolerances: F relative 1e-8; p absolute 1e-8, and relative 1e-8 as well where the
//! reference p is tiny (< 1e-6), so that tail probabilities are compared digit for digit;
//! degrees of freedom and observation counts exactly. A reference p of exactly 0 (scipy
//! underflow) requires the Rust value to underflow too (below the smallest normal f64).

use bqx_features::{bh_qvalues, f_sf, granger_tests};
use serde_json::Value;

const GOLDEN: &str = include_str!("golden/granger.json");
const TOL: f64 = 1e-8;
const TINY_P: f64 = 1e-6;

fn golden() -> Value {
    serde_json::from_str(GOLDEN).expect("granger.json parses")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn rel_err(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else {
        (got - want).abs() / want.abs()
    }
}

/// `None` when `got` agrees with the reference probability `want`, else the reason.
fn p_mismatch(got: f64, want: f64) -> Option<String> {
    if want == 0.0 {
        return (got.abs() >= f64::MIN_POSITIVE)
            .then(|| format!("want 0 (underflow), got {got:e}"));
    }
    let abs = (got - want).abs();
    let rel = rel_err(got, want);
    if abs.is_nan() || abs > TOL {
        return Some(format!("abs err {abs:e} (got {got:e}, want {want:e})"));
    }
    if want < TINY_P && (rel.is_nan() || rel > TOL) {
        return Some(format!(
            "tiny p: rel err {rel:e} (got {got:e}, want {want:e})"
        ));
    }
    None
}

#[test]
fn granger_tests_match_statsmodels_ssr_ftest() {
    let doc = golden();
    let cases = doc["granger"].as_array().expect("granger cases");
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    let mut worst_f = 0.0f64;
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let y = floats(&case["y"]);
        let x = floats(&case["x"]);
        let max_lag = case["max_lag"].as_u64().expect("max_lag") as usize;
        let want = case["tests"].as_array().expect("tests");
        let got = granger_tests(&y, &x, max_lag).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.len(), want.len(), "{name}: number of orders");
        for (g, w) in got.iter().zip(want) {
            let lag = w["lag"].as_u64().unwrap() as usize;
            let ctx = format!("{name} lag {lag}");
            assert_eq!(g.lag, lag, "{ctx}: lag");
            assert_eq!(
                g.df_num as u64,
                w["df_num"].as_u64().unwrap(),
                "{ctx}: df_num"
            );
            assert_eq!(
                g.df_den as u64,
                w["df_den"].as_u64().unwrap(),
                "{ctx}: df_den"
            );
            assert_eq!(g.n_obs as u64, w["n_obs"].as_u64().unwrap(), "{ctx}: n_obs");
            let (wf, wp) = (w["f"].as_f64().unwrap(), w["p"].as_f64().unwrap());
            let ef = rel_err(g.f, wf);
            worst_f = worst_f.max(ef);
            if ef.is_nan() || ef > TOL {
                failures.push(format!(
                    "{ctx}: F got {:e} want {wf:e} (rel err {ef:e})",
                    g.f
                ));
            }
            if let Some(why) = p_mismatch(g.p, wp) {
                failures.push(format!("{ctx}: p {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("granger: worst relative F error {worst_f:e}");
}

#[test]
fn bh_qvalues_match_statsmodels_fdr_bh() {
    let doc = golden();
    let mut failures = Vec::new();
    for case in doc["bh"].as_array().expect("bh cases") {
        let name = case["name"].as_str().expect("name");
        let p = floats(&case["p"]);
        let want = floats(&case["q"]);
        let got = bh_qvalues(&p);
        assert_eq!(got.len(), want.len(), "{name}");
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            if let Some(why) = p_mismatch(g, w) {
                failures.push(format!("bh {name}[{i}] (p = {:e}): {why}", p[i]));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn f_sf_matches_scipy() {
    let doc = golden();
    let mut failures = Vec::new();
    let cases = doc["f_sf"].as_array().expect("f_sf cases");
    for case in cases {
        let f = case["f"].as_f64().unwrap();
        let d1 = case["d1"].as_f64().unwrap();
        let d2 = case["d2"].as_f64().unwrap();
        let want = case["p"].as_f64().unwrap();
        let got = f_sf(f, d1, d2);
        if let Some(why) = p_mismatch(got, want) {
            failures.push(format!("f_sf(f = {f:e}, d1 = {d1}, d2 = {d2}): {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} mismatches:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
