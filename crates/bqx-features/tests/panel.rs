//! Cross-sectional semantics: NaN propagation on a panel with holes, triangle ordering and
//! orientation, currency-strength identities, the eigensolver against known matrices, and the
//! fitted USD-factor parameters (JSON round trip, version check, invariances).

mod common;

use bqx_domain::{Currency, Pair, Triangle};
use bqx_features::{
    CurrencyStrengthKernel, FeatureError, FittedParams, N_PAIRS, PanelKernel, PanelSet,
    TriangularKernel, USD_FACTOR_KIND, USD_FACTOR_VERSION, UsdFactorKernel, UsdFactorParams,
    compute_panel_batch, fit_usd_factor, pair_triangles, symmetric_eigen, usd_pairs,
};
use common::synthetic_panel;

fn pair(s: &str) -> Pair {
    Pair::parse(s).unwrap()
}

fn col<'a>(out: &'a [bqx_features::FeatureMatrix], p: &str, name: &str) -> &'a [f64] {
    out[pair(p).index()].column_by_name(name).unwrap()
}

#[test]
fn triangles_are_ordered_by_third_currency_and_oriented_to_the_pair() {
    let t = pair_triangles(pair("EURUSD"));
    let thirds: Vec<Currency> = t
        .iter()
        .map(|(t, _)| {
            [t.a, t.b, t.c]
                .into_iter()
                .find(|c| *c != Currency::EUR && *c != Currency::USD)
                .unwrap()
        })
        .collect();
    use Currency::*;
    assert_eq!(thirds, vec![GBP, AUD, NZD, CAD, CHF, JPY]);
    // EUR-GBP-USD: EURUSD is the ac leg (sign −1); EUR-USD-CAD: it is ab (+1).
    assert_eq!(t[0].1, -1.0);
    assert_eq!(t[3].1, 1.0);
    // GBP-AUD-USD from AUDUSD: the bc leg (+1).
    let t = pair_triangles(pair("AUDUSD"));
    assert_eq!(t[1].0.name(), "GBP-AUD-USD");
    assert_eq!(t[1].1, 1.0);
    for p in Pair::ALL {
        let t = pair_triangles(p);
        assert_eq!(t.len(), 6);
        assert!(t.iter().all(|(tri, _)| tri.pairs().contains(&p)));
    }
}

/// Consistent quotes give zero residuals; making one pair 1 % rich gives +ln(1.01) in each of
/// its 6 triangles (from its own point of view) and −ln(1.01) or +ln(1.01) for the other legs
/// depending on where the rich pair enters their triangle.
#[test]
fn triangle_residual_is_the_pairs_log_premium_over_the_cross() {
    let value = [1.08, 1.27, 0.66, 0.61, 1.0, 0.73, 1.13, 0.0067];
    let mut closes: [f64; N_PAIRS] = std::array::from_fn(|i| {
        let p = Pair::ALL[i];
        value[p.base().priority()] / value[p.quote().priority()]
    });
    let mut k = TriangularKernel::new();
    let mut out = vec![0.0; 12 * N_PAIRS];
    k.update(0, &closes, &mut out);
    assert!(out.iter().step_by(12).all(|v| v.abs() < 1e-12));
    let rich = pair("GBPJPY");
    closes[rich.index()] *= 1.01;
    k.update(1, &closes, &mut out);
    let eps = 1.01f64.ln();
    for kk in 0..6 {
        let v = out[rich.index() * 12 + kk];
        assert!((v - eps).abs() < 1e-12, "triangle {kk}: {v}");
    }
    // EURGBP sees GBPJPY in its triangle EUR-GBP-JPY (k = JPY's slot = 5): GBPJPY is bc there,
    // EURGBP is ab: both +1, so EURGBP's residual is +eps as well (the cross is cheap).
    let e = pair("EURGBP");
    assert!((out[e.index() * 12 + 5] - eps).abs() < 1e-12);
    // EURJPY is the ac leg of EUR-GBP-JPY: it sees −eps (its implied price rose).
    let ej = pair("EURJPY");
    let slot = pair_triangles(ej)
        .iter()
        .position(|(t, _)| t.name() == "EUR-GBP-JPY")
        .unwrap();
    assert!((out[ej.index() * 12 + slot] + eps).abs() < 1e-12);
    // Unrelated triangles stay 0.
    let u = pair("AUDNZD");
    assert!(
        out[u.index() * 12..u.index() * 12 + 6]
            .iter()
            .all(|v| v.abs() < 1e-12)
    );
    // And it matches bqx-domain's residual with the orientation sign.
    let (tri, sign) = pair_triangles(rich)[0];
    let px = tri.pairs().map(|p| closes[p.index()]);
    assert_eq!(out[rich.index() * 12], sign * Triangle::log_residual(px));
}

/// Σ over the 8 currencies of the strength is 0 (every pair's return enters twice with
/// opposite signs); a move of the EUR alone shows up as EUR strength and the others' weakness.
#[test]
fn currency_strength_identities() {
    let (ts, close) = synthetic_panel(320, 9, false);
    let out = compute_panel_batch(&mut CurrencyStrengthKernel::new(), &ts, &close).unwrap();
    for w in [15, 60, 240] {
        for t in [w, 300] {
            // base − quote strengths of EURUSD and USDJPY and EURJPY: diff(EURUSD) +
            // diff(USDJPY) = diff(EURJPY).
            let d = |p: &str| col(&out, p, &format!("cs_str_diff_{w}"))[t];
            assert!((d("EURUSD") + d("USDJPY") - d("EURJPY")).abs() < 1e-15);
            // S_EUR from EURUSD's base = S_EUR from EURJPY's base.
            let b = |p: &str| col(&out, p, &format!("cs_str_base_{w}"))[t];
            assert_eq!(b("EURUSD"), b("EURJPY"));
            let q = |p: &str| col(&out, p, &format!("cs_str_quote_{w}"))[t];
            assert_eq!(q("EURUSD"), b("USDJPY"));
        }
    }
    // EUR up 2 % against everything at one row: S_EUR,15 = ln 1.02, others −ln(1.02)/7.
    let mut k = CurrencyStrengthKernel::new();
    let mut row = vec![0.0; k.width() * N_PAIRS];
    let base: [f64; N_PAIRS] = std::array::from_fn(|p| close[p][0]);
    for i in 0..16 {
        let mut c = base;
        if i == 15 {
            for p in Currency::EUR.pairs() {
                c[p.index()] *= 1.02;
            }
        }
        k.update(i, &c, &mut row);
    }
    let w = k.width();
    let eurusd = pair("EURUSD").index();
    let s = 1.02f64.ln();
    assert!((row[eurusd * w] - s).abs() < 1e-14);
    assert!((row[eurusd * w + 1] + s / 7.0).abs() < 1e-14);
}

/// A missing close blanks exactly what needs it: the strength of its two currencies at that
/// row and W rows later, its triangles, the rolling statistics while it is in their window —
/// nothing else, and nothing is carried forward.
#[test]
fn nan_propagates_exactly() {
    let n = 400;
    let (ts, mut close) = synthetic_panel(n, 4, false);
    let hole = 320;
    let chf = pair("EURCHF");
    close[chf.index()][hole] = f64::NAN;
    let fitted = fit_usd_factor(&ts, &close, 0..300).unwrap();
    let mut set = PanelSet::with_usd_factor(&fitted).unwrap();
    let out = compute_panel_batch(&mut set, &ts, &close).unwrap();
    let nan = |p: &str, name: &str, t: usize| col(&out, p, name)[t].is_nan();
    // Strength of EUR (and CHF) at the hole and 15 rows later; not at rows in between.
    for t in [hole, hole + 15] {
        assert!(nan("EURUSD", "cs_str_base_15", t));
        assert!(nan("USDCHF", "cs_str_quote_15", t));
        assert!(
            !nan("EURUSD", "cs_str_quote_15", t),
            "USD does not need EURCHF"
        );
        assert!(!nan("GBPUSD", "cs_str_diff_15", t));
    }
    assert!(!nan("EURUSD", "cs_str_base_15", hole + 1));
    assert!(!nan("EURUSD", "cs_str_base_15", hole + 14));
    // The percentile of EURUSD's difference: NaN for 60 rows from the hole, and again from
    // hole + 15 (the second NaN strength) until it leaves.
    assert!(nan("EURUSD", "cs_str_pct_15", hole + 59));
    assert!(nan("EURUSD", "cs_str_pct_15", hole + 74));
    assert!(!nan("EURUSD", "cs_str_pct_15", hole + 75));
    assert!(!nan("GBPUSD", "cs_str_pct_15", hole + 30));
    // Triangles: EURCHF's own residuals at the hole only; their z-scores for 60 rows.
    for k in 0..6 {
        assert!(nan("EURCHF", &format!("cs_tri_resid_{k}"), hole));
        assert!(!nan("EURCHF", &format!("cs_tri_resid_{k}"), hole + 1));
        assert!(nan("EURCHF", &format!("cs_tri_z_{k}"), hole + 59));
        assert!(!nan("EURCHF", &format!("cs_tri_z_{k}"), hole + 60));
    }
    // EURUSD: only its EUR-USD-CHF triangle (third currency CHF, slot 4) is affected.
    assert!(nan("EURUSD", "cs_tri_resid_4", hole));
    assert!(!nan("EURUSD", "cs_tri_resid_3", hole));
    assert!(!nan("GBPJPY", "cs_tri_z_0", hole + 10));
    // USD factor: EURCHF is not a USD pair, so the factor is defined; EURCHF's beta is not
    // (its returns at the hole and the row after are missing) for the window's length.
    assert!(!nan("EURUSD", "cs_usd_factor", hole));
    assert!(nan("EURCHF", "cs_usd_beta_60", hole + 60));
    assert!(!nan("EURCHF", "cs_usd_beta_60", hole + 61));
    assert!(!nan("EURUSD", "cs_usd_beta_60", hole + 1));
    // A hole in a USD pair blanks the factor for everybody.
    close[pair("USDJPY").index()][hole] = f64::NAN;
    let out = compute_panel_batch(&mut set, &ts, &close).unwrap();
    assert!(col(&out, "GBPAUD", "cs_usd_factor")[hole].is_nan());
    assert!(col(&out, "GBPAUD", "cs_usd_corr_60")[hole + 59].is_nan());
}

#[test]
fn panel_input_is_validated() {
    let (ts, mut close) = synthetic_panel(50, 2, false);
    let mut k = CurrencyStrengthKernel::new();
    assert!(matches!(
        compute_panel_batch(&mut k, &ts, &close[..27]),
        Err(FeatureError::PanelShape { got: 27 })
    ));
    close[3][7] = 0.0;
    let err = compute_panel_batch(&mut k, &ts, &close).unwrap_err();
    assert!(err.to_string().contains("EURUSD row 7"), "{err}");
    close[3][7] = f64::INFINITY;
    assert!(compute_panel_batch(&mut k, &ts, &close).is_err());
    close[3].pop();
    assert!(matches!(
        compute_panel_batch(&mut k, &ts, &close),
        Err(FeatureError::RaggedColumns)
    ));
}

/// Jacobi against a matrix with known eigenpairs: A = Q diag(λ) Qᵀ with Q a Householder
/// reflection.
#[test]
fn symmetric_eigen_recovers_known_eigenpairs() {
    let lambda = [0.1, 5.0, 0.5, 2.0, 3.0, 1.0, 0.2];
    let u = [1.0, -2.0, 0.5, 3.0, -1.0, 0.25, 2.0];
    let uu: f64 = u.iter().map(|x| x * x).sum();
    let q: [[f64; 7]; 7] = std::array::from_fn(|i| {
        std::array::from_fn(|j| f64::from(u8::from(i == j)) - 2.0 * u[i] * u[j] / uu)
    });
    let a: [[f64; 7]; 7] = std::array::from_fn(|i| {
        std::array::from_fn(|j| (0..7).map(|k| q[i][k] * lambda[k] * q[j][k]).sum())
    });
    let (values, vectors) = symmetric_eigen(a);
    let mut sorted = lambda;
    sorted.sort_by(|x, y| y.total_cmp(x));
    for (v, want) in values.iter().zip(sorted) {
        assert!((v - want).abs() < 1e-12, "{values:?}");
    }
    for (k, &l) in values.iter().enumerate() {
        let v = vectors[k];
        let norm: f64 = v.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-12);
        // The eigenvector of λ is ± the matching column of Q.
        let src = lambda.iter().position(|x| *x == sorted[k]).unwrap();
        let dot: f64 = (0..7).map(|i| v[i] * q[i][src]).sum();
        assert!((dot.abs() - 1.0).abs() < 1e-12, "λ = {l}: |<v, q>| = {dot}");
        for i in 0..7 {
            let av: f64 = (0..7).map(|j| a[i][j] * v[j]).sum();
            assert!((av - l * v[i]).abs() < 1e-12);
        }
    }
    // 2×2 closed form: [[2, 1], [1, 2]] → 3, 1 with (1, 1)/√2.
    let (v, e) = symmetric_eigen([[2.0, 1.0], [1.0, 2.0]]);
    assert!((v[0] - 3.0).abs() < 1e-15 && (v[1] - 1.0).abs() < 1e-15);
    assert!((e[0][0].abs() - 0.5f64.sqrt()).abs() < 1e-15);
    assert!((e[0][0] - e[0][1]).abs() < 1e-15);
}

/// The fitted factor of a panel driven by a USD factor: loadings with the declared sign
/// convention, one dominant component, USD-base pairs with positive beta.
#[test]
fn usd_factor_fit_and_params_round_trip() {
    let (ts, close) = synthetic_panel(600, 21, true);
    let fitted = fit_usd_factor(&ts, &close, 50..450).unwrap();
    assert_eq!(fitted.kind, USD_FACTOR_KIND);
    assert_eq!(fitted.version, USD_FACTOR_VERSION);
    assert_eq!(fitted.fit_range.start_row, 50);
    assert_eq!(fitted.fit_range.end_row, 450);
    assert_eq!(fitted.fit_range.start_ts, ts[50]);
    assert_eq!(fitted.fit_range.end_ts, ts[449]);
    assert!(fitted.fit_range.rows_used < 399 && fitted.fit_range.rows_used > 300);
    let p = &fitted.params;
    assert!(p.loadings.iter().sum::<f64>() > 0.0);
    assert!((p.loadings.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(p.explained > 0.3, "{}", p.explained);
    assert_eq!(
        p.pairs.map(|q| q.name()),
        [
            "EURUSD", "GBPUSD", "AUDUSD", "NZDUSD", "USDCAD", "USDCHF", "USDJPY"
        ]
    );
    assert_eq!(p.signs, usd_pairs().map(|(_, s)| s));

    // JSON round trip: bit-identical parameters, identical features.
    let json = fitted.to_json();
    let back: FittedParams<UsdFactorParams> =
        FittedParams::from_json(&json, USD_FACTOR_KIND, USD_FACTOR_VERSION).unwrap();
    assert_eq!(back, fitted);
    let bits = |p: &UsdFactorParams| p.loadings.map(f64::to_bits);
    assert_eq!(bits(&back.params), bits(&fitted.params));
    let a = compute_panel_batch(&mut UsdFactorKernel::new(&fitted).unwrap(), &ts, &close).unwrap();
    let b = compute_panel_batch(&mut UsdFactorKernel::new(&back).unwrap(), &ts, &close).unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    // USDJPY moves with the factor, EURUSD against it (on the same market without holes: with
    // 1 % missing closes a 240-row window nearly always holds a missing USD-pair bar).
    let (ts_full, full) = synthetic_panel(600, 21, false);
    let c =
        compute_panel_batch(&mut UsdFactorKernel::new(&fitted).unwrap(), &ts_full, &full).unwrap();
    let beta = |m: &bqx_features::FeatureMatrix| m.column_by_name("cs_usd_beta_240").unwrap()[599];
    assert!(beta(&c[pair("USDJPY").index()]) > 0.0);
    assert!(beta(&c[pair("EURUSD").index()]) < 0.0);

    // Another version or kind is refused.
    let old = json.replace("\"version\": 1", "\"version\": 0");
    assert!(FittedParams::<UsdFactorParams>::from_json(&old, USD_FACTOR_KIND, 1).is_err());
    let mut other = fitted.clone();
    other.kind = "something_else".into();
    assert!(UsdFactorKernel::new(&other).is_err());
    let mut swapped = fitted.clone();
    swapped.params.pairs.swap(0, 1);
    assert!(UsdFactorKernel::new(&swapped).is_err());

    // Too few complete rows.
    assert!(fit_usd_factor(&ts, &close, 10..20).is_err());
    assert!(fit_usd_factor(&ts, &close, 500..700).is_err());
}
