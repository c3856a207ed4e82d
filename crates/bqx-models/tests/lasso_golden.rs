//! Golden values for [`bqx_models::lasso`], computed independently by
//! tests/golden/gen_lasso_golden.py with scikit-learn's `Lasso(alpha, fit_intercept=True,
//! max_iter=100000, tol=1e-12, selection="cyclic")` (versions in the JSON) on seeded
//! problems: iid, Toeplitz- and factor-correlated columns, mixed scales with a constant
//! column, a near-collinear pair, forex-scale returns; alphas from above `alpha_max` down to
//! `1e-4 · alpha_max`.
//!
//! The Rust solver runs with the same `max_iter` and `tol`; coefficients and intercept must
//! agree to 1e-6 (absolute, relative to `max(1, |value|)`), zero coefficients must be exactly
//! zero where scikit-learn's are, and the iteration counts are reported (the two solvers run
//! the same iterations, so they normally coincide).

use bqx_models::{Matrix, lasso};
use serde_json::Value;

const GOLDEN: &str = include_str!("golden/lasso.json");
const TOL: f64 = 1e-6;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

#[test]
fn lasso_matches_scikit_learn() {
    let doc: Value = serde_json::from_str(GOLDEN).expect("lasso.json parses");
    let max_iter = doc["max_iter"].as_u64().unwrap() as usize;
    let tol = doc["tol"].as_f64().unwrap();
    let mut failures = Vec::new();
    let mut iter_diffs = Vec::new();
    let mut worst = 0.0f64;
    let mut n_fits = 0;
    for prob in doc["problems"].as_array().expect("problems") {
        let name = prob["name"].as_str().unwrap();
        let rows = prob["rows"].as_u64().unwrap() as usize;
        let cols = prob["cols"].as_u64().unwrap() as usize;
        let x = Matrix::from_row_major(rows, cols, floats(&prob["x"])).unwrap();
        let y = floats(&prob["y"]);
        for want in prob["fits"].as_array().unwrap() {
            n_fits += 1;
            let alpha = want["alpha"].as_f64().unwrap();
            let ctx = format!(
                "{name} alpha {alpha:e} ({}·alpha_max)",
                want["alpha_over_max"]
            );
            let got = lasso(&x, &y, alpha, max_iter, tol).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let wc = floats(&want["coef"]);
            assert_eq!(got.coef.len(), wc.len(), "{ctx}");
            for (j, (&g, &w)) in got.coef.iter().zip(&wc).enumerate() {
                let err = (g - w).abs() / w.abs().max(1.0);
                worst = worst.max(err);
                if err.is_nan() || err > TOL || ((w == 0.0) != (g == 0.0)) {
                    failures.push(format!("{ctx}: coef[{j}] got {g:e} want {w:e}"));
                }
            }
            let wi = want["intercept"].as_f64().unwrap();
            let err = (got.intercept - wi).abs() / wi.abs().max(1.0);
            worst = worst.max(err);
            if err.is_nan() || err > TOL {
                failures.push(format!(
                    "{ctx}: intercept got {:e} want {wi:e}",
                    got.intercept
                ));
            }
            let wn = want["n_iter"].as_u64().unwrap() as usize;
            if got.n_iter != wn {
                iter_diffs.push(format!("{ctx}: n_iter {} (sklearn {wn})", got.n_iter));
            }
            assert!(got.n_iter < max_iter, "{ctx}: did not converge");
        }
    }
    assert!(n_fits >= 20);
    eprintln!(
        "lasso: {n_fits} fits, worst error {worst:e}; n_iter differences: {}",
        if iter_diffs.is_empty() {
            "none".to_string()
        } else {
            iter_diffs.join("; ")
        }
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
