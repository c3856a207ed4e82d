//! Golden values computed independently (tests/golden/gen_golden.py: plain loops, np.polyfit,
//! np.cov, from the definitions in spec/features.md) on a synthetic random walk (~150) and on the
//! first 800 EURUSD fixes of the ECB history.

mod common;

use std::collections::HashMap;

use bqx_features::{FeatureSet, Kernel, compute_batch};
use serde_json::Value;

/// Relative tolerance per family. The error is measured as `|got − want| / max(|want|, floor)`
/// where `floor = 1e-3 · max|want|` over the column (values crossing zero have no meaningful
/// relative error).
fn tolerance(family: &str) -> f64 {
    match family {
        "bqx" => 1e-9,
        "moments" | "bollinger" | "lags" | "moving_average" | "technical" | "volatility"
        | "calendar" | "multires" => 1e-9,
        "reg_rate" | "reg_bqx" | "reg_bqx_cov" | "dual_domain" => 1e-7,
        other => panic!("no tolerance for family {other}"),
    }
}

fn check(file: &str) {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let series = |key: &str| -> Option<Vec<f64>> {
        doc.get(key).map(|a| {
            a.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
    };
    let closes = series("closes").unwrap();
    let mut bars = common::close_bars(&closes);
    bars.ts = doc["ts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    // The synthetic file carries a full OHLC bar; the ECB fixes are close-only.
    if let (Some(o), Some(h), Some(l)) = (series("open"), series("high"), series("low")) {
        (bars.open, bars.high, bars.low) = (o, h, l);
    }
    let rows: Vec<usize> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let feats = doc["features"].as_object().unwrap();

    let mut set = FeatureSet::standard();
    let catalog = set.catalog();
    let m = compute_batch(&mut set, &bars).unwrap();
    assert_eq!(
        feats.len(),
        catalog.len(),
        "golden file and catalog disagree on the number of features"
    );

    let mut worst: HashMap<&str, (f64, String)> = HashMap::new();
    for spec in &catalog {
        let want = feats
            .get(&spec.name)
            .unwrap_or_else(|| panic!("{file}: no golden column {}", spec.name))
            .as_array()
            .unwrap();
        let got = m.column_by_name(&spec.name).unwrap();
        let colmax = want
            .iter()
            .filter_map(Value::as_f64)
            .fold(0.0f64, |a, v| a.max(v.abs()));
        let floor = (1e-3 * colmax).max(1e-300);
        let tol = tolerance(spec.family);
        for (k, &row) in rows.iter().enumerate() {
            let g = got[row];
            match want[k].as_f64() {
                None => assert!(
                    g.is_nan(),
                    "{file}: {} row {row}: expected missing, got {g}",
                    spec.name
                ),
                Some(w) => {
                    assert!(
                        !g.is_nan(),
                        "{file}: {} row {row}: got NaN, want {w}",
                        spec.name
                    );
                    let err = (g - w).abs() / w.abs().max(floor);
                    let e = worst.entry(spec.family).or_insert((0.0, String::new()));
                    if err > e.0 {
                        *e = (err, format!("{} row {row}", spec.name));
                    }
                    assert!(
                        err <= tol,
                        "{file}: {} row {row}: got {g}, want {w} (rel err {err:.3e} > {tol:.0e})",
                        spec.name
                    );
                }
            }
        }
    }
    let mut w: Vec<_> = worst.into_iter().collect();
    w.sort_by(|a, b| a.0.cmp(b.0));
    for (fam, (err, at)) in w {
        println!("{file}: {fam:12} worst rel err {err:.3e} at {at}");
    }
}

#[test]
fn golden_synthetic() {
    check("synthetic.json");
}

#[test]
fn golden_ecb_eurusd() {
    check("ecb_eurusd.json");
}
