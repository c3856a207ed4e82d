//! Numerical robustness: flat (stale) prices never produce NaN/∞ after warm-up, and the
//! running-sum statistics stay accurate across price levels and tiny volatilities, where a naive
//! `Σx² − (Σx)²/n` would cancel catastrophically.

mod common;

use bqx_features::{BarInput, BqxKernel, Domain, FeatureSet, Kernel, MomentsKernel, compute_batch};
use common::{close_bars, random_walk};
use proptest::prelude::*;

#[test]
fn flat_prices_give_defined_degenerate_values() {
    // 1400 constant closes, then a step and a random walk.
    let mut closes = vec![1.2345; 1400];
    closes.extend(random_walk(700, 9, 1.25, 0.001));
    let mut set = FeatureSet::standard();
    let cat = set.catalog();
    let m = compute_batch(&mut set, &close_bars(&closes)).unwrap();
    for (j, spec) in cat.iter().enumerate() {
        for (i, v) in m.column(j).iter().enumerate().skip(spec.warmup) {
            assert!(v.is_finite(), "{} row {i} is {v}", spec.name);
        }
    }
    let at = |name: &str, row: usize| m.column_by_name(name).unwrap()[row];
    let row = 1399;
    assert_eq!(at("bqx_stdev_75", row), 0.0);
    assert_eq!(at("bqx_return_15", row), 0.0);
    assert_eq!(at("reg_rate_r2_630", row), 0.0, "r2 is 0 when SS_tot = 0");
    assert_eq!(at("reg_rate_rmse_630", row), 0.0);
    assert_eq!(at("reg_bqx_r2_60", row), 0.0);
    assert_eq!(at("mom_rate_std_120", row), 0.0);
    assert_eq!(at("mom_rate_skew_120", row), 0.0);
    assert_eq!(at("boll_rate_pctb_50", row), 0.5);
    assert_eq!(at("ta_rate_rsi_14", row), 50.0);
}

/// Two-pass sample std.
fn std_direct(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn stdevs_accurate_across_levels_and_volatilities(
        seed in any::<u64>(),
        level in 1e-3f64..1e4,
        log_sigma in -7.0f64..-2.0,
    ) {
        let sigma = 10f64.powf(log_sigma);
        let n = 2000;
        let closes = random_walk(n, seed, level, sigma);
        let mut bqx = BqxKernel::new();
        let mut mom = MomentsKernel::new(Domain::Rate);
        let (mut ob, mut om) = (vec![0.0; bqx.width()], vec![0.0; mom.width()]);
        let logret: Vec<f64> = (1..n).map(|i| (closes[i] / closes[i - 1]).ln()).collect();
        for (t, &c) in closes.iter().enumerate() {
            let bar = BarInput::close_only(t as i64, c);
            bqx.update(&bar, &mut ob);
            mom.update(&bar, &mut om);
            if t < 200 || t % 37 != 0 {
                continue;
            }
            for (k, w) in [15usize, 30, 45, 60, 75].into_iter().enumerate() {
                let want = std_direct(&closes[t - w..t]) / c;
                let got = ob[k * 6 + 5];
                prop_assert!((got - want).abs() <= 1e-8 * want, "bqx_stdev_{w} t={t}: {got} vs {want}");
            }
            for (k, w) in [20usize, 50, 120].into_iter().enumerate() {
                let want = std_direct(&logret[t - w..t]);
                let got = om[k * 8 + 1];
                prop_assert!((got - want).abs() <= 1e-8 * want, "mom_rate_std_{w} t={t}: {got} vs {want}");
            }
        }
    }
}

/// Close-only sources (ECB fixes): the range-based columns are absent, never zeros, and every
/// remaining column is bit-identical to the standard set's.
#[test]
fn close_only_sources_drop_range_based_columns_and_keep_the_rest_exact() {
    use bqx_features::is_range_based;
    let bars = close_bars(&random_walk(900, 11, 1.1, 0.004));
    let mut full = FeatureSet::standard();
    let mut close_only = FeatureSet::standard_for_source(true);
    let full_names = full.names();
    let names = close_only.names();
    let dropped: Vec<&String> = full_names.iter().filter(|n| is_range_based(n)).collect();
    // Parkinson, Garman-Klass, Rogers-Satchell, Yang-Zhang × 2 windows; stochastic %K/%D,
    // Williams %R, CCI, ADX, +DI, -DI, ATR, ATR % of the rate domain; 2 multi-resolution ranges.
    assert_eq!(dropped.len(), 8 + 9 + 2, "{dropped:?}");
    assert_eq!(names.len() + dropped.len(), full_names.len());
    assert!(names.iter().all(|n| !is_range_based(n)));
    assert_eq!(close_only.width(), names.len());
    let a = compute_batch(&mut full, &bars).unwrap();
    let b = compute_batch(&mut close_only, &bars).unwrap();
    for (j, name) in names.iter().enumerate() {
        let i = full_names.iter().position(|n| n == name).unwrap();
        let (x, y) = (a.column(i), b.column(j));
        assert!(
            x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()),
            "{name} differs"
        );
    }
}

/// Sources with spread and/or volume: the microstructure columns follow the standard ones,
/// every standard column is bit-identical to the standard set's, and a source without them has
/// no microstructure column at all (absent, never zeros).
#[test]
fn microstructure_columns_follow_source_caps_and_keep_the_rest_exact() {
    use bqx_features::SourceCaps;
    let closes = random_walk(900, 12, 1.1, 0.001);
    let bars = common::with_micro(common::ohlc_bars(&closes, 12, 0.0005), 12, true);
    let mut full = FeatureSet::standard();
    let a = compute_batch(&mut full, &bars).unwrap();
    for (close_only, has_spread, has_volume, extra) in [
        (false, true, true, 7),
        (false, true, false, 3),
        (false, false, true, 4),
        (true, true, true, 7),
        (false, false, false, 0),
    ] {
        let caps = SourceCaps {
            close_only,
            has_spread,
            has_volume,
        };
        let mut set = FeatureSet::for_source(caps);
        let names = set.names();
        let micro: Vec<&String> = names.iter().filter(|n| n.starts_with("ms_")).collect();
        assert_eq!(micro.len(), extra, "{caps:?}");
        // Appended after the standard columns.
        assert!(
            names[names.len() - extra..]
                .iter()
                .all(|n| n.starts_with("ms_"))
        );
        let b = compute_batch(&mut set, &bars).unwrap();
        for (j, name) in names
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.starts_with("ms_"))
        {
            let i = a.names.iter().position(|n| n == name).unwrap();
            assert!(
                a.column(i)
                    .iter()
                    .zip(b.column(j))
                    .all(|(p, q)| p.to_bits() == q.to_bits()),
                "{name} differs with {caps:?}"
            );
        }
    }
    // A fixed-spread stretch (rows 300..=400) gives a z-score of exactly 0 once the window is
    // inside it; a no-tick stretch (rows 500..=540) gives volume z 0 and relative volume 1.
    let bars = common::with_micro(common::ohlc_bars(&closes, 12, 0.0005), 12, false);
    let mut set = FeatureSet::for_source(SourceCaps::of(&bars, false));
    let m = compute_batch(&mut set, &bars).unwrap();
    let at = |name: &str, row: usize| m.column_by_name(name).unwrap()[row];
    assert_eq!(at("ms_spread_z_60", 400), 0.0);
    assert_ne!(at("ms_spread_z_60", 401), 0.0);
    assert_eq!(at("ms_volume_z_20", 540), 0.0);
    assert_eq!(
        at("ms_volbqx_rel_20", 540),
        at_std(&bars, "bqx_return_15", 540)
    );
}

fn at_std(bars: &bqx_domain::BarColumns, name: &str, row: usize) -> f64 {
    let m = compute_batch(&mut FeatureSet::standard(), bars).unwrap();
    m.column_by_name(name).unwrap()[row]
}

/// Unknown or invalid microstructure values: NaN is accepted, a negative or infinite value is
/// refused with its row.
#[test]
fn microstructure_values_are_validated() {
    let closes = random_walk(100, 3, 1.1, 0.001);
    let mut bars = common::with_micro(close_bars(&closes), 3, false);
    bars.spread.as_mut().unwrap()[10] = f64::NAN;
    assert!(compute_batch(&mut FeatureSet::standard(), &bars).is_ok());
    bars.volume.as_mut().unwrap()[42] = -1.0;
    let err = compute_batch(&mut FeatureSet::standard(), &bars).unwrap_err();
    assert!(err.to_string().contains("row 42: volume"), "{err}");
    bars.volume.as_mut().unwrap()[42] = 1.0;
    bars.spread.as_mut().unwrap().pop();
    assert!(compute_batch(&mut FeatureSet::standard(), &bars).is_err());
}
